"""The run log `runs/<run>/train.log`: every line the trainer prints, in one file per run.

Why: a pipeline run is many processes (segments, requeues, resumes), each with its own SLURM
log; an interactive run leaves none. Appending every printed line to one file in the run folder
lets `tail -f runs/<run>/train.log` follow the whole run, whoever started each part.

How: `RunLog.capture()` tees `sys.stdout` and `sys.stderr` (every `print`, warnings, errors)
into the file, line by line, with ANSI escapes and carriage returns removed. The trainer's
`Terminal` writes its own lines through `write_line` onto the screen stream underneath the tee,
so its rich dashboard never reaches the file while its plain lines do. rich's live panel swaps
`sys.stdout` for a proxy of its own while it shows; `capture()` again after it started wraps
that proxy too.
"""

from __future__ import annotations

import io
import re
import sys
import traceback
from pathlib import Path
from types import TracebackType
from typing import IO, Any

ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]")
"""CSI sequences (colours, cursor moves), OSC sequences (titles, links), two-byte escapes."""


def plain(text: str) -> str:
    """`text` as it reads on paper: no ANSI escapes, a carriage return keeps what follows it."""
    return ANSI.sub("", text).rstrip("\r").rsplit("\r", 1)[-1]


class RunLog:
    """Appends lines to the run log; opens the file at the first line (append, never truncate)."""

    def __init__(self, path: str | Path, *, tracebacks: bool = False) -> None:
        """`tracebacks`: log the traceback of an exception leaving the `with` block (for the
        outermost one, where only crashes arrive: inner ones see refusals meant as one line)."""
        self.path = Path(path)
        self.tracebacks = tracebacks
        self._file: IO[str] | None = None
        self.failed: OSError | None = None  # the log could not be written: it stays off
        self._saved: list[tuple[str, Any, LogTee]] = []  # (sys attribute, stream found, our tee)

    def write_line(self, line: str) -> None:
        """One line (or several, split on newlines) as printed, flushed at once for `tail -f`.

        Nothing is written before the run folder exists: a command refused before it made the
        folder leaves no folder behind just to hold its error line. A log that cannot be written
        (a full disk) is switched off with one warning on the screen: printing must never fail.
        """
        if self.failed is not None:
            return
        try:
            if self._file is None:
                if not self.path.parent.is_dir():
                    return
                self._file = open(self.path, "a", encoding="utf-8", errors="replace")  # noqa: SIM115
            self._file.write("".join(plain(part) + "\n" for part in line.split("\n")))
            self._file.flush()
        except OSError as e:
            self.failed = e
            print(f"[WARN] run log {self.path} not written from here on: {e}", file=sys.stderr)

    def capture(self) -> None:
        """Tee `sys.stdout` and `sys.stderr` into the log (again after rich's live panel swapped
        them for its proxies); `close` puts back the streams found at the first call."""
        for name in ("stdout", "stderr"):
            stream = getattr(sys, name)
            if isinstance(stream, LogTee) and stream.log.path == self.path:
                continue  # already logged there (main() captures, then train() again)
            tee = LogTee(stream, self)
            self._saved.append((name, stream, tee))
            setattr(sys, name, tee)

    def close(self) -> None:
        """Restore the streams, flush half-written lines, close the file; safe to call twice.

        A stream someone else swapped since (rich's live panel puts its own back when it stops)
        is left as it is.
        """
        for name, stream, tee in reversed(self._saved):
            tee.flush_partial()
            if getattr(sys, name) is tee:
                setattr(sys, name, stream)
        self._saved.clear()
        if self._file is not None:
            try:
                self._file.close()
            except OSError:
                pass  # a full disk: what could be written is written
            self._file = None

    def __enter__(self) -> RunLog:  # noqa: PYI034 (py310: no typing.Self)
        self.capture()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:  # fmt: skip
        if (
            self.tracebacks
            and exc is not None
            and not isinstance(exc, (SystemExit, KeyboardInterrupt))
        ):
            # Python prints the traceback after the streams are restored: keep it here too
            self.write_line("".join(traceback.format_exception(exc_type, exc, tb)).rstrip("\n"))
        self.close()


def append_line(path: str | Path, line: str) -> None:
    """One line into a run log from another process (the pipeline's segment job), opened and
    closed at once; nothing when the run folder does not exist."""
    log = RunLog(path)
    try:
        log.write_line(line)
    finally:
        log.close()


class LogTee(io.TextIOBase):
    """A text stream that writes through to `stream` and sends its complete lines to `log`."""

    def __init__(self, stream: IO[str], log: RunLog) -> None:
        self.stream, self.log = stream, log
        self._partial = ""

    def write(self, text: str) -> int:
        n = self.stream.write(text)
        *lines, self._partial = (self._partial + text).split("\n")
        if lines:
            self.log.write_line("\n".join(lines))
        return len(text) if n is None else n

    def flush(self) -> None:
        self.stream.flush()

    def flush_partial(self) -> None:
        """A last line without its newline (e.g. a progress line at exit) still gets logged."""
        if self._partial:
            self.log.write_line(self._partial)
            self._partial = ""

    def close(self) -> None:
        """Never closes the screen stream underneath (io's finaliser calls this)."""

    def isatty(self) -> bool:
        return self.stream.isatty()

    def fileno(self) -> int:
        return self.stream.fileno()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self.stream, "encoding", None) or "utf-8"

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stream, name)


def screen() -> IO[str]:
    """The stream under the run log's tee: where the Terminal draws (its lines are logged by
    `write_line`, so the tee must not log them a second time)."""
    out = sys.stdout
    while isinstance(out, LogTee):
        out = out.stream
    return out
