"""`python -m daddy.train_big`: a long, resumable training run of Daddy's recurrent Q-agent.

Read top to bottom: set-up (ROM, savestates, networks, replay, intrinsic rewards, curriculum,
checkpoint resume), the envs, then the loop. Each loop turn: act ε-greedily in every env, start
the swarm's step, start this turn's learner updates on the learner thread (`--replay-ratio`
trained steps per collected step; they run while the emulators step and the rest of the turn
is done), add intrinsic rewards, store the step, handle finished episodes (HDF5 row, terminal
line, posteriors, curriculum), save trigger savestates at milestones, wait for the updates, and
checkpoint every `--save-interval` steps, at `--until-step`, and on SIGTERM / SIGUSR2. Every exit writes a
checkpoint first and returns 0; the next start resumes from the newest complete checkpoint, and
`completed_step(run_dir)` tells a caller whether the target step was reached.

Steps count env steps summed over envs (one vector step of 32 envs is 32 steps), as in the seed.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import deque
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch

from daddy.agent.actor import Actor
from daddy.agent.learner import BackgroundUpdates, Learner
from daddy.agent.networks import QNetwork, count_parameters, model_config
from daddy.agent.replay import SequenceReplay
from daddy.eval.heatmap import VisitCounts
from daddy.eval.rollout import start_evaluation
from daddy.game.bootstrap import bootstrap
from daddy.game.env import make_env
from daddy.game.milestones import DEFAULT_MILESTONES
from daddy.game.rom import Rom, RomError, resolve_rom
from daddy.intrinsic.rewards import IntrinsicRewards
from daddy.run.checkpoint import CheckpointError, CheckpointManager
from daddy.run.config import TrainConfig, parse_train_args
from daddy.run.episode_log import TIER_CODES, EpisodeLogError, EpisodeLogger
from daddy.run.terminal import EpisodeSummary, IntervalStats, Terminal
from daddy.swarm.curriculum import CurriculumManager, make_watcher
from daddy.swarm.state_index import INDEX_FILE, StateEntry, StateIndex, StateIndexError
from daddy.swarm.trigger import entry_name
from daddy.swarm.vec import VecEnv

EXIT_DONE, EXIT_BAD_INPUT = 0, 2
# A stop by SIGTERM/SIGUSR2 checkpoints and exits 0 too (the contract): callers tell
# "finished" from "stopped early" by the newest checkpoint's step (`completed_step`).
EXIT_PREEMPTED = 0
MILESTONE_NAMES = [m.name for m in DEFAULT_MILESTONES]
ALL_MILESTONES = (1 << len(DEFAULT_MILESTONES)) - 1


class Stop:
    """Signal flag: SIGTERM/SIGUSR2 (SLURM preemption, timeout) and SIGINT ask for a clean stop."""

    def __init__(self) -> None:
        self.signal: int | None = None
        for sig in (signal.SIGTERM, signal.SIGUSR2, signal.SIGINT):
            signal.signal(sig, self._handle)

    def _handle(self, signum: int, frame: Any) -> None:
        if self.signal is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt  # a second Ctrl-C: stop now
        self.signal = signum


@dataclass
class EnvTracker:
    """What the trainer knows about each env's current episode beyond the vec env's own sums."""

    num_envs: int
    spawn: list[StateEntry | None] = field(default_factory=list)  # current episode's state
    prev_spawn: list[StateEntry | None] = field(default_factory=list)  # the one just finished
    r_total: np.ndarray = field(init=False)
    r_rnd: np.ndarray = field(init=False)
    r_novel: np.ndarray = field(init=False)
    r_bayes: np.ndarray = field(init=False)
    new_cells: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        self.spawn = [None] * self.num_envs
        self.prev_spawn = [None] * self.num_envs
        for name in ("r_total", "r_rnd", "r_novel", "r_bayes"):
            setattr(self, name, np.zeros(self.num_envs, np.float64))
        self.new_cells = np.zeros(self.num_envs, np.int64)

    def clear(self, i: int) -> None:
        for arr in (self.r_total, self.r_rnd, self.r_novel, self.r_bayes, self.new_cells):
            arr[i] = 0


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda was asked for but no CUDA GPU is visible; use auto or cpu")
    return torch.device(name)


def open_savestates(cfg: TrainConfig, rom: Rom, root: Path) -> StateIndex:
    """The run's savestate index; bootstrapped first when the run has none (one command).

    An index without a bootstrap entry is what a bootstrap killed between writing index.json
    and its state leaves: bootstrap again rather than stop every restart.
    """
    folder = root / cfg.run_name
    index = StateIndex.load(folder, rom_sha1=rom.sha1) if (folder / INDEX_FILE).exists() else None
    if index is None or not any(e.is_bootstrap for e in index.entries):
        print(f"[BOOT] no savestates for {cfg.run_name}: bootstrapping from power-on", flush=True)
        bootstrap(rom, cfg.run_name, root)
        index = StateIndex.load(folder, rom_sha1=rom.sha1)
    check_spawn_states(index, rom)
    return index


def check_spawn_states(index: StateIndex, rom: Rom) -> None:
    """Load every usable savestate once here, before the workers do.

    A state PyBoy refuses (truncated, from another ROM, from a newer PyBoy) whose hash the index
    vouches for would otherwise fail every worker's reset until VecEnv gives up with a
    traceback; here it is one line naming the file.
    """
    from daddy.game.env import PokemonEnv
    from daddy.swarm.state_import import StateRefused, inspect_state

    usable, _ = index.verified_entries()
    env = PokemonEnv(rom)
    try:
        sample = env.save_state()
        for entry in usable:
            try:
                inspect_state(env.pyboy, index.read_state(entry), format_version=sample[0],
                              sample_size=len(sample))  # fmt: skip
            except StateRefused as e:
                raise StateIndexError(
                    f"savestate {index.state_path(entry)} cannot be used: {e}; delete it and "
                    f"its entry in {index.index_path}, or delete {index.folder} to re-bootstrap"
                ) from None
    finally:
        env.close()


def checkpoint_config(cfg: TrainConfig) -> dict[str, Any]:
    """What a checkpoint must agree on to be resumed (others may change between segments)."""
    return {"model_size": cfg.model_size, "num_envs": cfg.num_envs, "run_name": cfg.run_name,
            "seq_len": cfg.seq_len, "burn_in": cfg.burn_in, "n_step": cfg.n_step}  # fmt: skip


def train(cfg: TrainConfig, runs_root: Path = Path("runs"), states_root: Path = Path("savestates")) -> int:
    stop = Stop()
    # ---------------------------------------------------------------- set-up
    rom = resolve_rom(cfg.rom, allow_unknown=cfg.allow_unknown_rom)
    device = pick_device(cfg.device)
    torch.manual_seed(cfg.seed)
    torch.set_num_threads(max(1, (os.cpu_count() or 2) // 2))
    run_dir = runs_root / cfg.run_name
    run_dir.mkdir(parents=True, exist_ok=True)
    index = open_savestates(cfg, rom, states_root)

    net = QNetwork(model_config(cfg.model_size)).to(device)
    agent_cfg = cfg.agent_config()
    learner = Learner(net, agent_cfg, device)
    updates = BackgroundUpdates(learner)  # learning overlaps the rest of each loop turn
    actor = Actor(updates.acting_net, cfg.num_envs, device, seed=cfg.seed)
    replay = SequenceReplay.from_memory_budget(
        cfg.replay_memory_mb * 2**20, cfg.num_envs, agent_cfg.seq_len, agent_cfg.burn_in,
        agent_cfg.n_step, agent_cfg.period, net.state_size, seed=cfg.seed,
    )  # fmt: skip
    intrinsic = IntrinsicRewards(cfg.intrinsic_config(), cfg.num_envs, device=device)
    curriculum = CurriculumManager(index, cfg.curriculum_config(), cfg.num_envs, seed=cfg.seed)
    watcher = make_watcher(curriculum.cfg, cfg.num_envs, index)
    visits = VisitCounts()
    epsilon = agent_cfg.epsilon_schedule()

    # ---------------------------------------------------------------- resume
    checkpoints = CheckpointManager(run_dir, keep_last=cfg.keep_checkpoints)
    checkpoints.clean_leftovers()
    step, episodes, update_credit, restarts_before, logger_rows = 0, 0, 0.0, 0, None
    loaded = checkpoints.load_latest(expected=checkpoint_config(cfg), map_location=str(device))
    if loaded is not None:
        ckpt_step, p = loaded
        learner.load_state_dict({"online": p["model"], **p["learner"]})
        updates.sync_acting_net()
        replay.load_state_dict(p["replay"], copy=False)
        actor.load_state_dict(p["actor"])
        intrinsic.load_state_dict(p["intrinsic"])
        curriculum.load_state_dict(p["curriculum"])
        watcher.load_state_dict(p["watcher"])
        visits.load_state_dict(p["visits"])
        c = p["counters"]
        step, episodes, logger_rows = int(c["step"]), int(c["episodes"]), int(c["logger_rows"])
        update_credit, restarts_before = float(c["update_credit"]), int(c["worker_restarts"])
        torch.set_rng_state(p["rng"]["torch"])
        print(f"[RESUME] {cfg.run_name}: checkpoint step_{ckpt_step}, {episodes} episodes", flush=True)
    stop_step = min(cfg.total_steps, cfg.until_step or cfg.total_steps)
    if step >= stop_step:
        print(f"[DONE] {cfg.run_name}: already at step {step} >= {stop_step}", flush=True)
        return EXIT_DONE
    logger = EpisodeLogger(run_dir / "episodes.h5", cfg.run_name, MILESTONE_NAMES,
                           resume_rows=0 if loaded is None else logger_rows)  # fmt: skip

    # ---------------------------------------------------------------- envs
    track = EnvTracker(cfg.num_envs)

    def spawn_state(env_id: int) -> bytes:
        """Autoreset hook: the curriculum picks the savestate of env_id's next episode."""
        entry, data = curriculum.sample_with_bytes(env_id)
        track.prev_spawn[env_id] = track.spawn[env_id]
        track.spawn[env_id] = entry
        return data

    env_fn = partial(make_env, rom, max_episode_steps=cfg.max_episode_steps)
    vec = VecEnv(env_fn, cfg.num_envs, reset_state=spawn_state, restart_on_error=True)
    obs, infos = vec.reset()
    for i, info in enumerate(infos):
        watcher.start_episode(i, info["game"], track.spawn[i].milestones)
    firsts = np.ones(cfg.num_envs, bool)
    terminal = Terminal(cfg.total_steps, cfg.num_envs, start_step=step)
    print(f"[START] run={cfg.run_name} rom={rom.name} device={device} model={cfg.model_size} "
          f"params={count_parameters(net)} envs={cfg.num_envs} replay_capacity={replay.capacity} "
          f"step={step}/{cfg.total_steps} stop_at={stop_step}", flush=True)  # fmt: skip

    recent = deque(maxlen=100)  # (length, r_env, r_total) of recent episodes
    interval = {"t": time.monotonic(), "step": step, "parts": np.zeros(4), "n": 0, "loss": None,
                "q": None}  # fmt: skip
    next_log = (step // cfg.log_interval + 1) * cfg.log_interval
    next_save = (step // cfg.save_interval + 1) * cfg.save_interval
    next_video = (step // cfg.video_interval + 1) * cfg.video_interval if cfg.video_interval else None
    alarms_total = intrinsic.posteriors.alarm_count
    videos: list[subprocess.Popen] = []

    saved_at = {"step": -1}

    def save(at_step: int) -> Path:
        if saved_at["step"] == at_step:
            return checkpoints.path(at_step)
        saved_at["step"] = at_step
        payload = {
            "model": learner.net.state_dict(),
            "learner": {k: v for k, v in learner.state_dict().items() if k != "online"},
            "replay": replay.state_dict(),
            "actor": actor.state_dict(),
            "intrinsic": intrinsic.state_dict(),
            "curriculum": curriculum.state_dict(),
            "watcher": watcher.state_dict(),
            "visits": visits.state_dict(),
            "counters": {"step": at_step, "episodes": episodes, "logger_rows": logger.rows,
                         "update_credit": update_credit,
                         "worker_restarts": restarts_before + vec.restarts},
            "rng": {"torch": torch.get_rng_state()},
        }  # fmt: skip
        bad = nonfinite_tensors({"model": payload["model"], "learner": payload["learner"],
                                 "rnd": payload["intrinsic"]["rnd"]})  # fmt: skip
        if bad:
            have = checkpoints.list_complete()
            kept = f"step_{have[-1]} is intact" if have else "there is no earlier checkpoint"
            raise CheckpointError(
                f"refusing to save step_{at_step}: {len(bad)} tensors hold NaN/inf (first: "
                f"{bad[0]}); {kept}: resume from it, with a lower --lr if this repeats"
            )
        path = checkpoints.save(at_step, payload, config={**cfg.to_dict(), **checkpoint_config(cfg)})
        print(f"[CKPT] step={at_step} path={path}", flush=True)
        return path

    # ---------------------------------------------------------------- the loop
    exit_code = EXIT_DONE
    loop_start, loop_start_step = time.monotonic(), step
    try:
        while step < stop_step:
            eps = epsilon.value(step)
            eps_envs = env_epsilons(eps, cfg.num_envs, cfg.explore_envs)
            prev_obs = {k: v.copy() for k, v in obs.items()}  # vec obs are shared-memory views
            actions, states = actor.act(prev_obs, eps_envs, firsts=firsts)
            vec.step_async(actions)
            # Learn while the emulators step and this turn's bookkeeping runs (on the learner
            # thread): replay_ratio trained steps per collected step.
            batches = []
            if step >= cfg.learning_starts and replay.num_sequences > 0:
                update_credit += cfg.replay_ratio * cfg.num_envs / (cfg.batch_size * agent_cfg.trace_len)
                while update_credit >= 1.0:
                    update_credit -= 1.0
                    batches.append(replay.sample(cfg.batch_size))
            updates.submit(batches)
            obs, r_env, terminated, truncated, infos = vec.step_wait()
            dones = terminated | truncated
            games = [info["final_info"]["game"] if d else info["game"]
                     for info, d in zip(infos, dones)]  # fmt: skip

            # Intrinsic rewards for the states just reached, then r_total into the replay.
            newly = []
            for i, g in enumerate(games):
                before = watcher.new_mask(i)
                for trig in watcher.observe(i, g):
                    if not dones[i]:
                        save_trigger_state(vec, curriculum, watcher, i, trig, g, step)
                newly.append(watcher.new_mask(i) & ~before)
                if visits.count(*g.cell) == 0:
                    track.new_cells[i] += 1
                visits.add_cell(*g.cell)
            parts = intrinsic.compute(obs, games, newly)
            # No curiosity for text boxes and menus: their screens are always "new", and an
            # agent paid for them learns to open the START menu forever.
            parts["r_rnd"][[g.text_box and not g.in_battle for g in games]] = 0.0
            r_total = intrinsic.total(r_env, parts)
            replay.add(prev_obs, actions, r_total, terminated, firsts, states)  # truncation: firsts
            track.r_total += r_total
            track.r_rnd += parts["r_rnd"]
            track.r_novel += parts["r_novel"]
            track.r_bayes += parts["r_bayes"]
            interval["parts"] += [r_env.mean(), parts["r_rnd"].mean(), parts["r_novel"].mean(),
                                  parts["r_bayes"].mean()]  # fmt: skip
            interval["n"] += 1
            firsts = vec.firsts.copy()
            step += cfg.num_envs
            terminal.progress(step)
            for batch, metrics in zip(batches, updates.wait()):
                if metrics["losses/nonfinite"]:
                    print(f"[ALARM] step {step}: NaN/inf in the loss or Q-values, update "
                          f"skipped (non-finite updates so far: "
                          f"{learner.nonfinite_updates})", flush=True)  # fmt: skip
                intrinsic.train_step(batch.obs["screen"][-1])
                interval["loss"], interval["q"] = metrics["losses/td_loss"], metrics["losses/q_mean"]

            # Finished episodes: log, update posteriors and curriculum, start the next.
            for i in np.flatnonzero(dones):
                episodes += 1
                fin = infos[i]["final_info"]
                spawn = track.prev_spawn[i]  # autoreset already drew the next episode's
                ep = infos[i]["episode"]
                eligible = ALL_MILESTONES & ~watcher_spawn_mask(watcher, i)
                reached = watcher.new_mask(i)
                alarm = intrinsic.on_episode_end(int(i), eligible, reached)
                row = episode_row(episodes, int(i), step, ep, fin, track, intrinsic, alarm,
                                  spawn, eps, terminal_sps(interval, step))
                logger.append(row)
                recent.append((ep["length"], ep["return"], track.r_total[i]))
                terminal.episode(episode_summary(row, intrinsic, alarm))
                if alarm:
                    alarms_total += (alarm).bit_count()
                    terminal.alarm(intrinsic.posteriors.describe_alarm(alarm), step=step)
                curriculum.update(int(i), row["savestate_tag"], new_cells=int(track.new_cells[i]),
                                  milestones_mask=watcher.episode_mask(i),
                                  episode_return=float(ep["return"]))  # fmt: skip
                track.clear(i)
                watcher.start_episode(i, infos[i]["game"], track.spawn[i].milestones)

            if step >= next_log:
                next_log += cfg.log_interval
                curriculum.set_milestone_pressure(intrinsic.posteriors.pressure())
                terminal.interval(interval_stats(interval, step, eps, episodes, recent,
                                                 curriculum, intrinsic, alarms_total,
                                                 restarts_before + vec.restarts))  # fmt: skip
                interval.update(t=time.monotonic(), step=step, parts=np.zeros(4), n=0)
            if step >= next_save:
                next_save += cfg.save_interval
                save(step)
            if next_video is not None and step >= next_video:
                next_video += cfg.video_interval
                videos.append(launch_video(cfg, save(step), run_dir))
            if stop.signal is not None:
                name = signal.Signals(stop.signal).name
                print(f"[SIGNAL] {name} at step {step}: writing a checkpoint, then exiting", flush=True)
                save(step)
                exit_code = EXIT_PREEMPTED
                break
        else:
            save(step)
            sps = (step - loop_start_step) / max(time.monotonic() - loop_start, 1e-9)
            print(f"[DONE] {cfg.run_name}: step {step} (stop at {stop_step}), {episodes} episodes, "
                  f"sps={sps:.1f}", flush=True)  # fmt: skip
    finally:
        updates.close()
        terminal.close()
        vec.close()
        logger.close()
        for proc in videos:
            proc.wait(timeout=600)
    return exit_code


# -------------------------------------------------------------------- helpers of the loop
def nonfinite_tensors(tree: Any, where: str = "") -> list[str]:
    """Paths of the floating-point tensors in `tree` that hold NaN or inf."""
    if isinstance(tree, torch.Tensor):
        bad = tree.is_floating_point() and not bool(torch.isfinite(tree).all())
        return [where.lstrip(".")] if bad else []
    if isinstance(tree, dict):
        return [p for k, v in tree.items() for p in nonfinite_tensors(v, f"{where}.{k}")]
    if isinstance(tree, (list, tuple)):
        return [p for i, v in enumerate(tree) for p in nonfinite_tensors(v, f"{where}[{i}]")]
    return []


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


def watcher_spawn_mask(watcher: Any, env_id: int) -> int:
    """Milestones already true when the episode started (not eligible for the posteriors)."""
    return watcher.episode_mask(env_id) & ~watcher.new_mask(env_id)


def save_trigger_state(vec: VecEnv, curriculum: CurriculumManager, watcher: Any, env_id: int,
                       trig: Any, game: Any, step: int) -> None:  # fmt: skip
    """A milestone reached for the first time in the run: keep a savestate of it."""
    data = vec.save_state(env_id)
    if data is None:
        return
    meta = watcher.state_meta(env_id, trig, game, step)
    try:
        entry, migrating = curriculum.add_state(entry_name(trig.name), data, meta)
    except StateIndexError as e:  # e.g. a full disk: one lost savestate must not stop the run
        print(f"[WARN] savestate {trig.name} not saved: {e}", flush=True)
        return
    if entry is not None:
        print(f"[SAVESTATE] {trig.name} tier={trig.tier} env={env_id} step={step} "
              f"map=0x{game.map_id:02X} -> {entry.path}; migrating envs {migrating}", flush=True)


def terminal_sps(interval: dict, step: int) -> float:
    dt = time.monotonic() - interval["t"]
    return (step - interval["step"]) / dt if dt > 0 else 0.0


def episode_row(episode: int, env_id: int, step: int, ep: dict, fin: dict,
                track: EnvTracker, intrinsic: IntrinsicRewards, alarm: int,
                spawn: StateEntry | None, eps: float, sps: float) -> dict[str, Any]:  # fmt: skip
    g = fin["game"]
    return {
        "episode": episode, "env_id": env_id, "global_step": step, "length": int(ep["length"]),
        "return_env": float(ep["return"]), "return_total": float(track.r_total[env_id]),
        "return_rnd": float(track.r_rnd[env_id]), "return_novel": float(track.r_novel[env_id]),
        "return_bayes": float(track.r_bayes[env_id]), "badges": g.badges, "map_id": g.map_id,
        "savestate_tag": spawn.name if spawn else "", "spawn_tier": TIER_CODES[spawn.tier] if spawn else 0,
        "milestones_reached": int(fin.get("milestones", 0)), "alarm": alarm,
        "cells_visited": int(fin.get("cells_visited", 0)), "epsilon": eps,
        "wall_time": time.time(), "sps": sps,
        "alpha": intrinsic.posteriors.alpha, "beta": intrinsic.posteriors.beta,
    }  # fmt: skip


def episode_summary(row: dict, intrinsic: IntrinsicRewards, alarm: int) -> EpisodeSummary:
    means = intrinsic.posteriors.means()
    labels = {m.name: m.label for m in DEFAULT_MILESTONES}
    reached = [m.name for k, m in enumerate(DEFAULT_MILESTONES) if row["milestones_reached"] >> k & 1]
    alarms = [labels[m.name] for k, m in enumerate(DEFAULT_MILESTONES) if alarm >> k & 1]
    return EpisodeSummary(
        episode=row["episode"], env_id=row["env_id"], length=row["length"],
        return_env=row["return_env"], return_total=row["return_total"], badges=row["badges"].bit_count(),
        map_id=row["map_id"], savestate_tag=row["savestate_tag"], return_rnd=row["return_rnd"],
        return_novel=row["return_novel"], return_bayes=row["return_bayes"],
        cells=row["cells_visited"], posteriors={labels[n]: means[labels[n]] for n in reached},
        alarms=alarms,
    )  # fmt: skip


def interval_stats(interval: dict, step: int, eps: float, episodes: int, recent: deque,
                   curriculum: CurriculumManager, intrinsic: IntrinsicRewards,
                   alarms: int, restarts: int) -> IntervalStats:  # fmt: skip
    n = max(interval["n"], 1)
    parts = interval["parts"] / n
    lengths, r_env, r_total = (np.array(x, float) for x in zip(*recent)) if recent else ([], [], [])
    nan = float("nan")
    return IntervalStats(
        step=step, sps=terminal_sps(interval, step), epsilon=eps, episodes_completed=episodes,
        recent_avg_episode_length=float(np.mean(lengths)) if len(lengths) else nan,
        recent_avg_r_env=float(np.mean(r_env)) if len(r_env) else nan,
        recent_avg_r_total=float(np.mean(r_total)) if len(r_total) else nan,
        mean_r_env=float(parts[0]), mean_r_rnd=float(parts[1]), mean_r_novel=float(parts[2]),
        mean_r_bayes=float(parts[3]), curriculum=curriculum.summary(),
        posteriors=intrinsic.posteriors.summary(), alarm_count=alarms, worker_restarts=restarts,
        loss=interval["loss"], q_mean=interval["q"],
    )  # fmt: skip


def launch_video(cfg: TrainConfig, checkpoint: Path, run_dir: Path) -> subprocess.Popen:
    """Record an eval rollout of this checkpoint in another process: training does not stall."""
    out = run_dir / "videos"
    extra = ["--rom", cfg.rom, "--steps", str(min(cfg.max_episode_steps, 1000))]
    if cfg.allow_unknown_rom:
        extra.append("--allow-unknown-rom")
    print(f"[VIDEO] recording {checkpoint.name} in the background -> {out}", flush=True)
    return start_evaluation(cfg.run_name, out, checkpoint=checkpoint, extra_args=extra)


def completed_step(run_dir: Path) -> int:
    """Step of the newest complete checkpoint of a run (0 when there is none)."""
    steps = CheckpointManager(run_dir).list_complete()
    return steps[-1] if steps else 0


def main(argv: list[str] | None = None) -> int:
    cfg = parse_train_args(argv)
    if not cfg.run_name:
        print("daddy.train_big: error: --run-name (or run_name in --config) is required",
              file=sys.stderr)  # fmt: skip
        return EXIT_BAD_INPUT
    try:
        return train(cfg)
    except (RomError, StateIndexError, CheckpointError, EpisodeLogError, ValueError) as e:
        print(f"daddy.train_big: error: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except OSError as e:  # an output folder that cannot be written, a full disk
        where = f" ({e.filename})" if e.filename else ""
        print(f"daddy.train_big: error: {e.strerror or str(e).splitlines()[0]}{where}: make "
              "runs/ and savestates/ writable folders with free space; the newest checkpoint "
              "is intact", file=sys.stderr)  # fmt: skip
        return EXIT_BAD_INPUT
    finally:
        # The run is over: a late SIGTERM/SIGUSR2 must not turn its exit into a death by signal
        # while the interpreter tears down (CPython resets Python handlers to SIG_DFL then;
        # SIG_IGN survives).
        for sig in (signal.SIGTERM, signal.SIGUSR2):
            signal.signal(sig, signal.SIG_IGN)


if __name__ == "__main__":
    sys.exit(main())
