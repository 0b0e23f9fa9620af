"""daddy.io: a reader sees the old file or the new one; a failed write leaves no trace."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from daddy import io
from daddy.io import TMP_PREFIX, atomic_write, atomic_write_bytes, atomic_write_text, fsync_path


def test_new_content_replaces_the_old_and_folders_are_made(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "result.json"
    atomic_write(path, lambda tmp: tmp.write_text("old"))
    assert atomic_write(path, lambda tmp: tmp.write_text("new"), fsync=True) == path
    assert path.read_text() == "new" and path.stat().st_mode & 0o777 == 0o644
    assert sorted(p.name for p in path.parent.iterdir()) == ["result.json"]


def test_a_failing_write_keeps_the_old_file_and_no_temp(tmp_path: Path) -> None:
    path = tmp_path / "figure.png"
    path.write_text("old")

    def half_then_crash(tmp: Path) -> None:
        tmp.write_text("half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        atomic_write(path, half_then_crash)
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["figure.png"]


def test_the_temp_keeps_the_suffix_and_the_leftover_prefix(tmp_path: Path) -> None:
    """A figure's format follows the suffix; a killed write leaves only `.tmp_*` names."""
    seen: list[str] = []
    atomic_write(tmp_path / "plot.svg", lambda tmp: seen.append(tmp.name) or tmp.write_text("x"))
    assert seen[0].startswith(f"{TMP_PREFIX}plot.") and seen[0].endswith(".svg")


def test_text_and_bytes_are_durable_by_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced: list[str] = []
    monkeypatch.setattr(io, "fsync_path", lambda p: synced.append(os.fspath(p)))
    assert atomic_write_text(tmp_path / "latest", "step_5\n").read_text() == "step_5\n"
    assert atomic_write_bytes(tmp_path / "rom.gb", b"\x00\x01").read_bytes() == b"\x00\x01"
    assert synced[1] == synced[3] == os.fspath(tmp_path)  # the file, then its folder's rename
    synced.clear()
    atomic_write_text(tmp_path / "page.html", "<p>", fsync=False)
    assert synced == []


def test_fsync_path_takes_files_and_folders(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("x")
    fsync_path(tmp_path / "f")
    fsync_path(tmp_path)
    with pytest.raises(FileNotFoundError):
        fsync_path(tmp_path / "missing")
