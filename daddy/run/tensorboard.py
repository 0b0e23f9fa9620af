"""TensorBoard scalars of a training run (and, with `--wandb`, the same to Weights & Biases).

Why: curves over env steps are how researchers watch and compare runs (`tensorboard --logdir
runs` on a laptop with the runs folder synced or mounted). Tags use CleanRL's namespaces:

    charts/    episodic_return, episodic_length (episodes ending at that step, averaged),
               recent_* (the terminal's recent-episode window), SPS, epsilon, episodes
    losses/    td_loss, q_values, grad_norm, ... (averaged over the interval's learner updates)
    rewards/   r_env, r_rnd, r_novel, r_bayes (per-step means over the interval)
    curriculum/ spawn shares and savestates per tier; milestones/<name>_posterior;
    replay/    fill, size; learner/ updates, updates_per_s; system/ cpu, memory, GPU memory
    policy/    greedy_<button> (the greedy actions' histogram), greedy_entropy (0: one button,
               1: uniform), random_share (ε's draws), off_argmax_share (steps whose action
               was not the argmax: ε's differing draws, Boltzmann's departures), q_spread /
               q_gap (max-min, max-second)

x is the global env step (all envs together), as in episodes.h5 and the terminal.

Continuity: a run resumed from its checkpoint at step S opens its writer with TensorBoard's
`purge_step = S + 1` (0 for a run starting afresh). TensorBoard then hides every point at or past
that step written by earlier processes: what a killed process logged after its last checkpoint is
replayed by the resumed one, never shown twice, and a curve never steps back. The writer is
flushed at every checkpoint, so what a checkpoint covers is on disk. The run's settings go in
once as hparams (at step 0) and as text at each start's purge step.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from daddy.game.milestones import DEFAULT_MILESTONES
from daddy.run.episode import EpisodeRecord
from daddy.run.terminal import IntervalStats

SETTINGS_TAG = "settings/config"
HPARAM_METRICS = ("charts/episodic_return", "charts/recent_episodic_return", "charts/SPS")
_LABEL_TO_NAME = {m.label: m.name for m in DEFAULT_MILESTONES}


def purge_step(start_step: int) -> int:
    """Where this process's points begin: S + 1 after a resume from step S, 0 afresh."""
    return start_step + 1 if start_step > 0 else 0


# --- what is logged ---------------------------------------------------------------------------
def interval_scalars(s: IntervalStats) -> dict[str, float]:
    """The terminal's interval line as tags (its `extra` keys keep a namespace they carry)."""
    out = {
        "charts/SPS": s.sps, "charts/epsilon": s.epsilon, "charts/episodes": s.episodes_completed,
        "charts/recent_episodic_length": s.recent_avg_episode_length,
        "charts/recent_episodic_return": s.recent_avg_r_env,
        "charts/recent_episodic_return_total": s.recent_avg_r_total,
        "rewards/r_env": s.mean_r_env, "rewards/r_rnd": s.mean_r_rnd,
        "rewards/r_novel": s.mean_r_novel, "rewards/r_bayes": s.mean_r_bayes,
        "losses/td_loss": s.loss, "losses/q_values": s.q_mean,
        "charts/alarms": s.alarm_count, "charts/worker_restarts": s.worker_restarts,
    }  # fmt: skip
    if isinstance(s.posteriors, Mapping):
        out.update(posterior_scalars(s.posteriors))
    for k, v in s.extra.items():
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            out[k if "/" in k else f"charts/{k}"] = v
    return _numbers(out)


def posterior_scalars(means: Mapping[str, float]) -> dict[str, float]:
    """`milestones/<name>_posterior` from posterior means keyed by label or name."""
    return {f"milestones/{_LABEL_TO_NAME.get(k, k)}_posterior": v for k, v in means.items()}


def episode_scalars(records: Sequence[EpisodeRecord]) -> dict[str, float]:
    """The episodes that ended at one step, averaged (several envs may finish together: one
    point per step keeps each curve a function of the step)."""
    if not records:
        return {}

    def mean(field: str) -> float:
        return float(np.mean([float(getattr(r, field)) for r in records]))

    return {
        "charts/episodic_return": mean("return_env"),
        "charts/episodic_return_total": mean("return_total"),
        "charts/episodic_length": mean("length"),
        "charts/episodic_cells": mean("cells_visited"),
        "charts/episodic_badges": float(np.mean([int(r.badges).bit_count() for r in records])),
        "charts/episodic_milestones": float(
            np.mean([int(r.milestones_reached).bit_count() for r in records])
        ),
        "episode/return_rnd": mean("return_rnd"),
        "episode/return_novel": mean("return_novel"),
        "episode/return_bayes": mean("return_bayes"),
    }


def _numbers(values: Mapping[str, Any]) -> dict[str, float]:
    """Finite numbers only: a '-' on the terminal (nothing yet) is no point on a curve."""
    out = {}
    for k, v in values.items():
        if v is None or isinstance(v, (str, bool)):
            continue
        v = float(v)
        if math.isfinite(v):
            out[k] = v
    return out


# --- the writers ------------------------------------------------------------------------------
class ScalarLog:
    """The run's scalar log: TensorBoard event files in `folder`, optionally a wandb run too.

    `ScalarLog(None)` logs nothing (`--no-tensorboard` without `--wandb`), so callers never check.
    """

    def __init__(self, folder: Path | None, *, start_step: int = 0,
                 settings: Mapping[str, Any] | None = None, wandb_run: Any = None) -> None:  # fmt: skip
        self.writer = None
        self.wandb_run = wandb_run
        first = purge_step(start_step)
        if folder is not None:
            from torch.utils.tensorboard import SummaryWriter  # lazy: loads tensorboard

            folder.mkdir(parents=True, exist_ok=True)
            self.writer = SummaryWriter(str(folder), purge_step=first, flush_secs=30)
            if settings is not None:
                self._settings(settings, first)

    def log(self, values: Mapping[str, Any], step: int) -> None:
        """Scalars at global env step `step`; None/NaN/text values are left out."""
        values = _numbers(values)
        if not values:
            return
        if self.writer is not None:
            self._guard(lambda: [self.writer.add_scalar(t, v, global_step=step)
                                 for t, v in values.items()])  # fmt: skip
        if self.wandb_run is not None:
            self.wandb_run.log(values, step=step)

    def flush(self) -> None:
        if self.writer is not None:
            self._guard(self.writer.flush)

    def close(self) -> None:
        if self.writer is not None:
            self._guard(self.writer.close)
            self.writer = None
        if self.wandb_run is not None:
            self.wandb_run.finish()
            self.wandb_run = None

    def _guard(self, write: Any) -> None:
        """Curves must never stop training: an event file that cannot be written (a full disk;
        the writer's thread raises on the next call) turns TensorBoard off with one warning."""
        try:
            write()
        except Exception as e:  # noqa: BLE001 (whatever the writer's thread raised)
            print(f"[WARN] TensorBoard scalars off from here on: {e}", flush=True)
            self.writer = None

    def _settings(self, settings: Mapping[str, Any], first: int) -> None:
        """Settings as a YAML text at `first`; as hparams once, when the run starts at 0."""
        import yaml
        from torch.utils.tensorboard.summary import hparams

        text = yaml.safe_dump(_plain(settings), sort_keys=True)
        # Markdown: a four-space indent shows the YAML as a code block
        self.writer.add_text(SETTINGS_TAG, "    " + text.replace("\n", "\n    "), first)
        if first == 0:
            flat = {k: _hparam(v) for k, v in settings.items()}
            for summary in hparams(flat, {m: 0.0 for m in HPARAM_METRICS}):
                self.writer.file_writer.add_summary(summary)


def _plain(value: Any) -> Any:
    """Settings as YAML-safe data (paths and other objects as text)."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


def _hparam(value: Any) -> bool | int | float | str:
    """What the hparams plugin accepts: numbers, bools and text (None and blocks as text)."""
    if isinstance(value, (bool, int, float, str)):
        return value
    return json.dumps(_plain(value), sort_keys=True) if value is not None else "none"


def require_wandb() -> Any:
    """The wandb module, imported only when asked for; ValueError (one line) when missing."""
    try:
        import wandb
    except ImportError:
        raise ValueError(
            "--wandb needs the wandb package: `.venv/bin/python -m pip install wandb`, or drop "
            "--wandb (TensorBoard needs nothing more: `tensorboard --logdir runs`)"
        ) from None
    return wandb


def start_wandb(run_name: str, folder: Path, settings: Mapping[str, Any]) -> Any:
    """A wandb run (offline unless WANDB_MODE says otherwise): resumes the run's own id."""
    wandb = require_wandb()
    folder.mkdir(parents=True, exist_ok=True)
    return wandb.init(
        project=os.environ.get("WANDB_PROJECT", "daddy"), name=run_name, id=run_name,
        resume="allow", dir=str(folder), config=_plain(settings),
        mode=os.environ.get("WANDB_MODE", "offline"),
    )  # fmt: skip


def open_scalar_log(cfg: Any, tb_folder: Path, run_folder: Path, *, start_step: int,
                    settings: Mapping[str, Any]) -> ScalarLog:  # fmt: skip
    """The scalar log `cfg.tensorboard` / `cfg.wandb` ask for (ScalarLog(None): neither)."""
    wandb_run = start_wandb(cfg.run_name, run_folder, settings) if cfg.wandb else None
    return ScalarLog(tb_folder if cfg.tensorboard else None, start_step=start_step,
                     settings=settings, wandb_run=wandb_run)  # fmt: skip
