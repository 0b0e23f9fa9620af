"""The whole pipeline on the real local SLURM with the real stages, interrupted on purpose.

Why: preemption, time limits and a restarted Snakemake are what the pipeline is built to
survive (docs/PIPELINE.md), and only a real slurmctld with accounting, the real trainer and the
real Snakemake SLURM plugin show that the pieces fit. To keep the file a few minutes long, one
pipeline run (tests/data/slurm_tiny.yaml: bootstrap, three segments, eval, report) is driven
once and several tests read its outcome:

- segment 1: `scancel --signal=USR2` (submitit's checkpoint-and-requeue path), and Snakemake is
  stopped (Ctrl-C) and started again while the job handles it: the new waiter must re-attach;
- segment 2: an outside `scontrol requeue` (no checkpoint() call; SIGTERM to the trainer), and
  Snakemake crashes (SIGKILL) meanwhile: after `--unlock` the same command must re-attach;
- segment 3: a job in the `urgent` partition preempts it (PreemptMode=REQUEUE, GraceTime).

A second run with a 1-minute time limit for its one segment runs alongside (submitit's timeout
path: USR2 before the limit, checkpoint, requeue, until the segment is done).

Needs the cluster of slurm/local-cluster/up.sh; other helpers may share it, so every job is
found by id or by its working directory (a temp folder of this module) and only those are
cancelled on cleanup.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml
from slurm_util import REPO, SLURM_MARKS, job_state, sacct_states, sbatch, wait_for_state

from pipeline import stages
from pipeline.train_segment import ACTIVE_STATES, JobRecord

pytestmark = [*SLURM_MARKS, pytest.mark.slow]

SNAKEMAKE = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile")]
PROFILE = REPO / "slurm"
TINY = REPO / "tests" / "data" / "slurm_tiny.yaml"
RUN = "slurm_tiny"
SEGMENT_STEPS = 5000  # tests/data/slurm_tiny.yaml: pipeline.steps_per_segment
TIMEOUT_RUN = "slurm_timeout"
# The time-limited segment must outlast any single 1-minute job: USR2 comes 20-50 s into each job
# (SLURM checks time limits every 30 s and sends the signal up to 30 s early), the trainer
# starts in ~10 s and makes 80-400 steps/s on this machine (400 since the learner thread), so
# one job trains at most ~20,000 steps. Loaded, the segment takes up to ~8 jobs (~400 s); it
# runs while the main run is driven.
TIMEOUT_STEPS = 25000
WAIT_S = 240.0  # for one event of a run (a job starting, a checkpoint appearing)
RUN_S = 600.0  # for a whole Snakemake invocation
INTERRUPTS = {1: "usr2", 2: "scontrol_requeue", 3: "urgent_partition"}
_CKPT = re.compile(r"\[CKPT\] step=(\d+)")
_RESUME = re.compile(r"\[RESUME\] \w+: checkpoint step_(\d+)")
_RESUME_EPISODES = re.compile(r"\[RESUME\] \w+: checkpoint step_(\d+), (\d+) episodes")
_DONE_EPISODES = re.compile(r"\[DONE\] \w+: step \d+ \(stop at \d+\), (\d+) episodes")


# --- driving Snakemake -------------------------------------------------------------------------
def _ctrl_c_reaches_children() -> None:
    """Undo an inherited SIG_IGN for SIGINT (a test session started with `&` from a script has
    one; children inherit it and Python then never raises KeyboardInterrupt), so that Ctrl-C
    acts on Snakemake as at a terminal. A handled signal is reset to default at exec."""
    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


@dataclass
class Pipeline:
    """One run folder driven by Snakemake; the invocations and what the driver did to them."""

    work: Path
    run: str
    target: str
    invocations: list[subprocess.Popen[bytes]] = field(default_factory=list)
    started_at: str = field(default_factory=lambda: time.strftime("%Y-%m-%dT%H:%M:%S"))
    extra_jobs: list[str] = field(default_factory=list)  # jobs the driver submitted itself

    def start(self) -> subprocess.Popen[bytes]:
        """`snakemake --profile slurm TARGET` in its own session (Ctrl-C reaches its children)."""
        _ctrl_c_reaches_children()
        with (self.work / f"snakemake_{len(self.invocations) + 1}.out").open("wb") as log:
            proc = subprocess.Popen(
                [*SNAKEMAKE, "-d", str(self.work), "--profile", str(PROFILE), self.target],
                cwd=self.work,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.invocations.append(proc)
        return proc

    @property
    def current(self) -> subprocess.Popen[bytes]:
        return self.invocations[-1]

    def output(self) -> str:
        """What the current Snakemake invocation printed."""
        return (self.work / f"snakemake_{len(self.invocations)}.out").read_text(errors="replace")

    def interrupt(self, timeout: float = 60.0) -> int:
        """Ctrl-C to Snakemake and its children (the segment waiter); they must stop on it."""
        proc = self.current
        os.killpg(proc.pid, signal.SIGINT)
        try:
            return proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout)
            pytest.fail(f"{self.run}: Snakemake ignored Ctrl-C for {timeout:.0f} s\n{self.tail()}")

    def crash(self) -> int:
        """SIGKILL to Snakemake and its children: no clean-up, its lock stays behind."""
        os.killpg(self.current.pid, signal.SIGKILL)
        return self.current.wait(30)

    def unlock(self) -> None:
        subprocess.run(
            [*SNAKEMAKE, "-d", str(self.work), "--unlock", self.target],
            cwd=self.work,
            capture_output=True,
            timeout=120,
            check=True,
        )

    def wait(self, timeout: float = RUN_S) -> int:
        try:
            return self.current.wait(timeout)
        except subprocess.TimeoutExpired:
            pytest.fail(f"{self.run}: Snakemake still running after {timeout:.0f} s\n{self.tail()}")

    def record(self, k: int) -> JobRecord | None:
        return JobRecord.load(self.work / stages.job_record(self.run, k))

    def job_log(self, k: int) -> str:
        record = self.record(k)
        path = self.work / record.log_path() if record else None
        return path.read_text(errors="replace") if path and path.exists() else ""

    def tail(self, chars: int = 3000) -> str:
        logs = sorted((self.work / "runs" / self.run / "logs").glob("*.log"))
        parts = [f"--- Snakemake:\n{self.output()[-chars:]}"]
        parts += [f"--- {p.name}:\n{p.read_text(errors='replace')[-chars:]}" for p in logs]
        return "\n".join(parts)

    def until(self, what: str, predicate: Callable[[], object], timeout: float = WAIT_S) -> object:
        """Poll `predicate` until truthy; fail early with the logs if Snakemake ended first."""
        deadline = time.monotonic() + timeout
        while not (value := predicate()):
            if self.current.poll() is not None:
                pytest.fail(f"{self.run}: Snakemake ended while waiting for {what}\n{self.tail()}")
            if time.monotonic() > deadline:
                pytest.fail(f"{self.run}: no {what} after {timeout:.0f} s\n{self.tail()}")
            time.sleep(0.5)
        return value

    def segment_job(self, k: int) -> str:
        """Wait until segment k's job is submitted and has written a checkpoint; its id."""
        record = self.until(f"segment {k}'s job record", lambda: self.record(k))
        self.until(f"a checkpoint in segment {k}'s job log", lambda: _CKPT.search(self.job_log(k)))
        return record.job_id

    def cleanup(self) -> None:
        """Stop what is left of this run: its Snakemake processes and its SLURM jobs only."""
        for proc in self.invocations:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        for job_id in {row.job_id for row in sacct_rows(self.started_at, self.work)}:
            if squeue_state(job_id) in ACTIVE_STATES:
                subprocess.run(["scancel", job_id], check=False, capture_output=True, timeout=30)


@dataclass(frozen=True)
class SacctRow:
    job_id: str
    name: str
    state: str
    workdir: str


def sacct_rows(since: str, workdir: Path) -> list[SacctRow]:
    """Every job submitted since `since` from `workdir` (one row per job, its latest state)."""
    out = subprocess.run(
        ["sacct", "-n", "-X", "-P", "-S", since, "-o", "JobID,JobName%80,State,WorkDir%400"],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    ).stdout
    rows = [SacctRow(*line.split("|")[:4]) for line in out.splitlines() if line.count("|") >= 3]
    return [r for r in rows if Path(r.workdir) == workdir.resolve()]


def squeue_state(job_id: str) -> str:
    out = subprocess.run(
        ["squeue", "-h", "-j", job_id, "-o", "%T"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    return out.stdout.strip().upper()


def make_workdir(root: Path, runs: dict[str, dict]) -> Path:
    (root / "runs").mkdir(parents=True)
    for name, config in runs.items():
        (root / "runs" / f"{name}.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    return root


def tiny_config() -> dict:
    return yaml.safe_load(TINY.read_text())


def timeout_config() -> dict:
    """One segment that needs several 1-minute jobs; USR2 10-40 s before the limit."""
    config = tiny_config()
    config["run_name"] = TIMEOUT_RUN
    config["train"].update(total_steps=TIMEOUT_STEPS, save_interval=1000, log_interval=1000)
    pipeline = config["pipeline"]
    pipeline.update(
        segments=1, steps_per_segment=TIMEOUT_STEPS, signal_delay_s=10, slurm_max_num_timeout=30
    )
    pipeline["resources"]["train"] = {"time_min": 1, "mem_mb": 2048, "cpus": 1}
    return config


# --- the interruptions -------------------------------------------------------------------------
def preempt_with_urgent_job(job_id: str, work: Path, attempts: int = 6) -> list[str]:
    """Submit to `urgent` a job that fits only once `job_id`'s CPUs are free; retry if SLURM
    preempted another job (other helpers share the cluster, and the timeout run's 1-minute jobs
    run beside this one: in one full-suite run SLURM chose them three times in a row). The
    urgent jobs' ids."""
    urgent = []
    for _ in range(attempts):
        idle = int(subprocess.check_output(["sinfo", "-h", "-o", "%C"], text=True).split("/")[1])
        cpus = str(idle + tiny_config()["pipeline"]["resources"]["train"]["cpus"])
        args = ["-p", "urgent", "-c", cpus, "-t", "1", "-J", f"{RUN}_urgent", "-o", os.devnull]
        urgent.append(sbatch(*args, "--wrap", "sleep 2", cwd=work))
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if len(sacct_states(job_id)) > 1:  # a row for the preempted run
                return urgent
            time.sleep(0.5)
    raise AssertionError(f"{attempts} urgent jobs ({urgent}) never preempted job {job_id}")


def drive_main_run(p: Pipeline) -> dict[int, str]:
    """Start the run, interrupt each segment once after its first checkpoint, and stop
    Snakemake twice while a segment job runs (Ctrl-C, then a crash); the segments' job ids."""
    jobs = {}
    p.start()
    jobs[1] = p.segment_job(1)
    subprocess.run(["scancel", "--signal=USR2", jobs[1]], check=True, timeout=30)
    p.interrupt()  # Ctrl-C while the job checkpoints and requeues itself ...
    p.start()  # ... and the same command again: its waiter must re-attach to jobs[1]
    jobs[2] = p.segment_job(2)
    subprocess.run(["scontrol", "requeue", jobs[2]], check=True, timeout=30)
    p.crash()  # Snakemake and its waiter die with SIGKILL while jobs[2] is requeued
    p.unlock()  # what Snakemake's lock error asks for after a crash
    p.start()
    jobs[3] = p.segment_job(3)
    p.extra_jobs += preempt_with_urgent_job(jobs[3], p.work)
    return jobs


@pytest.fixture(scope="module")
def timeout_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pipeline]:
    """The time-limited run, started first so that it runs while the main run is driven."""
    work = make_workdir(tmp_path_factory.mktemp("timeout"), {TIMEOUT_RUN: timeout_config()})
    p = Pipeline(work, TIMEOUT_RUN, stages.segment_done(TIMEOUT_RUN, 1))
    p.start()
    try:
        yield p
    finally:
        p.cleanup()


@pytest.fixture(scope="module")
def main_run(tmp_path_factory: pytest.TempPathFactory, timeout_run: Pipeline) -> Iterator[dict]:
    """The tiny run, driven to the end with its three interruptions and one restart."""
    work = make_workdir(tmp_path_factory.mktemp("main"), {RUN: tiny_config()})
    p = Pipeline(work, RUN, RUN)
    try:
        jobs = drive_main_run(p)
        rc = p.wait()
        assert rc == 0, f"{RUN} failed\n{p.tail()}"
        yield {"p": p, "jobs": jobs}
    finally:
        p.cleanup()


# --- reading a run's outcome -------------------------------------------------------------------
def trainer_starts(job_log: str) -> list[dict]:
    """Each trainer start in a segment job's log: the checkpoint it resumed from, the
    checkpoints it wrote. The log spans every run of the job (submitit opens it to append)."""
    starts: list[dict] = []
    for line in job_log.splitlines():
        if "segment job: " in line and "daddy.train_big" in line:
            starts.append({"resume": None, "ckpts": []})
        elif starts and (m := _RESUME.search(line)):
            starts[-1]["resume"] = int(m[1])
        elif starts and (m := _CKPT.search(line)):
            starts[-1]["ckpts"].append(int(m[1]))
    return starts


def assert_resumed_from_checkpoints(starts: list[dict], first: int, until: int) -> None:
    """Every start after the first resumed from the newest checkpoint written before it, one of
    them in the middle of the segment, and the last start finished the segment.

    A start that neither resumed nor checkpointed was stopped while the trainer was still
    starting up (SLURM preempted the requeued job again at once, seen in a full-suite run):
    nothing to check there, the next start must resume from the same checkpoint."""
    starts = [s for s in starts if s["resume"] is not None or s["ckpts"]]
    assert len(starts) >= 2, f"the trainer started {len(starts)} time(s): {starts}"
    assert starts[0]["resume"] == (first or None), starts
    newest = first or None
    for start in starts:
        assert start["resume"] == newest, f"resumed from {start['resume']}, not {newest}: {starts}"
        newest = max([newest or 0, *start["ckpts"]]) or None
    assert any(first < (s["resume"] or 0) < until for s in starts[1:]), starts
    assert starts[-1]["ckpts"][-1] == until, starts


def done_marker(p: Pipeline, k: int) -> dict:
    return json.loads((p.work / stages.segment_done(p.run, k)).read_text())


def rule_job_ids(p: Pipeline, rule: str) -> list[str]:
    """Job ids of `rule`'s SLURM jobs (the profile keeps their logs, named <jobid>.log)."""
    logs = (p.work / ".snakemake" / "slurm_logs" / f"rule_{rule}").rglob("*.log")
    return sorted(path.stem for path in logs)


# --- the tests ---------------------------------------------------------------------------------
def test_bad_run_yaml_fails_before_any_job_is_submitted(tmp_path: Path) -> None:
    bad = {
        "run_name": "broken",
        "train": {"num_envs": 0, "totl_steps": 5, "rom": "${DADDY_TEST_UNSET_ROM}"},
        "pipeline": {"resources": {"train": {"time_min": 0}}},
    }
    work = make_workdir(tmp_path, {"broken": bad})
    p = Pipeline(work, "broken", "broken")
    p.start()
    assert p.wait(120) != 0
    out = p.output()
    for problem in (
        "train.num_envs must be >= 1, got 0",
        "train.'totl_steps' is not a known setting; did you mean 'total_steps'?",
        "environment variable DADDY_TEST_UNSET_ROM is not set",
        "pipeline.resources.train.time_min must be >= 1, got 0",
    ):
        assert problem in out, out
    time.sleep(2)  # slurmdbd records a submission within a moment
    assert sacct_rows(p.started_at, work) == []
    assert not (work / ".snakemake" / "slurm_logs").exists()
    assert not (work / "runs" / "broken" / "jobs").exists()


def test_every_stage_runs_as_a_slurm_job_and_writes_its_outputs(main_run: dict) -> None:
    p: Pipeline = main_run["p"]
    stage_jobs = {rule: rule_job_ids(p, rule) for rule in ("bootstrap", "evaluate", "report")}
    assert all(len(ids) == 1 for ids in stage_jobs.values()), stage_jobs
    segment_jobs = {k: done_marker(p, k)["job_id"] for k in (1, 2, 3)}
    assert segment_jobs == main_run["jobs"]
    expected = {ids[0] for ids in stage_jobs.values()} | set(segment_jobs.values())
    for job_id in expected:
        assert wait_for_state(job_id, {"COMPLETED"}, timeout=30) == "COMPLETED"
    rows = {r.job_id: r for r in sacct_rows(p.started_at, p.work)}
    assert set(rows) - set(p.extra_jobs) == expected  # nothing else was submitted from here
    names = [rows[job_id].name for job_id in segment_jobs.values()]
    assert names == [f"daddy-{RUN}-seg{k}" for k in (1, 2, 3)]
    for ids in stage_jobs.values():  # the plugin's own names: daddy-<run>_<uuid>
        assert rows[ids[0]].name.startswith(f"daddy-{RUN}_"), rows[ids[0]]
    for k in (1, 2, 3):
        marker = done_marker(p, k)
        assert marker["cluster"] == "slurm" and marker["checkpoint_step"] == k * SEGMENT_STEPS
    run = p.work / "runs" / RUN
    for path in (
        p.work / stages.index_json(RUN),
        run / "episodes.h5",
        p.work / stages.report_html(RUN),
    ):
        assert path.is_file() and path.stat().st_size > 0, path
    videos = run / "videos" / "final"
    assert list(videos.glob("*.mp4")) and list(videos.glob("*.gif")), list(videos.iterdir())


@pytest.mark.parametrize(("segment", "interrupt"), INTERRUPTS.items(), ids=INTERRUPTS.values())
def test_interrupted_segment_is_requeued_and_resumes_from_its_checkpoint(
    main_run: dict, segment: int, interrupt: str
) -> None:
    p: Pipeline = main_run["p"]
    job_id = main_run["jobs"][segment]
    states = sacct_states(job_id)
    # Preemption reads REQUEUED too: submitit requeues the job itself within GraceTime.
    assert states[-1] == "COMPLETED" and "REQUEUED" in states[:-1], f"{interrupt}: {states}"
    first, until = (segment - 1) * SEGMENT_STEPS, segment * SEGMENT_STEPS
    assert_resumed_from_checkpoints(trainer_starts(p.job_log(segment)), first, until)
    if interrupt == "urgent_partition":  # the job that preempted it ran
        assert job_state(p.extra_jobs[-1]) == "COMPLETED"


def test_episode_log_is_continuous_across_interruptions(main_run: dict) -> None:
    """Rows 1..N without gaps or duplicates, and at every resume exactly the rows the
    checkpoint counted: rows of episodes the stopped trainer finished after it are dropped."""
    from daddy.run.episode_log import read

    p: Pipeline = main_run["p"]
    episodes = read(p.work / "runs" / RUN / "episodes.h5")
    assert list(episodes["episode"]) == list(range(1, len(episodes) + 1))
    assert episodes["global_step"].is_monotonic_increasing
    logs = "".join(p.job_log(k) for k in (1, 2, 3))
    resumes = [(int(step), int(n)) for step, n in _RESUME_EPISODES.findall(logs)]
    assert len(resumes) >= 5, resumes  # 3 interruptions + 2 segment starts
    for step, counted in resumes:
        assert (episodes["global_step"] <= step).sum() == counted, (step, counted)
    finished = int(_DONE_EPISODES.findall(p.job_log(3))[-1])
    assert len(episodes) == finished > 0


@pytest.mark.parametrize("segment", [1, 2], ids=["ctrl_c", "crash"])
def test_restarted_snakemake_reattaches_instead_of_submitting_again(
    main_run: dict, segment: int
) -> None:
    p: Pipeline = main_run["p"]
    job_id = main_run["jobs"][segment]
    assert [proc.returncode for proc in p.invocations][-1] == 0 and len(p.invocations) == 3
    waiter_log = (p.work / stages.log_file(RUN, f"segment_{segment}")).read_text()
    assert f"re-attached to job {job_id} (slurm)" in waiter_log, waiter_log
    name = stages.segment_job_name(RUN, segment)
    assert [r.job_id for r in sacct_rows(p.started_at, p.work) if r.name == name] == [job_id]
    assert p.record(segment).job_id == job_id == done_marker(p, segment)["job_id"]
    submitted = (p.work / stages.submitit_folder(RUN)).glob("*_submitted.pkl")
    assert sorted(s.name.split("_")[0] for s in submitted) == sorted(main_run["jobs"].values())


def test_segment_over_its_time_limit_is_requeued_until_done(timeout_run: Pipeline) -> None:
    p = timeout_run
    assert p.wait() == 0, p.tail()
    job_id = p.record(1).job_id
    states = sacct_states(job_id)
    assert states[-1] == "COMPLETED" and states.count("REQUEUED") >= 1, states
    log = p.job_log(1)
    assert "this job is timed-out" in log and f"Requeued job {job_id}" in log, log[-3000:]
    assert_resumed_from_checkpoints(trainer_starts(log), 0, TIMEOUT_STEPS)
    assert done_marker(p, 1)["checkpoint_step"] == TIMEOUT_STEPS
    assert [r.job_id for r in sacct_rows(p.started_at, p.work) if r.name.endswith("-seg1")] == [
        job_id
    ]
