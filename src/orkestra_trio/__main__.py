"""``python -m orkestra_trio``: the command line."""

from orkestra_trio.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
