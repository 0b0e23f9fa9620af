"""The run log `runs/<run>/train.log`: every line the trainer prints, appended across resumes,
plain text; while the live panel shows, the [STEP]/[EP] lines go to the log, not the screen."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest

from daddy.run.exit_codes import EXIT_BAD_INPUT, EXIT_OK
from daddy.run.paths import RunPaths
from daddy.run.run_log import RunLog, plain, screen
from daddy.run.terminal import EpisodeSummary, IntervalStats, Terminal

TINY = [
    "--run-name", "r", "--num-envs", "2", "--model-size", "slim", "--batch-size", "4",
    "--seq-len", "12", "--burn-in", "4", "--n-step", "2", "--replay-memory-mb", "8",
    "--max-episode-steps", "60", "--learning-starts", "100", "--log-interval", "100",
    "--save-interval", "200", "--device", "cpu", "--seed", "1", "--total-steps", "400",
]  # fmt: skip


def train(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "daddy.train_big", *TINY, *args], cwd=cwd,
                          capture_output=True, text=True, timeout=600, check=False)  # fmt: skip


def test_log_holds_both_runs_lines_in_order_and_error_lines(tmp_path: Path) -> None:
    first = train(tmp_path, "--until-step", "200")
    second = train(tmp_path)
    assert first.returncode == second.returncode == EXIT_OK, second.stdout + second.stderr
    refused = train(tmp_path, "--start-over")  # checkpoints exist: one error line, exit 2
    assert refused.returncode == EXIT_BAD_INPUT
    log = RunPaths("r", tmp_path / "runs").train_log.read_text().splitlines()
    printed = (first.stdout + second.stdout).splitlines()
    assert log[: len(printed)] == printed  # every stdout line, as printed, in order
    assert any(line.startswith("[RESUME] r: checkpoint step_200") for line in log)
    assert [line for line in log if line.startswith("[STEP")][-1].startswith("[STEP 400/400")
    assert log[-1] == refused.stderr.strip() and "--start-over" in log[-1]
    assert not any("Traceback" in line for line in log)  # a refusal is its one line


def stats(step: int) -> IntervalStats:
    return IntervalStats(step=step, sps=100.0, epsilon=0.5, episodes_completed=1)


def test_dashboard_sends_step_and_episode_lines_to_the_log_only(tmp_path: Path) -> None:
    lines: list[str] = []
    shown = io.StringIO()
    term = Terminal(1000, 2, stream=shown, is_tty=True, log=lines.append)
    term.interval(stats(100))
    term.episode(EpisodeSummary(episode=1, env_id=0, length=60, return_env=1.0,
                                return_total=2.0, badges=0, map_id=0))  # fmt: skip
    term.close()
    assert [line.split()[0] for line in lines] == ["[PROGRESS", "[STEP", "[EP", "[PROGRESS"]
    assert "[STEP 100/1000" not in shown.getvalue()  # the panel shows it, no scrolling line
    assert not any("\x1b" in line for line in lines)


def test_prints_under_the_live_panel_are_logged_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """rich's panel swaps sys.stdout for its proxy while it shows (only for the real stdout)."""
    fake_stdout = io.StringIO()
    monkeypatch.setattr(sys, "stdout", fake_stdout)
    monkeypatch.setattr(sys, "__stdout__", fake_stdout)
    log = RunLog(tmp_path / "train.log")
    log.capture()
    print("[BOOT] before the panel")
    term = Terminal(1000, 2, stream=screen(), is_tty=True, log=log.write_line)
    log.capture()
    print("[CKPT] step=100")
    term.interval(stats(100))
    term.close()
    print("\x1b[31m[DONE] after the panel\x1b[0m")
    log.close()
    assert sys.stdout is fake_stdout
    lines = (tmp_path / "train.log").read_text().splitlines()
    heads = [line.split()[0] for line in lines]
    assert heads == ["[BOOT]", "[PROGRESS", "[CKPT]", "[STEP", "[PROGRESS", "[DONE]"]
    assert "[CKPT] step=100" in fake_stdout.getvalue()  # and the screen still shows it


def test_log_appends_and_strips_escapes(tmp_path: Path) -> None:
    for text in ("one", "two"):
        with RunLog(tmp_path / "train.log"):
            print(f"\x1b[1m{text}\x1b[0m", end="")  # a last line without its newline
    assert (tmp_path / "train.log").read_text() == "one\ntwo\n"
    assert plain("50%\r\x1b[2K100%") == "100%"


def test_no_log_file_before_the_run_folder_exists(tmp_path: Path) -> None:
    with RunLog(tmp_path / "missing" / "train.log"):
        print("refused before the folder was made")
    assert not (tmp_path / "missing").exists()


def test_a_log_that_cannot_be_written_never_stops_printing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "train.log").mkdir()  # opening it for append fails, as a full disk would
    with RunLog(tmp_path / "train.log") as log:
        print("first")
        print("second")
    assert isinstance(log.failed, OSError)
    out, err = capsys.readouterr()
    assert out == "first\nsecond\n" and err.count("[WARN] run log") == 1
