"""Write a file so that readers see the old version or the new one, never half of it.

Why one helper: results, heatmaps, figures, markers, the checkpoint's `latest` pointer and the
savestate index are read while they are being rewritten (a report job, an aggregate, a user's
viewer, a resuming trainer), and a crash mid-write must leave the old file. Every single-file
write goes through `atomic_write`; the checkpoint folder (a whole folder renamed into place), a
savestate renamed under the index lock, and the HDF5 episode log keep their own protocols but
share `fsync_path`.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

TMP_PREFIX = ".tmp_"  # every temp file left by a killed write starts with this


def atomic_write(path: str | Path, write: Callable[[Path], Any], *, fsync: bool = False) -> Path:
    """`write(temp)` into a temp file beside `path`, then rename it over `path`.

    The temp file keeps `path`'s suffix (a figure's format follows it) and starts with
    `TMP_PREFIX`. `fsync`: the file reaches the disk before the rename and the rename before
    the return (for state a resume depends on).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    prefix = f"{TMP_PREFIX}{path.stem}."
    fd, tmp = tempfile.mkstemp(prefix=prefix, suffix=path.suffix, dir=path.parent)
    os.close(fd)
    try:
        write(Path(tmp))
        if fsync:
            fsync_path(tmp)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    if fsync:
        fsync_path(path.parent)
    return path


def atomic_write_text(path: str | Path, text: str, *, fsync: bool = True) -> Path:
    """`atomic_write` of `text` (UTF-8); small files are made durable unless `fsync=False`."""
    return atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"), fsync=fsync)


def atomic_write_bytes(path: str | Path, data: bytes, *, fsync: bool = True) -> Path:
    """`atomic_write` of `data`; small files are made durable unless `fsync=False`."""
    return atomic_write(path, lambda tmp: tmp.write_bytes(data), fsync=fsync)


def fsync_path(path: str | os.PathLike[str]) -> None:
    """Flush a file's data, or a folder's entries (renames, new files), to the disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
