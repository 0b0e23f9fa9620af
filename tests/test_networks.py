"""The hierarchical Q-network: presets, shapes, state passing, and the SSM's parallel scan."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from daddy.agent.networks import (
    LRU,
    MODEL_CONFIGS,
    QNetwork,
    as_tensors,
    count_parameters,
    linear_scan,
    model_config,
)


def fake_obs(
    lead: tuple[int, ...], feature_dim: int = 24, seed: int = 0
) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return {
        "screen": torch.randint(0, 4, (*lead, 72, 80), generator=g, dtype=torch.uint8),
        "map_id": torch.randint(0, 256, lead, generator=g),
        "features": torch.randn(*lead, feature_dim, generator=g),
    }


@pytest.fixture(scope="module")
def slim() -> QNetwork:
    torch.manual_seed(0)
    return QNetwork(model_config("slim"))


@pytest.mark.parametrize("size", ["slim", "large"])
def test_model_config_matches_seed_preset(size: str) -> None:
    cfg = model_config(size)
    preset = MODEL_CONFIGS[size]
    assert list(cfg.cnn_channels) == preset["cnn_channels"]
    assert (cfg.gru_hidden, cfg.lstm_hidden, cfg.ssm_hidden) == (
        preset["gru_hidden"], preset["lstm_hidden"], preset["ssm_hidden"],
    )  # fmt: skip


def test_unknown_model_size_error_names_valid_sizes() -> None:
    with pytest.raises(ValueError, match="large, slim"):
        model_config("huge")


def test_large_preset_has_more_parameters_than_slim() -> None:
    slim, large = (count_parameters(QNetwork(model_config(s))) for s in ("slim", "large"))
    assert large > 2 * slim > 0


@pytest.mark.parametrize("size", ["slim", "large", "slim_gru"])
def test_step_and_sequence_shapes(size: str) -> None:
    net = QNetwork(model_config(size), num_actions=7, feature_dim=24)
    T, B = 3, 2
    q, s = net.step(fake_obs((B,)), net.initial_state(B))
    assert q.shape == (B, 7) and s.shape == (B, net.state_size)
    qs, fs = net.sequence(fake_obs((T, B)), s, torch.zeros(T, B, dtype=torch.bool))
    assert qs.shape == (T, B, 7) and fs.shape == (B, net.state_size)
    assert torch.isfinite(qs).all()


def test_step_output_depends_on_incoming_state(slim: QNetwork) -> None:
    obs = fake_obs((2,))
    q0, s1 = slim.step(obs, slim.initial_state(2))
    q1, _ = slim.step(obs, s1)
    assert not torch.allclose(q0, q1)


def test_lru_scan_equals_stepwise_recurrence_with_resets() -> None:
    torch.manual_seed(1)
    lru = LRU(in_dim=5, hidden=8)
    T, B = 13, 3
    u = torch.randn(T, B, 5)
    x0 = torch.complex(torch.randn(B, 4), torch.randn(B, 4))
    resets = torch.rand(T, B) < 0.25
    resets[0, 0] = resets[6, 1] = True
    y_scan, x_scan = lru.scan(u, x0, resets)
    x, ys = x0, []
    for t in range(T):
        x = torch.where(resets[t, :, None], torch.zeros_like(x), x)
        y, x = lru.step(u[t], x)
        ys.append(y)
    torch.testing.assert_close(y_scan, torch.stack(ys), rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(x_scan, x, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("T", [1, 2, 7, 16])
def test_linear_scan_solves_first_order_recurrence(T: int) -> None:
    a, b = torch.rand(T, 4), torch.randn(T, 4)
    x, expect = torch.zeros(4), []
    for t in range(T):
        x = a[t] * x + b[t]
        expect.append(x)
    torch.testing.assert_close(linear_scan(a, b), torch.stack(expect))


def test_lru_decay_stays_inside_unit_circle_for_any_parameters() -> None:
    lru = LRU(in_dim=2, hidden=6)
    with torch.no_grad():
        lru.nu_log.copy_(torch.tensor([-30.0, 0.0, 5.0]))
    assert (lru._lambda().abs() <= 1).all()


def assert_sequence_equals_steps(net: QNetwork, obs: dict[str, torch.Tensor],
                                 state: torch.Tensor, resets: torch.Tensor) -> None:
    """`sequence` over T steps gives the Q-values and final state of T `step` calls."""
    with torch.no_grad():
        q_seq, final = net.sequence(obs, state, resets)
        s, qs = state, []
        for t in range(resets.shape[0]):
            s = s * (~resets[t]).float()[:, None]
            q, s = net.step({k: v[t] for k, v in obs.items()}, s)
            qs.append(q)
    torch.testing.assert_close(q_seq, torch.stack(qs), rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(final, s, rtol=1e-4, atol=1e-5)


def test_sequence_equals_stepwise_unroll_with_resets(slim: QNetwork) -> None:
    T, B = 9, 3
    obs = fake_obs((T, B), seed=3)
    state = torch.randn(B, slim.state_size) * 0.5
    resets = torch.zeros(T, B, dtype=torch.bool)
    resets[0, 2] = resets[4, 0] = resets[5, 1] = True
    assert_sequence_equals_steps(slim, obs, state, resets)


def test_sequence_in_two_halves_equals_one_pass(slim: QNetwork) -> None:
    T, B = 8, 2
    obs, resets = fake_obs((T, B), seed=4), torch.zeros(T, B, dtype=torch.bool)
    state = slim.initial_state(B)
    with torch.no_grad():
        q_all, _ = slim.sequence(obs, state, resets)
        q_a, mid = slim.sequence({k: v[:3] for k, v in obs.items()}, state, resets[:3])
        q_b, _ = slim.sequence({k: v[3:] for k, v in obs.items()}, mid, resets[3:])
    torch.testing.assert_close(q_all, torch.cat([q_a, q_b]), rtol=1e-4, atol=1e-5)


def test_gradients_reach_every_parameter(slim: QNetwork) -> None:
    obs = fake_obs((4, 2))
    q, _ = slim.sequence(obs, slim.initial_state(2), torch.zeros(4, 2, dtype=torch.bool))
    slim.zero_grad()
    q.pow(2).mean().backward()
    missing = [n for n, p in slim.named_parameters() if p.grad is None]
    assert not missing


def test_as_tensors_accepts_numpy_batches(slim: QNetwork) -> None:
    obs = {
        "screen": np.zeros((2, 72, 80), np.uint8),
        "map_id": np.array([0, 255], np.uint8),
        "features": np.zeros((2, 24), np.float32),
    }
    t = as_tensors(obs, "cpu")
    assert t["map_id"].dtype == torch.long and t["screen"].dtype == torch.uint8
    q, _ = slim.step(t, slim.initial_state(2))
    assert q.shape == (2, 7)


def test_wrong_feature_width_is_a_clear_error(slim: QNetwork) -> None:
    with pytest.raises(ValueError, match="features have width 5"):
        slim.step(fake_obs((2,), feature_dim=5), slim.initial_state(2))


def test_gru_only_preset_has_no_lstm_or_ssm_and_unrolls_like_its_steps() -> None:
    """The ablation preset: the GRU alone feeds the head; its state is the GRU's."""
    torch.manual_seed(0)
    net = QNetwork(model_config("slim_gru"))
    assert net.lstm is None and net.ssm is None
    assert net.state_size == MODEL_CONFIGS["slim_gru"]["gru_hidden"]
    assert count_parameters(net) < count_parameters(QNetwork(model_config("slim")))
    T, B = 6, 2
    obs, resets = fake_obs((T, B), seed=5), torch.zeros(T, B, dtype=torch.bool)
    resets[3, 1] = True
    state = torch.randn(B, net.state_size) * 0.5
    assert_sequence_equals_steps(net, obs, state, resets)
