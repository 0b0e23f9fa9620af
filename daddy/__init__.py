"""Daddy: preemption-safe recurrent Q-learning on Pokémon Red (PyBoy) at SLURM scale.

Subpackages: `game` (ROM, RAM, milestones, env), `swarm` (emulator pool, savestates,
curriculum), `agent` (networks, actor, replay, learner), `intrinsic` (RND, novelty, posteriors),
`run` (config, paths, checkpoints, the loop, logs, terminal), `eval` (rollouts, video,
heatmaps). Top-level modules are the commands (`python -m daddy.train_big`, ...) and the seed's
names.
"""

import warnings

# PyBoy's SDL2 wheel announces itself on every import (each command, each emulator worker).
warnings.filterwarnings("ignore", message="Using SDL2 binaries", category=UserWarning)
