"""Print the installed version of each named distribution (for session logs).

Usage: python tools/show_versions.py NAME [NAME ...]
"""

from __future__ import annotations

import sys
from importlib.metadata import PackageNotFoundError, version


def installed(name: str) -> str:
    """``name==version``, or that it is not installed."""
    try:
        return f"{name}=={version(name)}"
    except PackageNotFoundError:
        return f"{name}: not installed"


def main(names: list[str]) -> int:
    for name in names:
        print(installed(name))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
