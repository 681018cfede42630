import os
import pickle
import re
from collections import OrderedDict

import nrrd
import numpy as np
import pytest

from mvl.coords import (
    FormatError,
    InputError,
    MvlError,
    NoImageDataError,
    ResourceLimitError,
    UnsupportedFormatError,
    Volume,
)
from mvl.coords.testing import ReaderConformance, assert_same_image
from mvl.nrrd import NrrdSource, open_image


class TestNrrdReader(ReaderConformance):
    """The conformance kit, on files pynrrd wrote (space RAS, one direction per axis)."""

    suffix = ".nrrd"
    reference_system = "RAS"

    def open(self, path, system):
        return open_image(path, system=system)

    def write_reference(self, directory, data, transformation):
        path = directory / "reference.nrrd"
        header = {
            "space": "right-anterior-superior",
            "space directions": transformation[:3, :3].T,
            "space origin": transformation[:3, 3],
        }
        nrrd.write(str(path), data, header)  # index_order "F": data[i, j, k] with i fastest, as NRRD
        return path


class TestNhdrReader(TestNrrdReader):
    suffix = ".nhdr"

    def write_reference(self, directory, data, transformation):
        path = directory / "reference.nhdr"
        header = {
            "space": "RAS",
            "space directions": transformation[:3, :3].T,
            "space origin": transformation[:3, 3],
            "encoding": "raw",
        }
        nrrd.write(str(path), data, header)
        return path


def test_src_object_unpacks_like_nrrd_read(make_nrrd):
    path = make_nrrd({"my key": "my value"})
    volume = open_image(path)
    data, header = volume.src_object
    expected_data, expected_header = nrrd.read(str(path))
    assert data is volume.src_data
    np.testing.assert_array_equal(data, expected_data)
    assert list(header) == list(expected_header)
    assert header["my key"] == "my value"
    source = volume.src_object
    assert isinstance(source, NrrdSource) and isinstance(source, tuple) and len(source) == 2
    assert source.path == path and source.data_path is None and not source.detached
    assert source._fields == ("data", "header")


def test_src_object_survives_pickling(make_nrrd):
    source = open_image(make_nrrd(), mmap=False).src_object
    again = pickle.loads(pickle.dumps(source))
    assert again.path == source.path
    np.testing.assert_array_equal(again.data, source.data)
    assert isinstance(again.header, OrderedDict)


@pytest.mark.parametrize("position", [0, 1, 2, 3])
def test_vector_axis_at_any_position(make_nrrd, position):
    shape = [2, 3, 4]
    shape.insert(position, 5)
    values = np.arange(np.prod(shape), dtype="<i2")
    directions = ["(0,0,2)", "(0,-1.5,0)", "(0.5,0,0)"]
    directions.insert(position, "none")
    kinds = ["domain"] * 3
    kinds.insert(position, "3-vector" if position % 2 else "RGB-color")
    path = make_nrrd(
        {
            "dimension": "4",
            "sizes": " ".join(map(str, shape)),
            "space directions": " ".join(directions),
            "kinds": " ".join(kinds),
            "space origin": "(1,2,3)",
        },
        body=values.tobytes(),
    )
    volume = open_image(path, system="RAS")
    spatial = tuple(axis for axis in range(4) if axis != position)
    assert volume.src_spatial_dimensions == spatial
    data = values.reshape(shape, order="F")
    matrix = np.array([[0, 0, 0.5, 1], [0, -1.5, 0, 2], [2, 0, 0, 3], [0, 0, 0, 1]])
    assert_same_image(volume, data, matrix, "LPS", spatial_dimensions=spatial)
    assert volume.aligned_data.shape == (4, 3, 2, 5)  # spatial first, the vector axis last


def test_two_non_spatial_axes(make_nrrd):
    values = np.arange(2 * 3 * 4 * 5 * 6, dtype="<i2")
    path = make_nrrd(
        {
            "dimension": "5",
            "sizes": "5 2 3 4 6",
            "space directions": "none (1,0,0) (0,1,0) (0,0,1) none",
            "kinds": "vector domain domain domain time",
        },
        body=values.tobytes(),
    )
    volume = open_image(path, system="LPS")
    assert volume.src_spatial_dimensions == (1, 2, 3)
    assert volume.aligned_data.shape == (2, 3, 4, 5, 6)


def test_path_problems_are_input_errors(tmp_path):
    with pytest.raises(InputError, match=r"missing.nrrd: no such file"):
        open_image(tmp_path / "missing.nrrd")
    with pytest.raises(InputError, match="is a folder"):
        open_image(tmp_path)
    os.mkfifo(tmp_path / "fifo.nrrd")
    with pytest.raises(InputError, match="is not a regular file"):
        open_image(tmp_path / "fifo.nrrd")
    (tmp_path / "empty.nrrd").write_bytes(b"")
    with pytest.raises(NoImageDataError, match=r"empty.nrrd: the file is empty"):
        open_image(tmp_path / "empty.nrrd")


def test_garbage_and_other_formats(tmp_path):
    for name, blob in [("a.nrrd", b"\x89HDF\r\n\x1a\n" + bytes(100)), ("b.nrrd", b"NRR"), ("c.nrrd", b"\n" * 10)]:
        (tmp_path / name).write_bytes(blob)
        with pytest.raises(UnsupportedFormatError, match=re.escape(name) + ": not an NRRD file"):
            open_image(tmp_path / name)


def test_every_error_is_an_mvl_error_naming_the_file(make_nrrd):
    for changes in ({"sizes": "x"}, {"space": "banana"}, {"space directions": "(0,0,0) (0,1,0) (0,0,1)"}):
        path = make_nrrd(changes)
        with pytest.raises(MvlError, match=re.escape(str(path))):
            open_image(path)


def test_system_and_aligned_view(make_nrrd):
    volume = open_image(make_nrrd({"space directions": "(0,0,-2) (0,1,0) (1,0,0)"}), system="ASL")
    assert volume.system == "ASL"
    assert isinstance(volume, Volume)
    assert volume.aligned_data.shape == (3, 2, 4)


@pytest.mark.parametrize(
    ("changes", "error", "message"),
    [
        ({"type": "complex"}, FormatError, "header field 'type' is 'complex', not an NRRD type"),
        ({"encoding": "zstd"}, FormatError, "header field 'encoding' is 'zstd', not an NRRD encoding"),
        ({"sizes": "2 -3 4"}, FormatError, "header field 'sizes' must be positive integers"),
        ({"sizes": "99999999999 99999999999 99999999999"}, ResourceLimitError, "absurd amount of data"),
        ({"sizes": "200000 300000 4"}, FormatError, "holds 48 bytes, fewer than the 480000000000"),
        ({"dimension": "4"}, FormatError, "'sizes' lists 3 axes but 'dimension' is 4"),
    ],
)
def test_bad_storage_fields_end_to_end(make_nrrd, changes, error, message):
    path = make_nrrd(changes)
    with pytest.raises(error, match=re.escape(str(path)) + ".*" + message):
        open_image(path)
