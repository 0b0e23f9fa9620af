"""Where a run was cut: segment ends, preemptions and crashes, as env steps to mark on plots.

Sources, both written by the run itself and kept across every process it was made of:

- `runs/<run>/segments/segment_<k>.done` (the pipeline's segment jobs): `until_step` is where
  segment k ended as planned;
- `runs/<run>/train.log` (every trainer process appends to it): each process prints one
  `[START] ... step=S/T stop_at=U` line, `[SIGNAL] NAME at step S` when a signal (preemption,
  time limit, scancel, Ctrl-C) stopped it after a checkpoint, and `[STEP S/...]`,
  `[PROGRESS S/...]`, `[CKPT] step=S` lines on the way.

A `[START]` at step S > 0 is a resume. It is a planned segment start when S is a segment's
`until_step` or the process before it printed `[DONE]` (it reached its `--until-step`); after a
`[SIGNAL]`, a resume after a stop (preemption or requeue); otherwise the
process before it ended without a word (killed, out of memory, node failure) and the steps it
made past S were done again. The job records (`jobs/segment_<k>.json`) only name the newest job
of a segment, so they say nothing about earlier preemptions; the log does.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from daddy.run.paths import RunPaths

START = re.compile(r"^\[START\] .*\bstep=(\d+)/(\d+)")
SIGNAL = re.compile(r"^\[SIGNAL\] (\S+) at step (\d+)")
DONE = re.compile(r"^\[DONE\] \S+: (?:already at )?step (\d+)")
STEP = re.compile(r"^\[(?:STEP|PROGRESS) (\d+)/\d+|^\[CKPT\] step=(\d+)")

KINDS = {
    "segment": ("#7f8c8d", "--", "planned stop (segment end)"),
    "stopped": ("#e67e22", ":", "stopped by a signal, resumed"),
    "killed": ("#c0392b", ":", "ended without a word, resumed"),
}
"""kind → (colour, line style, legend text) for the plots."""


@dataclass(frozen=True)
class Mark:
    """One cut in the run at env step `step`; `kind` is a key of KINDS."""

    step: int
    kind: str
    label: str


def segment_ends(run_dir: Path) -> list[Mark]:
    """Segment k's planned end from each `segment_<k>.done` (its `until_step`)."""
    marks = []
    for path in sorted(RunPaths.from_dir(run_dir).segments.glob("segment_*.done")):
        try:
            done = json.loads(path.read_text())
            marks.append(Mark(int(done["until_step"]), "segment", f"segment {done['segment']} end"))
        except (OSError, ValueError, KeyError, TypeError):
            continue  # an older or damaged marker: no mark rather than no report
    return sorted(marks, key=lambda m: m.step)


def log_cuts(log_lines: list[str], planned: set[int]) -> list[Mark]:
    """Resumes found in the run log's lines, except those at a `planned` segment start."""
    marks: list[Mark] = []
    signal: str | None = None
    done = False  # the process before reached its stop step
    reached = 0  # furthest step the current process reported
    started = False
    for line in log_lines:
        if m := START.match(line):
            step = int(m.group(1))
            if started and step > 0 and step not in planned:
                if done:
                    marks.append(Mark(step, "segment", f"planned stop at {step:,}, resumed"))
                elif signal is not None:
                    marks.append(Mark(step, "stopped", f"{signal} at {step:,}, resumed"))
                else:
                    lost = f", steps {step:,}..{reached:,} redone" if reached > step else ""
                    marks.append(Mark(step, "killed", f"ended without a word{lost}"))
            started, signal, done, reached = True, None, False, step
        elif m := SIGNAL.match(line):
            signal = m.group(1)
            reached = max(reached, int(m.group(2)))
        elif DONE.match(line):
            done = True
        elif m := STEP.match(line):
            reached = max(reached, int(m.group(1) or m.group(2)))
    return marks


def run_marks(run_dir: Path) -> list[Mark]:
    """Every cut of the run, by step: segment ends, then resumes after stops and kills."""
    segments = segment_ends(run_dir)
    log = RunPaths.from_dir(run_dir).train_log
    try:
        lines = log.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        lines = []
    cuts = log_cuts(lines, {m.step for m in segments})
    return sorted(segments + cuts, key=lambda m: (m.step, m.kind))


def starts(log_lines: list[str]) -> int:
    """How many trainer processes the run log records (its `[START]` lines)."""
    return sum(1 for line in log_lines if START.match(line))
