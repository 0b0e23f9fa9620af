"""Rollout videos: MP4/GIF round trips, frame geometry, and an overlay that follows the state."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import imageio.v2 as iio
import numpy as np
import pytest
from PIL import Image

from daddy.eval.video import (
    MACRO_BLOCK,
    SCREEN_H,
    SCREEN_W,
    Overlay,
    frame_shape,
    posterior_summary,
    render_frame,
    write_rollout,
)
from daddy.game.milestones import DEFAULT_MILESTONES


def screens(n: int) -> list[np.ndarray]:
    """Distinct full-resolution frames: a moving bar on a shade that changes."""
    out = []
    for i in range(n):
        s = np.full((SCREEN_H, SCREEN_W, 3), 40 + 5 * i, np.uint8)
        s[:, (8 * i) % SCREEN_W : (8 * i) % SCREEN_W + 8] = 250
        out.append(s)
    return out


def overlays(n: int) -> list[Overlay]:
    return [Overlay(map_id=0x0C, step=i, r_env=0.1 * i, r_total=0.2 * i) for i in range(n)]


@pytest.mark.parametrize("scale", [2, 3])
def test_mp4_decodes_back_with_every_frame_at_the_rendered_size(tmp_path: Path, scale: int) -> None:
    mp4, _ = write_rollout(screens(12), overlays(12), tmp_path, step=500, scale=scale, fps=12)
    assert mp4 == tmp_path / "rollout_500.mp4"
    with iio.get_reader(mp4, format="FFMPEG") as reader:
        codec = reader.get_meta_data()["codec"]
        frames = [f for f in reader.iter_data()]
    assert len(frames) == 12
    assert frames[0].shape == frame_shape(scale)
    assert codec == "h264"


def test_gif_has_one_frame_per_screen_and_millisecond_durations(tmp_path: Path) -> None:
    _, gif = write_rollout(screens(9), overlays(9), tmp_path, step=7, fps=10, gif_scale=2)
    assert gif == tmp_path / "rollout_7.gif"
    with Image.open(gif) as im:
        assert im.n_frames == 9
        assert im.size == frame_shape(2)[1::-1]
        assert im.info["duration"] == 100  # 1000 ms / 10 fps


def test_long_gif_keeps_every_nth_frame_and_the_playback_time(tmp_path: Path) -> None:
    _, gif = write_rollout(screens(40), overlays(40), tmp_path, step=1, fps=10, gif_max_frames=10)
    with Image.open(gif) as im:
        assert im.n_frames == 10
        assert im.info["duration"] == 400  # every 4th frame, shown 4x as long


def test_no_temp_files_are_left_next_to_the_videos(tmp_path: Path) -> None:
    write_rollout(screens(3), overlays(3), tmp_path, step=3)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rollout_3.gif", "rollout_3.mp4"]


@pytest.mark.parametrize("scale", [1, 2, 3, 4])
def test_frame_sides_are_multiples_of_the_h264_macro_block(scale: int) -> None:
    frame = render_frame(screens(1)[0], overlays(1)[0], scale)
    h, w, _ = frame.shape
    assert (h % MACRO_BLOCK, w % MACRO_BLOCK) == (0, 0)
    assert w == SCREEN_W * scale and h > SCREEN_H * scale


def test_screen_is_scaled_pixel_exact_above_the_panel() -> None:
    screen = screens(2)[1]
    frame = render_frame(screen, overlays(1)[0], 3)
    np.testing.assert_array_equal(frame[: SCREEN_H * 3 : 3, ::3], screen)
    np.testing.assert_array_equal(frame[2 : SCREEN_H * 3 : 3, 2::3], screen)


@pytest.mark.parametrize(
    "change",
    [
        {"map_id": 0x01},
        {"step": 99},
        {"r_env": 3.5},
        {"r_total": -1.0},
        {"r_rnd": 0.7},
        {"r_novel": float("nan")},
        {"r_bayes": 2.0},
        {"badges": 0b1},
        {"badges": 0b1000_0000},
        {"posterior": "P(next): Route1 0.80"},
    ],
)
def test_overlay_pixels_change_when_the_state_changes(change: dict) -> None:
    base = Overlay(map_id=0x00, step=10, posterior="P(next): Route1 0.20")
    screen = screens(1)[0]
    before = render_frame(screen, base, 3)
    after = render_frame(screen, dataclasses.replace(base, **change), 3)
    top = SCREEN_H * 3
    np.testing.assert_array_equal(before[:top], after[:top])  # the game screen is untouched
    assert (before[top:] != after[top:]).any(axis=2).sum() > 20


@pytest.mark.parametrize("shape", [(144, 160, 4), (144, 160)])
def test_rgba_and_grey_screens_are_accepted(shape: tuple[int, ...]) -> None:
    frame = render_frame(np.zeros(shape, np.uint8), overlays(1)[0], 2)
    assert frame.shape == frame_shape(2)


@pytest.mark.parametrize(
    "screen, message",
    [
        (np.zeros((72, 80, 3), np.uint8), "144x160"),
        (np.zeros((144, 160, 3), np.float32), "uint8"),
    ],
)
def test_wrong_screens_are_refused_with_one_line(screen: np.ndarray, message: str) -> None:
    with pytest.raises(ValueError, match=message) as err:
        render_frame(screen, overlays(1)[0])
    assert "\n" not in str(err.value)


@pytest.mark.parametrize(
    "n_screens, n_overlays, message",
    [
        (0, 0, "no frames"),
        (3, 2, "one overlay per screen"),
    ],
)
def test_write_rollout_refuses_mismatched_or_empty_input(
    tmp_path: Path, n_screens: int, n_overlays: int, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        write_rollout(screens(n_screens), overlays(n_overlays), tmp_path, step=0)
    assert not list(tmp_path.iterdir())


def test_posterior_summary_names_the_next_unreached_milestones() -> None:
    alpha, beta = [8.0, 3.0, 1.0, 1.0], [2.0, 1.0, 3.0, 9.0]
    labels = ["Starter", "Route1", "Viridian", "Forest"]
    assert posterior_summary(alpha, beta, labels, k=2) == "P(next): Starter 0.80  Route1 0.75"
    assert (
        posterior_summary(alpha, beta, labels, reached_mask=0b011, k=2)
        == "Route1 > P(next): Viridian 0.25  Forest 0.10"
    )
    assert posterior_summary(alpha, beta, labels, reached_mask=0b1111) == (
        "Forest > all milestones reached"
    )


def test_posterior_summary_goes_by_story_order_not_bit_order() -> None:
    """Bits 14+ were appended: the Pokédex (bit 18) comes before the forest (bit 3)."""
    names = [m.name for m in DEFAULT_MILESTONES]
    labels = [m.label for m in DEFAULT_MILESTONES]
    n = len(labels)
    alpha, beta = [1.0] * n, [3.0] * n
    reached = sum(1 << names.index(x) for x in ("got_starter", "route_1", "viridian_city"))
    got = posterior_summary(alpha, beta, labels, reached_mask=reached, k=3)
    assert got == "Viridian > P(next): Parcel 0.25  OakParcel 0.25  Pokedex 0.25"
    reached |= 1 << names.index("pallet_town")  # behind the furthest: changes nothing
    assert posterior_summary(alpha, beta, labels, reached_mask=reached, k=3) == got


def test_posterior_summary_refuses_unequal_lengths() -> None:
    with pytest.raises(ValueError, match="differ in length"):
        posterior_summary([1.0], [1.0, 2.0], ["a"])
