"""Exit codes of every Daddy command, in one place (docs/CONTRACTS.md quotes this table).

A caller (the pipeline's segment job, a shell script, SLURM) tells "finished" from "stopped
early" by the code alone; the newest complete checkpoint says how far a stopped run got.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any, NoReturn

EXIT_OK = 0  # finished what was asked (the run reached its stop step; a command succeeded)
EXIT_FAILED = 1  # a bug or an unexpected crash: the traceback is on stderr
EXIT_BAD_INPUT = 2  # bad input or a refusal (one line on stderr says what to do); nothing lost
EXIT_STOPPED = 3  # stopped by SIGTERM/SIGUSR2/Ctrl-C after writing a checkpoint: run it again
EXIT_INTERRUPTED = 130  # a second Ctrl-C: stopped at once; the previous checkpoint stands


class OneLineParser(argparse.ArgumentParser):
    """argparse whose errors are one line, `<prefix>: <message>` on stderr, exit EXIT_BAD_INPUT
    (no usage block: the line says what is wrong; `--help` shows the usage)."""

    def __init__(self, *args: Any, prefix: str | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.prefix = prefix or self.prog

    def error(self, message: str) -> NoReturn:
        sys.stderr.write(f"{self.prefix}: {' '.join(message.split())}\n")
        raise SystemExit(EXIT_BAD_INPUT)
