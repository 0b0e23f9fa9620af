"""Every path of a run, in one place: `runs/<run>/...`, `savestates/<run>/...`, the checkpoint
folder layout and "the newest complete checkpoint".

The trainer, evaluation, the pipeline's stages, the report, `status` and the benches all ask a
`RunPaths`; nothing else joins run-folder paths. Cluster users put runs on scratch with
`--runs-root` / `--states-root`. This module imports no torch: the pipeline's segment job and the
Snakefile use it without loading the learner's libraries.
"""

from __future__ import annotations

import argparse
import os
import re
from dataclasses import dataclass
from pathlib import Path

CHECKPOINTS = "checkpoints"
COMPLETE = "COMPLETE"  # written last into a checkpoint folder: the folder is whole
LATEST = "latest"  # text file naming the newest complete checkpoint, for people and scripts
STEP_DIR = re.compile(r"^step_(\d+)$")
EPISODES = "episodes.h5"
HEATMAP = "heatmap.npz"  # the run's visit counts (daddy.eval.heatmap.RUN_FILE)
STATE_INDEX = "index.json"  # the savestate index (daddy.swarm.state_index.INDEX_FILE)
TRAIN_LOG = "train.log"  # every line the trainer printed, all processes (daddy.run.run_log)
TENSORBOARD = "tb"  # TensorBoard event files (daddy.run.tensorboard)
RUNS_ROOT = Path("runs")  # the defaults of every command's --runs-root / --states-root
STATES_ROOT = Path("savestates")


def step_dir_name(step: int) -> str:
    return f"step_{step}"


def step_of(name: str) -> int | None:
    """N of a `step_<N>` folder name; None for any other name."""
    m = STEP_DIR.match(name)
    return int(m.group(1)) if m else None


def check_run_name(run: str) -> str:
    """`run` if it is a plain folder name (no separator, not `.`/`..`), else ValueError."""
    if not isinstance(run, str) or not run or run in (".", "..") or "/" in run or "\\" in run:
        raise ValueError(f"bad run name {run!r}: use a plain name such as 'big_run_01'")
    return run


def root_flags(
    runs_root: str | os.PathLike[str] = RUNS_ROOT,
    states_root: str | os.PathLike[str] = STATES_ROOT,
    *,
    runs: bool = True,
    states: bool = True,
) -> list[str]:
    """`--runs-root R` / `--states-root S` for a child command, each only where it differs from
    the default (and the command takes it), so commands that predate the flags still run."""
    flags = []
    if runs and Path(runs_root) != RUNS_ROOT:
        flags += ["--runs-root", str(runs_root)]
    if states and Path(states_root) != STATES_ROOT:
        flags += ["--states-root", str(states_root)]
    return flags


def add_root_flags(
    parser: argparse.ArgumentParser,
    *,
    runs: bool = True,
    states: bool = True,
    old_states_name: bool = False,
) -> None:
    """Every command's `--runs-root` / `--states-root` options (`--savestates`: the old name)."""
    if runs:
        parser.add_argument(
            "--runs-root", type=Path, default=RUNS_ROOT, help="folder of run outputs (default: runs)"
        )
    if states:
        old = " (--savestates is the old name)" if old_states_name else ""
        parser.add_argument(
            "--states-root",
            *(["--savestates"] if old_states_name else []),
            dest="states_root",
            type=Path,
            default=STATES_ROOT,
            help=f"folder of savestate indexes (default: savestates){old}",
        )


def complete_steps(checkpoints: Path) -> list[int]:
    """Steps of the `step_<N>` folders under `checkpoints` that carry the marker, oldest first."""
    if not checkpoints.is_dir():
        return []
    steps = [int(m.group(1)) for entry in checkpoints.iterdir()
             if (m := STEP_DIR.match(entry.name)) and (entry / COMPLETE).is_file()]  # fmt: skip
    return sorted(steps)


@dataclass(frozen=True)
class RunPaths:
    """The folders and files of one run (DESIGN.md §6)."""

    run: str
    runs_root: Path = RUNS_ROOT
    states_root: Path = STATES_ROOT

    def __post_init__(self) -> None:
        check_run_name(self.run)  # a Snakemake pattern such as "{run}" passes
        object.__setattr__(self, "runs_root", Path(self.runs_root))
        object.__setattr__(self, "states_root", Path(self.states_root))

    @classmethod
    def from_dir(
        cls, run_dir: str | os.PathLike[str], states_root: str | os.PathLike[str] = STATES_ROOT
    ) -> RunPaths:
        """The RunPaths whose `dir` is `run_dir` (`<runs_root>/<run>`)."""
        run_dir = Path(run_dir)
        return cls(run_dir.name, run_dir.parent, Path(states_root))

    def root_flags(self) -> list[str]:
        """`--runs-root R --states-root S` for a child command (`root_flags`)."""
        return root_flags(self.runs_root, self.states_root)

    # --- runs/<run>.yaml and runs/<run>/ ----------------------------------------------------
    @property
    def config(self) -> Path:
        """The run config `runs/<run>.yaml` (beside the run folder)."""
        return self.runs_root / f"{self.run}.yaml"

    @property
    def dir(self) -> Path:
        return self.runs_root / self.run

    @property
    def episodes(self) -> Path:
        return self.dir / EPISODES

    @property
    def checkpoints(self) -> Path:
        return self.dir / CHECKPOINTS

    def checkpoint(self, step: int) -> Path:
        return self.checkpoints / step_dir_name(step)

    @property
    def latest(self) -> Path:
        """The `latest` pointer file (for people; loading trusts the markers)."""
        return self.checkpoints / LATEST

    @property
    def checkpointed(self) -> Path:
        """The step of the newest checkpoint ever written: tells "checkpoints deleted" from
        "never checkpointed" when `checkpoints/` is empty but `episodes.h5` has rows."""
        return self.dir / "checkpointed"

    @property
    def lock(self) -> Path:
        return self.dir / "run.lock"

    @property
    def train_log(self) -> Path:
        """The run log: `tail -f` it to follow the whole run, resumes and segments included."""
        return self.dir / TRAIN_LOG

    @property
    def tensorboard(self) -> Path:
        """TensorBoard's folder for the run (`tensorboard --logdir runs` shows every run)."""
        return self.dir / TENSORBOARD

    @property
    def videos(self) -> Path:
        return self.dir / "videos"

    @property
    def heatmap(self) -> Path:
        return self.dir / HEATMAP

    @property
    def eval_videos(self) -> Path:
        """The pipeline's final evaluation rollouts."""
        return self.videos / "final"

    @property
    def eval_done(self) -> Path:
        return self.videos / "final.done"

    @property
    def report(self) -> Path:
        return self.dir / "report"

    @property
    def report_html(self) -> Path:
        return self.report / "index.html"

    @property
    def logs(self) -> Path:
        """Logs of the pipeline's stage jobs."""
        return self.dir / "logs"

    def log(self, name: str) -> Path:
        return self.logs / f"{name}.log"

    @property
    def jobs(self) -> Path:
        return self.dir / "jobs"

    def job_record(self, segment: int | str) -> Path:
        return self.jobs / f"segment_{segment}.json"

    @property
    def submitit(self) -> Path:
        return self.jobs / "submitit"

    @property
    def segments(self) -> Path:
        return self.dir / "segments"

    def segment_done(self, segment: int | str) -> Path:
        return self.segments / f"segment_{segment}.done"

    # --- savestates/<run>/ ---------------------------------------------------------------------
    @property
    def states(self) -> Path:
        return self.states_root / self.run

    @property
    def state_index(self) -> Path:
        return self.states / STATE_INDEX

    @property
    def bootstrap_done(self) -> Path:
        return self.states / "bootstrap.done"

    # --- checkpoints -----------------------------------------------------------------------------
    def complete_steps(self) -> list[int]:
        return complete_steps(self.checkpoints)

    def newest_complete_step(self) -> int | None:
        """Step of the newest complete checkpoint (None when there is none): what resumes."""
        steps = self.complete_steps()
        return steps[-1] if steps else None
