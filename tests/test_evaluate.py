"""Evaluation rollouts: checkpoint loading, the ε-greedy episode, videos, the CLI.

Most tests drive `run_rollout` with a small gymnasium env that follows docs/CONTRACTS.md (the
emulator is not what is under test); the end-to-end test needs `daddy.game.env` and skips without it.
"""

from __future__ import annotations

import math
import subprocess
import sys
import types
from collections.abc import Sequence
from itertools import pairwise
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import torch
from PIL import Image

from daddy.agent.networks import QNetwork, model_config
from daddy.eval import rollout as evaluate
from daddy.game.milestones import DEFAULT_MILESTONES
from daddy.game.ram import GameState
from daddy.intrinsic.rewards import IntrinsicConfig, IntrinsicRewards
from daddy.run.checkpoint import CheckpointManager
from daddy.run.episode_log import EpisodeLogger
from daddy.swarm.state_index import StateIndex, StateMeta

GREEDY_ACTION = 3


class ContractEnv(gym.Env):
    """Walks east one cell a step; map changes every 4 steps, Boulder badge at step 5,
    milestone 0 at step 2; reward 1 per step; truncates at `length`."""

    def __init__(self, length: int = 8) -> None:
        self.length = length
        self.observation_space = gym.spaces.Dict(
            {
                "screen": gym.spaces.Box(0, 3, (72, 80), np.uint8),
                "map_id": gym.spaces.Box(0, 255, (), np.uint8),
                "features": gym.spaces.Box(-np.inf, np.inf, (24,), np.float32),
            }
        )
        self.action_space = gym.spaces.Discrete(7)
        self.t = 0
        self.reset_options: dict | None = None

    def _game(self) -> GameState:
        return GameState(
            map_id=self.t // 4,
            x=self.t,
            y=3,
            badges=int(self.t >= 5),
            party_count=1,
            levels=(5, 0, 0, 0, 0, 0),
            hp=20,
            max_hp=20,
            events=bytes(320),
            event_count=0,
            in_battle=0,
            money=0,
            dex_owned=0,
            dex_seen=0,
            bag_count=0,
            in_control=True,
            text_box=False,
        )

    def _obs_info(self, reward: float) -> tuple[dict, dict]:
        obs = {
            "screen": np.full((72, 80), self.t % 4, np.uint8),
            "map_id": np.uint8(self.t // 4),
            "features": np.zeros(24, np.float32),
        }
        info = {
            "game": self._game(),
            "r_env": reward,
            "milestones": int(self.t >= 2),
            "cells_visited": self.t + 1,
        }
        return obs, info

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        self.t, self.reset_options = 0, options
        return self._obs_info(0.0)

    def step(self, action: int):
        if not self.action_space.contains(action):
            raise ValueError(f"unknown action {action!r}")
        self.t += 1
        obs, info = self._obs_info(1.0)
        return obs, 1.0, False, self.t >= self.length, info

    def screen_rgb(self) -> np.ndarray:
        frame = np.zeros((144, 160, 3), np.uint8)
        frame[:, : 10 * (self.t + 1)] = 200
        return frame


def greedy_net(action: int = GREEDY_ACTION) -> QNetwork:
    """A slim net whose advantage head always prefers `action`."""
    torch.manual_seed(0)
    net = QNetwork(model_config("slim"))
    with torch.no_grad():
        last = net.advantage[2]
        last.weight.zero_()
        last.bias.zero_()
        last.bias[action] = 10.0
    return net


def save_checkpoint(run_dir: Path, step: int, payload: dict, config: dict | None = None) -> Path:
    return CheckpointManager(run_dir).save(step, payload, config=config)


# --- the rollout -----------------------------------------------------------------------------
def test_rollout_records_the_reset_frame_and_every_step_until_truncation() -> None:
    frames = evaluate.run_rollout(greedy_net(), ContractEnv(length=6), steps=50, epsilon=0.0)
    assert len(frames) == 7
    assert [f.overlay.step for f in frames] == list(range(7))
    assert frames[0].action is None
    assert all(f.screen.shape == (144, 160, 3) and f.screen.dtype == np.uint8 for f in frames)
    assert [f.overlay.map_id for f in frames] == [0, 0, 0, 0, 1, 1, 1]
    assert [f.overlay.badges for f in frames] == [0] * 5 + [1] * 2
    assert frames[3].screen[0, 35, 0] == 200 and frames[2].screen[0, 35, 0] == 0


def test_rollout_stops_at_the_step_budget() -> None:
    frames = evaluate.run_rollout(greedy_net(), ContractEnv(length=100), steps=3, epsilon=0.0)
    assert len(frames) == 4


@pytest.mark.parametrize("epsilon, all_greedy", [(0.0, True), (1.0, False)])
def test_epsilon_decides_between_the_nets_action_and_a_random_one(
    epsilon: float, all_greedy: bool
) -> None:
    frames = evaluate.run_rollout(greedy_net(), ContractEnv(length=30), steps=30, epsilon=epsilon)
    actions = [f.action for f in frames[1:]]
    assert all(0 <= a < 7 for a in actions)
    assert (set(actions) == {GREEDY_ACTION}) is all_greedy


def test_same_seed_gives_the_same_episode() -> None:
    runs = [
        [f.action for f in evaluate.run_rollout(greedy_net(), ContractEnv(20), 20, 0.5, seed=4)]
        for _ in range(2)
    ]
    assert runs[0] == runs[1]


def test_without_intrinsic_state_only_env_reward_is_summed_and_the_rest_reads_na() -> None:
    frames = evaluate.run_rollout(greedy_net(), ContractEnv(length=5), steps=5, epsilon=0.0)
    last = frames[-1].overlay
    assert last.r_env == pytest.approx(5.0) and last.r_total == pytest.approx(5.0)
    assert all(math.isnan(v) for v in (last.r_rnd, last.r_novel, last.r_bayes))


def test_with_intrinsic_state_every_reward_component_is_summed() -> None:
    intrinsic = IntrinsicRewards(IntrinsicConfig(), 1)
    frames = evaluate.run_rollout(
        greedy_net(), ContractEnv(length=5), steps=5, epsilon=0.0, intrinsic=intrinsic
    )
    last = frames[-1].overlay
    assert last.r_novel == pytest.approx(5.0)  # five new cells, 1/sqrt(1) each
    assert last.r_bayes == pytest.approx(0.5)  # milestone 0 reached once, prior mean 0.5
    assert math.isfinite(last.r_rnd)
    cfg = intrinsic.cfg
    expected = (
        last.r_env
        + cfg.beta_rnd * last.r_rnd
        + cfg.beta_novel * last.r_novel
        + cfg.beta_bayes * last.r_bayes
    )
    assert last.r_total == pytest.approx(expected, rel=1e-5)


def test_posterior_line_moves_on_once_a_milestone_is_reached() -> None:
    m = len(DEFAULT_MILESTONES)
    posterior = (np.full(m, 3.0), np.full(m, 1.0))
    frames = evaluate.run_rollout(
        greedy_net(), ContractEnv(length=4), steps=4, epsilon=0.0, posterior=posterior
    )
    first = DEFAULT_MILESTONES[0].label  # the starter; Pallet Town (bit 14) holds from the start
    assert frames[1].overlay.posterior.startswith(f"Pallet > P(next): {first} 0.75")
    assert first not in frames[2].overlay.posterior.partition(">")[2]  # reached at step 2
    assert frames[2].overlay.posterior.startswith(f"{first} > P(next): ")
    assert frames[2].milestones & 1


def test_rollout_starts_from_the_given_savestate() -> None:
    env = ContractEnv()
    evaluate.run_rollout(greedy_net(), env, steps=1, epsilon=0.0, state="pallet.state")
    assert env.reset_options == {"state": "pallet.state"}


def test_save_rollout_names_videos_after_the_checkpoint_step(tmp_path: Path) -> None:
    frames = evaluate.run_rollout(greedy_net(), ContractEnv(length=4), steps=4, epsilon=0.0)
    mp4, gif = evaluate.save_rollout(frames, tmp_path, step=1200, scale=2, fps=8)
    assert (mp4.name, gif.name) == ("rollout_1200.mp4", "rollout_1200.gif")
    assert mp4.stat().st_size > 1000 and gif.stat().st_size > 1000


# Walks, opens the START menu and moves in it, closes it, walks, opens and closes it again.
MENU_SCRIPT = ("right", "right", "left", "start", "down", "down", "up", "b", "left", "down",
               "start", "b", "right")  # fmt: skip


class ScriptedEnv(gym.Wrapper):
    """Plays `script` whatever the policy picks; records every step's (obs, r_env, info)."""

    def __init__(self, env: gym.Env, script: Sequence[str]) -> None:
        super().__init__(env)
        self.script = script
        self.steps: list[tuple[dict, float, dict]] = []

    def step(self, action: int):
        from daddy.game.env import ACTIONS

        obs, r_env, terminated, truncated, info = self.env.step(
            ACTIONS.index(self.script[len(self.steps)])
        )
        self.steps.append(({k: np.array(v, copy=True) for k, v in obs.items()}, r_env, info))
        return obs, r_env, terminated, truncated, info


def training_reward_sums(intrinsic: IntrinsicRewards, steps: list) -> list[dict[str, float]]:
    """Running sums of what the trainer's reward call pays for these steps (a 1-env batch)."""
    sums = dict.fromkeys(("r_total", "r_rnd", "r_novel", "r_bayes"), 0.0)
    out, reached = [], 0
    for obs, r_env, info in steps:
        now = int(info["milestones"])
        newly, reached = now & ~reached, reached | now
        batch = {k: v[None] for k, v in obs.items()}
        rewards = intrinsic.step(batch, [info["game"]], [newly], np.array([r_env], np.float32))
        for key in sums:
            sums[key] += float(getattr(rewards, key)[0])
        out.append(dict(sums))
    return out


def test_evaluation_pays_the_rewards_training_pays_for_the_same_trajectory(
    practice_rom, boot_state
) -> None:
    from daddy.game.env import make_env

    cfg = IntrinsicConfig(novelty="knn", ngu_combine=True)  # every part depends on the screen
    env = ScriptedEnv(make_env(practice_rom, state=boot_state, max_episode_steps=50), MENU_SCRIPT)
    try:
        frames = evaluate.run_rollout(
            greedy_net(), env, len(MENU_SCRIPT), 0.0, intrinsic=IntrinsicRewards(cfg, 1)
        )
    finally:
        env.close()
    menus = [bool(info["game"].text_box and not info["game"].in_battle) for _, _, info in env.steps]
    assert len(frames) == len(MENU_SCRIPT) + 1 and 3 <= sum(menus) < len(menus)
    trained = training_reward_sums(IntrinsicRewards(cfg, 1), env.steps)
    shown = [{k: getattr(f.overlay, k) for k in trained[0]} for f in frames[1:]]
    assert shown == trained  # every step: same r_total, same parts
    rnd = [0.0] + [s["r_rnd"] for s in trained]
    assert [b == a for a, b in pairwise(rnd)] == menus  # curiosity paid outside menus only


# --- checkpoints -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "model_key, config",
    [
        ("model", {"model_size": "slim"}),
        ("learner.online", {"model_size": "slim"}),
        ("model", {}),  # no model_size recorded: the preset whose shapes fit is used
    ],
)
def test_policy_loads_the_saved_network(tmp_path: Path, model_key: str, config: dict) -> None:
    net = greedy_net()
    head, *rest = model_key.split(".")
    part = net.state_dict() if not rest else {rest[0]: net.state_dict()}
    save_checkpoint(tmp_path, 300, {head: part, "replay": {"obs": np.zeros(4)}}, config)
    policy = evaluate.load_policy(tmp_path, model_key=model_key)
    assert policy.step == 300 and policy.intrinsic is None
    for name, tensor in net.state_dict().items():
        torch.testing.assert_close(policy.net.state_dict()[name], tensor)


def test_latest_means_the_newest_complete_checkpoint(tmp_path: Path) -> None:
    save_checkpoint(tmp_path, 100, {"model": greedy_net().state_dict()})
    save_checkpoint(tmp_path, 200, {"model": greedy_net().state_dict()})
    (tmp_path / "checkpoints" / "step_300").mkdir()  # being written: no COMPLETE marker
    assert evaluate.resolve_checkpoint(tmp_path).name == "step_200"
    assert evaluate.resolve_checkpoint(tmp_path, "100").name == "step_100"
    ckpts = tmp_path / "checkpoints"
    assert evaluate.resolve_checkpoint(tmp_path, ckpts / "step_100").name == "step_100"
    with pytest.raises(evaluate.EvaluationError, match="not a complete checkpoint"):
        evaluate.resolve_checkpoint(tmp_path, ckpts / "step_300")


def test_intrinsic_state_is_loaded_for_the_overlay(tmp_path: Path) -> None:
    trained = IntrinsicRewards(IntrinsicConfig(beta_novel=0.3), 4)
    trained.posteriors.update(0b1, 0b1)
    save_checkpoint(
        tmp_path, 10, {"model": greedy_net().state_dict(), "intrinsic": trained.state_dict()}
    )
    policy = evaluate.load_policy(tmp_path)
    rewards = evaluate._intrinsic_for_eval(policy.intrinsic, DEFAULT_MILESTONES, "cpu")
    assert rewards is not None and rewards.num_envs == 1 and rewards.cfg.beta_novel == 0.3
    np.testing.assert_allclose(rewards.posteriors.alpha, trained.posteriors.alpha)


@pytest.mark.parametrize(
    "setup, message",
    [
        ("none", "no complete checkpoint"),
        ("wrong_key", "has no part 'model' (parts: online)"),
        ("not_weights", "not a state dict of tensors"),
    ],
)
def test_cli_without_a_usable_checkpoint_exits_2_with_one_line(
    tmp_path: Path, capsys, setup: str, message: str
) -> None:
    run_dir = tmp_path / "demo"
    if setup == "wrong_key":
        save_checkpoint(run_dir, 5, {"online": greedy_net().state_dict()})
    elif setup == "not_weights":
        save_checkpoint(run_dir, 5, {"model": {"lr": 0.1}})
    code = evaluate.main(
        ["--run", "demo", "--runs-root", str(tmp_path), "--out", str(tmp_path / "videos")]
    )
    err = capsys.readouterr().err
    assert code == evaluate.EXIT_ERROR
    assert message in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--steps", "0"], "--steps must be at least 1"),
        (["--epsilon", "1.5"], "--epsilon must be between 0 and 1"),
    ],
)
def test_cli_refuses_impossible_values(
    tmp_path: Path, capsys, argv: list[str], message: str
) -> None:
    assert evaluate.main(["--run", "demo", "--runs-root", str(tmp_path), *argv]) == 2
    assert message in capsys.readouterr().err


def test_background_evaluation_runs_in_its_own_process_and_logs(tmp_path: Path) -> None:
    log = tmp_path / "eval.log"
    proc = evaluate.start_evaluation(
        "demo", tmp_path / "videos", log_path=log, extra_args=["--runs-root", str(tmp_path)]
    )
    assert isinstance(proc, subprocess.Popen) and proc.pid
    assert proc.wait(timeout=120) == evaluate.EXIT_ERROR  # no checkpoint yet: a clear line
    assert "no complete checkpoint" in log.read_text()


# --- savestates ------------------------------------------------------------------------------
def test_state_is_a_file_a_named_index_entry_or_the_bootstrap_state(tmp_path: Path) -> None:
    index = StateIndex.create(tmp_path / "demo", "demo", "0" * 40)
    meta = {"tier": "early", "map_id": 0x26, "badges": 0, "events": 0, "step": 0}
    index.add("pallet_town_start", b"boot", StateMeta(milestone="bootstrap", **meta))
    index.add("route_1", b"r1", StateMeta(milestone="route_1", **meta))
    loose = tmp_path / "loose.state"
    loose.write_bytes(b"x")
    assert evaluate.resolve_state("demo", None, tmp_path).name == "pallet_town_start.state"
    assert evaluate.resolve_state("demo", "route_1", tmp_path).name == "route_1.state"
    assert evaluate.resolve_state("demo", loose, tmp_path) == loose
    assert evaluate.resolve_state("other", None, tmp_path) is None
    with pytest.raises(evaluate.EvaluationError, match="states: pallet_town_start, route_1"):
        evaluate.resolve_state("demo", "cerulean", tmp_path)


# --- end to end ------------------------------------------------------------------------------
def test_evaluate_wires_checkpoint_savestate_log_and_env_into_videos(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    made: list[tuple[ContractEnv, dict]] = []

    def make_env(rom: str = "practice", **kwargs: object) -> ContractEnv:
        made.append((ContractEnv(length=int(kwargs["max_episode_steps"])), {"rom": rom, **kwargs}))
        return made[-1][0]

    monkeypatch.setitem(sys.modules, "daddy.game.env", types.SimpleNamespace(make_env=make_env))
    run_dir = tmp_path / "runs" / "demo"
    save_checkpoint(run_dir, 64, {"model": greedy_net().state_dict()}, {"model_size": "slim"})
    names = [m.name for m in DEFAULT_MILESTONES]
    with EpisodeLogger(run_dir / "episodes.h5", "demo", names) as log:
        log.append(episode_row(len(names)))
    index = StateIndex.create(tmp_path / "states" / "demo", "demo", "0" * 40)
    index.add(
        "pallet_town_start",
        b"boot",
        StateMeta(milestone="bootstrap", tier="early", map_id=0x26, badges=0, events=0, step=0),
    )
    [(mp4, gif)] = evaluate.evaluate(
        "demo",
        tmp_path / "videos",
        steps=5,
        epsilon=0.0,
        runs_root=tmp_path / "runs",
        states_root=tmp_path / "states",
        scale=2,
    )
    alpha, _ = evaluate._posterior_from_log(run_dir, DEFAULT_MILESTONES)
    assert alpha[0] == 4.0  # no intrinsic part in the checkpoint: the overlay uses the log
    env, kwargs = made[0]
    assert kwargs["rom"] == "practice" and kwargs["max_episode_steps"] == 5
    assert env.reset_options["state"].endswith("pallet_town_start.state")
    assert mp4 == tmp_path / "videos" / "rollout_64.mp4"
    with Image.open(gif) as im:
        assert im.n_frames == 6  # reset frame + 5 steps


def episode_row(m: int) -> dict:
    row = {
        k: 0
        for k in (
            "episode",
            "env_id",
            "global_step",
            "length",
            "return_env",
            "return_total",
            "return_rnd",
            "return_novel",
            "return_bayes",
            "badges",
            "map_id",
            "spawn_tier",
            "milestones_reached",
            "alarm",
            "cells_visited",
            "epsilon",
            "wall_time",
            "sps",
        )
    }
    return {**row, "savestate_tag": "boot", "alpha": np.full(m, 4.0), "beta": np.ones(m)}


# --- once the emulator env exists ------------------------------------------------------------
def test_evaluate_cli_writes_videos_from_a_real_env(tmp_path: Path) -> None:
    env_module = pytest.importorskip("daddy.game.env")
    env = env_module.make_env(rom="practice", max_episode_steps=4)
    obs_space = env.observation_space
    env.close()
    net = QNetwork(
        model_config("slim"), num_actions=7, feature_dim=int(obs_space["features"].shape[0])
    )
    save_checkpoint(tmp_path / "demo", 64, {"model": net.state_dict()}, {"model_size": "slim"})
    out = tmp_path / "videos"
    cmd = [
        sys.executable,
        "-m",
        "daddy.evaluate",
        "--run",
        "demo",
        "--runs-root",
        str(tmp_path),
        "--states-root",
        str(tmp_path / "states"),
        "--steps",
        "6",
        "--out",
        str(out),
        "--rom",
        "practice",
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    import imageio.v2 as iio

    reader = iio.get_reader(out / "rollout_64.mp4", format="FFMPEG")
    try:
        assert sum(1 for _ in reader.iter_data()) == 7  # reset frame + 6 steps
    finally:
        reader.close()
    assert (out / "rollout_64.gif").stat().st_size > 0


def test_overlay_posterior_from_a_log_begun_with_fewer_milestones(tmp_path: Path) -> None:
    """Logs written before the list grew (14 milestones) still give the overlay a posterior:
    their milestones as logged, the newer ones at the prior."""
    run_dir = tmp_path / "runs" / "old"
    names = [m.name for m in DEFAULT_MILESTONES[:14]]
    with EpisodeLogger(run_dir / "episodes.h5", "old", names) as log:
        log.append(episode_row(len(names)))
    alpha, beta = evaluate._posterior_from_log(run_dir, DEFAULT_MILESTONES)
    prior = IntrinsicConfig()
    assert len(alpha) == len(beta) == len(DEFAULT_MILESTONES)
    assert alpha[0] == 4.0 and (alpha[14:] == prior.prior_alpha).all()
    assert (beta[14:] == prior.prior_beta).all()
