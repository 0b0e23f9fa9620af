"""train_big end to end on the practice cartridge with tiny sizes: logs, checkpoints, resume,
signals and bad input. Each run is a real subprocess, as users and SLURM start it."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from daddy.run.checkpoint import CheckpointManager
from daddy.run.episode_log import read
from daddy.run.exit_codes import EXIT_STOPPED

TINY = [
    "--num-envs", "2", "--model-size", "slim", "--batch-size", "4", "--seq-len", "12",
    "--burn-in", "4", "--n-step", "2", "--replay-memory-mb", "8", "--max-episode-steps", "60",
    "--learning-starts", "100", "--log-interval", "100", "--save-interval", "200",
    "--device", "cpu", "--seed", "1",
]  # fmt: skip


def train(cwd: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    out = subprocess.run(
        [sys.executable, "-m", "daddy.train_big", *args], cwd=cwd, capture_output=True,
        text=True, timeout=600, check=False,
    )  # fmt: skip
    if check:
        assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    return out


@pytest.fixture(scope="module")
def full_run(tmp_path_factory):
    """One uninterrupted 800-step run (400 + 400 in the resume test)."""
    cwd = tmp_path_factory.mktemp("full")
    out = train(cwd, "--run-name", "r", "--total-steps", "800", *TINY)
    return cwd, out


def test_run_writes_log_lines_episodes_and_checkpoints(full_run):
    cwd, out = full_run
    assert "[START] run=r" in out.stdout and "[DONE] r: step 800" in out.stdout
    assert "[EP 1 env=" in out.stdout and "[STEP 800/800" in out.stdout
    df = read(cwd / "runs" / "r" / "episodes.h5")
    assert len(df) >= 10  # 2 envs x 400 steps each / 60-step episodes = 13
    assert list(df["episode"]) == list(range(1, len(df) + 1))
    assert (df["length"] == 60).all() and (np.diff(df["global_step"]) >= 0).all()
    assert (cwd / "savestates" / "r" / "index.json").exists()
    steps = CheckpointManager(cwd / "runs" / "r").list_complete()
    assert steps[-1] == 800 and len(steps) <= 3


def test_stop_and_resume_continues_rows_and_counters(full_run, tmp_path):
    _, _full_out = full_run
    train(tmp_path, "--run-name", "r", "--total-steps", "800", "--until-step", "400", *TINY)
    first = read(tmp_path / "runs" / "r" / "episodes.h5")
    out = train(tmp_path, "--run-name", "r", "--total-steps", "800", *TINY)
    assert "[RESUME] r: checkpoint step_400" in out.stdout
    df = read(tmp_path / "runs" / "r" / "episodes.h5")
    assert list(df["episode"]) == list(range(1, len(df) + 1))  # no gap, no duplicate
    assert df.iloc[: len(first)].equals(first)  # rows before the stop are untouched
    assert df["global_step"].iloc[len(first)] > 400
    assert CheckpointManager(tmp_path / "runs" / "r").list_complete()[-1] == 800


def test_sigterm_checkpoints_and_a_restart_resumes(tmp_path):
    args = [sys.executable, "-m", "daddy.train_big", "--run-name", "s", "--total-steps",
            "100000", *TINY]  # fmt: skip
    proc = subprocess.Popen(args, cwd=tmp_path, stdout=subprocess.PIPE, text=True)
    lines = []
    for line in proc.stdout:
        lines.append(line)
        if line.startswith("[STEP 300/"):
            proc.send_signal(signal.SIGTERM)
            break
    rest, _ = proc.communicate(timeout=120)
    text = "".join(lines) + rest
    assert proc.returncode == EXIT_STOPPED, text[-2000:]
    assert "[SIGNAL] SIGTERM" in text
    stopped = CheckpointManager(tmp_path / "runs" / "s").list_complete()[-1]
    assert 300 <= stopped < 100000
    out = train(tmp_path, "--run-name", "s", "--total-steps", "100000", "--until-step",
                str(stopped + 100), *TINY)  # fmt: skip
    assert f"[RESUME] s: checkpoint step_{stopped}" in out.stdout


@pytest.mark.parametrize(
    "flag, value",
    [("--num-envs", "0"), ("--total-steps", "-1"), ("--model-size", "huge"), ("--batch-size", "0")],
)
def test_impossible_cli_values_fail_with_one_line(tmp_path, flag, value):
    out = train(tmp_path, "--run-name", "x", flag, value, check=False)
    assert out.returncode == 2 and out.stdout == ""
    assert "error:" in out.stderr.splitlines()[-1] and flag in out.stderr
    assert not (tmp_path / "runs").exists()


def test_checkpoint_of_another_model_size_is_refused(full_run, tmp_path):
    cwd, _ = full_run
    out = train(cwd, "--run-name", "r", "--total-steps", "1000", *TINY[:-6], "--model-size",
                "large", "--device", "cpu", "--seed", "1", check=False)  # fmt: skip
    assert out.returncode == 2
    last = out.stderr.strip().splitlines()[-1]
    assert "model_size" in last and "large" in last


def test_episode_line_shows_posteriors_of_reached_milestones():
    """Regression: posterior means are keyed by label; an episode that reached a milestone
    crashed the trainer when its line was built."""
    from types import SimpleNamespace

    from daddy.intrinsic.rewards import IntrinsicConfig, IntrinsicRewards
    from daddy.run.episode import EpisodeRecord
    from daddy.swarm.swarm import EpisodeEnd

    intrinsic = IntrinsicRewards(IntrinsicConfig(), num_envs=1)
    game = SimpleNamespace(map_id=0x28, badges=1)
    end = EpisodeEnd(env_id=0, length=10, return_env=1.0, return_total=1.0, return_rnd=0.0,
                     return_novel=0.0, return_bayes=0.0, game=game, spawn=None, reached=0b1,
                     episode_mask=0b1, alarm=0b1, new_cells=0, cells_visited=7)  # fmt: skip
    record = EpisodeRecord.from_end(end, episode=3, step=10, epsilon=0.5, sps=1.0,
                                    posteriors=intrinsic.posteriors)  # fmt: skip
    summary = record.summary(intrinsic.posteriors.means())
    assert summary.posteriors == {"Starter": pytest.approx(0.5)}
    assert summary.alarms == ["Starter"] and summary.badges == 1


def test_episode_record_is_the_episode_log_row():
    """One shape: the record's fields are exactly the columns episodes.h5 stores."""
    from dataclasses import fields

    from daddy.run.episode import EpisodeRecord
    from daddy.run.episode_log import ROW_KEYS

    assert {f.name for f in fields(EpisodeRecord)} == set(ROW_KEYS)


def test_explorer_envs_stay_random_after_epsilon_decays():
    from daddy.agent.actor import Actor
    from daddy.agent.networks import QNetwork, model_config
    from daddy.run.loop import env_epsilons

    assert env_epsilons(0.05, 8, 0.25).tolist() == [1.0, 1.0] + [0.05] * 6
    assert env_epsilons(0.3, 4, 0.0).tolist() == [0.3] * 4
    assert env_epsilons(0.0, 3, 1.0).tolist() == [1.0] * 3
    # The actor follows the per-env values: the explorer's actions are spread over all seven,
    # the greedy env repeats its argmax on an unchanging screen.
    actor = Actor(QNetwork(model_config("slim")), 2, seed=0)
    obs = {"screen": np.zeros((2, 72, 80), np.uint8), "map_id": np.zeros(2, np.int64),
           "features": np.zeros((2, 24), np.float32)}  # fmt: skip
    acts = np.array([actor.act(obs, env_epsilons(0.0, 2, 0.5), firsts=np.ones(2, bool))[0]
                     for _ in range(200)])  # fmt: skip
    assert len(set(acts[:, 0])) == 7 and len(set(acts[:, 1])) == 1
