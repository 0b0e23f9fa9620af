"""Game milestones: what counts as progress, in story order.

One list serves three consumers: trigger savestates (curriculum), Bayesian milestone posteriors
(intrinsic rewards), and the `milestones_reached` bitmask of the episode log. Bit i of that mask
is `DEFAULT_MILESTONES[i]`, so the order here is part of the data contract: append, never reorder.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from daddy.game import ram
from daddy.game.ram import GameState

Kind = Literal["map", "event", "badge"]
Tier = Literal["early", "mid", "late"]
TIERS: tuple[Tier, ...] = ("early", "mid", "late")


@dataclass(frozen=True, slots=True)
class Milestone:
    """A fact about the game that, once true, marks progress along the story."""

    name: str  # file-safe id, e.g. "badge_boulder"
    label: str  # short human label for the terminal, e.g. "Boulder"
    kind: Kind
    arg: int | tuple[int, int]  # map id, badge bit, or event flag (byte address, bit)
    tier: Tier  # the curriculum tier of a state saved when this is first reached

    def reached(self, s: GameState) -> bool:
        if self.kind == "map":
            return s.map_id == self.arg
        if self.kind == "badge":
            return bool(s.badges >> int(self.arg) & 1)  # type: ignore[arg-type]
        return s.event(self.arg)  # type: ignore[arg-type]


DEFAULT_MILESTONES: tuple[Milestone, ...] = (
    Milestone("got_starter", "Starter", "event", ram.EVENT_GOT_STARTER, "early"),
    Milestone("route_1", "Route1", "map", 0x0C, "early"),
    Milestone("viridian_city", "Viridian", "map", 0x01, "early"),
    Milestone("viridian_forest", "Forest", "map", 0x33, "early"),
    Milestone("pewter_city", "Pewter", "map", 0x02, "mid"),
    Milestone("beat_brock", "Brock", "event", ram.EVENT_BEAT_BROCK, "mid"),
    Milestone("badge_boulder", "Boulder", "badge", 0, "mid"),
    Milestone("mt_moon", "MtMoon", "map", 0x3B, "mid"),
    Milestone("cerulean_city", "Cerulean", "map", 0x03, "mid"),
    Milestone("beat_misty", "Misty", "event", ram.EVENT_BEAT_MISTY, "late"),
    Milestone("badge_cascade", "Cascade", "badge", 1, "late"),
    Milestone("vermilion_city", "Vermilion", "map", 0x05, "late"),
    Milestone("beat_lt_surge", "Surge", "event", ram.EVENT_BEAT_LT_SURGE, "late"),
    Milestone("badge_thunder", "Thunder", "badge", 2, "late"),
)
assert len(DEFAULT_MILESTONES) <= 64, "milestones_reached is a uint64 bitmask"


def reached_mask(s: GameState, milestones: tuple[Milestone, ...] = DEFAULT_MILESTONES) -> int:
    """Bitmask of milestones true in this state (bit i = milestones[i])."""
    mask = 0
    for i, m in enumerate(milestones):
        if m.reached(s):
            mask |= 1 << i
    return mask


def by_name(name: str, milestones: tuple[Milestone, ...] = DEFAULT_MILESTONES) -> Milestone:
    for m in milestones:
        if m.name == name:
            return m
    known = ", ".join(m.name for m in milestones)
    raise KeyError(f"unknown milestone {name!r}; known milestones: {known}")
