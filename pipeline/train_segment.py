"""One training segment as a requeueable submitit job, re-attached instead of submitted twice.

    python -m pipeline.train_segment --config runs/NAME.yaml --segment K [--executor local]

Why it is built this way (docs/PIPELINE.md has the long version):

- Snakemake runs this as a *local* rule. It only submits the segment and waits, so it holds no
  SLURM allocation while the segment queues: a Snakemake SLURM job waiting for a submitit SLURM
  job would hold two allocations and can deadlock a small cluster.
- The segment job runs `python -m daddy.train_big --config ... --until-step N` as a child of
  submitit's job process. The trainer owns all training state and puts it on disk (it writes a
  checkpoint and exits on SIGTERM/SIGUSR2); nothing large is pickled into a resubmission, and
  a crashing trainer cannot take submitit's bookkeeping down with it.
- On USR2 (time limit near, preemption with `preempt_send_user_signal`, `scancel --signal=USR2`)
  submitit calls `TrainSegment.checkpoint()`: it passes the signal on, waits for the trainer's
  checkpoint and exit, and hands back a fresh TrainSegment that submitit requeues. Every start
  resumes from the newest complete checkpoint (the trainer does that itself), which also covers
  an outside `scontrol requeue`, which calls no `checkpoint()`.
- The job id is recorded in `runs/NAME/jobs/segment_K.json` before waiting. A restarted
  Snakemake finds the job still queued or running and waits for it instead of submitting again.
- The trainer's exit code (`daddy.run.exit_codes`): EXIT_OK (0) when it reached its
  `--until-step`, EXIT_STOPPED (3) when a signal stopped it after a checkpoint. Older trainers
  exit 0 on a signal too, so 0 with a checkpoint short of the end step counts as stopped. What
  decides "done" is the newest complete checkpoint (`RunPaths.newest_complete_step`).
- `segment_K.done` is written only when the job succeeded and the newest complete checkpoint
  has reached the segment's end step.
- Run outputs go under `--runs-root` (default runs/), savestates under `--states-root`; the
  trainer gets those flags only where they differ from the defaults.
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import filelock
import submitit
from submitit.core.utils import FailedJobError, UncompletedJobError

from daddy.io import atomic_write_text
from daddy.run.config import ConfigError, RunConfig, load_run_config, report
from daddy.run.exit_codes import (
    EXIT_BAD_INPUT,
    EXIT_FAILED,
    EXIT_OK,
    EXIT_STOPPED,
    OneLineParser,
)
from daddy.run.paths import RunPaths, add_root_flags
from daddy.run.run_log import append_line
from pipeline import stages

# sacct/squeue states of a job that may still run (submitit treats these as not done, too)
ACTIVE_STATES = frozenset(
    {
        "PENDING",
        "RUNNING",
        "REQUEUED",
        "REQUEUE_HOLD",
        "REQUEUE_FED",
        "CONFIGURING",
        "COMPLETING",
        "SUSPENDED",
        "RESIZING",
        "SIGNALING",
        "STAGE_OUT",
        "PREEMPTED",
        "READY",
    }
)


class SegmentError(RuntimeError):
    """A segment that cannot run or did not finish; the message says what to do."""


def newest_checkpoint_step(run_dir: str | os.PathLike[str]) -> int | None:
    """Step of the newest complete checkpoint of the run in `run_dir` (DESIGN.md §6)."""
    return RunPaths.from_dir(run_dir).newest_complete_step()


# --- the job --------------------------------------------------------------------------------
class TrainSegment(submitit.helpers.Checkpointable):
    """The callable submitit runs: the trainer as a child process, stopped cleanly on USR2."""

    def __init__(
        self,
        command: list[str],
        cwd: str,
        run_dir: str,
        until_step: int,
        stop_grace_s: float = 75.0,
        outside_stop_wait_s: float = 60.0,
    ) -> None:
        self.command = list(command)
        self.cwd = cwd
        self.run_dir = run_dir
        self.until_step = until_step
        self.stop_grace_s = stop_grace_s
        self.outside_stop_wait_s = outside_stop_wait_s
        self._proc: subprocess.Popen[bytes] | None = None
        self._log = RunPaths.from_dir(run_dir).train_log

    def _spec(self) -> dict[str, Any]:
        keys = ("command", "cwd", "run_dir", "until_step", "stop_grace_s", "outside_stop_wait_s")
        return {k: getattr(self, k) for k in keys}

    def __getstate__(self) -> dict[str, Any]:
        return self._spec()  # never pickle the running child

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(**state)  # type: ignore[misc]

    def __call__(self) -> dict[str, int]:
        _say(f"segment job: {shlex.join(self.command)}", self._log)
        self._proc = subprocess.Popen(self.command, cwd=self.cwd)
        # poll, not wait(): a signal handler that waits on the same Popen must not deadlock
        while (rc := self._proc.poll()) is None:
            time.sleep(0.5)
        step = newest_checkpoint_step(self.run_dir)
        reached = step is not None and step >= self.until_step
        if rc in (EXIT_OK, EXIT_STOPPED) and reached:
            # EXIT_STOPPED here: the signal came while the final checkpoint was written
            _say(f"segment job: trainer reached step {step} (segment ends at {self.until_step})",
                 self._log)  # fmt: skip
            return {"until_step": self.until_step, "checkpoint_step": step}
        if rc in (EXIT_OK, EXIT_STOPPED):  # EXIT_OK short of the end: an older trainer's stop
            self._stopped_from_outside(rc, step)
        raise SegmentError(f"trainer exited with code {rc}; its output is above in this log")

    def checkpoint(self, *args: Any, **kwargs: Any) -> submitit.helpers.DelayedSubmission:
        """submitit's USR2 hook: let the trainer checkpoint and exit, then resubmit afresh."""
        proc = self._proc
        if proc is not None and proc.poll() is None:
            _say("segment job: stop signal; asking the trainer to checkpoint and exit", self._log)
            proc.send_signal(signal.SIGUSR2)
            if _poll_exit(proc, self.stop_grace_s) is None:
                proc.kill()
                _say(
                    f"segment job: trainer still running after {self.stop_grace_s:.0f} s, "
                    "killed; its previous complete checkpoint stands"
                )
        return submitit.helpers.DelayedSubmission(TrainSegment(**self._spec()))

    def _stopped_from_outside(self, rc: int, step: int | None) -> None:
        """The trainer checkpointed and stopped on a signal that did not come through submitit
        (outside `scontrol requeue`, preemption by SIGTERM, `scancel`). On SLURM the job is then
        being requeued or cancelled: wait for that; if nothing happens, requeue it ourselves.
        Exiting (not returning) writes no result, so the waiting side keeps waiting."""
        where = (
            f"trainer stopped at checkpoint step {step} (exit {rc}) before step {self.until_step}"
        )
        job_id = os.environ.get("SLURM_JOB_ID")
        if os.environ.get("SUBMITIT_EXECUTOR") != "slurm" or not job_id:
            raise SegmentError(f"{where}; run the pipeline again to resume from the checkpoint")
        _say(f"segment job: {where}; waiting for SLURM to requeue or end this job", self._log)
        time.sleep(self.outside_stop_wait_s)
        _say(f"segment job: still here; requeueing job {job_id} myself", self._log)
        subprocess.call(["scontrol", "requeue", job_id])
        time.sleep(self.outside_stop_wait_s)
        sys.exit(EXIT_STOPPED)


def _poll_exit(proc: subprocess.Popen[bytes], timeout_s: float) -> int | None:
    deadline = time.monotonic() + timeout_s
    while (rc := proc.poll()) is None and time.monotonic() < deadline:
        time.sleep(0.2)
    return rc


def _say(message: str, run_log: Path | None = None) -> None:
    """Flushed at once: SLURM logs are what people `tail -f`; a run's segment and job lines
    also go to its run log, between the trainer's own lines (`tail -f runs/<run>/train.log`)."""
    print(message, flush=True)
    if run_log is not None:
        append_line(run_log, message)


# --- the job record and re-attaching --------------------------------------------------------
@dataclass
class JobRecord:
    """What `runs/NAME/jobs/segment_K.json` says about the segment's job."""

    job_id: str
    cluster: str
    folder: str
    until_step: int
    command: list[str]
    submitted: str

    @classmethod
    def load(cls, path: Path) -> JobRecord | None:
        try:
            return cls(**json.loads(path.read_text()))
        except FileNotFoundError:
            return None
        except (ValueError, TypeError) as e:
            _say(f"ignoring unreadable job record {path} ({e})")
            return None

    def save(self, path: Path) -> None:
        atomic_write_text(path, json.dumps(asdict(self), indent=2) + "\n")

    def log_path(self) -> Path:
        return Path(self.folder) / f"{self.job_id}_0_log.out"


class _LocalJobHandle:
    """A local submitit job found again by its controller's pid (its Popen died with us)."""

    def __init__(self, record: JobRecord) -> None:
        self.record = record
        self.job = submitit.local.local.LocalJob(folder=record.folder, job_id=record.job_id)

    def done(self) -> bool:
        return not _local_controller_alive(self.record)

    def result(self) -> Any:
        return self.job.result()


def _local_controller_alive(record: JobRecord) -> bool:
    """Is the recorded pid still submitit's local controller for this folder (not a zombie)?"""
    proc = Path("/proc") / record.job_id
    try:
        state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
        cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
    except (OSError, IndexError):
        return False
    return state != "Z" and "submitit.local._local" in cmdline and record.folder in cmdline


def slurm_state(job_id: str) -> str:
    """The job's state from squeue (the controller's live view, current even for a job that
    was submitted a second ago); '' once the job has left the queue or squeue fails."""
    try:
        out = subprocess.run(
            ["squeue", "-h", "-j", job_id, "-o", "%T"],
            check=False,
            capture_output=True,
            text=True,
            timeout=60,
        )
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return out.stdout.strip().split("\n")[0].upper() if out.returncode == 0 else ""


def attach(record: JobRecord) -> Any | None:
    """A handle on the recorded job if it may still run, else None."""
    if record.cluster == "slurm":
        if slurm_state(record.job_id) in ACTIVE_STATES:
            return submitit.SlurmJob(folder=record.folder, job_id=record.job_id)
        return None
    if _local_controller_alive(record):
        return _LocalJobHandle(record)
    return None


def _job_done(job: Any) -> bool:
    if isinstance(job, submitit.SlurmJob):
        return job.done(force_check=True)
    return job.done()


# --- submitting and waiting ------------------------------------------------------------------
def _clean_slurm_env() -> None:
    """Forget the enclosing allocation's SLURM_* settings (e.g. when Snakemake itself runs in
    an sbatch job) so they do not leak into the segment's own sbatch; keep SLURM_CONF."""
    for key in [k for k in os.environ if k.startswith("SLURM_") and k != "SLURM_CONF"]:
        del os.environ[key]


def make_executor(
    run: RunConfig,
    segment: int,
    cluster: str,
    defaults: Mapping[str, str | None] | None = None,
    paths: RunPaths | None = None,
) -> submitit.AutoExecutor:
    """AutoExecutor for `run`'s train stage: SLURM when `srun` exists (auto), else local.

    `defaults` ({"partition", "account"}) fill what the run config leaves null (the Snakefile
    passes the profile's default-resources).
    """
    p = run.pipeline
    ex = submitit.AutoExecutor(
        folder=(paths or RunPaths(run.run_name)).submitit,
        cluster=None if cluster == "auto" else cluster,
        slurm_max_num_timeout=p.slurm_max_num_timeout,
        local_max_num_timeout=p.slurm_max_num_timeout,
    )
    res = p.stage("train")
    params: dict[str, Any] = {
        "name": stages.segment_job_name(run.run_name, segment),
        "timeout_min": res.time_min,
        "mem_gb": res.mem_mb / 1024,
        "cpus_per_task": res.cpus,
        "stderr_to_stdout": True,
        "slurm_signal_delay_s": p.signal_delay_s,
        "slurm_comment": stages.segment_job_comment(run.run_name, segment),
    }
    if ex.cluster == "local" or res.gpus:
        params["gpus_per_node"] = res.gpus  # local: 0 hides GPUs, as SLURM would
    defaults = defaults or {}
    partition = res.partition or defaults.get("partition")
    account = res.account or defaults.get("account")
    if partition:
        params["slurm_partition"] = partition
    if account:
        params["slurm_account"] = account
    ex.update_parameters(**params)
    return ex


def run_segment(
    run: RunConfig,
    segment: int,
    *,
    config: str,
    executor: str | None = None,
    module: str = stages.STAGE_MODULES["train"],
    command: list[str] | None = None,
    poll_s: float | None = None,
    defaults: Mapping[str, str | None] | None = None,
    paths: RunPaths | None = None,
) -> int:
    """Submit (or re-attach to) segment `segment` of `run`, wait, write its `.done` marker.

    `command` replaces the trainer command (tests use a stand-in); `defaults` are the
    profile's partition/account; `paths` the run's folders (default: runs/, savestates/).
    Returns the exit code for the command line.
    """
    paths = paths or RunPaths(run.run_name)
    until = run.until_step(segment)
    where = f"segment {segment}/{run.pipeline.segments} of {run.run_name}"
    cwd = os.getcwd()
    run_dir = str(Path(cwd, paths.dir))
    grace = max(5.0, run.pipeline.signal_delay_s - 15.0)  # USR2 comes signal_delay_s early
    segment_job = TrainSegment(
        command or stages.train_cmd(config, until, module, paths),
        cwd,
        run_dir,
        until,
        stop_grace_s=grace,
    )
    record_path = paths.job_record(segment)
    record_path.parent.mkdir(parents=True, exist_ok=True)
    with filelock.FileLock(f"{record_path}.lock"):
        found = _attach(record_path, segment_job, segment)
        if found is None and (step := newest_checkpoint_step(run_dir) or 0) >= until:
            _say(f"{where}: already trained (checkpoint step {step} >= {until}); no job needed",
                 paths.train_log)  # fmt: skip
            return _mark_done(run, segment, step, None, None, paths)
        job, record = found or _submit(
            record_path,
            segment_job,
            run,
            segment,
            executor or run.pipeline.executor,
            defaults,
            paths,
        )
    verb = "re-attached to" if found else "submitted"
    _say(
        f"{where} (to step {until}): {verb} job {record.job_id} ({record.cluster}); "
        f"log: {record.log_path()}",
        paths.train_log,
    )
    try:
        result = _wait(job, poll_s or (10.0 if record.cluster == "slurm" else 1.0), record)
    except (FailedJobError, UncompletedJobError, SegmentError) as e:
        text = str(e).strip()
        first = text.splitlines()[0] if text else type(e).__name__
        _say(f"{where} failed: job {record.job_id}: {first}", paths.train_log)
        _say(f"the job's log: {record.log_path()}; rerun snakemake to resume from its checkpoint")
        return EXIT_FAILED
    step = newest_checkpoint_step(run_dir)
    if step is None or step < until:
        _say(
            f"{where}: job {record.job_id} ended but the newest complete checkpoint is "
            f"{step}, not >= {until}; rerun to resume"
        )
        return EXIT_FAILED
    return _mark_done(run, segment, step, record, result, paths)


def _mark_done(
    run: RunConfig,
    segment: int,
    step: int,
    record: JobRecord | None,
    result: Any,
    paths: RunPaths | None = None,
) -> int:
    done = {
        "segment": segment,
        "until_step": run.until_step(segment),
        "checkpoint_step": step,
        "job_id": record.job_id if record else None,
        "cluster": record.cluster if record else None,
        "result": result,
    }
    paths = paths or RunPaths(run.run_name)
    atomic_write_text(paths.segment_done(segment), json.dumps(done, indent=2) + "\n")
    _say(
        f"segment {segment}/{run.pipeline.segments} of {run.run_name}: done at checkpoint step {step}",
        paths.train_log,
    )
    return EXIT_OK


def _attach(
    record_path: Path, segment_job: TrainSegment, segment: int
) -> tuple[Any, JobRecord] | None:
    """(job, record) of the recorded job while it may still run, else None."""
    record = JobRecord.load(record_path)
    job = attach(record) if record is not None else None
    if record is None or job is None:
        return None
    if record.command != segment_job.command:
        stop = "scancel" if record.cluster == "slurm" else "kill"
        raise SegmentError(
            f"segment {segment}'s job {record.job_id} is still running another command "
            f"({shlex.join(record.command)}); wait for it or `{stop} {record.job_id}`, then rerun"
        )
    return job, record


def _submit(
    record_path: Path,
    segment_job: TrainSegment,
    run: RunConfig,
    segment: int,
    cluster: str,
    defaults: Mapping[str, str | None] | None,
    paths: RunPaths | None = None,
) -> tuple[Any, JobRecord]:
    """Submit the segment and record its job id before anything else can happen."""
    if cluster == "slurm" or (cluster == "auto" and submitit.AutoExecutor.which() == "slurm"):
        _clean_slurm_env()
    executor = make_executor(run, segment, cluster, defaults, paths)
    job = executor.submit(segment_job)
    record = JobRecord(
        job_id=str(job.job_id),
        cluster=executor.cluster,
        folder=str(job.paths.folder),
        until_step=segment_job.until_step,
        command=segment_job.command,
        submitted=datetime.now(timezone.utc).isoformat(timespec="seconds"),
    )
    record.save(record_path)
    return job, record


def _wait(job: Any, poll_s: float, record: JobRecord) -> Any:
    """Block until the job is over (requeues included); its result, or its error raised."""
    last = ""
    while not _job_done(job):
        if record.cluster == "slurm" and (state := slurm_state(record.job_id)) != last:
            _say(f"job {record.job_id}: {state or 'left the queue'}")
            last = state
        time.sleep(poll_s)
    return job.result()


def _executor(chosen: str, auto: str | None) -> str:
    """The run config's (or --executor's) choice; `auto` as the Snakefile resolved it."""
    return auto if chosen == "auto" and auto else chosen


def main(argv: list[str] | None = None) -> int:
    parser = OneLineParser(
        prefix="train_segment",
        prog="python -m pipeline.train_segment", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--config", required=True, metavar="runs/NAME.yaml")
    parser.add_argument("--segment", required=True, type=int, metavar="K")
    parser.add_argument(
        "--executor",
        choices=("auto", "slurm", "local"),
        help="where the segment job runs (default: the run config's)",
    )
    parser.add_argument(
        "--module",
        default=stages.STAGE_MODULES["train"],
        help="trainer module (default: %(default)s)",
    )
    parser.add_argument("--poll-s", type=float, help="seconds between job status checks")
    parser.add_argument(
        "--auto-executor",
        choices=("slurm", "local"),
        help="what executor auto means (the Snakefile passes its own executor)",
    )
    parser.add_argument("--default-partition", help="partition when the run config has none")
    parser.add_argument("--default-account", help="account when the run config has none")
    add_root_flags(parser)
    args = parser.parse_args(argv)
    try:
        run = load_run_config(args.config)
        run.until_step(args.segment)
        paths = RunPaths(run.run_name, args.runs_root, args.states_root)
    except ConfigError as e:
        return report("train_segment", e)
    except ValueError as e:  # --segment beyond the run's segments
        return report("train_segment", ConfigError(str(args.config), [" ".join(str(e).split())]))
    try:
        return run_segment(
            run,
            args.segment,
            config=args.config,
            executor=_executor(args.executor or run.pipeline.executor, args.auto_executor),
            module=args.module,
            poll_s=args.poll_s,
            defaults={"partition": args.default_partition, "account": args.default_account},
            paths=paths,
        )
    except SegmentError as e:  # a refusal: another command's job still runs for this segment
        print(f"train_segment: {' '.join(str(e).split())}", file=sys.stderr)
        return EXIT_BAD_INPUT


if __name__ == "__main__":
    sys.exit(main())
