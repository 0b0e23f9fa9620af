"""Daddy's swarm as a stable-baselines3 VecEnv: any SB3 / sb3-contrib algorithm on the swarm.

    from sb3_contrib import RecurrentPPO
    from daddy.run.builder import open_swarm
    from daddy.run.config import make_train_config
    from daddy.swarm.sb3 import SwarmVecEnv

    cfg = make_train_config({"run_name": "ppo_swarm", "num_envs": 8, "max_episode_steps": 512})
    env = SwarmVecEnv(open_swarm(cfg, rnd_train_every=32))
    RecurrentPPO("MultiInputLstmPolicy", env).learn(500_000)

Rewards are the swarm's r_total (game reward + RND + episodic novelty + Bayesian shaping, with
the betas of the run's `intrinsic` settings), resets come from the curriculum, trigger
savestates land in `savestates/<run>/` as in a Daddy run. Observations are re-encoded the way
SB3's policies want them (`sb3_space`): the screen as a 1-channel 0..255 image (so SB3 gives it
NatureCNN instead of an MLP over 5,760 raw pixels), map_id as a Discrete (one-hot), features as
they are. SB3 is an optional dependency (`pip install -e '.[bench]'`): this module imports it.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from stable_baselines3.common.vec_env import VecEnv

from daddy.game.spec import NUM_MAPS, NUM_SHADES
from daddy.swarm.swarm import Swarm

SHADE_SCALE = 255 // (NUM_SHADES - 1)  # shades 0..3 -> 0, 85, 170, 255


def sb3_space(space: spaces.Dict) -> spaces.Dict:
    """The env's observation space in SB3's encoding (see the module doc)."""
    return spaces.Dict({
        "screen": spaces.Box(0, 255, (1, *space["screen"].shape), np.uint8),
        "map_id": spaces.Discrete(NUM_MAPS),
        "features": space["features"],
    })  # fmt: skip


def sb3_obs(obs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """A batch (N, ...) of env observations in SB3's encoding; always a copy."""
    return {
        "screen": (np.asarray(obs["screen"]) * SHADE_SCALE).astype(np.uint8)[:, None],
        "map_id": np.asarray(obs["map_id"]).astype(np.int64),
        "features": np.array(obs["features"], dtype=np.float32),
    }


def sb3_single_obs(obs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """One env's observation in SB3's encoding."""
    return {k: v[0] for k, v in sb3_obs({k: np.asarray(v)[None] for k, v in obs.items()}).items()}


class SB3Observation(gym.ObservationWrapper):
    """One `PokemonEnv` in SB3's encoding: the swarm-free baselines (bench/learning.py's `ppo`)
    see exactly what `SwarmVecEnv` shows."""

    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        self.observation_space = sb3_space(env.observation_space)

    def observation(self, observation: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        return sb3_single_obs(observation)


class SwarmVecEnv(VecEnv):
    """`Swarm` behind SB3's VecEnv API (autoreset, `terminal_observation`, Monitor's `episode`).

    `infos[i]` carries the step's `game` (GameState), `TimeLimit.truncated`, and at an episode's
    end `terminal_observation` and `episode` = {"r": r_total summed, "l": length, "t": seconds
    since the env was made} (what SB3's Monitor writes, so `ep_info_buffer` fills) plus
    `episode_end` (the swarm's `EpisodeEnd`: spawn state, milestones, reward parts).
    """

    def __init__(self, swarm: Swarm) -> None:
        self.swarm = swarm
        self.t0 = time.monotonic()
        self._actions: np.ndarray | None = None
        super().__init__(swarm.num_envs, sb3_space(swarm.observation_space), swarm.action_space)

    def reset(self) -> dict[str, np.ndarray]:
        obs, infos = self.swarm.reset()
        self.reset_infos = [{"game": info["game"]} for info in infos]
        self._reset_seeds()
        self._reset_options()
        return sb3_obs(obs)

    def step_async(self, actions: np.ndarray) -> None:
        self.swarm.step_async(np.asarray(actions).reshape(self.num_envs))

    def step_wait(self) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray, list[dict]]:
        turn = self.swarm.step_wait()
        dones = turn.terminated | turn.truncated
        infos: list[dict[str, Any]] = []
        for i, info in enumerate(turn.infos):
            game = info["final_info"]["game"] if dones[i] else info["game"]
            infos.append({"game": game,
                          "TimeLimit.truncated": bool(turn.truncated[i] and not turn.terminated[i])})  # fmt: skip
        for end in turn.ended:
            out, info = infos[end.env_id], turn.infos[end.env_id]
            out["episode"] = {"r": end.return_total, "l": end.length,
                              "t": round(time.monotonic() - self.t0, 6)}  # fmt: skip
            out["episode_end"] = end
            final = info.get("final_obs")
            if final is not None:  # absent when a worker died and restarted
                out["terminal_observation"] = sb3_single_obs(final)
        return sb3_obs(turn.obs), turn.rewards.r_total.copy(), dones, infos

    def close(self) -> None:
        self.swarm.close()

    # --- per-env attributes: the swarm has one set of them, not N wrapped gym envs ----------
    def get_attr(self, attr_name: str, indices: Any = None) -> list[Any]:
        if attr_name == "render_mode":
            return [None] * len(self._indices(indices))
        raise AttributeError(f"SwarmVecEnv envs have no attribute {attr_name!r}")

    def set_attr(self, attr_name: str, value: Any, indices: Any = None) -> None:
        raise AttributeError(f"SwarmVecEnv cannot set {attr_name!r} on its emulators")

    def env_method(self, method_name: str, *args: Any, indices: Any = None,
                   **kwargs: Any) -> list[Any]:  # fmt: skip
        raise AttributeError(f"SwarmVecEnv cannot call {method_name!r} on its emulators")

    def env_is_wrapped(self, wrapper_class: type, indices: Any = None) -> list[bool]:
        return [False] * len(self._indices(indices))

    def _indices(self, indices: Any) -> Sequence[int]:
        if indices is None:
            return range(self.num_envs)
        return [indices] if isinstance(indices, int) else list(indices)
