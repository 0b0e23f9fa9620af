"""`python -m daddy.train_big`: a long, resumable training run of Daddy's recurrent Q-agent.

`train(cfg)` reads top to bottom: lock the run folder, build the components (`builder`), resume
every checkpointed part from the newest complete checkpoint (`state`), open the episode log,
start the emulators, run the loop (`loop`), clean up. Exit codes are `daddy.run.exit_codes`:
0 when the run reached its stop step, 3 when a stop signal ended it after a checkpoint (run it
again to resume), 2 with one line on bad input, 130 on a second Ctrl-C.
"""

from __future__ import annotations

import sys
from pathlib import Path

from daddy.agent.networks import count_parameters
from daddy.game.milestones import DEFAULT_MILESTONES
from daddy.game.rom import RomError, resolve_rom
from daddy.run.builder import Components, build, make_swarm
from daddy.run.checkpoint import CheckpointError
from daddy.run.cli import parse_train_args
from daddy.run.config import TrainConfig
from daddy.run.episode_log import EpisodeLogError, EpisodeLogger, open_episode_log
from daddy.run.exit_codes import EXIT_BAD_INPUT, EXIT_INTERRUPTED, EXIT_OK
from daddy.run.lock import RunLock, RunLockedError
from daddy.run.loop import TrainLoop, env_epsilons  # noqa: F401  (env_epsilons: tests, benches)
from daddy.run.paths import RunPaths
from daddy.run.run_log import RunLog, screen
from daddy.run.state import TrainState, must_match
from daddy.run.stop import Interrupted, Stop
from daddy.run.tensorboard import ScalarLog, open_scalar_log, require_wandb
from daddy.run.terminal import Terminal
from daddy.swarm.state_index import StateIndexError

PROG = "daddy.train_big"
MILESTONE_NAMES = [m.name for m in DEFAULT_MILESTONES]


def train(cfg: TrainConfig, runs_root: Path | None = None, states_root: Path | None = None) -> int:
    """Run (or resume) `cfg`'s run; the roots default to `--runs-root` / `--states-root`."""
    stop = Stop()
    paths = RunPaths(cfg.run_name, Path(runs_root or cfg.runs_root), Path(states_root or cfg.states_root))
    rom = resolve_rom(cfg.rom, allow_unknown=cfg.allow_unknown_rom)  # before any folder exists
    if cfg.wandb:
        require_wandb()  # before the slow build: a missing package is one line at once
    with RunLock(paths.lock, cfg.run_name), RunLog(paths.train_log) as run_log:
        c = build(cfg, paths, rom)
        try:
            return _train(c, stop, run_log)
        finally:
            c.updates.close()


def _train(c: Components, stop: Stop, run_log: RunLog) -> int:
    cfg = c.cfg
    # ---------------------------------------------------------------- resume
    state = TrainState(c)
    c.checkpoints.clean_leftovers()
    have = c.checkpoints.list_complete()
    if cfg.start_over and have:
        raise ValueError(f"--start-over starts from step 0, but {c.paths.checkpoints} still holds "
                         f"step_{have[-1]}: drop --start-over to resume from it, or move the "
                         "checkpoints folder aside first")  # fmt: skip
    loaded = c.checkpoints.load_latest(expected=must_match(cfg), map_location=str(c.device))
    if loaded is not None:
        state.load_state_dict(loaded[1])
        print(f"[RESUME] {cfg.run_name}: checkpoint step_{loaded[0]}, "
              f"{state.counters.episodes} episodes", flush=True)  # fmt: skip
    step = state.counters.step
    stop_step = min(cfg.total_steps, cfg.until_step or cfg.total_steps)
    if step >= stop_step:
        print(f"[DONE] {cfg.run_name}: already at step {step} >= {stop_step}", flush=True)
        return EXIT_OK
    # No checkpoint ever written (killed before the first): no row is covered, start afresh
    # (the old log is moved aside, not replaced). Checkpoints deleted: refuse (--start-over).
    never_checkpointed = loaded is None and not c.paths.checkpointed.exists()
    logger = open_episode_log(c.paths.episodes, cfg.run_name, MILESTONE_NAMES,
                              resume_rows=None if loaded is None else state.counters.logger_rows,
                              start_over=cfg.start_over or never_checkpointed)  # fmt: skip
    if logger.note:
        print(f"[LOG] {logger.note}", flush=True)
    for warning in small_run_warnings(cfg, step, stop_step):
        print(f"[WARN] {warning}", flush=True)

    # ---------------------------------------------------------------- envs and loop
    scalars = open_scalar_log(cfg, c.paths.tensorboard, c.paths.dir, start_step=step,
                              settings=run_settings(c))  # fmt: skip
    try:
        return _run_loop(c, state, logger, scalars, stop, stop_step, run_log)
    finally:
        scalars.close()


def _run_loop(c: Components, state: TrainState, logger: EpisodeLogger, scalars: ScalarLog,
              stop: Stop, stop_step: int, run_log: RunLog) -> int:  # fmt: skip
    cfg, step = c.cfg, state.counters.step
    swarm = make_swarm(c, step)
    # the panel draws on the screen under the log's tee; its plain lines go to the log itself
    terminal = Terminal(cfg.total_steps, cfg.num_envs, start_step=step, stream=screen(),
                        log=run_log.write_line)  # fmt: skip
    run_log.capture()  # a live panel swapped sys.stdout for its proxy: log what prints to it
    print(f"[START] run={cfg.run_name} rom={c.rom.name} device={c.device} model={cfg.model_size} "
          f"params={count_parameters(c.net)} envs={cfg.num_envs} replay_capacity={c.replay.capacity} "
          f"step={step}/{cfg.total_steps} stop_at={stop_step}", flush=True)  # fmt: skip
    loop = TrainLoop(c, state, swarm, logger, terminal, stop, stop_step, scalars)
    try:
        return loop.run()
    finally:
        terminal.close()
        swarm.close()
        logger.close()
        loop.close()


def run_settings(c: Components) -> dict[str, object]:
    """The run's settings for the scalar log: the config plus what was built from it."""
    return {**c.cfg.to_dict(), "rom_name": c.rom.name, "device_resolved": str(c.device),
            "params": count_parameters(c.net), "replay_capacity": c.replay.capacity}  # fmt: skip


def small_run_warnings(cfg: TrainConfig, step: int, stop_step: int) -> list[str]:
    """What a run this short will not do: learn, or finish an episode (says so up front)."""
    out = []
    if step < cfg.learning_starts and cfg.learning_starts >= stop_step:
        out.append(f"learning starts at step {cfg.learning_starts} but this run stops at "
                   f"{stop_step}: the network will not be trained (lower --learning-starts)")
    per_env = (stop_step - step) // cfg.num_envs  # episodes restart on every start
    if per_env < cfg.max_episode_steps:
        out.append(f"no episode can finish: each of the {cfg.num_envs} envs gets {per_env} steps "
                   f"before step {stop_step} and an episode lasts {cfg.max_episode_steps} (lower "
                   "--max-episode-steps or raise --total-steps); episodes.h5 gets no rows")
    return out


def completed_step(run_dir: Path) -> int:
    """Step of the newest complete checkpoint of a run (0 when there is none)."""
    return RunPaths(run_dir.name, run_dir.parent).newest_complete_step() or 0


def error(message: str) -> int:
    print(f"{PROG}: error: {message}", file=sys.stderr)
    return EXIT_BAD_INPUT


def main(argv: list[str] | None = None) -> int:
    cfg = parse_train_args(argv)
    if not cfg.run_name:
        return error("--run-name (or run_name in --config) is required")
    # error lines and crashes' tracebacks go to the run log too
    with RunLog(RunPaths(cfg.run_name, Path(cfg.runs_root)).train_log, tracebacks=True):
        return _main(cfg)


def _main(cfg: TrainConfig) -> int:
    try:
        return train(cfg)
    except Interrupted:
        print(f"{PROG}: second Ctrl-C: stopped at once; a checkpoint being written is left "
              "incomplete and ignored, the previous complete one stands", file=sys.stderr)  # fmt: skip
        return EXIT_INTERRUPTED
    except (RomError, StateIndexError, CheckpointError, EpisodeLogError, RunLockedError,
            ValueError) as e:  # fmt: skip
        return error(str(e))
    except OSError as e:  # an output folder that cannot be written, a full disk
        where = f" ({e.filename})" if e.filename else ""
        return error(f"{e.strerror or str(e).splitlines()[0]}{where}: make runs/ and savestates/ "
                     "writable folders with free space; the newest checkpoint is intact")
    finally:
        Stop.ignore_late_signals()


if __name__ == "__main__":
    sys.exit(main())
