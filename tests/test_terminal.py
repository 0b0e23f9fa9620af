"""Terminal output: pinned line formats, plain mode safe for SLURM logs, dashboard on a TTY."""

from __future__ import annotations

import io
import math
import re
import shlex

import pytest

from daddy.run.terminal import (
    EpisodeSummary,
    IntervalStats,
    Terminal,
    format_alarm_line,
    format_duration,
    format_episode_line,
    format_interval_line,
    format_posteriors,
    format_time_split,
    posterior_rows,
    time_split_text,
)

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


class FakeClock:
    """Deterministic time: tests advance it instead of sleeping."""

    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def _episode(**kw: object) -> EpisodeSummary:
    base: dict[str, object] = {
        "episode": 1342,
        "env_id": 7,
        "length": 642,
        "return_env": 23.5,
        "return_total": 31.8,
        "badges": 2,
        "map_id": 0x02,
        "savestate_tag": "pewter_city_gym",
        "return_rnd": 1.25,
        "return_novel": 6.1,
        "return_bayes": 1.0,
        "cells": 211,
        "posteriors": {"Boulder": 0.81},
    }
    base.update(kw)
    return EpisodeSummary(**base)  # type: ignore[arg-type]


def _stats(**kw: object) -> IntervalStats:
    base: dict[str, object] = {
        "step": 50_000,
        "sps": 812.3,
        "epsilon": 0.4521,
        "episodes_completed": 1342,
        "recent_avg_episode_length": 642.0,
        "recent_avg_r_env": 23.5,
        "recent_avg_r_total": 31.8,
        "mean_r_env": 0.0123,
        "mean_r_rnd": 0.004,
        "mean_r_novel": 0.01,
        "mean_r_bayes": 0.0002,
        "curriculum": "early 45% | mid 35% | late 20%",
        "posteriors": {"Boulder": 0.81, "Cascade": 0.42},
        "alarm_count": 3,
        "worker_restarts": 1,
        "loss": 0.0123,
        "q_mean": 1.234,
    }
    base.update(kw)
    return IntervalStats(**base)  # type: ignore[arg-type]


def _kv(line: str) -> dict[str, str]:
    """key=value pairs of a line, the way a log parser would read them."""
    body = line.split("]", 1)[1]
    return dict(tok.split("=", 1) for tok in shlex.split(body))


# --- pure formatting -----------------------------------------------------------------------
def test_episode_line_starts_in_the_seed_format() -> None:
    line = format_episode_line(_episode())
    assert line.startswith(
        "[EP 1342 env=7] len=642  R_env=23.5  R_total=31.8  badges=2  map=PewterCity  "
        "savestate_tag=pewter_city_gym  "
    )


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("R_rnd", "1.25"),
        ("R_novel", "6.10"),
        ("R_bayes", "1.00"),
        ("cells", "211"),
        ("theta_Boulder", "0.81"),
    ],
)
def test_episode_line_carries_intrinsic_returns_cells_and_posteriors(key: str, value: str) -> None:
    assert _kv(format_episode_line(_episode()))[key] == value


@pytest.mark.parametrize(
    ("alarms", "expected"),
    [((), None), (("Boulder",), "Boulder"), (("Boulder", "Cascade"), "Boulder,Cascade")],
)
def test_episode_line_names_alarms_only_when_raised(
    alarms: tuple[str, ...], expected: str | None
) -> None:
    assert _kv(format_episode_line(_episode(alarms=alarms))).get("alarm") == expected


@pytest.mark.parametrize(
    ("map_id", "tag", "map_field", "tag_field"),
    [
        (0x00, "pallet town start", "PalletTown", "pallet_town_start"),  # spaces would split
        (0xFE, "", "Map0xFE", "-"),  # unknown map id, no savestate (new game)
    ],
)
def test_episode_line_values_stay_single_tokens(
    map_id: int, tag: str, map_field: str, tag_field: str
) -> None:
    kv = _kv(format_episode_line(_episode(map_id=map_id, savestate_tag=tag)))
    assert (kv["map"], kv["savestate_tag"]) == (map_field, tag_field)


def test_interval_line_has_every_seed_field() -> None:
    line = format_interval_line(_stats(), total_steps=5_000_000, num_envs=32, eta_s=6120)
    assert line.startswith("[STEP 50000/5000000 1.0%] ")
    assert _kv(line) == {
        "sps": "812",
        "epsilon": "0.452",
        "ep_len": "642.0",
        "R_env": "23.50",
        "R_total": "31.80",
        "r_env": "0.0123",
        "r_rnd": "0.0040",
        "r_novel": "0.0100",
        "r_bayes": "0.0002",
        "episodes": "1342",
        "envs": "32",
        "loss": "0.0123",
        "q": "1.234",
        "alarms": "3",
        "restarts": "1",
        "eta": "1:42:00",
        "spawn": "early 45% | mid 35% | late 20%",
        "theta": "Boulder: 0.81, Cascade: 0.42",
    }


def test_interval_line_shows_dashes_before_any_episode_or_update() -> None:
    stats = _stats(
        recent_avg_episode_length=math.nan,
        recent_avg_r_env=math.nan,
        recent_avg_r_total=math.nan,
        loss=None,
        q_mean=None,
        curriculum="",
        posteriors={},
    )
    kv = _kv(format_interval_line(stats, total_steps=5_000_000, num_envs=32))
    assert [kv[k] for k in ("ep_len", "R_env", "R_total", "loss", "q", "eta")] == ["-"] * 6
    assert kv["spawn"] == "no spawns yet" and "theta" not in kv
    assert "nan" not in format_interval_line(stats, total_steps=5_000_000, num_envs=32)


def test_interval_line_appends_extra_pairs() -> None:
    stats = _stats(extra={"replay": 123456, "updates": 7, "buffer fill": "98 %"})
    kv = _kv(format_interval_line(stats, total_steps=10, num_envs=1))
    assert (kv["replay"], kv["updates"], kv["buffer_fill"]) == ("123456", "7", "98 %")


DASHBOARD = {
    "replay_fill": 0.42,
    "updates_per_s": 12.5,
    "time_split": {"env": 0.55, "act": 0.1, "learn": 0.25, "rewards": 0.05, "bookkeeping": 0.05},
    "system": {"system/cpu_percent": 85.0, "system/rss_gb": 3.1, "system/mem_percent": 41.0,
               "system/gpu_mem_gb": 1.5, "system/gpu_max_mem_gb": 2.0},
    "most_badges": 2,
    "cells_explored": 12345,
}  # fmt: skip


def test_interval_line_carries_the_dashboard_numbers_once_known() -> None:
    kv = _kv(format_interval_line(_stats(**DASHBOARD), total_steps=10**6, num_envs=32))
    assert {k: kv[k] for k in ("replay_fill", "updates_per_s", "cpu", "rss_gb", "mem_percent",
                               "gpu_gb", "most_badges", "cells_explored", "time")} == {
        "replay_fill": "0.420", "updates_per_s": "12.5", "cpu": "85", "rss_gb": "3.10",
        "mem_percent": "41", "gpu_gb": "1.50", "most_badges": "2", "cells_explored": "12345",
        "time": "env 55% act 10% learn 25% rewards 5% bookkeeping 5%",
    }  # fmt: skip


@pytest.mark.parametrize(
    "split",
    [
        {"env": 0.55, "act": 0.1, "learn": 0.25, "rewards": 0.05, "bookkeeping": 0.05},
        {"env": 1 / 3, "act": 1 / 3, "learn": 1 / 3},
        {"env": 0.999, "act": 0.001},
    ],
)
def test_time_split_bar_fills_its_width_in_proportion(split: dict[str, float]) -> None:
    from daddy.run.terminal import SPLIT_WIDTH

    text = time_split_text(split).plain
    assert text.count("█") == SPLIT_WIDTH
    assert format_time_split(split) in " ".join(text.split())


def test_loop_time_split_charges_every_lap_to_its_phase() -> None:
    from daddy.run.loop import PHASES, TimeSplit

    split = TimeSplit(last=0.0)
    split.seconds = dict.fromkeys(PHASES, 0.0)
    for phase, seconds in (("env", 3.0), ("act", 1.0), ("env", 2.0), ("bookkeeping", 4.0)):
        split.seconds[phase] += seconds
    assert split.shares() == {"env": 0.5, "act": 0.1, "learn": 0.0, "rewards": 0.0,
                              "bookkeeping": 0.4}  # fmt: skip
    split.lap("learn")  # perf_counter() - 0.0: the time since `last`
    assert split.seconds["learn"] > 0 and split.last > 0
    split.restart()
    assert split.shares() == {}


@pytest.mark.parametrize(
    ("posteriors", "expected"),
    [
        ({"Boulder": 0.812, "Cascade": 0.4}, "Boulder: 0.81, Cascade: 0.40"),
        ("Boulder: 0.81, Cascade: 0.42!", "Boulder: 0.81, Cascade: 0.42!"),  # summary() string
        ({}, ""),
    ],
)
def test_posteriors_read_label_colon_mean(posteriors: object, expected: str) -> None:
    assert format_posteriors(posteriors) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("posteriors", "rows"),
    [
        (
            "Boulder: 0.81 | next: Misty: 0.10, Cascade: 0.05!, Vermilion: 0.02",
            [
                ("furthest", "Boulder: 0.81"),
                ("next", "Misty: 0.10\nCascade: 0.05!\nVermilion: 0.02"),
            ],
        ),
        (
            "next: Pallet: 0.50, Starter: 0.50",
            [("furthest", "-"), ("next", "Pallet: 0.50\nStarter: 0.50")],
        ),
        ("Champion: 0.97 | all reached", [("furthest", "Champion: 0.97"), ("next", "all reached")]),
        ({"Boulder": 0.81}, [("theta", "Boulder: 0.81")]),
        ("", [("theta", "-")]),
    ],
    ids=["summary", "nothing-reached", "all-reached", "mapping", "none"],
)
def test_dashboard_shows_the_furthest_milestone_and_the_next_ones(
    posteriors: object, rows: list[tuple[str, str]]
) -> None:
    assert posterior_rows(posteriors) == rows  # type: ignore[arg-type]


def test_tty_dashboard_shows_furthest_and_next_rows_from_the_summary() -> None:
    out, clock = io.StringIO(), FakeClock()
    term = Terminal(100_000, 4, stream=out, is_tty=True, clock=clock)
    clock.t += 1.0
    term.interval(_stats(posteriors="Surge: 0.40 | next: Thunder: 0.30, RockTunnel: 0.05"))
    term.close()
    text = ANSI.sub("", out.getvalue())
    for piece in ("furthest", "Surge: 0.40", "next", "Thunder: 0.30", "RockTunnel: 0.05"):
        assert piece in text


@pytest.mark.parametrize(
    ("seconds", "text"), [(0, "0:00:00"), (61.4, "0:01:01"), (90061, "25:01:01"), (None, "-")]
)
def test_duration_reads_hours_minutes_seconds(seconds: float | None, text: str) -> None:
    assert format_duration(seconds) == text


def test_alarm_line_names_milestone_step_and_detail() -> None:
    line = format_alarm_line("Boulder", step=50_000, detail="success rate 0.81 -> 0.52")
    assert line == "[ALARM step=50000] Boulder  success rate 0.81 -> 0.52"


# --- plain mode (SLURM logs, pipes) --------------------------------------------------------
def _drive(term: Terminal, clock: FakeClock, steps: int, *, dt: float, per_step: int) -> None:
    """A fake train loop: progress every tick, episodes, an interval line and an alarm."""
    for i in range(1, steps + 1):
        clock.t += dt
        term.progress(i * per_step)
        if i % 10 == 0:
            term.episode(_episode(episode=i, alarms=("Boulder",) if i == 20 else ()))
        if i == steps // 2:
            term.interval(_stats(step=i * per_step))
            term.alarm("Boulder", detail="success rate 0.81 -> 0.52")
    term.close()


def test_plain_mode_never_emits_carriage_returns_or_ansi() -> None:
    out, clock = io.StringIO(), FakeClock()
    _drive(Terminal(100_000, 4, stream=out, clock=clock), clock, 100, dt=1.0, per_step=1000)
    text = out.getvalue()
    assert text and "\r" not in text and not ANSI.search(text)
    assert all(line.startswith("[") for line in text.splitlines())


def test_plain_mode_is_picked_when_stream_is_not_a_tty() -> None:
    assert Terminal(10, 1, stream=io.StringIO()).is_tty is False


def test_plain_progress_is_throttled_to_the_interval() -> None:
    out, clock = io.StringIO(), FakeClock()
    term = Terminal(1_000_000, 4, stream=out, plain_interval_s=30.0, clock=clock)
    for i in range(1, 301):  # 300 calls, one simulated second apart
        clock.t += 1.0
        term.progress(i * 100)
    term.close()
    progress = [ln for ln in out.getvalue().splitlines() if ln.startswith("[PROGRESS")]
    # start + one per 30 s (10) + close
    assert len(progress) == 12
    assert progress[0].startswith("[PROGRESS 0/1000000 0.0%]")
    assert progress[-1].startswith("[PROGRESS 30000/1000000 3.0%] sps=100 elapsed=0:05:00")


def test_plain_progress_keeps_its_pace_between_frequent_episode_lines() -> None:
    out, clock = io.StringIO(), FakeClock()
    term = Terminal(1_000_000, 4, stream=out, plain_interval_s=30.0, clock=clock)
    for i in range(1, 91):
        clock.t += 1.0
        term.episode(_episode(episode=i))
        term.progress(i * 100)
    assert sum(ln.startswith("[PROGRESS") for ln in out.getvalue().splitlines()) == 1 + 3


def test_plain_interval_line_restarts_the_progress_wait() -> None:
    out, clock = io.StringIO(), FakeClock()
    term = Terminal(1_000_000, 4, stream=out, plain_interval_s=30.0, clock=clock)
    clock.t += 29.0
    term.interval(_stats(step=2900))
    clock.t += 29.0
    term.progress(5800)
    assert [ln[:6] for ln in out.getvalue().splitlines()] == ["[PROGR", "[STEP "]


def test_plain_progress_resumes_from_start_step_and_measures_only_new_steps() -> None:
    out, clock = io.StringIO(), FakeClock()
    term = Terminal(1000, 2, stream=out, start_step=500, plain_interval_s=10.0, clock=clock)
    clock.t += 10.0
    term.progress(600)
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("[PROGRESS 500/1000 50.0%]")
    assert lines[1] == "[PROGRESS 600/1000 60.0%] sps=10 elapsed=0:00:10 eta=0:00:40"


def test_plain_mode_prints_every_episode_interval_and_alarm_line() -> None:
    out, clock = io.StringIO(), FakeClock()
    _drive(Terminal(100_000, 4, stream=out, clock=clock), clock, 40, dt=0.1, per_step=100)
    lines = out.getvalue().splitlines()
    assert sum(ln.startswith("[EP ") for ln in lines) == 4
    assert sum(ln.startswith("[STEP 2000/100000 ") for ln in lines) == 1
    assert "[ALARM step=2000] Boulder  success rate 0.81 -> 0.52" in lines
    assert any(ln.startswith("[EP 20 env=7]") and ln.endswith("alarm=Boulder") for ln in lines)


def test_plain_mode_survives_a_stream_that_cannot_encode_unicode() -> None:
    raw = io.BytesIO()
    stream = io.TextIOWrapper(raw, encoding="ascii")
    with Terminal(10, 1, stream=stream) as term:
        term.alarm("Boulder", detail="0.81 → 0.52")
    stream.flush()
    assert b"[ALARM step=0] Boulder  0.81 ? 0.52" in raw.getvalue()


# --- dashboard mode (a terminal) -----------------------------------------------------------
def test_tty_dashboard_renders_stats_episodes_and_alarms() -> None:
    out, clock = io.StringIO(), FakeClock()
    term = Terminal(100_000, 4, stream=out, is_tty=True, clock=clock)
    _drive(term, clock, 40, dt=0.3, per_step=100)
    raw = out.getvalue()
    assert ANSI.search(raw)  # rich drew it
    text = ANSI.sub("", raw)  # rich colours numbers inside lines
    assert "Daddy training" in text and "recent episodes" in text
    assert "[STEP 2000/100000 " in text  # interval line kept in the scrollback
    assert "[ALARM step=2000] Boulder" in text
    assert "[EP 40 env=7]" in text
    assert "Boulder: 0.81, Cascade: 0.42" in text


def test_tty_dashboard_shows_system_split_replay_best_so_far_and_checkpoint_age() -> None:
    out, clock = io.StringIO(), FakeClock()
    term = Terminal(100_000, 4, stream=out, is_tty=True, clock=clock)
    term._console.width = 160  # a wide terminal: one row per value
    term.checkpointed(40_000, age_s=200)
    clock.t += 60
    term.episode(_episode(badges=3))  # more than the interval knew: the episode counts
    term.interval(_stats(posteriors="Boulder: 0.81 | next: Misty: 0.10", **DASHBOARD))
    term.close()
    text = ANSI.sub("", out.getvalue()).split("Daddy training")[-1]
    for piece in ("learner", "updates/s", "12.5", "replay", "42%", "system", "85%", "3.10 GB",
                  "gpu mem", "1.50 GB (max 2.00)", "best so far", "12,345", "time split",
                  "env 55%", "bookkeeping 5%", "40,000 (0:04:20 ago)"):  # fmt: skip
        assert piece in text, piece
    best = text[text.index("best so far") :]
    assert re.search(r"badges\s+3\b", best) and re.search(r"furthest\s+Boulder\b", best)


def test_tty_dashboard_before_any_interval_says_what_is_missing() -> None:
    out = io.StringIO()
    Terminal(100_000, 4, stream=out, is_tty=True, clock=FakeClock()).close()
    text = ANSI.sub("", out.getvalue())
    for piece in ("none yet", "after the first interval", "not used"):
        assert piece in text, piece


def test_tty_close_is_idempotent_and_context_manager_closes() -> None:
    out = io.StringIO()
    with Terminal(10, 1, stream=out, is_tty=True, clock=FakeClock()) as term:
        term.progress(10)
    size = len(out.getvalue())
    term.close()
    assert len(out.getvalue()) == size


# --- bad input -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"total_steps": 0, "num_envs": 1}, "total_steps"),
        ({"total_steps": 10, "num_envs": 0}, "num_envs"),
        ({"total_steps": 10, "num_envs": 1, "start_step": 11}, "start_step"),
        ({"total_steps": 10, "num_envs": 1, "plain_interval_s": -1.0}, "plain_interval_s"),
    ],
)
def test_impossible_settings_raise_a_readable_error(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Terminal(stream=io.StringIO(), **kwargs)
