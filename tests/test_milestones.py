"""The whole game's milestones: every one read from RAM bytes, story order, tiers, and the
data written before the list grew (14 bits, 14 posterior columns) still loading."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from daddy.game import events, ram
from daddy.game.maps import MAP_CONSTANTS
from daddy.game.milestones import (
    DEFAULT_MILESTONES,
    STORY_ORDER,
    TIERS,
    Milestone,
    by_name,
    furthest,
    in_story_order,
    next_milestones,
    reached_mask,
    story_rank,
    watch_key,
)
from daddy.run.episode_log import EpisodeLogger, read, read_posteriors

NAMES = [m.name for m in DEFAULT_MILESTONES]
NOWHERE = 0x0B  # UNUSED_MAP_0B: no milestone's map

# The practice cartridge's 14, bit i = i: logs, indexes and checkpoints depend on these.
FIRST_14 = (
    ("got_starter", "event", (0xD74B, 2)),
    ("route_1", "map", 0x0C),
    ("viridian_city", "map", 0x01),
    ("viridian_forest", "map", 0x33),
    ("pewter_city", "map", 0x02),
    ("beat_brock", "event", (0xD755, 7)),
    ("badge_boulder", "badge", 0),
    ("mt_moon", "map", 0x3B),
    ("cerulean_city", "map", 0x03),
    ("beat_misty", "event", (0xD75E, 7)),
    ("badge_cascade", "badge", 1),
    ("vermilion_city", "map", 0x05),
    ("beat_lt_surge", "event", (0xD773, 7)),
    ("badge_thunder", "badge", 2),
)

# Each milestone's source in pret/pokered: the event constant and its value in
# constants/event_constants.asm, the item constant (item_constants.asm), the map constant
# (map_constants.asm), or the badge bit of wObtainedBadges (BIT_BOULDERBADGE = 0, ...).
SOURCES: dict[str, tuple[str, int]] = {
    "got_starter": ("EVENT_GOT_STARTER", 0x022),
    "battled_rival_lab": ("EVENT_BATTLED_RIVAL_IN_OAKS_LAB", 0x023),
    "got_pokedex": ("EVENT_GOT_POKEDEX", 0x025),
    "oak_got_parcel": ("EVENT_OAK_GOT_PARCEL", 0x038),
    "got_oaks_parcel": ("EVENT_GOT_OAKS_PARCEL", 0x039),
    "beat_giovanni": ("EVENT_BEAT_VIRIDIAN_GYM_GIOVANNI", 0x051),
    "beat_brock": ("EVENT_BEAT_BROCK", 0x077),
    "beat_cerulean_rival": ("EVENT_BEAT_CERULEAN_RIVAL", 0x098),
    "beat_misty": ("EVENT_BEAT_MISTY", 0x0BF),
    "got_poke_flute": ("EVENT_GOT_POKE_FLUTE", 0x128),
    "beat_lt_surge": ("EVENT_BEAT_LT_SURGE", 0x167),
    "beat_erika": ("EVENT_BEAT_ERIKA", 0x1A9),
    "got_hm04": ("EVENT_GOT_HM04", 0x238),
    "beat_koga": ("EVENT_BEAT_KOGA", 0x259),
    "beat_blaine": ("EVENT_BEAT_BLAINE", 0x299),
    "beat_sabrina": ("EVENT_BEAT_SABRINA", 0x361),
    "beat_route12_snorlax": ("EVENT_BEAT_ROUTE12_SNORLAX", 0x48F),
    "rescued_mr_fuji": ("EVENT_RESCUED_MR_FUJI", 0x4CF),
    "got_ss_ticket": ("EVENT_GOT_SS_TICKET", 0x55C),
    "beat_mt_moon_nerd": ("EVENT_BEAT_MT_MOON_EXIT_SUPER_NERD", 0x579),
    "got_hm01": ("EVENT_GOT_HM01", 0x5E0),
    "beat_hideout_giovanni": ("EVENT_BEAT_ROCKET_HIDEOUT_GIOVANNI", 0x6A7),
    "beat_silph_giovanni": ("EVENT_BEAT_SILPH_CO_GIOVANNI", 0x78F),
    "got_hm03": ("EVENT_GOT_HM03", 0x880),
    "beat_lorelei": ("EVENT_BEAT_LORELEIS_ROOM_TRAINER_0", 0x8E1),
    "beat_bruno": ("EVENT_BEAT_BRUNOS_ROOM_TRAINER_0", 0x8E9),
    "beat_agatha": ("EVENT_BEAT_AGATHAS_ROOM_TRAINER_0", 0x8F1),
    "beat_lance": ("EVENT_BEAT_LANCES_ROOM_TRAINER_0", 0x8F9),
    "beat_champion": ("EVENT_BEAT_CHAMPION_RIVAL", 0x901),
    "got_silph_scope": ("SILPH_SCOPE", 0x48),
    "got_card_key": ("CARD_KEY", 0x30),
    "got_secret_key": ("SECRET_KEY", 0x2B),
    "pallet_town": ("PALLET_TOWN", 0x00),
    "route_1": ("ROUTE_1", 0x0C),
    "viridian_city": ("VIRIDIAN_CITY", 0x01),
    "viridian_forest": ("VIRIDIAN_FOREST", 0x33),
    "pewter_city": ("PEWTER_CITY", 0x02),
    "mt_moon": ("MT_MOON_1F", 0x3B),
    "cerulean_city": ("CERULEAN_CITY", 0x03),
    "bills_house": ("BILLS_HOUSE", 0x58),
    "vermilion_city": ("VERMILION_CITY", 0x05),
    "ss_anne": ("SS_ANNE_1F", 0x5F),
    "rock_tunnel": ("ROCK_TUNNEL_1F", 0x52),
    "lavender_town": ("LAVENDER_TOWN", 0x04),
    "pokemon_tower": ("POKEMON_TOWER_1F", 0x8E),
    "celadon_city": ("CELADON_CITY", 0x06),
    "rocket_hideout": ("ROCKET_HIDEOUT_B1F", 0xC7),
    "fuchsia_city": ("FUCHSIA_CITY", 0x07),
    "safari_zone": ("SAFARI_ZONE_CENTER", 0xDC),
    "saffron_city": ("SAFFRON_CITY", 0x0A),
    "silph_co": ("SILPH_CO_1F", 0xB5),
    "cinnabar_island": ("CINNABAR_ISLAND", 0x08),
    "pokemon_mansion": ("POKEMON_MANSION_1F", 0xA5),
    "victory_road": ("VICTORY_ROAD_1F", 0x6C),
    "indigo_plateau": ("INDIGO_PLATEAU", 0x09),
    "badge_boulder": ("BIT_BOULDERBADGE", 0),
    "badge_cascade": ("BIT_CASCADEBADGE", 1),
    "badge_thunder": ("BIT_THUNDERBADGE", 2),
    "badge_rainbow": ("BIT_RAINBOWBADGE", 3),
    "badge_soul": ("BIT_SOULBADGE", 4),
    "badge_marsh": ("BIT_MARSHBADGE", 5),
    "badge_volcano": ("BIT_VOLCANOBADGE", 6),
    "badge_earth": ("BIT_EARTHBADGE", 7),
}


def blank_ram() -> bytearray:
    """64 KiB of RAM in which no milestone holds: an unused map, no badges, flags or items."""
    mem = bytearray(0x10000)
    mem[ram.W_CUR_MAP] = NOWHERE
    mem[ram.W_BAG_ITEMS] = 0xFF
    return mem


def write_milestone(mem: bytearray, m: Milestone) -> None:
    """Write the RAM bytes the game writes when `m` comes true."""
    if m.kind == "map":
        mem[ram.W_CUR_MAP] = int(m.arg)  # type: ignore[arg-type]
    elif m.kind == "badge":
        mem[ram.W_OBTAINED_BADGES] |= 1 << int(m.arg)  # type: ignore[arg-type]
    elif m.kind == "event":
        addr, bit = m.arg  # type: ignore[misc]
        mem[addr] |= 1 << bit
    else:  # an item in the bag, after a potion: (id, quantity) pairs, 0xFF-terminated
        n = mem[ram.W_NUM_BAG_ITEMS]
        at = ram.W_BAG_ITEMS + 2 * n
        mem[at : at + 3] = bytes([int(m.arg), 1, 0xFF])  # type: ignore[arg-type]
        mem[ram.W_NUM_BAG_ITEMS] = n + 1


# --- the list ------------------------------------------------------------------------------
def test_the_first_14_bits_are_the_practice_cartridges_unchanged() -> None:
    got = [(m.name, m.kind, m.arg) for m in DEFAULT_MILESTONES[:14]]
    assert got == list(FIRST_14)


def test_names_and_labels_are_unique_and_fit_the_uint64_mask() -> None:
    assert 60 <= len(DEFAULT_MILESTONES) <= 64
    assert len(set(NAMES)) == len(NAMES)
    assert len({m.label for m in DEFAULT_MILESTONES}) == len(NAMES)
    assert all(n.replace("_", "").isalnum() and n == n.lower() for n in NAMES)


def test_story_order_holds_every_milestone_once() -> None:
    assert len(STORY_ORDER) == len(set(STORY_ORDER)) == len(NAMES)
    assert set(STORY_ORDER) == set(NAMES)
    assert [story_rank(n) for n in STORY_ORDER] == list(range(len(STORY_ORDER)))
    assert [m.name for _, m in in_story_order()] == list(STORY_ORDER)


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ("pallet_town", "got_starter"),
        ("got_starter", "battled_rival_lab"),
        ("got_oaks_parcel", "oak_got_parcel"),
        ("oak_got_parcel", "got_pokedex"),
        ("got_pokedex", "viridian_forest"),
        ("got_ss_ticket", "ss_anne"),
        ("ss_anne", "got_hm01"),
        ("got_silph_scope", "rescued_mr_fuji"),
        ("got_poke_flute", "beat_route12_snorlax"),
        ("got_hm03", "cinnabar_island"),
        ("got_card_key", "beat_silph_giovanni"),
        ("got_secret_key", "beat_blaine"),
        ("badge_earth", "victory_road"),
        ("beat_lorelei", "beat_bruno"),
        ("beat_lance", "beat_champion"),
    ],
)
def test_story_order_puts_what_unlocks_a_step_before_it(before: str, after: str) -> None:
    assert story_rank(before) < story_rank(after)


def test_every_gym_leader_comes_before_its_badge_and_the_badges_in_game_order() -> None:
    badges = sorted((m for m in DEFAULT_MILESTONES if m.kind == "badge"), key=lambda m: m.arg)
    assert [int(m.arg) for m in badges] == list(range(8))  # type: ignore[arg-type]
    ranks = [story_rank(m.name) for m in badges]
    assert ranks == sorted(ranks)
    leaders = ("brock", "misty", "lt_surge", "erika", "koga", "sabrina", "blaine", "giovanni")
    for leader, badge in zip(leaders, badges):
        assert story_rank(f"beat_{leader}") < story_rank(badge.name)


def test_tiers_split_the_story_in_thirds_so_late_means_late_game() -> None:
    tiers = [by_name(n).tier for n in STORY_ORDER]
    assert tiers == sorted(tiers, key=TIERS.index), "tiers must not go back along the story"
    for tier in TIERS:
        assert 0.25 <= tiers.count(tier) / len(tiers) <= 0.4, tier
    assert by_name("beat_misty").tier == "early" and by_name("beat_lt_surge").tier == "mid"
    assert by_name("saffron_city").tier == "late" and by_name("beat_koga").tier == "mid"
    assert {by_name(f"badge_{b}").tier for b in ("marsh", "volcano", "earth")} == {"late"}


def test_story_rank_of_something_else_is_a_readable_key_error() -> None:
    with pytest.raises(KeyError, match="'map_0x2a' is not a milestone"):
        story_rank("map_0x2a")


# --- each milestone from RAM bytes ---------------------------------------------------------
def test_blank_ram_reaches_nothing() -> None:
    assert reached_mask(ram.read_game_state(blank_ram())) == 0


@pytest.mark.parametrize("bit", range(len(DEFAULT_MILESTONES)), ids=NAMES)
def test_each_milestone_is_read_from_the_ram_the_game_writes(bit: int) -> None:
    m = DEFAULT_MILESTONES[bit]
    mem = blank_ram()
    write_milestone(mem, m)
    assert reached_mask(ram.read_game_state(mem)) == 1 << bit


@pytest.mark.parametrize("name", NAMES)
def test_each_milestone_is_the_disassemblys_fact(name: str) -> None:
    m, (const, value) = by_name(name), SOURCES[name]
    if m.kind == "event":
        assert m.arg == events.EVENTS[const] == (0xD747 + value // 8, value % 8)
    elif m.kind == "item":
        assert m.arg == events.ITEMS[const] == value
    elif m.kind == "map":
        assert MAP_CONSTANTS[int(m.arg)] == const and m.arg == value  # type: ignore[arg-type]
    else:
        assert m.arg == value


def test_all_together_reach_every_bit_and_the_mask_matches_each_milestone() -> None:
    mem = blank_ram()
    for m in DEFAULT_MILESTONES:
        if m.kind != "map":
            write_milestone(mem, m)
    s = ram.read_game_state(mem)
    maps = sum(1 << i for i, m in enumerate(DEFAULT_MILESTONES) if m.kind == "map")
    assert reached_mask(s) == (1 << len(NAMES)) - 1 - maps
    assert reached_mask(s) == sum(1 << i for i, m in enumerate(DEFAULT_MILESTONES) if m.reached(s))


def test_a_key_item_given_away_is_no_longer_held() -> None:
    """Why the parcel is an event milestone, not an item one: Oak takes the item."""
    mem = blank_ram()
    mem[ram.W_NUM_BAG_ITEMS] = 1
    mem[ram.W_BAG_ITEMS : ram.W_BAG_ITEMS + 3] = bytes([events.OAKS_PARCEL, 1, 0xFF])
    assert ram.read_game_state(mem).has_item(events.OAKS_PARCEL)
    mem[ram.W_NUM_BAG_ITEMS] = 0
    assert not ram.read_game_state(mem).has_item(events.OAKS_PARCEL)


def test_watch_key_changes_with_everything_milestones_read() -> None:
    mem = blank_ram()
    keys = [watch_key(ram.read_game_state(mem))]
    for m in (by_name("pewter_city"), by_name("badge_boulder"), by_name("got_starter"),
              by_name("got_silph_scope")):  # fmt: skip
        write_milestone(mem, m)
        keys.append(watch_key(ram.read_game_state(mem)))
    assert len(set(keys)) == len(keys)


# --- events.py -------------------------------------------------------------------------------
def test_event_flags_are_byte_0xd747_plus_n_over_8_bit_n_mod_8() -> None:
    assert events.flag(0x000) == (0xD747, 0)
    assert events.flag(0x022) == ram.EVENT_GOT_STARTER == events.EVENT_GOT_STARTER
    assert events.flag(0x9FF) == (0xD747 + 319, 7)
    assert all(events.flag(events.flag_index(f)) == f for f in events.EVENTS.values())
    with pytest.raises(ValueError, match="outside wEventFlags"):
        events.flag(0xA00)


def test_ram_event_constants_are_the_same_flags() -> None:
    for name in ("EVENT_GOT_STARTER", "EVENT_OAK_GOT_PARCEL", "EVENT_BEAT_BROCK",
                 "EVENT_BEAT_MISTY", "EVENT_BEAT_LT_SURGE"):  # fmt: skip
        assert getattr(ram, name) == events.EVENTS[name]


# --- reading masks in story order ----------------------------------------------------------
def mask_of(*names: str) -> int:
    return sum(1 << NAMES.index(n) for n in names)


def test_furthest_goes_by_story_not_by_bit() -> None:
    assert furthest(0) is None
    # pallet_town is bit 14 but the first of the story; got_starter is bit 0
    assert furthest(mask_of("got_starter", "pallet_town")).name == "got_starter"
    assert furthest(mask_of("badge_thunder", "got_pokedex")).name == "badge_thunder"
    assert furthest(mask_of("beat_champion", "got_starter")).name == "beat_champion"


def test_next_milestones_are_the_unreached_ones_after_the_furthest() -> None:
    assert [m.name for m in next_milestones(0, 2)] == ["pallet_town", "got_starter"]
    # a map milestone behind the furthest (not on Route 1 any more) is not "next"
    got = next_milestones(mask_of("got_starter", "battled_rival_lab"), 3)
    assert [m.name for m in got] == ["route_1", "viridian_city", "got_oaks_parcel"]
    got = next_milestones(mask_of("got_starter", "viridian_city", "got_pokedex"), 2)
    assert [m.name for m in got] == ["viridian_forest", "pewter_city"]
    assert next_milestones((1 << len(NAMES)) - 1, 3) == []
    assert next_milestones(mask_of("beat_lance"), 5) == [by_name("beat_champion")]


def test_an_old_14_bit_mask_reads_the_same_milestones() -> None:
    """State index entries and episode logs written before the list grew hold 14-bit masks."""
    old = mask_of("got_starter", "pewter_city", "beat_brock", "badge_boulder")
    assert old < 1 << 14
    assert furthest(old).name == "badge_boulder"
    assert [m.name for m in next_milestones(old, 1)] == ["mt_moon"]


def test_a_custom_list_follows_story_order_where_it_can() -> None:
    custom = (by_name("badge_boulder"), by_name("got_starter"))
    assert furthest(0b11, custom).name == "badge_boulder"
    assert next_milestones(0b10, 5, custom) == [custom[0]]
    assert reached_mask(ram.read_game_state(blank_ram()), custom) == 0


# --- data written with the 14 -----------------------------------------------------------
def episode_row(i: int, m: int) -> dict:
    return {
        "episode": i, "env_id": 0, "global_step": 100 * i, "length": 10, "return_env": 1.0,
        "return_total": 1.0, "return_rnd": 0.0, "return_novel": 0.0, "return_bayes": 0.0,
        "badges": 1, "map_id": 2, "savestate_tag": "t", "spawn_tier": 0,
        "milestones_reached": mask_of("got_starter", "badge_boulder"), "alarm": 0,
        "cells_visited": 5, "epsilon": 0.1, "wall_time": 1.0, "sps": 1.0,
        "alpha": np.full(m, 2.0 + i, np.float32), "beta": np.full(m, 3.0, np.float32),
    }  # fmt: skip


def test_an_episode_log_of_the_first_14_milestones_resumes_with_the_whole_list(
    tmp_path: Path,
) -> None:
    path = tmp_path / "runs" / "old" / "episodes.h5"
    with EpisodeLogger(path, "old", NAMES[:14]) as log:
        for i in range(3):
            log.append(episode_row(i, 14))
        rows = log.rows
    with EpisodeLogger(path, "old", NAMES, resume_rows=rows) as log:
        log.append(episode_row(3, len(NAMES)))
    alpha, beta, names = read_posteriors(path)
    assert names == NAMES and alpha.shape == (4, len(NAMES))
    np.testing.assert_array_equal(alpha[:3, :14], [[2.0] * 14, [3.0] * 14, [4.0] * 14])
    assert np.isnan(alpha[:3, 14:]).all() and np.isnan(beta[:3, 14:]).all()
    assert (alpha[3] == 5.0).all()
    df = read(path)
    assert (
        df["milestones_reached"].astype(np.uint64) == mask_of("got_starter", "badge_boulder")
    ).all()


def test_an_episode_log_of_another_list_is_still_refused(tmp_path: Path) -> None:
    from daddy.run.episode_log import EpisodeLogError

    path = tmp_path / "runs" / "other" / "episodes.h5"
    with EpisodeLogger(path, "other", NAMES[1:15]) as log:
        log.append(episode_row(0, 14))
    with pytest.raises(EpisodeLogError, match="was written for milestones"):
        EpisodeLogger(path, "other", NAMES, resume_rows=1)


# --- bench/learning.py -------------------------------------------------------------------
def test_learning_bench_counts_every_milestone_and_widens_badge_columns(tmp_path: Path) -> None:
    """The README table says 'milestones (of N)' with N the list the results tracked, shows
    the cartridge's three badge columns and more once a run got further, story order rows."""
    import json
    import subprocess
    import sys

    steps = dict.fromkeys(NAMES)
    steps.update(got_starter=1000, pallet_town=10, badge_soul=90_000)
    record = {
        "bench": "learning", "method": "daddy", "seed": 0, "steps": 100_000,
        "steps_done": 100_000, "num_envs": 8, "max_episode_steps": 512, "rom": "real",
        "badge_steps": {str(k): 1000 * k if k <= 5 else None for k in range(1, 9)},
        "milestone_steps": steps, "milestones_found": 3, "cells_visited": 10,
        "posteriors": {n: 0.5 for n in NAMES}, "wall_s": 1.0, "sps": 1.0,
    }  # fmt: skip
    (tmp_path / "daddy_s0.json").write_text(json.dumps(record))
    repo = Path(__file__).resolve().parents[1]
    subprocess.run(
        [sys.executable, "bench/learning.py", "aggregate", "--results", str(tmp_path)],
        cwd=repo, capture_output=True, text=True, check=True,
    )  # fmt: skip
    table = (tmp_path / "learning_table.md").read_text()
    assert f"milestones (of {len(NAMES)})" in table
    assert "steps to badge 5" in table and "steps to badge 6" not in table
    rows = [line.split(" | ")[0].strip("| ") for line in table.splitlines()]
    assert rows.index("pallet_town") < rows.index("got_starter") < rows.index("badge_soul")


def test_the_docs_list_every_milestone_with_its_rank_tier_and_bit() -> None:
    """docs/REAL_GAME.md "Whole-game milestones" is the list people read: it must not drift."""
    text = (Path(__file__).resolve().parents[1] / "docs" / "REAL_GAME.md").read_text()
    for rank, name in enumerate(STORY_ORDER):
        m = by_name(name)
        assert f"| {rank} | {m.tier} | `{name}` | {NAMES.index(name)} | {m.kind} |" in text, name


def test_a_key_item_picked_up_on_the_same_map_fires_its_trigger_at_once() -> None:
    """Picking up an item ball changes no map, badge or event flag (the Silph Scope on Rocket
    Hideout B4F): the watcher's skip key must include the bag."""
    from dataclasses import replace

    from daddy.swarm.trigger import MilestoneWatcher

    mem = blank_ram()
    mem[ram.W_CUR_MAP] = 0xCA  # ROCKET_HIDEOUT_B4F
    write_milestone(mem, by_name("beat_hideout_giovanni"))
    before = replace(ram.read_game_state(mem), in_control=True)
    write_milestone(mem, by_name("got_silph_scope"))
    after = replace(ram.read_game_state(mem), in_control=True)
    assert (before.map_id, before.badges, before.events) == (
        after.map_id,
        after.badges,
        after.events,
    )
    w = MilestoneWatcher(1, watch_new_maps=False)
    w.start_episode(0, before)
    assert w.observe(0, before) == []
    assert [t.name for t in w.observe(0, after)] == ["got_silph_scope"]
