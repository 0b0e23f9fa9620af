"""daddy.atomic: a reader sees the old file or the new one; a failed write leaves no trace."""

from __future__ import annotations

from pathlib import Path

import pytest

from daddy.io import atomic_write


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
