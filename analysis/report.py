"""Report of a run: PNG plots and one self-contained HTML page; or several runs compared.

    python -m analysis.report --run NAME [--runs-root runs] [--out runs/NAME/report]
    python -m analysis.report --runs A B C [--runs-root runs] [--out DIR]   (analysis/compare.py)

Reads, from the run folder:
- `episodes.h5` through `daddy.run.episode_log.read` (SWMR, so it works while training still
  writes the log): returns, lengths, badges, milestones, posteriors, spawns, alarms;
- `tb/` (TensorBoard scalars, `analysis.tb_read`): learner health (TD loss, Q, ε, replay fill,
  updates/s, gradient norm), system use and the loop's time split;
- `train.log` and `segments/*.done` (`analysis.run_events`): segment ends, preemptions and
  kills, drawn as vertical lines on every step plot;
- the newest complete checkpoint: its step, its settings (the settings table), its visit
  counts (or `heatmap.npz`, whichever is newer) for the heatmaps;
- `videos/`: the newest rollout GIF, embedded.

x is the env step (all envs together) throughout, with the episodes finished on a second axis.
Writes one PNG per plot and `index.html`, which embeds every image (data URIs) and links to no
file, so the page can be copied off the cluster alone. Exit code 2, with one line saying why,
when the run has no episodes yet.
"""

from __future__ import annotations

import argparse
import base64
import html
import json
import re
import shutil
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.ticker import FuncFormatter, MaxNLocator

from analysis.beta import beta_mean, beta_ppf
from analysis.run_events import KINDS, Mark, run_marks, starts
from analysis.tb_read import read_scalars
from daddy.eval.heatmap import CHECKPOINT_PART, VisitCounts, render_heatmaps, save_figure
from daddy.eval.video import BADGE_NAMES
from daddy.game.maps import map_name, map_sizes
from daddy.game.milestones import DEFAULT_MILESTONES, STORY_ORDER
from daddy.io import atomic_write_text
from daddy.run import episode_log
from daddy.run.exit_codes import EXIT_BAD_INPUT, EXIT_OK, OneLineParser
from daddy.run.paths import COMPLETE, RUNS_ROOT, RunPaths
from daddy.status import last_logged_step

COMPONENTS = ("return_total", "return_env", "return_rnd", "return_novel", "return_bayes")
TIER_NAMES = ("early", "mid", "late")
TIER_COLOURS = ("#7fb3d5", "#f5b041", "#c0392b")
MAX_POSTERIOR_POINTS = 200
MAX_SCATTER_POINTS = 5000
EXIT_NO_EPISODES = EXIT_BAD_INPUT  # daddy.run.exit_codes
PAGE = "index.html"
MAX_TAGS = 7  # spawn-mix panel: the most used savestates, the rest as "other"
NEXT_SHOWN = 5  # milestone figures: how many not-yet-reached milestones after the furthest


class NoEpisodesError(RuntimeError):
    """The run has nothing to plot yet; the message says why and what to do."""


@dataclass
class Episodes:
    """Episode rows in completion order plus the posteriors as (rows, milestones) arrays."""

    run: str
    df: pd.DataFrame
    milestones: list[str]
    alpha: np.ndarray
    beta: np.ndarray
    lost_rows: list[tuple[int, int]] = field(default_factory=list)  # [start, stop) row numbers
    marks: list[Mark] = field(default_factory=list)  # segment ends, preemptions (run_events)

    @property
    def n(self) -> int:
        return len(self.df)

    @property
    def steps(self) -> np.ndarray:
        """Global env step at each episode's end: the x axis of every curve."""
        return self.df["global_step"].to_numpy(float)

    @property
    def index(self) -> np.ndarray:
        return np.arange(self.n)

    def labels(self) -> list[str]:
        """Short milestone labels from `DEFAULT_MILESTONES` where the names match."""
        known = {m.name: m.label for m in DEFAULT_MILESTONES}
        return [known.get(name, name) for name in self.milestones]

    def story_columns(self) -> list[int]:
        """Column indices of the log's milestones in story order (bit order is not story
        order since milestones were appended); names the list does not know go last."""
        rank = {name: r for r, name in enumerate(STORY_ORDER)}
        return sorted(
            range(len(self.milestones)), key=lambda j: (rank.get(self.milestones[j], 10**6), j)
        )

    def reached_ever(self) -> int:
        """Bits of the milestones some episode reached."""
        return int(np.bitwise_or.reduce(self.df["milestones_reached"].to_numpy(np.uint64)))

    def _furthest_position(self) -> int:
        """Story position (in `story_columns`) just past the furthest milestone ever reached."""
        order, reached = self.story_columns(), self.reached_ever()
        done = [k for k, j in enumerate(order) if reached >> j & 1]
        return done[-1] + 1 if done else 0

    def shown_columns(self, next_shown: int = NEXT_SHOWN) -> list[int]:
        """The milestones worth a row, in story order: every one up to the furthest ever
        reached, then the next `next_shown` (with ~60 milestones, the rest are noise)."""
        return self.story_columns()[: self._furthest_position() + next_shown]

    def next_columns(self, k: int = 3) -> list[int]:
        """The first `k` milestones after the furthest ever reached, in story order."""
        reached, at = self.reached_ever(), self._furthest_position()
        return [j for j in self.story_columns()[at:] if not reached >> j & 1][:k]


def load_episodes(run_dir: Path) -> Episodes:
    """Read the run's episode log (one consistent SWMR snapshot), sorted by completion."""
    path = run_dir / episode_log.FILE_NAME
    if not run_dir.is_dir():
        siblings = sorted(p.name for p in run_dir.parent.glob("*") if p.is_dir())
        raise NoEpisodesError(
            f"no run folder {run_dir}; runs here: {', '.join(siblings) or 'none'}"
        )
    if not path.is_file():
        raise NoEpisodesError(
            f"no episodes yet for run {run_dir.name}: {path} does not exist "
            "(training has not finished an episode); run the report again later"
        )
    try:
        df = episode_log.read(path)
    except (OSError, episode_log.EpisodeLogError) as err:
        raise NoEpisodesError(f"cannot read {path}: {err}") from err
    if df.empty:
        raise NoEpisodesError(
            f"no episodes yet for run {run_dir.name}: {path} has 0 rows "
            "(training has not finished an episode); run the report again later"
        )
    names = [c.removeprefix("alpha_") for c in df.columns if c.startswith("alpha_")]
    lost = [(int(a), int(b)) for a, b in df.attrs.get("lost_rows", [])]
    df = df.sort_values(["global_step", "wall_time"], kind="stable").reset_index(drop=True)
    alpha = df[[f"alpha_{n}" for n in names]].to_numpy(np.float64)
    beta = df[[f"beta_{n}" for n in names]].to_numpy(np.float64)
    return Episodes(run_dir.name, df, names, alpha, beta, lost)


# --- helpers ---------------------------------------------------------------------------------
def _window(n: int) -> int:
    return int(np.clip(n // 20, 5, 500))


def _rolling(values: pd.Series, w: int) -> tuple[pd.Series, pd.Series, pd.Series]:
    r = values.rolling(w, min_periods=max(2, w // 4))
    return r.mean(), r.quantile(0.1), r.quantile(0.9)


def _thin(n: int, k: int) -> np.ndarray:
    """At most k evenly spaced indices of n (always keeps the last)."""
    return np.unique(np.linspace(0, n - 1, min(n, k)).round().astype(int)) if n else np.arange(0)


def _bins(steps: np.ndarray, max_bins: int = 40) -> tuple[np.ndarray, np.ndarray]:
    """(bin of each row, bin centres) over global step; about 10 episodes a bin at least."""
    nb = int(np.clip(len(steps) // 10, 1, max_bins))
    lo, hi = float(steps.min()), float(steps.max())
    if hi <= lo:
        return np.zeros(len(steps), int), np.array([lo])
    edges = np.linspace(lo, hi, nb + 1)
    idx = np.clip(np.digitize(steps, edges[1:-1]), 0, nb - 1)
    return idx, (edges[:-1] + edges[1:]) / 2


def _mark_alarms(ax: plt.Axes, ep: Episodes, x: np.ndarray) -> None:
    hit = np.flatnonzero(ep.df["alarm"].to_numpy() != 0)
    if len(hit):
        hit = hit[_thin(len(hit), 400)]
        ax.plot(
            x[hit],
            np.full(len(hit), 0.98),
            linestyle="none",
            marker="v",
            color="red",
            markersize=6,
            transform=ax.get_xaxis_transform(),
            clip_on=False,
            label=f"alarm ({int((ep.df['alarm'] != 0).sum())})",
        )


def _band_plot(ax: plt.Axes, x: np.ndarray, values: pd.Series, colour: str, w: int) -> None:
    keep = _thin(len(values), MAX_SCATTER_POINTS)
    ax.scatter(x[keep], values.to_numpy()[keep], s=4, color=colour, alpha=0.18, linewidths=0)
    mean, q10, q90 = _rolling(values, w)
    ax.fill_between(x, q10, q90, color=colour, alpha=0.25, linewidth=0, label="10–90%")
    ax.plot(x, mean, color=colour, linewidth=1.8, label=f"rolling mean ({w} ep)")
    ax.grid(alpha=0.3)


def _si(value: float, _pos: object = None) -> str:
    """Tick label for step counts: 250k, 1.5M."""
    for div, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= div:
            return f"{value / div:g}{suffix}"
    return f"{value:g}"


def _steps_axis(ax: plt.Axes, marks: Sequence[Mark] = ()) -> None:
    """x = global env step (all envs together), with the run's cuts as vertical lines."""
    ax.xaxis.set_major_formatter(FuncFormatter(_si))
    ax.set_xlabel("env step")
    _mark_cuts(ax, marks)


MAX_MARKS = 60  # per kind: a run requeued a thousand times still draws readably


def _step_range(steps: np.ndarray) -> tuple[float, float]:
    """x limits that show every episode (binned plots otherwise end at the bin centres)."""
    lo, hi = float(steps.min()), float(steps.max())
    pad = 0.01 * (hi - lo) + 0.5
    return lo - pad, hi + pad


def _mark_cuts(ax: plt.Axes, marks: Sequence[Mark]) -> None:
    """Segment ends (grey dashes), resumes after a stop (orange) or a kill (red) as vlines."""
    for kind, (colour, style, text) in KINDS.items():
        steps = [m.step for m in marks if m.kind == kind]
        steps = [steps[i] for i in _thin(len(steps), MAX_MARKS)]
        for i, x in enumerate(steps):
            ax.axvline(x, color=colour, linestyle=style, linewidth=1.0, alpha=0.8,
                       label=text if i == 0 else None, zorder=0.5)  # fmt: skip


def _episode_axis(ax: plt.Axes, ep: Episodes) -> None:
    """Episodes finished (run-wide count) as a second x axis on top of a step axis."""
    steps, count = ep.steps, ep.index + 1.0
    if ep.n < 2 or steps[-1] <= steps[0]:
        return
    top = ax.secondary_xaxis(
        "top",
        functions=(lambda x: np.interp(x, steps, count), lambda e: np.interp(e, count, steps)),
    )
    top.set_xlabel("episodes finished", fontsize=8)
    top.xaxis.set_major_locator(MaxNLocator(integer=True))
    top.xaxis.set_major_formatter(FuncFormatter(_si))
    top.tick_params(labelsize=8)


def _save(fig: plt.Figure, path: Path) -> Path:
    fig.tight_layout()
    save_figure(fig, path)
    plt.close(fig)
    return path


# --- plots -----------------------------------------------------------------------------------
def plot_returns(ep: Episodes, out: Path) -> Path:
    """Each return component over episodes: rolling mean, 10–90% band, alarm markers."""
    w = _window(ep.n)
    fig, axes = plt.subplots(len(COMPONENTS), 1, figsize=(11, 2.6 * len(COMPONENTS)), sharex=True)
    colours = ("#1f4e79", "#2e86c1", "#8e44ad", "#16a085", "#d35400")
    for ax, col, colour in zip(axes, COMPONENTS, colours):
        _band_plot(ax, ep.steps, ep.df[col].astype(float), colour, w)
        _mark_alarms(ax, ep, ep.steps)
        _mark_cuts(ax, ep.marks)
        ax.set_ylabel(col.removeprefix("return_"))
    axes[0].legend(loc="upper left", fontsize=8, ncols=3)
    axes[0].set_title(f"{ep.run}: episode returns by component")
    _episode_axis(axes[0], ep)
    _steps_axis(axes[-1])
    return _save(fig, out / "returns.png")


def plot_episode_length(ep: Episodes, out: Path) -> Path:
    fig, ax = plt.subplots(figsize=(11, 3.6))
    _band_plot(ax, ep.steps, ep.df["length"].astype(float), "#2c3e50", _window(ep.n))
    _mark_alarms(ax, ep, ep.steps)
    _steps_axis(ax, ep.marks)
    _episode_axis(ax, ep)
    ax.set(title=f"{ep.run}: episode length", ylabel="steps per episode")
    ax.legend(loc="upper left", fontsize=8, ncols=3)
    return _save(fig, out / "episode_length.png")


def _time_unit(seconds: np.ndarray) -> tuple[np.ndarray, str]:
    """Seconds rescaled to the unit that suits the span (a demo lasts minutes, a run days)."""
    span = float(seconds.max()) if len(seconds) else 0.0
    for div, unit, upto in ((1, "seconds", 300), (60, "minutes", 3 * 3600), (3600, "hours", 1e18)):
        if span <= upto:
            return seconds / div, unit
    return seconds / 3600, "hours"


def plot_sps(ep: Episodes, out: Path) -> Path:
    """Throughput over wall-clock time; gaps show preemptions and requeues."""
    seconds = ep.df["wall_time"].to_numpy() - ep.df["wall_time"].min()
    order = np.argsort(seconds, kind="stable")
    hours, unit = _time_unit(seconds[order])
    sps = ep.df["sps"].to_numpy(float)[order]
    steps = ep.df["global_step"].to_numpy(float)[order]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 3.8))
    keep = _thin(len(hours), MAX_SCATTER_POINTS)
    ax1.scatter(hours[keep], sps[keep], s=5, alpha=0.3, color="#117a65", linewidths=0)
    med = pd.Series(sps).rolling(_window(ep.n), min_periods=1).median()
    ax1.plot(hours, med, color="#0b5345", linewidth=1.8, label="rolling median")
    ax1.set(
        title="env steps per second", xlabel=f"wall-clock {unit} since first episode", ylabel="SPS"
    )
    ax1.legend(fontsize=8)
    ax1.grid(alpha=0.3)
    ax2.plot(hours, steps, color="#34495e")
    ax2.set(
        title="global step over time",
        xlabel=f"wall-clock {unit} since first episode",
        ylabel="global step",
    )
    ax2.yaxis.set_major_formatter(FuncFormatter(_si))
    ax2.grid(alpha=0.3)
    return _save(fig, out / "sps.png")


def plot_milestone_posteriors(ep: Episodes, out: Path) -> Path:
    """Milestone posteriors in one compact figure, rows in story order (the milestones up to
    the furthest reached and the next few): left, the posterior mean over training as a heat
    strip with red ▼ where that milestone's alarm fired (alarm bit j = milestone j); right,
    the latest mean with its 90% credible interval."""
    rows = _thin(ep.n, MAX_POSTERIOR_POINTS)
    all_steps = ep.df["global_step"].to_numpy(float)
    steps = all_steps[rows]
    cols = ep.shown_columns()
    labels = [ep.labels()[j] for j in cols]
    a, b = ep.alpha[np.ix_(rows, cols)], ep.beta[np.ix_(rows, cols)]
    mean = beta_mean(a, b)
    last_a, last_b = ep.alpha[-1, cols], ep.beta[-1, cols]
    last, lo, hi = (
        beta_mean(last_a, last_b),
        beta_ppf(0.05, last_a, last_b),
        beta_ppf(0.95, last_a, last_b),
    )
    alarm = ep.df["alarm"].to_numpy(np.uint64)
    k = len(cols)
    fig, (ax, ax_ci) = plt.subplots(
        1, 2, figsize=(12, 0.28 * k + 2.0), sharey=True, gridspec_kw={"width_ratios": (4, 1)},
        squeeze=True,
    )  # fmt: skip
    half = (steps[1] - steps[0]) / 2 if len(steps) > 1 else 0.5
    cmap = plt.get_cmap("viridis").with_extremes(bad="#dddddd")  # NaN: logged before it existed
    img = ax.imshow(
        np.ma.masked_invalid(mean.T), aspect="auto", cmap=cmap, vmin=0, vmax=1,
        extent=(steps[0] - half, steps[-1] + half, k - 0.5, -0.5), interpolation="nearest",
    )  # fmt: skip
    fired_total = 0
    for row, j in enumerate(cols):
        fired = np.flatnonzero(alarm >> np.uint64(j) & np.uint64(1)) if j < 64 else []
        fired_total += len(fired)
        if len(fired):
            ax.plot(all_steps[fired], np.full(len(fired), row), linestyle="none", marker="v",
                    color="red", markersize=5)  # fmt: skip
    ax.set_yticks(range(k), labels, fontsize=8)
    _steps_axis(ax, ep.marks)
    fig.colorbar(img, ax=ax, label="posterior mean P(reach)", fraction=0.03, pad=0.01)
    ok = np.isfinite(last)
    y = np.arange(k)
    ax_ci.errorbar(
        last[ok], y[ok], xerr=np.abs(np.stack([last[ok] - lo[ok], hi[ok] - last[ok]])),
        fmt="o", color="#1b4f72", ecolor="#5dade2", markersize=3, capsize=2,
    )  # fmt: skip
    ax_ci.set_xlim(0, 1)
    ax_ci.set_xlabel("latest, 90% CI")
    ax_ci.grid(alpha=0.3, axis="x")
    hidden = len(ep.milestones) - k
    more = f"; {hidden} later milestones not reached, not shown" if hidden else ""
    fig.suptitle(
        f"{ep.run}: milestone posteriors in story order (red ▼: alarm, {fired_total}){more}",
        fontsize=11,
    )
    return _save(fig, out / "milestone_posteriors.png")


def plot_alarms(ep: Episodes, out: Path) -> Path:
    """Which milestone alarms (bit j = milestone j) fired in which episodes."""
    alarm = ep.df["alarm"].to_numpy(np.uint64)
    labels = ep.labels()
    bits = [k for k in range(64) if np.any(alarm >> np.uint64(k) & np.uint64(1))]
    fig, ax = plt.subplots(figsize=(11, 1.6 + 0.3 * max(len(bits), 1)))  # a row per milestone
    for row, k in enumerate(bits):
        hit = np.flatnonzero(alarm >> np.uint64(k) & np.uint64(1))
        ax.scatter(ep.steps[hit], np.full(len(hit), row), marker="|", s=120, color="red")
    if bits:
        ax.set_yticks(
            range(len(bits)), [labels[k] if k < len(labels) else f"bit {k}" for k in bits]
        )
        ax.set_ylim(-0.7, len(bits) - 0.3)
        ax.set_title(f"{ep.run}: milestone alarms ({int((alarm != 0).sum())} of {ep.n} episodes)")
    else:
        ax.set_yticks([])
        ax.text(
            0.5,
            0.5,
            "no alarms raised",
            ha="center",
            va="center",
            fontsize=14,
            transform=ax.transAxes,
            color="#27ae60",
        )
        ax.set_title(f"{ep.run}: milestone alarms")
    lo, hi = float(ep.steps.min()), float(ep.steps.max())
    ax.set_xlim(lo - 0.01 * (hi - lo) - 0.5, hi + 0.01 * (hi - lo) + 0.5)
    _steps_axis(ax, ep.marks)
    ax.grid(alpha=0.3, axis="x")
    return _save(fig, out / "alarms.png")


def _shares(idx: np.ndarray, nbins: int, groups: np.ndarray, keys: Sequence) -> np.ndarray:
    """(len(keys), nbins): share of each bin's rows whose group is each key."""
    counts = np.maximum(np.bincount(idx, minlength=nbins), 1)
    return np.array(
        [
            np.bincount(idx, weights=(groups == k).astype(float), minlength=nbins) / counts
            for k in keys
        ]
    ).reshape(len(keys), nbins)


def _stack(
    ax: plt.Axes,
    steps: np.ndarray,
    centres: np.ndarray,
    shares: np.ndarray,
    labels: Sequence[str],
    colours: Sequence[str] | None,
    title: str,
) -> None:
    if len(centres) == 1:  # one bin: draw it as a band, not an invisible line
        centres = np.array([centres[0] - 0.5, centres[0] + 0.5])
        shares = np.repeat(shares, 2, axis=1)
    ax.stackplot(centres, shares, labels=labels, colors=colours, alpha=0.85)
    ax.set_xlim(*_step_range(steps))
    ax.set(title=title, ylabel="share of episodes", ylim=(0, 1))
    _steps_axis(ax)


def plot_spawn_mix(ep: Episodes, out: Path) -> Path:
    """Where episodes started over training: curriculum tier, and the most used savestates."""
    steps = ep.steps
    idx, centres = _bins(steps)
    tiers = ep.df["spawn_tier"].to_numpy(int)
    tags = ep.df["savestate_tag"].astype(str).to_numpy()
    top = list(pd.Series(tags).value_counts().index[:MAX_TAGS])
    grouped = np.where(np.isin(tags, top), tags, "other")
    keys = top + (["other"] if len(top) < len(set(tags)) else [])
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(13, 3.8), width_ratios=(1, 1.25))
    _stack(
        ax1,
        steps,
        centres,
        _shares(idx, len(centres), tiers, range(len(TIER_NAMES))),
        TIER_NAMES,
        TIER_COLOURS,
        "by curriculum tier",
    )
    ax1.legend(loc="upper left", fontsize=8, ncols=3)
    colours = [plt.get_cmap("tab10")(i) for i in range(len(keys))]
    if "other" in keys:
        colours[-1] = (0.75, 0.75, 0.75, 1.0)
    _stack(
        ax2,
        steps,
        centres,
        _shares(idx, len(centres), grouped, keys),
        [k or "(untagged)" for k in keys],
        colours,
        "by savestate",
    )
    ax2.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=8, frameon=False)
    fig.suptitle(f"{ep.run}: curriculum spawn mix", fontsize=12)
    return _save(fig, out / "spawn_mix.png")


def plot_badges(ep: Episodes, out: Path) -> Path:
    """Share of episodes ending with each badge, and the best badge count so far."""
    steps = ep.df["global_step"].to_numpy(float)
    badges = ep.df["badges"].to_numpy(np.uint8)
    idx, centres = _bins(steps)
    counts = np.maximum(np.bincount(idx, minlength=len(centres)), 1)
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 3.8))
    seen = [k for k in range(8) if np.any(badges >> k & 1)]
    for k in seen:
        share = (
            np.bincount(idx, weights=(badges >> k & 1).astype(float), minlength=len(centres))
            / counts
        )
        ax1.plot(centres, share, marker="o", markersize=3, label=BADGE_NAMES[k])
    if seen:
        ax1.legend(fontsize=8)
    else:
        ax1.text(
            0.5,
            0.5,
            "no badges yet",
            ha="center",
            va="center",
            fontsize=14,
            transform=ax1.transAxes,
            color="#7f8c8d",
        )
    ax1.set(title="share of episodes holding each badge", ylabel="share", ylim=(-0.02, 1.02))
    ax1.grid(alpha=0.3)
    n_badges = np.array([int(b).bit_count() for b in badges])
    ax2.step(
        steps, np.maximum.accumulate(n_badges), where="post", color="#b7950b", label="best so far"
    )
    ax2.plot(
        centres,
        np.bincount(idx, weights=n_badges, minlength=len(centres)) / counts,
        color="#7d6608",
        linestyle="--",
        label="mean per episode",
    )
    ax2.set(title="badges per episode", ylabel="badges", ylim=(0, 8.3))
    ax1.set_xlim(*_step_range(steps))
    for ax in (ax1, ax2):
        _steps_axis(ax, ep.marks)
    ax2.legend(fontsize=8)
    ax2.grid(alpha=0.3)
    fig.suptitle(f"{ep.run}: badges reached", fontsize=12)
    return _save(fig, out / "badges.png")


def plot_milestones_reached(ep: Episodes, out: Path) -> Path:
    """Share of episodes that reached each milestone, per stretch of training; rows in story
    order, up to the furthest ever reached and the next few (`Episodes.shown_columns`)."""
    idx, centres = _bins(ep.df["global_step"].to_numpy(float))
    mask = ep.df["milestones_reached"].to_numpy(np.uint64)
    counts = np.maximum(np.bincount(idx, minlength=len(centres)), 1)
    cols = ep.shown_columns()
    share = np.array(
        [
            np.bincount(
                idx,
                weights=(mask >> np.uint64(j) & np.uint64(1)).astype(float),
                minlength=len(centres),
            )
            / counts
            for j in cols
        ]
    ).reshape(len(cols), len(centres))
    k = len(cols)
    fig, ax = plt.subplots(figsize=(11, 0.28 * k + 1.8))
    half = (centres[1] - centres[0]) / 2 if len(centres) > 1 else 0.5
    img = ax.imshow(
        share,
        aspect="auto",
        cmap="viridis",
        vmin=0,
        vmax=1,
        extent=(centres[0] - half, centres[-1] + half, k - 0.5, -0.5),
        interpolation="nearest",
    )
    labels = ep.labels()
    ax.set_yticks(range(k), [labels[j] for j in cols], fontsize=8)
    hidden = len(ep.milestones) - k
    more = f" ({hidden} later milestones never reached, not shown)" if hidden else ""
    ax.set(title=f"{ep.run}: share of episodes reaching each milestone, story order{more}")
    _steps_axis(ax, ep.marks)
    fig.colorbar(img, ax=ax, label="share", fraction=0.03)
    return _save(fig, out / "milestones_reached.png")


PLOTS: dict[str, Callable[[Episodes, Path], Path]] = {
    "returns": plot_returns,
    "episode_length": plot_episode_length,
    "sps": plot_sps,
    "milestone_posteriors": plot_milestone_posteriors,
    "alarms": plot_alarms,
    "spawn_mix": plot_spawn_mix,
    "badges": plot_badges,
    "milestones_reached": plot_milestones_reached,
}
"""The plots drawn from episodes.h5 (every run that finished an episode has them)."""

LEARNER_TAGS = (
    ("losses/td_loss", "TD loss", "log"),
    ("losses/q_values", "Q value (mean over the batch)", "linear"),
    ("charts/epsilon", "ε (exploration)", "linear"),
    ("replay/fill", "replay fill (share of capacity)", "linear"),
    ("learner/updates_per_s", "learner updates / s", "linear"),
    ("losses/grad_norm", "gradient norm", "log"),
)
"""(TensorBoard tag, panel title, y scale) of the learner-health figure."""
SYSTEM_TAGS = (
    ("system/cpu_percent", "CPU, % of the machine"),
    ("system/rss_gb", "memory of the trainer and its workers, GB"),
    ("system/gpu_mem_gb", "GPU memory allocated, GB"),
)
TIME_TAGS = tuple(f"time/{k}_share" for k in ("env", "act", "learn", "rewards", "bookkeeping"))
SCALAR_TAGS = (*(t for t, _, _ in LEARNER_TAGS), *(t for t, _ in SYSTEM_TAGS), *TIME_TAGS,
               "charts/SPS", "best/cells_explored")  # fmt: skip


def _curve(ax: plt.Axes, df: pd.DataFrame, colour: str, label: str | None = None) -> None:
    """One scalar over env steps; dots as well when there are few points."""
    few = len(df) <= 40
    ax.plot(df["step"], df["value"], color=colour, linewidth=1.4, label=label,
            marker="o" if few else None, markersize=3)  # fmt: skip


def plot_learner(ep: Episodes, scalars: dict[str, pd.DataFrame], out: Path) -> Path | None:
    """Learner health from the run's TensorBoard scalars: TD loss, Q, ε, replay fill,
    updates/s, gradient norm, over env steps. None when the run logged none of them."""
    panels = [(tag, title, scale) for tag, title, scale in LEARNER_TAGS if tag in scalars]
    if not panels:
        return None
    ncols = 3
    nrows = -(-len(panels) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(13, 3.0 * nrows), squeeze=False)
    for ax, (tag, title, scale) in zip(axes.flat, panels):
        df = scalars[tag]
        _curve(ax, df, "#1f4e79")
        if scale == "log" and (df["value"] > 0).all():
            ax.set_yscale("log")
        ax.set_title(title, fontsize=10)
        ax.grid(alpha=0.3)
        _steps_axis(ax, ep.marks)
    for ax in axes.flat[len(panels) :]:
        ax.set_visible(False)
    fig.suptitle(f"{ep.run}: learner health (TensorBoard scalars, each log interval)", fontsize=12)
    return _save(fig, out / "learner.png")


def plot_system(ep: Episodes, scalars: dict[str, pd.DataFrame], out: Path) -> Path | None:
    """System use and where the training loop's time went, over env steps."""
    panels = [(tag, title) for tag, title in SYSTEM_TAGS if tag in scalars]
    split = [t for t in TIME_TAGS if t in scalars]
    if not panels and not split:
        return None
    n = len(panels) + bool(split)
    fig, axes = plt.subplots(1, n, figsize=(4.4 * n, 3.3), squeeze=False)
    for ax, (tag, title) in zip(axes.flat, panels):
        _curve(ax, scalars[tag], "#117a65")
        ax.set_title(title, fontsize=10)
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
        _steps_axis(ax, ep.marks)
    if split:
        ax = axes.flat[-1]
        steps = scalars[split[0]]["step"].to_numpy(float)
        shares = [np.interp(steps, scalars[t]["step"], scalars[t]["value"]) for t in split]
        names = [t.removeprefix("time/").removesuffix("_share") for t in split]
        colours = ("#27ae60", "#17a589", "#8e44ad", "#d4ac0d", "#95a5a6")
        if len(steps) == 1:
            steps = np.array([steps[0] - 0.5, steps[0] + 0.5])
            shares = [np.repeat(v, 2) for v in shares]
        ax.stackplot(steps, shares, labels=names, colors=colours[: len(names)], alpha=0.9)
        ax.set(title="time split of the training loop", ylabel="share of wall time", ylim=(0, 1))
        ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=8, frameon=False)
        _steps_axis(ax, ep.marks)
    fig.suptitle(f"{ep.run}: system use", fontsize=12)
    return _save(fig, out / "system.png")


SCALAR_PLOTS = {"learner": plot_learner, "system": plot_system}
"""The plots drawn from the run's TensorBoard scalars (`runs/<run>/tb/`)."""


# --- what else the run folder says -----------------------------------------------------------
@dataclass
class RunInfo:
    """Facts about the run beyond its episodes, for the summary table."""

    checkpoint_step: int | None = None
    checkpoint_created: str | None = None  # ISO time in the checkpoint's meta.json
    checkpoint_mtime: float | None = None
    scalar_last_step: int | None = None
    log_step: int | None = None  # the run log's last [STEP]/[PROGRESS] line (the most live)
    wall_times: np.ndarray = field(default_factory=lambda: np.zeros(0))  # every known moment
    starts: int = 0  # trainer processes (the run log's [START] lines)
    settings: dict[str, object] = field(default_factory=dict)
    settings_source: str = ""


def run_info(run_dir: Path, scalars: dict[str, pd.DataFrame]) -> RunInfo:
    """The newest checkpoint, the scalars' last step and wall times, the run's settings."""
    paths = RunPaths.from_dir(run_dir)
    info = RunInfo()
    step = paths.newest_complete_step()
    if step is not None:
        info.checkpoint_step = step
        folder = paths.checkpoint(step)
        try:
            meta = json.loads((folder / "meta.json").read_text())
            info.checkpoint_created = str(meta.get("created") or "") or None
            info.checkpoint_mtime = (folder / COMPLETE).stat().st_mtime
        except (OSError, ValueError):
            pass
    if scalars:
        info.scalar_last_step = int(max(df["step"].max() for df in scalars.values()))
        info.wall_times = np.concatenate(
            [df["wall_time"].to_numpy(float) for df in scalars.values()]
        )
    try:
        info.starts = starts(paths.train_log.read_text(errors="replace").splitlines())
    except OSError:
        pass
    logged = last_logged_step(paths.train_log)
    info.log_step = logged[0] if logged else None
    info.settings, info.settings_source = load_settings(run_dir)
    return info


def load_settings(run_dir: Path) -> tuple[dict[str, object], str]:
    """The run's settings and where they came from: the newest complete checkpoint's (what
    really ran), else `runs/<run>.yaml`'s `train:` section (what was asked for)."""
    from daddy.eval.rollout import complete_checkpoints

    paths = RunPaths.from_dir(run_dir)
    for folder in reversed(complete_checkpoints(paths.checkpoints)):
        try:
            config = json.loads((folder / "meta.json").read_text()).get("config")
        except (OSError, ValueError):
            continue
        if isinstance(config, dict) and config:
            return config, f"checkpoint {folder.name}"
    if paths.config.is_file():
        import yaml

        try:
            doc = yaml.safe_load(paths.config.read_text()) or {}
        except (OSError, yaml.YAMLError):
            doc = {}
        if isinstance(doc, dict):
            train = doc.get("train") if isinstance(doc.get("train"), dict) else {}
            flat = {**{k: v for k, v in doc.items() if not isinstance(v, dict)}, **train}
            return flat, f"{paths.config.name} (as asked; no checkpoint yet)"
    return {}, ""


def _utc(t: float) -> str:
    return pd.Timestamp(t, unit="s", tz="UTC").strftime("%Y-%m-%d %H:%M UTC")


def _span(seconds: float) -> str:
    """'2 d 3 h', '4 h 05 min', '12 min 30 s', '8 s': a duration for people."""
    s = round(max(seconds, 0))
    d, h, m = s // 86400, s // 3600 % 24, s // 60 % 60
    if d:
        return f"{d} d {h} h"
    if h:
        return f"{h} h {m:02d} min"
    return f"{m} min {s % 60:02d} s" if m else f"{s} s"


GAP_S = 600.0  # more than this between two logged moments: the run was not running


def wall_clock(times: np.ndarray) -> str:
    """First to last logged moment, and how much of it the run was running (gaps longer than
    GAP_S between logged moments — queueing, preemption — left out)."""
    times = np.sort(times[np.isfinite(times)])
    if len(times) < 2:
        return "-"
    total = float(times[-1] - times[0])
    gaps = np.diff(times)
    running = float(gaps[gaps <= GAP_S].sum())
    text = f"{_span(total)} ({_utc(times[0])} to {_utc(times[-1])})"
    if total - running > 1:
        text += f"; running {_span(running)}, the rest between processes"
    return text


# --- the page --------------------------------------------------------------------------------
def summary(ep: Episodes, info: RunInfo | None = None) -> dict[str, str]:
    df = ep.df
    info = info or RunInfo()
    last = df.tail(_window(ep.n))
    reached, labels = ep.reached_ever(), ep.labels()
    names = [labels[j] for j in ep.story_columns() if reached >> j & 1]
    ahead = [labels[j] for j in ep.next_columns(3)]
    known = [int(df["global_step"].max()), info.checkpoint_step or 0,
             info.scalar_last_step or 0, info.log_step or 0]  # fmt: skip
    times = [df["wall_time"].to_numpy(float), info.wall_times]
    if info.checkpoint_mtime is not None:
        times.append(np.array([info.checkpoint_mtime]))
    ckpt = "none"
    if info.checkpoint_step is not None:
        ckpt = f"step {info.checkpoint_step:,}"
        if info.checkpoint_created:
            ckpt += f", written {info.checkpoint_created.replace('T', ' ')}"
    cuts = {kind: sum(m.kind == kind for m in ep.marks) for kind in KINDS}
    processes = "-"
    if info.starts:
        processes = (
            f"{info.starts} trainer starts; cuts: {cuts['segment']} planned (segment end, "
            f"--until-step), {cuts['stopped']} by a signal (preemption, time limit), "
            f"{cuts['killed']} without a word (killed, crashed)"
        )
    return {
        "run": ep.run,
        "env steps": f"{max(known):,}",
        "newest checkpoint": ckpt,
        "episodes": f"{ep.n:,} from {df['env_id'].nunique()} envs; the last ended at step "
        f"{int(df['global_step'].max()):,}",
        "wall-clock": wall_clock(np.concatenate(times)),
        "processes": processes,
        "SPS (recent median)": f"{float(last['sps'].median()):,.0f}",
        "return_total (recent mean / best)": (
            f"{float(last['return_total'].mean()):.2f} / {float(df['return_total'].max()):.2f}"
        ),
        "most badges in an episode": str(max(int(b).bit_count() for b in df["badges"])),
        "furthest milestone": names[-1] if names else "none",
        "next milestones": ", ".join(ahead) or "all reached",
        "milestones ever reached": f"{len(names)} of {len(ep.milestones)}: "
        + (", ".join(names) or "none"),
        "last map": map_name(int(df["map_id"].iloc[-1])),
        "episodes with alarms": f"{int((df['alarm'] != 0).sum()):,}",
    }


MAX_EMBED_BYTES = 20 * 1024**2  # a bigger GIF is copied beside the page instead


def _videos_html(run_dir: Path, out: Path) -> str:
    """The newest rollout GIF embedded (a data URI: the page travels alone), and the run's
    rollout videos listed by their place in the run folder (no links: relative links break
    when the page is copied off the cluster)."""
    folder = RunPaths.from_dir(run_dir).videos
    found = (
        sorted(folder.rglob("rollout_*.mp4"), key=lambda p: _step_of(p.stem), reverse=True)
        if folder.is_dir()
        else []
    )  # videos/ and videos/final/
    if not found:
        return ""
    gif = found[0].with_suffix(".gif")
    shown = ""
    if gif.is_file() and gif.stat().st_size <= MAX_EMBED_BYTES:
        data = base64.b64encode(gif.read_bytes()).decode("ascii")
        shown = (
            f'<p><img src="data:image/gif;base64,{data}" alt="newest rollout" class=video></p>'
            f"<p class=dim>{html.escape(str(gif.relative_to(run_dir)))}, embedded.</p>"
        )
    elif gif.is_file():
        shutil.copy2(gif, out / gif.name)
        shown = (
            f"<p class=note>The newest rollout GIF ({gif.stat().st_size / 1024**2:.0f} MB) is too "
            f"big to embed: it is copied beside this page as {html.escape(gif.name)}; copy the "
            "report folder, not only the page.</p>"
        )
    items = "".join(
        f"<li>{html.escape(str(p.relative_to(run_dir)))}"
        + (" (+ .gif)" if p.with_suffix(".gif").is_file() else "")
        + "</li>"
        for p in found
    )
    return (
        f'<h2 id="videos">rollout videos</h2>{shown}'
        f"<p class=dim>Videos in the run folder ({html.escape(str(run_dir))}):</p><ul>{items}</ul>"
    )


def _step_of(stem: str) -> tuple[int, int]:
    """(checkpoint step, episode) of `rollout_<step>` or `rollout_<step>_<k>`; (-1, 0) else."""
    m = re.fullmatch(r"rollout_(\d+)(?:_(\d+))?", stem)
    return (int(m.group(1)), -int(m.group(2) or 0)) if m else (-1, 0)


def _settings_html(info: RunInfo) -> str:
    """The run's settings as a compact two-column table, changed-from-default values in bold."""
    if not info.settings:
        return ""
    defaults = _train_defaults()
    cells = []
    for k in sorted(info.settings):
        v = info.settings[k]
        text = json.dumps(v) if isinstance(v, (dict, list)) else str(v)
        changed = k in defaults and defaults[k] != v
        value = f"<b>{html.escape(text)}</b>" if changed else html.escape(text)
        cells.append(f"<tr><th>{html.escape(k)}</th><td>{value}</td></tr>")
    changed = sum("<b>" in c for c in cells)
    return (
        f'<details id="settings" open><summary><b>settings</b> ({len(cells)}; {changed} not '
        f"the trainer's default, in bold; from {html.escape(info.settings_source)})</summary>"
        f"<div class=settings><table>{''.join(cells)}</table></div></details>"
    )


def _train_defaults() -> dict[str, object]:
    """TrainConfig's defaults (empty when it cannot be built here)."""
    try:
        from daddy.run.config import TrainConfig

        return TrainConfig().to_dict()
    except Exception:  # noqa: BLE001 (the table only loses its bold)
        return {}


def _cuts_html(marks: Sequence[Mark]) -> str:
    if not marks:
        return ""
    rows = "".join(
        f'<li><span style="color:{KINDS[m.kind][0]}">■</span> step {m.step:,}: '
        f"{html.escape(m.label)}</li>"
        for m in marks[:MAX_MARKS]
    )
    more = f"<li>… {len(marks) - MAX_MARKS} more</li>" if len(marks) > MAX_MARKS else ""
    return (
        '<details id="cuts" open><summary><b>segments and preemptions</b> (from train.log and '
        "segments/*.done; vertical lines on the step plots)</summary>"
        f"<ul class=cuts>{rows}{more}</ul></details>"
    )


STYLE = """body{font-family:sans-serif;max-width:1300px;margin:auto;padding:1em;color:#222}
img{max-width:100%;border:1px solid #ddd}img.video{image-rendering:pixelated;width:480px}
th{text-align:left;padding-right:1em;vertical-align:top;font-weight:600}
td{vertical-align:top}.note{color:#a04000}.dim{color:#666;font-size:90%}
.settings table{font-size:85%;border-collapse:collapse}.settings{columns:2 420px}
.settings tr{break-inside:avoid}.settings th,.settings td{padding:1px 8px 1px 0}
nav{position:sticky;top:0;background:#fff;padding:.4em 0;border-bottom:1px solid #ddd}
ul.cuts{columns:2 400px;font-size:90%;margin:.3em 0}h2{margin-top:1.6em}
details{margin:.8em 0}summary{cursor:pointer}
.grid{display:flex;flex-wrap:wrap;gap:1em;align-items:flex-start}
.grid figure{margin:0;max-width:calc(50% - .5em)}figcaption{color:#666;font-size:90%}"""
HEATMAP_PREFIX = "heatmap_"


def page_html(title: str, head_html: str, images: Sequence[Path], extra_html: str = "") -> str:
    """A page with every PNG embedded as a data URI (it travels alone), a contents bar."""
    links = [(img.stem, img.stem.replace("_", " ")) for img in images
             if not img.stem.startswith(HEATMAP_PREFIX)]  # fmt: skip
    if len(links) < len(images):
        links.append(("heatmaps", "visit heatmaps"))
    links += [(a, a) for a in ("videos",) if f'id="{a}"' in extra_html]
    toc = " · ".join(f'<a href="#{a}">{html.escape(t)}</a>' for a, t in links)
    figs = []
    for img in images:
        data = base64.b64encode(img.read_bytes()).decode("ascii")
        name = img.stem.replace("_", " ")
        tag = f'<img src="data:image/png;base64,{data}" alt="{html.escape(name)}">'
        if img.stem.startswith(HEATMAP_PREFIX):  # side by side: each is small
            figs.append(f'<figure id="{img.stem}">{tag}<figcaption>{html.escape(name)}'
                        "</figcaption></figure>")  # fmt: skip
        else:
            figs.append(f'<h2 id="{img.stem}">{html.escape(name)}</h2>{tag}')
    first = next((i for i, f in enumerate(figs) if f.startswith("<figure")), None)
    if first is not None:  # one section holds the heatmaps, in a grid
        grid = [f for f in figs if f.startswith("<figure")]
        figs = [f for f in figs if not f.startswith("<figure")]
        figs.insert(first, '<h2 id="heatmaps">visit heatmaps</h2><div class=grid>'
                    + "".join(grid) + "</div>")  # fmt: skip
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>{STYLE}</style></head><body>
<h1>{html.escape(title)}</h1>
{head_html}
<nav>{toc}</nav>
{"".join(figs)}
{extra_html}
</body></html>
"""


def write_html(
    ep: Episodes,
    images: Sequence[Path],
    out: Path,
    notes: Sequence[str] = (),
    extra_html: str = "",
    info: RunInfo | None = None,
    head_html: str = "",
) -> Path:
    """`out/index.html`: summary table, notes, `head_html` (cuts, settings), every PNG embedded
    (base64) so it travels alone, and `extra_html` (the videos) at the end."""
    rows = "".join(
        f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>"
        for k, v in summary(ep, info).items()
    )
    notes_html = "".join(f"<p class=note>{html.escape(n)}</p>" for n in notes)
    page = page_html(f"{ep.run}: training report",
                     f"<table>{rows}</table>{notes_html}{head_html}", images, extra_html)  # fmt: skip
    return atomic_write_text(out / PAGE, page, fsync=False)


def load_visits(run_dir: Path) -> tuple[VisitCounts, str] | None:
    """The run's newest visit counts and where they came from: `heatmap.npz` in the run folder
    or the `visits` part of the newest complete checkpoint, whichever was written last."""
    from daddy.eval.rollout import EvaluationError, complete_checkpoints, load_checkpoint_parts

    paths = RunPaths.from_dir(run_dir)
    candidates: list[tuple[float, str, Path]] = []
    if paths.heatmap.is_file():
        candidates.append((paths.heatmap.stat().st_mtime, "file", paths.heatmap))
    for folder in reversed(complete_checkpoints(paths.checkpoints)):
        try:
            parts = json.loads((folder / "meta.json").read_text()).get("parts", [])
        except (OSError, ValueError):
            continue
        if CHECKPOINT_PART in parts:
            candidates.append(((folder / COMPLETE).stat().st_mtime, "checkpoint", folder))
            break
    if not candidates:
        return None
    _, kind, path = max(candidates)
    if kind == "file":
        return VisitCounts.load(path), str(path)
    try:
        _, payload = load_checkpoint_parts(path, [CHECKPOINT_PART])
    except EvaluationError as err:
        raise ValueError(str(err)) from err
    return VisitCounts.from_state_dict(payload[CHECKPOINT_PART]), f"{path} ({CHECKPOINT_PART})"


def runs_practice_rom(run_dir: Path) -> bool:
    """Whether the run plays the practice cartridge (its maps are sized differently): the
    newest checkpoint's config says, else `runs/<run>.yaml`; unknown counts as Pokémon Red."""
    from daddy.eval.rollout import complete_checkpoints

    paths = RunPaths.from_dir(run_dir)
    newest = complete_checkpoints(paths.checkpoints)[-1:]
    rom = None
    if newest:
        try:
            rom = json.loads((newest[0] / "meta.json").read_text()).get("config", {}).get("rom")
        except (OSError, ValueError):
            rom = None
    config = paths.config
    if rom is None and config.is_file():
        import yaml

        try:
            doc = yaml.safe_load(config.read_text()) or {}
            rom = (doc.get("train") or {}).get("rom", "practice")  # TrainConfig's default
        except (OSError, yaml.YAMLError, AttributeError):
            rom = None
    return rom == "practice"


def build_report(run_dir: Path, out: Path) -> Path:
    """Every plot (episodes, learner and system scalars), the visit heatmaps (if the run saved
    counts), cuts, settings and the newest rollout → `out/index.html`."""
    ep = load_episodes(run_dir)
    ep.marks = run_marks(run_dir)
    out.mkdir(parents=True, exist_ok=True)
    tb = RunPaths.from_dir(run_dir).tensorboard
    scalars = read_scalars(tb, SCALAR_TAGS)
    images = [plot(ep, out) for plot in PLOTS.values()]
    learner = [plot(ep, scalars, out) for plot in SCALAR_PLOTS.values()]
    images[1:1] = [p for p in learner if p is not None]  # right after the returns
    notes = [
        f"Episode rows {a}..{b - 1} of this run are lost (its log was damaged, missing or "
        "behind the checkpoint); the plots show the rows that remain."
        for a, b in ep.lost_rows
    ]
    if not scalars:
        notes.append(
            f"No learner or system curves: the run has no TensorBoard scalars in {tb} (it ran "
            "with --no-tensorboard, or before they existed)."
        )
    try:
        visits = load_visits(run_dir)
        if visits is None:
            notes.append("No visit heatmap yet: the run has saved no visit counts.")
        elif len(visits[0]) == 0:
            notes.append(f"No visit heatmap yet: {visits[1]} holds no visits.")
        else:
            images += render_heatmaps(
                visits[0], out, sizes=map_sizes(practice=runs_practice_rom(run_dir))
            )
    except (ValueError, OSError) as err:
        notes.append(f"Visit heatmap skipped: {err}")
    info = run_info(run_dir, scalars)
    head = _cuts_html(ep.marks) + _settings_html(info)
    return write_html(ep, images, out, notes, _videos_html(run_dir, out), info, head)


def main(argv: Sequence[str] | None = None) -> int:
    parser = OneLineParser(
        prefix="report",
        prog="python -m analysis.report",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--run", help="run name (folder under --runs-root)")
    which.add_argument(
        "--runs",
        nargs="+",
        metavar="GROUP",
        help="compare runs on one page (analysis/compare.py): each GROUP a run, a comma list "
        "or a glob; single runs together form one group (seeds); default --out: "
        "<runs-root>/compare/<names>",
    )
    parser.add_argument(
        "--runs-root",
        type=Path,
        default=RUNS_ROOT,
        help="folder holding run outputs (default: runs)",
    )
    parser.add_argument(
        "--out", type=Path, default=None, help="output folder (default: <runs-root>/<run>/report)"
    )
    args = parser.parse_args(argv)
    if args.runs:
        return _compare(args.runs, args.runs_root, args.out)
    try:
        paths = RunPaths(args.run, args.runs_root)
    except ValueError as err:
        print(f"report: {err}", file=sys.stderr)
        return EXIT_BAD_INPUT
    run_dir = paths.dir
    out = args.out or paths.report
    try:
        page = build_report(run_dir, out)
    except NoEpisodesError as err:
        print(f"report: {err}", file=sys.stderr)
        return EXIT_NO_EPISODES
    print(f"report: wrote {page}", flush=True)
    return EXIT_OK


def _compare(specs: Sequence[str], runs_root: Path, out: Path | None) -> int:
    from analysis.compare import CompareError, build_compare

    try:
        page = build_compare(specs, runs_root, out)
    except (CompareError, ValueError) as err:
        print(f"report: {err}", file=sys.stderr)
        return EXIT_BAD_INPUT
    print(f"report: wrote {page}", flush=True)
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
