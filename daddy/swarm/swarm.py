"""The swarm as one vector environment: emulators, curriculum resets, trigger savestates, visit
counts and intrinsic rewards behind `reset` / `step_async` / `step_wait`.

Why one component: the trainer's loop used to do this bookkeeping itself (which state each reset
spawns from, which milestones a step reached, which savestates to keep, what each step pays), so
no other algorithm could run on Daddy's swarm and the benchmark compared the swarm against no
swarm rather than one learner against another. Here it is the env: `train_big`'s loop drives it
(`daddy.run.loop`), and `daddy.swarm.sb3.SwarmVecEnv` hands the same object to stable-baselines3
(PPO, RecurrentPPO, ...) or anything else with the VecEnv step_async / step_wait API.

A step: the emulators step (autoreset from the curriculum's draw) → each env's new GameState
goes to the milestone watcher (a milestone no env reached before saves a trigger savestate and
may migrate envs to it) and the visit counts → `IntrinsicRewards.step` pays r_env + RND +
episodic novelty + Bayesian shaping (its rules inside) → finished episodes update the
posteriors, reset the episodic memory and tell the curriculum how the spawn state did →
the next episodes start. Every `pressure_every` env steps the posteriors steer the curriculum.

RND: its predictor learns from screens. `train_big` trains it from its replay batches; a caller
without a replay sets `rnd_train_every` and the swarm trains it itself on recent screens.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from daddy.eval.heatmap import VisitCounts
from daddy.game.milestones import DEFAULT_MILESTONES
from daddy.game.ram import GameState
from daddy.intrinsic.rewards import IntrinsicRewards, StepRewards
from daddy.swarm.curriculum import CurriculumManager
from daddy.swarm.state_index import StateEntry, StateIndexError
from daddy.swarm.trigger import MilestoneWatcher, Trigger, entry_name
from daddy.swarm.vec import VecEnv

ALL_MILESTONES = (1 << len(DEFAULT_MILESTONES)) - 1
_SUMS = ("r_total", "r_rnd", "r_novel", "r_bayes")


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


@dataclass(frozen=True)
class EpisodeEnd:
    """One finished episode, as the swarm saw it (what a logger or a learner needs)."""

    env_id: int
    length: int
    return_env: float
    return_total: float
    return_rnd: float
    return_novel: float
    return_bayes: float
    game: GameState  # the last state of the episode
    spawn: StateEntry | None  # the savestate it started from
    reached: int  # DEFAULT_MILESTONES bits first reached in the episode (not true at spawn)
    episode_mask: int  # bits inherited, true at spawn or reached
    alarm: int  # posterior alarms this episode's end raised
    new_cells: int  # cells no env of the run had visited before
    cells_visited: int  # distinct cells of the episode


@dataclass
class SwarmStep:
    """What one `step_wait` returns. `obs` are shared-memory views: copy what you keep."""

    obs: Mapping[str, np.ndarray]
    rewards: StepRewards
    terminated: np.ndarray
    truncated: np.ndarray
    infos: list[dict[str, Any]]
    ended: list[EpisodeEnd] = field(default_factory=list)


class Swarm:
    """N emulators that spawn from the curriculum and pay Daddy's rewards; see the module doc."""

    def __init__(self, vec: VecEnv, curriculum: CurriculumManager, watcher: MilestoneWatcher,
                 visits: VisitCounts, intrinsic: IntrinsicRewards, *, step: int = 0,
                 pressure_every: int | None = None, rnd_train_every: int = 0,
                 rnd_batch: int = 64, seed: int = 0) -> None:  # fmt: skip
        self.vec, self.curriculum, self.watcher = vec, curriculum, watcher
        self.visits, self.intrinsic = visits, intrinsic
        self.num_envs = vec.num_envs
        self.step = step
        """Env steps so far, summed over envs (the trigger savestates' step)."""
        self.sums = EpisodeSums(self.num_envs)
        self.pressure_every = pressure_every
        self._next_pressure = _next_multiple(step, pressure_every)
        self.rnd_train_every, self.rnd_batch = rnd_train_every, rnd_batch
        self._screens: list[np.ndarray] = []  # recent screens for RND when no learner trains it
        self._rng = np.random.default_rng(seed)
        self.saved: list[tuple[str, str]] = []  # (milestone, state name) of every state saved
        self.books_s = 0.0
        """Seconds the last `step_wait` spent on its books after the emulators answered (a
        trainer's time split charges them to rewards, not to the emulators)."""

    # --- the VecEnv API -------------------------------------------------------------------
    @property
    def observation_space(self) -> Any:
        return self.vec.single_observation_space

    @property
    def action_space(self) -> Any:
        return self.vec.single_action_space

    @property
    def firsts(self) -> np.ndarray:
        """bool (N,): obs[i] starts an episode (for a replay and recurrent-state resets)."""
        return self.vec.firsts

    def reset(self) -> tuple[Mapping[str, np.ndarray], list[dict[str, Any]]]:
        """Every env spawns from the curriculum's draw; episodes start."""
        obs, infos = self.vec.reset()
        for i, info in enumerate(infos):
            self._start_episode(i, info["game"])
        return obs, infos

    def step_async(self, actions: np.ndarray | Sequence[int]) -> None:
        self.vec.step_async(actions)

    def step_wait(self) -> SwarmStep:
        obs, r_env, terminated, truncated, infos = self.vec.step_wait()
        t0 = time.perf_counter()
        dones = terminated | truncated
        games = [info["final_info"]["game"] if d else info["game"] for info, d in zip(infos, dones)]
        newly = [self._observe(i, g, bool(dones[i])) for i, g in enumerate(games)]
        rewards = self.intrinsic.step(obs, games, newly, r_env)  # text-box rule inside
        self.sums.add(rewards)
        self.step += self.num_envs
        done_ids = np.flatnonzero(dones).tolist()
        ended = [self._end_episode(i, infos[i]) for i in done_ids]
        for i in done_ids:
            self._start_episode(i, infos[i]["game"])
        self._steer()
        self._train_curiosity(obs)
        self.books_s = time.perf_counter() - t0
        return SwarmStep(obs, rewards, terminated, truncated, infos, ended)

    def close(self) -> None:
        self.vec.close()

    @property
    def restarts(self) -> int:
        """Worker restarts so far (each restarted worker's envs end their episodes truncated)."""
        return self.vec.restarts

    # --- bookkeeping ----------------------------------------------------------------------
    def _observe(self, i: int, game: GameState, done: bool) -> int:
        """Milestones and visits of env i's new state; returns the milestones it just reached."""
        w = self.watcher
        before = w.new_mask(i)
        for trig in w.observe(i, game):
            if not done:  # the state after a done is the next episode's first
                self.save_trigger_state(i, trig, game)
        if self.visits.count(*game.cell) == 0:
            self.sums.new_cells[i] += 1
        self.visits.add_cell(*game.cell)
        return w.new_mask(i) & ~before

    def _start_episode(self, i: int, game: GameState) -> None:
        spawn = self.curriculum.spawned_from(i)
        self.sums.start(i, spawn)
        self.watcher.start_episode(i, game, spawn.milestones if spawn else 0)

    def _end_episode(self, i: int, info: dict[str, Any]) -> EpisodeEnd:
        """Posteriors, episodic memory and the curriculum learn how env i's episode went."""
        w, s = self.watcher, self.sums
        fin, ep = info["final_info"], info["episode"]
        reached = w.new_mask(i)
        eligible = ALL_MILESTONES & ~(w.episode_mask(i) & ~reached)  # not true at spawn
        alarm = self.intrinsic.on_episode_end(i, eligible, reached)
        spawn = s.spawn[i]
        self.curriculum.update(i, spawn.name if spawn else "", new_cells=int(s.new_cells[i]),
                               milestones_mask=w.episode_mask(i),
                               episode_return=float(ep["return"]))  # fmt: skip
        return EpisodeEnd(
            env_id=i, length=int(ep["length"]), return_env=float(ep["return"]),
            return_total=float(s.r_total[i]), return_rnd=float(s.r_rnd[i]),
            return_novel=float(s.r_novel[i]), return_bayes=float(s.r_bayes[i]),
            game=fin["game"], spawn=spawn, reached=reached, episode_mask=w.episode_mask(i),
            alarm=alarm, new_cells=int(s.new_cells[i]),
            cells_visited=int(fin.get("cells_visited", 0)),
        )  # fmt: skip

    def _steer(self) -> None:
        """The posteriors steer the curriculum (states before a faltering milestone spawn more)."""
        if self._next_pressure is not None and self.step >= self._next_pressure:
            self.curriculum.set_milestone_pressure(self.intrinsic.posteriors.pressure())
            self._next_pressure = _next_multiple(self.step, self.pressure_every)

    def _train_curiosity(self, obs: Mapping[str, np.ndarray]) -> None:
        """Without a learner that trains RND from its replay, train it here on recent screens."""
        if not self.rnd_train_every:
            return
        self._screens.append(np.array(obs["screen"]))
        if len(self._screens) < self.rnd_train_every:
            return
        screens = np.concatenate(self._screens)
        self._screens.clear()
        take = self._rng.choice(len(screens), min(self.rnd_batch, len(screens)), replace=False)
        self.intrinsic.train_step(screens[take])

    def save_trigger_state(self, env_id: int, trig: Trigger, game: GameState) -> None:
        """A milestone reached for the first time in the run: keep a savestate of it."""
        data = self.vec.save_state(env_id)
        if data is None:
            return
        meta = self.watcher.state_meta(env_id, trig, game, self.step)
        try:
            entry, migrating = self.curriculum.add_state(entry_name(trig.name), data, meta)
        except StateIndexError as e:  # e.g. a full disk: one lost savestate must not stop the run
            print(f"[WARN] savestate {trig.name} not saved: {e}", flush=True)
            return
        if entry is not None:
            self.saved.append((trig.name, entry.name))
            print(f"[SAVESTATE] {trig.name} tier={trig.tier} env={env_id} step={self.step} "
                  f"map=0x{game.map_id:02X} -> {entry.path}; migrating envs {migrating}", flush=True)


def _next_multiple(step: int, every: int | None) -> int | None:
    return (step // every + 1) * every if every else None
