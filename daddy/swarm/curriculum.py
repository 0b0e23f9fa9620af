"""CurriculumManager: which savestate each env spawns from at reset.

Swarming over the story: a share `curriculum_frontier` of spawns comes from the frontier, the
states of the furthest milestones reached so far in story order (Go-Explore returns to the
newest cells; the peer pokemonred_puffer migrates its envs to the newest state), so most
episodes start where the next obstacle is. The rest rediscover: envs start from a mixture of
early, mid and late savestates (a target mixture, renormalised over the tiers that have states).
Within the frontier and within a tier the choice is Go-Explore style: states chosen seldom, and
states whose episodes still find new cells or milestones, are favoured. When an env reaches a milestone no env had before, a fraction of envs migrate to the
new state at their next reset. Milestone posteriors steer it through `set_milestone_pressure`.
All state is plain JSON-able data, so checkpoints never unpickle.

Wiring (main process): `VecEnv(..., reset_state=cur.reset_state)`; after each reset
`watcher.start_episode(i, game, cur.spawned_from(i).milestones)`; after each step
`watcher.observe(i, game)` and, per trigger, `cur.add_state(entry_name(t.name), <env i's
save_state()>, watcher.state_meta(i, t, game, step))`; at each episode end `cur.update(...)`.
"""

from __future__ import annotations

import functools
import logging
import math
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

import numpy as np

from daddy.game import milestones as _milestones
from daddy.game.milestones import DEFAULT_MILESTONES, TIERS, Tier
from daddy.swarm.state_index import StateEntry, StateIndex, StateIndexError, StateMeta, is_weak
from daddy.swarm.trigger import (
    GYM_LEADER_EVENTS,
    MilestoneWatcher,
    is_map_milestone,
    parse_required_event,
)

log = logging.getLogger(__name__)

_STATE_VERSION = 1


@dataclass
class CurriculumConfig:
    """Curriculum, trigger and migration settings (the `curriculum:` block of a run config)."""

    curriculum_early: float = 0.45
    """Target share of spawns from early-game states (train_big's option of the same name)."""
    curriculum_mid: float = 0.35
    """Target share of spawns from mid-game states; shares are renormalised over the tiers
    that have states."""
    curriculum_late: float = 0.20
    """Target share of spawns from late-game states."""
    curriculum_frontier: float = 0.65
    """Share of spawns from the frontier: the states of the `frontier_ranks` furthest milestones
    reached, in story order; the rest follow the tier mixture. 0: the tier mixture alone."""
    frontier_ranks: int = 1
    """How many of the furthest milestones (distinct story ranks) make up the frontier; 1, the
    newest only, reached the cartridge's milestones sooner than 2 (bench/results/frontier)."""
    count_exponent: float = 0.5
    """Go-Explore count bonus: weight ∝ (1 + times chosen) ** -count_exponent."""
    novelty_init: float = 1.0
    """Optimistic novelty score of a state no episode has started from yet."""
    novelty_alpha: float = 0.2
    """EMA rate of a state's novelty score (per finished episode spawned from it)."""
    novelty_cells_scale: float = 50.0
    """New cells per episode that count as novelty 1.0."""
    novelty_milestone_bonus: float = 1.0
    """Novelty added per milestone an episode reached beyond its spawn state's."""
    novelty_cap: float = 10.0
    """Upper bound of one episode's novelty, so one lucky episode cannot dominate."""
    migration: bool = True
    """Move a fraction of envs to a state of a milestone no env had reached before."""
    migration_fraction: float = 0.25
    """Share of envs that respawn from such a new state at their next reset."""
    migrate_on_new_maps: bool = False
    """Also migrate for plain first-visit map states (`map_0x..`), not only story milestones."""
    max_bytes: int | None = 1 << 30
    """Disk cap of the run's savestate folder (None: no cap)."""
    late_maps: tuple[int, ...] = (0x41, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0A)
    """Maps always saved on first entry (Cerulean Gym, Vermilion … Saffron); their tier, like
    every trigger's, is that of the furthest story milestone true in the state (tier_by_story)."""
    required_events: tuple[str, ...] = ("oak_got_parcel=D74E.0", *GYM_LEADER_EVENTS)
    """Event flags ('name=D74E.0': byte address.bit) that trigger a state when first set."""
    watch_new_maps: bool = True
    """Save a state for every map the run enters for the first time."""
    summary_window: int = 1000
    """How many recent spawns `summary()` describes."""
    spawn: str = "all"
    """"all": spawn from every usable state (the swarm); "bootstrap": always from the bootstrap
    state (the no-swarm baseline; trigger states are still saved, never spawned from)."""

    def __post_init__(self) -> None:
        self.late_maps = tuple(int(m) for m in self.late_maps)
        self.required_events = tuple(self.required_events)
        if any(not math.isfinite(v) or v < 0 for v in self.mixture.values()) or not any(
            v > 0 for v in self.mixture.values()
        ):
            raise ValueError(f"curriculum mixture {self.mixture} needs non-negative shares, "
                             f"at least one positive")
        if not (math.isfinite(self.curriculum_frontier) and 0.0 <= self.curriculum_frontier <= 1.0):
            raise ValueError(f"curriculum_frontier must be in [0, 1], got "
                             f"{self.curriculum_frontier}")
        if self.frontier_ranks < 1:
            raise ValueError(f"frontier_ranks must be at least 1, got {self.frontier_ranks}")
        if not 0.0 <= self.migration_fraction <= 1.0:
            raise ValueError(f"migration_fraction must be in [0, 1], got "
                             f"{self.migration_fraction}")
        if self.max_bytes is not None and self.max_bytes <= 0:
            raise ValueError(f"max_bytes must be positive or null, got {self.max_bytes}")
        if not 0.0 < self.novelty_alpha <= 1.0:
            raise ValueError(f"novelty_alpha must be in (0, 1], got {self.novelty_alpha}")
        for name in ("count_exponent", "novelty_init", "novelty_milestone_bonus", "novelty_cap"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be non-negative, got {getattr(self, name)}")
        if self.spawn not in ("all", "bootstrap"):
            raise ValueError(f"curriculum spawn must be 'all' or 'bootstrap', got {self.spawn!r}")
        if self.novelty_cells_scale <= 0 or self.summary_window < 1:
            raise ValueError("novelty_cells_scale must be positive and summary_window >= 1")
        for spec in self.required_events:
            parse_required_event(spec)

    @property
    def mixture(self) -> dict[str, float]:
        """Target share of spawns per tier: {"early": curriculum_early, ...}."""
        return {t: float(getattr(self, f"curriculum_{t}")) for t in TIERS}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> CurriculumConfig:
        """Build from a run config's `curriculum:` mapping; unknown keys are an error."""
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"unknown curriculum settings {sorted(unknown)}; "
                             f"known: {', '.join(sorted(known))}")
        return cls(**dict(d))


@dataclass
class _Stats:
    chosen: int = 0  # times sampled (migrations included)
    episodes: int = 0  # finished episodes reported through `update`
    novelty: float = 0.0  # EMA of what those episodes found
    ret: float = 0.0  # EMA of their return, for reports only


class CurriculumManager:
    """The registry of spawn states of one run and the policy that picks among them."""

    def __init__(self, index: StateIndex, cfg: CurriculumConfig, num_envs: int,
                 seed: int = 0) -> None:
        if num_envs < 1:
            raise ValueError(f"num_envs must be at least 1, got {num_envs}")
        self.index = index
        self.index.max_bytes = cfg.max_bytes  # the config's disk cap governs `add_state`
        self.cfg = cfg
        self.num_envs = num_envs
        self.rng = np.random.default_rng(seed)
        self._usable: dict[str, StateEntry] = {}
        self._skipped: list[tuple[StateEntry, str]] = []
        self._stats: dict[str, _Stats] = {}
        self._pending: dict[int, str] = {}  # env id → state to migrate to at its next sample
        self._pressure: dict[str, float] = {}
        self._recent: deque[Tier] = deque(maxlen=cfg.summary_window)
        self._recent_frontier: deque[bool] = deque(maxlen=cfg.summary_window)
        self._bytes: dict[str, bytes] = {}  # sha256 → state bytes, for resets without disk I/O
        self._spawned: list[StateEntry | None] = [None] * num_envs  # by `reset_state`
        self._load_entries()
        if not self._usable:
            raise StateIndexError(self._no_states_message())

    # --- registry ----------------------------------------------------------------------------
    @property
    def registry(self) -> dict[str, StateEntry]:
        """Usable states by name (the seed's `{name: path}` registry, with metadata)."""
        return dict(self._usable)

    @property
    def skipped(self) -> list[tuple[StateEntry, str]]:
        return list(self._skipped)

    def refresh(self) -> list[StateEntry]:
        """Re-read the index (other processes' states appear); returns the newly usable ones.

        A corrupt index mid-run is logged and the known states are kept: training goes on.
        """
        try:
            self.index.reload()
        except StateIndexError as err:
            log.error("curriculum keeps its %d known states: %s", len(self._usable), err)
            return []
        before = set(self._usable)
        self._load_entries()
        return [e for name, e in self._usable.items() if name not in before]

    def _load_entries(self) -> None:
        usable, self._skipped = self.index.verified_entries()
        self._usable = {e.name: e for e in usable}
        in_index = {e.name for e in self.index.entries}
        self._stats = {k: v for k, v in self._stats.items() if k in in_index}
        for name in self._usable:
            self._stats.setdefault(name, _Stats(novelty=self.cfg.novelty_init))
        self._pending = {k: v for k, v in self._pending.items() if v in self._usable}
        shas = {e.sha256 for e in self._usable.values()}
        self._bytes = {k: v for k, v in self._bytes.items() if k in shas}

    def _no_states_message(self) -> str:
        why = "; ".join(f"{e.name}: {r}" for e, r in self._skipped[:3])
        return (f"no usable savestates in {self.index.folder} ({len(self._skipped)} skipped"
                f"{': ' + why if why else ''}); run the bootstrap stage first")

    # --- sampling ----------------------------------------------------------------------------
    def sample(self, env_id: int) -> StateEntry:
        """The state env `env_id` spawns from at this reset (call once per reset)."""
        self._check_env(env_id)
        if not self._usable:
            raise StateIndexError(self._no_states_message())
        name = self._pending.pop(env_id, None)
        if name is None or name not in self._usable:
            name = self._draw()
        entry = self._usable[name]
        self._recent_frontier.append(name in self.frontier())
        self._stats[name].chosen += 1
        self._recent.append(entry.tier)
        return entry

    def sample_with_bytes(self, env_id: int) -> tuple[StateEntry, bytes]:
        """`sample` plus the state's bytes; a state that fails to read is dropped, not fatal."""
        while True:
            entry = self.sample(env_id)
            try:
                return entry, self.state_bytes(entry)
            except StateIndexError as err:
                log.warning("dropping savestate %s: %s", entry.name, err)
                self._skipped.append((entry, str(err)))
                del self._usable[entry.name]

    def reset_state(self, env_id: int) -> bytes:
        """The VecEnv `reset_state` hook: sample env `env_id`'s spawn state, remember it, return
        its bytes. `spawned_from(env_id)` then names it (savestate_tag, `update`, watcher)."""
        entry, data = self.sample_with_bytes(env_id)
        self._spawned[env_id] = entry
        return data

    def spawned_from(self, env_id: int) -> StateEntry | None:
        """The state of env `env_id`'s latest `reset_state` (None before the first)."""
        self._check_env(env_id)
        return self._spawned[env_id]

    def state_bytes(self, entry: StateEntry) -> bytes:
        """The state's bytes, read and hash-checked once, then kept in memory."""
        data = self._bytes.get(entry.sha256)
        if data is None:
            data = self._bytes[entry.sha256] = self.index.read_state(entry)
        return data

    def probabilities(self) -> dict[str, float]:
        """The spawn distribution of an env with no pending migration (sums to 1)."""
        out: dict[str, float] = {}
        f = self._frontier_share()
        for tier, p_tier in self._tier_probs().items():
            names, w = self._weights([n for n, e in self._usable.items() if e.tier == tier])
            for name, wi in zip(names, w / w.sum()):
                out[name] = (1.0 - f) * p_tier * float(wi)
        if f > 0:
            names, w = self._weights(sorted(self.frontier()))
            for name, wi in zip(names, w / w.sum()):
                out[name] = out.get(name, 0.0) + f * float(wi)
        return out

    def frontier(self) -> set[str]:
        """Names of the usable states at the `frontier_ranks` furthest story ranks reached
        (`entry_rank`; empty when no state has a rank: then the tier mixture alone draws)."""
        ranks = {n: entry_rank(e) for n, e in self._usable.items()}
        top = sorted({r for r in ranks.values() if r >= 0}, reverse=True)[: self.cfg.frontier_ranks]
        return {n for n, r in ranks.items() if r in top}

    def _frontier_share(self) -> float:
        """`curriculum_frontier`, or 0 when there is no frontier or spawning is bootstrap-only."""
        if self.cfg.curriculum_frontier <= 0 or self.cfg.spawn == "bootstrap":
            return 0.0
        return self.cfg.curriculum_frontier if self.frontier() else 0.0

    def _draw(self) -> str:
        if self.cfg.spawn == "bootstrap":
            boot = [n for n, e in self._usable.items() if e.is_bootstrap]
            if boot:
                return boot[0]
        f = self._frontier_share()
        if f > 0 and self.rng.random() < f:  # no draw at all when f is 0: the old sequence
            names, w = self._weights(sorted(self.frontier()))
            return names[self.rng.choice(len(names), p=w / w.sum())]
        probs = self._tier_probs()
        tiers = list(probs)
        tier = tiers[self.rng.choice(len(tiers), p=np.array([probs[t] for t in tiers]))]
        names, w = self._tier_weights(tier)
        return names[self.rng.choice(len(names), p=w / w.sum())]

    def _tier_probs(self) -> dict[Tier, float]:
        present = [t for t in TIERS if any(e.tier == t for e in self._usable.values())]
        shares = {t: self.cfg.mixture.get(t, 0.0) for t in present}
        total = sum(shares.values())
        if total <= 0:  # only tiers the mixture leaves out have states: use them evenly
            return {t: 1.0 / len(present) for t in present}
        return {t: s / total for t, s in shares.items() if s > 0}

    def _tier_weights(self, tier: Tier) -> tuple[list[str], np.ndarray]:
        return self._weights([n for n, e in self._usable.items() if e.tier == tier])

    def _weights(self, names: list[str]) -> tuple[list[str], np.ndarray]:
        """Go-Explore weights of `names` (uniform when they are unusable)."""
        w = np.array([self._weight(n) for n in names], dtype=np.float64)
        if not np.isfinite(w).all() or w.sum() <= 0:
            w = np.ones(len(names))
        return names, w

    def _weight(self, name: str) -> float:
        st = self._stats[name]
        count = (1.0 + st.chosen) ** -self.cfg.count_exponent
        return count * (1.0 + st.novelty) * self._pressure_of(self._usable[name])

    def _pressure_of(self, entry: StateEntry) -> float:
        nxt = next_milestone(entry)
        return self._pressure.get(nxt, 1.0) if nxt is not None else 1.0

    # --- feedback ----------------------------------------------------------------------------
    def update(self, env_id: int, entry_name: str, *, new_cells: int, milestones_mask: int,
               episode_return: float = 0.0) -> None:
        """An episode spawned from `entry_name` ended: fold its novelty into the state's score.

        `new_cells`: cells the episode visited that the run had not; `milestones_mask`: the
        episode's DEFAULT_MILESTONES bits (those beyond the state's own count as found).
        `episode_return` only feeds `state_stats` (reports), not the weights.
        """
        self._check_env(env_id)
        if new_cells < 0:
            raise ValueError(f"new_cells must be non-negative, got {new_cells}")
        st = self._stats.get(entry_name)
        entry = self._usable.get(entry_name)
        if st is None or entry is None:
            return  # the state left the index since the spawn (evicted or replaced)
        gained = (int(milestones_mask) & ~entry.milestones).bit_count()
        x = (new_cells / self.cfg.novelty_cells_scale
             + self.cfg.novelty_milestone_bonus * gained)
        x = min(x, self.cfg.novelty_cap)
        a = self.cfg.novelty_alpha
        st.novelty = (1 - a) * st.novelty + a * x
        r = float(episode_return)
        st.ret = r if st.episodes == 0 else (1 - a) * st.ret + a * r
        st.episodes += 1

    def add_state(
        self, name: str, data: bytes, meta: StateMeta
    ) -> tuple[StateEntry | None, list[int]]:
        """Write a triggered state through the index, register it, maybe migrate envs to it.

        Returns (the new entry or None when the index kept an earlier one, env ids that
        migrate). Only a milestone the index did not have yet moves envs; a better copy of a
        known one (healthier, or fewer steps) just replaces it.
        """
        known = {e.milestone for e in self.index.entries} | {
            e.milestone for e in self._usable.values()}
        entry = self.index.add(name, data, meta)
        if entry is None:
            return None, []
        self._bytes[entry.sha256] = bytes(data)
        return entry, self.notify_new_state(entry, migrate=meta.milestone not in known)

    def notify_new_state(self, entry: StateEntry, *, migrate: bool = True) -> list[int]:
        """A state just added to the index: register it and pick the envs that migrate to it.

        Returns the env ids that will spawn from it at their next `sample` (round(fraction ×
        num_envs), at least one; none when migration is off, `migrate` is False, or the state
        is a plain first-visit map and `migrate_on_new_maps` is off).
        """
        self.refresh()
        if any(e.name == entry.name for e, _ in self._skipped):
            return []  # its file is already missing or corrupt (logged by the index)
        if entry.name not in self._usable:  # the index could not be re-read: trust the caller
            self._usable[entry.name] = entry
            self._stats.setdefault(entry.name, _Stats(novelty=self.cfg.novelty_init))
        if (not migrate or not self.cfg.migration or self.cfg.migration_fraction <= 0
                or self.cfg.spawn == "bootstrap"):
            return []
        if is_map_milestone(entry.milestone) and not self.cfg.migrate_on_new_maps:
            return []
        k = max(1, round(self.cfg.migration_fraction * self.num_envs))
        envs = sorted(int(i) for i in self.rng.choice(self.num_envs, size=k, replace=False))
        for env_id in envs:
            self._pending[env_id] = entry.name
        return envs

    def set_milestone_pressure(self, pressure: Mapping[str, float]) -> None:
        """Multiply the weight of states whose next milestone is named here (issue 5 hook).

        >1 spawns more often before a milestone the posteriors flag; <1 less before one reached
        reliably. Replaces the previous pressure; names must be DEFAULT_MILESTONES names.
        """
        known = {m.name for m in DEFAULT_MILESTONES}
        for name, value in pressure.items():
            if name not in known:
                raise KeyError(f"unknown milestone {name!r} in pressure; known: "
                               f"{', '.join(sorted(known))}")
            if not math.isfinite(value) or value < 0:
                raise ValueError(f"pressure of {name} must be finite and >= 0, got {value}")
        self._pressure = {k: float(v) for k, v in pressure.items()}

    # --- reporting ---------------------------------------------------------------------------
    def summary(self) -> str:
        """The recent spawn mix, e.g. 'early 45% | mid 35% | late 20%' (curriculum_summary)."""
        if not self._recent:
            return "no spawns yet"
        frac = self._recent_fractions()
        out = " | ".join(f"{t} {round(100 * frac[t])}%" for t in TIERS)
        if self.cfg.curriculum_frontier > 0:
            out += f" | frontier {round(100 * self._frontier_fraction())}%"
        return out

    def summary_dict(self) -> dict[str, float | int]:
        """Flat numbers for logs: recent spawn shares, states per tier, skipped, pending."""
        frac = self._recent_fractions()
        out: dict[str, float | int] = {f"spawn_{t}": frac[t] for t in TIERS}
        out["spawn_frontier"] = self._frontier_fraction()
        out["states_frontier"] = len(self.frontier())
        for t in TIERS:
            out[f"states_{t}"] = sum(e.tier == t for e in self._usable.values())
        out["states_skipped"] = len(self._skipped)
        out["spawns_recent"] = len(self._recent)
        out["migrations_pending"] = len(self._pending)
        return out

    def state_stats(self) -> dict[str, dict[str, float | int | str]]:
        """Per usable state: tier, times chosen, episodes, novelty, mean return, spawn share."""
        probs = self.probabilities()
        return {
            name: {"tier": e.tier, "chosen": self._stats[name].chosen,
                   "episodes": self._stats[name].episodes,
                   "novelty": round(self._stats[name].novelty, 4),
                   "return": round(self._stats[name].ret, 4), "p": round(probs.get(name, 0.0), 4)}
            for name, e in self._usable.items()
        }

    def _frontier_fraction(self) -> float:
        """Share of recent spawns drawn from a state that was at the frontier when drawn."""
        n = len(self._recent_frontier)
        return sum(self._recent_frontier) / n if n else 0.0

    def _recent_fractions(self) -> dict[str, float]:
        n = len(self._recent)
        return {t: (sum(r == t for r in self._recent) / n if n else 0.0) for t in TIERS}

    # --- checkpoint --------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """Counts, novelty, pending migrations, pressure, recent spawns and RNG: all JSON-able."""
        rng = self.rng.bit_generator.state
        return {
            "version": _STATE_VERSION,
            "stats": {n: [s.chosen, s.episodes, s.novelty, s.ret] for n, s in self._stats.items()},
            "pending": {str(k): v for k, v in self._pending.items()},
            "pressure": dict(self._pressure),
            "recent": list(self._recent),
            "recent_frontier": [int(b) for b in self._recent_frontier],
            "rng": {"bit_generator": rng["bit_generator"],
                    "state": str(rng["state"]["state"]), "inc": str(rng["state"]["inc"]),
                    "has_uint32": int(rng["has_uint32"]), "uinteger": int(rng["uinteger"])},
        }

    def load_state_dict(self, d: Mapping[str, Any]) -> None:
        """Restore from `state_dict`; pending migrations of envs beyond `num_envs` are dropped."""
        if d.get("version") != _STATE_VERSION:
            raise ValueError(f"curriculum state has version {d.get('version')!r}, expected "
                             f"{_STATE_VERSION}; the checkpoint is from another Daddy version")
        try:
            stats = {str(n): _Stats(int(c), int(e), float(v), float(r))
                     for n, (c, e, v, r) in d["stats"].items()}
            pending = {int(k): str(v) for k, v in d["pending"].items()}
            r = d["rng"]
            rng_state = {"bit_generator": r["bit_generator"],
                         "state": {"state": int(r["state"]), "inc": int(r["inc"])},
                         "has_uint32": int(r["has_uint32"]), "uinteger": int(r["uinteger"])}
            recent = [str(t) for t in d["recent"]]
            recent_frontier = [bool(b) for b in d.get("recent_frontier", [])]
            pressure = {str(k): float(v) for k, v in d["pressure"].items()}
        except (KeyError, TypeError, ValueError) as err:
            raise ValueError(f"curriculum state in the checkpoint is malformed ({err!r}); "
                             f"resume from an earlier checkpoint") from None
        self._stats = stats
        for name in self._usable:
            self._stats.setdefault(name, _Stats(novelty=self.cfg.novelty_init))
        self._pending = {k: v for k, v in pending.items()
                         if 0 <= k < self.num_envs and v in self._usable}
        self.rng.bit_generator.state = rng_state
        self._recent = deque((t for t in recent if t in TIERS), maxlen=self.cfg.summary_window)
        self._recent_frontier = deque(recent_frontier, maxlen=self.cfg.summary_window)
        self._pressure = pressure

    def _check_env(self, env_id: int) -> None:
        if not 0 <= env_id < self.num_envs:
            raise IndexError(f"env_id {env_id} out of range 0..{self.num_envs - 1}")


def story_rank(name: str) -> int:
    """Position of milestone `name` in story order (-1: not a milestone, e.g. 'map_0x2a').

    daddy.game.milestones.story_rank when that module has it; else DEFAULT_MILESTONES order.
    """
    ranker = getattr(_milestones, "story_rank", None)
    if ranker is not None:
        try:
            rank = ranker(name)
        except (KeyError, ValueError):
            return -1
        return -1 if rank is None else int(rank)
    return _LIST_RANK.get(name, -1)


_LIST_RANK = {m.name: i for i, m in enumerate(DEFAULT_MILESTONES)}


@functools.lru_cache(maxsize=4096)
def entry_rank(entry: StateEntry) -> float:
    """How far into the story a state's own trigger is: its milestone's story rank; a required
    event or unnamed badge ranks just past the furthest milestone its mask holds (it came
    after those); a first-visit map state at a story stage ranks with the furthest *story*
    milestone (event, badge, item) its mask holds, so the maps entered after the newest one
    are stepping stones at the frontier (the walk from Viridian Mart back to Oak with the
    parcel); the map milestones in its mask say only where its episode came from (walking home
    from Viridian City is not the frontier). The bootstrap state, or a map state before any
    story milestone, is -1: never frontier."""
    if entry.is_bootstrap:
        return -1
    if is_map_milestone(entry.milestone):
        story = [story_rank(m.name) for i, m in enumerate(DEFAULT_MILESTONES)
                 if entry.milestones >> i & 1 and m.kind != "map"]
        return max(story) if story and max(story) >= 0 else -1
    own = story_rank(entry.milestone)
    if own >= 0:
        return own
    held = [story_rank(m.name) for i, m in enumerate(DEFAULT_MILESTONES)
            if entry.milestones >> i & 1]
    return max(held) + 0.5 if held and max(held) >= 0 else -1


def next_milestone(entry: StateEntry) -> str | None:
    """The first DEFAULT_MILESTONES entry not yet reached in the state (None: all reached).

    Uses the state's recorded mask, plus its own milestone and every one before it in story
    order, so a state saved at `beat_brock` points at `badge_boulder` whatever its mask says.
    """
    mask = entry.milestones
    for i, m in enumerate(DEFAULT_MILESTONES):
        if m.name == entry.milestone:
            mask |= (1 << (i + 1)) - 1
    for i, m in enumerate(DEFAULT_MILESTONES):
        if not mask >> i & 1:
            return m.name
    return None


def make_watcher(
    cfg: CurriculumConfig, num_envs: int, index: StateIndex | None = None
) -> MilestoneWatcher:
    """The run's MilestoneWatcher from the curriculum config.

    Milestones that already have a state in `index` count as seen, so a resumed or parallel
    job does not save them again (the index would keep the earlier copy anyway), unless that
    copy is weak: then a healthy arrival saves a better one.
    """
    entries = index.entries if index is not None else []
    return MilestoneWatcher(num_envs, late_maps=cfg.late_maps,
                            required_events=cfg.required_events,
                            watch_new_maps=cfg.watch_new_maps,
                            seen={e.milestone for e in entries},
                            weak={e.milestone for e in entries if is_weak(e.hp, e.max_hp)})

