"""Sequence replay: lossless screens, window boundaries, stored states, memory, checkpoints."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from daddy.agent.replay import SequenceReplay, pack_screens, unpack_screens

E, F, S = 3, 24, 6
SEQ, BURN, N, PERIOD = 6, 2, 2, 4


def make_replay(capacity_steps: int = E * 40, seed: int = 0) -> SequenceReplay:
    return SequenceReplay(E, capacity_steps, SEQ, BURN, N, PERIOD, S, F, seed=seed)


def step_obs(step: int) -> dict[str, np.ndarray]:
    """Observations that encode (env, global step) so a sample can be checked exactly."""
    feats = np.zeros((E, F), np.float32)
    feats[:, 0] = step
    feats[:, 1] = np.arange(E)
    screen = np.broadcast_to((np.arange(72 * 80) + step) % 4, (E, 72 * 80)).reshape(E, 72, 80)
    return {"screen": screen.astype(np.uint8), "map_id": np.full(E, step % 256), "features": feats}


def fill(replay: SequenceReplay, steps: int, start: int = 0) -> None:
    for t in range(start, start + steps):
        states = np.stack([np.full(S, 1000 * e + t, np.float32) for e in range(E)])
        replay.add(
            step_obs(t), actions=(np.arange(E) + t) % 7, rewards=np.full(E, t, np.float32),
            dones=np.full(E, t % 5 == 4), firsts=np.full(E, t % 5 == 0),
            states=states if replay.needs_state else None,
        )  # fmt: skip


@pytest.mark.parametrize("lead", [(), (3,), (2, 5)])
def test_pack_unpack_screens_is_lossless(lead: tuple[int, ...]) -> None:
    screens = np.random.default_rng(0).integers(0, 4, (*lead, 72, 80), dtype=np.uint8)
    packed = pack_screens(screens)
    assert packed.shape == (*lead, 1440) and packed.dtype == np.uint8
    np.testing.assert_array_equal(unpack_screens(packed), screens)


def test_pack_rejects_values_that_are_not_shades() -> None:
    with pytest.raises(ValueError, match="0..3"):
        pack_screens(np.full((72, 80), 4, np.uint8))


@pytest.mark.parametrize("state_size", [512, 1024])  # slim, large QNetwork.state_size
def test_stored_bytes_per_step_within_target(state_size: int) -> None:
    r = SequenceReplay(4, 4 * 200, 60, 20, 5, 20, state_size, 24)
    actual = r.nbytes / r.capacity
    assert actual == pytest.approx(SequenceReplay.bytes_per_step(state_size, 24, 20))
    assert actual <= 1600


def test_from_memory_budget_stays_within_budget() -> None:
    budget = 2_000_000
    r = SequenceReplay.from_memory_budget(budget, E, SEQ, BURN, N, PERIOD, S, F)
    assert budget * 0.9 < r.nbytes <= budget


def test_sampled_windows_start_at_period_points_inside_written_data() -> None:
    r = make_replay()
    steps = 97  # wraps the 40-step rings twice, head not on a period boundary
    fill(r, steps)
    T = SEQ + N
    b = r.sample(256)
    assert b.screens.shape == (T, 256, 72, 80) and b.states.shape == (256, S)
    assert (b.starts % PERIOD == 0).all()
    assert (b.starts >= steps - r.capacity_per_env).all() and (b.starts + T <= steps).all()
    expect_steps = b.starts[None, :] + np.arange(T)[:, None]
    np.testing.assert_array_equal(b.features[..., 0].numpy(), expect_steps)
    np.testing.assert_array_equal(b.features[..., 1].numpy(), np.broadcast_to(b.env_ids, (T, 256)))
    np.testing.assert_array_equal(b.map_id.numpy(), expect_steps % 256)
    np.testing.assert_array_equal(b.rewards.numpy(), expect_steps)
    np.testing.assert_array_equal(b.actions.numpy(), (b.env_ids[None] + expect_steps) % 7)
    np.testing.assert_array_equal(b.dones.numpy(), expect_steps % 5 == 4)
    np.testing.assert_array_equal(b.firsts.numpy(), expect_steps % 5 == 0)
    np.testing.assert_array_equal(b.states[:, 0].numpy(), 1000 * b.env_ids + b.starts)
    screen0 = step_obs(0)["screen"][0]
    for j in range(3):  # screens come back exactly, shifted by their step
        t0 = int(b.starts[j])
        np.testing.assert_array_equal(b.screens[0, j].numpy(), (screen0 + t0) % 4)


def test_every_valid_start_gets_sampled() -> None:
    r = make_replay()
    fill(r, 97)
    starts = set(r.sample(2000).starts.tolist())
    assert starts == set(range(60, 97 - (SEQ + N) + 1, PERIOD))
    assert r.num_sequences == len(starts)


def test_sampling_before_a_full_window_is_a_clear_error() -> None:
    r = make_replay()
    fill(r, SEQ + N - 1)
    with pytest.raises(ValueError, match="add more steps"):
        r.sample(1)


def test_add_at_a_period_start_requires_states() -> None:
    r = make_replay()
    with pytest.raises(ValueError, match="starts a period"):
        r.add(step_obs(0), np.zeros(E), np.zeros(E), np.zeros(E, bool), np.ones(E, bool), None)


def test_capacity_too_small_for_one_window_is_rejected() -> None:
    with pytest.raises(ValueError, match="raise it"):
        make_replay(capacity_steps=E * 8)


@pytest.mark.parametrize("copy", [True, False])
def test_state_dict_round_trip_gives_identical_samples(copy: bool) -> None:
    a = make_replay(seed=1)
    fill(a, 53)
    d = a.state_dict()
    assert all(isinstance(v, (np.ndarray, int)) for v in d.values())
    if not copy:  # what a checkpoint load hands over: arrays nobody else holds
        d = {k: v.copy() if isinstance(v, np.ndarray) else v for k, v in d.items()}
    b = make_replay(seed=99)
    b.load_state_dict(d, copy=copy)
    assert (b.screens is d["screens"]) == (not copy)
    assert not np.shares_memory(a.screens, b.screens)
    for _ in range(2):  # also identical after both keep adding
        sa, sb = a.sample(32), b.sample(32)
        for name in ("screens", "map_id", "features", "actions", "rewards", "dones", "firsts",
                     "states"):  # fmt: skip
            assert torch.equal(getattr(sa, name), getattr(sb, name)), name
        fill(a, 7, start=a.steps_added)
        fill(b, 7, start=b.steps_added)


def test_refused_load_leaves_the_replay_unchanged() -> None:
    a, b = make_replay(seed=1), make_replay(seed=2)
    fill(a, 53)
    fill(b, 31)
    d = a.state_dict()
    d["states"] = d["states"][:, :-1]  # the last array checked is the wrong shape
    before = {k: v.copy() for k, v in b.state_dict().items() if isinstance(v, np.ndarray)}
    with pytest.raises(ValueError, match="states has shape"):
        b.load_state_dict(d)
    for k, v in before.items():
        np.testing.assert_array_equal(b.state_dict()[k], v, err_msg=k)


def test_load_state_dict_rejects_other_settings() -> None:
    d = make_replay().state_dict()
    other = SequenceReplay(E, E * 40, SEQ, BURN, N, PERIOD * 2, S, F)
    with pytest.raises(ValueError, match="period"):
        other.load_state_dict(d)
