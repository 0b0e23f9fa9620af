"""`python -m daddy.status`: a real pipeline segment (the trainer on the practice cartridge, run
by the segment submitter locally, and on the local SLURM when it is up) reads back as segments,
step, checkpoint, episodes and job; the best milestone comes from the episode log."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from slurm_util import requires_slurm, scancel

from daddy.game.milestones import DEFAULT_MILESTONES, by_name
from daddy.run.episode import EpisodeRecord
from daddy.run.episode_log import open_episode_log
from daddy.run.exit_codes import EXIT_BAD_INPUT, EXIT_OK
from daddy.run.paths import RunPaths
from daddy.status import ago, furthest

TRAIN = {"rom": "practice", "num_envs": 2, "total_steps": 400, "model_size": "slim",
         "batch_size": 4, "seq_len": 12, "burn_in": 4, "n_step": 2, "replay_memory_mb": 8,
         "max_episode_steps": 60, "learning_starts": 100, "log_interval": 100,
         "save_interval": 200, "device": "cpu", "seed": 1}  # fmt: skip


def write_config(cwd: Path, run: str, **resources: object) -> None:
    pipeline = {"segments": 2, "steps_per_segment": 200, "signal_delay_s": 30}
    if resources:
        pipeline["resources"] = {"train": resources}
    (cwd / "runs").mkdir(exist_ok=True)
    doc = {"run_name": run, "train": TRAIN, "pipeline": pipeline}
    (cwd / "runs" / f"{run}.yaml").write_text(json.dumps(doc))  # JSON is YAML


def segment(cwd: Path, run: str, executor: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "pipeline.train_segment", "--config",
                             f"runs/{run}.yaml", "--segment", "1", "--executor", executor,
                             "--poll-s", "1"], cwd=cwd, text=True, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)  # fmt: skip


def status(cwd: Path, *runs: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "daddy.status", *runs], cwd=cwd,
                          capture_output=True, text=True, timeout=120, check=False)  # fmt: skip


def rows(text: str) -> dict[str, str]:
    """'  key   value' lines of one run's block."""
    out = {}
    for line in text.splitlines():
        if line.startswith("  "):
            key, _, value = line.strip().partition(" ")
            out[key] = value.strip()
    return out


@pytest.fixture(scope="module")
def local_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Segment 1 of 2 of a pipeline run, trained by the real segment job (local executor)."""
    cwd = tmp_path_factory.mktemp("status")
    write_config(cwd, "tiny")
    proc = segment(cwd, "tiny", "local")
    out, _ = proc.communicate(timeout=600)
    assert proc.returncode == EXIT_OK, out[-3000:]
    write_config(cwd, "later")  # a run config not started yet
    return cwd


def test_status_names_segments_step_checkpoint_episodes_and_job(local_run: Path) -> None:
    out = status(local_run, "tiny")
    assert out.returncode == EXIT_OK, out.stderr
    assert out.stdout.splitlines()[0] == "tiny"
    got = rows(out.stdout)
    job = json.loads(RunPaths("tiny", local_run / "runs").job_record(1).read_text())["job_id"]
    assert got["segments"] == f"1/2 done; segment 1: local job {job} ended"
    assert got["step"].startswith("200 / 400 (50.0%) last logged")
    assert (
        got["checkpoint"].startswith("step_200, ")
        and "runs/tiny/checkpoints/step_200" in got["checkpoint"]
    )
    assert got["episodes"].startswith("2 logged")
    assert got["best"] == "no milestone reached yet"
    assert got["trainer"] == "not running"
    assert got["log"] == "runs/tiny/train.log"


def test_status_of_all_runs_includes_runs_not_started(local_run: Path) -> None:
    out = status(local_run)
    assert out.returncode == EXIT_OK
    blocks = out.stdout.strip().split("\n\n")
    assert [b.splitlines()[0] for b in blocks] == ["later", "tiny"]
    assert rows(blocks[0])["step"] == "not started (no run folder yet)"
    assert rows(blocks[0])["segments"] == "0/2 done"


@pytest.mark.parametrize("run", ["nope", "../tiny"])
def test_unknown_run_is_one_line_exit_2(local_run: Path, run: str) -> None:
    out = status(local_run, run)
    assert out.returncode == EXIT_BAD_INPUT and out.stdout == ""
    assert out.stderr.count("\n") == 1 and out.stderr.startswith("daddy.status: error:")


def record(episode: int, step: int, reached: int) -> dict:
    m = len(DEFAULT_MILESTONES)
    return EpisodeRecord(
        episode=episode, env_id=0, global_step=step, length=60, return_env=1.0, return_total=1.0,
        return_rnd=0.0, return_novel=0.0, return_bayes=0.0, badges=1, map_id=2,
        savestate_tag="pallet_town_start", spawn_tier=0, milestones_reached=reached, alarm=0,
        cells_visited=10, epsilon=1.0, wall_time=0.0, sps=1.0, alpha=np.ones(m), beta=np.ones(m),
    ).row()  # fmt: skip


def test_best_milestone_is_the_furthest_in_story_order(local_run: Path, tmp_path: Path) -> None:
    """Episode rows written by the trainer's own logger: the best is the furthest reached."""
    paths = RunPaths("ep", tmp_path / "runs")
    paths.dir.mkdir(parents=True)
    bit = {m.name: 1 << i for i, m in enumerate(DEFAULT_MILESTONES)}
    logger = open_episode_log(paths.episodes, "ep", [m.name for m in DEFAULT_MILESTONES], None)
    logger.append(record(1, 120, bit["got_starter"] | bit["route_1"]))
    logger.append(record(2, 240, bit["pewter_city"]))
    logger.append(record(3, 360, bit["route_1"]))
    logger.close()
    got = rows(status(tmp_path, "ep").stdout)
    assert got["best"] == "pewter_city (Pewter), first at step 240"
    assert got["episodes"] == "3 logged (last at step 360); most badges 1"
    assert furthest(bit["got_starter"] | bit["beat_brock"]) == by_name("beat_brock")
    assert furthest(0) is None


def test_ages_read_as_minutes_hours_days() -> None:
    assert [ago(0, now=s) for s in (5, 240, 3900, 2 * 86400 + 7200)] == [
        "5 s ago", "4 min ago", "1 h 5 min ago", "2 d 2 h ago"]  # fmt: skip


@pytest.mark.slurm
@requires_slurm
def test_status_follows_a_segment_job_on_slurm(tmp_path: Path) -> None:
    """The segment's SLURM job id and its state while it runs, then COMPLETED and 1/2 done."""
    write_config(tmp_path, "sl", time_min=10, mem_mb=2048, cpus=1)
    proc = segment(tmp_path, "sl", "slurm")
    record_path = RunPaths("sl", tmp_path / "runs").job_record(1)
    job = ""
    try:
        deadline = time.monotonic() + 120
        while not record_path.exists() and time.monotonic() < deadline:
            time.sleep(0.5)
        job = json.loads(record_path.read_text())["job_id"]
        live = rows(status(tmp_path, "sl").stdout)["segments"]
        assert live.startswith(f"0/2 done; segment 1: SLURM job {job} "), live
        out, _ = proc.communicate(timeout=540)
        assert proc.returncode == EXIT_OK, out[-3000:]
        deadline = time.monotonic() + 60  # squeue may show COMPLETING for a moment
        while "COMPLETING" in (got := rows(status(tmp_path, "sl").stdout))["segments"]:
            assert time.monotonic() < deadline, got
            time.sleep(1)
        assert got["segments"] == f"1/2 done; segment 1: SLURM job {job} COMPLETED"
        assert got["step"].startswith("200 / 400") and got["checkpoint"].startswith("step_200")
    finally:
        if proc.poll() is None:
            proc.kill()
            if job:
                scancel(job)


def test_run_log_frames_the_trainers_lines_with_the_segments(local_run: Path) -> None:
    """`tail -f runs/<run>/train.log` follows a pipeline run: job lines around the trainer's."""
    log = RunPaths("tiny", local_run / "runs").train_log.read_text().splitlines()
    job = json.loads(RunPaths("tiny", local_run / "runs").job_record(1).read_text())["job_id"]
    heads = [
        next(i for i, line in enumerate(log) if line.startswith(head))
        for head in ("segment job: ", f"segment 1/2 of tiny (to step 200): submitted job {job}",
                     "[START] run=tiny", "[DONE] tiny: step 200", "segment job: trainer reached",
                     "segment 1/2 of tiny: done at checkpoint step 200")
    ]  # fmt: skip
    assert heads[0] < heads[2] and heads[1:] == sorted(heads[1:])  # the job's first line may
    # come before or after the submitter's, both before the trainer's


def test_status_names_the_trainer_holding_the_run(tmp_path: Path) -> None:
    flags = [f"--{k.replace('_', '-')}={v}" for k, v in TRAIN.items() if k != "total_steps"]
    proc = subprocess.Popen([sys.executable, "-m", "daddy.train_big", "--run-name", "live",
                             "--total-steps", "100000", *flags], cwd=tmp_path,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        lock = RunPaths("live", tmp_path / "runs").lock
        deadline = time.monotonic() + 120
        while not (lock.exists() and lock.read_text().strip()) and time.monotonic() < deadline:
            time.sleep(0.2)
        got = rows(status(tmp_path, "live").stdout)
        assert got["trainer"].startswith(f"running: pid {proc.pid} on "), got
    finally:
        proc.terminate()
        proc.wait(timeout=120)
    assert rows(status(tmp_path, "live").stdout)["trainer"] == "not running"
