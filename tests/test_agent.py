"""Agent config, ε schedules, and the ε-greedy recurrent actor."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from daddy.agent.actor import Actor, AgentConfig, EpsilonSchedule, boltzmann_actions
from daddy.agent.networks import QNetwork, model_config


def obs_batch(b: int, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        "screen": rng.integers(0, 4, (b, 72, 80), dtype=np.uint8),
        "map_id": rng.integers(0, 256, b).astype(np.uint8),
        "features": rng.standard_normal((b, 24)).astype(np.float32),
    }


@pytest.fixture(scope="module")
def net() -> QNetwork:
    torch.manual_seed(0)
    return QNetwork(model_config("slim"))


@pytest.mark.parametrize(
    ("kind", "step", "expected"),
    [
        ("linear", 0, 1.0),
        ("linear", 50, 0.525),
        ("linear", 100, 0.05),
        ("linear", 10_000, 0.05),
        ("exponential", 0, 1.0),
        ("exponential", 50, 0.05**0.5),
        ("exponential", 100, 0.05),
        ("exponential", 10_000, 0.05),
    ],
)
def test_epsilon_schedule_values(kind: str, step: int, expected: float) -> None:
    assert EpsilonSchedule(kind, 1.0, 0.05, 100).value(step) == pytest.approx(expected)


@pytest.mark.parametrize("kind", ["linear", "exponential"])
def test_epsilon_decreases_monotonically(kind: str) -> None:
    sched = EpsilonSchedule(kind, 1.0, 0.01, 1000)
    vals = [sched.value(s) for s in range(0, 1200, 50)]
    assert all(a >= b for a, b in itertools.pairwise(vals)) and vals[-1] == pytest.approx(0.01)


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (("cosine", 1.0, 0.1, 10), "linear"),
        (("linear", 0.1, 0.5, 10), "end <= start"),
        (("exponential", 1.0, 0.0, 10), "end > 0"),
        (("linear", 1.0, 0.1, 0), "decay_steps"),
    ],
)
def test_bad_epsilon_schedule_is_a_clear_error(args: tuple, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        EpsilonSchedule(*args)


def test_agent_config_defaults_and_derived_lengths() -> None:
    cfg = AgentConfig()
    assert (cfg.gamma, cfg.n_step, cfg.burn_in, cfg.trace_len, cfg.period) == (0.99, 5, 20, 40, 20)
    assert cfg.double_q and cfg.seq_len == 60 and cfg.window == 65
    assert cfg.epsilon_schedule().value(0) == 1.0


@pytest.mark.parametrize(
    "bad", [{"n_step": 0}, {"gamma": 1.5}, {"burn_in": -1}, {"loss": "l1"}, {"eps_end": 2.0},
            {"munchausen": 1.0}, {"munchausen": -0.1}, {"munchausen_tau": 0.0}],
)
def test_bad_agent_config_is_rejected(bad: dict) -> None:
    with pytest.raises(ValueError):
        AgentConfig(**bad)


def test_actor_returns_state_before_step_and_carries_it(net: QNetwork) -> None:
    actor = Actor(net, num_envs=3, seed=0)
    a0, s0 = actor.act(obs_batch(3), epsilon=0.0)
    assert a0.dtype == np.int64 and a0.shape == (3,) and s0.shape == (3, net.state_size)
    assert not s0.any()  # first step starts from zeros
    _, s1 = actor.act(obs_batch(3, seed=1), epsilon=0.0)
    assert np.abs(s1).sum() > 0
    _, expected = net.step(
        {k: torch.as_tensor(v) for k, v in obs_batch(3).items()}, net.initial_state(3)
    )
    np.testing.assert_allclose(s1, expected.detach().numpy(), rtol=1e-5, atol=1e-6)


def test_actor_greedy_actions_are_argmax_q(net: QNetwork) -> None:
    actor = Actor(net, num_envs=4)
    actions, _ = actor.act(obs_batch(4), epsilon=0.0)
    q, _ = net.step({k: torch.as_tensor(v) for k, v in obs_batch(4).items()}, net.initial_state(4))
    np.testing.assert_array_equal(actions, q.argmax(-1).numpy())


def test_actor_reset_zeroes_only_those_envs(net: QNetwork) -> None:
    actor = Actor(net, num_envs=3)
    actor.act(obs_batch(3), epsilon=0.0)
    actor.reset([1])
    _, before = actor.act(obs_batch(3), epsilon=0.0, firsts=np.array([False, False, True]))
    assert not before[1].any() and not before[2].any() and before[0].any()


def test_actor_explores_uniformly_at_epsilon_one(net: QNetwork) -> None:
    actor = Actor(net, num_envs=2, seed=3)
    obs = obs_batch(2)
    counts = np.bincount(np.concatenate([actor.act(obs, 1.0)[0] for _ in range(300)]), minlength=7)
    assert counts.min() > 40  # 600 draws over 7 actions: ~86 each


def test_actor_per_env_epsilon_array(net: QNetwork) -> None:
    actor = Actor(net, num_envs=2, seed=5)
    obs = obs_batch(2)
    greedy = actor.act(obs, 0.0)[0][0]
    actions = np.stack([actor.act(obs, np.array([0.0, 1.0]))[0] for _ in range(50)])
    assert len(set(actions[:, 1])) > 3
    actor2 = Actor(net, num_envs=2, seed=5)
    firsts = np.ones(2, bool)
    assert all(actor2.act(obs, np.array([0.0, 1.0]), firsts)[0][0] == greedy for _ in range(5))


def test_env_random_actions_do_not_depend_on_number_of_envs(net: QNetwork) -> None:
    one, three = Actor(net, 1, seed=7), Actor(net, 3, seed=7)
    a1 = [one.act(obs_batch(1), 1.0)[0][0] for _ in range(20)]
    a3 = [three.act(obs_batch(3), 1.0)[0][0] for _ in range(20)]
    assert a1 == a3


def test_actor_state_dict_round_trip_continues_identically(net: QNetwork) -> None:
    a = Actor(net, num_envs=3, seed=11)
    a.act(obs_batch(3), 0.5)
    d = a.state_dict()
    assert all(isinstance(v, np.ndarray) for v in d.values())
    b = Actor(net, num_envs=3, seed=0)
    b.load_state_dict(d)
    for i in range(5):
        (xa, sa), (xb, sb) = a.act(obs_batch(3, i), 0.5), b.act(obs_batch(3, i), 0.5)
        np.testing.assert_array_equal(xa, xb)
        np.testing.assert_array_equal(sa, sb)


def test_actor_load_rejects_other_env_count(net: QNetwork) -> None:
    with pytest.raises(ValueError, match="num-envs"):
        Actor(net, 2).load_state_dict(Actor(net, 3).state_dict())


def test_policy_stats_count_greedy_actions_random_draws_and_q_spread(net: QNetwork) -> None:
    """The `policy/` tags: greedy histogram over every step, ε's draws, spread of Q."""
    actor = Actor(net, num_envs=2, seed=5)
    obs = obs_batch(2)
    q, _ = net.step({k: torch.as_tensor(v) for k, v in obs_batch(2).items()}, net.initial_state(2))
    greedy = q.argmax(-1).numpy()
    actor.act(obs, np.array([0.0, 1.0]), firsts=np.ones(2, bool))  # env 1 always draws
    tags = actor.stats.take(("down", "left", "right", "up", "a", "b", "start"))
    names = ["down", "left", "right", "up", "a", "b", "start"]
    expected = np.bincount(greedy, minlength=7) / 2
    np.testing.assert_allclose([tags[f"policy/greedy_{n}"] for n in names], expected)
    assert tags["policy/random_share"] == 0.5
    assert tags["policy/off_argmax_share"] <= 0.5  # env 0 is greedy; env 1's draw may hit argmax
    spread = (q.max(-1).values - q.min(-1).values).mean().item()
    assert tags["policy/q_spread"] == pytest.approx(spread, rel=1e-5)
    assert 0 <= tags["policy/q_gap"] <= tags["policy/q_spread"]
    assert 0 <= tags["policy/greedy_entropy"] <= 1
    assert actor.stats.take(tuple(names)) == {}  # counting starts anew after each take


def test_boltzmann_actions_follow_the_softmax_of_standardised_q() -> None:
    """Inverse-CDF draws: the same uniforms pick the same actions at any Q scale."""
    q = torch.tensor([[0.0, 0.0, 3.0], [1.0, 1.0, 1.0]])
    z = (q[0] - q[0].mean()) / q[0].std()
    cdf = torch.softmax(z / 0.5, -1).cumsum(-1).numpy()
    u = np.array([cdf[1] - 1e-3, 0.5])  # row 0: just below the second edge -> action 1
    assert boltzmann_actions(q, 0.5, u).tolist() == [1, 1]  # row 1: equal Q -> uniform thirds
    assert boltzmann_actions(q * 1e-3 + 7, 0.5, u).tolist() == [1, 1]  # scale-free
    assert boltzmann_actions(q, 0.5, np.array([0.9999, 0.9999])).tolist() == [2, 2]
    draws = boltzmann_actions(q[:1].expand(4000, 3), 0.5, np.random.default_rng(0).random(4000))
    np.testing.assert_allclose(np.bincount(draws, minlength=3) / 4000, np.diff(cdf, prepend=0),
                               atol=0.02)  # fmt: skip


def test_boltzmann_actor_samples_reproducibly_and_resumes(net: QNetwork) -> None:
    """Temperature > 0: non-random steps vary around argmax; a resumed actor draws the same."""
    obs = obs_batch(3)
    hot = Actor(net, num_envs=3, seed=2, temperature=1.0)
    acts = np.stack([hot.act(obs, 0.0, firsts=np.ones(3, bool))[0] for _ in range(60)])
    assert all(len(set(acts[:, i])) > 1 for i in range(3))  # argmax would repeat one action
    q, _ = net.step({k: torch.as_tensor(v) for k, v in obs.items()}, net.initial_state(3))
    tags = hot.stats.take(("down", "left", "right", "up", "a", "b", "start"))
    assert tags["policy/random_share"] == 0.0  # ε 0: every departure is Boltzmann's
    assert tags["policy/off_argmax_share"] == pytest.approx((acts != q.argmax(-1).numpy()).mean())
    assert tags["policy/off_argmax_share"] > 0
    again = Actor(net, num_envs=3, seed=2, temperature=1.0)
    np.testing.assert_array_equal(acts[0], again.act(obs, 0.0, firsts=np.ones(3, bool))[0])
    resumed = Actor(net, num_envs=3, seed=9, temperature=1.0)
    resumed.load_state_dict(again.state_dict())
    np.testing.assert_array_equal(resumed.act(obs, 0.0)[0], again.act(obs, 0.0)[0])
    with pytest.raises(ValueError, match="temperature"):
        Actor(net, num_envs=1, temperature=-1.0)
    with pytest.raises(ValueError, match="act_temperature"):
        AgentConfig(act_temperature=-0.1)


def test_ez_greedy_holds_random_actions_for_zeta_durations(net: QNetwork) -> None:
    """εz-greedy: at ε 1 a random action repeats for several steps (ε-greedy repeats only by
    chance, 1 in 7); at ε 0 every step is the argmax; a new episode drops the held action."""
    def repeats(zeta: float) -> float:
        actor = Actor(net, num_envs=3, seed=4, zeta=zeta)
        acts = np.stack([actor.act(obs_batch(3, i), 1.0)[0] for i in range(300)])
        return float((acts[1:] == acts[:-1]).mean())

    assert repeats(0.0) < 0.3 and repeats(2.0) > 0.5
    actor = Actor(net, num_envs=2, seed=4, zeta=2.0)
    for i in range(40):
        actor.act(obs_batch(2, i), 1.0)
    actor.reset([0, 1])
    assert (actor.hold[0] == 0).all()
    greedy, _ = actor.act(obs_batch(2, 99), 0.0, firsts=np.ones(2, bool))
    q, _ = net.step({k: torch.as_tensor(v) for k, v in obs_batch(2, 99).items()},
                    net.initial_state(2))  # fmt: skip
    np.testing.assert_array_equal(greedy, q.argmax(-1).numpy())
    tags = actor.stats.take(("down", "left", "right", "up", "a", "b", "start"))
    assert tags["policy/random_share"] == 80 / 82  # 40 steps held or drawn, then one greedy


def test_ez_greedy_resumes_mid_hold_and_reads_old_checkpoints(net: QNetwork) -> None:
    """A held action survives the checkpoint; an actor dict from before εz-greedy (no "holds")
    loads with nothing held; μ must be 0 or above 1."""
    a = Actor(net, num_envs=3, seed=7, zeta=1.5)
    for i in range(25):
        a.act(obs_batch(3, i), 0.5)
    assert a.hold[0].any()  # some env is mid-hold (zeta 1.5: long holds)
    b = Actor(net, num_envs=3, seed=0, zeta=1.5)
    b.load_state_dict(a.state_dict())
    for i in range(25, 60):
        np.testing.assert_array_equal(a.act(obs_batch(3, i), 0.5)[0], b.act(obs_batch(3, i), 0.5)[0])
    old = {k: v for k, v in a.state_dict().items() if k != "holds"}
    b.load_state_dict(old)
    assert not b.hold.any()
    for bad in (0.5, 1.0, -2.0):
        with pytest.raises(ValueError, match="eps_zeta"):
            Actor(net, num_envs=1, zeta=bad)
    with pytest.raises(ValueError, match="eps_zeta"):
        AgentConfig(eps_zeta=1.0)
