"""Assemble the practice cartridge: generated constants + game.asm + generated world/graphics.

Why a function and a cache: every env, test and benchmark needs the ROM, and building takes
about a second, so `practice_rom_path()` builds once per source version into a cache file whose
name carries the hash of the inputs (deterministic bytes: the same source gives the same ROM).
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

from daddy.cart import gfx, world
from daddy.cart.asm import assemble, finalize_header
from daddy.io import atomic_write_bytes

TITLE = "PRACTICE RED"  # not "POKEMON RED": PyBoy would switch on its Pokémon game wrapper
ROM_SIZE = 0x8000
SOURCE = Path(__file__).with_name("game.asm")
_STRING = re.compile(r'"((?:[^"\\]|\\.)*)"')


def full_source() -> str:
    """The complete assembly text that `build_rom` assembles."""
    return "\n".join(  # noqa: FLY002 (one part per line reads better)
        [
            "; ---- generated constants",
            world.constants_asm(),
            gfx.charmap_asm(),
            SOURCE.read_text(),
            world.world_asm(),
            gfx.gfx_asm(),
        ]
    )


def check_text(source: str) -> None:
    """Every character in a string must have a glyph: unknown ones would print map tiles."""
    allowed = set(gfx.CHAR_CODES) | {"@", "|"}
    for n, line in enumerate(source.splitlines(), 1):
        code = line.split(";", 1)[0]
        for text in _STRING.findall(code):
            if "CHARMAP" in code:
                continue
            bad = sorted(set(text) - allowed)
            if bad:
                raise ValueError(f"line {n}: characters {bad} have no glyph in the cartridge font")


def build_rom() -> bytes:
    """Assemble and finalize the header (title, checksums): 32 KiB, cartridge type ROM ONLY."""
    source = full_source()
    check_text(source)
    rom = bytearray(assemble(source, size=ROM_SIZE, filename="game.asm").rom)
    finalize_header(rom, TITLE, cart_type=0x00, rom_size_code=0x00, ram_size_code=0x00)
    return bytes(rom)


def source_digest() -> str:
    """Hash of everything the ROM is built from (game source, world, graphics, assembler)."""
    h = hashlib.sha256()
    here = Path(__file__).parent
    for name in ("game.asm", "world.py", "gfx.py", "asm.py", "build.py"):
        h.update((here / name).read_bytes())
    return h.hexdigest()[:16]


def cache_dir() -> Path:
    """Where built ROMs are cached: $DADDY_CACHE, else build/ in the checkout (git-ignored)."""
    env = os.environ.get("DADDY_CACHE")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2] / "build"


def practice_rom_path() -> Path:
    """Path of the practice ROM for the current source, built on first use."""
    path = cache_dir() / f"practice-{source_digest()}.gb"
    if not path.exists():
        atomic_write_bytes(path, build_rom())
    return path


def practice_sha1() -> str:
    """SHA-1 of the practice ROM this source builds: the practice cartridge's identity, so a
    file `python -m daddy.cart build` wrote is recognised as the practice cartridge."""
    key = (source_digest(), str(cache_dir()))
    if key not in _SHA1:
        _SHA1[key] = hashlib.sha1(practice_rom_path().read_bytes()).hexdigest()
    return _SHA1[key]


_SHA1: dict[tuple[str, str], str] = {}
