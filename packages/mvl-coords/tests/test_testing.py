"""The conformance kit, run against a toy format, and shown to catch wrong readers."""

import dataclasses
import os
import re
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import pytest

from mvl.coords import FormatError, InputError, SaveError, Volume
from mvl.coords.formats import THREADS, Format
from mvl.coords.heads import peek
from mvl.coords.testing import (
    FormatConformance,
    ReaderConformance,
    WriterConformance,
    assert_same_image,
    raises,
    sample_cases,
    sample_transformation,
)


def toy_open(path, system="RAS"):
    """A minimal honest format: an .npz with the data, a RAS+ matrix and the spatial axes."""
    path = Path(path)
    if not path.is_file():
        raise InputError("no such file", path=path)
    try:
        with np.load(path) as stored:
            return Volume(stored["data"], stored["matrix"], "RAS", tuple(stored["spatial"]), system=system)
    except (OSError, EOFError, ValueError, KeyError, zipfile.BadZipFile) as error:
        raise FormatError(f"not a toy file ({error})", path=path) from error


def toy_save(path, volume, src_order=True):
    path = Path(path)
    if src_order:
        data, matrix, spatial = volume.src_data, volume.get_src_transformation("RAS"), volume.src_spatial_dimensions
    else:
        data, matrix, spatial = volume.aligned_data, volume.get_aligned_transformation("RAS"), (0, 1, 2)
    if data.dtype == object:
        raise SaveError("object arrays cannot be stored", path=path)
    try:
        handle, temporary = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    except OSError as error:
        raise SaveError(f"cannot write there ({error})", path=path) from error
    with os.fdopen(handle, "wb") as stream:
        np.savez(stream, data=data, matrix=matrix, spatial=np.array(spatial))
    os.replace(temporary, path)


class TestToyReader(ReaderConformance):
    suffix = ".npz"

    def open(self, path, system):
        return toy_open(path, system)

    def write_reference(self, directory, data, transformation):
        path = directory / "reference.npz"
        np.savez(path, data=data, matrix=transformation, spatial=np.array([0, 1, 2]))
        return path


class TestToyWriter(WriterConformance):
    suffixes = (".npz",)

    def open(self, path, system):
        return toy_open(path, system)

    def save_volume(self, path, volume, src_order):
        toy_save(path, volume, src_order)


def toy_sniff(path):
    try:
        return peek(path, 4, through=()).stored == b"PK\x03\x04"
    except OSError:
        return False


TOY = Format("toy", "npz toy", (".npz",), toy_sniff, f"{__name__}:toy_open", f"{__name__}:toy_save", (".npz",))


class TestToyFormat(FormatConformance):
    format = TOY

    def write_sample(self, directory):
        path = directory / "sample.npz"
        toy_save(path, Volume(np.zeros((2, 3, 4)), np.eye(4), "RAS"))
        return path


def test_format_kit_catches_an_option_the_saver_does_not_take():
    class Overpromising(TestToyFormat):
        format = dataclasses.replace(TOY, save_options=frozenset({THREADS}))

    with pytest.raises(AssertionError):
        Overpromising().test_loader_and_saver_take_the_declared_options()


def test_format_kit_catches_a_sniff_that_raises(tmp_path):
    def raising(path):
        return Path(path).read_bytes().startswith(b"PK")

    class Careless(TestToyFormat):
        format = dataclasses.replace(TOY, sniff=raising)

    with pytest.raises(OSError):
        Careless().test_sniff_says_no_without_raising(tmp_path)


def test_sample_cases_cover_the_interesting_geometries():
    names = [name for name, _, _ in sample_cases()]
    assert names == ["axis-aligned", "flipped-and-permuted", "oblique"]
    for _, data, transformation in sample_cases(np.float32):
        assert data.dtype == np.float32 and len(np.unique(data)) == data.size
        assert transformation.shape == (4, 4)


def test_assert_same_image_accepts_the_same_image_in_any_layout():
    data = np.arange(60).reshape(3, 4, 5)
    transformation = sample_transformation()
    for system in ("LPS", "SAR"):
        volume = Volume(data, transformation, "RAS", system=system)
        assert_same_image(volume, data, transformation, "RAS")
        aligned = Volume(volume.aligned_data, volume.aligned_transformation, system)
        assert_same_image(aligned, data, transformation, "RAS")
        assert_same_image(aligned, data, volume.get_src_transformation("LPS"), "LPS")


@pytest.mark.parametrize(
    ("mistake", "message"),
    [
        ("flipped data", r"voxels hold other values"),
        ("lost left-right flip", r"mm from the reference's positions|fall outside|other values"),
        ("shifted origin", r"mm from the reference's positions"),
        ("wrong system", r"mm from the reference's positions|other values"),
        ("missing slice", r"cannot hold the reference"),
    ],
)
def test_assert_same_image_catches_wrong_readers(mistake, message):
    data = np.arange(60).reshape(3, 4, 5)
    transformation = sample_transformation()
    wrong = {
        "flipped data": Volume(data[::-1], transformation, "RAS"),
        "lost left-right flip": Volume(data, np.diag([-1, 1, 1, 1]) @ transformation, "RAS"),
        "shifted origin": Volume(data, transformation + _shift(), "RAS"),
        "wrong system": Volume(data, transformation, "LPS"),
        "missing slice": Volume(data[:2], transformation, "RAS"),
    }[mistake]
    with pytest.raises(AssertionError, match=message):
        assert_same_image(wrong, data, transformation, "RAS")


def _shift():
    shift = np.zeros((4, 4))
    shift[:3, 3] = (0.0, 0.0, 1.0)
    return shift


def test_raises_helper():
    with raises(ValueError, match="needle"):
        raise ValueError("haystack needle")
    with pytest.raises(AssertionError, match="does not match"), raises(ValueError, match="needle"):
        raise ValueError("haystack")
    with pytest.raises(AssertionError, match="nothing was"), raises(ValueError):
        pass
    with pytest.raises(KeyError), raises(ValueError):
        raise KeyError("other types pass through")


def test_kit_catches_a_writer_that_loses_the_existing_file(tmp_path):
    class CarelessWriter(TestToyWriter):
        def save_volume(self, path, volume, src_order):
            Path(path).write_bytes(b"")  # truncates before failing
            raise SaveError("failed", path=path)

    with pytest.raises(AssertionError):
        CarelessWriter().test_failed_save_keeps_existing_file(tmp_path)


def test_error_messages_name_the_file(tmp_path):
    (tmp_path / "x.npz").write_bytes(b"junk")
    with pytest.raises(FormatError, match=re.escape(str(tmp_path / "x.npz"))):
        toy_open(tmp_path / "x.npz")
