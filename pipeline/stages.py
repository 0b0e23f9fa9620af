"""The pipeline's stages: where each one's outputs land and what command it runs.

The Snakefile, the segment submitter (`pipeline/train_segment.py`) and the tests share these, so
paths and commands live in one place. A rule's shell line names only the run and the stage:

    python -m pipeline.stages bootstrap --config runs/NAME.yaml

and this module reads the run config when the job starts. Editing a run config therefore never
makes Snakemake re-run finished stages on its own; to redo a stage, delete its output or use
`snakemake -R RULE`. Bootstrap's declared output is a marker written after `index.json` is
verified, because Snakemake deletes declared outputs before a re-run and the index is also the
record of every curriculum state found during training.

Every path comes from `daddy.run.paths.RunPaths`; the helpers below only name the stage's
files. `--runs-root` / `--states-root` (Snakemake: `--config runs_root=... states_root=...`) put
a run's outputs and savestates elsewhere (scratch); run configs stay in `runs/`. A stage command
gets a root flag only where it differs from the default, so stand-in stages and older commands
without those flags keep working with the default layout.

`RunTable` loads every `runs/*.yaml` once per Snakemake parse. A broken config does not stop
the other runs: its problems are raised, one line each, when a target that needs it is built,
during DAG construction, so nothing is submitted for it.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from daddy.io import atomic_write_text
from daddy.run.config import (
    ConfigError,
    RunConfig,
    check_run_rom,
    checkpoint_settings,
    load_run_config,
    report,
)
from daddy.run.exit_codes import EXIT_BAD_INPUT, EXIT_FAILED, EXIT_OK, OneLineParser
from daddy.run.paths import RUNS_ROOT, STATES_ROOT, RunPaths, add_root_flags, root_flags

STAGE_MODULES: dict[str, str] = {
    "bootstrap": "daddy.bootstrap",
    "train": "daddy.train_big",
    "eval": "daddy.evaluate",
    "report": "analysis.report",
}
RUN_WILDCARD = r"[A-Za-z][A-Za-z0-9_]*"
SEGMENT_WILDCARD = r"[1-9][0-9]*"
JOB_NAME_PREFIX = "daddy"  # every SLURM job of the pipeline is named daddy-<run>...
_PLUGIN_PREFIX_MAX = 50  # the Snakemake SLURM plugin's limit on its jobname_prefix


# --- paths (relative to the repository root, where Snakemake runs) ------------------------
# Each takes a run name or a Snakemake pattern ("{run}") and the roots; all delegate to RunPaths.
Root = str | os.PathLike[str]


def run_paths(run: str, runs_root: Root = RUNS_ROOT, states_root: Root = STATES_ROOT) -> RunPaths:
    return RunPaths(run, Path(runs_root), Path(states_root))


def config_path(run: str, configs: Root = RUNS_ROOT) -> str:
    """The run config: always in the repository's `runs/` (only outputs move with the roots)."""
    return str(RunPaths(run, Path(configs)).config)


def index_json(run: str, runs_root: Root = RUNS_ROOT, states_root: Root = STATES_ROOT) -> str:
    return str(run_paths(run, runs_root, states_root).state_index)


def bootstrap_done(run: str, runs_root: Root = RUNS_ROOT, states_root: Root = STATES_ROOT) -> str:
    """Bootstrap's declared output. Not index.json itself: Snakemake deletes a rule's outputs
    before re-running it, and the index also records every state training found since."""
    return str(run_paths(run, runs_root, states_root).bootstrap_done)


def segment_done(
    run: str, k: int | str, runs_root: Root = RUNS_ROOT, states_root: Root = STATES_ROOT
) -> str:
    return str(run_paths(run, runs_root, states_root).segment_done(k))


def job_record(
    run: str, k: int | str, runs_root: Root = RUNS_ROOT, states_root: Root = STATES_ROOT
) -> str:
    return str(run_paths(run, runs_root, states_root).job_record(k))


def submitit_folder(run: str, runs_root: Root = RUNS_ROOT, states_root: Root = STATES_ROOT) -> str:
    return str(run_paths(run, runs_root, states_root).submitit)


def eval_dir(run: str, runs_root: Root = RUNS_ROOT, states_root: Root = STATES_ROOT) -> str:
    return str(run_paths(run, runs_root, states_root).eval_videos)


def eval_done(run: str, runs_root: Root = RUNS_ROOT, states_root: Root = STATES_ROOT) -> str:
    return str(run_paths(run, runs_root, states_root).eval_done)


def report_html(run: str, runs_root: Root = RUNS_ROOT, states_root: Root = STATES_ROOT) -> str:
    return str(run_paths(run, runs_root, states_root).report_html)


def log_file(
    run: str, name: str, runs_root: Root = RUNS_ROOT, states_root: Root = STATES_ROOT
) -> str:
    return str(run_paths(run, runs_root, states_root).log(name))


def root_flags_text(runs_root: Root = RUNS_ROOT, states_root: Root = STATES_ROOT) -> str:
    """root_flags as a shell fragment, for a rule's shell line ('' for the defaults)."""
    return shlex.join(root_flags(runs_root, states_root))


# --- SLURM job names ---------------------------------------------------------------------
def segment_job_name(run: str, k: int | str) -> str:
    """The SLURM job name of training segment k (submitit): what `squeue` and `sacct` show."""
    return f"{JOB_NAME_PREFIX}-{run}-seg{k}"


def segment_job_comment(run: str, k: int | str) -> str:
    """Its SLURM comment, shaped like the comments the Snakemake plugin gives the stage jobs, so
    one `squeue -o %k` column names the stage of every job of a run."""
    return f"rule_train_segment_wildcards_{run}_{k}"


def stage_job_prefix(runs: Iterable[str]) -> str:
    """The SLURM plugin's `jobname_prefix` for one Snakemake invocation that builds `runs`.

    The plugin names every job it submits `<prefix>_<uuid>`, the same for all jobs of one
    invocation, because it finds its jobs again by that name (`--job-name` and `--comment` in
    `slurm_extra` are refused). So the run goes into the prefix, and the stage is in the job's
    comment, which the plugin sets to `rule_<rule>_wildcards_<run>` (`squeue -o %k`).
    """
    names = sorted(set(runs))
    prefix = "-".join([JOB_NAME_PREFIX, *names])
    if len(prefix) > _PLUGIN_PREFIX_MAX and names:
        prefix = f"{JOB_NAME_PREFIX}-{names[0]}"[: _PLUGIN_PREFIX_MAX - 6] + "-etc"
    return prefix[:_PLUGIN_PREFIX_MAX]


def name_stage_jobs(executor_settings: Any, runs: Iterable[str], ours: str | None) -> str | None:
    """Set the SLURM plugin's job-name prefix to `stage_job_prefix(runs)` unless the user chose
    one (`--slurm-jobname-prefix`, or the profile's `slurm-jobname-prefix`).

    Snakemake sets its executor settings before it builds the DAG and starts the executor (which
    reads the prefix once) after, so the Snakefile's input functions call this while the DAG is
    built. `ours` is what this set last time (a prefix we set is ours to replace). Other
    executors (local, dry run, the job step inside a SLURM job) have no such setting: no-op.
    Returns the prefix now set by us, or `ours` unchanged.
    """
    if executor_settings is None or not hasattr(executor_settings, "jobname_prefix"):
        return ours
    current = executor_settings.jobname_prefix or ""
    if current and current != ours:
        return ours  # the user's own prefix
    executor_settings.jobname_prefix = stage_job_prefix(runs)
    return executor_settings.jobname_prefix


class StageJobNamer:
    """`RunTable.on_use` for the Snakefile: names the stage jobs after the runs in the DAG."""

    def __init__(self, workflow: Any) -> None:
        self.workflow = workflow
        self.ours: str | None = None  # the prefix this set, replaced as more runs join

    def __call__(self, runs: Iterable[str]) -> None:
        settings = getattr(self.workflow, "executor_settings", None)
        self.ours = name_stage_jobs(settings, runs, self.ours)


# --- commands ------------------------------------------------------------------------------
def _python(module: str) -> list[str]:
    return [sys.executable, "-m", module]


def _roots(paths: RunPaths | None) -> tuple[Path, Path]:
    return (paths.runs_root, paths.states_root) if paths else (RUNS_ROOT, STATES_ROOT)


def bootstrap_cmd(
    run: RunConfig, module: str = STAGE_MODULES["bootstrap"], paths: RunPaths | None = None
) -> list[str]:
    cmd = [*_python(module), "--rom", run.train.rom, "--run", run.run_name]
    cmd += root_flags(*_roots(paths), runs=False)
    return cmd + (["--allow-unknown-rom"] if run.train.allow_unknown_rom else [])


def train_cmd(
    config: str | os.PathLike[str],
    until_step: int,
    module: str = STAGE_MODULES["train"],
    paths: RunPaths | None = None,
) -> list[str]:
    cmd = [*_python(module), "--config", str(config), "--until-step", str(until_step)]
    return cmd + root_flags(*_roots(paths))


def eval_cmd(
    run: RunConfig, module: str = STAGE_MODULES["eval"], paths: RunPaths | None = None
) -> list[str]:
    paths = paths or RunPaths(run.run_name)
    cmd = [*_python(module), "--run", run.run_name, "--checkpoint", "latest"]
    cmd += ["--out", str(paths.eval_videos), *root_flags(*_roots(paths))]
    episodes = run.pipeline.eval_episodes
    return cmd + (["--episodes", str(episodes)] if episodes > 1 else [])


def report_cmd(
    run: RunConfig, module: str = STAGE_MODULES["report"], paths: RunPaths | None = None
) -> list[str]:
    return [*_python(module), "--run", run.run_name, *root_flags(*_roots(paths), states=False)]


# --- the run table the Snakefile uses ------------------------------------------------------
class RunTable:
    """Every `runs/*.yaml` by run name: a RunConfig, or the ConfigError it raised.

    `runs_root` / `states_root` are where the runs' outputs and savestates go (Snakemake's
    `--config runs_root=... states_root=...`); the configs are read from `folder`."""

    def __init__(
        self,
        folder: str | os.PathLike[str] = "runs",
        runs_root: Root = RUNS_ROOT,
        states_root: Root = STATES_ROOT,
    ) -> None:
        self.folder = Path(folder)
        self.runs_root, self.states_root = Path(runs_root), Path(states_root)
        self.entries: dict[str, RunConfig | ConfigError] = {}
        # The Snakefile sets it: a bad config or ROM is one line and exit 2 at DAG construction
        # (nothing submitted) instead of Snakemake's exception block. Raised otherwise.
        self.exit_on_error = False
        # Runs this Snakemake invocation builds (each input function asks for its run); the
        # Snakefile names the SLURM jobs after them through `on_use` (name_stage_jobs).
        self.used: set[str] = set()
        self.on_use: Callable[[set[str]], None] | None = None
        for path in sorted(self.folder.glob("*.yaml")):
            try:
                self.entries[path.stem] = self._load(path)
            except ConfigError as e:
                e.source = e.source or str(path)
                self.entries[path.stem] = e

    def _load(self, path: Path) -> RunConfig:
        """The run config, its ROM checked (exists, size, header checksum, SHA-1: done by
        load_run_config) and the same as the ROM of the run's checkpoint and savestates under
        these roots, so a bad ROM stops the run at DAG construction, before any job."""
        run = load_run_config(path)
        train = run.train.model_copy(update={"states_root": str(self.states_root)})
        saved = checkpoint_settings(self.runs_root / run.run_name).get("rom")
        check_run_rom(train, saved)
        return run

    @property
    def names(self) -> list[str]:
        """Runs that can be Snakemake targets (file stems that are rule names)."""
        return [n for n in self.entries if re.fullmatch(RUN_WILDCARD, n)]

    def get(self, run: str) -> RunConfig:
        entry = self.entries.get(run)
        if entry is None:
            have = ", ".join(self.names) or "none"
            raise ConfigError(config_path(run, self.folder), [f"no such run config (runs: {have})"])
        if isinstance(entry, ConfigError):
            if self.exit_on_error:
                print(f"snakemake: error: {entry.one_line()}", file=sys.stderr, flush=True)
                raise SystemExit(EXIT_BAD_INPUT)
            raise entry
        if run not in self.used:
            self.used.add(run)
            if self.on_use is not None:
                self.on_use(self.used)
        return entry

    # input functions: each checks the run's config first, so a bad YAML stops the DAG
    def bootstrap_inputs(self, wildcards: Any) -> list[str]:
        self.get(wildcards.run)
        return []

    def segment_inputs(self, wildcards: Any) -> list[str]:
        run, k = self.get(wildcards.run), int(wildcards.k)
        run.until_step(k)  # raises for a segment the run does not have
        roots = (self.runs_root, self.states_root)
        previous = [segment_done(run.run_name, k - 1, *roots)] if k > 1 else []
        return [bootstrap_done(run.run_name, *roots), *previous]

    def last_segment(self, wildcards: Any) -> str:
        run = self.get(wildcards.run)
        return segment_done(run.run_name, run.pipeline.segments, self.runs_root, self.states_root)

    def config(self, wildcards: Any) -> str:
        """The run's config file, for a rule's shell line."""
        return config_path(wildcards.run, self.folder)

    def resources(self, stage: str, defaults: Any = None) -> dict[str, Callable[[Any], Any]]:
        """Snakemake `resources:` for `stage`, read per run from its config.

        A rule's resources replace the profile's `default-resources` even where they come out
        None, so a partition or account the run config leaves null falls back to `defaults`
        (the profile's, `workflow.resource_settings.default_resources`) here.
        """

        def get(key: str, fallback: str | None = None) -> Callable[[Any], Any]:
            def value(wildcards: Any) -> Any:
                got = getattr(self.get(wildcards.run).pipeline.stage(stage), key)
                return got if got is not None else _plain_default(defaults, fallback)

            return value

        return {
            "slurm_partition": get("partition", "slurm_partition"),
            "slurm_account": get("account", "slurm_account"),
            "runtime": get("time_min"),
            "mem_mb": get("mem_mb"),
            "cpus_per_task": get("cpus"),
            "gpu": get("gpus"),
        }

    def segment_resources(self, defaults: Any = None) -> dict[str, Callable[[Any], Any]]:
        """The train stage's resources and the segment job's name, for `train_segment`.

        That rule is a local waiter and uses none of them itself: its `resources:` are there so
        that `snakemake -n` shows what the segment's submitit job will get (make_executor reads
        the same `pipeline.resources.train`, with the same profile defaults), not the profile's
        defaults. Nothing schedules on them: a local job is held back only by `--resources`.
        """
        resources = self.resources("train", defaults)
        resources["submitit_job"] = lambda wildcards: segment_job_name(wildcards.run, wildcards.k)
        return resources


def _plain_default(defaults: Any, name: str | None) -> Any:
    """A profile default-resource as written (`slurm_partition: gpu` -> "gpu"), or None."""
    resource = defaults.get(name) if defaults is not None and name else None
    return getattr(resource, "raw", None)


def profile_default_flags(defaults: Any) -> str:
    """`--default-partition P --default-account A` from the profile, for the segment submitter
    (submitit jobs do not see Snakemake's profile)."""
    flags = []
    for name, flag in (
        ("slurm_partition", "--default-partition"),
        ("slurm_account", "--default-account"),
    ):
        value = _plain_default(defaults, name)
        if value:
            flags += [flag, shlex.quote(str(value))]
    return " ".join(flags)


def auto_executor_flag(executor_plugin: Any) -> str:
    """`--auto-executor slurm|local`: a run config's `executor: auto` follows the executor
    Snakemake itself runs with (`--profile slurm` -> SLURM segments, `--cores N` -> local)."""
    name = getattr(executor_plugin, "name", None)
    return f"--auto-executor {name}" if name in ("slurm", "local") else ""


def module_flags(overrides: Mapping[str, str], stage: str) -> str:
    """`--module M` for a stage whose module the Snakemake config replaces (tests use fakes)."""
    module = overrides.get(stage)
    return f"--module {shlex.quote(module)}" if module else ""


# --- command line: run one stage -----------------------------------------------------------
def run_stage(
    stage: str, run: RunConfig, module: str | None = None, paths: RunPaths | None = None
) -> int:
    """Run `stage` of `run` and check its output exists; returns the exit code."""
    paths = paths or RunPaths(run.run_name)
    builders = {"bootstrap": bootstrap_cmd, "eval": eval_cmd, "report": report_cmd}
    cmd = builders[stage](run, module or STAGE_MODULES[stage], paths)
    print("+", shlex.join(cmd), flush=True)
    rc = subprocess.call(cmd)
    if rc != 0:
        print(f"stages: {stage} of run {run.run_name} failed with exit code {rc}", file=sys.stderr)
        return rc
    expected = {"bootstrap": paths.state_index, "report": paths.report_html}.get(stage)
    if expected and not expected.is_file():
        print(f"stages: {stage} exited 0 but wrote no {expected}", file=sys.stderr)
        return EXIT_FAILED
    marker = {"bootstrap": paths.bootstrap_done, "eval": paths.eval_done}.get(stage)
    if marker:
        atomic_write_text(marker, f"{shlex.join(cmd)}\n")
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    parser = OneLineParser(prefix="stages", prog="python -m pipeline.stages", description=__doc__)
    parser.add_argument("stage", choices=("bootstrap", "eval", "report"))
    parser.add_argument("--config", required=True, metavar="runs/NAME.yaml")
    parser.add_argument("--module", help="run this module instead of the stage's own")
    add_root_flags(parser)
    args = parser.parse_args(argv)
    try:
        run = load_run_config(args.config)
    except ConfigError as e:
        return report("stages", e)
    paths = RunPaths(run.run_name, args.runs_root, args.states_root)
    return run_stage(args.stage, run, args.module, paths)


if __name__ == "__main__":
    sys.exit(main())
