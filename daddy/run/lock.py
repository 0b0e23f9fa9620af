"""One trainer per run folder: an exclusive lock held for the trainer's lifetime.

Why: two trainers on one run both used to exit 0 while the second one's rows replaced the
first one's in `episodes.h5` and their checkpoints interleaved. The lock is `flock(2)` on
`runs/<run>/run.lock`, and the holder writes who it is (host, pid, SLURM job, start time) into
the file, so a refused trainer can name it in one line.

A holder that dies in any way (SIGKILL, OOM, a crash) loses the lock with its last file
descriptor: the kernel releases it, and the next trainer simply takes it over; the stale holder
text is replaced. On a shared filesystem: Linux NFS clients map `flock` to NFS byte-range locks,
which the server releases when the client's lease lapses (a lost node: after the lease time,
typically 90 s), so a requeue on another node takes over once the lease is gone. Lustre honours
`flock` across nodes only when mounted with `-o flock`; with `localflock` (or NFS `nolock`) the
lock guards one node only — say so to your admins or keep one pipeline per run.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import time
from pathlib import Path
from types import TracebackType
from typing import Any


class RunLockedError(RuntimeError):
    """Another live process holds the run; the message names it."""


def holder_info() -> dict[str, Any]:
    return {"host": socket.gethostname(), "pid": os.getpid(),
            "slurm_job": os.environ.get("SLURM_JOB_ID"), "since": time.strftime(
                "%Y-%m-%d %H:%M:%S %Z")}  # fmt: skip


def describe(holder: dict[str, Any] | None) -> str:
    if not holder:
        return "another process (it has not written its name yet)"
    job = f", SLURM job {holder['slurm_job']}" if holder.get("slurm_job") else ""
    return f"pid {holder.get('pid')} on {holder.get('host')}{job}, since {holder.get('since')}"


def read_holder(path: Path) -> dict[str, Any] | None:
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) else None


class RunLock:
    """`with RunLock(paths.lock, run):` — refuse at once if a live process holds the run."""

    def __init__(self, path: Path, run: str) -> None:
        self.path, self.run = Path(path), run
        self._fd: int | None = None
        self.took_over: dict[str, Any] | None = None  # the dead holder's text, if any

    def acquire(self) -> RunLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                raise RunLockedError(
                    f"run {self.run} is in use by {describe(read_holder(self.path))} "
                    f"({self.path}); wait for that trainer to finish or stop it, or use "
                    "another --run-name"
                ) from None
            if _same_file(fd, self.path):
                break
            os.close(fd)  # a releasing holder unlinked it between our open and flock: again
        self.took_over = read_holder(self.path)  # text left by a holder that died
        os.ftruncate(fd, 0)
        os.pwrite(fd, (json.dumps(holder_info()) + "\n").encode(), 0)
        os.fsync(fd)
        self._fd = fd
        return self

    def release(self) -> None:
        """Remove the file, then unlock (a waiter that opened the old file sees it is gone)."""
        if self._fd is None:
            return
        try:
            self.path.unlink(missing_ok=True)
        finally:
            os.close(self._fd)  # closing the last descriptor releases the flock
            self._fd = None

    def __enter__(self) -> RunLock:  # noqa: PYI034 (py310: no typing.Self)
        return self.acquire()

    def __exit__(self, et: type[BaseException] | None, e: BaseException | None,
                 tb: TracebackType | None) -> None:  # fmt: skip
        self.release()


def _same_file(fd: int, path: Path) -> bool:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return False
    mine = os.fstat(fd)
    return (st.st_dev, st.st_ino) == (mine.st_dev, mine.st_ino)
