"""Env overhead: steps/s of the bare PyBoy loop vs the full `EpsilonEnv` step, in one process.

Both loops start from the same bootstrap savestate and replay the same random actions, with the
same frames per step (press 8 frames, release, tick to `action_freq`, render only the last
frame and read it). Short blocks alternate between the two so machine noise hits both alike.
Last stdout line: {"bench":"env_speed","raw_sps":…,"env_sps":…,"ratio":…}.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from daddy.game.bootstrap import play_intro
from daddy.game.env import ACTIONS, PokemonEnv, make_env
from daddy.game.rom import add_rom_flags, rom_from_args


def raw_loop(env: PokemonEnv, state: bytes, actions: np.ndarray) -> float:
    pb = env.pyboy
    env.load_state(state)
    screen = pb.screen.ndarray
    t = time.perf_counter()
    for a in actions:
        button = ACTIONS[a]
        pb.button_press(button)
        pb.tick(env.press_frames, False)
        pb.button_release(button)
        pb.tick(env.action_freq - env.press_frames, True)
        screen[::2, ::2, 0].copy()
    return len(actions) / (time.perf_counter() - t)


def env_loop(env, state: bytes, actions: np.ndarray) -> float:
    env.reset(options={"state": state})
    t = time.perf_counter()
    for a in actions:
        env.step(int(a))
    return len(actions) / (time.perf_counter() - t)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_rom_flags(p)  # --rom > $DADDY_ROM > practice (daddy.game.rom)
    p.add_argument("--steps", type=int, default=200, help="steps per block")
    p.add_argument("--rounds", type=int, default=40, help="blocks of each loop, interleaved")
    args = p.parse_args()
    rom = rom_from_args(args)
    print(f"ROM: {rom.describe()}", flush=True)
    env = make_env(rom, max_episode_steps=10**9)
    state = play_intro(env.unwrapped).state
    rng = np.random.default_rng(0)
    raw_t = env_t = 0.0
    for r in range(args.rounds):  # short interleaved blocks: machine noise hits both alike
        actions = rng.integers(0, len(ACTIONS), args.steps)
        raw_t += args.steps / raw_loop(env.unwrapped, state, actions)
        env_t += args.steps / env_loop(env, state, actions)
    n = args.rounds * args.steps
    raw_sps, env_sps = n / raw_t, n / env_t
    ratio = env_sps / raw_sps
    print(f"raw {raw_sps:.0f} sps, env {env_sps:.0f} sps over {n} steps each")
    print(json.dumps({"bench": "env_speed", "rom": rom.name, "steps": args.steps,
                      "rounds": args.rounds, "raw_sps": round(raw_sps, 1),
                      "env_sps": round(env_sps, 1), "ratio": round(ratio, 3)}))


if __name__ == "__main__":
    main()
