"""The agent's options (`AgentConfig`), its exploration schedule, and the acting side (`Actor`).

The actor keeps one recurrent state per env and picks ε-greedy actions with one RNG per env, so
env i's random choices do not depend on how many envs run beside it. It returns the state
BEFORE each step: that is what the replay stores at sequence starts for the learner's burn-in.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch

from daddy.agent.networks import QNetwork, as_tensors
from daddy.agent.rng_state import make_rng, rng_from_array, rng_to_array

EpsilonKind = Literal["linear", "exponential"]


@dataclass
class AgentConfig:
    """Recurrent Q-learning (R2D2-style) hyperparameters.

    A field that is also a train_big option has the option's name (TrainConfig.agent_config
    passes them by name); `period`, `grad_clip`, `loss` and `double_q` are not options.
    """

    gamma: float = 0.99
    """discount factor"""
    n_step: int = 5
    """steps summed before bootstrapping; 1 gives TD(0)"""
    burn_in: int = 20
    """steps unrolled without grad from the stored state to warm the recurrent state up"""
    seq_len: int = 60
    """steps per stored sequence, burn-in included (the trained trace is the rest)"""
    period: int = 20
    """a sequence (and its stored recurrent state) starts every `period` steps"""
    lr: float = 1e-4
    """Adam learning rate"""
    adam_eps: float = 1e-8
    """Adam epsilon. Not R2D2's 1e-3: the intrinsic rewards here (~0.03 a step) give gradients of
    ~2-5e-5 per weight, and an epsilon 20-50x above them shrinks every Adam step as much (the
    greedy policy then pressed one button for 60k+ steps, bench/README_learning.md)"""
    batch_size: int = 32
    """sequences per update"""
    target_update_interval: int = 1000
    """updates between copies of the online net into the target net"""
    grad_clip: float = 40.0
    """max global gradient norm"""
    loss: Literal["huber", "mse"] = "huber"
    """TD loss"""
    value_rescale: bool = True
    """R2D2's h(x) = sign(x)(sqrt(|x|+1)-1)+εx on targets, so large returns train stably"""
    double_q: bool = True
    """pick the bootstrap action with the online net, value it with the target net"""
    eps_schedule: EpsilonKind = "linear"
    """shape of the ε decay: "linear" or "exponential" (geometric from start to end)"""
    eps_start: float = 1.0
    """ε at step 0"""
    eps_end: float = 0.05
    """ε from `eps_decay_steps` on"""
    eps_decay_steps: int = 1_000_000
    """env steps over which ε moves from start to end"""
    act_temperature: float = 0.0
    """how non-random steps pick: 0 = argmax Q (ε-greedy); > 0 = sample softmax(z / T), z the
    env's Q-values standardised over actions (Boltzmann acting on a scale-free Q)"""
    eps_zeta: float = 0.0
    """how long a random action lasts: 0 = one step (ε-greedy); > 1 = held for n ~ zeta(μ)
    steps, μ this value (εz-greedy, Dabney et al. 2021: μ = 2), at most `HOLD_MAX`"""
    munchausen: float = 0.0
    """Munchausen-DQN's α: 0 = double-Q targets; > 0 = each step also pays α·τ·log π(a|s) of
    the target net's softmax(Q/τ) policy and bootstraps from its soft value (paper: 0.9)"""
    munchausen_tau: float = 0.03
    """Munchausen-DQN's τ, in return units (the paper's 0.03)"""

    def __post_init__(self) -> None:
        if not 0.0 <= self.gamma <= 1.0:
            raise ValueError(f"gamma must be in [0, 1], got {self.gamma}")
        for name in ("n_step", "period", "batch_size", "target_update_interval"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not 0 <= self.burn_in < self.seq_len:
            raise ValueError(f"need 0 <= burn_in < seq_len, got {self.burn_in} and {self.seq_len}")
        if self.lr <= 0 or self.adam_eps <= 0 or self.grad_clip <= 0:
            raise ValueError("lr, adam_eps and grad_clip must be > 0")
        if self.act_temperature < 0:
            raise ValueError(f"act_temperature must be >= 0, got {self.act_temperature}")
        check_zeta(self.eps_zeta)
        if not 0.0 <= self.munchausen < 1.0 or self.munchausen_tau <= 0:
            raise ValueError(f"munchausen must be in [0, 1) and munchausen_tau > 0, got "
                             f"{self.munchausen} and {self.munchausen_tau}")  # fmt: skip
        if self.loss not in ("huber", "mse"):
            raise ValueError(f"loss must be 'huber' or 'mse', got {self.loss!r}")
        self.epsilon_schedule()  # validates the ε fields

    @property
    def trace_len(self) -> int:
        """Steps per sequence that are trained on, after the burn-in."""
        return self.seq_len - self.burn_in

    @property
    def window(self) -> int:
        """Steps a sampled window holds: seq_len plus the n-step look-ahead."""
        return self.seq_len + self.n_step

    def epsilon_schedule(self) -> EpsilonSchedule:
        """The ε schedule these fields describe (built here so bad fields fail at config time)."""
        return EpsilonSchedule(
            self.eps_schedule, self.eps_start, self.eps_end, self.eps_decay_steps
        )


HOLD_MAX = 100
"""the longest an εz-greedy random action is held, in steps (zeta's tail is heavy)"""


def check_zeta(zeta: float, name: str = "eps_zeta") -> None:
    """εz-greedy's μ: 0 (off) or above 1 (zeta(μ) has no normalising constant at or below 1).
    `name` leads the message ("" where the caller names the setting itself)."""
    if zeta != 0.0 and not zeta > 1.0:
        lead = f"{name} " if name else ""
        raise ValueError(f"{lead}must be 0 (off) or > 1 (Dabney et al. use 2), got {zeta}")


class EpsilonSchedule:
    """ε over env steps: linear, or geometric (exponential) from `start` to `end`, then flat."""

    def __init__(self, kind: str, start: float, end: float, decay_steps: int) -> None:
        if kind not in ("linear", "exponential"):
            raise ValueError(f"epsilon kind must be 'linear' or 'exponential', got {kind!r}")
        if not 0.0 <= end <= start <= 1.0:
            raise ValueError(f"need 0 <= epsilon end <= start <= 1, got start={start}, end={end}")
        if kind == "exponential" and end <= 0.0:
            raise ValueError("exponential epsilon decay needs end > 0 (it is geometric)")
        if decay_steps < 1:
            raise ValueError(f"epsilon decay_steps must be >= 1, got {decay_steps}")
        self.kind, self.start, self.end, self.decay_steps = kind, start, end, decay_steps

    def value(self, step: int) -> float:
        """ε at env step `step`: a pure function of the step, so a resume needs no ε state."""
        frac = min(max(step, 0) / self.decay_steps, 1.0)
        if self.kind == "linear":
            return self.start + (self.end - self.start) * frac
        return self.start * math.exp(frac * math.log(self.end / self.start))


class PolicyStats:
    """What the acting policy did since the last `take`: the greedy actions' histogram, the
    share of actions drawn at random, the share that was not the argmax (ε's draws that differ
    from it, and Boltzmann's departures) and the Q-values' spread over actions.

    Why: "is the agent learning?" is first "does the greedy policy do anything but press one
    button?". An untrained net's argmax is nearly constant over states, so its steps are worth
    less than random ones; these tags show when that changes.
    """

    def __init__(self, num_actions: int) -> None:
        self.num_actions = num_actions
        self.restart()

    def restart(self) -> None:
        self.greedy = np.zeros(self.num_actions, np.int64)
        self.random_taken = self.off_argmax = self.n = 0
        self.spread_sum = self.gap_sum = 0.0

    def add(self, q: torch.Tensor, greedy: np.ndarray, randomised: int, taken: np.ndarray) -> None:
        """One acting step: Q (B, A), the greedy actions (B,), how many were replaced at random,
        the actions taken (B,)."""
        top2 = q.topk(min(2, q.shape[-1]), dim=-1).values
        self.greedy += np.bincount(greedy, minlength=self.num_actions)
        self.random_taken += randomised
        self.off_argmax += int((taken != greedy).sum())
        self.spread_sum += float((q.max(-1).values - q.min(-1).values).sum())
        self.gap_sum += float((top2[:, 0] - top2[:, -1]).sum())
        self.n += len(greedy)

    def take(self, names: tuple[str, ...]) -> dict[str, float]:
        """Tags over the steps since the last call (`policy/...`), then start counting anew."""
        if self.n == 0:
            return {}
        share = self.greedy / self.n
        nz = share[share > 0]
        out = {f"policy/greedy_{name}": float(v) for name, v in zip(names, share)}
        out |= {
            "policy/greedy_entropy": float(-(nz * np.log(nz)).sum() / np.log(self.num_actions)),
            "policy/random_share": self.random_taken / self.n,
            "policy/off_argmax_share": self.off_argmax / self.n,
            "policy/q_spread": self.spread_sum / self.n,
            "policy/q_gap": self.gap_sum / self.n,
        }
        self.restart()
        return out


def boltzmann_actions(q: torch.Tensor, temperature: float, uniforms: np.ndarray) -> np.ndarray:
    """Actions (B,) drawn by inverse CDF with `uniforms` (B,) from softmax(z / temperature), z
    each row of Q (B, A) standardised over actions.

    Why standardised: the Q-values' action gaps here are ~0.5-3% of their size and drift with
    the intrinsic rewards, so a temperature in Q units would be right at one step and wrong at
    the next; on z the temperature means the same all run (T = 1: an action 2.4 sd above the
    others gets ~3/4 of the draws; equal Q-values give uniform draws).
    """
    q = q.double()
    z = (q - q.mean(-1, keepdim=True)) / q.std(-1, keepdim=True).clamp_min(1e-12)
    cdf = torch.softmax(z / temperature, dim=-1).cumsum(-1).cpu().numpy()
    picks = (cdf < uniforms[:, None] * cdf[:, -1:]).sum(-1)
    return np.minimum(picks, q.shape[-1] - 1).astype(np.int64)


class Actor:
    """ε-greedy (or ε-Boltzmann, `temperature` > 0) acting with a recurrent state per env;
    with `zeta` > 1 each random action is held for a zeta-distributed number of steps
    (εz-greedy), because single random presses dither in place where held ones walk away."""

    def __init__(
        self, net: QNetwork, num_envs: int, device: torch.device | str = "cpu", seed: int = 0,
        temperature: float = 0.0, zeta: float = 0.0,
    ) -> None:  # fmt: skip
        if num_envs < 1:
            raise ValueError(f"num_envs must be >= 1, got {num_envs}")
        if temperature < 0:
            raise ValueError(f"temperature must be >= 0, got {temperature}")
        check_zeta(zeta)
        self.temperature, self.zeta = temperature, zeta
        self.hold = np.zeros((2, num_envs), np.int64)  # steps left to hold, the held action
        self.net, self.num_envs, self.device = net, num_envs, torch.device(device)
        self.state = net.initial_state(num_envs, self.device)
        self.rngs = [make_rng(s) for s in np.random.SeedSequence(seed).spawn(num_envs)]
        self.stats = PolicyStats(net.num_actions)

    def reset(self, env_ids: np.ndarray | list[int]) -> None:
        """Zero these envs' recurrent state: call when their episode starts."""
        ids = np.asarray(env_ids, dtype=np.int64)
        self.state[torch.as_tensor(ids, device=self.device)] = 0.0
        self.hold[:, ids] = 0  # a new episode starts with no held action

    @torch.no_grad()
    def act(
        self, obs: Mapping[str, object], epsilon: float | np.ndarray,
        firsts: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
        """Actions int64 (B,) and the recurrent states BEFORE this step, float32 (B, S).

        `firsts` (bool (B,)), if given, resets those envs first, the same as calling `reset`.
        """
        if firsts is not None:
            self.reset(np.flatnonzero(np.asarray(firsts)))
        eps = np.broadcast_to(np.asarray(epsilon, dtype=np.float64), (self.num_envs,))
        before = self.state
        q, self.state = self.net.step(as_tensors(obs, self.device), before)
        if q.shape[0] != self.num_envs:
            raise ValueError(f"observation batch has {q.shape[0]} envs, actor has {self.num_envs}")
        greedy = q.argmax(dim=-1).cpu().numpy().astype(np.int64)
        hot = self.temperature > 0
        # the same draws per env every step (ε's coin, a random action, Boltzmann's uniform when
        # hot): each env's stream stays aligned whatever the others do
        draws = [(rng.random(), rng.integers(self.net.num_actions), rng.random() if hot else 0.0)
                 for rng in self.rngs]  # fmt: skip
        if hot:
            actions = boltzmann_actions(q, self.temperature, np.array([d[2] for d in draws]))
        else:
            actions = greedy.copy()
        randomised = 0
        for i, (u, a, _) in enumerate(draws):
            if self.hold[0, i] > 0:  # εz-greedy: still holding a random action
                self.hold[0, i] -= 1
                actions[i], randomised = self.hold[1, i], randomised + 1
            elif u < eps[i]:
                actions[i], randomised = a, randomised + 1
                if self.zeta:
                    self.hold[:, i] = min(int(self.rngs[i].zipf(self.zeta)), HOLD_MAX) - 1, a
        self.stats.add(q.float(), greedy, randomised, actions)
        return actions, before.float().cpu().numpy()

    def state_dict(self) -> dict[str, np.ndarray]:
        """Recurrent states, per-env RNG states and held actions as plain arrays."""
        return {
            "states": self.state.float().cpu().numpy(),
            "rngs": np.stack([rng_to_array(r) for r in self.rngs]),
            "holds": self.hold.copy(),
        }

    def load_state_dict(self, d: Mapping[str, np.ndarray]) -> None:
        """Continue acting exactly where `state_dict` left off (same states, same random draws)."""
        states, rngs = np.asarray(d["states"]), np.asarray(d["rngs"])
        if states.shape != tuple(self.state.shape) or len(rngs) != self.num_envs:
            raise ValueError(
                f"actor checkpoint is for states {states.shape} / {len(rngs)} envs; this actor "
                f"has {tuple(self.state.shape)}: resume with the same --num-envs and model size"
            )
        self.state = torch.as_tensor(states, dtype=torch.float32, device=self.device).clone()
        self.rngs = [rng_from_array(w) for w in rngs]
        holds = d.get("holds")  # absent from checkpoints written before εz-greedy: none held
        self.hold = np.zeros_like(self.hold) if holds is None else np.asarray(holds, np.int64).copy()
