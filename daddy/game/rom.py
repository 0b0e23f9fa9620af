"""Which ROM to run: the practice cartridge (default) or the user's Pokémon Red, verified.

Why a module: every entry point (bootstrap, train_big, evaluate, benchmarks) takes `--rom` and
must fail the same way, with one line saying what is wrong and what to do, before any emulator
or output folder exists.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

POKEMON_RED_SHA1 = "ea9bcae617fdf159b045185467ae58b2e4a48b9a"
PRACTICE = "practice"
ENV_VAR = "DADDY_ROM"
_MIN_ROM = 0x8000


class RomError(ValueError):
    """A ROM that cannot be used; the message is one line with the fix."""


@dataclass(frozen=True)
class Rom:
    """A resolved, checked ROM file."""

    path: Path
    sha1: str
    practice: bool

    @property
    def name(self) -> str:
        return PRACTICE if self.practice else self.path.name


def default_spec() -> str:
    """`$DADDY_ROM` when set, else the practice cartridge."""
    return os.environ.get(ENV_VAR) or PRACTICE


def resolve_rom(spec: str | os.PathLike[str] | None = None, *, allow_unknown: bool = False) -> Rom:
    """Turn `--rom` (practice | path | None → $DADDY_ROM) into a checked `Rom`."""
    spec = default_spec() if spec is None or str(spec) == "" else str(spec)
    if spec == PRACTICE:
        from daddy.cart.build import practice_rom_path

        path = practice_rom_path()
        return Rom(path, sha1_of(path.read_bytes()), practice=True)
    path = Path(os.path.expandvars(os.path.expanduser(spec)))
    data = _read(path)
    _check_looks_like_rom(path, data)
    digest = sha1_of(data)
    if digest != POKEMON_RED_SHA1 and not allow_unknown:
        raise RomError(
            f"{path} has SHA-1 {digest}, but Pokémon Red (UE) is {POKEMON_RED_SHA1}; "
            "use a clean dump of Pokémon Red, or pass --allow-unknown-rom to run it anyway"
        )
    return Rom(path.resolve(), digest, practice=False)


def sha1_of(data: bytes) -> str:
    return hashlib.sha1(data).hexdigest()


def _read(path: Path) -> bytes:
    if not path.exists():
        raise RomError(
            f"ROM file {path} does not exist; pass --rom PATH (or set {ENV_VAR}) to your "
            "Pokémon Red dump, or --rom practice for the built-in practice cartridge"
        )
    if path.is_dir():
        raise RomError(f"ROM path {path} is a folder; pass the .gb file itself")
    try:
        return path.read_bytes()
    except OSError as e:
        raise RomError(f"cannot read ROM {path}: {e.strerror}; check the file's permissions") from None


def _check_looks_like_rom(path: Path, data: bytes) -> None:
    """Size and header checksum, so a truncated or non-ROM file fails here, not in PyBoy."""
    if len(data) < _MIN_ROM or len(data) % 0x4000:
        raise RomError(
            f"{path} is {len(data)} bytes, not a Game Boy ROM (a multiple of 16 KiB, at least "
            "32 KiB); is the file truncated or the wrong file?"
        )
    x = 0
    for b in data[0x134:0x14D]:
        x = (x - b - 1) & 0xFF
    if x != data[0x14D]:
        raise RomError(
            f"{path} has a bad Game Boy header checksum; it is not a ROM or it is corrupted"
        )
