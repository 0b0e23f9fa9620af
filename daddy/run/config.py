"""Run configuration: every `train_big` option, the pipeline settings, and how they combine.

One run is one YAML file, `runs/<run>.yaml`, committed with the code:

    run_name: demo            # must equal the file's stem; names runs/<run>/ and savestates/<run>/
    train:                    # keys = train_big's long options with underscores (TrainConfig)
      num_envs: 2
      rom: ${DADDY_ROM}       # ${VAR} is expanded from the environment; unset = an error
    pipeline:                 # segments and SLURM resources (PipelineConfig)
      segments: 2
      resources:
        train: {partition: gpu, time_min: 240, mem_mb: 32768, cpus: 16, gpus: 1}
    curriculum: {...}         # optional: extra daddy.curriculum.CurriculumConfig settings
    intrinsic: {...}          # optional: extra daddy.intrinsic.IntrinsicConfig settings

`train_big` resolves its options as defaults ← YAML (`--config`) ← explicit CLI flags
(`parse_train_args`). Bad values never get far: `load_run_config` collects every problem and
raises one `ConfigError` with one readable line per problem (unknown keys with a did-you-mean,
wrong types, impossible values, missing values), and the CLI turns the same checks into
argparse errors. The field metadata below is the single source of defaults, checks and help.
"""

from __future__ import annotations

import argparse
import difflib
import math
import os
import re
import sys
import types
import typing
from collections.abc import Mapping
from dataclasses import MISSING, Field, asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

MODEL_SIZES = ("slim", "large")
DEVICES = ("auto", "cpu", "cuda")
EPS_SCHEDULES = ("linear", "exponential")
EXECUTORS = ("auto", "slurm", "local")
STAGES = ("bootstrap", "train", "eval", "report")
PRACTICE_ROM = "practice"
ROM_ENV = "DADDY_ROM"
TOP_LEVEL_KEYS = ("run_name", "train", "pipeline", "curriculum", "intrinsic")
# Run names become Snakemake target rules, so they must be identifiers and not clash with the
# pipeline's own rule names.
RESERVED_RUN_NAMES = frozenset({"all", "bootstrap", "train_segment", "evaluate", "report"})
_RUN_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")
_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_NUMBER_TEXT = re.compile(r"^[+-]?(\d[\d_]*\.?\d*|\.\d+)[eE][+-]?\d+$")


class ConfigError(ValueError):
    """A run config or option set that cannot be used; one line per problem."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = list(problems)
        if len(self.problems) == 1:
            text = f"{source}: {self.problems[0]}"
        else:
            text = f"{source}: {len(self.problems)} problems:\n" + "\n".join(
                f"  - {p}" for p in self.problems
            )
        super().__init__(text)


def doc(help: str, *, cli: bool = True, **check: Any) -> dict[str, Any]:
    """Field metadata: one line of help and the value's checks.

    Checks: `min`/`max` (inclusive), `above` (exclusive lower bound), `choices`. `cli=False`
    keeps a field off the command line (nested YAML-only blocks).
    """
    return {"help": help, "cli": cli, **check}


# --- train_big options ---------------------------------------------------------------------
@dataclass(frozen=True)
class TrainConfig:
    """Every `python -m daddy.train_big` option, with the seed's defaults."""

    run_name: str | None = field(
        default=None, metadata=doc("run id: outputs in runs/<run>/, states in savestates/<run>/")
    )
    num_envs: int = field(default=32, metadata=doc("parallel emulators (swarm size)", min=1))
    total_steps: int = field(
        default=5_000_000, metadata=doc("env steps of the whole run, summed over envs", min=1)
    )
    batch_size: int = field(
        default=32, metadata=doc("replayed sequences per learner update", min=1)
    )
    model_size: str = field(
        default="large",
        metadata=doc("network preset (daddy.networks.MODEL_CONFIGS)", choices=MODEL_SIZES),
    )
    log_interval: int = field(
        default=5000, metadata=doc("env steps between structured terminal log lines", min=1)
    )
    save_interval: int = field(
        default=100_000, metadata=doc("env steps between on-disk checkpoints", min=1)
    )
    video_interval: int = field(
        default=0, metadata=doc("env steps between MP4/GIF eval rollouts; 0 turns them off", min=0)
    )
    rom: str = field(
        default=PRACTICE_ROM,
        metadata=doc(
            "'practice' (built-in cartridge) or a Pokemon Red ROM path; "
            "${VAR} is expanded (e.g. ${DADDY_ROM})"
        ),
    )
    allow_unknown_rom: bool = field(
        default=False, metadata=doc("accept a ROM whose SHA-1 is not Pokemon Red's")
    )
    seed: int = field(
        default=0, metadata=doc("seed of envs, networks, replay sampling and exploration", min=0)
    )
    device: str = field(
        default="auto",
        metadata=doc("torch device; auto = cuda when available, else cpu", choices=DEVICES),
    )
    until_step: int | None = field(
        default=None,
        metadata=doc(
            "end this segment at this env step with a checkpoint "
            "(the pipeline sets it per segment)",
            min=1,
        ),
    )
    replay_ratio: float = field(
        default=1.0,
        metadata=doc(
            "trained (replayed) env steps per collected env step; sets "
            "how often the learner updates",
            above=0,
        ),
    )
    learning_starts: int = field(
        default=10_000, metadata=doc("env steps collected before the first update", min=0)
    )
    lr: float = field(default=1e-4, metadata=doc("Adam learning rate", above=0))
    gamma: float = field(default=0.99, metadata=doc("discount factor", min=0, max=1))
    n_step: int = field(
        default=5, metadata=doc("rewards summed before bootstrapping; 1 = the seed's TD(0)", min=1)
    )
    seq_len: int = field(
        default=60, metadata=doc("steps per replayed sequence, burn-in included", min=2)
    )
    burn_in: int = field(
        default=20,
        metadata=doc("leading steps of a sequence that only warm the recurrent state up", min=0),
    )
    target_update_interval: int = field(
        default=250, metadata=doc("learner updates between target-network syncs", min=1)
    )
    eps_start: float = field(
        default=1.0, metadata=doc("exploration epsilon at step 0", min=0, max=1)
    )
    eps_end: float = field(
        default=0.05, metadata=doc("exploration epsilon after the decay", min=0, max=1)
    )
    eps_decay_steps: int = field(
        default=1_000_000, metadata=doc("env steps over which epsilon goes start -> end", min=1)
    )
    eps_schedule: str = field(
        default="linear", metadata=doc("shape of the epsilon decay", choices=EPS_SCHEDULES)
    )
    explore_envs: float = field(
        default=0.25,
        metadata=doc(
            "share of envs that always act at random (epsilon 1): Go-Explore's explore phase "
            "from each spawn state, kept after epsilon has decayed",
            min=0,
            max=1,
        ),
    )
    replay_memory_mb: int = field(
        default=2048, metadata=doc("replay buffer budget in MiB; capacity follows from it", min=1)
    )
    value_rescale: bool = field(
        default=True, metadata=doc("R2D2 value rescaling h(x) of TD targets")
    )
    max_episode_steps: int = field(
        default=2048, metadata=doc("env steps before an episode is truncated", min=1)
    )
    beta_rnd: float = field(
        default=0.02, metadata=doc("weight of the RND curiosity reward in r_total", min=0)
    )
    beta_novel: float = field(
        default=0.05, metadata=doc("weight of the episodic novelty reward in r_total", min=0)
    )
    beta_bayes: float = field(
        default=1.0, metadata=doc("weight of the Bayesian milestone shaping in r_total", min=0)
    )
    curriculum_early: float = field(
        default=0.45, metadata=doc("target share of spawns from early-game savestates", min=0)
    )
    curriculum_mid: float = field(
        default=0.35, metadata=doc("target share of spawns from mid-game savestates", min=0)
    )
    curriculum_late: float = field(
        default=0.20, metadata=doc("target share of spawns from late-game savestates", min=0)
    )
    keep_checkpoints: int = field(
        default=3, metadata=doc("complete checkpoints kept on disk; older ones are pruned", min=1)
    )
    curriculum: dict = field(
        default_factory=dict,
        metadata=doc("extra CurriculumConfig settings (YAML `curriculum:` block)", cli=False),
    )
    intrinsic: dict = field(
        default_factory=dict,
        metadata=doc("extra IntrinsicConfig settings (YAML `intrinsic:` block)", cli=False),
    )

    @property
    def curriculum_mixture(self) -> dict[str, float]:
        """The early/mid/late spawn mixture as CurriculumConfig.mixture wants it."""
        return {
            "early": self.curriculum_early,
            "mid": self.curriculum_mid,
            "late": self.curriculum_late,
        }

    def to_dict(self) -> dict[str, Any]:
        """Plain data, e.g. to save the resolved config into the run folder."""
        return asdict(self)

    def agent_config(self) -> Any:
        """daddy.agent.actor.AgentConfig from these options (trace = seq_len - burn_in)."""
        from daddy.agent.actor import AgentConfig  # lazy: torch is slow to import

        trace = self.seq_len - self.burn_in
        return AgentConfig(
            gamma=self.gamma,
            n_step=self.n_step,
            burn_in=self.burn_in,
            trace_len=trace,
            period=max(1, trace // 2),
            lr=self.lr,
            batch_size=self.batch_size,
            target_sync_every=self.target_update_interval,
            value_rescaling=self.value_rescale,
            epsilon_kind=self.eps_schedule,
            epsilon_start=self.eps_start,
            epsilon_end=self.eps_end,
            epsilon_decay_steps=self.eps_decay_steps,
        )

    def curriculum_config(self) -> Any:
        """daddy.swarm.curriculum.CurriculumConfig: the `curriculum:` block plus the mixture."""
        from daddy.swarm.curriculum import CurriculumConfig

        return CurriculumConfig.from_dict({**self.curriculum, "mixture": self.curriculum_mixture})

    def intrinsic_config(self) -> Any:
        """daddy.intrinsic.rewards.IntrinsicConfig: the `intrinsic:` block plus the three betas."""
        from daddy.intrinsic.rewards import IntrinsicConfig  # lazy: imports torch

        betas = {
            "beta_rnd": self.beta_rnd,
            "beta_novel": self.beta_novel,
            "beta_bayes": self.beta_bayes,
        }
        return IntrinsicConfig.from_dict({**self.intrinsic, **betas})


# --- pipeline settings ---------------------------------------------------------------------
@dataclass(frozen=True)
class StageResources:
    """SLURM resources of one pipeline stage."""

    partition: str | None = field(
        default=None, metadata=doc("SLURM partition; null = the profile's / cluster default")
    )
    time_min: int = field(default=60, metadata=doc("wall-clock limit of one job, minutes", min=1))
    mem_mb: int = field(default=4096, metadata=doc("memory per job, MiB", min=1))
    cpus: int = field(default=1, metadata=doc("CPUs per task", min=1))
    gpus: int = field(default=0, metadata=doc("GPUs per node", min=0))
    account: str | None = field(
        default=None, metadata=doc("SLURM account; null = your default association")
    )


DEFAULT_RESOURCES: dict[str, StageResources] = {
    "bootstrap": StageResources(time_min=30, mem_mb=4096, cpus=1),
    "train": StageResources(time_min=240, mem_mb=16384, cpus=8),
    "eval": StageResources(time_min=60, mem_mb=8192, cpus=2),
    "report": StageResources(time_min=30, mem_mb=4096, cpus=1),
}


@dataclass(frozen=True)
class PipelineConfig:
    """How Snakemake splits the run into segments and what each stage asks SLURM for."""

    segments: int = field(
        default=1, metadata=doc("training segments (one SLURM job chain each)", min=1)
    )
    steps_per_segment: int | None = field(
        default=None,
        metadata=doc("env steps per segment; null = total_steps / segments, rounded up", min=1),
    )
    eval_episodes: int = field(default=1, metadata=doc("evaluation rollouts after training", min=1))
    slurm_max_num_timeout: int = field(
        default=10,
        metadata=doc(
            "times a segment job may be requeued after a timeout or preemption signal", min=0
        ),
    )
    signal_delay_s: int = field(
        default=90,
        metadata=doc(
            "seconds before the time limit SLURM sends USR2 (the trainer checkpoints in them)",
            min=10,
        ),
    )
    executor: str = field(
        default="auto",
        metadata=doc(
            "segment jobs: slurm, local, or auto (as Snakemake runs: --profile slurm -> slurm, "
            "--cores -> local; run directly: slurm when srun exists)",
            choices=EXECUTORS,
        ),
    )
    resources: dict = field(
        default_factory=dict,
        metadata=doc("per-stage SLURM resources: bootstrap, train, eval, report", cli=False),
    )

    def stage(self, name: str) -> StageResources:
        """Resources of `name` (defaults fill what the YAML leaves out)."""
        return self.resources.get(name, DEFAULT_RESOURCES[name])


@dataclass(frozen=True)
class RunConfig:
    """One `runs/<run>.yaml`: the run's id, its train_big options and its pipeline."""

    run_name: str
    train: TrainConfig
    pipeline: PipelineConfig
    path: Path | None = None

    @property
    def steps_per_segment(self) -> int:
        sps = self.pipeline.steps_per_segment
        return sps if sps is not None else -(-self.train.total_steps // self.pipeline.segments)

    def until_step(self, segment: int) -> int:
        """Env step at which segment `segment` (1-based) ends."""
        if not 1 <= segment <= self.pipeline.segments:
            raise ValueError(
                f"run {self.run_name} has segments 1..{self.pipeline.segments}, not {segment}"
            )
        return min(segment * self.steps_per_segment, self.train.total_steps)


# --- checking values -----------------------------------------------------------------------
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _base_type(hint: Any) -> tuple[type, bool]:
    """(int|float|str|bool|dict, optional?) of a field's annotation."""
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        return args[0], True
    return hint, False


def _type_name(t: type) -> str:
    return {
        int: "an integer",
        float: "a number",
        str: "text",
        bool: "true or false",
        dict: "a mapping",
    }[t]


def _number(value: Any) -> Any:
    """YAML 1.1 reads `1e-4` and `5e6` (no dot) as text; take such text as the number it means."""
    if isinstance(value, str) and _NUMBER_TEXT.match(value.strip()):
        return float(value.replace("_", ""))
    return value


def _coerce(value: Any, t: type, optional: bool) -> tuple[Any, str | None]:
    """The value as type `t`, or a problem description."""
    if value is None:
        return (None, None) if optional else (None, f"needs {_type_name(t)}, got null")
    wrong = (None, f"needs {_type_name(t)}, got {value!r}")
    if t in (int, float):
        value = _number(value)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return wrong
        if t is float:
            return float(value), None
        return (int(value), None) if float(value).is_integer() else wrong
    if t is dict:
        return (dict(value), None) if isinstance(value, Mapping) else wrong
    return (value, None) if isinstance(value, t) else wrong


def _check_range(value: Any, meta: Mapping[str, Any]) -> str | None:
    """The field's range/choice problem with `value`, or None."""
    if value is None:
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return f"must be a finite number, got {value}"
    if "choices" in meta and value not in meta["choices"]:
        return f"must be one of {', '.join(meta['choices'])}, got {value!r}"
    if "min" in meta and value < meta["min"]:
        return f"must be >= {meta['min']}, got {value}"
    if "above" in meta and value <= meta["above"]:
        return f"must be > {meta['above']}, got {value}"
    if "max" in meta and value > meta["max"]:
        return f"must be <= {meta['max']}, got {value}"
    return None


def _unknown_key(key: str, known: list[str], where: str) -> str:
    """'unknown key' with the likeliest intended one."""
    guess = difflib.get_close_matches(key.replace("-", "_"), known, n=1, cutoff=0.6)
    hint = f"; did you mean {guess[0]!r}?" if guess else f"; known: {', '.join(known)}"
    return f"{where}{key!r} is not a known setting{hint}"


def _expand_env(value: str, environ: Mapping[str, str]) -> tuple[str, str | None]:
    """${VAR} references replaced from the environment, or a problem naming the unset one."""
    missing = [m for m in _ENV_REF.findall(value) if not environ.get(m)]
    if missing:
        var = missing[0]
        what = "/path/to/pokemon_red.gb" if var == ROM_ENV else "..."
        return (
            value,
            f"uses ${{{var}}}, but environment variable {var} is not set; export {var}={what}",
        )
    return _ENV_REF.sub(lambda m: environ[m.group(1)], value), None


def _build(
    cls: type,
    raw: Mapping[str, Any],
    where: str,
    problems: list[str],
    environ: Mapping[str, str],
    skip: tuple[str, ...] = (),
) -> dict[str, Any]:
    """Checked keyword arguments of dataclass `cls` from `raw`; problems are appended."""
    hints = _hints(cls)
    known = [f.name for f in fields(cls) if f.name not in skip]
    out: dict[str, Any] = {}
    for key, value in raw.items():
        key = str(key)
        if key not in known:
            problems.append(_unknown_key(key, known, where))
            continue
        t, optional = _base_type(hints[key])
        value, problem = _coerce(value, t, optional)
        if problem is None and isinstance(value, str):
            value, problem = _expand_env(value, environ)
        meta = next(f.metadata for f in fields(cls) if f.name == key)
        problem = problem or _check_range(value, meta)
        if problem:
            problems.append(f"{where}{key} {problem}")
        else:
            out[key] = value
    return out


def _cross_checks(t: TrainConfig) -> list[str]:
    """Problems that involve more than one train option."""
    problems = []
    if t.burn_in >= t.seq_len:
        problems.append(
            f"train.burn_in ({t.burn_in}) must be smaller than train.seq_len "
            f"({t.seq_len}); the rest of a sequence is what gets trained"
        )
    if t.eps_end > t.eps_start:
        problems.append(
            f"train.eps_end ({t.eps_end}) must not exceed train.eps_start ({t.eps_start})"
        )
    if t.eps_schedule == "exponential" and t.eps_end <= 0:
        problems.append("train.eps_end must be > 0 with eps_schedule exponential (it is geometric)")
    if t.curriculum_early + t.curriculum_mid + t.curriculum_late <= 0:
        problems.append("train.curriculum_early/mid/late are all 0; give at least one a share")
    if t.until_step is not None and t.until_step > t.total_steps:
        problems.append(
            f"train.until_step ({t.until_step}) is beyond train.total_steps ({t.total_steps})"
        )
    if t.run_name is None:
        problems.append(
            "train.run_name is missing; pass --run-name NAME or --config runs/NAME.yaml"
        )
    elif not _RUN_NAME.match(t.run_name):
        problems.append(
            f"run_name {t.run_name!r} must start with a letter and hold only "
            f"letters, digits and _ (it names folders and a Snakemake rule)"
        )
    if t.rom != PRACTICE_ROM and not Path(t.rom).is_file():
        problems.append(
            f"train.rom {t.rom!r} is not a file; give the path of your Pokemon Red "
            f"ROM (or 'practice' for the built-in cartridge)"
        )
    return problems


def _check_blocks(t: TrainConfig, problems: list[str]) -> None:
    """The optional curriculum:/intrinsic: blocks, checked by their own config classes."""
    if "mixture" in t.curriculum:
        problems.append("curriculum.mixture: set the shares with train.curriculum_early/mid/late")
    for beta in ("beta_rnd", "beta_novel", "beta_bayes"):
        if beta in t.intrinsic:
            problems.append(f"intrinsic.{beta}: set it as train.{beta}")
    checks = (
        ("curriculum", t.curriculum, t.curriculum_config),
        ("intrinsic", t.intrinsic, t.intrinsic_config),
    )
    for name, block, build in checks:
        if block and not any(p.startswith(f"{name}.") for p in problems):
            try:
                build()
            except (ValueError, TypeError) as e:
                problems.append(f"{name}: {e}")


def _pipeline_checks(run: RunConfig) -> list[str]:
    p, t, sps = run.pipeline, run.train, run.steps_per_segment
    covered = p.segments * sps
    if covered < t.total_steps:
        need = -(-t.total_steps // p.segments)
        msg = (
            f"pipeline: {p.segments} segments x {sps} steps = {covered} < train.total_steps "
            f"{t.total_steps}; set steps_per_segment: {need} (or null)"
        )
        return [msg]
    if (p.segments - 1) * sps >= t.total_steps:
        msg = (
            f"pipeline: segment {p.segments} would start at or after train.total_steps "
            f"{t.total_steps}; lower segments or steps_per_segment"
        )
        return [msg]
    return []


# --- loading -------------------------------------------------------------------------------
def _read_yaml(path: Path) -> Any:
    try:
        text = path.read_text()
    except FileNotFoundError:
        others = sorted(p.stem for p in path.parent.glob("*.yaml")) if path.parent.is_dir() else []
        hint = f" (configs there: {', '.join(others)})" if others else ""
        raise ConfigError(str(path), [f"no such run config{hint}"]) from None
    except OSError as e:
        raise ConfigError(str(path), [f"cannot read it: {e.strerror}"]) from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        what = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise ConfigError(str(path), [f"is not valid YAML{at}: {what}"]) from None


def _section(doc: Mapping[str, Any], key: str, problems: list[str]) -> dict[str, Any]:
    value = doc.get(key) or {}
    if not isinstance(value, Mapping):
        problems.append(f"{key}: needs a mapping of settings, got {value!r}")
        return {}
    return dict(value)


def load_run_config(
    path: str | os.PathLike[str],
    *,
    overrides: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
) -> RunConfig:
    """Read and validate `runs/<run>.yaml`; `overrides` (train options) win over the file.

    Raises ConfigError listing every problem, one line each.
    """
    path = Path(path)
    environ = os.environ if environ is None else environ
    doc = _read_yaml(path)
    if doc is None:
        doc = {}
    if not isinstance(doc, Mapping):
        raise ConfigError(str(path), ["must be a mapping with run_name, train and pipeline"])
    problems: list[str] = []
    for key in doc:
        if key not in TOP_LEVEL_KEYS:
            problems.append(_unknown_key(str(key), list(TOP_LEVEL_KEYS), ""))
    run_name = _check_run_name(doc.get("run_name"), path, problems)
    train_raw = _section(doc, "train", problems)
    yaml_name = train_raw.pop("run_name", run_name)
    if yaml_name != run_name:
        problems.append(
            f"train.run_name {yaml_name!r} differs from run_name {run_name!r}; "
            "keep only the top-level run_name"
        )
    train_raw["run_name"] = run_name
    train_raw.update(overrides or {})
    for block in ("curriculum", "intrinsic"):
        train_raw[block] = _section(doc, block, problems)
    train = _make(TrainConfig, train_raw, "train.", problems, environ)
    pipeline = _make_pipeline(_section(doc, "pipeline", problems), problems, environ)
    if train is not None:
        problems.extend(_cross_checks(train))
        _check_blocks(train, problems)
    if train is None or pipeline is None or problems:
        raise ConfigError(str(path), problems or ["invalid"])
    run = RunConfig(run_name=str(train.run_name), train=train, pipeline=pipeline, path=path)
    problems.extend(_pipeline_checks(run))
    if problems:
        raise ConfigError(str(path), problems)
    return run


def _check_run_name(name: Any, path: Path, problems: list[str]) -> str:
    if name is None:
        problems.append(f"run_name is missing; add `run_name: {path.stem}` at the top")
        return path.stem
    if not isinstance(name, str) or not _RUN_NAME.match(name):
        problems.append(
            f"run_name {name!r} must start with a letter and hold only letters, "
            "digits and _ (it names folders and a Snakemake rule)"
        )
        return str(name)
    if name in RESERVED_RUN_NAMES:
        problems.append(f"run_name {name!r} is the name of a pipeline rule; choose another")
    if name != path.stem:
        problems.append(
            f"run_name {name!r} must match the file name; rename the file to "
            f"{name}.yaml or set run_name: {path.stem}"
        )
    return name


def _make(
    cls: type, raw: Mapping[str, Any], where: str, problems: list[str], environ: Mapping[str, str]
) -> Any:
    before = len(problems)
    kwargs = _build(cls, raw, where, problems, environ)
    return cls(**kwargs) if len(problems) == before else None


def _make_pipeline(
    raw: dict[str, Any], problems: list[str], environ: Mapping[str, str]
) -> PipelineConfig | None:
    before = len(problems)
    res_raw = raw.pop("resources", None) or {}
    resources: dict[str, StageResources] = {}
    if not isinstance(res_raw, Mapping):
        problems.append(f"pipeline.resources needs a mapping of stages, got {res_raw!r}")
        res_raw = {}
    for stage, spec in res_raw.items():
        if stage not in STAGES:
            problems.append(_unknown_key(str(stage), list(STAGES), "pipeline.resources."))
            continue
        if not isinstance(spec, Mapping):
            problems.append(f"pipeline.resources.{stage} needs a mapping, got {spec!r}")
            continue
        base = asdict(DEFAULT_RESOURCES[stage])
        kwargs = _build(StageResources, spec, f"pipeline.resources.{stage}.", problems, environ)
        resources[stage] = StageResources(**{**base, **kwargs})
    kwargs = _build(PipelineConfig, raw, "pipeline.", problems, environ, skip=("resources",))
    if len(problems) > before:
        return None
    full = {s: resources.get(s, DEFAULT_RESOURCES[s]) for s in STAGES}
    return PipelineConfig(**kwargs, resources=full)


def make_train_config(
    values: Mapping[str, Any], source: str = "options", environ: Mapping[str, str] | None = None
) -> TrainConfig:
    """TrainConfig from defaults ← `values`, with the same checks as a run config."""
    environ = os.environ if environ is None else environ
    problems: list[str] = []
    train = _make(TrainConfig, values, "", problems, environ)
    if train is not None:
        problems.extend(p.replace("train.", "") for p in _cross_checks(train))
        _check_blocks(train, problems)
    if problems:
        raise ConfigError(source, problems)
    return train


# --- command line --------------------------------------------------------------------------
def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _arg_type(t: type, meta: Mapping[str, Any]) -> Any:
    """An argparse `type=` that parses and range-checks one value."""

    def parse(text: str) -> Any:
        value: Any = text
        if t in (int, float):
            try:
                value = int(text.replace("_", ""))
            except ValueError:
                try:
                    value = float(text)
                except ValueError:
                    value = text
        value, problem = _coerce(value, t, False)
        problem = problem or _check_range(value, meta)
        if problem:
            raise argparse.ArgumentTypeError(problem)
        return value

    parse.__name__ = t.__name__  # argparse names the type in its messages
    return parse


def train_fields() -> list[Field[Any]]:
    """TrainConfig fields that are command-line options."""
    return [f for f in fields(TrainConfig) if f.metadata.get("cli", True)]


def build_parser(prog: str = "python -m daddy.train_big") -> argparse.ArgumentParser:
    """The train_big argument parser; only flags given on the command line land in the result."""
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Train Daddy: swarming envs from curriculum savestates, resumable.",
        argument_default=argparse.SUPPRESS,
    )
    parser.add_argument(
        "--config",
        metavar="runs/NAME.yaml",
        help="run config; its train: values replace the defaults, flags win",
    )
    hints = _hints(TrainConfig)
    for f in train_fields():
        t, _ = _base_type(hints[f.name])
        default = f.default if f.default is not MISSING else None
        help_text = f"{f.metadata['help']} (default: {default})"
        if t is bool:
            parser.add_argument(
                _flag(f.name), dest=f.name, action=argparse.BooleanOptionalAction, help=help_text
            )
            continue
        kwargs: dict[str, Any] = {"dest": f.name, "help": help_text, "metavar": f.name.upper()}
        if "choices" in f.metadata:
            kwargs.update(choices=f.metadata["choices"], metavar=None)
        else:
            kwargs["type"] = _arg_type(t, f.metadata)
        parser.add_argument(_flag(f.name), **kwargs)
    return parser


def resolve(args: argparse.Namespace, environ: Mapping[str, str] | None = None) -> TrainConfig:
    """defaults ← YAML (`--config`) ← the flags given on the command line."""
    explicit = {f.name: getattr(args, f.name) for f in train_fields() if hasattr(args, f.name)}
    config = getattr(args, "config", None)
    if config:
        return load_run_config(config, overrides=explicit, environ=environ).train
    return make_train_config(explicit, source="train_big", environ=environ)


def parse_train_args(argv: list[str] | None = None) -> TrainConfig:
    """train_big's whole option handling: parse, resolve, and exit 2 with a clear line on error."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return resolve(args)
    except ConfigError as e:
        parser.error(str(e))
        raise  # pragma: no cover  (parser.error exits)


def main(argv: list[str] | None = None) -> int:
    """`python -m daddy.config runs/x.yaml ...`: validate run configs, one line each."""
    for p in (sys.argv[1:] if argv is None else argv):
        try:
            load_run_config(p)
        except ConfigError as err:
            print(err, file=sys.stderr)
            return 1
        print(f"{p}: ok")
    return 0
