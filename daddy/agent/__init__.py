"""The agent: config, networks, actor (+ ε schedule), replay, learner (acme's r2d2 split).

`from daddy.agent import Actor, AgentConfig` keeps the seed's `daddy/agent.py` names."""

from daddy.agent.actor import Actor, AgentConfig, EpsilonSchedule  # noqa: F401
