"""The learner: n-step targets, burn-in from stored states, the NaN guard, checkpoints, learning."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch

from daddy.agent.actor import Actor, AgentConfig
from daddy.agent.learner import (
    Learner,
    inverse_value_rescale,
    munchausen_terms,
    n_step_targets,
    value_rescale,
)
from daddy.agent.networks import ModelConfig, QNetwork, model_config
from daddy.agent.replay import SequenceReplay

G = 0.5
TINY = ModelConfig((4, 8, 8), 16, 16, 16, map_embed=4, feature_hidden=8)
"""A net small enough that learning tests run in seconds; the presets are tested elsewhere."""


def col(*xs: float) -> torch.Tensor:
    return torch.tensor(xs, dtype=torch.float32)[:, None]


def flags(*xs: int) -> torch.Tensor:
    return torch.tensor(xs, dtype=torch.bool)[:, None]


def test_n1_is_td0() -> None:
    r, v = col(1, 2, 3, 4), col(10, 20, 30, 40)
    d, f = flags(0, 1, 0, 0), flags(1, 0, 1, 0)
    t, valid = n_step_targets(r, d, f, v, G, n=1)
    torch.testing.assert_close(t, col(1 + G * 20, 2, 3 + G * 40))
    assert valid.all()


def test_n3_with_a_done_in_the_middle() -> None:
    r, v = col(1, 2, 4, 8, 16, 32), col(100, 200, 300, 400, 500, 600)
    d, f = flags(0, 1, 0, 0, 0, 0), flags(1, 0, 1, 0, 0, 0)  # episode ends after step 1
    t, valid = n_step_targets(r, d, f, v, G, n=3)
    expected = col(
        1 + G * 2,  # stops at the done: no bootstrap
        2,
        4 + G * 8 + G**2 * 16 + G**3 * 600,
    )
    torch.testing.assert_close(t, expected)
    assert valid.all()


def test_truncated_episode_bootstraps_from_its_last_stored_obs() -> None:
    r, v = col(1, 2, 4, 8, 16), col(100, 200, 300, 400, 500)
    d, f = flags(0, 0, 0, 0, 0), flags(0, 0, 1, 0, 0)  # obs 2 starts a new episode, no done
    t, valid = n_step_targets(r, d, f, v, G, n=2)
    torch.testing.assert_close(t[0], col(1 + G * 200)[0])  # shortened to 1 step
    assert valid.tolist() == [[True], [False], [True]]  # step 1 has no stored next obs
    torch.testing.assert_close(t[2], col(4 + G * 8 + G**2 * 500)[0])


def test_later_terms_are_paid_after_the_first_step_only() -> None:
    """n = 2, no dones: target_t = r_t + γ (r_{t+1} + later_{t+1}) + γ² v_{t+2}."""
    r, later, v = col(1, 2, 3, 4), col(10, 20, 30, 40), col(0, 0, 100, 200)
    got, valid = n_step_targets(r, flags(0, 0, 0, 0), flags(0, 0, 0, 0), v, 0.5, 2, later)
    torch.testing.assert_close(got, col(1 + 0.5 * 22 + 25, 2 + 0.5 * 33 + 50))
    assert valid.all()


def test_value_rescale_inverts() -> None:
    x = torch.linspace(-500, 500, 101, dtype=torch.float64)
    torch.testing.assert_close(inverse_value_rescale(value_rescale(x)), x)


def test_munchausen_terms_by_hand() -> None:
    """π = softmax(Q/τ) of Q = (1, 0), τ 0.5: log π = (-log(1+e^-2), -log(1+e^2))."""
    q = torch.tensor([[[1.0, 0.0]], [[1.0, 0.0]]])
    bonus, entropy, soft_v = munchausen_terms(q, torch.tensor([[0], [1]]), tau=0.5, alpha=0.9)
    neg_log_pi = torch.tensor([[np.log1p(np.exp(-2.0))], [np.log1p(np.exp(2.0))]]).float()
    torch.testing.assert_close(entropy, 0.5 * neg_log_pi)
    torch.testing.assert_close(bonus, torch.tensor([[-0.9 * 0.5 * float(neg_log_pi[0, 0])], [-0.9]]))
    torch.testing.assert_close(soft_v, torch.full((2, 1), 0.5 * float(neg_log_pi[1, 0])))
    cold_bonus, _, cold_v = munchausen_terms(q, torch.tensor([[0], [0]]), tau=1e-3, alpha=0.9)
    torch.testing.assert_close(cold_v, torch.ones(2, 1))  # τ -> 0: the hard max
    torch.testing.assert_close(cold_bonus, torch.zeros(2, 1))  # and no bonus for the argmax


def tiny_cfg(**kw) -> AgentConfig:
    base = {"burn_in": 2, "seq_len": 5, "n_step": 2, "period": 2, "batch_size": 4, "lr": 1e-3}
    return AgentConfig(**{**base, **kw})


def filled_replay(
    cfg: AgentConfig, net: QNetwork, steps: int = 40, envs: int = 2
) -> SequenceReplay:
    rng = np.random.default_rng(0)
    replay = SequenceReplay(envs, envs * 64, cfg.seq_len, cfg.burn_in, cfg.n_step, cfg.period,
                            net.state_size, 24, seed=0)  # fmt: skip
    for t in range(steps):
        obs = {
            "screen": rng.integers(0, 4, (envs, 72, 80), dtype=np.uint8),
            "map_id": rng.integers(0, 256, envs),
            "features": rng.standard_normal((envs, 24)).astype(np.float32),
        }
        replay.add(obs, rng.integers(0, 7, envs), rng.standard_normal(envs).astype(np.float32),
                   np.zeros(envs, bool), np.full(envs, t == 0),
                   rng.standard_normal((envs, net.state_size)).astype(np.float32))  # fmt: skip
    return replay


@pytest.fixture()
def learner() -> Learner:
    torch.manual_seed(0)
    return Learner(QNetwork(model_config("slim")), tiny_cfg(target_update_interval=3), "cpu")


def test_burn_in_starts_from_the_stored_state(learner: Learner) -> None:
    batch = filled_replay(learner.cfg, learner.net).sample(4)
    with torch.no_grad():
        q_a, tq_a = learner.unroll(batch)
        batch.states = batch.states + 1.0
        q_b, tq_b = learner.unroll(batch)
    assert not torch.allclose(q_a, q_b) and not torch.allclose(tq_a, tq_b)
    assert q_a.shape[0] == learner.cfg.window - learner.cfg.burn_in


def test_adam_epsilon_reaches_the_optimizer() -> None:
    """`--adam-eps` is the optimizer's: at ~1e-5 gradients per weight, 1e-3 stalls learning."""
    learner = Learner(QNetwork(TINY), tiny_cfg(adam_eps=1e-6), "cpu")
    assert learner.optimizer.param_groups[0]["eps"] == 1e-6


def test_update_changes_weights_and_reports_metrics(learner: Learner) -> None:
    batch = filled_replay(learner.cfg, learner.net).sample(4)
    before = [p.detach().clone() for p in learner.net.parameters()]
    m = learner.update(batch)
    assert {"losses/td_loss", "losses/q_mean", "losses/grad_norm"} <= set(m)
    assert m["losses/nonfinite"] == 0.0 and learner.updates == 1
    assert any(not torch.equal(a, b) for a, b in zip(before, learner.net.parameters()))


def test_nonfinite_loss_skips_the_update(learner: Learner) -> None:
    batch = filled_replay(learner.cfg, learner.net).sample(4)
    batch.rewards[learner.cfg.burn_in + 1, 0] = float("nan")
    before = [p.detach().clone() for p in learner.net.parameters()]
    m = learner.update(batch)
    assert m["losses/nonfinite"] == 1.0 and learner.nonfinite_updates == 1 and learner.updates == 0
    assert all(torch.equal(a, b) for a, b in zip(before, learner.net.parameters()))
    assert not learner.optimizer.state  # Adam moments untouched


def test_target_syncs_every_k_updates(learner: Learner) -> None:
    replay = filled_replay(learner.cfg, learner.net)

    def same() -> bool:
        return all(torch.equal(a, b) for a, b in zip(learner.net.parameters(),
                                                     learner.target.parameters()))  # fmt: skip

    learner.update(replay.sample(4))
    learner.update(replay.sample(4))
    assert not same()
    learner.update(replay.sample(4))
    assert same()


def test_state_dict_loads_with_weights_only(learner: Learner) -> None:
    replay = filled_replay(learner.cfg, learner.net)
    learner.update(replay.sample(4))
    buf = io.BytesIO()
    torch.save(learner.state_dict(), buf)
    buf.seek(0)
    d = torch.load(buf, weights_only=True)
    other = Learner(QNetwork(model_config("slim")), learner.cfg, "cpu")
    other.load_state_dict(d)
    assert other.updates == 1
    batch = replay.sample(4)
    m1, m2 = learner.update(batch), other.update(batch)
    assert m1["losses/td_loss"] == pytest.approx(m2["losses/td_loss"], rel=1e-5)
    for a, b in zip(learner.net.parameters(), other.net.parameters()):
        torch.testing.assert_close(a, b)


class TwoStepChain:
    """Episode = 2 steps. Step A (map 0): action 2 pays 0.5. Step B (map 1): action 1 pays 1, ends."""

    def __init__(self, envs: int) -> None:
        self.phase = np.zeros(envs, np.int64)

    def obs(self) -> dict[str, np.ndarray]:
        n = len(self.phase)
        return {"screen": np.zeros((n, 72, 80), np.uint8), "map_id": self.phase.copy(),
                "features": np.zeros((n, 24), np.float32)}  # fmt: skip

    def step(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        at_a = self.phase == 0
        rewards = np.where(at_a, 0.5 * (actions == 2), 1.0 * (actions == 1)).astype(np.float32)
        dones = ~at_a
        self.phase = np.where(at_a, 1, 0)
        return rewards, dones


def chain_fixed_point(a_actions: np.ndarray, b_rewards: np.ndarray, n_step: int) -> torch.Tensor:
    """The Q-values the learner must converge to on uniformly random chain data, (2, 7).

    Q(B, a) = r_B(a): the episode ends after B. At A, n = 1 bootstraps from max_a Q(B, a) = 1,
    which is Q*. n >= 2 sums the reward actually taken at B (R2D2's n-step returns carry no
    off-policy correction), so Q(A, a) = r_A(a) + γ * mean r_B after taking a at A, and then
    stops at the done: bootstrapping past it would add γ² V(next A) on top.
    """
    q = torch.zeros(2, 7)
    q[1, 1] = 1.0
    for a in range(7):
        after = 1.0 if n_step == 1 else float(b_rewards[a_actions == a].mean())
        q[0, a] = 0.5 * (a == 2) + 0.9 * after
    return q


def train_on_chain(cfg: AgentConfig) -> tuple[QNetwork, np.ndarray, np.ndarray]:
    """The net after 350 updates on uniformly random TwoStepChain data, and the data's
    actions at A and rewards at B."""
    torch.manual_seed(0)
    envs = 4
    net = QNetwork(TINY)
    actor, env = Actor(net, envs, seed=0), TwoStepChain(envs)
    replay = SequenceReplay(envs, envs * 200, cfg.seq_len, cfg.burn_in, cfg.n_step, cfg.period,
                            net.state_size, 24, seed=0)  # fmt: skip
    firsts = np.ones(envs, bool)
    a_actions, b_rewards = [], []
    for t in range(150):
        obs = env.obs()
        actions, states = actor.act(obs, 1.0, firsts)
        rewards, dones = env.step(actions)
        replay.add(obs, actions, rewards, dones, firsts, states)
        (b_rewards if t % 2 else a_actions).append(rewards if t % 2 else actions)
        firsts = dones
    a_actions, b_rewards = np.concatenate(a_actions[:75]), np.concatenate(b_rewards)
    learner = Learner(net, cfg, "cpu")
    for i in range(350):
        if i == 250:  # anneal: n-step targets are noisy, a smaller step settles on their mean
            for group in learner.optimizer.param_groups:
                group["lr"] = 1e-3
        m = learner.update(replay.sample(cfg.batch_size))
    assert learner.nonfinite_updates == 0 and np.isfinite(m["losses/td_loss"])
    return net, a_actions, b_rewards


def chain_q(net: QNetwork) -> torch.Tensor:
    """Q (in return units) at the chain's two steps, (2, 7)."""
    episode = {"screen": torch.zeros(2, 1, 72, 80, dtype=torch.uint8),
               "map_id": torch.tensor([[0], [1]]), "features": torch.zeros(2, 1, 24)}  # fmt: skip
    with torch.no_grad():
        q, _ = net.sequence(episode, net.initial_state(1), torch.tensor([[True], [False]]))
    return inverse_value_rescale(q[:, 0])


@pytest.mark.parametrize("n_step", [1, 2])
def test_learns_two_step_chain(n_step: int) -> None:
    cfg = tiny_cfg(gamma=0.9, n_step=n_step, batch_size=16, target_update_interval=20, lr=1e-2)
    net, a_actions, b_rewards = train_on_chain(cfg)
    q = chain_q(net)
    assert q[0].argmax() == 2 and q[1].argmax() == 1
    expected = chain_fixed_point(a_actions, b_rewards, n_step)
    torch.testing.assert_close(q, expected, atol=0.1, rtol=0)


@pytest.mark.parametrize("n_step", [1, 2])
def test_munchausen_widens_the_action_gap_and_corrects_n_step_returns(n_step: int) -> None:
    """At B (the episode's last step) Q(B, a) = r_B(a) + α·clip(τ log π(a|B)): the worse
    actions, improbable under softmax(Q/τ), are paid the clipped -α on top of their reward, so
    the gap from the best action grows from 1 to 1 + α. At A the soft value of B (≈ 1) is
    recovered even from 2-step returns of random actions: the -τ log π of B's action (≈ V(B) -
    Q(B, a)) pays back what a worse action at B lost, where plain n-step returns keep the
    behaviour's mean (0.5 + 0.9 · 1/7, the chain's fixed point)."""
    cfg = {"gamma": 0.9, "n_step": n_step, "batch_size": 16, "target_update_interval": 20,
           "lr": 1e-2}  # fmt: skip
    net, a_actions, b_rewards = train_on_chain(tiny_cfg(**cfg, munchausen=0.9))
    q = chain_q(net)
    expected = torch.full((2, 7), -0.9)
    expected[0], expected[0, 2], expected[1, 1] = 0.0, 0.5 + 0.9 * 1.0, 1.0
    torch.testing.assert_close(q, expected, atol=0.1, rtol=0)
    plain = chain_fixed_point(a_actions, b_rewards, n_step)
    assert float(plain[0, 2]) == pytest.approx(1.4 if n_step == 1 else 0.63, abs=0.05)
