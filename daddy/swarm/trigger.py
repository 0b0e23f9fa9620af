"""Trigger savestates: notice when an env reaches a milestone no env of the run reached before.

Pure logic over `GameState`s, no emulator: the trainer feeds each env's state after every step,
and when `MilestoneWatcher.observe` returns triggers it asks that env's worker for its
`save_state()` bytes and hands them to the single writer (`StateIndex.add`) with `state_meta`.
What counts: every `DEFAULT_MILESTONES` entry, every badge bit, each map entered for the first
time in the run at its story stage (`map_0x0d`, later `map_0x0d_s3`; a named map such as
Pallet Town is its milestone at first entry, then `map_0x00_s3` at each later stage), configured
late-game maps, and configured required event flags (named, e.g. `beat_erika=D77C.1`: the gym
leaders after Lt. Surge are there by default).

Why named maps count again at later stages: after Viridian Mart's parcel the way back to Oak
crosses Viridian City, Route 1 and Pallet Town, all named and so never saved again; with no
state on the way, no episode (150k-300k steps, bench/results/frontier) delivered the parcel.

Why maps count per story stage: Pallet Town before and after receiving the starter are
different places for exploration (the north gate is open only after). Keyed by map alone, the
only state after the starter was the lab where it was received, and every episode had to find
the way out of the lab and across town again; Go-Explore keys its cells by level and inventory
for the same reason. Measured on the practice cartridge with random actions from an archive
keyed by map and story stage: the badge in ~110-140k steps (2 seeds); the trainer keyed by map
alone never left the lab area in 300k.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Literal

from daddy.game.milestones import (
    DEFAULT_MILESTONES,
    Milestone,
    Tier,
    furthest,
    reached_mask,
    watch_key,
)
from daddy.game.ram import EVENT_FLAGS_LEN, W_EVENT_FLAGS, GameState
from daddy.swarm.state_index import StateMeta, is_weak

TriggerKind = Literal["milestone", "badge", "map", "event"]
EventFlag = tuple[int, int]

MAP_PREFIX = "map_0x"
EVENT_PREFIX = "event_"
BADGE_PREFIX = "badge_bit"
_EVENT_NAME_RE = re.compile(r"[a-z0-9][a-z0-9_]{0,63}")

# Gym leaders' "beaten" event flags beyond those in DEFAULT_MILESTONES (pokered
# constants/event_constants.asm: EVENT_BEAT_ERIKA = $1A9 → wEventFlags + $35, bit 1, …).
GYM_LEADER_EVENTS: tuple[str, ...] = (
    "beat_erika=D77C.1",
    "beat_koga=D792.1",
    "beat_sabrina=D7B3.1",
    "beat_blaine=D79A.1",
    "beat_giovanni=D751.1",
)


@dataclass(frozen=True, slots=True)
class Trigger:
    """A milestone reached for the first time in the run: save a state named after it."""

    name: str  # file-safe milestone id: "beat_brock", "map_0x0d", "event_d74e_0", "badge_bit3"
    tier: Tier
    kind: TriggerKind


def map_milestone(map_id: int, stage: int = 0) -> str:
    """`map_0x0d` at story stage 0, `map_0x0d_s2` after two story milestones."""
    return f"{MAP_PREFIX}{map_id:02x}" + (f"_s{stage}" if stage else "")


def event_milestone(flag: EventFlag) -> str:
    return f"{EVENT_PREFIX}{flag[0]:04x}_{flag[1]}"


def parse_required_event(spec: str | Sequence[int]) -> tuple[str, EventFlag]:
    """'beat_erika=D77C.1' → ('beat_erika', (0xD77C, 1)); unnamed 'D77C.1' → 'event_d77c_1'."""
    if isinstance(spec, str) and "=" in spec:
        name, _, flag_spec = spec.partition("=")
        name = name.strip()
        if not _EVENT_NAME_RE.fullmatch(name):
            raise ValueError(f"required event name {name!r} in {spec!r} must be lowercase "
                             f"letters, digits and '_' (at most 64), e.g. 'beat_erika=D77C.1'")
        return name, parse_event_flag(flag_spec)
    flag = parse_event_flag(spec)
    return event_milestone(flag), flag


def is_map_milestone(name: str) -> bool:
    return name.startswith(MAP_PREFIX)


def parse_event_flag(spec: str | Sequence[int]) -> EventFlag:
    """'D755.7', '0xD755.7' or [0xD755, 7] → (0xD755, 7), checked to lie in wEventFlags."""
    if isinstance(spec, str):
        m = re.fullmatch(r"\s*(?:0x)?([0-9A-Fa-f]{4})\.([0-7])\s*", spec)
        if m is None:
            raise ValueError(f"event flag {spec!r} must look like 'D755.7' (byte address.bit)")
        addr, bit = int(m.group(1), 16), int(m.group(2))
    else:
        if len(spec) != 2 or not all(isinstance(v, int) for v in spec):
            raise ValueError(f"event flag {spec!r} must be [address, bit] or 'D755.7'")
        addr, bit = spec
    if not W_EVENT_FLAGS <= addr < W_EVENT_FLAGS + EVENT_FLAGS_LEN or not 0 <= bit <= 7:
        raise ValueError(
            f"event flag {addr:#06x}.{bit} is outside wEventFlags "
            f"({W_EVENT_FLAGS:#06x}..{W_EVENT_FLAGS + EVENT_FLAGS_LEN - 1:#06x}, bits 0-7)"
        )
    return addr, bit


def entry_name(milestone: str, when: datetime | None = None) -> str:
    """`<milestone>_<YYYYmmddTHHMMSS>` in UTC: the savestate's name in the index."""
    when = when or datetime.now(timezone.utc)
    return f"{milestone}_{when.astimezone(timezone.utc):%Y%m%dT%H%M%S}"


def tier_by_story(state: GameState, milestones: Sequence[Milestone] = DEFAULT_MILESTONES) -> Tier:
    """Where the story stands in `state`: the tier of the furthest milestone true in it, early
    before any. Unnamed triggers (a new map, an extra event or badge) take it, so "late" means
    late in the whole game, whichever ROM runs."""
    top = furthest(reached_mask(state, tuple(milestones)), milestones)
    return top.tier if top is not None else "early"


def tier_for(
    milestone: str, state: GameState, milestones: Sequence[Milestone] = DEFAULT_MILESTONES
) -> Tier:
    """A named milestone keeps its own tier; any other state sits where its story stands."""
    for m in milestones:
        if m.name == milestone:
            return m.tier
    return tier_by_story(state, milestones)


def _args(milestones: Sequence[Milestone], kind: str) -> set[int]:
    """The map ids or badge bits that named milestones of `kind` watch."""
    return {int(m.arg) for m in milestones if m.kind == kind}  # type: ignore[arg-type]


@dataclass(slots=True)
class _EnvEpisode:
    spawn_mask: int  # DEFAULT_MILESTONES reached by the spawn state's lineage, or true in it
    mask: int  # spawn_mask | DEFAULT_MILESTONES true at any observed state of the episode
    key: tuple[int, int, bytes, bytes] = field(default=(-1, -1, b"", b""))


class MilestoneWatcher:
    """Per-env episode masks plus the run-level set of milestones already reached.

    Call `start_episode(env_id, state)` after every reset (what is true at the spawn state
    counts as already seen, never as a trigger), then `observe(env_id, state)` after each step.
    """

    def __init__(
        self,
        num_envs: int,
        *,
        late_maps: Iterable[int] = (),
        required_events: Iterable[str | Sequence[int]] = (),
        watch_new_maps: bool = True,
        milestones: Sequence[Milestone] = DEFAULT_MILESTONES,
        seen: Iterable[str] = (),
        weak: Iterable[str] = (),
    ) -> None:
        if num_envs < 1:
            raise ValueError(f"num_envs must be at least 1, got {num_envs}")
        self.num_envs = num_envs
        self.milestones = tuple(milestones)
        self.late_maps = frozenset(int(m) for m in late_maps)
        self.watch_new_maps = watch_new_maps
        self.required_events = self._required(required_events)
        self._named_maps = _args(self.milestones, "map")
        self._named_badges = _args(self.milestones, "badge")
        # story stage = how many of the named event and badge milestones hold (maps excluded:
        # they hold only while standing on the map)
        self._story_mask = sum(1 << i for i, m in enumerate(self.milestones) if m.kind != "map")
        self.seen: set[str] = set(seen)
        self.weak: set[str] = set(weak)  # seen, but saved with the lead Pokémon nearly fainted
        self._envs: list[_EnvEpisode | None] = [None] * num_envs

    def _required(self, specs: Iterable[str | Sequence[int]]) -> tuple[tuple[str, EventFlag], ...]:
        """Parsed (name, flag) pairs; flags that are already named milestones are left out."""
        named = {m.arg: m.name for m in self.milestones if m.kind == "event"}
        out: dict[EventFlag, str] = {}
        for spec in specs:
            name, flag = parse_required_event(spec)
            if name in {m.name for m in self.milestones} and named.get(flag) != name:
                raise ValueError(f"required event {spec!r} reuses the milestone name {name!r} "
                                 f"for another flag; pick another name")
            if flag not in named:
                out.setdefault(flag, name)
        names = list(out.values())
        if len(set(names)) != len(names):
            raise ValueError(f"required events repeat a name: {sorted(names)}")
        return tuple((n, f) for f, n in out.items())

    # --- episodes ----------------------------------------------------------------------------
    def start_episode(self, env_id: int, state: GameState, inherited_mask: int = 0) -> None:
        """Baseline for a fresh episode; everything already true joins the run's seen set.

        `inherited_mask`: the spawn entry's `milestones` (what its lineage reached). A map
        milestone holds only while on that map, so one GameState cannot tell it.
        """
        self._check_env(env_id)
        mask = int(inherited_mask) | reached_mask(state, self.milestones)
        self._envs[env_id] = _EnvEpisode(spawn_mask=mask, mask=mask)
        self.seen.update(t.name for t in self._candidates(state))

    def observe(self, env_id: int, state: GameState) -> list[Trigger]:
        """Milestones that `state` reaches for the first time in the run (usually none), or
        reaches healthy while the run's saved copy is weak (`state_index.WEAK_HEALTH`). Only
        states in control fire (`ram.in_control`: warp settled, no text, battle or script), so
        every trigger savestate starts where the player can act; the episode mask still
        records what a state reaches."""
        ep = self._episode(env_id)
        key = watch_key(state)  # map, badges, event flags, bag: all that milestones read
        if key == ep.key:
            return []  # nothing that milestones look at has changed since the last step
        now = reached_mask(state, self.milestones)
        ep.mask |= now
        if not state.in_control:
            # A state saved now would start mid-warp (the old map on a dimmed screen), in a
            # text box or a battle: the key is not kept, so the next settled step fires it.
            return []
        ep.key = key
        weak = is_weak(state.hp, state.max_hp)
        fired = [
            t for t in self._candidates(state, now)
            if t.name not in self.seen or (t.name in self.weak and not weak)
        ]
        self.seen.update(t.name for t in fired)
        if any(t.kind != "map" for t in fired):  # the story milestone's state is this moment's
            fired = [t for t in fired if t.kind != "map"]
        saved = {t.name for t in fired}  # the copies the caller saves now
        self.weak = self.weak | saved if weak else self.weak - saved
        return fired

    def episode_mask(self, env_id: int) -> int:
        """DEFAULT_MILESTONES bits of the episode: inherited, at spawn, or reached since."""
        return self._episode(env_id).mask

    def new_mask(self, env_id: int) -> int:
        """Bits first reached during the episode, not already true at its spawn state."""
        ep = self._episode(env_id)
        return ep.mask & ~ep.spawn_mask

    def state_meta(self, env_id: int, trigger: Trigger, state: GameState, step: int) -> StateMeta:
        """Index metadata for a state saved when `trigger` fired on env `env_id` at `step`."""
        return StateMeta(
            milestone=trigger.name, tier=trigger.tier, map_id=state.map_id, badges=state.badges,
            events=state.event_count, step=step, milestones=self.episode_mask(env_id),
            hp=state.hp, max_hp=state.max_hp,
        )

    # --- what counts -------------------------------------------------------------------------
    def _candidates(self, s: GameState, mask: int | None = None) -> list[Trigger]:
        """Every trigger that holds in `s`, named milestones first in story order; `mask`:
        `reached_mask(s)` when the caller has it."""
        mask = reached_mask(s, self.milestones) if mask is None else mask
        out = [
            Trigger(m.name, m.tier, "milestone")
            for i, m in enumerate(self.milestones) if mask >> i & 1
        ]
        for bit in range(8):
            if s.badges >> bit & 1 and bit not in self._named_badges:
                out.append(Trigger(f"{BADGE_PREFIX}{bit}", self._tier(s, mask), "badge"))
        for name, flag in self.required_events:
            if s.event(flag):
                out.append(Trigger(name, self._tier(s, mask), "event"))
        late = s.map_id in self.late_maps
        stage = (mask & self._story_mask).bit_count()
        named = s.map_id in self._named_maps
        # A named map (Pallet Town, Route 1, ...) is its milestone at first entry; entered
        # again at a later story stage it is a stepping stone like any map (map_0x00_s4).
        if (self.watch_new_maps or late) and (not named or stage > 0):
            out.append(Trigger(map_milestone(s.map_id, stage), self._tier(s, mask), "map"))
        return out

    def _tier(self, s: GameState, mask: int) -> Tier:
        top = furthest(mask, self.milestones)
        return top.tier if top is not None else "early"

    # --- checkpoint --------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """Only the run-level sets: episodes restart after a resume."""
        return {"version": 1, "seen": sorted(self.seen), "weak": sorted(self.weak)}

    def load_state_dict(self, d: dict[str, Any]) -> None:
        if d.get("version") != 1 or not isinstance(d.get("seen"), list):
            raise ValueError("milestone watcher state must be {'version': 1, 'seen': [...]}; "
                             "the checkpoint is from another Daddy version")
        self.seen = set(map(str, d["seen"]))
        self.weak = set(map(str, d.get("weak", [])))  # absent in checkpoints before it existed

    # --- helpers -----------------------------------------------------------------------------
    def _check_env(self, env_id: int) -> None:
        if not 0 <= env_id < self.num_envs:
            raise IndexError(f"env_id {env_id} out of range 0..{self.num_envs - 1}")

    def _episode(self, env_id: int) -> _EnvEpisode:
        self._check_env(env_id)
        ep = self._envs[env_id]
        if ep is None:
            raise RuntimeError(
                f"env {env_id} has no episode; call start_episode(env_id, state) after each reset"
            )
        return ep
