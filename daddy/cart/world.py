"""The practice cartridge's world as data: maps, walls, warps, edges, objects, encounters.

Why data: the game source (game.asm) only knows generic rules (walk, warp, talk, fight); what
the world looks like lives here, is validated here (edges line up, warps land on walkable
cells, every map is reachable), and is turned into ROM tables by `world_asm()`.

Map ids, event flags and badge bits are Pokémon Red's, so RAM-reading code serves both ROMs.
Each map is one screen of 10x9 cells (16x16 pixels each).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from daddy.game import events, ram

WIDTH, HEIGHT = 10, 9

# cell types (game.asm's CELL_* constants come from here)
CELLS = {
    "FLOOR": 0, "WALL": 1, "GRASS": 2, "DOOR": 3, "HEAL": 4, "ITEM": 5, "TRAINER": 6,
    "LEADER": 7, "SIGN": 8, "STARTER": 9, "GATE": 10, "WATER": 11, "TREE": 12, "STAIRS": 13,
    "COUNTER": 14, "ROOF": 15,
}  # fmt: skip
LEGEND = {
    ".": "FLOOR", "#": "WALL", ",": "GRASS", "D": "DOOR", "H": "HEAL", "i": "ITEM",
    "t": "TRAINER", "L": "LEADER", "s": "SIGN", "B": "STARTER", "=": "GATE", "~": "WATER",
    "T": "TREE", ">": "STAIRS", "C": "COUNTER", "R": "ROOF",
}  # fmt: skip
WALKABLE = frozenset({".", ",", "D", ">"})
OBJECT_CHARS = {"i": "item", "t": "trainer", "L": "leader", "s": "sign", "=": "gate"}
TILESETS = ("HOUSE", "TOWN", "ROUTE", "FOREST", "CAVE", "GYM")
DIRECTIONS = ("S", "N", "W", "E")  # order of the header's connection bytes (= facing index)
OPPOSITE = {"S": "N", "N": "S", "W": "E", "E": "W"}


def flag_index(flag: tuple[int, int]) -> int:
    """(byte address, bit) of wEventFlags -> bit index, as the ROM's object table stores it."""
    addr, bit = flag
    return (addr - ram.W_EVENT_FLAGS) * 8 + bit


FLAG_GOT_STARTER = flag_index(ram.EVENT_GOT_STARTER)
FLAG_BEAT_BROCK = flag_index(ram.EVENT_BEAT_BROCK)
FLAG_BEAT_MISTY = flag_index(ram.EVENT_BEAT_MISTY)
FLAG_BEAT_LT_SURGE = flag_index(ram.EVENT_BEAT_LT_SURGE)
FIRST_FREE_FLAG = 1000  # items and trainers get flags from here on (unused by Red's scripts)

# The first obstacles after the starter, with pokered's flags and item id (daddy.game.events;
# docs/REAL_GAME.md "The first obstacles"): the rival battle on leaving the lab, the parcel errand.
FLAG_BATTLED_RIVAL = flag_index(events.EVENT_BATTLED_RIVAL_IN_OAKS_LAB)  # scripts/OaksLab.asm
FLAG_GOT_POKEDEX = flag_index(events.EVENT_GOT_POKEDEX)  # the old man lets you pass north
FLAG_OAK_GOT_PARCEL = flag_index(events.EVENT_OAK_GOT_PARCEL)  # set with EVENT_GOT_POKEDEX
FLAG_GOT_OAKS_PARCEL = flag_index(events.EVENT_GOT_OAKS_PARCEL)  # scripts/ViridianMart.asm
ITEM_OAKS_PARCEL = events.OAKS_PARCEL
OAKS_LAB, VIRIDIAN_MART = 0x28, 0x2A
RIVAL_TRIGGER_Y = 6  # OaksLab.asm: the rival stops a player with the starter at row 6
RIVAL_LEVEL, RIVAL_SPECIES = 5, 2
# item ids (constants/item_constants.asm), kept in the object's species slot
POKE_BALL, MOON_STONE, ANTIDOTE, POTION, REPEL, RARE_CANDY, NUGGET, ETHER, TM04 = (
    0x04, 0x0A, 0x0B, 0x14, 0x1E, 0x28, 0x31, 0x50, 0xCC,
)  # fmt: skip

STARTER_SPECIES = 1
START = (0x26, 3, 6)  # REDS_HOUSE_2F, where the real game starts
HEAL_START = (0x25, 3, 5)  # in front of Mom


@dataclass(frozen=True)
class Obj:
    """Something at a cell: an item, trainer, gym leader, sign or gate (all keyed by x, y)."""

    x: int
    y: int
    text: str
    flag: int = -1  # -1: allocated automatically (items, trainers)
    level: int = 0
    money: int = 0  # BCD hundreds, e.g. 0x10 = 1000
    badge: int = 0  # badge bit mask for gym leaders
    species: int = 0  # trainers: the foe's species; items: the item id put in the bag


@dataclass(frozen=True)
class Encounters:
    rate: int  # chance per grass step, out of 256
    min_level: int
    level_mask: int  # level = min + (random & mask)
    species: int  # species or species + 1


@dataclass(frozen=True)
class MapDef:
    id: int
    name: str
    tileset: str
    rows: tuple[str, ...]
    conn: dict[str, int] = field(default_factory=dict)  # "N"/"S"/"W"/"E" -> map id
    warps: tuple[tuple[int, int, int, int, int], ...] = ()  # x, y, dest map, dest x, dest y
    objects: tuple[Obj, ...] = ()
    encounters: Encounters | None = None

    def char(self, x: int, y: int) -> str:
        return self.rows[y][x]


CENTER_ROWS = (
    "##########",
    "#CCCHCCCC#",
    "#........#",
    "#........#",
    "#.s......#",
    "#........#",
    "#........#",
    "#........#",
    "####D#####",
)
CENTER_SIGN = "POKeMON CENTER|Talk to heal.@"


def _center(map_id: int, name: str, city: int, door: tuple[int, int]) -> MapDef:
    return MapDef(
        map_id, name, "HOUSE", CENTER_ROWS,
        warps=((4, 8, city, door[0], door[1] + 1),),
        objects=(Obj(2, 4, CENTER_SIGN),),
    )  # fmt: skip


def _town_gates(xs: tuple[int, ...], y: int, flag: int, text: str) -> tuple[Obj, ...]:
    return tuple(Obj(x, y, text, flag=flag) for x in xs)


MAPS: tuple[MapDef, ...] = (
    MapDef(
        0x26, "REDS_HOUSE_2F", "HOUSE",
        ("##########",
         "#s.....>.#",
         "#........#",
         "#.CC.....#",
         "#........#",
         "#........#",
         "#........#",
         "#........#",
         "##########"),
        warps=((7, 1, 0x25, 6, 1),),
        objects=(Obj(1, 1, "It's a PC.|It hums quietly.@"),),
    ),
    MapDef(
        0x25, "REDS_HOUSE_1F", "HOUSE",
        ("##########",
         "#......>.#",
         "#........#",
         "#.CC.....#",
         "#..H.....#",
         "#........#",
         "#.s......#",
         "#........#",
         "####D#####"),
        warps=((7, 1, 0x26, 6, 1), (4, 8, 0x00, 3, 4)),
        objects=(Obj(2, 6, "MOM: Talk to me|to rest and heal.@"),),
    ),
    MapDef(
        0x00, "PALLET_TOWN", "TOWN",
        ("TTTT==TTTT",
         "T........T",
         "T.RRR....T",
         "T.#D#.RRRT",
         "T.....#D#T",
         "T.s......T",
         "T........T",
         "T..~~~...T",
         "TTTTTTTTTT"),
        conn={"N": 0x0C},
        warps=((3, 3, 0x25, 4, 7), (7, 4, 0x28, 4, 7)),
        objects=(
            Obj(2, 5, "PALLET TOWN|Shades of beginning@"),
            *_town_gates((4, 5), 0, FLAG_GOT_STARTER, "Get a POKeMON|from OAK first!@"),
        ),
    ),
    MapDef(
        0x28, "OAKS_LAB", "HOUSE",
        ("##########",
         "#..CCC...#",
         "#..BBB...#",
         "#........#",
         "#.s......#",
         "#........#",
         "#........#",
         "#........#",
         "####D#####"),
        warps=((4, 8, 0x00, 7, 5),),
        objects=(Obj(2, 4, "OAK: Take a POKeMON|from the table!@"),),
    ),
    MapDef(
        0x0C, "ROUTE_1", "ROUTE",
        ("TTTT..TTTT",
         "T,,,..,,,T",
         "T,,,..,,,T",
         "T...##...T",
         "T.i,,,,..T",
         "T..,,,,,.T",
         "T#.....#.T",
         "T,,,..,,,T",
         "TTTT..TTTT"),
        conn={"S": 0x00, "N": 0x01},
        objects=(Obj(2, 4, "Found a POTION!@", species=POTION),),
        encounters=Encounters(20, 2, 1, 16),
    ),
    MapDef(
        0x01, "VIRIDIAN_CITY", "TOWN",
        ("TTTT==TTTT",
         "T........T",
         "TRRR..RRRT",
         "T#D#..#D#T",
         "T........T",
         "T.s......T",
         "T..~~....T",
         "T........T",
         "TTTT..TTTT"),
        conn={"S": 0x0C, "N": 0x0D},
        warps=((2, 3, 0x29, 4, 7), (7, 3, 0x2A, 4, 7)),
        objects=(
            Obj(2, 5, "VIRIDIAN CITY|The eternal green@"),
            # pokered's old man lies in the road north until EVENT_GOT_POKEDEX
            *_town_gates((4, 5), 0, FLAG_GOT_POKEDEX, "OLD MAN: You can't|go through here!@"),
        ),
    ),
    _center(0x29, "VIRIDIAN_POKECENTER", 0x01, (2, 3)),
    MapDef(
        0x2A, "VIRIDIAN_MART", "HOUSE",
        ("##########",
         "#CCC..CCC#",
         "#i......i#",
         "#........#",
         "#.CC..CC.#",
         "#........#",
         "#........#",
         "#........#",
         "####D#####"),
        warps=((4, 8, 0x01, 7, 4),),
        objects=(  # the clerk hands over OAK's PARCEL on entry (game.asm ViridianMartScript)
            Obj(1, 2, "Found an ANTIDOTE!@", species=ANTIDOTE),
            Obj(8, 2, "Found a POKe BALL!@", species=POKE_BALL),
        ),
    ),
    MapDef(
        0x0D, "ROUTE_2", "ROUTE",
        ("TTTT..TTTT",
         "T,,,..,,,T",
         "T,,,...t.T",
         "TTT.....TT",
         "T,,,..,,,T",
         "T,,TT..,,T",
         "T.i......T",
         "T,,,..,,,T",
         "TTTT..TTTT"),
        conn={"S": 0x01, "N": 0x33},
        objects=(
            Obj(7, 2, "BUG CATCHER: Let's|battle!@", level=6, money=0x02, species=18),
            Obj(2, 6, "Found a REPEL!@", species=REPEL),
        ),
        encounters=Encounters(20, 3, 3, 18),
    ),
    MapDef(
        0x33, "VIRIDIAN_FOREST", "FOREST",
        ("T..TTTTTTT",
         "T..,,,,,iT",
         "T..,TT,..T",
         "T,.t,,,..T",
         "TT...TT..T",
         "T,,.....,T",
         "T,,TT..,,T",
         "T,,,..,,,T",
         "TTTT..TTTT"),
        conn={"S": 0x0D, "N": 0x02},
        objects=(
            Obj(8, 1, "Found an ETHER!@", species=ETHER),
            Obj(3, 3, "BUG CATCHER: The|forest is mine!@", level=7, money=0x03, species=10),
        ),
        encounters=Encounters(15, 4, 3, 10),
    ),
    MapDef(
        0x02, "PEWTER_CITY", "TOWN",
        ("TTTTTTTTTT",
         "T........T",
         "T.RRR.RRRT",
         "T.#D#.#D#T",
         "T........=",
         "T.s......=",
         "T........T",
         "T..~~~...T",
         "T..TTTTTTT"),
        conn={"S": 0x33, "E": 0x0E},
        warps=((3, 3, 0x36, 4, 7), (7, 3, 0x3A, 4, 7)),
        objects=(
            Obj(2, 5, "PEWTER CITY|A stone gray city@"),
            Obj(9, 4, "Beat BROCK before|you go east!@", flag=FLAG_BEAT_BROCK),
            Obj(9, 5, "Beat BROCK before|you go east!@", flag=FLAG_BEAT_BROCK),
        ),
    ),
    _center(0x3A, "PEWTER_POKECENTER", 0x02, (7, 3)),
    MapDef(
        0x36, "PEWTER_GYM", "GYM",
        ("##########",
         "#...L....#",
         "#........#",
         "#.#....#.#",
         "#..t.....#",
         "#.#....#.#",
         "#........#",
         "#........#",
         "####D#####"),
        warps=((4, 8, 0x02, 3, 4),),
        objects=(
            Obj(4, 1, "BROCK: I'm BROCK!|Show me your best!@", flag=FLAG_BEAT_BROCK,
                level=6, money=0x10, badge=0x01, species=24),
            Obj(3, 4, "CAMPER: You're|ten years early!@", level=5, money=0x03, species=22),
        ),
    ),
    MapDef(
        0x0E, "ROUTE_3", "ROUTE",
        ("TTTTTTTTTT",
         "T,,,,,,,,T",
         "T,,t,,,,,T",
         "T,,,,TT.,T",
         "........#T",
         ".,,,,,,.DT",
         "T,,,t,,,,T",
         "T,,,,,,,,T",
         "TTTTTTTTTT"),
        conn={"W": 0x02},
        warps=((8, 5, 0x3B, 1, 7),),
        objects=(
            Obj(3, 2, "YOUNGSTER: I like|shorts!@", level=9, money=0x03, species=19),
            Obj(4, 6, "LASS: Look at|my POKeMON!@", level=10, money=0x04, species=16),
        ),
        encounters=Encounters(20, 6, 3, 21),
    ),
    MapDef(
        0x3B, "MT_MOON_1F", "CAVE",
        ("########D#",
         "#,,,#,,,,#",
         "#,#,#,##,#",
         "#,#,,,#,,#",
         "#,####,#,#",
         "#,,i#,,#,#",
         "##,##,##,#",
         "#,,,,,,,,#",
         "#D########"),
        warps=((1, 8, 0x0E, 7, 5), (8, 0, 0x0F, 2, 2)),
        objects=(Obj(3, 5, "Found a MOON STONE!@", species=MOON_STONE),),
        encounters=Encounters(20, 8, 3, 20),
    ),
    MapDef(
        0x0F, "ROUTE_4", "ROUTE",
        ("TTTTTTTTTT",
         "T#D######T",
         "T........T",
         "T,,,,,,,,T",
         "T,,t,,,...",
         "T,,,,,,,..",
         "T,,,,i,,,T",
         "T,,,,,,,,T",
         "TTTTTTTTTT"),
        conn={"E": 0x03},
        warps=((2, 1, 0x3B, 8, 1),),
        objects=(
            Obj(3, 4, "HIKER: Mountains|make you strong!@", level=12, money=0x05, species=24),
            Obj(5, 6, "Found a TM!@", species=TM04),
        ),
        encounters=Encounters(20, 10, 3, 23),
    ),
    MapDef(
        0x03, "CERULEAN_CITY", "TOWN",
        ("TTTTTTTTTT",
         "T........T",
         "T.RRR.RRRT",
         "T.#D#.#D#T",
         ".........T",
         "..s......T",
         "T........T",
         "T.~~.....T",
         "TTTT==TTTT"),
        conn={"W": 0x0F, "S": 0x10},
        warps=((3, 3, 0x41, 4, 7), (7, 3, 0x40, 4, 7)),
        objects=(
            Obj(2, 5, "CERULEAN CITY|A mysterious blue@"),
            *_town_gates((4, 5), 8, FLAG_BEAT_MISTY, "Beat MISTY before|you go south!@"),
        ),
    ),
    _center(0x40, "CERULEAN_POKECENTER", 0x03, (7, 3)),
    MapDef(
        0x41, "CERULEAN_GYM", "GYM",
        ("##########",
         "#...L....#",
         "#~~....~~#",
         "#~~.t..~~#",
         "#~~....~~#",
         "#~~..t.~~#",
         "#........#",
         "#........#",
         "####D#####"),
        warps=((4, 8, 0x03, 3, 4),),
        objects=(
            Obj(4, 1, "MISTY: My water|POKeMON are tough!@", flag=FLAG_BEAT_MISTY,
                level=16, money=0x20, badge=0x02, species=26),
            Obj(4, 3, "SWIMMER: Splash!@", level=13, money=0x04, species=25),
            Obj(5, 5, "PICNICKER: Water|is life!@", level=14, money=0x04, species=25),
        ),
    ),
    MapDef(
        0x10, "ROUTE_5", "ROUTE",
        ("TTTT..TTTT",
         "T,,,..,,,T",
         "T,t,..,,,T",
         "T,,,,,,,iT",
         "TTT,,,,TTT",
         "T,,,,,,t,T",
         "T,,,..,,,T",
         "T,,,..,,,T",
         "TTTT..TTTT"),
        conn={"N": 0x03, "S": 0x11},
        objects=(
            Obj(2, 2, "JR TRAINER: Ready|or not!@", level=15, money=0x05, species=27),
            Obj(8, 3, "Found a NUGGET!@", species=NUGGET),
            Obj(7, 5, "BIKER: Outta|my way!@", level=16, money=0x06, species=28),
        ),
        encounters=Encounters(20, 12, 3, 27),
    ),
    MapDef(
        0x11, "ROUTE_6", "ROUTE",
        ("TTTT..TTTT",
         "T,,,..,,,T",
         "T,,,,,,t,T",
         "T~~~..~~~T",
         "T,,,..,,,T",
         "T,t,..,i,T",
         "T,,,..,,,T",
         "T,,,..,,,T",
         "TTTT..TTTT"),
        conn={"N": 0x10, "S": 0x05},
        objects=(
            Obj(7, 2, "CAMPER: Almost at|VERMILION!@", level=17, money=0x06, species=29),
            Obj(2, 5, "LASS: My POKeMON|are cute!@", level=18, money=0x06, species=16),
            Obj(7, 5, "Found a RARE CANDY!@", species=RARE_CANDY),
        ),
        encounters=Encounters(20, 14, 3, 29),
    ),
    MapDef(
        0x05, "VERMILION_CITY", "TOWN",
        ("TTTT..TTTT",
         "T........T",
         "T.RRR.RRRT",
         "T.#D#.#D#T",
         "T........T",
         "T.s......T",
         "T~~~~~~~~T",
         "T~~~~~~~~T",
         "TTTTTTTTTT"),
        conn={"N": 0x11},
        warps=((3, 3, 0x5C, 4, 7), (7, 3, 0x59, 4, 7)),
        objects=(Obj(2, 5, "VERMILION CITY|Port of sunsets@"),),
    ),
    _center(0x59, "VERMILION_POKECENTER", 0x05, (7, 3)),
    MapDef(
        0x5C, "VERMILION_GYM", "GYM",
        ("##########",
         "#...L....#",
         "#........#",
         "##.##t##.#",
         "#........#",
         "#.t.....##",
         "#........#",
         "#........#",
         "####D#####"),
        warps=((4, 8, 0x05, 3, 4),),
        objects=(
            Obj(4, 1, "LT.SURGE: Electric|POKeMON rule!@", flag=FLAG_BEAT_LT_SURGE,
                level=22, money=0x30, badge=0x04, species=30),
            Obj(5, 3, "SAILOR: Ahoy!@", level=19, money=0x06, species=29),
            Obj(2, 5, "ROCKER: Feel the|shock!@", level=20, money=0x06, species=30),
        ),
    ),
)  # fmt: skip

BY_ID: dict[int, MapDef] = {m.id: m for m in MAPS}


class WorldError(ValueError):
    """The world data is inconsistent; the message names the map and cell."""


def object_flags() -> dict[tuple[int, int, int], int]:
    """Event-flag index of every item/trainer/leader/gate, allocating free ones in map order."""
    flags, nxt = {}, FIRST_FREE_FLAG
    for m in MAPS:
        for o in m.objects:
            if o.flag >= 0:
                flags[(m.id, o.x, o.y)] = o.flag
            elif m.char(o.x, o.y) in "it":
                flags[(m.id, o.x, o.y)] = nxt
                nxt += 1
            else:
                flags[(m.id, o.x, o.y)] = 0
    return flags


def _walkable_edge(m: MapDef, d: str) -> list[bool]:
    """Walkable-or-gate flags of the border cells on side `d` (gates open later)."""
    if d == "N":
        cells = [m.char(x, 0) for x in range(WIDTH)]
    elif d == "S":
        cells = [m.char(x, HEIGHT - 1) for x in range(WIDTH)]
    elif d == "W":
        cells = [m.char(0, y) for y in range(HEIGHT)]
    else:
        cells = [m.char(WIDTH - 1, y) for y in range(HEIGHT)]
    return [c in WALKABLE or c == "=" for c in cells]


def validate() -> None:
    """Raise WorldError on any inconsistency the ROM would turn into a stuck or broken game."""
    for m in MAPS:
        where = f"map {m.name} (${m.id:02X})"
        if len(m.rows) != HEIGHT or any(len(r) != WIDTH for r in m.rows):
            raise WorldError(f"{where}: must be {WIDTH}x{HEIGHT} cells")
        if m.tileset not in TILESETS:
            raise WorldError(f"{where}: unknown tileset {m.tileset}")
        for y, row in enumerate(m.rows):
            for x, c in enumerate(row):
                if c not in LEGEND:
                    raise WorldError(f"{where}: unknown cell {c!r} at ({x},{y})")
        objs = {(o.x, o.y): o for o in m.objects}
        for y, row in enumerate(m.rows):
            for x, c in enumerate(row):
                if c in OBJECT_CHARS and (x, y) not in objs:
                    raise WorldError(f"{where}: {OBJECT_CHARS[c]} at ({x},{y}) has no object")
        for (x, y), o in objs.items():
            c = m.char(x, y)
            if c not in OBJECT_CHARS:
                raise WorldError(f"{where}: object at ({x},{y}) sits on {LEGEND[c]}")
            if OBJECT_CHARS[c] == "leader" and not (o.badge and o.flag >= 0 and o.level):
                raise WorldError(f"{where}: leader at ({x},{y}) needs badge, flag and level")
            if OBJECT_CHARS[c] in ("trainer", "leader") and not 1 <= o.species <= 151:
                raise WorldError(f"{where}: trainer at ({x},{y}) needs a species")
            if OBJECT_CHARS[c] == "item" and not 1 <= o.species <= 0xFE:
                raise WorldError(f"{where}: item at ({x},{y}) needs an item id")
            if OBJECT_CHARS[c] == "gate" and o.flag < 0:
                raise WorldError(f"{where}: gate at ({x},{y}) needs the flag that opens it")
        warp_cells = {(w[0], w[1]) for w in m.warps}
        for y, row in enumerate(m.rows):
            for x, c in enumerate(row):
                if c in "D>" and (x, y) not in warp_cells:
                    raise WorldError(f"{where}: door/stairs at ({x},{y}) has no warp")
        for x, y, dest, dx, dy in m.warps:
            if m.char(x, y) not in "D>":
                raise WorldError(f"{where}: warp at ({x},{y}) is not on a door or stairs")
            if dest not in BY_ID:
                raise WorldError(f"{where}: warp at ({x},{y}) goes to unknown map ${dest:02X}")
            target = BY_ID[dest]
            if not (0 <= dx < WIDTH and 0 <= dy < HEIGHT) or target.char(dx, dy) not in ".,":
                raise WorldError(
                    f"{where}: warp at ({x},{y}) lands on a blocked cell ({dx},{dy}) of "
                    f"{target.name}"
                )
        for d, dest in m.conn.items():
            if dest not in BY_ID:
                raise WorldError(f"{where}: {d} edge goes to unknown map ${dest:02X}")
            other = BY_ID[dest]
            if other.conn.get(OPPOSITE[d]) != m.id:
                raise WorldError(f"{where}: {d} edge to {other.name} is not connected back")
            if _walkable_edge(m, d) != _walkable_edge(other, OPPOSITE[d]):
                raise WorldError(f"{where}: {d} edge openings do not line up with {other.name}")
            if not any(_walkable_edge(m, d)):
                raise WorldError(f"{where}: {d} edge has no opening")
    for name, (mid, x, y) in (("start", START), ("heal start", HEAL_START)):
        if BY_ID[mid].char(x, y) not in ".,":
            raise WorldError(f"{name} position ({x},{y}) of {BY_ID[mid].name} is blocked")
    unreachable = set(BY_ID) - reachable_maps()
    if unreachable:
        names = ", ".join(sorted(BY_ID[i].name for i in unreachable))
        raise WorldError(f"maps not reachable from the start: {names}")


def reachable_maps() -> set[int]:
    """Maps a player can walk to from START when every gate is open (breadth-first)."""
    seen_cells = {START}
    queue = deque([START])
    deltas = {"S": (0, 1), "N": (0, -1), "W": (-1, 0), "E": (1, 0)}
    while queue:
        mid, x, y = queue.popleft()
        m = BY_ID[mid]
        nxt = []
        for w in m.warps:
            if (w[0], w[1]) == (x, y):
                nxt.append((w[2], w[3], w[4]))
        for d, (dx, dy) in deltas.items():
            nx, ny = x + dx, y + dy
            if 0 <= nx < WIDTH and 0 <= ny < HEIGHT:
                if m.char(nx, ny) in WALKABLE or m.char(nx, ny) == "=":
                    nxt.append((mid, nx, ny))
            elif d in m.conn:
                nxt.append((m.conn[d], nx % WIDTH, ny % HEIGHT))
        for cell in nxt:
            if cell not in seen_cells:
                seen_cells.add(cell)
                queue.append(cell)
    return {c[0] for c in seen_cells}


def _db_bytes(values: list[int] | bytes, per_line: int = 16) -> list[str]:
    vals = list(values)
    return [
        "    db " + ", ".join(f"${v:02X}" for v in vals[i : i + per_line])
        for i in range(0, len(vals), per_line)
    ]


def world_asm() -> str:
    """Map header table, per-map cells/warps/objects and their texts, as assembly source."""
    validate()
    flags = object_flags()
    lines = ["; ---- generated by daddy/cart/world.py", "MapTable:"]
    table = ["0"] * 256
    for m in MAPS:
        table[m.id] = f"Map_{m.id:02X}"
    for i in range(0, 256, 8):
        lines.append("    dw " + ", ".join(table[i : i + 8]))
    texts: dict[str, str] = {}
    cells_label: dict[tuple[str, ...], str] = {}
    for m in MAPS:
        tag = f"{m.id:02X}"
        conns = [m.conn.get(d, 0xFF) for d in DIRECTIONS]
        enc = m.encounters or Encounters(0, 0, 0, 0)
        cells = cells_label.setdefault(m.rows, f"Cells_{tag}")
        lines += [
            f"Map_{tag}:",
            f"    db {TILESETS.index(m.tileset)}, " + ", ".join(f"${c:02X}" for c in conns),
            f"    dw {cells}, Warps_{tag}, Objects_{tag}",
            f"    db {enc.rate}, {enc.min_level}, {enc.level_mask}, {enc.species}",
        ]
        if cells == f"Cells_{tag}":
            lines.append(f"{cells}:")
            lines += _db_bytes([CELLS[LEGEND[c]] for row in m.rows for c in row], 10)
        lines.append(f"Warps_{tag}:")
        for w in m.warps:
            lines.append("    db " + ", ".join(str(v) for v in w))
        lines.append("    db $FF")
        lines.append(f"Objects_{tag}:")
        for o in m.objects:
            label = texts.setdefault(o.text, f"ObjText_{len(texts)}")
            f = flags[(m.id, o.x, o.y)]
            lines.append(
                f"    db {o.x}, {o.y}, {f & 0xFF}, {f >> 8}, {o.level}, ${o.money:02X}, "
                f"{o.badge}, {label} & $FF, {label} >> 8, {o.species}"
            )
        lines.append("    db $FF")
    for text, label in texts.items():
        lines.append(f'{label}: db "{text}"')
    return "\n".join(lines) + "\n"


def constants_asm() -> str:
    """EQUs the game code needs from the world (cell types, start, special flags)."""
    out = [f"CELL_{name} EQU {value}" for name, value in CELLS.items()]
    out += [
        f"START_MAP EQU ${START[0]:02X}",
        f"START_X EQU {START[1]}",
        f"START_Y EQU {START[2]}",
        f"HEAL_START_MAP EQU ${HEAL_START[0]:02X}",
        f"HEAL_START_X EQU {HEAL_START[1]}",
        f"HEAL_START_Y EQU {HEAL_START[2]}",
        f"FLAG_GOT_STARTER EQU {FLAG_GOT_STARTER}",
        f"STARTER_SPECIES EQU {STARTER_SPECIES}",
        f"FLAG_BATTLED_RIVAL EQU {FLAG_BATTLED_RIVAL}",
        f"FLAG_GOT_POKEDEX EQU {FLAG_GOT_POKEDEX}",
        f"FLAG_OAK_GOT_PARCEL EQU {FLAG_OAK_GOT_PARCEL}",
        f"FLAG_GOT_OAKS_PARCEL EQU {FLAG_GOT_OAKS_PARCEL}",
        f"ITEM_OAKS_PARCEL EQU ${ITEM_OAKS_PARCEL:02X}",
        f"MAP_OAKS_LAB EQU ${OAKS_LAB:02X}",
        f"MAP_VIRIDIAN_MART EQU ${VIRIDIAN_MART:02X}",
        f"RIVAL_TRIGGER_Y EQU {RIVAL_TRIGGER_Y}",
        f"RIVAL_LEVEL EQU {RIVAL_LEVEL}",
        f"RIVAL_SPECIES EQU {RIVAL_SPECIES}",
        f"BAG_CAPACITY EQU {ram.BAG_CAPACITY}",
    ]
    return "\n".join(out) + "\n"
