"""Read a run's TensorBoard scalars back (`runs/<run>/tb/`), for the report and run comparisons.

Why TensorBoard's own reader: the trainer already writes every learner number there (TD loss,
Q, ε, replay fill, updates/s, system use, time split; `daddy.run.tensorboard`), and
`EventAccumulator` applies the writer's purge rule: a process resumed from step S opened its
writer with `purge_step = S + 1`, and the reader drops what earlier processes wrote at or past
that step. So a curve read here has no doubled or rewound points, like the one TensorBoard draws.

Scalars come back as one DataFrame per tag with columns `step`, `wall_time`, `value`, sorted by
step. Each tag keeps at most `MAX_POINTS` points (TensorBoard's reservoir: evenly thinned, the
newest kept). Reading parses every event of the files (about 20k events a second on one core):
a run with a million points takes about a minute.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import pandas as pd

MAX_POINTS = 5000


def event_files(folder: Path) -> list[Path]:
    return sorted(folder.glob("events.out.tfevents.*")) if folder.is_dir() else []


def read_scalars(
    folder: Path, tags: Iterable[str] | None = None, max_points: int = MAX_POINTS
) -> dict[str, pd.DataFrame]:
    """Tag → DataFrame(step, wall_time, value) of the event files in `folder` ({} when none).

    `tags`: only these (those missing are left out); None: every scalar tag.
    """
    if not event_files(folder):
        return {}
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(
        str(folder),
        size_guidance={"scalars": max_points, "tensors": 1, "images": 1, "histograms": 1,
                       "audio": 1, "compressedHistograms": 1},
    )  # fmt: skip
    acc.Reload()
    have = set(acc.Tags().get("scalars", []))
    wanted = have if tags is None else have & set(tags)
    out = {}
    for tag in sorted(wanted):
        events = acc.Scalars(tag)
        df = pd.DataFrame(
            [(e.step, e.wall_time, e.value) for e in events], columns=["step", "wall_time", "value"]
        )
        out[tag] = df.sort_values("step", kind="stable").reset_index(drop=True)
    return out


def settings_text(folder: Path) -> str | None:
    """The newest `settings/config` text the trainer wrote (YAML), None when there is none."""
    if not event_files(folder):
        return None
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(folder), size_guidance={"tensors": 0, "scalars": 1})
    acc.Reload()
    if "settings/config" not in acc.Tags().get("tensors", []):
        return None
    events = acc.Tensors("settings/config")
    if not events:
        return None
    raw = events[-1].tensor_proto.string_val
    return raw[0].decode("utf-8", "replace") if raw else None
