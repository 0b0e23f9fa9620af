"""Crash-safe training checkpoints: `runs/<run>/checkpoints/step_<N>/`.

The folder layout (`step_<N>`, the `COMPLETE` marker, `latest`) and "which checkpoints are
complete" come from `daddy.run.paths`, which the pipeline and evaluation read too.

A checkpoint is written into a private temp folder, every file fsynced, renamed to `step_<N>`,
and only then marked with an empty-ish `COMPLETE` file (dopamine's sentinel). A folder without
the marker is never loaded, so a process killed at any instant leaves the previous checkpoint as
the newest usable one. `latest` (a text file, replaced atomically) names the newest complete one
for people and scripts; loading trusts the markers, not the pointer. Saving a step that is
already complete (resume at N, stop at N) keeps the existing folder: a complete checkpoint is
never renamed away or rewritten, only pruned once `keep_last` newer ones exist.

Each payload part ("model", "replay", ...) is a nested structure. It is stored as JSON for the
plain values, one `torch.save` file for its tensors and one `.npy` per numpy array (the replay
buffer: big arrays go straight to disk, no pickling). Loading never unpickles arbitrary objects:
`torch.load(weights_only=True)`, `np.load(allow_pickle=False)`, JSON. Tuples, bytes and dicts with
non-string keys (an optimizer's state is keyed by int) survive the round trip.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import pickle
import re
import shutil
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import torch

from daddy.io import TMP_PREFIX, atomic_write, fsync_path
from daddy.run.paths import (
    COMPLETE,
    LATEST,
    STEP_DIR,
    RunPaths,
    complete_steps,
    step_dir_name,
    step_of,
)

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
META = "meta.json"
# TMP_PREFIX (daddy.io's): every leftover of an interrupted save, prune or `latest` write
_PART_NAME = re.compile(r"^[A-Za-z0-9_-]+$")
_REF = re.compile(r"^[ta]\d+$")
_MARKERS = ("__tensor__", "__ndarray__", "__bytes__", "__tuple__", "__items__")
_DISK_FULL = (errno.ENOSPC, errno.EDQUOT)


class CheckpointError(RuntimeError):
    """A checkpoint that cannot be written, found or trusted; the message says what to do."""


class CheckpointManager:
    """Saves and loads the checkpoints of one run; one writer at a time.

    `run` is the run's RunPaths or its folder (`runs/<run>`); checkpoints live in
    `RunPaths.checkpoints`."""

    def __init__(self, run: RunPaths | str | os.PathLike[str], keep_last: int = 3) -> None:
        if keep_last < 1:
            raise ValueError(f"keep_last must be >= 1, got {keep_last}")
        self.paths = run if isinstance(run, RunPaths) else RunPaths.from_dir(run)
        self.dir = self.paths.checkpoints
        self.keep_last = keep_last

    # ---- finding -------------------------------------------------------------------------

    def list_complete(self) -> list[int]:
        """Steps of the checkpoints that carry the completion marker, oldest first."""
        return complete_steps(self.dir)

    def path(self, step: int) -> Path:
        """Folder of checkpoint `step` (whether or not it exists or is complete)."""
        return self.dir / step_dir_name(step)

    def read_meta(self, step: int) -> dict[str, Any]:
        """meta.json of a complete checkpoint: step, created, format_version, parts, config."""
        folder = self._complete_folder(step)
        try:
            meta = json.loads((folder / META).read_text())
        except (OSError, ValueError) as e:
            raise CheckpointError(
                f"checkpoint {folder} has an unreadable {META} ({e}); delete the folder to fall "
                "back to an earlier checkpoint"
            ) from e
        parts = meta.get("parts") if isinstance(meta, dict) else None
        if not isinstance(parts, list) or not all(isinstance(p, str) for p in parts):
            raise CheckpointError(
                f"checkpoint {folder} has a {META} without a list of parts; delete the folder to "
                "fall back to an earlier checkpoint"
            )
        return meta

    def _complete_folder(self, step: int) -> Path:
        folder = self.path(step)
        if not (folder / COMPLETE).is_file():
            have = ", ".join(step_dir_name(s) for s in self.list_complete()) or "none"
            raise CheckpointError(
                f"no complete checkpoint {folder.name} in {self.dir} (complete ones: {have})"
            )
        return folder

    # ---- loading -------------------------------------------------------------------------

    def load_latest(
        self, *, expected: Mapping[str, Any] | None = None, map_location: str = "cpu"
    ) -> tuple[int, dict[str, Any]] | None:
        """(step, payload) of the newest complete checkpoint, or None when there is none."""
        steps = self.list_complete()
        pointed = self._read_latest()
        if not steps:
            if pointed is not None:
                log.warning(
                    "`latest` names %s but %s holds no complete checkpoint", pointed, self.dir
                )
            return None
        newest = step_dir_name(steps[-1])
        if pointed is not None and pointed != newest:
            if step_of(pointed) in steps:
                log.info("`latest` lags behind (%s); loading the newer %s", pointed, newest)
            else:
                log.warning(
                    "`latest` names %s, which is missing or incomplete; loading the newest "
                    "complete checkpoint %s",
                    pointed,
                    newest,
                )
        return steps[-1], self.load(steps[-1], expected=expected, map_location=map_location)

    def load(
        self,
        step: int,
        *,
        expected: Mapping[str, Any] | None = None,
        map_location: str = "cpu",
        parts: Iterable[str] | None = None,
    ) -> dict[str, Any]:
        """Payload of checkpoint `step`; with `expected`, refuse a mismatching config first.

        `parts` reads only those parts (e.g. the model without the replay buffer)."""
        meta = self.read_meta(step)
        if expected is not None:
            check_compatible(meta, expected)
        folder = self.path(step)
        wanted = meta["parts"] if parts is None else [p for p in meta["parts"] if p in set(parts)]
        return {part: _load_part(folder, part, map_location) for part in wanted}

    def _read_latest(self) -> str | None:
        try:
            return (self.dir / LATEST).read_text().strip() or None
        except FileNotFoundError:
            return None

    # ---- saving --------------------------------------------------------------------------

    def save(
        self,
        step: int,
        payload: Mapping[str, Mapping[str, Any]],
        *,
        config: Mapping[str, Any] | None = None,
    ) -> Path:
        """Write checkpoint `step` atomically; `config` (model size, ...) goes into meta.json."""
        _check_payload(step, payload, config)
        complete = self.list_complete()
        if complete and step < complete[-1]:
            raise CheckpointError(
                f"refusing to save step_{step}: {self.dir} already holds the newer "
                f"step_{complete[-1]}; resume from it or use a new run name"
            )
        previous = (
            f"the previous checkpoint step_{complete[-1]} is intact"
            if complete
            else "there is no earlier checkpoint"
        )
        final = self.path(step)
        if complete and step == complete[-1]:
            # Resuming at step N and stopping at once saves N again. The folder already holds
            # that step, and replacing a complete checkpoint would open a window (old one
            # renamed away, new one not yet marked) in which a kill loses it.
            log.info("checkpoint %s is already complete; not writing it again", final)
        else:
            try:
                self.dir.mkdir(parents=True, exist_ok=True)
                self.clean_leftovers()
                self._write(step, payload, config or {}, final)
            except OSError as e:
                if e.errno in _DISK_FULL:
                    raise CheckpointError(
                        f"disk full while writing checkpoint step_{step} in {self.dir}: free "
                        f"space or lower keep_last; {previous}"
                    ) from e
                raise CheckpointError(
                    f"could not write checkpoint step_{step} in {self.dir}: {e}; {previous}"
                ) from e
        try:  # the checkpoint is safe now; a failure below only delays pointer and pruning
            self._point_latest(final.name)
            self._prune()
        except OSError as e:
            log.warning(
                "checkpoint %s is complete but updating `latest`/pruning failed: %s", final, e
            )
        return final

    def _write(
        self, step: int, payload: Mapping[str, Mapping[str, Any]], config: Mapping[str, Any],
        final: Path,
    ) -> None:  # fmt: skip
        """Temp folder → fsync → rename → COMPLETE; on any failure nothing half-done remains."""
        tmp = self.dir / f"{TMP_PREFIX}step_{step}_{os.getpid()}"
        try:
            tmp.mkdir()
            for part, tree in payload.items():
                _write_part(tmp, part, tree)
            _write_text(tmp / META, json.dumps(_meta(step, list(payload), config), indent=1))
            fsync_path(tmp)
            os.rename(tmp, final)  # `final` is absent: clean_leftovers removed unmarked ones
            fsync_path(self.dir)
            _replace_text(final / COMPLETE, f"step_{step}\n")  # whole or absent
        except BaseException:
            _remove(tmp)
            if not (final / COMPLETE).is_file():
                _remove(final)
            raise

    def _point_latest(self, name: str) -> None:
        _replace_text(self.dir / LATEST, name + "\n")

    def _prune(self) -> None:
        """Keep the newest `keep_last` complete checkpoints; each vanishes in one rename."""
        for step in self.list_complete()[: -self.keep_last]:
            doomed = self.dir / f"{TMP_PREFIX}del_step_{step}_{os.getpid()}"
            os.rename(self.path(step), doomed)
            _remove(doomed)

    def clean_leftovers(self) -> list[str]:
        """Remove temp folders and unmarked step folders left by a killed save (writer only)."""
        if not self.dir.is_dir():
            return []
        removed = []
        for entry in self.dir.iterdir():
            unmarked = STEP_DIR.match(entry.name) and not (entry / COMPLETE).is_file()
            if entry.name.startswith(TMP_PREFIX) or unmarked:
                _remove(entry)
                removed.append(entry.name)
        if removed:
            log.info("removed leftovers of an interrupted checkpoint: %s", ", ".join(removed))
        return removed


def check_compatible(meta: Mapping[str, Any], expected: Mapping[str, Any]) -> None:
    """Refuse a checkpoint whose format or config (model size, ...) differs from this run's."""
    name = f"step_{meta.get('step', '?')}"
    version = meta.get("format_version")
    if version != FORMAT_VERSION:
        raise CheckpointError(
            f"checkpoint {name} has format version {version}, this code reads {FORMAT_VERSION}: "
            "resume with the matching version of daddy or start a new run name"
        )
    have = meta.get("config", {})
    want = json.loads(json.dumps(dict(expected)))  # tuples → lists, as stored
    diffs = [
        f"{key}: checkpoint has {have[key]!r}, this run has {value!r}"
        if key in have
        else f"{key}: missing in checkpoint, this run has {value!r}"
        for key, value in want.items()
        if have.get(key, _MISSING) != value
    ]
    if diffs:
        raise CheckpointError(
            f"checkpoint {name} does not match this run ({'; '.join(diffs)}): resume with the "
            "checkpoint's settings or start a new run name"
        )


_MISSING = object()


def _one_line(e: BaseException) -> str:
    """The first line of an error: our messages stay one readable line."""
    lines = str(e).strip().splitlines()
    return lines[0] if lines else type(e).__name__


_FALL_BACK = "; delete that checkpoint folder to fall back to an earlier one"


def _meta(step: int, parts: list[str], config: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "format_version": FORMAT_VERSION,
        "step": step,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "parts": parts,
        "config": dict(config),
    }


def _check_payload(step: int, payload: Mapping[str, Any], config: Mapping[str, Any] | None) -> None:
    """Refuse what could not be saved before anything touches the disk."""
    if isinstance(step, bool) or not isinstance(step, int) or step < 0:
        raise CheckpointError(f"checkpoint step must be an int >= 0, got {step!r}")
    try:
        json.dumps(dict(config or {}))
    except (TypeError, ValueError) as e:
        raise CheckpointError(
            f"checkpoint config must hold plain JSON values (str, int, float, bool, lists, "
            f"dicts): {e}"
        ) from e
    if not payload:
        raise CheckpointError("checkpoint payload is empty: pass at least one part")
    for part, tree in payload.items():
        if not isinstance(part, str) or not _PART_NAME.match(part):
            raise CheckpointError(
                f"checkpoint part name {part!r} must be letters, digits, '_' or '-' (a file name)"
            )
        if not isinstance(tree, Mapping):
            raise CheckpointError(
                f"checkpoint part {part!r} must be a dict, got {type(tree).__name__}"
            )


# ---- encoding: nested structure ⇄ JSON + tensors file + .npy files ----------------------------


class _Encoder:
    """Turns one part into a JSON tree, pulling tensors and arrays out by reference."""

    def __init__(self, part: str) -> None:
        self.part = part
        self.tensors: dict[str, torch.Tensor] = {}
        self.arrays: list[np.ndarray] = []

    def encode(self, value: Any, where: str) -> Any:
        """`value` as JSON; `where` (its path in the part) names the culprit in errors."""
        if value is None or isinstance(value, (bool, int, float, str)):
            return value
        if isinstance(value, np.generic):
            return value.item()
        if isinstance(value, torch.Tensor):
            return {"__tensor__": self._tensor(value)}
        if isinstance(value, np.ndarray):
            return {"__ndarray__": self._array(value, where)}
        if isinstance(value, (bytes, bytearray)):
            return {"__bytes__": self._array(np.frombuffer(value, np.uint8), where)}
        if isinstance(value, tuple):
            return {"__tuple__": [self.encode(v, f"{where}[{i}]") for i, v in enumerate(value)]}
        if isinstance(value, list):
            return [self.encode(v, f"{where}[{i}]") for i, v in enumerate(value)]
        if isinstance(value, Mapping):
            return self._mapping(value, where)
        raise CheckpointError(
            f"checkpoint part {self.part!r} at {where}: cannot store a {type(value).__name__}; "
            "use tensors, numpy arrays, numbers, strings, bytes, lists, tuples or dicts"
        )

    def _mapping(self, value: Mapping, where: str) -> Any:
        if all(isinstance(k, str) for k in value) and not any(k in _MARKERS for k in value):
            return {k: self.encode(v, f"{where}.{k}") for k, v in value.items()}
        return {
            "__items__": [
                [self.encode(k, f"{where} key"), self.encode(v, f"{where}[{k!r}]")]
                for k, v in value.items()
            ]
        }

    def _tensor(self, t: torch.Tensor) -> str:
        t = t.detach()
        if t.untyped_storage().nbytes() != t.numel() * t.element_size():
            t = t.clone()  # a view: do not save the whole storage behind it
        ref = f"t{len(self.tensors)}"
        self.tensors[ref] = t
        return ref

    def _array(self, a: np.ndarray, where: str) -> str:
        if a.dtype.hasobject:
            raise CheckpointError(
                f"checkpoint part {self.part!r} at {where}: object arrays would need pickling; "
                "store numeric arrays"
            )
        self.arrays.append(a)
        return f"a{len(self.arrays) - 1}"


def _write_part(folder: Path, part: str, tree: Mapping[str, Any]) -> None:
    enc = _Encoder(part)
    doc = enc.encode(tree, part)
    if enc.arrays:
        (folder / part).mkdir()
        for i, arr in enumerate(enc.arrays):
            _save_array(folder / part / f"a{i}.npy", arr)
        fsync_path(folder / part)
    if enc.tensors:
        _save_tensors(folder / f"{part}.pt", enc.tensors)
    _write_text(folder / f"{part}.json", json.dumps(doc))


def load_part(folder: str | os.PathLike[str], part: str, map_location: str = "cpu") -> Any:
    """One part of the complete checkpoint in `folder`, decoded without unpickling objects."""
    return _load_part(Path(folder), part, map_location)


def _load_part(folder: Path, part: str, map_location: str) -> Any:
    if not _PART_NAME.match(part):
        raise CheckpointError(f"checkpoint {folder} lists a bad part name {part!r}{_FALL_BACK}")
    path = folder / f"{part}.json"
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise CheckpointError(
            f"checkpoint file {path} is unreadable ({_one_line(e)}){_FALL_BACK}"
        ) from e
    pt = folder / f"{part}.pt"
    tensors = _torch_load(pt, map_location) if pt.exists() else {}
    return _decode(doc, folder / part, tensors)


def _decode(doc: Any, arrays: Path, tensors: Mapping[str, torch.Tensor]) -> Any:
    if isinstance(doc, list):
        return [_decode(v, arrays, tensors) for v in doc]
    if not isinstance(doc, dict):
        return doc
    if len(doc) == 1:
        ((key, value),) = doc.items()
        if key == "__tensor__":
            if value not in tensors:
                raise CheckpointError(
                    f"checkpoint {arrays.parent}: tensor {value!r} is missing{_FALL_BACK}"
                )
            return tensors[value]
        if key in ("__ndarray__", "__bytes__"):
            arr = _np_load(arrays, value)
            return arr.tobytes() if key == "__bytes__" else arr
        if key == "__tuple__":
            return tuple(_decode(v, arrays, tensors) for v in value)
        if key == "__items__":
            return {
                _hashable(_decode(k, arrays, tensors)): _decode(v, arrays, tensors)
                for k, v in value
            }
    return {k: _decode(v, arrays, tensors) for k, v in doc.items()}


def _hashable(key: Any) -> Any:
    return tuple(_hashable(k) for k in key) if isinstance(key, (list, tuple)) else key


def _refuse(path: Path, checkpoint: Path, why: str) -> CheckpointError:
    """The error for a file that is not what `save` writes: never load it, say what to do."""
    return CheckpointError(
        f"refusing to load {path}: {why}; a checkpoint holds only tensors, arrays and plain "
        f"values (tampered or foreign file?) - delete {checkpoint} to fall back to an earlier one"
    )


def _torch_load(path: Path, map_location: str) -> dict[str, torch.Tensor]:
    try:
        tensors = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as e:
        raise _refuse(path, path.parent, _unpickling_reason(e)) from e
    except Exception as e:
        raise CheckpointError(
            f"checkpoint file {path} is unreadable ({_one_line(e)}){_FALL_BACK}"
        ) from e
    if not isinstance(tensors, dict) or not all(
        isinstance(t, torch.Tensor) for t in tensors.values()
    ):
        raise _refuse(path, path.parent, "it is not a dict of tensors")
    return tensors


def _unpickling_reason(e: Exception) -> str:
    """What torch's weights-only loader refused, in a few words (e.g. the blocked global).

    Its own message advises re-running with weights_only=False, which is exactly the
    arbitrary-code path a tampered checkpoint wants: never pass that on.
    """
    found = re.search(r"GLOBAL ([\w.]+)", str(e))
    if found:
        return f"it would import and call the Python global {found.group(1)}"
    found = re.search(r"Unsupported operand \d+", str(e))
    return f"it is not a plain tensor file ({found.group(0) if found else type(e).__name__})"


def _np_load(folder: Path, ref: Any) -> np.ndarray:
    if not isinstance(ref, str) or not _REF.match(ref) or not ref.startswith("a"):
        raise CheckpointError(
            f"checkpoint {folder.parent} has a bad array reference {ref!r}{_FALL_BACK}"
        )
    path = folder / f"{ref}.npy"
    try:
        return np.load(path, allow_pickle=False)
    except ValueError as e:
        if "allow_pickle" in str(e):
            raise _refuse(path, folder.parent, "it is an object array that needs unpickling") from e
        raise CheckpointError(
            f"checkpoint file {path} is unreadable ({_one_line(e)}){_FALL_BACK}"
        ) from e
    except OSError as e:
        raise CheckpointError(
            f"checkpoint file {path} is unreadable ({_one_line(e)}){_FALL_BACK}"
        ) from e


# ---- durable file primitives (module level, so tests can inject a full disk) -------------------


class _FdWriter:
    """Unbuffered, complete writes that surface a full disk as OSError(ENOSPC).

    numpy's `tofile` and torch's zip writer report a full disk as a short write or a
    RuntimeError without errno; writing through this keeps the real OSError (`.error`).
    """

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.error: OSError | None = None

    def write(self, data: Any) -> int:
        """Write all of `data` or raise the OSError (a short write is never silent)."""
        view = memoryview(data).cast("B")
        done = 0
        try:
            while done < len(view):
                done += os.write(self.fd, view[done:])
        except OSError as e:
            self.error = e
            raise
        return len(view)

    def flush(self) -> None:
        """Nothing is buffered: torch.save calls this, `_durable` fsyncs at the end."""


@contextmanager
def _durable(path: Path) -> Iterator[_FdWriter]:
    """A writer whose file is fsynced before the block counts as done."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        yield _FdWriter(fd)
        os.fsync(fd)
    finally:
        os.close(fd)


def _save_array(path: Path, arr: np.ndarray) -> None:
    """Plain .npy (header + raw bytes, no pickle) written without an extra copy."""
    arr = np.asarray(arr, order="C")  # copies only a non-contiguous array; keeps 0-d shape
    header = np.lib.format.header_data_from_array_1_0(arr)
    with _durable(path) as w:
        try:
            np.lib.format.write_array_header_1_0(w, header)
        except ValueError:  # header over 64 KiB (huge structured dtype): format 2.0
            np.lib.format.write_array_header_2_0(w, header)
        w.write(arr.reshape(-1).view(np.uint8))


def _save_tensors(path: Path, tensors: dict[str, torch.Tensor]) -> None:
    with _durable(path) as w:
        try:
            torch.save(tensors, w)
        except RuntimeError as e:
            if w.error is not None:  # torch wraps our OSError; give the caller the real one
                raise w.error from e
            raise


def _write_text(path: Path, text: str) -> None:
    with _durable(path) as w:
        w.write(text.encode("utf-8"))


def _replace_text(path: Path, text: str) -> None:
    """`daddy.io.atomic_write`, the bytes going through `_FdWriter` like every checkpoint byte."""
    atomic_write(path, lambda tmp: _write_text(tmp, text), fsync=True)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    elif path.exists() or path.is_symlink():
        path.unlink(missing_ok=True)
