"""A run folder cannot be mixed up or lost: one trainer per run, no silent overwrite of logged
episodes, a damaged log has a way forward, `--run-name X` alone resumes, honest small runs.
Each trainer is a real subprocess on the practice cartridge, as users and SLURM start it."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from daddy.run.episode_log import read
from daddy.run.exit_codes import EXIT_BAD_INPUT, EXIT_OK, EXIT_STOPPED
from daddy.run.lock import RunLock, RunLockedError
from daddy.run.paths import RunPaths

TINY = [
    "--num-envs", "2", "--model-size", "slim", "--batch-size", "4", "--seq-len", "12",
    "--burn-in", "4", "--n-step", "2", "--replay-memory-mb", "8", "--max-episode-steps", "60",
    "--learning-starts", "100", "--log-interval", "100", "--save-interval", "200",
    "--device", "cpu", "--seed", "1",
]  # fmt: skip


def cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "daddy.train_big", "--run-name", "r", *args]


def train(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(cmd(*args), cwd=cwd, capture_output=True, text=True, timeout=600,
                          check=False)  # fmt: skip


@pytest.fixture(scope="module")
def logged_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 400-step run with logged episodes and checkpoints, copied by each test."""
    cwd = tmp_path_factory.mktemp("logged")
    out = train(cwd, "--total-steps", "400", *TINY)
    assert out.returncode == EXIT_OK, out.stdout[-2000:] + out.stderr[-2000:]
    return cwd


@pytest.fixture
def run(logged_run: Path, tmp_path: Path) -> Path:
    shutil.copytree(logged_run / "runs", tmp_path / "runs")
    shutil.copytree(logged_run / "savestates", tmp_path / "savestates")
    return tmp_path


def test_second_trainer_on_a_run_is_refused_naming_the_holder(run: Path) -> None:
    first = subprocess.Popen(cmd("--total-steps", "100000", *TINY), cwd=run, text=True,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
    try:
        lock = RunPaths("r", run / "runs").lock
        deadline = time.monotonic() + 120
        while not (lock.exists() and lock.read_text().strip()) and time.monotonic() < deadline:
            time.sleep(0.2)
        rows_before = len(read(run / "runs" / "r" / "episodes.h5"))
        second = train(run, "--total-steps", "100000", *TINY)
        assert second.returncode == EXIT_BAD_INPUT
        lines = second.stderr.strip().splitlines()
        assert len(lines) == 1 and f"pid {first.pid}" in lines[0] and "in use" in lines[0]
    finally:
        first.send_signal(signal.SIGTERM)
        out, err = first.communicate(timeout=120)
    assert first.returncode == EXIT_STOPPED, out[-2000:] + err[-2000:]
    assert len(read(run / "runs" / "r" / "episodes.h5")) >= rows_before  # nothing replaced


def test_lock_of_a_killed_holder_is_taken_over(tmp_path: Path) -> None:
    path = tmp_path / "runs" / "r" / "run.lock"
    holder = subprocess.Popen([sys.executable, "-c", (
        "import time; from pathlib import Path; from daddy.run.lock import RunLock\n"
        f"RunLock(Path({str(path)!r}), 'r').acquire(); print('held', flush=True); time.sleep(60)")],
        stdout=subprocess.PIPE, text=True)  # fmt: skip
    assert holder.stdout.readline().strip() == "held"
    with pytest.raises(RunLockedError, match=f"pid {holder.pid}"):
        RunLock(path, "r").acquire()
    holder.kill()  # SIGKILL: no clean-up ran
    holder.wait()
    lock = RunLock(path, "r").acquire()
    assert lock.took_over and lock.took_over["pid"] == holder.pid
    lock.release()
    assert not path.exists()


def test_deleted_checkpoints_never_overwrite_logged_episodes(run: Path) -> None:
    log = run / "runs" / "r" / "episodes.h5"
    before = log.read_bytes()
    shutil.rmtree(run / "runs" / "r" / "checkpoints")
    out = train(run, "--total-steps", "400", *TINY)
    assert out.returncode == EXIT_BAD_INPUT
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "--start-over" in lines[0] and "no checkpoint" in lines[0]
    assert log.read_bytes() == before
    # The explicit way: start over, the old log moved aside, never replaced.
    out = train(run, "--total-steps", "200", "--start-over", *TINY)
    assert out.returncode == EXIT_OK, out.stderr[-2000:]
    aside = list((run / "runs" / "r").glob("episodes.h5.old-*"))
    assert len(aside) == 1 and aside[0].read_bytes() == before


def test_damaged_log_continues_in_a_new_log_keeping_checkpoints(run: Path) -> None:
    folder = run / "runs" / "r"
    rows = len(read(folder / "episodes.h5"))
    with open(folder / "episodes.h5", "r+b") as f:  # a damaged file: the HDF5 superblock gone
        f.write(b"\0" * 512)
    out = train(run, "--total-steps", "600", *TINY)
    assert out.returncode == EXIT_OK, out.stdout[-2000:] + out.stderr[-2000:]
    assert "[LOG]" in out.stdout and "moved it aside" in out.stdout
    assert "[RESUME] r: checkpoint step_400" in out.stdout
    assert len(list(folder.glob("episodes.damaged-*.h5"))) == 1
    df = read(folder / "episodes.h5")
    assert len(df) > 0 and df.index[0] == rows and df.attrs["first_row"] == rows


def test_run_name_alone_resumes_with_the_checkpoint_settings(run: Path) -> None:
    out = train(run, "--total-steps", "600")
    assert out.returncode == EXIT_OK, out.stdout[-2000:] + out.stderr[-2000:]
    assert "[RESUME] r: checkpoint step_400" in out.stdout
    assert "envs=2 " in out.stdout and "model=slim" in out.stdout


def test_small_run_says_it_cannot_learn_or_finish_an_episode(tmp_path: Path) -> None:
    out = train(tmp_path, "--total-steps", "40", *TINY[:-12], "--max-episode-steps", "60",
                "--learning-starts", "1000", "--device", "cpu")  # fmt: skip
    assert out.returncode == EXIT_OK, out.stderr[-2000:]
    warnings = [line for line in out.stdout.splitlines() if line.startswith("[WARN]")]
    assert any("will not be trained" in w for w in warnings)
    assert any("no episode can finish" in w for w in warnings)
    assert "UserWarning" not in out.stderr  # the SDL2 banner is silenced


def test_second_ctrl_c_stops_at_once_without_a_traceback(tmp_path: Path) -> None:
    proc = subprocess.Popen(cmd("--total-steps", "100000", *TINY[:-14], "--replay-memory-mb",
                                "256", "--max-episode-steps", "60"), cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    for line in proc.stdout:  # type: ignore[union-attr]
        if line.startswith("[START]"):
            break
    time.sleep(1.0)
    proc.send_signal(signal.SIGINT)
    for line in proc.stdout:  # type: ignore[union-attr]
        if line.startswith("[SIGNAL]"):
            proc.send_signal(signal.SIGINT)  # while the checkpoint is being written
            break
    out, err = proc.communicate(timeout=120)
    assert "Traceback" not in err
    if proc.returncode == 130:
        assert err.strip().splitlines()[-1].startswith("daddy.train_big: second Ctrl-C")
    else:  # the save won the race: a normal stop
        assert proc.returncode == EXIT_STOPPED, out[-2000:] + err[-2000:]


def test_readme_fault_table_is_docs_faults() -> None:
    """One fault table: the README's reliability section is docs/FAULTS.md, word for word."""
    root = Path(__file__).resolve().parents[1]
    readme = (root / "README.md").read_text()
    section = readme[readme.index("## Reliability"):readme.index("## Learning benchmark")]
    faults = (root / "docs" / "FAULTS.md").read_text()
    assert section.split("\n", 1)[1].strip() == faults.split("\n", 1)[1].replace("\n### ", "\n#### ").strip()
