"""The savestate index: `savestates/<run>/index.json` and the `.state` files it names.

Several processes (envs' trainers, parallel SLURM jobs) add states to one run's folder at once,
so every change is a read-modify-write of `index.json` under a file lock, and every file is
written to a temp file and renamed into place: a crash leaves the previous index intact and never
a half-written file behind a name. Schema: DESIGN.md §6. Bad indexes raise `StateIndexError`
with one line saying what is wrong and what to do; bad *states* (missing file, hash mismatch,
made by a newer PyBoy) are skipped with a warning and counted, because one lost state must not
stop a long run.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import tempfile
from dataclasses import asdict, dataclass, fields
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any

import filelock

from daddy.milestones import TIERS, Tier

log = logging.getLogger(__name__)

INDEX_VERSION = 1
INDEX_FILE = "index.json"
LOCK_FILE = "index.json.lock"
STATE_SUFFIX = ".state"
BOOTSTRAP_MILESTONE = "bootstrap"
LOCK_TIMEOUT_S = 120.0

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
_SHA256_RE = re.compile(r"^[0-9a-f]{64}$")


class StateIndexError(ValueError):
    """A savestate index (or a state it names) that cannot be used; the message says why."""


@dataclass(frozen=True, slots=True)
class StateMeta:
    """What the caller knows about a state when it adds it (the index fills in the rest)."""

    milestone: str  # what was reached: a DEFAULT_MILESTONES name, "map_0x0d", "bootstrap", …
    tier: Tier
    map_id: int
    badges: int  # bitfield, as in wObtainedBadges
    events: int  # number of event flags set
    step: int  # global env step of the run when it was reached
    milestones: int = 0  # DEFAULT_MILESTONES bitmask true in the state


@dataclass(frozen=True, slots=True)
class StateEntry:
    """One row of `index.json` (DESIGN.md §6, plus `milestones`, `pyboy` and `bytes`)."""

    name: str
    path: str  # relative to the index's folder
    milestone: str
    tier: Tier
    map_id: int
    badges: int
    events: int
    step: int
    created: str  # ISO-8601 UTC
    sha256: str
    milestones: int = 0
    pyboy: str = ""
    bytes: int = 0

    @property
    def is_bootstrap(self) -> bool:
        return self.milestone == BOOTSTRAP_MILESTONE

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


_REQUIRED: dict[str, type] = {
    "name": str, "path": str, "milestone": str, "tier": str, "map_id": int, "badges": int,
    "events": int, "step": int, "created": str, "sha256": str,
}
_OPTIONAL: dict[str, type] = {"milestones": int, "pyboy": str, "bytes": int}
_HEADER: dict[str, type] = {"version": int, "run": str, "rom_sha1": str, "pyboy": str,
                            "states": list}


def running_pyboy_version() -> str:
    """The installed PyBoy's version, read without importing the emulator."""
    try:
        return metadata.version("pyboy")
    except metadata.PackageNotFoundError:
        return "0"


def version_tuple(version: str) -> tuple[int, ...]:
    """'2.8.1' → (2, 8, 1); trailing non-digits of a part are ignored ('2.9.0rc1' → (2, 9, 0))."""
    parts = []
    for part in version.split("."):
        digits = re.match(r"\d*", part).group()  # type: ignore[union-attr]
        parts.append(int(digits) if digits else 0)
    return tuple(parts)


def utc_now_iso() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write to a temp file in the same folder, fsync, rename: readers see old or new, never half."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class StateIndex:
    """One run's savestate folder. Construct with `create` (new or existing) or `load`."""

    def __init__(
        self,
        folder: Path | str,
        run: str,
        rom_sha1: str,
        pyboy_version: str,
        *,
        max_bytes: int | None = None,
    ) -> None:
        if max_bytes is not None and max_bytes <= 0:
            raise StateIndexError(f"max_bytes must be positive or None, got {max_bytes}")
        self.folder = Path(folder)
        self.run = run
        self.rom_sha1 = rom_sha1
        self.pyboy_version = pyboy_version  # the running PyBoy: recorded with new states
        self.max_bytes = max_bytes
        self._entries: list[StateEntry] = []
        self._hash_cache: dict[tuple[str, int, int], str] = {}
        self._warned: set[tuple[str, str]] = set()

    # --- construction ----------------------------------------------------------------------
    @property
    def index_path(self) -> Path:
        return self.folder / INDEX_FILE

    @classmethod
    def create(
        cls,
        folder: Path | str,
        run: str,
        rom_sha1: str,
        pyboy_version: str | None = None,
        *,
        max_bytes: int | None = None,
    ) -> StateIndex:
        """Open the run's index, writing an empty one first if there is none.

        An existing index made for another run or ROM is an error, never overwritten.
        """
        self = cls(folder, run, rom_sha1, pyboy_version or running_pyboy_version(),
                   max_bytes=max_bytes)
        self.folder.mkdir(parents=True, exist_ok=True)
        with self._lock():
            if self.index_path.exists():
                header, entries = _read_index(self.index_path)
                self._check_same_run(header)
                self._entries = entries
            else:
                self._write_index([])
        return self

    @classmethod
    def load(
        cls,
        folder: Path | str,
        *,
        pyboy_version: str | None = None,
        rom_sha1: str | None = None,
        max_bytes: int | None = None,
    ) -> StateIndex:
        """Read an existing index; `rom_sha1`, when given, must match the one it was made with."""
        path = Path(folder) / INDEX_FILE
        header, entries = _read_index(path)
        if rom_sha1 is not None and header["rom_sha1"] != rom_sha1:
            raise StateIndexError(
                f"{path} was made from ROM sha1 {header['rom_sha1']}, but the running ROM is "
                f"{rom_sha1}; use a new run name or delete {path.parent} to re-bootstrap"
            )
        self = cls(folder, header["run"], header["rom_sha1"],
                   pyboy_version or running_pyboy_version(), max_bytes=max_bytes)
        self._entries = entries
        return self

    def _check_same_run(self, header: dict[str, Any]) -> None:
        for key, mine in (("run", self.run), ("rom_sha1", self.rom_sha1)):
            if header[key] != mine:
                raise StateIndexError(
                    f"{self.index_path} belongs to {key}={header[key]!r}, not {mine!r}; "
                    f"use another savestate folder or delete this one to re-bootstrap"
                )

    # --- reading -----------------------------------------------------------------------------
    @property
    def entries(self) -> list[StateEntry]:
        """Entries as of the last read or write by this object (see `reload`)."""
        return list(self._entries)

    def reload(self) -> list[StateEntry]:
        """Re-read index.json: states added by other processes appear."""
        _, self._entries = _read_index(self.index_path)
        return self.entries

    def state_path(self, entry: StateEntry) -> Path:
        return _checked_path(self.folder, entry.path, self.index_path)

    def verified_entries(self) -> tuple[list[StateEntry], list[tuple[StateEntry, str]]]:
        """Split the current entries into loadable ones and skipped ones with a reason.

        A skipped state is logged once (per name and reason) and never stops the run.
        """
        usable: list[StateEntry] = []
        skipped: list[tuple[StateEntry, str]] = []
        running = version_tuple(self.pyboy_version)
        for e in self._entries:
            reason = self._problem(e, running)
            if reason is None:
                usable.append(e)
                continue
            skipped.append((e, reason))
            if (e.name, reason) not in self._warned:
                self._warned.add((e.name, reason))
                log.warning("skipping savestate %s: %s", e.name, reason)
        return usable, skipped

    def _problem(self, e: StateEntry, running: tuple[int, ...]) -> str | None:
        path = self.state_path(e)
        if e.pyboy and version_tuple(e.pyboy) > running:
            return (f"made by PyBoy {e.pyboy}, newer than the running {self.pyboy_version}; "
                    f"install PyBoy {e.pyboy} or re-bootstrap")
        try:
            st = path.stat()
        except FileNotFoundError:
            return f"file {path} is missing"
        key = (str(path), st.st_size, st.st_mtime_ns)
        digest = self._hash_cache.get(key)
        if digest is None:
            digest = sha256_bytes(path.read_bytes())
            self._hash_cache[key] = digest
        if digest != e.sha256:
            return f"sha256 of {path} is {digest[:12]}…, the index says {e.sha256[:12]}…"
        return None

    def read_state(self, entry: StateEntry) -> bytes:
        """The state's bytes, checked against the index's sha256."""
        path = self.state_path(entry)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise StateIndexError(
                f"savestate {path} is missing; refresh the curriculum or re-bootstrap"
            ) from None
        if sha256_bytes(data) != entry.sha256:
            raise StateIndexError(
                f"savestate {path} does not match its sha256 in {self.index_path}; "
                f"it is corrupt — delete it and its index entry, or re-bootstrap"
            )
        return data

    def total_bytes(self) -> int:
        return sum(self._size(e) for e in self._entries)

    # --- writing -----------------------------------------------------------------------------
    def add(self, name: str, state_bytes: bytes, meta: StateMeta) -> StateEntry | None:
        """Add a state under `<name>.state`; None when it changed nothing.

        De-dup: one state per milestone per run; a new one replaces the old only if it was
        reached at a smaller `step`. Then the disk cap (`max_bytes`) evicts the least advanced,
        oldest states, never the bootstrap state, the last state of a tier, or the new one.
        """
        _check_name(name)
        if meta.tier not in TIERS:
            raise StateIndexError(f"tier must be one of {TIERS}, got {meta.tier!r}")
        if not state_bytes:
            raise StateIndexError(f"savestate {name!r} has no bytes; the emulator save failed")
        with self._lock():
            _, entries = _read_index(self.index_path)
            old = next((e for e in entries if e.milestone == meta.milestone), None)
            if old is not None and old.step <= meta.step:
                self._entries = entries
                return None
            kept = [e for e in entries if e is not old]
            name = _unique_name(name, {e.name for e in kept})
            entry = StateEntry(
                name=name, path=name + STATE_SUFFIX, milestone=meta.milestone, tier=meta.tier,
                map_id=int(meta.map_id), badges=int(meta.badges), events=int(meta.events),
                step=int(meta.step), created=utc_now_iso(), sha256=sha256_bytes(state_bytes),
                milestones=int(meta.milestones), pyboy=self.pyboy_version,
                bytes=len(state_bytes),
            )
            atomic_write_bytes(self.folder / entry.path, state_bytes)
            kept.append(entry)
            kept, evicted = self._apply_cap(kept, entry)
            self._write_index(kept)
            self._entries = kept
            for gone in ([old] if old is not None else []) + evicted:
                if gone.path != entry.path:
                    _checked_path(self.folder, gone.path, self.index_path).unlink(missing_ok=True)
        if evicted:
            log.info("disk cap %s bytes: evicted %s", self.max_bytes,
                     ", ".join(e.name for e in evicted))
        return entry

    def _apply_cap(
        self, entries: list[StateEntry], new: StateEntry
    ) -> tuple[list[StateEntry], list[StateEntry]]:
        if self.max_bytes is None:
            return entries, []
        total = sum(self._size(e) for e in entries)
        if total <= self.max_bytes:
            return entries, []
        per_tier = {t: sum(e.tier == t for e in entries) for t in TIERS}
        # Least advanced first (badges, events), then oldest: those are the easiest to re-reach.
        order = sorted(entries, key=lambda e: (bin(e.badges).count("1"), e.events, e.created))
        evicted: list[StateEntry] = []
        for e in order:
            if total <= self.max_bytes:
                break
            if e is new or e.is_bootstrap or per_tier[e.tier] <= 1:
                continue
            evicted.append(e)
            per_tier[e.tier] -= 1
            total -= self._size(e)
        if total > self.max_bytes:
            log.warning("savestates use %d bytes, over the cap of %d, but every remaining state "
                        "is protected (bootstrap, last of a tier, or newest)", total, self.max_bytes)
        gone = {e.name for e in evicted}
        return [e for e in entries if e.name not in gone], evicted

    def _size(self, e: StateEntry) -> int:
        if e.bytes:
            return e.bytes
        try:
            return self.state_path(e).stat().st_size
        except (FileNotFoundError, StateIndexError):
            return 0

    def _write_index(self, entries: list[StateEntry]) -> None:
        doc = {"version": INDEX_VERSION, "run": self.run, "rom_sha1": self.rom_sha1,
               "pyboy": self.pyboy_version, "states": [e.to_json() for e in entries]}
        atomic_write_bytes(self.index_path, (json.dumps(doc, indent=1) + "\n").encode())

    def _lock(self) -> _Lock:
        return _Lock(self.folder / LOCK_FILE)


class _Lock:
    """FileLock whose timeout becomes a one-line StateIndexError."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = filelock.FileLock(str(path), timeout=LOCK_TIMEOUT_S)

    def __enter__(self) -> None:
        try:
            self._lock.acquire()
        except filelock.Timeout:
            raise StateIndexError(
                f"could not lock {self.path} within {LOCK_TIMEOUT_S:.0f} s; another process "
                f"holds it — wait for it, or check the folder is on a filesystem with locks"
            ) from None

    def __exit__(self, *exc: object) -> None:
        self._lock.release()


# --- validation ------------------------------------------------------------------------------
def _read_index(path: Path) -> tuple[dict[str, Any], list[StateEntry]]:
    fix = f"restore {path.name} from a backup or delete {path.parent} to re-bootstrap"
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise StateIndexError(
            f"no savestate index at {path}; run the bootstrap stage first"
        ) from None
    except UnicodeDecodeError:
        raise StateIndexError(f"{path} is not UTF-8 text; {fix}") from None
    if not text.strip():
        raise StateIndexError(f"{path} is empty; {fix}")
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as err:
        raise StateIndexError(
            f"{path} is not valid JSON (line {err.lineno} column {err.colno}: {err.msg}); {fix}"
        ) from None
    if not isinstance(doc, dict):
        raise StateIndexError(f"{path} must hold a JSON object, found {type(doc).__name__}; {fix}")
    if doc.get("version") != INDEX_VERSION:
        raise StateIndexError(
            f"{path} has version {doc.get('version')!r}, this Daddy reads version "
            f"{INDEX_VERSION}; re-bootstrap the run's savestates"
        )
    _check_fields(doc, _HEADER, {}, f"{path}", fix)
    entries: list[StateEntry] = []
    names: set[str] = set()
    for i, raw in enumerate(doc["states"]):
        where = f"{path} states[{i}]"
        if not isinstance(raw, dict):
            raise StateIndexError(f"{where} must be an object; {fix}")
        _check_fields(raw, _REQUIRED, _OPTIONAL, where, fix)
        if raw["tier"] not in TIERS:
            raise StateIndexError(f"{where} has tier {raw['tier']!r}, not one of {TIERS}; {fix}")
        if not _SHA256_RE.match(raw["sha256"]):
            raise StateIndexError(f"{where} sha256 is not 64 lowercase hex digits; {fix}")
        if raw["name"] in names:
            raise StateIndexError(f"{where} repeats the name {raw['name']!r}; {fix}")
        names.add(raw["name"])
        _checked_path(path.parent, raw["path"], path)
        known = {f.name for f in fields(StateEntry)}
        entries.append(StateEntry(**{k: v for k, v in raw.items() if k in known}))
    if not doc["pyboy"]:
        raise StateIndexError(f"{path} does not record a PyBoy version; {fix}")
    default_pyboy = doc["pyboy"]
    entries = [e if e.pyboy else _replace_pyboy(e, default_pyboy) for e in entries]
    return doc, entries


def _replace_pyboy(e: StateEntry, version: str) -> StateEntry:
    d = e.to_json()
    d["pyboy"] = version
    return StateEntry(**d)


def _check_fields(
    raw: dict[str, Any], required: dict[str, type], optional: dict[str, type], where: str,
    fix: str,
) -> None:
    for key, typ in required.items():
        if key not in raw:
            raise StateIndexError(f"{where} lacks the key {key!r}; {fix}")
    for key, typ in {**required, **optional}.items():
        if key in raw and not _is_type(raw[key], typ):
            raise StateIndexError(
                f"{where} key {key!r} must be {typ.__name__}, found {type(raw[key]).__name__} "
                f"{raw[key]!r:.40}; {fix}"
            )


def _is_type(value: Any, typ: type) -> bool:
    if typ is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, typ)


def _checked_path(folder: Path, rel: str, index_path: Path) -> Path:
    """`folder/rel`, refusing absolute paths, `..`, and symlinks that lead out of the folder."""
    bad = (
        not rel
        or PurePosixPath(rel).is_absolute()
        or PureWindowsPath(rel).is_absolute()
        or rel.startswith("\\")
        or ".." in PurePosixPath(rel.replace("\\", "/")).parts
    )
    if not bad:
        root = folder.resolve()
        bad = not (folder / rel).resolve().is_relative_to(root)
    if bad:
        raise StateIndexError(
            f"{index_path} names the path {rel!r}, which leaves its folder; paths must be "
            f"relative and inside {folder} — fix or remove that entry"
        )
    return folder / rel


def _check_name(name: str) -> None:
    if not _NAME_RE.match(name) or ".." in name:
        raise StateIndexError(
            f"savestate name {name!r} is not file-safe; use letters, digits, '_', '-', '.' "
            f"(at most 128, no '..')"
        )


def _unique_name(name: str, taken: set[str]) -> str:
    if name not in taken:
        return name
    i = 2
    while f"{name}_{i}" in taken:
        i += 1
    return f"{name}_{i}"
