"""Env-only steps/s: one env in-process vs `daddy.swarm.vec.VecEnv` (1 and N workers) vs gymnasium's
AsyncVectorEnv(shared_memory=True), plus worker start-up time per start method.

    python bench/vec_speed.py [--env practice|synthetic|ROM_PATH] [--num-envs 32] [--seconds 5]

`synthetic` is a CPU-bound stand-in with the real spaces (about `--synthetic-ms` of work a step)
for machines without the emulator env. The last stdout line is one JSON object
{"bench": "vec_speed", ...}; `limit_sps` = single-process steps/s x cores. Steps per CPU-second
(main process + workers) is reported beside wall steps/s: it measures the vectoriser's overhead
even when other jobs share the cores, which wall-clock numbers cannot.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import gymnasium as gym
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from daddy.game.spec import FEATURE_DIM, NUM_ACTIONS, NUM_MAPS, NUM_SHADES, SCREEN_SHAPE
from daddy.swarm.vec import VecEnv, available_cores

EnvFn = Callable[[], gym.Env]


class SyntheticEnv(gym.Env):
    """The real observation/action spaces and a fixed amount of CPU work per step."""

    observation_space = gym.spaces.Dict(
        {
            "screen": gym.spaces.Box(0, NUM_SHADES - 1, SCREEN_SHAPE, np.uint8),
            "map_id": gym.spaces.Box(0, NUM_MAPS - 1, (), np.uint8),
            "features": gym.spaces.Box(-np.inf, np.inf, (FEATURE_DIM,), np.float32),
        }
    )
    action_space = gym.spaces.Discrete(NUM_ACTIONS)

    def __init__(self, loops: int, max_steps: int = 2048) -> None:
        self.loops, self.max_steps, self.t = loops, max_steps, 0

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return self._obs(), {}

    def step(self, action: int):
        x = 0
        for i in range(self.loops):
            x += i
        self.t += 1
        return self._obs(), 0.0, False, self.t >= self.max_steps, {"t": self.t}

    def _obs(self) -> dict:
        f = np.zeros(FEATURE_DIM, np.float32)
        f[0] = self.t
        return {"screen": np.full(SCREEN_SHAPE, self.t % NUM_SHADES, np.uint8), "map_id": np.uint8(0),
                "features": f}  # fmt: skip

    def save_state(self) -> bytes:
        return self.t.to_bytes(4, "little")


def synthetic_loops(ms: float) -> int:
    """Loop count that takes `ms` milliseconds on this machine (fixed work, not wall time)."""
    n = 200_000
    t0 = time.perf_counter()
    x = 0
    for i in range(n):
        x += i
    return max(1, int(n * ms / 1e3 / (time.perf_counter() - t0)))


def make_env_fn(name: str | None, synthetic_ms: float) -> EnvFn:
    if name == "synthetic":
        return functools.partial(SyntheticEnv, synthetic_loops(synthetic_ms))
    from daddy.game.env import make_env

    return functools.partial(make_env, name)


class Single:
    """One env stepped in this process: the per-core baseline."""

    def __init__(self, env_fn: EnvFn) -> None:
        self.env = env_fn()
        self.env.reset(seed=0)
        self.num_envs, self.pids = 1, []

    def step(self, actions: np.ndarray) -> None:
        _, _, term, trunc, _ = self.env.step(int(actions[0]))
        if term or trunc:
            self.env.reset()

    def close(self) -> None:
        self.env.close()


class Pool:
    def __init__(self, env_fn: EnvFn, num_envs: int, workers: int) -> None:
        self.vec = VecEnv(env_fn, num_envs, workers)
        self.vec.reset(seed=0)
        self.num_envs, self.pids, self.step = num_envs, self.vec.worker_pids(), self.vec.step

    def close(self) -> None:
        self.vec.close()


class GymAsync:
    def __init__(self, env_fn: EnvFn, num_envs: int) -> None:
        from gymnasium.vector import AsyncVectorEnv, AutoresetMode

        self.vec = AsyncVectorEnv([env_fn] * num_envs, shared_memory=True, copy=False,
                                  context="forkserver", autoreset_mode=AutoresetMode.SAME_STEP)  # fmt: skip
        self.vec.reset(seed=0)
        self.num_envs, self.step = num_envs, self.vec.step
        self.pids = [p.pid for p in self.vec.processes]

    def close(self) -> None:
        self.vec.close()


def cpu_seconds(pids: list[int]) -> float:
    """CPU time (user + system) of this process and `pids` so far."""
    total = time.process_time()
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def measure(variant, seconds: float) -> tuple[float, float]:
    """(steps/s wall, steps per CPU-second): the second ignores other load on the machine."""
    rng = np.random.default_rng(0)
    for _ in range(3):  # warm-up
        variant.step(rng.integers(0, 7, variant.num_envs))
    n, t0, c0 = 0, time.perf_counter(), cpu_seconds(variant.pids)
    while time.perf_counter() - t0 < seconds:
        variant.step(rng.integers(0, 7, variant.num_envs))
        n += variant.num_envs
    return n / (time.perf_counter() - t0), n / max(1e-9, cpu_seconds(variant.pids) - c0)


START_SNIPPET = """
import sys, time, json, numpy as np
sys.path.insert(0, {bench!r})
import vec_speed
from daddy.swarm.vec import VecEnv, available_cores
fn = vec_speed.make_env_fn({env!r}, {ms!r})
out = []
for _ in range(2):
    t0 = time.perf_counter()
    with VecEnv(fn, {n}, {w}, start_method={method!r}) as vec:
        vec.reset(seed=0)
        vec.step(np.zeros({n}, np.int64))
    out.append(time.perf_counter() - t0)
print(json.dumps(out))
"""


def start_seconds(env: str, ms: float, num_envs: int, workers: int, method: str) -> list[float]:
    """[first, second] construct + reset + 1 step in a fresh process: cold start, restart."""
    code = START_SNIPPET.format(bench=str(Path(__file__).parent), env=env, ms=ms, n=num_envs,
                                w=workers, method=method)  # fmt: skip
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--env", default=None, help="synthetic | practice | a ROM path (default: "
                   "$DADDY_ROM, else the practice cartridge: daddy.game.rom's rule)")
    p.add_argument("--num-envs", type=int, default=32)
    p.add_argument("--seconds", type=float, default=3.0, help="measuring time per variant/round")
    p.add_argument("--rounds", type=int, default=3, help="interleaved rounds (medians reported)")
    p.add_argument("--synthetic-ms", type=float, default=1.25, help="CPU work per synthetic step")
    p.add_argument("--skip-gym", action="store_true", help="skip gymnasium's AsyncVectorEnv")
    args = p.parse_args()

    cores, n = available_cores(), args.num_envs
    if args.env != "synthetic":  # a ROM, checked once, by the rule (--env > $DADDY_ROM > practice)
        from daddy.game.rom import resolve_or_exit

        args.env = resolve_or_exit(args.env).flag()
    env_fn = make_env_fn(args.env, args.synthetic_ms)
    variants = {"single": Single(env_fn), "pool_1": Pool(env_fn, n, 1)}
    variants[f"pool_{min(cores, n)}"] = Pool(env_fn, n, min(cores, n))
    if not args.skip_gym:
        variants["gym_async"] = GymAsync(env_fn, n)
    runs: dict[str, list[tuple[float, float]]] = {k: [] for k in variants}
    try:
        for r in range(args.rounds):
            for name, v in variants.items():
                runs[name].append(measure(v, args.seconds))
                sps, eff = runs[name][-1]
                print(f"round {r} {name:>10}: {sps:8,.0f} steps/s  {eff:8,.0f} steps/CPU-s",
                      flush=True)  # fmt: skip
    finally:
        for v in variants.values():
            v.close()
    med = {k: tuple(float(np.median([x[j] for x in runs[k]])) for j in (0, 1)) for k in runs}
    starts = {}
    for method in ("forkserver", "spawn", "fork"):
        starts[method] = start_seconds(args.env, args.synthetic_ms, n, min(cores, n), method)
        print(f"start ({method}): first {starts[method][0]:.2f} s, again {starts[method][1]:.2f} s",
              flush=True)  # fmt: skip

    single = med["single"][0]
    best_pool = max(v[0] for k, v in med.items() if k.startswith("pool_"))
    # choose on CPU cost per step: wall steps/s on a shared machine measures the neighbours
    pool_eff = max(v[1] for k, v in med.items() if k.startswith("pool_"))
    gym_eff = med.get("gym_async", (None, None))[1]
    result = {
        "bench": "vec_speed",
        "env": args.env,
        "num_envs": n,
        "cores": cores,
        "load_avg": round(os.getloadavg()[0], 2),
        "single_sps": round(single, 1),
        "limit_sps": round(single * cores, 1),
        "sps": {k: round(v[0], 1) for k, v in med.items()},
        "steps_per_cpu_s": {k: round(v[1], 1) for k, v in med.items()},
        "ratio": round(best_pool / (single * cores), 3),
        "start_s": {m: [round(x, 2) for x in s] for m, s in starts.items()},
        "choice": "pool" if gym_eff is None or pool_eff >= gym_eff else "gym_async",
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
