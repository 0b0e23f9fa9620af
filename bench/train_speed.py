"""Training speed: env steps/s of `train_big` (acting, intrinsic rewards, replay, learning at the
default replay ratio) divided by env-only steps/s of the same swarm, in one run.

Slim model, 8 envs, CPU, the ROM of --rom > $DADDY_ROM > the practice cartridge. The env-only figure steps the same `VecEnv` with
random actions and nothing else; the training figure is the trainer's own loop rate (its
`[DONE] ... sps=` line, which excludes start-up). Last stdout line:
{"bench":"train_speed","env_sps":…,"train_sps":…,"ratio":…, "cpu_ms_per_step": {…},
"compute_bound_ratio":…}.

`cpu_ms_per_step` is the CPU cost of one env step's share of each part, measured on one thread
in this process: the emulator (one env), acting (the actor's forward at --num-envs per call),
RND (the intrinsic reward's forward), learning (one learner update divided by the env steps it
trains, times the replay ratio). `compute_bound_ratio` = emulator / sum of all: the ratio a
trainer would reach if every core were busy all the time with no overhead at all. It tells how
much of the gap to 1.0 is arithmetic (the networks' FLOPs on these cores) and how much is the
loop's own cost (the gap between `ratio` and `compute_bound_ratio`).
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

from daddy.game.bootstrap import play_intro
from daddy.game.env import make_env
from daddy.game.rom import Rom, add_rom_flags, rom_from_args
from daddy.game.spec import FEATURE_DIM, NUM_ACTIONS
from daddy.swarm.vec import VecEnv


def replay_ratio(extra: list[str]) -> float:
    """--replay-ratio among the extra trainer flags, else train_big's default."""
    from daddy.run.config import TrainConfig

    for i, flag in enumerate(extra):
        if flag == "--replay-ratio" and i + 1 < len(extra):
            return float(extra[i + 1])
        if flag.startswith("--replay-ratio="):
            return float(flag.split("=", 1)[1])
    return TrainConfig().replay_ratio


def env_only_sps(rom: Rom, num_envs: int, steps: int) -> float:
    probe = make_env(rom)
    state = play_intro(probe.unwrapped).state
    probe.close()
    vec = VecEnv(partial(make_env, rom, state=state), num_envs)
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


def train_sps(rom: Rom, num_envs: int, steps: int, extra: list[str]) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "daddy.train_big", "--run-name", "bench",
               "--num-envs", str(num_envs), "--model-size", "slim", "--device", "cpu",
               "--total-steps", str(steps), "--learning-starts", str(steps // 4),
               "--replay-memory-mb", "256", "--log-interval", str(steps),
               "--save-interval", str(10 * steps), "--rom", rom.flag(),
               *([] if rom.known else ["--allow-unknown-rom"]), *extra]  # fmt: skip
        out = subprocess.run(cmd, cwd=tmp, capture_output=True, text=True, check=True)
    m = re.search(r"\[DONE\].*sps=([0-9.]+)", out.stdout)
    if not m:
        raise RuntimeError(f"no [DONE] line in the trainer's output:\n{out.stdout[-2000:]}")
    return float(m.group(1))


def cpu_ms(fn, n: int) -> float:
    """CPU milliseconds per call of fn (after one warm-up call)."""
    fn()
    t = time.process_time()
    for _ in range(n):
        fn()
    return (time.process_time() - t) / n * 1e3


def compute_budget(rom: Rom, num_envs: int, replay_ratio: float) -> dict[str, float]:
    """CPU ms per env step of emulator, acting, RND and learning (see the module docstring)."""
    import torch

    from daddy.agent.actor import Actor, AgentConfig
    from daddy.agent.learner import Learner
    from daddy.agent.networks import QNetwork, model_config
    from daddy.agent.replay import SequenceReplay
    from daddy.intrinsic.rewards import RND, IntrinsicConfig

    torch.set_num_threads(1)
    env = make_env(rom)
    env.reset(options={"state": play_intro(env.unwrapped).state})
    rng = np.random.default_rng(0)
    emulator = cpu_ms(lambda: env.step(int(rng.integers(NUM_ACTIONS))), 2000)

    obs = {"screen": np.stack([env.unwrapped._obs()["screen"]] * num_envs),
           "map_id": np.zeros(num_envs, np.int64), "features": np.zeros((num_envs, FEATURE_DIM), np.float32)}
    env.close()
    cfg = AgentConfig()
    net = QNetwork(model_config("slim"))
    actor = Actor(net, num_envs)
    acting = cpu_ms(lambda: actor.act(obs, 0.1), 200) / num_envs
    rnd = RND(IntrinsicConfig())
    rnd_ms = cpu_ms(lambda: rnd.observe(obs), 200) / num_envs

    replay = SequenceReplay(num_envs, 200 * num_envs, cfg.seq_len, cfg.burn_in, cfg.n_step, cfg.period,
                            net.state_size, seed=0)  # fmt: skip
    state = np.zeros((num_envs, net.state_size), np.float32)
    acts, zeros, no = np.zeros(num_envs, np.int64), np.zeros(num_envs, np.float32), np.zeros(num_envs, bool)
    for _ in range(200):
        replay.add(obs, acts, zeros, no, no, state)
    learner = Learner(net, cfg)
    trained = cfg.batch_size * cfg.trace_len
    learning = cpu_ms(lambda: learner.update(replay.sample(cfg.batch_size)), 5) / trained
    learning *= replay_ratio
    return {"emulator": emulator, "acting": acting, "rnd": rnd_ms, "learning": learning}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--num-envs", type=int, default=8)
    p.add_argument("--steps", type=int, default=16000, help="env steps of each measurement")
    add_rom_flags(p)  # --rom > $DADDY_ROM > practice (daddy.game.rom)
    p.add_argument("extra", nargs="*", help="more train_big flags, after --")
    args = p.parse_args()
    rom = rom_from_args(args)
    env = env_only_sps(rom, args.num_envs, args.steps)
    train = train_sps(rom, args.num_envs, args.steps, args.extra)
    budget = compute_budget(rom, args.num_envs, replay_ratio(args.extra))
    print(
        json.dumps(
            {
                "bench": "train_speed",
                "rom": rom.name,
                "num_envs": args.num_envs,
                "model": "slim",
                "steps": args.steps,
                "env_sps": round(env, 1),
                "train_sps": round(train, 1),
                "ratio": round(train / env, 3),
                "cpu_ms_per_step": {k: round(v, 4) for k, v in budget.items()},
                "compute_bound_ratio": round(budget["emulator"] / sum(budget.values()), 3),
            }
        )
    )


if __name__ == "__main__":
    main()
