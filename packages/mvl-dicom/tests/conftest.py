"""Shared fixtures: synthetic series written with pydicom, and the real files shipped with pydicom and pydicom-data."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from pydicom.data import get_testdata_file


def real_file(name: str) -> Path:
    """A file shipped with pydicom or pydicom-data, found locally: never downloaded."""
    path = get_testdata_file(name, download=False)
    if path is None:  # the test group installs pydicom-data: its absence is a broken environment
        pytest.fail(f"{name} is not installed: the test dependency pydicom-data is missing")
    return Path(str(path))


@pytest.fixture
def real():
    """``real(name)``: the path of a file shipped with pydicom or pydicom-data."""
    return real_file


@pytest.fixture
def isolated(tmp_path):
    """Copy real files into a folder of their own (pydicom's samples share series UIDs)."""

    def copy(*names: str) -> Path:
        folder = tmp_path / "real"
        folder.mkdir(exist_ok=True)
        for name in names:
            shutil.copy(real_file(name), folder / name)
        return folder / names[0]

    return copy
