"""The swarm as a vector env (daddy.swarm.swarm) and behind SB3's VecEnv API (daddy.swarm.sb3),
on real emulators running the practice cartridge."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from daddy.game import ram
from daddy.game.env import ACTIONS
from daddy.run.builder import open_swarm
from daddy.run.config import make_train_config
from daddy.run.paths import RunPaths
from daddy.swarm.state_index import StateIndex

pytest.importorskip("stable_baselines3")
pytest.importorskip("sb3_contrib")


def swarm_for(tmp_path: Path, run: str = "sw", **train) -> object:
    cfg = make_train_config({"run_name": run, "rom": "practice", "seed": 0, "num_envs": 2,
                             "max_episode_steps": 30, **train})  # fmt: skip
    return open_swarm(cfg, RunPaths(run, tmp_path / "runs", tmp_path / "states"))


class EventMemory:
    """Just enough of the emulator's memory for the test player's planner: the event flags
    (gates, picked-up items) come from the GameState the swarm reports."""

    def __init__(self, game: ram.GameState) -> None:
        self.game = game

    def __getitem__(self, addr: int) -> int:
        return self.game.events[addr - ram.W_EVENT_FLAGS]


def test_sb3_accepts_the_single_env_encoding(practice_rom, boot_state) -> None:
    from stable_baselines3.common.env_checker import check_env

    from daddy.game.env import make_env
    from daddy.swarm.sb3 import SB3Observation

    env = SB3Observation(make_env(practice_rom, state=boot_state, max_episode_steps=50))
    try:
        check_env(env, warn=True)
    finally:
        env.close()


def test_swarm_vec_env_keeps_sb3s_vec_env_contract(tmp_path: Path) -> None:
    """Observations inside the space, finite float32 rewards, autoreset with SB3's
    terminal_observation and Monitor-style episode info every max_episode_steps."""
    from stable_baselines3.common.vec_env import VecCheckNan

    from daddy.swarm.sb3 import SwarmVecEnv

    env = VecCheckNan(SwarmVecEnv(swarm_for(tmp_path)), raise_exception=True)
    space = env.observation_space
    rng = np.random.default_rng(0)
    ends = []
    try:
        obs = env.reset()
        assert {k: v.shape[0] for k, v in obs.items()} == dict.fromkeys(space.spaces, 2)
        for k in range(65):
            obs, rewards, dones, infos = env.step(rng.integers(0, len(ACTIONS), 2))
            assert rewards.dtype == np.float32 and rewards.shape == (2,)
            for i in range(2):
                assert space.contains({key: v[i] for key, v in obs.items()}), (k, i)
                assert isinstance(infos[i]["game"], ram.GameState)
            assert list(dones) == [k % 30 == 29] * 2  # every env ends at max_episode_steps
            for i in np.flatnonzero(dones):
                info = infos[i]
                assert info["TimeLimit.truncated"] is True
                assert space.contains(info["terminal_observation"])
                assert info["episode"]["l"] == 30
                assert info["episode"]["r"] == pytest.approx(info["episode_end"].return_total)
                ends.append(info["episode_end"])
    finally:
        env.close()
    assert len(ends) == 4 and {e.spawn.name for e in ends} == {"pallet_town_start"}


def test_swarm_saves_trigger_states_and_spawns_from_them(tmp_path: Path) -> None:
    """Two envs walk from the bedroom to Oak's Lab; the swarm saves a state at each first
    entry, and later episodes spawn from the states the curriculum draws (not all from the
    bootstrap state)."""
    from tests.cart_util import first_move

    swarm = swarm_for(tmp_path, max_episode_steps=60)
    goal = (0x28, 4, 6)  # Oak's Lab
    spawns: list[str] = []
    try:
        _, infos = swarm.reset()
        games = [info["game"] for info in infos]
        for _ in range(300):
            actions = []
            for g in games:
                if not g.in_control or g.cell == goal:
                    actions.append(ACTIONS.index("a" if g.in_battle else "b"))
                else:
                    actions.append(ACTIONS.index(first_move(EventMemory(g), g.cell, goal)))
            swarm.step_async(np.array(actions))
            turn = swarm.step_wait()
            games = [info["game"] for info in turn.infos]
            spawns += [e.spawn.name for e in turn.ended]
    finally:
        swarm.close()
    saved = dict(swarm.saved)
    assert {"map_0x25", "pallet_town", "map_0x28"} <= set(saved)
    index = StateIndex.load(tmp_path / "states" / "sw")
    names = {e.name for e in index.entries}
    assert set(saved.values()) <= names  # each saved state is in the run's index, on disk
    assert all(index.state_path(e).is_file() for e in index.entries)
    assert set(spawns) <= names and len(spawns) == 10  # 2 envs x 300 steps / 60
    assert set(spawns) - {"pallet_town_start"}  # the curriculum sent envs to the new states


def test_recurrent_ppo_learns_on_the_swarm(tmp_path: Path) -> None:
    """sb3-contrib's RecurrentPPO (CNN + LSTM) trains on the swarm env, which also trains its
    own RND; episodes reach SB3's episode buffer."""
    from sb3_contrib import RecurrentPPO

    from daddy.swarm.sb3 import SwarmVecEnv

    env = SwarmVecEnv(swarm_for(tmp_path, max_episode_steps=16))
    rnd_before = [p.detach().clone() for p in env.swarm.intrinsic.rnd.predictor.parameters()]
    try:
        model = RecurrentPPO("MultiInputLstmPolicy", env, n_steps=32, batch_size=32, n_epochs=1,
                             seed=0, policy_kwargs={"lstm_hidden_size": 32})  # fmt: skip
        model.learn(128)
    finally:
        env.close()
    assert model.num_timesteps == 128
    assert len(model.ep_info_buffer) == 8  # 2 envs x 64 steps / 16
    rnd_after = list(env.swarm.intrinsic.rnd.predictor.parameters())
    assert any(not (a == b).all() for a, b in zip(rnd_before, rnd_after))  # RND trained itself
