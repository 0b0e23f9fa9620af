"""Run configs and train_big options: seed defaults, one clear line per problem, precedence."""

from __future__ import annotations

import argparse
from dataclasses import fields
from pathlib import Path

import pytest

from daddy.run.config import (
    ConfigError,
    TrainConfig,
    build_parser,
    load_run_config,
    parse_train_args,
    resolve,
    train_fields,
)

REPO = Path(__file__).resolve().parents[1]
MINIMAL = "run_name: exp\ntrain:\n  num_envs: 2\n"


def write(tmp_path: Path, text: str, name: str = "exp") -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(text)
    return path


@pytest.fixture
def rom_file(tmp_path: Path) -> Path:
    rom = tmp_path / "red.gb"
    rom.write_bytes(b"\0" * 16)
    return rom


def test_defaults_are_the_seeds() -> None:
    t = TrainConfig()
    assert (t.num_envs, t.model_size, t.total_steps, t.rom) == (32, "large", 5_000_000, "practice")
    assert all(f.metadata["help"] for f in fields(TrainConfig))


def test_big_run_01_is_the_seeds_big_run(rom_file: Path) -> None:
    run = load_run_config(REPO / "runs/big_run_01.yaml", environ={"DADDY_ROM": str(rom_file)})
    t = run.train
    assert (t.num_envs, t.total_steps, t.model_size) == (32, 5_000_000, "large")
    assert (t.log_interval, t.save_interval, t.video_interval) == (5000, 100_000, 250_000)
    assert t.rom == str(rom_file)
    assert run.until_step(run.pipeline.segments) == 5_000_000


def test_big_run_01_without_daddy_rom_says_to_export_it() -> None:
    with pytest.raises(ConfigError) as e:
        load_run_config(REPO / "runs/big_run_01.yaml", environ={})
    (problem,) = e.value.problems
    assert problem == (
        "train.rom uses ${DADDY_ROM}, but environment variable DADDY_ROM is not set; "
        "export DADDY_ROM=/path/to/pokemon_red.gb"
    )


def test_demo_is_small_and_on_the_practice_cartridge() -> None:
    run = load_run_config(REPO / "runs/demo.yaml", environ={})
    assert run.train.rom == "practice" and run.train.model_size == "slim"
    assert 2 <= run.train.num_envs <= 4 and run.pipeline.segments == 2
    assert [run.until_step(k) for k in (1, 2)] == [8000, run.train.total_steps]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("run_name: exp\ntrain: {num_env: 4}\n", "train.'num_env' is not a known setting; did you mean 'num_envs'?"),
        ("run_name: exp\ntrain: {num-envs: 4}\n", "did you mean 'num_envs'?"),
        ("run_name: exp\npipline: {}\n", "'pipline' is not a known setting; did you mean 'pipeline'?"),
        ("run_name: exp\ntrain: {num_envs: four}\n", "train.num_envs needs an integer, got 'four'"),
        ("run_name: exp\ntrain: {num_envs: 2.5}\n", "train.num_envs needs an integer, got 2.5"),
        ("run_name: exp\ntrain: {value_rescale: 1}\n", "train.value_rescale needs true or false"),
        ("run_name: exp\ntrain: {num_envs: 0}\n", "train.num_envs must be >= 1, got 0"),
        ("run_name: exp\ntrain: {total_steps: -1}\n", "train.total_steps must be >= 1, got -1"),
        ("run_name: exp\ntrain: {model_size: huge}\n", "train.model_size must be one of slim, large, got 'huge'"),
        ("run_name: exp\ntrain: {gamma: 1.5}\n", "train.gamma must be <= 1, got 1.5"),
        ("run_name: exp\ntrain: {lr: 0}\n", "train.lr must be > 0, got 0.0"),
        ("run_name: exp\ntrain: {burn_in: 60, seq_len: 60}\n", "train.burn_in (60) must be smaller than train.seq_len (60)"),
        ("run_name: exp\ntrain: {eps_start: 0.1, eps_end: 0.5}\n", "train.eps_end (0.5) must not exceed train.eps_start (0.1)"),
        ("run_name: exp\ntrain: {curriculum_early: 0, curriculum_mid: 0, curriculum_late: 0}\n", "are all 0"),
        ("run_name: exp\ntrain: {rom: /no/such/red.gb}\n", "train.rom '/no/such/red.gb' is not a file"),
        ("train: {}\n", "run_name is missing; add `run_name: exp` at the top"),
        ("run_name: other\n", "run_name 'other' must match the file name"),
        ("run_name: exp\npipeline: {resources: {trian: {}}}\n", "pipeline.resources.'trian' is not a known setting; did you mean 'train'?"),
        ("run_name: exp\npipeline: {resources: {train: {gpus: -1}}}\n", "pipeline.resources.train.gpus must be >= 0, got -1"),
        ("run_name: exp\npipeline: {executor: pbs}\n", "pipeline.executor must be one of auto, slurm, local"),
        ("run_name: exp\ntrain: {total_steps: 100}\npipeline: {segments: 2, steps_per_segment: 10}\n", "2 segments x 10 steps = 20 < train.total_steps 100; set steps_per_segment: 50"),
        ("run_name: exp\ntrain: {total_steps: 100}\npipeline: {segments: 3, steps_per_segment: 50}\n", "segment 3 would start at or after train.total_steps 100"),
        ("run_name: exp\ncurriculum: {mixture: {early: 1}}\n", "set the shares with train.curriculum_early/mid/late"),
        ("run_name: exp\ncurriculum: {migration_fraction: 2}\n", "curriculum: migration_fraction must be in [0, 1]"),
        ("run_name: exp\nintrinsic: {beta_rnd: 2}\n", "intrinsic.beta_rnd: set it as train.beta_rnd"),
        ("run_name: exp\ntrain: [1, 2]\n", "train: needs a mapping of settings"),
        ("run_name: exp\ntrain:\n  num_envs: 2\n num_envs: 3\n", "is not valid YAML at line"),
        ("- just\n- a list\n", "must be a mapping with run_name, train and pipeline"),
    ],
)  # fmt: skip
def test_bad_config_gets_one_clear_line(tmp_path: Path, text: str, expected: str) -> None:
    with pytest.raises(ConfigError) as e:
        load_run_config(write(tmp_path, text), environ={})
    assert len(e.value.problems) == 1, e.value.problems
    assert expected in e.value.problems[0]
    assert "\n" not in e.value.problems[0]


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    text = "run_name: exp\ntrain: {num_envs: 0, batch_size: x, modle_size: slim}\npipeline: {segments: 0}\n"
    with pytest.raises(ConfigError) as e:
        load_run_config(write(tmp_path, text), environ={})
    assert len(e.value.problems) == 4
    assert str(e.value).count("\n  - ") == 4


def test_missing_file_lists_the_runs_there(tmp_path: Path) -> None:
    write(tmp_path, MINIMAL)
    with pytest.raises(ConfigError, match=r"no such run config \(configs there: exp\)"):
        load_run_config(tmp_path / "nope.yaml")


def test_yaml_numbers_written_as_text_are_numbers(tmp_path: Path) -> None:
    text = "run_name: exp\ntrain: {total_steps: 5e6, lr: 1e-4, save_interval: 100_000}\n"
    t = load_run_config(write(tmp_path, text), environ={}).train
    assert (t.total_steps, t.lr, t.save_interval) == (5_000_000, 1e-4, 100_000)


def test_steps_per_segment_defaults_to_an_even_split(tmp_path: Path) -> None:
    text = "run_name: exp\ntrain: {total_steps: 1000}\npipeline: {segments: 3}\n"
    run = load_run_config(write(tmp_path, text), environ={})
    assert [run.until_step(k) for k in (1, 2, 3)] == [334, 668, 1000]
    with pytest.raises(ValueError, match="segments 1..3, not 4"):
        run.until_step(4)


def test_stage_resources_fill_in_defaults(tmp_path: Path) -> None:
    text = "run_name: exp\npipeline: {resources: {train: {gpus: 2, partition: gpu}}}\n"
    p = load_run_config(write(tmp_path, text), environ={}).pipeline
    assert (p.stage("train").gpus, p.stage("train").partition) == (2, "gpu")
    assert p.stage("train").time_min == 240 and p.stage("eval").cpus == 2


# --- command line ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--num-envs", "0"], "argument --num-envs: must be >= 1, got 0"),
        (["--total-steps", "-1"], "argument --total-steps: must be >= 1, got -1"),
        (["--batch-size", "0"], "argument --batch-size: must be >= 1, got 0"),
        (["--model-size", "huge"], "argument --model-size: invalid choice: 'huge'"),
        (["--gamma", "1.5"], "argument --gamma: must be <= 1, got 1.5"),
        (["--lr", "fast"], "argument --lr: needs a number, got 'fast'"),
        (["--eps-schedule", "cosine"], "argument --eps-schedule: invalid choice"),
        (["--device", "tpu"], "argument --device: invalid choice"),
        (["--num-envs", "4"], "run_name is missing; pass --run-name NAME"),
        (["--run-name", "x", "--burn-in", "9", "--seq-len", "9"], "burn_in (9) must be smaller"),
    ],
)
def test_impossible_flags_are_argparse_errors(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as e:
        parse_train_args(argv)
    assert e.value.code == 2
    assert message in capsys.readouterr().err


def _other_value(f, rom_file: Path) -> tuple[list[str], object]:
    """Flag words setting option `f` to a valid non-default value, and that value."""
    flag = "--" + f.name.replace("_", "-")
    if f.type == "bool":
        return ([flag] if not f.default else ["--no-" + flag[2:]]), not f.default
    if "choices" in f.metadata:
        value = next(c for c in f.metadata["choices"] if c != f.default)
        return [flag, value], value
    value = {"run_name": "other", "rom": str(rom_file), "seq_len": 70}.get(f.name)
    if value is None:
        value = 0.5 if f.type == "float" else 7
    return [flag, str(value)], value


@pytest.mark.parametrize("f", train_fields(), ids=lambda f: f.name)
def test_every_option_has_a_working_flag(f, rom_file: Path) -> None:
    argv, value = _other_value(f, rom_file)
    cfg = parse_train_args(["--run-name", "x", *argv])
    assert value != f.default and getattr(cfg, f.name) == value


def test_flags_beat_yaml_which_beats_defaults(tmp_path: Path) -> None:
    path = write(tmp_path, "run_name: exp\ntrain: {num_envs: 4, batch_size: 16}\n")
    cfg = parse_train_args(["--config", str(path), "--num-envs", "8", "--until-step", "100"])
    assert (cfg.num_envs, cfg.batch_size, cfg.until_step) == (8, 16, 100)
    assert cfg.log_interval == TrainConfig().log_interval and cfg.run_name == "exp"


def test_rom_flag_replaces_an_unset_daddy_rom() -> None:
    args = build_parser().parse_args(
        ["--config", str(REPO / "runs/big_run_01.yaml"), "--rom", "practice"]
    )
    assert resolve(args, environ={}).rom == "practice"


def test_only_given_flags_reach_resolve() -> None:
    args = build_parser().parse_args(["--seed", "3"])
    assert vars(args) == {"seed": 3}
    assert isinstance(args, argparse.Namespace)


def test_component_configs_follow_the_options() -> None:
    cfg = TrainConfig(
        run_name="x",
        seq_len=30,
        burn_in=10,
        eps_schedule="exponential",
        curriculum_late=0.0,
        beta_rnd=0.5,
        curriculum={"migration": False},
    )
    agent = cfg.agent_config()
    assert (agent.burn_in, agent.trace_len, agent.epsilon_kind) == (10, 20, "exponential")
    cur = cfg.curriculum_config()
    assert cur.mixture == {"early": 0.45, "mid": 0.35, "late": 0.0} and cur.migration is False
    assert cfg.intrinsic_config().beta_rnd == 0.5
