"""The practice-cartridge assembler: opcodes against PyBoy's table, syntax, errors, header."""

from __future__ import annotations

import ast
import pathlib

import pytest

from daddy.cart.asm import AsmError, assemble, finalize_header

ILLEGAL = {0xD3, 0xDB, 0xDD, 0xE3, 0xE4, 0xEB, 0xEC, 0xED, 0xF4, 0xFC, 0xFD}


def _pyboy_opcode_table() -> tuple[list[str], list[int]]:
    """CPU_COMMANDS and OPCODE_LENGTHS, read from PyBoy's generated source.

    The compiled module does not export them, so read the literals out of opcodes.py.
    """
    import pyboy.core

    path = pathlib.Path(pyboy.core.__file__).parent / "opcodes.py"
    values = {}
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
            values[node.targets[0].id] = node.value
    names = ast.literal_eval(values["CPU_COMMANDS"])
    lengths = ast.literal_eval(values["OPCODE_LENGTHS"].args[1])  # array.array("B", [...])
    return names, lengths


NAMES, LENGTHS = _pyboy_opcode_table()


def _translate(name: str) -> tuple[str, bytes]:
    """PyBoy's opcode name -> (this assembler's syntax, the operand bytes it must produce)."""
    mnemonic, _, operands = name.partition(" ")
    if mnemonic == "STOP":
        return "stop", b"\x00"
    out, data = [], b""
    for op in operands.split(",") if operands else []:
        op = op.replace("(", "[").replace(")", "]")
        if "d16" in op or "a16" in op:
            op, data = op.replace("d16", "$1234").replace("a16", "$1234"), b"\x34\x12"
        elif "d8" in op:
            op, data = op.replace("d8", "$12"), b"\x12"
        elif "a8" in op:
            op, data = op.replace("a8", "$FF12"), b"\x12"
        elif "r8" in op and mnemonic == "JR":
            op, data = op.replace("r8", "$0007"), b"\x05"  # target 7 from address 0 + 2
        elif "r8" in op:
            op, data = op.replace("r8", "5"), b"\x05"
        elif op.endswith("H") and mnemonic == "RST":
            op = "$" + op[:-1]
        out.append(op)
    return f"{mnemonic.lower()} {', '.join(out)}".strip(), data


def test_pyboy_illegal_opcodes_are_the_eleven_we_skip() -> None:
    unnamed = {i for i in range(256) if NAMES[i] in ("", "Breakpoint/Illegal opcode")}
    assert unnamed == ILLEGAL


@pytest.mark.parametrize("opcode", [i for i in range(512) if i not in ILLEGAL and i != 0xCB])
def test_every_documented_opcode_matches_pyboy(opcode: int) -> None:
    source, data = _translate(NAMES[opcode])
    rom = assemble(source, size=16).rom
    if opcode < 256:
        expected = bytes([opcode]) + data
        assert len(expected) == LENGTHS[opcode], source
    else:
        expected = bytes([0xCB, opcode - 256])
        assert LENGTHS[opcode] == 1
    assert rom[: len(expected)] == expected, source
    assert rom[len(expected) :] == b"\xff" * (16 - len(expected)), source


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("LD A, B", "78"),
        ("ld a, [hli]", "2a"),
        ("ldi a, [hl]", "2a"),
        ("ld a, [hld]", "3a"),
        ("ldd [hl], a", "32"),
        ("ld [$FF00+c], a", "e2"),
        ("ld a, [$ff00 + C]", "f2"),
        ("ldh [c], a", "e2"),
        ("ldh a, [$12]", "f0 12"),
        ("ldh [$FF44], a", "e0 44"),
        ("ld a, [$FF44]", "fa 44 ff"),
        ("ld hl, sp - 2", "f8 fe"),
        ("ld hl, SP+$7F", "f8 7f"),
        ("add 5", "c6 05"),
        ("add a, 5", "c6 05"),
        ("sub a, [hl]", "96"),
        ("cp -1", "fe ff"),
        ("and ~$0F", "e6 f0"),
        ("add sp, -3", "e8 fd"),
        ("jp [hl]", "e9"),
        ("jp hl", "e9"),
        ("ret c", "d8"),
        ("call c, $1234", "dc 34 12"),
        ("rst $08", "cf"),
        ("set 7, [hl]", "cb fe"),
        ("res 0, a", "cb 87"),
        ("ld [hl], -128", "36 80"),
        ("ld\ta,\tb", "78"),
    ],
)
def test_alternative_spellings_encode(source: str, expected: str) -> None:
    expected_bytes = bytes.fromhex(expected)
    assert assemble(source, size=16).rom[: len(expected_bytes)] == expected_bytes


def _asm(source: str, **kwargs):
    return assemble(source, size=0x200, **kwargs)


def test_labels_locals_and_forward_references() -> None:
    src = """
    ORG $10
Start:
    jp Main        ; forward
.loop:
    jr .loop
Main::
    call Start.loop
.loop: dw .loop, Start.loop
"""
    result = _asm(src)
    assert result.symbols == {"Start": 0x10, "Start.loop": 0x13, "Main": 0x15, "Main.loop": 0x18}
    assert result.rom[0x10:0x1C] == bytes.fromhex("c3 15 00 18 fe cd 13 00 18 00 13 00")


def test_jr_offsets_forward_and_backward() -> None:
    src = """
Back: nop
    jr Back        ; at 1: 0 - 3
    jr nz, Ahead   ; at 3: 132 - 5
    ds 127
Ahead: nop
"""
    rom = _asm(src).rom
    assert rom[1:5] == bytes([0x18, 0xFD, 0x20, 127])


def test_jr_out_of_range_names_file_line_and_offset() -> None:
    src = "Main:\n.loop: nop\n ds 140\n jr .loop\n"
    with pytest.raises(AsmError, match=r"^game\.asm:4: jr target \.loop out of range \(-143\)"):
        _asm(src, filename="game.asm")


def test_equ_constants_resolve_in_any_order_and_expressions_follow_precedence() -> None:
    src = """
A_SUM EQU B_VAL + 2 * 3        ; forward reference
DEF B_VAL EQU 1 + 2
SHIFTED EQU 1 + 1 << 2          ; C precedence: (1 + 1) << 2
MASKED EQU $F0 | $0F & $3C      ; & before |
PARENS EQU (2 + 3) * 4
NEG EQU -7 / 2                  ; truncates toward zero
CMP EQU 1 + 1 == 2 && !(3 < 2)
BITS EQU %1010 + 0b0101 + 0x10 + 'A' + 10 % 4
HI EQU HIGH($1234)
LO EQU LOW(Label + 1)
    ORG $40
Label: db HI, LO, @ - Label
"""
    s = _asm(src).symbols
    assert (s["A_SUM"], s["B_VAL"], s["SHIFTED"], s["MASKED"]) == (9, 3, 8, 0xFC)
    assert (s["PARENS"], s["NEG"], s["BITS"]) == (20, -3, 10 + 5 + 16 + 65 + 2)
    assert (s["HI"], s["LO"], s["CMP"]) == (0x12, 0x41, 1)
    assert _asm(src).rom[0x40:0x43] == bytes([0x12, 0x41, 0])


def test_db_strings_use_charmap_longest_match() -> None:
    src = """
    CHARMAP "A", $80
    CHARMAP "<PLAYER>", $52
    CHARMAP "<P", $01
    db "AB<PLAYER>!", 'A', "x,y"
"""
    rom = _asm(src).rom
    assert rom[:8] == bytes([0x80, ord("B"), 0x52, ord("!"), 0x80, ord("x"), ord(","), ord("y")])


def test_dw_is_little_endian_and_ds_fills() -> None:
    rom = _asm("dw $1234, -1\nds 3\nds 2, $AB\n").rom
    assert rom[:10] == bytes([0x34, 0x12, 0xFF, 0xFF, 0, 0, 0, 0xAB, 0xAB, 0xFF])


def test_unused_bytes_take_the_fill_value_and_rom_has_the_requested_size() -> None:
    result = assemble("ORG 4\nnop", size=0x4000, fill=0x00)
    assert len(result.rom) == 0x4000
    assert result.rom[:6] == bytes(6)


def test_macros_substitute_arguments_unique_labels_and_narg() -> None:
    src = """
MACRO wait
.spin\\@:
    dec \\1
    jr nz, .spin\\@
    db _NARG
ENDM
MACRO twice
    wait \\1
    wait \\2, extra
ENDM
Main:
    twice b, c
"""
    result = _asm(src)
    assert result.rom[:10] == bytes.fromhex("05 20 fd 01 0d 20 fd 02 ff ff")
    spins = sorted(k for k in result.symbols if k.startswith("Main.spin_"))
    assert [result.symbols[k] for k in spins] == [0, 4]


def test_macro_error_names_the_body_line_and_the_call() -> None:
    src = "MACRO bad\n ld a, \\1\nENDM\n bad 300\n"
    with pytest.raises(AsmError) as err:
        _asm(src, filename="m.asm")
    assert str(err.value) == (
        "m.asm:2: value 300 does not fit in a byte (in macro bad called from m.asm:4)"
    )


def test_include_is_relative_to_the_including_file(tmp_path: pathlib.Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "consts.asm").write_text("VALUE EQU $42\n")
    main = tmp_path / "main.asm"
    main.write_text('INCLUDE "sub/consts.asm"\n db VALUE\n')
    assert assemble(main.read_text(), filename=str(main), size=16).rom[0] == 0x42


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("nop\nORG 0\nnop", r"^<asm>:3: overlaps \$0000, already written by <asm>:1"),
        ("ASSERT 1\n ASSERT 2 + 2 == 5", r"^<asm>:2: assertion failed: 2 \+ 2 == 5"),
        ("ld a, 1 +", r"^<asm>:1: expression '1 \+' ends too early"),
        ("ld a, $", r"^<asm>:1: cannot read expression"),
        ('nop\nASSERT @ == 0, "code moved"', r"^<asm>:2: assertion failed: code moved"),
        ("nop\n ld b, 256", r"^<asm>:2: value 256 does not fit in a byte"),
        ("ld bc, $10000", r"^<asm>:1: value \$10000 does not fit in 16 bits"),
        ("ldh a, [$FE00]", r"^<asm>:1: ldh address \$FE00 is not in \$FF00-\$FFFF"),
        ("rst 3", r"^<asm>:1: rst target 3 is not one of"),
        ("N EQU 2\n ld b, N * 200", r"^<asm>:2: value N \* 200 = 400 does not fit in a byte"),
        ("A EQU 1", r"^<asm>:1: 'A' is a register or condition name"),
        ("bit 8, a", r"^<asm>:1: bit number 8 is outside 0..7"),
        ("ld [hl], [hl]", r"^<asm>:1: invalid operands for ld"),
        ("\n\n jp Nowhere", r"^<asm>:3: unknown symbol 'Nowhere'"),
        ("X EQU Y\nY EQU X", r"^<asm>:1: constant 'X' is defined in terms of itself"),
        ("Foo:\nFoo:", r"^<asm>:2: symbol 'Foo' is already defined at <asm>:1"),
        (".early: nop", r"^<asm>:1: local label \.early used before any global label"),
        ("frob a", r"^<asm>:1: unknown instruction, directive or macro 'frob'"),
        ("ORG Later\nLater:", r"^<asm>:1: ORG address must be known when it is reached"),
        ("ORG $1FF\n dw 1", r"^<asm>:2: bytes \$01FF-\$0200 run past the ROM end \$200"),
        ("MACRO m\n nop\n", r"^<asm>:1: MACRO m has no ENDM"),
        ("add sp, 128", r"^<asm>:1: offset 128 is outside -128..127"),
        ('db "é"', r"^<asm>:1: character 'é' is not ASCII"),
    ],
)
def test_errors_name_the_line_and_the_problem(source: str, message: str) -> None:
    with pytest.raises(AsmError, match=message):
        _asm(source)


def _header_rom() -> bytearray:
    src = """
    ORG $100
    nop
    jp Start
    ORG $150
Start:
    ld a, $42
    ld [$C000], a
.halt:
    halt
    nop
    jr .halt
"""
    rom = bytearray(assemble(src).rom)
    finalize_header(rom, "daddy test", cart_type=0x00)
    return rom


def test_finalize_header_writes_title_and_checksums() -> None:
    rom = _header_rom()
    assert rom[0x134:0x143] == b"DADDY TEST" + bytes(5)
    assert rom[0x14D] == (-(sum(rom[0x134:0x14D]) + 25)) & 0xFF  # closed form of the loop
    total = sum(rom[:0x14E]) + sum(rom[0x150:])
    assert int.from_bytes(rom[0x14E:0x150], "big") == total & 0xFFFF
    assert rom[0x104:0x134] == b"\xff" * 0x30  # no logo written


def test_finalize_header_rejects_long_title() -> None:
    with pytest.raises(ValueError, match="at most 15"):
        finalize_header(bytearray(0x8000), "A" * 16)


def test_assembled_rom_runs_in_pyboy(tmp_path: pathlib.Path) -> None:
    from pyboy import PyBoy

    path = tmp_path / "mini.gb"
    path.write_bytes(_header_rom())
    pb = PyBoy(str(path), window="null", sound_emulated=False)
    try:
        pb.tick(180, False)  # the boot ROM alone takes about 100 frames
        assert pb.memory[0xC000] == 0x42
        assert 0x155 <= pb.register_file.PC <= 0x158  # parked in the halt loop
    finally:
        pb.stop(save=False)
