"""The walker's reading of functional groups (mvl.dicom.groups) against pydicom's, on every enhanced object at hand.

For each file: the per-frame mapping of tag to value, the frames' geometry and
acquisition values and the loaded volume are the same whether the walker or pydicom read
the functional groups (issue 15). Mutated files give an error of ours, or the same result.
"""

from __future__ import annotations

import logging
import os
import random
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from pydicom.sequence import Sequence

from mvl.coords import MvlError
from mvl.dicom import elements as el
from mvl.dicom import groups, multiframe, open_stack, vendor
from mvl.dicom.acquisition import acquisition_of
from mvl.dicom.frame import Frame
from mvl.dicom.headers import Header, scan_header
from mvl.dicom.sources import Member
from mvl.dicom.testing import oblique_transformation, write_enhanced
from mvl.dicom.walk import Fallback

REALDATA = Path(os.environ.get("MVL_REALDATA", Path(__file__).resolve().parents[4] / "shared" / "realdata"))
REAL_FOLDERS = ("dcm_qa_enh/In", "dcm_qa_xa30/In")
PYDICOM_FILES = ("eCT_Supplemental.dcm", "liver.dcm", "liver_expb.dcm", "liver_1frame.dcm", "liver_expb_1frame.dcm")
REAL_FIELD_MAP = "dcm_qa_xa30/In/9_gre_field_mapping"
KEEP = el.IMAGE_TAGS | vendor.PRIVATE_TAGS


def _scan(path: Path, data: bytes | None = None) -> Header:
    data = path.read_bytes() if data is None else data
    header = scan_header(Member(str(path), path.name, str(path)), lambda count: data[:count], len(data), keep=KEEP)
    assert header is not None
    return header


def _both(path: Path, data: bytes | None = None) -> tuple[list[Frame], list[Frame]]:
    """The frames of one file as the walker reads them, and as pydicom does."""
    walked_header = _scan(path, data)
    count = walked_header.integer(el.NUMBER_OF_FRAMES, 1) or 1
    walked = multiframe._walked_frames(walked_header, count, groups.read_groups(walked_header))
    pydicom_header = _scan(path, data)
    return walked, multiframe._pydicom_frames(pydicom_header, count)


def _assert_same_value(ours: Any, theirs: Any, where: str) -> None:
    if isinstance(theirs, MultiValue | list):
        assert isinstance(ours, list), where
        assert len(ours) == len(theirs), where
        for one, other in zip(ours, theirs, strict=True):
            _assert_same_value(one, other, where)
        return
    assert isinstance(theirs, type(ours)), f"{where}: {ours!r} is a {type(ours)}, pydicom's {theirs!r} a {type(theirs)}"
    assert ours == theirs, f"{where}: {ours!r} != {theirs!r}"


def _assert_same_frames(walked: list[Frame], read: list[Frame]) -> None:
    assert len(walked) == len(read)
    for ours, theirs in zip(walked, read, strict=True):
        assert not ours.groups and ours.values is not None
        expected = {tag: value for tag, value in theirs.group_values().items() if not isinstance(value, Sequence)}
        assert set(ours.group_values()) == set(expected), ours.name
        for tag, value in expected.items():
            _assert_same_value(ours.group_values()[tag], value, f"{ours.name} {el.describe(tag)}")
        for name in ("position", "orientation"):
            np.testing.assert_array_equal(getattr(ours, name), getattr(theirs, name))
        for name in ("spacing", "thickness", "spacing_between", "slope", "intercept"):
            assert getattr(ours, name) == getattr(theirs, name), f"{ours.name} {name}"
        assert acquisition_of(ours) == acquisition_of(theirs), ours.name


def _pydicom_only(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(header: Header) -> groups.FunctionalGroups:
        raise Fallback("pydicom's reading, for comparison")

    monkeypatch.setattr(multiframe, "read_groups", refuse)


def _assert_same_volume(path: Path, monkeypatch: pytest.MonkeyPatch, **options: Any) -> None:
    walked = open_stack(path, **options)
    with monkeypatch.context() as patch:
        _pydicom_only(patch)
        read = open_stack(path, **options)
    np.testing.assert_array_equal(walked.src_data, read.src_data)
    assert walked.src_data.dtype == read.src_data.dtype
    np.testing.assert_array_equal(walked.src_transformation, read.src_transformation)
    assert walked.src_object.volumes == read.src_object.volumes
    assert walked.src_object.frames == read.src_object.frames


# ---------------------------------------------------------------- synthetic objects


def _mr_frame(item: Dataset, index: int, volume: int) -> None:
    """MR Echo, MR Diffusion with a gradient direction, and a Philips private per-frame item."""
    echo = Dataset()
    echo.EffectiveEchoTime = 30.0 + volume
    item.MREchoSequence = Sequence([echo])
    direction = Dataset()
    direction.DiffusionGradientOrientation = [1.0, 0.0, 0.0] if volume % 2 else [0.0, 0.6, 0.8]
    diffusion = Dataset()
    diffusion.DiffusionBValue = 1000.0 * (volume % 3)
    diffusion.DiffusionDirectionality = "DIRECTIONAL"
    diffusion.DiffusionGradientDirectionSequence = Sequence([direction])
    item.MRDiffusionSequence = Sequence([diffusion])
    frame_type = Dataset()
    frame_type.FrameType = ["ORIGINAL", "PRIMARY", "M", "NONE"]
    frame_type.ComplexImageComponent = "MAGNITUDE"
    item.MRImageFrameTypeSequence = Sequence([frame_type])
    private = Dataset()
    private.private_block(0x2005, "Philips MR Imaging DD 001", create=True).add_new(0x0E, "FL", 0.25 + volume)
    private.private_block(0x2005, "Philips MR Imaging DD 001").add_new(0x11, "CS", "M")
    private.ImageType = ["ORIGINAL", "PRIMARY", "M_FFE", "M", "FFE"]
    private.EchoTime = "30"
    item.private_block(0x2005, "Philips MR Imaging DD 005", create=True).add_new(0x0F, "SQ", Sequence([private]))


ENCODINGS = {
    "explicit-little": {"little_endian": True, "implicit_vr": False},
    "explicit-big": {"little_endian": False, "implicit_vr": False},
    "implicit-little": {"little_endian": True, "implicit_vr": True},
}


def _write(folder: Path, encoding: str, *, mr: bool = False, shared: bool = True, shuffled: bool = True) -> Path:
    rng = np.random.default_rng(3)
    data = rng.integers(0, 1000, size=(4, 5, 3, 4), dtype=np.int16)
    order = [int(k) for k in rng.permutation(12)] if shuffled else None
    return write_enhanced(
        folder / f"enhanced-{encoding}.dcm",
        data,
        oblique_transformation(),
        slopes=[1.0 + (k % 3) for k in range(12)],
        intercepts=[-5.0 * (k % 2) for k in range(12)],
        frame_order=order,
        shared_orientation=shared,
        edit_frame=_mr_frame if mr else None,
        **ENCODINGS[encoding],
    )


@pytest.mark.parametrize("encoding", list(ENCODINGS))
@pytest.mark.parametrize("mr", [False, True], ids=["ct", "mr-diffusion-philips"])
@pytest.mark.parametrize("shared", [True, False], ids=["shared", "per-frame"])
def test_synthetic_groups_read_as_pydicom_reads_them(tmp_path, monkeypatch, encoding, mr, shared):
    path = _write(tmp_path, encoding, mr=mr, shared=shared)
    walked, read = _both(path)
    _assert_same_frames(walked, read)
    if mr:
        values = walked[0].group_values()
        assert 0x00189089 in values  # Diffusion Gradient Orientation, inside MR Diffusion
        assert values[0x20051000 | 0x0E] in (0.25, 1.25, 2.25, 3.25)  # Philips' private item
        assert walked[0].attribute("(2005,100E)") == values[0x2005100E]
        assert walked[0].header.dataset is None  # no pydicom parse of the header
    _assert_same_volume(path, monkeypatch, **({"select": {"DiffusionBValue": 0}} if mr else {}))


def test_synthetic_groups_in_frame_order(tmp_path, monkeypatch):
    path = _write(tmp_path, "explicit-little", shuffled=False)
    walked, read = _both(path)
    _assert_same_frames(walked, read)
    _assert_same_volume(path, monkeypatch)


def test_without_per_frame_items_the_shared_ones_serve_every_frame(tmp_path):
    path = _write(tmp_path, "explicit-little")
    header = _scan(path)
    walked = multiframe._walked_frames(header, 12, groups.read_groups(header))
    assert all(frame.values is not None for frame in walked)
    read = groups.read_groups(header)
    empty = groups.FunctionalGroups(per_frame=[], shared=read.shared, values=[read.values[0]], top_level={})
    assert empty.macro_value(None, multiframe.PLANE_ORIENTATION, el.IMAGE_ORIENTATION) is not None


def test_uncertain_files_are_read_with_pydicom_and_logged(tmp_path, monkeypatch, caplog):
    def non_ascii(item: Dataset, index: int, volume: int) -> None:
        item.FrameContentSequence[0].FrameLabel = "Gr\xfc\xdfe"

    rng = np.random.default_rng(0)
    path = write_enhanced(
        tmp_path / "latin.dcm", rng.integers(0, 9, (4, 5, 3), dtype=np.int16), np.eye(4), edit_frame=non_ascii
    )
    header = _scan(path)
    with pytest.raises(groups.Uncertain, match="beyond ASCII"):
        groups.read_groups(header)
    with caplog.at_level(logging.DEBUG, logger="mvl.dicom"):
        frames = multiframe.multiframe_frames(header)
    assert "read with pydicom" in caplog.text and "beyond ASCII" in caplog.text
    assert frames[0].groups and frames[0].values is None
    assert frames[0].attribute("FrameLabel") == "Gr\xfc\xdfe"


@pytest.mark.parametrize(
    ("vr", "raw", "expected"),
    [
        ("DS", b" 1.5 \\2 ", [1.5, 2.0]),
        ("DS", b"  ", ""),
        ("IS", b"12\x00", 12),
        ("IS", b"", None),
        ("CS", b"A \\B ", ["A ", "B"]),
        ("UI", b"1.2\x00", "1.2"),
        ("AE", b" X \\ Y", ["X", "Y"]),
        ("LO", b"a\\b ", ["a", "b"]),
        ("ST", b"a\\b ", "a\\b"),
        ("FD", bytes(8), 0.0),
        ("US", b"\x01\x00\x02\x00", [1, 2]),
        ("OB", b"\x01\x02", b"\x01\x02"),
    ],
)
def test_values_decode_as_pydicom_decodes_them(vr, raw, expected):
    from pydicom.dataelem import RawDataElement, convert_raw_data_element
    from pydicom.tag import BaseTag

    ours = groups.decode_value(vr, raw, True)
    assert ours == expected
    theirs = convert_raw_data_element(RawDataElement(BaseTag(0x00181000), vr, len(raw), raw, 0, False, True)).value
    _assert_same_value(ours, theirs, vr)


@pytest.mark.parametrize(
    ("vr", "raw"), [("DS", b"abc"), ("DS", b"nan"), ("IS", b"1.5"), ("FD", bytes(4)), ("SH", b"\xe9"), ("PN", b"A^B")]
)
def test_values_pydicom_would_guess_or_repair_are_uncertain(vr, raw):
    with pytest.raises(groups.Uncertain):
        groups.decode_value(vr, raw, True)


def test_mutated_objects_give_our_error_or_the_same_result(tmp_path, monkeypatch):
    original = _write(tmp_path, "explicit-little", mr=True).read_bytes()
    header = _scan(tmp_path / "enhanced-explicit-little.dcm")
    start = len(original) - (header.pixel.length or 0) - len(header.header_bytes or b"")
    assert start >= 0
    sequence_start = original.find(b"\x00\x52\x30\x92")  # the (5200,9230) element header
    rng = random.Random(15)
    for trial in range(120):
        data = bytearray(original)
        if trial % 4 == 0:
            data = data[: rng.randrange(sequence_start, len(header.header_bytes or b""))]
        else:
            for _ in range(rng.choice((1, 2, 4))):
                data[rng.randrange(sequence_start, len(header.header_bytes or b""))] = rng.randrange(256)
        path = tmp_path / f"mutated-{trial}.dcm"
        path.write_bytes(bytes(data))
        try:
            walked = open_stack(path, select={"DiffusionBValue": 0})
        except MvlError:
            continue
        with monkeypatch.context() as patch:
            _pydicom_only(patch)
            read = open_stack(path, select={"DiffusionBValue": 0})
        np.testing.assert_array_equal(walked.src_data, read.src_data)
        np.testing.assert_array_equal(walked.src_transformation, read.src_transformation)
        assert walked.src_object.volumes == read.src_object.volumes


# ---------------------------------------------------------------- pydicom's and the scanners' files


@pytest.mark.parametrize("name", PYDICOM_FILES)
def test_pydicom_test_files(real, name):
    try:
        walked, read = _both(real(name))
    except MvlError as error:  # liver_1frame.dcm: 3 per-frame items for 1 frame
        header = _scan(real(name))
        with pytest.raises(type(error), match=re.escape(error.message)):
            multiframe._pydicom_frames(header, header.integer(el.NUMBER_OF_FRAMES, 1) or 1)
        return
    _assert_same_frames(walked, read)


def test_pydicom_enhanced_ct_loads_the_same(isolated, monkeypatch):
    _assert_same_volume(isolated("eCT_Supplemental.dcm"), monkeypatch)


def _real_enhanced() -> list[Any]:
    if not REALDATA.is_dir():
        return [pytest.param(None, marks=pytest.mark.skip(reason=f"no real data at {REALDATA}"), id="realdata-absent")]
    found = []
    for folder in REAL_FOLDERS:
        found += sorted(path for path in (REALDATA / folder).rglob("*") if path.is_file())
    if not found:
        reason = f"no files in {', '.join(str(REALDATA / folder) for folder in REAL_FOLDERS)}"
        return [pytest.param(None, marks=pytest.mark.skip(reason=reason), id="realdata-empty")]
    return [pytest.param(path, id=str(path.relative_to(REALDATA))) for path in found]


@pytest.mark.realdata
@pytest.mark.parametrize("path", _real_enhanced())
def test_real_enhanced_objects(path):
    header = _scan(path)
    if el.PER_FRAME_FUNCTIONAL_GROUPS not in header.values:
        pytest.skip("not an enhanced object")
    walked, read = _both(path)
    _assert_same_frames(walked, read)
    assert walked[0].header.dataset is None


@pytest.mark.realdata
@pytest.mark.parametrize("folder", ["dcm_qa_enh/In/Philips", "dcm_qa_enh/In/Siemens/XA10", REAL_FIELD_MAP])
def test_real_enhanced_series_load_the_same(folder, monkeypatch):
    if not (REALDATA / folder).is_dir():
        pytest.skip(f"no real data at {REALDATA / folder}")
    path = REALDATA / folder
    files = sorted(file for file in path.rglob("*") if file.is_file())
    options: dict[str, Any] = {"allow_incomplete_volumes": True}
    try:
        walked = open_stack(path, **options)
    except MvlError as error:
        with monkeypatch.context() as patch:
            _pydicom_only(patch)
            with pytest.raises(type(error)):
                open_stack(path, **options)
        return
    assert files and walked.src_data.size
    _assert_same_volume(path, monkeypatch, **options)
