"""Signals: SIGTERM/SIGUSR2 (SLURM preemption, time limit, `timeout`) and Ctrl-C ask for a stop.

The handler only sets a flag (STYLE.md): the loop finishes its step, checkpoints and exits
`EXIT_STOPPED`. A second Ctrl-C means "now": it raises `Interrupted`, which the command turns
into one line and `EXIT_INTERRUPTED` (the checkpoint being written, if any, is left incomplete
and ignored; the previous one stands).
"""

from __future__ import annotations

import signal
from typing import Any

STOP_SIGNALS = (signal.SIGTERM, signal.SIGUSR2, signal.SIGINT)


class Interrupted(Exception):
    """A second Ctrl-C: stop at once."""


class Stop:
    """Installs the handlers; `signal` is the first stop signal received (None: keep going)."""

    def __init__(self) -> None:
        self.signal: int | None = None
        for sig in STOP_SIGNALS:
            signal.signal(sig, self._handle)

    def _handle(self, signum: int, frame: Any) -> None:
        if self.signal is not None and signum == signal.SIGINT:
            raise Interrupted
        self.signal = signum

    @property
    def name(self) -> str:
        return signal.Signals(self.signal).name if self.signal is not None else ""

    @staticmethod
    def ignore_late_signals() -> None:
        """The run is over: a late SIGTERM/SIGUSR2 must not turn its exit into a death by
        signal while the interpreter tears down (CPython resets Python handlers to SIG_DFL
        then; SIG_IGN survives)."""
        for sig in (signal.SIGTERM, signal.SIGUSR2):
            signal.signal(sig, signal.SIG_IGN)
