"""`python -m daddy.bootstrap --rom practice|PATH --run NAME`: the first controllable savestate.

From power-on, press buttons chosen by reading RAM (not a fixed button script, which breaks on
any timing difference) until the player is in control (DESIGN.md §4): A through the title,
menus and Oak's speech; on a name menu ("NEW NAME" drawn in wTileMap) DOWN, then A, which takes
the first preset name. Then save `savestates/NAME/pallet_town_start.state` and create the run's
`index.json` with that entry. The same logic runs the real game and the practice cartridge.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from daddy.game import ram
from daddy.game.env import PokemonEnv
from daddy.game.milestones import reached_mask
from daddy.game.rom import Rom, RomError
from daddy.run.exit_codes import EXIT_BAD_INPUT, EXIT_OK, OneLineParser
from daddy.run.paths import STATES_ROOT, RunPaths, add_root_flags
from daddy.swarm.state_index import BOOTSTRAP_MILESTONE, StateIndex, StateIndexError, StateMeta

STATE_NAME = "pallet_town_start"
DEFAULT_MAX_FRAMES = 20_000  # the real game needs about 3,300 frames of tapping A
_PRESS_FRAMES = 8
_STEP_FRAMES = 24


class BootstrapError(RuntimeError):
    """The intro did not end in a controllable state within the frame budget."""


@dataclass(frozen=True)
class BootstrapResult:
    state: bytes
    game: ram.GameState
    frames: int
    presses: int


def choose_button(mem: ram.Memory) -> str:
    """The next button: DOWN then A on a name menu, A everywhere else."""
    if any("NEW NAME" in row for row in ram.read_tile_text(mem)):
        return "down" if mem[ram.W_CURRENT_MENU_ITEM] == 0 else "a"
    return "a"


def play_intro(env: PokemonEnv, max_frames: int = DEFAULT_MAX_FRAMES) -> BootstrapResult:
    """Drive the intro from power-on until `in_control`, then return the state bytes."""
    pb = env.pyboy
    env.load_state(env._power_on)
    frames = presses = 0
    while frames < max_frames:
        mem = pb.memory
        if ram.in_control(mem):
            # A few idle frames so the state starts on a settled screen.
            pb.tick(_STEP_FRAMES, True)
            frames += _STEP_FRAMES
            if ram.in_control(pb.memory):
                game = ram.read_game_state(pb.memory)
                return BootstrapResult(env.save_state(), game, frames, presses)
        button = choose_button(mem)
        pb.button_press(button)
        pb.tick(_PRESS_FRAMES, False)
        pb.button_release(button)
        pb.tick(_STEP_FRAMES - _PRESS_FRAMES, True)
        frames += _STEP_FRAMES
        presses += 1
    g = ram.read_game_state(pb.memory)
    raise BootstrapError(
        f"the player was not in control after {frames} frames ({presses} presses; map "
        f"${g.map_id:02X}, text box {g.text_box}); is this Pokémon Red or the practice "
        "cartridge? Raise --max-frames if the ROM's intro is longer"
    )


def bootstrap(
    rom: Rom, run: str, states_root: Path = STATES_ROOT, max_frames: int = DEFAULT_MAX_FRAMES
) -> Path:
    """Write the bootstrap state and the run's index (`RunPaths.states`); returns the index path."""
    folder = RunPaths(run, states_root=states_root).states  # a bad run name fails before the intro
    env = PokemonEnv(rom)
    try:
        result = play_intro(env, max_frames)
    finally:
        env.close()
    index = StateIndex.create(folder, run, rom.sha1)
    g = result.game
    meta = StateMeta(
        milestone=BOOTSTRAP_MILESTONE, tier="early", map_id=g.map_id, badges=g.badges,
        events=g.event_count, step=0, milestones=reached_mask(g), hp=g.hp, max_hp=g.max_hp,
    )  # fmt: skip
    index.add(STATE_NAME, result.state, meta)
    return index.index_path


def main(argv: list[str] | None = None) -> int:
    p = OneLineParser(
        prefix="daddy.bootstrap: error",
        prog="python -m daddy.bootstrap",
        description=__doc__.split("\n")[0],
    )
    p.add_argument("--rom", default=None, help="'practice' or a ROM path (default: $DADDY_ROM, "
                   "else runs/RUN.yaml's train.rom, else the practice cartridge)")
    p.add_argument("--run", required=True, help="run name: states go to STATES_ROOT/RUN/")
    add_root_flags(p, runs=False, old_states_name=True)
    p.add_argument("--max-frames", type=int, default=DEFAULT_MAX_FRAMES)
    p.add_argument("--allow-unknown-rom", action="store_true")
    args = p.parse_args(argv)
    prog = "daddy.bootstrap: error"
    if args.max_frames <= 0:
        print(f"{prog}: --max-frames must be positive, got {args.max_frames}", file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        from daddy.run.config import run_rom  # the ROM rule (daddy.game.rom), with the run's YAML

        rom = run_rom(args.run, args.rom, allow_unknown=args.allow_unknown_rom,
                      states_root=args.states_root)  # fmt: skip
        path = bootstrap(rom, args.run, args.states_root, args.max_frames)
    except (RomError, BootstrapError, StateIndexError, OSError, ValueError) as e:
        print(f"{prog}: {' '.join(str(e).split())}", file=sys.stderr)
        return EXIT_BAD_INPUT
    print(f"bootstrap: {args.run}: wrote {path.parent / (STATE_NAME + '.state')} and {path}")
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
