"""Trigger savestates: which GameStates fire a milestone, once per run, with what metadata."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest

from daddy.game import ram
from daddy.game.milestones import DEFAULT_MILESTONES, by_name
from daddy.game.ram import EVENT_FLAGS_LEN, W_EVENT_FLAGS, GameState
from daddy.swarm.curriculum import CurriculumConfig, make_watcher
from daddy.swarm.state_index import StateIndex, StateMeta
from daddy.swarm.trigger import (
    GYM_LEADER_EVENTS,
    MilestoneWatcher,
    Trigger,
    entry_name,
    parse_event_flag,
    parse_required_event,
    tier_by_story,
    tier_for,
)

PALLET, ROUTE_1, PEWTER, CERULEAN_GYM, CELADON = 0x00, 0x0C, 0x02, 0x41, 0x06
REDS_HOUSE = 0x25


def game(map_id: int = PALLET, badges: int = 0, events: tuple[tuple[int, int], ...] = (),
         x: int = 3, y: int = 4, hp: int = 20) -> GameState:
    flags = bytearray(EVENT_FLAGS_LEN)
    for addr, bit in events:
        flags[addr - W_EVENT_FLAGS] |= 1 << bit
    return GameState(
        map_id=map_id, x=x, y=y, badges=badges, party_count=1, levels=(5, 0, 0, 0, 0, 0),
        hp=hp, max_hp=20, events=bytes(flags), event_count=ram.popcount(flags), in_battle=0,
        money=3000, dex_owned=1, dex_seen=1, bag_count=0, in_control=True, text_box=False,
    )


STARTER = (ram.EVENT_GOT_STARTER,)


def names(triggers: list[Trigger]) -> list[str]:
    return [t.name for t in triggers]


@pytest.fixture
def watcher() -> MilestoneWatcher:
    w = MilestoneWatcher(2, late_maps=(CERULEAN_GYM, CELADON),
                         required_events=("oak_got_parcel=D74E.0", "D747.1", *GYM_LEADER_EVENTS))
    for env in range(2):
        w.start_episode(env, game(events=STARTER))
    return w


def test_each_milestone_fires_once_per_run_across_envs(watcher: MilestoneWatcher) -> None:
    assert names(watcher.observe(0, game(ROUTE_1, events=STARTER))) == ["route_1"]
    assert watcher.observe(0, game(ROUTE_1, events=STARTER, x=9)) == []
    assert watcher.observe(1, game(ROUTE_1, events=STARTER)) == []  # another env: still once
    watcher.start_episode(0, game(events=STARTER))  # a new episode of the same run
    assert watcher.observe(0, game(ROUTE_1, events=STARTER)) == []


def test_what_is_true_at_the_spawn_state_never_fires() -> None:
    w = MilestoneWatcher(1)
    spawn = game(PEWTER, badges=0b1, events=(*STARTER, ram.EVENT_BEAT_BROCK))
    w.start_episode(0, spawn)
    assert w.observe(0, spawn) == []
    assert {"pewter_city", "beat_brock", "badge_boulder", "got_starter"} <= w.seen


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        (game(events=(*STARTER, ram.EVENT_BEAT_BROCK)), [("beat_brock", "early", "milestone")]),
        (game(badges=0b1, events=STARTER), [("badge_boulder", "early", "milestone")]),
        (game(badges=0b1000, events=STARTER), [("badge_rainbow", "mid", "milestone")]),
        (game(badges=0b1111, events=STARTER),
         [("badge_boulder", "early", "milestone"), ("badge_cascade", "early", "milestone"),
          ("badge_thunder", "mid", "milestone"), ("badge_rainbow", "mid", "milestone")]),
        (game(badges=0b1111, events=(*STARTER, (0xD77C, 1))),
         [("badge_boulder", "early", "milestone"), ("badge_cascade", "early", "milestone"),
          ("badge_thunder", "mid", "milestone"), ("beat_erika", "mid", "milestone"),
          ("badge_rainbow", "mid", "milestone")]),
        (game(events=(*STARTER, (0xD747, 1))), [("event_d747_1", "early", "event")]),
        (game(REDS_HOUSE, events=STARTER), [("map_0x25_s1", "early", "map")]),
        (game(REDS_HOUSE, badges=0b11, events=STARTER),  # the badges' states are this moment's
         [("badge_boulder", "early", "milestone"), ("badge_cascade", "early", "milestone")]),
        (game(CERULEAN_GYM, events=STARTER), [("map_0x41_s1", "early", "map")]),
        (game(PEWTER, events=STARTER), [("pewter_city", "early", "milestone")]),
    ],
    ids=["gym-leader-event", "badge", "mid-game-badge", "four-badges", "erika", "required-event",
         "new-map", "new-map-with-badges", "late-area", "named-map"],
)
def test_trigger_names_tiers_and_kinds(
    watcher: MilestoneWatcher, state: GameState, expected: list[tuple[str, str, str]]
) -> None:
    fired = watcher.observe(0, state)
    assert [(t.name, t.tier, t.kind) for t in fired] == expected


def test_only_late_maps_fire_when_new_maps_are_not_watched() -> None:
    w = MilestoneWatcher(1, late_maps=(CERULEAN_GYM,), watch_new_maps=False)
    w.start_episode(0, game(events=STARTER))
    assert w.observe(0, game(REDS_HOUSE, events=STARTER)) == []
    assert names(w.observe(0, game(CERULEAN_GYM, events=STARTER))) == ["map_0x41_s1"]


def test_gym_leaders_named_in_milestones_are_not_doubled() -> None:
    w = MilestoneWatcher(1, required_events=("D755.7", "beat_brock=D755.7", "D77C.1", "D747.1"))
    assert w.required_events == (("event_d747_1", (0xD747, 1)),)  # Erika is a milestone now
    w.start_episode(0, game(events=STARTER))
    fired = w.observe(0, game(events=(*STARTER, ram.EVENT_BEAT_BROCK, (0xD747, 1))))
    assert names(fired) == ["beat_brock", "event_d747_1"]


def test_episode_masks_separate_spawn_from_new_progress(watcher: MilestoneWatcher) -> None:
    i_route, i_pewter, i_pallet = (DEFAULT_MILESTONES.index(by_name(n))
                                   for n in ("route_1", "pewter_city", "pallet_town"))
    watcher.start_episode(0, game(events=STARTER), inherited_mask=1 << i_route)
    watcher.observe(0, game(PEWTER, events=STARTER))
    watcher.observe(0, game(REDS_HOUSE, events=STARTER))  # left Pewter: the bit stays
    assert watcher.new_mask(0) == 1 << i_pewter
    assert watcher.episode_mask(0) == 1 | 1 << i_route | 1 << i_pewter | 1 << i_pallet  # spawn


def test_state_meta_describes_the_state_to_save(watcher: MilestoneWatcher) -> None:
    state = game(PEWTER, badges=0b1, events=(*STARTER, ram.EVENT_BEAT_BROCK))
    (pewter, brock, badge) = watcher.observe(0, state)  # story order
    meta = watcher.state_meta(0, badge, state, step=12_345)
    assert (meta.milestone, meta.tier, meta.map_id, meta.badges, meta.step) == (
        "badge_boulder", "early", PEWTER, 1, 12_345)
    assert meta.events == 2 and meta.milestones == watcher.episode_mask(0)
    assert {brock.name, pewter.name} == {"beat_brock", "pewter_city"}


def test_seen_set_survives_a_checkpoint(watcher: MilestoneWatcher) -> None:
    watcher.observe(0, game(ROUTE_1, events=STARTER))
    fresh = MilestoneWatcher(1)
    fresh.load_state_dict(watcher.state_dict())
    fresh.start_episode(0, game(events=STARTER))
    assert fresh.observe(0, game(ROUTE_1, events=STARTER)) == []
    assert names(fresh.observe(0, game(PEWTER, events=STARTER))) == ["pewter_city"]
    with pytest.raises(ValueError, match="version"):
        fresh.load_state_dict({"seen": []})


def test_a_milestone_saved_nearly_fainted_fires_again_when_reached_healthy(
    watcher: MilestoneWatcher,
) -> None:
    assert names(watcher.observe(0, game(PEWTER, events=STARTER, hp=1))) == ["pewter_city"]
    assert watcher.state_meta(0, Trigger("pewter_city", "mid", "milestone"),
                              game(PEWTER, events=STARTER, hp=1), 9).hp == 1
    assert watcher.observe(1, game(PEWTER, events=STARTER, hp=4)) == []  # weak again: no
    assert names(watcher.observe(1, game(PEWTER, events=STARTER, hp=15, x=1))) == []  # same key
    watcher.observe(1, game(ROUTE_1, events=STARTER, hp=15))
    assert names(watcher.observe(1, game(PEWTER, events=STARTER, hp=15))) == ["pewter_city"]
    watcher.observe(1, game(ROUTE_1, events=STARTER, hp=20))
    assert watcher.observe(1, game(PEWTER, events=STARTER, hp=20)) == []  # healthy copy kept
    assert watcher.weak == set()


def test_weak_set_survives_a_checkpoint_and_comes_from_the_index(
    watcher: MilestoneWatcher, tmp_path: Path
) -> None:
    watcher.observe(0, game(PEWTER, events=STARTER, hp=1))
    fresh = MilestoneWatcher(1)
    fresh.load_state_dict(watcher.state_dict())
    assert fresh.weak == {"pewter_city"}
    index = StateIndex.create(tmp_path / "run", "run", "0" * 40, "2.8.1")
    index.add("pewter", b"p", StateMeta("pewter_city", "mid", PEWTER, 0, 1, 50, hp=1, max_hp=26))
    index.add("route", b"r", StateMeta("route_1", "early", ROUTE_1, 0, 1, 20, hp=9, max_hp=26))
    from_index = make_watcher(CurriculumConfig(), 1, index)
    assert from_index.seen == {"pewter_city", "route_1"} and from_index.weak == {"pewter_city"}


def test_observe_needs_a_started_episode_and_a_valid_env() -> None:
    w = MilestoneWatcher(2)
    with pytest.raises(RuntimeError, match="start_episode"):
        w.observe(1, game())
    with pytest.raises(IndexError, match="out of range"):
        w.start_episode(2, game())
    with pytest.raises(ValueError, match="num_envs"):
        MilestoneWatcher(0)


@pytest.mark.parametrize(
    ("spec", "parsed"),
    [("D755.7", (0xD755, 7)), ("0xd74e.0", (0xD74E, 0)), ([0xD747, 0], (0xD747, 0))],
)
def test_event_flag_specs_parse(spec: object, parsed: tuple[int, int]) -> None:
    assert parse_event_flag(spec) == parsed  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("spec", "needle"),
    [("D755", "byte address.bit"), ("D755.8", "byte address.bit"), ("C000.1", "outside"),
     ([0xD755], "address, bit"), ("Beat-Erika=D77C.1", "lowercase"),
     ("=D77C.1", "lowercase")],
)
def test_bad_event_specs_say_what_is_wrong(spec: object, needle: str) -> None:
    with pytest.raises(ValueError, match=needle):
        parse_required_event(spec)  # type: ignore[arg-type]


def test_required_event_names_must_not_clash() -> None:
    with pytest.raises(ValueError, match="reuses the milestone name"):
        MilestoneWatcher(1, required_events=("beat_brock=D77C.1",))
    with pytest.raises(ValueError, match="repeat a name"):
        MilestoneWatcher(1, required_events=("x=D747.0", "x=D747.1"))


def test_entry_name_is_milestone_and_utc_timestamp() -> None:
    when = datetime(2024, 5, 6, 7, 8, 9, tzinfo=timezone.utc)
    assert entry_name("beat_brock", when) == "beat_brock_20240506T070809"


@pytest.mark.parametrize(("badges", "tier"), [(0, "early"), (1, "early"), (0b11, "early"),
                                              (0b111, "mid"), (0b1000000, "late"), (0xFF, "late")])
def test_tier_by_story_is_the_furthest_milestones_tier(badges: int, tier: str) -> None:
    """Thirds of the whole game: the first two badges are early, Thunder mid, Volcano late."""
    assert tier_by_story(game(badges=badges, events=STARTER)) == tier


def test_tier_for_prefers_a_named_milestones_tier() -> None:
    assert tier_for("beat_misty", game()) == "early"
    assert tier_for("beat_lt_surge", game()) == "mid"
    assert tier_for("map_0x25", game(REDS_HOUSE, badges=0b111)) == "mid"
    assert tier_for("map_0x41", game(CERULEAN_GYM)) == "early"  # nothing reached: the start
    assert tier_for("map_0x06", game(CELADON)) == "mid"  # standing in Celadon City is mid-game


def test_a_map_counts_again_at_each_story_stage() -> None:
    """Red's house before and after the starter are different places to explore from."""
    w = MilestoneWatcher(1)
    w.start_episode(0, game(PALLET))
    assert names(w.observe(0, game(REDS_HOUSE))) == ["map_0x25"]
    assert names(w.observe(0, game(PALLET, events=STARTER))) == ["got_starter"]
    assert names(w.observe(0, game(REDS_HOUSE, events=STARTER))) == ["map_0x25_s1"]
    assert w.observe(0, game(REDS_HOUSE)) == []
    assert names(w.observe(0, game(PALLET, badges=0b1, events=(*STARTER, ram.EVENT_BEAT_BROCK)))
                 ) == ["beat_brock", "badge_boulder"]
    assert names(w.observe(0, game(REDS_HOUSE, badges=0b1,
                                   events=(*STARTER, ram.EVENT_BEAT_BROCK)))) == ["map_0x25_s3"]


def test_a_named_map_is_a_stepping_stone_at_later_story_stages() -> None:
    """Pallet Town is its milestone at first entry; after the starter it fires again as a
    map state (the walk back to Oak with the parcel needs states on the way)."""
    w = MilestoneWatcher(1)
    w.start_episode(0, game(0x25))
    assert names(w.observe(0, game(PALLET))) == ["pallet_town"]
    assert names(w.observe(0, game(0x28, events=STARTER))) == ["got_starter"]
    assert names(w.observe(0, game(PALLET, events=STARTER))) == ["map_0x00_s1"]
    assert names(w.observe(0, game(ROUTE_1, events=STARTER))) == ["route_1"]  # first entry
    assert w.observe(0, game(PALLET, events=STARTER)) == []  # once per stage


def test_map_trigger_states_load_settled_with_the_new_map_on_screen(practice_rom, boot_state):
    """A trigger savestate taken on first entry into a map, loaded into a fresh emulator, is
    in control on that map at a cell inside it, with the normal palette, and its screen is the
    settled one: idle frames change nothing (a state from inside a warp would still fade and
    load the map)."""
    from daddy.cart import world
    from daddy.game.env import PokemonEnv
    from tests.cart_util import walk_to

    env = PokemonEnv(practice_rom, initial_state=boot_state, max_episode_steps=10**6)
    env.reset()
    watcher = MilestoneWatcher(1)
    watcher.start_episode(0, env.state)
    saved: dict[str, tuple[bytes, tuple[int, int, int]]] = {}
    step = env.step

    def step_and_watch(action: int):
        out = step(action)
        for t in watcher.observe(0, env.state):
            saved[t.name] = (env.save_state(), env.state.cell)
        return out

    env.step = step_and_watch  # type: ignore[method-assign]
    try:
        walk_to(env, 0x28, 4, 6)  # Red's room, the stairs, the front door, Oak's Lab
    finally:
        env.close()
    assert {cell[0] for _, cell in saved.values()} >= {0x25, PALLET, 0x28}
    fresh = PokemonEnv(practice_rom)
    try:
        for name, (state, cell) in saved.items():
            fresh.load_state(state)
            mem = fresh.pyboy.memory
            s = fresh.state
            m = world.BY_ID[s.map_id]
            assert s.in_control and s.cell == cell, name
            assert 0 <= s.x < world.WIDTH and 0 <= s.y < world.HEIGHT and m.char(s.x, s.y) in ".,"
            assert mem[ram.R_BGP] == 0xE4, name
            fresh.pyboy.tick(1, True)
            tiles, screen = list(mem[ram.W_TILE_MAP : ram.W_TILE_MAP + 360]), fresh.screen_rgb()
            fresh.pyboy.tick(120, True)
            assert list(mem[ram.W_TILE_MAP : ram.W_TILE_MAP + 360]) == tiles, name
            assert (fresh.screen_rgb() == screen).all(), name
    finally:
        fresh.close()
