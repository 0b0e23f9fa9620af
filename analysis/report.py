"""Stability report of a run: PNG plots and one self-contained HTML page.

    python -m analysis.report --run NAME [--runs-root runs] [--out runs/NAME/report]

Reads `runs/NAME/episodes.h5` through `daddy.run.episode_log.read` (SWMR, so it works while training
still writes the log), the newest visit counts (the newest checkpoint's `visits` part, or
`runs/NAME/heatmap.npz`) and the rollout videos in `runs/NAME/videos/`, and writes one PNG per plot
plus `index.html` (every PNG embedded, so the page travels alone). Exit code 2, with one line
saying why, when the run has no episodes yet.
"""

from __future__ import annotations

import argparse
import base64
import html
import json
import os
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.ticker import FuncFormatter

from analysis.beta import beta_mean, beta_ppf
from daddy.eval.heatmap import CHECKPOINT_PART, VisitCounts, render_heatmaps, save_figure
from daddy.eval.video import BADGE_NAMES
from daddy.game.maps import map_name, map_sizes
from daddy.game.milestones import DEFAULT_MILESTONES, STORY_ORDER
from daddy.io import atomic_write_text
from daddy.run import episode_log
from daddy.run.exit_codes import EXIT_BAD_INPUT, EXIT_OK, OneLineParser
from daddy.run.paths import COMPLETE, RUNS_ROOT, RunPaths

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

    @property
    def n(self) -> int:
        return len(self.df)

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


def _steps_axis(ax: plt.Axes) -> None:
    ax.xaxis.set_major_formatter(FuncFormatter(_si))
    ax.set_xlabel("global step")


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
        _band_plot(ax, ep.index, ep.df[col].astype(float), colour, w)
        _mark_alarms(ax, ep, ep.index)
        ax.set_ylabel(col.removeprefix("return_"))
    axes[0].legend(loc="upper left", fontsize=8)
    axes[0].set_title(f"{ep.run}: episode returns by component")
    axes[-1].set_xlabel("episode (completion order)")
    return _save(fig, out / "returns.png")


def plot_episode_length(ep: Episodes, out: Path) -> Path:
    fig, ax = plt.subplots(figsize=(11, 3.6))
    _band_plot(ax, ep.index, ep.df["length"].astype(float), "#2c3e50", _window(ep.n))
    _mark_alarms(ax, ep, ep.index)
    ax.set(title=f"{ep.run}: episode length", xlabel="episode (completion order)", ylabel="steps")
    ax.legend(loc="upper left", fontsize=8)
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
    _steps_axis(ax)
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
    fig, ax = plt.subplots(figsize=(11, 3.2))
    bits = [k for k in range(64) if np.any(alarm >> np.uint64(k) & np.uint64(1))]
    for row, k in enumerate(bits):
        hit = np.flatnonzero(alarm >> np.uint64(k) & np.uint64(1))
        ax.scatter(hit, np.full(len(hit), row), marker="|", s=120, color="red")
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
    ax.set_xlim(-0.5, max(ep.n - 0.5, 0.5))
    ax.set_xlabel("episode (completion order)")
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
    ax.set(title=title, ylabel="share of episodes", ylim=(0, 1))
    _steps_axis(ax)


def plot_spawn_mix(ep: Episodes, out: Path) -> Path:
    """Where episodes started over training: curriculum tier, and the most used savestates."""
    idx, centres = _bins(ep.df["global_step"].to_numpy(float))
    tiers = ep.df["spawn_tier"].to_numpy(int)
    tags = ep.df["savestate_tag"].astype(str).to_numpy()
    top = list(pd.Series(tags).value_counts().index[:MAX_TAGS])
    grouped = np.where(np.isin(tags, top), tags, "other")
    keys = top + (["other"] if len(top) < len(set(tags)) else [])
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(13, 3.8), width_ratios=(1, 1.25))
    _stack(
        ax1,
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
    for ax in (ax1, ax2):
        _steps_axis(ax)
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
    _steps_axis(ax)
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


# --- the page --------------------------------------------------------------------------------
def summary(ep: Episodes) -> dict[str, str]:
    df = ep.df
    last = df.tail(_window(ep.n))
    reached, labels = ep.reached_ever(), ep.labels()
    names = [labels[j] for j in ep.story_columns() if reached >> j & 1]
    ahead = [labels[j] for j in ep.next_columns(3)]
    hours = (df["wall_time"].max() - df["wall_time"].min()) / 3600
    return {
        "run": ep.run,
        "episodes": f"{ep.n:,} from {df['env_id'].nunique()} envs",
        "last global step": f"{int(df['global_step'].max()):,}",
        "wall-clock span": f"{hours:.2f} h",
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


def _videos_html(run_dir: Path, out: Path) -> str:
    """Links to the run's rollout videos, newest first, with the newest GIF shown inline."""
    folder = RunPaths.from_dir(run_dir).videos
    found = (
        sorted(folder.rglob("rollout_*.mp4"), key=lambda p: _step_of(p.stem), reverse=True)
        if folder.is_dir()
        else []
    )  # videos/ and videos/final/
    if not found:
        return ""

    def rel(p: Path) -> str:
        return html.escape(os.path.relpath(p, out))

    gif = found[0].with_suffix(".gif")
    shown = (
        f'<p><img src="{rel(gif)}" alt="newest rollout" class=video></p>' if gif.is_file() else ""
    )
    links = "".join(
        f'<li><a href="{rel(p)}">{html.escape(str(p.relative_to(folder)))}</a>'
        + (
            f' (<a href="{rel(p.with_suffix(".gif"))}">gif</a>)'
            if p.with_suffix(".gif").is_file()
            else ""
        )
        + "</li>"
        for p in found
    )
    return f'<h2 id="videos">rollout videos</h2>{shown}<ul>{links}</ul>'


def _step_of(stem: str) -> tuple[int, int]:
    """(checkpoint step, episode) of `rollout_<step>` or `rollout_<step>_<k>`; (-1, 0) else."""
    m = re.fullmatch(r"rollout_(\d+)(?:_(\d+))?", stem)
    return (int(m.group(1)), -int(m.group(2) or 0)) if m else (-1, 0)


def write_html(
    ep: Episodes, images: Sequence[Path], out: Path, notes: Sequence[str] = (), extra_html: str = ""
) -> Path:
    """`out/index.html`: summary table, notes, every PNG embedded (base64) so it travels alone,
    and `extra_html` (the videos section) at the end."""
    rows = "".join(
        f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>"
        for k, v in summary(ep).items()
    )
    notes_html = "".join(f"<p class=note>{html.escape(n)}</p>" for n in notes)
    toc = " · ".join(
        f'<a href="#{img.stem}">{html.escape(img.stem.replace("_", " "))}</a>' for img in images
    )
    figs = []
    for img in images:
        data = base64.b64encode(img.read_bytes()).decode("ascii")
        title = img.stem.replace("_", " ")
        figs.append(
            f'<h2 id="{img.stem}">{html.escape(title)}</h2>'
            f'<img src="data:image/png;base64,{data}" alt="{html.escape(title)}">'
        )
    page = f"""<!doctype html>
<html><head><meta charset="utf-8"><title>{html.escape(ep.run)}: stability report</title>
<style>body{{font-family:sans-serif;max-width:1250px;margin:auto;padding:1em}}
img{{max-width:100%;border:1px solid #ddd}}img.video{{image-rendering:pixelated}}
th{{text-align:left;padding-right:1em}}.note{{color:#a04000}}</style></head><body>
<h1>{html.escape(ep.run)}: stability report</h1>
<table>{rows}</table>{notes_html}
<p>{toc}</p>
{"".join(figs)}
{extra_html}
</body></html>
"""
    path = out / PAGE
    return atomic_write_text(path, page, fsync=False)


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
    """Every plot, the visit heatmaps (if the run saved counts) and links to the rollout
    videos → `out/index.html`."""
    ep = load_episodes(run_dir)
    out.mkdir(parents=True, exist_ok=True)
    images = [plot(ep, out) for plot in PLOTS.values()]
    notes = [
        f"Episode rows {a}..{b - 1} of this run are lost (its log was damaged, missing or "
        "behind the checkpoint); the plots show the rows that remain."
        for a, b in ep.lost_rows
    ]
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
    return write_html(ep, images, out, notes, _videos_html(run_dir, out))


def main(argv: Sequence[str] | None = None) -> int:
    parser = OneLineParser(
        prefix="report",
        prog="python -m analysis.report",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--run", required=True, help="run name (folder under --runs-root)")
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


if __name__ == "__main__":
    sys.exit(main())
