"""Episode log: HDF5 rows round-trip, SWMR reading while writing, resume without gaps."""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from daddy.game.milestones import DEFAULT_MILESTONES
from daddy.run import episode_log
from daddy.run.episode_log import COLUMNS, EpisodeLogError, EpisodeLogger, read, read_posteriors

NAMES = [m.name for m in DEFAULT_MILESTONES]
M = len(NAMES)


def make_row(i: int, **overrides: Any) -> dict[str, Any]:
    """A full row whose values all derive from the episode number, so readers can check them."""
    row: dict[str, Any] = {
        "episode": i,
        "env_id": i % 7,
        "global_step": 1000 * i,
        "length": 100 + i,
        "return_env": 0.5 * i,
        "return_total": 1.5 * i,
        "return_rnd": 0.25,
        "return_novel": -0.75,
        "return_bayes": 2.0,
        "badges": i % 256,
        "map_id": 0x33,
        "savestate_tag": f"tag{i}",
        "spawn_tier": i % 3,
        "milestones_reached": (1 << (M - 1)) | i,
        "alarm": 1 << 63,
        "cells_visited": 3 * i,
        "epsilon": 0.1,
        "wall_time": 1.7e9 + i,
        "sps": 750.0,
        "alpha": np.full(M, i, np.float32),
        "beta": np.arange(M, dtype=np.float32),
    }
    row.update(overrides)
    return row


def assert_rows_consistent(df: pd.DataFrame) -> None:
    """Every row is whole: its values match its episode number, episodes run 0..n-1."""
    n = len(df)
    np.testing.assert_array_equal(df["episode"], np.arange(n))
    np.testing.assert_array_equal(df["return_env"], 0.5 * np.arange(n))
    np.testing.assert_array_equal(df[f"alpha_{NAMES[0]}"], np.arange(n))
    assert list(df["savestate_tag"]) == [f"tag{i}" for i in range(n)]


def write_forever(path: str, started: Any, stop: Any) -> None:
    """Child process: append rows until told to stop (or killed)."""
    with EpisodeLogger(path, "swmr_run", NAMES) as log:
        i = 0
        while not stop.is_set():
            log.append(make_row(i))
            i += 1
            if i == 1:
                started.set()
            time.sleep(0.002)


@pytest.fixture
def log_path(tmp_path: Path) -> Path:
    return tmp_path / "runs" / "demo" / "episodes.h5"


@pytest.fixture
def writer_process(log_path: Path):
    """A writer appending in another process; yields (process, stop event)."""
    ctx = mp.get_context("spawn")
    started, stop = ctx.Event(), ctx.Event()
    proc = ctx.Process(target=write_forever, args=(str(log_path), started, stop))
    proc.start()
    assert started.wait(60), "writer process did not start"
    yield proc, stop
    stop.set()
    proc.join(10)
    if proc.is_alive():
        proc.kill()
        proc.join()


def test_rows_round_trip_through_hdf5(log_path: Path) -> None:
    with EpisodeLogger(log_path, "demo", NAMES) as log:
        for i in range(5):
            log.append(make_row(i, spawn_tier="late" if i == 4 else i % 3))
        assert log.rows == 5
    df = read(log_path)
    assert_rows_consistent(df)
    assert df["milestones_reached"].dtype == np.uint64
    assert int(df["milestones_reached"][3]) == (1 << (M - 1)) | 3
    assert int(df["alarm"][0]) == 1 << 63
    assert df["spawn_tier"].tolist() == [0, 1, 2, 0, 2]
    assert df["wall_time"].dtype == np.float64 and df["wall_time"][2] == 1.7e9 + 2
    for j, name in enumerate(NAMES):
        np.testing.assert_array_equal(df[f"beta_{name}"], np.full(5, j, np.float32))
    alpha, beta, names = read_posteriors(log_path)
    assert names == NAMES and alpha.shape == beta.shape == (5, M)


@pytest.mark.parametrize("how", ["file", "run folder", "run name"])
def test_read_accepts_file_folder_or_run_name(
    log_path: Path, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    with EpisodeLogger(log_path, "demo", NAMES) as log:
        log.append(make_row(0))
    monkeypatch.chdir(log_path.parent.parent.parent)  # so that runs/demo is the default root
    arg = {"file": log_path, "run folder": log_path.parent, "run name": "demo"}[how]
    assert len(read(arg)) == 1


def test_empty_log_reads_as_empty_frame_with_all_columns(log_path: Path) -> None:
    EpisodeLogger(log_path, "demo", NAMES).close()
    df = read(log_path)
    assert len(df) == 0
    expected = [*COLUMNS, *(f"alpha_{n}" for n in NAMES), *(f"beta_{n}" for n in NAMES)]
    assert list(df.columns) == expected


def test_missing_log_says_no_episodes_yet(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no episodes yet for run ghost: .*start training"):
        read(tmp_path / "ghost" / "episodes.h5")


def test_resume_continues_episode_rows_without_gaps_or_duplicates(log_path: Path) -> None:
    with EpisodeLogger(log_path, "demo", NAMES) as log:
        for i in range(6):
            log.append(make_row(i))
        checkpoint_rows = log.rows  # the checkpoint records this ...
        for i in range(6, 9):  # ... and these rows are lost with the preempted segment
            log.append(make_row(i))
    with EpisodeLogger(log_path, "demo", NAMES, resume_rows=checkpoint_rows) as log:
        assert log.rows == 6
        for i in range(6, 12):
            log.append(make_row(i))
    df = read(log_path)
    assert len(df) == 12
    assert_rows_consistent(df)


def test_reader_in_other_process_sees_growing_consistent_rows(
    log_path: Path, writer_process: tuple[mp.Process, Any]
) -> None:
    counts: list[int] = []
    deadline = time.monotonic() + 60
    while len(set(counts)) < 4 and time.monotonic() < deadline:
        df = read(log_path)
        assert_rows_consistent(df)
        counts.append(len(df))
    assert len(set(counts)) >= 4, f"row count did not grow while the writer ran: {counts}"
    assert counts == sorted(counts)


def test_resume_after_writer_was_killed(
    log_path: Path, writer_process: tuple[mp.Process, Any]
) -> None:
    proc, _ = writer_process
    deadline = time.monotonic() + 60
    while len(read(log_path)) < 20 and time.monotonic() < deadline:
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)
    proc.join()
    assert len(read(log_path)) >= 20  # a killed writer's file stays readable
    with EpisodeLogger(log_path, "demo", NAMES, resume_rows=10) as log:
        for i in range(10, 15):
            log.append(make_row(i))
    df = read(log_path)
    assert len(df) == 15
    assert_rows_consistent(df)


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ({k: v for k, v in make_row(0).items() if k != "sps"}, r"missing keys \['sps'\]"),
        ({**make_row(0), "reward": 1.0}, r"unknown keys \['reward'\]"),
        (make_row(0, badges=300), "'badges'=300 does not fit uint8"),
        (make_row(0, alpha=np.ones(M + 1)), r"'alpha' has shape \(15,\), expected \(14,\)"),
        (make_row(0, savestate_tag="x" * 65), "65 bytes, the log keeps at most 64"),
        (make_row(0, spawn_tier="endgame"), "spawn_tier 'endgame' is not one of"),
    ],
)
def test_bad_row_is_refused_with_reason(log_path: Path, row: dict, message: str) -> None:
    with EpisodeLogger(log_path, "demo", NAMES) as log:
        with pytest.raises(EpisodeLogError, match=message):
            log.append(row)
        assert log.rows == 0
    assert len(read(log_path)) == 0


@pytest.mark.parametrize(
    ("existing_rows", "names", "resume_rows", "message"),
    [
        (3, NAMES, None, "already exists: pass resume_rows"),
        (3, NAMES, 4, "expects 4 episode rows but the file holds only 3"),
        (3, NAMES[:-1], 3, "was written for milestones"),
        (None, NAMES, 5, "the file is missing but the checkpoint expects 5"),
    ],
)
def test_impossible_resume_is_refused_and_keeps_the_log(
    log_path: Path,
    existing_rows: int | None,
    names: list[str],
    resume_rows: int | None,
    message: str,
) -> None:
    if existing_rows is not None:
        with EpisodeLogger(log_path, "demo", NAMES) as log:
            for i in range(existing_rows):
                log.append(make_row(i))
    with pytest.raises(EpisodeLogError, match=message):
        EpisodeLogger(log_path, "demo", names, resume_rows=resume_rows)
    if existing_rows is not None:
        assert_rows_consistent(read(log_path))
        assert len(read(log_path)) == existing_rows


@pytest.mark.parametrize("bad", ["", "..", "a/b"])
def test_run_dir_refuses_names_that_are_not_plain_folders(bad: str) -> None:
    with pytest.raises(ValueError, match="bad run name"):
        episode_log.run_dir(bad)


def test_run_dir_is_under_runs() -> None:
    assert episode_log.run_dir("big_run_01") == Path("runs/big_run_01")
