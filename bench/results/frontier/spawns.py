"""Where the last episodes of a learning-bench run spawned, measured against the frontier.

Why here: bench/learning.py records the steps to each milestone; the frontier comparison of
issue 18 (point 4) also needs the spawn states of the last episodes and which of them were at
the frontier: the states of the two furthest story ranks (`entry_rank`) among those saved
before the episode started (its end step minus its length times the envs), the rule the
curriculum draws by, applied to both runs whatever their setting; and, by the final index, the
share from the furthest milestone's states.
Usage: python bench/results/frontier/spawns.py WORK_DIR RUN [LAST_N]
(WORK_DIR: the run's --work; RUN: bench_daddy_s<seed>)
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from daddy.run.episode_log import read
from daddy.swarm.curriculum import entry_rank
from daddy.swarm.state_index import StateIndex

NUM_ENVS = 8
ROUTE_2 = 0x0D


def report(work: Path, run: str, last_n: int) -> dict:
    index = StateIndex.load(work / "savestates" / run)
    rows = read(work / "runs" / run / "episodes.h5")
    ranks = {e.name: entry_rank(e) for e in index.entries}
    top = sorted({r for r in ranks.values() if r >= 0}, reverse=True)
    tags = [t.decode() if isinstance(t, bytes) else str(t) for t in rows.savestate_tag]
    recent = tags[-last_n:]

    def share(names: set[str]) -> float:
        return round(sum(t in names for t in recent) / max(1, len(recent)), 4)

    def frontier_then(spawn_step: int, width: int) -> set[str]:
        known = {e.name: ranks[e.name] for e in index.entries if e.step <= spawn_step}
        best = sorted({r for r in known.values() if r >= 0}, reverse=True)[:width]
        return {n for n, r in known.items() if r in best}

    starts = [int(g) - int(n) * NUM_ENVS for g, n in zip(rows.global_step, rows.length)]

    def at_spawn(width: int) -> float:
        hits = [t in frontier_then(s0, width) for t, s0 in zip(tags, starts)][-last_n:]
        return round(sum(hits) / max(1, len(hits)), 4)

    route_2 = [e.step for e in index.entries if e.map_id == ROUTE_2]
    return {
        "episodes": len(tags),
        "last_n": len(recent),
        "spawn_share_frontier_at_spawn": at_spawn(2),
        "spawn_share_furthest_at_spawn": at_spawn(1),
        "spawn_share_furthest_final": share({n for n, r in ranks.items() if top and r == top[0]}),
        "spawn_share_frontier_final": share({n for n, r in ranks.items() if r in top[:2]}),
        "spawn_share_bootstrap": share({e.name for e in index.entries if e.is_bootstrap}),
        "frontier_states": sorted(n for n, r in ranks.items() if r in top[:2]),
        "spawns_last_n": {n: recent.count(n) for n in sorted(set(recent))},
        "route_2_step": min(route_2) if route_2 else None,
        "states": len(index.entries),
    }


if __name__ == "__main__":
    last = int(sys.argv[3]) if len(sys.argv) > 3 else 200
    print(json.dumps(report(Path(sys.argv[1]), sys.argv[2], last), indent=1))
