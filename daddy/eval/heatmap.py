"""Visit heatmaps: how often the agents stood on each (map, x, y) cell.

Every env adds the cell it stands on each step; the trainer merges the envs' counts and saves
them with each checkpoint as plain arrays (`state_dict()`: four numpy arrays, no pickled objects,
stored as the checkpoint part `CHECKPOINT_PART`), so a resumed run keeps counting and the report
can draw where the agents have been. `save`/`load` write the same arrays as a standalone `.npz`
(`runs/<run>/heatmap.npz`) for tools that should not open checkpoints.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from daddy.game.maps import GROUP_TITLES, GROUPS, map_group, map_name, map_sizes
from daddy.io import atomic_write
from daddy.run.paths import HEATMAP

if TYPE_CHECKING:
    from matplotlib.figure import Figure

CHECKPOINT_PART = "visits"  # payload key the trainer stores `state_dict()` under
RUN_FILE = HEATMAP  # optional standalone copy in the run folder (RunPaths.heatmap)
_KEYS = ("map", "x", "y", "count")


def _pack(map_id: int, x: int, y: int) -> int:
    return (map_id & 0xFF) << 16 | (y & 0xFF) << 8 | (x & 0xFF)


class VisitCounts:
    """Sparse counts of visited cells; map, x and y are the game's bytes (0–255)."""

    def __init__(self) -> None:
        self._counts: dict[int, int] = {}

    def __len__(self) -> int:
        """Number of distinct cells visited."""
        return len(self._counts)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, VisitCounts) and self._counts == other._counts

    @property
    def total(self) -> int:
        """Number of visits (env steps) counted."""
        return sum(self._counts.values())

    def add_cell(self, map_id: int, x: int, y: int, n: int = 1) -> None:
        """Count one step on one cell (the per-step fast path)."""
        key = _pack(map_id, x, y)
        self._counts[key] = self._counts.get(key, 0) + n

    def add(self, cells: Iterable[tuple[int, int, int]] | np.ndarray) -> None:
        """Count a batch of (map, x, y) cells, e.g. one per env from a vectorised step."""
        arr = np.asarray(list(cells) if not isinstance(cells, np.ndarray) else cells)
        if arr.size == 0:
            return
        if arr.ndim != 2 or arr.shape[1] != 3:
            raise ValueError(
                f"cells must be (map, x, y) triples; got an array of shape {arr.shape}"
            )
        arr = arr.astype(np.int64) & 0xFF
        keys, counts = np.unique(arr[:, 0] << 16 | arr[:, 2] << 8 | arr[:, 1], return_counts=True)
        for key, n in zip(keys.tolist(), counts.tolist()):
            self._counts[key] = self._counts.get(key, 0) + n

    def merge(self, other: VisitCounts) -> VisitCounts:
        """Add another env's (or job's) counts into this one; returns self for chaining."""
        for key, n in other._counts.items():
            self._counts[key] = self._counts.get(key, 0) + n
        return self

    def count(self, map_id: int, x: int, y: int) -> int:
        return self._counts.get(_pack(map_id, x, y), 0)

    def maps(self) -> list[int]:
        """Map ids with at least one visit, ascending."""
        return sorted({key >> 16 for key in self._counts})

    def grid(
        self,
        map_id: int,
        sizes: Mapping[int, tuple[int, int]] | None = None,
    ) -> np.ndarray:
        """Counts of one map as a (rows=y, cols=x) array covering at least the map's size in
        steps (`sizes`: `maps.map_sizes()`, Pokémon Red's by default) and every visited cell."""
        rows0, cols0 = (map_sizes() if sizes is None else sizes).get(map_id, (1, 1))
        cells = [
            (key >> 8 & 0xFF, key & 0xFF, n)
            for key, n in self._counts.items()
            if key >> 16 == map_id
        ]
        rows = max([rows0] + [y + 1 for y, _, _ in cells])
        cols = max([cols0] + [x + 1 for _, x, _ in cells])
        out = np.zeros((max(rows, 1), max(cols, 1)), dtype=np.int64)
        for y, x, n in cells:
            out[y, x] = n
        return out

    # --- plain arrays for checkpoints (no pickle) --------------------------------------------
    def state_dict(self) -> dict[str, np.ndarray]:
        """`{"map","x","y": uint8[K], "count": uint64[K]}`, sorted by (map, y, x)."""
        keys = np.array(sorted(self._counts), dtype=np.int64)
        counts = np.array([self._counts[k] for k in keys.tolist()], dtype=np.uint64)
        return {
            "map": (keys >> 16 & 0xFF).astype(np.uint8),
            "x": (keys & 0xFF).astype(np.uint8),
            "y": (keys >> 8 & 0xFF).astype(np.uint8),
            "count": counts,
        }

    def load_state_dict(self, arrays: Mapping[str, np.ndarray]) -> None:
        """Replace the counts with a `state_dict()` (e.g. from a checkpoint on resume)."""
        missing = [k for k in _KEYS if k not in arrays]
        if missing:
            raise ValueError(f"visit counts need arrays {list(_KEYS)}; missing {missing}")
        cols = [np.asarray(arrays[k]).reshape(-1) for k in _KEYS]
        if len({len(c) for c in cols}) != 1:
            raise ValueError(f"visit count arrays differ in length: {[len(c) for c in cols]}")
        if len(cols[3]) and np.asarray(cols[3]).astype(np.float64).min() < 0:
            raise ValueError("visit counts must not be negative")
        m, x, y = (c.astype(np.int64) & 0xFF for c in cols[:3])
        keys = (m << 16 | y << 8 | x).tolist()
        self._counts = {}
        for key, n in zip(keys, cols[3].astype(np.int64).tolist()):
            self._counts[key] = self._counts.get(key, 0) + n

    @classmethod
    def from_state_dict(cls, arrays: Mapping[str, np.ndarray]) -> VisitCounts:
        out = cls()
        out.load_state_dict(arrays)
        return out

    def save(self, path: str | Path) -> Path:
        """Write `path` (.npz) atomically: a crash mid-write leaves the old file intact."""
        arrays = self.state_dict()

        def write(tmp: Path) -> None:
            with tmp.open("wb") as f:  # a file object: np.savez would append .npz to a name
                np.savez(f, **arrays)

        return atomic_write(path, write, fsync=True)

    @classmethod
    def load(cls, path: str | Path) -> VisitCounts:
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"no visit counts at {path}")
        try:
            with np.load(path, allow_pickle=False) as data:
                return cls.from_state_dict({k: data[k] for k in data.files})
        except (ValueError, OSError) as err:
            raise ValueError(
                f"{path} is not a visit-count file ({err}); delete or replace it"
            ) from err


def render_heatmaps(
    counts: VisitCounts,
    out_dir: str | Path,
    prefix: str = "heatmap",
    *,
    sizes: Mapping[int, tuple[int, int]] | None = None,
) -> list[Path]:
    """One PNG per map group (`<prefix>_<group>.png`), one panel per visited map, log colour;
    `sizes` as in `VisitCounts.grid` (pass `map_sizes(practice=True)` for the practice ROM)."""
    sizes = map_sizes() if sizes is None else sizes
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    cmap = plt.get_cmap("magma").with_extremes(bad="#d0d3d4")

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    by_group: dict[str, list[int]] = {g: [] for g in GROUPS}
    for m in counts.maps():
        by_group[map_group(m)].append(m)
    paths = []
    for group, maps in by_group.items():
        if not maps:
            continue
        # Busiest maps first, at most 24 panels a page so titles stay readable.
        grids = {m: counts.grid(m, sizes) for m in maps}
        maps = sorted(maps, key=lambda m: -int(grids[m].sum()))[:24]
        ncols = min(4, len(maps))
        nrows = math.ceil(len(maps) / ncols)
        fig, axes = plt.subplots(nrows, ncols, figsize=(4.2 * ncols, 3.8 * nrows), squeeze=False)
        for ax in axes.flat[len(maps) :]:
            ax.axis("off")
        for ax, m in zip(axes.flat, maps):
            grid = grids[m]
            shown = np.ma.masked_equal(np.log10(1 + grid), 0.0)  # unvisited cells: grey
            img = ax.imshow(shown, cmap=cmap, interpolation="nearest", vmin=0)
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.yaxis.set_major_locator(MaxNLocator(integer=True))
            ax.set_title(
                f"{map_name(m)} (0x{m:02X})\n{int(grid.sum()):,} visits, "
                f"{int((grid > 0).sum())} cells",
                fontsize=10,
            )
            ax.set_xlabel("x")
            ax.set_ylabel("y")
            fig.colorbar(img, ax=ax, fraction=0.046, pad=0.04, label="log10(1+visits)")
        fig.suptitle(f"Visits: {GROUP_TITLES[group]}", fontsize=13)
        fig.tight_layout()
        paths.append(save_figure(fig, out_dir / f"{prefix}_{group}.png"))
        plt.close(fig)
    return paths


def save_figure(fig: Figure, path: Path, dpi: int = 100) -> Path:
    """Save a figure atomically, so a report being read never shows half a PNG."""
    return atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=dpi))
