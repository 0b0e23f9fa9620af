"""Write a file so that readers see the old version or the new one, never half of it.

Why one helper: results, heatmaps and figures are read while they are being rewritten (a
report job, an aggregate, a user's viewer), and a crash mid-write must leave the old file.
Checkpoints, the savestate index and the episode log have their own protocols (directories,
locks, HDF5); this is for single files.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any


def atomic_write(path: str | Path, write: Callable[[Path], Any], *, fsync: bool = False) -> Path:
    """`write(temp)` into a temp file beside `path`, then rename it over `path`.

    `fsync`: flush the file to disk before the rename (for state a resume depends on).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    try:
        write(Path(tmp))
        if fsync:
            with open(tmp, "rb") as f:
                os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
