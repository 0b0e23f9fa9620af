"""CurriculumManager: spawn mixture, Go-Explore weights, migration, pressure, checkpoints."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pytest

from daddy.game import ram
from daddy.game.env import PokemonEnv
from daddy.game.milestones import DEFAULT_MILESTONES, by_name
from daddy.game.ram import EVENT_FLAGS_LEN, W_EVENT_FLAGS, GameState
from daddy.intrinsic.rewards import MilestonePosteriors
from daddy.swarm.curriculum import (
    CurriculumConfig,
    CurriculumManager,
    entry_rank,
    make_watcher,
    next_milestone,
    story_rank,
)
from daddy.swarm.state_index import StateEntry, StateIndex, StateIndexError, StateMeta
from daddy.swarm.trigger import Trigger, entry_name
from tests.cart_util import face, get_starter, make_strong, press, skip_parcel_errand, walk_to

ROM = "ea9bcae617fdf159b045185467ae58b2e4a48b9a"


def bits(*names: str) -> int:
    """DEFAULT_MILESTONES mask of the named milestones."""
    return sum(1 << DEFAULT_MILESTONES.index(by_name(n)) for n in names)


def add(index: StateIndex, name: str, tier: str, milestones: int = 0,
        milestone: str | None = None, step: int = 10) -> StateEntry:
    meta = StateMeta(milestone or name, tier, map_id=0, badges=0,  # type: ignore[arg-type]
                     events=0, step=step, milestones=milestones)
    entry = index.add(name, f"bytes of {name}".encode(), meta)
    assert entry is not None
    return entry


def make_index(folder: Path, tiers: dict[str, int]) -> StateIndex:
    """An index with `tiers[t]` states per tier, named like 'early0'."""
    index = StateIndex.create(folder, "run", ROM, "2.8.1")
    for tier, n in tiers.items():
        for i in range(n):
            add(index, f"{tier}{i}", tier)
    return index


def manager(index: StateIndex, num_envs: int = 8, seed: int = 0,
            **cfg: object) -> CurriculumManager:
    """A manager; the tier-mixture tests draw without the frontier unless they ask for it."""
    cfg.setdefault("curriculum_frontier", 0.0)
    config = CurriculumConfig(**cfg)  # type: ignore[arg-type]
    return CurriculumManager(index, config, num_envs, seed=seed)


def shares(mixture: dict[str, float]) -> dict[str, float]:
    """CurriculumConfig's share fields for a tier mixture (tiers left out get 0)."""
    return {f"curriculum_{t}": mixture.get(t, 0.0) for t in ("early", "mid", "late")}


def tier_probs(cur: CurriculumManager) -> dict[str, float]:
    out: Counter[str] = Counter()
    for name, p in cur.probabilities().items():
        out[cur.registry[name].tier] += p
    return {t: round(p, 9) for t, p in out.items()}


@pytest.fixture
def index(tmp_path: Path) -> StateIndex:
    return make_index(tmp_path / "run", {"early": 2, "mid": 2, "late": 1})


# --- mixture ---------------------------------------------------------------------------------
def test_spawn_mix_converges_to_the_target_mixture(index: StateIndex) -> None:
    cur = manager(index, summary_window=20_000)
    tiers = Counter(cur.sample(i % 8).tier for i in range(20_000))
    for tier, target in {"early": 0.45, "mid": 0.35, "late": 0.20}.items():
        assert tiers[tier] / 20_000 == pytest.approx(target, abs=0.015)
    assert re.fullmatch(r"early 4[4-6]% \| mid 3[4-6]% \| late (19|20|21)%", cur.summary())


@pytest.mark.parametrize(
    ("tiers", "mixture", "expected"),
    [
        ({"early": 1, "mid": 1}, {"early": 0.45, "mid": 0.35, "late": 0.2},
         {"early": 0.5625, "mid": 0.4375}),
        ({"late": 2}, {"early": 0.45, "mid": 0.35, "late": 0.2}, {"late": 1.0}),
        ({"early": 1, "late": 1}, {"early": 0.0, "mid": 0.5, "late": 0.5}, {"late": 1.0}),
        ({"early": 1, "mid": 1}, {"late": 1.0}, {"early": 0.5, "mid": 0.5}),
    ],
    ids=["late-empty", "only-late", "zero-share-tier-unused", "no-share-anywhere-even"],
)
def test_tier_shares_are_renormalised_over_tiers_with_states(
    tmp_path: Path, tiers: dict[str, int], mixture: dict[str, float],
    expected: dict[str, float],
) -> None:
    cur = manager(make_index(tmp_path, tiers), **shares(mixture))
    assert tier_probs(cur) == pytest.approx(expected)
    assert {cur.sample(0).tier for _ in range(50)} == set(expected)


# --- frontier ---------------------------------------------------------------------------------
STORY = [  # name, tier, milestone, mask: one state per step of the early story, in story order
    ("boot", "early", "bootstrap", ()), ("house", "early", "map_0x25_0", ()),
    ("starter", "early", "got_starter", ("got_starter",)),
    ("route", "early", "route_1", ("got_starter", "route_1")),
    ("viridian", "early", "viridian_city", ("got_starter", "route_1", "viridian_city")),
    ("pewter", "mid", "pewter_city",
     ("got_starter", "route_1", "viridian_city", "viridian_forest", "pewter_city")),
]


def story_index(folder: Path, tiers: dict[str, str] | None = None) -> StateIndex:
    index = StateIndex.create(folder, "run", ROM, "2.8.1")
    for name, tier, milestone, mask in STORY:
        add(index, name, (tiers or {}).get(name, tier), milestones=bits(*mask),
            milestone=milestone)
    return index


def test_the_frontier_is_the_furthest_milestones_in_story_order(tmp_path: Path) -> None:
    cur = manager(story_index(tmp_path), curriculum_frontier=0.65, frontier_ranks=2)
    assert cur.frontier() == {"viridian", "pewter"}
    assert manager(story_index(tmp_path / "b")).frontier() == {"pewter"}  # the default: newest
    later = add(cur.index, "brock", "mid", milestone="beat_brock",
                milestones=bits("got_starter", "pewter_city"))
    cur.notify_new_state(later)
    assert cur.frontier() == {"brock", "pewter"}  # the newest milestone moves the frontier
    assert story_rank("map_0x2a_s3") == -1 and story_rank("beat_brock") > story_rank("route_1")


def test_map_states_rank_by_their_story_and_events_rank_past_their_mask(tmp_path: Path) -> None:
    """A first-visit map state's mask holds where its episode came from (Red's house after
    Viridian City): it ranks with its furthest story milestone (the starter), not the maps; a
    required event (the parcel delivered) came after its mask's milestones."""
    index = story_index(tmp_path)
    home = add(index, "home", "early", milestone="map_0x25_s3",
               milestones=bits("got_starter", "route_1", "viridian_city", "viridian_forest",
                               "pewter_city"))
    parcel = add(index, "parcel", "early", milestone="oak_got_parcel",
                 milestones=bits("got_starter", "route_1", "viridian_city"))
    assert entry_rank(home) == story_rank("got_starter")
    house = next(e for e in index.entries if e.name == "house")
    assert entry_rank(house) == -1  # a map state before any story milestone
    assert story_rank("viridian_city") < entry_rank(parcel) < story_rank("viridian_forest")
    cur = manager(index, curriculum_frontier=0.65, frontier_ranks=2)
    assert cur.frontier() == {"parcel", "pewter"}  # "parcel" ranks past viridian, "home" never
    assert manager(index, frontier_ranks=3).frontier() == {"viridian", "parcel", "pewter"}


def test_maps_entered_after_the_newest_milestone_join_the_frontier(tmp_path: Path) -> None:
    """The way back from Viridian Mart with the parcel: Viridian City, Route 1 and Pallet Town
    entered after it are stepping stones at the frontier, beside the parcel's own state."""
    index = StateIndex.create(tmp_path, "run", ROM, "2.8.1")
    add(index, "boot", "early", milestone="bootstrap")
    story = ("got_starter", "battled_rival_lab", "route_1", "viridian_city")
    add(index, "viridian", "early", milestone="viridian_city", milestones=bits(*story))
    add(index, "parcel", "early", milestone="got_oaks_parcel",
        milestones=bits(*story, "got_oaks_parcel"))
    for name, map_name in (("city_back", "map_0x01_s3"), ("route_back", "map_0x0c_s3"),
                           ("pallet_back", "map_0x00_s3")):
        add(index, name, "early", milestone=map_name,
            milestones=bits(*story, "got_oaks_parcel"))
    assert manager(index).frontier() == {"parcel", "city_back", "route_back", "pallet_back"}


def test_without_milestone_states_there_is_no_frontier(index: StateIndex) -> None:
    cur = manager(index, curriculum_frontier=0.65)
    assert cur.frontier() == set()
    assert tier_probs(cur) == {"early": 0.45, "mid": 0.35, "late": 0.2}


@pytest.mark.parametrize("share", [0.0, 0.3, 0.65, 0.9])
def test_measured_frontier_share_matches_the_setting(tmp_path: Path, share: float) -> None:
    """Frontier states sit in a tier the mixture leaves out, so only the frontier draw reaches
    them: the measured share of frontier spawns is the setting itself."""
    index = story_index(tmp_path, tiers={"viridian": "late", "pewter": "late"})
    cur = manager(index, curriculum_frontier=share, summary_window=20_000, frontier_ranks=2,
                  **shares({"early": 0.6, "mid": 0.4}))
    n = 20_000
    picks = Counter(cur.sample(i % 8).name for i in range(n))
    measured = (picks["viridian"] + picks["pewter"]) / n
    assert measured == pytest.approx(share, abs=0.015)
    assert cur.summary_dict()["spawn_frontier"] == pytest.approx(measured)
    assert sum(cur.probabilities().get(k, 0.0) for k in ("viridian", "pewter")) == pytest.approx(share)
    assert sum(cur.probabilities().values()) == pytest.approx(1.0)
    assert ("frontier" in cur.summary()) == (share > 0)


# Drawn by the curriculum before the frontier existed (commit 819f25d), seed 3, over STORY's
# index with the default mixture, updating each spawn with new_cells = i % 7.
OLD_SEQUENCE = [
    "house", "pewter", "starter", "boot", "pewter", "route", "route", "pewter", "route",
    "pewter", "viridian", "house", "pewter", "viridian", "route", "boot", "pewter", "starter",
    "route", "pewter", "pewter", "pewter", "route", "pewter", "pewter", "boot", "pewter",
    "pewter", "house", "pewter", "route", "pewter", "pewter", "pewter", "pewter", "pewter",
    "pewter", "house", "boot", "viridian",
]


def test_frontier_zero_reproduces_the_old_draw_sequence(tmp_path: Path) -> None:
    cur = CurriculumManager(story_index(tmp_path), CurriculumConfig(curriculum_frontier=0.0),
                            8, seed=3)
    seq = []
    for i in range(len(OLD_SEQUENCE)):
        name = cur.sample(i % 8).name
        cur.update(i % 8, name, new_cells=i % 7, milestones_mask=0)
        seq.append(name)
    assert seq == OLD_SEQUENCE
    assert cur.summary_dict()["spawn_frontier"] > 0  # frontier states drawn by the mixture


def test_recent_frontier_spawns_survive_a_checkpoint(tmp_path: Path) -> None:
    a = manager(story_index(tmp_path / "a"), curriculum_frontier=0.65)
    for i in range(50):
        a.sample(i % 8)
    b = manager(story_index(tmp_path / "b"), curriculum_frontier=0.65)
    b.load_state_dict(json.loads(json.dumps(a.state_dict())))
    assert b.summary_dict()["spawn_frontier"] == a.summary_dict()["spawn_frontier"]
    assert [b.sample(i % 8).name for i in range(20)] == [a.sample(i % 8).name for i in range(20)]


# --- Go-Explore weights ------------------------------------------------------------------------
@pytest.mark.parametrize(("exponent", "ratio"), [(0.5, 3.0), (1.0, 9.0), (0.0, 1.0)])
def test_seldom_chosen_states_get_more_weight(tmp_path: Path, exponent: float,
                                              ratio: float) -> None:
    cur = manager(make_index(tmp_path, {"early": 2}), num_envs=8, count_exponent=exponent,
                  migration_fraction=1.0)
    cur.notify_new_state(cur.registry["early0"])  # every env's next spawn: early0
    assert {cur.sample(i).name for i in range(8)} == {"early0"}
    p = cur.probabilities()
    assert p["early1"] / p["early0"] == pytest.approx(ratio)  # ((1 + 8) / (1 + 0)) ** exponent
    assert cur.state_stats()["early0"]["chosen"] == 8


def test_a_state_whose_episodes_find_nothing_new_loses_weight(tmp_path: Path) -> None:
    cur = manager(make_index(tmp_path, {"early": 2}))
    before = cur.probabilities()
    assert before["early0"] == pytest.approx(0.5)
    for _ in range(10):
        cur.update(0, "early0", new_cells=0, milestones_mask=0, episode_return=1.0)
        cur.update(1, "early1", new_cells=100, milestones_mask=0, episode_return=5.0)
    after = cur.probabilities()
    assert after["early0"] < 0.35 and after["early0"] + after["early1"] == pytest.approx(1.0)
    stats = cur.state_stats()["early0"]
    assert stats["episodes"] == 10 and stats["novelty"] < 0.2 and stats["return"] == 1.0


def test_milestones_beyond_the_spawn_state_count_as_new(tmp_path: Path) -> None:
    index = StateIndex.create(tmp_path, "run", ROM, "2.8.1")
    add(index, "a", "early", milestones=bits("got_starter"))
    add(index, "b", "early", milestones=bits("got_starter"))
    cur = manager(index)
    for _ in range(5):
        cur.update(0, "a", new_cells=0, milestones_mask=bits("got_starter", "route_1"))
        cur.update(0, "b", new_cells=0, milestones_mask=bits("got_starter"))
    p = cur.probabilities()
    assert p["a"] > p["b"]


def test_update_of_a_state_that_left_the_index_is_ignored(index: StateIndex) -> None:
    cur = manager(index)
    before = cur.probabilities()
    cur.update(0, "evicted_long_ago", new_cells=5, milestones_mask=0)
    assert cur.probabilities() == before
    with pytest.raises(ValueError, match="new_cells"):
        cur.update(0, "early0", new_cells=-1, milestones_mask=0)


# --- pressure ----------------------------------------------------------------------------------
def test_pressure_spawns_more_before_a_low_or_alarmed_milestone(tmp_path: Path) -> None:
    index = StateIndex.create(tmp_path, "run", ROM, "2.8.1")
    at_route = add(index, "at_route_1", "early", milestones=bits("got_starter", "route_1"))
    at_start = add(index, "at_start", "early", milestones=0)
    assert next_milestone(at_route) == "viridian_city" and next_milestone(at_start) == "got_starter"
    cur = manager(index)
    cur.set_milestone_pressure({"viridian_city": 4.0, "got_starter": 1.0})
    p = cur.probabilities()
    assert p["at_route_1"] / p["at_start"] == pytest.approx(4.0)
    cur.set_milestone_pressure(MilestonePosteriors().pressure())  # the real producer's names
    with pytest.raises(KeyError, match="unknown milestone"):
        cur.set_milestone_pressure({"beat_gary": 2.0})
    with pytest.raises(ValueError, match="finite"):
        cur.set_milestone_pressure({"route_1": -1.0})


def test_next_milestone_counts_the_states_own_milestone_as_reached(tmp_path: Path) -> None:
    index = StateIndex.create(tmp_path, "run", ROM, "2.8.1")
    entry = add(index, "brock", "mid", milestone="beat_brock", milestones=0)
    assert next_milestone(entry) == "badge_boulder"


# --- migration ---------------------------------------------------------------------------------
@pytest.mark.parametrize(("num_envs", "fraction", "moved"),
                         [(32, 0.25, 8), (64, 0.1, 6), (4, 0.01, 1), (8, 1.0, 8)])
def test_migration_moves_the_requested_fraction(
    index: StateIndex, num_envs: int, fraction: float, moved: int
) -> None:
    cur = manager(index, num_envs=num_envs, migration_fraction=fraction)
    entry, envs = cur.add_state("beat_brock_x", b"brock", StateMeta(
        "beat_brock", "mid", map_id=0x36, badges=0, events=9, step=500))
    assert entry is not None and len(envs) == len(set(envs)) == moved
    assert all(0 <= e < num_envs for e in envs)
    assert cur.summary_dict()["migrations_pending"] == moved
    assert all(cur.sample(e).name == entry.name for e in envs)
    assert cur.summary_dict()["migrations_pending"] == 0
    assert cur.state_bytes(entry) == b"brock"


@pytest.mark.parametrize(
    ("milestone", "cfg", "moves"),
    [("beat_brock", {"migration": False}, False),
     ("map_0x25", {}, False),
     ("map_0x25", {"migrate_on_new_maps": True}, True),
     ("beat_erika", {}, True)],
)
def test_migration_switches(index: StateIndex, milestone: str, cfg: dict[str, object],
                            moves: bool) -> None:
    cur = manager(index, **cfg)
    _, envs = cur.add_state(f"{milestone}_x", b"s", StateMeta(milestone, "mid", 0, 0, 0, 5))
    assert bool(envs) is moves


def test_a_better_copy_of_a_known_milestone_replaces_it_without_migration(
    index: StateIndex,
) -> None:
    cur = manager(index)
    meta = StateMeta("beat_brock", "mid", 0, 1, 9, step=900)
    first, envs = cur.add_state("brock_a", b"a", meta)
    assert first is not None and envs
    worse, envs = cur.add_state("brock_b", b"b", StateMeta("beat_brock", "mid", 0, 1, 9, 950))
    assert worse is None and envs == []
    better, envs = cur.add_state("brock_c", b"c", StateMeta("beat_brock", "mid", 0, 1, 9, 300))
    assert better is not None and envs == []
    assert "brock_c" in cur.registry and "brock_a" not in cur.registry


def test_the_configured_disk_cap_evicts_old_states(tmp_path: Path) -> None:
    index = make_index(tmp_path, {"early": 2, "mid": 1})  # 3 × 14 bytes
    cur = manager(index, max_bytes=45)
    entry, _ = cur.add_state("late_new", b"x" * 14, StateMeta("beat_misty", "late", 0, 3, 50, 9))
    assert entry is not None and index.total_bytes() <= 45
    assert set(cur.registry) == {"early1", "mid0", "late_new"}  # oldest early state went


# --- checkpoint --------------------------------------------------------------------------------
def test_state_dict_round_trip_gives_identical_future_samples(index: StateIndex) -> None:
    a = manager(index, seed=1)
    for i in range(37):
        a.sample(i % 8)
    a.update(3, "mid0", new_cells=40, milestones_mask=0)
    a.set_milestone_pressure({"got_starter": 2.5})
    a.add_state("beat_brock_x", b"brock", StateMeta("beat_brock", "mid", 0, 1, 9, 500))
    saved = json.loads(json.dumps(a.state_dict()))  # what a checkpoint stores
    b = manager(index, seed=999)
    b.load_state_dict(saved)
    assert b.probabilities() == a.probabilities() and b.summary() == a.summary()
    seq_a = [a.sample(i % 8).name for i in range(300)]
    seq_b = [b.sample(i % 8).name for i in range(300)]
    assert seq_a == seq_b
    c = b.notify_new_state(b.registry["late0"]), a.notify_new_state(a.registry["late0"])
    assert c[0] == c[1]


@pytest.mark.parametrize(
    ("bad", "needle"),
    [({"version": 99}, "version"), ({"version": 1, "stats": {}}, "malformed")],
)
def test_a_foreign_curriculum_state_is_refused(index: StateIndex, bad: dict[str, object],
                                              needle: str) -> None:
    with pytest.raises(ValueError, match=needle):
        manager(index).load_state_dict(bad)


# --- bad states --------------------------------------------------------------------------------
def test_corrupt_and_missing_states_are_skipped_and_counted(index: StateIndex) -> None:
    (index.folder / "early1.state").write_bytes(b"garbage")
    (index.folder / "mid1.state").unlink()
    cur = manager(index)
    assert set(cur.registry) == {"early0", "mid0", "late0"}
    assert cur.summary_dict()["states_skipped"] == 2
    assert {e.name for e, _ in cur.skipped} == {"early1", "mid1"}
    assert {cur.sample(i % 8).name for i in range(300)} == {"early0", "mid0", "late0"}


def test_a_state_corrupted_after_start_is_dropped_at_its_next_spawn(index: StateIndex) -> None:
    cur = manager(index, **shares({"late": 1.0}))
    (index.folder / "late0.state").write_bytes(b"garbage")
    entry, data = cur.sample_with_bytes(0)
    assert entry.tier != "late" and data == f"bytes of {entry.name}".encode()
    assert "late0" not in cur.registry and cur.summary_dict()["states_skipped"] == 1


def test_no_usable_state_says_to_bootstrap(tmp_path: Path) -> None:
    index = make_index(tmp_path, {"early": 1})
    (index.folder / "early0.state").unlink()
    with pytest.raises(StateIndexError, match="bootstrap"):
        manager(index)


def test_refresh_picks_up_states_other_writers_added(index: StateIndex) -> None:
    cur = manager(index)
    other = StateIndex.load(index.folder, pyboy_version="2.8.1")  # e.g. another SLURM job
    add(other, "mid_from_elsewhere", "mid")
    assert [e.name for e in cur.refresh()] == ["mid_from_elsewhere"]
    assert "mid_from_elsewhere" in cur.registry
    index.index_path.write_text("{broken")
    assert cur.refresh() == [] and "mid_from_elsewhere" in cur.registry  # keeps going


# --- config and wiring ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("cfg", "needle"),
    [({"mixture": {"early": 1.0}}, "unknown curriculum settings"),
     (shares({}), "at least one positive"),
     ({"curriculum_early": -1.0}, "non-negative"),
     ({"curriculum_late": float("nan")}, "non-negative"),
     ({"migration_fraction": 1.5}, "migration_fraction"),
     ({"curriculum_frontier": 1.5}, "curriculum_frontier"),
     ({"frontier_ranks": 0}, "frontier_ranks"),
     ({"max_bytes": 0}, "max_bytes"),
     ({"novelty_alpha": 0.0}, "novelty_alpha"),
     ({"required_events": ["D755"]}, "byte address.bit"),
     ({"swarm": True}, "unknown curriculum settings")],
)
def test_bad_config_is_one_readable_error(cfg: dict[str, object], needle: str) -> None:
    with pytest.raises(ValueError, match=needle):
        CurriculumConfig.from_dict(cfg)


def test_summary_before_any_spawn_and_its_numbers(index: StateIndex) -> None:
    cur = manager(index)
    assert cur.summary() == "no spawns yet"
    cur.sample(0)
    d = cur.summary_dict()
    assert d["spawns_recent"] == 1 and sum(d[f"spawn_{t}"] for t in ("early", "mid", "late")) == 1
    assert (d["states_early"], d["states_mid"], d["states_late"]) == (2, 2, 1)
    with pytest.raises(IndexError, match="out of range"):
        cur.sample(8)


def state_at(map_id: int, badges: int, events: tuple[tuple[int, int], ...]) -> GameState:
    flags = bytearray(EVENT_FLAGS_LEN)
    for addr, bit in events:
        flags[addr - W_EVENT_FLAGS] |= 1 << bit
    return GameState(map_id, 1, 1, badges, 1, (12, 0, 0, 0, 0, 0), 30, 30, bytes(flags),
                     ram.popcount(flags), 0, 0, 1, 1, 0, True, False)


def test_watcher_to_index_to_migration(index: StateIndex) -> None:
    cfg = CurriculumConfig(migration_fraction=0.5)
    cur = CurriculumManager(index, cfg, num_envs=4, seed=3)
    add(index, "brock_old", "mid", milestone="beat_brock", step=1)
    watcher = make_watcher(cfg, 4, index)
    assert "beat_brock" in watcher.seen  # in the index already: not saved again
    start = state_at(0x02, 0, (ram.EVENT_GOT_STARTER,))
    watcher.start_episode(2, start)
    won = state_at(0x36, 1, (ram.EVENT_GOT_STARTER, ram.EVENT_BEAT_BROCK))
    fired = {t.name: t for t in watcher.observe(2, won)}
    assert set(fired) == {"badge_boulder"}  # the gym's first visit (stage 3) is this moment
    assert "map_0x36_s3" in watcher.seen
    trigger = fired["badge_boulder"]
    entry, envs = cur.add_state("badge_boulder_t", b"after brock",
                                watcher.state_meta(2, trigger, won, step=4_000))
    assert entry is not None and entry.badges == 1 and entry.step == 4_000 and len(envs) == 2
    assert index.read_state(entry) == b"after brock"


def test_reset_state_hook_returns_bytes_and_remembers_the_spawn(index: StateIndex) -> None:
    cur = manager(index, num_envs=2)
    assert cur.spawned_from(1) is None
    data = cur.reset_state(1)
    entry = cur.spawned_from(1)
    assert entry is not None and data == f"bytes of {entry.name}".encode()
    assert cur.spawned_from(0) is None


def test_a_badge_on_the_practice_cartridge_saves_a_state_that_reloads_with_it(
    game: PokemonEnv, tmp_path: Path
) -> None:
    """The issue's end-to-end check, driven by the scripted player of the cartridge tests."""
    index = StateIndex.create(tmp_path, "practice", game.rom.sha1)
    add_boot = index.add("pallet_town_start", game.save_state(),
                         StateMeta("bootstrap", "early", game.state.map_id, 0, 0, step=0))
    assert add_boot is not None
    cfg = CurriculumConfig(migration_fraction=0.5)
    cur = CurriculumManager(index, cfg, num_envs=2, seed=0)
    watcher = make_watcher(cfg, 2, index)
    watcher.start_episode(0, game.state)
    get_starter(game)
    make_strong(game)
    skip_parcel_errand(game)
    walk_to(game, 0x36, 4, 2)  # in front of Brock
    face(game, "up")
    fired: dict[str, Trigger] = {}
    for _ in range(200):
        fired.update((t.name, t) for t in watcher.observe(0, press(game, "a")))
        if game.state.in_control and game.state.badges:
            break
    assert {"got_starter", "beat_brock", "badge_boulder"} <= set(fired)
    trigger = fired["badge_boulder"]
    meta = watcher.state_meta(0, trigger, game.state, step=777)
    entry, envs = cur.add_state(entry_name(trigger.name), game.save_state(), meta)
    assert entry is not None and entry.tier == by_name("badge_boulder").tier
    assert entry.badges & 1 and len(envs) == 1
    assert (index.folder / entry.path).is_file()
    game.load_state(cur.state_bytes(cur.registry["pallet_town_start"]))
    assert game.state.badges == 0
    game.load_state(cur.reset_state(envs[0]))  # the migrated env spawns from the badge state
    assert cur.spawned_from(envs[0]) == entry
    assert game.state.badges & 1 and game.state.event(ram.EVENT_BEAT_BROCK)


def test_spawn_bootstrap_only_ignores_other_states_and_migration(tmp_path):
    """The no-swarm baseline: every reset starts from the bootstrap state."""
    from daddy.swarm.curriculum import CurriculumConfig, CurriculumManager
    from daddy.swarm.state_index import StateIndex, StateMeta

    index = StateIndex.create(tmp_path / "r", "r", "sha")
    index.add("boot", b"boot-bytes", StateMeta("bootstrap", "early", 0x26, 0, 0, 0))
    cm = CurriculumManager(index, CurriculumConfig(spawn="bootstrap"), num_envs=4, seed=0)
    later = index.add("pewter", b"pewter-bytes", StateMeta("pewter_city", "mid", 0x02, 1, 9, 50))
    assert cm.notify_new_state(later) == []
    assert {cm.sample(i % 4).name for i in range(50)} == {"boot"}
