"""Evaluation rollout: a greedy (or low-ε) episode from a checkpoint, saved as MP4 + GIF.

    python -m daddy.evaluate --run NAME [--checkpoint latest|STEP|PATH] [--state PATH|NAME]
                             [--steps N] [--epsilon 0.01] [--episodes 1] [--out DIR]
                             [--rom practice|PATH]

Loads only the parts it needs from the newest complete checkpoint (the Q-network, and the
intrinsic-reward state when present, never the replay buffer), plays an episode in
`daddy.game.env.make_env` from a savestate (default: the run's bootstrap state), and writes
`DIR/rollout_<step>.mp4` and `.gif` (default DIR: runs/NAME/videos) with an overlay: map, step,
reward sums, badges, milestone posterior. ROM and episode length default to `runs/NAME.yaml`.
`run_rollout` is the episode alone; `start_evaluation` runs this command in a child process, so
the trainer's `--video-interval` never stalls training. Exit code 2 with one line on bad input.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from daddy.agent.networks import MODEL_CONFIGS, QNetwork, as_tensors, model_config
from daddy.eval.video import Overlay, posterior_summary, write_rollout
from daddy.game.milestones import DEFAULT_MILESTONES, Milestone, reached_mask
from daddy.game.spec import FEATURE_DIM, NUM_ACTIONS
from daddy.run import checkpoint as ckpt
from daddy.run.episode_log import read_posteriors
from daddy.run.exit_codes import EXIT_BAD_INPUT, EXIT_OK, OneLineParser
from daddy.run.paths import (
    CHECKPOINTS,
    RUNS_ROOT,
    STATES_ROOT,
    RunPaths,
    add_root_flags,
    complete_steps,
    step_dir_name,
    step_of,
)

EXIT_ERROR = EXIT_BAD_INPUT  # daddy.run.exit_codes: one line on stderr, nothing lost
DEFAULT_STEPS = 2048
MODEL_KEY = "model"
INTRINSIC_KEY = "intrinsic"


class EvaluationError(RuntimeError):
    """A rollout that cannot start (no checkpoint, bad state, ...); the message says what to do."""


# --- checkpoints -----------------------------------------------------------------------------
def resolve_checkpoint(run: RunPaths | str | Path, checkpoint: str | Path = "latest") -> Path:
    """Folder of a complete checkpoint: "latest" (newest of the run's `RunPaths.checkpoints`), a
    step number, a `step_<N>` folder, or a checkpoints folder (its newest). `run` is a RunPaths
    or the run folder. Only folders carrying the completion marker count, so a checkpoint being
    written is never read half-done."""
    text = str(checkpoint)
    if text == "latest" or text.isdigit():
        paths = run if isinstance(run, RunPaths) else RunPaths.from_dir(run)
        if text == "latest":
            return _newest_complete(paths.checkpoints)
        return _complete(paths.checkpoint(int(text)))
    path = Path(checkpoint)
    if step_of(path.name) is not None:
        return _complete(path)
    if path.is_dir():
        inner = path / CHECKPOINTS  # a run folder
        return _newest_complete(inner if inner.is_dir() else path)
    raise EvaluationError(
        f"checkpoint {path} does not exist; pass 'latest', a step number or a "
        "runs/<run>/checkpoints/step_<N> folder"
    )


def _complete(folder: Path) -> Path:
    if not (folder / ckpt.COMPLETE).is_file():
        have = ", ".join(p.name for p in complete_checkpoints(folder.parent)) or "none"
        raise EvaluationError(
            f"{folder} is not a complete checkpoint (complete ones in {folder.parent}: {have})"
        )
    return folder


def complete_checkpoints(folder: Path) -> list[Path]:
    """`step_<N>` folders under `folder` (a checkpoints folder) that carry the completion
    marker, oldest first (`daddy.run.paths.complete_steps`)."""
    return [Path(folder) / step_dir_name(step) for step in complete_steps(Path(folder))]


def _newest_complete(folder: Path) -> Path:
    steps = complete_checkpoints(folder)
    if not steps:
        raise EvaluationError(
            f"no complete checkpoint in {folder}: train first (python -m "
            "daddy.train_big ...) or pass --checkpoint PATH"
        )
    return steps[-1]


def load_checkpoint_parts(
    folder: str | Path,
    parts: Iterable[str],
    map_location: str = "cpu",
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(meta, {part: payload}) of one complete checkpoint, reading only the named parts that it
    has (missing ones are simply absent), with the checkpoint module's pickle-free decoding."""
    folder = _complete(Path(folder))
    try:
        meta = json.loads((folder / ckpt.META).read_text())
    except (OSError, ValueError) as err:
        raise EvaluationError(
            f"checkpoint {folder} has an unreadable {ckpt.META} ({err}); pass another --checkpoint"
        ) from err
    have = set(meta.get("parts", []))
    try:
        loaded = {p: ckpt.load_part(folder, p, map_location) for p in parts if p in have}
    except ckpt.CheckpointError as err:
        raise EvaluationError(str(err)) from err
    return meta, loaded


def _dig(tree: Mapping[str, Any], dotted: str) -> Any:
    """`tree["a"]["b"]` for "a.b"; KeyError naming what is there instead."""
    node: Any = tree
    for i, key in enumerate(dotted.split(".")):
        if not isinstance(node, Mapping) or key not in node:
            where = ".".join(dotted.split(".")[:i]) or "the checkpoint"
            have = sorted(node) if isinstance(node, Mapping) else type(node).__name__
            raise KeyError(f"no {key!r} in {where} (it has {have})")
        node = node[key]
    return node


def build_network(state_dict: Mapping[str, torch.Tensor], model_size: str | None) -> QNetwork:
    """A QNetwork shaped like `state_dict` (actions and feature width read from its tensors);
    `model_size` from the checkpoint's config, else the preset whose shapes fit."""
    sizes = [model_size] if model_size else sorted(MODEL_CONFIGS)
    num_actions = (
        int(state_dict["advantage.2.weight"].shape[0])
        if "advantage.2.weight" in state_dict
        else NUM_ACTIONS
    )
    feature_dim = (
        int(state_dict["encoder.features.0.weight"].shape[1])
        if "encoder.features.0.weight" in state_dict
        else FEATURE_DIM
    )
    errors = []
    for size in sizes:
        try:
            net = QNetwork(model_config(size), num_actions=num_actions, feature_dim=feature_dim)
            net.load_state_dict(dict(state_dict))
            return net.eval()
        except (RuntimeError, ValueError) as err:
            errors.append(f"{size}: {str(err).splitlines()[0]}")
    raise EvaluationError(
        "checkpoint weights fit no QNetwork ("
        + "; ".join(errors)
        + "); pass --model-key naming the online network's state dict"
    )


@dataclass
class Policy:
    """What a rollout needs from a checkpoint."""

    net: QNetwork
    step: int  # the checkpoint's global step; names the video files
    folder: Path
    config: dict[str, Any] = field(default_factory=dict)
    intrinsic: dict[str, Any] | None = None  # IntrinsicRewards.state_dict(), when saved


def load_policy(
    run_dir: str | Path,
    checkpoint: str | Path = "latest",
    *,
    model_key: str = MODEL_KEY,
    intrinsic_key: str | None = INTRINSIC_KEY,
    device: str | torch.device = "cpu",
) -> Policy:
    """Q-network (and intrinsic-reward state) of a checkpoint, ready to act on `device`."""
    folder = resolve_checkpoint(run_dir, checkpoint)
    top = model_key.split(".")[0]
    parts = [top] + ([intrinsic_key.split(".")[0]] if intrinsic_key else [])
    meta, payload = load_checkpoint_parts(folder, parts)
    config = dict(meta.get("config") or {})
    if top not in payload:
        have = ", ".join(meta.get("parts", [])) or "none"
        raise EvaluationError(
            f"checkpoint {folder} has no part {top!r} (parts: {have}); "
            "pass --model-key naming the Q-network's part"
        )
    try:
        weights = _dig(payload, model_key)
    except KeyError as err:
        raise EvaluationError(f"checkpoint {folder}: {err.args[0]}; pass --model-key") from err
    if not isinstance(weights, Mapping) or not all(
        isinstance(v, torch.Tensor) for v in weights.values()
    ):
        keys = sorted(weights) if isinstance(weights, Mapping) else type(weights).__name__
        raise EvaluationError(
            f"checkpoint {folder}: {model_key!r} is not a state dict of "
            f"tensors (it has {keys}); pass --model-key, e.g. model.online"
        )
    size = config.get("model_size")
    net = build_network(weights, str(size) if size else None).to(device)
    intrinsic = None
    if intrinsic_key:
        try:
            intrinsic = _dig(payload, intrinsic_key)
        except KeyError:
            intrinsic = None
    return Policy(net, int(meta.get("step", 0)), folder, config, intrinsic)


# --- the rollout -----------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class RolloutFrame:
    """One recorded step: the full-resolution screen and what the overlay shows under it."""

    screen: np.ndarray  # (144, 160, 3) uint8
    overlay: Overlay
    action: int | None  # the action that led here; None for the reset frame
    milestones: int  # DEFAULT_MILESTONES bitmask reached so far (including at the start)


def _batch(obs: Mapping[str, Any]) -> dict[str, np.ndarray]:
    return {k: np.asarray(obs[k])[None] for k in ("screen", "map_id", "features")}


def _parts_nan() -> dict[str, float]:
    return {"r_rnd": float("nan"), "r_novel": float("nan"), "r_bayes": float("nan")}


@torch.no_grad()
def run_rollout(
    net: QNetwork,
    env: Any,
    steps: int,
    epsilon: float = 0.01,
    device: str | torch.device = "cpu",
    *,
    state: bytes | str | Path | None = None,
    seed: int = 0,
    intrinsic: Any | None = None,
    posterior: tuple[Sequence[float], Sequence[float]] | None = None,
    milestones: Sequence[Milestone] = DEFAULT_MILESTONES,
) -> list[RolloutFrame]:
    """Play one episode of at most `steps` steps with ε-greedy actions from `net`.

    `env` follows docs/CONTRACTS.md (obs dict; info["game"], info["r_env"], info["milestones"];
    `env.unwrapped.screen_rgb()`). `intrinsic` (a `daddy.intrinsic.rewards.IntrinsicRewards` for one env)
    adds the rnd/novelty/bayes parts and r_total from `IntrinsicRewards.step`, the call training
    makes, rules included (no curiosity in text boxes); without it those
    read "n/a" and total = env. `posterior` ((alpha, beta) per milestone) is shown when there is
    no `intrinsic`. Returns the reset frame plus one frame per step.
    """
    if steps < 1:
        raise ValueError(f"steps must be at least 1; got {steps}")
    if not 0.0 <= epsilon <= 1.0:
        raise ValueError(f"epsilon must be between 0 and 1; got {epsilon}")
    rng = np.random.default_rng(seed)
    labels = [m.label for m in milestones]
    if intrinsic is not None:
        posterior = (intrinsic.posteriors.alpha, intrinsic.posteriors.beta)
    options = {"state": state} if state is not None else None
    obs, info = env.reset(seed=seed, options=options)
    net = net.to(device).eval()
    hidden = net.initial_state(1, device)
    sums = {
        "r_env": 0.0,
        "r_total": 0.0,
        **({k: 0.0 for k in _parts_nan()} if intrinsic is not None else _parts_nan()),
    }
    reached = int(info.get("milestones", 0))  # newly reached this episode (pays r_bayes)
    shown = reached | _true_now(info, milestones)  # ... plus those true at the start
    frames = [_frame(env, info, 0, sums, shown, posterior, labels, None)]
    for t in range(1, steps + 1):
        q, hidden = net.step(as_tensors(_batch(obs), device), hidden)
        action = int(q.argmax(dim=-1)[0])
        if rng.random() < epsilon:
            action = int(rng.integers(net.num_actions))
        obs, r_env, terminated, truncated, info = env.step(action)
        now = int(info.get("milestones", reached))
        newly, reached = now & ~reached, reached | now
        shown |= reached | _true_now(info, milestones)
        sums["r_env"] += float(r_env)
        if intrinsic is None:
            sums["r_total"] += float(r_env)
        else:
            rewards = intrinsic.step(_batch(obs), [info["game"]], [newly], [r_env])
            for k, v in rewards.parts().items():
                sums[k] += float(v[0])
            sums["r_total"] += float(rewards.r_total[0])
        frames.append(_frame(env, info, t, sums, shown, posterior, labels, action))
        if terminated or truncated:
            break
    return frames


def _true_now(info: Mapping[str, Any], milestones: Sequence[Milestone]) -> int:
    game = info.get("game")
    return reached_mask(game, tuple(milestones)) if game is not None else 0


def _frame(
    env: Any,
    info: Mapping[str, Any],
    t: int,
    sums: Mapping[str, float],
    reached: int,
    posterior: tuple[Sequence[float], Sequence[float]] | None,
    labels: list[str],
    action: int | None,
) -> RolloutFrame:
    game = info.get("game")
    text = (
        posterior_summary(posterior[0], posterior[1], labels, reached)
        if posterior is not None
        else ""
    )
    overlay = Overlay(
        map_id=int(game.map_id) if game is not None else 0,
        step=t,
        r_env=sums["r_env"],
        r_total=sums["r_total"],
        r_rnd=sums["r_rnd"],
        r_novel=sums["r_novel"],
        r_bayes=sums["r_bayes"],
        badges=int(game.badges) if game is not None else 0,
        posterior=text,
    )
    screen = np.array(env.unwrapped.screen_rgb(), dtype=np.uint8, copy=True)
    return RolloutFrame(screen, overlay, action, reached)


def save_rollout(
    frames: Sequence[RolloutFrame],
    out_dir: str | Path,
    step: int | str,
    *,
    scale: int = 3,
    fps: int = 15,
) -> tuple[Path, Path]:
    """`rollout_<step>.mp4` and `.gif` of a recorded rollout; returns their paths."""
    return write_rollout(
        [f.screen for f in frames], [f.overlay for f in frames], out_dir, step, scale=scale, fps=fps
    )


# --- wiring: checkpoint + env + savestate -----------------------------------------------------
def _intrinsic_for_eval(
    state: Mapping[str, Any] | None, milestones: Sequence[Milestone], device: str | torch.device
) -> Any | None:
    """A one-env IntrinsicRewards with the run's RND and posteriors (episodic memory fresh)."""
    if not state:
        return None
    from daddy.intrinsic.rewards import IntrinsicConfig, IntrinsicRewards

    try:
        cfg = IntrinsicConfig.from_dict(dict(state.get("config") or {}))
        rewards = IntrinsicRewards(cfg, 1, tuple(milestones), device)
        rewards.rnd.load_state_dict(state["rnd"])
        rewards.posteriors.load_state_dict(state["posteriors"])
    except (KeyError, ValueError, RuntimeError, TypeError) as err:
        print(
            f"evaluate: intrinsic-reward state not usable ({err}); showing env reward only",
            file=sys.stderr,
            flush=True,
        )
        return None
    return rewards


def _posterior_from_log(
    run_dir: Path,
    milestones: Sequence[Milestone],
) -> tuple[np.ndarray, np.ndarray] | None:
    """The newest episode's posteriors from episodes.h5 (when the checkpoint has none); a log
    begun with fewer milestones gives the newer ones their prior."""
    path = RunPaths.from_dir(run_dir).episodes
    if not path.is_file():
        return None
    try:
        alpha, beta, names = read_posteriors(path)
    except (OSError, KeyError, ValueError, RuntimeError):  # costs the overlay only its posterior
        return None
    wanted = [m.name for m in milestones]
    if not len(alpha) or list(names) != wanted[: len(names)]:
        return None
    # a log begun with fewer milestones (the list only grows): the newer ones at their prior
    from daddy.intrinsic.config import IntrinsicConfig

    prior = IntrinsicConfig()
    pad = len(wanted) - len(names)
    return (np.concatenate([alpha[-1], np.full(pad, prior.prior_alpha)]),
            np.concatenate([beta[-1], np.full(pad, prior.prior_beta)]))


def resolve_state(
    run: str,
    state: str | Path | None,
    states_root: Path = STATES_ROOT,
) -> Path | None:
    """Savestate file to start from: a path, a state name from `savestates/<run>/index.json`,
    or (None) the run's bootstrap state if it has one, else the env's own start."""
    from daddy.swarm.state_index import StateIndex, StateIndexError

    paths = RunPaths(run, states_root=states_root)
    folder = paths.states
    if state is not None and Path(state).is_file():
        return Path(state)
    try:
        index = StateIndex.load(folder) if paths.state_index.is_file() else None
    except StateIndexError as err:
        raise EvaluationError(str(err)) from err
    entries = index.entries if index else []
    if state is None:
        boot = [e for e in entries if e.is_bootstrap]
        return index.state_path(boot[0]) if index and boot else None
    named = [e for e in entries if e.name == str(state)]
    if named and index:
        return index.state_path(named[0])
    known = ", ".join(e.name for e in entries) or "none"
    raise EvaluationError(
        f"savestate {state} is neither a file nor a state of {paths.state_index} (states: {known})"
    )


def run_settings(run: str, runs_root: Path = RUNS_ROOT) -> dict[str, Any]:
    """rom, allow_unknown_rom, model_size and max_episode_steps from `runs/<run>.yaml` when the
    run has one (the pipeline's eval stage passes no --rom); {} otherwise."""
    path = RunPaths(run, runs_root).config
    if not path.is_file():
        return {}
    from daddy.run.config import (
        load_run_config,  # ConfigError is a ValueError: one line per problem
    )

    train = load_run_config(path).train
    keys = ("rom", "allow_unknown_rom", "model_size", "max_episode_steps")
    return {k: getattr(train, k) for k in keys if hasattr(train, k)}


def evaluate(
    run: str,
    out_dir: str | Path | None = None,
    *,
    checkpoint: str | Path = "latest",
    state: str | Path | None = None,
    steps: int | None = None,
    epsilon: float = 0.01,
    episodes: int = 1,
    rom: str | None = None,
    allow_unknown_rom: bool = False,
    runs_root: Path = RUNS_ROOT,
    states_root: Path = STATES_ROOT,
    model_key: str = MODEL_KEY,
    intrinsic_key: str | None = INTRINSIC_KEY,
    device: str = "cpu",
    seed: int = 0,
    scale: int = 3,
    fps: int = 15,
) -> list[tuple[Path, Path]]:
    """The whole evaluation: checkpoint → `episodes` episodes → MP4 + GIF each.

    Videos are `rollout_<step>.mp4/.gif` for the first episode and `rollout_<step>_<k>` for
    episode k ≥ 1 (ε-draws seeded with seed + k). ROM and episode length default to the run
    config's; returns the (mp4, gif) paths.
    """
    if steps is not None and steps < 1:
        raise EvaluationError(f"--steps must be at least 1; got {steps}")
    if not 0.0 <= epsilon <= 1.0:
        raise EvaluationError(f"--epsilon must be between 0 and 1; got {epsilon}")
    if episodes < 1:
        raise EvaluationError(f"--episodes must be at least 1; got {episodes}")
    paths = RunPaths(run, runs_root, states_root)  # ValueError for a run name that is no name
    run_dir = paths.dir
    policy = load_policy(
        run_dir, checkpoint, model_key=model_key, intrinsic_key=intrinsic_key, device=device
    )
    settings = {**run_settings(run, runs_root), **policy.config}
    steps = steps or int(settings.get("max_episode_steps") or DEFAULT_STEPS)
    from daddy.run.config import run_rom  # the ROM rule: --rom > $DADDY_ROM > YAML > checkpoint

    # the checkpoint's ROM must match; a start state of another ROM fails when it loads
    rom_used = run_rom(run, rom, allow_unknown=allow_unknown_rom, runs_root=runs_root,
                       states_root=states_root, checkpoint=policy.config, savestates=False)  # fmt: skip
    start = resolve_state(run, state, states_root)
    milestones = DEFAULT_MILESTONES
    intrinsic = _intrinsic_for_eval(policy.intrinsic, milestones, device)
    posterior = None if intrinsic else _posterior_from_log(run_dir, milestones)
    out = Path(out_dir) if out_dir is not None else paths.videos
    from daddy.game.env import make_env  # the emulator is only needed from here on

    env = make_env(rom=rom_used.flag(), max_episode_steps=steps,
                   allow_unknown_rom=not rom_used.known)  # fmt: skip
    written = []
    try:
        for k in range(episodes):
            frames = run_rollout(
                policy.net,
                env,
                steps,
                epsilon,
                device,
                state=str(start) if start else None,
                seed=seed + k,
                intrinsic=intrinsic,
                posterior=posterior,
                milestones=milestones,
            )
            name = str(policy.step) if k == 0 else f"{policy.step}_{k}"
            written.append(save_rollout(frames, out, name, scale=scale, fps=fps))
    finally:
        env.close()
    return written


def start_evaluation(
    run: str,
    out_dir: str | Path | None = None,
    *,
    checkpoint: str | Path = "latest",
    log_path: str | Path | None = None,
    extra_args: Sequence[str] = (),
    threads: int = 1,
    runs_root: Path = RUNS_ROOT,
    states_root: Path = STATES_ROOT,
) -> subprocess.Popen:
    """Run `python -m daddy.evaluate` in a child process (trainer's `--video-interval`): the
    trainer keeps stepping, polls `.poll()`, and never shares its emulators or CUDA context.
    Output goes to `log_path` (default: the video folder's `evaluate_<checkpoint>.log`)."""
    paths = RunPaths(run, runs_root, states_root)
    cmd = [
        sys.executable,
        "-m",
        "daddy.evaluate",
        "--run",
        run,
        "--checkpoint",
        str(checkpoint),
        "--threads",
        str(threads),
        *paths.root_flags(),
        *map(str, extra_args),
    ]
    if out_dir is not None:
        cmd += ["--out", str(out_dir)]
    log = (
        Path(log_path)
        if log_path
        else (Path(out_dir) if out_dir else paths.videos)
        / f"evaluate_{Path(str(checkpoint)).name}.log"
    )
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as fh:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(
            cmd, stdout=fh, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=os.getcwd()
        )


# --- command line ----------------------------------------------------------------------------
def _parser() -> argparse.ArgumentParser:
    p = OneLineParser(
        prefix="evaluate",
        prog="python -m daddy.evaluate",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--run", required=True, help="run name (folder under --runs-root)")
    p.add_argument(
        "--checkpoint",
        default="latest",
        help="'latest' (default), a step number, or a checkpoint folder",
    )
    p.add_argument(
        "--state",
        default=None,
        help="savestate file or state name from savestates/<run>/index.json "
        "(default: the run's bootstrap state)",
    )
    p.add_argument(
        "--steps",
        type=int,
        default=None,
        help=f"episode length cap (default: the run's max_episode_steps, else {DEFAULT_STEPS})",
    )
    p.add_argument("--epsilon", type=float, default=0.01, help="random-action probability")
    p.add_argument("--episodes", type=int, default=1, help="rollouts to record")
    p.add_argument(
        "--out", type=Path, default=None, help="video folder (default: <runs-root>/<run>/videos)"
    )
    p.add_argument(
        "--rom",
        default=None,
        help="'practice' or a ROM path (default: $DADDY_ROM, else the run config's train.rom, "
        "else the checkpoint's, else the practice cartridge)",
    )
    p.add_argument(
        "--allow-unknown-rom",
        action="store_true",
        help="accept a ROM whose SHA-1 is not Pokemon Red's",
    )
    add_root_flags(p)
    p.add_argument(
        "--model-key",
        default=MODEL_KEY,
        help="checkpoint part (dotted path) holding the Q-network's state dict",
    )
    p.add_argument("--device", default="cpu", help="cpu, cuda or auto")
    p.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch CPU threads (batch-1 acting gains nothing from more; 0: torch default)",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--scale", type=int, default=3, help="MP4 pixel scale (GIF uses 2)")
    p.add_argument("--fps", type=int, default=15)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.threads < 0:
        print(f"evaluate: --threads must be >= 0; got {args.threads}", file=sys.stderr)
        return EXIT_ERROR
    if args.threads:
        torch.set_num_threads(args.threads)
    device = args.device
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        written = evaluate(
            args.run,
            args.out,
            checkpoint=args.checkpoint,
            state=args.state,
            steps=args.steps,
            epsilon=args.epsilon,
            episodes=args.episodes,
            rom=args.rom,
            allow_unknown_rom=args.allow_unknown_rom,
            runs_root=args.runs_root,
            states_root=args.states_root,
            model_key=args.model_key,
            device=device,
            seed=args.seed,
            scale=args.scale,
            fps=args.fps,
        )
    except (EvaluationError, ckpt.CheckpointError, ValueError, OSError) as err:
        print(f"evaluate: {' '.join(str(err).split())}", file=sys.stderr, flush=True)
        return EXIT_ERROR
    for mp4, gif in written:
        print(f"evaluate: wrote {mp4} and {gif}", flush=True)
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
