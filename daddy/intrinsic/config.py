"""Options of the intrinsic rewards, in a module of their own so that rnd, novelty and
posteriors can take them without importing the facade (and analysis/ without importing torch)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any, Literal

NoveltyMode = Literal["count", "knn"]


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
