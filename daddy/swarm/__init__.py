"""The swarm: worker pool, savestate index and import, trigger watcher, curriculum."""
