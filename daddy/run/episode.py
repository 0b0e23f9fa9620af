"""One episode's record, from its first step to its row in `episodes.h5` and its terminal line.

Why one module: the running sums of an episode, the logged row and the terminal's summary used
to be four shapes (an env tracker, a row dict, the terminal's summary, the log's columns) kept in
step by hand. Here `EpisodeSums` holds what accumulates per env while episodes run, and
`EpisodeRecord` is the row: its fields are exactly the log's columns (a test pins that), and the
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
from daddy.swarm.state_index import StateEntry

_SUMS = ("r_total", "r_rnd", "r_novel", "r_bayes")


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


class EpisodeSums:
    """Per-env running sums of the episodes in progress, and the state each one spawned from."""

    def __init__(self, num_envs: int) -> None:
        self.spawn: list[StateEntry | None] = [None] * num_envs
        self.new_cells = np.zeros(num_envs, np.int64)
        for name in _SUMS:
            setattr(self, name, np.zeros(num_envs, np.float64))

    def add(self, rewards: Any) -> None:
        """Add one step's rewards of every env (anything with r_total/r_rnd/... arrays)."""
        for name in _SUMS:
            getattr(self, name)[:] += getattr(rewards, name)

    def start(self, env_id: int, spawn: StateEntry | None) -> None:
        for name in (*_SUMS, "new_cells"):
            getattr(self, name)[env_id] = 0
        self.spawn[env_id] = spawn

    def record(self, env_id: int, *, episode: int, step: int, ep: dict[str, Any], game: Any,
               reached: int, alarm: int, cells: int, epsilon: float, sps: float,
               posteriors: Any) -> EpisodeRecord:  # fmt: skip
        """The finished episode of `env_id` (before `start` begins the next one)."""
        spawn = self.spawn[env_id]
        return EpisodeRecord(
            episode=episode, env_id=env_id, global_step=step, length=int(ep["length"]),
            return_env=float(ep["return"]), return_total=float(self.r_total[env_id]),
            return_rnd=float(self.r_rnd[env_id]), return_novel=float(self.r_novel[env_id]),
            return_bayes=float(self.r_bayes[env_id]), badges=game.badges, map_id=game.map_id,
            savestate_tag=spawn.name if spawn else "",
            spawn_tier=TIER_CODES[spawn.tier] if spawn else 0, milestones_reached=reached,
            alarm=alarm, cells_visited=cells, epsilon=epsilon, wall_time=time.time(), sps=sps,
            alpha=posteriors.alpha, beta=posteriors.beta,
        )  # fmt: skip
