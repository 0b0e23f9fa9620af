"""Helpers for tests that run on the local single-node SLURM (slurm/local-cluster/up.sh).

Why a module of its own: several test files submit real jobs (this project's SLURM tests, the
pipeline's end-to-end and preemption tests); they share one way to tell whether the cluster is up,
one skip message that says how to start it, and small sbatch/sacct helpers.

Usage::

    from slurm_util import SLURM_MARKS, sbatch, wait_for_state

    pytestmark = SLURM_MARKS          # whole file: marked `slurm`, skipped when SLURM is down

    @requires_slurm                   # or per test (add @pytest.mark.slurm too)
    def test_x(slurm_cluster): ...    # or the fixture, which skips at run time
"""

from __future__ import annotations

import functools
import shutil
import subprocess
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
UP_SCRIPT = REPO / "slurm" / "local-cluster" / "up.sh"
START_HINT = "start it as root: sudo slurm/local-cluster/up.sh"
SKIP_REASON = f"the local SLURM cluster is not running; {START_HINT}"

# sacct states after which a job does nothing more (REQUEUED/PREEMPTED are not final here:
# a requeued job starts again under the same id).
FINAL_STATES = frozenset(
    {
        "COMPLETED",
        "FAILED",
        "CANCELLED",
        "TIMEOUT",
        "OUT_OF_MEMORY",
        "NODE_FAIL",
        "BOOT_FAIL",
        "DEADLINE",
    }
)


def _run(args: Sequence[str], timeout: float = 10.0) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(args), capture_output=True, text=True, timeout=timeout, check=False)


def slurm_up() -> bool:
    """True when slurmctld answers, a node can take jobs and sacct (slurmdbd) works.

    Why all three: without accounting submitit and the Snakemake plugin wait forever on a job.
    """
    if not all(shutil.which(tool) for tool in ("sinfo", "sacct", "sbatch")):
        return False
    try:
        states = _run(["sinfo", "-h", "-o", "%T"])
        acct = _run(["sacct", "-n", "-X", "-S", "now-1minutes"])
    except (OSError, subprocess.TimeoutExpired):
        return False
    usable = {"idle", "mixed", "allocated", "completing"}
    return (
        states.returncode == 0
        and any(s.strip().rstrip("*~#") in usable for s in states.stdout.split())
        and acct.returncode == 0
    )


@functools.cache
def _slurm_up_cached() -> bool:
    return slurm_up()


requires_slurm = pytest.mark.skipif(not _slurm_up_cached(), reason=SKIP_REASON)
"""Skip marker: the test needs the local SLURM cluster."""

SLURM_MARKS = [pytest.mark.slurm, requires_slurm]
"""`pytestmark = SLURM_MARKS` marks a whole file `slurm` and skips it when SLURM is down."""


@pytest.fixture
def slurm_cluster() -> None:
    """Fixture form of `requires_slurm`: skips at run time when the cluster is down."""
    if not slurm_up():
        pytest.skip(SKIP_REASON)


class SlurmError(RuntimeError):
    """A SLURM command failed or a job did not reach the expected state in time."""


def sbatch(*args: str, cwd: Path | None = None) -> str:
    """Submit with `sbatch --parsable ARGS` and return the job id."""
    proc = subprocess.run(
        ["sbatch", "--parsable", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=30,
        check=False,
    )
    if proc.returncode != 0:
        raise SlurmError(f"sbatch {' '.join(args)} failed: {proc.stderr.strip()}")
    return proc.stdout.strip().split(";")[0]


def sacct_states(job_id: str) -> list[str]:
    """Every state the allocation of `job_id` went through, oldest first.

    `sacct -D` lists one row per run of a requeued job (REQUEUED/PREEMPTED, then the last one).
    """
    proc = _run(["sacct", "-n", "-X", "-D", "-P", "-j", job_id, "-o", "State"])
    if proc.returncode != 0:
        raise SlurmError(f"sacct -j {job_id} failed: {proc.stderr.strip()}")
    # "CANCELLED by 0" -> "CANCELLED"
    return [line.split()[0] for line in proc.stdout.splitlines() if line.strip()]


def job_state(job_id: str) -> str:
    """Current state of `job_id` as sacct reports it, or "" when sacct has no row yet."""
    states = sacct_states(job_id)
    return states[-1] if states else ""


def wait_for_state(job_id: str, states: Iterable[str], timeout: float = 60.0) -> str:
    """Poll sacct until `job_id` is in one of `states`; return it. Raise SlurmError on timeout.

    A final state that is not wanted fails at once instead of waiting out the timeout.
    """
    wanted = set(states)
    deadline = time.monotonic() + timeout
    state = ""
    while time.monotonic() < deadline:
        state = job_state(job_id)
        if state in wanted:
            return state
        if state in FINAL_STATES:
            raise SlurmError(f"job {job_id} ended {state}, expected one of {sorted(wanted)}")
        time.sleep(0.5)
    raise SlurmError(
        f"job {job_id} is {state or 'unknown'} after {timeout:.0f}s, "
        f"expected one of {sorted(wanted)}"
    )


def node_cpus() -> int:
    """CPUs the (single) node advertises; up.sh makes it at least 8."""
    proc = _run(["sinfo", "-h", "-o", "%c"])
    if proc.returncode != 0 or not proc.stdout.split():
        raise SlurmError(f"sinfo failed: {proc.stderr.strip()}")
    return int(proc.stdout.split()[0].rstrip("+"))


def scancel(job_id: str, *args: str) -> None:
    """`scancel ARGS JOB_ID`; raise SlurmError when it fails."""
    proc = _run(["scancel", *args, job_id])
    if proc.returncode != 0:
        raise SlurmError(f"scancel {' '.join(args)} {job_id} failed: {proc.stderr.strip()}")
