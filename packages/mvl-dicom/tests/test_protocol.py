"""Siemens' protocol text (mvl.dicom.protocol): the ASCCONV lines, and the slice timing their slice mode implies."""

from __future__ import annotations

import pytest

from mvl.dicom.protocol import ascconv, protocol_slice_timing
from mvl.dicom.testing_mosaic import ascconv_text, csa_header


def test_the_block_is_found_inside_the_csa_series_header_and_its_lines_read():
    text = ascconv_text({"sSliceArray.ucMode": 2, "alTR[0]": 2500000, "tProtocolName": '"ep2d_bold"'})
    data = csa_header({"UsedPatientWeight": 70, "MrPhoenixProtocol": "<XProtocol> {}\n" + text + "\n tail"})
    lines = ascconv(data)
    assert lines == {"sSliceArray.ucMode": "0x2", "alTR[0]": "2500000", "tProtocolName": '"ep2d_bold"'}


def test_comments_blank_lines_and_repeated_keys_keep_the_first_value():
    data = b"### ASCCONV BEGIN object=MrProtDataImpl@MrProtocolData ###\n\n  a.b = 1 # one\nnot a line\na.b = 2\n"
    assert ascconv(data + b"### ASCCONV END ###") == {"a.b": "1"}
    assert ascconv(data) == {"a.b": "1"}  # an unterminated block ends with the data
    assert ascconv(b"no protocol here") == {}


@pytest.mark.parametrize(
    ("lines", "count", "tr"),
    [
        ({"sSliceArray.ucMode": "0x1"}, 5, None),  # no repetition time
        ({"sSliceArray.ucMode": "0x1"}, 5, 0.0),
        ({"sSliceArray.ucMode": "0x8"}, 5, 2000.0),  # not a mode dcm2niix knows
        ({"sSliceArray.ucMode": "fast"}, 5, 2000.0),
        ({"sSliceArray.ucMode": "0x1", "lDelayTimeInTR": "2000000"}, 5, 2000.0),  # the delay takes the whole TR
        ({}, 5, 2000.0),
        ({"sSliceArray.ucMode": "0x1"}, 0, 2000.0),
    ],
)
def test_what_the_protocol_does_not_say_gives_no_timing(lines, count, tr):
    assert protocol_slice_timing(lines, count, tr) is None


def test_one_slice_was_acquired_at_zero():
    assert protocol_slice_timing({"sSliceArray.ucMode": "0x4"}, 1, 2000.0) == (0.0,)
