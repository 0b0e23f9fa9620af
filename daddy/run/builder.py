"""Everything a run is made of, built in one place (acme's r2d2 builder), so the loop only runs.

`build(cfg, paths)` constructs the ROM, the savestate index (bootstrapped on first use), the
networks, learner, actor, replay, intrinsic rewards, curriculum and milestone watcher;
`make_swarm` starts the emulator pool whose resets the curriculum chooses, wrapped with the
watcher, visit counts and intrinsic rewards as one vector env (`daddy.swarm.swarm.Swarm`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import torch

from daddy.agent.actor import Actor, AgentConfig, EpsilonSchedule
from daddy.agent.learner import BackgroundUpdates, Learner
from daddy.agent.networks import QNetwork, model_config
from daddy.agent.replay import SequenceReplay
from daddy.eval.heatmap import VisitCounts
from daddy.game.bootstrap import bootstrap
from daddy.game.env import PokemonEnv, make_env
from daddy.game.rom import Rom, resolve_rom
from daddy.intrinsic.rewards import IntrinsicRewards
from daddy.run.checkpoint import CheckpointManager
from daddy.run.config import TrainConfig
from daddy.run.paths import RunPaths
from daddy.swarm.curriculum import CurriculumManager, make_watcher
from daddy.swarm.state_import import StateRefused, inspect_state
from daddy.swarm.state_index import StateIndex, StateIndexError
from daddy.swarm.swarm import Swarm
from daddy.swarm.trigger import MilestoneWatcher
from daddy.swarm.vec import VecEnv


@dataclass
class Components:
    """The parts of a run; `TrainState` names the ones a checkpoint holds."""

    cfg: TrainConfig
    paths: RunPaths
    rom: Rom
    device: torch.device
    agent_cfg: AgentConfig
    index: StateIndex
    net: QNetwork
    learner: Learner
    updates: BackgroundUpdates  # learning overlaps the rest of each loop turn
    actor: Actor
    replay: SequenceReplay
    intrinsic: IntrinsicRewards
    curriculum: CurriculumManager
    watcher: MilestoneWatcher
    visits: VisitCounts
    epsilon: EpsilonSchedule
    checkpoints: CheckpointManager


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda was asked for but no CUDA GPU is visible; use auto or cpu")
    return torch.device(name)


def build(cfg: TrainConfig, paths: RunPaths, rom: Rom) -> Components:
    device = pick_device(cfg.device)
    torch.manual_seed(cfg.seed)
    torch.set_num_threads(max(1, (os.cpu_count() or 2) // 2))
    paths.dir.mkdir(parents=True, exist_ok=True)
    index = open_savestates(cfg.run_name, rom, paths)
    net = QNetwork(model_config(cfg.model_size)).to(device)
    agent_cfg = cfg.agent_config()
    learner = Learner(net, agent_cfg, device)
    updates = BackgroundUpdates(learner)
    replay = SequenceReplay.from_memory_budget(
        cfg.replay_memory_mb * 2**20, cfg.num_envs, agent_cfg.seq_len, agent_cfg.burn_in,
        agent_cfg.n_step, agent_cfg.period, net.state_size, seed=cfg.seed,
    )  # fmt: skip
    curriculum = CurriculumManager(index, cfg.curriculum_config(), cfg.num_envs, seed=cfg.seed)
    return Components(
        cfg=cfg, paths=paths, rom=rom, device=device, agent_cfg=agent_cfg, index=index, net=net,
        learner=learner, updates=updates,
        actor=Actor(updates.acting_net, cfg.num_envs, device, seed=cfg.seed,
                    temperature=agent_cfg.act_temperature, zeta=agent_cfg.eps_zeta),
        replay=replay,
        intrinsic=IntrinsicRewards(cfg.intrinsic_config(), cfg.num_envs, device=device),
        curriculum=curriculum, watcher=make_watcher(curriculum.cfg, cfg.num_envs, index),
        visits=VisitCounts(), epsilon=agent_cfg.epsilon_schedule(),
        checkpoints=CheckpointManager(paths.dir, keep_last=cfg.keep_checkpoints),
    )  # fmt: skip


def make_envs(c: Components) -> VecEnv:
    """The run's emulator pool."""
    return make_pool(c.rom, c.cfg, c.curriculum)


def make_pool(rom: Rom, cfg: TrainConfig, curriculum: CurriculumManager) -> VecEnv:
    """The emulator pool; every reset spawns from the state the curriculum draws."""
    env_fn = partial(make_env, rom, max_episode_steps=cfg.max_episode_steps)
    return VecEnv(env_fn, cfg.num_envs, reset_state=curriculum.reset_state,
                  restart_on_error=True)  # fmt: skip


def make_swarm(c: Components, step: int) -> Swarm:
    """The run's swarm at env step `step`: the pool plus the run's curriculum, watcher, visit
    counts and intrinsic rewards (the same objects the checkpoint holds; the learner trains
    RND from its replay)."""
    return Swarm(make_envs(c), c.curriculum, c.watcher, c.visits, c.intrinsic, step=step,
                 pressure_every=c.cfg.log_interval, seed=c.cfg.seed)  # fmt: skip


def open_swarm(cfg: TrainConfig, paths: RunPaths | None = None, rom: Rom | None = None, *,
               rnd_train_every: int = 32) -> Swarm:  # fmt: skip
    """Daddy's swarm for another algorithm (`daddy.swarm.sb3`): `cfg`'s ROM, savestates
    (bootstrapped on first use), curriculum, trigger savestates and intrinsic rewards, with no
    Q-agent. RND trains itself every `rnd_train_every` vector steps (0: never, curiosity then
    stays that of a fixed random predictor). Nothing is checkpointed: the savestates persist.
    """
    paths = paths or RunPaths(cfg.run_name, Path(cfg.runs_root), Path(cfg.states_root))
    rom = rom or resolve_rom(cfg.rom, allow_unknown=cfg.allow_unknown_rom)
    torch.manual_seed(cfg.seed)
    index = open_savestates(cfg.run_name, rom, paths)
    curriculum = CurriculumManager(index, cfg.curriculum_config(), cfg.num_envs, seed=cfg.seed)
    return Swarm(make_pool(rom, cfg, curriculum), curriculum, make_watcher(curriculum.cfg, cfg.num_envs, index),
                 VisitCounts(), IntrinsicRewards(cfg.intrinsic_config(), cfg.num_envs),
                 pressure_every=cfg.log_interval, rnd_train_every=rnd_train_every,
                 seed=cfg.seed)  # fmt: skip


def open_savestates(run: str, rom: Rom, paths: RunPaths) -> StateIndex:
    """The run's savestate index; bootstrapped first when the run has none (one command).

    An index without a bootstrap entry is what a bootstrap killed between writing index.json
    and its state leaves: bootstrap again rather than stop every restart.
    """
    folder = paths.states
    index = StateIndex.load(folder, rom_sha1=rom.sha1) if paths.state_index.exists() else None
    if index is None or not any(e.is_bootstrap for e in index.entries):
        print(f"[BOOT] no savestates for {run}: bootstrapping from power-on", flush=True)
        bootstrap(rom, run, paths.states_root)
        index = StateIndex.load(folder, rom_sha1=rom.sha1)
    check_spawn_states(index, rom)
    return index


def check_spawn_states(index: StateIndex, rom: Rom) -> None:
    """Load every usable savestate once here, before the workers do.

    A state PyBoy refuses (truncated, from another ROM, from a newer PyBoy) whose hash the index
    vouches for would otherwise fail every worker's reset until VecEnv gives up with a
    traceback; here it is one line naming the file.
    """
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
