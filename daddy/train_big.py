"""`python -m daddy.train_big`: the seed's entry point; the trainer lives in daddy.run."""

import sys

from daddy.run.train import main, train  # noqa: F401

if __name__ == "__main__":
    sys.exit(main())
