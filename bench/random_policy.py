"""How far a uniform random policy gets on the practice cartridge: the difficulty yardstick.

From the bootstrap state, `--steps` random actions in one long episode per seed; reports the
distinct maps and cells visited, whether the starter was taken, and badges. The cartridge is
meant to be hard for random play (badge 3 essentially never in 10k steps), so that curriculum
and learning make a measurable difference.
Last stdout line: {"bench":"random_policy",…}.
"""

from __future__ import annotations

import argparse
import json

import numpy as np

from daddy.game import ram
from daddy.game.bootstrap import play_intro
from daddy.game.env import make_env
from daddy.game.rom import add_rom_flags, rom_from_args


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_rom_flags(p)  # --rom > $DADDY_ROM > practice (daddy.game.rom)
    p.add_argument("--steps", type=int, default=10_000)
    p.add_argument("--seeds", type=int, default=3)
    args = p.parse_args()
    rom = rom_from_args(args)
    env = make_env(rom, max_episode_steps=args.steps)
    state = play_intro(env.unwrapped).state
    results = []
    for seed in range(args.seeds):
        rng = np.random.default_rng(seed)
        env.reset(options={"state": state})
        maps, cells, badges, starter = set(), set(), 0, False
        for _ in range(args.steps):
            *_, info = env.step(int(rng.integers(7)))
            g = info["game"]
            maps.add(g.map_id)
            cells.add(g.cell)
            badges = max(badges, g.badge_count)
            starter |= g.event(ram.EVENT_GOT_STARTER)
        results.append({"seed": seed, "maps": len(maps), "cells": len(cells),
                        "starter": starter, "badges": badges})
        print(results[-1])
    print(json.dumps({"bench": "random_policy", "rom": rom.name, "steps": args.steps, "runs": results,
                      "max_badges": max(r["badges"] for r in results),
                      "median_maps": float(np.median([r["maps"] for r in results]))}))


if __name__ == "__main__":
    main()
