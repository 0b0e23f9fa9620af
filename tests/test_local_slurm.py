"""The local single-node SLURM behaves like the real clusters the pipeline relies on.

Why: the pipeline's preemption paths (submitit checkpoint + requeue, resume from files) are only
trustworthy when they run on a real slurmctld/slurmd with accounting. These tests pin what
slurm/local-cluster/up.sh must provide: sacct, submitit, partition preemption that signals the
job, and the Snakemake profile in slurm/config.yaml.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import cloudpickle
import pytest
import submitit
from slurm_util import (
    REPO,
    SLURM_MARKS,
    SlurmError,
    sacct_states,
    sbatch,
    scancel,
    wait_for_state,
)

pytestmark = SLURM_MARKS

# Jobs unpickle this module's functions; the job's Python cannot import a test module by name.
cloudpickle.register_pickle_by_value(sys.modules[__name__])

JOB_TIMEOUT_S = 120.0


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def _read_int(path: Path) -> int:
    return int(path.read_text()) if path.exists() else 0


def _append(path: Path, line: str) -> None:
    with path.open("a") as f:
        f.write(line + "\n")


def square(x: int) -> tuple[int, str]:
    """Runs inside the SLURM job: the result plus the job id proves where it ran."""
    return x * x, os.environ.get("SLURM_JOB_ID", "")


class SlowCounter(submitit.helpers.Checkpointable):
    """Counts to `total`, one step per `step_s`; progress lives in a file, so a requeued run
    resumes from it whether or not `checkpoint()` was called (an outside requeue does not)."""

    def __init__(self, folder: str, total: int, step_s: float) -> None:
        self.folder = folder
        self.total = total
        self.step_s = step_s

    def __call__(self) -> dict[str, object]:
        folder = Path(self.folder)
        count = _read_int(folder / "progress")
        _append(folder / "starts", str(count))  # the count each run started from
        while count < self.total:
            time.sleep(self.step_s)
            count += 1
            _write_atomic(folder / "progress", str(count))
        return {"count": count, "starts": (folder / "starts").read_text().split()}

    def checkpoint(self, *args: object, **kwargs: object) -> submitit.helpers.DelayedSubmission:
        _append(Path(self.folder) / "checkpoints", str(_read_int(Path(self.folder) / "progress")))
        return super().checkpoint(*args, **kwargs)


def _executor(folder: Path, **params: object) -> submitit.AutoExecutor:
    executor = submitit.AutoExecutor(folder=folder, slurm_max_num_timeout=5)
    executor.update_parameters(
        timeout_min=10, slurm_partition="debug", cpus_per_task=1, slurm_mem="500M", **params
    )
    assert executor.cluster == "slurm", "AutoExecutor did not pick SLURM"
    return executor


def _wait_until(predicate, what: str, timeout: float = JOB_TIMEOUT_S) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise SlurmError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(0.2)


def _result(job: submitit.Job, timeout: float = JOB_TIMEOUT_S) -> object:
    """job.result() with a deadline: a lost job must fail the test, not hang it."""
    _wait_until(job.done, f"submitit job {job.job_id} to finish", timeout)
    return job.result()


def test_sbatch_job_completes_and_sacct_lists_it(tmp_path: Path) -> None:
    out = tmp_path / "hello.txt"
    job_id = sbatch("-p", "debug", "-o", str(tmp_path / "%j.log"), "--wrap", f"echo hello > {out}")
    assert wait_for_state(job_id, {"COMPLETED"}, JOB_TIMEOUT_S) == "COMPLETED"
    assert out.read_text() == "hello\n"


def test_submitit_runs_function_on_cluster_and_returns_result(tmp_path: Path) -> None:
    job = _executor(tmp_path).submit(square, 7)
    value, slurm_job_id = _result(job)
    assert value == 49
    assert slurm_job_id == job.job_id
    # The result file exists a moment before SLURM (and sacct) calls the job finished.
    assert wait_for_state(job.job_id, {"COMPLETED"}, JOB_TIMEOUT_S) == "COMPLETED"


def _preempt_with_urgent_job(job_id: str, tmp_path: Path) -> None:
    urgent = sbatch("-p", "urgent", "-o", str(tmp_path / "urgent.log"), "--wrap", "sleep 1")
    wait_for_state(urgent, {"COMPLETED"}, JOB_TIMEOUT_S)


INTERRUPTS = {
    # submitit's own preemption path: USR2 -> checkpoint() -> scontrol requeue -> exit.
    "usr2": lambda job_id, _: scancel(job_id, "--signal=USR2"),
    # partition_prio preemption: the urgent job needs the node the debug job holds exclusively.
    "urgent_partition": _preempt_with_urgent_job,
    # An outside requeue sends no USR2: checkpoint() is not called, progress files still resume.
    "scontrol_requeue": lambda job_id, _: subprocess.run(
        ["scontrol", "requeue", job_id], check=True, capture_output=True, timeout=10
    ),
}


@pytest.mark.parametrize("interrupt", list(INTERRUPTS))
def test_checkpointable_job_resumes_after_interruption(tmp_path: Path, interrupt: str) -> None:
    work = tmp_path / "work"
    work.mkdir()
    # The run after the interruption must outlast KillWait (5 s): SIGTERM is ignored by submitit,
    # so a shorter one would finish before SLURM kills it and never be requeued.
    total = 24
    # Holding the whole node makes the 1-CPU urgent job preempt this one (and nothing else).
    exclusive = {"slurm_exclusive": True} if interrupt == "urgent_partition" else {}
    executor = _executor(tmp_path / "submitit", **exclusive)
    job = executor.submit(SlowCounter(str(work), total=total, step_s=0.5))
    _wait_until(lambda: _read_int(work / "progress") >= 3, "the counter to make progress")

    INTERRUPTS[interrupt](job.job_id, tmp_path)

    result = _result(job)
    starts = [int(s) for s in result["starts"]]
    assert result["count"] == total
    assert len(starts) == 2 and starts[0] == 0 and starts[1] >= 3, f"runs started at {starts}"
    signalled = interrupt != "scontrol_requeue"
    assert (work / "checkpoints").exists() == signalled, "checkpoint() called iff USR2 was sent"
    if signalled:
        assert all(int(c) >= 3 for c in (work / "checkpoints").read_text().split())
    wait_for_state(job.job_id, {"COMPLETED"}, JOB_TIMEOUT_S)
    # Preemption too shows REQUEUED: within the debug partition's GraceTime submitit requeues
    # the job itself (sacct would say PREEMPTED had SLURM requeued it first).
    assert sacct_states(job.job_id) == ["REQUEUED", "COMPLETED"]


SNAKEFILE = """
rule all:
    input: "out/job_id.txt"

rule on_slurm:
    output: "out/job_id.txt"
    shell: "echo $SLURM_JOB_ID > {output}"
"""


def test_snakemake_profile_runs_rule_as_slurm_job(tmp_path: Path) -> None:
    (tmp_path / "Snakefile").write_text(SNAKEFILE)
    snakemake = shutil.which("snakemake", path=str(Path(sys.executable).parent))
    assert snakemake, "snakemake is not installed next to this Python"
    proc = subprocess.run(
        [snakemake, "--profile", str(REPO / "slurm")],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    job_id = (tmp_path / "out" / "job_id.txt").read_text().strip()
    assert job_id, "the rule did not run inside a SLURM job"
    assert wait_for_state(job_id, {"COMPLETED"}, JOB_TIMEOUT_S) == "COMPLETED"
