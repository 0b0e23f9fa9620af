"""Swarm speed: env-only steps/s of a 32-env `VecEnv` vs raw emulator steps/s x usable cores.

    python bench/swarm_speed.py [--rom practice|PATH] [--num-envs 32] [--seconds 5] [--rounds 3]

The limit is physical: one PyBoy in this process stepping the same way the env does (press 8
frames, release, tick to 24 with the last frame rendered, read the screen) as fast as it can,
times the cores this process may use. The swarm is the trainer's `VecEnv` of `make_env` envs
spawned from the bootstrap state, stepped with random actions and nothing else (no agent).
Rounds alternate raw, in-process env, envs per core, swarm, so load from other jobs hits all
alike; medians are reported. Beside wall-clock steps/s, steps per CPU-second (this process + workers) are
reported: on a machine shared with other jobs the wall ratio measures the neighbours too,
the CPU ratio only what the swarm costs per step. Wall steps/s can never exceed cores x steps
per CPU-second, so `cpu_ratio` bounds `ratio` whatever the pool does; `env_cpu_ratio` and
`envs_per_core_cpu_ratio` (num_envs / cores envs stepped in turn in one process, no pool) say
how much of that bound the env layer and the many emulators per core take before any pool.

Last stdout line: {"bench":"swarm_speed","num_envs":32,"sps":…,"limit_sps":…,"ratio":…, …}.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import sys
import time
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from daddy.game.bootstrap import play_intro
from daddy.game.env import ACTIONS, PokemonEnv, make_env
from daddy.game.rom import add_rom_flags, resolve_rom, rom_from_args
from daddy.swarm.vec import VecEnv, available_cores


def cpu_seconds(pids: list[int | None]) -> float:
    """CPU time (user + system) of this process and of `pids` so far."""
    total = time.process_time()
    tick = os.sysconf("SC_CLK_TCK")
    for pid in pids:
        if pid is None:
            continue
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / tick
    return total


def raw_round(
    env: PokemonEnv, state: bytes, seconds: float, rng: np.random.Generator
) -> tuple[float, float]:
    """(steps/s, steps per CPU-s) of the bare PyBoy loop, stepped like `PokemonEnv.step`."""
    pb = env.pyboy
    env.load_state(state)
    screen = pb.screen.ndarray
    press, rest = env.press_frames, env.action_freq - env.press_frames
    n, t0, c0 = 0, time.perf_counter(), time.process_time()
    while time.perf_counter() - t0 < seconds:
        for a in rng.integers(0, len(ACTIONS), 256):
            button = ACTIONS[a]
            pb.button_press(button)
            pb.tick(press, False)
            pb.button_release(button)
            pb.tick(rest, True)
            screen[::2, ::2, 0].copy()
        n += 256
    return n / (time.perf_counter() - t0), n / (time.process_time() - c0)


def env_round(env, state: bytes, seconds: float, rng: np.random.Generator) -> tuple[float, float]:
    """(steps/s, steps per CPU-s) of one `make_env` env in this process (env overhead only)."""
    return many_envs_round([env], state, seconds, rng)


def many_envs_round(
    envs: list, state: bytes, seconds: float, rng: np.random.Generator
) -> tuple[float, float]:
    """(steps/s, steps per CPU-s) of `len(envs)` envs stepped in turn in this process.

    Why: a worker of the swarm owns num_envs / cores emulators, so each step finds the caches
    cold from the other emulators' steps; `raw` and `env` keep one emulator hot. This is the
    swarm's per-core work without any pool (no processes, pipes or shared memory)."""
    for env in envs:
        env.reset(options={"state": state})
    n, t0, c0 = 0, time.perf_counter(), time.process_time()
    while time.perf_counter() - t0 < seconds:
        for a in rng.integers(0, len(ACTIONS), (16, len(envs))):
            for env, act in zip(envs, a):
                _, _, term, trunc, _ = env.step(int(act))
                if term or trunc:
                    env.reset(options={"state": state})
        n += 16 * len(envs)
    return n / (time.perf_counter() - t0), n / (time.process_time() - c0)


def _raw_worker(rom: str, state: bytes, seconds: float, seed: int, out: Any, start: Any) -> None:
    env = PokemonEnv(resolve_rom(rom), max_episode_steps=10**9)
    start.wait()  # every loop starts measuring together
    out.put(raw_round(env, state, seconds, np.random.default_rng(seed))[0])
    env.close()


def parallel_raw_round(rom: str, state: bytes, seconds: float, procs: int) -> float:
    """Summed steps/s of `procs` bare emulator loops running at once, one process each.

    Why: the limit `raw x cores` assumes the cores scale perfectly. On a VM whose vCPUs share a
    physical core (SMT) or a memory bus, they do not; this measures what the hardware gives to
    independent emulators, the best any pool could do."""
    ctx = mp.get_context("spawn")
    out, start = ctx.Queue(), ctx.Barrier(procs)
    ps = [
        ctx.Process(target=_raw_worker, args=(rom, state, seconds, k, out, start))
        for k in range(procs)
    ]
    for proc in ps:
        proc.start()
    total = sum(out.get(timeout=seconds + 120) for _ in ps)
    for proc in ps:
        proc.join()
    return total


def swarm_round(vec: VecEnv, seconds: float, rng: np.random.Generator) -> tuple[float, float]:
    """(steps/s, steps per CPU-s of main + workers) of the swarm on random actions."""
    pids = vec.worker_pids()
    n, t0, c0 = 0, time.perf_counter(), cpu_seconds(pids)
    while time.perf_counter() - t0 < seconds:
        vec.step(rng.integers(0, len(ACTIONS), vec.num_envs))
        n += vec.num_envs
    return n / (time.perf_counter() - t0), n / (cpu_seconds(pids) - c0)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_rom_flags(p)  # --rom > $DADDY_ROM > practice (daddy.game.rom)
    p.add_argument("--num-envs", type=int, default=32)
    p.add_argument("--workers", type=int, default=None, help="VecEnv workers (default: cores)")
    p.add_argument("--seconds", type=float, default=5.0, help="measuring time per round")
    p.add_argument("--rounds", type=int, default=3)
    args = p.parse_args()
    if args.num_envs < 1 or args.rounds < 1 or args.seconds <= 0:
        p.error("--num-envs and --rounds must be >= 1, --seconds > 0")

    rom = rom_from_args(args)
    cores = available_cores()
    raw_env = PokemonEnv(rom, max_episode_steps=10**9)
    state = play_intro(raw_env).state
    one_env = make_env(rom, max_episode_steps=10**9)
    per_core = [make_env(rom) for _ in range(max(1, round(args.num_envs / cores)))]
    vec = VecEnv(partial(make_env, rom), args.num_envs, args.workers, reset_state=lambda i: state)
    t0 = time.perf_counter()
    vec.reset()
    vec.step(np.zeros(args.num_envs, np.int64))  # warm-up
    ready = time.perf_counter() - t0
    print(f"swarm of {args.num_envs} envs on {vec.num_workers} workers ready ({ready:.1f} s "
          f"after start); {cores} usable cores", flush=True)  # fmt: skip

    rng = np.random.default_rng(0)
    raw, env1, many, swarm, par = [], [], [], [], []
    try:
        for r in range(args.rounds):
            raw.append(raw_round(raw_env, state, args.seconds, rng))
            env1.append(env_round(one_env, state, args.seconds, rng))
            many.append(many_envs_round(per_core, state, args.seconds, rng))
            swarm.append(swarm_round(vec, args.seconds, rng))
            par.append(parallel_raw_round(args.rom, state, args.seconds, cores))
            line = ", ".join(
                f"{name} {x[-1][0]:,.0f} sps ({x[-1][1]:,.0f}/CPU-s)"
                for name, x in (("raw", raw), ("env", env1), (f"{len(per_core)} envs", many),
                                ("swarm", swarm))
            )
            print(f"round {r}: {line}, {cores} raw loops at once {par[-1]:,.0f} sps", flush=True)
        restarts = vec.restarts
    finally:
        vec.close()
        for env in (one_env, raw_env, *per_core):
            env.close()

    def med(xs: list[tuple[float, float]], k: int) -> float:
        return float(np.median([x[k] for x in xs]))

    raw_sps, sps = med(raw, 0), med(swarm, 0)
    limit = raw_sps * cores
    result = {
        "bench": "swarm_speed",
        "rom": rom.name,
        "num_envs": args.num_envs,
        "workers": vec.num_workers,
        "cores": cores,
        "load_avg": round(os.getloadavg()[0], 2),
        "raw_sps": round(raw_sps, 1),
        "env_sps": round(med(env1, 0), 1),
        "sps": round(sps, 1),
        "limit_sps": round(limit, 1),
        "ratio": round(sps / limit, 3),
        # Per CPU-second: what the swarm costs per step, whatever else runs on the machine.
        "raw_steps_per_cpu_s": round(med(raw, 1), 1),
        "env_steps_per_cpu_s": round(med(env1, 1), 1),
        "swarm_steps_per_cpu_s": round(med(swarm, 1), 1),
        "cpu_ratio": round(med(swarm, 1) / med(raw, 1), 3),
        # Where the CPU per step goes, each vs raw: the env layer, then num_envs / cores
        # emulators in one process (cold caches), then the pool. No scheduling beats cpu_ratio.
        "env_cpu_ratio": round(med(env1, 1) / med(raw, 1), 3),
        "envs_per_core_cpu_ratio": round(med(many, 1) / med(raw, 1), 3),
        # Share of the cores' time the swarm left idle (waiting at the step barrier), loaded
        # machines count their neighbours here too.
        "idle_share": round(1 - sps / (cores * med(swarm, 1)), 3),
        # What the cores give to `cores` independent raw loops at once, and the swarm against it.
        "parallel_raw_sps": round(float(np.median(par)), 1),
        "ratio_vs_parallel_raw": round(sps / float(np.median(par)), 3),
        "worker_restarts": restarts,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
