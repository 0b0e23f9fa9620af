"""bench/swarm_speed.py runs end to end and its last line is the JSON the README quotes."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from slurm_util import REPO


def test_swarm_bench_prints_its_breakdown_as_the_last_json_line() -> None:
    out = subprocess.run(
        [sys.executable, str(REPO / "bench" / "swarm_speed.py"), "--num-envs", "4",
         "--seconds", "0.3", "--rounds", "1"],
        capture_output=True, text=True, timeout=300, check=True,
    ).stdout  # fmt: skip
    result = json.loads(out.strip().splitlines()[-1])
    assert result["bench"] == "swarm_speed" and result["num_envs"] == 4
    assert result["limit_sps"] == pytest.approx(result["raw_sps"] * result["cores"], abs=0.2)
    for key in ("ratio", "cpu_ratio", "env_cpu_ratio", "envs_per_core_cpu_ratio"):
        assert 0 < result[key] < 2, (key, result)
    assert result["idle_share"] < 1 and result["worker_restarts"] == 0
    assert f"{round(4 / result['cores'])} envs" in out
