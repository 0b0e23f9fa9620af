"""Bootstrap: from power-on to the first controllable state, saved and indexed."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from daddy.game import ram
from daddy.game.bootstrap import BootstrapError, choose_button, play_intro
from daddy.game.env import PokemonEnv
from daddy.swarm.state_index import StateIndex


def run_cli(*args: str, cwd) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "daddy.bootstrap", *args], cwd=cwd, capture_output=True, text=True,
        check=False,
    )


def test_cli_writes_state_and_index_that_reload_to_the_same_ram(tmp_path, practice_rom):
    out = run_cli("--run", "demo", "--rom", "practice", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    folder = tmp_path / "savestates" / "demo"
    doc = json.loads((folder / "index.json").read_text())
    assert doc["run"] == "demo" and doc["rom_sha1"] == practice_rom.sha1 and doc["pyboy"]
    (entry,) = doc["states"]
    assert entry["path"] == "pallet_town_start.state" and entry["tier"] == "early"
    index = StateIndex.load(folder)
    data = index.read_state(index.entries[0])
    env = PokemonEnv(practice_rom)
    try:
        env.load_state(data)
        a = bytes(env.pyboy.memory[0xC000:0xE000])
        s = ram.read_game_state(env.pyboy.memory)
        env.load_state(data)
        assert bytes(env.pyboy.memory[0xC000:0xE000]) == a
        assert s.in_control and s.map_id == 0x26
    finally:
        env.close()


def test_name_menu_takes_down_then_a(practice_rom):
    env = PokemonEnv(practice_rom)
    pb = env.pyboy
    try:
        seen = []
        for _ in range(60):
            if any("NEW NAME" in r for r in ram.read_tile_text(pb.memory)):
                seen.append((pb.memory[ram.W_CURRENT_MENU_ITEM], choose_button(pb.memory)))
            button = choose_button(pb.memory)
            pb.button_press(button)
            pb.tick(8, False)
            pb.button_release(button)
            pb.tick(16, True)
            if ram.in_control(pb.memory):
                break
        assert (0, "down") in seen and (1, "a") in seen
    finally:
        env.close()


def test_frame_budget_exhausted_is_a_clear_error(practice_rom):
    env = PokemonEnv(practice_rom)
    try:
        with pytest.raises(BootstrapError, match="not in control after"):
            play_intro(env, max_frames=240)
    finally:
        env.close()


def test_bad_rom_exits_nonzero_with_one_line(tmp_path):
    (tmp_path / "x.gb").write_bytes(b"nope")
    out = run_cli("--run", "r", "--rom", str(tmp_path / "x.gb"), cwd=tmp_path)
    assert out.returncode == 2
    assert out.stderr.count("\n") == 1 and "not a Game Boy ROM" in out.stderr
    assert not (tmp_path / "savestates").exists()


def test_states_root_and_its_old_name_savestates_choose_the_folder(tmp_path, practice_rom, capsys):
    from daddy.game.bootstrap import main

    assert main(["--run", "a", "--rom", "practice", "--states-root", str(tmp_path / "s")]) == 0
    assert main(["--run", "b", "--rom", "practice", "--savestates", str(tmp_path / "old")]) == 0
    assert StateIndex.load(tmp_path / "s" / "a").entries[0].name == "pallet_town_start"
    assert StateIndex.load(tmp_path / "old" / "b").entries[0].name == "pallet_town_start"


@pytest.mark.parametrize(
    ("argv", "message"),
    [(["--run", "r", "--max-frames", "0"], "--max-frames must be positive"),
     (["--run", ".."], "bad run name '..'")],
)  # fmt: skip
def test_bad_arguments_are_one_line_and_exit_2(tmp_path, capsys, argv, message):
    from daddy.game.bootstrap import main

    assert main([*argv, "--rom", "practice", "--states-root", str(tmp_path / "s")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("daddy.bootstrap: error: ") and message in err and err.count("\n") == 1
    assert not (tmp_path / "s").exists()
