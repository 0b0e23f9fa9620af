"""What the agent sees and does: the observation and action spec, defined once.

Its own module, not `daddy.game.env`, so the learner side (networks, replay, RND), evaluation
and the benches import the numbers without loading gymnasium and the emulator. `env.py` builds
its spaces from these, and a test checks `game_features` fills exactly `FEATURE_DIM`.
"""

from __future__ import annotations

ACTIONS = ("down", "left", "right", "up", "a", "b", "start")  # buttons, by action index
NUM_ACTIONS = len(ACTIONS)
SCREEN_SHAPE = (72, 80)  # the Game Boy's 144x160 screen, every second row and column
NUM_SHADES = 4  # screen pixels are shades 0..NUM_SHADES-1
FEATURE_DIM = 24  # floats beside the screen (`daddy.game.env.game_features`)
NUM_MAPS = 256  # map_id is one byte
