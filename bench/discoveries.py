"""Who finds the new places: Daddy's explorer envs (always random) or its greedy envs?

Every trigger savestate (a milestone, a map first entered at a story stage) is a discovery, and
its `[SAVESTATE]` line in the run's train.log names the env that made it. train_big gives the
first round(explore_envs * num_envs) envs ε = 1; the rest follow ε's schedule. After ε has
decayed, the discoveries per env of each group say whether the greedy policy explores better or
worse than random actions from the same spawn states (each env spends the same steps):
`greedy_vs_random` > 1 means a greedy env finds more than a random one.

Discoveries are few (~30 in 400k steps), so a second measure counts every episode: the mean
distinct cells per episode of each group, from the run's episodes.h5 (`cells_per_episode`).

    python bench/discoveries.py runs/bench_learning/runs/bench_daddy_s0 --after 100000

`--before` closes the window, so a short probe can be set against the same steps of a long run
(`--after 100000 --before 150000`). Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import math
import re
from pathlib import Path
from typing import Any

SAVESTATE = re.compile(r"^\[SAVESTATE\] (\S+) tier=\S+ env=(\d+) step=(\d+) ")


def discoveries(log: Path) -> list[tuple[str, int, int]]:
    """(trigger name, env, step) of every trigger savestate in a train.log, in order."""
    out = []
    for line in log.read_text(errors="replace").splitlines():
        m = SAVESTATE.match(line)
        if m:
            out.append((m.group(1), int(m.group(2)), int(m.group(3))))
    return out


def split(
    found: list[tuple[str, int, int]], explorers: int, num_envs: int, after: int,
    before: int | None = None,
) -> dict[str, Any]:
    """Discoveries in steps (after, before] by explorer envs (ids < explorers) and greedy envs."""
    last = math.inf if before is None else before
    late = [(name, env) for name, env, step in found if after < step <= last]
    by_explorers = sum(env < explorers for _, env in late)
    by_greedy = len(late) - by_explorers
    greedy_envs = num_envs - explorers
    per_explorer = by_explorers / explorers if explorers else None
    per_greedy = by_greedy / greedy_envs if greedy_envs else None
    ratio = per_greedy / per_explorer if per_explorer and per_greedy is not None else None
    return {
        "after_step": after, **({} if before is None else {"before_step": before}),
        "discoveries": len(late), "by_explorer_envs": by_explorers, "by_greedy_envs": by_greedy, "explorer_envs": explorers, "greedy_envs": greedy_envs,
        "explorer_share": by_explorers / len(late) if late else None,
        "greedy_vs_random": ratio,
    }  # fmt: skip


def cells_per_episode(
    run_dir: Path, explorers: int, after: int, before: int | None = None
) -> dict[str, Any] | None:
    """Mean distinct cells per episode that ended in steps (after, before], explorer envs (ids <
    `explorers`) vs greedy envs, from the run's episode log; None without one.

    Why: every episode counts here, so this says within one run what the discoveries say over
    three seeds (a greedy env that walks in circles covers few cells, found or not).
    """
    from daddy.run import episode_log

    if not (run_dir / episode_log.FILE_NAME).is_file():
        return None
    df = episode_log.read(run_dir / episode_log.FILE_NAME)
    step = df["global_step"]
    late = df[(step > after) & (step <= (math.inf if before is None else before))]
    explorer = late[late["env_id"] < explorers]["cells_visited"]
    greedy = late[late["env_id"] >= explorers]["cells_visited"]
    mean_e = float(explorer.mean()) if len(explorer) else None
    mean_g = float(greedy.mean()) if len(greedy) else None
    return {
        "episodes": len(late), "explorer": mean_e, "greedy": mean_g,
        "greedy_vs_random": mean_g / mean_e if mean_e and mean_g is not None else None,
    }  # fmt: skip


def of_run(
    run_dir: Path, num_envs: int, explore_envs: float, after: int, before: int | None = None
) -> dict[str, Any]:
    """`split` for a train_big run folder, with train_big's own rule for the explorer envs, and
    its `cells_per_episode`."""
    from daddy.run.loop import env_epsilons

    explorers = int((env_epsilons(0.0, num_envs, explore_envs) == 1.0).sum())
    out = split(discoveries(run_dir / "train.log"), explorers, num_envs, after, before)
    return {**out, "cells_per_episode": cells_per_episode(run_dir, explorers, after, before)}


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("run_dir", type=Path, help="a train_big run folder (holds train.log)")
    p.add_argument("--after", type=int, default=0, help="count discoveries after this env step")
    p.add_argument("--before", type=int, default=None, help="...and up to this env step")
    p.add_argument("--num-envs", type=int, default=8)
    p.add_argument("--explore-envs", type=float, default=0.25, help="train_big's --explore-envs")
    ns = p.parse_args(argv)
    log = ns.run_dir / "train.log"
    if not log.is_file():
        raise SystemExit(f"{log} not found: pass a train_big run folder (runs/<run>)")
    if ns.before is not None and ns.before <= ns.after:
        raise SystemExit(f"--before {ns.before} must be above --after {ns.after}")
    result = of_run(ns.run_dir, ns.num_envs, ns.explore_envs, ns.after, ns.before)
    print(json.dumps({"bench": "discoveries", "run": str(ns.run_dir), **result}))


if __name__ == "__main__":
    main()
