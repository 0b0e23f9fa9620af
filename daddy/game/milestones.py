"""Game milestones: what counts as progress, from Pallet Town to the Champion.

One list serves three consumers: trigger savestates (curriculum), Bayesian milestone posteriors
(intrinsic rewards), and the `milestones_reached` bitmask of the episode log. Bit i of that mask
is `DEFAULT_MILESTONES[i]`, so the list order is part of the data contract: append, never
reorder. The first 14 are the practice cartridge's (up to Lt. Surge); the rest came later, so
list order is not story order: `STORY_ORDER` / `story_rank` say how far along the story each
one is, and `furthest` / `next_milestones` read a mask in that order.

Every flag, item and map comes from the pret/pokered disassembly (daddy.game.events,
daddy.game.maps; docs/REAL_GAME.md "Whole-game milestones"). Tiers split the story in thirds:
early = to Vermilion City, mid = the S.S. Anne to Koga, late = Saffron City to the Champion.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from daddy.game import events as ev
from daddy.game.maps import MAP_CONSTANTS
from daddy.game.ram import W_EVENT_FLAGS, GameState

Kind = Literal["map", "event", "badge", "item"]
Tier = Literal["early", "mid", "late"]
TIERS: tuple[Tier, ...] = ("early", "mid", "late")
MAX_MILESTONES = 64  # milestones_reached is a uint64 bitmask


@dataclass(frozen=True, slots=True)
class Milestone:
    """A fact about the game that, once true, marks progress along the story."""

    name: str  # file-safe id, e.g. "badge_boulder"
    label: str  # short human label for the terminal, e.g. "Boulder"
    kind: Kind
    arg: int | tuple[int, int]  # map id, badge bit, event flag (byte address, bit) or item id
    tier: Tier  # the curriculum tier of a state saved when this is first reached

    def reached(self, s: GameState) -> bool:
        if self.kind == "map":
            return s.map_id == self.arg
        if self.kind == "badge":
            return bool(s.badges >> int(self.arg) & 1)  # type: ignore[arg-type]
        if self.kind == "item":
            return s.has_item(int(self.arg))  # type: ignore[arg-type]
        return s.event(self.arg)  # type: ignore[arg-type]


_MAP_BY_CONSTANT = {const: i for i, const in MAP_CONSTANTS.items()}


def _map(name: str, label: str, const: str, tier: Tier) -> Milestone:
    """A map milestone by its map_constants.asm name (true while the player is on that map)."""
    return Milestone(name, label, "map", _MAP_BY_CONSTANT[const], tier)


DEFAULT_MILESTONES: tuple[Milestone, ...] = (
    # --- bits 0-13: the practice cartridge's milestones (pinned by tests; never reorder) ---
    Milestone("got_starter", "Starter", "event", ev.EVENT_GOT_STARTER, "early"),
    _map("route_1", "Route1", "ROUTE_1", "early"),
    _map("viridian_city", "Viridian", "VIRIDIAN_CITY", "early"),
    _map("viridian_forest", "Forest", "VIRIDIAN_FOREST", "early"),
    _map("pewter_city", "Pewter", "PEWTER_CITY", "early"),
    Milestone("beat_brock", "Brock", "event", ev.EVENT_BEAT_BROCK, "early"),
    Milestone("badge_boulder", "Boulder", "badge", 0, "early"),
    _map("mt_moon", "MtMoon", "MT_MOON_1F", "early"),
    _map("cerulean_city", "Cerulean", "CERULEAN_CITY", "early"),
    Milestone("beat_misty", "Misty", "event", ev.EVENT_BEAT_MISTY, "early"),
    Milestone("badge_cascade", "Cascade", "badge", 1, "early"),
    _map("vermilion_city", "Vermilion", "VERMILION_CITY", "early"),
    Milestone("beat_lt_surge", "Surge", "event", ev.EVENT_BEAT_LT_SURGE, "mid"),
    Milestone("badge_thunder", "Thunder", "badge", 2, "mid"),
    # --- bits 14+: the rest of the real game (appended; story position from STORY_ORDER) ---
    _map("pallet_town", "Pallet", "PALLET_TOWN", "early"),
    Milestone(
        "battled_rival_lab", "RivalLab", "event", ev.EVENT_BATTLED_RIVAL_IN_OAKS_LAB, "early"
    ),
    Milestone("got_oaks_parcel", "Parcel", "event", ev.EVENT_GOT_OAKS_PARCEL, "early"),
    Milestone("oak_got_parcel", "OakParcel", "event", ev.EVENT_OAK_GOT_PARCEL, "early"),
    Milestone("got_pokedex", "Pokedex", "event", ev.EVENT_GOT_POKEDEX, "early"),
    Milestone(
        "beat_mt_moon_nerd", "MoonNerd", "event", ev.EVENT_BEAT_MT_MOON_EXIT_SUPER_NERD, "early"
    ),
    Milestone("beat_cerulean_rival", "RivalCeru", "event", ev.EVENT_BEAT_CERULEAN_RIVAL, "early"),
    _map("bills_house", "BillHouse", "BILLS_HOUSE", "early"),
    Milestone("got_ss_ticket", "SSTicket", "event", ev.EVENT_GOT_SS_TICKET, "early"),
    _map("ss_anne", "SSAnne", "SS_ANNE_1F", "mid"),
    Milestone("got_hm01", "HM01", "event", ev.EVENT_GOT_HM01, "mid"),
    _map("rock_tunnel", "RockTunnel", "ROCK_TUNNEL_1F", "mid"),
    _map("lavender_town", "Lavender", "LAVENDER_TOWN", "mid"),
    _map("pokemon_tower", "Tower", "POKEMON_TOWER_1F", "mid"),
    _map("celadon_city", "Celadon", "CELADON_CITY", "mid"),
    _map("rocket_hideout", "Hideout", "ROCKET_HIDEOUT_B1F", "mid"),
    Milestone(
        "beat_hideout_giovanni",
        "GiovHideout",
        "event",
        ev.EVENT_BEAT_ROCKET_HIDEOUT_GIOVANNI,
        "mid",
    ),
    Milestone("got_silph_scope", "Scope", "item", ev.SILPH_SCOPE, "mid"),
    Milestone("beat_erika", "Erika", "event", ev.EVENT_BEAT_ERIKA, "mid"),
    Milestone("badge_rainbow", "Rainbow", "badge", 3, "mid"),
    Milestone("rescued_mr_fuji", "Fuji", "event", ev.EVENT_RESCUED_MR_FUJI, "mid"),
    Milestone("got_poke_flute", "Flute", "event", ev.EVENT_GOT_POKE_FLUTE, "mid"),
    Milestone("beat_route12_snorlax", "Snorlax", "event", ev.EVENT_BEAT_ROUTE12_SNORLAX, "mid"),
    _map("fuchsia_city", "Fuchsia", "FUCHSIA_CITY", "mid"),
    _map("safari_zone", "Safari", "SAFARI_ZONE_CENTER", "mid"),
    Milestone("got_hm03", "HM03", "event", ev.EVENT_GOT_HM03, "mid"),
    Milestone("got_hm04", "HM04", "event", ev.EVENT_GOT_HM04, "mid"),
    Milestone("beat_koga", "Koga", "event", ev.EVENT_BEAT_KOGA, "mid"),
    Milestone("badge_soul", "Soul", "badge", 4, "mid"),
    _map("saffron_city", "Saffron", "SAFFRON_CITY", "late"),
    _map("silph_co", "Silph", "SILPH_CO_1F", "late"),
    Milestone("got_card_key", "CardKey", "item", ev.CARD_KEY, "late"),
    Milestone("beat_silph_giovanni", "GiovSilph", "event", ev.EVENT_BEAT_SILPH_CO_GIOVANNI, "late"),
    Milestone("beat_sabrina", "Sabrina", "event", ev.EVENT_BEAT_SABRINA, "late"),
    Milestone("badge_marsh", "Marsh", "badge", 5, "late"),
    _map("cinnabar_island", "Cinnabar", "CINNABAR_ISLAND", "late"),
    _map("pokemon_mansion", "Mansion", "POKEMON_MANSION_1F", "late"),
    Milestone("got_secret_key", "SecretKey", "item", ev.SECRET_KEY, "late"),
    Milestone("beat_blaine", "Blaine", "event", ev.EVENT_BEAT_BLAINE, "late"),
    Milestone("badge_volcano", "Volcano", "badge", 6, "late"),
    Milestone("beat_giovanni", "Giovanni", "event", ev.EVENT_BEAT_VIRIDIAN_GYM_GIOVANNI, "late"),
    Milestone("badge_earth", "Earth", "badge", 7, "late"),
    _map("victory_road", "VictRoad", "VICTORY_ROAD_1F", "late"),
    _map("indigo_plateau", "Indigo", "INDIGO_PLATEAU", "late"),
    Milestone("beat_lorelei", "Lorelei", "event", ev.EVENT_BEAT_LORELEIS_ROOM_TRAINER_0, "late"),
    Milestone("beat_bruno", "Bruno", "event", ev.EVENT_BEAT_BRUNOS_ROOM_TRAINER_0, "late"),
    Milestone("beat_agatha", "Agatha", "event", ev.EVENT_BEAT_AGATHAS_ROOM_TRAINER_0, "late"),
    Milestone("beat_lance", "Lance", "event", ev.EVENT_BEAT_LANCES_ROOM_TRAINER_0, "late"),
    Milestone("beat_champion", "Champion", "event", ev.EVENT_BEAT_CHAMPION_RIVAL, "late"),
)
assert len(DEFAULT_MILESTONES) <= MAX_MILESTONES, "milestones_reached is a uint64 bitmask"

# The story, first to last: the order a player meets these (one common route where the game
# allows several; e.g. Erika may come before the Rocket Hideout). Ranks, not bits.
STORY_ORDER: tuple[str, ...] = (
    # early: Pallet Town to Vermilion City
    "pallet_town", "got_starter", "battled_rival_lab", "route_1", "viridian_city",
    "got_oaks_parcel", "oak_got_parcel", "got_pokedex", "viridian_forest", "pewter_city",
    "beat_brock", "badge_boulder", "mt_moon", "beat_mt_moon_nerd", "cerulean_city",
    "beat_cerulean_rival", "bills_house", "got_ss_ticket", "beat_misty", "badge_cascade",
    "vermilion_city",
    # mid: the S.S. Anne to Koga
    "ss_anne", "got_hm01", "beat_lt_surge", "badge_thunder", "rock_tunnel", "lavender_town",
    "pokemon_tower", "celadon_city", "rocket_hideout", "beat_hideout_giovanni",
    "got_silph_scope", "beat_erika", "badge_rainbow", "rescued_mr_fuji", "got_poke_flute",
    "beat_route12_snorlax", "fuchsia_city", "safari_zone", "got_hm03", "got_hm04",
    "beat_koga", "badge_soul",
    # late: Saffron City to the Champion
    "saffron_city", "silph_co", "got_card_key", "beat_silph_giovanni", "beat_sabrina",
    "badge_marsh", "cinnabar_island", "pokemon_mansion", "got_secret_key", "beat_blaine",
    "badge_volcano", "beat_giovanni", "badge_earth", "victory_road", "indigo_plateau",
    "beat_lorelei", "beat_bruno", "beat_agatha", "beat_lance", "beat_champion",
)  # fmt: skip
_RANK: dict[str, int] = {name: r for r, name in enumerate(STORY_ORDER)}


def story_rank(name: str) -> int:
    """Position of milestone `name` in the story (0 = first); KeyError for a name that is not
    a milestone (e.g. a plain map state 'map_0x2a')."""
    try:
        return _RANK[name]
    except KeyError:
        raise KeyError(
            f"{name!r} is not a milestone; milestones in story order: {', '.join(STORY_ORDER)}"
        ) from None


def _rank(m: Milestone, bit: int) -> int:
    """Story rank; milestones outside STORY_ORDER (custom lists) follow it, in list order."""
    return _RANK.get(m.name, len(STORY_ORDER) + bit)


def in_story_order(
    milestones: Sequence[Milestone] = DEFAULT_MILESTONES,
) -> list[tuple[int, Milestone]]:
    """(bit, milestone) pairs sorted by story rank: how to lay out bit-indexed data for people."""
    return sorted(enumerate(milestones), key=lambda p: _rank(p[1], p[0]))


def furthest(mask: int, milestones: Sequence[Milestone] = DEFAULT_MILESTONES) -> Milestone | None:
    """The milestone of `mask` furthest along the story (None: the mask is empty)."""
    best: tuple[int, Milestone] | None = None
    for bit, m in enumerate(milestones):
        if int(mask) >> bit & 1 and (best is None or _rank(m, bit) > best[0]):
            best = (_rank(m, bit), m)
    return best[1] if best else None


def next_milestones(
    mask: int, k: int = 3, milestones: Sequence[Milestone] = DEFAULT_MILESTONES
) -> list[Milestone]:
    """The first `k` milestones after the furthest one in `mask`, in story order, that `mask`
    does not hold: what the agent has to do next (a map milestone earlier in the story that
    the mask misses is behind, not next)."""
    top = furthest(mask, milestones)
    start = -1 if top is None else _rank(top, milestones.index(top))
    ahead = [m for bit, m in in_story_order(milestones)
             if _rank(m, bit) > start and not int(mask) >> bit & 1]  # fmt: skip
    return ahead[: max(k, 0)]


def watch_key(s: GameState) -> tuple[int, int, bytes, bytes]:
    """Everything milestones read (map, badges, event flags, bag): while it is unchanged,
    `reached_mask` is too, so per-step callers may skip it."""
    return (s.map_id, s.badges, s.events, s.bag)


_COMPILED: dict[int, tuple[tuple[Milestone, ...], tuple]] = {}  # id(list) → (list, _compile(list))


def reached_mask(s: GameState, milestones: tuple[Milestone, ...] = DEFAULT_MILESTONES) -> int:
    """Bitmask of milestones true in this state (bit i = milestones[i])."""
    got = _COMPILED.get(id(milestones))
    if got is None or got[0] is not milestones:
        if len(_COMPILED) > 32:  # callers building a new tuple per call: do not grow forever
            _COMPILED.clear()
        got = _COMPILED[id(milestones)] = (milestones, _compile(milestones))
    maps, badges, flags, items = got[1]
    mask = maps.get(s.map_id, 0)
    for badge_bit, bit in badges:
        if s.badges >> badge_bit & 1:
            mask |= bit
    events = s.events
    for offset, flag_bit, bit in flags:
        if events[offset] >> flag_bit & 1:
            mask |= bit
    if s.bag:
        for item, bit in items:
            if item in s.bag:
                mask |= bit
    return mask


def _compile(milestones: tuple[Milestone, ...]) -> tuple[
    dict[int, int], tuple[tuple[int, int], ...], tuple[tuple[int, int, int], ...],
    tuple[tuple[int, int], ...],
]:  # fmt: skip
    """The list regrouped by kind, so a state is checked in a few µs (the env does it on every
    step whose map, badges, events or bag changed): map id → bits, (badge bit, bit),
    (event byte offset, flag bit, bit), (item id, bit)."""
    maps: dict[int, int] = {}
    badges, flags, items = [], [], []
    for i, m in enumerate(milestones):
        if m.kind == "map":
            maps[int(m.arg)] = maps.get(int(m.arg), 0) | 1 << i  # type: ignore[arg-type]
        elif m.kind == "badge":
            badges.append((int(m.arg), 1 << i))  # type: ignore[arg-type]
        elif m.kind == "item":
            items.append((int(m.arg), 1 << i))  # type: ignore[arg-type]
        else:
            addr, flag_bit = m.arg  # type: ignore[misc]
            flags.append((addr - W_EVENT_FLAGS, flag_bit, 1 << i))
    return maps, tuple(badges), tuple(flags), tuple(items)


def by_name(name: str, milestones: tuple[Milestone, ...] = DEFAULT_MILESTONES) -> Milestone:
    for m in milestones:
        if m.name == name:
            return m
    known = ", ".join(m.name for m in milestones)
    raise KeyError(f"unknown milestone {name!r}; known milestones: {known}")
