"""Checkpoint cost: seconds to write and to resume a realistic trainer checkpoint, and its size.

The payload is what `daddy.train_big` saves: online + target net and Adam state of a QNetwork
preset (after one update, so Adam's moments exist), learner counters, the actor's recurrent
states and RNGs, and a `SequenceReplay` of --replay-steps env steps (1M by default: about
1.5 GB of packed screens, features, rewards and stored recurrent states when full). Two cases:

  full    the replay has wrapped around: every ring slot is stored
  empty   nearly empty (--empty-fraction of each ring filled, default 0.004: a 6,000-step run
          in a 1.5M-step replay): a checkpoint stores only the filled part

and for each

  save_s         CheckpointManager.save: temp folder, every file fsynced, rename, marker
  size_gb        bytes of the checkpoint folder
  resume_s       load_latest + load_state_dict into a fresh learner, actor and replay, with the
                 files still in the page cache (a requeued job on the same node)
  resume_cold_s  the same after dropping this checkpoint's pages from the cache
                 (posix_fadvise DONTNEED: a job that lands on another node; disk-bound)

    python bench/checkpoint.py [--replay-steps 1000000] [--model-size slim] [--dir /tmp/...]

Last stdout line: {"bench": "checkpoint", "save_s": ..., "resume_s": ..., "size_gb": ...,
"empty_save_s": ..., "empty_size_gb": ..., ...}: the unprefixed keys are the full replay's (as
before), the `empty_` ones the nearly empty replay's (target: each <= 30 s for a 1M-step replay).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from daddy.agent.actor import Actor, AgentConfig
from daddy.agent.learner import Learner
from daddy.agent.networks import MODEL_CONFIGS, QNetwork, model_config
from daddy.agent.replay import SequenceReplay
from daddy.run.checkpoint import CheckpointManager
from daddy.run.paths import RunPaths

TARGET_S = 30.0


def build(size: str, num_envs: int, replay_steps: int) -> tuple[Learner, Actor, SequenceReplay]:
    """A fresh learner, actor and (empty) replay with the trainer's default sequence settings."""
    cfg = AgentConfig()
    net = QNetwork(model_config(size))
    replay = SequenceReplay(
        num_envs, replay_steps, cfg.seq_len, cfg.burn_in, cfg.n_step, cfg.period,
        net.state_size, seed=0,
    )  # fmt: skip
    return Learner(net, cfg, "cpu"), Actor(net, num_envs, seed=0), replay


def fill(replay: SequenceReplay, rng: np.random.Generator, fraction: float = 1.0) -> None:
    """Random contents in the first `fraction` of every ring; 1.0: a replay that has wrapped."""
    steps = replay.capacity_per_env if fraction >= 1 else max(
        replay.window, round(fraction * replay.capacity_per_env)
    )  # fmt: skip
    for name, arr in replay._arrays().items():  # the storage arrays themselves
        slots = -(-steps // replay.period) if name == "states" else steps
        part = arr[:, :slots]
        raw = np.frombuffer(rng.bytes(part.nbytes), np.uint8)
        part[...] = raw.view(arr.dtype).reshape(part.shape)
        if arr.dtype.kind == "f":  # random bits can be NaN; keep floats finite and plausible
            np.nan_to_num(part, copy=False, nan=0.0, posinf=1.0, neginf=-1.0)
    replay.actions %= 7
    replay.steps_added = 3 * replay.capacity_per_env + 7 if fraction >= 1 else steps


def one_update(learner: Learner, replay: SequenceReplay) -> None:
    """A real update, so the optimizer state (Adam moments) is in the checkpoint."""
    batch = replay.sample(4)
    batch.rewards.clamp_(-1, 1)
    learner.update(batch)


def payload(learner: Learner, actor: Actor, replay: SequenceReplay) -> dict[str, dict]:
    """The parts the trainer saves that are big enough to matter."""
    return {
        "model": learner.net.state_dict(),
        "learner": {k: v for k, v in learner.state_dict().items() if k != "online"},
        "actor": actor.state_dict(),
        "replay": replay.state_dict(),
        "counters": {"step": 1_000_000, "episodes": 1234, "logger_rows": 1234},
    }


def drop_page_cache(folder: Path) -> None:
    """Evict this checkpoint's (clean, fsynced) pages, so the next read comes from the disk."""
    for path in folder.rglob("*"):
        if path.is_file():
            fd = os.open(path, os.O_RDONLY)
            try:
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            finally:
                os.close(fd)


def resume(root: Path, size: str, num_envs: int, replay_steps: int) -> float:
    """Seconds to load the newest checkpoint into freshly built objects, as a restart does."""
    torch.set_num_threads(1)
    manager = CheckpointManager(RunPaths("bench", root))
    learner, actor, replay = build(size, num_envs, replay_steps)
    t = time.perf_counter()
    _, p = manager.load_latest()
    learner.load_state_dict({"online": p["model"], **p["learner"]})
    actor.load_state_dict(p["actor"])
    replay.load_state_dict(p["replay"], copy=False)  # adopt the loaded arrays: no 2nd copy
    elapsed = time.perf_counter() - t
    assert replay.steps_added == int(p["replay"]["steps_added"])
    return elapsed


def measure(args: argparse.Namespace, fraction: float) -> dict[str, float]:
    """Save once, resume twice (warm and cold page cache): the numbers of one fill level."""
    root = Path(tempfile.mkdtemp(prefix="bench_ckpt_", dir=args.dir))
    try:
        learner, actor, replay = build(args.model_size, args.num_envs, args.replay_steps)
        fill(replay, np.random.default_rng(0), fraction)
        one_update(learner, replay)
        replay_gb = replay.nbytes / 1e9
        stored_steps = replay.stored_steps * replay.num_envs
        manager = CheckpointManager(RunPaths("bench", root))  # root/bench/checkpoints/
        t = time.perf_counter()
        folder = manager.save(1_000_000, payload(learner, actor, replay))
        save_s = time.perf_counter() - t
        del learner, actor, replay  # a restart starts from an empty process
        size_gb = sum(f.stat().st_size for f in folder.rglob("*") if f.is_file()) / 1e9
        job = (root, args.model_size, args.num_envs, args.replay_steps)
        spawn = multiprocessing.get_context("spawn")  # each resume in a new process, as a restart
        with spawn.Pool(1) as pool:
            resume_s = pool.apply(resume, job)
        drop_page_cache(folder)
        with spawn.Pool(1) as pool:
            resume_cold_s = pool.apply(resume, job)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return {"replay_gb": replay_gb, "stored_steps": stored_steps, "size_gb": size_gb,
            "save_s": save_s, "resume_s": resume_s, "resume_cold_s": resume_cold_s}  # fmt: skip


def main() -> None:
    """Both fill levels, a line each, then the JSON summary."""
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--replay-steps", type=int, default=1_000_000)
    p.add_argument("--num-envs", type=int, default=32)
    p.add_argument("--model-size", default="slim", choices=sorted(MODEL_CONFIGS))
    p.add_argument("--empty-fraction", type=float, default=0.004,
                   help="share of each ring the nearly empty case fills")  # fmt: skip
    p.add_argument("--dir", type=Path, default=None, help="where to write (default: a temp dir)")
    args = p.parse_args()
    torch.set_num_threads(1)
    full = measure(args, 1.0)
    empty = measure(args, args.empty_fraction)
    for name, r in (("full", full), ("nearly empty", empty)):
        print(f"{args.model_size} model + {args.replay_steps:,}-step replay ({r['replay_gb']:.2f} GB, "
              f"{name}: {r['stored_steps']:,} steps stored): {r['size_gb']:.3f} GB on disk, "
              f"save {r['save_s']:.2f} s, resume {r['resume_s']:.2f} s "
              f"(cold cache {r['resume_cold_s']:.2f} s)")  # fmt: skip
    worst = max(r[k] for r in (full, empty) for k in ("save_s", "resume_s", "resume_cold_s"))
    print(json.dumps({
        "bench": "checkpoint", "model_size": args.model_size, "replay_steps": args.replay_steps,
        "num_envs": args.num_envs, "replay_gb": round(full["replay_gb"], 3),
        "size_gb": round(full["size_gb"], 3), "save_s": round(full["save_s"], 2),
        "resume_s": round(full["resume_s"], 2), "resume_cold_s": round(full["resume_cold_s"], 2),
        "empty_fraction": args.empty_fraction, "empty_stored_steps": empty["stored_steps"],
        "empty_size_gb": round(empty["size_gb"], 4), "empty_save_s": round(empty["save_s"], 3),
        "empty_resume_s": round(empty["resume_s"], 2),
        "empty_resume_cold_s": round(empty["resume_cold_s"], 2),
        "target_s": TARGET_S, "ok": worst <= TARGET_S,
    }))  # fmt: skip


if __name__ == "__main__":
    main()
