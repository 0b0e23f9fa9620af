"""The hierarchical recurrent Q-network: CNN → GRU (short) → LSTM (mid) → SSM (long) → dueling Q.

Three memories with three time scales: the GRU tracks the last few frames (menus, movement), the
LSTM gated mid-term context, and a diagonal linear state-space layer (LRU-style) keeps slowly
decaying traces over thousands of steps. The SSM is linear in its state, so a training unroll
computes it for all time steps at once with a log-depth associative scan instead of a Python
loop; `step` runs the same recurrence one step at a time for acting.

The whole recurrent state is ONE flat float tensor (B, state_size), laid out
`GRU h | LSTM h | LSTM c | SSM re | SSM im`, so the replay can store it as a plain array.
`ssm_hidden` counts the SSM's real state numbers: ssm_hidden/2 complex modes, stored as their
real and imaginary parts, so the long-term memory is as wide as the GRU's in floats (and the
large preset's stored state fits the replay's 1,600 bytes/step budget).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from daddy.game.spec import FEATURE_DIM, NUM_ACTIONS, NUM_MAPS, NUM_SHADES, SCREEN_SHAPE

MODEL_CONFIGS: dict[str, dict[str, object]] = {
    "slim": {
        "cnn_channels": [16, 32, 64],
        "gru_hidden": 128,
        "lstm_hidden": 128,
        "ssm_hidden": 128,
    },
    "large": {
        "cnn_channels": [32, 64, 128],
        "gru_hidden": 256,
        "lstm_hidden": 256,
        "ssm_hidden": 256,
    },
    # the ablation of the hierarchy (bench/learning.py daddy_gru): slim's CNN and GRU alone
    "slim_gru": {
        "cnn_channels": [16, 32, 64],
        "gru_hidden": 128,
        "lstm_hidden": 128,
        "ssm_hidden": 128,
        "hierarchy": False,
    },
}


@dataclass(frozen=True)
class ModelConfig:
    """Sizes of the hierarchical Q-network (a `MODEL_CONFIGS` preset plus small fixed extras)."""

    cnn_channels: tuple[int, int, int]
    """output channels of the three conv layers"""
    gru_hidden: int
    """short-term memory width"""
    lstm_hidden: int
    """mid-term memory width (h and c each)"""
    ssm_hidden: int
    """long-term memory width in real numbers (ssm_hidden/2 complex modes); must be even"""
    map_embed: int = 16
    """width of the map-id embedding"""
    feature_hidden: int = 64
    """width of the game-features MLP"""
    hierarchy: bool = True
    """False: the GRU alone feeds the head (no LSTM, no SSM; the ablation preset `slim_gru`)"""

    def __post_init__(self) -> None:
        if len(self.cnn_channels) != 3 or min(self.cnn_channels) < 1:
            raise ValueError(f"cnn_channels must be 3 positive ints, got {self.cnn_channels}")
        for name in ("gru_hidden", "lstm_hidden", "ssm_hidden", "map_embed", "feature_hidden"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        if self.ssm_hidden % 2:
            raise ValueError(f"ssm_hidden must be even (re|im halves), got {self.ssm_hidden}")


def model_config(size: str) -> ModelConfig:
    """The `ModelConfig` of a preset name ("slim" or "large")."""
    if size not in MODEL_CONFIGS:
        valid = ", ".join(sorted(MODEL_CONFIGS))
        raise ValueError(f"unknown model size {size!r}; choose one of: {valid}")
    preset = dict(MODEL_CONFIGS[size])
    preset["cnn_channels"] = tuple(preset["cnn_channels"])  # type: ignore[arg-type]
    known = {f.name for f in fields(ModelConfig)}
    return ModelConfig(**{k: v for k, v in preset.items() if k in known})  # type: ignore[arg-type]


def count_parameters(net: nn.Module) -> int:
    """Number of trainable scalars."""
    return sum(p.numel() for p in net.parameters() if p.requires_grad)


def as_tensors(obs: Mapping[str, object], device: torch.device | str) -> dict[str, torch.Tensor]:
    """Observation dict (numpy or torch) → tensors on `device` with the dtypes the net expects."""
    missing = {"screen", "map_id", "features"} - set(obs)
    if missing:
        raise KeyError(f"observation is missing {sorted(missing)}; need screen, map_id, features")

    def to(x: object, dtype: torch.dtype) -> torch.Tensor:
        """numpy without a copy when it can; the env's uint8 map ids become int64 indices."""
        t = torch.from_numpy(np.ascontiguousarray(x)) if isinstance(x, np.ndarray) else x
        return torch.as_tensor(t).to(device=device, dtype=dtype, non_blocking=True)

    return {
        "screen": to(obs["screen"], torch.uint8),
        "map_id": to(obs["map_id"], torch.long),
        "features": to(obs["features"], torch.float32),
    }


def _conv_out(size: int, kernel: int, stride: int) -> int:
    return (size - kernel) // stride + 1


class Encoder(nn.Module):
    """Screen CNN + map embedding + features MLP → one vector per observation."""

    KERNELS = ((8, 4), (4, 2), (3, 1))  # Nature-DQN geometry: 72x80 → 17x19 → 7x8 → 5x6

    def __init__(self, cfg: ModelConfig, feature_dim: int, out_dim: int) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c_in, h, w = 1, *SCREEN_SHAPE
        for c_out, (k, s) in zip(cfg.cnn_channels, self.KERNELS):
            layers += [nn.Conv2d(c_in, c_out, k, s), nn.ReLU()]
            c_in, h, w = c_out, _conv_out(h, k, s), _conv_out(w, k, s)
        self.cnn = nn.Sequential(*layers, nn.Flatten(), nn.Linear(c_in * h * w, out_dim), nn.ReLU())
        self.map_embed = nn.Embedding(NUM_MAPS, cfg.map_embed)
        self.features = nn.Sequential(nn.Linear(feature_dim, cfg.feature_hidden), nn.ReLU())
        self.mix = nn.Sequential(
            nn.Linear(out_dim + cfg.map_embed + cfg.feature_hidden, out_dim), nn.ReLU()
        )
        self.feature_dim = feature_dim

    def forward(self, obs: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """Any leading batch shape (...), screen (..., 72, 80) → (..., out_dim)."""
        screen, lead = obs["screen"], obs["map_id"].shape
        if tuple(screen.shape[-2:]) != SCREEN_SHAPE:
            raise ValueError(f"screen must end in {SCREEN_SHAPE}, got {tuple(screen.shape)}")
        if obs["features"].shape[-1] != self.feature_dim:
            raise ValueError(
                f"features have width {obs['features'].shape[-1]}, net expects {self.feature_dim}"
            )
        x = screen.reshape(-1, 1, *SCREEN_SHAPE).float() / (NUM_SHADES - 1)
        z = torch.cat(
            [
                self.cnn(x),
                self.map_embed(obs["map_id"].reshape(-1).long()),
                self.features(obs["features"].reshape(-1, self.feature_dim).float()),
            ],
            dim=-1,
        )
        return self.mix(z).reshape(*lead, -1)


def linear_scan(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """All x_t of x_t = a_t * x_{t-1} + b_t (x_{-1} = 0) along dim 0, in log2(T) parallel steps.

    Hillis-Steele scan of the associative operator (a1, b1)∘(a2, b2) = (a2·a1, a2·b1 + b2).
    """
    offset = 1
    while offset < a.shape[0]:
        b = torch.cat([b[:offset], a[offset:] * b[:-offset] + b[offset:]])
        a = torch.cat([a[:offset], a[offset:] * a[:-offset]])
        offset *= 2
    return b


class LRU(nn.Module):
    """Diagonal complex linear recurrence x_t = Λ x_{t-1} + γ B u_t, y_t = Re(C x_t) + D u_t.

    |λ| = exp(-exp(ν)) < 1 always, so the state never explodes; magnitudes start in
    [r_min, r_max] (close to 1 → long memory) and γ = sqrt(1-|λ|²) keeps the state's scale
    independent of how slowly a mode decays (Orvieto et al. 2023, "Resurrecting RNNs").
    """

    def __init__(
        self, in_dim: int, hidden: int, r_min: float = 0.9, r_max: float = 0.999,
        max_phase: float = math.pi / 5,
    ) -> None:  # fmt: skip
        super().__init__()
        n = hidden // 2
        self.modes = n
        r = torch.sqrt(torch.rand(n) * (r_max**2 - r_min**2) + r_min**2)
        self.nu_log = nn.Parameter(torch.log(-torch.log(r)))
        self.theta = nn.Parameter(torch.rand(n) * max_phase)
        self.b_re = nn.Parameter(torch.randn(n, in_dim) / math.sqrt(2 * in_dim))
        self.b_im = nn.Parameter(torch.randn(n, in_dim) / math.sqrt(2 * in_dim))
        self.c_re = nn.Parameter(torch.randn(hidden, n) / math.sqrt(n))
        self.c_im = nn.Parameter(torch.randn(hidden, n) / math.sqrt(n))
        self.skip = nn.Linear(in_dim, hidden)

    def _lambda(self) -> torch.Tensor:
        return torch.polar(torch.exp(-torch.exp(self.nu_log)), self.theta)

    def _drive(self, u: torch.Tensor) -> torch.Tensor:
        """γ B u as a complex tensor (..., modes)."""
        gamma = torch.sqrt(1 - torch.exp(-2 * torch.exp(self.nu_log)))
        return torch.complex(F.linear(u, self.b_re), F.linear(u, self.b_im)) * gamma

    def _read(self, x: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        return F.linear(x.real, self.c_re) - F.linear(x.imag, self.c_im) + self.skip(u)

    def step(self, u: torch.Tensor, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """One step: u (B, in), complex x (B, modes) → (y (B, hidden), new x)."""
        x = self._lambda() * x + self._drive(u)
        return self._read(x, u), x

    def scan(
        self, u: torch.Tensor, x0: torch.Tensor, resets: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """T steps at once: u (T, B, in), x0 (B, modes), resets (T, B) zero x before step t."""
        keep = (~resets).unsqueeze(-1).to(u.dtype)
        a = self._lambda() * keep  # (T, B, modes): a reset cuts the chain to the past
        b = self._drive(u)
        b = torch.cat([b[:1] + a[:1] * x0.unsqueeze(0), b[1:]])
        x = linear_scan(a, b)
        return self._read(x, u), x[-1]


class QNetwork(nn.Module):
    """Hierarchical recurrent dueling Q-network over the Game Boy observation dict."""

    def __init__(
        self, cfg: ModelConfig, num_actions: int = NUM_ACTIONS, feature_dim: int = FEATURE_DIM
    ) -> None:
        super().__init__()
        if num_actions < 1 or feature_dim < 1:
            raise ValueError(
                f"need num_actions, feature_dim >= 1, got {num_actions}, {feature_dim}"
            )
        self.cfg, self.num_actions, self.feature_dim = cfg, num_actions, feature_dim
        g, m, s = cfg.gru_hidden, cfg.lstm_hidden, cfg.ssm_hidden
        self.encoder = Encoder(cfg, feature_dim, out_dim=2 * g)
        self.gru = nn.GRUCell(2 * g, g)
        if not cfg.hierarchy:
            m = s = 0  # GRU only: no LSTM or SSM, and no state for them
        self.lstm = nn.LSTMCell(g, m) if cfg.hierarchy else None
        self.ssm = LRU(m, s) if cfg.hierarchy else None
        head_in = g + m + s  # skip connections: the head sees every time scale
        head_hidden = max(g, m, s)
        self.value = nn.Sequential(
            nn.Linear(head_in, head_hidden), nn.ReLU(), nn.Linear(head_hidden, 1)
        )
        self.advantage = nn.Sequential(
            nn.Linear(head_in, head_hidden), nn.ReLU(), nn.Linear(head_hidden, num_actions)
        )
        self._splits = (g, m, m, s // 2, s // 2)
        self.state_size = sum(self._splits)

    def initial_state(self, batch: int, device: torch.device | str = "cpu") -> torch.Tensor:
        """All-zero recurrent state, the state at every episode start."""
        return torch.zeros(batch, self.state_size, device=device)

    def _unpack(self, state: torch.Tensor) -> tuple[torch.Tensor, ...]:
        if state.dim() != 2 or state.shape[1] != self.state_size:
            raise ValueError(f"state must be (B, {self.state_size}), got {tuple(state.shape)}")
        gh, lh, lc, re, im = torch.split(state.float(), self._splits, dim=1)
        return gh, lh, lc, torch.complex(re.contiguous(), im.contiguous())

    @staticmethod
    def _pack(
        gh: torch.Tensor, lh: torch.Tensor, lc: torch.Tensor, x: torch.Tensor
    ) -> torch.Tensor:
        return torch.cat([gh, lh, lc, x.real, x.imag], dim=-1)

    def _q(self, gh: torch.Tensor, lh: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        z = torch.cat([gh, lh, y], dim=-1)
        adv = self.advantage(z)
        return self.value(z) + adv - adv.mean(dim=-1, keepdim=True)

    def step(
        self, obs: Mapping[str, torch.Tensor], state: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Acting: obs batch (B, ...) and state (B, S) → (q (B, A), new state (B, S))."""
        gh, lh, lc, x = self._unpack(state)
        e = self.encoder(obs)
        gh = self.gru(e, gh)
        if not self.cfg.hierarchy:  # GRU only: lh is (B, 0)
            return self._q(gh, lh, lh), self._pack(gh, lh, lc, x)
        lh, lc = self.lstm(gh, (lh, lc))
        y, x = self.ssm.step(lh, x)
        return self._q(gh, lh, y), self._pack(gh, lh, lc, x)

    def sequence(
        self, obs: Mapping[str, torch.Tensor], state: torch.Tensor, resets: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Learning: obs (T, B, ...), state (B, S), resets (T, B) → (q (T, B, A), final state).

        resets[t, b] zeroes env b's state before step t (an episode starting inside the window).
        The encoder and head run over all T*B at once, GRU/LSTM cells step by step, the SSM scans.
        """
        T = obs["map_id"].shape[0]
        resets = resets.to(device=state.device, dtype=torch.bool)
        if tuple(resets.shape) != (T, state.shape[0]):
            raise ValueError(
                f"resets must be (T, B) = {(T, state.shape[0])}, got {tuple(resets.shape)}"
            )
        gh, lh, lc, x = self._unpack(state)
        e = self.encoder(obs)
        keep = (~resets).unsqueeze(-1).float()
        g_out, l_out = [], []
        for t in range(T):
            gh = self.gru(e[t], gh * keep[t])
            if self.cfg.hierarchy:
                lh, lc = self.lstm(gh, (lh * keep[t], lc * keep[t]))
            g_out.append(gh)
            l_out.append(lh)
        gs, ls = torch.stack(g_out), torch.stack(l_out)
        if not self.cfg.hierarchy:  # GRU only: lh and ls are (…, 0)
            return self._q(gs, ls, ls), self._pack(gh, lh, lc, x)
        y, x = self.ssm.scan(ls, x, resets)
        return self._q(gs, ls, y), self._pack(gh, lh, lc, x)
