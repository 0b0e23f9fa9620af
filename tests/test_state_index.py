"""The savestate index: atomic, locked, validated, and tolerant of bad states."""

from __future__ import annotations

import json
import multiprocessing as mp
from pathlib import Path

import pytest

from daddy.swarm.state_index import (
    StateIndex,
    StateIndexError,
    StateMeta,
    health,
    is_weak,
    sha256_bytes,
    version_tuple,
)

ROM = "ea9bcae617fdf159b045185467ae58b2e4a48b9a"


def meta(milestone: str, tier: str = "early", step: int = 100, badges: int = 0,
         events: int = 3, hp: int = 0, max_hp: int = 0) -> StateMeta:
    return StateMeta(milestone=milestone, tier=tier, map_id=0x0C, badges=badges, events=events,
                     step=step, milestones=0b11, hp=hp, max_hp=max_hp)


@pytest.fixture
def index(tmp_path: Path) -> StateIndex:
    return StateIndex.create(tmp_path / "run", "run", ROM, "2.8.1")


def test_add_writes_state_file_and_schema_entry(index: StateIndex) -> None:
    entry = index.add("route_1_20240101T000000", b"state-bytes", meta("route_1"))
    assert entry is not None
    assert (index.folder / "route_1_20240101T000000.state").read_bytes() == b"state-bytes"
    doc = json.loads(index.index_path.read_text())
    assert doc["version"] == 1 and doc["run"] == "run" and doc["rom_sha1"] == ROM
    assert doc["pyboy"] == "2.8.1"
    (row,) = doc["states"]
    assert row["path"] == "route_1_20240101T000000.state"
    assert row["sha256"] == sha256_bytes(b"state-bytes")
    schema = {"name", "milestone", "tier", "map_id", "badges", "events", "step", "created"}
    assert schema <= set(row)
    assert StateIndex.load(index.folder).entries == [entry]


def _add_many(folder: str, worker: int, n: int) -> None:
    idx = StateIndex.load(folder, pyboy_version="2.8.1")
    for i in range(n):
        idx.add(f"w{worker}_{i}", f"state {worker} {i}".encode(), meta(f"m{worker}_{i}", step=i))


def test_concurrent_writers_lose_no_entry(index: StateIndex) -> None:
    ctx = mp.get_context("fork")
    procs = [ctx.Process(target=_add_many, args=(str(index.folder), w, 250)) for w in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=300)
        assert p.exitcode == 0
    json.loads(index.index_path.read_text())  # valid JSON after all the renames
    names = {e.name for e in index.reload()}
    assert names == {f"w{w}_{i}" for w in range(4) for i in range(250)}
    usable, skipped = index.verified_entries()
    assert len(usable) == 1000 and skipped == []


def test_same_milestone_is_kept_once_unless_reached_in_fewer_steps(index: StateIndex) -> None:
    first = index.add("beat_brock_a", b"a", meta("beat_brock", "mid", step=500))
    assert index.add("beat_brock_b", b"b", meta("beat_brock", "mid", step=600)) is None
    assert index.add("beat_brock_b", b"b", meta("beat_brock", "mid", step=500)) is None
    better = index.add("beat_brock_c", b"c", meta("beat_brock", "mid", step=200))
    assert first is not None and better is not None
    assert [e.name for e in index.reload()] == ["beat_brock_c"]
    assert not (index.folder / first.path).exists()
    assert not (index.folder / "beat_brock_b.state").exists()


def test_a_healthy_copy_replaces_a_nearly_fainted_one_even_with_more_steps(
    index: StateIndex,
) -> None:
    index.add("p1", b"1", meta("pewter_city", "mid", step=500, hp=1, max_hp=26))
    index.add("p2", b"2", meta("pewter_city", "mid", step=400, hp=6, max_hp=26))  # weak, sooner
    assert [(e.name, e.hp, e.max_hp) for e in index.reload()] == [("p2", 6, 26)]
    index.add("p3", b"3", meta("pewter_city", "mid", step=900, hp=7, max_hp=26))  # healthy
    assert index.add("p4", b"4", meta("pewter_city", "mid", step=100, hp=1, max_hp=26)) is None
    index.add("p5", b"5", meta("pewter_city", "mid", step=800, hp=26, max_hp=26))  # sooner
    (kept,) = StateIndex.load(index.folder).entries
    assert (kept.name, kept.step, kept.health) == ("p5", 800, 1.0)
    assert {p.name for p in index.folder.glob("*.state")} == {"p5.state"}


def test_no_pokemon_yet_counts_as_healthy() -> None:
    assert health(0, 0) == 1.0 and not is_weak(0, 0)
    assert is_weak(6, 26) and not is_weak(7, 26)


def test_adds_leave_no_temp_files_behind(index: StateIndex) -> None:
    index.add("a", b"a", meta("route_1", step=5))
    index.add("b", b"b", meta("route_1", step=9))  # refused: not better
    with pytest.raises(StateIndexError):
        index.add("c", b"", meta("pewter_city", "mid"))
    files = {p.name for p in index.folder.iterdir()} - {"index.json.lock"}
    assert files == {"a.state", "index.json"}


def test_replacing_with_the_same_name_keeps_the_new_file(index: StateIndex) -> None:
    index.add("x", b"old", meta("route_1", step=9))
    index.add("x", b"new", meta("route_1", step=1))
    (entry,) = index.reload()
    assert index.read_state(entry) == b"new"


def test_name_taken_by_another_milestone_gets_a_suffix(index: StateIndex) -> None:
    index.add("same", b"a", meta("route_1"))
    entry = index.add("same", b"b", meta("viridian_city"))
    assert entry is not None and entry.name == "same_2"


def test_disk_cap_evicts_least_advanced_but_keeps_bootstrap_and_last_of_tier(
    tmp_path: Path,
) -> None:
    idx = StateIndex.create(tmp_path / "r", "r", ROM, "2.8.1", max_bytes=350)
    idx.add("boot", b"x" * 100, meta("bootstrap", events=0))
    idx.add("e1", b"x" * 100, meta("route_1", events=5))
    idx.add("m1", b"x" * 100, meta("pewter_city", "mid", badges=0, events=20))
    idx.add("e2", b"x" * 100, meta("viridian_city", events=9))  # 400 > 350: evict one
    names = {e.name for e in idx.reload()}
    assert names == {"boot", "m1", "e2"}
    assert not (idx.folder / "e1.state").exists()
    idx.add("m2", b"x" * 100, meta("beat_brock", "mid", badges=1, events=30))
    # bootstrap keeps the early tier alive, so e2 (fewest events) goes; m1 is then the last mid
    assert {e.name for e in idx.reload()} == {"boot", "m1", "m2"}
    assert idx.total_bytes() <= 350


def _write_index(folder: Path, doc: object) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    text = doc if isinstance(doc, str) else json.dumps(doc)
    (folder / "index.json").write_text(text)


def _good_row(**over: object) -> dict[str, object]:
    row = {"name": "s", "path": "s.state", "milestone": "route_1", "tier": "early",
           "map_id": 12, "badges": 0, "events": 1, "step": 5, "created": "2024-01-01T00:00:00Z",
           "sha256": "0" * 64}
    row.update(over)
    return row


def _doc(*rows: dict[str, object], **over: object) -> dict[str, object]:
    doc = {"version": 1, "run": "r", "rom_sha1": ROM, "pyboy": "2.8.1", "states": list(rows)}
    doc.update(over)
    return doc


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        ("", "empty"),
        ("   \n", "empty"),
        ('{"version": 1, "states": [', "not valid JSON"),
        ("[1, 2]", "JSON object"),
        (_doc(version=2), "version 2"),
        (_doc(version="1"), "version '1'"),
        ({"version": 1, "run": "r", "states": []}, "'rom_sha1'"),
        (_doc(states={}), "'states' must be list"),
        (_doc({k: v for k, v in _good_row().items() if k != "sha256"}), "'sha256'"),
        (_doc(_good_row(step="5")), "'step' must be int"),
        (_doc(_good_row(badges=True)), "'badges' must be int"),
        (_doc(_good_row(tier="endgame")), "tier 'endgame'"),
        (_doc(_good_row(sha256="xyz")), "sha256"),
        (_doc(_good_row(), _good_row(path="t.state")), "repeats the name"),
        (_doc(_good_row(path="/etc/passwd")), "leaves its folder"),
        (_doc(_good_row(path="../other/s.state")), "leaves its folder"),
        (_doc(_good_row(path="sub/../../s.state")), "leaves its folder"),
        (_doc(_good_row(path="")), "leaves its folder"),
        (_doc(_good_row(path="..\\s.state")), "leaves its folder"),
        (_doc(_good_row(path="C:s.state")), "leaves its folder"),
        (_doc(_good_row(path="\\\\server\\s.state")), "leaves its folder"),
        (_doc(version=True), "version True"),
    ],
)
def test_bad_index_raises_one_line_error(tmp_path: Path, content: object, needle: str) -> None:
    _write_index(tmp_path, content)
    with pytest.raises(StateIndexError, match=None) as err:
        StateIndex.load(tmp_path)
    msg = str(err.value)
    assert needle in msg and "\n" not in msg


def test_symlink_out_of_the_folder_is_skipped_and_never_read(tmp_path: Path) -> None:
    outside = tmp_path / "outside.state"
    outside.write_bytes(b"secret")
    folder = tmp_path / "run"
    _write_index(folder, _doc(_good_row(path="s.state", sha256=sha256_bytes(b"secret"))))
    (folder / "s.state").symlink_to(outside)
    idx = StateIndex.load(folder, pyboy_version="2.8.1")
    usable, skipped = idx.verified_entries()
    assert usable == [] and "leads out of" in skipped[0][1]
    with pytest.raises(StateIndexError, match="leaves its folder"):
        idx.read_state(skipped[0][0])


def test_missing_index_says_to_bootstrap(tmp_path: Path) -> None:
    with pytest.raises(StateIndexError, match="bootstrap"):
        StateIndex.load(tmp_path)


def test_add_refuses_a_corrupt_index_and_leaves_it_as_it_was(index: StateIndex) -> None:
    index.index_path.write_text("{broken")
    with pytest.raises(StateIndexError, match="not valid JSON"):
        index.add("a", b"a", meta("route_1"))
    assert index.index_path.read_text() == "{broken"


def test_missing_and_corrupt_states_are_skipped_and_reported(index: StateIndex) -> None:
    good = index.add("good", b"good", meta("route_1"))
    gone = index.add("gone", b"gone", meta("viridian_city"))
    bad = index.add("bad", b"bad", meta("pewter_city", "mid"))
    assert good and gone and bad
    (index.folder / gone.path).unlink()
    (index.folder / bad.path).write_bytes(b"tampered")
    usable, skipped = index.verified_entries()
    assert usable == [good]
    reasons = {e.name: r for e, r in skipped}
    assert "missing" in reasons["gone"] and "sha256" in reasons["bad"]
    with pytest.raises(StateIndexError, match="corrupt"):
        index.read_state(bad)
    with pytest.raises(StateIndexError, match="missing"):
        index.read_state(gone)


@pytest.mark.parametrize(("recorded", "usable"), [("2.9.0", False), ("3.0", False),
                                                  ("2.8.1", True), ("2.7.9", True)])
def test_state_from_a_newer_pyboy_is_skipped(tmp_path: Path, recorded: str, usable: bool) -> None:
    writer = StateIndex.create(tmp_path, "r", ROM, recorded)
    writer.add("s", b"s", meta("route_1"))
    reader = StateIndex.load(tmp_path, pyboy_version="2.8.1")
    ok, skipped = reader.verified_entries()
    assert (len(ok) == 1) is usable
    if not usable:
        assert "newer than the running 2.8.1" in skipped[0][1]


def test_create_refuses_an_index_of_another_rom(index: StateIndex) -> None:
    with pytest.raises(StateIndexError, match="rom_sha1"):
        StateIndex.create(index.folder, "run", "f" * 40, "2.8.1")
    with pytest.raises(StateIndexError, match="running ROM") as e:
        StateIndex.load(index.folder, rom_sha1="f" * 40)
    assert "--rom" in str(e.value) and "delete" not in str(e.value)


@pytest.mark.parametrize("name", ["../x", "a/b", ".hidden", "", "x" * 200, "a..b"])
def test_unsafe_state_names_are_rejected(index: StateIndex, name: str) -> None:
    with pytest.raises(StateIndexError, match="file-safe"):
        index.add(name, b"s", meta("route_1"))


def test_version_tuple_orders_pyboy_versions() -> None:
    assert version_tuple("2.10.0") > version_tuple("2.8.1") > version_tuple("2.8")
    assert version_tuple("2.9.0rc1") == (2, 9, 0)
