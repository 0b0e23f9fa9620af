"""A small two-pass LR35902 (Game Boy CPU) assembler with an RGBDS-like syntax subset.

Why it exists: the practice cartridge is built from the project's own source with nothing but
Python, so a newcomer needs no toolchain and the same source always gives the same bytes.

Flow: `_Preprocessor` strips comments, inlines INCLUDE files and expands macros into plain lines;
pass 1 (`_Assembler.statement`) gives every label its address and turns every statement into a
`_Chunk` of fixed bytes and unresolved `_Field`s (sizes never depend on symbol values);
pass 2 (`_Assembler.link`) evaluates the fields and writes the ROM.

Expressions use Python precedence (tightest first): unary `- + ~ !`, `* / %`, `+ -`, `<< >>`,
`&`, `^`, `|`, comparisons `== != < <= > >=` (1 or 0), `&&`, `||`. `/` and `%` truncate toward
zero. Values are unbounded integers until they are
stored, where they must fit the field (n8: -128..255, n16: -32768..65535, e8: -128..127).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field

__all__ = ["AsmError", "Assembly", "assemble", "finalize_header"]


class AsmError(Exception):
    """Bad assembly source; the message reads `file:line: problem`."""


@dataclass(frozen=True)
class Assembly:
    """An assembled ROM image and its symbol table (labels, `Global.local` labels, constants)."""

    rom: bytes
    symbols: dict[str, int]


class _Problem(Exception):
    """A problem found below statement level; the caller adds the file and line."""


class _Unknown(_Problem):
    """An expression used a symbol that has no value (yet)."""


# --------------------------------------------------------------------------- source lines


@dataclass(frozen=True)
class _Line:
    """One comment-free source line after macro substitution, with where it came from."""

    text: str
    loc: str  # "file:line" of the text itself
    calls: tuple[str, ...] = ()  # "macro X called from file:line", innermost first
    filename: str = ""

    def error(self, problem: str) -> AsmError:
        calls = self.calls
        if len(calls) > 3:  # deep (often recursive) expansions: innermost two and the outermost
            calls = (*calls[:2], f"{len(calls) - 3} more macro levels", calls[-1])
        trail = "".join(f" (in {c})" for c in calls)
        return AsmError(f"{self.loc}: {problem}{trail}")


def _strip_comment(text: str) -> str:
    """Cut at the first `;` outside a "string" or a 'c' character literal."""
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch == '"':
            i += 1
            while i < n and text[i] != '"':
                i += 2 if text[i] == "\\" else 1
        elif ch == "'" and i + 2 < n and text[i + 2] == "'":
            i += 2
        elif ch == ";":
            return text[:i]
        i += 1
    return text


def _split_commas(text: str) -> list[str]:
    """Split on commas that are not inside quotes, parentheses or brackets."""
    if not text.strip():
        return []
    parts: list[str] = []
    depth, start, i, n = 0, 0, 0, len(text)
    while i < n:
        ch = text[i]
        if ch == '"':
            i += 1
            while i < n and text[i] != '"':
                i += 2 if text[i] == "\\" else 1
        elif ch == "'" and i + 2 < n and text[i + 2] == "'":
            i += 2
        elif ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(text[start:i].strip())
            start = i + 1
        i += 1
    parts.append(text[start:].strip())
    if any(not p for p in parts):
        raise _Problem(f"empty item in list '{text.strip()}'")
    return parts


_ESCAPES = {'"': '"', "\\": "\\", "n": "\n", "t": "\t", "0": "\0", "'": "'"}


def _parse_string(item: str) -> str:
    """Decode a "quoted" string with \\" \\\\ \\n \\t \\0 escapes."""
    item = item.strip()
    if len(item) < 2 or item[0] != '"' or item[-1] != '"':
        raise _Problem(f'expected a "string", got {item}')
    out, i, body = [], 0, item[1:-1]
    while i < len(body):
        ch = body[i]
        if ch == "\\":
            if i + 1 >= len(body) or body[i + 1] not in _ESCAPES:
                raise _Problem(f"unknown escape in string {item}")
            out.append(_ESCAPES[body[i + 1]])
            i += 2
        elif ch == '"':
            raise _Problem(f"stray quote in string {item}")
        else:
            out.append(ch)
            i += 1
    return "".join(out)


# --------------------------------------------------------------------------- preprocessor

_NAME = r"[A-Za-z_][\w]*"
_SYMBOL = rf"\.?{_NAME}(?:\.{_NAME})?"
_LABEL_RE = re.compile(rf"\s*({_SYMBOL})(::?)")
_SYMBOL_RE = re.compile(_SYMBOL)
_MAX_DEPTH = 64


@dataclass
class _Macro:
    name: str
    body: list[tuple[str, str]]  # (text, loc)
    filename: str


def _split_labels(text: str) -> tuple[list[str], str]:
    """Peel `Name:` / `Name::` / `.local:` prefixes off a line; return them and the rest."""
    labels, pos = [], 0
    while m := _LABEL_RE.match(text, pos):
        labels.append(m.group(1))
        pos = m.end()
    return labels, text[pos:].strip()


class _Preprocessor:
    """Turns source text into plain `_Line`s: comments gone, INCLUDEs inlined, macros expanded."""

    def __init__(self) -> None:
        self.macros: dict[str, _Macro] = {}
        self.unique = 0
        self.out: list[_Line] = []

    def run_text(
        self, source: str, filename: str, calls: tuple[str, ...] = (), depth: int = 0
    ) -> None:
        lines = [
            (_strip_comment(t), f"{filename}:{n}") for n, t in enumerate(source.splitlines(), 1)
        ]
        self.feed(lines, filename, calls, depth)

    def feed(
        self, lines: list[tuple[str, str]], filename: str, calls: tuple[str, ...], depth: int
    ) -> None:
        i = 0
        while i < len(lines):
            text, loc = lines[i]
            i += 1
            line = _Line(text, loc, calls, filename)
            try:
                i = self.line(line, lines, i, depth)
            except _Problem as e:
                raise line.error(str(e)) from None

    def line(self, line: _Line, lines: list[tuple[str, str]], i: int, depth: int) -> int:
        """Handle one line; return the index of the next unread line."""
        labels, rest = _split_labels(line.text)
        words = rest.split(None, 1)
        head = words[0].lower() if words else ""
        if head == "macro":
            name = words[1].strip() if len(words) > 1 else (labels[0] if len(labels) == 1 else "")
            if not re.fullmatch(_NAME, name) or (len(words) > 1 and labels):
                raise _Problem("MACRO needs one name: write `MACRO name` on its own line")
            return self.define_macro(name, line, lines, i)
        if head == "endm":
            raise _Problem("ENDM without a MACRO")
        if head == "include":
            self.include(line, words[1] if len(words) > 1 else "", depth)
            return i
        if words and words[0] in self.macros:
            if labels:
                self.out.append(_Line(" ".join(f"{lb}:" for lb in labels), line.loc, line.calls))
            args = _split_commas(words[1]) if len(words) > 1 else []
            self.expand(self.macros[words[0]], args, line, depth)
            return i
        if line.text.strip():
            self.out.append(line)
        return i

    def define_macro(self, name: str, line: _Line, lines: list[tuple[str, str]], i: int) -> int:
        if name in self.macros:
            raise _Problem(f"macro {name} is already defined")
        body = []
        while i < len(lines):
            text, loc = lines[i]
            first = _split_labels(text)[1].split(None, 1)
            head = first[0].lower() if first else ""
            if head == "endm":
                self.macros[name] = _Macro(name, body, line.filename)
                return i + 1
            if head == "macro":
                raise _Problem(f"MACRO {name} has no ENDM before the next MACRO at {loc}")
            body.append((text, loc))
            i += 1
        raise _Problem(f"MACRO {name} has no ENDM")

    def expand(self, macro: _Macro, args: list[str], line: _Line, depth: int) -> None:
        if depth >= _MAX_DEPTH:
            raise _Problem(f"macros nested more than {_MAX_DEPTH} deep (recursive macro?)")
        self.unique += 1
        suffix = f"_{self.unique}"

        def sub(m: re.Match[str]) -> str:
            key = m.group(1)
            if key == "@":
                return suffix
            if int(key) > len(args):
                raise _Problem(f"macro {macro.name} uses \\{key} but got {len(args)} argument(s)")
            return args[int(key) - 1]

        body = []
        for text, loc in macro.body:
            text = re.sub(r"\\([1-9@])", sub, text)
            body.append((re.sub(r"\b_NARG\b", str(len(args)), text), loc))
        calls = (f"macro {macro.name} called from {line.loc}", *line.calls)
        self.feed(body, macro.filename, calls, depth + 1)

    def include(self, line: _Line, arg: str, depth: int) -> None:
        if depth >= _MAX_DEPTH:
            raise _Problem(f"INCLUDEs nested more than {_MAX_DEPTH} deep")
        name = _parse_string(arg)
        base = os.path.dirname(line.filename) if os.path.isfile(line.filename) else ""
        path = os.path.join(base, name)
        try:
            with open(path, encoding="utf-8") as f:
                text = f.read()
        except OSError as e:
            raise _Problem(f"cannot read INCLUDE file {path}: {e.strerror}") from None
        self.run_text(text, path, line.calls, depth + 1)


# --------------------------------------------------------------------------- expressions

# An expression is a tuple tree: ("num", v) ("sym", name) ("pc",) ("un", op, a)
# ("bin", op, a, b) ("fn", "high"|"low", a).
Node = tuple

_TOKEN_RE = re.compile(
    rf"""\s*(?:
      (?P<hex>\$[0-9A-Fa-f]+|0[xX][0-9A-Fa-f]+)
     |(?P<bin>0[bB][01]+)
     |(?P<dec>\d+)
     |(?P<char>'[^']')
     |(?P<ident>{_SYMBOL})
     |(?P<op><<|>>|==|!=|<=|>=|&&|\|\||[-+*/%&|^~()@<>!])
    )""",
    re.VERBOSE,
)
_BINARY_RE = re.compile(r"\s*%([01]+)")
_BINOPS = [
    ("||",),
    ("&&",),
    ("==", "!=", "<", "<=", ">", ">="),
    ("|",),
    ("^",),
    ("&",),
    ("<<", ">>"),
    ("+", "-"),
    ("*", "/", "%"),
]
_FUNCS = ("high", "low")


def _tokenize(text: str, charmap: dict[str, int]) -> list[tuple[str, object]]:
    """Split an expression into (kind, value) tokens; `%101` is binary where a value is due."""
    tokens: list[tuple[str, object]] = []
    pos, n = 0, len(text)
    while pos < n:
        if not text[pos:].strip():
            break
        value_due = not tokens or (tokens[-1][0] == "op" and tokens[-1][1] not in (")", "@"))
        m = _BINARY_RE.match(text, pos)
        if value_due and m:
            tokens.append(("num", int(m.group(1), 2)))
            pos = m.end()
            continue
        m = _TOKEN_RE.match(text, pos)
        if not m:
            raise _Problem(f"cannot read expression '{text.strip()}' at '{text[pos:].strip()}'")
        pos = m.end()
        kind = m.lastgroup
        s = m.group(kind)
        if kind == "hex":
            tokens.append(("num", int(s[1:] if s[0] == "$" else s[2:], 16)))
        elif kind == "bin":
            tokens.append(("num", int(s, 0)))
        elif kind == "dec":
            tokens.append(("num", int(s)))
        elif kind == "char":
            tokens.append(("num", charmap.get(s[1], ord(s[1]))))
        else:
            tokens.append((kind, s))
    return tokens


class _Parser:
    """Recursive-descent parser from tokens to a `Node` tree."""

    def __init__(self, text: str, charmap: dict[str, int]) -> None:
        self.text = text.strip()
        self.tokens = _tokenize(text, charmap)
        self.i = 0

    def parse(self) -> Node:
        if not self.tokens:
            raise _Problem("missing expression")
        node = self.binary(0)
        if self.i != len(self.tokens):
            raise _Problem(f"unexpected '{self.tokens[self.i][1]}' in expression '{self.text}'")
        return node

    def peek(self) -> tuple[str, object] | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def expect(self, op: str) -> None:
        if self.peek() != ("op", op):
            raise _Problem(f"expected '{op}' in expression '{self.text}'")
        self.i += 1

    def binary(self, level: int) -> Node:
        if level == len(_BINOPS):
            return self.unary()
        node = self.binary(level + 1)
        while (tok := self.peek()) and tok[0] == "op" and tok[1] in _BINOPS[level]:
            self.i += 1
            node = ("bin", tok[1], node, self.binary(level + 1))
        return node

    def unary(self) -> Node:
        tok = self.peek()
        if tok and tok[0] == "op" and tok[1] in ("-", "+", "~", "!"):
            self.i += 1
            return ("un", tok[1], self.unary())
        return self.primary()

    def primary(self) -> Node:
        tok = self.peek()
        if tok is None:
            raise _Problem(f"expression '{self.text}' ends too early")
        self.i += 1
        kind, value = tok
        if kind == "num":
            return ("num", value)
        if tok == ("op", "@"):
            return ("pc",)
        if tok == ("op", "("):
            node = self.binary(0)
            self.expect(")")
            return node
        if kind == "ident":
            name = str(value)
            if name.lower() in _FUNCS and self.peek() == ("op", "("):
                self.i += 1
                node = self.binary(0)
                self.expect(")")
                return ("fn", name.lower(), node)
            if name.lower() in _REGISTERS:
                raise _Problem(f"register '{name}' cannot be used in an expression here")
            return ("sym", name)
        raise _Problem(f"unexpected '{value}' in expression '{self.text}'")


def _trunc_div(a: int, b: int) -> int:
    if b == 0:
        raise _Problem("division by zero")
    q = abs(a) // abs(b)
    return q if (a < 0) == (b < 0) else -q


def _binop(op: str, a: int, b: int) -> int:
    if op in ("<<", ">>") and b < 0:
        raise _Problem(f"negative shift count {b}")
    ops = {
        "+": lambda: a + b,
        "-": lambda: a - b,
        "*": lambda: a * b,
        "/": lambda: _trunc_div(a, b),
        "%": lambda: a - b * _trunc_div(a, b),
        "&": lambda: a & b,
        "|": lambda: a | b,
        "^": lambda: a ^ b,
        "<<": lambda: a << b,
        ">>": lambda: a >> b,
        "==": lambda: int(a == b),
        "!=": lambda: int(a != b),
        "<": lambda: int(a < b),
        "<=": lambda: int(a <= b),
        ">": lambda: int(a > b),
        ">=": lambda: int(a >= b),
        "&&": lambda: int(bool(a) and bool(b)),
        "||": lambda: int(bool(a) or bool(b)),
    }
    return ops[op]()


# --------------------------------------------------------------------------- operands

_R8 = {"b": 0, "c": 1, "d": 2, "e": 3, "h": 4, "l": 5, "[hl]": 6, "a": 7}
_RP = {"bc": 0, "de": 1, "hl": 2, "sp": 3}  # ld/inc/dec/add hl
_RP2 = {"bc": 0, "de": 1, "hl": 2, "af": 3}  # push/pop
_CC = {"nz": 0, "z": 1, "nc": 2, "c": 3}
_REGISTERS = set(_R8) | set(_RP) | set(_RP2) | set(_CC)
_MEM_C = {"c", "$ff00+c", "0xff00+c", "c+$ff00", "c+0xff00"}


@dataclass(frozen=True)
class _Operand:
    """A classified operand: kind is r8, r16, cond, mem_rr, hli, hld, mem_c, mem, imm or sp_off."""

    kind: str
    name: str = ""  # register or condition, lowercase ("[hl]" for the r8 slot 6)
    expr: Node | None = None
    text: str = ""


def _operand(text: str, charmap: dict[str, int]) -> _Operand:
    low = re.sub(r"\s+", "", text.lower())
    if low in _R8 or low == "[hl]":
        return _Operand("r8", low, text=text)
    if low in _RP or low in _RP2:
        return _Operand("r16", low, text=text)
    if low in _CC:
        return _Operand("cond", low, text=text)
    if low.startswith("[") and low.endswith("]"):
        inner = low[1:-1]
        if inner in ("bc", "de"):
            return _Operand("mem_rr", inner, text=text)
        if inner in ("hl+", "hli"):
            return _Operand("hli", text=text)
        if inner in ("hl-", "hld"):
            return _Operand("hld", text=text)
        if inner in _MEM_C:
            return _Operand("mem_c", text=text)
        inner_text = text.strip()[1:-1]
        return _Operand("mem", expr=_Parser(inner_text, charmap).parse(), text=inner_text.strip())
    m = re.fullmatch(r"\s*sp\s*([+-])(.*)", text, re.IGNORECASE | re.DOTALL)
    if m:
        expr = _Parser("0" + m.group(1) + m.group(2), charmap).parse()
        return _Operand("sp_off", expr=expr, text=text.strip())
    return _Operand("imm", expr=_Parser(text, charmap).parse(), text=text.strip())


# --------------------------------------------------------------------------- encoding


@dataclass(frozen=True)
class _Field:
    """Bytes whose value needs pass 2: an expression and how to store it."""

    kind: str  # n8 n16 e8 rel ldh rst cbbit fill
    expr: Node
    text: str
    size: int = 1
    base: int = 0  # cbbit: opcode without the bit number


def _op(x: int, y: int, z: int) -> int:
    """Opcode from the x/y/z fields of the structured LR35902 decoding (xxyyyzzz)."""
    return x << 6 | y << 3 | z


def _rp_y(p: int, q: int) -> int:
    return p << 1 | q


def _n8(o: _Operand) -> _Field:
    return _Field("n8", o.expr, o.text)


def _n16(o: _Operand) -> _Field:
    return _Field("n16", o.expr, o.text, size=2)


def _cond(o: _Operand) -> int | None:
    """Condition index, reading the register `c` as the carry condition."""
    if o.kind == "cond" or (o.kind == "r8" and o.name == "c"):
        return _CC[o.name]
    return None


def _is_a(o: _Operand) -> bool:
    return o.kind == "r8" and o.name == "a"


def _enc_ld(d: _Operand, s: _Operand) -> list | None:
    if d.kind == "r8" and s.kind == "r8" and not (d.name == s.name == "[hl]"):
        return [_op(1, _R8[d.name], _R8[s.name])]
    if d.kind == "r8" and s.kind == "imm":
        return [_op(0, _R8[d.name], 6), _n8(s)]
    if _is_a(d):
        table = {"hli": [0x2A], "hld": [0x3A], "mem_c": [0xF2]}
        if s.kind == "mem_rr":
            return [_op(0, _rp_y(_RP[s.name], 1), 2)]
        if s.kind in table:
            return table[s.kind]
        if s.kind == "mem":
            return [0xFA, _n16(s)]
    if _is_a(s):
        table = {"hli": [0x22], "hld": [0x32], "mem_c": [0xE2]}
        if d.kind == "mem_rr":
            return [_op(0, _rp_y(_RP[d.name], 0), 2)]
        if d.kind in table:
            return table[d.kind]
        if d.kind == "mem":
            return [0xEA, _n16(d)]
    if d.kind == "r16" and d.name in _RP and s.kind == "imm":
        return [_op(0, _rp_y(_RP[d.name], 0), 1), _n16(s)]
    if d.kind == "mem" and s.kind == "r16" and s.name == "sp":
        return [0x08, _n16(d)]
    if d.kind == "r16" and d.name == "sp" and s.kind == "r16" and s.name == "hl":
        return [0xF9]
    if d.kind == "r16" and d.name == "hl" and s.kind == "sp_off":
        return [0xF8, _Field("e8", s.expr, s.text)]
    return None


def _enc_ldh(d: _Operand, s: _Operand) -> list | None:
    if _is_a(d) and s.kind == "mem":
        return [0xF0, _Field("ldh", s.expr, s.text)]
    if d.kind == "mem" and _is_a(s):
        return [0xE0, _Field("ldh", d.expr, d.text)]
    if _is_a(d) and s.kind == "mem_c":
        return [0xF2]
    if d.kind == "mem_c" and _is_a(s):
        return [0xE2]
    return None


def _enc_ldi_ldd(mn: str, d: _Operand, s: _Operand) -> list | None:
    inc = mn == "ldi"
    if _is_a(d) and s.kind == "r8" and s.name == "[hl]":
        return [0x2A if inc else 0x3A]
    if d.kind == "r8" and d.name == "[hl]" and _is_a(s):
        return [0x22 if inc else 0x32]
    return None


def _enc_alu(mn: str, ops: list[_Operand]) -> list | None:
    if mn == "add" and len(ops) == 2 and ops[0].kind == "r16":
        d, s = ops
        if d.name == "hl" and s.kind == "r16" and s.name in _RP:
            return [_op(0, _rp_y(_RP[s.name], 1), 1)]
        if d.name == "sp" and s.kind == "imm":
            return [0xE8, _Field("e8", s.expr, s.text)]
        return None
    if len(ops) == 2 and _is_a(ops[0]):
        ops = ops[1:]
    if len(ops) != 1:
        return None
    y, s = list(_ALU).index(mn), ops[0]
    if s.kind == "r8":
        return [_op(2, y, _R8[s.name])]
    if s.kind == "imm":
        return [_op(3, y, 6), _n8(s)]
    return None


def _enc_control(mn: str, ops: list[_Operand]) -> list | None:
    cc = _cond(ops[0]) if len(ops) == 2 else None
    target = ops[-1] if ops else None
    if len(ops) == 2 and cc is None:
        return None
    if mn == "ret":
        if not ops:
            return [0xC9]
        c1 = _cond(ops[0])
        return [_op(3, c1, 0)] if len(ops) == 1 and c1 is not None else None
    if target is None or len(ops) > 2:
        return None
    if mn == "jp" and len(ops) == 1 and target.name in ("hl", "[hl]"):
        return [0xE9]
    if target.kind != "imm":
        return None
    if mn == "jr":
        rel = _Field("rel", target.expr, target.text)
        return [0x18, rel] if cc is None else [_op(0, cc + 4, 0), rel]
    z, plain = {"jp": (2, 0xC3), "call": (4, 0xCD)}[mn]
    return [plain if cc is None else _op(3, cc, z), _n16(target)]


def _enc_misc(mn: str, ops: list[_Operand]) -> list | None:
    if mn in ("inc", "dec") and len(ops) == 1:
        o, q = ops[0], int(mn == "dec")
        if o.kind == "r8":
            return [_op(0, _R8[o.name], 4 + q)]
        if o.kind == "r16" and o.name in _RP:
            return [_op(0, _rp_y(_RP[o.name], q), 3)]
    if mn in ("push", "pop") and len(ops) == 1 and ops[0].kind == "r16" and ops[0].name in _RP2:
        return [_op(3, _rp_y(_RP2[ops[0].name], 0), 5 if mn == "push" else 1)]
    if mn == "rst" and len(ops) == 1 and ops[0].kind == "imm":
        return [_Field("rst", ops[0].expr, ops[0].text)]
    if mn in _ROT and len(ops) == 1 and ops[0].kind == "r8":
        return [0xCB, _op(0, _ROT[mn], _R8[ops[0].name])]
    if mn in _BITOPS and len(ops) == 2 and ops[0].kind == "imm" and ops[1].kind == "r8":
        base = _op(_BITOPS[mn], 0, _R8[ops[1].name])
        return [0xCB, _Field("cbbit", ops[0].expr, ops[0].text, base=base)]
    return None


_NOARG = {
    "nop": [0x00], "halt": [0x76], "stop": [0x10, 0x00], "di": [0xF3], "ei": [0xFB],
    "daa": [0x27], "cpl": [0x2F], "ccf": [0x3F], "scf": [0x37], "rlca": [0x07],
    "rla": [0x17], "rrca": [0x0F], "rra": [0x1F], "reti": [0xD9],
}  # fmt: skip
_ALU = {"add": 0, "adc": 1, "sub": 2, "sbc": 3, "and": 4, "xor": 5, "or": 6, "cp": 7}
_ROT = {"rlc": 0, "rrc": 1, "rl": 2, "rr": 3, "sla": 4, "sra": 5, "swap": 6, "srl": 7}
_BITOPS = {"bit": 1, "res": 2, "set": 3}
_CONTROL = ("jp", "jr", "call", "ret")
_MNEMONICS = (
    set(_NOARG) | set(_ALU) | set(_ROT) | set(_BITOPS) | set(_CONTROL)
    | {"ld", "ldh", "ldi", "ldd", "inc", "dec", "push", "pop", "rst"}
)  # fmt: skip


def _encode(mn: str, ops: list[_Operand]) -> list | None:
    """Bytes and fields for one instruction, or None when the operands do not fit it."""
    if mn in _NOARG:
        return list(_NOARG[mn]) if not ops else None
    if mn in ("ld", "ldh", "ldi", "ldd"):
        if len(ops) != 2:
            return None
        if mn == "ld":
            return _enc_ld(*ops)
        return _enc_ldh(*ops) if mn == "ldh" else _enc_ldi_ldd(mn, *ops)
    if mn in _ALU:
        return _enc_alu(mn, ops)
    if mn in _CONTROL:
        return _enc_control(mn, ops)
    return _enc_misc(mn, ops)


# --------------------------------------------------------------------------- assembler


@dataclass
class _Const:
    expr: Node
    scope: str | None
    pc: int
    line: _Line
    value: int | None = None
    busy: bool = False


@dataclass
class _Chunk:
    """Bytes of one statement at `addr`; `@` inside it is `addr`."""

    addr: int
    items: list
    line: _Line
    scope: str | None

    @property
    def size(self) -> int:
        return sum(1 if isinstance(it, int) else it.size for it in self.items)


@dataclass
class _Assert:
    expr: Node
    message: str
    pc: int
    scope: str | None
    line: _Line


@dataclass
class _Assembler:
    size: int
    fill: int
    labels: dict[str, int] = field(default_factory=dict)
    label_lines: dict[str, _Line] = field(default_factory=dict)
    consts: dict[str, _Const] = field(default_factory=dict)
    charmap: dict[str, int] = field(default_factory=dict)
    chunks: list[_Chunk] = field(default_factory=list)
    asserts: list[_Assert] = field(default_factory=list)
    pc: int = 0
    scope: str | None = None

    def __post_init__(self) -> None:
        self.owner: list[_Line | None] = [None] * self.size

    # ---- symbols and evaluation

    def qualify(self, name: str, scope: str | None) -> str:
        if not name.startswith("."):
            return name
        if scope is None:
            raise _Problem(f"local label {name} used before any global label")
        return scope + name

    def lookup(self, name: str, scope: str | None) -> int:
        full = self.qualify(name, scope)
        if full in self.labels:
            return self.labels[full]
        c = self.consts.get(full)
        if c is None:
            raise _Unknown(f"unknown symbol '{full}'")
        if c.value is None:
            if c.busy:
                raise _Problem(f"constant '{full}' is defined in terms of itself")
            c.busy = True
            try:
                c.value = self.eval(c.expr, c.scope, c.pc)
            finally:
                c.busy = False
        return c.value

    def eval(self, node: Node, scope: str | None, pc: int) -> int:
        kind = node[0]
        if kind == "num":
            return node[1]
        if kind == "pc":
            return pc
        if kind == "sym":
            return self.lookup(node[1], scope)
        if kind == "un":
            v = self.eval(node[2], scope, pc)
            return {"-": -v, "+": v, "~": ~v, "!": int(not v)}[node[1]]
        if kind == "fn":
            v = self.eval(node[2], scope, pc)
            return (v >> 8) & 0xFF if node[1] == "high" else v & 0xFF
        return _binop(node[1], self.eval(node[2], scope, pc), self.eval(node[3], scope, pc))

    def eval_now(self, text: str, what: str) -> int:
        """Evaluate in pass 1, where only earlier labels and resolvable constants exist."""
        try:
            return self.eval(self.parse(text), self.scope, self.pc)
        except _Unknown as e:
            raise _Problem(f"{what} must be known when it is reached: {e}") from None

    def parse(self, text: str) -> Node:
        return _Parser(text, self.charmap).parse()

    def define(self, name: str, line: _Line) -> str:
        if name.lower() in _REGISTERS:
            raise _Problem(f"'{name}' is a register or condition name, not usable as a symbol")
        if not _SYMBOL_RE.fullmatch(name):
            raise _Problem(f"'{name}' is not a valid symbol name")
        full = self.qualify(name, self.scope)
        if full in self.labels or full in self.consts:
            first = self.label_lines.get(full) or self.consts[full].line
            raise _Problem(f"symbol '{full}' is already defined at {first.loc}")
        return full

    # ---- pass 1

    def statement(self, line: _Line) -> None:
        labels, rest = _split_labels(line.text)
        for name in labels:
            full = self.define(name, line)
            self.labels[full] = self.pc
            self.label_lines[full] = line
            if "." not in name:
                self.scope = name
        if not rest:
            return
        head, _, tail = rest.replace("\t", " ").partition(" ")
        tail = tail.strip()
        low = head.lower()
        if low == "def":
            m = re.fullmatch(r"(\S+)\s+(?i:equ)\b(.*)", tail, re.DOTALL)
            if not m:
                raise _Problem("expected `DEF NAME EQU value`")
            return self.equ(m.group(1), m.group(2), line)
        m = re.fullmatch(r"(?i:equ)\b(.*)", tail, re.DOTALL)
        if m:
            return self.equ(head, m.group(1), line)
        handler = getattr(self, f"dir_{low}", None)
        if handler is not None:
            return handler(tail, line)
        if low not in _MNEMONICS:
            raise _Problem(f"unknown instruction, directive or macro '{head}'")
        ops = [_operand(p, self.charmap) for p in _split_commas(tail)]
        items = _encode(low, ops)
        if items is None:
            raise _Problem(
                f"invalid operands for {low}: '{tail}'" if tail else f"{low} needs operands"
            )
        self.emit(items, line)

    def equ(self, name: str, text: str, line: _Line) -> None:
        full = self.define(name, line)
        self.consts[full] = _Const(self.parse(text), self.scope, self.pc, line)

    def emit(self, items: list, line: _Line) -> None:
        chunk = _Chunk(self.pc, items, line, self.scope)
        end = self.pc + chunk.size
        if end > self.size:
            raise _Problem(
                f"bytes ${self.pc:04X}-${end - 1:04X} run past the ROM end ${self.size:X}"
            )
        for addr in range(self.pc, end):
            if self.owner[addr] is not None:
                raise _Problem(f"overlaps ${addr:04X}, already written by {self.owner[addr].loc}")
            self.owner[addr] = line
        self.chunks.append(chunk)
        self.pc = end

    def dir_org(self, tail: str, line: _Line) -> None:
        addr = self.eval_now(tail, "ORG address")
        if not 0 <= addr <= self.size:
            raise _Problem(f"ORG ${addr:X} is outside the ROM ($0-${self.size:X})")
        self.pc = addr

    def dir_db(self, tail: str, line: _Line) -> None:
        items: list = []
        for part in _split_commas(tail) or [""]:
            if part.startswith('"'):
                items.extend(self.encode_text(_parse_string(part)))
            else:
                items.append(_Field("n8", self.parse(part), part))
        self.emit(items, line)

    def dir_dw(self, tail: str, line: _Line) -> None:
        parts = _split_commas(tail) or [""]
        self.emit([_Field("n16", self.parse(p), p, size=2) for p in parts], line)

    def dir_ds(self, tail: str, line: _Line) -> None:
        parts = _split_commas(tail)
        if len(parts) not in (1, 2):
            raise _Problem("expected `DS count` or `DS count, fill`")
        count = self.eval_now(parts[0], "DS count")
        if count < 0:
            raise _Problem(f"DS count {count} is negative")
        fill = parts[1] if len(parts) == 2 else "0"
        self.emit([_Field("fill", self.parse(fill), fill, size=count)], line)

    def dir_charmap(self, tail: str, line: _Line) -> None:
        parts = _split_commas(tail)
        if len(parts) != 2:
            raise _Problem('expected `CHARMAP "text", value`')
        key = _parse_string(parts[0])
        value = self.eval_now(parts[1], "CHARMAP value")
        if not key or not 0 <= value <= 255:
            raise _Problem(f"CHARMAP needs non-empty text and a value 0..255, got {value}")
        self.charmap[key] = value

    def dir_assert(self, tail: str, line: _Line) -> None:
        parts = _split_commas(tail)
        if len(parts) not in (1, 2):
            raise _Problem('expected `ASSERT expr` or `ASSERT expr, "message"`')
        msg = _parse_string(parts[1]) if len(parts) == 2 else parts[0]
        self.asserts.append(_Assert(self.parse(parts[0]), msg, self.pc, self.scope, line))

    def encode_text(self, text: str) -> list[int]:
        """Bytes of a string: the longest CHARMAP entry at each position, else ASCII."""
        keys = sorted(self.charmap, key=len, reverse=True)
        out, i = [], 0
        while i < len(text):
            key = next((k for k in keys if text.startswith(k, i)), None)
            if key is not None:
                out.append(self.charmap[key])
                i += len(key)
                continue
            if ord(text[i]) > 127:
                raise _Problem(f"character {text[i]!r} is not ASCII and has no CHARMAP entry")
            out.append(ord(text[i]))
            i += 1
        return out

    # ---- pass 2

    def link(self) -> Assembly:
        for name, c in self.consts.items():
            try:
                self.lookup(name, None)
            except _Problem as e:
                raise c.line.error(str(e)) from None
        rom = bytearray([self.fill]) * self.size
        for chunk in self.chunks:
            try:
                data = b"".join(self.resolve(it, chunk) for it in chunk.items)
            except _Problem as e:
                raise chunk.line.error(str(e)) from None
            rom[chunk.addr : chunk.addr + len(data)] = data
        for a in self.asserts:
            try:
                ok = self.eval(a.expr, a.scope, a.pc)
            except _Problem as e:
                raise a.line.error(str(e)) from None
            if not ok:
                raise a.line.error(f"assertion failed: {a.message}")
        symbols = dict(self.labels)
        symbols.update({name: c.value for name, c in self.consts.items()})
        return Assembly(bytes(rom), symbols)

    def resolve(self, item: int | _Field, chunk: _Chunk) -> bytes:
        if isinstance(item, int):
            return bytes([item])
        v = self.eval(item.expr, chunk.scope, chunk.addr)
        kind, text = item.kind, item.text
        shown = text if text in (str(v), f"${v:X}", f"${v:02X}", f"${v:04X}") else f"{text} = {v}"
        if kind in ("n8", "fill"):
            if not -128 <= v <= 255:
                raise _Problem(f"value {shown} does not fit in a byte")
            return bytes([v & 0xFF]) * item.size
        if kind == "n16":
            if not -32768 <= v <= 0xFFFF:
                raise _Problem(f"value {shown} does not fit in 16 bits")
            return (v & 0xFFFF).to_bytes(2, "little")
        if kind == "e8":
            if not -128 <= v <= 127:
                raise _Problem(f"offset {shown} is outside -128..127")
            return bytes([v & 0xFF])
        if kind == "rel":
            off = v - (chunk.addr + 2)
            if not -128 <= off <= 127:
                raise _Problem(f"jr target {text} out of range ({off})")
            return bytes([off & 0xFF])
        if kind == "ldh":
            if not (0 <= v <= 0xFF or 0xFF00 <= v <= 0xFFFF):
                raise _Problem(f"ldh address {shown} is not in $FF00-$FFFF")
            return bytes([v & 0xFF])
        if kind == "rst":
            if v not in range(0, 0x40, 8):
                raise _Problem(f"rst target {shown} is not one of $00, $08, ... $38")
            return bytes([0xC7 | v])
        if not 0 <= v <= 7:  # cbbit
            raise _Problem(f"bit number {shown} is outside 0..7")
        return bytes([item.base | v << 3])


def assemble(
    source: str, *, size: int = 0x8000, fill: int = 0xFF, filename: str = "<asm>"
) -> Assembly:
    """Assemble `source` into a ROM image of exactly `size` bytes (unused bytes are `fill`)."""
    if size <= 0 or not 0 <= fill <= 255:
        raise ValueError(f"size must be positive and fill 0..255, got size={size} fill={fill}")
    pre = _Preprocessor()
    pre.run_text(source, filename)
    asm = _Assembler(size, fill)
    for line in pre.out:
        try:
            asm.statement(line)
        except _Problem as e:
            raise line.error(str(e)) from None
    return asm.link()


# --------------------------------------------------------------------------- header


def finalize_header(
    rom: bytearray,
    title: str,
    *,
    cart_type: int = 0x00,
    rom_size_code: int = 0x00,
    ram_size_code: int = 0x00,
) -> None:
    """Write the cartridge header (no Nintendo logo) and both checksums into `rom` in place."""
    if len(rom) < 0x150:
        raise ValueError(f"ROM is {len(rom)} bytes; a header needs at least $150")
    name = title.upper()
    if len(name) > 15 or not all(32 <= ord(ch) < 127 for ch in name):
        raise ValueError(f"title {title!r} must be at most 15 printable ASCII characters")
    for code in (cart_type, rom_size_code, ram_size_code):
        if not 0 <= code <= 255:
            raise ValueError(f"header codes must be 0..255, got {code}")
    rom[0x134:0x143] = name.encode("ascii").ljust(15, b"\0")
    rom[0x143:0x14D] = bytes(
        [0x00, 0x00, 0x00, 0x00, cart_type, rom_size_code, ram_size_code, 0x01, 0x00, 0x00]
    )
    x = 0
    for b in rom[0x134:0x14D]:
        x = (x - b - 1) & 0xFF
    rom[0x14D] = x
    total = (sum(rom) - rom[0x14E] - rom[0x14F]) & 0xFFFF
    rom[0x14E:0x150] = total.to_bytes(2, "big")
