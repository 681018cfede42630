"""Check built distributions: layout, versions, and that the wheels import together.

Usage: python tools/check_dists.py DIST_DIR PACKAGE_FOLDER ...

- no wheel has a file directly under mvl/ (it would break the PEP 420 namespace);
- every mvl-* wheel ships py.typed;
- every sdist and wheel is present for each package;
- the in-repo version of each package satisfies every other package's range on it;
- all wheels install into one fresh virtual environment (uv) and import there,
  from a folder outside the repository.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import tomllib
from packaging.requirements import Requirement
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent


def package_info(folder: str) -> tuple[str, Version, list[Requirement], str]:
    pyproject = tomllib.loads((ROOT / "packages" / folder / "pyproject.toml").read_text())
    project = pyproject["project"]
    version_file = ROOT / "packages" / folder / pyproject["tool"]["hatch"]["version"]["path"]
    match = re.search(r'__version__\s*=\s*"([^"]+)"', version_file.read_text())
    if match is None:
        raise SystemExit(f"{version_file}: no __version__")
    requirements = [Requirement(text) for text in project.get("dependencies", [])]
    for extra in project.get("optional-dependencies", {}).values():
        requirements += [Requirement(text) for text in extra]
    return project["name"], Version(match.group(1)), requirements, pyproject["tool"]["mvl"]["import-name"]


def main(dist: Path, folders: list[str]) -> int:
    problems: list[str] = []
    infos = {folder: package_info(folder) for folder in folders}
    versions = {name: version for name, version, _, _ in infos.values()}
    for name, version, requirements, _ in infos.values():
        problems.extend(
            f"{name} needs {requirement}, the repository has {requirement.name} {versions[requirement.name]}"
            for requirement in requirements
            if requirement.name in versions and versions[requirement.name] not in requirement.specifier
        )
        stem = name.replace("-", "_")
        wheels = list(dist.glob(f"{stem}-{version}-*.whl"))
        sdists = list(dist.glob(f"{stem}-{version}.tar.gz"))
        if len(wheels) != 1 or len(sdists) != 1:
            problems.append(f"{name} {version}: expected one wheel and one sdist, found {wheels + sdists}")
            continue
        members = zipfile.ZipFile(wheels[0]).namelist()
        stray = [m for m in members if re.fullmatch(r"mvl/[^/]+", m)]
        if stray:
            problems.append(f"{wheels[0].name}: files directly under mvl/ break the namespace: {stray}")
        if name.startswith("mvl-") and not any(m.endswith("/py.typed") for m in members):
            problems.append(f"{wheels[0].name}: no py.typed")
    if problems:
        print("\n".join(problems))
        return 1
    with tempfile.TemporaryDirectory() as scratch:
        venv = Path(scratch) / "venv"
        subprocess.run(["uv", "venv", "--quiet", str(venv)], check=True)
        python = venv / "bin" / "python"
        wheels = sorted(str(path) for path in dist.glob("*.whl"))
        subprocess.run(["uv", "pip", "install", "--quiet", "--python", str(python), *wheels], check=True)
        imports = "; ".join(f"import {import_name}" for _, _, _, import_name in infos.values())
        subprocess.run([str(python), "-c", imports], check=True, cwd=scratch)
    print(f"dists ok: {', '.join(f'{n} {v}' for n, v in versions.items())} built, checked and imported")
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]), sys.argv[2:]))
