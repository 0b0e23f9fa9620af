; The practice cartridge: a tiny Kanto that keeps its state at Pokémon Red's RAM addresses.
;
; Why: Daddy must run and be tested without the real ROM. Everything above the emulator reads
; the same addresses on both ROMs (daddy/ram.py), so this game only has to put the right values
; there: map id and coordinates, party, badges, event flags, money, Pokédex bits, battle and
; text-box flags. build.py prepends generated constants/charmap and appends the generated data
; (tiles, maps, texts) from world.py and gfx.py.
;
; Structure: blocking routines like the real game's (DelayFrame waits for VBlank; ShowText and
; Menu wait for buttons). The VBlank handler copies the shadow OAM and one dirty third of the
; 20x18 shadow screen wTileMap to VRAM each frame; map loads switch the LCD off for a full copy.

; ---------------------------------------------------------------- hardware
rP1     EQU $FF00
rIF     EQU $FF0F
rNR52   EQU $FF26
rLCDC   EQU $FF40
rSCY    EQU $FF42
rSCX    EQU $FF43
rLY     EQU $FF44
rBGP    EQU $FF47
rOBP0   EQU $FF48
rOBP1   EQU $FF49
rWY     EQU $FF4A
rWX     EQU $FF4B
rIE     EQU $FFFF
LCDC_ON EQU %10010011          ; LCD on, BG+OBJ tiles at $8000, BG map $9800, 8x8 sprites

; ---------------------------------------------------------------- Pokémon Red addresses
wTileMap         EQU $C3A0
wCurrentMenuItem EQU $CC26
wJoyIgnore       EQU $CD6B
wFontLoaded      EQU $CFC4
wIsInBattle      EQU $D057
wPlayerName      EQU $D158
wPartyCount      EQU $D163
wPartySpecies    EQU $D164
wPartyMon1HP     EQU $D16C
wPartyMon1Level  EQU $D18C
wPartyMon1MaxHP  EQU $D18D
wPokedexOwned    EQU $D2F7
wPokedexSeen     EQU $D30A
wNumBagItems     EQU $D31D
wBagItems        EQU $D31E       ; (item id, quantity) pairs, $FF after the last
wPlayerMoney     EQU $D347
wRivalName       EQU $D34A
wObtainedBadges  EQU $D356
wCurMap          EQU $D35E
wYCoord          EQU $D361
wXCoord          EQU $D362
wMapPalOffset    EQU $D35D       ; 0: LoadGBPal's normal palette (only Rock Tunnel darkens it)
wNumberOfWarps   EQU $D3AE
wWarpEntries     EQU $D3AF       ; 4 bytes a warp: y, x, destination warp id, destination map
wMovementFlags   EQU $D736       ; pokered's wd736; bit 2: standing on a warp
wWalkBikeSurf    EQU $D700
wStatusFlags5    EQU $D730
wStatusFlags6    EQU $D732
wEventFlags      EQU $D747
hWY              EQU $FFB0

; ---------------------------------------------------------------- the cartridge's own variables
wFrame        EQU $C000
wJoyHeld      EQU $C001
wJoyPressed   EQU $C002
wRand         EQU $C003       ; 2 bytes, xorshift16 state
wGameMode     EQU $C005
wMoveCool     EQU $C006
wBGDirty      EQU $C007       ; bit n: third n of wTileMap must be copied to VRAM
wVBlankFlag   EQU $C008
wFacing       EQU $C009
wHealMap      EQU $C00A
wHealX        EQU $C00B
wHealY        EQU $C00C
wEnemyLevel   EQU $C00D
wEnemyHP      EQU $C00E
wEnemySpecies EQU $C00F
wBattleKind   EQU $C010
wExp          EQU $C012
wMenuCount    EQU $C014
wSpriteHidden EQU $C015
wObjPtr       EQU $C016       ; 2 bytes
wMapHeader    EQU $C018       ; 15-byte copy of the current map's header
wTileset      EQU $C018
wConnS        EQU $C019       ; then N, W, E: indexed by facing
wCellsPtr     EQU $C01D
wWarpsPtr     EQU $C01F
wObjsPtr      EQU $C021
wEncRate      EQU $C023
wWildMin      EQU $C024
wWildMask     EQU $C025
wWildSpecies  EQU $C026
wLineStart    EQU $C028       ; 2 bytes
wIgnoreInput  EQU $C03E       ; frames until wStatusFlags5 bit 5 clears (wIgnoreInputCounter)
wCellMap      EQU $C040       ; 90 bytes, 10x9 cell types
wOAM          EQU $C100       ; 16 bytes, the player's four sprites

MODE_INTRO     EQU 0
MODE_OVERWORLD EQU 1
MODE_BATTLE    EQU 2

BIT_A      EQU 0
BIT_B      EQU 1
BIT_START  EQU 3
BIT_RIGHT  EQU 4
BIT_LEFT   EQU 5
BIT_UP     EQU 6
BIT_DOWN   EQU 7
BTN_A      EQU 1
BTN_B      EQU 2
BTN_START  EQU 8

FACE_DOWN  EQU 0
FACE_UP    EQU 1
FACE_LEFT  EQU 2
FACE_RIGHT EQU 3
MOVE_COOL  EQU 12             ; frames per step: one 8-frame press moves exactly one cell

KIND_WILD    EQU 1
KIND_TRAINER EQU 2
KIND_LEADER  EQU 3
KIND_RIVAL   EQU 4             ; Oak's Lab: no blackout, the flag is set won or lost
MAX_LEVEL    EQU 100

OBJ_FLAG    EQU 2
OBJ_LEVEL   EQU 4
OBJ_MONEY   EQU 5
OBJ_BADGE   EQU 6
OBJ_TEXT    EQU 7
OBJ_SPECIES EQU 9
OBJ_SIZE    EQU 10

CH_END    EQU $50
CH_NEXT   EQU $4E
CH_SPACE  EQU $7F
CH_CURSOR EQU $ED
CH_SLASH  EQU $F3
CH_0      EQU $F6
BOX_TL    EQU $79
BOX_H     EQU $7A
BOX_TR    EQU $7B
BOX_V     EQU $7C
BOX_BL    EQU $7D
BOX_BR    EQU $7E

; Copy 20 bytes [hl+] -> [de], low byte of de only (a VRAM row never crosses a 256-byte page).
MACRO COPY20
    ld a, [hl+]
    ld [de], a
    inc e
    ld a, [hl+]
    ld [de], a
    inc e
    ld a, [hl+]
    ld [de], a
    inc e
    ld a, [hl+]
    ld [de], a
    inc e
    ld a, [hl+]
    ld [de], a
    inc e
    ld a, [hl+]
    ld [de], a
    inc e
    ld a, [hl+]
    ld [de], a
    inc e
    ld a, [hl+]
    ld [de], a
    inc e
    ld a, [hl+]
    ld [de], a
    inc e
    ld a, [hl+]
    ld [de], a
    inc e
    ld a, [hl+]
    ld [de], a
    inc e
    ld a, [hl+]
    ld [de], a
    inc e
    ld a, [hl+]
    ld [de], a
    inc e
    ld a, [hl+]
    ld [de], a
    inc e
    ld a, [hl+]
    ld [de], a
    inc e
    ld a, [hl+]
    ld [de], a
    inc e
    ld a, [hl+]
    ld [de], a
    inc e
    ld a, [hl+]
    ld [de], a
    inc e
    ld a, [hl+]
    ld [de], a
    inc e
    ld a, [hl+]
    ld [de], a
    inc e
ENDM

; ================================================================= vectors
    ORG $0040
    jp VBlank

    ORG $0100
    nop
    jp Start

    ORG $0150

; ================================================================= boot
Start:
    di
    ld sp, $E000
.waitvb:
    ldh a, [rLY]
    cp 144
    jr c, .waitvb
    xor a
    ldh [rLCDC], a
    ldh [rNR52], a
    ld hl, $C000
    ld bc, $2000
.clearwram:
    xor a
    ld [hl+], a
    dec bc
    ld a, b
    or c
    jr nz, .clearwram
    ld hl, $FF80
    ld b, $7F
    xor a
.clearhram:
    ld [hl+], a
    dec b
    jr nz, .clearhram
    ld hl, $8000
    ld bc, $2000
    call FillZero
    ld hl, $FE00
    ld bc, 160
    call FillZero
    ld hl, CommonTiles
    ld de, $8400
    ld bc, CommonTilesEnd - CommonTiles
    call CopyBytes
    ld a, $E4
    ldh [rBGP], a
    ldh [rOBP0], a
    ldh [rOBP1], a
    xor a
    ldh [rSCX], a
    ldh [rSCY], a
    ld a, 7
    ldh [rWX], a
    ld a, $90
    ldh [hWY], a
    ldh [rWY], a
    ld a, $E1
    ld [wRand], a
    ld a, $AC
    ld [wRand+1], a
    ld a, START_MAP
    ld [wCurMap], a
    ld a, $FF
    ld [wPartySpecies], a
    ld a, 1
    ld [wSpriteHidden], a
    call UpdateSprite
    call ClearTileMap
    call CopyTileMapFull
    call LcdOn
    jp Intro

; ================================================================= interrupts and frames
VBlank:
    push af
    push bc
    push de
    push hl
    ld hl, wOAM
    ld de, $FE00
    ld b, 16
.oam:
    ld a, [hl+]
    ld [de], a
    inc e
    dec b
    jr nz, .oam
    ld a, [wBGDirty]
    and a
    jr z, .done
    bit 0, a
    jr nz, .third0
    bit 1, a
    jr nz, .third1
    res 2, a
    ld [wBGDirty], a
    ld hl, wTileMap + 240
    ld de, $9800 + 12 * 32
    jr .copy
.third0:
    res 0, a
    ld [wBGDirty], a
    ld hl, wTileMap
    ld de, $9800
    jr .copy
.third1:
    res 1, a
    ld [wBGDirty], a
    ld hl, wTileMap + 120
    ld de, $9800 + 6 * 32
.copy:
    ld b, 6
.row:
    COPY20
    ld a, e
    add 12
    ld e, a
    jr nc, .samepage
    inc d
.samepage:
    dec b
    jr nz, .row
.done:
    ldh a, [hWY]
    ldh [rWY], a
    ld a, 1
    ld [wVBlankFlag], a
    pop hl
    pop de
    pop bc
    pop af
    reti

; Wait for the next VBlank, then read the joypad and advance the random state.
; Keeps bc, de, hl.
DelayFrame:
    push bc
    push de
    push hl
    xor a
    ld [wVBlankFlag], a
.wait:
    halt
    nop
    ld a, [wVBlankFlag]
    and a
    jr z, .wait
    ld hl, wFrame
    inc [hl]
    call ReadJoypad
    call NextRandom
    call CountDownIgnoreInput
    pop hl
    pop de
    pop bc
    ret

; c = number of frames.
DelayFrames:
    call DelayFrame
    dec c
    jr nz, DelayFrames
    ret

; wJoyHeld bits: A B SELECT START RIGHT LEFT UP DOWN (like hJoyHeld); wJoyPressed = new presses.
ReadJoypad:
    ld a, $20
    ldh [rP1], a
    ldh a, [rP1]
    ldh a, [rP1]
    cpl
    and $0F
    swap a
    ld b, a
    ld a, $10
    ldh [rP1], a
    ldh a, [rP1]
    ldh a, [rP1]
    ldh a, [rP1]
    ldh a, [rP1]
    cpl
    and $0F
    or b
    ld b, a
    ld a, [wJoyHeld]
    cpl
    and b
    ld [wJoyPressed], a
    ld a, b
    ld [wJoyHeld], a
    ld a, $30
    ldh [rP1], a
    ret

; xorshift16 (7, 9, 8) in the style of J. Metcalf's Z80 version.
NextRandom:
    ld a, [wRand]
    ld l, a
    ld a, [wRand+1]
    ld h, a
    ld a, h
    rra
    ld a, l
    rra
    xor h
    ld h, a
    ld a, l
    rra
    ld a, h
    rra
    xor l
    ld l, a
    xor h
    ld h, a
    ld a, l
    ld [wRand], a
    ld a, h
    ld [wRand+1], a
    ret

; a = a random byte. Keeps bc, de, hl.
Random:
    push hl
    call NextRandom
    pop hl
    ld a, [wRand+1]
    ret

; ================================================================= memory helpers
; hl = destination, bc = count (> 0)
FillZero:
    xor a
    ld [hl+], a
    dec bc
    ld a, b
    or c
    jr nz, FillZero
    ret

; hl = destination, bc = count (> 0), e = value
FillBytes:
    ld a, e
    ld [hl+], a
    dec bc
    ld a, b
    or c
    jr nz, FillBytes
    ret

; hl = source, de = destination, bc = count (> 0)
CopyBytes:
    ld a, [hl+]
    ld [de], a
    inc de
    dec bc
    ld a, b
    or c
    jr nz, CopyBytes
    ret

; ================================================================= screen
LcdOff:
    di
.wait:
    ldh a, [rLY]
    cp 144
    jr c, .wait
    xor a
    ldh [rLCDC], a
    ret

LcdOn:
    ld a, LCDC_ON
    ldh [rLCDC], a
    xor a
    ldh [rIF], a
    ld a, 1
    ldh [rIE], a
    ei
    ret

ClearTileMap:
    ld hl, wTileMap
    ld bc, 360
    ld e, CH_SPACE
    call FillBytes
    ld a, 7
    ld [wBGDirty], a
    ret

; LCD must be off: the whole shadow screen to the BG map at once.
CopyTileMapFull:
    ld hl, wTileMap
    ld de, $9800
    ld b, 18
.row:
    ld c, 20
.col:
    ld a, [hl+]
    ld [de], a
    inc de
    dec c
    jr nz, .col
    ld a, e
    add 12
    ld e, a
    jr nc, .samepage
    inc d
.samepage:
    dec b
    jr nz, .row
    xor a
    ld [wBGDirty], a
    ret

MarkTextDirty:
    ld a, [wBGDirty]
    or 4
    ld [wBGDirty], a
    ret

; The player's 16x16 figure as four 8x8 sprites in wOAM. Keeps bc, de, hl.
UpdateSprite:
    push bc
    push de
    push hl
    ld hl, wOAM
    ld a, [wSpriteHidden]
    and a
    jr nz, .hide
    ld a, [wYCoord]
    swap a
    add 16
    ld b, a
    ld a, [wXCoord]
    swap a
    add 8
    ld c, a
    ld a, [wFacing]
    add a
    add a
    add $40
    ld d, a
    ld e, 0
.entry:
    ld a, e
    and 2
    add a
    add a
    add b
    ld [hl+], a
    ld a, e
    and 1
    add a
    add a
    add a
    add c
    ld [hl+], a
    ld a, d
    add e
    ld [hl+], a
    xor a
    ld [hl+], a
    inc e
    ld a, e
    cp 4
    jr nz, .entry
    jr .done
.hide:
    ld b, 16
    xor a
.clear:
    ld [hl+], a
    dec b
    jr nz, .clear
.done:
    pop hl
    pop de
    pop bc
    ret

HideSprite:
    ld a, 1
    ld [wSpriteHidden], a
    jp UpdateSprite

ShowSprite:
    xor a
    ld [wSpriteHidden], a
    jp UpdateSprite

; ================================================================= text
; de = text ($50 ends, $4E jumps two rows down), hl = destination -> hl after the last char.
PlaceString:
    ld a, l
    ld [wLineStart], a
    ld a, h
    ld [wLineStart+1], a
.loop:
    ld a, [de]
    inc de
    cp CH_END
    ret z
    cp CH_NEXT
    jr z, .next
    ld [hl+], a
    jr .loop
.next:
    push de
    ld a, [wLineStart]
    ld l, a
    ld a, [wLineStart+1]
    ld h, a
    ld de, 40
    add hl, de
    ld a, l
    ld [wLineStart], a
    ld a, h
    ld [wLineStart+1], a
    pop de
    jr .loop

; a = value (0..255) -> three characters at hl (leading spaces), hl advanced. Keeps bc, de.
PrintNum3:
    push bc
    push de
    ld b, 0
.hundreds:
    cp 100
    jr c, .tens0
    sub 100
    inc b
    jr .hundreds
.tens0:
    ld c, 0
.tens:
    cp 10
    jr c, .ones
    sub 10
    inc c
    jr .tens
.ones:
    ld d, a
    ld a, b
    and a
    jr z, .nohundreds
    add CH_0
    ld [hl+], a
    ld a, c
    add CH_0
    ld [hl+], a
    jr .last
.nohundreds:
    ld a, CH_SPACE
    ld [hl+], a
    ld a, c
    and a
    jr z, .notens
    add CH_0
    ld [hl+], a
    jr .last
.notens:
    ld a, CH_SPACE
    ld [hl+], a
.last:
    ld a, d
    add CH_0
    ld [hl+], a
    pop de
    pop bc
    ret

; hl = top-left in wTileMap, b = rows, c = columns (both >= 3).
DrawBox:
    push hl
    ld a, BOX_TL
    ld [hl+], a
    ld a, c
    sub 2
    ld d, a
    ld a, BOX_H
.top:
    ld [hl+], a
    dec d
    jr nz, .top
    ld a, BOX_TR
    ld [hl], a
    pop hl
    ld de, 20
    add hl, de
    ld a, b
    sub 2
    ld b, a
.middle:
    push hl
    ld a, BOX_V
    ld [hl+], a
    ld a, c
    sub 2
    ld d, a
    ld a, CH_SPACE
.inside:
    ld [hl+], a
    dec d
    jr nz, .inside
    ld a, BOX_V
    ld [hl], a
    pop hl
    ld de, 20
    add hl, de
    dec b
    jr nz, .middle
    ld a, BOX_BL
    ld [hl+], a
    ld a, c
    sub 2
    ld d, a
    ld a, BOX_H
.bottom:
    ld [hl+], a
    dec d
    jr nz, .bottom
    ld a, BOX_BR
    ld [hl], a
    ret

; Opens the text box (rows 12-17) the way the real game flags it: wFontLoaded bit 0, hWY = 0.
OpenTextBox:
    ld hl, wFontLoaded
    set 0, [hl]
    xor a
    ldh [hWY], a
    call HideSprite
    ld hl, wTileMap + 12 * 20
    ld b, 6
    ld c, 20
    call DrawBox
    jp MarkTextDirty

; Waits for A or B, then closes the box and restores what was under it.
CloseTextBoxOnPress:
.wait:
    call DelayFrame
    ld a, [wJoyPressed]
    and BTN_A | BTN_B
    jr z, .wait
    ld a, [wGameMode]
    cp MODE_OVERWORLD
    jr nz, .blank
    ld d, 6
    ld b, 3
    call DrawCellRows
    call ShowSprite
    jr .done
.blank:
    ld hl, wTileMap + 12 * 20
    ld bc, 120
    ld e, CH_SPACE
    call FillBytes
.done:
    call MarkTextDirty
    ld hl, wFontLoaded
    res 0, [hl]
    ld a, $90
    ldh [hWY], a
    ret

; hl = text. Shows it in the text box until A or B is pressed.
ShowText:
    push hl
    call OpenTextBox
    pop de
    ld hl, wTileMap + 14 * 20 + 1
    call PlaceString
    jp CloseTextBoxOnPress

; START in the overworld: badges, level, HP, money hundreds.
ShowStats:
    call OpenTextBox
    ld hl, wTileMap + 14 * 20 + 1
    ld de, StrBadges
    call PlaceString
    ld a, [wObtainedBadges]
    ld b, 0
.count:
    and a
    jr z, .counted
    srl a
    jr nc, .count
    inc b
    jr .count
.counted:
    ld a, b
    call PrintNum3
    ld hl, wTileMap + 14 * 20 + 11
    ld de, StrLv
    call PlaceString
    ld a, [wPartyMon1Level]
    call PrintNum3
    ld hl, wTileMap + 16 * 20 + 1
    ld de, StrHp
    call PlaceString
    ld a, [wPartyMon1HP+1]
    call PrintNum3
    ld a, CH_SLASH
    ld [hl+], a
    ld a, [wPartyMon1MaxHP+1]
    call PrintNum3
    call MarkTextDirty
    jp CloseTextBoxOnPress

; hl = item strings, b = count (1..4) -> a = chosen index (also in wCurrentMenuItem).
; Drawn like the real game's name menus: a box at the top left, items on rows 2, 4, 6, 8.
Menu:
    ld a, b
    ld [wMenuCount], a
    xor a
    ld [wCurrentMenuItem], a
    push hl
    ld hl, wFontLoaded
    set 0, [hl]
    ld hl, wTileMap
    ld b, 10
    ld c, 11
    call DrawBox
    pop de
    ld hl, wTileMap + 2 * 20 + 2
    ld a, [wMenuCount]
    ld b, a
.items:
    push hl
    call PlaceString
    pop hl
    push de
    ld de, 40
    add hl, de
    pop de
    dec b
    jr nz, .items
.loop:
    call DrawMenuCursor
    call DelayFrame
    ld a, [wJoyPressed]
    bit BIT_A, a
    jr nz, .chosen
    bit BIT_DOWN, a
    jr nz, .down
    bit BIT_UP, a
    jr z, .loop
    ld a, [wCurrentMenuItem]
    and a
    jr z, .loop
    dec a
    ld [wCurrentMenuItem], a
    jr .loop
.down:
    ld a, [wMenuCount]
    dec a
    ld b, a
    ld a, [wCurrentMenuItem]
    cp b
    jr nc, .loop
    inc a
    ld [wCurrentMenuItem], a
    jr .loop
.chosen:
    ld hl, wTileMap
    ld bc, 200
    ld e, CH_SPACE
    call FillBytes
    ld a, [wBGDirty]
    or 3
    ld [wBGDirty], a
    ld hl, wFontLoaded
    res 0, [hl]
    ld a, [wCurrentMenuItem]
    ret

DrawMenuCursor:
    ld hl, wTileMap + 2 * 20 + 1
    ld a, [wCurrentMenuItem]
    ld b, a
    ld c, 0
    ld de, 40
.row:
    ld a, c
    cp b
    ld a, CH_SPACE
    jr nz, .put
    ld a, CH_CURSOR
.put:
    ld [hl], a
    add hl, de
    inc c
    ld a, c
    cp 4
    jr nz, .row
    ld a, [wBGDirty]
    or 3
    ld [wBGDirty], a
    ret

; a = menu index (0 = NEW NAME takes the first preset), hl = 8-byte name table, de = destination.
StoreName:
    and a
    jr nz, .preset
    inc a
.preset:
    add a
    add a
    add a
    ld c, a
    ld b, 0
    add hl, bc
    ld bc, 8
    jp CopyBytes

; ================================================================= intro
Intro:
    xor a
    ld [wGameMode], a
    call ClearTileMap
    ld hl, wTileMap + 5 * 20 + 4
    ld de, StrTitle
    call PlaceString
    ld hl, wTileMap + 11 * 20 + 4
    ld de, StrPressStart
    call PlaceString
.title:
    call DelayFrame
    ld a, [wJoyPressed]
    and BTN_START | BTN_A
    jr z, .title
    call ClearTileMap
    ld hl, MainMenuItems
    ld b, 1
    call Menu
    ld hl, TextOak1
    call ShowText
    ld hl, TextOak2
    call ShowText
    ld hl, TextOakName
    call ShowText
    ld hl, PlayerNameItems
    ld b, 4
    call Menu
    ld hl, PlayerNames
    ld de, wPlayerName
    call StoreName
    ld hl, TextOakRival
    call ShowText
    ld hl, RivalNameItems
    ld b, 4
    call Menu
    ld hl, RivalNames
    ld de, wRivalName
    call StoreName
    ld hl, TextOakGo
    call ShowText
StartGame:
    ld hl, wStatusFlags6
    set 0, [hl]
    xor a
    ld [wJoyIgnore], a
    ld [wStatusFlags5], a
    ld [wWalkBikeSurf], a
    ld [wPlayerMoney], a
    ld [wPlayerMoney+2], a
    ld a, $30
    ld [wPlayerMoney+1], a
    ld a, $FF
    ld [wBagItems], a
    ld a, HEAL_START_MAP
    ld [wHealMap], a
    ld a, HEAL_START_X
    ld [wHealX], a
    ld a, HEAL_START_Y
    ld [wHealY], a
    ld a, START_MAP
    ld [wCurMap], a
    ld a, START_X
    ld [wXCoord], a
    ld a, START_Y
    ld [wYCoord], a
    ld a, FACE_DOWN
    ld [wFacing], a
    call LoadMap
    jp Overworld

; ================================================================= maps
; wCurMap, wXCoord, wYCoord set -> header, cells, tiles, screen and sprite loaded.
LoadMap:
    ld a, MODE_OVERWORLD
    ld [wGameMode], a
    ld a, [wCurMap]
    ld l, a
    ld h, 0
    add hl, hl
    ld de, MapTable
    add hl, de
    ld a, [hl+]
    ld h, [hl]
    ld l, a
    ld de, wMapHeader
    ld bc, 15
    call CopyBytes
    ld a, [wCellsPtr]
    ld l, a
    ld a, [wCellsPtr+1]
    ld h, a
    ld de, wCellMap
    ld bc, 90
    call CopyBytes
    call ApplyObjectFlags
    call LoadWarpEntries
    ld d, 0
    ld b, 9
    call DrawCellRows
    call LcdOff
    ld a, [wTileset]
    ld l, a
    ld h, 0
    add hl, hl
    ld de, TilesetTable
    add hl, de
    ld a, [hl+]
    ld h, [hl]
    ld l, a
    ld de, $8000
    ld bc, 1024
    call CopyBytes
    call CopyTileMapFull
    xor a
    ld [wSpriteHidden], a
    call UpdateSprite
    ld hl, wOAM
    ld de, $FE00
    ld bc, 16
    call CopyBytes
    jp LcdOn

; The current map's warps where the real game keeps them (LoadMapHeader copies each map's warp
; table to wNumberOfWarps/wWarpEntries), so the settled-warp rule of daddy/game/ram.py reads
; one layout on both ROMs. The cartridge lands on a cell, not a warp id: the id is 0.
LoadWarpEntries:
    ld a, [wWarpsPtr]
    ld l, a
    ld a, [wWarpsPtr+1]
    ld h, a
    ld de, wWarpEntries
    ld c, 0
.loop:
    ld a, [hl+]
    cp $FF
    jr z, .done
    ld b, a
    ld a, [hl+]
    ld [de], a
    inc de
    ld a, b
    ld [de], a
    inc de
    xor a
    ld [de], a
    inc de
    ld a, [hl+]
    ld [de], a
    inc de
    inc hl
    inc hl
    inc c
    jr .loop
.done:
    ld a, c
    ld [wNumberOfWarps], a
    ret

; The real game's fades (home/fade.asm GBFadeOutToBlack, GBFadeInFromBlack): rBGP (and the
; sprite palette) step through four palettes, 8 frames each.
FadeOutToBlack:
    ld hl, FadeOutPals
    jr FadeSteps
FadeInFromBlack:
    ld hl, FadeInPals
FadeSteps:
    ld b, 4
.step:
    ld a, [hl+]
    ldh [rBGP], a
    ldh [rOBP0], a
    ld c, 8
    call DelayFrames
    dec b
    jr nz, .step
    ret

FadeOutPals:
    db $E4, $F9, $FE, $FF
FadeInPals:
    db $FF, $FE, $F9, $E4

; The real game's CountDownIgnoreInputBitReset (engine/play_time.asm, every V-blank): when the
; counter runs out, the joypad is read again.
CountDownIgnoreInput:
    ld hl, wIgnoreInput
    ld a, [hl]
    and a
    ret z
    dec [hl]
    ret nz
    ld hl, wStatusFlags5
    res 5, [hl]
    ret

; Items already taken and gates already opened become floor.
ApplyObjectFlags:
    ld a, [wObjsPtr]
    ld l, a
    ld a, [wObjsPtr+1]
    ld h, a
.loop:
    ld a, [hl]
    cp $FF
    ret z
    push hl
    ld e, a
    inc hl
    ld d, [hl]
    inc hl
    ld a, [hl+]
    ld c, a
    ld b, [hl]
    call CheckFlag
    jr z, .next
    call CellAddr
    ld a, [hl]
    cp CELL_ITEM
    jr z, .open
    cp CELL_GATE
    jr nz, .next
.open:
    ld [hl], CELL_FLOOR
.next:
    pop hl
    ld bc, OBJ_SIZE
    add hl, bc
    jr .loop

; e = x, d = y -> hl = address of the cell type in wCellMap.
CellAddr:
    ld a, d
    add a
    ld l, a
    add a
    add a
    add l
    add e
    add wCellMap & $FF
    ld l, a
    ld h, wCellMap >> 8
    ret

; e = x, d = y: the cell's four tiles into wTileMap. Keeps bc, de, hl.
DrawCell:
    push bc
    push de
    push hl
    ld c, e
    call CellAddr
    ld a, [hl]
    add a
    add a
    ld b, a
    ld l, d
    ld h, 0
    add hl, hl
    add hl, hl
    add hl, hl
    push hl
    add hl, hl
    add hl, hl
    pop de
    add hl, de
    ld a, c
    add a
    ld e, a
    ld d, 0
    add hl, de
    ld de, wTileMap
    add hl, de
    ld a, b
    ld [hl+], a
    inc a
    ld [hl], a
    ld de, 19
    add hl, de
    inc a
    ld [hl+], a
    inc a
    ld [hl], a
    pop hl
    pop de
    pop bc
    ret

; d = first cell row, b = number of rows.
DrawCellRows:
.row:
    ld e, 0
.col:
    call DrawCell
    inc e
    ld a, e
    cp 10
    jr nz, .col
    inc d
    dec b
    jr nz, .row
    ld a, 7
    ld [wBGDirty], a
    ret

; bc = event flag index -> hl = byte in wEventFlags, b = bit mask. Uses a, c.
FlagAddr:
    ld a, c
    and 7
    push af
    srl b
    rr c
    srl b
    rr c
    srl b
    rr c
    ld hl, wEventFlags
    add hl, bc
    pop af
    ld b, 1
    and a
    ret z
.shift:
    sla b
    dec a
    jr nz, .shift
    ret

; bc = flag index -> nz if set. Keeps bc, de, hl.
CheckFlag:
    push bc
    push hl
    call FlagAddr
    ld a, [hl]
    and b
    pop hl
    pop bc
    ret

; bc = flag index. Keeps bc, de, hl.
SetFlag:
    push bc
    push hl
    call FlagAddr
    ld a, [hl]
    or b
    ld [hl], a
    pop hl
    pop bc
    ret

; a = species (1-based), hl = Pokédex bit array.
SetDexBit:
    dec a
    ld c, a
    srl a
    srl a
    srl a
    ld e, a
    ld d, 0
    add hl, de
    ld a, c
    and 7
    ld b, 1
    jr z, .set
.shift:
    sla b
    dec a
    jr nz, .shift
.set:
    ld a, [hl]
    or b
    ld [hl], a
    ret

; e = x, d = y -> hl = object record, carry clear; carry set when there is none.
FindObject:
    ld a, [wObjsPtr]
    ld l, a
    ld a, [wObjsPtr+1]
    ld h, a
    ld bc, OBJ_SIZE
    jr FindRecord

; e = x, d = y -> hl = warp record (x, y, map, x, y), carry clear; carry set when there is none.
FindWarp:
    ld a, [wWarpsPtr]
    ld l, a
    ld a, [wWarpsPtr+1]
    ld h, a
    ld bc, 5
FindRecord:
.loop:
    ld a, [hl]
    cp $FF
    jr z, .none
    cp e
    jr nz, .next
    inc hl
    ld a, [hl]
    dec hl
    cp d
    jr z, .found
.next:
    add hl, bc
    jr .loop
.found:
    and a
    ret
.none:
    scf
    ret

; a = field offset -> a = byte of the current object (wObjPtr), hl = its address.
ObjField:
    ld c, a
    ld b, 0
    ld a, [wObjPtr]
    ld l, a
    ld a, [wObjPtr+1]
    ld h, a
    add hl, bc
    ld a, [hl]
    ret

ObjFlag:
    ld a, OBJ_FLAG
    call ObjField
    ld c, a
    inc hl
    ld b, [hl]
    ret

ObjText:
    ld a, OBJ_TEXT
    call ObjField
    inc hl
    ld h, [hl]
    ld l, a
    ret

; ================================================================= overworld
Overworld:
    ld a, MODE_OVERWORLD
    ld [wGameMode], a
.loop:
    call DelayFrame
    ld a, [wMoveCool]
    and a
    jr z, .ready
    dec a
    ld [wMoveCool], a
    jr .loop
.ready:
    call MapScript
    jr c, .loop
    ld a, [wJoyPressed]
    bit BIT_START, a
    jr nz, .start
    bit BIT_A, a
    jr nz, .interact
    ld a, [wJoyHeld]
    bit BIT_DOWN, a
    jr nz, .down
    bit BIT_UP, a
    jr nz, .up
    bit BIT_LEFT, a
    jr nz, .left
    bit BIT_RIGHT, a
    jr z, .loop
    ld a, FACE_RIGHT
    jr .move
.down:
    ld a, FACE_DOWN
    jr .move
.up:
    ld a, FACE_UP
    jr .move
.left:
    ld a, FACE_LEFT
.move:
    call TryMove
    jr .loop
.start:
    call ShowStats
    jr .loop
.interact:
    call Interact
    jr .loop

; -> e = x, d = y of the cell the player faces (may be off the map).
FacingTarget:
    ld a, [wFacing]
    add a
    ld c, a
    ld b, 0
    ld hl, DeltaTable
    add hl, bc
    ld a, [wXCoord]
    add [hl]
    ld e, a
    inc hl
    ld a, [wYCoord]
    add [hl]
    ld d, a
    ret

DeltaTable:
    db 0, 1, 0, -1, -1, 0, 1, 0

; a = facing. Turn, then step if the cell is walkable; doors/stairs warp, map edges connect,
; grass may start a wild battle.
TryMove:
    ld [wFacing], a
    call UpdateSprite
    call FacingTarget
    ld a, e
    cp 10
    jr nc, .edge
    ld a, d
    cp 9
    jr nc, .edge
    call CellAddr
    ld a, [hl]
    cp CELL_FLOOR
    jr z, .walk
    cp CELL_GRASS
    jr z, .walk
    cp CELL_DOOR
    jr z, .walk
    cp CELL_STAIRS
    jr z, .walk
    ret
.walk:
    ld b, a
    ld hl, wMovementFlags
    res 2, [hl]
    ld a, e
    ld [wXCoord], a
    ld a, d
    ld [wYCoord], a
    ld a, MOVE_COOL
    ld [wMoveCool], a
    call UpdateSprite
    ld a, b
    cp CELL_DOOR
    jr z, .warp
    cp CELL_STAIRS
    jr z, .warp
    cp CELL_GRASS
    jp z, TryEncounter
    ret
.warp:
    ld hl, wMovementFlags
    set 2, [hl]
    call FindWarp
    ret c
    inc hl
    inc hl
    ; The real game's order (home/overworld.asm WarpFound2, then EnterMap): the new map id
    ; first, a fade with the old position, then the new position, the load and the fade in.
    ld a, [hl+]
    ld [wCurMap], a
    push hl
    call FadeOutToBlack
    pop hl
    ld a, [hl+]
    ld [wXCoord], a
    ld a, [hl]
    ld [wYCoord], a
    ld hl, wStatusFlags5            ; IgnoreInputForHalfSecond: the joypad is ignored until
    set 5, [hl]                     ; 30 frames after the fade in (map scripts run first)
    call LoadMap
    call FadeInFromBlack
    ld a, 30
    ld [wIgnoreInput], a
    ret
.edge:
    ld a, [wFacing]
    ld c, a
    ld b, 0
    ld hl, wConnS
    add hl, bc
    ld a, [hl]
    cp $FF
    ret z
    ld [wCurMap], a
    ld a, e
    cp 10
    jr c, .xok
    ld a, 0
    jr z, .xset
    ld a, 9
.xset:
    ld e, a
.xok:
    ld a, d
    cp 9
    jr c, .yok
    ld a, 0
    jr z, .yset
    ld a, 8
.yset:
    ld d, a
.yok:
    ld a, e
    ld [wXCoord], a
    ld a, d
    ld [wYCoord], a
    ld a, MOVE_COOL
    ld [wMoveCool], a
    jp LoadMap

TryEncounter:
    ld a, [wPartyCount]
    and a
    ret z
    ld a, [wEncRate]
    and a
    ret z
    ld b, a
    call Random
    cp b
    ret nc
    call Random
    ld hl, wWildMask
    and [hl]
    ld hl, wWildMin
    add [hl]
    ld [wEnemyLevel], a
    call Random
    and 1
    ld hl, wWildSpecies
    add [hl]
    ld [wEnemySpecies], a
    ld a, KIND_WILD
    ld [wBattleKind], a
    jp Battle

; A in the overworld: talk to / use the cell the player faces.
Interact:
    call FacingTarget
    ld a, e
    cp 10
    ret nc
    ld a, d
    cp 9
    ret nc
    call CellAddr
    ld a, [hl]
    cp CELL_HEAL
    jp z, DoHeal
    cp CELL_STARTER
    jp z, DoStarter
    ld b, a
    push bc
    call FindObject
    pop bc
    ret c
    ld a, l
    ld [wObjPtr], a
    ld a, h
    ld [wObjPtr+1], a
    ld a, b
    cp CELL_ITEM
    jr z, DoItem
    cp CELL_TRAINER
    jr z, DoTrainer
    cp CELL_LEADER
    jr z, DoTrainer
    cp CELL_SIGN
    jr z, DoSign
    cp CELL_GATE
    jr z, DoSign
    ret

DoSign:
    ld a, [wCurMap]
    cp MAP_OAKS_LAB
    jr z, DoOak
    call ObjText
    jp ShowText

; OAK (the lab's sign cell) ends the parcel errand: as in pokered's OaksLab.asm he takes OAK's
; PARCEL from the bag and gives the POKeDEX (EVENT_OAK_GOT_PARCEL, EVENT_GOT_POKEDEX).
DoOak:
    ld bc, FLAG_GOT_POKEDEX
    call CheckFlag
    ld hl, TextOakAfterDex
    jp nz, ShowText
    ld a, ITEM_OAKS_PARCEL
    call FindBagItem
    jr c, .noparcel
    call RemoveBagItem
    ld bc, FLAG_OAK_GOT_PARCEL
    call SetFlag
    ld bc, FLAG_GOT_POKEDEX
    call SetFlag
    ld hl, TextOakGotParcel
    jp ShowText
.noparcel:
    ld bc, FLAG_GOT_STARTER
    call CheckFlag
    ld hl, TextOakErrand
    jp nz, ShowText
    call ObjText
    jp ShowText

DoItem:
    call ObjFlag
    call SetFlag
    ld a, OBJ_SPECIES               ; an item's id sits in the species slot
    call ObjField
    call AddBagItem
    call FacingTarget
    call CellAddr
    ld [hl], CELL_FLOOR
    call DrawCell
    ld a, 7
    ld [wBGDirty], a
    call ObjText
    jp ShowText

DoTrainer:
    call ObjFlag
    call CheckFlag
    jr nz, .beaten
    ld a, [wPartyCount]
    and a
    jr z, .nomon
    call ObjText
    call ShowText
    ld a, OBJ_LEVEL
    call ObjField
    ld [wEnemyLevel], a
    ld a, OBJ_SPECIES
    call ObjField
    ld [wEnemySpecies], a
    ld a, OBJ_BADGE
    call ObjField
    and a
    ld a, KIND_TRAINER
    jr z, .kind
    ld a, KIND_LEADER
.kind:
    ld [wBattleKind], a
    jp Battle
.beaten:
    ld hl, TextBeaten
    jp ShowText
.nomon:
    ld hl, TextNoMon
    jp ShowText

DoHeal:
    ld a, [wPartyCount]
    and a
    jr z, .talk
    call HealParty
    ld a, [wCurMap]
    ld [wHealMap], a
    ld a, [wXCoord]
    ld [wHealX], a
    ld a, [wYCoord]
    ld [wHealY], a
.talk:
    ld hl, TextHealed
    jp ShowText

HealParty:
    ld a, [wPartyMon1MaxHP]
    ld [wPartyMon1HP], a
    ld a, [wPartyMon1MaxHP+1]
    ld [wPartyMon1HP+1], a
    ret

DoStarter:
    ld bc, FLAG_GOT_STARTER
    call CheckFlag
    jr nz, .empty
    call SetFlag
    ld a, 1
    ld [wPartyCount], a
    ld a, STARTER_SPECIES
    ld [wPartySpecies], a
    ld a, $FF
    ld [wPartySpecies+1], a
    ld a, 5
    ld [wPartyMon1Level], a
    xor a
    ld [wPartyMon1HP], a
    ld [wPartyMon1MaxHP], a
    ld [wExp], a
    ld a, 20
    ld [wPartyMon1HP+1], a
    ld [wPartyMon1MaxHP+1], a
    ld a, STARTER_SPECIES
    ld hl, wPokedexOwned
    call SetDexBit
    ld a, STARTER_SPECIES
    ld hl, wPokedexSeen
    call SetDexBit
    ld hl, TextGotStarter
    jp ShowText
.empty:
    ld hl, TextEmptyBall
    jp ShowText

; ================================================================= story
; The current map's story script, run each overworld frame before input (pokered runs its map
; scripts from the overworld loop). Carry set: a script ran, the frame's input is spent.
MapScript:
    ld a, [wCurMap]
    cp MAP_OAKS_LAB
    jr z, OaksLabScript
    cp MAP_VIRIDIAN_MART
    jr z, ViridianMartScript
    and a
    ret

; pokered OaksLab.asm (OaksLabScript10-12): with the starter and before the rival battle, the
; rival stops the player at row RIVAL_TRIGGER_Y; EVENT_BATTLED_RIVAL_IN_OAKS_LAB is set won or
; lost, and the party is healed.
OaksLabScript:
    ld a, [wYCoord]
    cp RIVAL_TRIGGER_Y
    jr nz, .none
    ld bc, FLAG_GOT_STARTER
    call CheckFlag
    jr z, .none
    ld bc, FLAG_BATTLED_RIVAL
    call CheckFlag
    jr nz, .none
    ld hl, RivalRecord
    ld a, l
    ld [wObjPtr], a
    ld a, h
    ld [wObjPtr+1], a
    call ObjText
    call ShowText
    ld a, RIVAL_LEVEL
    ld [wEnemyLevel], a
    ld a, RIVAL_SPECIES
    ld [wEnemySpecies], a
    ld a, KIND_RIVAL
    ld [wBattleKind], a
    call Battle
    scf
    ret
.none:
    and a
    ret

; pokered ViridianMart.asm (ViridianMartScript0/1): on entering, the clerk gives OAK's PARCEL
; (GiveItem OAKS_PARCEL, EVENT_GOT_OAKS_PARCEL), once.
ViridianMartScript:
    ld bc, FLAG_GOT_OAKS_PARCEL
    call CheckFlag
    jr nz, OaksLabScript.none
    call SetFlag
    ld a, ITEM_OAKS_PARCEL
    call AddBagItem
    ld hl, TextClerkParcel
    call ShowText
    scf
    ret

; The rival as an object record (x, y, flag, level, money, badge, text, species) for Battle.
RivalRecord:
    db 0, 0, FLAG_BATTLED_RIVAL & $FF, FLAG_BATTLED_RIVAL >> 8, RIVAL_LEVEL, $01, 0
    db TextRival & $FF, TextRival >> 8, RIVAL_SPECIES

; ================================================================= bag
; a = item id -> hl = its pair in wBagItems, carry clear; carry set (hl = the end) when absent.
FindBagItem:
    ld b, a
    ld hl, wBagItems
    ld a, [wNumBagItems]
    ld c, a
.loop:
    ld a, c
    and a
    jr z, .none
    ld a, [hl]
    cp b
    ret z
    inc hl
    inc hl
    dec c
    jr .loop
.none:
    scf
    ret

; a = item id: one more in the bag (a new pair at the end, $FF after it; up to 99 of one kind);
; a bag with BAG_CAPACITY kinds keeps what it has.
AddBagItem:
    push af
    call FindBagItem
    jr c, .new
    pop af
    inc hl
    ld a, [hl]
    cp 99
    ret nc
    inc [hl]
    ret
.new:
    ld a, [wNumBagItems]
    cp BAG_CAPACITY
    jr nc, .full
    pop af
    ld [hl+], a
    ld a, 1
    ld [hl+], a
    ld [hl], $FF
    ld hl, wNumBagItems
    inc [hl]
    ret
.full:
    pop af
    ret

; hl = a pair FindBagItem found: remove it, moving the later pairs and the $FF down.
RemoveBagItem:
    ld d, h
    ld e, l
    inc hl
    inc hl
.loop:
    ld a, [hl+]
    ld [de], a
    inc de
    cp $FF
    jr nz, .loop
    ld hl, wNumBagItems
    dec [hl]
    ret

; a = money in BCD hundreds, added to the 3-byte BCD wPlayerMoney.
AddMoney:
    ld b, a
    ld a, [wPlayerMoney+1]
    add b
    daa
    ld [wPlayerMoney+1], a
    ld a, [wPlayerMoney]
    adc 0
    daa
    ld [wPlayerMoney], a
    ret

; ================================================================= battle
; wBattleKind, wEnemyLevel, wEnemySpecies (and wObjPtr for trainers) set.
; A attacks, B runs (wild only). Winning gives experience; trainers set their flag and pay;
; leaders also give their badge. Losing returns the player to the last healing spot.
Battle:
    ld a, MODE_BATTLE
    ld [wGameMode], a
    ld a, [wBattleKind]
    cp KIND_WILD
    ld a, 1
    jr z, .setkind
    ld a, 2
.setkind:
    ld [wIsInBattle], a
    ld a, [wEnemySpecies]
    ld hl, wPokedexSeen
    call SetDexBit
    ld a, [wEnemyLevel]
    add a
    add 8
    ld [wEnemyHP], a
    call HideSprite
    call DrawBattleScreen
    ld hl, TextBattleStart
    call BattleMsg
    ld c, 30
    call DelayFrames
.turn:
    call DrawBattleStats
    ld hl, TextBattleMenu
    call BattleMsg
    call WaitAB
    and a
    jr z, .fight
    ld a, [wBattleKind]
    cp KIND_WILD
    jr nz, .norun
    call Random
    and 1
    jr z, .failrun
    ld hl, TextRanAway
    call BattleMsg
    ld c, 30
    call DelayFrames
    jp EndBattle
.failrun:
    ld hl, TextCantEscape
    jr .enemyturn
.norun:
    ld hl, TextNoRunning
    call BattleMsg
    ld c, 30
    call DelayFrames
    jr .turn
.fight:
    ld a, [wPartyMon1Level]
    srl a
    add 2
    ld b, a
    call Random
    and 3
    add b
    ld b, a
    ld a, [wEnemyHP]
    sub b
    jr nc, .enemyalive
    xor a
.enemyalive:
    ld [wEnemyHP], a
    ld hl, TextPlayerAttacks
    call BattleMsg
    call DrawBattleStats
    ld c, 20
    call DelayFrames
    ld a, [wEnemyHP]
    and a
    jr z, .win
    ld hl, TextEnemyAttacks
.enemyturn:
    call BattleMsg
    ld a, [wEnemyLevel]
    srl a
    srl a
    srl a
    inc a
    ld b, a
    call Random
    and 1
    add b
    ld b, a
    ld a, [wPartyMon1HP+1]
    sub b
    jr nc, .playeralive
    xor a
.playeralive:
    ld [wPartyMon1HP+1], a
    call DrawBattleStats
    ld c, 20
    call DelayFrames
    ld a, [wPartyMon1HP+1]
    and a
    jp z, .lose
    jp .turn
.win:
    ld hl, TextEnemyFainted
    call BattleMsg
    ld c, 30
    call DelayFrames
    ld a, [wEnemyLevel]
    ld b, a
    ld a, [wExp]
    add b
    jr nc, .expok
    ld a, $FF
.expok:
    ld [wExp], a
.levelup:
    ld a, [wPartyMon1Level]
    cp MAX_LEVEL
    jr nc, .rewards
    ld b, a
    ld a, [wExp]
    cp b
    jr c, .rewards
    sub b
    ld [wExp], a
    ld hl, wPartyMon1Level
    inc [hl]
    ld hl, wPartyMon1MaxHP+1
    inc [hl]
    inc [hl]
    ld hl, wPartyMon1HP+1
    inc [hl]
    inc [hl]
    ld hl, TextLevelUp
    call BattleMsg
    call DrawBattleStats
    ld c, 30
    call DelayFrames
    jr .levelup
.rewards:
    ld a, [wBattleKind]
    cp KIND_WILD
    jr z, EndBattle
    call ObjFlag
    call SetFlag
    ld a, OBJ_MONEY
    call ObjField
    call AddMoney
    ld a, [wBattleKind]
    cp KIND_RIVAL
    jr z, .rivalend
    cp KIND_LEADER
    jr nz, EndBattle
    ld a, OBJ_BADGE
    call ObjField
    ld hl, wObtainedBadges
    or [hl]
    ld [hl], a
    ld hl, TextGotBadge
    call ShowText
    jr EndBattle
.rivalwins:
    ld hl, TextRivalWins
    call BattleMsg
    ld c, 60
    call DelayFrames
    call ObjFlag
    call SetFlag
.rivalend:
    call HealParty
    jr EndBattle
.lose:
    ld a, [wBattleKind]
    cp KIND_RIVAL
    jr z, .rivalwins
    ld hl, TextBlackedOut
    call BattleMsg
    ld c, 60
    call DelayFrames
    call HealParty
    ld a, [wHealMap]
    ld [wCurMap], a
    ld a, [wHealX]
    ld [wXCoord], a
    ld a, [wHealY]
    ld [wYCoord], a
    ld a, FACE_DOWN
    ld [wFacing], a
EndBattle:
    xor a
    ld [wIsInBattle], a
    jp LoadMap

; -> a = 0 after A, 1 after B.
WaitAB:
    call DelayFrame
    ld a, [wJoyPressed]
    bit BIT_A, a
    jr nz, .a
    bit BIT_B, a
    jr z, WaitAB
    ld a, 1
    ret
.a:
    xor a
    ret

DrawBattleScreen:
    call ClearTileMap
    ld hl, wTileMap + 1 * 20 + 14
    ld a, $50
    call DrawPicture
    ld hl, wTileMap + 6 * 20 + 2
    ld a, $60
    call DrawPicture
    ld hl, wTileMap + 12 * 20
    ld b, 6
    ld c, 20
    jp DrawBox

; hl = top-left, a = first of 16 tiles laid out 4x4.
DrawPicture:
    ld c, 4
.row:
    ld b, 4
.col:
    ld [hl+], a
    inc a
    dec b
    jr nz, .col
    ld de, 16
    add hl, de
    dec c
    jr nz, .row
    ret

DrawBattleStats:
    ld hl, wTileMap + 1 * 20 + 1
    ld de, StrLv
    call PlaceString
    ld a, [wEnemyLevel]
    call PrintNum3
    ld hl, wTileMap + 2 * 20 + 1
    ld de, StrHp
    call PlaceString
    ld a, [wEnemyHP]
    call PrintNum3
    ld hl, wTileMap + 8 * 20 + 9
    ld de, StrLv
    call PlaceString
    ld a, [wPartyMon1Level]
    call PrintNum3
    ld hl, wTileMap + 9 * 20 + 9
    ld de, StrHp
    call PlaceString
    ld a, [wPartyMon1HP+1]
    call PrintNum3
    ld a, CH_SLASH
    ld [hl+], a
    ld a, [wPartyMon1MaxHP+1]
    call PrintNum3
    ld a, [wBGDirty]
    or 3
    ld [wBGDirty], a
    ret

; hl = text shown in the battle box without waiting for a button.
BattleMsg:
    push hl
    ld hl, wTileMap + 13 * 20 + 1
    ld b, 4
.row:
    ld c, 18
    ld a, CH_SPACE
.col:
    ld [hl+], a
    dec c
    jr nz, .col
    ld de, 2
    add hl, de
    dec b
    jr nz, .row
    pop de
    ld hl, wTileMap + 14 * 20 + 1
    call PlaceString
    jp MarkTextDirty

; ================================================================= fixed texts
StrTitle:        db "PRACTICE RED@"
StrPressStart:   db "PRESS START@"
StrBadges:       db "BADGES@"
StrLv:           db "LV@"
StrHp:           db "HP@"
MainMenuItems:   db "NEW GAME@"
PlayerNameItems: db "NEW NAME@", "RED@", "ASH@", "JACK@"
RivalNameItems:  db "NEW NAME@", "BLUE@", "GARY@", "JOHN@"
PlayerNames:     db "RED@@@@@", "RED@@@@@", "ASH@@@@@", "JACK@@@@"
RivalNames:      db "BLUE@@@@", "BLUE@@@@", "GARY@@@@", "JOHN@@@@"
TextOak1:        db "Hello there! Welcome|to PRACTICE RED!@"
TextOak2:        db "This world is a|tiny KANTO.@"
TextOakName:     db "First, what is|your name?@"
TextOakRival:    db "This is my grand-|son. His name is?@"
TextOakGo:       db "Your adventure|starts now!@"
TextHealed:      db "Your POKeMON are|fully healed!@"
TextGotStarter:  db "You received a|POKeMON!@"
TextEmptyBall:   db "The ball is|empty.@"
TextBeaten:      db "You already|beat me!@"
TextNoMon:       db "You have no|POKeMON!@"
TextBattleStart: db "A foe appears!@"
TextBattleMenu:  db "A: FIGHT  B: RUN@"
TextRanAway:     db "Got away safely!@"
TextCantEscape:  db "Can't escape!@"
TextNoRunning:   db "No running from|a trainer battle!@"
TextPlayerAttacks: db "You attack!@"
TextEnemyAttacks:  db "The foe attacks!@"
TextEnemyFainted:  db "The foe fainted!@"
TextLevelUp:     db "Your POKeMON grew|a level!@"
TextBlackedOut:  db "You blacked out!@"
TextGotBadge:    db "You received|a BADGE!@"
TextRival:       db "RIVAL: Wait! Let's|check our POKeMON!@"
TextRivalWins:   db "RIVAL: Am I great|or what?@"
TextClerkParcel: db "CLERK: Take this|PARCEL to OAK!@"
TextOakErrand:   db "OAK: Make your|POKeMON fight!@"
TextOakGotParcel: db "OAK: My PARCEL!|Take this POKeDEX!@"
TextOakAfterDex: db "OAK: Fill the|POKeDEX for me!@"
