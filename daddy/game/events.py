"""Pokémon Red's story event flags and key-item ids, named as in the pokered disassembly.

Event flags live in `wEventFlags` (0xD747, 320 bytes): the flag whose constant has value n in
pret/pokered `constants/event_constants.asm` is bit n % 8 of byte 0xD747 + n // 8. Each flag
below is written as `flag(n)` with n copied from that file (its `const_next`/`const_skip`
arithmetic worked out), so a reader can check one line against the disassembly. Item ids come
from `constants/item_constants.asm` (bag entries are (id, quantity) pairs at `wBagItems`).

Only the flags and items the milestones, the practice cartridge and the curriculum use are
here; `ram.EVENT_*` (older, used by the cartridge) are the same values, re-exported.
"""

from __future__ import annotations

from daddy.game import ram


def flag(index: int) -> tuple[int, int]:
    """(byte address, bit) of the event flag whose event_constants.asm value is `index`."""
    if not 0 <= index < ram.EVENT_FLAGS_LEN * 8:
        raise ValueError(
            f"event index {index:#x} is outside wEventFlags (0..{ram.EVENT_FLAGS_LEN * 8 - 1:#x}); "
            "copy the value from pokered's constants/event_constants.asm"
        )
    return (ram.W_EVENT_FLAGS + index // 8, index % 8)


def flag_index(event: tuple[int, int]) -> int:
    """The event_constants.asm value of an (address, bit) flag: the inverse of `flag`."""
    addr, bit = event
    return (addr - ram.W_EVENT_FLAGS) * 8 + bit


# --- event flags (constants/event_constants.asm) -------------------------------------------
# Pallet Town
EVENT_FOLLOWED_OAK_INTO_LAB = flag(0x000)
EVENT_OAK_ASKED_TO_CHOOSE_MON = flag(0x021)
EVENT_GOT_STARTER = flag(0x022)
EVENT_BATTLED_RIVAL_IN_OAKS_LAB = flag(0x023)
EVENT_GOT_POKEBALLS_FROM_OAK = flag(0x024)
EVENT_GOT_POKEDEX = flag(0x025)
# Viridian City
EVENT_VIRIDIAN_GYM_OPEN = flag(0x028)
EVENT_OAK_GOT_PARCEL = flag(0x038)
EVENT_GOT_OAKS_PARCEL = flag(0x039)
EVENT_BEAT_VIRIDIAN_GYM_GIOVANNI = flag(0x051)
# Pewter City
EVENT_GOT_OLD_AMBER = flag(0x069)
EVENT_BEAT_BROCK = flag(0x077)
# Cerulean City
EVENT_BEAT_CERULEAN_RIVAL = flag(0x098)
EVENT_BEAT_CERULEAN_ROCKET_THIEF = flag(0x0A7)
EVENT_BEAT_MISTY = flag(0x0BF)
EVENT_GOT_BICYCLE = flag(0x0C0)
# Lavender Town / Pokémon Tower
EVENT_BEAT_POKEMON_TOWER_RIVAL = flag(0x0EF)
EVENT_BEAT_GHOST_MAROWAK = flag(0x10F)
EVENT_GOT_POKE_FLUTE = flag(0x128)
# Vermilion City
EVENT_GOT_BIKE_VOUCHER = flag(0x151)
EVENT_BEAT_LT_SURGE = flag(0x167)
# Celadon City
EVENT_BEAT_ERIKA = flag(0x1A9)
EVENT_FOUND_ROCKET_HIDEOUT = flag(0x1B9)
# Fuchsia City
EVENT_GOT_HM04 = flag(0x238)
EVENT_GAVE_GOLD_TEETH = flag(0x239)
EVENT_BEAT_KOGA = flag(0x259)
# Cinnabar Island
EVENT_BEAT_BLAINE = flag(0x299)
# Saffron City
EVENT_BEAT_KARATE_MASTER = flag(0x351)
EVENT_BEAT_SABRINA = flag(0x361)
# Route 2
EVENT_GOT_HM05 = flag(0x3D8)
# Route 12 / Route 16
EVENT_BEAT_ROUTE12_SNORLAX = flag(0x48F)
EVENT_BEAT_ROUTE16_SNORLAX = flag(0x4C9)
EVENT_GOT_HM02 = flag(0x4CE)
EVENT_RESCUED_MR_FUJI = flag(0x4CF)
# Route 22 / Route 23
EVENT_BEAT_ROUTE22_RIVAL_1ST_BATTLE = flag(0x525)
EVENT_BEAT_ROUTE22_RIVAL_2ND_BATTLE = flag(0x526)
EVENT_PASSED_EARTHBADGE_CHECK = flag(0x536)
# Route 24 / Route 25 (Bill)
EVENT_BEAT_ROUTE24_ROCKET = flag(0x541)
EVENT_MET_BILL = flag(0x550)
EVENT_USED_CELL_SEPARATOR_ON_BILL = flag(0x55B)
EVENT_GOT_SS_TICKET = flag(0x55C)
EVENT_LEFT_BILLS_HOUSE_AFTER_HELPING = flag(0x55F)
# Mt. Moon
EVENT_BEAT_MT_MOON_EXIT_SUPER_NERD = flag(0x579)
EVENT_GOT_DOME_FOSSIL = flag(0x57E)
EVENT_GOT_HELIX_FOSSIL = flag(0x57F)
# S.S. Anne
EVENT_GOT_HM01 = flag(0x5E0)
EVENT_RUBBED_CAPTAINS_BACK = flag(0x5E1)
EVENT_SS_ANNE_LEFT = flag(0x5E2)
# Rocket Hideout
EVENT_ROCKET_DROPPED_LIFT_KEY = flag(0x6A6)
EVENT_BEAT_ROCKET_HIDEOUT_GIOVANNI = flag(0x6A7)
# Silph Co.
EVENT_BEAT_SILPH_CO_RIVAL = flag(0x740)
EVENT_GOT_MASTER_BALL = flag(0x78D)
EVENT_BEAT_SILPH_CO_GIOVANNI = flag(0x78F)
# Safari Zone
EVENT_GOT_HM03 = flag(0x880)
# Cerulean Cave
EVENT_BEAT_MEWTWO = flag(0x8C1)
# Indigo Plateau (INDIGO_PLATEAU_EVENTS_START..END: the game clears these on each new try)
EVENT_BEAT_LORELEIS_ROOM_TRAINER_0 = flag(0x8E1)
EVENT_BEAT_BRUNOS_ROOM_TRAINER_0 = flag(0x8E9)
EVENT_BEAT_AGATHAS_ROOM_TRAINER_0 = flag(0x8F1)
EVENT_BEAT_LANCES_ROOM_TRAINER_0 = flag(0x8F9)
EVENT_BEAT_LANCE = flag(0x8FE)
EVENT_BEAT_CHAMPION_RIVAL = flag(0x901)

EVENTS: dict[str, tuple[int, int]] = {
    k: v for k, v in dict(globals()).items() if k.startswith("EVENT_") and isinstance(v, tuple)
}

# The flags ram.py already named for the cartridge are the same facts.
assert ram.EVENT_GOT_STARTER == EVENT_GOT_STARTER
assert ram.EVENT_OAK_GOT_PARCEL == EVENT_OAK_GOT_PARCEL
assert ram.EVENT_BEAT_BROCK == EVENT_BEAT_BROCK
assert ram.EVENT_BEAT_MISTY == EVENT_BEAT_MISTY
assert ram.EVENT_BEAT_LT_SURGE == EVENT_BEAT_LT_SURGE

# --- item ids (constants/item_constants.asm) -----------------------------------------------
TOWN_MAP = 0x05
BICYCLE = 0x06
POKEDEX = 0x09
OLD_AMBER = 0x1F
DOME_FOSSIL = 0x29
HELIX_FOSSIL = 0x2A
SECRET_KEY = 0x2B
BIKE_VOUCHER = 0x2D
CARD_KEY = 0x30
S_S_TICKET = 0x3F
GOLD_TEETH = 0x40
COIN_CASE = 0x45
OAKS_PARCEL = 0x46
ITEMFINDER = 0x47
SILPH_SCOPE = 0x48
POKE_FLUTE = 0x49
LIFT_KEY = 0x4A
OLD_ROD = 0x4C
HM_CUT = 0xC4  # HM01
HM_FLY = 0xC5  # HM02
HM_SURF = 0xC6  # HM03
HM_STRENGTH = 0xC7  # HM04
HM_FLASH = 0xC8  # HM05
HM01, HM02, HM03, HM04, HM05 = HM_CUT, HM_FLY, HM_SURF, HM_STRENGTH, HM_FLASH

ITEMS: dict[str, int] = {
    "TOWN_MAP": TOWN_MAP,
    "BICYCLE": BICYCLE,
    "POKEDEX": POKEDEX,
    "OLD_AMBER": OLD_AMBER,
    "DOME_FOSSIL": DOME_FOSSIL,
    "HELIX_FOSSIL": HELIX_FOSSIL,
    "SECRET_KEY": SECRET_KEY,
    "BIKE_VOUCHER": BIKE_VOUCHER,
    "CARD_KEY": CARD_KEY,
    "S_S_TICKET": S_S_TICKET,
    "GOLD_TEETH": GOLD_TEETH,
    "COIN_CASE": COIN_CASE,
    "OAKS_PARCEL": OAKS_PARCEL,
    "ITEMFINDER": ITEMFINDER,
    "SILPH_SCOPE": SILPH_SCOPE,
    "POKE_FLUTE": POKE_FLUTE,
    "LIFT_KEY": LIFT_KEY,
    "OLD_ROD": OLD_ROD,
    "HM_CUT": HM_CUT,
    "HM_FLY": HM_FLY,
    "HM_SURF": HM_SURF,
    "HM_STRENGTH": HM_STRENGTH,
    "HM_FLASH": HM_FLASH,
}
