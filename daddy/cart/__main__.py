"""`python -m daddy.cart build --out PATH`: write the practice cartridge ROM."""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

from daddy.cart.build import build_rom
from daddy.io import atomic_write_bytes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m daddy.cart", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="assemble the practice cartridge")
    b.add_argument("--out", type=Path, required=True, help="where to write the .gb file")
    args = parser.parse_args(argv)
    rom = build_rom()
    try:
        atomic_write_bytes(args.out, rom)
    except OSError as e:
        print(f"daddy.cart: cannot write {args.out}: {e.strerror}", file=sys.stderr)
        return 1
    print(f"wrote {args.out} ({len(rom)} bytes, sha1 {hashlib.sha1(rom).hexdigest()})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
