"""Exploration: distinct cells visited in a fixed step budget with vs without RND + novelty.

    python bench/exploration.py [--steps 8000] [--seeds 0,1] [--beta-rnd 0.1 --beta-novel 0.1]
                                [--keep DIR] [-- extra train_big flags]

Runs the real trainer (`python -m daddy.train_big`, tiny network and replay) on the practice
cartridge twice per seed in a temp folder: once with `--beta-rnd/--beta-novel` set, once with
both 0; everything else (seed, ε schedule, curriculum, Bayesian shaping, r_env's own small
new-cell bonus) is the same. After each run the newest checkpoint's `visits` part (every env
step's (map, x, y), summed over the run, `daddy.eval.heatmap.VisitCounts`) gives the distinct cells
and maps visited. Arms run one after the other, so both get the same machine.

Last stdout line: {"bench":"exploration","cells_with":…,"cells_without":…,"ratio":…, …}
(cells summed over seeds).

Measured on the shared 2-core machine (4 envs): the default (8,000 steps x 2 seeds, ~5 min) is
within seed noise (ratio 0.89; one 6,000-step seed gave 1.56); 20,000 steps x 3 seeds (~12 min)
gave 450 vs 372 cells, ratio 1.21 (per seed 1.21, 1.47, 0.95). Use that budget for a signal.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from daddy.eval.heatmap import VisitCounts
from daddy.run.checkpoint import CheckpointManager
from daddy.run.paths import RUNS_ROOT, RunPaths

# Small enough for a 2-core machine: a slim network, 8 MiB replay, frequent small updates.
TINY = [
    "--model-size", "slim", "--batch-size", "8", "--seq-len", "12", "--burn-in", "4",
    "--n-step", "3", "--replay-memory-mb", "16", "--device", "cpu", "--lr", "5e-4",
    "--target-update-interval", "100", "--video-interval", "0",
]  # fmt: skip


def train_args(args: argparse.Namespace, seed: int, with_intrinsic: bool) -> list[str]:
    betas = (args.beta_rnd, args.beta_novel) if with_intrinsic else (0.0, 0.0)
    return [
        "--run-name", f"{'with' if with_intrinsic else 'without'}_s{seed}",
        "--total-steps", str(args.steps), "--num-envs", str(args.num_envs), "--seed", str(seed),
        "--max-episode-steps", str(args.max_episode_steps),
        "--learning-starts", str(args.learning_starts), "--replay-ratio", str(args.replay_ratio),
        "--eps-start", str(args.eps_start), "--eps-end", str(args.eps_end),
        "--eps-decay-steps", str(max(1, int(args.steps * args.eps_decay_frac))),
        "--log-interval", str(max(1, args.steps // 4)), "--save-interval", str(args.steps),
        "--beta-rnd", str(betas[0]), "--beta-novel", str(betas[1]),
        "--beta-bayes", str(args.beta_bayes), *TINY, *args.extra,
    ]  # fmt: skip


def run_arm(workdir: Path, argv: list[str], log: Path) -> float:
    """Run the trainer in `workdir`; its output goes to `log`. Returns wall seconds."""
    t0 = time.perf_counter()
    with log.open("w") as out:
        proc = subprocess.run(
            [sys.executable, "-m", "daddy.train_big", *argv], cwd=workdir, stdout=out,
            stderr=subprocess.STDOUT, check=False, env=_env(),
        )  # fmt: skip
    if proc.returncode != 0:
        tail = log.read_text().splitlines()[-15:]
        raise SystemExit(f"train_big failed (exit {proc.returncode}); last lines of {log}:\n"
                         + "\n".join(tail))  # fmt: skip
    return time.perf_counter() - t0


def _env() -> dict[str, str]:
    import os

    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


def visited(paths: RunPaths) -> VisitCounts:
    """The run's visit counts from its newest complete checkpoint."""
    loaded = CheckpointManager(paths).load_latest()
    if loaded is None:
        raise SystemExit(f"{paths.dir} has no complete checkpoint; did the run finish?")
    return VisitCounts.from_state_dict(loaded[1]["visits"])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--steps", type=int, default=8000, help="env steps per run (summed over envs)")
    p.add_argument("--seeds", default="0,1", help="comma-separated seeds; one pair of runs each")
    p.add_argument("--num-envs", type=int, default=4)
    p.add_argument("--max-episode-steps", type=int, default=512)
    p.add_argument("--beta-rnd", type=float, default=0.1, help="the 'with' arm's RND weight")
    p.add_argument("--beta-novel", type=float, default=0.1, help="the 'with' arm's novelty weight")
    p.add_argument("--beta-bayes", type=float, default=1.0, help="both arms")
    p.add_argument("--eps-start", type=float, default=1.0)
    p.add_argument("--eps-end", type=float, default=0.05)
    p.add_argument("--eps-decay-frac", type=float, default=0.5,
                   help="ε decays over this fraction of --steps")  # fmt: skip
    p.add_argument("--learning-starts", type=int, default=500)
    p.add_argument("--replay-ratio", type=float, default=2.0)
    p.add_argument("--keep", type=Path, default=None, help="keep the runs in this folder")
    p.add_argument("extra", nargs="*", help="more train_big flags, after --")
    args = p.parse_args()
    seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    if args.steps < 1 or not seeds or args.num_envs < 1:
        p.error("--steps and --num-envs must be >= 1 and --seeds must name at least one seed")

    workdir = args.keep or Path(tempfile.mkdtemp(prefix="daddy_exploration_"))
    workdir.mkdir(parents=True, exist_ok=True)
    per_run: dict[str, dict[str, float]] = {}
    cells = {"with": 0, "without": 0}
    try:
        for seed in seeds:
            for arm in ("with", "without"):
                argv = train_args(args, seed, arm == "with")
                name = argv[1]
                secs = run_arm(workdir, argv, workdir / f"{name}.log")
                v = visited(RunPaths(name, workdir / RUNS_ROOT))  # the trainer ran in workdir
                cells[arm] += len(v)
                per_run[name] = {"cells": len(v), "maps": len(v.maps()), "seconds": round(secs, 1)}
                print(f"{name}: {len(v)} distinct cells on {len(v.maps())} maps in "
                      f"{v.total} steps ({secs:.0f} s)", flush=True)  # fmt: skip
    finally:
        if args.keep is None:
            shutil.rmtree(workdir, ignore_errors=True)
    result = {
        "bench": "exploration",
        "cells_with": cells["with"],
        "cells_without": cells["without"],
        "ratio": round(cells["with"] / max(cells["without"], 1), 3),
        "steps": args.steps,
        "seeds": seeds,
        "num_envs": args.num_envs,
        "beta_rnd": args.beta_rnd,
        "beta_novel": args.beta_novel,
        "runs": per_run,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
