"""One episode's record, from its first step to its row in `episodes.h5` and its terminal line.

Why one module: the running sums of an episode, the logged row and the terminal's summary used
to be four shapes (an env tracker, a row dict, the terminal's summary, the log's columns) kept in
step by hand. The swarm (`daddy.swarm.swarm`) sums each episode while it runs and hands an
`EpisodeEnd` when it finishes; `EpisodeRecord` is the row: its fields are exactly the log's columns (a test pins that), and the
terminal's `EpisodeSummary` is made from it.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from daddy.game.milestones import DEFAULT_MILESTONES
from daddy.run.episode_log import TIER_CODES
from daddy.run.terminal import EpisodeSummary
from daddy.swarm.swarm import EpisodeEnd


@dataclass
class EpisodeRecord:
    """One finished episode: exactly the columns of `episodes.h5` (daddy.run.episode_log)."""

    episode: int
    env_id: int
    global_step: int
    length: int
    return_env: float
    return_total: float
    return_rnd: float
    return_novel: float
    return_bayes: float
    badges: int
    map_id: int
    savestate_tag: str
    spawn_tier: int
    milestones_reached: int  # bit i = DEFAULT_MILESTONES[i], first reached in this episode
    alarm: int  # bit i = milestone i's posterior raised an alarm at this episode's end
    cells_visited: int
    epsilon: float
    wall_time: float
    sps: float
    alpha: np.ndarray = field(repr=False)  # the posteriors after this episode
    beta: np.ndarray = field(repr=False)

    @classmethod
    def from_end(cls, end: EpisodeEnd, *, episode: int, step: int, epsilon: float, sps: float,
                 posteriors: Any) -> EpisodeRecord:  # fmt: skip
        """The row of an episode the swarm finished: `episode` (run-wide number) at `step`."""
        spawn = end.spawn
        return cls(
            episode=episode, env_id=end.env_id, global_step=step, length=end.length,
            return_env=end.return_env, return_total=end.return_total,
            return_rnd=end.return_rnd, return_novel=end.return_novel,
            return_bayes=end.return_bayes, badges=end.game.badges, map_id=end.game.map_id,
            savestate_tag=spawn.name if spawn else "",
            spawn_tier=TIER_CODES[spawn.tier] if spawn else 0, milestones_reached=end.reached,
            alarm=end.alarm, cells_visited=end.cells_visited, epsilon=epsilon,
            wall_time=time.time(), sps=sps, alpha=posteriors.alpha, beta=posteriors.beta,
        )  # fmt: skip

    def row(self) -> dict[str, Any]:
        return asdict(self)

    def summary(self, posterior_means: dict[str, float]) -> EpisodeSummary:
        """The terminal's view: posteriors of the milestones this episode reached, alarms."""
        reached = [m.label for k, m in enumerate(DEFAULT_MILESTONES) if self.milestones_reached >> k & 1]
        alarms = [m.label for k, m in enumerate(DEFAULT_MILESTONES) if self.alarm >> k & 1]
        return EpisodeSummary(
            episode=self.episode, env_id=self.env_id, length=self.length,
            return_env=self.return_env, return_total=self.return_total,
            badges=int(self.badges).bit_count(), map_id=self.map_id,
            savestate_tag=self.savestate_tag, return_rnd=self.return_rnd,
            return_novel=self.return_novel, return_bayes=self.return_bayes,
            cells=self.cells_visited, posteriors={n: posterior_means[n] for n in reached},
            alarms=alarms,
        )  # fmt: skip
