"""Replay memory: bytes per stored env step of `SequenceReplay` with 72x80 screens (target <= 1600).

For each model preset (its recurrent state size decides the per-sequence state cost) it builds
the replay the trainer builds (`from_memory_budget`, the trainer's sequence settings), fills it
to capacity through `add` with random screens, and reports

  bytes_per_step      storage arrays / capacity (what the budget buys; exact)
  rss_bytes_per_step  resident-memory growth while filling / steps stored (what the OS sees)

    python bench/replay_memory.py [--budget-mb 64] [--num-envs 32]

Last stdout line: {"bench": "replay_memory", "bytes_per_step": <worst preset>, ...}.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from daddy.agent.actor import AgentConfig
from daddy.agent.networks import MODEL_CONFIGS, QNetwork, model_config
from daddy.agent.replay import SequenceReplay, pack_screens, unpack_screens
from daddy.game.spec import FEATURE_DIM, NUM_ACTIONS, NUM_MAPS, NUM_SHADES, SCREEN_SHAPE

TARGET = 1600


def rss_bytes() -> int:
    """Resident set size of this process (Linux)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def measure(size: str, budget_mb: int, num_envs: int) -> dict[str, float]:
    """Build, fill and sample one preset's replay; its bytes per step two ways."""
    cfg = AgentConfig()  # the trainer's defaults: seq_len 60, burn-in 20, n-step 5, period 20
    with torch.device("meta"):  # the state size without allocating weights (RSS stays clean)
        state_size = QNetwork(model_config(size)).state_size
    rng = np.random.default_rng(0)
    before = rss_bytes()
    replay = SequenceReplay.from_memory_budget(
        budget_mb * 2**20, num_envs, cfg.seq_len, cfg.burn_in, cfg.n_step, cfg.period,
        state_size, seed=0,
    )  # fmt: skip
    screens = rng.integers(0, NUM_SHADES, (num_envs, *SCREEN_SHAPE), dtype=np.uint8)
    states = rng.standard_normal((num_envs, state_size)).astype(np.float32)
    for t in range(replay.capacity_per_env):
        obs = {"screen": np.roll(screens, t, axis=-1), "map_id": np.full(num_envs, t % NUM_MAPS),
               "features": rng.standard_normal((num_envs, FEATURE_DIM)).astype(np.float32)}  # fmt: skip
        replay.add(obs, rng.integers(0, NUM_ACTIONS, num_envs), np.ones(num_envs, np.float32),
                   np.zeros(num_envs, bool), np.zeros(num_envs, bool),
                   states if replay.needs_state else None)  # fmt: skip
    grown = rss_bytes() - before
    batch = replay.sample(8)
    assert np.array_equal(unpack_screens(pack_screens(batch.screens.numpy())), batch.screens)
    return {
        "state_size": state_size,
        "capacity_steps": replay.capacity,
        "bytes_per_step": replay.nbytes / replay.capacity,
        "formula_bytes_per_step": SequenceReplay.bytes_per_step(state_size, FEATURE_DIM, cfg.period),
        "rss_bytes_per_step": grown / replay.capacity,
    }


def main() -> None:
    """Measure every preset in its own process, print a line each and the JSON summary."""
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--budget-mb", type=int, default=64, help="replay budget per preset")
    p.add_argument("--num-envs", type=int, default=32)
    args = p.parse_args()
    spawn = multiprocessing.get_context("spawn")  # a fresh process each: RSS growth is its own
    results = {}
    for size in MODEL_CONFIGS:
        with spawn.Pool(1) as pool:
            results[size] = pool.apply(measure, (size, args.budget_mb, args.num_envs))
    for size, r in results.items():
        print(f"{size:>6}: state {r['state_size']:4d} floats, {r['capacity_steps']} steps, "
              f"{r['bytes_per_step']:.1f} B/step stored, {r['rss_bytes_per_step']:.1f} B/step "
              f"resident")  # fmt: skip
    worst = max(r["bytes_per_step"] for r in results.values())
    print(json.dumps({
        "bench": "replay_memory", "bytes_per_step": round(worst, 1), "target": TARGET,
        "ok": worst <= TARGET, "budget_mb": args.budget_mb, "num_envs": args.num_envs,
        **{f"{size}_{k}": round(v, 1) if isinstance(v, float) else v
           for size, r in results.items() for k, v in r.items()},
    }))  # fmt: skip


if __name__ == "__main__":
    main()
