"""The ROM rule (--rom > $DADDY_ROM > train.rom > checkpoint > practice), the file checks, the
practice cartridge recognised by its built file, and resume messages that name both ROMs."""

from __future__ import annotations

from pathlib import Path

import pytest

from daddy.cart.__main__ import main as cart_main
from daddy.cart.build import build_rom
from daddy.game.rom import (
    FROM_CHECKPOINT,
    FROM_CONFIG,
    FROM_DEFAULT,
    FROM_ENV,
    FROM_FLAG,
    POKEMON_RED_SHA1,
    Rom,
    RomError,
    check_same_rom,
    check_same_setting,
    practice_sha1,
    resolve_rom,
    rom_choice,
    sha1_of,
)
from tests.rom_util import fake_rom, practice_file, stale_practice


@pytest.fixture(autouse=True)
def no_daddy_rom(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DADDY_ROM", raising=False)


def red_at(path: Path) -> Rom:
    """A stand-in for a verified Pokémon Red (its hash; the file is never read)."""
    return Rom(path, POKEMON_RED_SHA1, practice=False)


def test_practice_is_the_default() -> None:
    rom = resolve_rom(None)
    assert rom.practice and rom.path.read_bytes() == build_rom()
    assert rom.sha1 == sha1_of(build_rom()) == practice_sha1()
    assert rom.describe() == "the practice cartridge" and rom.flag() == "practice"


@pytest.mark.parametrize(
    ("flag", "env", "config", "checkpoint", "want"),
    [
        ("a.gb", "b.gb", "c.gb", "d.gb", ("a.gb", FROM_FLAG)),
        (None, "b.gb", "c.gb", "d.gb", ("b.gb", FROM_ENV)),
        (None, None, "c.gb", "d.gb", ("c.gb", FROM_CONFIG)),
        (None, "", "practice", "d.gb", ("practice", FROM_CONFIG)),
        (None, None, None, "d.gb", ("d.gb", FROM_CHECKPOINT)),
        (None, None, None, None, ("practice", FROM_DEFAULT)),
        ("", "", "", "", ("practice", FROM_DEFAULT)),
        ("practice", "b.gb", None, None, ("practice", FROM_FLAG)),
    ],
    ids=["flag", "env", "config", "empty-env", "checkpoint", "default", "all-empty", "flag-practice"],
)  # fmt: skip
def test_the_rule_is_flag_then_env_then_config_then_checkpoint_then_practice(
    flag, env, config, checkpoint, want
) -> None:
    environ = {} if env is None else {"DADDY_ROM": env}
    got = rom_choice(flag, config=config, checkpoint=checkpoint, environ=environ)
    assert (got.spec, got.source) == want


def test_daddy_rom_names_the_rom_and_a_flag_beats_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("DADDY_ROM", str(practice_file(tmp_path / "practice.gb")))
    rom = resolve_rom(None)
    assert rom.practice and rom.path == tmp_path / "practice.gb"
    monkeypatch.setenv("DADDY_ROM", str(fake_rom(tmp_path / "red.gb")))
    with pytest.raises(RomError, match=r"^\$DADDY_ROM names .*red.gb: .* has SHA-1"):
        resolve_rom(None)
    assert resolve_rom("practice").path != tmp_path / "red.gb"


def test_wrong_hash_names_both_hashes_and_the_override(tmp_path: Path) -> None:
    path = fake_rom(tmp_path / "red.gb")
    with pytest.raises(RomError) as e:
        resolve_rom(path)
    msg = str(e.value)
    assert POKEMON_RED_SHA1 in msg and sha1_of(path.read_bytes()) in msg
    assert "--allow-unknown-rom" in msg and "\n" not in msg
    rom = resolve_rom(path, allow_unknown=True)
    assert not rom.practice and not rom.known and rom.sha1 == sha1_of(path.read_bytes())
    assert "not Pokémon Red (UE)" in rom.describe() and str(path) in rom.describe()


def test_the_file_daddy_cart_build_writes_is_the_practice_cartridge(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "practice.gb"
    assert cart_main(["build", "--out", str(out)]) == 0
    rom = resolve_rom(out)  # no --allow-unknown-rom needed
    assert rom.practice and rom.known and rom.sha1 == practice_sha1()
    assert rom.describe() == "the practice cartridge" and rom.ram_kib == 0


def test_an_older_practice_build_is_named_as_such(tmp_path: Path) -> None:
    path = stale_practice(tmp_path / "practice.gb")
    with pytest.raises(RomError) as e:
        resolve_rom(path)
    msg = str(e.value)
    assert "older build of the practice cartridge" in msg and practice_sha1() in msg
    assert "--rom practice" in msg and "daddy.cart build" in msg
    assert resolve_rom(path, allow_unknown=True).practice


@pytest.mark.parametrize(
    "content, problem",
    [
        (None, "does not exist"),
        (b"", r"is empty \(0 bytes\)"),
        (b"\x00" * 1000, "not a Game Boy ROM"),
        ("truncated", "not a Game Boy ROM"),
        ("bad-header", "header checksum"),
    ],
    ids=["missing", "empty", "tiny", "truncated", "bad-header"],
)
def test_bad_files_are_clear_errors(tmp_path: Path, content, problem: str) -> None:
    path = tmp_path / "x.gb"
    rom = build_rom()
    if content == "truncated":
        path.write_bytes(rom[:20000])
    elif content == "bad-header":
        path.write_bytes(rom[:0x134] + b"X" + rom[0x135:])
    elif content is not None:
        path.write_bytes(content)
    with pytest.raises(RomError, match=problem) as e:
        resolve_rom(path, allow_unknown=True)
    assert "\n" not in str(e.value)


def test_folder_is_not_a_rom(tmp_path: Path) -> None:
    with pytest.raises(RomError, match="is a folder"):
        resolve_rom(tmp_path)


def test_savestates_of_red_on_the_practice_cartridge_say_both_and_which_rom_to_pass() -> None:
    practice = resolve_rom("practice")
    with pytest.raises(RomError) as e:
        check_same_rom(practice, POKEMON_RED_SHA1, "savestates/x")
    msg = str(e.value)
    assert msg.startswith("savestates/x was made with Pokémon Red (UE), but the ROM set now is "
                          "the practice cartridge; pass --rom /path/to/pokemon_red.gb")  # fmt: skip
    assert "delete" not in msg and "69e4" not in msg and practice.sha1 not in msg
    check_same_rom(practice, practice.sha1, "savestates/x")  # the same ROM: nothing to say


def test_practice_states_on_red_say_pass_rom_practice(tmp_path: Path) -> None:
    with pytest.raises(RomError) as e:
        check_same_rom(red_at(tmp_path / "red.gb"), practice_sha1(), "savestates/x")
    msg = str(e.value)
    assert "made with the practice cartridge, but the ROM set now is Pokémon Red (UE) at" in msg
    assert "pass --rom practice" in msg and "delete" not in msg


@pytest.mark.parametrize(
    ("recorded", "running", "same"),
    [
        ("practice", "practice", True),
        ("practice", "red", False),
        ("red", "practice", False),
        ("gone", "red", True),  # a dump that moved is still that dump
        ("gone", "practice", False),
        ("practice_file", "practice", True),
    ],
)
def test_a_checkpoint_resumes_only_on_its_rom(
    tmp_path: Path, recorded: str, running: str, same: bool
) -> None:
    red = fake_rom(tmp_path / "red.gb")
    saved = {"practice": "practice", "red": str(red), "gone": str(tmp_path / "moved.gb"),
             "practice_file": str(practice_file(tmp_path / "p.gb"))}[recorded]  # fmt: skip
    rom = resolve_rom(running) if running == "practice" else resolve_rom(red, allow_unknown=True)
    if same:
        check_same_setting(rom, saved)
        return
    with pytest.raises(RomError) as e:
        check_same_setting(rom, saved)
    msg = str(e.value)
    assert msg.startswith("the run's checkpoint was trained on ") and f"--rom {saved}" in msg
    words = {"practice": "the practice cartridge", "red": f"the ROM at {red}"}
    assert words.get(recorded, "") in msg and words[running] in msg.split("set now is")[1]
    assert "delete" not in msg


@pytest.mark.parametrize(
    ("hint", "made", "fix"),
    [
        ("practice", "an older build of the practice cartridge (SHA-1 1111", "move savestates/x aside"),
        (None, "another ROM or an older build of the practice cartridge", "pass --rom PATH"),
    ],
    ids=["checkpoint-says-practice", "unknown"],
)  # fmt: skip
def test_states_of_an_older_practice_build_cannot_be_fixed_by_a_rom_flag(
    hint: str | None, made: str, fix: str
) -> None:
    """No --rom loads them: the cartridge's source changed. 'pass --rom practice' would be
    what the user already does, so the message says what does help."""
    practice = resolve_rom("practice")
    with pytest.raises(RomError) as e:
        check_same_rom(practice, "1" * 40, "savestates/x", hint=hint)
    msg = str(e.value)
    assert msg.startswith(f"savestates/x was made with {made}") and fix in msg
    assert "choose a new run name" in msg and "--rom practice" not in msg
