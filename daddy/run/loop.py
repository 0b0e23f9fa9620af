"""The training loop, top to bottom (CleanRL's `dqn_atari.py` order).

Each turn: act ε-greedily in every env → start the swarm's step and, on the learner thread,
this turn's updates (`replay_ratio` trained steps per collected step) → wait for the step (the
swarm, `daddy.swarm.swarm`, pays the rewards and keeps its books: milestones, trigger
savestates, visit counts, posteriors, curriculum) → store the step in the replay → collect the
updates → finished episodes (log row, terminal line) → periodic work (interval line,
checkpoint, video, stop signal). Episode ends and
interval lines are also TensorBoard points (`daddy.run.tensorboard`) at the global step. The
phases are timed (`TimeSplit`, a few perf_counter calls a turn) for the dashboard's time split.

Steps count env steps summed over envs (one vector step of 32 envs is 32 steps), as in the seed.
"""

from __future__ import annotations

import subprocess
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from daddy.eval.rollout import start_evaluation
from daddy.game.milestones import DEFAULT_MILESTONES
from daddy.game.spec import ACTIONS
from daddy.io import atomic_write
from daddy.run.builder import Components
from daddy.run.checkpoint import CheckpointError
from daddy.run.episode import EpisodeRecord
from daddy.run.episode_log import EpisodeLogger
from daddy.run.exit_codes import EXIT_OK, EXIT_STOPPED
from daddy.run.paths import COMPLETE
from daddy.run.state import TrainState, nonfinite_tensors
from daddy.run.stop import Stop
from daddy.run.system_use import SystemUse
from daddy.run.tensorboard import ScalarLog, episode_scalars, interval_scalars, posterior_scalars
from daddy.run.terminal import IntervalStats, Terminal
from daddy.swarm.swarm import EpisodeEnd, Swarm


@dataclass
class Every:
    """Fires once each time the step passes a multiple of `interval` (None/0: never)."""

    interval: int | None
    step: int
    next: int | None = field(init=False)

    def __post_init__(self) -> None:
        i = self.interval
        self.next = (self.step // i + 1) * i if i else None

    def due(self, step: int) -> bool:
        if self.next is None or step < self.next:
            return False
        self.next += self.interval  # type: ignore[operator]
        return True


@dataclass
class Interval:
    """Sums over one `--log-interval`, for the terminal's interval line."""

    step: int
    t: float = field(default_factory=time.monotonic)
    sums: np.ndarray = field(default_factory=lambda: np.zeros(4))  # r_env, r_rnd, r_novel, r_bayes
    n: int = 0
    loss: float | None = None
    q: float | None = None
    learn_sums: dict[str, float] = field(default_factory=dict)  # losses/* over the interval
    learn_n: int = 0

    def add(self, r: Any) -> None:
        self.sums += [r.r_env.mean(), r.r_rnd.mean(), r.r_novel.mean(), r.r_bayes.mean()]
        self.n += 1

    def sps(self, step: int) -> float:
        dt = time.monotonic() - self.t
        return (step - self.step) / dt if dt > 0 else 0.0

    def learned(self, metrics: dict[str, float]) -> None:
        self.loss, self.q = metrics["losses/td_loss"], metrics["losses/q_mean"]
        for k, v in metrics.items():
            if k.startswith("losses/") and k != "losses/nonfinite" and np.isfinite(v):
                self.learn_sums[k] = self.learn_sums.get(k, 0.0) + v
        self.learn_n += 1

    def learn_means(self) -> dict[str, float]:
        """Learner metrics averaged over the interval's updates (`q_mean` as `q_values`)."""
        means = {k: v / self.learn_n for k, v in self.learn_sums.items()}
        if "losses/q_mean" in means:
            means["losses/q_values"] = means.pop("losses/q_mean")
        return means

    def restart(self, step: int) -> None:
        self.step, self.t, self.sums, self.n = step, time.monotonic(), np.zeros(4), 0
        self.learn_sums, self.learn_n = {}, 0


PHASES = ("env", "act", "learn", "rewards", "bookkeeping")


@dataclass
class TimeSplit:
    """Where the loop's wall time goes, per phase, over one interval (PufferLib's breakdown).

    `lap(phase)` charges the time since the previous lap to `phase`: a few perf_counter calls
    a turn, so every second of the loop is charged somewhere. The learner's updates run on their
    own thread while the emulators step; `learn` is only what the loop waits for them (plus
    sampling and RND training), `env` what it waits for the emulators.
    """

    seconds: dict[str, float] = field(default_factory=lambda: dict.fromkeys(PHASES, 0.0))
    last: float = field(default_factory=time.perf_counter)

    def lap(self, phase: str) -> None:
        now = time.perf_counter()
        self.seconds[phase] += now - self.last
        self.last = now

    def charge(self, seconds: float, source: str, to: str) -> None:
        """Move `seconds` already lapped to `source` over to phase `to`."""
        self.seconds[source] -= seconds
        self.seconds[to] += seconds

    def shares(self) -> dict[str, float]:
        total = sum(self.seconds.values())
        return {k: v / total for k, v in self.seconds.items()} if total > 0 else {}

    def restart(self) -> None:
        self.seconds = dict.fromkeys(PHASES, 0.0)


def env_epsilons(eps: float, num_envs: int, explore_envs: float) -> np.ndarray:
    """Per-env ε: the first round(explore_envs * num_envs) envs always act at random (ε = 1).

    Why: the swarm returns envs to frontier savestates; random actions from there are
    Go-Explore's explore phase, and they must not stop when ε has decayed and the greedy policy
    is still poor. Measured on the practice cartridge (seed 2, 300k steps): with no such envs the
    run spent 120k steps unable to leave Oak's lab after getting the starter and never got the
    badge; with a quarter of the envs random it got the badge at step 50,616.
    """
    out = np.full(num_envs, float(eps))
    out[: round(explore_envs * num_envs)] = 1.0
    return out


class TrainLoop:
    """Runs a built, resumed run until its stop step or a stop signal."""

    def __init__(self, c: Components, s: TrainState, swarm: Swarm, logger: EpisodeLogger,
                 terminal: Terminal, stop: Stop, stop_step: int,
                 scalars: ScalarLog | None = None) -> None:  # fmt: skip
        self.c, self.s, self.swarm, self.logger = c, s, swarm, logger
        self.scalars = scalars or ScalarLog(None)  # TensorBoard / wandb curves
        self.system = SystemUse()
        self.terminal, self.stop, self.stop_step = terminal, stop, stop_step
        cfg, step = c.cfg, s.counters.step
        self.recent: deque[tuple[float, float, float]] = deque(maxlen=100)  # len, R_env, R_total
        self.interval = Interval(step)
        self.log_every, self.save_every = Every(cfg.log_interval, step), Every(cfg.save_interval, step)
        self.video_every = Every(cfg.video_interval, step)
        self.videos: list[subprocess.Popen] = []
        self.saved_step = -1
        self.alarms = c.intrinsic.posteriors.alarm_count
        self.updates_at_interval = c.learner.updates
        self.split = TimeSplit()
        self.most_badges = self.badges_earned()
        self.tell_checkpoint()

    def run(self) -> int:
        c, s, cfg, swarm = self.c, self.s, self.c.cfg, self.swarm
        obs, _ = swarm.reset()  # every env spawns from the curriculum's draw
        firsts = np.ones(cfg.num_envs, bool)
        loop_start, loop_start_step = time.monotonic(), s.counters.step
        lap = self.split.lap  # time split: each lap charges the time since the last one
        while s.counters.step < self.stop_step:
            lap("bookkeeping")  # the previous turn's episode ends and periodic work
            # --- act: ε-greedy in every env, then the emulators step while the learner learns
            eps = c.epsilon.value(s.counters.step)
            prev_obs = {k: v.copy() for k, v in obs.items()}  # vec obs are shared-memory views
            actions, states = c.actor.act(prev_obs, env_epsilons(eps, cfg.num_envs, cfg.explore_envs),
                                          firsts=firsts)  # fmt: skip
            lap("act")
            swarm.step_async(actions)
            lap("env")
            batches = self.sample_batches()
            c.updates.submit(batches)
            lap("learn")
            # --- the swarm's step: emulators, then its books (milestones, trigger savestates,
            # visits, the rewards with their rules, posteriors and curriculum at episode ends)
            turn = swarm.step_wait()
            obs = turn.obs
            lap("env")
            self.split.charge(swarm.books_s, "env", to="rewards")  # the swarm's books

            # --- store: the step into the replay (a truncation shows as the next `firsts`)
            c.replay.add(prev_obs, actions, turn.rewards.r_total, turn.terminated, firsts, states)
            self.interval.add(turn.rewards)
            firsts = swarm.firsts.copy()
            s.counters.step = swarm.step  # env steps, summed over envs (the swarm counts them)
            self.terminal.progress(s.counters.step)
            lap("rewards")

            # --- learn: collect this turn's updates; RND learns from the same batches
            for batch, metrics in zip(batches, c.updates.wait()):
                self.learned(batch, metrics)
            lap("learn")

            # --- finished episodes: log row, terminal line; the next ones have started
            finished = [self.finish_episode(end, eps) for end in turn.ended]
            self.scalars.log(episode_scalars(finished), s.counters.step)

            # --- periodic work: interval line, checkpoint, video, stop signal
            if self.periodic(eps):
                return EXIT_STOPPED
        self.save(s.counters.step)
        sps = (s.counters.step - loop_start_step) / max(time.monotonic() - loop_start, 1e-9)
        print(f"[DONE] {cfg.run_name}: step {s.counters.step} (stop at {self.stop_step}), "
              f"{s.counters.episodes} episodes, sps={sps:.1f}", flush=True)  # fmt: skip
        return EXIT_OK

    # ---------------------------------------------------------------- phases
    def sample_batches(self) -> list[Any]:
        """This turn's learner batches: `replay_ratio` trained steps per collected step."""
        c, cfg, n = self.c, self.c.cfg, self.s.counters
        batches: list[Any] = []
        if n.step < cfg.learning_starts or c.replay.num_sequences == 0:
            return batches
        n.update_credit += cfg.replay_ratio * cfg.num_envs / (cfg.batch_size * c.agent_cfg.trace_len)
        while n.update_credit >= 1.0:
            n.update_credit -= 1.0
            batches.append(c.replay.sample(cfg.batch_size))
        return batches

    def learned(self, batch: Any, metrics: dict[str, float]) -> None:
        if metrics["losses/nonfinite"]:
            print(f"[ALARM] step {self.s.counters.step}: NaN/inf in the loss or Q-values, update "
                  f"skipped (non-finite updates so far: {self.c.learner.nonfinite_updates})",
                  flush=True)  # fmt: skip
        self.c.intrinsic.train_step(batch.obs["screen"][-1])
        self.interval.learned(metrics)

    def finish_episode(self, end: EpisodeEnd, eps: float) -> EpisodeRecord:
        """Log row, terminal line and alarms of an episode the swarm has finished."""
        c, n = self.c, self.s.counters
        n.episodes += 1
        record = EpisodeRecord.from_end(end, episode=n.episodes, step=n.step, epsilon=eps,
                                        sps=self.interval.sps(n.step),
                                        posteriors=c.intrinsic.posteriors)  # fmt: skip
        self.logger.append(record.row())
        self.most_badges = max(self.most_badges, int(record.badges).bit_count())
        self.recent.append((end.length, end.return_env, record.return_total))
        self.terminal.episode(record.summary(c.intrinsic.posteriors.means()))
        if end.alarm:
            self.alarms += end.alarm.bit_count()
            self.terminal.alarm(c.intrinsic.posteriors.describe_alarm(end.alarm), step=n.step)
        return record

    def periodic(self, eps: float) -> bool:
        """Interval line, checkpoint, video; True when a stop signal asks to end the run."""
        step = self.s.counters.step
        if self.log_every.due(step):
            stats = self.interval_stats(eps)
            self.terminal.interval(stats)
            self.scalars.log(self.interval_scalars(stats), step)
            self.interval.restart(step)
            self.split.restart()
        if self.save_every.due(step):
            self.save(step)
        if self.video_every.due(step):
            self.videos.append(self.launch_video(self.save(step)))
        if self.stop.signal is None:
            return False
        print(f"[SIGNAL] {self.stop.name} at step {step}: writing a checkpoint, then exiting",
              flush=True)  # fmt: skip
        self.save(step)
        return True

    # ---------------------------------------------------------------- helpers
    def save(self, step: int) -> Path:
        """Checkpoint `step` (once: a second call at the same step returns the same folder)."""
        c = self.c
        if self.saved_step == step:
            return c.checkpoints.path(step)
        self.saved_step = step
        payload = self.s.state_dict(logger_rows=self.logger.rows, restarts_now=self.swarm.restarts)
        bad = nonfinite_tensors({"model": payload["model"], "learner": payload["learner"],
                                 "rnd": payload["intrinsic"]["rnd"]})  # fmt: skip
        if bad:
            have = c.checkpoints.list_complete()
            kept = f"step_{have[-1]} is intact" if have else "there is no earlier checkpoint"
            raise CheckpointError(
                f"refusing to save step_{step}: {len(bad)} tensors hold NaN/inf (first: "
                f"{bad[0]}); {kept}: resume from it, with a lower --lr if this repeats"
            )
        path = c.checkpoints.save(step, payload, config=c.cfg.to_dict())
        atomic_write(c.paths.checkpointed, lambda tmp: tmp.write_text(f"{step}\n"), fsync=True)
        self.scalars.flush()  # the points this checkpoint covers are on disk with it
        self.terminal.checkpointed(step)
        print(f"[CKPT] step={step} path={path}", flush=True)
        return path

    def launch_video(self, checkpoint: Path) -> subprocess.Popen:
        """Record an eval rollout of this checkpoint in another process: training does not stall."""
        cfg, out = self.c.cfg, self.c.paths.videos
        extra = ["--rom", cfg.rom, "--steps", str(min(cfg.max_episode_steps, 1000))]
        if cfg.allow_unknown_rom:
            extra.append("--allow-unknown-rom")
        print(f"[VIDEO] recording {checkpoint.name} in the background -> {out}", flush=True)
        return start_evaluation(cfg.run_name, out, checkpoint=checkpoint, extra_args=extra,
                                runs_root=self.c.paths.runs_root,
                                states_root=self.c.paths.states_root)  # fmt: skip

    def badges_earned(self) -> int:
        """Badges some episode of the run has earned (from the posteriors' reached-ever mask,
        which checkpoints keep): the dashboard's 'most badges' until an episode ends with more."""
        mask = self.c.intrinsic.posteriors.reached_ever_mask()
        badges = [k for k, m in enumerate(DEFAULT_MILESTONES) if m.kind == "badge"]
        return sum(mask >> k & 1 for k in badges)

    def tell_checkpoint(self) -> None:
        """The terminal shows the age of the newest checkpoint: a resumed run's is on disk."""
        have = self.c.checkpoints.list_complete()
        if have:
            try:
                age = time.time() - (self.c.checkpoints.path(have[-1]) / COMPLETE).stat().st_mtime
            except OSError:
                return
            self.terminal.checkpointed(have[-1], age_s=age)

    def interval_stats(self, eps: float) -> IntervalStats:
        c, n, iv = self.c, self.s.counters, self.interval
        dt = max(time.monotonic() - iv.t, 1e-9)
        parts = iv.sums / max(iv.n, 1)
        lengths, r_env, r_total = (np.array(x, float) for x in zip(*self.recent)) if self.recent else ([], [], [])
        nan = float("nan")
        return IntervalStats(
            step=n.step, sps=iv.sps(n.step), epsilon=eps, episodes_completed=n.episodes,
            recent_avg_episode_length=float(np.mean(lengths)) if len(lengths) else nan,
            recent_avg_r_env=float(np.mean(r_env)) if len(r_env) else nan,
            recent_avg_r_total=float(np.mean(r_total)) if len(r_total) else nan,
            mean_r_env=float(parts[0]), mean_r_rnd=float(parts[1]), mean_r_novel=float(parts[2]),
            mean_r_bayes=float(parts[3]), curriculum=c.curriculum.summary(),
            posteriors=c.intrinsic.posteriors.summary(), alarm_count=self.alarms,
            worker_restarts=n.worker_restarts + self.swarm.restarts, loss=iv.loss, q_mean=iv.q,
            replay_fill=c.replay.size / max(c.replay.capacity, 1),
            updates_per_s=(c.learner.updates - self.updates_at_interval) / dt,
            time_split=self.split.shares(), system=self.system.sample(),
            most_badges=self.most_badges, cells_explored=len(c.visits),
        )  # fmt: skip

    def interval_scalars(self, stats: IntervalStats) -> dict[str, float]:
        """The interval's tags: the terminal's numbers plus learner, replay, curriculum, system,
        time split (`time/<phase>_share`) and the best so far."""
        c, iv = self.c, self.interval
        updates = c.learner.updates
        out = {**interval_scalars(stats), **iv.learn_means(), **c.actor.stats.take(ACTIONS),
               **posterior_scalars(dict(zip(c.intrinsic.posteriors.names,
                                            c.intrinsic.posteriors.mean_array().tolist()))),
               **{f"curriculum/{k}": v for k, v in c.curriculum.summary_dict().items()},
               "replay/fill": stats.replay_fill,
               "replay/size": c.replay.size, "replay/sequences": c.replay.num_sequences,
               "learner/updates": updates, "learner/nonfinite_updates": c.learner.nonfinite_updates,
               "learner/updates_per_s": stats.updates_per_s,
               **{f"time/{k}_share": v for k, v in stats.time_split.items()},
               "best/most_badges": stats.most_badges, "best/cells_explored": stats.cells_explored,
               **stats.system}  # fmt: skip
        self.updates_at_interval = updates
        return out

    def close(self) -> None:
        for proc in self.videos:
            proc.wait(timeout=600)
