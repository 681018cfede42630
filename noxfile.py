"""The one task runner of the mvl monorepo.

`./dev` (or `nox`, if installed) with no arguments runs what CI needs; `./dev -l` lists
every session. Packages are found under `packages/`; each one's test session installs
only that package, the in-repo packages it depends on, and its `test` dependency group,
and proves that the imports its `[tool.mvl] forbidden-imports` names are not available.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import nox
from packaging.requirements import Requirement

nox.needs_version = ">=2025.2.9"
nox.options.default_venv_backend = "uv"
nox.options.sessions = ["lint", "types", "tests", "lowest", "slim", "cross", "build", "docs", "demo"]

ROOT = Path(__file__).parent
PYPROJECT = nox.project.load_toml(ROOT / "pyproject.toml")
PACKAGES = {
    path.name: nox.project.load_toml(path / "pyproject.toml")
    for path in sorted((ROOT / "packages").iterdir())
    if (path / "pyproject.toml").is_file()
}


def local_requirements(package: str, extras: str = "") -> list[str]:
    """Paths of `package` and every in-repo package it needs, dependencies first.

    In-repo dependencies are installed from their folders, so an unreleased core
    satisfies the format packages' ranges without a package index.
    """
    ordered, _ = _closure(package, extras)
    paths = [f"./packages/{name}" for name in ordered]
    if extras:
        paths[-1] += f"[{extras}]"
    return paths


def _closure(package: str, extras: str = "") -> tuple[list[str], list[str]]:
    """The in-repo packages `package` (with `extras`) needs, dependencies first, and the
    third-party requirements they declare (for the chosen extras)."""
    ordered: list[str] = []
    third_party: list[str] = []

    def visit(name: str, chosen_extras: set[str]) -> None:
        project = PACKAGES[name]["project"]
        requirements = list(project.get("dependencies", []))
        for extra in chosen_extras:
            requirements += project.get("optional-dependencies", {}).get(extra, [])
        for text in requirements:
            requirement = Requirement(text)
            if requirement.name not in PACKAGES:
                third_party.append(text)
            elif requirement.name != name:
                visit(requirement.name, set(requirement.extras))
        if name not in ordered:
            ordered.append(name)

    visit(package, set(extras.split(",")) - {""})
    return ordered, sorted(set(third_party))


def _all_requirements(project: dict[str, object]) -> list[str]:
    """Run-time requirements of a package, its optional ones included."""
    extras = project.get("optional-dependencies", {})
    return list(project.get("dependencies", [])) + [text for group in extras.values() for text in group]


def group(pyproject: dict[str, object], name: str) -> tuple[str, ...]:
    return nox.project.dependency_groups(pyproject, name)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff check and ruff format --check over the whole repository."""
    session.install(*group(PYPROJECT, "lint"))
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session
def types(session: nox.Session) -> None:
    """mypy --strict over the sources of every package."""
    third_party = [
        str(requirement)
        for pyproject in PACKAGES.values()
        for requirement in map(Requirement, _all_requirements(pyproject["project"]))
        if requirement.name not in PACKAGES
    ]
    session.install(*group(PYPROJECT, "types"), *third_party)
    sources = [f"packages/{name}/src" for name in PACKAGES]
    modules = [arg for pyproject in PACKAGES.values() for arg in ("-p", pyproject["tool"]["mvl"]["import-name"])]
    session.run("mypy", *modules, env={"MYPYPATH": ":".join(sources)})


@nox.session
@nox.parametrize("package", list(PACKAGES))
def tests(session: nox.Session, package: str) -> None:
    """One package alone: its own tests and doctests, with only its declared dependencies."""
    pyproject = PACKAGES[package]
    settings = pyproject["tool"]["mvl"]
    session.install(*local_requirements(package, settings.get("test-extras", "")), *group(pyproject, "test"))
    import_name = settings["import-name"]
    session.run("python", "tools/check_isolation.py", import_name, *settings.get("forbidden-imports", []))
    session.run("pytest", f"packages/{package}/tests", *session.posargs)
    session.run("pytest", "--doctest-modules", "--pyargs", import_name)


@nox.session
@nox.parametrize("package", list(PACKAGES))
def lowest(session: nox.Session, package: str) -> None:
    """One package's tests with the oldest versions its declared ranges allow (numpy 1.24, ...).

    The floors of the run-time requirements are what users may have installed; the test
    group's floors are checked too, so that no range here promises more than it keeps.
    """
    pyproject = PACKAGES[package]
    extras = pyproject["tool"]["mvl"].get("test-extras", "")
    _, third_party = _closure(package, extras)
    # Every declared floor is named on the command line, so "lowest-direct" takes exactly it.
    session.install(
        *local_requirements(package, extras), *third_party, *group(pyproject, "test"), "--resolution", "lowest-direct"
    )
    names = sorted({Requirement(text).name for text in (*third_party, *group(pyproject, "test"))})
    session.run("python", "tools/show_versions.py", *names)
    session.run("pytest", f"packages/{package}/tests", *session.posargs)


@nox.session
def slim(session: nox.Session) -> None:
    """A fresh environment with only `mvloader[nifti]`: NIfTI works, the others name their extra."""
    session.install(*local_requirements("mvloader", "nifti"), "pytest>=8.1")
    session.run("pytest", "packages/mvloader/tests_slim", *session.posargs)


@nox.session
def cross(session: nox.Session) -> None:
    """Cross-package tests (tests/): every package installed together, peers as references."""
    # With the extras of each package's own tests: the real data includes JPEG-compressed DICOM (codecs).
    everything = {
        path
        for name, pyproject in PACKAGES.items()
        for path in local_requirements(name, pyproject["tool"]["mvl"].get("test-extras", ""))
    }
    session.install(*sorted(everything), *group(PYPROJECT, "cross"))
    session.run("pytest", "tests", *session.posargs)


@nox.session
def build(session: nox.Session) -> None:
    """Wheel and sdist of every package, checked, and installed together in a fresh venv."""
    session.install(*group(PYPROJECT, "build"))
    dist = ROOT / "dist"
    shutil.rmtree(dist, ignore_errors=True)
    for name in PACKAGES:
        session.run("uv", "build", "--quiet", "--out-dir", str(dist), f"packages/{name}")
    built = sorted(str(path) for pattern in ("*.whl", "*.tar.gz") for path in dist.glob(pattern))
    session.run("twine", "check", "--strict", *built)
    session.run("python", "tools/check_dists.py", str(dist), *PACKAGES)


# The built site: every example a code block, no broken link or image, every page of docs/
# built and in a toctree, and the API reference one click away from every page.
CHECK_HTML = ["docs/_build/html", "--sources", "docs"]
CHECK_HTML += ["--linked-from-every-page", "api/mvloader.html", "--linked-from-every-page", "api/coords.html"]


def _build_docs(session: nox.Session) -> None:
    everything = {path for name in PACKAGES for path in local_requirements(name)}
    session.install(*sorted(everything), *group(PYPROJECT, "docs"))
    shutil.rmtree(ROOT / "docs" / "_build", ignore_errors=True)
    session.run("sphinx-build", "-W", "--keep-going", "-q", "-b", "html", "docs", "docs/_build/html")


@nox.session
def docs(session: nox.Session) -> None:
    """The Sphinx site, built warning-free, checked as a reader sees it, and the examples in its pages run."""
    _build_docs(session)
    # What a reader sees (CHECK_HTML), then the examples of the Markdown pages as doctests.
    session.run("pytest", "tools/tests/test_check_html.py")
    session.run("python", "tools/check_html.py", *CHECK_HTML)
    session.run("pytest", "--doctest-glob=*.md", "docs")


@nox.session(default=False)
def screenshots(session: nox.Session) -> None:
    """The docs built and rendered by headless Chromium into docs/_build/screenshots/*.png.

    Not run by default (it needs Chromium, which it installs from Debian when missing).
    """
    chromium = shutil.which("chromium")
    if chromium is None:
        if shutil.which("apt-get") is None or os.geteuid() != 0:
            session.error("needs Debian's chromium package: run `sudo apt-get install chromium`, then this again")
        session.run("apt-get", "update", "-q", external=True)
        session.run("apt-get", "install", "-y", "-q", "--no-install-recommends", "chromium", external=True)
        chromium = shutil.which("chromium") or "/usr/bin/chromium"
    _build_docs(session)
    session.run("python", "tools/check_html.py", *CHECK_HTML)
    session.run("python", "tools/screenshots.py", "docs/_build/html", "docs/_build/screenshots", "--chromium", chromium)


@nox.session
def bench(session: nox.Session) -> None:
    """Speed and memory against the peers, side by side in one run; prints ratios."""
    everything = {path for name in PACKAGES for path in local_requirements(name)}
    # Bytecode as pip installs it: without it every fresh process (batch workers, the
    # peers' imports) compiles modules from source, which no user's installation does.
    session.install(*sorted(everything), *group(PYPROJECT, "bench"), env={"UV_COMPILE_BYTECODE": "1"})
    session.run("python", "benchmarks/run.py", *session.posargs)


@nox.session
def demo(session: nox.Session) -> None:
    """The main job: the `mvl` command on the bundled example data (writes demo-output/)."""
    session.install(*local_requirements("mvloader", "all"))
    session.run("python", "examples/demo.py", *session.posargs)
