"""Map ids → names, sizes and groups, for overlays, heatmaps and reports.

The table is Pokémon Red's map id list from the public pokered disassembly
(`constants/map_constants.asm`): id, constant name, display name, and size in 2×2-tile blocks
(height, width; a block is 2 steps, so coordinates run to 2·width × 2·height). The practice
cartridge reuses Kanto ids and constants for its maps, so the same names label both ROMs; only
its sizes differ (every practice map is one 10×9-cell screen): `map_sizes(practice=True)`.
"""

from __future__ import annotations

import re

# (id, pokered constant, display name, height in blocks, width in blocks)
_TABLE: tuple[tuple[int, str, str, int, int], ...] = (
    (0x00, "PALLET_TOWN", "PalletTown", 9, 10),
    (0x01, "VIRIDIAN_CITY", "ViridianCity", 18, 20),
    (0x02, "PEWTER_CITY", "PewterCity", 18, 20),
    (0x03, "CERULEAN_CITY", "CeruleanCity", 18, 20),
    (0x04, "LAVENDER_TOWN", "LavenderTown", 9, 10),
    (0x05, "VERMILION_CITY", "VermilionCity", 18, 20),
    (0x06, "CELADON_CITY", "CeladonCity", 18, 25),
    (0x07, "FUCHSIA_CITY", "FuchsiaCity", 18, 20),
    (0x08, "CINNABAR_ISLAND", "CinnabarIsland", 9, 10),
    (0x09, "INDIGO_PLATEAU", "IndigoPlateau", 9, 10),
    (0x0A, "SAFFRON_CITY", "SaffronCity", 18, 20),
    (0x0B, "UNUSED_MAP_0B", "UnusedMap0B", 0, 0),
    (0x0C, "ROUTE_1", "Route1", 18, 10),
    (0x0D, "ROUTE_2", "Route2", 36, 10),
    (0x0E, "ROUTE_3", "Route3", 9, 35),
    (0x0F, "ROUTE_4", "Route4", 9, 45),
    (0x10, "ROUTE_5", "Route5", 18, 10),
    (0x11, "ROUTE_6", "Route6", 18, 10),
    (0x12, "ROUTE_7", "Route7", 9, 10),
    (0x13, "ROUTE_8", "Route8", 9, 30),
    (0x14, "ROUTE_9", "Route9", 9, 30),
    (0x15, "ROUTE_10", "Route10", 36, 10),
    (0x16, "ROUTE_11", "Route11", 9, 30),
    (0x17, "ROUTE_12", "Route12", 54, 10),
    (0x18, "ROUTE_13", "Route13", 9, 30),
    (0x19, "ROUTE_14", "Route14", 27, 10),
    (0x1A, "ROUTE_15", "Route15", 9, 30),
    (0x1B, "ROUTE_16", "Route16", 9, 20),
    (0x1C, "ROUTE_17", "Route17", 72, 10),
    (0x1D, "ROUTE_18", "Route18", 9, 25),
    (0x1E, "ROUTE_19", "Route19", 27, 10),
    (0x1F, "ROUTE_20", "Route20", 9, 50),
    (0x20, "ROUTE_21", "Route21", 45, 10),
    (0x21, "ROUTE_22", "Route22", 9, 20),
    (0x22, "ROUTE_23", "Route23", 72, 10),
    (0x23, "ROUTE_24", "Route24", 18, 10),
    (0x24, "ROUTE_25", "Route25", 9, 30),
    (0x25, "REDS_HOUSE_1F", "RedsHouse1F", 4, 4),
    (0x26, "REDS_HOUSE_2F", "RedsHouse2F", 4, 4),
    (0x27, "BLUES_HOUSE", "BluesHouse", 4, 4),
    (0x28, "OAKS_LAB", "OaksLab", 6, 5),
    (0x29, "VIRIDIAN_POKECENTER", "ViridianPokecenter", 4, 7),
    (0x2A, "VIRIDIAN_MART", "ViridianMart", 4, 4),
    (0x2B, "VIRIDIAN_SCHOOL_HOUSE", "ViridianSchoolHouse", 4, 4),
    (0x2C, "VIRIDIAN_NICKNAME_HOUSE", "ViridianNicknameHouse", 4, 4),
    (0x2D, "VIRIDIAN_GYM", "ViridianGym", 9, 10),
    (0x2E, "DIGLETTS_CAVE_ROUTE_2", "DiglettsCaveRoute2", 4, 4),
    (0x2F, "VIRIDIAN_FOREST_NORTH_GATE", "ViridianForestNorthGate", 4, 5),
    (0x30, "ROUTE_2_TRADE_HOUSE", "Route2TradeHouse", 4, 4),
    (0x31, "ROUTE_2_GATE", "Route2Gate", 4, 5),
    (0x32, "VIRIDIAN_FOREST_SOUTH_GATE", "ViridianForestSouthGate", 4, 5),
    (0x33, "VIRIDIAN_FOREST", "ViridianForest", 24, 17),
    (0x34, "MUSEUM_1F", "Museum1F", 4, 10),
    (0x35, "MUSEUM_2F", "Museum2F", 4, 7),
    (0x36, "PEWTER_GYM", "PewterGym", 7, 5),
    (0x37, "PEWTER_NIDORAN_HOUSE", "PewterNidoranHouse", 4, 4),
    (0x38, "PEWTER_MART", "PewterMart", 4, 4),
    (0x39, "PEWTER_SPEECH_HOUSE", "PewterSpeechHouse", 4, 4),
    (0x3A, "PEWTER_POKECENTER", "PewterPokecenter", 4, 7),
    (0x3B, "MT_MOON_1F", "MtMoon1F", 18, 20),
    (0x3C, "MT_MOON_B1F", "MtMoonB1F", 14, 14),
    (0x3D, "MT_MOON_B2F", "MtMoonB2F", 18, 20),
    (0x3E, "CERULEAN_TRASHED_HOUSE", "CeruleanTrashedHouse", 4, 4),
    (0x3F, "CERULEAN_TRADE_HOUSE", "CeruleanTradeHouse", 4, 4),
    (0x40, "CERULEAN_POKECENTER", "CeruleanPokecenter", 4, 7),
    (0x41, "CERULEAN_GYM", "CeruleanGym", 7, 5),
    (0x42, "BIKE_SHOP", "BikeShop", 4, 4),
    (0x43, "CERULEAN_MART", "CeruleanMart", 4, 4),
    (0x44, "MT_MOON_POKECENTER", "MtMoonPokecenter", 4, 7),
    (0x45, "CERULEAN_TRASHED_HOUSE_COPY", "CeruleanTrashedHouseCopy", 4, 4),
    (0x46, "ROUTE_5_GATE", "Route5Gate", 3, 4),
    (0x47, "UNDERGROUND_PATH_ROUTE_5", "UndergroundPathRoute5", 4, 4),
    (0x48, "DAYCARE", "Daycare", 4, 4),
    (0x49, "ROUTE_6_GATE", "Route6Gate", 3, 4),
    (0x4A, "UNDERGROUND_PATH_ROUTE_6", "UndergroundPathRoute6", 4, 4),
    (0x4B, "UNDERGROUND_PATH_ROUTE_6_COPY", "UndergroundPathRoute6Copy", 4, 4),
    (0x4C, "ROUTE_7_GATE", "Route7Gate", 4, 3),
    (0x4D, "UNDERGROUND_PATH_ROUTE_7", "UndergroundPathRoute7", 4, 4),
    (0x4E, "UNDERGROUND_PATH_ROUTE_7_COPY", "UndergroundPathRoute7Copy", 4, 4),
    (0x4F, "ROUTE_8_GATE", "Route8Gate", 4, 3),
    (0x50, "UNDERGROUND_PATH_ROUTE_8", "UndergroundPathRoute8", 4, 4),
    (0x51, "ROCK_TUNNEL_POKECENTER", "RockTunnelPokecenter", 4, 7),
    (0x52, "ROCK_TUNNEL_1F", "RockTunnel1F", 18, 20),
    (0x53, "POWER_PLANT", "PowerPlant", 18, 20),
    (0x54, "ROUTE_11_GATE_1F", "Route11Gate1F", 5, 4),
    (0x55, "DIGLETTS_CAVE_ROUTE_11", "DiglettsCaveRoute11", 4, 4),
    (0x56, "ROUTE_11_GATE_2F", "Route11Gate2F", 4, 4),
    (0x57, "ROUTE_12_GATE_1F", "Route12Gate1F", 4, 5),
    (0x58, "BILLS_HOUSE", "BillsHouse", 4, 4),
    (0x59, "VERMILION_POKECENTER", "VermilionPokecenter", 4, 7),
    (0x5A, "POKEMON_FAN_CLUB", "PokemonFanClub", 4, 4),
    (0x5B, "VERMILION_MART", "VermilionMart", 4, 4),
    (0x5C, "VERMILION_GYM", "VermilionGym", 9, 5),
    (0x5D, "VERMILION_PIDGEY_HOUSE", "VermilionPidgeyHouse", 4, 4),
    (0x5E, "VERMILION_DOCK", "VermilionDock", 6, 14),
    (0x5F, "SS_ANNE_1F", "SSAnne1F", 9, 20),
    (0x60, "SS_ANNE_2F", "SSAnne2F", 9, 20),
    (0x61, "SS_ANNE_3F", "SSAnne3F", 3, 10),
    (0x62, "SS_ANNE_B1F", "SSAnneB1F", 4, 15),
    (0x63, "SS_ANNE_BOW", "SSAnneBow", 7, 10),
    (0x64, "SS_ANNE_KITCHEN", "SSAnneKitchen", 8, 7),
    (0x65, "SS_ANNE_CAPTAINS_ROOM", "SSAnneCaptainsRoom", 4, 3),
    (0x66, "SS_ANNE_1F_ROOMS", "SSAnne1FRooms", 8, 12),
    (0x67, "SS_ANNE_2F_ROOMS", "SSAnne2FRooms", 8, 12),
    (0x68, "SS_ANNE_B1F_ROOMS", "SSAnneB1FRooms", 8, 12),
    (0x69, "UNUSED_MAP_69", "UnusedMap69", 0, 0),
    (0x6A, "UNUSED_MAP_6A", "UnusedMap6A", 0, 0),
    (0x6B, "UNUSED_MAP_6B", "UnusedMap6B", 0, 0),
    (0x6C, "VICTORY_ROAD_1F", "VictoryRoad1F", 9, 10),
    (0x6D, "UNUSED_MAP_6D", "UnusedMap6D", 0, 0),
    (0x6E, "UNUSED_MAP_6E", "UnusedMap6E", 0, 0),
    (0x6F, "UNUSED_MAP_6F", "UnusedMap6F", 0, 0),
    (0x70, "UNUSED_MAP_70", "UnusedMap70", 0, 0),
    (0x71, "LANCES_ROOM", "LancesRoom", 13, 13),
    (0x72, "UNUSED_MAP_72", "UnusedMap72", 0, 0),
    (0x73, "UNUSED_MAP_73", "UnusedMap73", 0, 0),
    (0x74, "UNUSED_MAP_74", "UnusedMap74", 0, 0),
    (0x75, "UNUSED_MAP_75", "UnusedMap75", 0, 0),
    (0x76, "HALL_OF_FAME", "HallOfFame", 4, 5),
    (0x77, "UNDERGROUND_PATH_NORTH_SOUTH", "UndergroundPathNorthSouth", 24, 4),
    (0x78, "CHAMPIONS_ROOM", "ChampionsRoom", 4, 4),
    (0x79, "UNDERGROUND_PATH_WEST_EAST", "UndergroundPathWestEast", 4, 25),
    (0x7A, "CELADON_MART_1F", "CeladonMart1F", 4, 10),
    (0x7B, "CELADON_MART_2F", "CeladonMart2F", 4, 10),
    (0x7C, "CELADON_MART_3F", "CeladonMart3F", 4, 10),
    (0x7D, "CELADON_MART_4F", "CeladonMart4F", 4, 10),
    (0x7E, "CELADON_MART_ROOF", "CeladonMartRoof", 4, 10),
    (0x7F, "CELADON_MART_ELEVATOR", "CeladonMartElevator", 2, 2),
    (0x80, "CELADON_MANSION_1F", "CeladonMansion1F", 6, 4),
    (0x81, "CELADON_MANSION_2F", "CeladonMansion2F", 6, 4),
    (0x82, "CELADON_MANSION_3F", "CeladonMansion3F", 6, 4),
    (0x83, "CELADON_MANSION_ROOF", "CeladonMansionRoof", 6, 4),
    (0x84, "CELADON_MANSION_ROOF_HOUSE", "CeladonMansionRoofHouse", 4, 4),
    (0x85, "CELADON_POKECENTER", "CeladonPokecenter", 4, 7),
    (0x86, "CELADON_GYM", "CeladonGym", 9, 5),
    (0x87, "GAME_CORNER", "GameCorner", 9, 10),
    (0x88, "CELADON_MART_5F", "CeladonMart5F", 4, 10),
    (0x89, "GAME_CORNER_PRIZE_ROOM", "GameCornerPrizeRoom", 4, 5),
    (0x8A, "CELADON_DINER", "CeladonDiner", 4, 5),
    (0x8B, "CELADON_CHIEF_HOUSE", "CeladonChiefHouse", 4, 4),
    (0x8C, "CELADON_HOTEL", "CeladonHotel", 4, 7),
    (0x8D, "LAVENDER_POKECENTER", "LavenderPokecenter", 4, 7),
    (0x8E, "POKEMON_TOWER_1F", "PokemonTower1F", 9, 10),
    (0x8F, "POKEMON_TOWER_2F", "PokemonTower2F", 9, 10),
    (0x90, "POKEMON_TOWER_3F", "PokemonTower3F", 9, 10),
    (0x91, "POKEMON_TOWER_4F", "PokemonTower4F", 9, 10),
    (0x92, "POKEMON_TOWER_5F", "PokemonTower5F", 9, 10),
    (0x93, "POKEMON_TOWER_6F", "PokemonTower6F", 9, 10),
    (0x94, "POKEMON_TOWER_7F", "PokemonTower7F", 9, 10),
    (0x95, "MR_FUJIS_HOUSE", "MrFujisHouse", 4, 4),
    (0x96, "LAVENDER_MART", "LavenderMart", 4, 4),
    (0x97, "LAVENDER_CUBONE_HOUSE", "LavenderCuboneHouse", 4, 4),
    (0x98, "FUCHSIA_MART", "FuchsiaMart", 4, 4),
    (0x99, "FUCHSIA_BILLS_GRANDPAS_HOUSE", "FuchsiaBillsGrandpasHouse", 4, 4),
    (0x9A, "FUCHSIA_POKECENTER", "FuchsiaPokecenter", 4, 7),
    (0x9B, "WARDENS_HOUSE", "WardensHouse", 4, 5),
    (0x9C, "SAFARI_ZONE_GATE", "SafariZoneGate", 3, 4),
    (0x9D, "FUCHSIA_GYM", "FuchsiaGym", 9, 5),
    (0x9E, "FUCHSIA_MEETING_ROOM", "FuchsiaMeetingRoom", 4, 7),
    (0x9F, "SEAFOAM_ISLANDS_B1F", "SeafoamIslandsB1F", 9, 15),
    (0xA0, "SEAFOAM_ISLANDS_B2F", "SeafoamIslandsB2F", 9, 15),
    (0xA1, "SEAFOAM_ISLANDS_B3F", "SeafoamIslandsB3F", 9, 15),
    (0xA2, "SEAFOAM_ISLANDS_B4F", "SeafoamIslandsB4F", 9, 15),
    (0xA3, "VERMILION_OLD_ROD_HOUSE", "VermilionOldRodHouse", 4, 4),
    (0xA4, "FUCHSIA_GOOD_ROD_HOUSE", "FuchsiaGoodRodHouse", 4, 4),
    (0xA5, "POKEMON_MANSION_1F", "PokemonMansion1F", 14, 15),
    (0xA6, "CINNABAR_GYM", "CinnabarGym", 9, 10),
    (0xA7, "CINNABAR_LAB", "CinnabarLab", 4, 9),
    (0xA8, "CINNABAR_LAB_TRADE_ROOM", "CinnabarLabTradeRoom", 4, 4),
    (0xA9, "CINNABAR_LAB_METRONOME_ROOM", "CinnabarLabMetronomeRoom", 4, 4),
    (0xAA, "CINNABAR_LAB_FOSSIL_ROOM", "CinnabarLabFossilRoom", 4, 4),
    (0xAB, "CINNABAR_POKECENTER", "CinnabarPokecenter", 4, 7),
    (0xAC, "CINNABAR_MART", "CinnabarMart", 4, 4),
    (0xAD, "CINNABAR_MART_COPY", "CinnabarMartCopy", 4, 4),
    (0xAE, "INDIGO_PLATEAU_LOBBY", "IndigoPlateauLobby", 6, 8),
    (0xAF, "COPYCATS_HOUSE_1F", "CopycatsHouse1F", 4, 4),
    (0xB0, "COPYCATS_HOUSE_2F", "CopycatsHouse2F", 4, 4),
    (0xB1, "FIGHTING_DOJO", "FightingDojo", 6, 5),
    (0xB2, "SAFFRON_GYM", "SaffronGym", 9, 10),
    (0xB3, "SAFFRON_PIDGEY_HOUSE", "SaffronPidgeyHouse", 4, 4),
    (0xB4, "SAFFRON_MART", "SaffronMart", 4, 4),
    (0xB5, "SILPH_CO_1F", "SilphCo1F", 9, 15),
    (0xB6, "SAFFRON_POKECENTER", "SaffronPokecenter", 4, 7),
    (0xB7, "MR_PSYCHICS_HOUSE", "MrPsychicsHouse", 4, 4),
    (0xB8, "ROUTE_15_GATE_1F", "Route15Gate1F", 5, 4),
    (0xB9, "ROUTE_15_GATE_2F", "Route15Gate2F", 4, 4),
    (0xBA, "ROUTE_16_GATE_1F", "Route16Gate1F", 7, 4),
    (0xBB, "ROUTE_16_GATE_2F", "Route16Gate2F", 4, 4),
    (0xBC, "ROUTE_16_FLY_HOUSE", "Route16FlyHouse", 4, 4),
    (0xBD, "ROUTE_12_SUPER_ROD_HOUSE", "Route12SuperRodHouse", 4, 4),
    (0xBE, "ROUTE_18_GATE_1F", "Route18Gate1F", 5, 4),
    (0xBF, "ROUTE_18_GATE_2F", "Route18Gate2F", 4, 4),
    (0xC0, "SEAFOAM_ISLANDS_1F", "SeafoamIslands1F", 9, 15),
    (0xC1, "ROUTE_22_GATE", "Route22Gate", 4, 5),
    (0xC2, "VICTORY_ROAD_2F", "VictoryRoad2F", 9, 15),
    (0xC3, "ROUTE_12_GATE_2F", "Route12Gate2F", 4, 4),
    (0xC4, "VERMILION_TRADE_HOUSE", "VermilionTradeHouse", 4, 4),
    (0xC5, "DIGLETTS_CAVE", "DiglettsCave", 18, 20),
    (0xC6, "VICTORY_ROAD_3F", "VictoryRoad3F", 9, 15),
    (0xC7, "ROCKET_HIDEOUT_B1F", "RocketHideoutB1F", 14, 15),
    (0xC8, "ROCKET_HIDEOUT_B2F", "RocketHideoutB2F", 14, 15),
    (0xC9, "ROCKET_HIDEOUT_B3F", "RocketHideoutB3F", 14, 15),
    (0xCA, "ROCKET_HIDEOUT_B4F", "RocketHideoutB4F", 12, 15),
    (0xCB, "ROCKET_HIDEOUT_ELEVATOR", "RocketHideoutElevator", 4, 3),
    (0xCC, "UNUSED_MAP_CC", "UnusedMapCc", 0, 0),
    (0xCD, "UNUSED_MAP_CD", "UnusedMapCd", 0, 0),
    (0xCE, "UNUSED_MAP_CE", "UnusedMapCe", 0, 0),
    (0xCF, "SILPH_CO_2F", "SilphCo2F", 9, 15),
    (0xD0, "SILPH_CO_3F", "SilphCo3F", 9, 15),
    (0xD1, "SILPH_CO_4F", "SilphCo4F", 9, 15),
    (0xD2, "SILPH_CO_5F", "SilphCo5F", 9, 15),
    (0xD3, "SILPH_CO_6F", "SilphCo6F", 9, 13),
    (0xD4, "SILPH_CO_7F", "SilphCo7F", 9, 13),
    (0xD5, "SILPH_CO_8F", "SilphCo8F", 9, 13),
    (0xD6, "POKEMON_MANSION_2F", "PokemonMansion2F", 14, 15),
    (0xD7, "POKEMON_MANSION_3F", "PokemonMansion3F", 9, 15),
    (0xD8, "POKEMON_MANSION_B1F", "PokemonMansionB1F", 14, 15),
    (0xD9, "SAFARI_ZONE_EAST", "SafariZoneEast", 13, 15),
    (0xDA, "SAFARI_ZONE_NORTH", "SafariZoneNorth", 18, 20),
    (0xDB, "SAFARI_ZONE_WEST", "SafariZoneWest", 13, 15),
    (0xDC, "SAFARI_ZONE_CENTER", "SafariZoneCenter", 13, 15),
    (0xDD, "SAFARI_ZONE_CENTER_REST_HOUSE", "SafariZoneCenterRestHouse", 4, 4),
    (0xDE, "SAFARI_ZONE_SECRET_HOUSE", "SafariZoneSecretHouse", 4, 4),
    (0xDF, "SAFARI_ZONE_WEST_REST_HOUSE", "SafariZoneWestRestHouse", 4, 4),
    (0xE0, "SAFARI_ZONE_EAST_REST_HOUSE", "SafariZoneEastRestHouse", 4, 4),
    (0xE1, "SAFARI_ZONE_NORTH_REST_HOUSE", "SafariZoneNorthRestHouse", 4, 4),
    (0xE2, "CERULEAN_CAVE_2F", "CeruleanCave2F", 9, 15),
    (0xE3, "CERULEAN_CAVE_B1F", "CeruleanCaveB1F", 9, 15),
    (0xE4, "CERULEAN_CAVE_1F", "CeruleanCave1F", 9, 15),
    (0xE5, "NAME_RATERS_HOUSE", "NameRatersHouse", 4, 4),
    (0xE6, "CERULEAN_BADGE_HOUSE", "CeruleanBadgeHouse", 4, 4),
    (0xE7, "UNUSED_MAP_E7", "UnusedMapE7", 0, 0),
    (0xE8, "ROCK_TUNNEL_B1F", "RockTunnelB1F", 18, 20),
    (0xE9, "SILPH_CO_9F", "SilphCo9F", 9, 13),
    (0xEA, "SILPH_CO_10F", "SilphCo10F", 9, 8),
    (0xEB, "SILPH_CO_11F", "SilphCo11F", 9, 9),
    (0xEC, "SILPH_CO_ELEVATOR", "SilphCoElevator", 2, 2),
    (0xED, "UNUSED_MAP_ED", "UnusedMapEd", 0, 0),
    (0xEE, "UNUSED_MAP_EE", "UnusedMapEe", 0, 0),
    (0xEF, "TRADE_CENTER", "TradeCenter", 4, 5),
    (0xF0, "COLOSSEUM", "Colosseum", 4, 5),
    (0xF1, "UNUSED_MAP_F1", "UnusedMapF1", 0, 0),
    (0xF2, "UNUSED_MAP_F2", "UnusedMapF2", 0, 0),
    (0xF3, "UNUSED_MAP_F3", "UnusedMapF3", 0, 0),
    (0xF4, "UNUSED_MAP_F4", "UnusedMapF4", 0, 0),
    (0xF5, "LORELEIS_ROOM", "LoreleisRoom", 6, 5),
    (0xF6, "BRUNOS_ROOM", "BrunosRoom", 6, 5),
    (0xF7, "AGATHAS_ROOM", "AgathasRoom", 6, 5),
)
assert [row[0] for row in _TABLE] == list(range(len(_TABLE))), "map table must be dense from 0x00"

MAP_NAMES: dict[int, str] = {i: name for i, _, name, _, _ in _TABLE}
MAP_CONSTANTS: dict[int, str] = {i: const for i, const, _, _, _ in _TABLE}
MAP_BLOCKS: dict[int, tuple[int, int]] = {i: (h, w) for i, _, _, h, w in _TABLE}
MAP_IDS: dict[str, int] = {name: i for i, name in MAP_NAMES.items()}

FIRST_ROUTE_MAP = 0x0C
FIRST_INDOOR_MAP = 0x25

# Heatmap/report groups, in display order; keys are file-safe.
GROUPS: tuple[str, ...] = ("towns", "routes", "buildings", "gyms", "dungeons")
GROUP_TITLES = {
    "towns": "Towns and cities",
    "routes": "Routes",
    "buildings": "Houses, shops, centres and gates",
    "gyms": "Gyms and the Pokémon League",
    "dungeons": "Forests, caves and dungeons",
}
_GYM = re.compile(r"GYM|FIGHTING_DOJO|_ROOM$|HALL_OF_FAME|INDIGO_PLATEAU_LOBBY")
_GYM_EXCLUDE = re.compile(
    r"CAPTAINS_ROOM|TRADE_ROOM|METRONOME_ROOM|FOSSIL_ROOM|MEETING_ROOM|PRIZE_ROOM"
)
_DUNGEON = re.compile(
    r"^(VIRIDIAN_FOREST$|MT_MOON_(1F|B1F|B2F)|ROCK_TUNNEL_(1F|B1F)|POWER_PLANT|DIGLETTS_CAVE$"
    r"|SEAFOAM_ISLANDS_|VICTORY_ROAD_|CERULEAN_CAVE_|POKEMON_TOWER_|POKEMON_MANSION_"
    r"|SAFARI_ZONE_(EAST|NORTH|WEST|CENTER)$|SILPH_CO_\d+F|ROCKET_HIDEOUT_B|SS_ANNE_"
    r"|UNDERGROUND_PATH_(NORTH_SOUTH|WEST_EAST))"
)


def map_sizes(practice: bool = False) -> dict[int, tuple[int, int]]:
    """(rows, cols) in player steps per map id, for heatmap grids: Pokémon Red's from the
    table, or the practice cartridge's own maps (read from its world definition)."""
    if not practice:
        return {i: (2 * h, 2 * w) for i, (h, w) in MAP_BLOCKS.items() if h and w}
    from daddy.cart import world  # lazy: only the practice ROM's consumers need it

    return {m.id: (len(m.rows), len(m.rows[0])) for m in world.MAPS}


def map_name(map_id: int) -> str:
    """Display name ("PalletTown"); ids outside the table read "Map0xNN" rather than failing."""
    return MAP_NAMES.get(int(map_id), f"Map0x{int(map_id) & 0xFF:02X}")


def map_group(map_id: int) -> str:
    """One of `GROUPS`, so a heatmap page shows maps of one kind at one scale."""
    map_id = int(map_id)
    if map_id < FIRST_ROUTE_MAP:
        return "towns"
    if map_id < FIRST_INDOOR_MAP:
        return "routes"
    const = MAP_CONSTANTS.get(map_id, "")
    if _GYM.search(const) and not _GYM_EXCLUDE.search(const):
        return "gyms"
    if _DUNGEON.search(const):
        return "dungeons"
    return "buildings"
