"""Evaluation: rollouts with training's rewards, video, heatmaps."""
