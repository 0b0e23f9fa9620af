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

import errno
import hashlib
import json
import logging
import os
import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, fields
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

import filelock

from daddy.game.milestones import TIERS, Tier
from daddy.io import atomic_write_bytes  # index.json: fsynced; tests patch it here
from daddy.run.paths import STATE_INDEX

log = logging.getLogger(__name__)

INDEX_VERSION = 1
INDEX_FILE = STATE_INDEX  # named by daddy.run.paths (RunPaths.state_index)
LOCK_FILE = f"{INDEX_FILE}.lock"
STATE_SUFFIX = ".state"
BOOTSTRAP_MILESTONE = "bootstrap"
LOCK_TIMEOUT_S = 120.0
LOCK_POLL_S = 0.005  # waiters poll the lock this often; 50 ms (filelock's default) idles writers
# A state whose lead Pokémon has less than this share of its HP is "weak": nearly every episode
# spawned from it blacks out at the next fight (measured: the learning benchmark's seed 0 kept a
# Pewter City state at 1/26 HP, and none of 211 episodes from it reached Brock).
WEAK_HEALTH = 0.25

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
_SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
_DRIVE_RE = re.compile(r"^[A-Za-z]:")  # 'C:x' and 'C:\\x': Windows paths off the folder


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
    hp: int = 0  # lead Pokémon's HP and max HP (0/0: no Pokémon yet)
    max_hp: int = 0


@dataclass(frozen=True, slots=True)
class StateEntry:
    """One row of `index.json` (DESIGN.md §6, plus `milestones`, `pyboy`, `bytes`, `hp`, `max_hp`)."""

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
    hp: int = 0
    max_hp: int = 0

    @property
    def is_bootstrap(self) -> bool:
        return self.milestone == BOOTSTRAP_MILESTONE

    @property
    def health(self) -> float:
        return health(self.hp, self.max_hp)

    def to_json(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in _ENTRY_FIELDS}


_ENTRY_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(StateEntry))
_REQUIRED: dict[str, type] = {
    "name": str, "path": str, "milestone": str, "tier": str, "map_id": int, "badges": int,
    "events": int, "step": int, "created": str, "sha256": str,
}
_OPTIONAL: dict[str, type] = {"milestones": int, "pyboy": str, "bytes": int, "hp": int,
                              "max_hp": int}
_HEADER: dict[str, type] = {"version": int, "run": str, "rom_sha1": str, "pyboy": str,
                            "states": list}


def health(hp: int, max_hp: int) -> float:
    """Share of the lead Pokémon's HP left; 1.0 before there is one (nothing can faint)."""
    return hp / max_hp if max_hp > 0 else 1.0


def is_weak(hp: int, max_hp: int) -> bool:
    return health(hp, max_hp) < WEAK_HEALTH


def is_better_copy(new: StateMeta, old: StateEntry) -> bool:
    """Whether `new` should replace `old` (same milestone): a healthy copy beats a weak one,
    then fewer steps win. Steps alone would keep a first arrival on 1 HP for the whole run."""
    new_rank = (not is_weak(new.hp, new.max_hp), -new.step)
    return new_rank > (not is_weak(old.hp, old.max_hp), -old.step)


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


def write_temp(folder: Path, stem: str, data: bytes) -> Path:
    """Write `data` to a fresh, fsynced temp file in `folder` (rename it into place later).

    Not `daddy.io.atomic_write`: a state is written before the index lock (writers overlap) and
    renamed only under it, once the index decides it is kept."""
    fd, tmp = tempfile.mkstemp(prefix=f".{stem}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return Path(tmp)


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
        self._seen_sig: tuple[int, ...] | None = None  # index.json as of self._entries
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
            from daddy.game.rom import describe_sha1  # lazy: rom imports the cartridge builder

            raise StateIndexError(
                f"{path} was made with {describe_sha1(header['rom_sha1'])}, but the running ROM "
                f"is {describe_sha1(rom_sha1)}; pass the --rom it was made with, or use a new run "
                "name"
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
        try:
            path = self.state_path(e)
        except StateIndexError:
            return f"path {e.path!r} leads out of {self.folder} (a symlink?)"
        if e.pyboy and version_tuple(e.pyboy) > running:
            return (f"made by PyBoy {e.pyboy}, newer than the running {self.pyboy_version}; "
                    f"install PyBoy {e.pyboy} or re-bootstrap")
        try:
            st = path.stat()
            key = (str(path), st.st_size, st.st_mtime_ns)
            digest = self._hash_cache.get(key)
            if digest is None:
                digest = self._hash_cache[key] = sha256_bytes(path.read_bytes())
        except FileNotFoundError:
            return f"file {path} is missing"
        except OSError as err:
            return f"file {path} cannot be read ({err.strerror or err})"
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
        except OSError as err:
            raise StateIndexError(
                f"savestate {path} cannot be read ({err.strerror or err}); check its permissions"
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

        De-dup: one state per milestone per run; a new one replaces the old only if it is a
        better copy (`is_better_copy`: healthy beats weak, then fewer steps). Then the disk cap
        (`max_bytes`) evicts the least advanced, oldest states, never the bootstrap state, the
        last state of a tier, or the new one.
        """
        _check_name(name)
        if meta.tier not in TIERS:
            raise StateIndexError(f"tier must be one of {TIERS}, got {meta.tier!r}")
        if not state_bytes:
            raise StateIndexError(f"savestate {name!r} has no bytes; the emulator save failed")
        try:
            # The slow part (write + fsync) happens before the lock, so writers overlap.
            tmp = write_temp(self.folder, name, state_bytes)
            try:
                return self._add_locked(name, tmp, state_bytes, meta)
            finally:
                tmp.unlink(missing_ok=True)  # still there only if the add changed nothing
        except OSError as e:
            full = e.errno in (errno.ENOSPC, errno.EDQUOT)
            what = "disk full" if full else f"cannot write ({e.strerror or e})"
            raise StateIndexError(
                f"{what} while adding savestate {name!r} to {self.folder}; the index and its "
                "states are unchanged" + ("; free some space" if full else "")
            ) from e

    def _add_locked(
        self, name: str, tmp: Path, state_bytes: bytes, meta: StateMeta
    ) -> StateEntry | None:
        with self._lock():
            entries = self._read_fresh()
            old = next((e for e in entries if e.milestone == meta.milestone), None)
            if old is not None and not is_better_copy(meta, old):
                self._entries = entries
                return None
            kept = [e for e in entries if e is not old]
            # Never a name the committed index still holds: renaming over the old entry's file
            # before index.json is rewritten would leave that entry pointing at other bytes.
            name = _unique_name(name, {e.name for e in entries})
            entry = StateEntry(
                name=name, path=name + STATE_SUFFIX, milestone=meta.milestone, tier=meta.tier,
                map_id=int(meta.map_id), badges=int(meta.badges), events=int(meta.events),
                step=int(meta.step), created=utc_now_iso(), sha256=sha256_bytes(state_bytes),
                milestones=int(meta.milestones), pyboy=self.pyboy_version,
                bytes=len(state_bytes), hp=int(meta.hp), max_hp=int(meta.max_hp),
            )
            os.replace(tmp, self.folder / entry.path)
            kept.append(entry)
            kept, evicted = self._apply_cap(kept, entry)
            try:
                self._write_index(kept)
            except BaseException:
                (self.folder / entry.path).unlink(missing_ok=True)  # not in the index: not kept
                raise
            self._entries = kept
            self._seen_sig = _signature(self.index_path)
            for gone in ([old] if old is not None else []) + evicted:
                if gone.path != entry.path:
                    self._remove_file(gone)
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
        order = sorted(entries, key=lambda e: (e.badges.bit_count(), e.events, e.created))
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
                        "is protected (bootstrap, last of a tier, or newest)",
                        total, self.max_bytes)
        gone = {e.name for e in evicted}
        return [e for e in entries if e.name not in gone], evicted

    def _read_fresh(self) -> list[StateEntry]:
        """index.json's entries; re-parsed only if it changed since this object last saw it.

        Called under the lock, so the file cannot change between the check and the parse.
        """
        sig = _signature(self.index_path)
        if sig is None or sig != self._seen_sig:
            _, self._entries = _read_index(self.index_path)
            self._seen_sig = sig
        return list(self._entries)

    def _remove_file(self, e: StateEntry) -> None:
        """Delete a replaced or evicted state's file; never one outside the folder."""
        try:
            self.state_path(e).unlink(missing_ok=True)
        except StateIndexError as err:
            log.warning("not deleting %s: %s", e.name, err)

    def _size(self, e: StateEntry) -> int:
        if e.bytes:
            return e.bytes
        try:
            return self.state_path(e).stat().st_size
        except (FileNotFoundError, StateIndexError):
            return 0

    def _write_index(self, entries: list[StateEntry]) -> None:
        # One state per line: readable and diffable, and json's fast C encoder (no indent).
        head = json.dumps({"version": INDEX_VERSION, "run": self.run, "rom_sha1": self.rom_sha1,
                           "pyboy": self.pyboy_version})[:-1]
        rows = ",\n".join(json.dumps(e.to_json()) for e in entries)
        text = f'{head}, "states": [\n{rows}\n]}}\n' if rows else f'{head}, "states": []}}\n'
        atomic_write_bytes(self.index_path, text.encode())

    def _lock(self) -> _Lock:
        return _Lock(self.folder / LOCK_FILE)


class _Lock:
    """FileLock whose timeout becomes a one-line StateIndexError."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = filelock.FileLock(str(path), timeout=LOCK_TIMEOUT_S,
                                       poll_interval=LOCK_POLL_S)

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
    if type(doc.get("version")) is not int or doc["version"] != INDEX_VERSION:
        raise StateIndexError(
            f"{path} has version {doc.get('version')!r}, this Daddy reads version "
            f"{INDEX_VERSION}; re-bootstrap the run's savestates"
        )
    _check_fields(doc, _HEADER, {}, lambda: f"{path}", fix)
    entries: list[StateEntry] = []
    names: set[str] = set()
    for i, raw in enumerate(doc["states"]):
        entry = _parse_row(raw, lambda i=i: f"{path} states[{i}]", fix)  # type: ignore[misc]
        if entry.name in names:
            raise StateIndexError(
                f"{path} states[{i}] repeats the name {entry.name!r}; {fix}")
        names.add(entry.name)
        _check_relative(path.parent, entry.path, path)
        entries.append(entry)
    if not doc["pyboy"]:
        raise StateIndexError(f"{path} does not record a PyBoy version; {fix}")
    default_pyboy = doc["pyboy"]
    entries = [e if e.pyboy else _replace_pyboy(e, default_pyboy) for e in entries]
    return doc, entries


def _replace_pyboy(e: StateEntry, version: str) -> StateEntry:
    d = e.to_json()
    d["pyboy"] = version
    return StateEntry(**d)


def _signature(path: Path) -> tuple[int, int, int, int] | None:
    """What changes whenever index.json is replaced (each write is a rename of a new file)."""
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return (st.st_ino, st.st_mtime_ns, st.st_ctime_ns, st.st_size)


def _parse_row(raw: object, where: Callable[[], str], fix: str) -> StateEntry:
    """One `states[i]` object → StateEntry; `where` names it, built only for an error."""
    if type(raw) is not dict:
        raise StateIndexError(f"{where()} must be an object; {fix}")
    _check_fields(raw, _REQUIRED, _OPTIONAL, where, fix)
    if raw["tier"] not in TIERS:
        raise StateIndexError(f"{where()} has tier {raw['tier']!r}, not one of {TIERS}; {fix}")
    if not _SHA256_RE.match(raw["sha256"]):
        raise StateIndexError(f"{where()} sha256 is not 64 lowercase hex digits; {fix}")
    return StateEntry(**{k: raw[k] for k in _ENTRY_FIELDS if k in raw})


def _check_fields(
    raw: dict[str, Any], required: dict[str, type], optional: dict[str, type],
    where: Callable[[], str], fix: str,
) -> None:
    """Keys present and of their JSON type (exact: json gives bool for true, never int)."""
    for key, typ in required.items():
        if key not in raw:
            raise StateIndexError(f"{where()} lacks the key {key!r}; {fix}")
        if type(raw[key]) is not typ:
            raise _type_error(raw, key, typ, where(), fix)
    for key, typ in optional.items():
        if key in raw and type(raw[key]) is not typ:
            raise _type_error(raw, key, typ, where(), fix)


def _type_error(raw: dict[str, Any], key: str, typ: type, where: str, fix: str) -> StateIndexError:
    return StateIndexError(
        f"{where} key {key!r} must be {typ.__name__}, found {type(raw[key]).__name__} "
        f"{raw[key]!r:.40}; {fix}"
    )


def _check_relative(folder: Path, rel: str, index_path: Path) -> None:
    """Refuse empty and absolute paths and `..` (a text check: cheap enough for every read)."""
    posix = rel.replace("\\", "/")
    if not rel or posix.startswith("/") or _DRIVE_RE.match(rel) or ".." in posix.split("/"):
        raise _escape_error(folder, rel, index_path)


def _checked_path(folder: Path, rel: str, index_path: Path) -> Path:
    """`folder/rel`, refusing what `_check_relative` does and symlinks that lead out."""
    _check_relative(folder, rel, index_path)
    if not (folder / rel).resolve().is_relative_to(folder.resolve()):
        raise _escape_error(folder, rel, index_path)
    return folder / rel


def _escape_error(folder: Path, rel: str, index_path: Path) -> StateIndexError:
    return StateIndexError(
        f"{index_path} names the path {rel!r}, which leaves its folder; paths must be "
        f"relative and inside {folder} — fix or remove that entry"
    )


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
