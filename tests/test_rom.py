"""ROM resolution: practice default, $DADDY_ROM, SHA-1 check, clear one-line errors."""

from __future__ import annotations

import pytest

from daddy.cart.build import build_rom
from daddy.game.rom import POKEMON_RED_SHA1, RomError, resolve_rom, sha1_of


def test_practice_is_the_default(monkeypatch):
    monkeypatch.delenv("DADDY_ROM", raising=False)
    rom = resolve_rom(None)
    assert rom.practice and rom.path.read_bytes() == build_rom()
    assert rom.sha1 == sha1_of(build_rom())


def test_env_var_names_the_rom(monkeypatch, tmp_path):
    path = tmp_path / "red.gb"
    path.write_bytes(build_rom())
    monkeypatch.setenv("DADDY_ROM", str(path))
    with pytest.raises(RomError, match="SHA-1"):
        resolve_rom(None)


def test_wrong_hash_names_both_hashes_and_the_override(tmp_path):
    path = tmp_path / "red.gb"
    path.write_bytes(build_rom())
    with pytest.raises(RomError) as e:
        resolve_rom(path)
    msg = str(e.value)
    assert POKEMON_RED_SHA1 in msg and sha1_of(build_rom()) in msg and "--allow-unknown-rom" in msg
    assert "\n" not in msg
    rom = resolve_rom(path, allow_unknown=True)
    assert not rom.practice and rom.sha1 == sha1_of(build_rom())


@pytest.mark.parametrize(
    "content, problem",
    [
        (None, "does not exist"),
        (b"\x00" * 1000, "not a Game Boy ROM"),
        ("truncated", "not a Game Boy ROM"),
        ("bad-header", "header checksum"),
    ],
)
def test_bad_files_are_clear_errors(tmp_path, content, problem):
    path = tmp_path / "x.gb"
    rom = build_rom()
    if content == "truncated":
        path.write_bytes(rom[:20000])
    elif content == "bad-header":
        path.write_bytes(rom[:0x134] + b"X" + rom[0x135:])
    elif content is not None:
        path.write_bytes(content)
    with pytest.raises(RomError, match=problem):
        resolve_rom(path, allow_unknown=True)


def test_folder_is_not_a_rom(tmp_path):
    with pytest.raises(RomError, match="is a folder"):
        resolve_rom(tmp_path)
