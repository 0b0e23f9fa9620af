"""Sequence replay for R2D2: per-env rings of steps, windows sliced out at sample time.

Every vector step appends one step per env to that env's ring (env-major arrays). A training
sequence is a window of T = seq_len + n_step consecutive steps of one env (burn-in, trace, and
the n extra steps the last trace step's n-step target looks ahead). Windows start only at
steps whose global index is a multiple of `period`, the only steps whose recurrent state (the
actor's state BEFORE that step) is kept. Overlapping windows share the ring's storage, so a
step is stored once however many windows contain it.

Bytes per stored step (feature_dim F = 24, period 20, float16 state; S = state_size):

    screen, 2 bits/pixel (72*80/4)    1440
    map_id uint8                         1
    features float16 (2F)               48
    action uint8                         1
    reward float32                       4
    flags uint8 (bit0 done, bit1 first)  1
    state float16 every period (2S/20)  51.2 slim (S=512), 102.4 large (S=1024)
    total                             1546.2 slim, 1597.4 large (target <= 1600)

Episode ends inside a window (the explicit choice): windows DO cross episode boundaries, nothing
is padded or dropped. `firsts[t]` marks that obs t starts an episode, and the learner passes it
as the network's reset mask, so no memory leaks across episodes. `dones[t]` (terminal after
action t) stops an n-step return from bootstrapping past it. A boundary without a done (a
truncated episode: the next obs is a `first` but the previous step was not terminal) shortens
the n-step return to end at the episode's last stored obs; see `learning.n_step_targets`.
Sampling is uniform over (env, stored start) pairs; no priorities.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields

import numpy as np
import torch

from daddy.agent.rng_state import make_rng, rng_from_array, rng_to_array
from daddy.game.spec import FEATURE_DIM, NUM_SHADES, SCREEN_SHAPE

PACKED_SCREEN = SCREEN_SHAPE[0] * SCREEN_SHAPE[1] // 4  # 1440 bytes: 4 shades, 2 bits a pixel
DONE, FIRST = 1, 2  # bits of the flags byte
_CONFIG_KEYS = (
    "num_envs", "capacity_per_env", "seq_len", "burn_in", "n_step", "period", "state_size",
    "feature_dim",
)  # fmt: skip


def pack_screens(screens: np.ndarray) -> np.ndarray:
    """uint8 (..., 72, 80) shades 0..3 → uint8 (..., 1440), four pixels a byte, lossless."""
    s = np.asarray(screens)
    if s.shape[-2:] != SCREEN_SHAPE:
        raise ValueError(f"screens must end in {SCREEN_SHAPE}, got {s.shape}")
    if s.size and s.max() > NUM_SHADES - 1:  # 4 shades: 2 bits a pixel
        raise ValueError(
            f"screen values must be shades 0..3 (2x-downsampled Game Boy), got {s.max()}"
        )
    q = s.astype(np.uint8).reshape(*s.shape[:-2], PACKED_SCREEN, 4)
    return q[..., 0] | (q[..., 1] << 2) | (q[..., 2] << 4) | (q[..., 3] << 6)


def unpack_screens(packed: np.ndarray) -> np.ndarray:
    """Inverse of `pack_screens`: uint8 (..., 1440) → uint8 (..., 72, 80)."""
    p = np.asarray(packed, dtype=np.uint8)
    if p.shape[-1] != PACKED_SCREEN:
        raise ValueError(f"packed screens must end in {PACKED_SCREEN}, got {p.shape}")
    q = np.stack([(p >> shift) & 3 for shift in (0, 2, 4, 6)], axis=-1)
    return q.reshape(*p.shape[:-1], *SCREEN_SHAPE)


@dataclass
class Batch:
    """Sampled windows, time-major (T, B, ...) with T = seq_len + n_step."""

    screens: torch.Tensor  # uint8 (T, B, 72, 80)
    map_id: torch.Tensor  # int64 (T, B)
    features: torch.Tensor  # float32 (T, B, F)
    actions: torch.Tensor  # int64 (T, B)
    rewards: torch.Tensor  # float32 (T, B)
    dones: torch.Tensor  # bool (T, B): terminal after action t, no bootstrap past it
    firsts: torch.Tensor  # bool (T, B): obs t starts an episode (the network's reset mask)
    states: torch.Tensor  # float32 (B, S): recurrent state before step 0 of each window
    env_ids: np.ndarray  # int64 (B,): which env each window came from
    starts: np.ndarray  # int64 (B,): global step index of each window's first step

    @property
    def obs(self) -> dict[str, torch.Tensor]:
        """The observation dict the network takes."""
        return {"screen": self.screens, "map_id": self.map_id, "features": self.features}

    def to(self, device: torch.device | str) -> Batch:
        """The same batch with every tensor on `device`."""
        moved = {
            f.name: (v.to(device, non_blocking=True) if isinstance(v, torch.Tensor) else v)
            for f in fields(self)
            for v in [getattr(self, f.name)]
        }
        return Batch(**moved)


class SequenceReplay:
    """Per-env ring buffers of steps; `sample` slices R2D2 windows at stored-state points."""

    def __init__(
        self, num_envs: int, capacity_steps: int, seq_len: int, burn_in: int, n_step: int,
        period: int, state_size: int, feature_dim: int = FEATURE_DIM, seed: int = 0,
        state_dtype: str = "float16",
    ) -> None:  # fmt: skip
        for name, v in (("num_envs", num_envs), ("seq_len", seq_len), ("n_step", n_step),
                        ("period", period), ("state_size", state_size),
                        ("feature_dim", feature_dim)):  # fmt: skip
            if v < 1:
                raise ValueError(f"{name} must be >= 1, got {v}")
        if not 0 <= burn_in < seq_len:
            raise ValueError(f"burn_in must be in [0, seq_len={seq_len}), got {burn_in}")
        if state_dtype not in ("float16", "float32"):
            raise ValueError(f"state_dtype must be float16 or float32, got {state_dtype!r}")
        self.num_envs, self.seq_len, self.burn_in, self.n_step = num_envs, seq_len, burn_in, n_step
        self.period, self.state_size, self.feature_dim = period, state_size, feature_dim
        self.window = seq_len + n_step
        cap = capacity_steps // num_envs // period * period
        if cap < self.window + period:
            raise ValueError(
                f"capacity {capacity_steps} steps gives {cap} per env (a multiple of period "
                f"{period}); need >= {self.window + period} per env (window + period): raise it"
            )
        self.capacity_per_env = cap
        E = num_envs
        self.screens = np.zeros((E, cap, PACKED_SCREEN), np.uint8)
        self.map_id = np.zeros((E, cap), np.uint8)
        self.features = np.zeros((E, cap, feature_dim), np.float16)
        self.actions = np.zeros((E, cap), np.uint8)
        self.rewards = np.zeros((E, cap), np.float32)
        self.flags = np.zeros((E, cap), np.uint8)
        self.states = np.zeros((E, cap // period, state_size), np.dtype(state_dtype))
        self.steps_added = 0  # vector steps appended so far (= global step index of the next one)
        self.rng = make_rng(seed)

    @staticmethod
    def bytes_per_step(
        state_size: int, feature_dim: int = FEATURE_DIM, period: int = 20, state_dtype: str = "float16"
    ) -> float:
        """Storage one env step costs, all arrays included (see the module docstring)."""
        per_step = PACKED_SCREEN + 1 + 2 * feature_dim + 1 + 4 + 1
        return per_step + state_size * np.dtype(state_dtype).itemsize / period

    @classmethod
    def from_memory_budget(
        cls, budget_bytes: int, num_envs: int, seq_len: int, burn_in: int, n_step: int,
        period: int, state_size: int, feature_dim: int = FEATURE_DIM, seed: int = 0,
        state_dtype: str = "float16",
    ) -> SequenceReplay:  # fmt: skip
        """The largest replay that fits `budget_bytes`."""
        bps = cls.bytes_per_step(state_size, feature_dim, period, state_dtype)
        return cls(num_envs, int(budget_bytes // bps), seq_len, burn_in, n_step, period,
                   state_size, feature_dim, seed, state_dtype)  # fmt: skip

    @property
    def nbytes(self) -> int:
        """Bytes actually held by the storage arrays."""
        return sum(a.nbytes for a in self._arrays().values())

    @property
    def capacity(self) -> int:
        """Steps the replay holds when full, all envs together."""
        return self.num_envs * self.capacity_per_env

    @property
    def size(self) -> int:
        """Steps currently held, all envs together."""
        return self.num_envs * min(self.steps_added, self.capacity_per_env)

    @property
    def needs_state(self) -> bool:
        """Whether the next `add` stores the recurrent state (its step starts a period)."""
        return self.steps_added % self.period == 0

    def _arrays(self) -> dict[str, np.ndarray]:
        """The storage arrays by name: what `state_dict`, `nbytes` and loading walk over."""
        return {
            "screens": self.screens, "map_id": self.map_id, "features": self.features,
            "actions": self.actions, "rewards": self.rewards, "flags": self.flags,
            "states": self.states,
        }  # fmt: skip

    def add(
        self, obs: Mapping[str, np.ndarray], actions: np.ndarray, rewards: np.ndarray,
        dones: np.ndarray, firsts: np.ndarray, states: np.ndarray | None,
    ) -> None:  # fmt: skip
        """Append one vector step: obs_t, a_t, r_t, done_t, first_t and the state before step t.

        `states` may be None when `needs_state` is False (saves a device→host copy).
        """
        E = self.num_envs
        for name, arr in (("actions", actions), ("rewards", rewards), ("dones", dones),
                          ("firsts", firsts)):  # fmt: skip
            if np.shape(arr) != (E,):
                raise ValueError(f"{name} must have shape ({E},), got {np.shape(arr)}")
        if np.shape(obs["features"]) != (E, self.feature_dim):
            raise ValueError(
                f"features must be ({E}, {self.feature_dim}), got {np.shape(obs['features'])}"
            )
        pos = self.steps_added % self.capacity_per_env
        if self.needs_state:
            if states is None or np.shape(states) != (E, self.state_size):
                got = None if states is None else np.shape(states)
                raise ValueError(f"step {self.steps_added} starts a period: states must be "
                                 f"({E}, {self.state_size}), got {got}")  # fmt: skip
            self.states[:, pos // self.period] = np.asarray(states)
        self.screens[:, pos] = pack_screens(obs["screen"])
        self.map_id[:, pos] = np.asarray(obs["map_id"])
        self.features[:, pos] = np.asarray(obs["features"])
        self.actions[:, pos] = np.asarray(actions)
        self.rewards[:, pos] = np.asarray(rewards, dtype=np.float32)
        done, first = np.asarray(dones, bool), np.asarray(firsts, bool)
        self.flags[:, pos] = done * DONE | first * FIRST
        self.steps_added += 1

    def _start_range(self) -> tuple[int, int]:
        """First and last valid window start (global indices, multiples of period)."""
        oldest = max(0, self.steps_added - self.capacity_per_env)
        first = -(-oldest // self.period) * self.period
        last = (self.steps_added - self.window) // self.period * self.period
        return first, last

    @property
    def num_sequences(self) -> int:
        """Distinct windows available per env right now."""
        first, last = self._start_range()
        return max(0, (last - first) // self.period + 1)

    def sample(self, batch_size: int) -> Batch:
        """`batch_size` windows, uniform over (env, start), with replacement."""
        n = self.num_sequences
        if n == 0:
            raise ValueError(
                f"replay holds {self.steps_added} steps per env; a window needs {self.window} "
                f"from a multiple of period {self.period}: add more steps before sampling"
            )
        env = self.rng.integers(self.num_envs, size=batch_size)
        start = self._start_range()[0] + self.rng.integers(n, size=batch_size) * self.period
        idx = (start[:, None] + np.arange(self.window)) % self.capacity_per_env  # (B, T)
        e = env[:, None]

        def tm(a: np.ndarray) -> torch.Tensor:
            """(B, T, ...) → time-major (T, B, ...): the network unrolls over dim 0."""
            return torch.from_numpy(np.ascontiguousarray(np.swapaxes(a, 0, 1)))

        flags = self.flags[e, idx]
        slot = (start % self.capacity_per_env) // self.period
        return Batch(
            screens=tm(unpack_screens(self.screens[e, idx])),
            map_id=tm(self.map_id[e, idx].astype(np.int64)),
            features=tm(self.features[e, idx].astype(np.float32)),
            actions=tm(self.actions[e, idx].astype(np.int64)),
            rewards=tm(self.rewards[e, idx]),
            dones=tm((flags & DONE) > 0),
            firsts=tm((flags & FIRST) > 0),
            states=torch.from_numpy(self.states[env, slot].astype(np.float32)),
            env_ids=env.astype(np.int64),
            starts=start.astype(np.int64),
        )

    @property
    def stored_steps(self) -> int:
        """Ring slots per env that hold data: `steps_added` until the ring wraps, then all."""
        return min(self.steps_added, self.capacity_per_env)

    def _stored_shapes(self, steps: int) -> dict[str, tuple[int, ...]]:
        """Shape of each storage array cut to its first `steps` ring slots per env."""
        slots = {k: -(-steps // self.period) if k == "states" else steps for k in self._arrays()}
        return {k: (a.shape[0], slots[k], *a.shape[2:]) for k, a in self._arrays().items()}

    def state_dict(self) -> dict[str, np.ndarray | int]:
        """Everything needed to resume sampling exactly: plain arrays and ints only.

        Only the filled part of the rings is in it (`stored_steps` slots per env, the states of
        the periods they touch): a checkpoint of a nearly empty replay is small. Until the ring
        wraps, slot t holds global step t, so the first slots ARE the data; once it has
        wrapped every slot is filled and the arrays go whole, in ring order (the write position
        is `steps_added % capacity_per_env`). The arrays are views of the live storage, not
        copies: save them before the next `add`.
        """
        d: dict[str, np.ndarray | int] = {k: getattr(self, k) for k in _CONFIG_KEYS}
        n = self.stored_steps
        for k, shape in self._stored_shapes(n).items():
            d[k] = getattr(self, k)[:, : shape[1]]
        d["stored_steps"] = n
        d["steps_added"] = self.steps_added
        d["rng"] = rng_to_array(self.rng)
        return d

    def load_state_dict(self, d: Mapping[str, np.ndarray | int], *, copy: bool = True) -> None:
        """Restore from `state_dict`; the replay must have been built with the same settings.

        Reads both layouts: the filled part only (with `stored_steps`) and the whole
        pre-allocated arrays that checkpoints held before (no `stored_steps`; told apart by
        shape). Everything is checked before anything changes, so a refused checkpoint leaves
        this replay as it was. `copy=False` adopts `d`'s arrays where their dtype, layout and
        shape allow (a freshly loaded checkpoint of a full replay): a resume then needs half
        the memory and no second copy of gigabytes. A partly filled one is copied into fresh
        zeroed storage (pages the OS hands out only when written). Do not pass another live
        replay's `state_dict` with copy=False.
        """
        for k in _CONFIG_KEYS:
            if int(d[k]) != getattr(self, k):
                raise ValueError(f"replay checkpoint has {k}={int(d[k])} but this replay has "
                                 f"{getattr(self, k)}: build it with the checkpoint's settings")  # fmt: skip
        steps_added = int(d["steps_added"])
        if steps_added < 0:
            raise ValueError(f"replay checkpoint has steps_added={steps_added}, expected >= 0")
        stored = min(steps_added, self.capacity_per_env)
        if "stored_steps" in d and int(d["stored_steps"]) != stored:
            raise ValueError(
                f"replay checkpoint stores {int(d['stored_steps'])} steps per env but its "
                f"steps_added={steps_added} means {stored}: the checkpoint is inconsistent"
            )
        full = {k: a.shape for k, a in self._arrays().items()}
        sources = {k: np.asarray(d[k]) for k in self._arrays()}
        # Filled part only, or (an old checkpoint, or a wrapped ring: the same) whole arrays.
        if "stored_steps" in d and stored < self.capacity_per_env:
            expected = self._stored_shapes(stored)
        else:
            expected = full
        for k, arr in self._arrays().items():
            if sources[k].shape != expected[k]:
                raise ValueError(
                    f"replay checkpoint array {k} has shape {sources[k].shape}, expected "
                    f"{expected[k]}: build the replay with the checkpoint's settings"
                )
            if not np.can_cast(sources[k].dtype, arr.dtype, casting="same_kind"):
                raise ValueError(
                    f"replay checkpoint array {k} has dtype {sources[k].dtype}, expected {arr.dtype}"
                )
        for k, arr in self._arrays().items():
            src = sources[k]
            if src.shape != arr.shape:  # the filled part: the rest of the ring stays zero
                fresh = np.zeros(arr.shape, arr.dtype)  # calloc: untouched pages cost nothing
                np.copyto(fresh[:, : src.shape[1]], src, casting="same_kind")
                setattr(self, k, fresh)
                continue
            adopt = src.dtype == arr.dtype and src.flags.c_contiguous and src.flags.writeable
            if not copy and adopt:
                setattr(self, k, src)
            else:
                np.copyto(arr, src, casting="same_kind")
        self.steps_added = steps_added
        self.rng = rng_from_array(np.asarray(d["rng"]))
