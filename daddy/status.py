"""`python -m daddy.status [RUN ...]`: where each run stands, in a few plain lines.

Why: following a run used to mean finding its SLURM job ids, its newest checkpoint folder and
its episode log by hand. This reads only what a run leaves on disk (RunPaths), plus squeue /
sacct for a recorded SLURM job when those commands exist; it never takes the run's lock, loads
torch or writes anything, so it is safe next to a training run:

    big_run_01
      segments    1/2 done; segment 2: SLURM job 4242 RUNNING
      trainer     running: pid 811 on node3, SLURM job 4242, since 2026-12-05 11:02:09 UTC
      step        16,400 / 5,000,000 (0.3%) last logged 1 min ago
      checkpoint  step_16000, 4 min ago (runs/big_run_01/checkpoints/step_16000)
      episodes    1,342 logged; most badges 1
      best        badge_boulder (Boulder), first at step 50,616
      log         runs/big_run_01/train.log

No RUN: every run under `--runs-root` (folders and `runs/*.yaml` not started yet). Exit 0;
an unknown run name is one line, exit 2.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from daddy.game import milestones as ms
from daddy.run.exit_codes import EXIT_BAD_INPUT, EXIT_OK, OneLineParser
from daddy.run.lock import describe, read_holder
from daddy.run.paths import RunPaths, add_root_flags, check_run_name

PROG = "daddy.status"
STEP_LINE = re.compile(r"^\[(?:STEP|PROGRESS) (\d+)/(\d+)")
TAIL_BYTES = 256 * 1024  # the end of train.log that holds its last step line
RUN_MARKS = ("checkpoints", "episodes.h5", "train.log", "segments", "jobs", "tb")


# --- what a run folder says ---------------------------------------------------------------------
@dataclass
class Status:
    """The facts about one run; `lines()` renders them."""

    run: str
    paths: RunPaths
    rows: list[tuple[str, str]] = field(default_factory=list)

    def add(self, key: str, value: str) -> None:
        self.rows.append((key, value))

    def lines(self) -> list[str]:
        return [self.run, *(f"  {k:<11} {v}" for k, v in self.rows)]


def ago(mtime: float, now: float | None = None) -> str:
    """'4 min ago' / '2 h 5 min ago' / '3 d 4 h ago'."""
    s = max(0, int((time.time() if now is None else now) - mtime))
    if s < 60:
        return f"{s} s ago"
    m, h, d = s // 60 % 60, s // 3600 % 24, s // 86400
    if d:
        return f"{d} d {h} h ago"
    return f"{h} h {m} min ago" if h else f"{m} min ago"


def furthest(mask: int) -> ms.Milestone | None:
    """The furthest milestone of `mask` in story order (milestones.furthest when it exists,
    else the list order, which is story order)."""
    if not mask:
        return None
    pick = getattr(ms, "furthest", None)
    if pick is not None:
        got = pick(mask)
        return ms.DEFAULT_MILESTONES[got] if isinstance(got, int) else got
    return ms.DEFAULT_MILESTONES[int(mask).bit_length() - 1]


def run_config(paths: RunPaths) -> dict[str, Any] | None:
    """The run's YAML (`runs/<run>.yaml`) as plain data; None when it has none. Read as text,
    not validated: status must work where the ROM or an environment variable is missing."""
    for path in (paths.config, Path("runs") / f"{paths.run}.yaml"):
        try:
            doc = yaml.safe_load(path.read_text())
        except (OSError, yaml.YAMLError):
            continue
        if isinstance(doc, dict):
            return doc
    return None


def checkpoint_config(paths: RunPaths, step: int) -> dict[str, Any]:
    """The train options saved with checkpoint `step` (its meta.json), {} when unreadable."""
    try:
        meta = json.loads((paths.checkpoint(step) / "meta.json").read_text())
    except (OSError, ValueError):
        return {}
    config = meta.get("config") if isinstance(meta, dict) else None
    return config if isinstance(config, dict) else {}


def last_logged_step(log: Path) -> tuple[int, int] | None:
    """(step, total) of the last [STEP]/[PROGRESS] line of the run log."""
    try:
        with open(log, "rb") as f:
            f.seek(max(0, f.seek(0, os.SEEK_END) - TAIL_BYTES))
            tail = f.read().decode("utf-8", "replace").splitlines()
    except OSError:
        return None
    for line in reversed(tail):
        if m := STEP_LINE.match(line):
            return int(m.group(1)), int(m.group(2))
    return None


# --- the rows -----------------------------------------------------------------------------------
def segments_row(st: Status, config: dict[str, Any] | None) -> None:
    paths = st.paths
    pipeline = (config or {}).get("pipeline") or {}
    total = pipeline.get("segments", 1 if config is not None else None)
    done = sorted(int(p.stem.split("_")[1]) for p in paths.segments.glob("segment_*.done")
                  if p.stem.split("_")[1].isdigit()) if paths.segments.is_dir() else []  # fmt: skip
    records = sorted((int(p.stem.split("_")[1]), p) for p in paths.jobs.glob("segment_*.json")
                     if p.stem.split("_")[1].isdigit()) if paths.jobs.is_dir() else []  # fmt: skip
    if total is None and not done and not records:
        st.add("segments", "- (not a pipeline run: no runs/<run>.yaml, no segment jobs)")
        return
    text = f"{len(done)}/{total if total is not None else '?'} done"
    if records:
        k, path = records[-1]
        text += f"; segment {k}: {job_text(path)}"
    st.add("segments", text)


def job_text(record: Path) -> str:
    """'SLURM job 4242 RUNNING' / 'local job 811 running' from a segment's job record."""
    try:
        rec = json.loads(record.read_text())
        job_id, cluster = str(rec["job_id"]), str(rec.get("cluster", ""))
    except (OSError, ValueError, KeyError, TypeError):
        return f"unreadable job record {record}"
    if cluster == "slurm":
        return f"SLURM job {job_id} {slurm_job_state(job_id)}"
    alive = Path("/proc", job_id).exists() if job_id.isdigit() else False
    return f"{cluster or 'local'} job {job_id} {'running' if alive else 'ended'}"


def slurm_job_state(job_id: str) -> str:
    """The job's state: squeue while it is queued or running, else sacct; what is missing said."""
    if not (shutil.which("squeue") or shutil.which("sacct")):
        return "(state unknown: no squeue/sacct on this machine)"
    for cmd in (["squeue", "-h", "-j", job_id, "-o", "%T"],
                ["sacct", "-n", "-X", "-P", "-j", job_id, "-o", "State"]):  # fmt: skip
        if not shutil.which(cmd[0]):
            continue
        try:
            out = subprocess.run(cmd, capture_output=True, text=True, timeout=20, check=False)
        except (OSError, subprocess.TimeoutExpired):
            continue
        state = out.stdout.strip().split("\n")[0].strip() if out.returncode == 0 else ""
        if state:
            return state.split()[0].upper()  # "CANCELLED by 0" -> CANCELLED
    return "(not known to squeue/sacct)"


def trainer_row(st: Status) -> None:
    """Who holds the run lock now (a trainer that died leaves its text behind)."""
    holder = read_holder(st.paths.lock) if st.paths.lock.exists() else None
    if holder is None:
        st.add("trainer", "not running")
        return
    here = holder.get("host") == socket.gethostname()
    pid = holder.get("pid")
    if here and isinstance(pid, int) and not Path("/proc", str(pid)).exists():
        st.add("trainer", f"not running (last: {describe(holder)}, gone)")
        return
    if not here:  # its pid means nothing on this machine
        st.add("trainer", f"held by {describe(holder)} (another machine)")
        return
    st.add("trainer", f"running: {describe(holder)}")


def step_rows(st: Status) -> None:
    paths = st.paths
    steps = paths.complete_steps()
    newest = steps[-1] if steps else None
    saved = checkpoint_config(paths, newest) if newest is not None else {}
    config = run_config(paths) or {}
    logged = last_logged_step(paths.train_log)
    total = saved.get("total_steps") or ((config.get("train") or {}).get("total_steps")
                                          if isinstance(config.get("train"), dict) else None)  # fmt: skip
    if logged is not None:
        total = total or logged[1]
    step = max(newest or 0, logged[0] if logged else 0)
    text = f"{step:,}"
    if total:
        total = int(float(str(total).replace("_", "")))
        text += f" / {total:,} ({100 * step / total:.1f}%)"
    if logged is not None:
        text += f" last logged {ago(paths.train_log.stat().st_mtime)}"
    st.add("step", text)
    if newest is None:
        st.add("checkpoint", "none yet")
    else:
        folder = paths.checkpoint(newest)
        marker = folder / "COMPLETE"
        when = ago(marker.stat().st_mtime) if marker.exists() else "?"
        st.add("checkpoint", f"step_{newest}, {when} ({folder})")


def episode_rows(st: Status) -> None:
    """Episodes logged and the best so far, from episodes.h5 (read-only, safe while written)."""
    if not st.paths.episodes.exists():
        st.add("episodes", "none logged yet")
        return
    from daddy.run.episode_log import EpisodeLogError, read  # lazy: pandas, h5py

    try:
        df = read(st.paths.episodes)
    except (EpisodeLogError, OSError) as e:
        st.add("episodes", f"unreadable: {str(e).splitlines()[0]}")
        return
    if df.empty:
        st.add("episodes", "none logged yet")
        return
    badges = max(int(b).bit_count() for b in df["badges"])
    st.add("episodes", f"{len(df):,} logged (last at step {int(df['global_step'].iloc[-1]):,}); "
           f"most badges {badges}")  # fmt: skip
    mask = 0
    for m in df["milestones_reached"]:
        mask |= int(m)
    best = furthest(mask)
    if best is None:
        st.add("best", "no milestone reached yet")
        return
    bit = 1 << ms.DEFAULT_MILESTONES.index(best)
    first = df["global_step"][(df["milestones_reached"].astype("uint64") & bit) != 0].min()
    st.add("best", f"{best.name} ({best.label}), first at step {int(first):,}")


def status(paths: RunPaths) -> Status:
    st = Status(paths.run, paths)
    if not paths.dir.is_dir():
        segments_row(st, run_config(paths))
        st.add("step", "not started (no run folder yet)")
        return st
    segments_row(st, run_config(paths))
    trainer_row(st)
    step_rows(st)
    episode_rows(st)
    st.add("log", str(paths.train_log) if paths.train_log.exists() else "none yet")
    return st


# --- which runs ---------------------------------------------------------------------------------
def all_runs(runs_root: Path) -> list[str]:
    """Run folders (anything a run leaves) and run configs not started yet, by name."""
    names = set()
    if runs_root.is_dir():
        for entry in runs_root.iterdir():
            if entry.is_dir() and any((entry / mark).exists() for mark in RUN_MARKS):
                names.add(entry.name)
            elif entry.suffix == ".yaml" and entry.is_file():
                names.add(entry.stem)
    return sorted(names)


def main(argv: Sequence[str] | None = None) -> int:
    parser = OneLineParser(prefix=PROG, prog=f"python -m {PROG}",
                           description=__doc__.split("\n\n")[0])  # fmt: skip
    parser.add_argument("runs", nargs="*", metavar="RUN", help="run names (default: all runs)")
    add_root_flags(parser)
    args = parser.parse_args(argv)
    known = all_runs(args.runs_root)
    for run in args.runs:
        try:
            check_run_name(run)
        except ValueError as e:
            return _error(str(e))
        if run not in known:
            have = ", ".join(known) if known else "none"
            return _error(f"no run {run!r} under {args.runs_root} (runs there: {have}); "
                          "check the name or pass --runs-root")  # fmt: skip
    runs = args.runs or known
    if not runs:
        print(f"no runs under {args.runs_root} yet")
        return EXIT_OK
    blocks = ["\n".join(status(RunPaths(r, args.runs_root, args.states_root)).lines())
              for r in runs]  # fmt: skip
    print("\n\n".join(blocks), flush=True)
    return EXIT_OK


def _error(message: str) -> int:
    print(f"{PROG}: error: {message}", file=sys.stderr)
    return EXIT_BAD_INPUT


if __name__ == "__main__":
    sys.exit(main())
