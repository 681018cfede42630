"""Prove that a package works without the imaging libraries it does not declare.

Usage: python tools/check_isolation.py IMPORT_NAME [FORBIDDEN ...]

Fails if any FORBIDDEN module can be imported in this environment, or if a fresh
interpreter that imports IMPORT_NAME (and every submodule of it) ends up with any
FORBIDDEN module in sys.modules.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys

PROBE = """
import importlib, pkgutil, sys
package = importlib.import_module({name!r})
for module in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
    if not module.name.endswith(".__main__"):  # running it is not importing it
        importlib.import_module(module.name)
loaded = sorted(name for name in {forbidden!r} if name in sys.modules)
print(",".join(loaded))
"""


def main(name: str, forbidden: list[str]) -> int:
    importable = [module for module in forbidden if importlib.util.find_spec(module) is not None]
    if importable:
        print(f"isolation broken: {', '.join(importable)} importable in the {name} session")
        return 1
    probe = PROBE.format(name=name, forbidden=forbidden)
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        print(f"importing {name} and its submodules failed:\n{result.stderr}")
        return 1
    if result.stdout.strip():
        print(f"importing {name} loaded {result.stdout.strip()}")
        return 1
    print(f"isolation ok: {name} imports without {', '.join(forbidden) or 'anything forbidden'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2:]))
