"""The seed's networks module: everything lives in daddy.agent.networks."""

from daddy.agent.networks import *
from daddy.agent.networks import QNetwork, model_config  # noqa: F401
