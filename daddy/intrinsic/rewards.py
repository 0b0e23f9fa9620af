"""Intrinsic rewards: RND curiosity, episodic novelty and Bayesian milestone shaping.

Three signals push exploration at different time scales and are summed with the game's reward:

    r_total = r_env + beta_rnd * r_rnd + beta_novel * r_novel + beta_bayes * r_bayes

- `RND` (random network distillation): a predictor learns a fixed random network's features of
  the screen; its error is high on screens rarely trained on, i.e. novel across the whole run.
- `EpisodicNovelty`: within one episode of one env, 1/sqrt(visits) of the current map cell (or
  an NGU-style k-nearest-neighbour pseudo-count over embeddings) — novelty that resets per episode.
- `MilestonePosteriors`: a Beta posterior per milestone of "an episode that could reach it does";
  reaching an unlikely milestone pays more, a falling posterior raises an alarm and curriculum
  pressure.

`IntrinsicRewards` bundles the three for the trainer. Every piece's `state_dict` holds only
tensors, numbers and strings, so `torch.load(weights_only=True)` restores it and a resumed run
continues exactly where the checkpoint left it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from typing import Any, Literal

import numpy as np
import torch
from torch import nn

from daddy.game.milestones import DEFAULT_MILESTONES, Milestone
from daddy.game.ram import GameState

SCREEN_H, SCREEN_W = 72, 80
SCREEN_LEVELS = 3.0  # screen pixels are shades 0..3
NoveltyMode = Literal["count", "knn"]
PARTS = ("r_rnd", "r_novel", "r_bayes")


# --- configuration -------------------------------------------------------------------------
@dataclass
class IntrinsicConfig:
    """Options of the intrinsic rewards (one field per config key)."""

    beta_rnd: float = 0.02
    """Weight of the RND reward in r_total."""
    beta_novel: float = 0.05
    """Weight of the episodic novelty reward in r_total."""
    beta_bayes: float = 1.0
    """Weight of the Bayesian milestone shaping reward in r_total."""
    rnd_lr: float = 1e-4
    """Adam learning rate of the RND predictor."""
    rnd_embed_dim: int = 128
    """Output size of the RND target and predictor networks."""
    rnd_obs_clip: float = 5.0
    """Normalised screens are clipped to [-clip, clip] before the RND networks see them."""
    rnd_seed: int = 0
    """Seed of the RND networks' initialisation (the global torch RNG is left untouched)."""
    novelty: NoveltyMode = "count"
    """Episodic novelty: "count" over map cells (map, x, y) or "knn" over embeddings."""
    knn_k: int = 10
    """knn mode: number of nearest neighbours in the NGU kernel."""
    knn_capacity: int = 2000
    """knn mode: episodic memory size per env (oldest embeddings are overwritten)."""
    knn_kernel_eps: float = 1e-3
    """knn mode: NGU kernel epsilon, K = eps / (d^2 / mean_d^2 + eps)."""
    knn_cluster_dist: float = 8e-3
    """knn mode: NGU cluster distance; normalised squared distances below it count as equal."""
    knn_max_similarity: float = 8.0
    """knn mode: NGU s_max; an episode state this familiar earns no novelty."""
    ngu_combine: bool = False
    """Modulate r_novel by RND as in NGU: r_novel * clip(1 + (err - mu) / sigma, 1, L)."""
    ngu_max_modulation: float = 5.0
    """NGU's L, the upper clip of the RND modulation."""
    prior_alpha: float = 1.0
    """Beta prior alpha of every milestone posterior."""
    prior_beta: float = 1.0
    """Beta prior beta of every milestone posterior."""
    decay: float | None = 0.99
    """Per eligible episode, evidence shrinks toward the prior by this factor (None: keep all)."""
    alarm_margin: float = 0.1
    """An alarm fires when theta is credibly below (reference mean - margin)."""
    alarm_prob: float = 0.95
    """... where credibly means P(theta < reference - margin) > alarm_prob (Beta CDF)."""
    alarm_clear_prob: float = 0.5
    """A raised alarm clears once that probability falls below this (hysteresis)."""
    alarm_min_evidence: float = 20.0
    """Episodes of evidence (alpha + beta - prior) a milestone needs before it can alarm."""
    alarm_ref_rate: float = 0.005
    """Per eligible episode, the reference ("past level") moves this fraction toward the mean."""
    bayes_scale: float = 1.0
    """r_bayes for reaching milestone i is bayes_scale * (1 - posterior mean_i)."""
    pressure_floor: float = 0.05
    """Smallest curriculum pressure, so reliably reached milestones are still spawned from."""
    pressure_alarm_bonus: float = 1.0
    """Extra curriculum pressure while a milestone is alarmed."""

    def __post_init__(self) -> None:
        checks = [
            (self.rnd_lr > 0, f"rnd_lr must be > 0, got {self.rnd_lr}"),
            (self.rnd_embed_dim > 0, f"rnd_embed_dim must be > 0, got {self.rnd_embed_dim}"),
            (self.rnd_obs_clip > 0, f"rnd_obs_clip must be > 0, got {self.rnd_obs_clip}"),
            (self.novelty in ("count", "knn"), f"novelty must be 'count' or 'knn', got {self.novelty!r}"),
            (self.knn_k >= 1 and self.knn_capacity >= 1, "knn_k and knn_capacity must be >= 1"),
            (self.ngu_max_modulation >= 1, f"ngu_max_modulation (L) must be >= 1, got {self.ngu_max_modulation}"),
            (self.prior_alpha > 0 and self.prior_beta > 0, "prior_alpha and prior_beta must be > 0"),
            (self.decay is None or 0 < self.decay <= 1, f"decay must be in (0, 1] or None, got {self.decay}"),
            (0 < self.alarm_prob < 1, f"alarm_prob must be in (0, 1), got {self.alarm_prob}"),
            (0 <= self.alarm_clear_prob <= self.alarm_prob, "alarm_clear_prob must be in [0, alarm_prob]"),
            (0 <= self.alarm_ref_rate <= 1, f"alarm_ref_rate must be in [0, 1], got {self.alarm_ref_rate}"),
        ]  # fmt: skip
        for ok, message in checks:
            if not ok:
                raise ValueError(f"IntrinsicConfig: {message}")

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> IntrinsicConfig:
        """Build from a config mapping; unknown keys are an error naming the known ones."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"unknown intrinsic option(s) {unknown}; known: {sorted(known)}")
        return cls(**d)


# --- Beta distribution helpers (scipy is not a dependency) ---------------------------------
def beta_cdf(x: float, a: float, b: float) -> float:
    """P(theta <= x) for theta ~ Beta(a, b): the regularised incomplete beta I_x(a, b).

    Evaluated with the Lentz continued fraction (Numerical Recipes `betai`): deterministic and
    accurate to ~1e-12, unlike Monte Carlo, so alarms are reproducible across resumes.
    """
    if a <= 0 or b <= 0:
        raise ValueError(f"beta_cdf needs a > 0 and b > 0, got a={a}, b={b}")
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    log_front = (
        math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b)
        + a * math.log(x) + b * math.log1p(-x)
    )  # fmt: skip
    if x < (a + 1.0) / (a + b + 2.0):
        return math.exp(log_front) * _beta_cf(x, a, b) / a
    return 1.0 - math.exp(log_front) * _beta_cf(1.0 - x, b, a) / b


def _beta_cf(x: float, a: float, b: float, tol: float = 1e-14) -> float:
    """Continued fraction of the incomplete beta (modified Lentz)."""
    tiny = 1e-300
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    max_iter = 200 + int(10 * math.sqrt(max(a, b)))
    for m in range(1, max_iter + 1):
        m2 = 2 * m
        for aa in (m * (b - m) * x / ((qam + m2) * (a + m2)),
                   -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))):  # fmt: skip
            d = 1.0 + aa * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + aa / c
            c = c if abs(c) > tiny else tiny
            h *= d * c
        if abs(d * c - 1.0) < tol:
            break
    return h


def beta_ppf(q: float, a: float, b: float) -> float:
    """Inverse of `beta_cdf` in x (bisection: monotone, deterministic, 1e-10 accurate)."""
    if not 0.0 <= q <= 1.0:
        raise ValueError(f"beta_ppf needs a probability in [0, 1], got {q}")
    lo, hi = 0.0, 1.0
    for _ in range(40):
        mid = 0.5 * (lo + hi)
        if beta_cdf(mid, a, b) < q:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


# --- running statistics ---------------------------------------------------------------------
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


# --- RND -----------------------------------------------------------------------------------
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
        self._observed = getattr(self, "_observed", 0) + 1
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
        }

    def load_state_dict(self, d: Mapping[str, Any]) -> None:
        self.target.load_state_dict(d["target"])
        self.predictor.load_state_dict(d["predictor"])
        self.optimizer.load_state_dict(d["optimizer"])
        self.obs_rms.load_state_dict(d["obs_rms"])
        self.err_rms.load_state_dict(d["err_rms"])


# --- episodic novelty -----------------------------------------------------------------------
class EpisodicNovelty:
    """Per-env, per-episode novelty: 1/sqrt(n) with n the visits so far, this one included.

    "count" mode counts map cells (map, x, y): cheap and meaningful in a tile-based game.
    "knn" mode is NGU's pseudo-count: n = 1 + sum of kernel similarities to the k nearest
    embeddings already in this episode's memory (an identical embedding adds exactly 1, so both
    modes agree on exact revisits); states more familiar than s_max earn 0.
    """

    def __init__(self, num_envs: int, cfg: IntrinsicConfig | None = None) -> None:
        if num_envs < 1:
            raise ValueError(f"EpisodicNovelty needs num_envs >= 1, got {num_envs}")
        self.cfg = cfg or IntrinsicConfig()
        self.num_envs = num_envs
        self.counts: list[dict[tuple[int, int, int], int]] = [{} for _ in range(num_envs)]
        self.memory: list[np.ndarray | None] = [None] * num_envs  # knn: (capacity, D) ring
        self.mem_size = np.zeros(num_envs, dtype=np.int64)  # knn: embeddings written this episode
        self.mean_sq_dist = 0.0  # knn: running mean of k-NN squared distances (EMA)

    def _check_env(self, env_id: int) -> int:
        env_id = int(env_id)
        if not 0 <= env_id < self.num_envs:
            raise IndexError(f"env id {env_id} is outside 0..{self.num_envs - 1}")
        return env_id

    def reward(
        self,
        env_ids: Sequence[int] | np.ndarray,
        cells: Sequence[tuple[int, int, int]] | None = None,
        embeddings: np.ndarray | None = None,
    ) -> np.ndarray:
        """Record this step's visit per env and return its novelty (B,) float32."""
        if self.cfg.novelty == "count":
            if cells is None or len(cells) != len(env_ids):
                raise ValueError("count novelty needs one (map, x, y) cell per env id")
            return self._count_reward(env_ids, cells)
        if embeddings is None or len(embeddings) != len(env_ids):
            raise ValueError("knn novelty needs one embedding row per env id")
        return self._knn_reward(env_ids, np.asarray(embeddings, dtype=np.float32))

    def _count_reward(
        self, env_ids: Sequence[int] | np.ndarray, cells: Sequence[tuple[int, int, int]]
    ) -> np.ndarray:
        out = np.empty(len(env_ids), dtype=np.float32)
        for j, (env_id, cell) in enumerate(zip(env_ids, cells)):
            counts = self.counts[self._check_env(env_id)]
            key = (int(cell[0]), int(cell[1]), int(cell[2]))
            n = counts.get(key, 0) + 1
            counts[key] = n
            out[j] = 1.0 / math.sqrt(n)
        return out

    def _knn_reward(self, env_ids: Sequence[int] | np.ndarray, emb: np.ndarray) -> np.ndarray:
        cfg = self.cfg
        out = np.empty(len(env_ids), dtype=np.float32)
        for j, env_id in enumerate(env_ids):
            i = self._check_env(env_id)
            e = emb[j]
            mem = self.memory[i]
            if mem is None or mem.shape[1] != e.shape[0]:
                mem = self.memory[i] = np.zeros((cfg.knn_capacity, e.shape[0]), np.float32)
            filled = int(min(self.mem_size[i], cfg.knn_capacity))
            similarity = 0.0
            if filled:
                d2 = np.square(mem[:filled] - e).sum(1)
                k = min(cfg.knn_k, filled)
                nearest = np.partition(d2, k - 1)[:k]
                mean_nn = float(nearest.mean())
                if self.mean_sq_dist == 0.0:
                    self.mean_sq_dist = mean_nn
                else:
                    self.mean_sq_dist += 0.01 * (mean_nn - self.mean_sq_dist)
                scaled = nearest / max(self.mean_sq_dist, 1e-12)
                scaled = np.maximum(scaled - cfg.knn_cluster_dist, 0.0)
                similarity = float((cfg.knn_kernel_eps / (scaled + cfg.knn_kernel_eps)).sum())
            s = math.sqrt(1.0 + similarity)
            out[j] = 0.0 if s > cfg.knn_max_similarity else 1.0 / s
            mem[self.mem_size[i] % cfg.knn_capacity] = e
            self.mem_size[i] += 1
        return out

    def reset(self, env_id: int) -> None:
        """Forget env `env_id`'s episode (call at its episode end)."""
        i = self._check_env(env_id)
        self.counts[i] = {}
        self.mem_size[i] = 0

    def state_dict(self) -> dict[str, Any]:
        """Counts flattened to tensors (env, map, x, y, n) so weights_only loading works."""
        rows = [(i, *cell, n) for i, c in enumerate(self.counts) for cell, n in c.items()]
        table = torch.tensor(rows, dtype=torch.int64).reshape(-1, 5)
        memories = {
            str(i): torch.from_numpy(m[: int(min(self.mem_size[i], len(m)))].copy())
            for i, m in enumerate(self.memory)
            if m is not None
        }
        return {
            "num_envs": self.num_envs,
            "counts": table,
            "mem_size": torch.from_numpy(self.mem_size.copy()),
            "memory": memories,
            "mean_sq_dist": self.mean_sq_dist,
        }

    def load_state_dict(self, d: Mapping[str, Any]) -> None:
        if int(d["num_envs"]) != self.num_envs:
            raise ValueError(
                f"novelty state is for {d['num_envs']} envs but this run has {self.num_envs}; "
                "resume with the same num_envs"
            )
        self.counts = [{} for _ in range(self.num_envs)]
        for i, m, x, y, n in d["counts"].tolist():
            self.counts[i][(m, x, y)] = n
        self.mem_size = d["mem_size"].numpy().astype(np.int64).copy()
        self.memory = [None] * self.num_envs
        for key, rows in d["memory"].items():
            mem = np.zeros((self.cfg.knn_capacity, rows.shape[1]), np.float32)
            mem[: len(rows)] = rows.numpy()
            self.memory[int(key)] = mem
        self.mean_sq_dist = float(d["mean_sq_dist"])


# --- Bayesian milestone posteriors ----------------------------------------------------------
class MilestonePosteriors:
    """Beta(alpha, beta) per milestone of "an episode that could reach it does reach it".

    Updated once per finished episode for the milestones it was eligible for. With `decay`,
    evidence shrinks toward the prior before each update, so the posterior follows the recent
    success rate. A slow "reference" mean remembers the past level; an alarm fires when the
    posterior says theta is credibly below it (Beta CDF), and clears with hysteresis.
    """

    def __init__(
        self,
        milestones: tuple[Milestone, ...] = DEFAULT_MILESTONES,
        cfg: IntrinsicConfig | None = None,
    ) -> None:
        if not milestones or len(milestones) > 64:
            raise ValueError(f"need 1..64 milestones (a uint64 bitmask), got {len(milestones)}")
        self.milestones = milestones
        self.cfg = cfg or IntrinsicConfig()
        m = len(milestones)
        self.alpha = np.full(m, self.cfg.prior_alpha, dtype=np.float64)
        self.beta = np.full(m, self.cfg.prior_beta, dtype=np.float64)
        self.reference = np.full(m, np.nan)  # past level; NaN until enough evidence
        self.alarmed = np.zeros(m, dtype=bool)
        self.alarm_count = 0
        self.episodes = 0

    @property
    def names(self) -> list[str]:
        return [m.name for m in self.milestones]

    def _bits(self, mask: int) -> np.ndarray:
        mask = int(mask)
        if mask < 0 or mask >> len(self.milestones):
            raise ValueError(
                f"milestone mask {mask:#x} has bits outside the {len(self.milestones)} milestones"
            )
        return np.array([(mask >> i) & 1 for i in range(len(self.milestones))], dtype=bool)

    @staticmethod
    def _to_mask(bits: np.ndarray) -> int:
        return sum(1 << int(i) for i in np.flatnonzero(bits))

    def mean_array(self) -> np.ndarray:
        return self.alpha / (self.alpha + self.beta)

    def evidence(self) -> np.ndarray:
        """Episodes' worth of (possibly decayed) evidence per milestone."""
        return self.alpha + self.beta - self.cfg.prior_alpha - self.cfg.prior_beta

    def update(self, eligible_mask: int, reached_mask: int) -> None:
        """Fold one finished episode in: eligible milestones count as a success or a failure."""
        eligible = self._bits(eligible_mask)
        reached = self._bits(reached_mask) & eligible
        cfg = self.cfg
        if cfg.decay is not None:
            g = cfg.decay
            self.alpha[eligible] = cfg.prior_alpha + g * (self.alpha[eligible] - cfg.prior_alpha)
            self.beta[eligible] = cfg.prior_beta + g * (self.beta[eligible] - cfg.prior_beta)
        self.alpha += reached
        self.beta += eligible & ~reached
        self.episodes += 1
        mean = self.mean_array()
        ready = eligible & (self.evidence() >= cfg.alarm_min_evidence)
        fresh = ready & np.isnan(self.reference)
        self.reference[fresh] = mean[fresh]
        move = ready & ~fresh
        self.reference[move] += cfg.alarm_ref_rate * (mean[move] - self.reference[move])

    def drop_probability(self) -> np.ndarray:
        """P(theta_i < reference_i - margin) per milestone (0 where there is no reference yet)."""
        out = np.zeros(len(self.milestones))
        for i, ref in enumerate(self.reference):
            if not np.isnan(ref):
                out[i] = beta_cdf(ref - self.cfg.alarm_margin, self.alpha[i], self.beta[i])
        return out

    def check_alarms(self) -> int:
        """Bitmask of milestones whose alarm has just been raised; counts them in alarm_count."""
        p = self.drop_probability()
        raised = ~self.alarmed & (p > self.cfg.alarm_prob)
        self.alarmed = (self.alarmed & (p >= self.cfg.alarm_clear_prob)) | raised
        self.alarm_count += int(raised.sum())
        return self._to_mask(raised)

    def alarmed_mask(self) -> int:
        """Bitmask of milestones currently in alarm (raised and not yet cleared)."""
        return self._to_mask(self.alarmed)

    def describe_alarm(self, mask: int) -> str:
        """One terminal line for newly raised alarms, e.g. 'ALARM Boulder 0.81→0.52'."""
        mean = self.mean_array()
        parts = [
            f"{m.label} {self.reference[i]:.2f}→{mean[i]:.2f}"
            for i, m in enumerate(self.milestones)
            if mask >> i & 1
        ]
        return "ALARM milestone success rate dropped: " + ", ".join(parts) if parts else ""

    def means(self) -> dict[str, float]:
        """Posterior mean per milestone label (for the dashboard)."""
        return {m.label: float(v) for m, v in zip(self.milestones, self.mean_array())}

    def credible_interval(self, q: float = 0.9) -> tuple[np.ndarray, np.ndarray]:
        """Equal-tailed q credible interval (lo, hi) per milestone."""
        if not 0 < q < 1:
            raise ValueError(f"credible mass q must be in (0, 1), got {q}")
        lo_q, hi_q = (1 - q) / 2, (1 + q) / 2
        lo = np.array([beta_ppf(lo_q, a, b) for a, b in zip(self.alpha, self.beta)])
        hi = np.array([beta_ppf(hi_q, a, b) for a, b in zip(self.alpha, self.beta)])
        return lo, hi

    def shaping(self, newly_reached_mask: int) -> float:
        """r_bayes for reaching these milestones now: the rarer they are, the more it pays."""
        if not newly_reached_mask:
            return 0.0
        bits = self._bits(newly_reached_mask)
        return float(self.cfg.bayes_scale * (1.0 - self.mean_array()[bits]).sum())

    def pressure(self) -> dict[str, float]:
        """Curriculum pressure per milestone name: high when low, falling or alarmed.

        floor + (1 - mean) + max(0, reference - mean) + bonus * alarmed; the curriculum
        multiplies it into the spawn weights of states saved at that milestone.
        """
        mean = self.mean_array()
        drop = np.nan_to_num(np.maximum(self.reference - mean, 0.0))
        p = self.cfg.pressure_floor + (1.0 - mean) + drop
        p = p + self.cfg.pressure_alarm_bonus * self.alarmed
        return {m.name: float(v) for m, v in zip(self.milestones, p)}

    def summary(self, top: int = 4) -> str:
        """'Boulder: 0.81, Cascade: 0.42': the `top` furthest milestones ever reached.

        Milestones in alarm get a '!' suffix. Before anything is reached, the first `top` show.
        """
        mean = self.mean_array()
        seen = np.flatnonzero(self.alpha > self.cfg.prior_alpha)
        idx = seen[-top:] if len(seen) else np.arange(min(top, len(self.milestones)))
        return ", ".join(
            f"{self.milestones[i].label}: {mean[i]:.2f}" + ("!" if self.alarmed[i] else "")
            for i in idx
        )

    def state_dict(self) -> dict[str, Any]:
        return {
            "names": ",".join(self.names),
            "alpha": torch.from_numpy(self.alpha.copy()),
            "beta": torch.from_numpy(self.beta.copy()),
            "reference": torch.from_numpy(self.reference.copy()),
            "alarmed": torch.from_numpy(self.alarmed.copy()),
            "alarm_count": self.alarm_count,
            "episodes": self.episodes,
        }

    def load_state_dict(self, d: Mapping[str, Any]) -> None:
        if d["names"] != ",".join(self.names):
            raise ValueError(
                "posterior checkpoint was written for milestones "
                f"[{d['names']}], not [{','.join(self.names)}]; resume with the same milestones"
            )
        self.alpha = d["alpha"].numpy().astype(np.float64).copy()
        self.beta = d["beta"].numpy().astype(np.float64).copy()
        self.reference = d["reference"].numpy().astype(np.float64).copy()
        self.alarmed = d["alarmed"].numpy().astype(bool).copy()
        self.alarm_count = int(d["alarm_count"])
        self.episodes = int(d["episodes"])


# --- facade ---------------------------------------------------------------------------------
class IntrinsicRewards:
    """What the trainer calls: per-step parts, r_total, episode ends, RND training, state."""

    def __init__(
        self,
        cfg: IntrinsicConfig,
        num_envs: int,
        milestones: tuple[Milestone, ...] = DEFAULT_MILESTONES,
        device: torch.device | str = "cpu",
    ) -> None:
        self.cfg = cfg
        self.num_envs = num_envs
        self.rnd = RND(cfg, device)
        self.novelty = EpisodicNovelty(num_envs, cfg)
        self.posteriors = MilestonePosteriors(milestones, cfg)

    def compute(
        self,
        obs_batch: Mapping[str, Any],
        game_states: Sequence[GameState],
        newly_reached_masks: Sequence[int] | np.ndarray,
        env_ids: Sequence[int] | np.ndarray | None = None,
        embeddings: np.ndarray | None = None,
    ) -> dict[str, np.ndarray]:
        """Intrinsic parts of one vector step: {"r_rnd", "r_novel", "r_bayes"}, each (B,) float32.

        `embeddings` (knn mode only) defaults to the RND predictor's hidden layer.
        """
        b = len(game_states)
        if env_ids is None:
            env_ids = np.arange(b)
        if not len(env_ids) == len(newly_reached_masks) == b:
            raise ValueError(
                f"compute got {b} game states, {len(newly_reached_masks)} milestone masks and "
                f"{len(env_ids)} env ids: pass one of each per env in the batch"
            )
        err = self.rnd.observe(obs_batch)
        if len(err) != b:
            raise ValueError(f"compute got {len(err)} screens for {b} game states")
        if self.cfg.novelty == "knn" and embeddings is None:
            assert self.rnd.last_embedding is not None
            embeddings = self.rnd.last_embedding.cpu().numpy()
        cells = [s.cell for s in game_states]
        r_novel = self.novelty.reward(env_ids, cells, embeddings)
        if self.cfg.ngu_combine:
            r_novel = r_novel * self.rnd.ngu_modulation(err)
        r_bayes = np.array(
            [self.posteriors.shaping(int(m)) for m in newly_reached_masks], np.float32
        )
        return {"r_rnd": self.rnd.normalise_errors(err), "r_novel": r_novel, "r_bayes": r_bayes}

    def total(self, r_env: np.ndarray, parts: Mapping[str, np.ndarray]) -> np.ndarray:
        """r_env + beta_rnd * r_rnd + beta_novel * r_novel + beta_bayes * r_bayes."""
        c = self.cfg
        return (
            np.asarray(r_env, dtype=np.float32)
            + c.beta_rnd * parts["r_rnd"]
            + c.beta_novel * parts["r_novel"]
            + c.beta_bayes * parts["r_bayes"]
        ).astype(np.float32)

    def on_episode_end(self, env_id: int, eligible_mask: int, reached_mask: int) -> int:
        """Update posteriors, reset the env's episodic memory; return newly raised alarms."""
        self.posteriors.update(eligible_mask, reached_mask)
        self.novelty.reset(env_id)
        return self.posteriors.check_alarms()

    def train_step(self, screens: np.ndarray | torch.Tensor) -> float:
        """Fit the RND predictor on replayed screens; returns its loss."""
        return self.rnd.train_step(screens)

    def state_dict(self) -> dict[str, Any]:
        return {
            "config": asdict(self.cfg),
            "rnd": self.rnd.state_dict(),
            "novelty": self.novelty.state_dict(),
            "posteriors": self.posteriors.state_dict(),
        }

    def load_state_dict(self, d: Mapping[str, Any]) -> None:
        self.rnd.load_state_dict(d["rnd"])
        self.novelty.load_state_dict(d["novelty"])
        self.posteriors.load_state_dict(d["posteriors"])
