"""Vectorised envs: batches, curriculum-driven autoreset, savestates, crash recovery, shutdown."""

from __future__ import annotations

import ctypes
import functools
import os
import signal
import struct
import subprocess
import sys
import time
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

from daddy.swarm.vec import VecEnv, WorkerError

ROOT = Path(__file__).resolve().parents[1]
SEGFAULT, HANG, RAISE, END = 6, 5, 4, 3  # toy actions with side effects (with faults=True)
CRASH_STATE = b"crash"


class ToyEnv(gym.Env):
    """The real env's spaces with a trivial, checkable game: obs encode (origin, t, steps).

    A savestate is (origin, t); reward = action; action END terminates; with `faults`, actions
    SEGFAULT / HANG / RAISE crash, hang or raise, and resetting from CRASH_STATE segfaults.
    """

    observation_space = gym.spaces.Dict(
        {
            "screen": gym.spaces.Box(0, 3, (72, 80), np.uint8),
            "map_id": gym.spaces.Box(0, 255, (), np.uint8),
            "features": gym.spaces.Box(-np.inf, np.inf, (24,), np.float32),
        }
    )
    action_space = gym.spaces.Discrete(7)

    def __init__(self, max_steps: int = 50, faults: bool = False) -> None:
        self.max_steps, self.faults = max_steps, faults
        self.origin = self.t = self.steps = 0

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        state = (options or {}).get("state")
        if self.faults and state == CRASH_STATE:
            ctypes.string_at(0)
        self.load_state(state) if state is not None else self._set(0, 0)
        self.steps = 0
        return self._obs(), {"origin": self.origin, "t": self.t}

    def step(self, action: int):
        if self.faults and action == SEGFAULT:
            ctypes.string_at(0)
        if self.faults and action == HANG:
            time.sleep(3600)
        if self.faults and action == RAISE:
            raise ValueError("toy env bug")
        self.t += 1
        self.steps += 1
        info = {"origin": self.origin, "t": self.t}
        return self._obs(), float(action), action == END, self.steps >= self.max_steps, info

    def save_state(self) -> bytes:
        return struct.pack("<ii", self.origin, self.t)

    def load_state(self, data: bytes) -> None:
        self._set(*struct.unpack("<ii", data))

    def _set(self, origin: int, t: int) -> None:
        self.origin, self.t = origin, t

    def _obs(self) -> dict[str, np.ndarray]:
        feats = np.zeros(24, np.float32)
        feats[:3] = self.t, self.origin, self.steps
        screen = np.full((72, 80), self.t % 4, np.uint8)
        return {"screen": screen, "map_id": np.uint8(self.origin % 256), "features": feats}


def origin_state(origin: int) -> bytes:
    return struct.pack("<ii", origin, 0)


class Curriculum:
    """Records which envs asked for a reset state; env i starts at origin 100 + i."""

    def __init__(self) -> None:
        self.calls: list[int] = []

    def __call__(self, env_id: int) -> bytes:
        self.calls.append(env_id)
        return origin_state(100 + env_id)


def make_vec(num_envs: int = 4, num_workers: int = 2, max_steps: int = 50, **kw) -> VecEnv:
    env_fn = functools.partial(ToyEnv, max_steps=max_steps, faults=True)
    return VecEnv(env_fn, num_envs, num_workers, **kw)


@pytest.fixture
def curriculum() -> Curriculum:
    return Curriculum()


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    try:
        return stat.read_text().split(") ")[1][0] != "Z"
    except (FileNotFoundError, IndexError):
        return False


def wait_gone(pids: list[int], seconds: float = 10.0) -> list[int]:
    deadline = time.monotonic() + seconds
    while (alive := [p for p in pids if pid_alive(p)]) and time.monotonic() < deadline:
        time.sleep(0.05)
    return alive


@pytest.mark.parametrize("num_envs, num_workers", [(5, 2), (64, 2), (1, 1)])
def test_batches_follow_the_observation_space(num_envs: int, num_workers: int) -> None:
    with make_vec(num_envs, num_workers) as vec:
        obs, infos = vec.reset()
        assert len(infos) == num_envs and vec.firsts.all()
        obs, rew, term, trunc, infos = vec.step(np.zeros(num_envs, np.int64))
        for key, space in ToyEnv.observation_space.spaces.items():
            assert obs[key].shape == (num_envs, *space.shape)
            assert obs[key].dtype == space.dtype
        assert rew.shape == term.shape == trunc.shape == (num_envs,)
        assert rew.dtype == np.float32 and term.dtype == trunc.dtype == np.bool_
        np.testing.assert_array_equal(obs["features"][:, 0], 1)  # every env stepped once
        assert not vec.firsts.any() and len(infos) == num_envs


def test_envs_are_split_over_workers_in_contiguous_slices() -> None:
    with make_vec(7, 3) as vec:
        vec.reset()
        assert len(set(vec.worker_pids())) == 3
        assert [(w.lo, w.hi) for w in vec._workers] == [(0, 2), (2, 5), (5, 7)]


def test_autoreset_asks_reset_state_for_the_finished_env_and_returns_its_first_obs(
    curriculum: Curriculum,
) -> None:
    with make_vec(4, 2, reset_state=curriculum) as vec:
        obs, _ = vec.reset()
        assert sorted(curriculum.calls) == [0, 1, 2, 3]
        np.testing.assert_array_equal(obs["map_id"], [100, 101, 102, 103])
        curriculum.calls.clear()
        vec.step([1, 1, 1, 1])
        obs, _, term, trunc, infos = vec.step([0, 0, END, 0])
        assert curriculum.calls == [2]
        assert term.tolist() == [False, False, True, False] and not trunc.any()
        assert vec.firsts.tolist() == [False, False, True, False]
        # obs[2] is the new episode's first obs (t=0 at origin 102), not the terminal one
        assert obs["features"][2, :3].tolist() == [0, 102, 0]
        assert obs["features"][1, :3].tolist() == [2, 101, 2]
        ended = infos[2]
        assert ended["episode"] == {"return": 1.0 + END, "length": 2}
        assert ended["final_info"] == {"origin": 102, "t": 2}
        assert ended["final_obs"]["features"][:3].tolist() == [2, 102, 2]
        assert ended["origin"] == 102 and ended["t"] == 0  # the reset's own info
        assert "final_info" not in infos[1]


def test_truncation_at_max_steps_autoresets_too(curriculum: Curriculum) -> None:
    with make_vec(3, 2, max_steps=2, reset_state=curriculum) as vec:
        vec.reset()
        vec.step([0, 0, 0])
        _, _, term, trunc, infos = vec.step([0, 0, 0])
        assert trunc.all() and not term.any() and vec.firsts.all()
        assert [info["episode"]["length"] for info in infos] == [2, 2, 2]
        assert sorted(curriculum.calls) == [0, 0, 1, 1, 2, 2]  # initial reset + autoreset


def test_plain_reset_without_reset_state() -> None:
    with make_vec(2, 1) as vec:
        obs, infos = vec.reset(seed=3)
        assert obs["map_id"].tolist() == [0, 0] and infos[0] == {"origin": 0, "t": 0}


def test_save_state_then_load_state_returns_to_the_saved_obs(curriculum: Curriculum) -> None:
    with make_vec(4, 2, reset_state=curriculum) as vec:
        vec.reset()
        for _ in range(3):
            obs, *_ = vec.step([0, 0, 0, 0])
        saved_obs = {k: v[3].copy() for k, v in obs.items()}
        data = vec.save_state(3)
        assert isinstance(data, bytes)
        for _ in range(2):
            vec.step([0, 0, 0, 0])
        got, info = vec.load_state(3, data)
        assert info == {"origin": 103, "t": 3}
        np.testing.assert_array_equal(got["screen"], saved_obs["screen"])
        assert got["map_id"] == saved_obs["map_id"] == 103
        assert got["features"][:2].tolist() == saved_obs["features"][:2].tolist() == [3, 103]
        for key in saved_obs:
            np.testing.assert_array_equal(vec._obs[key][3], got[key])  # the batch shows it too
        assert vec.firsts.tolist() == [False, False, False, True]
        # a state saved from one env loads into another (swarm migration)
        got, _ = vec.load_state(0, data)
        assert got["features"][:2].tolist() == [3, 103]


def test_step_async_then_step_wait_is_one_step() -> None:
    with make_vec(3, 2) as vec:
        vec.reset()
        vec.step_async([1, 2, 1])
        with pytest.raises(RuntimeError, match="in flight"):
            vec.save_state(0)
        obs, rew, *_ = vec.step_wait()
        assert obs["features"][:, 0].tolist() == [1, 1, 1] and rew.tolist() == [1, 2, 1]
        with pytest.raises(RuntimeError, match="step_wait without step_async"):
            vec.step_wait()


@pytest.mark.parametrize("fault", ["sigkill", "segfault", "hang"])
def test_dead_worker_is_restarted_counted_and_stepping_continues(
    fault: str, curriculum: Curriculum, caplog: pytest.LogCaptureFixture
) -> None:
    with make_vec(4, 2, reset_state=curriculum, timeout_s=2.0) as vec:
        vec.reset()
        vec.step([1, 1, 1, 1])
        old_pid = vec.worker_pids()[1]
        actions = np.zeros(4, np.int64)
        if fault == "sigkill":
            os.kill(old_pid, signal.SIGKILL)
        else:
            actions[3] = SEGFAULT if fault == "segfault" else HANG
        curriculum.calls.clear()
        obs, _, term, trunc, infos = vec.step(actions)
        assert vec.restarts == 1 and "restarting" in caplog.text
        assert vec.worker_pids()[1] != old_pid and wait_gone([old_pid]) == []
        assert trunc.tolist() == [False, False, True, True] and not term.any()
        assert sorted(curriculum.calls) == [2, 3]
        for i in (2, 3):
            assert infos[i]["worker_restarted"] and infos[i]["origin"] == 100 + i
            assert infos[i]["final_info"] == {"origin": 100 + i, "t": 1}
            assert infos[i]["episode"] == {"return": 1.0, "length": 1}
        assert obs["features"][:, 0].tolist() == [2, 2, 0, 0]
        for _ in range(3):
            obs, _, _, trunc, _ = vec.step([1, 1, 1, 1])
        assert not trunc.any() and obs["features"][:, 0].tolist() == [5, 5, 3, 3]


def test_worker_dead_in_save_state_returns_none_and_the_next_step_restarts_it(
    curriculum: Curriculum,
) -> None:
    with make_vec(4, 2, reset_state=curriculum) as vec:
        vec.reset()
        vec.step([0, 0, 0, 0])
        os.kill(vec.worker_pids()[0], signal.SIGKILL)
        assert vec.save_state(1) is None and vec.save_state(0) is None
        assert vec.restarts == 0 and not vec.firsts.any()
        obs, _, _, trunc, infos = vec.step([0, 0, 0, 0])
        assert vec.restarts == 1 and trunc.tolist() == [True, True, False, False]
        assert infos[1]["worker_restarted"] and infos[1]["episode"]["length"] == 1
        assert obs["features"][:, 0].tolist() == [0, 0, 2, 2]
        assert isinstance(vec.save_state(1), bytes)


def test_load_state_into_a_dead_worker_restarts_it_and_loads(curriculum: Curriculum) -> None:
    with make_vec(4, 2, reset_state=curriculum) as vec:
        vec.reset()
        vec.step([0, 0, 0, 0])
        os.kill(vec.worker_pids()[0], signal.SIGKILL)
        obs, info = vec.load_state(1, struct.pack("<ii", 7, 9))
        assert info == {"origin": 7, "t": 9} and obs["features"][:2].tolist() == [9, 7]
        assert vec.restarts == 1 and vec.firsts.tolist() == [True, True, False, False]
        assert vec._obs["map_id"].tolist() == [100, 7, 102, 103]


def test_env_exception_raises_worker_error_with_traceback() -> None:
    vec = make_vec(2, 2)
    vec.reset()
    with pytest.raises(WorkerError, match="toy env bug"):
        vec.step([0, RAISE])
    with pytest.raises(RuntimeError, match="closed"):
        vec.step([0, 0])


def test_env_exception_restarts_the_worker_with_restart_on_error() -> None:
    with make_vec(2, 2, restart_on_error=True) as vec:
        vec.reset()
        _, _, _, trunc, infos = vec.step([0, RAISE])
        assert vec.restarts == 1 and trunc.tolist() == [False, True]
        assert infos[1]["worker_restarted"]


def test_a_worker_that_keeps_dying_is_reported_as_a_bug() -> None:
    crash_env_1 = lambda env_id: CRASH_STATE if env_id == 1 else None
    with pytest.raises(RuntimeError, match="failed 3 times in a row"):
        make_vec(2, 2, reset_state=crash_env_1, max_failures=2).reset()


def test_close_leaves_no_child_processes() -> None:
    vec = make_vec(4, 2)
    vec.reset()
    pids = vec.worker_pids()
    assert all(pid_alive(p) for p in pids)
    vec.close()
    vec.close()  # twice is fine
    assert wait_gone(pids, seconds=0.5) == []


MAIN_SCRIPT = """
import sys
sys.path.insert(0, {tests!r})
from test_vec import ToyEnv
from daddy.swarm.vec import VecEnv


class MainEnv(ToyEnv):  # defined in __main__: workers get it by value, never import this file
    pass


if __name__ == "__main__":
    vec = VecEnv(lambda: MainEnv(max_steps=3), 4, 2, start_method={method!r})
    vec.reset()
    obs, *_ = vec.step([0, 0, 0, 0])
    assert obs["features"][:, 0].tolist() == [1, 1, 1, 1]
    print(*vec.worker_pids(), flush=True)
    sys.stdin.readline()  # then exit without close(): atexit must stop the workers
"""


@pytest.mark.parametrize(
    "how, method", [("exit", "forkserver"), ("sigkill", "forkserver"), ("sigterm", "spawn")]
)
def test_workers_never_outlive_the_main_process(how: str, method: str, tmp_path: Path) -> None:
    script = tmp_path / "main.py"
    script.write_text(MAIN_SCRIPT.format(tests=str(ROOT / "tests"), method=method))
    proc = subprocess.Popen([sys.executable, str(script)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True, cwd=ROOT)  # fmt: skip
    try:
        pids = [int(p) for p in proc.stdout.readline().split()]
        assert len(pids) == 2 and all(pid_alive(p) for p in pids)
        if how == "exit":
            proc.stdin.write("\n")
            proc.stdin.flush()
        else:
            proc.send_signal(signal.SIGKILL if how == "sigkill" else signal.SIGTERM)
        assert proc.wait(10) in (0, -signal.SIGKILL, -signal.SIGTERM)
    finally:
        proc.kill()
    assert wait_gone(pids) == []


GROUP_SCRIPT = """
import os, signal, sys, time
sys.path.insert(0, {tests!r})
from test_vec import ToyEnv
from daddy.swarm.vec import VecEnv


class SlowEnv(ToyEnv):  # the workers are mid-step most of the time a signal lands
    def step(self, action):
        time.sleep(0.002)
        return super().step(action)


got = []
if __name__ == "__main__":
    for sig in (signal.SIGTERM, signal.SIGUSR2, signal.SIGINT):  # the trainer's Stop: a flag
        signal.signal(sig, lambda signum, frame: got.append(signum))
    vec = VecEnv(lambda: SlowEnv(max_steps=7), 4, 2, start_method={method!r})
    vec.reset()
    pids = vec.worker_pids()
    print(*pids, flush=True)
    steps = 0
    while not os.path.exists({stop!r}):
        _, _, _, trunc, infos = vec.step([1, 1, 1, 1])
        steps += 1
        assert not any(info.get("worker_restarted") for info in infos)
    for _ in range(20):  # and the pool still works after the signals
        vec.step([1, 1, 1, 1])
    print(f"restarts={{vec.restarts}} same_pids={{vec.worker_pids() == pids}} "
          f"signals={{len(got)}} steps={{steps}}", flush=True)
    vec.close()
"""


@pytest.mark.parametrize("method", ["forkserver", "spawn"])
def test_signals_to_the_whole_process_group_reach_only_the_main_process(
    method: str, tmp_path: Path
) -> None:
    """SLURM, `timeout` and Ctrl-C signal every process of the group: workers and the forkserver
    must ignore SIGTERM/SIGUSR2/SIGINT (a dead forkserver takes its workers with it through
    PR_SET_PDEATHSIG): no worker dies or restarts, the main process gets every signal."""
    script, stop = tmp_path / "main.py", tmp_path / "stop"
    script.write_text(GROUP_SCRIPT.format(tests=str(ROOT / "tests"), method=method, stop=str(stop)))
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=ROOT,
                            start_new_session=True)  # fmt: skip
    sigs = [signal.SIGTERM, signal.SIGUSR2, signal.SIGINT] * 4
    try:
        pids = [int(p) for p in proc.stdout.readline().split()]
        assert len(pids) == 2, proc.stderr.read()
        rng = np.random.default_rng(0)
        for sig in sigs:
            os.killpg(proc.pid, sig)
            time.sleep(rng.uniform(0.02, 0.08))
        stop.touch()
        out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 0, err[-3000:]
    assert "restarts=0 same_pids=True" in out and "restarting" not in err, out + err[-3000:]
    assert int(out.split("signals=")[1].split()[0]) >= 3  # each kind reached the main process
    assert wait_gone(pids) == []


def test_close_kills_a_busy_worker_that_ignores_signals_and_counts_no_restart() -> None:
    """Workers ignore SIGTERM: close asks, waits, then SIGKILLs one stuck in a step."""
    vec = make_vec(4, 2)
    vec.reset()
    pids = vec.worker_pids()
    vec.step_async([0, 0, 0, HANG])  # worker 1 never answers
    t = time.monotonic()
    vec.close()
    assert time.monotonic() - t < 15
    assert wait_gone(pids, seconds=5) == [] and vec.restarts == 0


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"num_envs": 0}, "num_envs must be at least 1"),
        ({"num_envs": 2, "num_workers": 3}, "num_workers must be in 1..num_envs=2"),
        ({"start_method": "threads"}, "start_method must be one of"),
    ],
)
def test_bad_arguments_raise_one_readable_line(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        VecEnv(ToyEnv, **kwargs)


@pytest.mark.parametrize(
    "actions, message",
    [([0, 0, 0], r"shape \(2,\)"), ([0, 7], "action 7 for env 1 is outside 0..6"),
     ([0.0, 1.0], "integers")],
)  # fmt: skip
def test_bad_actions_raise_one_readable_line(actions: list, message: str) -> None:
    with make_vec(2, 1) as vec:
        vec.reset()
        with pytest.raises(ValueError, match=message):
            vec.step(actions)
        vec.step([0, 0])  # still usable


@pytest.mark.parametrize("start_method", ["spawn", "fork"])
def test_other_start_methods_step_and_close(start_method: str) -> None:
    with make_vec(2, 2, start_method=start_method) as vec:
        vec.reset()
        obs, *_ = vec.step([0, 0])
        assert obs["features"][:, 0].tolist() == [1, 1]
        pids = vec.worker_pids()
    assert wait_gone(pids) == []


# --- the real emulator env (practice cartridge) --------------------------------------------------
@pytest.fixture
def practice():
    """`practice(max_episode_steps)` → an env_fn for the practice cartridge."""
    env = pytest.importorskip("daddy.game.env")
    return lambda steps: functools.partial(env.make_env, "practice", max_episode_steps=steps)


def test_practice_env_64_envs_on_2_workers_autoreset_from_curriculum_states(practice) -> None:
    from daddy.game.ram import GameState

    with VecEnv(practice(4), 2, 1) as vec:
        vec.reset()
        for _ in range(3):
            vec.step([2, 2])  # walk right
        start = vec.save_state(0)
        moved = vec._last_info[0]["game"]
    asked: list[int] = []

    def from_start(env_id: int) -> bytes:
        asked.append(env_id)
        return start

    with VecEnv(practice(4), 64, 2, reset_state=from_start) as vec:
        obs, infos = vec.reset()
        assert obs["screen"].shape == (64, 72, 80) and obs["screen"].max() <= 3
        assert all(isinstance(i["game"], GameState) for i in infos)
        assert {(i["game"].map_id, i["game"].x, i["game"].y) for i in infos} == {
            (moved.map_id, moved.x, moved.y)
        }
        asked.clear()
        for _ in range(4):
            obs, _, term, trunc, infos = vec.step(np.full(64, 3))
        assert trunc.all() and not term.any() and sorted(asked) == list(range(64))
        assert infos[5]["episode"]["length"] == 4 and "game" in infos[5]["final_info"]
        assert infos[5]["game"] == infos[6]["game"]  # every env restarted from the same state


def test_practice_env_save_load_round_trip_and_killed_worker_recovery(practice) -> None:
    with VecEnv(practice(100), 4, 2) as vec:
        vec.reset()
        for _ in range(2):
            vec.step([2, 2, 0, 0])
        data = vec.save_state(1)
        saved = vec._last_info[1]["game"]
        vec.step([0, 0, 0, 0])
        obs_a, info_a = vec.load_state(3, data)  # another worker's env
        obs_b, info_b = vec.load_state(1, data)
        assert info_a["game"] == info_b["game"]
        assert (info_b["game"].map_id, info_b["game"].x, info_b["game"].y) == (
            saved.map_id, saved.x, saved.y
        )  # fmt: skip
        for key in obs_a:
            np.testing.assert_array_equal(obs_a[key], obs_b[key])
        os.kill(vec.worker_pids()[0], signal.SIGKILL)
        _, _, _, trunc, infos = vec.step([1, 1, 1, 1])
        assert vec.restarts == 1 and trunc.tolist() == [True, True, False, False]
        assert infos[0]["worker_restarted"] and "game" in infos[0]
        _, _, _, trunc, _ = vec.step([1, 1, 1, 1])
        assert not trunc.any()
