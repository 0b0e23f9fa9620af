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


# ---- checkpoints hold only the filled part of the rings ----------------------------------------
CAP = 40  # make_replay's ring slots per env


def filled_bytes(r: SequenceReplay) -> int:
    """Bytes of the ring slots that hold data (and the stored states of their periods)."""
    n = min(r.steps_added, r.capacity_per_env)
    per_slot = sum(a.nbytes // a.shape[1] for k, a in r._arrays().items() if k != "states")
    return n * per_slot + -(-n // PERIOD) * (r.states.nbytes // r.states.shape[1])


def reload(d: dict, copy: bool, tmp_path, via_disk: bool, seed: int = 99) -> SequenceReplay:
    """A fresh replay loaded from `d`, handed over directly or through a real checkpoint."""
    if via_disk:
        from daddy.run.checkpoint import CheckpointManager

        manager = CheckpointManager(tmp_path)
        manager.save(len(manager.list_complete()), {"replay": d})
        d = manager.load_latest()[1]["replay"]
    elif not copy:  # what a checkpoint load hands over: arrays nobody else holds
        d = {k: v.copy() if isinstance(v, np.ndarray) else v for k, v in d.items()}
    b = make_replay(seed=seed)
    b.load_state_dict(d, copy=copy)
    return b


# 1: nearly empty, 20: half, 40: exactly full, 53/97: wrapped (head mid-period / twice round)
@pytest.mark.parametrize("steps", [0, 1, 5, 20, CAP, 53, 97])
@pytest.mark.parametrize(("copy", "via_disk"), [(True, False), (False, False), (False, True)])
def test_round_trip_at_every_fill_level_is_exact_and_stores_only_the_filled_part(
    steps: int, copy: bool, via_disk: bool, tmp_path
) -> None:
    a = make_replay(seed=1)
    fill(a, steps)
    d = a.state_dict()
    stored = sum(v.nbytes for v in d.values() if isinstance(v, np.ndarray) and v.ndim > 1)
    assert stored == filled_bytes(a) <= a.nbytes
    if steps < CAP:
        assert d["screens"].shape == (E, steps, 1440)
    b = reload(d, copy, tmp_path, via_disk)
    # Everything: every ring slot (order and write position), the counter, the sampling RNG.
    for k, arr in a._arrays().items():
        np.testing.assert_array_equal(getattr(b, k), arr, err_msg=k)
        assert getattr(b, k).shape == arr.shape and getattr(b, k).dtype == arr.dtype, k
    assert b.steps_added == a.steps_added and b.stored_steps == a.stored_steps
    assert b.rng.bit_generator.state == a.rng.bit_generator.state
    # Sampling after the reload is the sampling the run would have done without the save,
    # also once both have kept adding (through a wrap).
    for _ in range(3):
        if a.num_sequences:
            sa, sb = a.sample(16), b.sample(16)
            np.testing.assert_array_equal(sa.starts, sb.starts)
            np.testing.assert_array_equal(sa.env_ids, sb.env_ids)
            for name in ("screens", "map_id", "features", "actions", "rewards", "dones",
                         "firsts", "states"):  # fmt: skip
                assert torch.equal(getattr(sa, name), getattr(sb, name)), name
        fill(a, 17, start=a.steps_added)
        fill(b, 17, start=b.steps_added)


def test_a_wrapped_replay_stores_whole_arrays_and_copy_false_adopts_them() -> None:
    a = make_replay(seed=1)
    fill(a, 97)
    d = a.state_dict()
    assert d["stored_steps"] == CAP and d["screens"].shape == a.screens.shape
    assert np.shares_memory(d["screens"], a.screens)  # views, no copy at save time
    d = {k: v.copy() if isinstance(v, np.ndarray) else v for k, v in d.items()}
    b = make_replay()
    b.load_state_dict(d, copy=False)
    assert b.screens is d["screens"] and b.states is d["states"]


def legacy_state_dict(r: SequenceReplay) -> dict:
    """What checkpoints held before only the filled part was stored: whole arrays, no
    `stored_steps`."""
    d = {k: getattr(r, k) for k in ("num_envs", "capacity_per_env", "seq_len", "burn_in",
                                    "n_step", "period", "state_size", "feature_dim")}  # fmt: skip
    d.update({k: a.copy() for k, a in r._arrays().items()})
    d["steps_added"] = r.steps_added
    from daddy.agent.rng_state import rng_to_array

    d["rng"] = rng_to_array(r.rng)
    return d


@pytest.mark.parametrize("steps", [3, 20, 53])
@pytest.mark.parametrize("copy", [True, False])
def test_old_full_array_checkpoints_still_load(steps: int, copy: bool) -> None:
    a = make_replay(seed=1)
    fill(a, steps)
    b = make_replay(seed=5)
    b.load_state_dict(legacy_state_dict(a), copy=copy)
    for k, arr in a._arrays().items():
        np.testing.assert_array_equal(getattr(b, k), arr, err_msg=k)
    assert b.steps_added == steps
    fill(a, 20, start=steps)
    fill(b, 20, start=steps)
    sa, sb = a.sample(8), b.sample(8)
    assert torch.equal(sa.screens, sb.screens) and torch.equal(sa.states, sb.states)
    # and what it saves now is the new, filled-only layout
    assert b.state_dict()["stored_steps"] == min(steps + 20, CAP)


def test_inconsistent_filled_part_is_refused_and_changes_nothing() -> None:
    a, b = make_replay(seed=1), make_replay(seed=2)
    fill(a, 13)
    fill(b, 31)
    before = {k: v.copy() for k, v in b._arrays().items()}
    d = a.state_dict()
    d["steps_added"] = 14  # says 14 slots are filled, holds 13
    with pytest.raises(ValueError, match="stores 13 steps"):
        b.load_state_dict(d)
    d = a.state_dict()
    d["screens"] = d["screens"][:, :-1]
    with pytest.raises(ValueError, match="screens has shape"):
        b.load_state_dict(d)
    d = a.state_dict()
    d["screens"] = a.screens  # whole array with a filled-only dict: refused by shape
    with pytest.raises(ValueError, match="screens has shape"):
        b.load_state_dict(d)
    assert b.steps_added == 31
    for k, v in before.items():
        np.testing.assert_array_equal(getattr(b, k), v, err_msg=k)
