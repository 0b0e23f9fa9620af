"""Training speed: env steps/s of `train_big` (acting, intrinsic rewards, replay, learning at the
default replay ratio) divided by env-only steps/s of the same swarm, in one run.

Slim model, 8 envs, CPU, practice cartridge. The env-only figure steps the same `VecEnv` with
random actions and nothing else; the training figure is the trainer's own loop rate (its
`[DONE] ... sps=` line, which excludes start-up). Last stdout line:
{"bench":"train_speed","env_sps":…,"train_sps":…,"ratio":…}.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
from functools import partial

import numpy as np

from daddy.bootstrap import play_intro
from daddy.env import make_env
from daddy.vec import VecEnv


def env_only_sps(num_envs: int, steps: int) -> float:
    probe = make_env("practice")
    state = play_intro(probe.unwrapped).state
    probe.close()
    vec = VecEnv(partial(make_env, "practice", state=state), num_envs)
    try:
        vec.reset()
        rng = np.random.default_rng(0)
        n = steps // num_envs
        t = time.perf_counter()
        for _ in range(n):
            vec.step(rng.integers(0, 7, num_envs))
        return n * num_envs / (time.perf_counter() - t)
    finally:
        vec.close()


def train_sps(num_envs: int, steps: int, extra: list[str]) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "daddy.train_big", "--run-name", "bench",
               "--num-envs", str(num_envs), "--model-size", "slim", "--device", "cpu",
               "--total-steps", str(steps), "--learning-starts", str(steps // 4),
               "--replay-memory-mb", "256", "--log-interval", str(steps),
               "--save-interval", str(10 * steps), *extra]  # fmt: skip
        out = subprocess.run(cmd, cwd=tmp, capture_output=True, text=True, check=True)
    m = re.search(r"\[DONE\].*sps=([0-9.]+)", out.stdout)
    if not m:
        raise RuntimeError(f"no [DONE] line in the trainer's output:\n{out.stdout[-2000:]}")
    return float(m.group(1))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--num-envs", type=int, default=8)
    p.add_argument("--steps", type=int, default=16000, help="env steps of each measurement")
    p.add_argument("extra", nargs="*", help="more train_big flags, after --")
    args = p.parse_args()
    env = env_only_sps(args.num_envs, args.steps)
    train = train_sps(args.num_envs, args.steps, args.extra)
    print(
        json.dumps(
            {
                "bench": "train_speed",
                "num_envs": args.num_envs,
                "model": "slim",
                "steps": args.steps,
                "env_sps": round(env, 1),
                "train_sps": round(train, 1),
                "ratio": round(train / env, 3),
            }
        )
    )


if __name__ == "__main__":
    main()
