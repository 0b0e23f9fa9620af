"""Rollout videos: the Game Boy screen with an info panel, saved as MP4 and GIF.

`render_frame` draws one frame (nearest-neighbour scaled screen, then a panel with map, step,
reward sums, badge icons, the furthest milestone and the next ones' posteriors); `write_rollout`
renders an episode's raw screens and overlays straight into `rollout_<step>.mp4` (H.264,
yuv420p) and `rollout_<step>.gif`, one frame at a time, so a 2,048-step episode never holds
gigabytes of scaled frames. Frame sides
are multiples of 16, the H.264 macro-block size, so ffmpeg never rescales (and blurs) pixel art.

Playing the episode (checkpoint, env, greedy policy) is `daddy.evaluate`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from daddy.game.maps import map_name
from daddy.game.milestones import in_story_order
from daddy.io import atomic_write

SCREEN_H, SCREEN_W = 144, 160
MACRO_BLOCK = 16
BADGE_NAMES = ("Boulder", "Cascade", "Thunder", "Rainbow", "Soul", "Marsh", "Volcano", "Earth")
BADGE_COLOURS = (
    (205, 205, 220),
    (70, 140, 255),
    (255, 170, 40),
    (120, 210, 90),
    (255, 120, 190),
    (220, 190, 60),
    (235, 70, 50),
    (60, 170, 110),
)
_PANEL_BG = (24, 26, 36)
_TEXT = (235, 235, 240)
_DIM = (130, 134, 150)


@dataclass(frozen=True, slots=True)
class Overlay:
    """What the panel shows under one frame. Rewards are the episode's sums so far; NaN means
    "not computed in this rollout" and reads "n/a"."""

    map_id: int
    step: int
    r_env: float = 0.0
    r_total: float = 0.0
    r_rnd: float = 0.0
    r_novel: float = 0.0
    r_bayes: float = 0.0
    badges: int = 0  # wObtainedBadges bitfield, bit 0 = Boulder
    posterior: str = ""  # e.g. from `posterior_summary`


def posterior_summary(
    alpha: Sequence[float],
    beta: Sequence[float],
    labels: Sequence[str],
    reached_mask: int = 0,
    k: int = 3,
) -> str:
    """The furthest milestone reached and the posterior means of the next `k` after it, in
    story order: "Boulder > P(next): Misty 0.10  Cascade 0.05  Vermilion 0.02". Labels of
    DEFAULT_MILESTONES go by its story order (bit order is not story order); others follow,
    in list order."""
    if not len(alpha) == len(beta) == len(labels):
        raise ValueError(
            f"alpha, beta and labels differ in length: {len(alpha)}, {len(beta)}, {len(labels)}"
        )
    order = _story_order(tuple(labels))
    done = [i for i in order if reached_mask >> i & 1]
    start = order.index(done[-1]) + 1 if done else 0
    parts = []
    for i in order[start:]:
        if reached_mask >> i & 1:
            continue
        a, b = alpha[i], beta[i]
        parts.append(f"{labels[i]} {a / (a + b):.2f}" if a + b > 0 else f"{labels[i]} ?")
        if len(parts) == k:
            break
    text = "P(next): " + "  ".join(parts) if parts else "all milestones reached"
    return f"{labels[done[-1]]} > {text}" if done else text


@lru_cache(maxsize=8)
def _story_order(labels: tuple[str, ...]) -> list[int]:
    """Indices of `labels` in story order (see `posterior_summary`)."""
    rank = {m.label: r for r, (_, m) in enumerate(in_story_order())}
    return sorted(range(len(labels)), key=lambda i: (rank.get(labels[i], len(rank)), i))


def frame_shape(scale: int = 3) -> tuple[int, int, int]:
    """(H, W, 3) of a `render_frame` output at this scale."""
    font_px = _font_px(scale)
    return (SCREEN_H * scale + _panel_height(scale, font_px), SCREEN_W * scale, 3)


def render_frame(screen: np.ndarray, overlay: Overlay, scale: int = 3) -> np.ndarray:
    """Scaled screen above an info panel; uint8 (H, W, 3) with H and W multiples of 16."""
    screen = _as_rgb(screen)
    if not isinstance(scale, int) or not 1 <= scale <= 8:
        raise ValueError(f"scale must be an integer from 1 to 8; got {scale!r}")
    big = np.repeat(np.repeat(screen, scale, axis=0), scale, axis=1)
    h, w, _ = frame_shape(scale)
    img = Image.new("RGB", (w, h), _PANEL_BG)
    img.paste(Image.fromarray(big), (0, 0))
    _draw_panel(ImageDraw.Draw(img), overlay, top=SCREEN_H * scale, width=w, scale=scale)
    return np.asarray(img)


def write_rollout(
    screens: Sequence[np.ndarray],
    overlays: Sequence[Overlay],
    out_dir: str | Path,
    step: int | str,
    *,
    scale: int = 3,
    fps: int = 15,
    gif_scale: int = 2,
    gif_max_frames: int = 300,
) -> tuple[Path, Path]:
    """Write `rollout_<step>.mp4` (every frame, at `scale`) and `rollout_<step>.gif` (at most
    `gif_max_frames` evenly spaced frames at `gif_scale`, same playback time) atomically.

    Returns (mp4_path, gif_path).
    """
    if len(screens) != len(overlays):
        raise ValueError(
            f"got {len(screens)} screens but {len(overlays)} overlays; pass one overlay per screen"
        )
    if len(screens) == 0:
        raise ValueError("no frames to write: the rollout recorded nothing")
    if not isinstance(fps, int) or fps <= 0:
        raise ValueError(f"fps must be a positive integer; got {fps!r}")
    if gif_max_frames < 1:
        raise ValueError(f"gif_max_frames must be at least 1; got {gif_max_frames}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    mp4 = out_dir / f"rollout_{step}.mp4"
    gif = out_dir / f"rollout_{step}.gif"
    frames = (render_frame(s, o, scale) for s, o in zip(screens, overlays))
    atomic_write(mp4, lambda tmp: write_mp4(frames, tmp, fps))
    stride = max(1, math.ceil(len(screens) / gif_max_frames))
    picked = [
        render_frame(screens[i], overlays[i], gif_scale) for i in range(0, len(screens), stride)
    ]
    atomic_write(gif, lambda tmp: write_gif(picked, tmp, round(1000 * stride / fps)))
    return mp4, gif


# --- drawing ---------------------------------------------------------------------------------
def _font_px(scale: int) -> int:
    return max(11, 6 * scale)


@lru_cache(maxsize=8)
def _font(px: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    try:
        return ImageFont.load_default(size=px)  # FreeType build of Pillow ≥ 10.1
    except (TypeError, ImportError, OSError):
        return ImageFont.load_default()


def _panel_height(scale: int, font_px: int) -> int:
    lines = 5  # map/step, env/total, rnd/novel/bayes, badges, posterior
    raw = 2 * scale + lines * _line_h(font_px) + 2 * scale
    return -(-raw // MACRO_BLOCK) * MACRO_BLOCK


def _line_h(font_px: int) -> int:
    return round(font_px * 1.35)


def _draw_panel(draw: ImageDraw.ImageDraw, ov: Overlay, top: int, width: int, scale: int) -> None:
    px = _font_px(scale)
    font = _font(px)
    pad = 3 * scale
    lh = _line_h(px)
    y = top + 2 * scale
    step_text = f"step {ov.step:,}"
    draw.text((pad, y), f"{map_name(ov.map_id)}  0x{ov.map_id & 0xFF:02X}", font=font, fill=_TEXT)
    draw.text(
        (width - pad - draw.textlength(step_text, font=font), y), step_text, font=font, fill=_TEXT
    )
    y += lh
    _pairs(draw, (pad, y), [("env", ov.r_env), ("total", ov.r_total)], font, width)
    y += lh
    _pairs(
        draw,
        (pad, y),
        [("rnd", ov.r_rnd), ("novel", ov.r_novel), ("bayes", ov.r_bayes)],
        font,
        width,
    )
    y += lh
    _badges(draw, (pad, y), ov.badges, px, font)
    y += lh
    draw.text(
        (pad, y),
        _fit(draw, ov.posterior or "P(next): n/a", font, width - 2 * pad),
        font=font,
        fill=_TEXT,
    )


def _pairs(
    draw: ImageDraw.ImageDraw,
    xy: tuple[int, int],
    pairs: list[tuple[str, float]],
    font: ImageFont.ImageFont,
    width: int,
) -> None:
    x, y = xy
    col = (width - 2 * x) / len(pairs)
    for i, (label, value) in enumerate(pairs):
        cx = x + i * col
        draw.text((cx, y), label, font=font, fill=_DIM)
        if math.isnan(value):
            text, colour = "n/a", _DIM
        else:
            text = f"{value:+.2f}"
            colour = (120, 220, 120) if value > 0 else (240, 110, 100) if value < 0 else _TEXT
        draw.text((cx + draw.textlength(label + " ", font=font), y), text, font=font, fill=colour)


def _badges(
    draw: ImageDraw.ImageDraw, xy: tuple[int, int], badges: int, px: int, font: ImageFont.ImageFont
) -> None:
    """Eight round icons with the badge's initial; filled in its colour once obtained."""
    x, y = xy
    d = px  # icon diameter
    draw.text((x, y), "badges", font=font, fill=_DIM)
    x += int(draw.textlength("badges ", font=font))
    for bit, (name, colour) in enumerate(zip(BADGE_NAMES, BADGE_COLOURS)):
        box = (x, y + 1, x + d, y + 1 + d)
        if badges >> bit & 1:
            draw.ellipse(box, fill=colour, outline=_TEXT, width=1)
            ink = _PANEL_BG
        else:
            draw.ellipse(box, fill=None, outline=_DIM, width=1)
            ink = _DIM
        small = _font(max(8, px * 2 // 3))
        tw = draw.textlength(name[0], font=small)
        draw.text((x + (d - tw) / 2, y + 1 + d / 2), name[0], font=small, fill=ink, anchor="lm")
        x += d + max(2, d // 3)
    n = (badges & 0xFF).bit_count()
    draw.text((x + d // 3, y), f"{n}/8", font=font, fill=_TEXT)


def _fit(draw: ImageDraw.ImageDraw, text: str, font: ImageFont.ImageFont, width: float) -> str:
    if draw.textlength(text, font=font) <= width:
        return text
    while text and draw.textlength(text + "...", font=font) > width:
        text = text[:-1]
    return text + "..."


# --- checks and writers ----------------------------------------------------------------------
def _as_rgb(screen: np.ndarray) -> np.ndarray:
    """Accept PyBoy's (144,160,4) RGBA, (144,160,3) RGB or (144,160) grey; return RGB uint8."""
    screen = np.asarray(screen)
    if screen.ndim == 2:
        screen = np.repeat(screen[:, :, None], 3, axis=2)
    if (
        screen.ndim != 3
        or screen.shape[:2] != (SCREEN_H, SCREEN_W)
        or screen.shape[2] not in (3, 4)
    ):
        raise ValueError(
            f"screen must be the Game Boy's 144x160 pixels (RGB or RGBA); got shape {screen.shape}"
        )
    if screen.dtype != np.uint8:
        raise ValueError(f"screen must be uint8; got {screen.dtype}")
    return np.ascontiguousarray(screen[:, :, :3])


def _checked(frames: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
    """uint8 (H, W, 3) frames of one shape with sides that are multiples of 16 (H.264 blocks)."""
    first: tuple[int, ...] | None = None
    for i, f in enumerate(frames):
        f = np.asarray(f)
        if first is None:
            if f.ndim != 3 or f.shape[2] != 3 or f.dtype != np.uint8:
                raise ValueError(f"frames must be uint8 (H, W, 3); got {f.dtype} {f.shape}")
            if f.shape[0] % MACRO_BLOCK or f.shape[1] % MACRO_BLOCK:
                raise ValueError(
                    f"frame sides must be multiples of {MACRO_BLOCK} for H.264; "
                    f"got {f.shape[1]}x{f.shape[0]} (render with render_frame)"
                )
            first = f.shape
        elif f.shape != first or f.dtype != np.uint8:
            raise ValueError(f"frame {i} is {f.dtype} {f.shape}; frame 0 is uint8 {first}")
        yield f
    if first is None:
        raise ValueError("no frames to write: the rollout recorded nothing")


def write_mp4(frames: Iterable[np.ndarray], path: str | Path, fps: int) -> int:
    """Stream frames into an H.264 MP4 (yuv420p, plays everywhere); returns the frame count."""
    import imageio.v2 as iio

    writer = iio.get_writer(
        Path(path),
        format="FFMPEG",
        mode="I",
        fps=fps,
        codec="libx264",
        pixelformat="yuv420p",
        macro_block_size=MACRO_BLOCK,
        quality=None,
        ffmpeg_log_level="error",
        output_params=["-crf", "18", "-preset", "veryfast", "-movflags", "+faststart"],
    )
    n = 0
    try:
        for f in _checked(frames):
            writer.append_data(f)
            n += 1
    finally:
        writer.close()
    return n


def write_gif(frames: Sequence[np.ndarray], path: str | Path, duration_ms: int) -> None:
    """Looping GIF via Pillow; `duration_ms` is each frame's display time in milliseconds
    (GIF stores 10 ms units). Pillow merges identical consecutive frames, adding durations."""
    frames = list(_checked(frames))
    images = [
        Image.fromarray(f).quantize(colors=255, method=Image.Quantize.MEDIANCUT) for f in frames
    ]
    images[0].save(
        Path(path),
        format="GIF",
        save_all=True,
        append_images=images[1:],
        duration=int(duration_ms),
        loop=0,
        disposal=1,
    )
