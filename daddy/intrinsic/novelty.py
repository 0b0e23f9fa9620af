"""Episodic novelty: within one episode of one env, how new the current state is.

Resets at every episode end, so it pushes each episode to spread out, where RND's novelty
(across the whole run) fades once the run has seen a place.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch

from daddy.intrinsic.config import IntrinsicConfig


class EpisodicNovelty:
    """Per-env, per-episode novelty: 1/sqrt(n) with n the visits so far, this one included.

    "count" mode counts map cells (map, x, y): cheap and meaningful in a tile-based game.
    "knn" mode is NGU's pseudo-count: n = 1 + sum of kernel similarities to the k nearest
    embeddings already in this episode's memory (an identical embedding adds exactly 1, so both
    modes agree on exact revisits); states more familiar than s_max earn 0.
    """

    def __init__(self, num_envs: int, cfg: IntrinsicConfig | None = None) -> None:
        if num_envs < 1:
            raise ValueError(f"EpisodicNovelty needs num_envs >= 1, got {num_envs}")
        self.cfg = cfg or IntrinsicConfig()
        self.num_envs = num_envs
        self.counts: list[dict[tuple[int, int, int], int]] = [{} for _ in range(num_envs)]
        self.memory: list[np.ndarray | None] = [None] * num_envs  # knn: (capacity, D) ring
        self.mem_size = np.zeros(num_envs, dtype=np.int64)  # knn: embeddings written this episode
        self.mean_sq_dist = 0.0  # knn: running mean of k-NN squared distances (EMA)

    def _check_env(self, env_id: int) -> int:
        env_id = int(env_id)
        if not 0 <= env_id < self.num_envs:
            raise IndexError(f"env id {env_id} is outside 0..{self.num_envs - 1}")
        return env_id

    def reward(
        self,
        env_ids: Sequence[int] | np.ndarray,
        cells: Sequence[tuple[int, int, int]] | None = None,
        embeddings: np.ndarray | None = None,
    ) -> np.ndarray:
        """Record this step's visit per env and return its novelty (B,) float32."""
        if self.cfg.novelty == "count":
            if cells is None or len(cells) != len(env_ids):
                raise ValueError("count novelty needs one (map, x, y) cell per env id")
            return self._count_reward(env_ids, cells)
        if embeddings is None or len(embeddings) != len(env_ids):
            raise ValueError("knn novelty needs one embedding row per env id")
        return self._knn_reward(env_ids, np.asarray(embeddings, dtype=np.float32))

    def _count_reward(
        self, env_ids: Sequence[int] | np.ndarray, cells: Sequence[tuple[int, int, int]]
    ) -> np.ndarray:
        out = np.empty(len(env_ids), dtype=np.float32)
        for j, (env_id, cell) in enumerate(zip(env_ids, cells)):
            counts = self.counts[self._check_env(env_id)]
            key = (int(cell[0]), int(cell[1]), int(cell[2]))
            n = counts.get(key, 0) + 1
            counts[key] = n
            out[j] = 1.0 / math.sqrt(n)
        return out

    def _knn_reward(self, env_ids: Sequence[int] | np.ndarray, emb: np.ndarray) -> np.ndarray:
        cfg = self.cfg
        out = np.empty(len(env_ids), dtype=np.float32)
        for j, env_id in enumerate(env_ids):
            i = self._check_env(env_id)
            e = emb[j]
            mem = self.memory[i]
            if mem is None or mem.shape[1] != e.shape[0]:
                mem = self.memory[i] = np.zeros((cfg.knn_capacity, e.shape[0]), np.float32)
            filled = int(min(self.mem_size[i], cfg.knn_capacity))
            similarity = 0.0
            if filled:
                d2 = np.square(mem[:filled] - e).sum(1)
                k = min(cfg.knn_k, filled)
                nearest = np.partition(d2, k - 1)[:k]
                mean_nn = float(nearest.mean())
                if self.mean_sq_dist == 0.0:
                    self.mean_sq_dist = mean_nn
                else:
                    self.mean_sq_dist += 0.01 * (mean_nn - self.mean_sq_dist)
                scaled = nearest / max(self.mean_sq_dist, 1e-12)
                scaled = np.maximum(scaled - cfg.knn_cluster_dist, 0.0)
                similarity = float((cfg.knn_kernel_eps / (scaled + cfg.knn_kernel_eps)).sum())
            s = math.sqrt(1.0 + similarity)
            out[j] = 0.0 if s > cfg.knn_max_similarity else 1.0 / s
            mem[self.mem_size[i] % cfg.knn_capacity] = e
            self.mem_size[i] += 1
        return out

    def reset(self, env_id: int) -> None:
        """Forget env `env_id`'s episode (call at its episode end)."""
        i = self._check_env(env_id)
        self.counts[i] = {}
        self.mem_size[i] = 0

    def state_dict(self) -> dict[str, Any]:
        """Counts flattened to tensors (env, map, x, y, n) so weights_only loading works."""
        rows = [(i, *cell, n) for i, c in enumerate(self.counts) for cell, n in c.items()]
        table = torch.tensor(rows, dtype=torch.int64).reshape(-1, 5)
        memories = {
            str(i): torch.from_numpy(m[: int(min(self.mem_size[i], len(m)))].copy())
            for i, m in enumerate(self.memory)
            if m is not None
        }
        return {
            "num_envs": self.num_envs,
            "counts": table,
            "mem_size": torch.from_numpy(self.mem_size.copy()),
            "memory": memories,
            "mean_sq_dist": self.mean_sq_dist,
        }

    def load_state_dict(self, d: Mapping[str, Any]) -> None:
        if int(d["num_envs"]) != self.num_envs:
            raise ValueError(
                f"novelty state is for {d['num_envs']} envs but this run has {self.num_envs}; "
                "resume with the same num_envs"
            )
        self.counts = [{} for _ in range(self.num_envs)]
        for i, m, x, y, n in d["counts"].tolist():
            self.counts[i][(m, x, y)] = n
        self.mem_size = d["mem_size"].numpy().astype(np.int64).copy()
        self.memory = [None] * self.num_envs
        for key, rows in d["memory"].items():
            mem = np.zeros((self.cfg.knn_capacity, rows.shape[1]), np.float32)
            mem[: len(rows)] = rows.numpy()
            self.memory[int(key)] = mem
        self.mean_sq_dist = float(d["mean_sq_dist"])
