"""Checkpoint cost: seconds to write and to resume a realistic trainer checkpoint, and its size.

The payload is what `daddy.train_big` saves: online + target net and Adam state of a QNetwork
preset (after one update, so Adam's moments exist), learner counters, the actor's recurrent
states and RNGs, and a full `SequenceReplay` of --replay-steps env steps (1M by default: about
1.5 GB of packed screens, features, rewards and stored recurrent states).

  save_s         CheckpointManager.save: temp folder, every file fsynced, rename, marker
  resume_s       load_latest + load_state_dict into a fresh learner, actor and replay, with the
                 files still in the page cache (a requeued job on the same node)
  resume_cold_s  the same after dropping this checkpoint's pages from the cache
                 (posix_fadvise DONTNEED: a job that lands on another node; disk-bound)

    python bench/checkpoint.py [--replay-steps 1000000] [--model-size slim] [--dir /tmp/...]

Last stdout line: {"bench": "checkpoint", "save_s": ..., "resume_s": ..., ...} (target: each
<= 30 s for a 1M-step replay).
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


def fill(replay: SequenceReplay, rng: np.random.Generator) -> None:
    """Random contents in every storage array, as a replay that has wrapped around."""
    arrays = replay.state_dict()  # the storage arrays themselves, not copies
    for name in ("screens", "map_id", "features", "actions", "rewards", "flags", "states"):
        arr = arrays[name]
        flat = arr.reshape(-1).view(np.uint8)
        chunk = 1 << 26
        for start in range(0, flat.size, chunk):
            n = min(chunk, flat.size - start)
            flat[start : start + n] = np.frombuffer(rng.bytes(n), np.uint8)
        if arr.dtype.kind == "f":  # random bits can be NaN; keep floats finite and plausible
            np.nan_to_num(arr, copy=False, nan=0.0, posinf=1.0, neginf=-1.0)
    replay.actions %= 7
    replay.steps_added = 3 * replay.capacity_per_env + 7


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
    manager = CheckpointManager(root)
    learner, actor, replay = build(size, num_envs, replay_steps)
    t = time.perf_counter()
    _, p = manager.load_latest()
    learner.load_state_dict({"online": p["model"], **p["learner"]})
    actor.load_state_dict(p["actor"])
    replay.load_state_dict(p["replay"], copy=False)  # adopt the loaded arrays: no 2nd copy
    elapsed = time.perf_counter() - t
    assert replay.steps_added == int(p["replay"]["steps_added"])
    return elapsed


def main() -> None:
    """Save once, resume twice (warm and cold page cache), print the numbers."""
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--replay-steps", type=int, default=1_000_000)
    p.add_argument("--num-envs", type=int, default=32)
    p.add_argument("--model-size", default="slim", choices=sorted(MODEL_CONFIGS))
    p.add_argument("--dir", type=Path, default=None, help="where to write (default: a temp dir)")
    args = p.parse_args()
    torch.set_num_threads(1)
    root = Path(tempfile.mkdtemp(prefix="bench_ckpt_", dir=args.dir))
    try:
        learner, actor, replay = build(args.model_size, args.num_envs, args.replay_steps)
        fill(replay, np.random.default_rng(0))
        one_update(learner, replay)
        replay_gb = replay.nbytes / 1e9
        manager = CheckpointManager(root)
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
    print(f"{args.model_size} model + {args.replay_steps:,}-step replay ({replay_gb:.2f} GB): "
          f"{size_gb:.2f} GB on disk, save {save_s:.1f} s, resume {resume_s:.1f} s "
          f"(cold cache {resume_cold_s:.1f} s)")  # fmt: skip
    print(json.dumps({
        "bench": "checkpoint", "model_size": args.model_size, "replay_steps": args.replay_steps,
        "num_envs": args.num_envs, "replay_gb": round(replay_gb, 3), "size_gb": round(size_gb, 3),
        "save_s": round(save_s, 2), "resume_s": round(resume_s, 2),
        "resume_cold_s": round(resume_cold_s, 2), "target_s": TARGET_S,
        "ok": max(save_s, resume_s, resume_cold_s) <= TARGET_S,
    }))  # fmt: skip


if __name__ == "__main__":
    main()
