"""Importing `.state` files made elsewhere: classified from their RAM, junk refused with reasons."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest

from daddy.cart.asm import finalize_header
from daddy.game import ram
from daddy.game.env import PokemonEnv
from daddy.game.milestones import DEFAULT_MILESTONES, by_name
from daddy.game.ram import EVENT_FLAGS_LEN, W_EVENT_FLAGS, GameState
from daddy.game.rom import Rom, check_rom
from daddy.swarm.curriculum import CurriculumConfig, CurriculumManager
from daddy.swarm.state_import import (
    EXIT_BAD_INPUT,
    EXIT_NOTHING_IMPORTED,
    EXIT_OK,
    classify,
    import_states,
    main,
    open_index,
)
from daddy.swarm.state_index import StateIndex
from tests.cart_util import face, get_starter, make_strong, press, skip_parcel_errand, walk_to


def bits(*names: str) -> int:
    return sum(1 << DEFAULT_MILESTONES.index(by_name(n)) for n in names)


@pytest.fixture(scope="module")
def states(practice_rom: Rom, boot_state: bytes) -> dict[str, bytes]:
    """Practice-cartridge states reached by the scripted player, plus broken variants."""
    env = PokemonEnv(practice_rom, initial_state=boot_state, max_episode_steps=10**6)
    try:
        env.reset()
        out = {"boot": env.save_state(), "power_on": env._power_on}
        get_starter(env)
        out["starter"] = env.save_state()
        make_strong(env)
        skip_parcel_errand(env)  # the old man north of Viridian lets the player by
        walk_to(env, 0x36, 4, 2)  # in front of Brock
        face(env, "up")
        for _ in range(200):
            press(env, "a")
            if env.state.in_control and env.state.badges:
                break
        assert env.state.badges & 1
        out["badge"] = env.save_state()
        env.load_state(boot_state)
        env.pyboy.memory[ram.W_CUR_MAP] = 0xF0  # Colosseum: not a practice-cartridge map
        out["foreign_map"] = env.save_state()
    finally:
        env.close()
    return out


def other_cartridge(practice_rom: Rom, folder: Path) -> Path:
    """Another ROM with a cartridge like Pokémon Red's: the practice game relabelled
    'OTHER GAME', MBC1 + 32 KiB RAM (Pokémon Red has RAM banks; the practice cartridge none)."""
    rom = bytearray(practice_rom.path.read_bytes())
    finalize_header(rom, "OTHER GAME", cart_type=0x03, rom_size_code=0x00, ram_size_code=0x03)
    path = folder / "other.gb"
    path.write_bytes(rom)
    return path


def foreign_cartridge_state(practice_rom: Rom, folder: Path) -> bytes:
    """A state of `other_cartridge`, 32 KiB longer than the practice cartridge's."""
    from pyboy import PyBoy

    path = other_cartridge(practice_rom, folder)
    pb = PyBoy(str(path), window="null", sound_emulated=False, log_level="ERROR")
    try:
        pb.tick(60, False)
        buf = io.BytesIO()
        pb.save_state(buf)
        return buf.getvalue()
    finally:
        pb.stop(save=False)


def empty_index(rom: Rom, tmp_path: Path) -> StateIndex:
    return StateIndex.create(tmp_path / "savestates" / "r", "r", rom.sha1)


def write(folder: Path, files: dict[str, bytes]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (folder / f"{name}.state").write_bytes(data)
    return folder


def test_practice_states_are_classified_from_their_ram(
    states: dict[str, bytes], practice_rom: Rom, tmp_path: Path
) -> None:
    src = write(tmp_path / "in", {k: states[k] for k in ("boot", "starter", "badge")})
    index = open_index(practice_rom, "r", tmp_path / "savestates")  # bootstraps the new run
    assert [e.name for e in index.entries] == ["pallet_town_start"]
    outcomes = import_states(index, sorted(src.iterdir()), practice_rom)
    assert [o.status for o in outcomes] == ["imported"] * 3
    by = {e.name: e for e in index.reload() if e.name != "pallet_town_start"}
    assert set(by) == {"import_boot", "import_starter", "import_badge"}
    boot, starter, badge = by["import_boot"], by["import_starter"], by["import_badge"]
    assert (boot.tier, boot.map_id, boot.badges, boot.milestones) == ("early", 0x26, 0, 0)
    assert (starter.tier, starter.map_id, starter.milestones) == (
        "early",
        0x28,
        bits("got_starter"),
    )
    assert (badge.tier, badge.map_id, badge.badges) == ("early", 0x36, 1)
    assert badge.milestones == bits("got_starter", "battled_rival_lab", "got_oaks_parcel",
                                    "oak_got_parcel", "got_pokedex", "beat_brock",
                                    "badge_boulder")  # the scripted path: rival, parcel, Brock
    assert badge.events > starter.events > boot.events == 0
    assert all(e.milestone == e.name and e.step == 0 for e in by.values())

    # The curriculum spawns from them, and a spawn reproduces what the index says.
    cur = CurriculumManager(StateIndex.load(index.folder), CurriculumConfig(), num_envs=1)
    assert set(cur.registry) == {*by, "pallet_town_start"} and not cur.skipped
    env = PokemonEnv(practice_rom)
    try:
        env.load_state(cur.state_bytes(badge))
        assert env.state.badges == 1 and env.state.event(ram.EVENT_BEAT_BROCK)
    finally:
        env.close()


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda s, rom, tmp: b"", "empty"),
        (lambda s, rom, tmp: b"Hello, I am a text file.\n" * 40, "not a PyBoy savestate"),
        (lambda s, rom, tmp: bytes([s["boot"][0] + 1]) + s["boot"][1:], "newer PyBoy"),
        (lambda s, rom, tmp: s["boot"][: len(s["boot"]) // 3], "truncated"),
        (lambda s, rom, tmp: s["power_on"], "has not started"),
        (lambda s, rom, tmp: s["foreign_map"], "map 0xF0"),
        (lambda s, rom, tmp: foreign_cartridge_state(rom, tmp),
         ("made for another ROM (a cartridge with 32 KiB of RAM, like Pokémon Red), but this "
         "run's ROM is the practice cartridge, with 0 KiB")),
    ],
    ids=[
        "empty",
        "text",
        "newer-pyboy",
        "truncated",
        "title-screen",
        "foreign-map",
        "other-cartridge",
    ],
)
def test_a_state_that_is_no_state_of_this_rom_is_refused_with_its_reason(
    states: dict[str, bytes], practice_rom: Rom, tmp_path: Path, make, reason: str
) -> None:
    path = tmp_path / "bad.state"
    path.write_bytes(make(states, practice_rom, tmp_path))
    index = empty_index(practice_rom, tmp_path)
    (outcome,) = import_states(index, [path], practice_rom)
    assert outcome.status == "refused" and reason in outcome.reason
    assert "\n" not in outcome.reason
    assert index.reload() == [] and not list(index.folder.glob("*.state"))


def game_at(map_id: int, badges: int = 0, events: tuple[tuple[int, int], ...] = ()) -> GameState:
    flags = bytearray(EVENT_FLAGS_LEN)
    for addr, bit in events:
        flags[addr - W_EVENT_FLAGS] |= 1 << bit
    return GameState(map_id, 3, 4, badges, 1, (5, 0, 0, 0, 0, 0), 20, 20, bytes(flags),
                     ram.popcount(flags), 0, 3000, 1, 1, 0, True, False)  # fmt: skip


@pytest.mark.parametrize(
    ("game", "tier"),
    [
        (game_at(0x26), "early"),
        (game_at(0x0C, events=(ram.EVENT_GOT_STARTER,)), "early"),
        # tiers are thirds of the story (early up to Vermilion): a state sits where its
        # furthest milestone does, whatever its map or badge count
        (game_at(0x02), "early"),  # Pewter City: an early milestone
        (game_at(0x36, badges=0b1, events=(ram.EVENT_BEAT_BROCK,)), "early"),  # one badge
        (game_at(0x00, badges=0b11), "early"),  # two badges, both early in the story
        (game_at(0x00, events=(ram.EVENT_BEAT_MISTY,)), "early"),  # Misty, no badge
        (game_at(0x41), "early"),  # Cerulean Gym with nothing reached: the story's start
        (game_at(0x00, badges=0b1000), "mid"),  # the Rainbow badge: Celadon, mid-game
        (game_at(0x00, badges=0b11110000), "late"),  # the last four badges
    ],
    ids=[
        "house",
        "route1",
        "pewter",
        "boulder",
        "cascade",
        "beat-misty",
        "unreached-gym",
        "rainbow",
        "four-badges",
    ],
)
def test_tier_is_where_the_states_story_stands(
    game: GameState, tier: str
) -> None:
    assert classify(game) == tier


def test_same_state_twice_is_kept_once_and_same_stems_get_distinct_names(
    states: dict[str, bytes], practice_rom: Rom, tmp_path: Path
) -> None:
    a = write(tmp_path / "a", {"x": states["starter"]})
    b = write(tmp_path / "b", {"x": states["badge"], "y": states["starter"]})
    index = empty_index(practice_rom, tmp_path)
    files = [a / "x.state", b / "x.state", b / "y.state"]
    outcomes = import_states(index, files, practice_rom)
    assert [o.status for o in outcomes] == ["imported", "imported", "present"]
    assert [o.entry.name for o in outcomes] == ["import_x", "import_x_2", "import_x"]
    assert len(index.reload()) == 2


def test_cli_exit_codes_say_whether_anything_was_imported(
    states: dict[str, bytes], practice_rom: Rom, tmp_path: Path, capsys
) -> None:
    good = write(tmp_path / "good", {"starter": states["starter"]})
    junk = write(tmp_path / "junk", {"empty": b"", "title": states["power_on"]})
    root = ["--states-root", str(tmp_path / "savestates")]  # --savestates: the old name, below
    assert main(["import", "--run", "r", *root, str(junk)]) == EXIT_NOTHING_IMPORTED
    err = capsys.readouterr().err
    assert "empty.state: the file is empty" in err and "title.state: the game has not" in err
    index = StateIndex.load(tmp_path / "savestates" / "r")
    assert [e.name for e in index.entries] == ["pallet_town_start"]  # the run can still train
    assert main(["import", "--run", "r", *root, str(good), str(junk)]) == EXIT_OK
    assert "imported as import_starter" in capsys.readouterr().out
    assert main(["import", "--run", "r", *root, str(good)]) == EXIT_OK  # idempotent
    assert "already in the index as import_starter" in capsys.readouterr().out
    assert main(["import", "--run", "r", *root, str(tmp_path / "missing")]) == EXIT_BAD_INPUT
    assert "neither a folder nor a file" in capsys.readouterr().err


def test_an_index_of_another_rom_is_not_touched(
    states: dict[str, bytes], practice_rom: Rom, tmp_path: Path, capsys
) -> None:
    StateIndex.create(tmp_path / "savestates" / "r", "r", "0" * 40)
    before = (tmp_path / "savestates" / "r" / "index.json").read_bytes()
    good = write(tmp_path / "good", {"starter": states["starter"]})
    argv = ["import", "--run", "r", "--savestates", str(tmp_path / "savestates"), str(good)]
    assert main(argv) == EXIT_BAD_INPUT
    assert "0" * 40 in capsys.readouterr().err  # names the index's ROM
    assert (tmp_path / "savestates" / "r" / "index.json").read_bytes() == before


def test_python_m_daddy_curriculum_import_runs_the_tool(
    states: dict[str, bytes], tmp_path: Path
) -> None:
    good = write(tmp_path / "good", {"badge": states["badge"]})
    out = subprocess.run(
        [sys.executable, "-m", "daddy.curriculum", "import", "--run", "r", "--savestates",
         str(tmp_path / "ss"), str(good)], capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert "imported as import_badge (tier early, map 0x36, badges 1" in out.stdout
    names = [e.name for e in StateIndex.load(tmp_path / "ss" / "r").entries]
    assert names == ["pallet_town_start", "import_badge"]


def test_a_practice_state_offered_to_a_real_game_run_is_from_another_rom_not_truncated(
    states: dict[str, bytes], practice_rom: Rom, tmp_path: Path
) -> None:
    """The issue's case: a whole practice-cartridge state was refused as 'truncated … copy it
    again' by a run of Pokémon Red (a cartridge with RAM; here a stand-in with the same)."""
    other = check_rom(other_cartridge(practice_rom, tmp_path), allow_unknown=True)
    assert not other.practice and other.ram_kib == 32
    path = write(tmp_path / "in", {"boot": states["boot"]}) / "boot.state"
    index = empty_index(other, tmp_path)
    (outcome,) = import_states(index, [path], other)
    assert outcome.status == "refused", outcome
    assert outcome.reason.startswith("made for another ROM (the practice cartridge), but this "
                                     f"run's ROM is the ROM at {other.path}")  # fmt: skip
    assert "--rom practice" in outcome.reason and "truncated" not in outcome.reason
    assert index.reload() == []


def test_the_importer_takes_its_rom_by_the_rule(
    states: dict[str, bytes], tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No --rom: $DADDY_ROM names the run's ROM, checked before anything is written."""
    good = write(tmp_path / "good", {"starter": states["starter"]})
    (tmp_path / "empty.gb").write_bytes(b"")
    monkeypatch.setenv("DADDY_ROM", str(tmp_path / "empty.gb"))
    root = ["--states-root", str(tmp_path / "savestates")]
    assert main(["import", "--run", "r", *root, str(good)]) == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "$DADDY_ROM: ROM file" in err and "is empty" in err
    assert not (tmp_path / "savestates").exists()
    assert main(["import", "--run", "r", *root, "--rom", "practice", str(good)]) == EXIT_OK
