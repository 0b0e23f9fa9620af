"""Synthetic ROM files for the ROM tests: never a real game, only headers that look right.

`fake_rom`: a valid Game Boy header and checksum whose SHA-1 is neither Pokémon Red's nor the
practice cartridge's; `practice_file`: the practice cartridge as `python -m daddy.cart build`
writes it; `stale_practice`: a practice cartridge of another source version (its title, other
bytes).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from daddy.cart.asm import finalize_header


def header_checksum(data: bytes | bytearray) -> int:
    x = 0
    for b in data[0x134:0x14D]:
        x = (x - b - 1) & 0xFF
    return x


def fake_rom(path: Path, title: str = "NOT POKEMON", ram_size_code: int = 0x03) -> Path:
    """32 KiB, MBC1+RAM+battery, a correct header checksum: a ROM, but not a known one."""
    rom = bytearray(0x8000)
    rom[0x100:0x104] = bytes([0x00, 0xC3, 0x50, 0x01])  # nop; jp $0150
    rom[0x150:0x153] = bytes([0x18, 0xFE, 0x00])  # jr @ (spin)
    finalize_header(rom, title, cart_type=0x03, rom_size_code=0x00, ram_size_code=ram_size_code)
    assert rom[0x14D] == header_checksum(rom)
    path.write_bytes(bytes(rom))
    return path


def practice_file(path: Path) -> Path:
    """The practice cartridge's built file at `path` (what `daddy.cart build --out` writes)."""
    from daddy.game.rom import resolve_rom

    return Path(shutil.copy(resolve_rom("practice").path, path))


def stale_practice(path: Path) -> Path:
    """A practice cartridge built from other source: its title, one other byte."""
    from daddy.game.rom import resolve_rom

    rom = bytearray(resolve_rom("practice").path.read_bytes())
    rom[0x7FF0] ^= 0xFF
    path.write_bytes(bytes(rom))  # the header checksum covers 0x134-0x14C only: still valid
    return path
