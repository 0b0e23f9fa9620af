"""RND's state across a resume and its seed: what a checkpoint must carry, what --seed changes."""

from __future__ import annotations

import io

import numpy as np
import torch

from daddy.intrinsic.config import IntrinsicConfig
from daddy.intrinsic.rnd import RND
from daddy.run.config import TrainConfig


def _round_trip(state: dict) -> dict:
    buf = io.BytesIO()
    torch.save(state, buf)
    buf.seek(0)
    return torch.load(buf, weights_only=True)


def _screens(rng: np.random.Generator, n: int = 2) -> np.ndarray:
    return rng.integers(0, 4, size=(n, 72, 80), dtype=np.uint8)


def test_resumed_rnd_folds_screen_statistics_in_on_the_same_steps():
    """Screen statistics are updated on every 4th observe; a resume must continue that count,
    or the resumed run's statistics (and so its rewards) differ from an uninterrupted one."""
    rng = np.random.default_rng(0)
    batches = [_screens(rng) for _ in range(7)]
    straight = RND(IntrinsicConfig())
    for b in batches:
        straight.observe(b)
    first = RND(IntrinsicConfig())
    for b in batches[:2]:
        first.observe(b)
    resumed = RND(IntrinsicConfig())
    resumed.load_state_dict(_round_trip(first.state_dict()))
    for b in batches[2:]:
        resumed.observe(b)
    torch.testing.assert_close(resumed.obs_rms.mean, straight.obs_rms.mean)
    assert float(resumed.obs_rms.count) == float(straight.obs_rms.count)


def test_rnd_checkpoint_without_observe_count_still_loads():
    state = RND(IntrinsicConfig()).state_dict()
    del state["observed"]
    RND(IntrinsicConfig()).load_state_dict(state)


def test_rnd_target_follows_the_run_seed_unless_the_intrinsic_block_names_one():
    assert TrainConfig(seed=3).intrinsic_config().rnd_seed == 3
    assert TrainConfig(seed=3, intrinsic={"rnd_seed": 9}).intrinsic_config().rnd_seed == 9
    a = RND(TrainConfig(seed=0).intrinsic_config()).target.state_dict()
    b = RND(TrainConfig(seed=1).intrinsic_config()).target.state_dict()
    assert any(not torch.equal(a[k], b[k]) for k in a)
