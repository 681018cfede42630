"""The fast header scan agrees with pydicom, and refuses broken files with messages that name what is wrong."""

from __future__ import annotations

import glob
import io
import os
import struct
from pathlib import Path

import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from mvl.coords import FormatError, ResourceLimitError
from mvl.dicom import elements as el
from mvl.dicom import open_stack
from mvl.dicom.headers import _scan_with_pydicom, scan_header
from mvl.dicom.sources import Member
from mvl.dicom.testing import write_series


def _real_files():
    folders = {os.path.dirname(str(get_testdata_file("CT_small.dcm", download=False)))}
    external = get_testdata_file("emri_small.dcm", download=False)
    if external:
        folders.add(os.path.dirname(str(external)))
    return sorted(path for folder in folders for path in glob.glob(os.path.join(folder, "*.dcm")))


def _scan(path: Path, data: bytes | None = None):
    data = path.read_bytes() if data is None else data
    return scan_header(Member(str(path), path.name, str(path)), lambda count: data[:count], len(data))


@pytest.mark.parametrize("path", _real_files(), ids=os.path.basename)
def test_fast_scan_finds_what_pydicom_finds(path):
    path = Path(path)
    data = path.read_bytes()
    if path.name == "rtplan_truncated.dcm":  # pydicom reads what is there; we refuse the cut sequence
        with pytest.raises(
            FormatError, match=r"\(300A,00B0\) 'Beam Sequence' claims 976 bytes .*\(truncated or corrupt\)"
        ):
            _scan(path, data)
        return
    fast = _scan(path, data)
    if data[128:132] != b"DICM":
        assert fast is None
        return
    member = Member(str(path), path.name, str(path))
    slow = _scan_with_pydicom(member, lambda count: data[:count], len(data), el.IMAGE_TAGS, "test", 1 << 30)
    assert fast is not None and slow is not None
    assert fast.pixel == slow.pixel
    assert (fast.little_endian, fast.implicit_vr, fast.transfer_syntax) == (
        slow.little_endian,
        slow.implicit_vr,
        slow.transfer_syntax,
    )
    for tag in el.IMAGE_TAGS - {el.SPECIFIC_CHARACTER_SET, el.SHARED_FUNCTIONAL_GROUPS, el.PER_FRAME_FUNCTIONAL_GROUPS}:
        assert fast.values.get(tag) == slow.values.get(tag), el.describe(tag)
    if fast.header_bytes is not None:
        dataset = fast.load_dataset()
        reference = pydicom.dcmread(path, stop_before_pixels=True)
        assert [element.tag for element in dataset] == [element.tag for element in reference]


def test_a_file_without_the_preamble_and_magic_is_not_dicom(tmp_path):
    path = tmp_path / "x.dcm"
    path.write_bytes(b"\0" * 300)
    assert _scan(path) is None


def test_garbage_after_the_magic_is_a_format_error(tmp_path):
    path = tmp_path / "garbage.dcm"
    path.write_bytes(b"\0" * 128 + b"DICM" + os.urandom(2000))
    with pytest.raises(FormatError, match=r"garbage\.dcm: has the DICOM magic but"):
        _scan(path)
    with pytest.raises(FormatError, match=r"garbage\.dcm: has the DICOM magic but"):
        open_stack(path)


def _write_one(tmp_path):
    write_series(tmp_path, shape=(4, 4, 1))
    return next(tmp_path.iterdir())


def test_an_element_whose_length_runs_past_the_end_is_a_format_error(tmp_path):
    path = _write_one(tmp_path)
    data = bytearray(path.read_bytes())
    position = data.index(b"\x20\x00\x32\x00DS")  # (0020,0032), explicit VR little endian
    data[position + 6 : position + 8] = struct.pack("<H", 0xFFF0)
    path.write_bytes(bytes(data)[: position + 100])
    with pytest.raises(
        FormatError,
        match=r"\(0020,0032\) 'Image Position \(Patient\)' claims 65520 bytes at byte \d+, "
        r"but the file ends after \d+ bytes",
    ):
        open_stack(path)


def test_a_file_cut_inside_its_header_is_a_format_error(tmp_path):
    path = _write_one(tmp_path)
    path.write_bytes(path.read_bytes()[:400])
    with pytest.raises(FormatError, match=r"truncated"):
        open_stack(path)


def test_undefined_length_sequences_are_walked_over(tmp_path):
    def nested(dataset, index):
        inner = Dataset()
        inner.CodeValue = "123"
        deeper = Dataset()
        deeper.CodeMeaning = "x" * 40
        inner.ConceptNameCodeSequence = Sequence([deeper])
        dataset.AnatomicRegionSequence = Sequence([inner, inner])
        dataset["AnatomicRegionSequence"].is_undefined_length = True
        dataset.AnatomicRegionSequence[0].is_undefined_length_sequence_item = True
        dataset.add_new(0x00191010, "UN", b"\x01\x02")

    for implicit in (False, True):
        folder = tmp_path / str(implicit)
        write_series(folder, shape=(3, 3, 2), implicit_vr=implicit, edit=nested)
        path = next(folder.iterdir())
        header = _scan(path)
        assert header is not None and header.dataset is None  # the fast path read it
        assert header.floats(el.IMAGE_POSITION) == [float(v) for v in pydicom.dcmread(path).ImagePositionPatient]
        assert open_stack(folder).src_data.shape == (3, 3, 2)


def test_long_headers_are_read_in_more_steps_and_bounded(tmp_path):
    def bulky(dataset, index):
        dataset.add_new(0x00291010, "OB", b"\0" * 100_000)  # a big private element before the pixels

    write_series(tmp_path, shape=(3, 3, 2), edit=bulky)
    assert open_stack(tmp_path).src_data.shape == (3, 3, 2)
    path = next(tmp_path.iterdir())
    data = path.read_bytes()
    with pytest.raises(ResourceLimitError, match=r"header before the pixel data is longer than 50000 bytes"):
        scan_header(Member(str(path), path.name, str(path)), lambda n: data[:n], len(data), max_header_bytes=50_000)


def test_values_decode_strictly():
    assert el.decode_floats(b"1\\2.5 ", el.PIXEL_SPACING, "DS") == [1.0, 2.5]
    with pytest.raises(
        FormatError, match=r"\(0028,0030\) 'Pixel Spacing' holds 'a\\\\b', which is not a list of numbers"
    ):
        el.decode_floats(b"a\\b", el.PIXEL_SPACING, "DS")
    with pytest.raises(FormatError, match=r"\(0028,0010\) 'Rows' holds \[1\.5\], expected whole numbers"):
        el.decode_ints(b"1.5", el.ROWS, "IS")
    assert el.decode_floats(struct.pack(">d", 2.5), 0x00189087, "FD", little_endian=False) == [2.5]


def test_load_dataset_parses_header_bytes_lazily(tmp_path):
    path = _write_one(tmp_path)
    header = _scan(path)
    assert header is not None and header.dataset is None
    dataset = header.load_dataset()
    assert dataset.SeriesDescription == "synthetic"
    assert header.load_dataset() is dataset
    assert io.BytesIO(header.header_bytes).getbuffer().nbytes < path.stat().st_size
