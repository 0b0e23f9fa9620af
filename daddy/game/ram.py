"""Pokémon Red RAM: named addresses and a `GameState` read in one pass.

The practice cartridge keeps its state at these same addresses, so everything above the
emulator (rewards, milestones, curriculum, bootstrap) reads one layout for both ROMs.
Addresses come from the public pokered disassembly's symbol file (see DESIGN.md §4).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from operator import attrgetter
from typing import Protocol

# --- addresses -----------------------------------------------------------------------------
W_CUR_MAP = 0xD35E
W_Y_COORD = 0xD361
W_X_COORD = 0xD362
W_OBTAINED_BADGES = 0xD356
W_PARTY_COUNT = 0xD163
W_PARTY_SPECIES = 0xD164
PARTY_STRIDE = 0x2C
W_PARTY_MON1_LEVEL = 0xD18C
W_PARTY_MON1_HP = 0xD16C  # 2 bytes, big-endian
W_PARTY_MON1_MAX_HP = 0xD18D  # 2 bytes, big-endian
PARTY_LEVELS = tuple(W_PARTY_MON1_LEVEL + i * PARTY_STRIDE for i in range(6))
W_EVENT_FLAGS = 0xD747
EVENT_FLAGS_LEN = 320
W_IS_IN_BATTLE = 0xD057
W_PLAYER_MONEY = 0xD347  # 3 bytes BCD
W_POKEDEX_OWNED = 0xD2F7
W_POKEDEX_SEEN = 0xD30A
POKEDEX_LEN = 19
W_NUM_BAG_ITEMS = 0xD31D
W_BAG_ITEMS = 0xD31E  # (item id, quantity) pairs, 0xFF-terminated
BAG_CAPACITY = 20
W_WALK_BIKE_SURF = 0xD700
W_STATUS_FLAGS5 = 0xD730
W_STATUS_FLAGS6 = 0xD732
W_JOY_IGNORE = 0xCD6B
W_FONT_LOADED = 0xCFC4
H_WY = 0xFFB0
W_TILE_MAP = 0xC3A0
# warps and fades (docs/REAL_GAME.md "Warps and fades")
R_BGP = 0xFF47  # background palette register
W_MAP_PAL_OFFSET = 0xD35D  # LoadGBPal's offset: 0, or 6 in a dark cave
W_LAST_MAP = 0xD365  # the outside map a LAST_MAP ($FF) warp returns to
W_NUMBER_OF_WARPS = 0xD3AE
W_WARP_ENTRIES = 0xD3AF  # 4 bytes a warp: y, x, destination warp id, destination map
W_MOVEMENT_FLAGS = 0xD736  # pokered's wd736; bit 2: standing on a warp
LAST_MAP = 0xFF
TILE_MAP_W, TILE_MAP_H = 20, 18
W_CURRENT_MENU_ITEM = 0xCC26

# --- event flags used by the project (byte address, bit) -----------------------------------
EVENT_GOT_STARTER = (0xD74B, 2)
EVENT_OAK_GOT_PARCEL = (0xD74E, 0)
EVENT_BEAT_BROCK = (0xD755, 7)
EVENT_BEAT_MISTY = (0xD75E, 7)
EVENT_BEAT_LT_SURGE = (0xD773, 7)

_POPCOUNT = bytes(i.bit_count() for i in range(256))


class Memory(Protocol):
    """What `read_game_state` needs: PyBoy's `pyboy.memory` satisfies it."""

    def __getitem__(self, key: int | slice) -> int | Sequence[int]: ...


def bcd_to_int(data: Sequence[int]) -> int:
    """Decode Pokémon Red's big-endian BCD money (3 bytes → up to 999999)."""
    value = 0
    for byte in data:
        value = value * 100 + (byte >> 4) * 10 + (byte & 0x0F)
    return value


def popcount(data: bytes | Sequence[int]) -> int:
    """Number of set bits in a byte string (event flags, Pokédex bits)."""
    return sum(_POPCOUNT[b] for b in data)


@dataclass(frozen=True, slots=True)
class GameState:
    """One consistent snapshot of the game, taken between env steps."""

    map_id: int
    x: int
    y: int
    badges: int  # bitfield, bit 0 = Boulder
    party_count: int
    levels: tuple[int, ...]  # six entries, 0 where the slot is empty
    hp: int  # party mon 1
    max_hp: int
    events: bytes  # the 320 raw bytes of wEventFlags
    event_count: int
    in_battle: int
    money: int
    dex_owned: int
    dex_seen: int
    bag_count: int
    in_control: bool  # the DESIGN.md §4 "player in control" conditions
    text_box: bool
    bag: bytes = b""  # item ids in the bag, in bag order (quantities dropped)

    @property
    def badge_count(self) -> int:
        return self.badges.bit_count()

    @property
    def level_sum(self) -> int:
        return sum(self.levels)

    @property
    def hp_fraction(self) -> float:
        return self.hp / self.max_hp if self.max_hp else 0.0

    @property
    def cell(self) -> tuple[int, int, int]:
        return (self.map_id, self.x, self.y)

    def has_item(self, item_id: int) -> bool:
        """True if the bag holds the item (key items, HMs: the story's proofs of progress)."""
        return item_id in self.bag

    def event(self, flag: tuple[int, int]) -> bool:
        """True if the event flag (byte address, bit) is set."""
        addr, bit = flag
        return bool(self.events[addr - W_EVENT_FLAGS] >> bit & 1)

    def __reduce__(self) -> tuple[type[GameState], tuple]:
        """Pickle as a constructor call. Every env's state crosses from its worker process on
        every step; dataclasses' generic pickling of slots classes walks `fields()` each time
        (~40 µs a state, half of the swarm's main-process time per step), this ~2 µs."""
        return (GameState, _GAME_STATE_FIELDS(self))


_GAME_STATE_FIELDS = attrgetter(*(f.name for f in fields(GameState)))


def joypad_free(mem: Memory) -> bool:
    """DESIGN.md §4: a game has started and nothing (text, battle, script) holds the joypad.
    Alone it reads true in the middle of a warp: see `warp_settled`."""
    return (
        mem[W_STATUS_FLAGS6] & 1 == 1
        and mem[W_JOY_IGNORE] == 0
        and mem[W_STATUS_FLAGS5] & 0xA1 == 0
        and mem[W_FONT_LOADED] & 1 == 0
        and mem[W_IS_IN_BATTLE] == 0
        and mem[H_WY] == 0x90
    )


# rBGP as LoadGBPal sets it every overworld frame, by wMapPalOffset (home/fade.asm: FadePal4,
# or FadePal2 in a dark cave); anything else is a fade in progress.
_SETTLED_BGP = {0: 0xE4, 6: 0xFE}


def warp_settled(mem: Memory) -> bool:
    """False from the moment a warp writes the new wCurMap until the new map is loaded at its
    new position and its palette is back. The real game writes wCurMap, then fades out for 32
    frames with the old wXCoord/wYCoord and the old map's warp table (the first 8 frames with
    the normal palette), then loads the map (docs/REAL_GAME.md "Warps and fades"). Two
    single-byte reads unless a fade is on or the player stands on a warp."""
    bgp = mem[R_BGP]
    if bgp != 0xE4 and bgp != _SETTLED_BGP.get(mem[W_MAP_PAL_OFFSET]):
        return False
    return not (mem[W_MOVEMENT_FLAGS] & 0x04 and _leaving_by_warp(mem))


def _leaving_by_warp(mem: Memory) -> bool:
    """The player stands on a warp of the loaded table that leads to wCurMap: the table and
    the position are still the old map's (a warp into its own map counts too, until the player
    steps off it)."""
    y, x, cur = mem[W_Y_COORD], mem[W_X_COORD], mem[W_CUR_MAP]
    n = min(mem[W_NUMBER_OF_WARPS], 32)
    table = mem[W_WARP_ENTRIES : W_WARP_ENTRIES + 4 * n] if n else []
    for i in range(0, 4 * n, 4):
        if table[i] == y and table[i + 1] == x:
            dest = table[i + 3]
            return dest == cur or (dest == LAST_MAP and cur == mem[W_LAST_MAP])
    return False


def in_control(mem: Memory) -> bool:
    """The player can act and the screen shows where the RAM says: `joypad_free` and
    `warp_settled`. Cells, trigger savestates and the bootstrap rely on it."""
    return joypad_free(mem) and warp_settled(mem)


def bit_count(data: bytes) -> int:
    """Set bits in a byte string, via one big int (much faster than a per-byte table)."""
    return int.from_bytes(data, "little").bit_count()


def read_game_state(mem: Memory, previous: GameState | None = None) -> GameState:
    """Read every field once. Single-byte reads are cheap in PyBoy (tens of ns) while slices
    cost about 30 ns a byte, so only the event flags and Pokédex are read as slices.

    With `previous` (the state one step earlier), those slices are reused when the player was
    in control both then and now: the game sets event flags, Pokédex bits and bag items only inside text,
    battles and scripts, which all take control away, so nothing can have changed. That halves
    the env's per-step overhead; callers re-read in full now and then as a safety net."""
    party_count = min(mem[W_PARTY_COUNT], 6)
    levels = tuple(mem[a] if i < party_count else 0 for i, a in enumerate(PARTY_LEVELS))
    font = mem[W_FONT_LOADED]
    wy = mem[H_WY]
    control = in_control(mem)
    if previous is not None and control and previous.in_control:
        events, event_count = previous.events, previous.event_count
        owned, seen = previous.dex_owned, previous.dex_seen
        bag = previous.bag
    else:
        events = bytes(mem[W_EVENT_FLAGS : W_EVENT_FLAGS + EVENT_FLAGS_LEN])
        event_count = bit_count(events)
        owned = bit_count(bytes(mem[W_POKEDEX_OWNED : W_POKEDEX_OWNED + POKEDEX_LEN]))
        seen = bit_count(bytes(mem[W_POKEDEX_SEEN : W_POKEDEX_SEEN + POKEDEX_LEN]))
        bag = read_bag(mem)
    return GameState(
        map_id=mem[W_CUR_MAP],
        x=mem[W_X_COORD],
        y=mem[W_Y_COORD],
        badges=mem[W_OBTAINED_BADGES],
        party_count=party_count,
        levels=levels,
        hp=(mem[W_PARTY_MON1_HP] << 8 | mem[W_PARTY_MON1_HP + 1]) if party_count else 0,
        max_hp=(mem[W_PARTY_MON1_MAX_HP] << 8 | mem[W_PARTY_MON1_MAX_HP + 1]) if party_count else 0,
        events=events,
        event_count=event_count,
        in_battle=mem[W_IS_IN_BATTLE],
        money=bcd_to_int([mem[W_PLAYER_MONEY], mem[W_PLAYER_MONEY + 1], mem[W_PLAYER_MONEY + 2]]),
        dex_owned=owned,
        dex_seen=seen,
        bag_count=mem[W_NUM_BAG_ITEMS],
        in_control=control,
        text_box=bool(font & 1) or wy == 0x00,
        bag=bag,
    )


def read_bag(mem: Memory) -> bytes:
    """The item ids of the bag (wBagItems holds id/quantity pairs; the count says how many)."""
    n = min(mem[W_NUM_BAG_ITEMS], BAG_CAPACITY)
    raw = mem[W_BAG_ITEMS : W_BAG_ITEMS + 2 * n] if n else []
    return bytes(raw[0::2])


def read_tile_text(mem: Memory) -> list[str]:
    """The 18 rows of `wTileMap` decoded from the game's charset (for intro/menu detection)."""
    raw = mem[W_TILE_MAP : W_TILE_MAP + TILE_MAP_W * TILE_MAP_H]
    rows = []
    for r in range(TILE_MAP_H):
        rows.append("".join(decode_char(c) for c in raw[r * TILE_MAP_W : (r + 1) * TILE_MAP_W]))
    return rows


def decode_char(code: int) -> str:
    """Pokémon Red charset → text (space 7F, A–Z 80–99, a–z A0–B9, 0–9 F6–FF); other → ' '."""
    if 0x80 <= code <= 0x99:
        return chr(ord("A") + code - 0x80)
    if 0xA0 <= code <= 0xB9:
        return chr(ord("a") + code - 0xA0)
    if 0xF6 <= code <= 0xFF:
        return chr(ord("0") + code - 0xF6)
    return " "


def encode_text(text: str) -> bytes:
    """Text → Pokémon Red charset bytes (the inverse of `decode_char` plus a few symbols)."""
    out = bytearray()
    for ch in text:
        if "A" <= ch <= "Z":
            out.append(0x80 + ord(ch) - ord("A"))
        elif "a" <= ch <= "z":
            out.append(0xA0 + ord(ch) - ord("a"))
        elif "0" <= ch <= "9":
            out.append(0xF6 + ord(ch) - ord("0"))
        elif ch in CHARSET_SYMBOLS:
            out.append(CHARSET_SYMBOLS[ch])
        else:
            raise ValueError(f"character {ch!r} has no code in the game's charset")
    return bytes(out)


# A few punctuation codes of Pokémon Red's charset.
CHARSET_SYMBOLS = {" ": 0x7F, "(": 0x9A, ")": 0x9B, ":": 0x9C, "'": 0xE0, "-": 0xE3,
                   "?": 0xE6, "!": 0xE7, ".": 0xE8, ">": 0xED, "/": 0xF3, ",": 0xF4}
