"""Print the gzipped size of the built snippet in bytes; exit 1 when it is over the budget.

Usage: python js/check_size.py [FILE] [--limit BYTES]   (defaults: js/dist/t.js, 1500; issue 3)
"""
import argparse
import gzip
import sys
from pathlib import Path

LIMIT = 1500


def gzipped_size(path):
    """Bytes of ``path`` after gzip at level 9, what a server sends to a browser."""
    return len(gzip.compress(Path(path).read_bytes(), compresslevel=9, mtime=0))


def main(argv=None):
    """Print the size; the exit status says whether it is within the limit."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file", nargs="?", default=Path(__file__).parent / "dist" / "t.js")
    parser.add_argument("--limit", type=int, default=LIMIT)
    args = parser.parse_args(argv)
    size = gzipped_size(args.file)
    print(f"{args.file}: {size} bytes gzipped (limit {args.limit})")
    if size > args.limit:
        print(f"over the limit by {size - args.limit} bytes", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
