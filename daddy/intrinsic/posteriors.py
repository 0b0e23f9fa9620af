"""Bayesian milestone posteriors and the Beta maths behind them (scipy is not a dependency).

A Beta posterior per milestone of "an episode that could reach it does": reaching an unlikely
milestone pays more, a falling posterior raises an alarm and curriculum pressure. The Beta
functions here are also the ones analysis/ plots with, so the report's credible intervals are
the trainer's. This module imports torch only to write a checkpoint.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from daddy.game.milestones import DEFAULT_MILESTONES, Milestone, furthest, next_milestones
from daddy.intrinsic.config import IntrinsicConfig

_PPF_STEPS = 52  # bisection halvings: 2^-52 is float64's resolution on [0, 1]
_lgamma = np.vectorize(math.lgamma, otypes=[np.float64])


# --- Beta distribution ----------------------------------------------------------------------
def _params(*arrays: Any) -> tuple[np.ndarray, ...]:
    """float64 arrays broadcast together (0-d for scalars)."""
    return tuple(np.broadcast_arrays(*(np.asarray(x, np.float64) for x in arrays)))


def _valid(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a > 0) & (b > 0) & np.isfinite(a) & np.isfinite(b)


def _out(x: np.ndarray) -> Any:
    """A Python float for scalar arguments, the array otherwise."""
    return float(x) if x.ndim == 0 else x


def beta_mean(a: Any, b: Any) -> Any:
    """a / (a + b), elementwise; NaN where a or b is not a positive finite number."""
    a, b = _params(a, b)
    ok = _valid(a, b)
    out = np.full(a.shape, np.nan)
    out[ok] = a[ok] / (a[ok] + b[ok])
    return _out(out)


def beta_cdf(x: Any, a: Any, b: Any) -> Any:
    """P(theta <= x) for theta ~ Beta(a, b): the regularised incomplete beta I_x(a, b).

    Elementwise over broadcast arguments; NaN where a or b is not a positive finite number or x
    is NaN. Evaluated with the Lentz continued fraction (Numerical Recipes `betai`):
    deterministic and accurate to ~1e-12, unlike Monte Carlo, so alarms are reproducible
    across resumes.
    """
    x, a, b = _params(x, a, b)
    out = np.full(x.shape, np.nan)
    ok = _valid(a, b) & ~np.isnan(x)
    out[ok & (x <= 0)] = 0.0
    out[ok & (x >= 1)] = 1.0
    inner = ok & (x > 0) & (x < 1)
    x, a, b = x[inner], a[inner], b[inner]
    log_front = _lgamma(a + b) - _lgamma(a) - _lgamma(b) + a * np.log(x) + b * np.log1p(-x)
    flip = x >= (a + 1.0) / (a + b + 2.0)  # the fraction converges fast below this only
    xs, as_, bs = np.where(flip, 1.0 - x, x), np.where(flip, b, a), np.where(flip, a, b)
    tail = np.exp(log_front) * _beta_cf(xs, as_, bs) / as_
    out[inner] = np.where(flip, 1.0 - tail, tail)
    return _out(out)


def _beta_cf(x: np.ndarray, a: np.ndarray, b: np.ndarray, tol: float = 1e-14) -> np.ndarray:
    """Continued fraction of the incomplete beta (modified Lentz), elementwise on 1-d arrays.

    Each element stops on its own convergence or after 200 + 10 sqrt(max(a, b)) terms."""
    tiny = 1e-300

    def nonzero(v: np.ndarray) -> np.ndarray:
        return np.where(np.abs(v) > tiny, v, tiny)

    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c = np.ones_like(x)
    d = 1.0 / nonzero(1.0 - qab * x / qap)
    h = d.copy()
    limit = 200 + np.floor(10 * np.sqrt(np.maximum(a, b)))
    live = np.arange(len(x))
    m = 0
    while len(live):
        m += 1
        xl, al, bl, qabl, qapl, qaml = x[live], a[live], b[live], qab[live], qap[live], qam[live]
        cl, dl, hl = c[live], d[live], h[live]
        m2 = 2 * m
        for aa in (m * (bl - m) * xl / ((qaml + m2) * (al + m2)),
                   -(al + m) * (qabl + m) * xl / ((al + m2) * (qapl + m2))):  # fmt: skip
            dl = 1.0 / nonzero(1.0 + aa * dl)
            cl = nonzero(1.0 + aa / cl)
            hl = hl * (dl * cl)
        c[live], d[live], h[live] = cl, dl, hl
        done = (np.abs(dl * cl - 1.0) < tol) | (m >= limit[live])
        live = live[~done]
    return h


def beta_ppf(q: float, a: Any, b: Any) -> Any:
    """Quantile q of Beta(a, b): the inverse of `beta_cdf` in x, elementwise over broadcast a, b.

    Bisection (monotone, deterministic, to float64's resolution on [0, 1]); NaN where a or b is
    not a positive finite number. Fine from Beta(0.1, 0.1) to counts in the millions.
    """
    if not 0.0 <= q <= 1.0:
        raise ValueError(f"beta_ppf needs a probability in [0, 1], got {q}")
    a, b = _params(a, b)
    out = np.full(a.shape, np.nan)
    ok = _valid(a, b)
    a_ok, b_ok = a[ok], b[ok]
    lo, hi = np.zeros(a_ok.shape), np.ones(a_ok.shape)
    for _ in range(_PPF_STEPS if 0.0 < q < 1.0 else 0):
        mid = 0.5 * (lo + hi)
        below = beta_cdf(mid, a_ok, b_ok) < q
        lo, hi = np.where(below, mid, lo), np.where(below, hi, mid)
    out[ok] = q if q in (0.0, 1.0) else 0.5 * (lo + hi)
    return _out(out)


# --- milestone posteriors ------------------------------------------------------------------
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
        self._reset()

    def _reset(self) -> None:
        """Every milestone at its prior, no reference, no alarm, no episodes."""
        m = len(self.milestones)
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
        return beta_mean(self.alpha, self.beta)

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
        p = beta_cdf(self.reference - self.cfg.alarm_margin, self.alpha, self.beta)
        return np.where(np.isnan(self.reference), 0.0, p)

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
        return beta_ppf(lo_q, self.alpha, self.beta), beta_ppf(hi_q, self.alpha, self.beta)

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

    def reached_ever_mask(self) -> int:
        """Milestones some episode has reached (alpha above the prior; decay keeps it above)."""
        return self._to_mask(self.alpha > self.cfg.prior_alpha)

    def summary(self, k: int = 3) -> str:
        """'Boulder: 0.81 | next: Misty: 0.10, Cascade: 0.05, Vermilion: 0.02': the furthest
        milestone ever reached in story order, then the next `k` after it (bit order is not
        story order). Milestones in alarm get a '!' suffix; before anything is reached, only
        the first `k` of the story show."""
        mean = self.mean_array()
        index = {m.name: i for i, m in enumerate(self.milestones)}

        def one(m: Milestone) -> str:
            i = index[m.name]
            return f"{m.label}: {mean[i]:.2f}" + ("!" if self.alarmed[i] else "")

        mask = self.reached_ever_mask()
        top = furthest(mask, self.milestones)
        ahead = next_milestones(mask, k, self.milestones)
        nxt = "next: " + ", ".join(one(m) for m in ahead) if ahead else "all reached"
        return f"{one(top)} | {nxt}" if top is not None else nxt

    def state_dict(self) -> dict[str, Any]:
        import torch  # here only: the Beta maths above serve analysis/ without torch

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
        """Restore a checkpoint. One written for fewer milestones loads when its names are the
        first of this list (milestones are only ever appended): those keep their evidence and
        the newer ones start at their prior."""
        saved = [n for n in str(d["names"]).split(",") if n]
        if saved != self.names[: len(saved)] or not saved:
            raise ValueError(
                "posterior checkpoint was written for milestones "
                f"[{d['names']}], not [{','.join(self.names)}]; resume with the same milestones"
            )
        n = len(saved)
        self._reset()  # the milestones the checkpoint lacks stay at their prior
        self.alpha[:n] = d["alpha"].numpy().astype(np.float64)
        self.beta[:n] = d["beta"].numpy().astype(np.float64)
        self.reference[:n] = d["reference"].numpy().astype(np.float64)
        self.alarmed[:n] = d["alarmed"].numpy().astype(bool)
        self.alarm_count = int(d["alarm_count"])
        self.episodes = int(d["episodes"])
