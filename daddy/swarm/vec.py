"""Vectorised emulators: N envs in a pool of worker processes, observations in shared memory.

Design: a pufferlib-style pool, chosen over gymnasium's `AsyncVectorEnv(shared_memory=True)`.
Each worker process owns a contiguous slice of envs, steps them one after another, writes their
observations straight into one shared block (one numpy view per observation key), and answers
with ONE pipe message per step (rewards, flags and infos of its slice). The main process sees
`obs[key]` of shape (N, ...). `num_workers` defaults to the cores this process may use
(`sched_getaffinity`: a SLURM allocation, not the whole node).

Why, measured with `bench/vec_speed.py` (practice cartridge, 2-core machine shared with other
jobs, load average 7-11, so wall-clock steps/s were noise and the comparison is on CPU time,
main process + workers, per env step):

    steps per CPU-second      single env   pool 1 worker   pool 2 workers   gymnasium async
    32 envs                         1660            1672             1583               998
    64 envs                         1904            1739             1670              1105

gymnasium needs one process per env (32-64 emulator processes on a few cores) and spends about
60% more CPU per step on context switches and per-env messages; the pool stays within ~10% of
a bare env in one process (the main process itself uses ~3% at 64 envs). Beyond speed,
gymnasium's autoreset cannot ask the main process for the savestate to start from (the
curriculum lives there) and a dead worker leaves it unusable; the pool does both.

Autoreset (same step): when env i's episode ends, the main process calls `reset_state(i)` for
the savestate bytes (None: a plain reset), the worker resets env i from them, and the returned
obs[i] is the FIRST obs of the new episode; `infos[i]` is the reset's info plus "final_info"
(the finished episode's last info), "final_obs" (its last obs; absent after a worker restart)
and "episode" {"return", "length"}. `firsts[i]` says that obs[i] starts an episode (for the
replay and the actor's recurrent-state reset).

Crash recovery: a worker that dies (segfault, SIGKILL, OOM), hangs past `timeout_s`, or (with
`restart_on_error`) raises, is killed and started again; its envs reset from `reset_state`,
and the step reports them truncated with `infos[i]["worker_restarted"] = True`. Logged and
counted in `restarts`. A worker that fails `max_failures` times in a row without one good step
is a bug, not bad luck: RuntimeError. Python exceptions in an env (bugs) are raised in the main
process as `WorkerError` with the worker's traceback unless `restart_on_error`.

Start method: 'forkserver' by default. `fork` after torch has started its thread pools (the
trainer restarts workers mid-run) can deadlock the child and copies the trainer's whole address
space; 'forkserver' forks from a small clean server that has already imported pyboy, and a
worker holds no pipe ends but its own (it sees EOF when the main process dies). Start-up was
measured alike for all three (32 envs on 2 workers: 2.3-5.5 s, mostly creating 16 emulators
per worker), so safety decides. Spawned and forkserver children would re-import the caller's
`__main__` (the trainer: torch, measured 2.5 s and 230 MB per worker instead of 50 MB); workers
are started with it hidden, `env_fn` travels cloudpickled. Workers get PR_SET_PDEATHSIG and
ignore SIGINT/SIGTERM/SIGUSR1/SIGUSR2/SIGHUP (SLURM, `timeout` and Ctrl-C signal the whole
process group; the main process decides when they stop, `close()` or atexit): no orphans, no
half-dead pool mid-step or mid-checkpoint. The forkserver and every worker start with those
signals blocked (see `_signals_blocked`), so none can arrive before the worker ignores them;
`close()` asks each worker to stop, then kills it (SIGKILL, which nothing ignores).
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import logging
import multiprocessing as mp
import os
import signal
import sys
import time
import traceback
import weakref
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from multiprocessing import resource_tracker
from multiprocessing.connection import Connection, wait
from typing import Any

import cloudpickle
import gymnasium as gym
import numpy as np

log = logging.getLogger(__name__)

Obs = dict[str, np.ndarray]
EnvFn = Callable[[], gym.Env]
ResetState = Callable[[int], "bytes | None"]
START_METHODS = ("forkserver", "spawn", "fork")
_SIGNALS_LEFT_TO_MAIN = ("SIGINT", "SIGTERM", "SIGUSR1", "SIGUSR2", "SIGHUP")
_PR_SET_PDEATHSIG = 1


def available_cores() -> int:
    """Cores this process may run on (a SLURM job's allocation, not the node's total)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


class WorkerError(RuntimeError):
    """An env raised an exception inside a worker; the message carries the worker's traceback."""


# --- shared observation block --------------------------------------------------------------
@dataclass(frozen=True)
class _Field:
    key: str
    offset: int
    shape: tuple[int, ...]
    dtype: str


def _layout(space: gym.Space, num_envs: int) -> tuple[list[_Field], int]:
    """Place each observation key's (num_envs, *shape) array in one block, 64-byte aligned."""
    if not isinstance(space, gym.spaces.Dict) or not all(
        isinstance(s, gym.spaces.Box) for s in space.spaces.values()
    ):
        raise TypeError(f"VecEnv needs a Dict observation space of Box spaces, got {space}")
    fields, offset = [], 0
    for key, box in space.spaces.items():
        offset = -(-offset // 64) * 64
        fields.append(_Field(key, offset, tuple(box.shape), box.dtype.str))
        offset += num_envs * int(np.prod(box.shape, dtype=np.int64)) * box.dtype.itemsize
    return fields, max(offset, 1)


def _views(buf: Any, fields: Sequence[_Field], num_envs: int) -> Obs:
    mem = np.frombuffer(buf, dtype=np.uint8)
    out = {}
    for f in fields:
        dtype = np.dtype(f.dtype)
        size = num_envs * int(np.prod(f.shape, dtype=np.int64)) * dtype.itemsize
        out[f.key] = mem[f.offset : f.offset + size].view(dtype).reshape(num_envs, *f.shape)
    return out


# --- worker process --------------------------------------------------------------------------
def _detach_from_parent_signals() -> None:
    """Die with the parent; leave Ctrl-C and SLURM's signals to the main process."""
    for name in _SIGNALS_LEFT_TO_MAIN:
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), signal.SIG_IGN)
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL))
        except (OSError, AttributeError):
            pass


def _worker_main(
    conn: Connection, env_fn_blob: bytes, lo: int, hi: int, buf: Any, fields: list[_Field],
    num_envs: int,
) -> None:  # fmt: skip
    """Own envs lo..hi-1; answer each command with one ("ok"|"error", payload) message."""
    _detach_from_parent_signals()
    envs: list[gym.Env] = []
    try:
        env_fn = cloudpickle.loads(env_fn_blob)
        envs = [env_fn() for _ in range(lo, hi)]
        views = _views(buf, fields, num_envs)
        while True:
            try:
                cmd, arg = conn.recv()
            except (EOFError, OSError):
                return  # the main process is gone
            if cmd == "close":
                return
            conn.send(("ok", _HANDLERS[cmd](envs, lo, views, arg)))
    except (BrokenPipeError, ConnectionResetError):
        return
    except BaseException:  # noqa: BLE001 -- any failure goes back to the main process
        try:
            conn.send(("error", traceback.format_exc()))
        except OSError:
            pass
    finally:
        for env in envs:
            try:
                env.close()
            except Exception:  # noqa: BLE001, S110 -- a failing close must not hide the cause
                pass


def _write_obs(views: Obs, i: int, obs: dict[str, Any]) -> None:
    for key, view in views.items():
        view[i] = obs[key]


def _do_step(envs: list[gym.Env], lo: int, views: Obs, actions: np.ndarray) -> list[tuple]:
    out = []
    for j, (env, a) in enumerate(zip(envs, actions)):
        obs, r, term, trunc, info = env.step(int(a))
        _write_obs(views, lo + j, obs)
        out.append((float(r), bool(term), bool(trunc), info))
    return out


def _do_reset(
    envs: list[gym.Env], lo: int, views: Obs, jobs: list[tuple[int, bytes | None, int | None]]
) -> list[dict]:
    infos = []
    for j, state, seed in jobs:
        options = None if state is None else {"state": state}
        obs, info = envs[j].reset(seed=seed, options=options)
        _write_obs(views, lo + j, obs)
        infos.append(info)
    return infos


def _do_save(envs: list[gym.Env], lo: int, views: Obs, j: int) -> bytes:
    return envs[j].unwrapped.save_state()


def _do_pid(envs: list[gym.Env], lo: int, views: Obs, arg: None) -> int:
    return os.getpid()


_HANDLERS = {"step": _do_step, "reset": _do_reset, "save": _do_save, "pid": _do_pid}


# --- main-process side -------------------------------------------------------------------------
@dataclass
class _Worker:
    index: int
    lo: int
    hi: int
    proc: Any  # multiprocessing.process.BaseProcess
    conn: Connection
    failures: int = 0  # consecutive failures without a good step
    dead: str | None = None  # why, once found dead outside `step`; restarted by the next step

    @property
    def env_ids(self) -> range:
        return range(self.lo, self.hi)


@dataclass(frozen=True)
class _Died:
    reason: str


@dataclass
class _Resets:
    infos: dict[int, dict] = field(default_factory=dict)
    restarted: set[int] = field(default_factory=set)  # envs whose worker was restarted


class VecEnv:
    """`num_envs` copies of `env_fn()` stepped in `num_workers` processes; see the module doc.

    Observations returned by `reset`, `step` are views into shared memory, overwritten by the
    next `step`/`reset`/`load_state`: copy what you keep.
    """

    def __init__(
        self,
        env_fn: EnvFn,
        num_envs: int = 32,
        num_workers: int | None = None,
        *,
        reset_state: ResetState | None = None,
        start_method: str = "forkserver",
        timeout_s: float = 60.0,
        max_failures: int = 3,
        restart_on_error: bool = False,
    ) -> None:
        if num_envs < 1:
            raise ValueError(f"num_envs must be at least 1, got {num_envs}")
        num_workers = min(num_envs, available_cores()) if num_workers is None else num_workers
        if not 1 <= num_workers <= num_envs:
            raise ValueError(f"num_workers must be in 1..num_envs={num_envs}, got {num_workers}")
        if start_method not in START_METHODS:
            raise ValueError(f"start_method must be one of {START_METHODS}, got {start_method!r}")
        if timeout_s <= 0 or max_failures < 1:
            raise ValueError(f"need timeout_s > 0 and max_failures >= 1, got {timeout_s}, "
                             f"{max_failures}")  # fmt: skip
        self.num_envs, self.num_workers = num_envs, num_workers
        self.timeout_s, self.max_failures = float(timeout_s), max_failures
        self.restart_on_error = restart_on_error
        self.restarts = 0
        self._reset_state = reset_state
        self._closed = True  # until the workers exist

        probe = env_fn()
        self.single_observation_space = probe.observation_space
        self.single_action_space = probe.action_space
        probe.close()
        self._fields, nbytes = _layout(self.single_observation_space, num_envs)
        self._ctx = mp.get_context(start_method)
        if start_method == "forkserver":
            self._ctx.set_forkserver_preload(["daddy.swarm.vec", "pyboy"])
        self._buf = self._ctx.RawArray("B", nbytes)
        self._obs = _views(self._buf, self._fields, num_envs)
        self._env_fn_blob = cloudpickle.dumps(env_fn)

        self.firsts = np.ones(num_envs, dtype=bool)
        """bool (N,): obs[i] is the first obs of an episode (after reset, autoreset, load)."""
        self._ep_return = np.zeros(num_envs, dtype=np.float64)
        self._ep_length = np.zeros(num_envs, dtype=np.int64)
        self._last_info: list[dict] = [{} for _ in range(num_envs)]
        self._inflight: dict[int, Any] | None = None  # step_async sent, step_wait not yet
        bounds = np.linspace(0, num_envs, num_workers + 1).round().astype(int)
        self._workers: list[_Worker] = []
        self._closed = False
        atexit.register(_close_at_exit, weakref.ref(self))
        for k in range(num_workers):
            self._workers.append(self._spawn(k, int(bounds[k]), int(bounds[k + 1])))

    # --- public API --------------------------------------------------------------------------
    def reset(self, seed: int | None = None) -> tuple[Obs, list[dict]]:
        """Reset every env from `reset_state(i)` (env i seeded with seed + i if seed is given)."""
        self._check_open()
        seeds = None if seed is None else {i: seed + i for i in range(self.num_envs)}
        res = self._reset_envs(range(self.num_envs), seeds=seeds)
        self._ep_return[:] = 0.0
        self._ep_length[:] = 0
        self.firsts[:] = True
        infos = [res.infos[i] for i in range(self.num_envs)]
        self._last_info = list(infos)
        return self._obs, infos

    def step(
        self, actions: np.ndarray | Sequence[int]
    ) -> tuple[Obs, np.ndarray, np.ndarray, np.ndarray, list[dict]]:
        """One action per env → (obs, rewards f32, terminated, truncated, infos), autoreset."""
        self.step_async(actions)
        return self.step_wait()

    def step_async(self, actions: np.ndarray | Sequence[int]) -> None:
        """Start a step and return at once (overlap the learner with the emulators)."""
        self._check_open()
        acts = self._check_actions(actions)
        self._inflight = self._send({w.index: ("step", acts[w.lo : w.hi]) for w in self._workers})

    def step_wait(self) -> tuple[Obs, np.ndarray, np.ndarray, np.ndarray, list[dict]]:
        """Finish the step started by `step_async`; see `step`."""
        if self._inflight is None:
            raise RuntimeError("step_wait without step_async: call step_async(actions) first")
        sent, self._inflight = self._inflight, None
        replies = self._gather(sent)
        n = self.num_envs
        rewards = np.zeros(n, dtype=np.float32)
        terminated, truncated = np.zeros(n, dtype=bool), np.zeros(n, dtype=bool)
        infos: list[dict] = [{} for _ in range(n)]
        stepped = np.zeros(n, dtype=bool)
        restarted: set[int] = set()

        for k, reply in replies.items():
            w = self._workers[k]
            if isinstance(reply, _Died):
                self._restart(w, reply.reason)
                restarted.update(w.env_ids)
                continue
            w.failures = 0
            for i, (r, term, trunc, info) in zip(w.env_ids, reply):
                rewards[i], terminated[i], truncated[i], infos[i] = r, term, trunc, info
            stepped[w.lo : w.hi] = True
        self._ep_return += rewards  # 0 where the worker died
        self._ep_length += stepped
        final_info = [infos[i] if stepped[i] else self._last_info[i] for i in range(n)]

        ended = np.flatnonzero(terminated | truncated)
        final_obs = {key: view[ended].copy() for key, view in self._obs.items()}
        res = self._reset_envs(sorted(set(ended.tolist()) | restarted), fresh=restarted)
        restarted |= res.restarted
        truncated[sorted(restarted)] = True
        where_final = {int(i): j for j, i in enumerate(ended)}
        for i in sorted(res.infos):
            info = dict(res.infos[i])
            info["final_info"] = final_info[i]
            info["episode"] = {
                "return": float(self._ep_return[i]),
                "length": int(self._ep_length[i]),
            }
            if i in restarted:
                info["worker_restarted"] = True
            elif i in where_final:
                info["final_obs"] = {key: v[where_final[i]] for key, v in final_obs.items()}
            infos[i] = info
            self._last_info[i] = res.infos[i]
            self._ep_return[i], self._ep_length[i] = 0.0, 0
        for i in np.flatnonzero(stepped):
            if i not in res.infos:
                self._last_info[i] = infos[i]
        self.firsts[:] = terminated | truncated
        return self._obs, rewards, terminated, truncated, infos

    def save_state(self, env_id: int) -> bytes | None:
        """Env `env_id`'s emulator savestate now; None if its worker is dead.

        A worker found dead here is restarted by the next `step`, which reports its envs'
        episodes as usual (truncated, "worker_restarted"): every episode end comes from `step`.
        """
        self._check_open()
        w = self._worker_of(env_id)
        reply = self._exchange({w.index: ("save", env_id - w.lo)})[w.index]
        if isinstance(reply, _Died):
            log.warning("vec worker %d (envs %d..%d, pid %s) %s during save_state; the next "
                        "step restarts it", w.index, w.lo, w.hi - 1, w.proc.pid, reply.reason)  # fmt: skip
            self._stop(w)
            w.dead = reply.reason
            return None
        return reply

    def load_state(self, env_id: int, data: bytes) -> tuple[Obs, dict]:
        """Jump env `env_id` to savestate `data` now (a new episode): its obs (a copy), info.

        The interrupted episode is not reported; `firsts[env_id]` is set. (If the env's worker
        is dead it is restarted here, and its other envs start new episodes unreported too.)
        """
        self._check_open()
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f"load_state needs savestate bytes, got {type(data).__name__}")
        self._worker_of(env_id)
        res = self._reset_envs([env_id], states={env_id: bytes(data)})
        if res.restarted:
            log.warning("vec envs %s restarted during load_state; their episodes are not "
                        "reported", sorted(res.restarted))  # fmt: skip
        for i, info in res.infos.items():
            self._last_info[i] = info
            self._ep_return[i], self._ep_length[i] = 0.0, 0
            self.firsts[i] = True
        return {key: view[env_id].copy() for key, view in self._obs.items()}, res.infos[env_id]

    def worker_pids(self) -> list[int | None]:
        """Process id of each worker (for monitoring and fault-injection tests)."""
        return [w.proc.pid for w in self._workers]

    def close(self) -> None:
        """Stop every worker (asked first, killed after 5 s); safe to call twice."""
        if self._closed:
            return
        self._closed = True
        for w in self._workers:
            try:
                w.conn.send(("close", None))
            except OSError:
                pass
        deadline = time.monotonic() + 5.0
        for w in self._workers:
            w.proc.join(max(0.0, deadline - time.monotonic()))
            self._stop(w)

    def __enter__(self) -> VecEnv:  # noqa: PYI034
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # noqa: BLE001, S110 -- never raise from a finaliser
            pass

    # --- internals ---------------------------------------------------------------------------
    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("VecEnv is closed; make a new one")
        if self._inflight is not None:
            raise RuntimeError("a step is in flight: call step_wait() before anything else")

    def _check_actions(self, actions: np.ndarray | Sequence[int]) -> np.ndarray:
        acts = np.asarray(actions)
        if acts.shape != (self.num_envs,):
            raise ValueError(f"step needs one action per env: shape ({self.num_envs},), "
                             f"got {acts.shape}")  # fmt: skip
        space = self.single_action_space
        if isinstance(space, gym.spaces.Discrete):
            if not np.issubdtype(acts.dtype, np.integer):
                raise ValueError(f"actions must be integers, got dtype {acts.dtype}")
            bad = np.flatnonzero((acts < space.start) | (acts >= space.start + space.n))
            if bad.size:
                raise ValueError(f"action {acts[bad[0]]} for env {bad[0]} is outside "
                                 f"{space.start}..{space.start + space.n - 1}")  # fmt: skip
        return acts

    def _worker_of(self, env_id: int) -> _Worker:
        if not 0 <= env_id < self.num_envs:
            raise IndexError(f"env_id {env_id} is outside 0..{self.num_envs - 1}")
        for w in self._workers:
            if w.lo <= env_id < w.hi:
                return w
        raise AssertionError("unreachable: workers cover every env")

    def _spawn(self, index: int, lo: int, hi: int) -> _Worker:
        parent, child = self._ctx.Pipe(duplex=True)
        args = (child, self._env_fn_blob, lo, hi, self._buf, self._fields, self.num_envs)
        proc = self._ctx.Process(
            target=_worker_main, args=args, name=f"daddy-vec-{index}", daemon=True
        )
        with _main_module_hidden(), _signals_blocked():
            proc.start()
        child.close()  # only the worker holds it now: its death reads as EOF here
        return _Worker(index, lo, hi, proc, parent)

    def _stop(self, w: _Worker) -> None:
        if w.proc.is_alive():
            w.proc.kill()
        w.proc.join(5.0)
        w.conn.close()

    def _restart(self, w: _Worker, reason: str) -> None:
        """Replace worker `w` by a fresh process (its envs still need a reset)."""
        if self._closed:
            # close() ran meanwhile (another thread, a finaliser): the workers it stopped did
            # not fail, and a closed pool starts none.
            self._stop(w)
            raise RuntimeError("VecEnv was closed while a worker was busy; make a new one")
        self.restarts += 1
        w.failures += 1
        log.warning("vec worker %d (envs %d..%d, pid %s) %s: restarting it (restart %d)",
                    w.index, w.lo, w.hi - 1, w.proc.pid, reason, self.restarts)  # fmt: skip
        self._stop(w)
        if w.failures > self.max_failures:
            self.close()
            raise RuntimeError(f"vec worker {w.index} (envs {w.lo}..{w.hi - 1}) failed "
                               f"{w.failures} times in a row without a good step; last: {reason}. "
                               f"Check the env and the savestates it resets from.")  # fmt: skip
        new = self._spawn(w.index, w.lo, w.hi)
        new.failures = w.failures
        self._workers[w.index] = new

    def _exchange(self, msgs: dict[int, tuple[str, Any]]) -> dict[int, Any]:
        """Send each worker its message, then gather the replies; a dead/hung one → `_Died`."""
        return self._gather(self._send(msgs))

    def _send(self, msgs: dict[int, tuple[str, Any]]) -> dict[int, Any]:
        """Send; returns {worker: None (awaiting a reply) or `_Died` (its pipe is closed)}."""
        sent: dict[int, Any] = {}
        for k, msg in msgs.items():
            if self._workers[k].dead:
                sent[k] = _Died(self._workers[k].dead)
                continue
            try:
                self._workers[k].conn.send(msg)
                sent[k] = None
            except OSError as err:
                sent[k] = _Died(f"closed its pipe ({err.__class__.__name__})")
        return sent

    def _gather(self, sent: dict[int, Any]) -> dict[int, Any]:
        replies = {k: v for k, v in sent.items() if v is not None}
        pending = {k for k in sent if k not in replies}
        deadline = time.monotonic() + self.timeout_s
        while pending:
            waitables = {}
            for k in pending:
                w = self._workers[k]
                waitables[w.conn] = waitables[w.proc.sentinel] = k
            ready = wait(list(waitables), timeout=max(0.0, deadline - time.monotonic()))
            if not ready:
                for k in pending:
                    replies[k] = _Died(f"sent no reply within {self.timeout_s:g} s (hung)")
                break
            for k in {waitables[r] for r in ready}:
                replies[k] = self._receive(self._workers[k])
                pending.discard(k)
        return replies

    def _receive(self, w: _Worker) -> Any:
        try:
            status, payload = w.conn.recv()
        except (EOFError, OSError):
            w.proc.join(1.0)
            code = w.proc.exitcode
            how = f"killed by signal {-code}" if code is not None and code < 0 else f"exit {code}"
            return _Died(f"died ({how})")
        if status == "ok":
            return payload
        if self.restart_on_error:
            log.error("vec worker %d raised:\n%s", w.index, payload)
            return _Died(f"raised {payload.strip().splitlines()[-1]}")
        self.close()
        raise WorkerError(f"an env in vec worker {w.index} (envs {w.lo}..{w.hi - 1}) raised:\n"
                          f"{payload}")  # fmt: skip

    def _reset_envs(
        self,
        env_ids: Iterable[int],
        *,
        fresh: set[int] | None = None,
        seeds: dict[int, int] | None = None,
        states: dict[int, bytes] | None = None,
    ) -> _Resets:
        """Reset envs (from `states`, else `reset_state(i)`), restarting workers that die."""
        res = _Resets(restarted=set(fresh or ()))
        want = sorted(set(env_ids))
        while want:
            msgs, asked = {}, {}
            for w in self._workers:
                ids = [i for i in want if w.lo <= i < w.hi]
                if ids:
                    jobs = [
                        (i - w.lo, self._state_for(i, states), (seeds or {}).get(i)) for i in ids
                    ]
                    msgs[w.index], asked[w.index] = ("reset", jobs), ids
            want = []
            for k, reply in self._exchange(msgs).items():
                w = self._workers[k]
                if isinstance(reply, _Died):
                    self._restart(w, reply.reason)
                    res.restarted.update(w.env_ids)
                    want.extend(w.env_ids)  # a fresh worker's envs all need a reset
                else:
                    res.infos.update(zip(asked[k], reply))
            want = sorted(set(want))
        return res

    def _state_for(self, env_id: int, states: dict[int, bytes] | None) -> bytes | None:
        if states is not None and env_id in states:
            return states[env_id]
        if self._reset_state is None:
            return None
        data = self._reset_state(env_id)
        if data is not None and not isinstance(data, (bytes, bytearray)):
            raise TypeError(f"reset_state({env_id}) must return bytes or None, "
                            f"got {type(data).__name__}")  # fmt: skip
        return None if data is None else bytes(data)


@contextlib.contextmanager
def _signals_blocked() -> Iterator[None]:
    """Start processes with SLURM's signals blocked: the block is inherited across exec.

    multiprocessing's forkserver (and resource tracker) are exec'd children of this process
    with default signal dispositions: a SIGTERM/SIGUSR2 that SLURM, `timeout` or Ctrl-C sends
    to every process of the group would kill the forkserver, and PR_SET_PDEATHSIG would then
    kill every worker in the middle of a step: "closed its pipe (BrokenPipeError): restarting
    it", an episode logged cut short. Blocked here, they stay blocked in the forkserver and in
    every worker it forks (nothing there unblocks them; the worker then ignores them).

    The resource tracker is started first, inside the block: multiprocessing starts it (before
    the forkserver, and for each spawned child) with SIGINT/SIGTERM blocked and then UNBLOCKS
    them in the calling thread (bpo-33613), which inside `proc.start()` let the forkserver
    start with SIGTERM deliverable. Once it runs, `proc.start()` finds it alive and leaves the
    mask alone. Signals sent to this process meanwhile stay pending and are delivered when the
    block is lifted.
    """
    sigs = {getattr(signal, n) for n in _SIGNALS_LEFT_TO_MAIN if hasattr(signal, n)}
    old = signal.pthread_sigmask(signal.SIG_BLOCK, sigs)
    try:
        resource_tracker.ensure_running()  # may unblock SIGINT/SIGTERM on its way out
        signal.pthread_sigmask(signal.SIG_BLOCK, sigs)
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


@contextlib.contextmanager
def _main_module_hidden() -> Iterator[None]:
    """Start a worker without it re-importing the caller's `__main__` (spawn/forkserver do).

    The trainer's main module imports torch: 2.5 s and 230 MB per worker, measured. The worker
    needs nothing from it: `env_fn` travels cloudpickled (by value when defined in __main__).
    """
    main = sys.modules.get("__main__")
    if main is None:
        yield
        return
    saved = {k: main.__dict__[k] for k in ("__spec__", "__file__") if k in main.__dict__}
    main.__spec__ = None
    main.__dict__.pop("__file__", None)
    try:
        yield
    finally:
        for k in ("__spec__", "__file__"):
            if k in saved:
                main.__dict__[k] = saved[k]
            else:
                main.__dict__.pop(k, None)


def _close_at_exit(ref: weakref.ref) -> None:
    vec = ref()
    if vec is not None:
        vec.close()
