"""Which ROM to run, decided by one rule, and checked before anything else happens.

The rule, the same in every command and benchmark (train_big, bootstrap, evaluate, the state
importer, the pipeline's stages, bench/*):

    --rom  >  $DADDY_ROM  >  the run config's train.rom  >  the run's checkpoint  >  practice

(`rom_choice` is that rule; nothing else picks a ROM). A resumed run must run the ROM its
checkpoints and savestates were made with: `check_same_rom` refuses another one with a line
that names both in words ("the practice cartridge", "Pokémon Red (UE) at /path") and tells
which `--rom` to pass.

Why a module: every entry point must fail the same way, with one line saying what is wrong and
what to do, before any emulator or output folder exists. A path to the practice cartridge's
built file (`python -m daddy.cart build --out practice.gb`) is the practice cartridge.
"""

from __future__ import annotations

import hashlib
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

POKEMON_RED_SHA1 = "ea9bcae617fdf159b045185467ae58b2e4a48b9a"
POKEMON_RED = "Pokémon Red (UE)"
PRACTICE = "practice"
PRACTICE_WORDS = "the practice cartridge"
ENV_VAR = "DADDY_ROM"
_MIN_ROM = 0x8000
_TITLE = slice(0x134, 0x143)
_RAM_SIZE_CODE = 0x149
_RAM_KIB = {0: 0, 1: 2, 2: 8, 3: 32, 4: 128, 5: 64}

# Where a ROM setting came from (`RomChoice.source`), as messages name it.
FROM_FLAG = "--rom"
FROM_ENV = f"${ENV_VAR}"
FROM_CONFIG = "train.rom"
FROM_CHECKPOINT = "the run's checkpoint"
FROM_DEFAULT = "default"


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
        """Short form for key=value lines and benchmark JSON: 'practice' or the file name."""
        return PRACTICE if self.practice else self.path.name

    def describe(self) -> str:
        """The ROM in words, for messages: 'the practice cartridge', 'Pokémon Red (UE) at …'."""
        if self.practice:
            return PRACTICE_WORDS
        if self.sha1 == POKEMON_RED_SHA1:
            return f"{POKEMON_RED} at {self.path}"
        return f"the ROM at {self.path} (SHA-1 {self.sha1[:12]}…, not {POKEMON_RED})"

    @property
    def known(self) -> bool:
        """The practice cartridge or Pokémon Red: runs without --allow-unknown-rom."""
        return self.practice or self.sha1 == POKEMON_RED_SHA1

    def flag(self) -> str:
        """The `--rom` value that selects this ROM again."""
        return PRACTICE if self.practice else str(self.path)

    @property
    def ram_kib(self) -> int:
        """Cartridge RAM from the header (PyBoy saves it in every state: 0 on the practice
        cartridge, 32 KiB on Pokémon Red), so a state's size tells another cartridge."""
        return ram_kib(self.path.read_bytes())


@dataclass(frozen=True)
class RomChoice:
    """A ROM setting (`practice` or a path) and where it came from (FROM_*)."""

    spec: str
    source: str

    def words(self) -> str:
        """'(from $DADDY_ROM)' etc.; '' for the default, which needs no explaining."""
        if self.source == FROM_DEFAULT:
            return f"(no --rom, ${ENV_VAR} or train.rom set: the default)"
        return f"(from {self.source})"


def rom_choice(
    flag: str | os.PathLike[str] | None = None,
    *,
    config: str | None = None,
    checkpoint: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> RomChoice:
    """THE rule: --rom > $DADDY_ROM > the run config's rom > the run's checkpoint > practice.
    Empty values count as unset."""
    environ = os.environ if environ is None else environ
    for value, source in ((flag, FROM_FLAG), (environ.get(ENV_VAR), FROM_ENV),
                          (config, FROM_CONFIG), (checkpoint, FROM_CHECKPOINT)):  # fmt: skip
        if value is not None and str(value) != "":
            return RomChoice(str(value), source)
    return RomChoice(PRACTICE, FROM_DEFAULT)


def default_spec() -> str:
    """`$DADDY_ROM` when set, else the practice cartridge (the rule without a run config)."""
    return rom_choice().spec


def resolve_rom(
    spec: str | os.PathLike[str] | None = None,
    *,
    allow_unknown: bool = False,
    config: str | None = None,
    checkpoint: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> Rom:
    """Turn `--rom` (practice | path | None) into a checked `Rom`, by `rom_choice`'s rule."""
    choice = rom_choice(spec, config=config, checkpoint=checkpoint, environ=environ)
    try:
        return check_rom(choice.spec, allow_unknown=allow_unknown)
    except RomError as e:
        if choice.source in (FROM_FLAG, FROM_DEFAULT):
            raise
        raise RomError(f"{choice.source} names {choice.spec}: {e}") from None


def check_rom(spec: str | os.PathLike[str], *, allow_unknown: bool = False) -> Rom:
    """`practice` or a path, checked: exists, size, header checksum, then SHA-1 (Pokémon Red,
    or the practice cartridge's built file; anything else only with `allow_unknown`)."""
    spec = str(spec)
    if spec == PRACTICE:
        from daddy.cart.build import practice_rom_path

        path = practice_rom_path()
        return Rom(path, sha1_of(path.read_bytes()), practice=True)
    path = Path(os.path.expandvars(os.path.expanduser(spec)))
    data = _read(path)
    _check_looks_like_rom(path, data)
    digest = sha1_of(data)
    if digest == POKEMON_RED_SHA1:
        return Rom(path.resolve(), digest, practice=False)
    if digest == practice_sha1():
        return Rom(path.resolve(), digest, practice=True)
    if is_practice_title(data):
        if allow_unknown:
            return Rom(path.resolve(), digest, practice=True)
        raise RomError(
            f"{path} is an older build of the practice cartridge (SHA-1 {digest}; this version "
            f"builds {practice_sha1()}); pass --rom practice, or rebuild the file with "
            f"python -m daddy.cart build --out {path}"
        )
    if not allow_unknown:
        raise RomError(
            f"{path} has SHA-1 {digest}, but {POKEMON_RED} is {POKEMON_RED_SHA1}; "
            "use a clean dump of Pokémon Red, or pass --allow-unknown-rom to run it anyway"
        )
    return Rom(path.resolve(), digest, practice=False)


# --- identities ------------------------------------------------------------------------------
def sha1_of(data: bytes) -> str:
    return hashlib.sha1(data).hexdigest()


def practice_sha1() -> str:
    """SHA-1 of the practice cartridge this version builds (cached on disk by the builder)."""
    from daddy.cart.build import practice_sha1 as built

    return built()


def is_practice_title(data: bytes) -> bool:
    """The header title the cartridge builder writes ('PRACTICE RED')."""
    from daddy.cart.build import TITLE

    return data[_TITLE].rstrip(b"\0") == TITLE.encode("ascii")


def ram_kib(data: bytes) -> int:
    """Cartridge RAM in KiB from the header's RAM size code (unknown codes count as 0)."""
    return _RAM_KIB.get(data[_RAM_SIZE_CODE], 0) if len(data) > _RAM_SIZE_CODE else 0


def describe_sha1(sha1: str) -> str:
    """A recorded ROM hash in words: Pokémon Red, the practice cartridge, or the hash."""
    if sha1 == POKEMON_RED_SHA1:
        return POKEMON_RED
    if sha1 == practice_sha1():
        return PRACTICE_WORDS
    return f"another ROM (SHA-1 {sha1}: an older practice cartridge or another dump)"


def check_same_rom(rom: Rom, recorded_sha1: str, what: str, hint: str | None = None) -> None:
    """Refuse to resume `what` (a run's savestates) on another ROM than the one it was made
    with. The fix offered first is the right --rom; `hint`: the run's saved ROM setting, when
    known. Only states of an older practice cartridge build, which no --rom can load, get
    'choose a new run name, or move the folder aside'."""
    if rom.sha1 == recorded_sha1:
        return
    known = recorded_sha1 in (POKEMON_RED_SHA1, practice_sha1())
    if rom.practice and not known and hint in (None, PRACTICE):
        older = f"an older build of the practice cartridge (SHA-1 {recorded_sha1})"
        made = older if hint == PRACTICE else f"another ROM or {older}"
        raise RomError(
            f"{what} was made with {made}; this version's practice cartridge is "
            f"{rom.sha1}, so those states do not fit it: choose a new run name, or move {what} "
            "aside to bootstrap the run again"
            + ("" if hint == PRACTICE else " (if it was another ROM, pass --rom PATH to it)")
        )
    if hint is None:
        if recorded_sha1 == POKEMON_RED_SHA1:
            hint = "/path/to/pokemon_red.gb"
        elif recorded_sha1 == practice_sha1():
            hint = PRACTICE
        else:
            hint = "PATH (the ROM it was made with)"
    raise RomError(
        f"{what} was made with {describe_sha1(recorded_sha1)}, but the ROM set now is "
        f"{rom.describe()}; pass --rom {hint} (or set ${ENV_VAR} to it) to go on with this "
        "run, or choose a new run name for a run on this ROM"
    )


def same_rom_setting(rom: Rom, recorded: str) -> bool:
    """Whether `rom` is what a saved ROM setting (`practice` or a path) names. A saved path
    that is gone counts as the same ROM when `rom` is not the practice cartridge (a moved dump)."""
    if recorded == PRACTICE:
        return rom.practice
    path = Path(os.path.expandvars(os.path.expanduser(recorded)))
    try:
        data = path.read_bytes()
    except OSError:
        return not rom.practice
    return sha1_of(data) == rom.sha1


def check_same_setting(rom: Rom, recorded: str | None, what: str = "the run's checkpoint") -> None:
    """Refuse to resume `what` (trained with the saved ROM setting `recorded`) on another ROM;
    the fix offered is passing the setting it was made with."""
    if not recorded or same_rom_setting(rom, recorded):
        return
    raise RomError(
        f"{what} was trained on {describe_setting(recorded)}, but the ROM set now is "
        f"{rom.describe()}; pass --rom {recorded} (or set ${ENV_VAR} to it) to go on with this "
        "run, or choose a new run name for a run on this ROM"
    )


def describe_setting(recorded: str) -> str:
    """A saved ROM setting in words (the file may be gone)."""
    if recorded == PRACTICE:
        return PRACTICE_WORDS
    try:
        return check_rom(recorded, allow_unknown=True).describe()
    except RomError:
        return f"the ROM at {recorded}"


# --- reading and checking a file -------------------------------------------------------------
def _read(path: Path) -> bytes:
    if not path.exists():
        raise RomError(
            f"ROM file {path} does not exist; pass --rom PATH (or set {ENV_VAR}) to your "
            "Pokémon Red dump, or --rom practice for the practice cartridge"
        )
    if path.is_dir():
        raise RomError(f"ROM path {path} is a folder, not a file; pass the .gb file itself")
    try:
        return path.read_bytes()
    except OSError as e:
        raise RomError(
            f"cannot read ROM {path}: {e.strerror}; check the file's permissions"
        ) from None


def _check_looks_like_rom(path: Path, data: bytes) -> None:
    """Size and header checksum, so a truncated or non-ROM file fails here, not in PyBoy."""
    if not data:
        raise RomError(f"ROM file {path} is empty (0 bytes); copy your Pokémon Red dump again")
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


# --- command lines ---------------------------------------------------------------------------
ROM_HELP = (
    f"'practice' or a ROM path (default: ${ENV_VAR}, else {PRACTICE_WORDS}; the rule: "
    f"--rom > ${ENV_VAR} > a run config's train.rom > the run's checkpoint > practice)"
)


def add_rom_flags(parser: Any) -> None:
    """`--rom` and `--allow-unknown-rom` for a command or benchmark without a run config
    (`rom_from_args` turns them into the checked ROM)."""
    parser.add_argument("--rom", default=None, help=ROM_HELP)
    parser.add_argument("--allow-unknown-rom", action="store_true",
                        help=f"accept a ROM whose SHA-1 is not {POKEMON_RED}'s")  # fmt: skip


def rom_from_args(args: Any) -> Rom:
    """The ROM `add_rom_flags`' options name, by the rule; an unusable one exits with one
    'error:' line (status 2), like the commands."""
    return resolve_or_exit(args.rom, allow_unknown=getattr(args, "allow_unknown_rom", False))


def resolve_or_exit(spec: str | os.PathLike[str] | None, *, allow_unknown: bool = False) -> Rom:
    """`resolve_rom` for scripts: an unusable ROM is one 'error:' line and exit status 2."""
    try:
        return resolve_rom(spec, allow_unknown=allow_unknown)
    except RomError as e:
        print(f"error: {e}", file=sys.stderr)
        raise SystemExit(2) from None
