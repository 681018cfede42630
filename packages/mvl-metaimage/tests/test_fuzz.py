"""Damaged files: every truncation and many corruptions either load or raise our error naming the file."""

import warnings

import numpy as np
import pytest

from mvl.coords import MvlError
from mvl.coords.testing import sample_transformation
from mvl.metaimage import open_image, save_image


def damaged_loads(path, blob):
    path.write_bytes(blob)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            open_image(path, mmap=False)
        except MvlError as error:
            named = error.path
        else:
            return True
    assert named == str(path)
    return False


@pytest.mark.parametrize("compress", [False, True])
def test_every_truncation(tmp_path, compress):
    data = np.arange(3 * 4 * 5, dtype=np.int16).reshape(3, 4, 5)
    save_image(tmp_path / "good.mha", data, sample_transformation(), compress=compress)
    blob = (tmp_path / "good.mha").read_bytes()
    outcomes = [damaged_loads(tmp_path / "cut.mha", blob[:length]) for length in range(len(blob))]
    assert not any(outcomes), "a truncated file loaded"


@pytest.mark.parametrize("compress", [False, True])
def test_corrupted_bytes(tmp_path, compress):
    data = np.arange(3 * 4 * 5, dtype=np.int16).reshape(3, 4, 5)
    save_image(tmp_path / "good.mha", data, sample_transformation(), compress=compress)
    blob = bytearray((tmp_path / "good.mha").read_bytes())
    rng = np.random.default_rng(7)
    for position in rng.integers(0, len(blob), 300):
        for value in (rng.integers(0, 256), ord("="), ord("\n"), ord("-"), ord("9")):
            damaged = bytearray(blob)
            damaged[position] = value
            damaged_loads(tmp_path / "bad.mha", bytes(damaged))  # loads or raises MvlError, nothing else


def test_random_header_lines(tmp_path):
    rng = np.random.default_rng(11)
    keys = ["NDims", "DimSize", "ElementType", "ElementSpacing", "Offset", "TransformMatrix", "HeaderSize",
            "CompressedData", "CompressedDataSize", "ElementNumberOfChannels", "BinaryData", "ElementDataFile",
            "AnatomicalOrientation", "ElementByteOrderMSB"]  # fmt: skip
    values = ["3", "2 3 4", "-1", "0", "1e308", "nan", "MET_SHORT", "MET_FLOAT", "True", "LOCAL", "x%d.raw 0 3",
              "LIST", "RAI", "1 0 0 0 1 0 0 0 1", "99999999999999999999", "", "../x"]  # fmt: skip
    for _ in range(400):
        chosen = rng.choice(keys, rng.integers(1, 8), replace=False)
        lines = ["ObjectType = Image", *(f"{key} = {rng.choice(values)}" for key in chosen)]
        blob = ("\n".join(lines) + "\n").encode() + rng.bytes(int(rng.integers(0, 200)))
        damaged_loads(tmp_path / "random.mha", blob)
