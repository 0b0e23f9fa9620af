"""Trainer terminal output: watch the agent learn, live on a terminal or in a SLURM log.

The seed (§4) asks for a progress bar over the total steps, one structured line every
`--log-interval` steps and one brief line per finished episode. Two audiences read it:

- a person at a terminal: a rich one-screen dashboard redrawn at most ~4 times a second
  (PufferLib's layout): progress bar; training, rewards, curriculum and the posteriors of the
  furthest and next milestones; learner (loss, Q, updates/s, replay fill), system use (CPU,
  memory, GPU memory when CUDA is used), best so far (most badges, furthest milestone, cells
  explored); the time split of the loop (env / act / learn / rewards / bookkeeping) as one
  stacked bar; the age of the newest checkpoint; the last few episodes. Alarm lines go in the
  scrollback above it; with a run log, the interval and episode lines go to the log only;
- `tail -f` of a job log (stdout not a terminal): plain `key=value` lines only — no carriage
  returns, no ANSI escapes, no redraws — a progress line at start, at `close()` and in between
  at most every `plain_interval_s` of silence (an interval line restarts that wait).

Line formats (the `format_*` functions are pure, so tests and log parsers can pin them):

    [EP 1342 env=7] len=642  R_env=23.5  R_total=31.8  badges=2  map=PewterCity  savestate_tag=pewter_city_gym  R_rnd=1.20  R_novel=6.10  R_bayes=1.00  cells=211  theta_Boulder=0.81  alarm=Boulder
    [STEP 50000/5000000 1.0%] sps=812 epsilon=0.452 ep_len=642.0 R_env=23.50 R_total=31.80 r_env=0.0123 r_rnd=0.0040 r_novel=0.0100 r_bayes=0.0002 episodes=1342 envs=32 loss=0.0123 q=1.234 alarms=0 restarts=0 eta=1:42:00 replay_fill=0.420 updates_per_s=12.5 cpu=85 rss_gb=3.10 mem_percent=41 time="env 55% act 10% learn 25% rewards 5% bookkeeping 5%" most_badges=1 cells_explored=12345 spawn="early 45% | mid 35% | late 20%" theta="Boulder: 0.81 | next: Misty: 0.10, Cascade: 0.05, Vermilion: 0.02"
    [PROGRESS 50000/5000000 1.0%] sps=812 elapsed=0:01:02 eta=1:42:00
    [ALARM step=50000] Boulder  success rate 0.81 -> 0.52

Capital `R_*` are episode returns (sums over an episode; in the interval line, averages over
recent episodes); lower-case `r_*` are per-step means over the last interval. `theta` is
MilestonePosteriors.summary(): the furthest milestone reached in story order, then the next few
(with ~60 milestones, the ones that matter now); the dashboard shows them as two rows.
The keys from `replay_fill` to `cells_explored` appear once known (not before the first
interval's numbers exist); `time` is the share of the interval's wall time each loop phase took.
"""

from __future__ import annotations

import math
import os
import sys
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import IO

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.panel import Panel
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

from daddy.game.maps import map_name

REFRESH_S = 0.25
"""Minimum seconds between dashboard redraws (PufferLib's 4 Hz)."""
EPISODE_LINES = 8
"""Finished episodes the dashboard keeps on screen."""


# --- data ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class EpisodeSummary:
    """What the terminal shows about one finished episode (a subset of the episodes.h5 row)."""

    episode: int
    """Run-wide episode number (the episodes.h5 `episode` column)."""
    env_id: int
    length: int
    """Steps in the episode."""
    return_env: float
    return_total: float
    badges: int
    map_id: int
    """Map at the episode's end; shown by name."""
    savestate_tag: str = ""
    """Name of the savestate the episode spawned from ("" → '-')."""
    return_rnd: float = 0.0
    return_novel: float = 0.0
    return_bayes: float = 0.0
    cells: int = 0
    """Distinct (map, x, y) cells visited (info["cells_visited"])."""
    posteriors: Mapping[str, float] = field(default_factory=dict)
    """Posterior means to show as theta_<label>=…, e.g. the milestones this episode reached."""
    alarms: Sequence[str] = ()
    """Labels of milestones whose alarm this episode raised."""


@dataclass(frozen=True)
class IntervalStats:
    """The numbers of one `--log-interval` line; NaN or None shows as '-' (nothing yet)."""

    step: int
    """Global env steps so far (all envs together)."""
    sps: float
    """Env steps per second over the last interval."""
    epsilon: float
    episodes_completed: int
    recent_avg_episode_length: float = math.nan
    recent_avg_r_env: float = math.nan
    """Average episode return_env over the recent-episode window."""
    recent_avg_r_total: float = math.nan
    mean_r_env: float = math.nan
    """Per-step mean of each reward component over the last interval."""
    mean_r_rnd: float = 0.0
    mean_r_novel: float = 0.0
    mean_r_bayes: float = 0.0
    curriculum: str = ""
    """CurriculumManager.summary(), e.g. 'early 45% | mid 35% | late 20%'."""
    posteriors: Mapping[str, float] | str = ""
    """Posterior means by label, or MilestonePosteriors.summary()
    ('Boulder: 0.81 | next: Misty: 0.10, …')."""
    alarm_count: int = 0
    worker_restarts: int = 0
    loss: float | None = None
    q_mean: float | None = None
    extra: Mapping[str, float | int | str] = field(default_factory=dict)
    """Further key=value pairs appended to the line (e.g. replay size, learner updates)."""
    replay_fill: float = math.nan
    """Share of the replay's capacity holding steps (0–1)."""
    updates_per_s: float = math.nan
    """Learner updates per second over the interval."""
    time_split: Mapping[str, float] = field(default_factory=dict)
    """Share of the interval's wall time each phase of the loop took (env, act, learn, ...)."""
    system: Mapping[str, float] = field(default_factory=dict)
    """daddy.run.system_use.SystemUse.sample(): `system/cpu_percent`, `system/rss_gb`, ..."""
    most_badges: int | None = None
    """Most badges held at an episode's end, run-wide (None: not known yet)."""
    cells_explored: int | None = None
    """Distinct (map, x, y) cells the run has visited, all envs together."""


# --- pure formatting -----------------------------------------------------------------------
def _num(x: float | None, spec: str) -> str:
    """Format a number; None/NaN/inf read '-' so a line never shows 'nan' before data exists."""
    if x is None:
        return "-"
    x = float(x)
    return format(x, spec) if math.isfinite(x) else "-"


def _token(s: str) -> str:
    """A value safe to put after `key=` without quotes: whitespace → '_', empty → '-'."""
    return "_".join(str(s).split()) or "-"


def _quoted(s: str) -> str:
    """A free-text value in double quotes (shlex-splittable), e.g. spawn="early 45% | …"."""
    return '"' + str(s).replace("\\", "\\\\").replace('"', '\\"') + '"'


def _value(v: float | str) -> str:
    if isinstance(v, (bool, int)):
        return str(int(v))
    if isinstance(v, float):
        return _num(v, ".4g")
    return _token(v) if len(str(v).split()) <= 1 else _quoted(v)


def format_duration(seconds: float | None) -> str:
    """H:MM:SS (hours unbounded), '-' when unknown."""
    if seconds is None or not math.isfinite(seconds) or seconds < 0:
        return "-"
    s = round(seconds)
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}"


def format_posteriors(posteriors: Mapping[str, float] | str) -> str:
    """'Boulder: 0.81, Cascade: 0.42' from a mapping; a string passes through unchanged."""
    if isinstance(posteriors, str):
        return posteriors
    return ", ".join(f"{k}: {_num(v, '.2f')}" for k, v in posteriors.items())


NEXT = "next: "  # how MilestonePosteriors.summary() introduces the next milestones


def posterior_rows(posteriors: Mapping[str, float] | str) -> list[tuple[str, str]]:
    """The dashboard's belief rows: ('furthest', …) and ('next', one per line) from a
    MilestonePosteriors.summary() string; a single ('theta', …) row for anything else."""
    text = format_posteriors(posteriors)
    head, sep, tail = text.partition(" | ")
    if not sep and text.startswith(NEXT):  # nothing reached yet
        head, tail = "-", text
    elif not sep:
        return [("theta", text or "-")]
    tail = tail.removeprefix(NEXT)
    return [("furthest", head), ("next", "\n".join(tail.split(", ")))]


def _percent(step: int, total_steps: int) -> str:
    return f"{100.0 * step / total_steps:.1f}%"


def format_episode_line(ep: EpisodeSummary) -> str:
    """One line per finished episode, the seed's format first, extras after."""
    parts = [
        f"[EP {ep.episode} env={ep.env_id}] len={ep.length}",
        f"R_env={_num(ep.return_env, '.1f')}",
        f"R_total={_num(ep.return_total, '.1f')}",
        f"badges={ep.badges}",
        f"map={map_name(ep.map_id)}",
        f"savestate_tag={_token(ep.savestate_tag)}",
        f"R_rnd={_num(ep.return_rnd, '.2f')}",
        f"R_novel={_num(ep.return_novel, '.2f')}",
        f"R_bayes={_num(ep.return_bayes, '.2f')}",
        f"cells={ep.cells}",
    ]
    parts += [f"theta_{_token(k)}={_num(v, '.2f')}" for k, v in ep.posteriors.items()]
    if ep.alarms:
        parts.append("alarm=" + ",".join(_token(a) for a in ep.alarms))
    return "  ".join(parts)


def format_interval_line(
    stats: IntervalStats, *, total_steps: int, num_envs: int, eta_s: float | None = None
) -> str:
    """The structured `--log-interval` line: one `key=value` per seed §4.1 field."""
    s = stats
    parts = [
        f"[STEP {s.step}/{total_steps} {_percent(s.step, total_steps)}]",
        f"sps={_num(s.sps, '.0f')}",
        f"epsilon={_num(s.epsilon, '.3f')}",
        f"ep_len={_num(s.recent_avg_episode_length, '.1f')}",
        f"R_env={_num(s.recent_avg_r_env, '.2f')}",
        f"R_total={_num(s.recent_avg_r_total, '.2f')}",
        f"r_env={_num(s.mean_r_env, '.4f')}",
        f"r_rnd={_num(s.mean_r_rnd, '.4f')}",
        f"r_novel={_num(s.mean_r_novel, '.4f')}",
        f"r_bayes={_num(s.mean_r_bayes, '.4f')}",
        f"episodes={s.episodes_completed}",
        f"envs={num_envs}",
        f"loss={_num(s.loss, '.4g')}",
        f"q={_num(s.q_mean, '.4g')}",
        f"alarms={s.alarm_count}",
        f"restarts={s.worker_restarts}",
        f"eta={format_duration(eta_s)}",
    ]
    parts += [f"{_token(k)}={_value(v)}" for k, v in s.extra.items()]
    parts += [f"{k}={v}" for k, v in _known_extras(s)]
    parts.append(f"spawn={_quoted(s.curriculum or 'no spawns yet')}")
    theta = format_posteriors(s.posteriors)
    if theta:
        parts.append(f"theta={_quoted(theta)}")
    return " ".join(parts)


SYSTEM_KEYS = (
    ("cpu", "system/cpu_percent", ".0f"),
    ("rss_gb", "system/rss_gb", ".2f"),
    ("mem_percent", "system/mem_percent", ".0f"),
    ("gpu_gb", "system/gpu_mem_gb", ".2f"),
)
"""(line key, SystemUse key, format) of the system numbers the interval line carries."""


def format_time_split(split: Mapping[str, float]) -> str:
    """'env 55% act 10% learn 25% rewards 5% bookkeeping 5%' (shares of the interval)."""
    return " ".join(f"{k} {100 * v:.0f}%" for k, v in split.items() if math.isfinite(v))


def _known_extras(s: IntervalStats) -> list[tuple[str, str]]:
    """The dashboard's numbers for the plain line, each only once it is known (older log
    parsers and `[STEP]` lines from before it existed read the same)."""
    out: list[tuple[str, str]] = []
    if math.isfinite(s.replay_fill):
        out.append(("replay_fill", f"{s.replay_fill:.3f}"))
    if math.isfinite(s.updates_per_s):
        out.append(("updates_per_s", f"{s.updates_per_s:.1f}"))
    out += [(k, _num(s.system[key], spec)) for k, key, spec in SYSTEM_KEYS if key in s.system]
    if s.time_split:
        out.append(("time", _quoted(format_time_split(s.time_split))))
    if s.most_badges is not None:
        out.append(("most_badges", str(s.most_badges)))
    if s.cells_explored is not None:
        out.append(("cells_explored", str(s.cells_explored)))
    return out


def format_progress_line(
    step: int, total_steps: int, *, sps: float, elapsed_s: float, eta_s: float | None
) -> str:
    """The plain-mode stand-in for a progress bar: one line, no carriage return."""
    return (
        f"[PROGRESS {step}/{total_steps} {_percent(step, total_steps)}] sps={_num(sps, '.0f')} "
        f"elapsed={format_duration(elapsed_s)} eta={format_duration(eta_s)}"
    )


def format_alarm_line(name: str, *, step: int | None = None, detail: str = "") -> str:
    """One line per raised alarm; `detail` is free text (e.g. 'success rate 0.81 -> 0.52')."""
    head = f"[ALARM step={step}]" if step is not None else "[ALARM]"
    return f"{head} {name}" + (f"  {detail}" if detail else "")


# --- the terminal --------------------------------------------------------------------------
class Terminal:
    """What the trainer prints: a rich dashboard on a terminal, throttled plain lines elsewhere.

    Call `progress(step)` as often as you like (every vector step is fine): output is throttled
    here, not in the train loop. Use as a context manager or call `close()` at the end.
    """

    def __init__(
        self,
        total_steps: int,
        num_envs: int,
        *,
        stream: IO[str] | None = None,
        is_tty: bool | None = None,
        plain_interval_s: float = 30.0,
        start_step: int = 0,
        clock: Callable[[], float] = time.monotonic,
        log: Callable[[str], None] | None = None,
    ) -> None:
        """`log`: a sink (the run log, daddy.run.run_log) for every plain line, dashboard or not."""
        if total_steps <= 0:
            raise ValueError(f"total_steps must be > 0, got {total_steps}")
        if num_envs <= 0:
            raise ValueError(f"num_envs must be > 0, got {num_envs}")
        if not 0 <= start_step <= total_steps:
            raise ValueError(
                f"start_step must be in [0, total_steps={total_steps}], "
                f"got {start_step} (resuming past the end? raise --total-steps)"
            )
        if not plain_interval_s >= 0:
            raise ValueError(f"plain_interval_s must be >= 0, got {plain_interval_s}")
        self.total_steps = int(total_steps)
        self.num_envs = int(num_envs)
        self.stream: IO[str] = stream if stream is not None else sys.stdout
        self.is_tty = _isatty(self.stream) if is_tty is None else bool(is_tty)
        self.plain_interval_s = float(plain_interval_s)
        self.start_step = int(start_step)
        self._clock = clock
        self._log = log
        self._t0 = clock()
        self._step = self.start_step
        self._last_step_line = self._t0  # last plain progress/interval line
        self._last_refresh = -math.inf  # last dashboard redraw
        self._closed = False
        self._stats: IntervalStats | None = None
        self._episodes: deque[str] = deque(maxlen=EPISODE_LINES)
        self._alarms_seen = 0
        self._most_badges: int | None = None
        self._checkpoint: tuple[int, float] | None = None  # (step, clock time written)
        if self.is_tty:
            self._start_dashboard()
            self._to_log(self._progress_line())
        else:  # marks where this (possibly resumed) segment starts in the job log
            self._write_step_line(self._progress_line())

    # --- public API --------------------------------------------------------------------------
    def progress(self, step: int) -> None:
        """Advance the progress bar to `step` (global env steps); cheap, throttled output."""
        self._step = int(step)
        if self.is_tty:
            self._progress_bar.update(self._task, completed=min(self._step, self.total_steps))
            self._refresh()
        elif self._clock() - self._last_step_line >= self.plain_interval_s:
            self._write_step_line(self._progress_line())

    def episode(self, ep: EpisodeSummary) -> None:
        """One line per finished episode (plain) or into the dashboard's recent-episode list."""
        self._most_badges = max(self._most_badges or 0, int(ep.badges))
        line = format_episode_line(ep)
        if self.is_tty:
            self._episodes.append(line)
            self._to_log(line)
            self._refresh()
        else:
            self._write(line)

    def interval(self, stats: IntervalStats) -> None:
        """The `--log-interval` line: printed in both modes (scrollback on a terminal)."""
        self._stats = stats
        self._step = max(self._step, int(stats.step))
        if stats.most_badges is not None:
            self._most_badges = max(self._most_badges or 0, stats.most_badges)
        line = format_interval_line(
            stats, total_steps=self.total_steps, num_envs=self.num_envs, eta_s=self._eta()
        )
        if self.is_tty:
            self._progress_bar.update(self._task, completed=min(self._step, self.total_steps))
            if self._log is None:
                self._print_above(line, style=None)
            else:  # the run log keeps the history; the panel shows the numbers
                self._to_log(line)
            self._refresh(force=True)
        else:
            self._write_step_line(line)

    def checkpointed(self, step: int, *, age_s: float = 0.0) -> None:
        """A complete checkpoint of `step` exists, written `age_s` seconds ago (the dashboard
        shows its age; a resumed run passes the age of the one it resumed from)."""
        self._checkpoint = (int(step), self._clock() - max(float(age_s), 0.0))

    def alarm(self, name: str, *, step: int | None = None, detail: str = "") -> None:
        """One line per raised alarm (posterior drop), always shown immediately."""
        self._alarms_seen += 1
        line = format_alarm_line(name, step=self._step if step is None else step, detail=detail)
        if self.is_tty:
            self._print_above(line, style="bold red")
            self._to_log(line)
            self._refresh(force=True)
        else:
            self._write(line)

    def close(self) -> None:
        """Final progress line (plain) or final redraw (terminal); safe to call twice."""
        if self._closed:
            return
        self._closed = True
        if self.is_tty:
            self._refresh(force=True)
            self._live.stop()
            self._to_log(self._progress_line())
        else:
            self._write(self._progress_line())

    def __enter__(self) -> Terminal:  # noqa: PYI034 (py310: no typing.Self)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # --- timing ------------------------------------------------------------------------------
    def _elapsed(self) -> float:
        return max(self._clock() - self._t0, 0.0)

    def _run_sps(self) -> float:
        """Steps per second since this process started (resumed steps do not count)."""
        elapsed = self._elapsed()
        return (self._step - self.start_step) / elapsed if elapsed > 0 else math.nan

    def _eta(self) -> float | None:
        sps = self._run_sps()
        if not (math.isfinite(sps) and sps > 0):
            return None
        return max(self.total_steps - self._step, 0) / sps

    # --- plain mode --------------------------------------------------------------------------
    def _progress_line(self) -> str:
        return format_progress_line(
            self._step,
            self.total_steps,
            sps=self._run_sps(),
            elapsed_s=self._elapsed(),
            eta_s=self._eta(),
        )

    def _write(self, line: str) -> None:
        """Whole line + flush, so a SLURM log shows it now; never fails on odd encodings."""
        try:
            self.stream.write(line + "\n")
        except UnicodeEncodeError:
            enc = getattr(self.stream, "encoding", None) or "ascii"
            self.stream.write(line.encode(enc, "replace").decode(enc) + "\n")
        self.stream.flush()
        self._to_log(line)

    def _to_log(self, line: str) -> None:
        """Every plain line also goes to the run log, whether the screen shows it or the panel."""
        if self._log is not None:
            self._log(line)

    def _write_step_line(self, line: str) -> None:
        """A line that tells the step (progress, interval): restarts the progress-line wait.

        Episode and alarm lines do not, so a busy run still shows where it is every interval.
        """
        self._write(line)
        self._last_step_line = self._clock()

    # --- dashboard mode ----------------------------------------------------------------------
    def _start_dashboard(self) -> None:
        redirect = self.stream is sys.stdout or self.stream is sys.__stdout__
        self._console = Console(file=self.stream, force_terminal=True)
        self._progress_bar = Progress(
            TextColumn("[bold]steps"),
            BarColumn(bar_width=None),
            MofNCompleteColumn(),
            TaskProgressColumn(),
            TimeElapsedColumn(),
            TextColumn("eta"),
            TimeRemainingColumn(),
            get_time=self._clock,
            expand=True,
        )
        self._task = self._progress_bar.add_task(
            "steps", total=self.total_steps, completed=self.start_step
        )
        self._live: Live = Live(
            self._render(),
            console=self._console,
            auto_refresh=False,
            redirect_stdout=redirect,
            redirect_stderr=redirect,
        )
        self._live.start(refresh=True)
        self._last_refresh = self._clock()

    def _print_above(self, line: str, style: str | None) -> None:
        """Into the scrollback above the live dashboard, so history survives the redraws."""
        self._console.print(
            line, style=style, markup=False, highlight=style is None, soft_wrap=True
        )

    def _refresh(self, force: bool = False) -> None:
        now = self._clock()
        if force or now - self._last_refresh >= REFRESH_S:
            self._live.update(self._render(), refresh=True)
            self._last_refresh = now

    def _render(self) -> RenderableType:
        """One screen: progress; training | rewards | beliefs; learner | system | best so far;
        the time split as one stacked bar; recent episodes."""
        s = self._stats
        train = _kv_table(
            "training",
            [
                ("step", f"{self._step:,} / {self.total_steps:,}"),
                ("sps", _num(s.sps if s else self._run_sps(), ",.0f")),
                ("epsilon", _num(s.epsilon if s else None, ".3f")),
                ("episodes", f"{s.episodes_completed:,}" if s else "-"),
                ("envs", str(self.num_envs)),
                ("restarts", str(s.worker_restarts) if s else "-"),
                ("checkpoint", self._checkpoint_text()),
            ],
        )
        rewards = _kv_table(
            "rewards",
            [
                ("ep len", _num(s.recent_avg_episode_length if s else None, ".1f")),
                ("R_env", _num(s.recent_avg_r_env if s else None, ".2f")),
                ("R_total", _num(s.recent_avg_r_total if s else None, ".2f")),
                ("r_env", _num(s.mean_r_env if s else None, ".4f")),
                ("r_rnd", _num(s.mean_r_rnd if s else None, ".4f")),
                ("r_novel", _num(s.mean_r_novel if s else None, ".4f")),
                ("r_bayes", _num(s.mean_r_bayes if s else None, ".4f")),
            ],
        )
        alarms = max(s.alarm_count if s else 0, self._alarms_seen)
        rows = posterior_rows(s.posteriors if s else "")
        beliefs = _kv_table(
            "curriculum and beliefs",
            [("spawn", (s.curriculum if s else "") or "no spawns yet"), *rows,
             ("alarms", str(alarms))],
        )  # fmt: skip
        top = Table.grid(expand=True, padding=(0, 2))
        top.add_row(train, rewards, beliefs)
        bottom = Table.grid(expand=True, padding=(0, 2))
        bottom.add_row(self._learner_table(s), _system_table(s.system if s else {}),
                       self._best_table(s, rows))  # fmt: skip
        episodes = Text(
            "\n".join(self._episodes) or "no finished episodes yet",
            no_wrap=True,
            overflow="ellipsis",
        )
        split = time_split_text(s.time_split if s else {})
        return Panel(
            Group(self._progress_bar, top, bottom, split, Panel(episodes, title="recent episodes")),
            title="Daddy training",
            border_style="red" if alarms else "blue",
        )

    def _learner_table(self, s: IntervalStats | None) -> Table:
        fill = s.replay_fill if s else math.nan
        return _kv_table(
            "learner",
            [
                ("loss", _num(s.loss if s else None, ".4g")),
                ("q mean", _num(s.q_mean if s else None, ".4g")),
                ("updates/s", _num(s.updates_per_s if s else None, ",.1f")),
                ("replay", f"{_num(100 * fill, '.0f')}% {_bar(fill, 6)}".rstrip()
                 if math.isfinite(fill) else "-"),
            ],
        )  # fmt: skip

    def _best_table(self, s: IntervalStats | None, rows: list[tuple[str, str]]) -> Table:
        head = dict(rows).get("furthest", "-")
        cells = s.cells_explored if s else None
        return _kv_table(
            "best so far",
            [
                ("badges", "-" if self._most_badges is None else str(self._most_badges)),
                ("furthest", head.split(":")[0] or "-"),
                ("cells", "-" if cells is None else f"{cells:,}"),
            ],
        )

    def _checkpoint_text(self) -> str:
        """'16,000 (0:03:12 ago)': tells at a glance how much a crash would lose."""
        if self._checkpoint is None:
            return "none yet"
        step, at = self._checkpoint
        return f"{step:,} ({format_duration(self._clock() - at)} ago)"


def _bar(share: float, width: int = 10) -> str:
    """A text bar of `share` (0–1) in eighths of a cell."""
    eighths = round(min(max(share, 0.0), 1.0) * width * 8)
    full, part = divmod(eighths, 8)
    return ("█" * full + (" ▏▎▍▌▋▊▉"[part] if part else "")).ljust(width)


SPLIT_COLOURS = ("green", "cyan", "magenta", "yellow", "bright_black")
SPLIT_WIDTH = 24


def time_split_text(split: Mapping[str, float]) -> Text:
    """Where the loop's wall time went over the last interval: one stacked bar of
    `SPLIT_WIDTH` cells, one colour per phase, then each phase's share."""
    out = Text("time split  ", style="bold")
    shares = [(k, v) for k, v in split.items() if math.isfinite(v)]
    if not shares:
        return out.append("- (after the first interval)", style="dim")
    cells = _cells([v for _, v in shares], SPLIT_WIDTH)
    for (_, _), n, colour in zip(shares, cells, SPLIT_COLOURS * 2):
        out.append("█" * n, style=colour)
    out.append("  ")
    for (k, v), colour in zip(shares, SPLIT_COLOURS * 2):
        out.append(f"{k} {100 * v:.0f}%  ", style=colour)
    return out


def _cells(shares: Sequence[float], width: int) -> list[int]:
    """Whole cells per share, summing to `width` (largest remainders get the spare cells)."""
    total = sum(shares) or 1.0
    exact = [width * v / total for v in shares]
    cells = [int(x) for x in exact]
    for i in sorted(range(len(exact)), key=lambda i: exact[i] - cells[i], reverse=True):
        if sum(cells) >= width:
            break
        cells[i] += 1
    return cells


def _system_table(system: Mapping[str, float]) -> Table:
    """CPU, memory and (when the trainer uses CUDA) GPU memory of the last sample."""

    def get(key: str, spec: str, unit: str = "") -> str:
        return _num(system[key], spec) + unit if key in system else "-"

    rows = [
        ("cpu", get("system/cpu_percent", ".0f", "%")),
        ("memory", get("system/rss_gb", ".2f", " GB")),
        ("host mem", get("system/mem_percent", ".0f", "%")),
    ]
    if "system/gpu_mem_gb" in system:
        rows.append(("gpu mem", get("system/gpu_mem_gb", ".2f", " GB")
                     + f" (max {get('system/gpu_max_mem_gb', '.2f')})"))  # fmt: skip
    else:
        rows.append(("gpu", "not used"))
    return _kv_table("system", rows)


def _kv_table(title: str, rows: Sequence[tuple[str, str]]) -> Table:
    t = Table(title=title, show_header=False, box=None, expand=True, title_justify="left")
    t.add_column(style="dim", no_wrap=True)
    t.add_column(overflow="fold")
    for k, v in rows:
        t.add_row(k, v)
    return t


def _isatty(stream: IO[str]) -> bool:
    """A terminal that can redraw: TERM=dumb (emacs shells, some CI) gets plain lines."""
    try:
        return bool(stream.isatty()) and os.environ.get("TERM") != "dumb"
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False
