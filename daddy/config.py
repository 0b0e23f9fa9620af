"""`python -m daddy.config runs/x.yaml`: validate a run config (daddy.run.config)."""

import sys

from daddy.run.cli import main

if __name__ == "__main__":
    sys.exit(main())
