"""Bad input to `python -m daddy.train_big`: one readable line, exit 2, nothing written half-way.

The units have their own tests (test_rom.py, test_state_index.py, test_config.py,
test_checkpoint.py); these pin the trainer's end of it: that each problem reaches the user as
one line on stderr and a non-zero exit, before anything in the run's folders changes. Most run
`main()` in this process (they fail before any emulator starts); the ones that reach the
emulator workers run as subprocesses. The CLI values (`--num-envs 0` and friends) and a
checkpoint of another model size are in test_train_big.py.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import pickle
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import torch

from daddy.game.rom import Rom
from daddy.run import train as train_big
from daddy.run.checkpoint import CheckpointManager
from daddy.run.cli import parse_train_args
from daddy.run.paths import TRAIN_LOG
from daddy.run.state import must_match
from daddy.swarm.state_index import INDEX_FILE
from tests.rom_util import fake_rom

RUN = "f"
TINY = [
    "--run-name", RUN, "--num-envs", "1", "--model-size", "slim", "--batch-size", "4",
    "--seq-len", "12", "--burn-in", "4", "--n-step", "2", "--replay-memory-mb", "8",
    "--max-episode-steps", "60", "--learning-starts", "100", "--total-steps", "200",
    "--device", "cpu", "--seed", "1",
]  # fmt: skip


def files(root: Path) -> dict[str, bytes]:
    """Every file under `root` with its bytes: 'nothing written' means this did not change.
    The run log (runs/<run>/train.log, daddy.run.run_log) is left out: it records every start,
    a refused one included, by design."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and p.name != TRAIN_LOG}  # fmt: skip


def error_lines(stderr: str) -> list[str]:
    """The lines that say what is wrong (argparse's usage lines are not errors)."""
    return [ln for ln in stderr.splitlines() if "error" in ln.lower()]


@pytest.fixture(autouse=True)
def no_daddy_rom(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every run here picks its ROM by flag (the ROM rule reads $DADDY_ROM first)."""
    monkeypatch.delenv("DADDY_ROM", raising=False)


@pytest.fixture
def cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh working folder for an in-process `main()`; puts back what `train` changes
    (its signal handlers and torch's thread count) so later tests run as before."""
    monkeypatch.chdir(tmp_path)
    handlers = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGUSR2, signal.SIGINT)}
    threads = torch.get_num_threads()
    yield tmp_path
    for s, h in handlers.items():
        signal.signal(s, h)
    torch.set_num_threads(threads)


def run_main(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """(exit code, stderr) of `python -m daddy.train_big ARGV`, run in this process."""
    try:
        code = train_big.main(argv)
    except SystemExit as e:  # argparse errors
        code = e.code if isinstance(e.code, int) else 1
    return code, capsys.readouterr().err


def assert_one_line_error(code: int, stderr: str, *needles: str) -> None:
    assert code == 2, stderr[-3000:]
    assert "Traceback" not in stderr, stderr[-3000:]
    lines = error_lines(stderr)
    assert len(lines) == 1, stderr[-3000:]
    for needle in needles:
        assert needle in lines[0], lines[0]


# ---- ROMs ---------------------------------------------------------------------------------------
def rom_missing(tmp: Path, practice: Rom) -> Path:
    return tmp / "red.gb"


def rom_other_game(tmp: Path, practice: Rom) -> Path:
    """A valid Game Boy ROM that is neither Pokémon Red nor the practice cartridge."""
    return fake_rom(tmp / "red.gb")


def rom_empty(tmp: Path, practice: Rom) -> Path:
    (tmp / "red.gb").write_bytes(b"")
    return tmp / "red.gb"


def rom_truncated(tmp: Path, practice: Rom) -> Path:
    (tmp / "red.gb").write_bytes(practice.path.read_bytes()[:20_000])
    return tmp / "red.gb"


def rom_not_a_rom(tmp: Path, practice: Rom) -> Path:
    (tmp / "red.gb").write_bytes((b"these are my holiday photos\n" * 3000)[: 64 * 1024])
    return tmp / "red.gb"


def rom_folder(tmp: Path, practice: Rom) -> Path:
    (tmp / "red.gb").mkdir()
    return tmp / "red.gb"


@pytest.mark.parametrize(
    ("make", "needle"),
    [
        (rom_missing, "does not exist"),
        (rom_empty, "is empty (0 bytes)"),
        (rom_other_game, "--allow-unknown-rom"),
        (rom_truncated, "truncated"),
        (rom_not_a_rom, "header checksum"),
        (rom_folder, "is a folder"),
    ],
    ids=["missing", "empty", "wrong-hash", "truncated", "not-a-rom", "folder"],
)
def test_bad_rom_is_one_line_and_writes_nothing(
    cwd: Path, practice_rom: Rom, capsys, make: Callable[[Path, Rom], Path], needle: str
) -> None:
    rom = make(cwd, practice_rom)
    before = files(cwd)
    code, err = run_main([*TINY, "--rom", str(rom)], capsys)
    assert_one_line_error(code, err, needle, "argument --rom: ")
    assert files(cwd) == before and not (cwd / "runs").exists()
    assert not (cwd / "savestates").exists()


def test_a_bad_daddy_rom_is_named_as_the_source_and_writes_nothing(
    cwd: Path, practice_rom: Rom, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DADDY_ROM=... python -m daddy.train_big --run-name f: the variable is the ROM (it was
    ignored, and the practice cartridge trained), so a bad one stops the run."""
    monkeypatch.setenv("DADDY_ROM", str(rom_empty(cwd, practice_rom)))
    before = files(cwd)
    code, err = run_main(TINY, capsys)
    assert_one_line_error(code, err, "$DADDY_ROM: ROM file", "is empty")
    assert files(cwd) == before and not (cwd / "runs").exists()


# ---- the savestate index --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def booted(tmp_path_factory: pytest.TempPathFactory, practice_rom: Rom) -> Path:
    """savestates/f/ as the bootstrap writes it (index.json + pallet_town_start.state)."""
    from daddy.game.bootstrap import bootstrap

    root = tmp_path_factory.mktemp("booted")
    bootstrap(practice_rom, RUN, root / "savestates")
    return root / "savestates" / RUN


@pytest.fixture
def states(cwd: Path, booted: Path) -> Path:
    """A copy of the bootstrapped savestate folder in this test's working folder."""
    return Path(shutil.copytree(booted, cwd / "savestates" / RUN))


def edit_index(folder: Path, change: Callable[[dict[str, Any]], Any]) -> None:
    doc = json.loads((folder / INDEX_FILE).read_text())
    change(doc)
    (folder / INDEX_FILE).write_text(json.dumps(doc))


def set_entry(**values: Any) -> Callable[[Path], None]:
    return lambda folder: edit_index(folder, lambda d: d["states"][0].update(values))


def duplicate_entry(folder: Path) -> None:
    edit_index(folder, lambda d: d["states"].append(dict(d["states"][0])))


def other_rom(folder: Path) -> None:
    edit_index(folder, lambda d: d.update(rom_sha1="ea9bcae617fdf159b045185467ae58b2e4a48b9a"))


def write_index(text: str) -> Callable[[Path], None]:
    return lambda folder: (folder / INDEX_FILE).write_text(text)


def remove_state(folder: Path) -> None:
    (folder / "pallet_town_start.state").unlink()


@pytest.mark.parametrize(
    ("damage", "needle"),
    [
        (write_index(""), "is empty"),
        (write_index('{"version": 1, "states": ['), "not valid JSON"),
        (duplicate_entry, "repeats the name"),
        (set_entry(path="../../runs/f/x.state"), "leaves its folder"),
        (set_entry(path="/etc/passwd"), "leaves its folder"),
        (other_rom, ("was made with Pokémon Red (UE), but the ROM set now is the practice "
                     "cartridge; pass --rom /path/to/pokemon_red.gb")),
        (remove_state, "no usable savestates"),
        (set_entry(sha256="0" * 64), "no usable savestates"),
        (set_entry(pyboy="9.0.0"), "no usable savestates"),
    ],
    ids=["empty", "malformed", "duplicate-names", "escaping-path", "absolute-path", "other-rom",
         "state-missing", "state-hash-mismatch", "newer-pyboy-recorded"],
)  # fmt: skip
def test_bad_savestate_index_is_one_line_and_changes_nothing(
    cwd: Path, states: Path, capsys, damage: Callable[[Path], None], needle: str
) -> None:
    damage(states)
    before = files(cwd)
    code, err = run_main(TINY, capsys)
    assert_one_line_error(code, err, needle)
    assert files(cwd) == before  # (an empty runs/f/ folder may appear; no file does)


# ---- .state files the index vouches for, broken in ways only an emulator sees ---------------------
def foreign_cartridge_state(rom: Rom, folder: Path) -> bytes:
    """A state of another cartridge: the practice ROM relabelled MBC1 + 32 KiB RAM."""
    from pyboy import PyBoy

    data = bytearray(rom.path.read_bytes())
    data[0x147], data[0x149] = 0x03, 0x03
    data[0x14D] = -sum(b + 1 for b in data[0x134:0x14D]) & 0xFF
    (folder / "other.gb").write_bytes(data)
    pb = PyBoy(str(folder / "other.gb"), window="null", sound_emulated=False, log_level="ERROR")
    try:
        pb.tick(60, False)
        buf = io.BytesIO()
        pb.save_state(buf)
        return buf.getvalue()
    finally:
        pb.stop(save=False)


BROKEN_STATES: dict[str, Callable[[bytes, Rom, Path], bytes]] = {
    "truncated": lambda good, rom, tmp: good[: len(good) // 3],
    "another-rom": lambda good, rom, tmp: foreign_cartridge_state(rom, tmp),
    "newer-pyboy": lambda good, rom, tmp: bytes([good[0] + 1]) + good[1:],
}


@pytest.mark.slow
@pytest.mark.parametrize("broken", sorted(BROKEN_STATES))
def test_state_the_emulator_cannot_load_is_one_line_and_changes_nothing(
    tmp_path: Path, booted: Path, practice_rom: Rom, broken: str
) -> None:
    """The index's hash matches the file (imported by hand, or written by a broken tool)."""
    folder = Path(shutil.copytree(booted, tmp_path / "savestates" / RUN))
    state = folder / "pallet_town_start.state"
    data = BROKEN_STATES[broken](state.read_bytes(), practice_rom, tmp_path)
    state.write_bytes(data)
    set_entry(sha256=hashlib.sha256(data).hexdigest(), bytes=len(data))(folder)
    before = files(folder)
    out = subprocess.run([sys.executable, "-m", "daddy.train_big", *TINY], cwd=tmp_path,
                         check=False, capture_output=True, text=True, timeout=600)  # fmt: skip
    assert_one_line_error(out.returncode, out.stderr, "pallet_town_start")
    assert files(folder) == before


# ---- run YAML ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "needle"),
    [
        (f"run_name: {RUN}\ntrain: {{num_env: 4}}\n", "did you mean 'num_envs'"),
        (f"run_name: {RUN}\ntrain: {{num_envs: four}}\n", "needs an integer"),
        (f"run_name: {RUN}\ntrain: {{total_steps: }}\n", "total_steps"),
        ("train: {num_envs: 2}\n", "run_name is missing"),
        (f"run_name: {RUN}\ntrain: {{rom: '${{NO_SUCH_DADDY_VAR}}'}}\n", "NO_SUCH_DADDY_VAR"),
        (f"run_name: {RUN}\ntrain: [\n", "not valid YAML"),
    ],
    ids=["unknown-key", "wrong-type", "missing-value", "missing-run-name", "unset-variable",
         "not-yaml"],
)  # fmt: skip
def test_bad_run_yaml_is_one_line_and_writes_nothing(
    cwd: Path, capsys, text: str, needle: str
) -> None:
    config = cwd / "runs" / f"{RUN}.yaml"
    config.parent.mkdir()
    config.write_text(text)
    before = files(cwd)
    code, err = run_main(["--config", str(config)], capsys)
    assert_one_line_error(code, err, needle)
    assert files(cwd) == before and sorted(p.name for p in (cwd / "runs").iterdir()) == ["f.yaml"]


# ---- output folders that cannot be written ------------------------------------------------------
def runs_is_a_file(cwd: Path) -> None:
    (cwd / "runs").write_text("not a folder\n")


def savestates_is_a_file(cwd: Path) -> None:
    (cwd / "savestates").write_text("not a folder\n")


def read_only_runs(cwd: Path) -> None:
    """A read-only folder; as root (who ignores modes) a read-only tmpfs mount."""
    (cwd / "runs").mkdir()
    if os.geteuid() != 0:
        (cwd / "runs").chmod(0o555)
        return
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=64k", "tmpfs", str(cwd / "runs")],
                          check=False, capture_output=True, text=True)  # fmt: skip
    if done.returncode != 0:
        pytest.skip(f"cannot mount a read-only tmpfs here: {done.stderr.strip()}")


@pytest.mark.parametrize("block", [runs_is_a_file, savestates_is_a_file, read_only_runs],
                         ids=["runs-is-a-file", "savestates-is-a-file", "read-only-runs"])  # fmt: skip
def test_unwritable_output_folder_is_one_line(
    cwd: Path, capsys, block: Callable[[Path], None]
) -> None:
    block(cwd)
    try:
        code, err = run_main(TINY, capsys)
        assert_one_line_error(code, err)
    finally:
        subprocess.run(["umount", str(cwd / "runs")], check=False, capture_output=True)


# ---- a crafted checkpoint --------------------------------------------------------------------------
class Evil:
    """Unpickling this runs code (here: it writes a marker file)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return exec, (f"open({str(self.marker)!r}, 'w').write('pwned')",)


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")  # the raw pickle: refused anyway
@pytest.mark.parametrize("file", ["model.pt", "raw-pickle"])
def test_malicious_checkpoint_is_refused_before_any_code_runs(
    cwd: Path, states: Path, capsys, file: str
) -> None:
    """A checkpoint that matches the run's settings but carries a pickle payload."""
    manager = CheckpointManager(cwd / "runs" / RUN)
    config = must_match(parse_train_args(TINY))
    folder = manager.save(100, {"model": {"w": torch.zeros(2)}}, config=config)
    marker = cwd / "pwned"
    if file == "model.pt":
        torch.save({"t0": Evil(marker)}, folder / "model.pt")
    else:
        (folder / "model.pt").write_bytes(pickle.dumps({"t0": Evil(marker)}))
    before = files(cwd)
    code, err = run_main(TINY, capsys)
    assert_one_line_error(code, err, "refusing to load", "model.pt")
    assert "weights_only=False" not in err
    assert not marker.exists() and files(cwd) == before
