"""``python -m apis [--check]``: write crds/ from the models, or fail if it is out of date."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from apis.crd import crd_files

CRDS = Path(__file__).resolve().parent.parent / "crds"


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m apis", description=__doc__)
    parser.add_argument("--check", action="store_true", help="only report stale files")
    args = parser.parse_args()
    stale = [p for p, text in crd_files(CRDS).items() if not p.exists() or p.read_text() != text]
    if args.check:
        for path in stale:
            print(f"out of date: {path} (run `python -m apis`)", file=sys.stderr)
        return 1 if stale else 0
    CRDS.mkdir(exist_ok=True)
    for path, text in crd_files(CRDS).items():
        path.write_text(text)
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
