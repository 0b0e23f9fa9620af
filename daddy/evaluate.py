"""`python -m daddy.evaluate`: eval rollouts, videos, heatmaps (daddy.eval.rollout)."""

import sys

from daddy.eval.rollout import main

if __name__ == "__main__":
    sys.exit(main())
