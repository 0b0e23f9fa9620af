"""Several runs or seeds on one page: median and band over runs, against env steps.

    python -m analysis.report --runs a b c            # three runs (e.g. seeds) as one group
    python -m analysis.report --runs 'base_s*' 'rnd_s*'   # two groups of seeds, by pattern
    python -m analysis.report --runs a1,a2,a3 b1,b2,b3    # two groups, named run by run

Each argument is one group: a run name, a comma-separated list of runs, or a glob pattern over
the run folders. With one run per argument, all of them form a single group (the usual "same
config, several seeds" case). Each group is drawn as its median over runs with a band (25–75%
with three runs or more, min–max with two) and each run as a thin line, so an outlier seed
shows. A run is drawn only up to its own last step (no extrapolation): the median at a step is
over the runs that got there, and the figures say how many runs each group has.

Curves come from each run's `episodes.h5` (returns, episode length, best badges, milestones
reached, furthest milestone in story order) and its TensorBoard scalars (TD loss, Q, SPS, cells
explored) where it has them. A table lists each run and the settings that differ between runs.
"""

from __future__ import annotations

import fnmatch
import hashlib
import html
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from analysis.report import (
    Episodes,
    NoEpisodesError,
    _save,
    _steps_axis,
    _window,
    load_episodes,
    load_settings,
    page_html,
)
from analysis.tb_read import read_scalars
from daddy.game.milestones import STORY_ORDER
from daddy.io import atomic_write_text
from daddy.run.paths import RunPaths

GRID = 120  # points on the common step axis
COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b")
TB_CURVES = (
    ("losses/td_loss", "TD loss", "log"),
    ("losses/q_values", "Q value (mean)", "linear"),
    ("charts/SPS", "env steps / s", "linear"),
    ("best/cells_explored", "cells explored (run-wide)", "linear"),
)


class CompareError(ValueError):
    """A group names no run, or a run cannot be read; the message says which and why."""


@dataclass
class Run:
    """One run's curves as (steps, values) pairs, by curve name."""

    name: str
    episodes: Episodes
    curves: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    settings: dict[str, object] = field(default_factory=dict)

    @property
    def last_step(self) -> float:
        return max(float(s[-1]) for s, _ in self.curves.values() if len(s))


@dataclass
class Group:
    label: str
    runs: list[Run]


# --- finding the runs ------------------------------------------------------------------------
def run_names(runs_root: Path) -> list[str]:
    return sorted(p.name for p in runs_root.iterdir() if (p / "episodes.h5").is_file()) if (
        runs_root.is_dir()
    ) else []  # fmt: skip


def resolve_groups(specs: Sequence[str], runs_root: Path) -> list[tuple[str, list[str]]]:
    """(label, run names) per group; single-run arguments together form one group."""
    have = run_names(runs_root)
    groups = []
    for spec in specs:
        names: list[str] = []
        for part in (p for p in spec.split(",") if p):
            hits = fnmatch.filter(have, part) if any(c in part for c in "*?[") else [part]
            if not hits:
                raise CompareError(
                    f"--runs {spec!r}: no run matches {part!r} under {runs_root} "
                    f"(runs with episodes: {', '.join(have) or 'none'})"
                )
            names += [h for h in hits if h not in names]
        groups.append((spec, names))
    if groups and all(len(n) == 1 for _, n in groups) and len(groups) > 1:
        return [("all runs", [n[0] for _, n in groups])]
    return groups


# --- one run's curves ------------------------------------------------------------------------
def _rolling(values: np.ndarray, n: int) -> np.ndarray:
    w = _window(n)
    return pd.Series(values).rolling(w, min_periods=max(1, w // 4)).mean().to_numpy()


def episode_curves(ep: Episodes) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Curves over env steps from the episode log (rolling means; running bests)."""
    df, steps = ep.df, ep.steps
    badges = np.array([int(b).bit_count() for b in df["badges"]], float)
    masks = df["milestones_reached"].to_numpy(np.uint64)
    ever = np.bitwise_or.accumulate(masks) if len(masks) else masks
    rank = {name: r for r, name in enumerate(STORY_ORDER)}
    order = [rank.get(name, -1) for name in ep.milestones]
    furthest = np.array(
        [max((order[j] + 1 for j in range(len(order)) if int(m) >> j & 1), default=0)
         for m in ever], float,
    )  # fmt: skip
    return {
        "return_env": (steps, _rolling(df["return_env"].to_numpy(float), ep.n)),
        "return_total": (steps, _rolling(df["return_total"].to_numpy(float), ep.n)),
        "length": (steps, _rolling(df["length"].to_numpy(float), ep.n)),
        "best_badges": (steps, np.maximum.accumulate(badges)),
        "milestones_ever": (steps, np.array([int(m).bit_count() for m in ever], float)),
        "furthest_rank": (steps, furthest),
    }


def load_run(runs_root: Path, name: str) -> Run:
    run_dir = RunPaths(name, runs_root).dir
    try:
        ep = load_episodes(run_dir)
    except NoEpisodesError as err:
        raise CompareError(str(err)) from err
    run = Run(name, ep, episode_curves(ep), load_settings(run_dir)[0])
    scalars = read_scalars(RunPaths(name, runs_root).tensorboard, [t for t, _, _ in TB_CURVES])
    for tag, df in scalars.items():
        run.curves[tag] = (df["step"].to_numpy(float), df["value"].to_numpy(float))
    return run


# --- median and band -------------------------------------------------------------------------
def on_grid(steps: np.ndarray, values: np.ndarray, grid: np.ndarray, *, hold: bool) -> np.ndarray:
    """Values at the grid's steps, NaN before the first point and after the last (never
    extrapolated). `hold`: the last value so far (running bests), else linear between points."""
    out = np.full(len(grid), np.nan)
    ok = np.isfinite(values)
    steps, values = steps[ok], values[ok]
    if not len(steps):
        return out
    inside = (grid >= steps[0]) & (grid <= steps[-1])
    if hold:
        idx = np.searchsorted(steps, grid[inside], side="right") - 1
        out[inside] = values[np.clip(idx, 0, len(values) - 1)]
    else:
        out[inside] = np.interp(grid[inside], steps, values)
    return out


def band(stack: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(median, low, high) over runs (axis 0), ignoring runs with no value there: 25–75% with
    three runs or more at that step, min–max with two, the value itself with one."""
    with np.errstate(all="ignore"):
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns: NaN, on purpose
            n = np.sum(np.isfinite(stack), axis=0)
            med = np.nanmedian(stack, axis=0)
            lo = np.where(n >= 3, np.nanpercentile(stack, 25, axis=0), np.nanmin(stack, axis=0))
            hi = np.where(n >= 3, np.nanpercentile(stack, 75, axis=0), np.nanmax(stack, axis=0))
    return med, lo, hi


HOLD = {"best_badges", "milestones_ever", "furthest_rank", "best/cells_explored"}
PANELS: tuple[tuple[str, str, str], ...] = (
    ("return_env", "episode return (env), rolling mean", "linear"),
    ("return_total", "episode return (total), rolling mean", "linear"),
    ("best_badges", "most badges so far", "linear"),
    ("milestones_ever", "milestones reached so far", "linear"),
    ("furthest_rank", "furthest milestone so far (story position)", "linear"),
    ("length", "episode length, rolling mean", "linear"),
    *TB_CURVES,
)


def plot_compare(groups: Sequence[Group], out: Path) -> list[Path]:
    """Two figures: progress (episode curves) and learner (TensorBoard curves)."""
    last = max(r.last_step for g in groups for r in g.runs)
    grid = np.linspace(0, last, GRID)
    images = []
    for name, keys in (("progress", PANELS[:6]), ("learner", PANELS[6:])):
        keys = [k for k in keys if any(k[0] in r.curves for g in groups for r in g.runs)]
        if not keys:
            continue
        nrows = -(-len(keys) // 2)
        fig, axes = plt.subplots(nrows, 2, figsize=(13, 3.3 * nrows), squeeze=False)
        for ax, (key, title, scale) in zip(axes.flat, keys):
            _panel(ax, groups, key, grid)
            ax.set_title(title, fontsize=10)
            if scale == "log":
                ax.set_yscale("log")
            _steps_axis(ax)
        for ax in axes.flat[len(keys) :]:
            ax.set_visible(False)
        axes.flat[0].legend(fontsize=8, loc="best")
        counts = ", ".join(f"{g.label}: {len(g.runs)} runs" for g in groups)
        fig.suptitle(f"{name}: median over runs (dashed: past some runs' last step), band "
                     f"25–75% (min–max with 2 runs); {counts}", fontsize=11)  # fmt: skip
        images.append(_save(fig, out / f"compare_{name}.png"))
    return images


def _panel(ax: plt.Axes, groups: Sequence[Group], key: str, grid: np.ndarray) -> None:
    single = len(groups) == 1
    for gi, g in enumerate(groups):
        colour = COLOURS[gi % len(COLOURS)]
        rows = []
        for ri, run in enumerate(g.runs):
            if key not in run.curves:
                continue
            steps, values = run.curves[key]
            y = on_grid(steps, values, grid, hold=key in HOLD)
            rows.append(y)
            thin = COLOURS[ri % len(COLOURS)] if single else colour
            ax.plot(grid, y, color=thin, linewidth=0.9, alpha=0.55 if single else 0.3,
                    label=run.name if single else None)  # fmt: skip
        if not rows:
            continue
        stack = np.vstack(rows)
        med, lo, hi = band(stack)
        ax.fill_between(grid, lo, hi, color="#555555" if single else colour, alpha=0.18,
                        linewidth=0, label="band" if single else None)  # fmt: skip
        every = np.isfinite(stack).all(axis=0)  # solid where every run of the group got to
        line = "black" if single else colour
        ax.plot(grid, np.where(every, med, np.nan), color=line, linewidth=2.0,
                label="median" if single else f"{g.label} (median of {len(rows)})")  # fmt: skip
        ax.plot(grid, np.where(every, np.nan, med), color=line, linewidth=1.2, linestyle="--")
    ax.grid(alpha=0.3)


# --- the page --------------------------------------------------------------------------------
def differing_settings(runs: Sequence[Run]) -> list[str]:
    """Settings keys whose values are not the same in every run (run_name left out)."""
    keys = sorted({k for r in runs for k in r.settings} - {"run_name"})
    return [k for k in keys if len({repr(r.settings.get(k)) for r in runs}) > 1]


def runs_table(groups: Sequence[Group]) -> str:
    runs = [r for g in groups for r in g.runs]
    differ = differing_settings(runs)
    head = "".join(f"<th>{html.escape(h)}</th>" for h in
                   ("group", "run", "env steps", "episodes", "most badges", "furthest milestone",
                    *differ))  # fmt: skip
    body = []
    for g in groups:
        for r in g.runs:
            ep = r.episodes
            reached, labels = ep.reached_ever(), ep.labels()
            names = [labels[j] for j in ep.story_columns() if reached >> j & 1]
            cells = [g.label, r.name, f"{int(r.last_step):,}", f"{ep.n:,}",
                     str(int(r.curves["best_badges"][1].max())), names[-1] if names else "none",
                     *(str(r.settings.get(k, "-")) for k in differ)]  # fmt: skip
            body.append("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in cells) + "</tr>")
    note = (f"Settings that differ between the runs: {', '.join(differ)}." if differ
            else "The runs' settings are the same (but for run_name).")  # fmt: skip
    return (
        f"<table class=runs><tr>{head}</tr>{''.join(body)}</table><p class=dim>{html.escape(note)}"
        " From each run's newest checkpoint.</p>"
    )


def default_out(runs_root: Path, groups: Sequence[tuple[str, list[str]]]) -> Path:
    """`<runs-root>/compare/<names>`: with the runs (synced with them), never a run folder."""
    names = "+".join(n for _, ns in groups for n in ns)
    if len(names) > 60:
        names = names[:40] + "-" + hashlib.sha1(names.encode()).hexdigest()[:8]
    return runs_root / "compare" / names


def build_compare(specs: Sequence[str], runs_root: Path, out: Path | None = None) -> Path:
    resolved = resolve_groups(specs, runs_root)
    out = out or default_out(runs_root, resolved)
    groups = [Group(label, [load_run(runs_root, n) for n in names]) for label, names in resolved]
    out.mkdir(parents=True, exist_ok=True)
    images = plot_compare(groups, out)
    title = "comparison: " + " vs ".join(f"{g.label}" for g in groups)
    if len(groups) == 1:
        title = f"comparison of {len(groups[0].runs)} runs: " + ", ".join(
            r.name for r in groups[0].runs
        )
    page = page_html(title, runs_table(groups), images)
    return atomic_write_text(out / "index.html", page, fsync=False)
