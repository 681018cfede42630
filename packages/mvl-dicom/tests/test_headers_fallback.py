"""The header scan's slow path: which files go to pydicom, that it is logged, and what is read there."""

from __future__ import annotations

import io
import logging
import struct
from pathlib import Path

import pydicom
import pytest

from mvl.coords import FormatError
from mvl.dicom import elements as el
from mvl.dicom.headers import PixelInfo, UnreadableHeader, scan_header
from mvl.dicom.sources import Member
from mvl.dicom.testing import write_series


def _scan(path: Path, data: bytes | None = None):
    data = path.read_bytes() if data is None else data
    return scan_header(Member(str(path), path.name, str(path)), lambda count: data[:count], len(data))


def test_each_file_read_with_pydicom_is_logged_with_the_reason(real, caplog):
    caplog.set_level(logging.DEBUG, logger="mvl.dicom")
    deflated = real("image_dfl.dcm")
    header = _scan(deflated)
    assert header is not None and header.dataset is not None
    (record,) = [record for record in caplog.records if record.name.startswith("mvl.dicom")]
    assert record.name == "mvl.dicom.headers" and record.levelno == logging.DEBUG
    assert record.getMessage() == (
        f"{deflated}: the fast header walk stops (deflated transfer syntax); reading the file with pydicom"
    )


def test_files_the_fast_walk_reads_are_not_logged(tmp_path, caplog):
    caplog.set_level(logging.DEBUG, logger="mvl.dicom")
    write_series(tmp_path, shape=(3, 3, 2))
    for path in sorted(tmp_path.iterdir()):
        header = _scan(path)
        assert header is not None and header.dataset is None
    assert not [record for record in caplog.records if record.name.startswith("mvl.dicom")]


def test_an_unknown_value_representation_is_logged_where_it_is(tmp_path, caplog):
    write_series(tmp_path, shape=(3, 3, 1))
    path = next(tmp_path.iterdir())
    data = bytearray(path.read_bytes())
    position = data.index(b"\x08\x00\x60\x00CS")  # (0008,0060) 'Modality'
    data[position + 4 : position + 6] = b"XX"
    caplog.set_level(logging.DEBUG, logger="mvl.dicom")
    header = _scan(path, bytes(data))
    assert header is not None and header.dataset is not None
    assert header.text(el.MODALITY) == "CT"
    assert f"unknown value representation b'XX' at byte {position}" in caplog.records[-1].getMessage()


@pytest.mark.filterwarnings("ignore:Expected explicit VR, but found implicit VR")
def test_the_pixel_data_of_a_data_set_pydicom_reads_as_implicit_is_found_in_that_encoding(real):
    # Regression: SC_rgb_jpeg.dcm says explicit VR in its transfer syntax, but its data set is
    # implicit VR; pydicom reads it as such (with a warning). The pixel data element after
    # pydicom's read used to be decoded as explicit VR: a length of 65535 instead of undefined.
    path = real("SC_rgb_jpeg.dcm")
    header = _scan(path)
    assert header is not None and header.dataset is not None
    reference = pydicom.dcmread(path).get_item(el.PIXEL_DATA)
    assert reference.length == 0xFFFFFFFF
    assert header.pixel == PixelInfo(el.PIXEL_DATA, reference.value_tell, None)


def test_a_file_cut_inside_its_file_meta_information_is_truncated(tmp_path):
    # Regression: a file cut inside an element header of its file meta information was handed
    # to pydicom, which read it as a DICOM file without pixel data (skipped without a word).
    write_series(tmp_path, shape=(3, 3, 1))
    path = next(tmp_path.iterdir())
    data = path.read_bytes()
    transfer = data.index(b"\x02\x00\x10\x00UI")
    for cut in (132 + 4, transfer + 4):
        with pytest.raises(UnreadableHeader, match=r"the file ends inside a data element header at byte \d+ \(trunc"):
            _scan(path, data[:cut])


def test_a_pixel_data_element_whose_vr_is_broken_is_refused(tmp_path):
    # Regression: after a pydicom read, a pixel data element with an unknown VR was read with
    # the 2-byte length of a short VR, a wrong length.
    write_series(tmp_path, shape=(3, 3, 1))
    path = next(tmp_path.iterdir())
    data = bytearray(path.read_bytes())
    modality = data.index(b"\x08\x00\x60\x00CS")  # an unknown VR before it: the fast walk hands the file over
    data[modality + 4 : modality + 6] = b"XX"
    position = data.index(b"\xe0\x7f\x10\x00OW")
    data[position + 4 : position + 6] = b"O\x01"
    with pytest.raises(FormatError, match=r"\(7FE0,0010\) 'Pixel Data' at byte \d+ has the value representation b'O"):
        _scan(path, bytes(data))


def test_the_fast_walk_keeps_reading_past_the_first_16_kib(tmp_path):
    def long_values(dataset, index):
        dataset.add_new(0x00091010, "LO", "MVL TEST")
        dataset.add_new(0x00091011, "UT", "x" * 40_000)
        dataset.add_new(0x00091012, "OB", struct.pack("<L", 7) * 10_000)

    write_series(tmp_path, shape=(3, 3, 1), edit=long_values)
    path = next(tmp_path.iterdir())
    reads: list[int] = []
    data = path.read_bytes()

    def read_prefix(count: int) -> bytes:
        reads.append(count)
        return data[:count]

    keep = frozenset({0x00091011, el.SERIES_INSTANCE_UID})
    header = scan_header(Member(str(path), path.name, str(path)), read_prefix, len(data), keep=keep)
    assert header is not None and header.dataset is None and len(reads) > 1
    reference = pydicom.dcmread(io.BytesIO(data), stop_before_pixels=True)
    assert header.values[0x00091011] == reference.get_item(0x00091011).value


def test_an_empty_element_of_an_unknown_vr_is_kept_empty(tmp_path):
    # Regression: reading such an element from pydicom's dataset converted it, which raised
    # NotImplementedError out of the scan (found by the broken-file test against pydicom).
    write_series(tmp_path, shape=(3, 3, 1))
    path = next(tmp_path.iterdir())
    original = path.read_bytes()
    position = original.index(b"\x08\x00\x60\x00CS\x02\x00CT")  # (0008,0060) 'Modality'
    data = original[:position] + b"\x08\x00\x60\x00XX\x00\x00" + original[position + 10 :]
    header = _scan(path, data)
    assert header is not None and header.dataset is not None
    assert header.values[el.MODALITY] == b""


def test_what_pydicom_raises_on_a_broken_file_is_a_format_error_naming_it(real, tmp_path):
    # Regression: pydicom's BytesLengthException (a value whose length does not fit its VR) and
    # zlib's error (a broken deflated data set) came out of the scan as they were.
    write_series(tmp_path, shape=(3, 3, 1))
    path = next(tmp_path.iterdir())
    data = bytearray(path.read_bytes())
    length = data.index(b"\x02\x00\x00\x00UL\x04\x00")  # (0002,0000) 'File Meta Information Group Length'
    data[length + 6 : length + 8] = b"\x06\x00"  # 6 bytes: no UL
    data[length + 8 : length + 8] = b"\0\0"
    syntax = data.index(b"\x02\x00\x10\x00UI")
    data[syntax : syntax + 4] = b"\x02\x00\x11\x00"  # no transfer syntax: the fast walk hands it over
    with pytest.raises(UnreadableHeader, match=r"cannot read the file as DICOM \(no transfer syntax .*pydicom: Exp"):
        _scan(path, bytes(data))
    deflated = bytearray(real("image_dfl.dcm").read_bytes())
    deflated[-200:] = bytes(200)
    with pytest.raises(UnreadableHeader, match=r"image_dfl\.dcm: cannot read the file as DICOM \(deflated transfer"):
        _scan(real("image_dfl.dcm"), bytes(deflated))
