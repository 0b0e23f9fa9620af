"""Checkpoints: exact round trips, keep-last, `latest`, crash leftovers, full disk, safe loading."""

from __future__ import annotations

import errno
import json
import os
import pickle
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from daddy.agent.actor import Actor, AgentConfig
from daddy.agent.learner import Learner
from daddy.agent.networks import ModelConfig, QNetwork
from daddy.agent.replay import SequenceReplay
from daddy.run import checkpoint
from daddy.run.checkpoint import COMPLETE, LATEST, CheckpointError, CheckpointManager

TINY = ModelConfig((4, 8, 8), 16, 16, 16, map_embed=4, feature_hidden=8)
"""A net small enough that whole learner checkpoints take milliseconds."""


def small_payload(step: int = 0) -> dict[str, dict[str, Any]]:
    """A payload whose values depend on `step`, so tests can tell checkpoints apart."""
    return {
        "model": {"w": torch.full((3, 2), float(step)), "step": step},
        "replay": {"screens": np.full((4, 5), step, np.uint8)},
    }


def assert_same(a: Any, b: Any, where: str = "payload") -> None:
    """Deep equality that also checks types and dtypes (a float64 array is not a float32 one)."""
    assert type(a) is type(b), f"{where}: {type(a).__name__} != {type(b).__name__}"
    if isinstance(a, torch.Tensor):
        assert a.dtype == b.dtype and a.shape == b.shape, where
        assert torch.equal(a, b) or torch.allclose(a, b, equal_nan=True), where
    elif isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and a.shape == b.shape, where
        np.testing.assert_array_equal(a, b, err_msg=where)
    elif isinstance(a, dict):
        assert list(a) == list(b), f"{where}: keys {list(a)} != {list(b)}"
        for k in a:
            assert_same(a[k], b[k], f"{where}[{k!r}]")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same(x, y, f"{where}[{i}]")
    elif isinstance(a, float) and np.isnan(a):
        assert np.isnan(b), where
    else:
        assert a == b, f"{where}: {a!r} != {b!r}"


def test_round_trip_keeps_every_value_type_exactly(tmp_path: Path) -> None:
    big = torch.arange(100, dtype=torch.float32)
    payload = {
        "tensors": {
            "f32": torch.randn(3, 4),
            "i64": torch.arange(5),
            "bool": torch.tensor([True, False]),
            "bf16": torch.randn(2, dtype=torch.bfloat16),
            "scalar": torch.tensor(2.5),
            "view": big[10:13],  # saved alone, not with the 100-element storage behind it
        },
        "arrays": {
            "u8": np.arange(256, dtype=np.uint8).reshape(16, 16),
            "f16": np.linspace(0, 1, 7, dtype=np.float16),
            "u64": np.array([2**64 - 1, 0], np.uint64),  # an RNG state's words
            "zero_d": np.array(3.5),
            "empty": np.zeros((0, 3), np.int32),
            "fortran": np.asfortranarray(np.arange(6).reshape(2, 3)),
            "strided": np.arange(10)[::3],
        },
        "plain": {
            "int": 7,
            "float": 0.1,
            "nan": float("nan"),
            "inf": float("-inf"),
            "str": "pallet",
            "none": None,
            "bool": True,
            "list": [1, "a", [2.0]],
            "tuple": (1, (2, "b")),
            "bytes": b"\x00\xffstate",
            "int_keys": {0: "a", 5: {"deep": np.ones(2)}},
            "tuple_keys": {(1, 2): "x"},
            "marker_key": {"__tensor__": "not a reference"},
        },
    }
    manager = CheckpointManager(tmp_path)
    manager.save(10, payload)
    step, loaded = manager.load_latest()
    assert step == 10
    assert_same(payload, loaded)
    assert loaded["tensors"]["view"].untyped_storage().nbytes() == 3 * 4


def test_numpy_scalars_come_back_as_python_numbers(tmp_path: Path) -> None:
    manager = CheckpointManager(tmp_path)
    manager.save(1, {"counters": {"n": np.int64(3), "x": np.float32(0.5)}})
    assert_same(manager.load(1)["counters"], {"n": 3, "x": 0.5})


def test_learner_replay_and_actor_resume_identically(tmp_path: Path) -> None:
    """The trainer's real parts: after a reload, the next sample, update and action all match."""
    torch.manual_seed(0)
    cfg = AgentConfig(burn_in=2, seq_len=5, n_step=2, period=2, batch_size=4)
    net = QNetwork(TINY)
    learner, actor = Learner(net, cfg, "cpu"), Actor(net, 2, seed=1)
    replay = SequenceReplay(2, 64, cfg.seq_len, cfg.burn_in, cfg.n_step, cfg.period,
                            net.state_size, seed=2)  # fmt: skip
    rng = np.random.default_rng(0)

    def obs() -> dict[str, np.ndarray]:
        return {"screen": rng.integers(0, 4, (2, 72, 80), dtype=np.uint8),
                "map_id": rng.integers(0, 256, 2), "features": rng.random((2, 24), np.float32)}  # fmt: skip

    for t in range(20):
        o = obs()
        actions, states = actor.act(o, 0.5, np.full(2, t == 0))
        replay.add(o, actions, rng.random(2, np.float32), np.zeros(2, bool), np.full(2, t == 0),
                   states)  # fmt: skip
    learner.update(replay.sample(4))
    manager = CheckpointManager(tmp_path)
    manager.save(20, {"learner": learner.state_dict(), "replay": replay.state_dict(),
                      "actor": actor.state_dict()}, config={"model_size": "tiny"})  # fmt: skip

    torch.manual_seed(99)
    net2 = QNetwork(TINY)
    learner2, actor2 = Learner(net2, cfg, "cpu"), Actor(net2, 2, seed=0)
    replay2 = SequenceReplay(2, 64, cfg.seq_len, cfg.burn_in, cfg.n_step, cfg.period,
                             net2.state_size, seed=0)  # fmt: skip
    _, loaded = manager.load_latest(expected={"model_size": "tiny"})
    learner2.load_state_dict(loaded["learner"])
    replay2.load_state_dict(loaded["replay"], copy=False)
    actor2.load_state_dict(loaded["actor"])

    b1, b2 = replay.sample(4), replay2.sample(4)
    assert_same(b1.starts, b2.starts)
    assert_same(b1.screens, b2.screens)
    m1, m2 = learner.update(b1), learner2.update(b2)
    assert m1["losses/td_loss"] == m2["losses/td_loss"]
    for p1, p2 in zip(learner.net.parameters(), learner2.net.parameters()):
        assert torch.equal(p1, p2)
    o = obs()
    assert_same(actor.act(o, 0.5), actor2.act(o, 0.5))


def folder_bytes(folder: Path) -> int:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())


@pytest.mark.parametrize("steps", [3, 70, 300])  # nearly empty, about half, wrapped
def test_a_checkpoint_holds_only_the_filled_part_of_the_replay(tmp_path: Path, steps: int) -> None:
    """A 6,000-step run used to write the whole pre-allocated replay (2.1 GB at 0.4 % full)."""
    torch.manual_seed(0)
    cfg = AgentConfig(burn_in=2, seq_len=5, n_step=2, period=2, batch_size=4)
    learner = Learner(QNetwork(TINY), cfg, "cpu")
    replay = SequenceReplay.from_memory_budget(  # about 128 ring slots per env
        2 * 128 * 1500, 2, cfg.seq_len, cfg.burn_in, cfg.n_step, cfg.period,
        learner.net.state_size, seed=2,
    )  # fmt: skip
    rng = np.random.default_rng(0)
    for t in range(steps):
        obs = {"screen": rng.integers(0, 4, (2, 72, 80), dtype=np.uint8),
               "map_id": rng.integers(0, 256, 2), "features": rng.random((2, 24), np.float32)}  # fmt: skip
        states = rng.random((2, learner.net.state_size), np.float32) if replay.needs_state else None
        replay.add(obs, rng.integers(0, 7, 2), rng.random(2, np.float32), np.zeros(2, bool),
                   np.full(2, t == 0), states)  # fmt: skip
    n = min(steps, replay.capacity_per_env)
    filled = replay.nbytes * n // replay.capacity_per_env  # every array scales with the slots
    manager = CheckpointManager(tmp_path)
    nets = {"model": learner.net.state_dict(), "learner": learner.state_dict()}
    without = folder_bytes(manager.save(1, nets))
    with_replay = folder_bytes(manager.save(2, {**nets, "replay": replay.state_dict()}))
    assert with_replay - without <= 1.1 * filled + 4096  # + .npy headers and the part's JSON
    if steps == 3:
        assert with_replay - without < replay.nbytes / 20
    _, loaded = manager.load_latest()
    again = SequenceReplay.from_memory_budget(
        2 * 128 * 1500, 2, cfg.seq_len, cfg.burn_in, cfg.n_step, cfg.period,
        learner.net.state_size, seed=0,
    )  # fmt: skip
    again.load_state_dict(loaded["replay"], copy=False)  # the trainer's resume
    for name, arr in replay._arrays().items():
        np.testing.assert_array_equal(getattr(again, name), arr, err_msg=name)
    assert again.steps_added == steps


@pytest.mark.parametrize("keep_last", [1, 2, 3])
def test_keep_last_prunes_the_oldest(tmp_path: Path, keep_last: int) -> None:
    manager = CheckpointManager(tmp_path, keep_last=keep_last)
    for step in range(0, 50, 10):
        manager.save(step, small_payload(step))
    kept = list(range(0, 50, 10))[-keep_last:]
    assert manager.list_complete() == kept
    assert sorted(p.name for p in manager.dir.iterdir()) == sorted(
        [LATEST, *(f"step_{s}" for s in kept)]
    )


def test_latest_names_the_newest_complete_checkpoint(tmp_path: Path) -> None:
    manager = CheckpointManager(tmp_path)
    for step in (5, 15, 25):
        manager.save(step, small_payload(step))
        assert (manager.dir / LATEST).read_text().strip() == f"step_{step}"
    step, loaded = manager.load_latest()
    assert step == 25 and loaded["model"]["step"] == 25


@pytest.mark.parametrize("pointer", ["step_5", "step_99", "garbage\n", ""])
def test_stale_or_bad_latest_pointer_does_not_change_what_loads(
    tmp_path: Path, pointer: str
) -> None:
    manager = CheckpointManager(tmp_path)
    for step in (5, 15):
        manager.save(step, small_payload(step))
    (manager.dir / LATEST).write_text(pointer)
    step, loaded = manager.load_latest()
    assert step == 15 and loaded["model"]["step"] == 15


def test_no_checkpoint_loads_as_none(tmp_path: Path) -> None:
    assert CheckpointManager(tmp_path).load_latest() is None


def leave_unmarked_step(manager: CheckpointManager) -> None:
    """A save killed after the rename, before the COMPLETE marker."""
    manager.save(30, small_payload(30))
    (manager.path(30) / COMPLETE).unlink()


def leave_half_written_temp(manager: CheckpointManager) -> None:
    """A save killed while writing files into its temp folder."""
    tmp = manager.dir / f"{checkpoint.TMP_PREFIX}step_30_12345"
    (tmp / "replay").mkdir(parents=True)
    (tmp / "replay" / "a0.npy").write_bytes(b"\x93NUMPY half")
    (tmp / "model.json").write_text('{"w": {"__ten')


def leave_unrenamed_marker(manager: CheckpointManager) -> None:
    """A save killed while writing the marker: only its temp name exists."""
    manager.save(30, small_payload(30))
    os.rename(manager.path(30) / COMPLETE, manager.path(30) / f"{checkpoint.TMP_PREFIX}{COMPLETE}")


@pytest.mark.parametrize(
    "leave", [leave_unmarked_step, leave_half_written_temp, leave_unrenamed_marker]
)
def test_interrupted_save_is_ignored_and_cleaned_up(tmp_path: Path, leave) -> None:
    manager = CheckpointManager(tmp_path, keep_last=5)
    manager.save(20, small_payload(20))
    leave(manager)
    step, loaded = manager.load_latest()
    assert step == 20 and loaded["model"]["step"] == 20
    assert manager.list_complete() == [20]
    manager.save(40, small_payload(40))  # the next save removes the leftovers
    assert sorted(p.name for p in manager.dir.iterdir()) == [LATEST, "step_20", "step_40"]


class FullDisk:
    """Replaces `_FdWriter.write`: writes `budget` bytes in all, then fails like a full disk."""

    def __init__(self, budget: int) -> None:
        self.left = budget
        self.sizes: list[int] = []  # bytes of each completed write, in order
        self.original = checkpoint._FdWriter.write

    def __call__(self, writer: checkpoint._FdWriter, data: Any) -> int:
        view = memoryview(data).cast("B")
        if len(view) <= self.left:
            self.left -= len(view)
            self.sizes.append(len(view))
            return self.original(writer, view)
        os.write(writer.fd, view[: self.left])  # a short write, as a filling disk gives
        self.left = 0
        writer.error = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        raise writer.error

    def install(self, mp: pytest.MonkeyPatch) -> None:
        """Patch it in as a method (an instance attribute of the class would not bind `self`)."""
        mp.setattr(checkpoint._FdWriter, "write", lambda writer, data: self(writer, data))


PAYLOAD = {
    "learner": {"w": torch.randn(64, 64, generator=torch.Generator().manual_seed(0)), "n": 3},
    "replay": {"screens": np.ones((50, 1440), np.uint8), "rewards": np.ones(50, np.float32)},
}


def checkpoint_bytes(tmp_path: Path) -> int:
    """Bytes a save of PAYLOAD writes before its `latest` pointer (the last write)."""
    counter = FullDisk(2**62)
    with pytest.MonkeyPatch.context() as mp:
        counter.install(mp)
        CheckpointManager(tmp_path / "count").save(2, PAYLOAD)
    return sum(counter.sizes[:-1])


@pytest.mark.parametrize("fraction", [0.0, 0.01, 0.3, 0.7, 0.999, 1.0])
def test_disk_full_is_a_clear_error_and_keeps_the_previous_checkpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fraction: float
) -> None:
    """Fails at a point of the write (1.0: the COMPLETE marker's last byte)."""
    total = checkpoint_bytes(tmp_path)
    budget = min(int(total * fraction), total - 1)
    manager = CheckpointManager(tmp_path / "run")
    manager.save(1, small_payload(1))
    FullDisk(budget).install(monkeypatch)
    with pytest.raises(CheckpointError) as info:
        manager.save(2, PAYLOAD)
    message = str(info.value)
    assert "disk full" in message and "step_1 is intact" in message and "\n" not in message
    monkeypatch.undo()
    step, loaded = manager.load_latest()
    assert step == 1
    assert_same(loaded, small_payload(1))
    assert sorted(p.name for p in manager.dir.iterdir()) == [LATEST, "step_1"]


def test_disk_full_after_the_marker_keeps_the_new_checkpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only the `latest` pointer failed: the checkpoint is complete, and it is what loads."""
    manager = CheckpointManager(tmp_path / "run")
    manager.save(1, small_payload(1))
    FullDisk(checkpoint_bytes(tmp_path)).install(monkeypatch)
    manager.save(2, PAYLOAD)
    monkeypatch.undo()
    assert (manager.dir / LATEST).read_text().strip() == "step_1"
    step, loaded = manager.load_latest()
    assert step == 2
    assert_same(loaded, PAYLOAD)


class Evil:
    """Unpickling this runs code: it writes `marker` (a real exploit would do worse)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return exec, (f"open({str(self.marker)!r}, 'w').write('pwned')",)


def tamper_torch_file(folder: Path, marker: Path) -> None:
    torch.save({"t0": Evil(marker)}, folder / "model.pt")


def tamper_raw_pickle(folder: Path, marker: Path) -> None:
    (folder / "model.pt").write_bytes(pickle.dumps({"t0": Evil(marker)}))


def tamper_object_array(folder: Path, marker: Path) -> None:
    np.save(folder / "replay" / "a0.npy", np.array([Evil(marker)], dtype=object), allow_pickle=True)


def tamper_part_name(folder: Path, marker: Path) -> None:
    meta = json.loads((folder / "meta.json").read_text())
    meta["parts"] = ["../../escape"]
    (folder / "meta.json").write_text(json.dumps(meta))


def tamper_array_reference(folder: Path, marker: Path) -> None:
    (folder / "replay.json").write_text(json.dumps({"screens": {"__ndarray__": "../../x"}}))


@pytest.mark.parametrize(
    "tamper",
    [
        tamper_torch_file,
        tamper_raw_pickle,
        tamper_object_array,
        tamper_part_name,
        tamper_array_reference,
    ],
)
@pytest.mark.filterwarnings("ignore:Detected pickle protocol")  # torch, on the raw pickle
def test_tampered_checkpoint_is_refused_without_running_its_code(tmp_path: Path, tamper) -> None:
    manager = CheckpointManager(tmp_path / "run")
    manager.save(1, small_payload(1))
    marker = tmp_path / "pwned"
    tamper(manager.path(1), marker)
    with pytest.raises(CheckpointError) as info:
        manager.load_latest()
    assert not marker.exists()
    message = str(info.value)
    assert "\n" not in message and "weights_only=False" not in message and "step_1" in message


def test_other_model_size_is_refused_in_one_readable_line(tmp_path: Path) -> None:
    manager = CheckpointManager(tmp_path)
    manager.save(100, small_payload(100), config={"model_size": "large", "num_actions": 7})
    with pytest.raises(CheckpointError) as info:
        manager.load_latest(expected={"model_size": "slim", "num_actions": 7})
    message = str(info.value)
    assert "\n" not in message
    assert "model_size: checkpoint has 'large', this run has 'slim'" in message
    assert "num_actions" not in message  # only what differs
    assert manager.load_latest(expected={"model_size": "large"})[0] == 100


def test_other_format_version_is_refused(tmp_path: Path) -> None:
    manager = CheckpointManager(tmp_path)
    manager.save(1, small_payload(1))
    meta_path = manager.path(1) / "meta.json"
    meta = json.loads(meta_path.read_text())
    meta_path.write_text(json.dumps({**meta, "format_version": 99}))
    with pytest.raises(CheckpointError, match="format version 99"):
        manager.load_latest(expected={})


@pytest.mark.parametrize(
    ("payload", "config", "match"),
    [
        ({"model": {"net": object()}}, None, r"model.net: cannot store a object"),
        ({"replay": {"a": np.array([None], dtype=object)}}, None, "object arrays"),
        ({"bad/name": {}}, None, "part name"),
        ({"model": [1, 2]}, None, "must be a dict"),
        ({}, None, "payload is empty"),
        ({"model": {}}, {"root": Path("/x")}, "config must hold plain JSON"),
    ],
)
def test_unstorable_payload_is_a_clear_error_and_writes_nothing(
    tmp_path: Path, payload: dict, config: dict | None, match: str
) -> None:
    manager = CheckpointManager(tmp_path, keep_last=2)
    manager.save(1, small_payload(1))
    with pytest.raises(CheckpointError, match=match):
        manager.save(2, payload, config=config)
    assert manager.list_complete() == [1]
    assert sorted(p.name for p in manager.dir.iterdir()) == [LATEST, "step_1"]


def test_saving_an_older_step_than_the_newest_is_refused(tmp_path: Path) -> None:
    manager = CheckpointManager(tmp_path)
    manager.save(10, small_payload(10))
    with pytest.raises(CheckpointError, match="newer step_10"):
        manager.save(5, small_payload(5))


def test_saving_a_complete_step_again_keeps_it(tmp_path: Path) -> None:
    """Resume at N then stop at N: the existing checkpoint is never replaced (no kill window)."""
    manager = CheckpointManager(tmp_path)
    manager.save(10, small_payload(10))
    before = (manager.path(10) / "meta.json").stat().st_mtime_ns
    manager.save(10, small_payload(10))
    assert (manager.path(10) / "meta.json").stat().st_mtime_ns == before
    assert manager.load_latest()[0] == 10


def test_bad_keep_last_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="keep_last"):
        CheckpointManager(tmp_path, keep_last=0)
