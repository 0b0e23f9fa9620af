"""The seed's video module: everything lives in daddy.eval.video."""

from daddy.eval.video import *
from daddy.eval.video import write_gif, write_mp4, write_rollout  # noqa: F401
