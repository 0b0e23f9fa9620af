"""The stability report: every plot from a synthetic log, clear failures, SWMR reading."""

from __future__ import annotations

import base64
import json
import os
import pickle
import re
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from analysis import compare, report
from analysis.beta import beta_ppf
from analysis.run_events import Mark, log_cuts, run_marks
from analysis.tb_read import read_scalars
from daddy.eval.heatmap import CHECKPOINT_PART, RUN_FILE, VisitCounts
from daddy.eval.video import Overlay, write_rollout
from daddy.game.milestones import DEFAULT_MILESTONES, STORY_ORDER
from daddy.run.checkpoint import CheckpointManager
from daddy.run.episode_log import EpisodeLogger
from daddy.run.paths import RunPaths
from daddy.run.tensorboard import ScalarLog

NAMES = [m.name for m in DEFAULT_MILESTONES]


def synthetic_row(i: int, rng: np.random.Generator) -> dict:
    """One plausible episode: returns drift upward, later spawns from deeper tiers."""
    progress = min(i / 300, 1.0)
    m = len(NAMES)
    successes = np.minimum(i * np.linspace(0.5, 0.01, m), i)
    return {
        "episode": i,
        "env_id": i % 8,
        "global_step": 500 * (i + 1),
        "length": int(rng.integers(200, 2000)),
        "return_env": rng.normal(progress * 5, 1),
        "return_total": rng.normal(progress * 8, 2),
        "return_rnd": rng.normal(0.5, 0.2),
        "return_novel": rng.normal(1 + progress, 0.3),
        "return_bayes": rng.normal(progress, 0.5),
        "badges": int(rng.random() < progress * 0.3) | (int(rng.random() < progress * 0.1) << 1),
        "map_id": int(rng.choice([0x00, 0x0C, 0x01, 0x33])),
        "savestate_tag": f"state_{i % 5}",
        "spawn_tier": int(rng.choice(3, p=[1 - progress * 0.6, progress * 0.4, progress * 0.2])),
        "milestones_reached": int(rng.integers(0, 1 << 6)),
        "alarm": 1 << 3 if i in (40, 41, 200) else 0,
        "cells_visited": int(rng.integers(10, 400)),
        "epsilon": max(0.05, 1 - progress),
        "wall_time": 1.7e9 + 2.0 * i,
        "sps": rng.normal(700, 40),
        "alpha": 1 + successes,
        "beta": 1 + i - successes,
    }


def write_run(root: Path, run: str = "demo", rows: int = 300, seed: int = 0) -> Path:
    run_dir = root / run
    rng = np.random.default_rng(seed)
    with EpisodeLogger(run_dir / "episodes.h5", run, NAMES) as log:
        for i in range(rows):
            log.append(synthetic_row(i, rng))
    return run_dir


ISSUE_PLOTS = {
    "returns",
    "episode_length",
    "sps",
    "milestone_posteriors",
    "alarms",
    "spawn_mix",
    "badges",
    "milestones_reached",
}


def test_report_writes_every_named_plot_heatmaps_videos_and_the_page(tmp_path: Path) -> None:
    run_dir = write_run(tmp_path)
    visits = VisitCounts()
    visits.add([(0x00, 3, 4), (0x00, 3, 5), (0x0C, 8, 30), (0x33, 1, 1), (0x36, 4, 4)])
    CheckpointManager(run_dir).save(
        150_000, {CHECKPOINT_PART: visits.state_dict(), "replay": {"obs": np.zeros(8)}}
    )
    screens = [np.full((144, 160, 3), 30 * i, np.uint8) for i in range(3)]
    overlays = [Overlay(0, i) for i in range(3)]
    write_rollout(screens, overlays, run_dir / "videos", step=100_000)  # --video-interval
    write_rollout(screens, overlays, run_dir / "videos" / "final", step=150_000)  # eval stage
    write_scalars(run_dir, range(10_000, 150_001, 10_000))  # the trainer's TensorBoard points

    assert report.main(["--run", "demo", "--runs-root", str(tmp_path)]) == 0
    out = run_dir / "report"
    assert set(report.PLOTS) == ISSUE_PLOTS
    for name in (*ISSUE_PLOTS, "learner", "system"):
        assert (out / f"{name}.png").stat().st_size > 5000, name
    heatmaps = {p.name for p in out.glob("heatmap_*.png")}
    assert heatmaps == {
        "heatmap_gyms.png",
        "heatmap_routes.png",
        "heatmap_towns.png",
        "heatmap_dungeons.png",
    }
    page = (out / "index.html").read_text()
    assert page.count("data:image/png;base64,") == len(ISSUE_PLOTS) + 2 + 4
    assert "No learner or system curves" not in page
    assert "300 from 8 envs" in page
    newest = (run_dir / "videos" / "final" / "rollout_150000.gif").read_bytes()
    assert embedded(page, "image/gif") == [newest]  # the newest rollout, in the page itself
    assert "videos/rollout_100000.mp4" in page  # the others named where they are
    assert local_links(page) == []


LINK = re.compile(r"""(?:src|href)\s*=\s*["']([^"']*)["']""")


def local_links(page: str) -> list[str]:
    """src/href values that point at files: they break when the page is copied elsewhere."""
    return [u for u in LINK.findall(page) if not u.startswith(("data:", "#", "https:", "http:"))]


def embedded(page: str, mime: str) -> list[bytes]:
    return [base64.b64decode(d) for d in re.findall(rf'src="data:{mime};base64,([^"]+)"', page)]


def test_milestone_figures_go_by_story_order_up_to_the_furthest_and_the_next_few(
    tmp_path: Path,
) -> None:
    """With ~60 milestones the figures keep the rows that matter: bit order is not story order
    (Pallet Town is bit 14 but first), and milestones far beyond the furthest are left out."""
    rng = np.random.default_rng(2)
    boulder = 1 << NAMES.index("badge_boulder")
    pallet = 1 << NAMES.index("pallet_town")
    with EpisodeLogger(tmp_path / "ms" / "episodes.h5", "ms", NAMES) as log:
        for i in range(40):
            log.append(
                {
                    **synthetic_row(i, rng),
                    "milestones_reached": (boulder if i == 7 else 0) | pallet | 1,
                }
            )
    ep = report.load_episodes(tmp_path / "ms")
    shown = [ep.milestones[j] for j in ep.shown_columns()]
    story = list(STORY_ORDER)
    assert shown == story[: story.index("badge_boulder") + 1 + report.NEXT_SHOWN]
    assert [ep.labels()[j] for j in ep.next_columns(2)] == ["MtMoon", "MoonNerd"]
    page = report.summary(ep)
    assert page["furthest milestone"] == "Boulder"
    assert page["milestones ever reached"] == f"3 of {len(NAMES)}: Pallet, Starter, Boulder"
    for plot in (report.plot_milestone_posteriors, report.plot_milestones_reached):
        assert plot(ep, tmp_path).stat().st_size > 5000


def test_report_reads_a_log_begun_before_milestones_were_appended(tmp_path: Path) -> None:
    """A run logged with the cartridge's 14 milestones and resumed with the whole list: the
    old rows' new posterior columns are NaN (not tracked then), and every figure still draws."""
    rng = np.random.default_rng(3)
    path = tmp_path / "old" / "episodes.h5"
    with EpisodeLogger(path, "old", NAMES[:14]) as log:
        for i in range(30):
            row = synthetic_row(i, rng)
            log.append({**row, "alpha": row["alpha"][:14], "beta": row["beta"][:14],
                        "milestones_reached": row["milestones_reached"] & 0x3FFF})  # fmt: skip
        rows = log.rows
    with EpisodeLogger(path, "old", NAMES, resume_rows=rows) as log:
        for i in range(30, 60):
            log.append(synthetic_row(i, rng))
    ep = report.load_episodes(tmp_path / "old")
    assert ep.alpha.shape == (60, len(NAMES)) and np.isnan(ep.alpha[:30, 14:]).all()
    assert report.main(["--run", "old", "--runs-root", str(tmp_path)]) == 0
    assert (tmp_path / "old" / "report" / "milestone_posteriors.png").stat().st_size > 5000


@pytest.mark.parametrize("newest", ["checkpoint", "run_file"])
def test_visit_counts_come_from_whichever_source_was_written_last(
    tmp_path: Path, newest: str
) -> None:
    in_file, in_checkpoint = VisitCounts(), VisitCounts()
    in_file.add_cell(0x00, 1, 1)
    in_checkpoint.add_cell(0x0C, 2, 2)

    def write_file() -> None:
        in_file.save(tmp_path / RUN_FILE)

    def write_checkpoint() -> None:
        CheckpointManager(tmp_path).save(10, {CHECKPOINT_PART: in_checkpoint.state_dict()})

    first, last = (
        (write_file, write_checkpoint) if newest == "checkpoint" else (write_checkpoint, write_file)
    )
    first()
    time.sleep(0.02)  # distinct modification times
    last()
    counts, source = report.load_visits(tmp_path)
    expected = in_checkpoint if newest == "checkpoint" else in_file
    assert counts == expected
    assert (CHECKPOINT_PART in source) is (newest == "checkpoint")


def test_report_of_a_single_episode_without_visits_or_scalars_says_so_on_the_page(
    tmp_path: Path,
) -> None:
    run_dir = write_run(tmp_path, rows=1)
    assert report.main(["--run", "demo", "--runs-root", str(tmp_path)]) == 0
    page = (run_dir / "report" / "index.html").read_text()
    assert "No visit heatmap yet" in page and "No learner or system curves" in page
    assert not list((run_dir / "report").glob("heatmap_*.png"))
    assert not (run_dir / "report" / "learner.png").exists()


@pytest.mark.parametrize(
    "setup, expected",
    [
        ("no_run_dir", "no run folder"),
        ("no_file", "does not exist"),
        ("empty_file", "has 0 rows"),
    ],
)
def test_report_without_episodes_says_why_and_exits_2(
    tmp_path: Path, capsys, setup: str, expected: str
) -> None:
    if setup != "no_run_dir":
        (tmp_path / "demo").mkdir()
    if setup == "empty_file":
        EpisodeLogger(tmp_path / "demo" / "episodes.h5", "demo", NAMES).close()
    code = report.main(["--run", "demo", "--runs-root", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == report.EXIT_NO_EPISODES
    assert expected in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


_WRITER = textwrap.dedent("""
    import pickle, sys
    from daddy.run.episode_log import EpisodeLogger
    names, rows = pickle.loads(open({rows!r}, "rb").read())
    with EpisodeLogger({path!r}, "live", names) as log:
        for row in rows[:40]:
            log.append(row)
        print("ready", flush=True)
        sys.stdin.readline()
        for row in rows[40:]:
            log.append(row)
        print("ready", flush=True)
        sys.stdin.readline()
""")  # imports only the logger, so the writer starts fast


def test_report_reads_a_log_while_the_writer_appends(tmp_path: Path) -> None:
    path = tmp_path / "live" / "episodes.h5"
    rng = np.random.default_rng(1)
    (tmp_path / "rows.pkl").write_bytes(
        pickle.dumps((NAMES, [synthetic_row(i, rng) for i in range(90)]))
    )
    code = _WRITER.format(rows=str(tmp_path / "rows.pkl"), path=str(path))
    with subprocess.Popen(
        [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    ) as proc:
        try:
            assert proc.stdout.readline().strip() == "ready"  # 40 rows, writer still open
            assert report.main(["--run", "live", "--runs-root", str(tmp_path)]) == 0
            page = (tmp_path / "live" / "report" / "index.html").read_text()
            proc.stdin.write("go\n")
            proc.stdin.flush()
            assert proc.stdout.readline().strip() == "ready"  # 90 rows, writer still open
            later = report.load_episodes(tmp_path / "live")
            proc.stdin.write("go\n")
            proc.stdin.flush()
            assert proc.wait(timeout=30) == 0
        finally:
            proc.kill()
    assert "40 from 8 envs" in page
    assert later.n == 90 and later.alpha.shape == (90, len(NAMES))
    assert later.df["episode"].tolist() == list(range(90))  # whole rows, none lost or doubled


@pytest.mark.parametrize("a, b", [(1.0, 1.0), (3.0, 1.0), (0.5, 1.0), (1.0, 7.0), (1.0, 2e5)])
@pytest.mark.parametrize("q", [0.05, 0.5, 0.95])
def test_beta_quantiles_match_closed_forms(a: float, b: float, q: float) -> None:
    exact = q ** (1 / a) if b == 1.0 else 1 - (1 - q) ** (1 / b)
    assert beta_ppf(q, a, b) == pytest.approx(exact, abs=1e-3, rel=1e-2)


def test_beta_quantiles_of_bad_parameters_are_nan() -> None:
    assert np.isnan(beta_ppf(0.5, np.array([0.0, -1.0]), 1.0)).all()


@pytest.mark.parametrize(
    "config, checkpoint_rom, practice",
    [
        ("train: {rom: practice}", None, True),
        ("train: {num_envs: 2}", None, True),  # practice is train_big's default ROM
        ("train: {rom: /roms/red.gb}", None, False),
        (None, "practice", True),
        ("train: {rom: practice}", "/roms/red.gb", False),  # the checkpoint knows what ran
        (None, None, False),
    ],
)
def test_heatmaps_are_sized_for_the_rom_the_run_played(
    tmp_path: Path, config: str | None, checkpoint_rom: str | None, practice: bool
) -> None:
    run_dir = tmp_path / "demo"
    run_dir.mkdir()
    if config is not None:
        (tmp_path / "demo.yaml").write_text(f"run_name: demo\n{config}\n")
    if checkpoint_rom is not None:
        CheckpointManager(run_dir).save(
            1, {"model": {"w": np.zeros(1)}}, config={"rom": checkpoint_rom}
        )
    assert report.runs_practice_rom(run_dir) is practice


TINY_RUN = """
run_name: tiny
train:
  rom: practice
  num_envs: 2
  total_steps: 800
  model_size: slim
  max_episode_steps: 64
  learning_starts: 200
  save_interval: 400
  log_interval: 200
  replay_memory_mb: 16
  device: cpu
"""


@pytest.mark.slow
def test_report_of_a_tiny_real_training_run_has_every_plot(tmp_path: Path) -> None:
    pytest.importorskip("daddy.run.train")
    (tmp_path / "runs").mkdir()
    (tmp_path / "runs" / "tiny.yaml").write_text(TINY_RUN)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    for cmd in (
        ["daddy.bootstrap", "--rom", "practice", "--run", "tiny"],
        ["daddy.train_big", "--config", "runs/tiny.yaml"],
    ):
        done = subprocess.run(
            [sys.executable, "-m", *cmd],
            cwd=tmp_path,
            env=env,
            timeout=600,
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 0, done.stderr[-2000:]
    assert report.main(["--run", "tiny", "--runs-root", str(tmp_path / "runs")]) == 0
    out = tmp_path / "runs" / "tiny" / "report"
    for name in (*report.PLOTS, *report.SCALAR_PLOTS):
        assert (out / f"{name}.png").stat().st_size > 5000, name
    page = (out / "index.html").read_text()
    assert "from 2 envs" in page and "<th>env steps</th><td>800</td>" in page
    assert "<th>model_size</th><td><b>slim</b></td>" in page  # the checkpoint's settings
    assert local_links(page) == []


# --- learner curves, cuts, settings, the run's real step ---------------------------------------
def write_scalars(run_dir: Path, steps: range, *, start_step: int = 0, td: float = 1.0) -> None:
    """What the trainer writes at each log interval, through its own writer."""
    log = ScalarLog(RunPaths.from_dir(run_dir).tensorboard, start_step=start_step)
    for step in steps:
        log.log({"losses/td_loss": td / step, "losses/q_values": step / 1e5,
                 "charts/epsilon": 1 - step / 2e5, "replay/fill": min(step / 1e5, 1.0),
                 "learner/updates_per_s": 12.0, "charts/SPS": 700.0, "system/cpu_percent": 80.0,
                 "system/rss_gb": 2.5, "time/env_share": 0.6, "time/act_share": 0.1,
                 "time/learn_share": 0.2, "time/rewards_share": 0.05,
                 "time/bookkeeping_share": 0.05, "best/cells_explored": step // 100}, step)  # fmt: skip
    log.close()


def test_learner_scalars_read_back_without_the_points_a_resume_replayed(tmp_path: Path) -> None:
    """A process logs to step 60k but its last checkpoint is at 40k; the resumed one logs again
    from 50k: the report reads each step once, the resumed process's values past 40k."""
    write_scalars(tmp_path, range(10_000, 60_001, 10_000), td=1.0)
    write_scalars(tmp_path, range(50_000, 80_001, 10_000), start_step=40_000, td=2.0)
    scalars = read_scalars(RunPaths.from_dir(tmp_path).tensorboard)
    td = scalars["losses/td_loss"]
    assert td["step"].tolist() == list(range(10_000, 80_001, 10_000))
    assert td["value"].tolist() == pytest.approx(
        [1.0 / s for s in range(10_000, 40_001, 10_000)]
        + [2.0 / s for s in range(50_000, 80_001, 10_000)]
    )
    assert {"losses/q_values", "replay/fill", "learner/updates_per_s", "time/env_share"} <= set(
        scalars
    )


START = "[START] run=demo rom=practice device=cpu model=slim params=1 envs=2 replay_capacity=9 "


@pytest.mark.parametrize(
    ("lines", "planned", "expected"),
    [
        ([START + "step=0/900 stop_at=300", "[DONE] demo: step 300 (stop at 300), 4 episodes",
          START + "step=300/900 stop_at=900"], set(), [("segment", 300)]),
        ([START + "step=0/900 stop_at=900", "[CKPT] step=200 path=x",
          "[SIGNAL] SIGUSR2 at step 250: writing a checkpoint, then exiting",
          START + "step=250/900 stop_at=900"], set(), [("stopped", 250)]),
        ([START + "step=0/900 stop_at=900", "[CKPT] step=200 path=x", "[STEP 280/900 31.1%] sps=1",
          START + "step=200/900 stop_at=900"], set(), [("killed", 200)]),
        ([START + "step=0/900 stop_at=300", "[STEP 300/900 33.3%] sps=1",
          START + "step=300/900 stop_at=600"], {300}, []),  # a segment's start: the .done marks it
    ],
    ids=["until-step", "signal", "killed", "segment"],
)  # fmt: skip
def test_cuts_in_the_run_log_are_told_apart(
    lines: list[str], planned: set[int], expected: list[tuple[str, int]]
) -> None:
    assert [(m.kind, m.step) for m in log_cuts(lines, planned)] == expected


def test_run_marks_combine_segment_markers_and_the_log(tmp_path: Path) -> None:
    paths = RunPaths.from_dir(tmp_path / "demo")
    paths.segments.mkdir(parents=True)
    for k, until in ((1, 300), (2, 600)):
        paths.segment_done(k).write_text(json.dumps({"segment": k, "until_step": until}))
    paths.train_log.write_text("\n".join([
        START + "step=0/900 stop_at=300", "[CKPT] step=300 path=x",
        START + "step=300/900 stop_at=600", "[SIGNAL] SIGTERM at step 450: writing",
        START + "step=450/900 stop_at=600", "[CKPT] step=600 path=x",
        START + "step=600/900 stop_at=900",
    ]) + "\n")  # fmt: skip
    marks = run_marks(paths.dir)
    assert [(m.kind, m.step) for m in marks] == [("segment", 300), ("stopped", 450),
                                                 ("segment", 600)]  # fmt: skip
    assert isinstance(marks[0], Mark) and "segment 1" in marks[0].label


def test_summary_names_the_runs_real_step_span_cuts_and_settings(tmp_path: Path) -> None:
    """The checkpoint is past the last episode's step: the run is where its checkpoint is."""
    run_dir = write_run(tmp_path)  # episodes end at steps 500..150,000, 2 s apart
    CheckpointManager(run_dir).save(160_000, {"model": {"w": np.zeros(1)}},
                                    config={"run_name": "demo", "lr": 0.123, "num_envs": 8})  # fmt: skip
    paths = RunPaths.from_dir(run_dir)
    paths.train_log.write_text(START + "step=0/9 stop_at=9\n" + START + "step=60000/9 stop_at=9\n")
    assert report.main(["--run", "demo", "--runs-root", str(tmp_path)]) == 0
    page = (run_dir / "report" / "index.html").read_text()
    assert "<th>env steps</th><td>160,000</td>" in page
    with paths.train_log.open("a") as log:  # the trainer is on, past its checkpoint
        log.write("[STEP 161000/900000 17.9%] sps=700\n[PROGRESS 161500/900000 17.9%] sps=700\n")
    assert (
        report.summary(report.load_episodes(run_dir), report.run_info(run_dir, {}))["env steps"]
        == "161,500"
    )
    assert "step 160,000, written" in page
    assert "2 trainer starts" in page and "1 without a word" in page
    assert "step 60,000: ended without a word" in page
    assert "<th>lr</th><td><b>0.123</b></td>" in page  # not the default: bold
    assert "from checkpoint step_160000" in page


@pytest.mark.parametrize(
    ("times", "text"),
    [
        ([0, 30, 598], "9 min 58 s"),
        ([0, 3600, 3600 + 7200 * 3], "7 h 00 min"),  # gaps above GAP_S: not running
        ([5.0], "-"),
    ],
)
def test_wall_clock_span_reads_as_a_duration(times: list[float], text: str) -> None:
    got = report.wall_clock(np.array(times, float) + 1.7e9)
    assert got.startswith(text)
    assert ("running" in got) == bool(len(times) > 1 and np.diff(times).max() > report.GAP_S)


# --- several runs ----------------------------------------------------------------------------
def write_runs(root: Path, names: list[str]) -> None:
    for k, name in enumerate(names):
        run_dir = write_run(root, name, rows=60 + 20 * k, seed=k)
        CheckpointManager(run_dir).save(500 * (60 + 20 * k), {"model": {"w": np.zeros(1)}},
                                        config={"run_name": name, "seed": k, "lr": 1e-4})  # fmt: skip
        if k != 1:  # one run without scalars: its learner curves are simply absent
            write_scalars(run_dir, range(2000, 500 * (60 + 20 * k) + 1, 2000))


@pytest.mark.parametrize(
    ("specs", "groups"),
    [
        (["s0", "s1", "s2"], [("all runs", ["s0", "s1", "s2"])]),
        (["s*"], [("s*", ["s0", "s1", "s2"])]),
        (["s0,s1", "t*"], [("s0,s1", ["s0", "s1"]), ("t*", ["t0"])]),
    ],
)
def test_runs_arguments_name_groups(
    tmp_path: Path, specs: list[str], groups: list[tuple[str, list[str]]]
) -> None:
    write_runs(tmp_path, ["s0", "s1", "s2", "t0"])
    assert compare.resolve_groups(specs, tmp_path) == groups


def test_multi_run_report_overlays_runs_with_a_median_and_band(tmp_path: Path) -> None:
    write_runs(tmp_path, ["s0", "s1", "s2"])
    out = tmp_path / "cmp"
    assert report.main(["--runs", "s0", "s1", "s2", "--runs-root", str(tmp_path),
                        "--out", str(out)]) == 0  # fmt: skip
    page = (out / "index.html").read_text()
    assert page.count("data:image/png;base64,") == 2  # progress, learner
    for piece in ("<td>s0</td>", "<td>s2</td>", "<td>40,000</td>", "differ between the runs: seed"):
        assert piece in page, piece
    assert local_links(page) == []
    assert (out / "compare_progress.png").stat().st_size > 5000


def test_multi_run_report_goes_under_runs_compare_by_default(tmp_path: Path) -> None:
    write_runs(tmp_path, ["a", "b"])
    assert report.main(["--runs", "a", "b", "--runs-root", str(tmp_path)]) == 0
    assert (tmp_path / "compare" / "a+b" / "index.html").is_file()


def test_multi_run_report_of_an_unknown_run_is_one_line_exit_2(tmp_path: Path, capsys) -> None:
    write_runs(tmp_path, ["a"])
    assert report.main(["--runs", "a", "nope*", "--runs-root", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "nope*" in err and "a" in err


@pytest.mark.parametrize("hold", [True, False])
def test_a_run_is_drawn_only_over_its_own_steps(hold: bool) -> None:
    grid = np.array([0.0, 50, 100, 150, 200, 250])
    y = compare.on_grid(np.array([50.0, 150, 200]), np.array([1.0, 3.0, 5.0]), grid, hold=hold)
    assert np.isnan(y[[0, 5]]).all()
    assert y[1:5].tolist() == ([1.0, 1.0, 3.0, 5.0] if hold else [1.0, 2.0, 3.0, 5.0])


def test_band_is_quartiles_with_three_runs_min_max_with_two_and_ignores_missing() -> None:
    stack = np.array([[1.0, 1.0, np.nan], [2.0, 5.0, 7.0], [9.0, np.nan, np.nan]])
    med, lo, hi = compare.band(stack)
    assert med.tolist() == [2.0, 3.0, 7.0]
    assert lo.tolist() == [1.5, 1.0, 7.0] and hi.tolist() == [5.5, 5.0, 7.0]
