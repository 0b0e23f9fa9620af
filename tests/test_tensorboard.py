"""TensorBoard scalars: the trainer's event files read back (EventAccumulator) carry the
CleanRL-style tags, the settings, and one point per step across resumes — a resume from an
earlier checkpoint hides what the killed process logged past it instead of showing it twice."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from daddy.run.cli import parse_train_args
from daddy.run.exit_codes import EXIT_BAD_INPUT, EXIT_OK
from daddy.run.paths import RunPaths
from daddy.run.tensorboard import (
    SETTINGS_TAG,
    ScalarLog,
    episode_scalars,
    open_scalar_log,
    purge_step,
)

TINY = [
    "--run-name", "r", "--num-envs", "2", "--model-size", "slim", "--batch-size", "4",
    "--seq-len", "12", "--burn-in", "4", "--n-step", "2", "--replay-memory-mb", "8",
    "--max-episode-steps", "60", "--learning-starts", "100", "--log-interval", "100",
    "--save-interval", "200", "--device", "cpu", "--seed", "1", "--total-steps", "400",
]  # fmt: skip
TAGS = [
    "charts/episodic_return", "charts/episodic_length", "charts/SPS", "charts/epsilon",
    "losses/td_loss", "losses/q_values", "rewards/r_env", "rewards/r_rnd", "rewards/r_novel",
    "rewards/r_bayes", "curriculum/spawn_early", "milestones/got_starter_posterior",
    "replay/fill", "learner/updates", "system/cpu_percent", "system/rss_gb",
    "policy/greedy_entropy", "policy/random_share", "policy/off_argmax_share", "policy/q_spread",
    "policy/greedy_up",
]  # fmt: skip


def train(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    out = subprocess.run([sys.executable, "-m", "daddy.train_big", *TINY, *args], cwd=cwd,
                         capture_output=True, text=True, timeout=600, check=False)  # fmt: skip
    assert out.returncode == EXIT_OK, out.stdout[-2000:] + out.stderr[-2000:]
    return out


def events(folder: Path) -> EventAccumulator:
    acc = EventAccumulator(str(folder), size_guidance={"scalars": 0, "tensors": 0})
    acc.Reload()
    return acc


def steps(acc: EventAccumulator, tag: str) -> list[int]:
    return [e.step for e in acc.Scalars(tag)]


@pytest.fixture(scope="module")
def resumed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A run stopped at its step-200 checkpoint, then resumed to 400 by a second process."""
    cwd = tmp_path_factory.mktemp("tb")
    train(cwd, "--until-step", "200")
    train(cwd)
    return cwd


def test_scalars_carry_the_namespaced_tags_and_settings(resumed: Path) -> None:
    acc = events(RunPaths("r", resumed / "runs").tensorboard)
    assert set(TAGS) <= set(acc.Tags()["scalars"])
    assert steps(acc, "charts/SPS") == [100, 200, 300, 400]  # x = global env step
    assert f"{SETTINGS_TAG}/text_summary" in acc.Tags()["tensors"]
    text = acc.Tensors(f"{SETTINGS_TAG}/text_summary")[0].tensor_proto.string_val[0].decode()
    assert "num_envs: 2" in text and "log_interval: 100" in text
    assert "_hparams_/session_start_info" in acc.PluginTagToContent("hparams")


def test_a_resume_over_logged_points_shows_each_step_once(resumed: Path, tmp_path: Path) -> None:
    """Checkpoint step_400 lost: the killed process's points past step 200 must not double."""
    shutil.copytree(resumed / "runs", tmp_path / "runs")
    shutil.copytree(resumed / "savestates", tmp_path / "savestates")
    paths = RunPaths("r", tmp_path / "runs")
    shutil.rmtree(paths.checkpoint(400))
    train(tmp_path)
    acc = events(paths.tensorboard)
    assert len(list(paths.tensorboard.glob("events.out.tfevents.*"))) == 3  # three processes
    for tag in acc.Tags()["scalars"]:
        xs = steps(acc, tag)
        assert np.all(np.diff(xs) > 0), f"{tag}: steps {xs} repeat or go back"
    assert steps(acc, "charts/SPS") == [100, 200, 300, 400]


def test_purge_hides_points_past_the_resumed_step(tmp_path: Path) -> None:
    first = ScalarLog(tmp_path, start_step=0)
    for step in range(1, 6):
        first.log({"charts/x": step, "charts/nothing_yet": float("nan")}, step)
    first.close()
    again = ScalarLog(tmp_path, start_step=3)  # resumed from a checkpoint at step 3
    for step in range(4, 7):
        again.log({"charts/x": 10 * step}, step)
    again.close()
    acc = events(tmp_path)
    assert [(e.step, e.value) for e in acc.Scalars("charts/x")] == [
        (1, 1), (2, 2), (3, 3), (4, 40), (5, 50), (6, 60)]  # fmt: skip
    assert "charts/nothing_yet" not in acc.Tags()["scalars"]  # NaN ('-') is no point
    assert purge_step(0) == 0 and purge_step(3) == 4


def test_episodes_ending_on_one_step_become_one_mean_point() -> None:
    class R:  # the EpisodeRecord fields episode_scalars reads
        def __init__(self, ret: float, length: int) -> None:
            self.return_env, self.length, self.return_total = ret, length, ret
            self.cells_visited = self.badges = self.milestones_reached = 0
            self.return_rnd = self.return_novel = self.return_bayes = 0.0

    out = episode_scalars([R(1.0, 10), R(3.0, 30)])
    assert out["charts/episodic_return"] == 2.0 and out["charts/episodic_length"] == 20.0
    assert episode_scalars([]) == {}


@pytest.mark.skipif(importlib.util.find_spec("wandb") is not None, reason="wandb is installed")
def test_wandb_without_the_package_is_one_line_exit_2(tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, "-m", "daddy.train_big", *TINY, "--wandb"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False)  # fmt: skip
    assert out.returncode == EXIT_BAD_INPUT
    assert out.stderr.strip().count("\n") == 0 and "pip install wandb" in out.stderr
    assert not (tmp_path / "runs" / "r" / "tb").exists()


def test_no_tensorboard_writes_no_event_files(tmp_path: Path) -> None:
    cfg = parse_train_args(["--run-name", "r", "--no-tensorboard"])
    scalars = open_scalar_log(cfg, tmp_path / "tb", tmp_path, start_step=0, settings={"a": 1})
    scalars.log({"charts/SPS": 1.0}, 1)
    scalars.close()
    assert not (tmp_path / "tb").exists()


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_unwritable_event_file_turns_scalars_off_not_training(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scalars = ScalarLog(tmp_path / "tb")
    scalars.log({"charts/SPS": 1.0}, 1)
    scalars.flush()
    shutil.rmtree(tmp_path / "tb")  # as a full disk or a lost mount would
    for step in (2, 3):
        scalars.log({"charts/SPS": 1.0}, step)
        scalars.flush()
    scalars.close()
    assert scalars.writer is None
    assert capsys.readouterr().out.count("[WARN] TensorBoard scalars off") == 1
