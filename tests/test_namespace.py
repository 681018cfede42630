"""All packages of the repository, installed together: one namespace, versions as declared."""

import importlib
import importlib.metadata
import pathlib

import pytest
import tomllib

import mvl

ROOT = pathlib.Path(__file__).resolve().parent.parent
PACKAGES = {
    pyproject["project"]["name"]: pyproject["tool"]["mvl"]["import-name"]
    for pyproject in (tomllib.loads(path.read_text()) for path in sorted(ROOT.glob("packages/*/pyproject.toml")))
}


def test_mvl_is_a_namespace_package():
    assert getattr(mvl, "__file__", None) is None
    for folder in mvl.__path__:
        assert not (pathlib.Path(folder) / "__init__.py").exists()


@pytest.mark.parametrize(("distribution", "module_name"), sorted(PACKAGES.items()))
def test_every_package_imports_with_its_version(distribution, module_name):
    module = importlib.import_module(module_name)
    assert module.__version__ == importlib.metadata.version(distribution)
