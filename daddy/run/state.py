"""Every checkpointed part of a run in one object (acme keeps all learner state in one structure).

`TrainState.state_dict()` is the checkpoint payload and `load_state_dict` the resume: the list
of parts lives here once. The counters are plain fields of `Counters`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import torch

from daddy.run.builder import Components


@dataclass
class Counters:
    """The run's counters, saved with every checkpoint."""

    step: int = 0  # env steps summed over envs (one vector step of 32 envs is 32 steps)
    episodes: int = 0  # finished episodes, all envs
    logger_rows: int = 0  # rows of episodes.h5 that belong to this checkpoint
    update_credit: float = 0.0  # fractional learner updates owed (replay ratio bookkeeping)
    worker_restarts: int = 0  # emulator workers restarted before this process started


class TrainState:
    """The counters plus the components a checkpoint holds."""

    def __init__(self, c: Components) -> None:
        self.c = c
        self.counters = Counters()

    def state_dict(self, *, logger_rows: int, restarts_now: int) -> dict[str, Any]:
        c, n = self.c, self.counters
        counters = {**asdict(n), "logger_rows": logger_rows,
                    "worker_restarts": n.worker_restarts + restarts_now}  # fmt: skip
        return {
            "model": c.learner.net.state_dict(),
            "learner": {k: v for k, v in c.learner.state_dict().items() if k != "online"},
            "replay": c.replay.state_dict(),
            "actor": c.actor.state_dict(),
            "intrinsic": c.intrinsic.state_dict(),
            "curriculum": c.curriculum.state_dict(),
            "watcher": c.watcher.state_dict(),
            "visits": c.visits.state_dict(),
            "counters": counters,
            "rng": {"torch": torch.get_rng_state()},
        }

    def load_state_dict(self, p: dict[str, Any]) -> None:
        c = self.c
        c.learner.load_state_dict({"online": p["model"], **p["learner"]})
        c.updates.sync_acting_net()
        c.replay.load_state_dict(p["replay"], copy=False)
        c.actor.load_state_dict(p["actor"])
        c.intrinsic.load_state_dict(p["intrinsic"])
        c.curriculum.load_state_dict(p["curriculum"])
        c.watcher.load_state_dict(p["watcher"])
        c.visits.load_state_dict(p["visits"])
        k = p["counters"]
        self.counters = Counters(
            step=int(k["step"]), episodes=int(k["episodes"]), logger_rows=int(k["logger_rows"]),
            update_credit=float(k["update_credit"]), worker_restarts=int(k["worker_restarts"]),
        )  # fmt: skip
        torch.set_rng_state(p["rng"]["torch"])


def must_match(cfg: Any) -> dict[str, Any]:
    """What a checkpoint must agree on to be resumed (others may change between segments)."""
    keys = ("model_size", "num_envs", "run_name", "seq_len", "burn_in", "n_step")
    return {k: getattr(cfg, k) for k in keys}


def nonfinite_tensors(tree: Any, where: str = "") -> list[str]:
    """Paths of the floating-point tensors in `tree` that hold NaN or inf."""
    if isinstance(tree, torch.Tensor):
        bad = tree.is_floating_point() and not bool(torch.isfinite(tree).all())
        return [where.lstrip(".")] if bad else []
    if isinstance(tree, dict):
        return [p for k, v in tree.items() for p in nonfinite_tensors(v, f"{where}.{k}")]
    if isinstance(tree, (list, tuple)):
        return [p for i, v in enumerate(tree) for p in nonfinite_tensors(v, f"{where}[{i}]")]
    return []
