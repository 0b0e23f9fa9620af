"""Learning benchmark: does Daddy learn the practice cartridge, and faster than the alternatives?

Every method gets the same env-step budget, the same bootstrap state and the same number of
parallel envs on the practice cartridge; episode length is each method's own (EPISODE_STEPS):
512 for every method on the swarm, 2048 for those that start each episode at the bootstrap.

    random         uniform random actions (the floor: what exploration alone finds)
    ppo            stable-baselines3 PPO, MultiInputPolicy (what a user would pick instead)
    daddy          `train_big`, slim preset, curriculum swarm and intrinsic rewards
    daddy_noswarm  the same, but every episode spawns from the bootstrap state
    random_swarm   uniform random actions on Daddy's swarm (`daddy.swarm.Swarm`): Go-Explore's
                   explore phase, spawned by the same curriculum from the same trigger states
    ppo_swarm      sb3-contrib RecurrentPPO (CNN + LSTM) on the swarm (`daddy.swarm.sb3`), paid
                   the swarm's r_total (the game's reward, RND, episodic novelty, Bayesian
                   shaping): pokemonred_puffer's recipe (LSTM PPO, migration, exploration reward)
    daddy_nornd    Daddy without RND curiosity (beta_rnd 0)
    daddy_nobayes  Daddy without Bayesian milestone shaping (beta_bayes 0; the posteriors
                   still steer the curriculum)
    daddy_gru      Daddy with the GRU alone (preset slim_gru: no LSTM, no SSM)
    daddy_novelty  Daddy paid only the game's reward and episodic novelty (beta_rnd 0 and
                   beta_bayes 0: the two ablations that each sped Daddy up, together)
    daddy_munchausen  Daddy with Munchausen-DQN targets (munchausen 0.9, tau 0.03: the
                   paper's), which widen the action gap its greedy envs steer by

Each (method, seed) is its own long invocation that writes one JSON result, so the work can be
spread over time and machines; `aggregate` turns a folder of results into the table (medians
over seeds) and the plot:

    python bench/learning.py run --method daddy --seed 0 --steps 300000 --out bench/results/learning
    python bench/learning.py aggregate --results bench/results/learning

Every method is measured the same way: the env step (summed over envs) at which the run first
reached each milestone and each badge count, distinct (map, x, y) cells over the whole run,
wall-clock and CPU-seconds (the machine-load-free cost). PPO and random see only the env's own
reward r_env; intrinsic rewards and the curriculum are what Daddy brings, and the *_swarm methods
get both too. Daddy's numbers come from its own logs (savestate index, episodes.h5, the final
checkpoint's visit counts); random's and PPO's from watching their envs' GameState each step.
The last stdout line of each command is one JSON object (bench/ convention).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from discoveries import of_run as discoveries_of_run  # bench/discoveries.py, beside this script

from daddy.game.milestones import DEFAULT_MILESTONES, STORY_ORDER, reached_mask, watch_key
from daddy.game.ram import GameState
from daddy.game.rom import add_rom_flags, rom_from_args
from daddy.io import atomic_write
from daddy.run.paths import RunPaths

# what each ablation or variant changes in Daddy's config (train: keys)
ABLATIONS: dict[str, dict[str, Any]] = {
    "daddy_nornd": {"beta_rnd": 0.0},
    "daddy_nobayes": {"beta_bayes": 0.0},
    "daddy_gru": {"model_size": "slim_gru"},
    "daddy_novelty": {"beta_rnd": 0.0, "beta_bayes": 0.0},
    "daddy_munchausen": {"munchausen": 0.9},
}
DADDY_METHODS = ("daddy", "daddy_noswarm", *ABLATIONS)
SWARM_METHODS = ("random_swarm", "ppo_swarm")  # another algorithm on Daddy's swarm
METHODS = ("random", "ppo", "daddy", "daddy_noswarm", *SWARM_METHODS, *ABLATIONS)
# Episode length is part of each method's design, so each gets its own default. The swarm
# restarts from the frontier savestates: short episodes mean more restarts there (Go-Explore's
# "return, then explore"). Every method that starts each episode from the bootstrap state
# needs long episodes to get anywhere, so random, PPO and Daddy without the swarm get 2048.
FROM_BOOTSTRAP = ("random", "ppo", "daddy_noswarm")
EPISODE_STEPS = {m: 2048 if m in FROM_BOOTSTRAP else 512 for m in METHODS}
COLOURS = {
    "random": "tab:gray",
    "ppo": "tab:blue",
    "daddy": "tab:red",
    "daddy_noswarm": "tab:orange",
    "random_swarm": "black",
    "ppo_swarm": "tab:cyan",
    "daddy_nornd": "tab:pink",
    "daddy_nobayes": "tab:purple",
    "daddy_gru": "tab:brown",
    "daddy_novelty": "tab:olive",
    "daddy_munchausen": "tab:green",
}
DADDY_BLOCKS = {"train", "curriculum", "intrinsic"}  # a run config's blocks the bench uses
MILESTONES = [m.name for m in DEFAULT_MILESTONES]  # bit order (bit i = MILESTONES[i])
NUM_BADGES = 8  # wObtainedBadges: the real game's gyms; results record steps to each count
CARTRIDGE_BADGES = 3  # the practice cartridge's gyms: tables always show this many columns
NEXT_SHOWN = 3  # posterior table: milestones shown past the furthest any run found
# the way to badge 1 in legs (None: the run's start): the parcel errand, the way north to the
# forest once Oak has the parcel, then the forest, Pewter City and Brock
LEGS: tuple[tuple[str | None, str], ...] = (
    (None, "oak_got_parcel"), ("oak_got_parcel", "viridian_forest"),
    ("viridian_forest", "badge_boulder"),
)  # fmt: skip
CONFIGS = Path(__file__).resolve().parent / "learning_configs"
DEFAULT_RESULTS = Path("bench/results/learning")
DEFAULT_WORK = Path("runs/bench_learning")  # ignored by git (runs/*/)


# --------------------------------------------------------------------------- what is measured
@dataclass
class Progress:
    """Run-level discoveries: the first env step of each milestone and badge count, and the
    distinct cells. One bookkeeping for all methods keeps their numbers comparable."""

    milestone_step: dict[str, int] = field(default_factory=dict)
    badge_step: dict[int, int] = field(default_factory=dict)
    cells: set[tuple[int, int, int]] = field(default_factory=set)
    _last: dict[int, tuple[int, int, bytes, bytes]] = field(default_factory=dict)

    def observe(self, step: int, env_id: int, game: GameState) -> None:
        """Env `env_id` stood in `game` once `step` env steps had been taken in all."""
        self.cells.add(game.cell)
        key = watch_key(game)
        if self._last.get(env_id) == key:
            return  # nothing milestones look at changed: skip the checks
        self._last[env_id] = key
        mask = reached_mask(game)
        for i, name in enumerate(MILESTONES):
            if mask >> i & 1:
                self.milestone_step.setdefault(name, step)
        for k in range(1, game.badge_count + 1):
            self.badge_step.setdefault(k, step)


@dataclass
class Outcome:
    """What one run leaves behind, whichever method produced it."""

    steps_done: int
    milestone_step: dict[str, int]
    badge_step: dict[int, int]
    cells_visited: int
    posteriors: dict[str, float] | None = None  # Daddy's final Beta posterior means
    loop_s: float | None = None  # wall-clock of the acting/learning loop alone, when known
    discoveries: dict[str, Any] | None = None  # Daddy: greedy vs explorer envs (discoveries.py)

    @classmethod
    def from_progress(cls, p: Progress, steps_done: int, loop_s: float) -> Outcome:
        return cls(
            steps_done, dict(p.milestone_step), dict(p.badge_step), len(p.cells), loop_s=loop_s
        )


@dataclass(frozen=True)
class RunArgs:
    """One (method, seed) run, as `run` was asked for it."""

    method: str
    seed: int
    steps: int
    num_envs: int
    max_episode_steps: int
    rom: str
    config: Path | None
    overrides: dict[str, Any]
    work: Path
    keep_checkpoint: bool = False
    runs_root: Path | None = None  # default: <work>/runs
    states_root: Path | None = None  # default: <work>/savestates
    allow_unknown_rom: bool = False


# --------------------------------------------------------------------------- shared set-up
def bootstrap_state(rom: str) -> bytes:
    """The first controllable state, made the way train_big's bootstrap makes Daddy's."""
    from daddy.game.bootstrap import play_intro
    from daddy.game.env import PokemonEnv

    env = PokemonEnv(rom)
    try:
        return play_intro(env).state
    finally:
        env.close()


def load_params(args: RunArgs) -> dict[str, Any]:
    """The method's YAML config with the `--set` overrides applied (train: block for Daddy)."""
    if args.config is None:
        if args.overrides:
            raise SystemExit(f"--set has nothing to change for --method {args.method}")
        return {}
    try:
        params = yaml.safe_load(args.config.read_text()) or {}
    except (OSError, yaml.YAMLError) as e:
        raise SystemExit(f"cannot read {args.config}: {e}; pass --config with a YAML file")
    if not isinstance(params, dict):
        raise SystemExit(f"{args.config} must be a mapping of settings")
    blocks = (DADDY_BLOCKS | {"ppo"}) if args.method in SWARM_METHODS else DADDY_BLOCKS
    daddy_like = args.method in DADDY_METHODS or args.method in SWARM_METHODS
    extra = set(params) - blocks if daddy_like else set()
    if extra:
        raise SystemExit(f"{args.config}: unknown blocks {sorted(extra)}; use {sorted(blocks)}")
    if args.method == "ppo_swarm":
        target = params.setdefault("ppo", {})
    else:
        target = params.setdefault("train", {}) if daddy_like else params
    target.update(args.overrides)
    return params


def set_torch_threads() -> None:
    """Half the cores for torch, as train_big does: the rest step the emulators."""
    import torch

    torch.set_num_threads(max(1, (os.cpu_count() or 2) // 2))


# --------------------------------------------------------------------------- random
def run_random(args: RunArgs, params: dict[str, Any]) -> Outcome:
    """Uniform random actions in Daddy's own VecEnv (so it gets the same cores as Daddy)."""
    from daddy.game.env import ACTIONS, make_env
    from daddy.swarm.vec import VecEnv

    state = bootstrap_state(args.rom)
    env_fn = partial(make_env, args.rom, state=state, max_episode_steps=args.max_episode_steps)
    rng = np.random.default_rng(args.seed)
    progress, step = Progress(), 0
    with VecEnv(env_fn, args.num_envs) as vec:
        vec.reset(seed=args.seed)
        t0 = time.perf_counter()
        while step < args.steps:
            _, _, term, trunc, infos = vec.step(rng.integers(0, len(ACTIONS), args.num_envs))
            step += args.num_envs
            for i, info in enumerate(infos):
                game = info["final_info"]["game"] if term[i] or trunc[i] else info["game"]
                progress.observe(step, i, game)
        loop_s = time.perf_counter() - t0
    return Outcome.from_progress(progress, step, loop_s)


# --------------------------------------------------------------------------- PPO
def sb3_env(rom: str, state: bytes, max_episode_steps: int) -> Any:
    """The benchmark env in the encoding SB3's MultiInputPolicy wants (see `SB3Observation`)."""
    from daddy.game.env import make_env

    return sb3_observation(make_env(rom, state=state, max_episode_steps=max_episode_steps))


def sb3_observation(env: Any) -> Any:
    """Same information, SB3's encoding (`daddy.swarm.sb3`: the screen as a 1-channel 0..255
    image so SB3 gives it NatureCNN, map_id as a Discrete), as the swarm's SB3 env shows it."""
    from daddy.swarm.sb3 import SB3Observation

    return SB3Observation(env)


def run_ppo(args: RunArgs, params: dict[str, Any]) -> Outcome:
    """SB3 PPO on the same env: r_env only, no curriculum, no intrinsic rewards."""
    try:
        from stable_baselines3 import PPO
        from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv
    except ImportError:
        raise SystemExit(
            "--method ppo needs stable-baselines3: pip install -e '.[bench]' "
            "(or pip install stable-baselines3==2.9.2)"
        ) from None

    set_torch_threads()
    hyper = dict(params)
    policy = hyper.pop("policy", "MultiInputPolicy")
    state = bootstrap_state(args.rom)
    fns = [partial(sb3_env, args.rom, state, args.max_episode_steps)] * args.num_envs
    vec = SubprocVecEnv(fns, start_method="forkserver") if args.num_envs > 1 else DummyVecEnv(fns)
    return learn_sb3(PPO, policy, vec, args, hyper)


def learn_sb3(algo: Any, policy: str, env: Any, args: RunArgs, hyper: dict[str, Any]) -> Outcome:
    """Train SB3 algorithm `algo` on `env` for the budget, watching every env's GameState;
    closes `env`."""
    progress = Progress()
    try:
        try:
            model = algo(policy, env, seed=args.seed, verbose=0, **hyper)
        except (TypeError, ValueError) as e:
            raise SystemExit(f"{args.config}: {algo.__name__} rejects these settings: {e}") from None
        t0 = time.perf_counter()
        model.learn(total_timesteps=args.steps, callback=watch_callback(progress))
        loop_s = time.perf_counter() - t0
    finally:
        env.close()
    return Outcome.from_progress(progress, int(model.num_timesteps), loop_s)


def watch_callback(progress: Progress) -> Any:
    """An SB3 callback that feeds every env's GameState into Progress (SB3 infos hold the
    step's own, before the autoreset)."""
    from stable_baselines3.common.callbacks import BaseCallback

    class Watch(BaseCallback):
        def _on_step(self) -> bool:
            for i, info in enumerate(self.locals["infos"]):
                progress.observe(self.num_timesteps, i, info["game"])
            return True

    return Watch()


# --------------------------------------------------------------------------- Daddy
def daddy_config(args: RunArgs, params: dict[str, Any], run_name: str) -> Any:
    """train_big's TrainConfig: the YAML's train/curriculum/intrinsic plus the bench's fixed
    settings (budget, envs, episode length; one checkpoint at the end, for the visit counts)."""
    from daddy.run.config import ConfigError, make_train_config

    curriculum = dict(params.get("curriculum") or {})
    if args.method == "daddy_noswarm":  # trigger states are still saved, never spawned from
        curriculum.update(spawn="bootstrap", migration=False)
    values = {
        **(params.get("train") or {}),
        **ABLATIONS.get(args.method, {}),
        "run_name": run_name,
        "seed": args.seed,
        "total_steps": args.steps,
        "num_envs": args.num_envs,
        "max_episode_steps": args.max_episode_steps,
        "rom": args.rom,
        "allow_unknown_rom": args.allow_unknown_rom,
        "save_interval": args.steps,
        "keep_checkpoints": 1,
        "curriculum": curriculum,
        "intrinsic": dict(params.get("intrinsic") or {}),
    }
    try:
        return make_train_config(values, source=str(args.config))
    except ConfigError as e:
        raise SystemExit(str(e)) from None


def fresh_paths(args: RunArgs) -> RunPaths:
    """The run's folders under the work folder, emptied: a stale run would be resumed."""
    run_name = f"bench_{args.method}_s{args.seed}"
    paths = RunPaths(
        run_name,
        args.runs_root or args.work / "runs",
        args.states_root or args.work / "savestates",
    )
    for old in (paths.dir, paths.states):
        shutil.rmtree(old, ignore_errors=True)
    return paths


def run_daddy(args: RunArgs, params: dict[str, Any]) -> Outcome:
    """train_big in this process, in a fresh work folder; its log lines go to stderr."""
    from daddy.run import train as train_big

    paths = fresh_paths(args)
    cfg = daddy_config(args, params, paths.run)
    with contextlib.redirect_stdout(sys.stderr):
        code = train_big.train(cfg, runs_root=paths.runs_root, states_root=paths.states_root)
    if code != 0:
        raise SystemExit(f"train_big stopped with exit code {code} before step {args.steps}")
    outcome = daddy_outcome(paths.dir, paths.states)
    outcome.discoveries = greedy_discoveries(paths.dir, cfg)
    if not args.keep_checkpoint:  # mostly the replay buffer (--set replay_memory_mb), on disk
        shutil.rmtree(paths.checkpoints, ignore_errors=True)
    return outcome


def greedy_discoveries(run_dir: Path, cfg: Any) -> dict[str, Any]:
    """Who made the run's discoveries once ε had decayed: the explorer (always random) envs or
    the greedy ones, per env. Why: it says whether the learned policy explores better than
    random actions from the same spawn states (issue 17's measured limit)."""
    return discoveries_of_run(run_dir, cfg.num_envs, cfg.explore_envs, after=cfg.eps_decay_steps)


def daddy_outcome(run_dir: Path, states_dir: Path) -> Outcome:
    """Read a finished Daddy run back from its logs.

    First steps: the savestate index records the step of each milestone's first trigger; the
    episode log catches the rare milestone reached on an episode's last step (no state saved
    then) at that episode's end. Cells: the final checkpoint's run-wide visit counts.
    """
    from daddy.eval.heatmap import CHECKPOINT_PART, VisitCounts
    from daddy.run.checkpoint import CheckpointManager
    from daddy.run.episode_log import read
    from daddy.run.train import completed_step

    paths = RunPaths.from_dir(run_dir, Path(states_dir).parent)
    rows = read(paths.episodes)
    entries = json.loads(paths.state_index.read_text())["states"]
    milestone_step: dict[str, int] = {}
    badge_step: dict[int, int] = {}
    found = [(e["step"], e["badges"], e["milestone"]) for e in entries]
    found += [
        (int(r.global_step), int(r.badges), int(r.milestones_reached)) for r in rows.itertuples()
    ]
    for step, badges, what in sorted(found, key=lambda f: f[0]):
        names = (
            [what]
            if isinstance(what, str)
            else [n for i, n in enumerate(MILESTONES) if what >> i & 1]
        )
        for name in names:
            if name in MILESTONES:
                milestone_step.setdefault(name, step)
        for k in range(1, int(badges).bit_count() + 1):
            badge_step.setdefault(k, step)
    done = completed_step(run_dir)
    checkpoints = CheckpointManager(paths)
    visits = checkpoints.load(done, parts=[CHECKPOINT_PART]) if done else {}
    cells = len(VisitCounts.from_state_dict(visits[CHECKPOINT_PART])) if visits else 0
    return Outcome(
        done,
        milestone_step,
        badge_step,
        cells,
        posteriors=final_posteriors(rows),
        loop_s=loop_seconds(rows, done),
    )


def loop_seconds(rows: Any, steps_done: int) -> float | None:
    """Seconds the training loop took, extrapolated from the first to the last episode end
    (steady state: leaves out bootstrap, emulator start-up and the final checkpoint)."""
    if len(rows) < 2:
        return None
    steps = float(rows.global_step.iloc[-1] - rows.global_step.iloc[0])
    secs = float(rows.wall_time.iloc[-1] - rows.wall_time.iloc[0])
    if steps <= 0 or secs <= 0:
        return None
    return secs / steps * steps_done


def final_posteriors(rows: Any) -> dict[str, float] | None:
    """Posterior mean alpha/(alpha+beta) of each milestone after the last episode."""
    if len(rows) == 0:
        return None
    last = rows.iloc[-1]
    return {
        n: round(float(last[f"alpha_{n}"] / (last[f"alpha_{n}"] + last[f"beta_{n}"])), 4)
        for n in MILESTONES
        if f"alpha_{n}" in rows.columns
    }


# --------------------------------------------------------------------------- on the swarm
def open_bench_swarm(args: RunArgs, params: dict[str, Any], rnd_train_every: int) -> Any:
    """Daddy's swarm with the daddy config's curriculum and intrinsic settings, fresh folders."""
    from daddy.run.builder import open_swarm

    paths = fresh_paths(args)
    cfg = daddy_config(args, {k: v for k, v in params.items() if k != "ppo"}, paths.run)
    return open_swarm(cfg, paths, rnd_train_every=rnd_train_every)


def run_random_swarm(args: RunArgs, params: dict[str, Any]) -> Outcome:
    """Uniform random actions on the swarm (nobody reads r_total: RND does not train)."""
    from daddy.game.env import ACTIONS

    set_torch_threads()  # the swarm's RND runs in this process
    rng = np.random.default_rng(args.seed)
    progress, step = Progress(), 0
    with contextlib.redirect_stdout(sys.stderr):  # [SAVESTATE] lines
        swarm = open_bench_swarm(args, params, rnd_train_every=0)
        try:
            swarm.reset()
            t0 = time.perf_counter()
            while step < args.steps:
                swarm.step_async(rng.integers(0, len(ACTIONS), args.num_envs))
                turn = swarm.step_wait()
                step += args.num_envs
                dones = turn.terminated | turn.truncated
                for i, info in enumerate(turn.infos):
                    progress.observe(step, i, info["final_info"]["game"] if dones[i] else info["game"])
            loop_s = time.perf_counter() - t0
        finally:
            swarm.close()
    return Outcome.from_progress(progress, step, loop_s)


def run_ppo_swarm(args: RunArgs, params: dict[str, Any]) -> Outcome:
    """sb3-contrib RecurrentPPO on the swarm, trained on its r_total (RND trains itself)."""
    try:
        from sb3_contrib import RecurrentPPO
    except ImportError:
        raise SystemExit("--method ppo_swarm needs sb3-contrib: pip install -e '.[bench]'") from None
    from daddy.swarm.sb3 import SwarmVecEnv

    set_torch_threads()
    hyper = dict(params.get("ppo") or {})
    policy = hyper.pop("policy", "MultiInputLstmPolicy")
    with contextlib.redirect_stdout(sys.stderr):  # [SAVESTATE] lines
        env = SwarmVecEnv(open_bench_swarm(args, params, rnd_train_every=32))
        return learn_sb3(RecurrentPPO, policy, env, args, hyper)


# --------------------------------------------------------------------------- run command
RUNNERS: dict[str, Callable[[RunArgs, dict[str, Any]], Outcome]] = {
    "random": run_random,
    "ppo": run_ppo,
    **dict.fromkeys(DADDY_METHODS, run_daddy),
    "random_swarm": run_random_swarm,
    "ppo_swarm": run_ppo_swarm,
}
DEFAULT_CONFIGS = {
    "ppo": CONFIGS / "ppo.yaml",
    **dict.fromkeys(DADDY_METHODS, CONFIGS / "daddy.yaml"),
    "random_swarm": CONFIGS / "daddy.yaml",
    "ppo_swarm": CONFIGS / "ppo_swarm.yaml",
}


def environment() -> dict[str, Any]:
    """Versions and machine facts: wall-clock only compares on the same machine and load."""
    from importlib import metadata

    versions = {}
    for pkg in ("torch", "pyboy", "gymnasium", "stable-baselines3", "numpy"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            versions[pkg] = metadata.version(pkg)
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    ).stdout.strip()
    return {
        "python": platform.python_version(),
        "versions": versions,
        "git": commit or None,
        "host": platform.node(),
        "cpus": os.cpu_count(),
        "loadavg_start": round(os.getloadavg()[0], 2),
    }


def result_record(
    args: RunArgs, params: dict[str, Any], out: Outcome, wall_s: float, env: dict[str, Any]
) -> dict[str, Any]:
    """The JSON one run leaves: ids, budget, what was found and when, speed, set-up."""
    return {
        "bench": "learning",
        "method": args.method,
        "seed": args.seed,
        "steps": args.steps,
        "steps_done": out.steps_done,
        "num_envs": args.num_envs,
        "max_episode_steps": args.max_episode_steps,
        "rom": args.rom,
        "badge_steps": {str(k): out.badge_step.get(k) for k in range(1, NUM_BADGES + 1)},
        "milestone_steps": {n: out.milestone_step.get(n) for n in MILESTONES},
        "milestones_found": len(out.milestone_step),
        "cells_visited": out.cells_visited,
        "posteriors": out.posteriors,
        "discoveries": out.discoveries,
        "wall_s": round(wall_s, 1),
        "sps": round(out.steps_done / wall_s, 1) if wall_s > 0 else None,
        "loop_sps": round(out.steps_done / out.loop_s, 1) if out.loop_s else None,
        "config": str(args.config) if args.config else None,
        "params": params,
        **env,
        "loadavg_end": round(os.getloadavg()[0], 2),
    }


class TreeCpu:
    """CPU seconds (user + system) of this process and all its descendants, sampled from /proc.

    Why: on a shared machine wall-clock measures the other jobs as much as the method, while
    CPU-seconds per env step does not. getrusage(RUSAGE_CHILDREN) would miss the env workers,
    which are children of a forkserver, so the whole process tree is read twice a second (a
    process's last half second before it exits is missed; small for runs of minutes).
    """

    def __init__(self, interval_s: float = 0.5) -> None:
        self.interval_s = interval_s
        self._cpu: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self) -> TreeCpu:  # noqa: PYI034
        self._sample()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()

    @property
    def seconds(self) -> float:
        return sum(self._cpu.values())

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            self._sample()

    def _sample(self) -> None:
        for pid, cpu in process_tree_cpu(os.getpid()).items():
            self._cpu[pid] = max(self._cpu.get(pid, 0.0), cpu)


def process_tree_cpu(root: int) -> dict[int, float]:
    """pid -> CPU seconds so far, for `root` and its descendants (Linux /proc; {} elsewhere)."""
    tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    parent, cpu = {}, {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            pid = int(stat.parent.name)
            parent[pid] = int(fields[1])  # fields after "(comm)": state, ppid, ..., utime, stime
            cpu[pid] = (int(fields[11]) + int(fields[12])) / tick
    tree, todo = {}, [root]
    while todo:
        pid = todo.pop()
        if pid in cpu and pid not in tree:
            tree[pid] = cpu[pid]
            todo.extend(child for child, ppid in parent.items() if ppid == pid)
    return tree


def write_json(path: Path, record: dict[str, Any]) -> None:
    atomic_write(path, lambda tmp: tmp.write_text(json.dumps(record, indent=1) + "\n"))


def cmd_run(ns: argparse.Namespace) -> None:
    rom = rom_from_args(ns)  # checked once here; every method then runs rom.flag()
    args = RunArgs(
        ns.method,
        ns.seed,
        ns.steps,
        ns.num_envs,
        ns.max_episode_steps or EPISODE_STEPS[ns.method],
        rom.flag(),
        ns.config or DEFAULT_CONFIGS.get(ns.method),
        parse_sets(ns.set),
        ns.work,
        ns.keep_checkpoint,
        ns.runs_root,
        ns.states_root,
        not rom.known,
    )
    params = load_params(args)
    env = environment()
    t0 = time.perf_counter()
    with TreeCpu() as cpu:
        outcome = RUNNERS[args.method](args, params)
    record = result_record(args, params, outcome, time.perf_counter() - t0, env)
    record["cpu_s"] = round(cpu.seconds, 1)
    record["steps_per_cpu_s"] = round(outcome.steps_done / cpu.seconds, 1) if cpu.seconds else None
    write_json(ns.out / f"{args.method}_s{args.seed}.json", record)
    print(json.dumps({k: v for k, v in record.items() if k not in ("params", "posteriors")}))


def parse_sets(items: list[str]) -> dict[str, Any]:
    """`--set key=value` pairs; values read as YAML (numbers, true/false, lists)."""
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise SystemExit(f"--set {item!r}: write KEY=VALUE, e.g. --set learning_starts=1000")
        out[key.strip().replace("-", "_")] = yaml.safe_load(value)
    return out


# --------------------------------------------------------------------------- aggregate
def load_results(folder: Path) -> list[dict[str, Any]]:
    results = []
    for path in sorted(folder.glob("*.json")):
        with contextlib.suppress(ValueError, OSError):
            record = json.loads(path.read_text())
            if isinstance(record, dict) and record.get("bench") == "learning":
                results.append(record)
    if not results:
        raise SystemExit(
            f"no learning results in {folder}; run `python bench/learning.py run "
            f"--method random --seed 0 --out {folder}` first"
        )
    return results


def groups(results: list[dict[str, Any]]) -> dict[tuple[str, int], list[dict[str, Any]]]:
    """Results by (method, budget) in METHODS order: runs of other budgets never mix."""
    out: dict[tuple[str, int], list[dict[str, Any]]] = {}
    for r in sorted(results, key=lambda r: (METHODS.index(r["method"]), r["steps"], r["seed"])):
        out.setdefault((r["method"], r["steps"]), []).append(r)
    return out


def median_steps(values: list[int | None]) -> float:
    """Median with 'not reached' as +inf: more than half the seeds missing → inf."""
    return float(np.median([np.inf if v is None else v for v in values]))


def fmt_steps(values: list[int | None], budget: int) -> str:
    reached = sum(v is not None for v in values)
    m = median_steps(values)
    shown = f"> {budget:,}" if np.isinf(m) else f"{int(m):,}"
    return f"{shown} ({reached}/{len(values)})"


def summary_row(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Medians over the seeds of one (method, budget)."""

    def med(key: str) -> float:
        return float(np.median([r[key] for r in runs if r.get(key) is not None]))

    return {
        "seeds": len(runs),
        "badge_steps": {
            k: median_steps([r["badge_steps"].get(k) for r in runs])
            for k in sorted({k for r in runs for k in r["badge_steps"]}, key=int)
        },
        "milestones_found": med("milestones_found"),
        "cells_visited": med("cells_visited"),
        "wall_s": med("wall_s"),
        "sps": med("sps"),
        "loop_sps": med("loop_sps") if any(r.get("loop_sps") for r in runs) else None,
        "steps_per_cpu_s": med("steps_per_cpu_s")
        if any(r.get("steps_per_cpu_s") for r in runs)
        else None,
    }


def markdown_table(grouped: dict[tuple[str, int], list[dict[str, Any]]]) -> str:
    """The README table: medians over seeds; '(n/m)' = seeds that reached it."""
    n_badges = badge_columns(grouped)
    head = ["method", "budget", "episode", "seeds"] + [f"steps to badge {k}" for k in range(1, n_badges + 1)]
    head += [f"milestones (of {milestones_counted(grouped)})", "distinct cells", "wall-clock",
             "env steps/s", "steps/CPU-s"]  # fmt: skip
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for (method, budget), runs in grouped.items():
        s = summary_row(runs)
        badges = [
            fmt_steps([r["badge_steps"].get(str(k)) for r in runs], budget)
            for k in range(1, n_badges + 1)
        ]
        cells = [
            method,
            f"{budget:,}",
            "/".join(sorted({f"{r['max_episode_steps']:,}" for r in runs})),
            str(len(runs)),
            *badges,
            f"{s['milestones_found']:g}",
            f"{s['cells_visited']:,.0f}",
            f"{s['wall_s'] / 60:.1f} min",
            f"{s['sps']:,.0f}",
            f"{s['steps_per_cpu_s']:,.0f}" if s["steps_per_cpu_s"] else "—",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def badge_columns(grouped: dict[tuple[str, int], list[dict[str, Any]]]) -> int:
    """Badge counts worth a column: the cartridge's three, more once some run got further."""
    got = [int(k) for runs in grouped.values() for r in runs
           for k, v in r["badge_steps"].items() if v is not None]  # fmt: skip
    return max([CARTRIDGE_BADGES, *got])


def milestones_counted(grouped: dict[tuple[str, int], list[dict[str, Any]]]) -> int:
    """How many milestones the results track (results written before the list grew: 14)."""
    return max(len(r["milestone_steps"]) for runs in grouped.values() for r in runs)


def story_names(grouped: dict[tuple[str, int], list[dict[str, Any]]]) -> list[str]:
    """Milestone names in story order, up to the furthest any run found plus NEXT_SHOWN more:
    with ~60 milestones, rows far beyond what any run reached say nothing."""
    found = {n for runs in grouped.values() for r in runs
             for n, v in r["milestone_steps"].items() if v is not None}  # fmt: skip
    done = [k for k, n in enumerate(STORY_ORDER) if n in found]
    return list(STORY_ORDER[: (done[-1] + 1 if done else 0) + NEXT_SHOWN])


def posterior_table(grouped: dict[tuple[str, int], list[dict[str, Any]]]) -> str:
    """Daddy's final milestone posterior means (median over seeds), one row per milestone in
    story order, up to the furthest any run found and a few more (`story_names`)."""
    cols = [
        (key, runs)
        for key, runs in grouped.items()
        if key[0] in DADDY_METHODS and any(r.get("posteriors") for r in runs)
    ]
    if not cols:
        return ""
    head = ["milestone"] + [f"{m} ({b:,})" for (m, b), _ in cols]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name in story_names(grouped):
        vals = []
        for _, runs in cols:
            xs = [
                r["posteriors"][name]
                for r in runs
                if (r.get("posteriors") or {}).get(name) is not None
            ]
            vals.append(f"{np.median(xs):.3f}" if xs else "—")
        lines.append("| " + " | ".join([name, *vals]) + " |")
    return "\n".join(lines)


def milestone_table(grouped: dict[tuple[str, int], list[dict[str, Any]]]) -> str:
    """Median env steps to each milestone per method ('(n/m)' = seeds that reached it), in
    story order."""
    cols = list(grouped.items())
    if not cols:
        return ""
    head = ["steps to milestone"] + [f"{m} ({b:,})" for (m, b), _ in cols]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name in STORY_ORDER:
        if not any(r["milestone_steps"].get(name) is not None for _, runs in cols for r in runs):
            continue
        vals = [fmt_steps([r["milestone_steps"].get(name) for r in runs], b) for (_, b), runs in cols]
        lines.append("| " + " | ".join([name, *vals]) + " |")
    return "\n".join(lines)


def leg_steps(result: dict[str, Any], start: str | None, end: str) -> int | None:
    """Env steps from milestone `start` (None: the run's start) to `end`; None if either is
    missing."""
    steps = result["milestone_steps"]
    a, b = (0 if start is None else steps.get(start)), steps.get(end)
    return None if a is None or b is None else b - a


def legs_table(grouped: dict[tuple[str, int], list[dict[str, Any]]]) -> str:
    """Steps spent on each leg of the way to badge 1 (LEGS), median over the seeds that made
    it and each seed's: where a method gains or loses, which one total hides."""
    cols = [(key, runs) for key, runs in grouped.items()
            if any(leg_steps(r, *LEGS[0]) is not None for r in runs)]  # fmt: skip
    if not cols:
        return ""
    head = ["leg"] + [f"{m} ({b:,})" for (m, b), _ in cols]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for start, end in LEGS:
        vals = []
        for _, runs in cols:
            per_seed = [leg_steps(r, start, end) for r in runs]
            made = [v for v in per_seed if v is not None]
            shown = " / ".join("—" if v is None else f"{v:,}" for v in per_seed)
            vals.append(f"{int(np.median(made)):,} ({shown})" if made else "—")
        lines.append("| " + " | ".join([f"{start or 'start'} → {end}", *vals]) + " |")
    return "\n".join(lines)


def runs_table(grouped: dict[tuple[str, int], list[dict[str, Any]]]) -> str:
    """One row per result: which commit and machine it ran on, and its badges — the medians'
    provenance, since runs of one table are spread over sessions and commits."""
    n_badges = badge_columns(grouped)
    head = ["run", "seed", *[f"badge {k}" for k in range(1, n_badges + 1)], "commit", "host",
            "CPUs", "wall-clock", "greedy/random finds", "greedy/random cells"]  # fmt: skip
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for (method, budget), runs in grouped.items():
        for r in runs:
            badges = [fmt_steps([r["badge_steps"].get(str(k))], budget).split(" (")[0]
                      for k in range(1, n_badges + 1)]  # fmt: skip
            cells = [f"{method} ({budget:,})", str(r["seed"]), *badges, str(r.get("git") or "—"),
                     str(r.get("host") or "—"), str(r.get("cpus") or "—"),
                     f"{r['wall_s'] / 60:.1f} min", greedy_vs_random(r),
                     greedy_vs_random(r, "cells_per_episode")]  # fmt: skip
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def greedy_vs_random(result: dict[str, Any], measure: str | None = None) -> str:
    """A greedy env's share of an explorer env's discoveries after ε decayed (`measure` None), or
    of its cells per episode ("cells_per_episode"); '—' for methods without both kinds of env."""
    split = result.get("discoveries") or {}
    if measure is not None:
        split = split.get(measure) or {}
    ratio = split.get("greedy_vs_random")
    return "—" if ratio is None else f"{ratio:.2f}"


def ppo_ratio(grouped: dict[tuple[str, int], list[dict[str, Any]]]) -> list[str]:
    """The issue's target: Daddy's first badge in <= 1/3 of PPO's steps (same budget)."""
    lines = []
    for (method, budget), runs in grouped.items():
        ppo = grouped.get(("ppo", budget))
        if method not in DADDY_METHODS or not ppo:
            continue
        d = median_steps([r["badge_steps"]["1"] for r in runs])
        p = median_steps([r["badge_steps"]["1"] for r in ppo])
        if np.isinf(d) and np.isinf(p):
            text = f"neither {method} nor PPO reached badge 1 (median over seeds)"
        elif np.isinf(p):
            text = f"{method} reached badge 1 at {d:,.0f} steps; PPO not within {budget:,}"
        elif np.isinf(d):
            text = f"{method} did not reach badge 1; PPO did at {p:,.0f}"
        else:
            text = f"{method}/PPO steps to badge 1 = {d / p:.2f} (target <= 0.33)"
        lines.append(f"- {budget:,} steps: {text}")
    return lines


def swarm_ratio(grouped: dict[tuple[str, int], list[dict[str, Any]]]) -> list[str]:
    """Issue 17's goal: each Daddy variant's steps to badges 1, 2, 3 against the better of
    random_swarm and ppo_swarm (medians over seeds, same budget), target <= 0.5."""
    lines = []
    for (method, budget), runs in grouped.items():
        rivals = [(m, grouped[(m, budget)]) for m in SWARM_METHODS if (m, budget) in grouped]
        if method not in DADDY_METHODS or not rivals:
            continue
        parts = []
        for k in range(1, CARTRIDGE_BADGES + 1):
            d = median_steps([r["badge_steps"].get(str(k)) for r in runs])
            best, rival = min((median_steps([r["badge_steps"].get(str(k)) for r in rs]), m)
                              for m, rs in rivals)  # fmt: skip
            if np.isinf(d) and np.isinf(best):
                parts.append(f"badge {k}: neither")
            elif np.isinf(best):
                parts.append(f"badge {k}: {d:,.0f} vs > {budget:,} (met)")
            elif np.isinf(d):
                parts.append(f"badge {k}: > {budget:,} vs {best:,.0f} ({rival}; not met)")
            else:
                met = "met" if d <= 0.5 * best else "not met"
                parts.append(f"badge {k}: {d / best:.2f} of {rival} ({met})")
        names = "/".join(m for m, _ in rivals)
        lines.append(f"- {budget:,} steps, {method} vs the better of {names} "
                     f"(target <= 0.5): " + "; ".join(parts))
    return lines


def discovery_curve(runs: list[dict[str, Any]], key: str, grid: np.ndarray) -> np.ndarray:
    """Median over seeds of how many `key` entries (milestones, badge counts) were reached by
    each step of `grid`."""
    per_seed = []
    for r in runs:
        steps = np.array([s for s in r[key].values() if s is not None], dtype=float)
        per_seed.append((steps[None, :] <= grid[:, None]).sum(1) if steps.size else 0 * grid)
    return np.median(np.array(per_seed, dtype=float), axis=0)


def plot(grouped: dict[tuple[str, int], list[dict[str, Any]]], path: Path) -> Path:
    """Milestones and badges discovered vs env steps, median over seeds, one line per method."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    legend_rows = -(-len(grouped) // 4)  # below the panels, 4 a row: ten methods hid the curves
    fig, axes = plt.subplots(1, 2, figsize=(11, 4 + 0.25 * legend_rows))
    panels = (
        ("milestone_steps", f"milestones found (of {milestones_counted(grouped)})"),
        ("badge_steps", "badges"),
    )
    for ax, (key, label) in zip(axes, panels):
        for (method, budget), runs in grouped.items():
            grid = np.linspace(0, budget, 400)
            ax.step(
                grid,
                discovery_curve(runs, key, grid),
                where="post",
                color=COLOURS[method],
                label=f"{method} (n={len(runs)}, {budget:,} steps)",
            )
        ax.set_xlabel("env steps (summed over envs)")
        ax.set_ylabel(label)
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylim(bottom=-0.2, top=max(1.2, ax.get_ylim()[1]))
        ax.grid(alpha=0.3)
    axes[1].set_ylim(-0.2, badge_columns(grouped) + 0.2)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, fontsize=8, loc="lower center", ncol=4, frameon=False)
    fig.suptitle("Practice cartridge: discoveries vs env steps (median over seeds)")
    fig.tight_layout(rect=(0, 0.05 * legend_rows, 1, 1))
    try:
        return atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=110))
    finally:
        plt.close(fig)


def cmd_aggregate(ns: argparse.Namespace) -> None:
    grouped = groups(load_results(ns.results))
    out = ns.out or ns.results
    text = "\n\n".join(
        t
        for t in (
            markdown_table(grouped),
            "\n".join(ppo_ratio(grouped)),
            "\n".join(swarm_ratio(grouped)),
            milestone_table(grouped),
            legs_table(grouped),
            posterior_table(grouped),
            runs_table(grouped),
        )
        if t
    )
    out.mkdir(parents=True, exist_ok=True)
    atomic_write(out / "learning_table.md", lambda tmp: tmp.write_text(text + "\n"))
    png = plot(grouped, out / "learning.png")
    print(text)
    summary = {f"{m}@{b}": finite(summary_row(runs)) for (m, b), runs in grouped.items()}
    table = str(out / "learning_table.md")
    print(
        json.dumps(
            {"bench": "learning_aggregate", "table": table, "plot": str(png), "groups": summary},
            allow_nan=False,
        )
    )


def finite(x: Any) -> Any:
    """JSON has no Infinity: 'not reached' medians become null."""
    if isinstance(x, dict):
        return {k: finite(v) for k, v in x.items()}
    return None if isinstance(x, float) and np.isinf(x) else x


# --------------------------------------------------------------------------- CLI
def positive(text: str) -> int:
    value = int(text.replace("_", ""))
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python bench/learning.py", description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    r = sub.add_parser(
        "run", help="one (method, seed): train or act, write <out>/<method>_s<seed>.json"
    )
    r.add_argument("--method", choices=METHODS, required=True)
    r.add_argument("--seed", type=int, default=0)
    r.add_argument("--steps", type=positive, default=300_000, help="env steps, summed over envs")
    r.add_argument("--num-envs", type=positive, default=8, help="parallel envs (all methods)")
    r.add_argument(
        "--max-episode-steps",
        type=positive,
        default=None,
        help="env steps per episode (default per method: "
        + ", ".join(f"{m} {n}" for m, n in EPISODE_STEPS.items())
        + ")",
    )
    add_rom_flags(r)  # --rom > $DADDY_ROM > practice (daddy.game.rom)
    r.add_argument(
        "--config",
        type=Path,
        default=None,
        help="method YAML (default: bench/learning_configs/{ppo,daddy}.yaml)",
    )
    r.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override one config value (Daddy: a train: key); repeatable",
    )
    r.add_argument("--out", type=Path, default=DEFAULT_RESULTS, help="folder of result JSONs")
    r.add_argument(
        "--work",
        type=Path,
        default=DEFAULT_WORK,
        help="Daddy's run and savestate folders (wiped per run)",
    )
    r.add_argument("--runs-root", type=Path, default=None, help="Daddy's run outputs (<work>/runs)")
    r.add_argument(
        "--states-root", type=Path, default=None, help="Daddy's savestates (<work>/savestates)"
    )
    r.add_argument(
        "--keep-checkpoint",
        action="store_true",
        help="keep Daddy's final checkpoint (replay buffer included) in --work",
    )
    r.set_defaults(func=cmd_run)
    a = sub.add_parser("aggregate", help="table + plot from a folder of results")
    a.add_argument("--results", type=Path, default=DEFAULT_RESULTS)
    a.add_argument(
        "--out", type=Path, default=None, help="where the table/plot go (default: --results)"
    )
    a.set_defaults(func=cmd_aggregate)
    return p


def main(argv: list[str] | None = None) -> None:
    ns = build_parser().parse_args(argv)
    ns.func(ns)


if __name__ == "__main__":
    main()
