"""The intrinsic rewards' facade: what training and evaluation call, and the rules they share.

Three signals push exploration at different time scales and are summed with the game's reward:

    r_total = r_env + beta_rnd * r_rnd + beta_novel * r_novel + beta_bayes * r_bayes

RND curiosity (`rnd`, novel across the run), episodic novelty (`novelty`, novel within the
episode) and Bayesian milestone shaping (`posteriors`, rare milestones pay more). Rules about
when a part is paid live here, in `IntrinsicRewards.step`, so a training step and an evaluation
step of the same trajectory earn the same r_total.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch

from daddy.game.milestones import DEFAULT_MILESTONES, Milestone
from daddy.game.ram import GameState
from daddy.intrinsic.config import IntrinsicConfig, NoveltyMode
from daddy.intrinsic.novelty import EpisodicNovelty
from daddy.intrinsic.posteriors import MilestonePosteriors, beta_cdf, beta_ppf
from daddy.intrinsic.rnd import RND

__all__ = [  # the old single module's names stay importable from here
    "PARTS", "RND", "EpisodicNovelty", "IntrinsicConfig", "IntrinsicRewards",
    "MilestonePosteriors", "NoveltyMode", "StepRewards", "beta_cdf", "beta_ppf", "curiosity_muted",
]  # fmt: skip

PARTS = ("r_rnd", "r_novel", "r_bayes")


def curiosity_muted(games: Sequence[GameState]) -> np.ndarray:
    """Per env: no RND reward this step, because a text box or menu is open outside battle.

    Their screens are always "new", and an agent paid for them learns to open the START menu
    forever. Battles keep curiosity: their text boxes are how a battle moves on.
    """
    return np.array([bool(g.text_box and not g.in_battle) for g in games], dtype=bool)


@dataclass(frozen=True)
class StepRewards:
    """One vector step's rewards, each (B,) float32; r_total is what the replay stores."""

    r_env: np.ndarray
    r_rnd: np.ndarray
    """RND curiosity, already 0 where `curiosity_muted`."""
    r_novel: np.ndarray
    r_bayes: np.ndarray
    r_total: np.ndarray

    def parts(self) -> dict[str, np.ndarray]:
        """{"r_rnd", "r_novel", "r_bayes"}, as `IntrinsicRewards.compute` returns them."""
        return {"r_rnd": self.r_rnd, "r_novel": self.r_novel, "r_bayes": self.r_bayes}


class IntrinsicRewards:
    """What training and evaluation call: `step` (every reward of one vector step, rules
    applied), `on_episode_end`, `train_step` (RND), and the checkpointed state."""

    def __init__(
        self,
        cfg: IntrinsicConfig,
        num_envs: int,
        milestones: tuple[Milestone, ...] = DEFAULT_MILESTONES,
        device: torch.device | str = "cpu",
    ) -> None:
        self.cfg = cfg
        self.num_envs = num_envs
        self.rnd = RND(cfg, device)
        self.novelty = EpisodicNovelty(num_envs, cfg)
        self.posteriors = MilestonePosteriors(milestones, cfg)

    def compute(
        self,
        obs_batch: Mapping[str, Any],
        game_states: Sequence[GameState],
        newly_reached_masks: Sequence[int] | np.ndarray,
        env_ids: Sequence[int] | np.ndarray | None = None,
        embeddings: np.ndarray | None = None,
    ) -> dict[str, np.ndarray]:
        """Intrinsic parts of one vector step: {"r_rnd", "r_novel", "r_bayes"}, each (B,) float32.

        Raw parts, before the rules: `step` is what a trainer or an evaluation calls.
        `embeddings` (knn mode only) defaults to the RND predictor's hidden layer.
        """
        b = len(game_states)
        if env_ids is None:
            env_ids = np.arange(b)
        if not len(env_ids) == len(newly_reached_masks) == b:
            raise ValueError(
                f"compute got {b} game states, {len(newly_reached_masks)} milestone masks and "
                f"{len(env_ids)} env ids: pass one of each per env in the batch"
            )
        err = self.rnd.observe(obs_batch)
        if len(err) != b:
            raise ValueError(f"compute got {len(err)} screens for {b} game states")
        if self.cfg.novelty == "knn" and embeddings is None:
            assert self.rnd.last_embedding is not None
            embeddings = self.rnd.last_embedding.cpu().numpy()
        cells = [s.cell for s in game_states]
        r_novel = self.novelty.reward(env_ids, cells, embeddings)
        if self.cfg.ngu_combine:
            r_novel = r_novel * self.rnd.ngu_modulation(err)
        r_bayes = np.array(
            [self.posteriors.shaping(int(m)) for m in newly_reached_masks], np.float32
        )
        return {"r_rnd": self.rnd.normalise_errors(err), "r_novel": r_novel, "r_bayes": r_bayes}

    def step(
        self,
        obs_batch: Mapping[str, Any],
        game_states: Sequence[GameState],
        newly_reached_masks: Sequence[int] | np.ndarray,
        r_env: Sequence[float] | np.ndarray,
        env_ids: Sequence[int] | np.ndarray | None = None,
    ) -> StepRewards:
        """Every reward of one vector step: the parts, the rules (`curiosity_muted`), r_total.

        `obs_batch` holds the screens just reached, `game_states` their GameStates and
        `newly_reached_masks` the milestones first reached this step, one per env in the batch.
        Training and evaluation both call this, so they pay the same rewards for a trajectory.
        """
        parts = self.compute(obs_batch, game_states, newly_reached_masks, env_ids)
        r_rnd = np.where(curiosity_muted(game_states), np.float32(0.0), parts["r_rnd"])
        parts["r_rnd"] = r_rnd.astype(np.float32)
        r_env = np.asarray(r_env, dtype=np.float32)
        return StepRewards(r_env=r_env, **parts, r_total=self.total(r_env, parts))

    def total(self, r_env: np.ndarray, parts: Mapping[str, np.ndarray]) -> np.ndarray:
        """r_env + beta_rnd * r_rnd + beta_novel * r_novel + beta_bayes * r_bayes."""
        c = self.cfg
        return (
            np.asarray(r_env, dtype=np.float32)
            + c.beta_rnd * parts["r_rnd"]
            + c.beta_novel * parts["r_novel"]
            + c.beta_bayes * parts["r_bayes"]
        ).astype(np.float32)

    def on_episode_end(self, env_id: int, eligible_mask: int, reached_mask: int) -> int:
        """Update posteriors, reset the env's episodic memory; return newly raised alarms."""
        self.posteriors.update(eligible_mask, reached_mask)
        self.novelty.reset(env_id)
        return self.posteriors.check_alarms()

    def train_step(self, screens: np.ndarray | torch.Tensor) -> float:
        """Fit the RND predictor on replayed screens; returns its loss."""
        return self.rnd.train_step(screens)

    def state_dict(self) -> dict[str, Any]:
        return {
            "config": asdict(self.cfg),
            "rnd": self.rnd.state_dict(),
            "novelty": self.novelty.state_dict(),
            "posteriors": self.posteriors.state_dict(),
        }

    def load_state_dict(self, d: Mapping[str, Any]) -> None:
        self.rnd.load_state_dict(d["rnd"])
        self.novelty.load_state_dict(d["novelty"])
        self.posteriors.load_state_dict(d["posteriors"])
