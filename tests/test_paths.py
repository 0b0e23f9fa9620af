"""RunPaths: every folder and file of a run, and which checkpoints are complete."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from daddy.run.paths import (
    COMPLETE,
    LATEST,
    RunPaths,
    complete_steps,
    step_dir_name,
    step_of,
)


def test_layout_of_a_run_under_the_default_roots() -> None:
    p = RunPaths("demo")
    assert p.dir == Path("runs/demo") and p.config == Path("runs/demo.yaml")
    assert p.episodes == Path("runs/demo/episodes.h5")
    assert p.checkpoints == Path("runs/demo/checkpoints")
    assert p.checkpoint(300) == Path("runs/demo/checkpoints/step_300")
    assert p.latest == Path("runs/demo/checkpoints") / LATEST
    assert p.videos == Path("runs/demo/videos")
    assert p.eval_videos == Path("runs/demo/videos/final")
    assert p.eval_done == Path("runs/demo/videos/final.done")
    assert p.report_html == Path("runs/demo/report/index.html")
    assert p.segment_done(2) == Path("runs/demo/segments/segment_2.done")
    assert p.job_record(2) == Path("runs/demo/jobs/segment_2.json")
    assert p.submitit == Path("runs/demo/jobs/submitit")
    assert p.log("bootstrap") == Path("runs/demo/logs/bootstrap.log")
    assert p.states == Path("savestates/demo")
    assert p.state_index == Path("savestates/demo/index.json")
    assert p.bootstrap_done == Path("savestates/demo/bootstrap.done")
    assert p.root_flags() == []


def test_roots_move_outputs_and_states_and_become_flags(tmp_path: Path) -> None:
    p = RunPaths("r", str(tmp_path / "runs"), tmp_path / "ss")
    assert p.runs_root == tmp_path / "runs" and isinstance(p.runs_root, Path)
    assert p.checkpoint(1) == tmp_path / "runs/r/checkpoints/step_1"
    assert p.state_index == tmp_path / "ss/r/index.json"
    assert p.root_flags() == ["--runs-root", str(tmp_path / "runs"), "--states-root",
                              str(tmp_path / "ss")]  # fmt: skip
    assert RunPaths.from_dir(p.dir) == RunPaths("r", tmp_path / "runs")


@pytest.mark.parametrize("bad", ["", ".", "..", "a/b", "a\\b"])
def test_a_run_name_must_be_a_plain_folder_name(bad: str) -> None:
    with pytest.raises(ValueError, match="bad run name"):
        RunPaths(bad)


def test_a_snakemake_pattern_is_a_run_name() -> None:
    assert str(RunPaths("{run}").segment_done("{k}")) == "runs/{run}/segments/segment_{k}.done"


def _checkpoint(p: RunPaths, step: int, complete: bool = True) -> None:
    p.checkpoint(step).mkdir(parents=True)
    if complete:
        (p.checkpoint(step) / COMPLETE).write_text("")


def test_complete_steps_count_only_marked_step_folders(tmp_path: Path) -> None:
    p = RunPaths("r", tmp_path)
    assert p.complete_steps() == [] and p.newest_complete_step() is None  # no folder yet
    p.checkpoints.mkdir(parents=True)
    assert p.complete_steps() == [] and p.newest_complete_step() is None
    for step in (1000, 20, 300):
        _checkpoint(p, step)
    _checkpoint(p, 5000, complete=False)  # being written (or killed): no marker
    (p.checkpoints / "step_9000.old").mkdir()  # not a step_<N> name
    (p.checkpoints / "step_9000.old" / COMPLETE).write_text("")
    (p.checkpoints / ".tmp_step_7000_1").mkdir()
    (p.checkpoints / ".tmp_step_7000_1" / COMPLETE).write_text("")
    (p.checkpoints / "step_x").mkdir()
    (p.checkpoints / "step_x" / COMPLETE).write_text("")
    (p.checkpoints / "step_8000").write_text("a file, not a folder")
    (p.checkpoints / LATEST).write_text("step_5000\n")  # the pointer is not trusted
    assert p.complete_steps() == complete_steps(p.checkpoints) == [20, 300, 1000]  # numeric order
    assert p.newest_complete_step() == 1000


def test_step_folder_names_round_trip() -> None:
    assert step_dir_name(42) == "step_42" and step_of("step_42") == 42
    assert step_of("step_") is None and step_of("latest") is None and step_of("xstep_1") is None


def test_checkpoint_manager_and_evaluation_agree_with_paths(tmp_path: Path) -> None:
    from daddy.eval.rollout import complete_checkpoints, resolve_checkpoint
    from daddy.run.checkpoint import CheckpointManager

    p = RunPaths("r", tmp_path)
    for manager in (CheckpointManager(p, keep_last=5), CheckpointManager(p.dir, keep_last=5)):
        assert manager.dir == p.checkpoints and manager.path(7) == p.checkpoint(7)
    mgr = CheckpointManager(p, keep_last=5)
    for step in (10, 30):
        mgr.save(step, {"counters": {"step": step}})
    _checkpoint(p, 99, complete=False)
    assert mgr.list_complete() == p.complete_steps() == [10, 30]
    assert (p.latest).read_text().strip() == "step_30"
    assert [f.name for f in complete_checkpoints(p.checkpoints)] == ["step_10", "step_30"]
    assert resolve_checkpoint(p) == resolve_checkpoint(p.dir) == p.checkpoint(30)
    assert resolve_checkpoint(p, "10") == p.checkpoint(10)


def test_paths_imports_no_torch() -> None:
    code = "import sys, daddy.run.paths, daddy.run.exit_codes; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize(
    ("argv", "prefix"),
    [
        (["daddy.bootstrap", "--max-frames", "x"], "daddy.bootstrap: error: "),
        (["daddy.evaluate"], "evaluate: "),
        (["daddy.curriculum", "import", "--run", "r"], "daddy.curriculum import: error: "),
        (["pipeline.stages", "eval"], "stages: "),
        (["pipeline.train_segment", "--config", "runs/demo.yaml"], "train_segment: "),
        (["analysis.report", "--run", ".."], "report: "),
    ],
)
def test_commands_refuse_bad_arguments_in_one_line_with_exit_2(
    tmp_path: Path, argv: list[str], prefix: str
) -> None:
    from daddy.run.exit_codes import EXIT_BAD_INPUT

    repo = Path(__file__).resolve().parents[1]
    out = subprocess.run([sys.executable, "-m", *argv], cwd=repo, capture_output=True, text=True,
                         timeout=120, check=False)  # fmt: skip
    assert out.returncode == EXIT_BAD_INPUT, out.stderr
    assert out.stderr.startswith(prefix) and out.stderr.count("\n") == 1, out.stderr
