"""The stability report: every plot from a synthetic log, clear failures, SWMR reading."""

from __future__ import annotations

import base64
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

from analysis import report
from analysis.beta import beta_ppf
from daddy.eval.heatmap import CHECKPOINT_PART, RUN_FILE, VisitCounts
from daddy.eval.video import Overlay, write_rollout
from daddy.game.milestones import DEFAULT_MILESTONES, STORY_ORDER
from daddy.run.checkpoint import CheckpointManager
from daddy.run.episode_log import EpisodeLogger

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


def write_run(root: Path, run: str = "demo", rows: int = 300) -> Path:
    run_dir = root / run
    rng = np.random.default_rng(0)
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

    assert report.main(["--run", "demo", "--runs-root", str(tmp_path)]) == 0
    out = run_dir / "report"
    assert set(report.PLOTS) == ISSUE_PLOTS
    for name in ISSUE_PLOTS:
        assert (out / f"{name}.png").stat().st_size > 5000, name
    heatmaps = {p.name for p in out.glob("heatmap_*.png")}
    assert heatmaps == {
        "heatmap_gyms.png",
        "heatmap_routes.png",
        "heatmap_towns.png",
        "heatmap_dungeons.png",
    }
    page = (out / "index.html").read_text()
    assert page.count("data:image/png;base64,") == len(ISSUE_PLOTS) + 4
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


def test_report_of_a_single_episode_without_visits_says_so_on_the_page(tmp_path: Path) -> None:
    run_dir = write_run(tmp_path, rows=1)
    assert report.main(["--run", "demo", "--runs-root", str(tmp_path)]) == 0
    page = (run_dir / "report" / "index.html").read_text()
    assert "No visit heatmap yet" in page
    assert not list((run_dir / "report").glob("heatmap_*.png"))


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
    for name in report.PLOTS:
        assert (out / f"{name}.png").stat().st_size > 5000, name
    assert "from 2 envs" in (out / "index.html").read_text()
