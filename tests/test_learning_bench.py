"""`bench/learning.py`: aggregation (medians over seeds, censored steps, the PPO ratio line) and
one short real Daddy run.

The runs themselves take CPU-hours (run by hand); the aggregation that turns their JSON into the
README table is checked here on hand-made results with known medians.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import h5py
import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
MILESTONES = ["got_starter", "route_1", "viridian_city", "badge_boulder"]


def record(method: str, seed: int, badge1: int | None, starter: int | None, episode: int) -> dict:
    milestones = {name: None for name in MILESTONES}
    milestones["got_starter"] = starter
    milestones["badge_boulder"] = badge1
    return {
        "bench": "learning", "method": method, "seed": seed, "steps": 300_000,
        "steps_done": 300_000, "num_envs": 8, "max_episode_steps": episode, "rom": "practice",
        "badge_steps": {"1": badge1, "2": None, "3": None}, "milestone_steps": milestones,
        "milestones_found": sum(v is not None for v in milestones.values()),
        "cells_visited": 100 + seed, "posteriors": {}, "wall_s": 60.0, "sps": 5000.0,
        "loop_sps": 5000.0, "steps_per_cpu_s": 2500.0, "git": f"abc{seed}", "host": "vm",
        "cpus": 2,
    }  # fmt: skip


def test_aggregate_table_medians_and_ratio(tmp_path: Path) -> None:
    runs = [
        record("ppo", 0, 90_000, 10_000, 2048),
        record("ppo", 1, None, 12_000, 2048),
        record("ppo", 2, 150_000, 14_000, 2048),
        record("daddy", 0, 30_000, 4_000, 512),
        record("daddy", 1, 40_000, 5_000, 512),
        {**record("daddy", 2, None, 6_000, 512), "discoveries": {"greedy_vs_random": 0.25,
                                                           "cells_per_episode": {"greedy_vs_random": 0.5}}},
    ]
    for r in runs:
        (tmp_path / f"{r['method']}_s{r['seed']}.json").write_text(json.dumps(r))
    (tmp_path / "notes.json").write_text("{not json")  # ignored, as any non-result file
    out = subprocess.run(
        [sys.executable, "bench/learning.py", "aggregate", "--results", str(tmp_path)],
        cwd=REPO, capture_output=True, text=True, check=True,
    )  # fmt: skip
    summary = json.loads(out.stdout.strip().splitlines()[-1])
    assert summary["groups"]["ppo@300000"]["badge_steps"]["1"] == 150_000  # median of 90k, 150k, never
    assert summary["groups"]["daddy@300000"]["badge_steps"]["1"] == 40_000
    table = (tmp_path / "learning_table.md").read_text()
    rows = {line.split(" | ")[0].strip("| "): line for line in table.splitlines()}
    assert "| 300,000 | 512 | 3 | 40,000 (2/3) |" in rows["daddy"]
    assert "| 300,000 | 2,048 | 3 | 150,000 (2/3) |" in rows["ppo"]
    assert "daddy/PPO steps to badge 1 = 0.27 (target <= 0.33)" in table
    assert rows["got_starter"].endswith("| 12,000 (3/3) | 5,000 (3/3) |")  # PPO first, then Daddy
    assert "route_1" not in rows  # no method reached it: no row
    runs_rows = [x for x in table.splitlines() if x.startswith("| daddy (300,000) |")]
    assert runs_rows[2] == "| daddy (300,000) | 2 | > 300,000 | > 300,000 | > 300,000 | abc2 | vm | 2 | 1.0 min | 0.25 | 0.50 |"
    assert runs_rows[1].endswith("| 1.0 min | — | — |")  # a result without the split
    assert (tmp_path / "learning.png").stat().st_size > 0


def test_aggregate_compares_daddy_with_the_better_swarm_baseline(tmp_path: Path) -> None:
    """Issue 17's goal line: Daddy's median steps to a badge over the better (lower) median of
    random_swarm and ppo_swarm, target <= 0.5."""
    runs = [
        record("random_swarm", 0, 100_000, 9_000, 512),
        record("random_swarm", 1, 120_000, 9_000, 512),
        record("random_swarm", 2, None, 9_000, 512),
        record("ppo_swarm", 0, 80_000, 9_000, 512),
        record("ppo_swarm", 1, 200_000, 9_000, 512),
        record("ppo_swarm", 2, 90_000, 9_000, 512),
        record("daddy", 0, 30_000, 4_000, 512),
        record("daddy", 1, 50_000, 5_000, 512),
        record("daddy", 2, 40_000, 6_000, 512),
    ]
    for r in runs:
        (tmp_path / f"{r['method']}_s{r['seed']}.json").write_text(json.dumps(r))
    subprocess.run([sys.executable, "bench/learning.py", "aggregate", "--results", str(tmp_path)],
                   cwd=REPO, capture_output=True, text=True, check=True)  # fmt: skip
    table = (tmp_path / "learning_table.md").read_text()
    line = next(x for x in table.splitlines() if x.startswith("- 300,000 steps, daddy vs"))
    # medians: ppo_swarm 90,000 < random_swarm 120,000; daddy 40,000 / 90,000 = 0.44
    assert "badge 1: 0.44 of ppo_swarm (met)" in line
    assert "badge 2: neither" in line


def test_legs_table_splits_the_way_to_badge_1(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each leg is end - start per seed; its median is over the seeds that made both ends."""
    monkeypatch.syspath_prepend(str(REPO / "bench"))
    import learning

    def run(seed: int, parcel: int | None, forest: int | None, badge: int | None) -> dict:
        r = record("daddy", seed, badge, 1_000, 512)
        r["milestone_steps"].update(oak_got_parcel=parcel, viridian_forest=forest)
        return r

    runs = [run(0, 50_000, 80_000, 100_000), run(1, 60_000, 130_000, None), run(2, 40_000, None, None)]
    table = learning.legs_table(learning.groups(runs))
    rows = table.splitlines()
    assert rows[0] == "| leg | daddy (300,000) |"
    assert rows[2] == "| start → oak_got_parcel | 50,000 (50,000 / 60,000 / 40,000) |"
    assert rows[3] == "| oak_got_parcel → viridian_forest | 50,000 (30,000 / 70,000 / —) |"
    assert rows[4] == "| viridian_forest → badge_boulder | 20,000 (20,000 / — / —) |"
    assert learning.legs_table(learning.groups([run(0, None, None, None)])) == ""


def test_discoveries_split_explorer_and_greedy_envs(tmp_path: Path) -> None:
    """bench/discoveries.py: per-env discoveries of the random (explorer) and greedy envs after
    a step, read from train.log's [SAVESTATE] lines (8 envs, explore_envs 0.25: envs 0-1)."""
    lines = [
        "[SAVESTATE] got_starter tier=early env=5 step=900 map=0x28 -> a.state; migrating envs []",
        "[STEP 1000/5000 20.0%] sps=1",
        "[SAVESTATE] route_1 tier=early env=0 step=1200 map=0x0C -> b.state; migrating envs [3]",
        "[SAVESTATE] map_0x01_s3 tier=early env=1 step=1300 map=0x01 -> c.state; migrating envs []",
        "[SAVESTATE] viridian_city tier=early env=7 step=1400 map=0x01 -> d.state; migrating envs []",
    ]
    (tmp_path / "train.log").write_text("\n".join(lines) + "\n")
    out = subprocess.run([sys.executable, "bench/discoveries.py", str(tmp_path), "--after", "1000"],
                         cwd=REPO, capture_output=True, text=True, check=True)  # fmt: skip
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert (got["discoveries"], got["by_explorer_envs"], got["by_greedy_envs"]) == (3, 2, 1)
    assert got["greedy_vs_random"] == (1 / 6) / (2 / 2)
    assert got["cells_per_episode"] is None  # no episodes.h5 in this folder
    window = subprocess.run([sys.executable, "bench/discoveries.py", str(tmp_path), "--after",
                             "1000", "--before", "1300"], cwd=REPO, capture_output=True, text=True,
                            check=True)  # fmt: skip
    got = json.loads(window.stdout.strip().splitlines()[-1])  # steps 1200 and 1300, not 1400
    assert (got["discoveries"], got["by_explorer_envs"], got["before_step"]) == (2, 2, 1300)
    missing = subprocess.run([sys.executable, "bench/discoveries.py", str(tmp_path / "none")],
                             cwd=REPO, capture_output=True, text=True, check=False)  # fmt: skip
    assert missing.returncode != 0 and "train.log not found" in missing.stderr


def test_daddy_run_records_cells_and_greedy_discoveries(tmp_path: Path) -> None:
    """`learning.py run --method daddy`, a real short train_big run on the practice cartridge: the
    result JSON has the budget done, the visited cells, and the discoveries split (after ε has
    decayed, here at once) counted over the same train.log the run wrote."""
    out, work = tmp_path / "out", tmp_path / "work"
    cmd = [sys.executable, "bench/learning.py", "run", "--method", "daddy", "--seed", "0",
           "--steps", "2400", "--num-envs", "4", "--max-episode-steps", "600", "--out", str(out),
           "--work", str(work), "--set", "learning_starts=400", "--set", "eps_decay_steps=1",
           "--set", "replay_memory_mb=16", "--set", "log_interval=400"]  # fmt: skip
    subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, check=True, timeout=600)
    got = json.loads((out / "daddy_s0.json").read_text())
    assert (got["method"], got["steps_done"], got["num_envs"]) == ("daddy", 2400, 4)
    assert got["params"]["train"]["eps_decay_steps"] == 1 and got["cells_visited"] > 0
    split = got["discoveries"]
    assert (split["after_step"], split["explorer_envs"], split["greedy_envs"]) == (1, 1, 3)
    log = (work / "runs" / "bench_daddy_s0" / "train.log").read_text().splitlines()
    late = [ln for ln in log if ln.startswith("[SAVESTATE]")
            and int(ln.split(" step=")[1].split()[0]) > 1]  # fmt: skip
    assert split["discoveries"] == len(late) > 0
    assert split["by_explorer_envs"] == sum(" env=0 " in ln for ln in late)
    with h5py.File(work / "runs" / "bench_daddy_s0" / "episodes.h5", "r") as f:  # read back
        n = int(f["n_rows"][0])
        env, step, cells = (f[k][:n] for k in ("env_id", "global_step", "cells_visited"))
    late = step > 1
    got_cells = split["cells_per_episode"]
    assert got_cells["episodes"] == int(late.sum()) > 0
    assert got_cells["explorer"] == pytest.approx(cells[late & (env == 0)].mean())
    assert got_cells["greedy"] == pytest.approx(cells[late & (env > 0)].mean())


@pytest.mark.parametrize(("method", "expected"), [
    ("daddy", {"beta_rnd": 0.02, "beta_bayes": 1.0, "munchausen": 0.0, "model_size": "slim"}),
    ("daddy_novelty", {"beta_rnd": 0.0, "beta_bayes": 0.0, "munchausen": 0.0}),
    ("daddy_munchausen", {"beta_rnd": 0.02, "munchausen": 0.9, "munchausen_tau": 0.03}),
    ("daddy_gru", {"model_size": "slim_gru"}),
])  # fmt: skip
def test_each_daddy_variant_changes_only_its_own_settings(
    method: str, expected: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The YAML's settings plus the method's own: the bench's variants are what they say."""
    monkeypatch.syspath_prepend(str(REPO / "bench"))
    import learning

    args = learning.RunArgs(method, 0, 1000, 2, 512, "practice", None, {}, Path("w"))
    params = yaml.safe_load((REPO / "bench/learning_configs/daddy.yaml").read_text())
    cfg = learning.daddy_config(args, params, "bench_x")
    assert {k: getattr(cfg, k) for k in expected} == expected
    assert (cfg.replay_ratio, cfg.target_update_interval, cfg.seed) == (4.0, 25, 0)
    agent = cfg.agent_config()  # what the learner gets
    assert (agent.munchausen, agent.munchausen_tau) == (cfg.munchausen, cfg.munchausen_tau)
