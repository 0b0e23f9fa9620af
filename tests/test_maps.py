"""Map names, sizes and groups: pokered's map list, shared by the practice cartridge."""

from __future__ import annotations

import pytest

from daddy.game.maps import (
    GROUPS,
    MAP_BLOCKS,
    MAP_CONSTANTS,
    MAP_IDS,
    MAP_NAMES,
    map_group,
    map_name,
    map_sizes,
)
from daddy.game.milestones import DEFAULT_MILESTONES

LAST_KANTO_MAP = 0xF7  # AGATHAS_ROOM


def test_every_kanto_map_id_has_a_unique_name() -> None:
    assert sorted(MAP_NAMES) == list(range(LAST_KANTO_MAP + 1))
    assert len(set(MAP_NAMES.values())) == len(MAP_NAMES)
    assert all(MAP_IDS[name] == i for i, name in MAP_NAMES.items())


@pytest.mark.parametrize(
    "map_id, constant, name",
    [  # DESIGN.md §4 and a few far ones
        (0x00, "PALLET_TOWN", "PalletTown"),
        (0x01, "VIRIDIAN_CITY", "ViridianCity"),
        (0x02, "PEWTER_CITY", "PewterCity"),
        (0x03, "CERULEAN_CITY", "CeruleanCity"),
        (0x05, "VERMILION_CITY", "VermilionCity"),
        (0x0C, "ROUTE_1", "Route1"),
        (0x0D, "ROUTE_2", "Route2"),
        (0x0E, "ROUTE_3", "Route3"),
        (0x0F, "ROUTE_4", "Route4"),
        (0x25, "REDS_HOUSE_1F", "RedsHouse1F"),
        (0x26, "REDS_HOUSE_2F", "RedsHouse2F"),
        (0x28, "OAKS_LAB", "OaksLab"),
        (0x29, "VIRIDIAN_POKECENTER", "ViridianPokecenter"),
        (0x33, "VIRIDIAN_FOREST", "ViridianForest"),
        (0x36, "PEWTER_GYM", "PewterGym"),
        (0x3B, "MT_MOON_1F", "MtMoon1F"),
        (0x41, "CERULEAN_GYM", "CeruleanGym"),
        (0x5C, "VERMILION_GYM", "VermilionGym"),
        (0x76, "HALL_OF_FAME", "HallOfFame"),
        (0xE8, "ROCK_TUNNEL_B1F", "RockTunnelB1F"),
        (0xF7, "AGATHAS_ROOM", "AgathasRoom"),
    ],
)
def test_map_ids_match_the_pokered_constants(map_id: int, constant: str, name: str) -> None:
    assert MAP_CONSTANTS[map_id] == constant
    assert map_name(map_id) == name


@pytest.mark.parametrize("map_id, expected", [(0xF8, "Map0xF8"), (0xFF, "Map0xFF")])
def test_ids_past_the_table_get_a_readable_name_not_an_error(map_id: int, expected: str) -> None:
    assert map_name(map_id) == expected


def test_every_map_milestone_names_a_known_map() -> None:
    for m in DEFAULT_MILESTONES:
        if m.kind == "map":
            assert isinstance(m.arg, int) and m.arg in MAP_NAMES, m.name


@pytest.mark.parametrize(
    "map_id, group",
    [
        (0x00, "towns"),
        (0x0A, "towns"),
        (0x0C, "routes"),
        (0x24, "routes"),
        (0x25, "buildings"),
        (0x28, "buildings"),
        (0x29, "buildings"),
        (0x65, "dungeons"),
        (0x36, "gyms"),
        (0x41, "gyms"),
        (0xB1, "gyms"),
        (0x71, "gyms"),
        (0xF5, "gyms"),
        (0x33, "dungeons"),
        (0x3B, "dungeons"),
        (0xC5, "dungeons"),
        (0x8E, "dungeons"),
        (0xA8, "buildings"),
        (0x89, "buildings"),
    ],
)
def test_maps_fall_into_the_expected_heatmap_group(map_id: int, group: str) -> None:
    assert map_group(map_id) == group


def test_every_id_has_a_group_and_a_size() -> None:
    for map_id in range(256):
        assert map_group(map_id) in GROUPS
    assert MAP_BLOCKS[0x00] == (9, 10)  # Pallet Town: 18 x 20 steps
    assert MAP_BLOCKS[0x0D] == (36, 10)  # Route 2 runs north-south


def test_practice_maps_use_kanto_ids_and_their_own_size() -> None:
    practice = map_sizes(practice=True)
    assert 0x26 in practice and 0x00 in practice and len(practice) >= 10  # DESIGN.md §3
    assert all(i in MAP_NAMES for i in practice)
    assert set(practice.values()) == {(9, 10)}  # one 10x9-cell screen each
    assert map_sizes()[0x00] == (18, 20)  # Pokémon Red's Pallet Town, in steps
