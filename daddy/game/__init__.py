"""The game: ROM, RAM facts, milestones, the emulator env, maps, bootstrap."""
