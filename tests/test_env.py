"""PokemonEnv / EpsilonEnv on the practice cartridge: API, observations, rewards, savestates."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

from daddy.cart import world
from daddy.game import ram, spec
from daddy.game.env import ACTIONS, EpsilonEnv, PokemonEnv, RewardConfig, StateError, make_env
from daddy.game.milestones import DEFAULT_MILESTONES
from tests.cart_util import get_starter, passable, press, walk_to


@pytest.fixture
def env(practice_rom, boot_state):
    e = make_env(practice_rom, state=boot_state, max_episode_steps=50)
    yield e
    e.close()


def test_spaces_and_observation(env):
    obs, info = env.reset()
    assert env.observation_space.contains(obs)
    assert env.action_space.n == 7 and "select" not in ACTIONS
    assert obs["screen"].shape == (72, 80) and obs["screen"].max() <= 3
    assert len(np.unique(obs["screen"])) >= 3  # real pixels: floor, walls, the player
    assert obs["map_id"] == 0x26 and info["game"].in_control
    # The spec every other module imports (networks, replay, RND, evaluation, benches).
    assert (spec.NUM_ACTIONS, spec.SCREEN_SHAPE, spec.FEATURE_DIM) == (7, (72, 80), 24)
    assert env.observation_space["features"].shape == (spec.FEATURE_DIM,)


def test_screen_follows_the_player(env):
    obs0, _ = env.reset()
    obs1, *_ = env.step(ACTIONS.index("right"))
    assert not np.array_equal(obs0["screen"], obs1["screen"])
    assert np.array_equal(env.unwrapped.screen_rgb().shape, (144, 160, 3))


def test_truncates_at_max_episode_steps(env):
    env.reset()
    flags = [env.step(5)[3] for _ in range(50)]
    assert flags == [False] * 49 + [True]


def test_unknown_action_is_a_clear_error(env):
    env.reset()
    for bad in (7, -1, "a", 1.5):
        with pytest.raises(ValueError, match="is not one of 0..6"):
            env.step(bad)


def test_savestate_round_trip_restores_ram_and_screen(env):
    env.reset()
    for a in (2, 2, 3):
        env.step(a)
    saved = env.unwrapped.save_state()
    mem_before = bytes(env.unwrapped.pyboy.memory[0xC000:0xE000])
    obs_a, *_ = env.step(0)
    env.unwrapped.load_state(saved)
    assert bytes(env.unwrapped.pyboy.memory[0xC000:0xE000]) == mem_before
    obs_b, *_ = env.step(0)
    assert np.array_equal(obs_a["screen"], obs_b["screen"])


def test_reset_from_state_bytes_and_path(env, boot_state, tmp_path):
    env.reset()
    env.step(2)
    moved = env.unwrapped.save_state()
    _, info = env.reset(options={"state": moved})
    assert info["game"].x == 4
    path = tmp_path / "s.state"
    path.write_bytes(boot_state)
    _, info = env.reset(options={"state": path})
    assert info["game"].x == 3


@pytest.mark.parametrize("data", [b"", b"garbage" * 10])
def test_bad_savestate_is_a_clear_error(env, boot_state, data):
    with pytest.raises(StateError, match="cannot load savestate"):
        env.reset(options={"state": data or boot_state[:100]})


def test_missing_savestate_file(env, tmp_path):
    with pytest.raises(StateError, match="cannot read savestate"):
        env.reset(options={"state": tmp_path / "nope.state"})


def test_exploration_reward_once_per_cell(env):
    env.reset()
    _, r1, *_ = env.step(ACTIONS.index("right"))
    _, r2, *_ = env.step(ACTIONS.index("left"))
    _, r3, *_, info = env.step(ACTIONS.index("right"))
    w = env.reward_cfg.explore
    assert (r1, r2, r3) == (pytest.approx(w), 0.0, 0.0)
    assert info["cells_visited"] == 2 and info["r_env"] == r3


def test_events_levels_and_milestones_pay(practice_rom, boot_state):
    cfg = RewardConfig(explore=0.0, new_map=0.0, event=1.0, level=0.0, heal=0.0)
    env = EpsilonEnv(PokemonEnv(practice_rom, initial_state=boot_state, max_episode_steps=10**6), cfg)
    env.reset()
    total = 0.0
    step = env.step

    def counting_step(action):
        nonlocal total
        out = step(action)
        total += out[1]
        return out

    env.step = counting_step
    get_starter(env)
    assert total == pytest.approx(1.0)  # one new event flag: the starter
    assert env.reached >> by_index("got_starter") & 1
    walk_to(env, 0x0C, 4, 7)
    assert env.reached >> by_index("route_1") & 1
    assert not env.reached >> by_index("badge_boulder") & 1
    env.close()


def by_index(name: str) -> int:
    return [m.name for m in DEFAULT_MILESTONES].index(name)


def test_features_describe_the_game(env):
    obs, _info = env.reset()
    f = obs["features"]
    assert f.shape == (24,) and f.dtype == np.float32
    assert f[0] == pytest.approx(0x26 / 255) and f[1] == pytest.approx(3 / 64)


def test_in_control_matches_ram_conditions(game):
    mem = game.pyboy.memory
    assert ram.in_control(mem)
    press(game, "start")  # the stats box
    assert not ram.in_control(mem) and game.state.text_box


def test_event_flags_reused_only_while_in_control(game):
    """The cheap path must never hide a flag set by the game: flags change only out of control."""
    from tests.cart_util import get_starter

    s0 = game.state
    press(game, "right")
    assert game.state.events is s0.events  # in control before and after: reused, not re-read
    get_starter(game)  # the starter's text box takes control away: the flag must show up
    assert game.state.event(ram.EVENT_GOT_STARTER) and game.state.dex_owned == 1
    mem = game.pyboy.memory
    mem[ram.W_EVENT_FLAGS + 100] = 0xFF  # a flag set behind the game's back...
    for _ in range(16):
        press(game, "b")
    assert game.state.event_count >= 9  # ...is still seen by the periodic full read


def test_bag_items_read_from_ram_and_reused_while_in_control():
    """wBagItems holds (id, quantity) pairs; GameState keeps the ids so key items can be
    milestones, and reuses them while the player stays in control (items change only in text)."""
    from daddy.game import ram

    mem = bytearray(0x10000)
    mem[ram.W_NUM_BAG_ITEMS] = 2
    mem[ram.W_BAG_ITEMS : ram.W_BAG_ITEMS + 5] = bytes([0x46, 1, 0x04, 5, 0xFF])  # parcel, balls
    s = ram.read_game_state(mem)
    assert s.bag == bytes([0x46, 0x04]) and s.has_item(0x46) and not s.has_item(0x09)
    mem[ram.W_NUM_BAG_ITEMS] = 0
    assert ram.read_game_state(mem).bag == b""


class _Recorder(gym.Wrapper):
    """Keeps every GameState a step hands out: what rewards, novelty and visit counts read."""

    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        self.states: list[ram.GameState] = []

    def step(self, action: int):
        out = super().step(action)
        self.states.append(out[4]["game"])
        return out


def _standable(mem: ram.Memory, map_id: int, x: int, y: int) -> bool:
    """A cell of the practice world the player can stand on once a warp has settled (a warp
    lands beside its door or stairs, never on them)."""
    m = world.BY_ID.get(map_id)
    return (
        m is not None and 0 <= x < world.WIDTH and 0 <= y < world.HEIGHT
        and passable(mem, m, x, y) and m.char(x, y) not in "D>"
    )


def test_a_walk_through_warps_counts_only_cells_the_player_can_stand_on(practice_rom, boot_state):
    """Between the new wCurMap and the new position the RAM names a cell that does not exist
    (docs/REAL_GAME.md): no step may hand it out, and no reward may count it."""
    env = _Recorder(make_env(practice_rom, state=boot_state, max_episode_steps=10**6))
    env.reset()
    rng = np.random.default_rng(0)
    try:
        for goal in ((0x25, 4, 7), (0x00, 4, 5), (0x28, 4, 6), (0x00, 3, 4), (0x26, 3, 6)):
            walk_to(env, *goal)
            for _ in range(12):  # a random stroll: down, left, right, up
                env.step(int(rng.integers(0, 4)))
        mem = env.unwrapped.pyboy.memory
        assert {0x26, 0x25, 0x00, 0x28} <= env.env.maps
        assert [c for c in env.env.cells if not _standable(mem, *c)] == []
        assert [s.cell for s in env.states if not _standable(mem, *s.cell)] == []
    finally:
        env.close()
