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
    curriculum: {...}         # optional: extra daddy.swarm.curriculum.CurriculumConfig settings
    intrinsic: {...}          # optional: extra daddy.intrinsic.rewards.IntrinsicConfig settings

`train_big` resolves its options as defaults <- the run's newest complete checkpoint's saved
config <- YAML (`--config`) <- explicit CLI flags (`parse_train_args`). The models below are
validated by pydantic: each field's type, bounds and one-line docstring are the single source
of defaults, checks and `--help`. Every problem becomes one readable line (unknown keys with a
did-you-mean, wrong types, out-of-range values, impossible combinations, missing values), all
collected into one `ConfigError`; on the command line it is one `<command>: error:` line, exit 2.
"""

from __future__ import annotations

import difflib
import os
import re
import sys
import types
import typing
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from daddy.game.rom import (
    FROM_CHECKPOINT,
    FROM_CONFIG,
    FROM_DEFAULT,
    FROM_ENV,
    FROM_FLAG,
    Rom,
    RomChoice,
    RomError,
    check_rom,
    check_same_rom,
    check_same_setting,
    rom_choice,
)
from daddy.run.exit_codes import EXIT_BAD_INPUT

PRACTICE_ROM = "practice"
ROM_ENV = "DADDY_ROM"
TOP_LEVEL_KEYS = ("run_name", "train", "pipeline", "curriculum", "intrinsic")
BLOCKS = ("curriculum", "intrinsic")  # YAML-only blocks checked by their own config classes
# Per-invocation options: not taken over from a checkpoint's saved config.
NOT_INHERITED = frozenset({"until_step", "runs_root", "states_root", "start_over"})
# Run names become Snakemake target rules, so they must be identifiers and not clash with the
# pipeline's own rule names.
RESERVED_RUN_NAMES = frozenset({"all", "bootstrap", "train_segment", "evaluate", "report"})
_RUN_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")
_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_UNSET = object()  # a setting left out (its ${VAR} is unset)
_BAD_RUN_NAME = "must start with a letter and hold only letters, digits and _ (it names folders and a Snakemake rule)"


class ConfigError(ValueError):
    """A run config or option set that cannot be used; one line per problem."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = list(problems)
        head = f"{source}: " if source else ""
        if len(self.problems) == 1:
            text = head + self.problems[0]
        else:
            items = "\n".join(f"  - {p}" for p in self.problems)
            text = f"{head}{len(self.problems)} problems:\n{items}"
        super().__init__(text)

    def one_line(self) -> str:
        """All problems on one line (what a command prints after `<command>: error: `)."""
        return (f"{self.source}: " if self.source else "") + "; ".join(self.problems)


def _numeric(kind: str) -> BeforeValidator:
    """Numbers from text ("5e6", "100_000": YAML 1.1 and the CLI give text); never from bools."""

    def before(value: Any) -> Any:
        if isinstance(value, bool):
            raise PydanticCustomError(f"{kind}_type", "not a number")
        if isinstance(value, str):
            text = value.strip().replace("_", "")
            for parse in (int, float):
                try:
                    return parse(text)
                except ValueError:
                    pass
        return value

    return BeforeValidator(before)


Int = Annotated[int, _numeric("int")]
Float = Annotated[float, _numeric("float")]


class _Settings(BaseModel):
    """Strict, frozen settings; each field's docstring is its help line."""

    model_config = ConfigDict(
        extra="forbid", frozen=True, use_attribute_docstrings=True, allow_inf_nan=False
    )


# --- train_big options ---------------------------------------------------------------------
class TrainConfig(_Settings):
    """Every `python -m daddy.train_big` option, with the seed's defaults."""

    run_name: str | None = None
    """run id: outputs in runs/<run>/, states in savestates/<run>/"""
    num_envs: Int = Field(32, ge=1)
    """parallel emulators (swarm size)"""
    total_steps: Int = Field(5_000_000, ge=1)
    """env steps of the whole run, summed over envs"""
    batch_size: Int = Field(32, ge=1)
    """replayed sequences per learner update"""
    model_size: Literal["slim", "large", "slim_gru"] = "large"
    """network preset (daddy.agent.networks.MODEL_CONFIGS; slim_gru: slim without LSTM and SSM, an ablation)"""
    log_interval: Int = Field(5000, ge=1)
    """env steps between structured terminal log lines"""
    save_interval: Int = Field(100_000, ge=1)
    """env steps between on-disk checkpoints"""
    video_interval: Int = Field(0, ge=0)
    """env steps between MP4/GIF eval rollouts; 0 turns them off"""
    rom: str = PRACTICE_ROM
    """'practice' (the practice cartridge) or a Pokemon Red ROM path; --rom > $DADDY_ROM > train.rom > the run's checkpoint > practice"""
    allow_unknown_rom: StrictBool = False
    """accept a ROM whose SHA-1 is not Pokemon Red's"""
    seed: Int = Field(0, ge=0)
    """seed of envs, networks, replay sampling and exploration"""
    device: Literal["auto", "cpu", "cuda"] = "auto"
    """torch device; auto = cuda when available, else cpu"""
    until_step: Int | None = Field(None, ge=1)
    """end this segment at this env step with a checkpoint (the pipeline sets it per segment)"""
    replay_ratio: Float = Field(1.0, gt=0)
    """trained (replayed) env steps per collected env step; sets how often the learner updates"""
    learning_starts: Int = Field(10_000, ge=0)
    """env steps collected before the first update"""
    lr: Float = Field(1e-4, gt=0)
    """Adam learning rate"""
    adam_eps: Float = Field(1e-8, gt=0)
    """Adam epsilon: well below the gradients (~1e-5 per weight here), or it divides the steps down"""
    gamma: Float = Field(0.99, ge=0, le=1)
    """discount factor"""
    n_step: Int = Field(5, ge=1)
    """rewards summed before bootstrapping; 1 = the seed's TD(0)"""
    seq_len: Int = Field(60, ge=2)
    """steps per replayed sequence, burn-in included"""
    burn_in: Int = Field(20, ge=0)
    """leading steps of a sequence that only warm the recurrent state up"""
    target_update_interval: Int = Field(250, ge=1)
    """learner updates between target-network syncs"""
    eps_start: Float = Field(1.0, ge=0, le=1)
    """exploration epsilon at step 0"""
    eps_end: Float = Field(0.05, ge=0, le=1)
    """exploration epsilon after the decay"""
    eps_decay_steps: Int = Field(1_000_000, ge=1)
    """env steps over which epsilon goes start -> end"""
    eps_schedule: Literal["linear", "exponential"] = "linear"
    """shape of the epsilon decay"""
    act_temperature: Float = Field(0.0, ge=0)
    """non-random steps: 0 = argmax Q; > 0 = sample softmax(z / T) of the Q-values standardised over actions (Boltzmann)"""
    eps_zeta: Float = Field(0.0, ge=0)
    """random actions' duration: 0 = one step; > 1 = held n ~ zeta(mu) steps, mu this value (εz-greedy, Dabney et al. 2021 use 2), at most 100"""
    munchausen: Float = Field(0.0, ge=0, lt=1)
    """Munchausen-DQN targets: 0 = off (double-Q); > 0 = α of the bonus α·τ·log π(a|s) that widens the action gap (Vieillard et al. 2020 use 0.9)"""
    munchausen_tau: Float = Field(0.03, gt=0)
    """temperature τ of Munchausen-DQN's softmax policy, in return units (the paper's 0.03)"""
    explore_envs: Float = Field(0.25, ge=0, le=1)
    """share of envs that always act at random (epsilon 1): Go-Explore's explore phase from each spawn state, kept after epsilon has decayed"""
    replay_memory_mb: Int = Field(2048, ge=1)
    """replay buffer budget in MiB; capacity follows from it"""
    value_rescale: StrictBool = True
    """R2D2 value rescaling h(x) of TD targets"""
    max_episode_steps: Int = Field(2048, ge=1)
    """env steps before an episode is truncated"""
    beta_rnd: Float = Field(0.02, ge=0)
    """weight of the RND curiosity reward in r_total"""
    beta_novel: Float = Field(0.05, ge=0)
    """weight of the episodic novelty reward in r_total"""
    beta_bayes: Float = Field(1.0, ge=0)
    """weight of the Bayesian milestone shaping in r_total"""
    curriculum_early: Float = Field(0.45, ge=0)
    """target share of spawns from early-game savestates"""
    curriculum_mid: Float = Field(0.35, ge=0)
    """target share of spawns from mid-game savestates"""
    curriculum_late: Float = Field(0.20, ge=0)
    """target share of spawns from late-game savestates"""
    curriculum_frontier: Float = Field(0.65, ge=0, le=1)
    """share of spawns from the frontier (the states of the furthest milestones reached, in story order); the rest follow the early/mid/late mixture; 0 = the mixture alone"""
    keep_checkpoints: Int = Field(3, ge=1)
    """complete checkpoints kept on disk; older ones are pruned"""
    tensorboard: StrictBool = True
    """write TensorBoard scalars to runs/<run>/tb (watch with `tensorboard --logdir runs`)"""
    wandb: StrictBool = False
    """also send the scalars to Weights & Biases (needs `pip install wandb`; offline unless WANDB_MODE=online)"""
    runs_root: str = "runs"
    """folder holding the run folders (runs/<run>/: checkpoints, episode log)"""
    states_root: str = "savestates"
    """folder holding the savestate folders (savestates/<run>/)"""
    start_over: StrictBool = False
    """no checkpoint left but the run has logged episodes: move the old episode log aside and start from step 0"""
    curriculum: dict[str, Any] = Field(default_factory=dict, json_schema_extra={"cli": False})
    """extra CurriculumConfig settings (YAML `curriculum:` block)"""
    intrinsic: dict[str, Any] = Field(default_factory=dict, json_schema_extra={"cli": False})
    """extra IntrinsicConfig settings (YAML `intrinsic:` block)"""

    @field_validator("run_name")
    @classmethod
    def _run_name_is_an_identifier(cls, name: str | None) -> str | None:
        if name is not None and not _RUN_NAME.match(name):
            raise ValueError(f"{name!r} {_BAD_RUN_NAME}")
        return name

    @field_validator("eps_zeta")
    @classmethod
    def _zeta_off_or_above_one(cls, zeta: float) -> float:
        from daddy.agent.actor import check_zeta  # lazy: imports torch (only when set)

        check_zeta(zeta, name="")  # pydantic names the setting
        return zeta

    @field_validator("curriculum")
    @classmethod
    def _curriculum_block(cls, block: dict[str, Any]) -> dict[str, Any]:
        if not block:
            return block
        from daddy.swarm.curriculum import CurriculumConfig

        shares = ("curriculum_early", "curriculum_mid", "curriculum_late")
        if "mixture" in block or any(k in block for k in shares):
            raise ValueError(
                "curriculum.mixture: set the shares with train.curriculum_early/mid/late"
            )
        return _check_block("curriculum", block, CurriculumConfig)

    @field_validator("intrinsic")
    @classmethod
    def _intrinsic_block(cls, block: dict[str, Any]) -> dict[str, Any]:
        if not block:
            return block
        from daddy.intrinsic.rewards import IntrinsicConfig  # lazy: imports torch

        for beta in ("beta_rnd", "beta_novel", "beta_bayes"):
            if beta in block:
                raise ValueError(f"intrinsic.{beta}: set it as train.{beta}")
        return _check_block("intrinsic", block, IntrinsicConfig)

    @model_validator(mode="after")
    def _consistent(self) -> TrainConfig:
        """Problems that involve more than one option (one line each)."""
        problems = []
        if self.burn_in >= self.seq_len:
            problems.append(
                f"burn_in ({self.burn_in}) must be smaller than seq_len ({self.seq_len}); "
                "the rest of a sequence is what gets trained"
            )
        if self.eps_end > self.eps_start:
            problems.append(
                f"eps_end ({self.eps_end}) must not exceed eps_start ({self.eps_start})"
            )
        if self.eps_schedule == "exponential" and self.eps_end <= 0:
            problems.append("eps_end must be > 0 with eps_schedule exponential (it is geometric)")
        if self.curriculum_early + self.curriculum_mid + self.curriculum_late <= 0:
            problems.append("curriculum_early/mid/late are all 0; give at least one a share")
        if self.until_step is not None and self.until_step > self.total_steps:
            problems.append(
                f"until_step ({self.until_step}) is beyond total_steps ({self.total_steps})"
            )
        if problems:
            raise ValueError("\n".join(problems))
        return self

    def to_dict(self) -> dict[str, Any]:
        """Plain data, e.g. to save the resolved config into the run folder."""
        return self.model_dump()

    def _shared(self, cls: type) -> dict[str, Any]:
        """This config's values of the fields `cls` shares with it (same name, same meaning)."""
        names = getattr(cls, "__dataclass_fields__", {})
        return {n: getattr(self, n) for n in names if n in TrainConfig.model_fields}

    def agent_config(self) -> Any:
        """daddy.agent.actor.AgentConfig: the shared options; a sequence every half trace."""
        from daddy.agent.actor import AgentConfig  # lazy: torch is slow to import

        return AgentConfig(
            **self._shared(AgentConfig), period=max(1, (self.seq_len - self.burn_in) // 2)
        )

    def curriculum_config(self) -> Any:
        """daddy.swarm.curriculum.CurriculumConfig: the `curriculum:` block plus the shares."""
        from daddy.swarm.curriculum import CurriculumConfig

        return CurriculumConfig.from_dict({**self.curriculum, **self._shared(CurriculumConfig)})

    def intrinsic_config(self) -> Any:
        """daddy.intrinsic.rewards.IntrinsicConfig: the `intrinsic:` block plus the betas; RND's
        random target follows `--seed` unless the block names its own `rnd_seed`, so seeds
        differ in their curiosity as well as in their policy."""
        from daddy.intrinsic.rewards import IntrinsicConfig  # lazy: imports torch

        block = {"rnd_seed": self.seed, **self.intrinsic}
        return IntrinsicConfig.from_dict({**block, **self._shared(IntrinsicConfig)})


def _check_block(name: str, block: dict[str, Any], cls: type) -> dict[str, Any]:
    """A `curriculum:`/`intrinsic:` block checked by its own config class."""
    known = [n for n in cls.__dataclass_fields__ if n not in TrainConfig.model_fields]
    unknown = [_unknown_key(str(k), known, f"{name}.") for k in block if k not in known]
    if unknown:
        raise ValueError("\n".join(unknown))
    try:
        cls.from_dict(block)
    except (ValueError, TypeError) as e:
        raise ValueError(f"{name}: {e}") from None
    return block


# --- pipeline settings ---------------------------------------------------------------------
class StageResources(_Settings):
    """SLURM resources of one pipeline stage."""

    partition: str | None = None
    """SLURM partition; null = the profile's / cluster default"""
    time_min: Int = Field(60, ge=1)
    """wall-clock limit of one job, minutes"""
    mem_mb: Int = Field(4096, ge=1)
    """memory per job, MiB"""
    cpus: Int = Field(1, ge=1)
    """CPUs per task"""
    gpus: Int = Field(0, ge=0)
    """GPUs per node"""
    account: str | None = None
    """SLURM account; null = your default association"""


class Resources(_Settings):
    """Per-stage SLURM resources; a stage's YAML settings replace only what they name."""

    bootstrap: StageResources = StageResources(time_min=30, mem_mb=4096, cpus=1)
    """the savestate bootstrap"""
    train: StageResources = StageResources(time_min=240, mem_mb=16384, cpus=8)
    """one training segment"""
    eval: StageResources = StageResources(time_min=60, mem_mb=8192, cpus=2)
    """the evaluation rollouts"""
    report: StageResources = StageResources(time_min=30, mem_mb=4096, cpus=1)
    """the report"""

    @model_validator(mode="before")
    @classmethod
    def _over_stage_defaults(cls, data: Any) -> Any:
        if not isinstance(data, Mapping):
            return data
        fields = cls.model_fields
        return {
            k: {**fields[k].default.model_dump(), **v}
            if k in fields and isinstance(v, Mapping)
            else v
            for k, v in data.items()
        }


class PipelineConfig(_Settings):
    """How Snakemake splits the run into segments and what each stage asks SLURM for."""

    segments: Int = Field(1, ge=1)
    """training segments (one SLURM job chain each)"""
    steps_per_segment: Int | None = Field(None, ge=1)
    """env steps per segment; null = total_steps / segments, rounded up"""
    eval_episodes: Int = Field(1, ge=1)
    """evaluation rollouts after training"""
    slurm_max_num_timeout: Int = Field(10, ge=0)
    """times a segment job may be requeued after a timeout or preemption signal"""
    signal_delay_s: Int = Field(90, ge=10)
    """seconds before the time limit SLURM sends USR2 (the trainer checkpoints in them)"""
    executor: Literal["auto", "slurm", "local"] = "auto"
    """segment jobs: slurm, local, or auto (as Snakemake runs: --profile slurm -> slurm, --cores -> local; run directly: slurm when srun exists)"""
    resources: Resources = Resources()
    """per-stage SLURM resources: bootstrap, train, eval, report"""

    def stage(self, name: str) -> StageResources:
        """Resources of stage `name` (bootstrap, train, eval or report)."""
        return getattr(self.resources, name)


class RunConfig(_Settings):
    """One `runs/<run>.yaml`: the run's id, its train_big options and its pipeline."""

    run_name: str
    """the run's id (the YAML file's stem)"""
    train: TrainConfig
    """train_big's options"""
    pipeline: PipelineConfig = PipelineConfig()
    """segments and SLURM resources"""
    path: Path | None = None
    """the YAML file it was read from"""

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

    @model_validator(mode="after")
    def _segments_cover_the_run(self) -> RunConfig:
        p, total, sps = self.pipeline, self.train.total_steps, self.steps_per_segment
        if p.segments * sps < total:
            raise ValueError(
                f"pipeline: {p.segments} segments x {sps} steps = {p.segments * sps} < "
                f"train.total_steps {total}; set steps_per_segment: {-(-total // p.segments)} "
                "(or null)"
            )
        if (p.segments - 1) * sps >= total:
            raise ValueError(
                f"pipeline: segment {p.segments} would start at or after train.total_steps "
                f"{total}; lower segments or steps_per_segment"
            )
        return self


# --- problems, one line each ---------------------------------------------------------------
_NEEDS = {
    "int": "needs an integer",
    "float": "needs a number",
    "bool": "needs true or false",
    "string": "needs text",
    "dict": "needs a mapping",
    "model": "needs a mapping",
    "model_attributes": "needs a mapping",
}


def _unknown_key(key: str, known: list[str], where: str) -> str:
    """'unknown key' with the likeliest intended one."""
    guess = difflib.get_close_matches(key.replace("-", "_"), known, n=1, cutoff=0.6)
    hint = f"; did you mean {guess[0]!r}?" if guess else f"; known: {', '.join(known)}"
    return f"{where}{key!r} is not a known setting{hint}"


def _model_at(model: type[BaseModel], loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The settings class at `loc` inside `model`, or None when `loc` ends at a plain value."""
    for part in loc:
        info = model.model_fields.get(part) if isinstance(part, str) else None
        if info is None:
            return None
        hint = info.annotation
        args = typing.get_args(hint) if isinstance(hint, types.UnionType) else (hint,)
        found = [a for a in args if isinstance(a, type) and issubclass(a, BaseModel)]
        if not found:
            return None
        model = found[0]
    return model


def _number(x: Any) -> str:
    return str(int(x)) if isinstance(x, float) and x.is_integer() else str(x)


def _message(err: Mapping[str, Any]) -> str:
    """What is wrong with one value, e.g. 'must be >= 1, got 0'."""
    kind, ctx, got = err["type"], err.get("ctx") or {}, err.get("input")
    bounds = {"greater_than_equal": (">=", "ge"), "greater_than": (">", "gt"),
              "less_than_equal": ("<=", "le"), "less_than": ("<", "lt")}  # fmt: skip
    if kind in bounds:
        op, key = bounds[kind]
        return f"must be {op} {_number(ctx[key])}, got {_number(got)}"
    if kind == "literal_error":
        choices = re.findall(r"'([^']*)'", ctx["expected"])
        return f"must be one of {', '.join(choices)}, got {got!r}"
    if kind == "finite_number":
        return f"must be a finite number, got {got}"
    if kind == "missing":
        return "is missing"
    needs = _NEEDS.get(kind.rsplit("_", 1)[0]) or _NEEDS.get(kind.split("_")[0])
    return f"{needs}, got {got!r}" if needs else err["msg"]


def problems_of(
    errors: list[Any], model: type[BaseModel], where: Callable[[tuple[Any, ...]], str]
) -> list[str]:
    """One line per pydantic error of `model`; `where(loc)` names a value's place
    ('train.num_envs ', 'argument --num-envs: ')."""
    out = []
    for err in errors:
        loc = tuple(err["loc"])
        if err["type"] == "extra_forbidden":
            parent = _model_at(model, loc[:-1])
            known = list(parent.model_fields) if parent else []
            out.append(_unknown_key(str(loc[-1]), known, where(loc[:-1])))
        elif err["type"] == "value_error":
            lines = str(err["ctx"]["error"]).splitlines()
            head = "" if loc and loc[-1] in BLOCKS else where(loc)
            out.extend(head + line for line in lines)
        else:  # a wrong value, even where a block of settings belongs
            out.append(re.sub(r"\.$", " ", where(loc)) + _message(err))
    return out


def yaml_place(model: type[BaseModel]) -> Callable[[tuple[Any, ...]], str]:
    """Places as a run config names them: 'train.num_envs ' for a value, 'train.' for a block."""

    def where(loc: tuple[Any, ...]) -> str:
        name = ".".join(str(p) for p in loc)
        if _model_at(model, loc) is not None:
            return f"{name}." if name else ""
        return f"{name} "

    return where


# --- loading -------------------------------------------------------------------------------
def expand_env(value: Any, environ: Mapping[str, str], where: str, problems: list[str]) -> Any:
    """${VAR} references replaced from the environment; an unset one is a problem, and the
    setting is left out (so it is not reported twice). `where` names the value's place."""
    if isinstance(value, Mapping):
        out = {}
        for k, v in value.items():
            v = expand_env(v, environ, f"{where}.{k}" if where else str(k), problems)
            if v is not _UNSET:
                out[k] = v
        return out
    if not isinstance(value, str):
        return value
    missing = [m for m in _ENV_REF.findall(value) if not environ.get(m)]
    if missing:
        var = missing[0]
        what = "/path/to/pokemon_red.gb" if var == ROM_ENV else "..."
        problems.append(
            f"{where} uses ${{{var}}}, but environment variable {var} is not set; "
            f"export {var}={what}"
        )
        return _UNSET
    return _ENV_REF.sub(lambda m: environ[m.group(1)], value)


def read_yaml(path: Path) -> Any:
    try:
        text = path.read_text()
    except FileNotFoundError:
        others = sorted(p.stem for p in path.parent.glob("*.yaml")) if path.parent.is_dir() else []
        hint = f" (configs there: {', '.join(others)})" if others else ""
        raise ConfigError(str(path), [f"no such run config{hint}"]) from None
    except OSError as e:
        raise ConfigError(str(path), [f"cannot read it: {e.strerror}"]) from None
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        what = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise ConfigError(str(path), [f"is not valid YAML{at}: {what}"]) from None
    if not isinstance(doc, Mapping | None):
        raise ConfigError(str(path), ["must be a mapping with run_name, train and pipeline"])
    return doc or {}


def yaml_section(doc: Mapping[str, Any], key: str, problems: list[str]) -> dict[str, Any]:
    value = doc.get(key) or {}
    if not isinstance(value, Mapping):
        problems.append(f"{key}: needs a mapping of settings, got {value!r}")
        return {}
    return dict(value)


def _check_run_name(name: Any, path: Path, problems: list[str]) -> str:
    if name is None:
        problems.append(f"run_name is missing; add `run_name: {path.stem}` at the top")
    elif not isinstance(name, str) or not _RUN_NAME.match(name):
        problems.append(f"run_name {name!r} {_BAD_RUN_NAME}")
    elif name in RESERVED_RUN_NAMES:
        problems.append(f"run_name {name!r} is the name of a pipeline rule; choose another")
    elif name != path.stem:
        problems.append(
            f"run_name {name!r} must match the file name; rename the file to "
            f"{name}.yaml or set run_name: {path.stem}"
        )
    else:
        return name
    return path.stem


def load_run_config(
    path: str | os.PathLike[str],
    *,
    overrides: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
    base: Mapping[str, Any] | None = None,
) -> RunConfig:
    """Read and validate `runs/<run>.yaml`: train options are defaults <- `base` <- the file's
    <- `overrides`. Raises ConfigError listing every problem, one line each."""
    path = Path(path)
    doc = read_yaml(path)
    problems = [_unknown_key(str(k), list(TOP_LEVEL_KEYS), "") for k in doc
                if k not in TOP_LEVEL_KEYS]  # fmt: skip
    run_name = _check_run_name(doc.get("run_name"), path, problems)
    train = {**(base or {}), **yaml_section(doc, "train", problems)}
    if train.setdefault("run_name", run_name) != run_name:
        problems.append(
            f"train.run_name {train['run_name']!r} differs from run_name {run_name!r}; "
            "keep only the top-level run_name"
        )
    train.update(run_name=run_name, **(overrides or {}))
    yaml_rom = (
        (doc.get("train") or {}).get("rom") if isinstance(doc.get("train"), Mapping) else None
    )
    choice = choose_rom(overrides or {}, yaml_rom, base or {}, environ)
    train["rom"] = choice.spec
    for block in BLOCKS:
        train[block] = {**train.get(block, {}), **yaml_section(doc, block, problems)}
    raw = {"run_name": run_name, "train": train, "pipeline": yaml_section(doc, "pipeline", problems)}
    raw = expand_env(raw, os.environ if environ is None else environ, "", problems)
    problems.extend(rom_problems(raw.get("train", {}), choice))
    try:
        run = RunConfig.model_validate({**raw, "path": path})
    except ValidationError as e:
        problems.extend(problems_of(e.errors(), RunConfig, yaml_place(RunConfig)))
    if problems:
        raise ConfigError(str(path), problems)
    return run


def make_train_config(
    values: Mapping[str, Any],
    source: str = "options",
    environ: Mapping[str, str] | None = None,
    where: Callable[[tuple[Any, ...]], str] | None = None,
    base: Mapping[str, Any] | None = None,
) -> TrainConfig:
    """TrainConfig from defaults <- `base` (a checkpoint's saved config) <- `values`, with the
    same checks as a run config; `values["rom"]` counts as --rom (`choose_rom`)."""
    problems: list[str] = []
    choice = choose_rom(values, None, base or {}, environ)
    values = {**(base or {}), **values, "rom": choice.spec}
    values = expand_env(values, os.environ if environ is None else environ, "", problems)
    problems.extend(rom_problems(values, choice))
    try:
        train = TrainConfig.model_validate(values)
    except ValidationError as e:
        problems.extend(problems_of(e.errors(), TrainConfig, where or yaml_place(TrainConfig)))
    else:
        if train.run_name is None:
            problems.append("run_name is missing; pass --run-name NAME or --config runs/NAME.yaml")
    if problems:
        raise ConfigError(source, problems)
    return train


def checkpoint_settings(run_dir: str | os.PathLike[str]) -> dict[str, Any]:
    """The train options saved with the run's newest complete checkpoint ({} when it has none),
    less the per-invocation ones (NOT_INHERITED) and keys this version does not know."""
    run_dir = Path(run_dir)
    if not (run_dir / "checkpoints").is_dir():
        return {}
    from daddy.run.checkpoint import CheckpointError, CheckpointManager  # lazy: imports torch

    manager = CheckpointManager(run_dir)
    steps = manager.list_complete()
    if not steps:
        return {}
    try:
        saved = manager.read_meta(steps[-1]).get("config") or {}
    except CheckpointError as e:
        raise ConfigError(str(run_dir), [str(e).splitlines()[0]]) from None
    known = set(TrainConfig.model_fields) - NOT_INHERITED
    return {k: v for k, v in saved.items() if k in known}


# --- the ROM -------------------------------------------------------------------------------
_ROM_PLACE = {FROM_FLAG: "argument --rom: ", FROM_ENV: f"${ROM_ENV}: ", FROM_CONFIG: "train.rom: ",
              FROM_CHECKPOINT: "rom of the run's checkpoint: ", FROM_DEFAULT: ""}  # fmt: skip


def choose_rom(
    flags: Mapping[str, Any],
    yaml_rom: Any,
    base: Mapping[str, Any],
    environ: Mapping[str, str] | None,
) -> RomChoice:
    """daddy.game.rom's rule applied to a config's layers: flags, $DADDY_ROM, YAML, checkpoint."""

    def text(v: Any) -> str | None:
        return None if v is None else str(v)

    return rom_choice(text(flags.get("rom")), config=text(yaml_rom),
                      checkpoint=text(base.get("rom")), environ=environ)  # fmt: skip


def rom_problems(train: Mapping[str, Any], choice: RomChoice) -> list[str]:
    """The chosen ROM checked (exists, size, header checksum, SHA-1) before anything runs;
    one line naming where the setting came from."""
    spec = train.get("rom")
    if not isinstance(spec, str):  # unset ${VAR}: reported by expand_env
        return []
    try:
        check_rom(spec, allow_unknown=train.get("allow_unknown_rom") is True)
    except RomError as e:
        return [_ROM_PLACE[choice.source] + str(e)]
    return []


def check_run_rom(
    train: TrainConfig, checkpoint_rom: str | None = None, savestates: bool = True
) -> Rom:
    """A run that has a checkpoint or (with `savestates`) savestates goes on only with the ROM
    they were made with: one line naming both ROMs in words and the --rom to pass
    (ConfigError). Returns the checked ROM."""
    try:
        rom = check_rom(train.rom, allow_unknown=train.allow_unknown_rom)
        check_same_setting(rom, checkpoint_rom)
        index = Path(train.states_root) / str(train.run_name) / "index.json"
        recorded = _index_rom_sha1(index) if savestates else None
        if recorded:
            check_same_rom(rom, recorded, f"{index.parent}", hint=checkpoint_rom)
    except RomError as e:
        raise ConfigError("", [str(e)]) from None
    return rom


def run_rom(
    run: str,
    flag: str | None = None,
    *,
    allow_unknown: bool = False,
    runs_root: str | os.PathLike[str] = "runs",
    states_root: str | os.PathLike[str] = "savestates",
    environ: Mapping[str, str] | None = None,
    checkpoint: Mapping[str, Any] | None = None,
    savestates: bool = True,
) -> Rom:
    """The ROM of `run` for commands that take `--run` (bootstrap, state import, evaluate):
    `--rom` > $DADDY_ROM > runs/<run>.yaml's train.rom > the run's checkpoint > practice,
    checked, and the same as the run's checkpoint and savestates. `checkpoint`: the saved
    config of the checkpoint in use (default: the newest complete one's); `savestates`: check
    the run's savestate index too. Raises ConfigError."""
    if checkpoint is None:
        base = checkpoint_settings(Path(runs_root) / run)
    else:
        known = set(TrainConfig.model_fields) - NOT_INHERITED
        base = {k: v for k, v in checkpoint.items() if k in known}
    over: dict[str, Any] = {"runs_root": str(runs_root), "states_root": str(states_root)}
    if flag:
        over["rom"] = str(flag)
    if allow_unknown:
        over["allow_unknown_rom"] = True
    yaml_path = next((p for p in (Path(runs_root) / f"{run}.yaml", Path("runs") / f"{run}.yaml")
                      if p.is_file()), None)  # fmt: skip
    if yaml_path is not None:
        train = load_run_config(yaml_path, overrides=over, environ=environ, base=base).train
    else:
        choice = choose_rom(over, None, base, environ)
        values = {
            **over,
            "rom": choice.spec,
            "allow_unknown_rom": allow_unknown or base.get("allow_unknown_rom") is True,
        }
        problems = rom_problems(values, choice)
        if problems:
            raise ConfigError("", problems)
        train = TrainConfig.model_construct(run_name=run, **values)
    return check_run_rom(train, base.get("rom"), savestates)


def _index_rom_sha1(path: Path) -> str | None:
    """The ROM hash a savestate index records; None when there is no readable index (a
    damaged one is the trainer's to report)."""
    if not path.is_file():
        return None
    from daddy.swarm.state_index import StateIndex, StateIndexError

    try:
        return StateIndex.load(path.parent).rom_sha1
    except StateIndexError:
        return None


def report(command: str, error: ConfigError) -> int:
    """Print `<command>: error: <problems on one line>` to stderr; the exit code, 2."""
    print(f"{command}: error: {error.one_line()}", file=sys.stderr, flush=True)
    return EXIT_BAD_INPUT
