"""`python -m daddy.bootstrap`: savestates from power-on (daddy.game.bootstrap)."""

import sys

from daddy.game.bootstrap import bootstrap, main  # noqa: F401

if __name__ == "__main__":
    sys.exit(main())
