"""Shared fixtures: the practice ROM and its bootstrap savestate, built once per session."""

from __future__ import annotations

import pytest

from daddy.game.rom import Rom, resolve_rom


@pytest.fixture(scope="session")
def practice_rom() -> Rom:
    return resolve_rom("practice")


@pytest.fixture(scope="session")
def boot_state(practice_rom: Rom) -> bytes:
    """The first controllable state (REDS_HOUSE_2F), reached by the real bootstrap logic."""
    from daddy.game.bootstrap import play_intro
    from daddy.game.env import PokemonEnv

    env = PokemonEnv(practice_rom)
    try:
        return play_intro(env).state
    finally:
        env.close()


@pytest.fixture
def game(practice_rom: Rom, boot_state: bytes):
    """A bare PokemonEnv standing at the bootstrap state, closed after the test."""
    from daddy.game.env import PokemonEnv

    env = PokemonEnv(practice_rom, initial_state=boot_state, max_episode_steps=10**6)
    env.reset()
    yield env
    env.close()


@pytest.fixture(autouse=True)
def one_torch_thread():
    """Small CPU ops run 5-10x faster on one thread than on two on a shared, busy machine."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
