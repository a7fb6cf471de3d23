"""Regenerate the committed ``layers/`` of every region pack.

For each pack (the repository root, then ``regions/*``) the layers are written by
:func:`coverage.layers.write_layers`, the library behind ``coverage layers``, for
the register as it stands (year ``None``: existing facilities), into
``<pack>/layers``. ``tests/test_layers.py`` checks that the committed folders match
a fresh regeneration.

Usage::

    python scripts/build_layers.py [--root REPO_ROOT] [--year Y]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from coverage.layers import write_layers
from coverage.region import find_regions, load_region


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", default=Path(__file__).resolve().parent.parent, type=Path,
                        help="repository root (default: this script's repository)")
    parser.add_argument("--year", type=int, default=None,
                        help="facilities open in this year (default: as registered)")
    args = parser.parse_args(argv)
    for pack in find_regions(args.root):
        start = time.perf_counter()
        files = write_layers(load_region(pack), year=args.year)
        size = sum(f.stat().st_size for f in files)
        print(f"{pack}: {len(files)} files, {size / 1e6:.2f} MB, "
              f"{time.perf_counter() - start:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
