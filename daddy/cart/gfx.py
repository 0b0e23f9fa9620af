"""The practice cartridge's graphics, drawn procedurally: tilesets, player, battle pictures, font.

Why procedural: no Nintendo graphics may ship, and pictures drawn by small deterministic
functions give the same bytes on every build. Each area (house, town, route, forest, cave, gym)
gets its own textures so screens differ by area, which the agent and the videos can see.

Pixels are Game Boy shades 0 (white) .. 3 (black); `tile_bytes` packs 8x8 pixels into the
2-bits-per-pixel format the Game Boy reads (low bit-plane byte, then high, per row).
"""

from __future__ import annotations

from collections.abc import Callable

from daddy.cart.world import CELLS, TILESETS

Canvas = list[list[int]]


def canvas(size: int = 16, fill: int = 0) -> Canvas:
    return [[fill] * size for _ in range(size)]


def tile_bytes(pixels: Canvas, ox: int = 0, oy: int = 0) -> bytes:
    """The 16 bytes of the 8x8 tile whose top-left pixel is (ox, oy)."""
    out = bytearray()
    for y in range(oy, oy + 8):
        lo = hi = 0
        for x in range(ox, ox + 8):
            v = pixels[y][x]
            lo = lo << 1 | (v & 1)
            hi = hi << 1 | (v >> 1 & 1)
        out += bytes((lo, hi))
    return bytes(out)


def split16(pixels: Canvas) -> bytes:
    """A 16x16 picture as four tiles: top-left, top-right, bottom-left, bottom-right."""
    return b"".join(tile_bytes(pixels, ox, oy) for oy in (0, 8) for ox in (0, 8))


def split32(pixels: Canvas) -> bytes:
    """A 32x32 picture as sixteen tiles in rows (the battle screen lays them out 4x4)."""
    return b"".join(tile_bytes(pixels, ox, oy) for oy in range(0, 32, 8) for ox in range(0, 32, 8))


# ------------------------------------------------------------------ drawing primitives


def rect(c: Canvas, x0: int, y0: int, x1: int, y1: int, v: int) -> None:
    """Fill the inclusive rectangle (x0, y0)-(x1, y1)."""
    for y in range(max(y0, 0), min(y1, len(c) - 1) + 1):
        for x in range(max(x0, 0), min(x1, len(c) - 1) + 1):
            c[y][x] = v


def disc(c: Canvas, cx: float, cy: float, r: float, v: int) -> None:
    for y in range(len(c)):
        for x in range(len(c)):
            if (x - cx) ** 2 + (y - cy) ** 2 <= r * r:
                c[y][x] = v


def ring(c: Canvas, cx: float, cy: float, r: float, v: int) -> None:
    for y in range(len(c)):
        for x in range(len(c)):
            d = ((x - cx) ** 2 + (y - cy) ** 2) ** 0.5
            if r - 1 < d <= r:
                c[y][x] = v


def hash_noise(x: int, y: int, seed: int) -> int:
    """A deterministic pseudo-random byte for texture speckles."""
    h = (x * 374761393 + y * 668265263 + seed * 2246822519) & 0xFFFFFFFF
    h = (h ^ (h >> 13)) * 1274126177 & 0xFFFFFFFF
    return (h ^ (h >> 16)) & 0xFF


# ------------------------------------------------------------------ floors and walls per area


def floor_for(tileset: str) -> Canvas:
    c = canvas()
    if tileset == "HOUSE":  # wooden planks
        for y in range(16):
            for x in range(16):
                c[y][x] = 1 if y % 4 == 3 or (x + (y // 4) * 5) % 8 == 0 else 0
    elif tileset == "TOWN":  # paving stones
        for y in range(16):
            for x in range(16):
                c[y][x] = 1 if x % 8 == 7 or y % 8 == 7 else 0
    elif tileset == "ROUTE":  # short grass speckles
        for y in range(16):
            for x in range(16):
                c[y][x] = 1 if hash_noise(x, y, 2) < 40 else 0
    elif tileset == "FOREST":  # dark forest floor
        for y in range(16):
            for x in range(16):
                c[y][x] = 2 if hash_noise(x, y, 3) < 50 else 1
    elif tileset == "CAVE":  # rough rock floor
        for y in range(16):
            for x in range(16):
                n = hash_noise(x, y, 4)
                c[y][x] = 2 if n < 30 else (1 if n < 200 else 0)
    else:  # GYM: checkerboard
        for y in range(16):
            for x in range(16):
                c[y][x] = 1 if (x // 4 + y // 4) % 2 else 0
    return c


def wall_for(tileset: str) -> Canvas:
    c = canvas(fill=2)
    if tileset == "HOUSE":  # wallpaper with vertical stripes
        for y in range(16):
            for x in range(16):
                c[y][x] = 3 if x % 4 == 0 or y == 15 else 2
    elif tileset == "TOWN":  # bricks
        for y in range(16):
            for x in range(16):
                shift = 4 if (y // 4) % 2 else 0
                c[y][x] = 3 if y % 4 == 3 or (x + shift) % 8 == 7 else 2
    elif tileset == "ROUTE":  # wooden fence
        c = floor_for("ROUTE")
        rect(c, 0, 4, 15, 6, 3)
        rect(c, 0, 10, 15, 12, 3)
        rect(c, 2, 2, 4, 14, 2)
        rect(c, 11, 2, 13, 14, 2)
    elif tileset == "FOREST":  # thicket
        for y in range(16):
            for x in range(16):
                c[y][x] = 3 if hash_noise(x, y, 5) < 150 else 2
    elif tileset == "CAVE":  # boulder wall
        c = canvas(fill=3)
        disc(c, 7.5, 7.5, 7, 2)
        disc(c, 5, 5, 2.5, 1)
    else:  # GYM: statue pillar
        c = floor_for("GYM")
        rect(c, 3, 1, 12, 14, 3)
        rect(c, 5, 3, 10, 12, 2)
    return c


# ------------------------------------------------------------------ cells shared by all areas


def grass(base: Canvas, dark: int) -> Canvas:
    c = [row[:] for row in base]
    for oy in (1, 9):
        for ox in (1, 9):
            for i in range(6):
                c[oy + 6 - i // 2][ox + i] = dark
                c[oy + 3 + i // 2][ox + i] = dark - 1 if dark > 1 else dark
    return c


def door(base: Canvas) -> Canvas:
    c = [row[:] for row in base]
    rect(c, 2, 0, 13, 15, 3)
    rect(c, 4, 2, 11, 15, 1)
    rect(c, 9, 8, 10, 9, 3)
    return c


def stairs(base: Canvas) -> Canvas:
    c = [row[:] for row in base]
    for i in range(4):
        rect(c, 0, i * 4, 15 - i * 4, i * 4 + 2, 2)
        rect(c, 0, i * 4 + 3, 15 - i * 4, i * 4 + 3, 3)
    return c


def person(base: Canvas, crown: bool) -> Canvas:
    c = [row[:] for row in base]
    disc(c, 7.5, 4.5, 3.5, 1)
    ring(c, 7.5, 4.5, 3.5, 3)
    rect(c, 4, 8, 11, 15, 3)
    rect(c, 6, 9, 9, 14, 2)
    c[4][6] = c[4][9] = 3
    if crown:
        rect(c, 4, 0, 11, 1, 3)
        c[0][5] = c[0][8] = c[0][10] = 0
        rect(c, 2, 9, 3, 15, 2)
        rect(c, 12, 9, 13, 15, 2)
    return c


def ball(base: Canvas, table: bool) -> Canvas:
    c = [row[:] for row in base]
    if table:
        rect(c, 0, 11, 15, 15, 2)
    disc(c, 7.5, 7, 5, 0)
    for y in range(16):
        for x in range(16):
            if (x - 7.5) ** 2 + (y - 7) ** 2 <= 25 and y < 7:
                c[y][x] = 2
    ring(c, 7.5, 7, 5, 3)
    rect(c, 3, 7, 12, 7, 3)
    disc(c, 7.5, 7, 1.2, 3)
    return c


def heal(base: Canvas) -> Canvas:
    c = [row[:] for row in base]
    disc(c, 7.5, 7.5, 7, 1)
    rect(c, 6, 2, 9, 13, 3)
    rect(c, 2, 6, 13, 9, 3)
    return c


def sign(base: Canvas) -> Canvas:
    c = [row[:] for row in base]
    rect(c, 1, 2, 14, 10, 3)
    rect(c, 2, 3, 13, 9, 1)
    rect(c, 4, 5, 11, 5, 2)
    rect(c, 4, 7, 9, 7, 2)
    rect(c, 7, 11, 8, 15, 3)
    return c


def gate(base: Canvas) -> Canvas:
    c = [row[:] for row in base]
    for x in (1, 5, 9, 13):
        rect(c, x, 0, x + 1, 15, 3)
    rect(c, 0, 3, 15, 4, 2)
    rect(c, 0, 11, 15, 12, 2)
    return c


def water() -> Canvas:
    c = canvas(fill=1)
    for y in (3, 11):
        for x in range(16):
            c[y + (1 if (x // 2) % 2 else 0)][x] = 2
    return c


def tree(base: Canvas, dark: bool) -> Canvas:
    c = [row[:] for row in base]
    rect(c, 6, 11, 9, 15, 3)
    disc(c, 7.5, 6, 6.5, 3 if dark else 2)
    for y in range(16):
        for x in range(16):
            if (x - 7.5) ** 2 + (y - 6) ** 2 <= 36 and hash_noise(x, y, 7) < 60:
                c[y][x] = 1 if not dark else 2
    return c


def counter(base: Canvas) -> Canvas:
    c = [row[:] for row in base]
    rect(c, 0, 3, 15, 12, 2)
    rect(c, 0, 3, 15, 4, 3)
    rect(c, 0, 12, 15, 12, 3)
    return c


def roof(shade: int) -> Canvas:
    c = canvas()
    for y in range(16):
        for x in range(16):
            c[y][x] = 3 if (x + y) % 6 == 0 or y == 15 else shade
    return c


def tileset_bytes(tileset: str) -> bytes:
    """The 16 cell pictures (64 tiles, 1024 bytes) of one area, in CELLS order."""
    base = floor_for(tileset)
    outdoor = tileset in ("TOWN", "ROUTE", "FOREST")
    grass_base = floor_for("ROUTE") if tileset != "CAVE" else base
    cells: dict[str, Callable[[], Canvas]] = {
        "FLOOR": lambda: base,
        "WALL": lambda: wall_for(tileset),
        "GRASS": lambda: grass(grass_base if tileset != "FOREST" else base, 3),
        "DOOR": lambda: door(base),
        "HEAL": lambda: heal(base),
        "ITEM": lambda: ball(base, table=False),
        "TRAINER": lambda: person(base, crown=False),
        "LEADER": lambda: person(base, crown=True),
        "SIGN": lambda: sign(base),
        "STARTER": lambda: ball(base, table=True),
        "GATE": lambda: gate(base),
        "WATER": water,
        "TREE": lambda: tree(base, dark=tileset == "FOREST"),
        "STAIRS": lambda: stairs(base),
        "COUNTER": lambda: counter(base),
        "ROOF": lambda: roof(2 if outdoor else 1),
    }
    assert list(cells) == list(CELLS), "cell pictures must follow CELLS order"
    return b"".join(split16(draw()) for draw in cells.values())


# ------------------------------------------------------------------ player, battle, font


def player(facing: int) -> Canvas:
    """facing 0 down, 1 up, 2 left, 3 right; shade 0 is transparent for sprites."""
    c = canvas()
    disc(c, 7.5, 5, 4.5, 1)
    ring(c, 7.5, 5, 4.5, 3)
    rect(c, 3, 0, 12, 2, 3)  # cap
    rect(c, 4, 10, 11, 15, 3)
    rect(c, 5, 11, 10, 14, 2)
    if facing == 0:
        c[5][5] = c[5][10] = 3
    elif facing == 1:
        rect(c, 4, 3, 11, 7, 3)
    elif facing == 2:
        c[5][4] = 3
        rect(c, 1, 1, 4, 2, 3)  # cap visor
    else:
        c[5][11] = 3
        rect(c, 11, 1, 14, 2, 3)
    return c


def monster_front() -> Canvas:
    c = canvas(32)
    disc(c, 16, 18, 12, 1)
    ring(c, 16, 18, 12, 3)
    disc(c, 11, 14, 3, 0)
    disc(c, 21, 14, 3, 0)
    disc(c, 11, 15, 1.5, 3)
    disc(c, 21, 15, 1.5, 3)
    rect(c, 11, 23, 21, 24, 3)
    for x in range(6, 11):
        c[x - 4][x] = 3
        c[x - 4][31 - x] = 3
    return c


def monster_back() -> Canvas:
    c = canvas(32)
    disc(c, 16, 20, 11, 2)
    ring(c, 16, 20, 11, 3)
    disc(c, 9, 8, 4, 2)
    ring(c, 9, 8, 4, 3)
    disc(c, 23, 8, 4, 2)
    ring(c, 23, 8, 4, 3)
    rect(c, 12, 28, 20, 31, 3)
    return c


# 5x7 glyphs, '#' = ink. Lower-case letters share the capitals' shapes (small caps).
FONT = {
    "A": (".###.", "#...#", "#...#", "#####", "#...#", "#...#", "#...#"),
    "B": ("####.", "#...#", "#...#", "####.", "#...#", "#...#", "####."),
    "C": (".###.", "#...#", "#....", "#....", "#....", "#...#", ".###."),
    "D": ("####.", "#...#", "#...#", "#...#", "#...#", "#...#", "####."),
    "E": ("#####", "#....", "#....", "####.", "#....", "#....", "#####"),
    "F": ("#####", "#....", "#....", "####.", "#....", "#....", "#...."),
    "G": (".###.", "#...#", "#....", "#.###", "#...#", "#...#", ".####"),
    "H": ("#...#", "#...#", "#...#", "#####", "#...#", "#...#", "#...#"),
    "I": (".###.", "..#..", "..#..", "..#..", "..#..", "..#..", ".###."),
    "J": ("..###", "...#.", "...#.", "...#.", "...#.", "#..#.", ".##.."),
    "K": ("#...#", "#..#.", "#.#..", "##...", "#.#..", "#..#.", "#...#"),
    "L": ("#....", "#....", "#....", "#....", "#....", "#....", "#####"),
    "M": ("#...#", "##.##", "#.#.#", "#.#.#", "#...#", "#...#", "#...#"),
    "N": ("#...#", "#...#", "##..#", "#.#.#", "#..##", "#...#", "#...#"),
    "O": (".###.", "#...#", "#...#", "#...#", "#...#", "#...#", ".###."),
    "P": ("####.", "#...#", "#...#", "####.", "#....", "#....", "#...."),
    "Q": (".###.", "#...#", "#...#", "#...#", "#.#.#", "#..#.", ".##.#"),
    "R": ("####.", "#...#", "#...#", "####.", "#.#..", "#..#.", "#...#"),
    "S": (".####", "#....", "#....", ".###.", "....#", "....#", "####."),
    "T": ("#####", "..#..", "..#..", "..#..", "..#..", "..#..", "..#.."),
    "U": ("#...#", "#...#", "#...#", "#...#", "#...#", "#...#", ".###."),
    "V": ("#...#", "#...#", "#...#", "#...#", "#...#", ".#.#.", "..#.."),
    "W": ("#...#", "#...#", "#...#", "#.#.#", "#.#.#", "#.#.#", ".#.#."),
    "X": ("#...#", "#...#", ".#.#.", "..#..", ".#.#.", "#...#", "#...#"),
    "Y": ("#...#", "#...#", ".#.#.", "..#..", "..#..", "..#..", "..#.."),
    "Z": ("#####", "....#", "...#.", "..#..", ".#...", "#....", "#####"),
    "0": (".###.", "#...#", "#..##", "#.#.#", "##..#", "#...#", ".###."),
    "1": ("..#..", ".##..", "..#..", "..#..", "..#..", "..#..", ".###."),
    "2": (".###.", "#...#", "....#", "...#.", "..#..", ".#...", "#####"),
    "3": ("#####", "...#.", "..#..", "...#.", "....#", "#...#", ".###."),
    "4": ("...#.", "..##.", ".#.#.", "#..#.", "#####", "...#.", "...#."),
    "5": ("#####", "#....", "####.", "....#", "....#", "#...#", ".###."),
    "6": ("..##.", ".#...", "#....", "####.", "#...#", "#...#", ".###."),
    "7": ("#####", "....#", "...#.", "..#..", ".#...", ".#...", ".#..."),
    "8": (".###.", "#...#", "#...#", ".###.", "#...#", "#...#", ".###."),
    "9": (".###.", "#...#", "#...#", ".####", "....#", "...#.", ".##.."),
    "(": ("...#.", "..#..", ".#...", ".#...", ".#...", "..#..", "...#."),
    ")": (".#...", "..#..", "...#.", "...#.", "...#.", "..#..", ".#..."),
    ":": (".....", "..#..", "..#..", ".....", "..#..", "..#..", "....."),
    "'": ("..#..", "..#..", ".#...", ".....", ".....", ".....", "....."),
    "-": (".....", ".....", ".....", ".###.", ".....", ".....", "....."),
    "?": (".###.", "#...#", "....#", "...#.", "..#..", ".....", "..#.."),
    "!": ("..#..", "..#..", "..#..", "..#..", "..#..", ".....", "..#.."),
    ".": (".....", ".....", ".....", ".....", ".....", ".##..", ".##.."),
    "/": (".....", "....#", "...#.", "..#..", ".#...", "#....", "....."),
    ",": (".....", ".....", ".....", ".....", ".##..", "..#..", ".#..."),
    ">": ("#....", "##...", "###..", "####.", "###..", "##...", "#...."),
}

# Pokémon Red's charset codes for the glyphs (DESIGN.md §4); "e" is also used for "é".
CHAR_CODES: dict[str, int] = {
    **{chr(ord("A") + i): 0x80 + i for i in range(26)},
    **{chr(ord("a") + i): 0xA0 + i for i in range(26)},
    **{chr(ord("0") + i): 0xF6 + i for i in range(10)},
    " ": 0x7F, "(": 0x9A, ")": 0x9B, ":": 0x9C, "'": 0xE0, "-": 0xE3, "?": 0xE6, "!": 0xE7,
    ".": 0xE8, ">": 0xED, "/": 0xF3, ",": 0xF4,
}  # fmt: skip


def glyph_tile(ch: str) -> bytes:
    c = canvas(8)
    rows = FONT.get(ch.upper()) if ch != " " else None
    if rows:
        small = ch.islower()
        for y, row in enumerate(rows):
            for x, ink in enumerate(row):
                if ink == "#":
                    yy = y if not small else 1 + y * 6 // 7
                    c[yy][x + 1] = 3
    return tile_bytes(c)


def box_tile(kind: str) -> bytes:
    c = canvas(8)
    if kind in ("H", "TL", "TR", "BL", "BR"):
        rect(c, 0 if kind in ("H", "TR", "BR") else 3, 3, 7 if kind in ("H", "TL", "BL") else 4, 4, 3)
    if kind in ("V", "TL", "TR", "BL", "BR"):
        y0 = 3 if kind in ("TL", "TR") else 0
        y1 = 4 if kind in ("BL", "BR") else 7
        rect(c, 3, y0, 4, y1, 3)
    return tile_bytes(c)


def common_tiles() -> bytes:
    """Tiles $40-$FF, loaded once at boot: player, battle pictures, box borders, font."""
    tiles = [b"\0" * 16] * 0xC0

    def put(code: int, data: bytes) -> None:
        for i in range(0, len(data), 16):
            tiles[code - 0x40 + i // 16] = data[i : i + 16]

    for facing in range(4):
        put(0x40 + facing * 4, split16(player(facing)))
    put(0x50, split32(monster_front()))
    put(0x60, split32(monster_back()))
    for code, kind in zip(range(0x79, 0x7F), ("TL", "H", "TR", "V", "BL", "BR")):
        put(code, box_tile(kind))
    for ch, code in CHAR_CODES.items():
        put(code, glyph_tile(ch))
    return b"".join(tiles)


def charmap_asm() -> str:
    """CHARMAP lines so game text is written as plain strings; `@` ends, `|` breaks a line."""
    lines = [f'    CHARMAP "{ch}", ${code:02X}' for ch, code in CHAR_CODES.items() if ch != '"']
    lines += ['    CHARMAP "@", $50', '    CHARMAP "|", $4E']
    return "\n".join(lines) + "\n"


def gfx_asm() -> str:
    """Common tiles and the per-area tilesets as assembly data."""
    from daddy.cart.world import _db_bytes

    lines = ["; ---- generated by daddy/cart/gfx.py", "CommonTiles:"]
    lines += _db_bytes(common_tiles())
    lines.append("CommonTilesEnd:")
    lines.append("TilesetTable:")
    lines.append("    dw " + ", ".join(f"Tileset_{name}" for name in TILESETS))
    for name in TILESETS:
        lines.append(f"Tileset_{name}:")
        lines += _db_bytes(tileset_bytes(name))
    return "\n".join(lines) + "\n"
