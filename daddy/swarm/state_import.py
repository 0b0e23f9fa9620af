"""Import `.state` files made elsewhere into a run's savestate index.

`python -m daddy.curriculum import --run NAME [--rom practice|PATH] DIR_OR_FILE...`

Other Pokémon Red RL projects (pokemonred_puffer and friends) save plain PyBoy states; a run can
spawn from them like from its own trigger states. Each file is loaded once in an emulator of the
run's ROM and its RAM read (`daddy.game.ram`), so the index entry's map, badges, events, milestone mask
and tier come from the game itself, never from the file name. A file that cannot be a state of
this ROM is refused with one line saying why: not readable, made by a newer PyBoy, made for
another ROM (its size differs from this ROM's states by whole 8 KiB cartridge-RAM banks: PyBoy
saves the cartridge's RAM in every state, one bank on the practice cartridge, four on Pokémon
Red; a state that loads in the practice cartridge is named as its), truncated, a game not
started yet, a map this ROM does not have. Accepted states are re-saved by the running PyBoy right after loading
(the same machine state in the running format, so `pyboy` in the index is true for the file)
and added with `StateIndex.add` under the milestone `import_<file stem>`.
"""

from __future__ import annotations

import argparse
import io
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from daddy.game import ram
from daddy.game.bootstrap import BootstrapError, bootstrap
from daddy.game.env import PokemonEnv
from daddy.game.milestones import DEFAULT_MILESTONES, Milestone, Tier, reached_mask
from daddy.game.rom import PRACTICE, PRACTICE_WORDS, Rom, RomError, practice_sha1
from daddy.run import exit_codes
from daddy.run.config import run_rom
from daddy.run.paths import STATES_ROOT, RunPaths, add_root_flags
from daddy.swarm.state_index import (
    STATE_SUFFIX,
    StateEntry,
    StateIndex,
    StateIndexError,
    StateMeta,
    sha256_bytes,
)
from daddy.swarm.trigger import tier_for

IMPORT_PREFIX = "import_"
EXIT_OK, EXIT_BAD_INPUT = exit_codes.EXIT_OK, exit_codes.EXIT_BAD_INPUT
EXIT_NOTHING_IMPORTED = 1  # every file refused (each refusal has its line); not a crash
# Frames run after loading: a state that crashes the emulator is refused, not found mid-run.
CHECK_FRAMES = 60
# PyBoy's state format grows by one every few releases: a first byte far above the running
# format is no format at all (text, another emulator's file), not a state from the future.
_FORMAT_SLACK = 16
# PyBoy saves cartridge RAM in 8 KiB banks: states of two ROMs differ in size by whole banks.
RAM_BANK = 8 * 1024
_MBC_SLACK = 64  # bytes a memory controller adds to a state (MBC1: 2, MBC5: 1, RTC: 33)
# Late-game maps: the curriculum's default (Cerulean Gym, Vermilion … Saffron), one source.

Status = Literal["imported", "present", "refused"]


class StateRefused(ValueError):
    """A file that is not a usable savestate of the run's ROM; the message is the reason."""


@dataclass(frozen=True)
class Inspection:
    """A state that loaded cleanly: its bytes in the running PyBoy's format and its RAM."""

    state: bytes
    game: ram.GameState


@dataclass(frozen=True)
class Outcome:
    """What happened to one file: imported (entry), already present (entry), or refused."""

    path: Path
    status: Status
    entry: StateEntry | None = None
    reason: str = ""

    def line(self) -> str:
        if self.status == "refused":
            return f"refused {self.path}: {self.reason}"
        e = self.entry
        assert e is not None
        what = "imported as" if self.status == "imported" else "already in the index as"
        return (
            f"{self.path}: {what} {e.name} (tier {e.tier}, map 0x{e.map_id:02X}, "
            f"badges {e.badges.bit_count()}, events {e.events})"
        )


# --- reading one state -------------------------------------------------------------------------
def classify(
    game: ram.GameState, milestones: Sequence[Milestone] = DEFAULT_MILESTONES
) -> Tier:
    """The curriculum tier of a state found in the wild: where its story stands (the tier of
    the furthest milestone true in it, as a trigger state saved there would get)."""
    return tier_for(IMPORT_PREFIX, game, milestones)


def known_maps(rom: Rom) -> frozenset[int]:
    """Map ids a state of this ROM can stand on (a foreign state lands elsewhere)."""
    if rom.practice:
        from daddy.cart.world import BY_ID

        return frozenset(BY_ID)
    from daddy.game.maps import MAP_CONSTANTS

    return frozenset(i for i, c in MAP_CONSTANTS.items() if not c.startswith("UNUSED"))


def _load_problem(err: BaseException, data: bytes, sample_size: int) -> str:
    """One line for a PyBoy exception raised while loading `data`."""
    text = str(err) or type(err).__name__
    if "No data" in text:
        return (
            f"truncated: the file ends after {len(data)} bytes, where a savestate of this "
            f"ROM is about {sample_size}; copy it again"
        )
    if "CGB" in text:
        return (
            f"made in Game Boy Color mode ({text}); Daddy runs Pokémon Red in DMG mode, "
            f"so it is from another ROM or emulator setting"
        )
    return f"the emulator could not load it ({text}); it is not a PyBoy savestate of this ROM"


def other_rom_reason(data: bytes, sample_size: int, rom: Rom | None = None) -> str | None:
    """'made for another ROM (…)' when `data` differs in size from this ROM's states
    (`sample_size`) by whole cartridge-RAM banks (give or take a memory controller's few
    bytes), naming the other ROM when it can be told: the practice cartridge if the state
    loads in it, else by its cartridge RAM."""
    diff = len(data) - sample_size
    banks = round(diff / RAM_BANK)
    if banks == 0 or abs(diff - banks * RAM_BANK) > _MBC_SLACK:
        return None
    if rom is None:
        more = "more" if banks > 0 else "less"
        return (f"made for another ROM (its cartridge has {abs(banks) * 8} KiB {more} RAM "
                "than this ROM's); import it into a run of that ROM (--rom)")  # fmt: skip
    theirs = max(1, rom.ram_kib // 8) + banks  # PyBoy saves at least one bank
    if theirs == 1 and rom.sha1 != practice_sha1() and _loads_in_practice_cartridge(data):
        return (f"made for another ROM ({PRACTICE_WORDS}), but this run's ROM is "
                f"{rom.describe()}; import it into a run of the practice cartridge "
                f"(--rom {PRACTICE})")  # fmt: skip
    ram = "at most 8 KiB" if theirs == 1 else f"{theirs * 8} KiB"
    like = ", like Pokémon Red" if theirs == 4 else ""
    return (f"made for another ROM (a cartridge with {ram} of RAM{like}), but this run's ROM "
            f"is {rom.describe()}, with {rom.ram_kib} KiB; import it into a run of that ROM "
            "(--rom PATH)")  # fmt: skip


def _loads_in_practice_cartridge(data: bytes) -> bool:
    """Whether `data` loads whole into the practice cartridge (one emulator, only when a
    refused state might be the practice cartridge's)."""
    from pyboy import PyBoy

    from daddy.cart.build import practice_rom_path

    pb = PyBoy(str(practice_rom_path()), window="null", sound_emulated=False, log_level="ERROR")
    try:
        buf = io.BytesIO(data)
        pb.load_state(buf)
        return buf.tell() == len(data)
    except Exception:  # noqa: BLE001 -- any failure means "not the practice cartridge's"
        return False
    finally:
        pb.stop(save=False)


def inspect_state(
    pyboy: Any, data: bytes, *, format_version: int, sample_size: int,
    maps: frozenset[int] | None = None, rom: Rom | None = None,
) -> Inspection:  # fmt: skip
    """Load `data` into `pyboy`, check it is a playable state of its ROM, read its RAM.

    `format_version`/`sample_size`: first byte and length of a state the running PyBoy saves
    for this ROM (what a good state looks like); `rom`, when given, lets a state of another
    ROM be named as such. Raises `StateRefused` with the reason.
    """
    if not data:
        raise StateRefused("the file is empty, not a savestate")
    if data[0] > format_version + _FORMAT_SLACK:
        raise StateRefused(
            f"not a PyBoy savestate (its first byte, {data[0]}, is no state "
            f"format; the running PyBoy writes {format_version})"
        )
    if data[0] > format_version:
        raise StateRefused(
            f"made by a newer PyBoy (state format {data[0]}; the running PyBoy writes "
            f"{format_version}); upgrade PyBoy to the version that made it"
        )
    other = other_rom_reason(data, sample_size, rom) if data[0] == format_version else None
    if other:
        raise StateRefused(other)
    buf = io.BytesIO(data)
    try:
        pyboy.load_state(buf)
    except Exception as err:  # noqa: BLE001 -- PyBoy raises assorted errors on bad bytes
        raise StateRefused(_load_problem(err, data, sample_size)) from None
    left = len(data) - buf.tell()
    if left:
        raise StateRefused(
            f"{left} bytes left over after the emulator state: it is not a state of this ROM "
            "(made for another ROM or another emulator); import it into a run of its ROM (--rom)"
        )
    mem = pyboy.memory
    if not mem[ram.W_STATUS_FLAGS6] & 1:
        raise StateRefused(
            "the game has not started in it (title screen or intro); save a "
            "state after the intro, when the player walks"
        )
    game = ram.read_game_state(mem)
    if maps is not None and game.map_id not in maps:
        raise StateRefused(f"it stands on map 0x{game.map_id:02X}, which this ROM does not "
                           f"have: it was made with another ROM; import it into a run of that "
                           f"ROM (--rom)")  # fmt: skip
    out = io.BytesIO()
    pyboy.save_state(out)
    try:
        pyboy.tick(CHECK_FRAMES, False)
    except Exception as err:  # noqa: BLE001 -- any emulator failure refuses the state
        raise StateRefused(
            f"the emulator failed running it ({err or type(err).__name__})"
        ) from None
    return Inspection(out.getvalue(), game)


# --- importing -----------------------------------------------------------------------------------
def find_state_files(sources: Sequence[Path | str]) -> list[Path]:
    """Every `.state` file under the given folders (recursively) or named directly, sorted."""
    found: list[Path] = []
    for src in map(Path, sources):
        if src.is_dir():
            found += sorted(p for p in src.rglob("*" + STATE_SUFFIX) if p.is_file())
        elif src.is_file():
            found.append(src)
        else:
            raise FileNotFoundError(f"{src} is neither a folder nor a file; pass folders that "
                                    f"hold .state files")  # fmt: skip
    unique = list(dict.fromkeys(p.resolve() for p in found))
    if not unique:
        raise FileNotFoundError(
            f"no .state files in {', '.join(map(str, sources))}; pass the folders that hold them"
        )
    return unique


def import_name(path: Path, taken: set[str]) -> str:
    """`import_<stem>` made index-safe, with `_2`, `_3`… when the name is taken."""
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", path.stem).strip("._-") or "state"
    base = (IMPORT_PREFIX + stem)[:120]
    name, k = base, 1
    while name in taken:
        k += 1
        name = f"{base}_{k}"
    return name


def open_index(rom: Rom, run: str, states_root: Path = STATES_ROOT) -> StateIndex:
    """The run's index; a run that has none is bootstrapped first, as `train_big` would.

    Without that, an index holding only imports would stop `train_big` from bootstrapping and
    the run would lack its first controllable state (or, if every file was refused, any
    state). An existing index must be of this ROM (`StateIndex.load` says so if not).
    """
    paths = RunPaths(run, states_root=states_root)
    if not paths.state_index.exists():
        print(f"[BOOT] no savestates for {run}: bootstrapping from power-on", flush=True)
        bootstrap(rom, run, states_root)
    return StateIndex.load(paths.states, rom_sha1=rom.sha1)


def import_states(index: StateIndex, files: Sequence[Path], rom: Rom) -> list[Outcome]:
    """Load each file once in one emulator of `rom` and add the good ones to `index`."""
    env = PokemonEnv(rom)
    try:
        sample = env.save_state()
        maps = known_maps(rom)
        out = []
        for path in files:
            out.append(_import_one(index, path, env, sample, maps))
        return out
    finally:
        env.close()


def _import_one(
    index: StateIndex, path: Path, env: PokemonEnv, sample: bytes, maps: frozenset[int]
) -> Outcome:
    try:
        data = path.read_bytes()
    except OSError as err:
        return Outcome(path, "refused", reason=f"cannot read it ({err.strerror or err})")
    try:
        got = inspect_state(env.pyboy, data, format_version=sample[0], sample_size=len(sample),
                            maps=maps, rom=env.rom)  # fmt: skip
    except StateRefused as err:
        return Outcome(path, "refused", reason=str(err))
    digest = sha256_bytes(got.state)
    entries = index.reload()
    same = next((e for e in entries if e.sha256 == digest), None)
    if same is not None:
        return Outcome(path, "present", same)
    taken = {e.name for e in entries} | {e.milestone for e in entries}
    name = import_name(path, taken)
    g = got.game
    meta = StateMeta(milestone=name, tier=classify(g), map_id=g.map_id,
                     badges=g.badges, events=g.event_count, step=0,
                     milestones=reached_mask(g), hp=g.hp, max_hp=g.max_hp)  # fmt: skip
    entry = index.add(name, got.state, meta)
    if entry is None:  # another process added this milestone name meanwhile
        return Outcome(path, "refused", reason=f"the index already has a state named {name}; "
                                               f"rename the file and import it again")  # fmt: skip
    return Outcome(path, "imported", entry)


# --- command line ------------------------------------------------------------------------------
def build_parser(prog: str = "python -m daddy.curriculum") -> argparse.ArgumentParser:
    p = exit_codes.OneLineParser(
        prefix=f"{prog.removeprefix('python -m ')}: error",
        prog=prog,
        description="Curriculum savestate tools.",
    )
    sub = p.add_subparsers(dest="command", required=True)
    imp = sub.add_parser("import", help="add .state files made elsewhere to a run's index",
                         prefix=f"{prog.removeprefix('python -m ')} import: error",
                         description=__doc__.split("\n")[0])  # fmt: skip
    imp.add_argument("--run", required=True, help="run name: states go to STATES_ROOT/RUN/")
    imp.add_argument(
        "--rom", default=None,
        help="the run's ROM, 'practice' or a path (default: $DADDY_ROM, else runs/RUN.yaml's "
             "train.rom, else the run's checkpoint's, else the practice cartridge)",
    )  # fmt: skip
    imp.add_argument("--allow-unknown-rom", action="store_true")
    add_root_flags(imp, runs=False, old_states_name=True)
    imp.add_argument(
        "sources",
        nargs="+",
        type=Path,
        metavar="DIR",
        help="folders searched recursively for .state files (or .state files)",
    )
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Exit 0 when every state is in the index afterwards or at least one was imported,
    1 when nothing was imported (all refused), 2 on bad input (no files, bad ROM or index)."""
    args = build_parser().parse_args(argv)
    prog = "daddy.curriculum import"
    try:
        files = find_state_files(args.sources)
        rom = run_rom(args.run, args.rom, allow_unknown=args.allow_unknown_rom,
                      states_root=args.states_root)  # fmt: skip
        index = open_index(rom, args.run, args.states_root)
        outcomes = import_states(index, files, rom)
    except (OSError, RomError, StateIndexError, BootstrapError, ValueError) as err:
        print(f"{prog}: error: {' '.join(str(err).split())}", file=sys.stderr)
        return EXIT_BAD_INPUT
    for o in outcomes:
        print(o.line(), file=sys.stderr if o.status == "refused" else sys.stdout)
    n = {s: sum(o.status == s for o in outcomes) for s in ("imported", "present", "refused")}
    print(
        f"{args.run}: {n['imported']} imported, {n['present']} already there, "
        f"{n['refused']} refused -> {index.index_path}"
    )
    return EXIT_OK if n["imported"] or not n["refused"] else EXIT_NOTHING_IMPORTED
