"""Run configs and train_big options: seed defaults, one clear line per problem, precedence."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from daddy.run.cli import build_parser, main, parse_train_args, resolve, train_fields
from daddy.run.config import ConfigError, TrainConfig, checkpoint_settings, load_run_config
from tests.rom_util import fake_rom, practice_file

REPO = Path(__file__).resolve().parents[1]
MINIMAL = "run_name: exp\ntrain:\n  num_envs: 2\n"


def write(tmp_path: Path, text: str, name: str = "exp") -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(text)
    return path


@pytest.fixture(autouse=True)
def no_daddy_rom(monkeypatch: pytest.MonkeyPatch) -> None:
    """The tests set $DADDY_ROM themselves (through `environ` or monkeypatch)."""
    monkeypatch.delenv("DADDY_ROM", raising=False)


@pytest.fixture
def rom_file(tmp_path: Path) -> Path:
    """A usable ROM file: the practice cartridge as `daddy.cart build` writes it."""
    return practice_file(tmp_path / "red.gb")


def test_defaults_are_the_seeds() -> None:
    t = TrainConfig()
    assert (t.num_envs, t.model_size, t.total_steps, t.rom) == (32, "large", 5_000_000, "practice")
    assert all(info.description for info in TrainConfig.model_fields.values())
    assert (t.runs_root, t.states_root, t.start_over) == ("runs", "savestates", False)


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
        ("run_name: exp\ntrain: {model_size: huge}\n", "train.model_size must be one of slim, large, slim_gru, got 'huge'"),
        ("run_name: exp\ntrain: {gamma: 1.5}\n", "train.gamma must be <= 1, got 1.5"),
        ("run_name: exp\ntrain: {lr: 0}\n", "train.lr must be > 0, got 0"),
        ("run_name: exp\ntrain: {burn_in: 60, seq_len: 60}\n", "train.burn_in (60) must be smaller than seq_len (60)"),
        ("run_name: exp\ntrain: {eps_start: 0.1, eps_end: 0.5}\n", "train.eps_end (0.5) must not exceed eps_start (0.1)"),
        ("run_name: exp\ntrain: {curriculum_early: 0, curriculum_mid: 0, curriculum_late: 0}\n", "are all 0"),
        ("run_name: exp\ntrain: {rom: /no/such/red.gb}\n", "train.rom: ROM file /no/such/red.gb does not exist"),
        ("train: {}\n", "run_name is missing; add `run_name: exp` at the top"),
        ("run_name: other\n", "run_name 'other' must match the file name"),
        ("run_name: exp\npipeline: {resources: {trian: {}}}\n", "pipeline.resources.'trian' is not a known setting; did you mean 'train'?"),
        ("run_name: exp\npipeline: {resources: {train: {gpus: -1}}}\n", "pipeline.resources.train.gpus must be >= 0, got -1"),
        ("run_name: exp\npipeline: {executor: pbs}\n", "pipeline.executor must be one of auto, slurm, local"),
        ("run_name: exp\ntrain: {total_steps: 100}\npipeline: {segments: 2, steps_per_segment: 10}\n", "2 segments x 10 steps = 20 < train.total_steps 100; set steps_per_segment: 50"),
        ("run_name: exp\ntrain: {total_steps: 100}\npipeline: {segments: 3, steps_per_segment: 50}\n", "segment 3 would start at or after train.total_steps 100"),
        ("run_name: exp\ncurriculum: {mixture: {early: 1}}\n", "set the shares with train.curriculum_early/mid/late"),
        ("run_name: exp\ncurriculum: {migration_fraction: 2}\n", "curriculum: migration_fraction must be in [0, 1]"),
        ("run_name: exp\ncurriculum: {migraton: false}\n", "curriculum.'migraton' is not a known setting; did you mean 'migration'?"),
        ("run_name: exp\ntrain: {eps_schedule: exponential, eps_end: 0}\n", "train.eps_end must be > 0 with eps_schedule exponential"),
        ("run_name: exp\ntrain: {total_steps: 10, until_step: 20}\n", "train.until_step (20) is beyond total_steps (10)"),
        ("run_name: exp\ntrain: {lr: .inf}\n", "train.lr must be a finite number"),
        ("run_name: exp\ntrain: {eps_zeta: 1.0}\n", "train.eps_zeta must be 0 (off) or > 1"),
        ("run_name: exp\ntrain: {munchausen: 1.0}\n", "train.munchausen must be < 1"),
        ("run_name: exp\ntrain: {num_envs: true}\n", "train.num_envs needs an integer, got True"),
        ("run_name: exp\ntrain: {rom: '${NO_SUCH_VAR_X}'}\n", "train.rom uses ${NO_SUCH_VAR_X}, but environment variable NO_SUCH_VAR_X is not set"),
        ("run_name: exp\npipeline: {resources: {train: 3}}\n", "pipeline.resources.train needs a mapping, got 3"),
        ("run_name: bootstrap\n", "run_name 'bootstrap' is the name of a pipeline rule"),
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


def test_env_vars_are_expanded(tmp_path: Path, rom_file: Path) -> None:
    text = "run_name: exp\ntrain: {rom: '${MY_ROM}'}\npipeline: {resources: {train: {partition: '${PART}'}}}\n"
    run = load_run_config(write(tmp_path, text), environ={"MY_ROM": str(rom_file), "PART": "gpu"})
    assert run.train.rom == str(rom_file) and run.pipeline.stage("train").partition == "gpu"


def test_config_command_says_ok_or_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = write(tmp_path, MINIMAL)
    bad = write(tmp_path, "run_name: bad\ntrain: {num_env: 4}\n", "bad")
    assert main([str(good)]) == 0
    assert capsys.readouterr().out == f"{good}: ok (the practice cartridge)\n"
    assert main([str(bad)]) == 2
    err = capsys.readouterr().err
    unknown = "train.'num_env' is not a known setting; did you mean 'num_envs'?"
    assert err == f"daddy.config: error: {bad}: {unknown}\n"
    cmd = [sys.executable, "-m", "daddy.config", str(bad)]
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, check=False)
    assert out.returncode == 2 and out.stderr.startswith("daddy.config: error: ")


# --- command line ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--num-envs", "0"], "argument --num-envs: must be >= 1, got 0"),
        (["--total-steps", "-1"], "argument --total-steps: must be >= 1, got -1"),
        (["--batch-size", "0"], "argument --batch-size: must be >= 1, got 0"),
        (["--model-size", "huge"], "argument --model-size: must be one of slim, large, slim_gru, got 'huge'"),
        (["--gamma", "1.5"], "argument --gamma: must be <= 1, got 1.5"),
        (["--lr", "fast"], "argument --lr: needs a number, got 'fast'"),
        (["--eps-schedule", "cosine"], "argument --eps-schedule: must be one of linear, exponential"),
        (["--device", "tpu"], "argument --device: must be one of auto, cpu, cuda, got 'tpu'"),
        (["--rom", "/no/such.gb"], "argument --rom: ROM file /no/such.gb does not exist"),
        (["--rom", "${NO_SUCH_VAR_X}"], "argument --rom: uses ${NO_SUCH_VAR_X}"),
        (["--num-envs"], "argument --num-envs: expected one argument"),
        (["--num-env", "4"], "unknown option --num-env; did you mean --num-envs?"),
        (["--num-env=4"], "unknown option --num-env; did you mean --num-envs?"),
        (["--run-name", "x", "extra"], "unexpected argument 'extra'"),
        (["--num-envs", "4"], "run_name is missing; pass --run-name NAME"),
        (["--run-name", "x y"], "argument --run-name: 'x y' must start with a letter"),
        (["--run-name", "x", "--burn-in", "9", "--seq-len", "9"], "burn_in (9) must be smaller"),
        (["--config", "nope/x.yaml"], "nope/x.yaml: no such run config"),
    ],
)  # fmt: skip
def test_cli_errors_are_one_line_exit_2_without_usage(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as e:
        parse_train_args(argv, environ={})
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("daddy.train_big: error: "), err
    assert message in err and "usage" not in err


def test_bad_yaml_through_the_cli_is_one_line(tmp_path: Path, capsys) -> None:
    path = write(tmp_path, "run_name: exp\ntrain: {num_envs: 0, batch_size: x}\n")
    with pytest.raises(SystemExit) as e:
        parse_train_args(["--config", str(path)])
    err = capsys.readouterr().err
    assert e.value.code == 2 and err.count("\n") == 1
    assert err == (f"daddy.train_big: error: {path}: train.num_envs must be >= 1, got 0; "
                   "train.batch_size needs an integer, got 'x'\n")  # fmt: skip


def test_help_lists_every_option_with_its_docstring(capsys) -> None:
    with pytest.raises(SystemExit) as e:
        parse_train_args(["--help"])
    out = capsys.readouterr().out
    assert e.value.code == 0
    for name in train_fields():
        assert "--" + name.replace("_", "-") in out
    assert "move the old episode log aside" in out and "--runs-root" in out


def _other_value(name: str, info, rom_file: Path) -> tuple[list[str], object]:
    """Flag words setting option `name` to a valid non-default value, and that value."""
    flag = "--" + name.replace("_", "-")
    if info.annotation is bool:
        return ([flag] if not info.default else ["--no-" + flag[2:]]), not info.default
    choices = getattr(info.annotation, "__args__", ())
    if all(isinstance(c, str) for c in choices) and choices:
        value = next(c for c in choices if c != info.default)
        return [flag, value], value
    value = {"run_name": "other", "rom": str(rom_file), "seq_len": 70, "runs_root": "r",
             "states_root": "s", "eps_zeta": 2.0}.get(name)  # fmt: skip
    if value is None:
        value = 0.5 if info.annotation is float else 7
    return [flag, str(value)], value


@pytest.mark.parametrize("name", list(train_fields()))
def test_every_option_has_a_working_flag(name: str, rom_file: Path) -> None:
    info = train_fields()[name]
    argv, value = _other_value(name, info, rom_file)
    cfg = parse_train_args(["--run-name", "x", *argv])
    assert value != info.default and getattr(cfg, name) == value


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
    assert vars(build_parser().parse_args(["--seed", "3"])) == {"seed": "3"}


# --- resuming from a checkpoint's settings ----------------------------------------------------
def fake_checkpoint(
    runs_root: Path, run: str, step: int, config: dict, complete: bool = True
) -> Path:
    """runs_root/run/checkpoints/step_N/ as CheckpointManager writes it: meta.json, COMPLETE."""
    folder = runs_root / run / "checkpoints" / f"step_{step}"
    folder.mkdir(parents=True)
    meta = {"format_version": 1, "step": step, "created": "", "parts": [], "config": config}
    (folder / "meta.json").write_text(json.dumps(meta))
    if complete:
        (folder / "COMPLETE").write_text(f"step_{step}\n")
    return folder


@pytest.fixture
def saved_run(tmp_path: Path) -> Path:
    """A run 'exp' whose newest complete checkpoint was trained with non-default settings."""
    saved = TrainConfig(run_name="exp", num_envs=4, model_size="slim", seq_len=24, burn_in=8,
                        until_step=500, curriculum={"migration": False}).to_dict()  # fmt: skip
    fake_checkpoint(tmp_path / "runs", "exp", 100, {**saved, "num_envs": 2})
    fake_checkpoint(tmp_path / "runs", "exp", 500, {**saved, "retired_option": 1})
    fake_checkpoint(tmp_path / "runs", "exp", 900, {**saved, "num_envs": 16}, complete=False)
    return tmp_path / "runs"


def test_run_name_alone_resumes_with_the_checkpoints_settings(saved_run: Path) -> None:
    cfg = parse_train_args(["--run-name", "exp", "--runs-root", str(saved_run)])
    assert (cfg.num_envs, cfg.model_size, cfg.seq_len, cfg.burn_in) == (4, "slim", 24, 8)
    assert cfg.curriculum == {"migration": False} and cfg.runs_root == str(saved_run)
    assert cfg.until_step is None  # per-invocation options are not taken over


def test_checkpoint_settings_sit_under_yaml_and_flags(saved_run: Path, tmp_path: Path) -> None:
    path = write(tmp_path, f"run_name: exp\ntrain: {{runs_root: {saved_run}, model_size: large}}\n")
    cfg = parse_train_args(["--config", str(path), "--seq-len", "30"])
    assert (cfg.num_envs, cfg.model_size, cfg.seq_len, cfg.burn_in) == (4, "large", 30, 8)


def test_no_checkpoint_means_no_base_layer(tmp_path: Path) -> None:
    assert checkpoint_settings(tmp_path / "runs" / "exp") == {}
    cfg = parse_train_args(["--run-name", "exp", "--runs-root", str(tmp_path / "runs")])
    assert cfg.num_envs == TrainConfig().num_envs


def test_a_checkpoint_with_a_bad_saved_value_is_one_line(tmp_path: Path, capsys) -> None:
    fake_checkpoint(tmp_path, "exp", 10, {"num_envs": 0})
    with pytest.raises(SystemExit) as e:
        parse_train_args(["--run-name", "exp", "--runs-root", str(tmp_path)])
    err = capsys.readouterr().err
    assert e.value.code == 2 and err == "daddy.train_big: error: num_envs must be >= 1, got 0\n"


def test_component_configs_share_the_options_names() -> None:
    cfg = TrainConfig(
        run_name="x",
        seq_len=30,
        burn_in=10,
        eps_schedule="exponential",
        target_update_interval=77,
        adam_eps=1e-6,
        curriculum_late=0.0,
        beta_rnd=0.5,
        curriculum={"migration": False},
    )
    agent = cfg.agent_config()
    assert (agent.burn_in, agent.seq_len, agent.trace_len, agent.period) == (10, 30, 20, 10)
    assert (agent.eps_schedule, agent.target_update_interval) == ("exponential", 77)
    assert agent.adam_eps == 1e-6 and TrainConfig(run_name="x").agent_config().adam_eps == 1e-8
    cur = cfg.curriculum_config()
    assert cur.mixture == {"early": 0.45, "mid": 0.35, "late": 0.0} and cur.migration is False
    assert cfg.intrinsic_config().beta_rnd == 0.5


# --- the ROM: one rule, checked before anything runs ------------------------------------------
def test_daddy_rom_reaches_train_big_without_a_config(rom_file: Path) -> None:
    """The issue's case: DADDY_ROM=... python -m daddy.train_big --run-name x ran the practice
    cartridge; the variable is the ROM unless --rom says otherwise."""
    env = {"DADDY_ROM": str(rom_file)}
    assert parse_train_args(["--run-name", "x"], environ=env).rom == str(rom_file)
    assert parse_train_args(["--run-name", "x", "--rom", "practice"], environ=env).rom == "practice"
    assert parse_train_args(["--run-name", "x"], environ={}).rom == "practice"


@pytest.mark.parametrize(
    ("yaml_rom", "env", "flag", "want"),
    [
        ("practice", None, None, "practice"),
        ("practice", "ENV", None, "ENV"),
        ("practice", "ENV", "FLAG", "FLAG"),
        (None, None, None, "practice"),
        ("${DADDY_ROM}", "ENV", None, "ENV"),
    ],
    ids=["yaml", "env-beats-yaml", "flag-beats-env", "default", "yaml-names-the-variable"],
)
def test_flag_beats_daddy_rom_beats_the_yaml(
    tmp_path: Path, yaml_rom: str | None, env: str | None, flag: str | None, want: str
) -> None:
    files = {"ENV": str(practice_file(tmp_path / "env.gb")),
             "FLAG": str(practice_file(tmp_path / "flag.gb"))}  # fmt: skip
    rom_line = f"  rom: '{yaml_rom}'\n" if yaml_rom else ""
    path = write(tmp_path, f"run_name: exp\ntrain:\n  num_envs: 2\n{rom_line}")
    environ = {"DADDY_ROM": files[env]} if env else {}
    argv = ["--config", str(path), *(["--rom", files[flag]] if flag else [])]
    assert parse_train_args(argv, environ=environ).rom == files.get(want, want)
    assert load_run_config(path, environ=environ).train.rom == files.get(env, yaml_rom or "practice")


def put(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


@pytest.mark.parametrize(
    ("make", "needle"),
    [
        (lambda d: d / "none.gb", "does not exist"),
        (lambda d: put(d / "empty.gb", b""), "is empty (0 bytes)"),
        (lambda d: fake_rom(d / "red.gb"), "--allow-unknown-rom"),
        (lambda d: put(d / "cut.gb", b"\x00" * 20_000), "not a Game Boy ROM"),
        (lambda d: put(d / "x.gb", b"\x01" * 0x8000), "header checksum"),
    ],
    ids=["missing", "empty", "wrong-hash", "truncated", "not-a-rom"],
)  # fmt: skip
def test_daddy_config_checks_the_rom_of_big_run_01(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, make,
    needle: str,
) -> None:  # fmt: skip
    rom = make(tmp_path)
    monkeypatch.setenv("DADDY_ROM", str(rom))
    assert main([str(REPO / "runs/big_run_01.yaml")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("daddy.config: error: ")
    assert "big_run_01.yaml: $DADDY_ROM: " in err and needle in err and str(rom) in err


def test_daddy_config_says_which_rom_a_good_config_runs(
    rom_file: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DADDY_ROM", str(rom_file))
    assert main([str(REPO / "runs/big_run_01.yaml")]) == 0
    assert capsys.readouterr().out.endswith("big_run_01.yaml: ok (the practice cartridge)\n")


def test_a_checkpoint_rom_is_the_fallback_and_another_rom_is_refused_by_name(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    red = fake_rom(tmp_path / "red.gb")
    saved = TrainConfig(run_name="exp", rom=str(red), allow_unknown_rom=True).to_dict()
    fake_checkpoint(tmp_path / "runs", "exp", 100, saved)
    base = ["--run-name", "exp", "--runs-root", str(tmp_path / "runs")]
    assert parse_train_args(base, environ={}).rom == str(red)  # nothing set: the checkpoint's
    with pytest.raises(SystemExit) as e:
        parse_train_args([*base, "--rom", "practice"], environ={})
    err = capsys.readouterr().err
    assert e.value.code == 2 and err.count("\n") == 1
    assert f"the run's checkpoint was trained on the ROM at {red}" in err
    assert "the ROM set now is the practice cartridge" in err and f"pass --rom {red}" in err
    assert "delete" not in err


def test_savestates_of_another_rom_stop_train_big_with_both_names(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The issue's message was 'the running ROM is 69e4…; … delete savestates/<run>'."""
    from daddy.game.rom import POKEMON_RED_SHA1
    from daddy.swarm.state_index import StateIndex

    StateIndex.create(tmp_path / "savestates" / "x", "x", POKEMON_RED_SHA1)
    argv = ["--run-name", "x", "--states-root", str(tmp_path / "savestates")]
    with pytest.raises(SystemExit) as e:
        parse_train_args(argv, environ={})
    err = capsys.readouterr().err
    assert e.value.code == 2 and err.count("\n") == 1
    assert (f"{tmp_path / 'savestates' / 'x'} was made with Pokémon Red (UE), but the ROM set "
            "now is the practice cartridge; pass --rom /path/to/pokemon_red.gb") in err  # fmt: skip
    assert "delete" not in err and "69e4" not in err
