"""The seed's curriculum module: `CurriculumManager` (daddy.swarm.curriculum), and
`python -m daddy.curriculum import --run NAME DIR...` (daddy.swarm.state_import)."""

import sys

from daddy.swarm.curriculum import CurriculumConfig, CurriculumManager  # noqa: F401
from daddy.swarm.state_import import main

if __name__ == "__main__":
    sys.exit(main())
