"""Pokémon Red (or the practice cartridge) on PyBoy as a gymnasium environment.

`PokemonEnv` is the emulator: buttons in, a 72x80 screen of Game Boy shades plus game features
out, the `GameState` in `info`. `EpsilonEnv` wraps it with the extrinsic reward `r_env` and the
milestone facts the curriculum and the Bayesian shaping need. `make_env` builds both.

Speed matters more than anything here (the agent is emulator-bound), so a step does only what
it must: press, tick with rendering off until the last frame, one strided view of the screen,
and single-byte RAM reads (see `ram.read_game_state`). PyBoy renders with a palette whose
colours are 0,1,2,3, so the red channel *is* the shade: no per-step colour lookup.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from daddy.game import ram
from daddy.game.milestones import DEFAULT_MILESTONES, Milestone, reached_mask, watch_key
from daddy.game.rom import Rom, resolve_rom
from daddy.game.spec import (
    ACTIONS,
    FEATURE_DIM,
    NUM_ACTIONS,
    NUM_MAPS,
    NUM_SHADES,
    SCREEN_SHAPE,
)

FULL_READ_EVERY = 16  # steps between full reads of the event flags (see read_game_state)
# A step that ends inside a warp runs on, SETTLE_FRAMES at a time, until the warp has settled
# (the game ignores the joypad meanwhile); at most MAX_SETTLE_FRAMES more frames.
SETTLE_FRAMES = 4
MAX_SETTLE_FRAMES = 120
# Shade i is rendered as RGB (i, i, i): the red channel is the shade index.
_SHADE_PALETTE = (0x000000, 0x010101, 0x020202, 0x030303)
# For people (videos, screenshots): the classic grey ramp.
VIEW_COLOURS = np.array([[255, 255, 255], [170, 170, 170], [85, 85, 85], [0, 0, 0]], np.uint8)


class StateError(ValueError):
    """A savestate that cannot be loaded; the message names the file and the fix."""


def game_features(s: ram.GameState) -> np.ndarray:
    """`FEATURE_DIM` floats beside the screen: where, how strong, how far in the story."""
    badges = [(s.badges >> i) & 1 for i in range(8)]
    return np.array(
        [
            s.map_id / 255.0,
            s.x / 64.0,
            s.y / 64.0,
            *badges,
            s.badge_count / 8.0,
            *(lv / 100.0 for lv in s.levels),
            s.hp_fraction,
            min(s.event_count / 256.0, 4.0),
            float(s.in_battle != 0),
            float(s.text_box),
            s.party_count / 6.0,
            min(s.money / 100000.0, 10.0),
        ],
        dtype=np.float32,
    )


class PokemonEnv(gym.Env):
    """One emulator. Actions: 0 down, 1 left, 2 right, 3 up, 4 a, 5 b, 6 start (no SELECT)."""

    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["rgb_array"]}

    def __init__(
        self,
        rom: str | os.PathLike[str] | Rom | None = "practice",
        *,
        action_freq: int = 24,
        press_frames: int = 8,
        max_episode_steps: int = 2048,
        initial_state: bytes | str | os.PathLike[str] | None = None,
        allow_unknown_rom: bool = False,
        render_mode: str | None = None,
    ) -> None:
        if not 1 <= press_frames < action_freq:
            raise ValueError(
                f"press_frames must be in 1..action_freq-1, got {press_frames} (action_freq "
                f"{action_freq}): the button must be released before the step's last frame"
            )
        if max_episode_steps < 1:
            raise ValueError(f"max_episode_steps must be at least 1, got {max_episode_steps}")
        from pyboy import PyBoy  # imported here so `--help` and config checks stay fast

        self.rom = rom if isinstance(rom, Rom) else resolve_rom(rom, allow_unknown=allow_unknown_rom)
        self.action_freq = action_freq
        self.press_frames = press_frames
        self.max_episode_steps = max_episode_steps
        self.render_mode = render_mode
        self.pyboy = PyBoy(
            str(self.rom.path),
            window="null",
            sound_emulated=False,
            cgb=False,
            color_palette=_SHADE_PALETTE,
            log_level="ERROR",
        )
        self.pyboy.set_emulation_speed(0)
        self._screen = self.pyboy.screen.ndarray  # a live view, refreshed by each render
        self._power_on = self.save_state()
        self._initial = self._as_bytes(initial_state) if initial_state is not None else None
        self.observation_space = spaces.Dict(
            {
                "screen": spaces.Box(0, NUM_SHADES - 1, SCREEN_SHAPE, np.uint8),
                "map_id": spaces.Box(0, NUM_MAPS - 1, (), np.uint8),
                "features": spaces.Box(-np.inf, np.inf, (FEATURE_DIM,), np.float32),
            }
        )
        self.action_space = spaces.Discrete(NUM_ACTIONS)
        self.steps = 0
        self.state = ram.read_game_state(self.pyboy.memory)

    # ---- gymnasium API

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """Start an episode from `options["state"]` (bytes or .state path), the env's initial
        state, or power-on. `seed` is accepted for the API; the game is deterministic."""
        super().reset(seed=seed)
        state = (options or {}).get("state")
        if state is not None:
            self.load_state(self._as_bytes(state))
        else:
            self.load_state(self._initial if self._initial is not None else self._power_on)
        self.pyboy.tick(1, True)
        self._settle_warp()
        self.steps = 0
        self.state = ram.read_game_state(self.pyboy.memory)
        return self._obs(), {"game": self.state}

    def step(self, action: int) -> tuple[dict[str, np.ndarray], float, bool, bool, dict[str, Any]]:
        try:
            button = ACTIONS[action]
        except (IndexError, TypeError):
            raise ValueError(
                f"action {action!r} is not one of 0..{len(ACTIONS) - 1} ({', '.join(ACTIONS)})"
            ) from None
        if isinstance(action, bool) or int(action) != action or action < 0:
            raise ValueError(f"action {action!r} is not one of 0..{len(ACTIONS) - 1}")
        pb = self.pyboy
        pb.button_press(button)
        pb.tick(self.press_frames, False)
        pb.button_release(button)
        pb.tick(self.action_freq - self.press_frames, True)
        self._settle_warp()
        self.steps += 1
        # Event flags are re-read in full every FULL_READ_EVERY steps, whatever happened.
        prev = self.state if self.steps % FULL_READ_EVERY else None
        self.state = ram.read_game_state(pb.memory, prev)
        truncated = self.steps >= self.max_episode_steps
        return self._obs(), 0.0, False, truncated, {"game": self.state}

    def render(self) -> np.ndarray:
        return self.screen_rgb()

    def close(self) -> None:
        if getattr(self, "pyboy", None) is not None:
            self.pyboy.stop(save=False)
            self.pyboy = None

    # ---- emulator state

    def save_state(self) -> bytes:
        buf = io.BytesIO()
        self.pyboy.save_state(buf)
        return buf.getvalue()

    def load_state(self, data: bytes) -> None:
        """Load a savestate; a truncated or foreign one gives a StateError, not a crash."""
        try:
            self.pyboy.load_state(io.BytesIO(data))
        except Exception as e:  # noqa: BLE001 (PyBoy raises assorted errors on bad state bytes)
            raise StateError(
                f"cannot load savestate ({len(data)} bytes): {e or type(e).__name__}; it is "
                "truncated, from another ROM, or from another PyBoy version: bootstrap it again"
            ) from None
        self.state = ram.read_game_state(self.pyboy.memory)

    def screen_rgb(self) -> np.ndarray:
        """The full 144x160 frame as RGB for people (videos)."""
        return VIEW_COLOURS[self._screen[:, :, 0] & 3]

    # ---- helpers

    def _settle_warp(self) -> None:
        """Tick on while a warp is under way: between the new wCurMap and the new position
        the RAM names a cell that does not exist (docs/REAL_GAME.md "Warps and fades"), and no
        consumer of `GameState.cell` (rewards, novelty, visit counts, trigger savestates) should
        ever see it. Two single-byte reads a step when no warp is under way."""
        pb, mem = self.pyboy, self.pyboy.memory
        extra = 0
        while extra < MAX_SETTLE_FRAMES and not ram.warp_settled(mem):
            pb.tick(SETTLE_FRAMES, True)
            extra += SETTLE_FRAMES

    def _obs(self) -> dict[str, np.ndarray]:
        return {
            "screen": self._screen[::2, ::2, 0].copy(),
            "map_id": np.array(self.state.map_id, dtype=np.uint8),
            "features": game_features(self.state),
        }

    @staticmethod
    def _as_bytes(state: bytes | str | os.PathLike[str]) -> bytes:
        if isinstance(state, (bytes, bytearray, memoryview)):
            return bytes(state)
        path = Path(state)
        try:
            return path.read_bytes()
        except OSError as e:
            raise StateError(f"cannot read savestate {path}: {e.strerror}") from None


@dataclass(frozen=True)
class RewardConfig:
    """Weights of the extrinsic reward r_env (one place, so runs can be compared)."""

    explore: float = 0.02  # each new (map, x, y) cell this episode, counted while in control
    new_map: float = 0.5  # each map entered for the first time this episode
    badge: float = 10.0  # each new badge
    event: float = 1.0  # each new event flag (items, trainers, gym leaders, story)
    level: float = 0.5  # each party level gained
    heal: float = 0.5  # HP fraction restored outside battle
    blackout: float = -1.0  # HP dropped to zero (sent back to the last healing spot)


class EpsilonEnv(gym.Wrapper):
    """Adds r_env and the milestone facts (`info["milestones"]`, `info["cells_visited"]`).

    Progress is measured against the episode's best so far, so a reward is paid once per
    achievement per episode and starting from a late savestate pays nothing for the past."""

    def __init__(
        self,
        env: PokemonEnv,
        reward: RewardConfig | None = None,
        milestones: tuple[Milestone, ...] = DEFAULT_MILESTONES,
    ) -> None:
        super().__init__(env)
        self.reward_cfg = reward or RewardConfig()
        self.milestones = milestones
        self._start(env.state)

    def reset(self, **kwargs: Any) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        obs, info = self.env.reset(**kwargs)
        self._start(info["game"])
        info.update(r_env=0.0, milestones=self.reached, cells_visited=len(self.cells))
        return obs, info

    def step(self, action: int) -> tuple[dict[str, np.ndarray], float, bool, bool, dict[str, Any]]:
        obs, _, terminated, truncated, info = self.env.step(action)
        r = self._reward(info["game"])
        info.update(r_env=r, milestones=self.reached, cells_visited=len(self.cells))
        return obs, r, terminated, truncated, info

    def _start(self, s: ram.GameState) -> None:
        self.cells = {s.cell} if s.in_control else set()
        self.maps = {s.map_id}
        self.best_badges = s.badge_count
        self.best_events = s.event_count
        self.best_levels = s.level_sum
        self.last_hp = s.hp_fraction
        self.start_mask = reached_mask(s, self.milestones)
        self.reached = 0  # milestones newly reached this episode
        self._mask_key: tuple[int, int, bytes, bytes] | None = None

    def _reward(self, s: ram.GameState) -> float:
        w = self.reward_cfg
        r = 0.0
        if s.in_control and s.cell not in self.cells:  # one rule: settled, player acting
            self.cells.add(s.cell)
            r += w.explore
            if s.map_id not in self.maps:
                self.maps.add(s.map_id)
                r += w.new_map
        if s.badge_count > self.best_badges:
            r += w.badge * (s.badge_count - self.best_badges)
            self.best_badges = s.badge_count
        if s.event_count > self.best_events:
            r += w.event * (s.event_count - self.best_events)
            self.best_events = s.event_count
        gained = s.level_sum - self.best_levels
        if gained > 0:
            r += w.level * gained
            self.best_levels = s.level_sum
        hp = s.hp_fraction
        if s.max_hp and not s.in_battle and hp > self.last_hp and gained <= 0:
            r += w.heal * (hp - self.last_hp)
        if s.max_hp and s.hp == 0 and self.last_hp > 0:
            r += w.blackout
        self.last_hp = hp
        key = watch_key(s)  # map, badges, event flags, bag: all that milestones read
        if key != self._mask_key:
            self._mask_key = key
            self.reached |= reached_mask(s, self.milestones) & ~self.start_mask
        return r


def make_env(
    rom: str | os.PathLike[str] | Rom | None = "practice",
    *,
    state: bytes | str | os.PathLike[str] | None = None,
    max_episode_steps: int = 2048,
    reward: RewardConfig | None = None,
    action_freq: int = 24,
    allow_unknown_rom: bool = False,
) -> EpsilonEnv:
    """The env the trainer uses: `EpsilonEnv(PokemonEnv(...))`, reset to `state` by default."""
    base = PokemonEnv(
        rom,
        action_freq=action_freq,
        max_episode_steps=max_episode_steps,
        initial_state=state,
        allow_unknown_rom=allow_unknown_rom,
    )
    return EpsilonEnv(base, reward)
