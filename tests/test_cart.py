"""The practice cartridge: built deterministically, and its game rules work in real PyBoy."""

from __future__ import annotations

import subprocess
import sys

import pytest

from daddy.cart import build, world
from daddy.cart.asm import finalize_header
from daddy.game import ram
from tests.cart_util import (
    face,
    flag_set,
    get_starter,
    make_strong,
    parcel_errand,
    press,
    settle,
    skip_parcel_errand,
    walk_to,
)

PALLET, ROUTE_1, PEWTER_GYM, REDS_2F, REDS_1F = 0x00, 0x0C, 0x36, 0x26, 0x25


def test_building_twice_gives_identical_bytes(tmp_path):
    first = build.build_rom()
    out = tmp_path / "cart.gb"
    subprocess.run(
        [sys.executable, "-m", "daddy.cart", "build", "--out", str(out)], check=True,
        capture_output=True,
    )  # fmt: skip
    assert out.read_bytes() == first == build.build_rom()


def test_header_has_own_title_and_valid_checksums():
    rom = build.build_rom()
    assert len(rom) == 0x8000 and rom[0x147] == 0x00
    assert rom[0x134:0x143].rstrip(b"\0") == b"PRACTICE RED"
    again = bytearray(rom)
    finalize_header(again, "PRACTICE RED")
    assert bytes(again) == rom  # recomputing both checksums changes nothing


def test_world_is_consistent_and_large_enough():
    world.validate()
    assert len(world.MAPS) >= 10
    assert world.reachable_maps() == set(world.BY_ID)
    assert len({m.tileset for m in world.MAPS}) >= 5
    leaders = [o for m in world.MAPS for o in m.objects if o.badge]
    assert sorted(o.badge for o in leaders) == [1, 2, 4]


def test_broken_world_is_rejected(monkeypatch):
    bad = world.BY_ID[0x0C]
    rows = ("TTTT..TTTT", *bad.rows[1:8], "TTTTT.TTTT")  # south opening no longer lines up
    monkeypatch.setitem(world.BY_ID, 0x0C, world.MapDef(**{**bad.__dict__, "rows": rows}))
    monkeypatch.setattr(world, "MAPS", tuple(world.BY_ID.values()))
    with pytest.raises(world.WorldError, match="do not line up"):
        world.validate()


def test_text_without_glyphs_is_rejected():
    with pytest.raises(ValueError, match="no glyph"):
        build.check_text('Foo: db "caf\u00e9@"')


def test_bootstrap_state_is_in_control_in_reds_room(game):
    s = game.state
    assert s.in_control and (s.map_id, s.x, s.y) == world.START
    assert s.money == 3000 and s.party_count == 0 and s.badges == 0
    text = bytes(game.pyboy.memory[0xD158:0xD15B])
    assert text == ram.encode_text("RED")  # DOWN then A took the first preset name


@pytest.mark.parametrize("button, dx, dy", [("right", 1, 0), ("left", -1, 0), ("up", 0, -1)])
def test_walking_changes_coordinates(game, button, dx, dy):
    before = game.state
    after = press(game, button)
    assert (after.x, after.y) == (before.x + dx, before.y + dy)
    assert after.map_id == before.map_id


def test_walls_block(game):
    for _ in range(8):
        press(game, "down")
    s = game.state
    assert s.y == world.HEIGHT - 2  # the wall row stops the player


def test_stairs_and_door_change_map(game):
    walk_to(game, REDS_1F, 4, 7)
    assert game.state.map_id == REDS_1F
    press(game, "down")  # onto the door
    s = game.state
    assert (s.map_id, s.x, s.y) == (PALLET, 3, 4)


def test_gate_needs_starter_then_edge_leads_to_route_1(game):
    walk_to(game, PALLET, 4, 1)
    press(game, "up")
    assert game.state.map_id == PALLET  # the gate is closed
    settle(game)
    get_starter(game)
    s = game.state
    assert s.event(ram.EVENT_GOT_STARTER) and s.party_count == 1 and s.levels[0] == 5
    assert s.dex_owned == 1
    walk_to(game, PALLET, 4, 0)
    s = press(game, "up")
    assert (s.map_id, s.x, s.y) == (ROUTE_1, 4, 8)


def test_text_box_sets_font_flag_and_window(game):
    walk_to(game, REDS_2F, 1, 2)
    face(game, "up")  # the PC
    press(game, "a")
    mem = game.pyboy.memory
    assert mem[ram.W_FONT_LOADED] & 1 and mem[ram.H_WY] == 0x00
    assert not game.state.in_control
    press(game, "b")
    assert mem[ram.W_FONT_LOADED] & 1 == 0 and mem[ram.H_WY] == 0x90
    assert game.state.in_control


def test_wild_battle_costs_hp_and_raises_a_level(game):
    get_starter(game)
    mem = game.pyboy.memory
    mem[ram.W_PARTY_MON1_MAX_HP + 1] = mem[ram.W_PARTY_MON1_HP + 1] = 200  # never black out
    walk_to(game, ROUTE_1, 5, 4)  # grass
    for _ in range(400):
        if game.state.in_battle:
            break
        press(game, "left" if game.state.x == 5 else "right")
        settle_text_only(game)
    assert game.state.in_battle == 1
    mem[0xC012] = 4  # experience one short of level 5 -> the win must level up
    before = game.state
    hp_seen = before.hp
    while game.state.in_battle:
        press(game, "a")
        hp_seen = min(hp_seen, game.state.hp)
    assert game.state.levels[0] == before.levels[0] + 1
    assert hp_seen < before.hp
    assert game.state.dex_seen >= 2


def settle_text_only(game) -> None:
    while game.state.text_box and not game.state.in_battle:
        press(game, "b")


def test_losing_a_battle_returns_to_the_healing_spot(game):
    get_starter(game)
    mem = game.pyboy.memory
    walk_to(game, ROUTE_1, 5, 4)
    mem[ram.W_PARTY_MON1_HP + 1] = 1
    for _ in range(600):
        if game.state.in_battle:
            break
        press(game, "left" if game.state.x == 5 else "right")
    while game.state.in_battle:
        press(game, "a")
    s = game.state
    assert (s.map_id, s.x, s.y) == world.HEAL_START and s.hp == s.max_hp


def test_gym_leader_gives_badge_and_event(game):
    get_starter(game)
    make_strong(game)
    skip_parcel_errand(game)
    walk_to(game, PEWTER_GYM, 4, 2)
    face(game, "up")
    press(game, "a")  # Brock's text, then the battle
    for _ in range(200):
        if game.state.in_control:
            break
        press(game, "a")
    s = game.state
    assert s.badges & 1 and s.event(ram.EVENT_BEAT_BROCK)
    assert s.money > 3000
    # The east gate of Pewter City is open now.
    walk_to(game, 0x0E, 0, 4)



def test_first_badge_needs_no_grinding(game):
    """The learning benchmark's first goal is reachable by walking there and fighting: the
    starter survives the rival, the parcel errand and the wild battles on the way and beats
    Brock without extra levels."""
    get_starter(game)
    parcel_errand(game)
    walk_to(game, PEWTER_GYM, 4, 2)  # fights whatever appears on the way
    s = game.state
    assert s.levels[0] < 10 and s.party_count == 1  # no shortcut was taken
    face(game, "up")
    press(game, "a")
    for _ in range(200):
        if game.state.in_control:
            break
        press(game, "a")
    assert game.state.badges & 1


# --- the real game's first obstacles after the starter (pokered OaksLab/ViridianMart/ViridianCity)
OAKS_LAB, VIRIDIAN, VIRIDIAN_MART, ROUTE_2 = 0x28, 0x01, 0x2A, 0x0D


def flag(game, index: int) -> bool:
    return flag_set(game.pyboy.memory, index)


def walk_down_until_battle(game, limit: int = 10) -> None:
    """Step down (closing text with B) until a battle starts."""
    for _ in range(limit):
        if game.state.in_battle:
            return
        press(game, "down" if game.state.in_control else "b")
    raise AssertionError("no battle started")


def test_no_rival_before_the_starter(game):
    walk_to(game, OAKS_LAB, 4, 5)
    walk_to(game, OAKS_LAB, 4, world.RIVAL_TRIGGER_Y)  # the rival's row, without a starter
    press(game, "down")
    assert game.state.in_control and not game.state.in_battle
    assert not flag(game, world.FLAG_BATTLED_RIVAL)


@pytest.mark.parametrize("lose", [False, True])
def test_rival_battles_on_leaving_the_lab_won_or_lost(game, lose):
    """pokered OaksLab.asm: the rival stops the player with the starter at row 6; the flag is
    set whether the battle is won or lost, there is no blackout, and the party is healed."""
    get_starter(game)
    walk_down_until_battle(game)
    s = game.state
    assert (s.map_id, s.y) == (OAKS_LAB, world.RIVAL_TRIGGER_Y) and s.in_battle == 2
    if lose:
        mem = game.pyboy.memory
        mem[ram.W_PARTY_MON1_HP + 1] = 1
    money = game.state.money
    for _ in range(200):
        if game.state.in_control:
            break
        press(game, "a")
    s = game.state
    assert flag(game, world.FLAG_BATTLED_RIVAL)
    assert s.map_id == OAKS_LAB and s.hp == s.max_hp  # healed in the lab, not at Mom's
    assert (s.money > money) != lose  # only a win pays
    press(game, "down")
    assert not game.state.in_battle  # once only


def test_old_man_blocks_the_way_north_until_the_pokedex(game):
    get_starter(game)
    make_strong(game)
    walk_to(game, VIRIDIAN, 4, 1)
    assert flag(game, world.FLAG_BATTLED_RIVAL)  # met on the way out of the lab
    press(game, "up")
    assert game.state.map_id == VIRIDIAN  # the old man's gate
    settle(game)
    with pytest.raises(AssertionError, match="no path"):
        walk_to(game, ROUTE_2, 4, 8)


def test_parcel_errand_fills_and_empties_the_bag_and_opens_the_way(game):
    """Viridian Mart's clerk puts OAK's PARCEL in the bag on entry (EVENT_GOT_OAKS_PARCEL);
    Oak takes it (EVENT_OAK_GOT_PARCEL) and gives the POKeDEX (EVENT_GOT_POKEDEX); then the
    road north of Viridian City is open."""
    get_starter(game)
    make_strong(game)
    walk_to(game, VIRIDIAN_MART, 4, 7)
    settle(game)
    mem = game.pyboy.memory
    assert flag(game, world.FLAG_GOT_OAKS_PARCEL) and not flag(game, world.FLAG_OAK_GOT_PARCEL)
    assert game.state.has_item(world.ITEM_OAKS_PARCEL)
    n = mem[ram.W_NUM_BAG_ITEMS]
    assert mem[ram.W_BAG_ITEMS + 2 * n] == 0xFF  # the list stays terminated
    walk_to(game, VIRIDIAN_MART, 4, 6)
    walk_to(game, VIRIDIAN_MART, 4, 7)  # a second visit gives nothing
    assert game.state.in_control and mem[ram.W_NUM_BAG_ITEMS] == n
    walk_to(game, OAKS_LAB, 2, 5)
    face(game, "up")
    press(game, "a")
    settle(game)
    assert flag(game, world.FLAG_GOT_POKEDEX) and flag(game, world.FLAG_OAK_GOT_PARCEL)
    assert not game.state.has_item(world.ITEM_OAKS_PARCEL)
    assert mem[ram.W_NUM_BAG_ITEMS] == n - 1 and mem[ram.W_BAG_ITEMS + 2 * (n - 1)] == 0xFF
    walk_to(game, ROUTE_2, 4, 8)


def test_items_go_into_the_bag_with_their_ids(game):
    get_starter(game)
    make_strong(game)
    walk_to(game, ROUTE_1, 2, 5)
    face(game, "up")
    press(game, "a")  # the POTION
    settle(game)
    mem = game.pyboy.memory
    assert mem[ram.W_NUM_BAG_ITEMS] == 1
    assert list(mem[ram.W_BAG_ITEMS : ram.W_BAG_ITEMS + 3]) == [world.POTION, 1, 0xFF]


# ---------------------------------------------------------------- warps (docs/REAL_GAME.md)


def _destination(map_id: int, x: int, y: int) -> tuple[int, int, int]:
    """Where the warp at (map_id, x, y) of the world data leads."""
    warp = next(w for w in world.BY_ID[map_id].warps if (w[0], w[1]) == (x, y))
    return warp[2], warp[3], warp[4]


@pytest.mark.parametrize(
    ("start", "button", "warp"),
    [((REDS_2F, 7, 2), "up", (REDS_2F, 7, 1)), ((REDS_1F, 4, 7), "down", (REDS_1F, 4, 8))],
    ids=["stairs", "front door"],
)
def test_a_warp_writes_the_map_first_and_the_position_after_a_fade(game, start, button, warp):
    """The real game's order: for a while wCurMap names the new map while wXCoord/wYCoord still
    hold the warp's cell on the old map and rBGP fades to black. The joypad rule alone reads
    "in control" there; `in_control` waits until the new map is loaded and shown."""
    walk_to(game, *start)
    dest = _destination(*warp)
    pb, mem = game.pyboy, game.pyboy.memory
    pb.button_press(button)
    frames = []
    for f in range(150):
        pb.tick(1, False)
        if f == 7:
            pb.button_release(button)
        cell = (mem[ram.W_CUR_MAP], mem[ram.W_X_COORD], mem[ram.W_Y_COORD])
        frames.append((cell, mem[ram.R_BGP], ram.joypad_free(mem), ram.in_control(mem)))
    mid = [f for f in frames if f[0] == (dest[0], warp[1], warp[2])]  # new map, old position
    assert len(mid) >= 24
    assert all(free and not control for _, _, free, control in mid)
    palettes = [bgp for _, bgp, _, _ in mid]
    assert palettes == sorted(palettes) and {0xE4, 0xF9, 0xFE, 0xFF} <= set(palettes)
    in_control = [cell for cell, _, _, control in frames if control]
    assert in_control[-1] == dest and set(in_control) <= {start, dest}
    assert all(bgp == 0xE4 for _, bgp, _, control in frames if control)
