"""Episode log: HDF5 rows round-trip, SWMR reading while writing, resume without gaps, and the
opening rules of issue 15 (no silent overwrite, no dead end after damage)."""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import time
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pandas as pd
import pytest

from daddy.game.milestones import DEFAULT_MILESTONES
from daddy.run import episode_log
from daddy.run.episode_log import (
    COLUMNS,
    EpisodeLogError,
    EpisodeLogger,
    open_episode_log,
    read,
    read_posteriors,
)

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
        (make_row(0, alpha=np.ones(M + 1)), rf"'alpha' has shape \({M + 1},\), expected \({M},\)"),
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


def write_log(path: Path, rows: range | int, **kw: Any) -> EpisodeLogger:
    """A closed log holding `rows` (episode numbers); kw go to EpisodeLogger."""
    rows = range(rows) if isinstance(rows, int) else rows
    with EpisodeLogger(path, "demo", NAMES, **kw) as log:
        for i in rows:
            log.append(make_row(i))
    return log


def damage(path: Path, how: str) -> None:
    """Make an HDF5 file unreadable the ways a crash or a bad copy does."""
    raw = path.read_bytes()
    if how == "truncated":
        path.write_bytes(raw[: len(raw) // 3])
    elif how == "header overwritten":
        path.write_bytes(b"\0" * 64 + raw[64:])
    elif how == "empty":
        path.write_bytes(b"")
    else:
        raise AssertionError(how)


def assert_one_line(err: BaseException) -> None:
    assert "\n" not in str(err) and "\r" not in str(err), str(err)


def test_no_checkpoint_and_no_log_starts_a_fresh_log(log_path: Path) -> None:
    with open_episode_log(log_path, "demo", NAMES, resume_rows=None) as log:
        assert log.rows == 0 and log.note is None and log.moved_aside is None
        log.append(make_row(0))
    assert len(read(log_path)) == 1


def test_no_checkpoint_and_an_empty_log_starts_fresh(log_path: Path) -> None:
    write_log(log_path, 0)
    with open_episode_log(log_path, "demo", NAMES[:-1], resume_rows=None) as log:
        assert log.rows == 0 and log.note is None  # nothing logged, nothing to lose
    assert list(log_path.parent.iterdir()) == [log_path]


@pytest.mark.parametrize("first_row", [0, 14])
def test_no_checkpoint_but_logged_rows_is_refused_in_one_line(
    log_path: Path, first_row: int
) -> None:
    """The scratch-purge case: checkpoints/step_* deleted, episodes.h5 still holds rows."""
    if first_row:  # a continuation log counts its lost rows too: they were logged once
        write_log(log_path, 0)
        write_log(log_path, 0, resume_rows=first_row)
    else:
        write_log(log_path, 16)
    before = log_path.read_bytes()
    rows = first_row or 16
    with pytest.raises(EpisodeLogError) as err:
        open_episode_log(log_path, "demo", NAMES, resume_rows=None)
    assert str(err.value) == (
        f"{log_path} holds {rows} episode rows but the run has no checkpoint (were "
        "checkpoints/step_* deleted?): restore the checkpoints to resume, or pass --start-over "
        "to move the old log aside and start from step 0"
    )
    assert log_path.read_bytes() == before
    assert list(log_path.parent.iterdir()) == [log_path]


def test_no_checkpoint_and_a_damaged_log_is_refused_and_kept(log_path: Path) -> None:
    write_log(log_path, 5)
    damage(log_path, "truncated")
    before = log_path.read_bytes()
    with pytest.raises(EpisodeLogError, match="is unreadable .* no checkpoint: restore") as err:
        open_episode_log(log_path, "demo", NAMES, resume_rows=None)
    assert_one_line(err.value)
    assert "--start-over" in str(err.value)
    assert log_path.read_bytes() == before


def test_start_over_moves_the_old_log_aside_without_clobbering(
    log_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(episode_log, "_utc_now", lambda: "20250102T030405Z")
    earlier = log_path.with_name("episodes.h5.old-20250102T030405Z")
    write_log(log_path, 16)
    log_path.parent.joinpath(earlier.name).write_bytes(b"an earlier start-over")
    with open_episode_log(log_path, "demo", NAMES, resume_rows=None, start_over=True) as log:
        assert log.rows == 0 and log.first_row == 0
        assert log.moved_aside == log_path.with_name("episodes.h5.old-20250102T030405Z-1")
        assert log.note is not None and "episodes.h5.old-20250102T030405Z-1" in log.note
        assert "\n" not in log.note
        log.append(make_row(0))
    assert earlier.read_bytes() == b"an earlier start-over"
    old = read(log.moved_aside)
    assert len(old) == 16
    assert_rows_consistent(old)
    assert len(read(log_path)) == 1
    # with no old log there is nothing to move
    log_path.unlink()
    with open_episode_log(log_path, "demo", NAMES, resume_rows=None, start_over=True) as log:
        assert log.note is None and log.moved_aside is None


def test_start_over_moves_a_damaged_log_aside_too(log_path: Path) -> None:
    write_log(log_path, 3)
    damage(log_path, "truncated")
    before = log_path.read_bytes()
    with open_episode_log(log_path, "demo", NAMES, None, start_over=True) as log:
        assert log.rows == 0
    assert log.moved_aside is not None and log.moved_aside.read_bytes() == before


def test_start_over_with_a_checkpoint_is_a_caller_error(log_path: Path) -> None:
    with pytest.raises(ValueError, match="start_over starts from step 0"):
        open_episode_log(log_path, "demo", NAMES, resume_rows=3, start_over=True)


def test_resume_truncates_rows_written_after_the_checkpoint(log_path: Path) -> None:
    write_log(log_path, 9)
    with open_episode_log(log_path, "demo", NAMES, resume_rows=6) as log:
        assert log.rows == 6 and log.note is None and log.moved_aside is None
        log.append(make_row(6))
    df = read(log_path)
    assert len(df) == 7
    assert_rows_consistent(df)
    assert df.attrs == {"first_row": 0, "lost_rows": []}
    assert list(log_path.parent.iterdir()) == [log_path]


@pytest.mark.parametrize("how", ["truncated", "header overwritten", "empty"])
def test_damaged_log_is_moved_aside_and_a_continuation_keeps_row_numbers(
    log_path: Path, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    """The dead end of issue 15: a damaged log plus a checkpoint at row 14 resumes."""
    monkeypatch.setattr(episode_log, "_utc_now", lambda: "20250102T030405Z")
    write_log(log_path, 16)
    damage(log_path, how)
    before = log_path.read_bytes()
    with pytest.raises(EpisodeLogError) as err:
        read(log_path)
    assert_one_line(err.value)
    with open_episode_log(log_path, "demo", NAMES, resume_rows=14) as log:
        assert log.first_row == 14 and log.rows == 14
        assert log.moved_aside == log_path.with_name("episodes.damaged-20250102T030405Z.h5")
        assert log.note is not None and "\n" not in log.note
        assert log.note.startswith(f"{log_path} is unreadable (")
        assert log.note.endswith(
            "): moved it aside to episodes.damaged-20250102T030405Z.h5; rows 0..13 are lost; "
            "a new log continues at row 14"
        )
        for i in range(14, 20):
            log.append(make_row(i))
        assert log.rows == 20
    assert log.moved_aside.read_bytes() == before  # kept as it was, for salvage

    df = read(log_path)
    assert list(df.index) == list(range(14, 20)) and df.index.name == "row"
    assert list(df["episode"]) == list(range(14, 20))
    assert df.attrs == {"first_row": 14, "lost_rows": [(0, 14)]}
    assert df.loc[15, "return_env"] == 0.5 * 15
    alpha, beta, names = read_posteriors(log_path.parent)
    assert names == NAMES and alpha.shape == beta.shape == (6, M)
    np.testing.assert_array_equal(alpha[:, 0], np.arange(14, 20))

    # the continuation resumes and truncates like any log, in global row numbers
    with open_episode_log(log_path, "demo", NAMES, resume_rows=17) as log:
        assert log.rows == 17 and log.note is None
    assert list(read(log_path).index) == [14, 15, 16]
    # a checkpoint older than the continuation's start keeps nothing of it (redone rows)
    with open_episode_log(log_path, "demo", NAMES, resume_rows=10) as log:
        assert log.rows == 10 and log.first_row == 10
    assert read(log_path).attrs == {"first_row": 10, "lost_rows": [(0, 10)]}


def test_damaged_log_at_row_zero_just_starts_fresh(log_path: Path) -> None:
    write_log(log_path, 2)
    damage(log_path, "truncated")
    with open_episode_log(log_path, "demo", NAMES, resume_rows=0) as log:
        assert log.rows == 0 and log.first_row == 0
        assert log.note is not None and log.note.endswith("a new log continues at row 0")
    assert log.moved_aside is not None and log.moved_aside.exists()


def test_missing_log_with_a_checkpoint_continues_at_its_row(log_path: Path) -> None:
    """The error's old advice (move the damaged file aside) is no longer a dead end."""
    with open_episode_log(log_path, "demo", NAMES, resume_rows=14) as log:
        assert log.rows == 14 and log.first_row == 14 and log.moved_aside is None
        assert log.note == (
            f"{log_path} is missing but the checkpoint is at episode row 14: rows 0..13 are lost; "
            "a new log continues at row 14"
        )
        log.append(make_row(14))
    df = read(log_path)
    assert list(df.index) == [14] and df.attrs["lost_rows"] == [(0, 14)]


def test_log_shorter_than_the_checkpoint_keeps_its_rows_and_records_the_gap(
    log_path: Path,
) -> None:
    """A crash can leave the log behind the checkpoint (rows not yet on disk): those rows are
    lost (their training is not redone), the rest stays and numbering continues."""
    write_log(log_path, 10)
    with open_episode_log(log_path, "demo", NAMES, resume_rows=14) as log:
        assert log.rows == 14 and log.first_row == 0
        assert log.note == (
            f"{log_path} ends at episode row 10 but the checkpoint is at row 14: rows 10..13 "
            "were not saved and are lost; the log keeps its 10 rows and continues at row 14"
        )
        for i in range(14, 18):
            log.append(make_row(i))
    df = read(log_path)
    assert list(df.index) == [*range(10), *range(14, 18)]
    assert list(df["episode"]) == list(df.index)
    assert df.attrs == {"first_row": 0, "lost_rows": [(10, 14)]}
    # truncating inside and after the gap keeps the numbering
    with open_episode_log(log_path, "demo", NAMES, resume_rows=16) as log:
        assert log.rows == 16 and log.note is None
    assert list(read(log_path).index) == [*range(10), 14, 15]
    with open_episode_log(log_path, "demo", NAMES, resume_rows=12) as log:
        assert log.rows == 12
        log.append(make_row(12))
    df = read(log_path)
    assert list(df.index) == [*range(10), 12] and df.attrs["lost_rows"] == [(10, 12)]


def test_old_log_without_row_numbering_reads_and_resumes_from_row_zero(log_path: Path) -> None:
    write_log(log_path, 4)
    with h5py.File(log_path, "a") as f:  # as written before first_row existed
        del f.attrs["first_row"]
    df = read(log_path)
    assert list(df.index) == [0, 1, 2, 3] and df.attrs["first_row"] == 0
    with open_episode_log(log_path, "demo", NAMES, resume_rows=3) as log:
        assert log.rows == 3


def test_other_schema_version_is_refused_not_moved_aside(log_path: Path) -> None:
    write_log(log_path, 2)
    with h5py.File(log_path, "a") as f:
        f.attrs["schema_version"] = 99
    with pytest.raises(EpisodeLogError, match="schema version 99") as err:
        open_episode_log(log_path, "demo", NAMES, resume_rows=2)
    assert_one_line(err.value)
    assert list(log_path.parent.iterdir()) == [log_path]


def test_other_milestones_are_refused_and_keep_the_log(log_path: Path) -> None:
    write_log(log_path, 3)
    with pytest.raises(EpisodeLogError, match="was written for milestones") as err:
        open_episode_log(log_path, "demo", NAMES[:-1], resume_rows=3)
    assert_one_line(err.value)
    assert_rows_consistent(read(log_path))
    assert len(read(log_path)) == 3


def test_report_builds_on_a_continuation_log_and_notes_the_lost_rows(tmp_path: Path) -> None:
    report = pytest.importorskip("analysis.report")
    run_dir = tmp_path / "demo"
    write_log(run_dir / "episodes.h5", 0)
    write_log(run_dir / "episodes.h5", range(14, 60), resume_rows=14)
    ep = report.load_episodes(run_dir)
    assert ep.n == 46 and ep.lost_rows == [(0, 14)]
    page = report.build_report(run_dir, run_dir / "report").read_text()
    assert "Episode rows 0..13 of this run are lost" in page


@pytest.mark.parametrize("bad", ["", "..", "a/b"])
def test_run_dir_refuses_names_that_are_not_plain_folders(bad: str) -> None:
    with pytest.raises(ValueError, match="bad run name"):
        episode_log.run_dir(bad)


def test_run_dir_is_under_runs() -> None:
    assert episode_log.run_dir("big_run_01") == Path("runs/big_run_01")
