"""RND curiosity: a predictor learns a fixed random network's features of the screen, so its
error is high on screens rarely trained on, i.e. novel across the whole run.

Errors are normalised by running statistics; everything in `state_dict` is a tensor, so
`torch.load(weights_only=True)` restores it and a resumed run continues where it left off.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from torch import nn

from daddy.game.spec import NUM_SHADES, SCREEN_SHAPE
from daddy.intrinsic.config import IntrinsicConfig

SCREEN_H, SCREEN_W = SCREEN_SHAPE
SCREEN_LEVELS = float(NUM_SHADES - 1)  # screen pixels are shades 0..3


class RunningMeanStd:
    """Mean and variance over every sample seen (Chan's parallel update), kept as tensors."""

    def __init__(self, shape: tuple[int, ...] = (), device: torch.device | str = "cpu") -> None:
        self.mean = torch.zeros(shape, dtype=torch.float64, device=device)
        self.var = torch.ones(shape, dtype=torch.float64, device=device)
        self.count = torch.tensor(1e-4, dtype=torch.float64, device=device)

    def update(self, x: torch.Tensor) -> None:
        """Fold a batch (first dim = samples) into the statistics."""
        x = x.to(torch.float64)
        n = x.shape[0]
        if n == 0:
            return
        b_mean = x.mean(0)
        b_var = x.var(0, unbiased=False)
        delta = b_mean - self.mean
        total = self.count + n
        self.mean = self.mean + delta * n / total
        m2 = self.var * self.count + b_var * n + delta.square() * self.count * n / total
        self.var = m2 / total
        self.count = total

    @property
    def std(self) -> torch.Tensor:
        return torch.sqrt(self.var + 1e-8)

    def state_dict(self) -> dict[str, torch.Tensor]:
        return {"mean": self.mean.clone(), "var": self.var.clone(), "count": self.count.clone()}

    def load_state_dict(self, d: Mapping[str, torch.Tensor]) -> None:
        device = self.mean.device
        if tuple(d["mean"].shape) != tuple(self.mean.shape):
            raise ValueError(
                f"running statistics have shape {tuple(d['mean'].shape)}, expected "
                f"{tuple(self.mean.shape)}: the checkpoint comes from a different screen size"
            )
        self.mean = d["mean"].to(device, torch.float64).clone()
        self.var = d["var"].to(device, torch.float64).clone()
        self.count = d["count"].to(device, torch.float64).clone()


def _screen_trunk() -> nn.Sequential:
    """Small CNN over one 72x80 screen → 32*5*6 features (Atari-style strides).

    Half the RND paper's channels: it runs on every env step in the acting loop, where it cost
    more than the agent's own network; a Game Boy screen of 4 shades needs far less capacity
    than an Atari frame to stay hard to predict."""
    return nn.Sequential(
        nn.Conv2d(1, 16, 8, stride=4), nn.LeakyReLU(),
        nn.Conv2d(16, 32, 4, stride=2), nn.LeakyReLU(),
        nn.Conv2d(32, 32, 3, stride=1), nn.LeakyReLU(),
        nn.Flatten(),
    )  # fmt: skip


_TRUNK_OUT = 32 * 5 * 6


class RNDPredictor(nn.Module):
    """Deeper than the target (as in the RND paper) so it can fit it; `embed` feeds knn novelty."""

    def __init__(self, out_dim: int) -> None:
        super().__init__()
        self.trunk = _screen_trunk()
        self.embed = nn.Sequential(nn.Linear(_TRUNK_OUT, 256), nn.ReLU())
        self.head = nn.Sequential(nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, out_dim))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        e = self.embed(self.trunk(x))
        return self.head(e), e


class RND:
    """Random network distillation on the screen, with observation and error normalisation.

    `observe` (each vector step) updates the screen statistics and the error statistics and
    returns raw errors; `reward` returns them divided by the running error std; `train_step`
    (on replayed screens) fits the predictor.
    """

    def __init__(self, cfg: IntrinsicConfig, device: torch.device | str = "cpu") -> None:
        self.cfg = cfg
        self.device = torch.device(device)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(cfg.rnd_seed)
            self.target = nn.Sequential(_screen_trunk(), nn.Linear(_TRUNK_OUT, cfg.rnd_embed_dim))
            self.predictor = RNDPredictor(cfg.rnd_embed_dim)
        self.target.to(self.device).requires_grad_(False).eval()
        self.predictor.to(self.device)
        self.optimizer = torch.optim.Adam(self.predictor.parameters(), lr=cfg.rnd_lr)
        self.obs_rms = RunningMeanStd((1, SCREEN_H, SCREEN_W), self.device)
        self.err_rms = RunningMeanStd((), self.device)
        self.last_embedding: torch.Tensor | None = None  # of the latest `observe` batch
        self._observed = 0  # `observe` calls; checkpointed so resumes fold in the same steps

    # -- inputs --
    def _screens(self, obs: Mapping[str, Any] | np.ndarray | torch.Tensor) -> torch.Tensor:
        """uint8 shades (B,72,80) or (..., 72, 80) → float (N,1,72,80) on the device."""
        screens = obs["screen"] if isinstance(obs, Mapping) else obs
        x = torch.as_tensor(np.asarray(screens) if not torch.is_tensor(screens) else screens)
        if x.ndim < 2 or tuple(x.shape[-2:]) != (SCREEN_H, SCREEN_W):
            raise ValueError(
                f"RND expects screens shaped (..., {SCREEN_H}, {SCREEN_W}), got {tuple(x.shape)}"
            )
        x = x.reshape(-1, 1, SCREEN_H, SCREEN_W).to(self.device, torch.float32)
        return x / SCREEN_LEVELS

    def _normalise(self, x: torch.Tensor) -> torch.Tensor:
        mean = self.obs_rms.mean.to(torch.float32)
        std = self.obs_rms.std.to(torch.float32)
        clip = self.cfg.rnd_obs_clip
        return ((x - mean) / std).clamp(-clip, clip)

    def _errors(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-sample squared prediction error (mean over features) and predictor embeddings."""
        z = self._normalise(x)
        pred, emb = self.predictor(z)
        return (pred - self.target(z)).square().mean(1), emb

    # -- public --
    @torch.no_grad()
    def errors(self, obs: Mapping[str, Any] | np.ndarray | torch.Tensor) -> np.ndarray:
        """Raw prediction errors (B,), changing no state (for tests and diagnostics)."""
        err, _ = self._errors(self._screens(obs))
        return err.cpu().numpy()

    @torch.no_grad()
    def observe(self, obs: Mapping[str, Any] | np.ndarray | torch.Tensor) -> np.ndarray:
        """Fold this step's screens into the statistics; return raw errors (B,)."""
        x = self._screens(obs)
        # Per-pixel screen statistics settle within a few thousand steps and cost as much as a
        # forward pass to update, so they are folded in on every 4th call only.
        self._observed += 1
        if self._observed % 4 == 1:
            self.obs_rms.update(x)
        err, emb = self._errors(x)
        self.err_rms.update(err)
        self.last_embedding = emb
        return err.cpu().numpy()

    def normalise_errors(self, err: np.ndarray) -> np.ndarray:
        """err / running mean error: the RND reward, about 1 for a typical screen.

        Scale-free across games and training time. Plain err / std paid every screen about
        mean/std, ~10 per step early on (errors cluster tightly), which drowned the game's own
        reward; relative to the mean, familiar screens fall towards 0 and new ones stay > 1."""
        return (err / max(float(self.err_rms.mean), 1e-8)).astype(np.float32)

    def ngu_modulation(self, err: np.ndarray) -> np.ndarray:
        """NGU's life-long multiplier clip(1 + (err - mu) / sigma, 1, L)."""
        z = (err - float(self.err_rms.mean)) / float(self.err_rms.std)
        return np.clip(1.0 + z, 1.0, self.cfg.ngu_max_modulation).astype(np.float32)

    def reward(self, obs: Mapping[str, Any] | np.ndarray | torch.Tensor) -> np.ndarray:
        """Normalised RND reward of a batch of observations (B,); updates running statistics."""
        return self.normalise_errors(self.observe(obs))

    def train_step(self, screens: np.ndarray | torch.Tensor) -> float:
        """One Adam step of the predictor on replayed screens (any leading dims); returns loss."""
        x = self._screens(screens)
        err, _ = self._errors(x)
        loss = err.mean()
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        return float(loss.detach())

    def state_dict(self) -> dict[str, Any]:
        return {
            "target": self.target.state_dict(),
            "predictor": self.predictor.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "obs_rms": self.obs_rms.state_dict(),
            "err_rms": self.err_rms.state_dict(),
            "observed": self._observed,
        }

    def load_state_dict(self, d: Mapping[str, Any]) -> None:
        self.target.load_state_dict(d["target"])
        self.predictor.load_state_dict(d["predictor"])
        self.optimizer.load_state_dict(d["optimizer"])
        self.obs_rms.load_state_dict(d["obs_rms"])
        self.err_rms.load_state_dict(d["err_rms"])
        self._observed = int(d.get("observed", 0))  # checkpoints before 2026-12 lack it
