"""Visit counts: aggregation across envs, checkpoint round trips, PNG per map group."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from daddy.eval.heatmap import CHECKPOINT_PART, VisitCounts, render_heatmaps
from daddy.game.maps import map_sizes
from daddy.run.checkpoint import CheckpointManager

CELLS = [(0x00, 3, 4), (0x00, 3, 4), (0x00, 5, 4), (0x0C, 8, 30), (0x33, 1, 1), (0x36, 4, 4)]


def counts(cells: list[tuple[int, int, int]] = CELLS) -> VisitCounts:
    v = VisitCounts()
    v.add(cells)
    return v


def test_a_batch_of_env_cells_is_counted_per_cell() -> None:
    v = counts()
    assert v.count(0x00, 3, 4) == 2 and v.count(0x00, 5, 4) == 1 and v.count(0x00, 4, 3) == 0
    assert (len(v), v.total) == (5, 6)
    assert v.maps() == [0x00, 0x0C, 0x33, 0x36]


def test_merging_envs_equals_counting_all_their_cells_together() -> None:
    per_env = [counts(CELLS[:2]), counts(CELLS[2:5]), counts(CELLS[5:])]
    merged = VisitCounts()
    for v in per_env:
        merged.merge(v)
    assert merged == counts()


def test_batch_and_single_cell_paths_agree() -> None:
    one_by_one = VisitCounts()
    for m, x, y in CELLS:
        one_by_one.add_cell(m, x, y)
    assert one_by_one == counts()
    assert one_by_one == counts(np.array(CELLS, dtype=np.uint8))


def test_counts_survive_a_real_checkpoint_round_trip(tmp_path: Path) -> None:
    manager = CheckpointManager(tmp_path)
    manager.save(100, {CHECKPOINT_PART: counts().state_dict()})
    step, payload = manager.load_latest()
    restored = VisitCounts()
    restored.load_state_dict(payload[CHECKPOINT_PART])
    assert step == 100 and restored == counts()
    restored.add_cell(0x00, 3, 4)  # a resumed run keeps counting
    assert restored.count(0x00, 3, 4) == 3


def test_standalone_file_round_trips(tmp_path: Path) -> None:
    path = counts().save(tmp_path / "heatmap.npz")
    assert VisitCounts.load(path) == counts()
    assert [p.name for p in tmp_path.iterdir()] == ["heatmap.npz"]


@pytest.mark.parametrize(
    "content, message",
    [
        (b"not an npz", "not a visit-count file"),
        (None, "no visit counts"),
    ],
)
def test_bad_files_give_one_readable_line(
    tmp_path: Path, content: bytes | None, message: str
) -> None:
    path = tmp_path / "heatmap.npz"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises((ValueError, FileNotFoundError), match=message) as err:
        VisitCounts.load(path)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize(
    "arrays, message",
    [
        ({"map": np.zeros(2, np.uint8), "x": np.zeros(2, np.uint8)}, "missing"),
        (
            {
                "map": np.zeros(2, np.uint8),
                "x": np.zeros(2, np.uint8),
                "y": np.zeros(1, np.uint8),
                "count": np.ones(2, np.uint64),
            },
            "differ in length",
        ),
    ],
)
def test_malformed_state_dicts_are_refused(arrays: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        VisitCounts().load_state_dict(arrays)


def test_grid_puts_counts_at_row_y_column_x_and_covers_the_map() -> None:
    grid = counts().grid(0x00)
    assert grid.shape == (18, 20)  # Pallet Town, 9 x 10 blocks of 2 x 2 steps
    assert grid[4, 3] == 2 and grid[4, 5] == 1 and grid.sum() == 3
    assert counts([(0x00, 30, 25)]).grid(0x00).shape == (26, 31)  # grows past the table size
    assert counts().grid(0x00, map_sizes(practice=True)).shape == (9, 10)  # practice screen


def test_one_png_per_visited_map_group(tmp_path: Path) -> None:
    paths = render_heatmaps(counts(), tmp_path)
    assert sorted(p.name for p in paths) == [
        "heatmap_dungeons.png",
        "heatmap_gyms.png",
        "heatmap_routes.png",
        "heatmap_towns.png",
    ]
    with Image.open(tmp_path / "heatmap_towns.png") as im:
        assert im.size[0] > 200 and im.size[1] > 200


def test_no_visits_render_no_pngs(tmp_path: Path) -> None:
    assert render_heatmaps(VisitCounts(), tmp_path) == []
