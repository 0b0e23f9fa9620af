"""A scripted player for the practice cartridge: shortest paths over the world data.

Tests use it to reach places (a gym, a route) through the real game logic: every move is a
button press in the emulator, battles are fought with A, text is closed with B. The planner
reads the world from `daddy.cart.world` and gate/item flags from RAM, and replans after every
step, so random encounters and blackouts only delay it.
"""

from __future__ import annotations

from collections import deque

from daddy.cart import world
from daddy.game import ram
from daddy.game.env import ACTIONS, PokemonEnv

MOVES = {"down": (0, 1), "left": (-1, 0), "right": (1, 0), "up": (0, -1)}
EDGE = {"down": "S", "up": "N", "left": "W", "right": "E"}


def flag_set(mem: ram.Memory, index: int) -> bool:
    return bool(mem[ram.W_EVENT_FLAGS + index // 8] >> (index % 8) & 1)


def passable(mem: ram.Memory, m: world.MapDef, x: int, y: int) -> bool:
    c = m.char(x, y)
    if c in world.WALKABLE:
        return True
    if c in "i=":  # taken items and opened gates are floor
        return flag_set(mem, world.object_flags()[(m.id, x, y)])
    return False


def neighbours(mem: ram.Memory, node: tuple[int, int, int]):
    mid, x, y = node
    m = world.BY_ID[mid]
    for button, (dx, dy) in MOVES.items():
        nx, ny = x + dx, y + dy
        if 0 <= nx < world.WIDTH and 0 <= ny < world.HEIGHT:
            if not passable(mem, m, nx, ny):
                continue
            warp = next((w for w in m.warps if (w[0], w[1]) == (nx, ny)), None)
            yield button, ((warp[2], warp[3], warp[4]) if warp else (mid, nx, ny))
        elif EDGE[button] in m.conn:
            yield button, (m.conn[EDGE[button]], nx % world.WIDTH, ny % world.HEIGHT)


def first_move(mem: ram.Memory, start: tuple[int, int, int], goal: tuple[int, int, int]) -> str:
    """The first button of a shortest path from start to goal (BFS over cells)."""
    if start == goal:
        raise ValueError("already there")
    prev: dict[tuple[int, int, int], tuple[tuple[int, int, int], str] | None] = {start: None}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        for button, nxt in neighbours(mem, node):
            if nxt in prev:
                continue
            prev[nxt] = (node, button)
            if nxt == goal:
                while prev[nxt][0] != start:  # type: ignore[index]
                    nxt = prev[nxt][0]  # type: ignore[index]
                return prev[nxt][1]  # type: ignore[index]
            queue.append(nxt)
    raise AssertionError(f"no path from {start} to {goal}")


def press(env: PokemonEnv, button: str) -> ram.GameState:
    env.step(ACTIONS.index(button))
    return env.unwrapped.state


def settle(env: PokemonEnv, limit: int = 400) -> None:
    """Finish battles (A) and close text (B) until the player is in control."""
    for _ in range(limit):
        s = env.unwrapped.state
        if s.in_control:
            return
        press(env, "a" if s.in_battle else "b")
    raise AssertionError("the game did not return control")


def walk_to(env: PokemonEnv, map_id: int, x: int, y: int, limit: int = 3000) -> None:
    """Walk (fighting whatever appears) until standing on (map_id, x, y)."""
    for _ in range(limit):
        settle(env)
        s = env.unwrapped.state
        here = (s.map_id, s.x, s.y)
        if here == (map_id, x, y):
            return
        press(env, first_move(env.unwrapped.pyboy.memory, here, (map_id, x, y)))
    raise AssertionError(f"did not reach ({map_id:#x}, {x}, {y}) in {limit} steps")


def face(env: PokemonEnv, button: str) -> None:
    """Turn towards a blocked cell (a turn into a wall does not move)."""
    press(env, button)
    settle(env)


def make_strong(env: PokemonEnv, level: int = 60) -> None:
    """A test shortcut: a strong starter, so fights on the way never end in a blackout."""
    mem = env.unwrapped.pyboy.memory
    hp = min(2 * level + 10, 250)
    mem[ram.W_PARTY_COUNT] = 1
    mem[ram.W_PARTY_SPECIES] = world.STARTER_SPECIES
    mem[ram.W_PARTY_MON1_LEVEL] = level
    mem[ram.W_PARTY_MON1_HP], mem[ram.W_PARTY_MON1_HP + 1] = 0, hp
    mem[ram.W_PARTY_MON1_MAX_HP], mem[ram.W_PARTY_MON1_MAX_HP + 1] = 0, hp
    env.unwrapped.state = ram.read_game_state(mem)


def get_starter(env: PokemonEnv) -> None:
    walk_to(env, 0x28, 4, 3)
    face(env, "up")
    press(env, "a")
    settle(env)


def parcel_errand(env: PokemonEnv) -> None:
    """The real game's errand (with the starter): Viridian Mart's clerk gives OAK's PARCEL on
    entry, Oak takes it and gives the POKeDEX, and the old man north of Viridian lets you by."""
    walk_to(env, world.VIRIDIAN_MART, 4, 7)
    settle(env)
    walk_to(env, world.OAKS_LAB, 2, 5)  # below Oak
    face(env, "up")
    press(env, "a")
    settle(env)


def skip_parcel_errand(env: PokemonEnv) -> None:
    """A test shortcut: the errand's flags written to RAM (parcel fetched and delivered, POKeDEX
    received), so the old man's gate is open the next time Viridian City loads."""
    mem = env.unwrapped.pyboy.memory
    for flag in (world.FLAG_GOT_OAKS_PARCEL, world.FLAG_OAK_GOT_PARCEL, world.FLAG_GOT_POKEDEX):
        mem[ram.W_EVENT_FLAGS + flag // 8] |= 1 << (flag % 8)
