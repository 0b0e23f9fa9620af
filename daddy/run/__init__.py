"""A training run: config, paths, checkpoints, the loop, episode log, terminal."""
