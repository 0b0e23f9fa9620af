"""The learner: burn-in, n-step double-Q targets with value rescaling, one guarded Adam step.

With `munchausen` > 0 the targets are Munchausen-DQN's (Vieillard et al. 2020): the target
net's soft-max policy π = softmax(Q/τ) pays each step α·τ·log π(a_t|s_t) (clipped to
[MUNCHAUSEN_CLIP, 0]) and bootstraps from the soft value τ·logsumexp(Q/τ) instead of the max;
an n-step return also pays the soft return's -τ·log π of every action after the first (without
it, each off-policy action in the n steps would cost its full Munchausen penalty).
The bonus penalises actions the policy already finds worse, which widens the action gap (by
1/(1-α) at the fixed point): meant for Q-values whose gaps are too small to steer by.

All learner state (online net, target net, optimizer, counters) comes out of one `state_dict`
of tensors and numbers, so a checkpoint is a single `torch.save` and loads with
`torch.load(weights_only=True)`.
"""

from __future__ import annotations

import copy
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import torch
from torch.nn import functional as F

from daddy.agent.actor import AgentConfig
from daddy.agent.networks import QNetwork
from daddy.agent.replay import Batch

RESCALE_EPS = 1e-3
MUNCHAUSEN_CLIP = -1.0
"""lower bound of the Munchausen bonus τ·log π (the paper's l0): log π of a near-impossible
action is unbounded below"""


def value_rescale(x: torch.Tensor, eps: float = RESCALE_EPS) -> torch.Tensor:
    """R2D2's h(x) = sign(x)(sqrt(|x|+1) - 1) + eps*x: squashes large returns."""
    return torch.sign(x) * (torch.sqrt(x.abs() + 1) - 1) + eps * x


def inverse_value_rescale(x: torch.Tensor, eps: float = RESCALE_EPS) -> torch.Tensor:
    """h^-1(x), so h^-1(h(x)) == x."""
    root = (torch.sqrt(1 + 4 * eps * (x.abs() + 1 + eps)) - 1) / (2 * eps)
    return torch.sign(x) * (root**2 - 1)


def n_step_targets(
    rewards: torch.Tensor, dones: torch.Tensor, firsts: torch.Tensor,
    bootstrap: torch.Tensor, gamma: float, n: int, later: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:  # fmt: skip
    """n-step returns for t in [0, T-n) of (T, B) sequences → (targets, valid), both (T-n, B).

    target_t = sum_{k<m} γ^k r_{t+k} + γ^m bootstrap_{t+m}, with m = n normally. A done at
    t+k ends the sum after r_{t+k} with no bootstrap. An episode boundary without a done
    (firsts[t+k+1] and not dones[t+k]: a truncation, its final obs is not stored) ends the
    return early at the episode's last stored obs t+k: m = k. When that obs is t itself (k=0)
    there is nothing to bootstrap from and valid_t is False: leave it out of the loss.
    `bootstrap` holds V(s_t) (e.g. Q_target(s_t, argmax Q_online(s_t))) in return units.
    `later` (T, B), if given, is added to the rewards of every step after the first (k >= 1):
    the soft return's -τ log π of the actions that follow the one being valued.
    """
    T = rewards.shape[0]
    if T <= n:
        raise ValueError(f"sequences of {T} steps have no full {n}-step target; need T > n")
    L = T - n
    dones, firsts = dones.bool(), firsts.bool()
    ret = torch.zeros_like(rewards[:L])
    boot = torch.zeros_like(ret)
    running = torch.ones_like(ret, dtype=torch.bool)
    valid = torch.ones_like(running)
    disc = 1.0
    for k in range(n):
        done_k = dones[k : k + L]
        truncated = running & firsts[k + 1 : k + 1 + L] & ~done_k
        if k == 0:
            valid &= ~truncated
        else:
            boot = boot + torch.where(truncated, disc * bootstrap[k : k + L], 0.0)
        running = running & ~truncated
        r_k = rewards[k : k + L]
        if later is not None and k > 0:
            r_k = r_k + later[k : k + L]
        ret = ret + torch.where(running, disc * r_k, 0.0)
        running = running & ~done_k
        disc *= gamma
    boot = boot + torch.where(running, disc * bootstrap[n : n + L], 0.0)
    return ret + boot, valid


def munchausen_terms(
    q: torch.Tensor, actions: torch.Tensor, tau: float, alpha: float
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Of Q-values `q` (T, B, A) in return units and the actions taken (T, B), each (T, B):
    the Munchausen bonus α·clip(τ·log π(a_t|s_t)), the soft return's -τ·log π(a_t|s_t) (paid
    for the actions after the first of an n-step return) and the soft value τ·logsumexp(Q/τ)."""
    log_pi = torch.log_softmax(q / tau, dim=-1)
    taken = tau * log_pi.gather(-1, actions.unsqueeze(-1)).squeeze(-1)
    bonus = alpha * taken.clamp(min=MUNCHAUSEN_CLIP, max=0.0)
    return bonus, -taken, tau * torch.logsumexp(q / tau, dim=-1)


class Learner:
    """Online net + target net + Adam, updated from sampled `Batch`es."""

    def __init__(
        self, net: QNetwork, cfg: AgentConfig, device: torch.device | str | None = None
    ) -> None:
        self.device = torch.device(device) if device is not None else next(net.parameters()).device
        self.cfg = cfg
        self.net = net.to(self.device)
        self.target = copy.deepcopy(net).requires_grad_(False)
        self.optimizer = torch.optim.Adam(net.parameters(), lr=cfg.lr, eps=cfg.adam_eps)
        self.updates = 0  # optimizer steps applied
        self.nonfinite_updates = 0  # updates skipped because something was NaN/inf

    def unroll(self, batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
        """Burn in both nets from the stored state (no grad), then unroll the rest.

        Returns online Q over steps [burn_in, T) with grad, and target Q over all T steps.
        """
        obs, resets, state, b = batch.obs, batch.firsts, batch.states, self.cfg.burn_in
        with torch.no_grad():
            q_target, _ = self.target.sequence(obs, state, resets)
            if b > 0:
                _, state = self.net.sequence({k: v[:b] for k, v in obs.items()}, state, resets[:b])
        q_online, _ = self.net.sequence({k: v[b:] for k, v in obs.items()}, state, resets[b:])
        return q_online, q_target

    def _bootstrap(
        self, batch: Batch, q_online: torch.Tensor, q_target: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor]:
        """Rewards (Munchausen's bonus added), the term `n_step_targets` adds after the first
        step (Munchausen's -τ log π; None for double-Q) and V(s_t) for t >= burn-in, all in
        return units."""
        cfg, b = self.cfg, self.cfg.burn_in
        if cfg.munchausen > 0:
            q_ret = inverse_value_rescale(q_target) if cfg.value_rescale else q_target
            bonus, entropy, soft_v = munchausen_terms(
                q_ret, batch.actions, cfg.munchausen_tau, cfg.munchausen
            )
            return batch.rewards + bonus, entropy, soft_v[b:]
        if cfg.double_q:
            best = q_online.argmax(dim=-1, keepdim=True)
            v = q_target[b:].gather(-1, best).squeeze(-1)
        else:
            v = q_target[b:].max(dim=-1).values
        return batch.rewards, None, inverse_value_rescale(v) if cfg.value_rescale else v

    def _targets(
        self, batch: Batch, q_online: torch.Tensor, q_target: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Rescaled n-step targets (double-Q or Munchausen) and validity for the trace steps."""
        cfg, b = self.cfg, self.cfg.burn_in
        with torch.no_grad():
            rewards, later, v = self._bootstrap(batch, q_online, q_target)
            v = torch.cat([torch.zeros_like(q_target[:b, :, 0]), v])  # burn-in never bootstraps
            targets, valid = n_step_targets(
                rewards, batch.dones, batch.firsts, v, cfg.gamma, cfg.n_step, later
            )
            targets, valid = targets[b:], valid[b:]
            if cfg.value_rescale:
                targets = value_rescale(targets)
        return targets, valid

    def update(self, batch: Batch) -> dict[str, float]:
        """One gradient step on a batch; skipped (and counted) if anything is non-finite."""
        cfg = self.cfg
        if batch.rewards.shape[0] != cfg.window:
            raise ValueError(f"batch has {batch.rewards.shape[0]} steps, config expects "
                             f"seq_len + n_step = {cfg.window}")  # fmt: skip
        batch = batch.to(self.device)
        q_online, q_target = self.unroll(batch)
        targets, valid = self._targets(batch, q_online, q_target)
        q_trace = q_online[: cfg.trace_len]
        actions = batch.actions[cfg.burn_in : cfg.seq_len].unsqueeze(-1)
        q_taken = q_trace.gather(-1, actions).squeeze(-1)
        w = valid.float()
        err = F.huber_loss if cfg.loss == "huber" else F.mse_loss
        loss = (err(q_taken, targets, reduction="none") * w).sum() / w.sum().clamp(min=1.0)
        metrics = {
            "losses/td_loss": loss.item(),
            "losses/q_mean": q_taken.detach().mean().item(),
            "losses/target_mean": targets.mean().item(),
            "losses/valid_fraction": w.mean().item(),
        }
        finite = torch.isfinite(loss) and bool(torch.isfinite(q_online).all())
        grad_norm = torch.tensor(float("nan"))
        self.optimizer.zero_grad(set_to_none=True)
        if finite:
            loss.backward()
            grad_norm = torch.nn.utils.clip_grad_norm_(self.net.parameters(), cfg.grad_clip)
            finite = bool(torch.isfinite(grad_norm))
        if finite:
            self.optimizer.step()
            self.updates += 1
            if self.updates % cfg.target_update_interval == 0:
                self.sync_target()
        else:
            self.optimizer.zero_grad(set_to_none=True)
            self.nonfinite_updates += 1
        metrics.update({
            "losses/grad_norm": float(grad_norm),
            "losses/nonfinite": 0.0 if finite else 1.0,
            "learner/updates": float(self.updates),
            "learner/nonfinite_updates": float(self.nonfinite_updates),
        })  # fmt: skip
        return metrics

    def sync_target(self) -> None:
        """Copy the online net into the target net: targets move only every K updates."""
        self.target.load_state_dict(self.net.state_dict())

    def state_dict(self) -> dict[str, Any]:
        """Online, target, optimizer and counters: tensors and numbers only."""
        return {
            "online": self.net.state_dict(),
            "target": self.target.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "updates": self.updates,
            "nonfinite_updates": self.nonfinite_updates,
        }

    def load_state_dict(self, d: dict[str, Any]) -> None:
        """Restore `state_dict`'s output, so training continues as if never stopped."""
        self.net.load_state_dict(d["online"])
        self.target.load_state_dict(d["target"])
        self.optimizer.load_state_dict(d["optimizer"])
        self.updates = int(d["updates"])
        self.nonfinite_updates = int(d["nonfinite_updates"])


class BackgroundUpdates:
    """The learner's updates of one loop turn on a second thread, and an actor copy of the net.

    Why: on CPU the trainer's main process, not the emulators, limits env steps/s, and half of
    its work is learning. Torch releases the GIL inside its kernels, so updates running here
    overlap acting, intrinsic rewards, bookkeeping and the emulators' step on another core.
    Batches are sampled on the caller's thread (the replay is not shared across threads) and
    `wait()` is called once per loop turn, so the number and order of updates per env step
    stay exactly what they were: a resumed run continues as an uninterrupted one would.
    The actor acts with `acting_net`, a copy refreshed after every turn with updates, so it
    never reads weights that the optimizer is halfway through writing.
    """

    def __init__(self, learner: Learner) -> None:
        self.learner = learner
        self.acting_net = copy.deepcopy(learner.net).requires_grad_(False)
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="learner")
        self._job: Future | None = None

    def submit(self, batches: list[Batch]) -> None:
        """Start `learner.update` on each batch, in order (finish any earlier job first)."""
        if self._job is not None:
            raise RuntimeError("submit before wait: one job per loop turn")
        if batches:
            self._job = self._pool.submit(lambda: [self.learner.update(b) for b in batches])

    def wait(self) -> list[dict[str, float]]:
        """The metrics of the submitted updates (after they are done); refreshes `acting_net`."""
        if self._job is None:
            return []
        job, self._job = self._job, None
        metrics = job.result()  # re-raises the update's exception here
        self.sync_acting_net()
        return metrics

    def sync_acting_net(self) -> None:
        """Copy the online weights into the acting net (after a resume, too)."""
        with torch.no_grad():
            for dst, src in zip(self.acting_net.parameters(), self.learner.net.parameters()):
                dst.copy_(src)
            for dst, src in zip(self.acting_net.buffers(), self.learner.net.buffers()):
                dst.copy_(src)

    def close(self) -> None:
        """Finish the running job (its result is dropped) and stop the thread."""
        if self._job is not None:
            self._job.exception()
            self._job = None
        self._pool.shutdown(wait=True)
