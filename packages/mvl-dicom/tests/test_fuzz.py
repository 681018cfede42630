"""Damaged DICOM files and archives end in a Volume or our error naming the file (issue 18; mvl.coords.fuzzing).

Seeds written by the library's own test writers: a classic slice in explicit and implicit
VR little endian and explicit big endian, an enhanced 4D object, a Siemens mosaic, a zip
and a tar archive of a series; each mutated deterministically. `nox -s fuzz` runs many more.
"""

from __future__ import annotations

import io
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import pytest

from mvl.coords.fuzzing import cases, run_cases, summary
from mvl.dicom.testing import oblique_transformation, write_enhanced, write_series
from mvl.dicom.testing_mosaic import write_mosaic

CASES = 240


def dicom_seeds(folder: Path) -> dict[str, bytes]:
    """Valid inputs of every kind mvl-dicom reads, by file name."""
    seeds = {}
    for name, options in (
        ("explicit.dcm", {}),
        ("implicit.dcm", {"implicit_vr": True}),
        ("big.dcm", {"little_endian": False}),
    ):
        series = write_series(folder / name, shape=(4, 5, 1), intercepts=-1024, **options)
        seeds[name] = next(series.iterdir()).read_bytes()
    data = np.arange(4 * 5 * 3 * 2, dtype=np.int16).reshape(4, 5, 3, 2)
    write_enhanced(folder / "enhanced.dcm", data, oblique_transformation())
    seeds["enhanced.dcm"] = (folder / "enhanced.dcm").read_bytes()
    mosaic = write_mosaic(folder / "mosaic", np.zeros((4, 6, 5, 1), np.int16), np.diag([3.0, 3.0, 3.5, 1.0]))
    seeds["mosaic.dcm"] = next(mosaic.iterdir()).read_bytes()
    series = write_series(folder / "archived", shape=(3, 3, 2))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in sorted(series.iterdir()):
            archive.write(path, path.name)
    seeds["series.zip"] = buffer.getvalue()
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for path in sorted(series.iterdir()):
            archive.add(path, path.name)
    seeds["series.tar"] = buffer.getvalue()
    return seeds


def test_the_seeds_load(tmp_path):
    from mvl.dicom import open_stack

    for name, data in dicom_seeds(tmp_path / "seeds").items():
        (tmp_path / "one" / name).mkdir(parents=True)
        (tmp_path / "one" / name / name).write_bytes(data)
        assert open_stack(tmp_path / "one" / name / name).src_data.size > 0


def test_damaged_inputs_end_in_a_volume_or_our_error_naming_the_file(tmp_path):
    outcomes = run_cases("mvl.dicom:open_stack", cases(dicom_seeds(tmp_path / "seeds"), CASES, seed=18), tmp_path)
    counts = summary(outcomes)
    failures = [f"{outcome.case}: {outcome.kind}: {outcome.detail}" for outcome in outcomes if outcome.failed]
    assert not failures, f"{counts}\n" + "\n".join(failures[:20])
    assert counts["cases"] == CASES and counts.get("refused", 0) > 0


# -- regressions: the findings, each with its minimal input ------------------------------------------------


def _one_slice(folder: Path) -> Path:
    return next(write_series(folder, shape=(4, 5, 1)).iterdir())


def test_an_unknown_transfer_syntax_is_refused_naming_it(tmp_path):
    from mvl.coords import UnsupportedFormatError
    from mvl.dicom import open_stack

    path = _one_slice(tmp_path)
    data = path.read_bytes()
    path.write_bytes(data.replace(b"1.2.840.10008.1.2.1\x00", b"1.2.840.10008.1.2.\x11\x00", 1))  # one byte flipped
    with pytest.raises(UnsupportedFormatError, match=r"Transfer Syntax UID.*is not a transfer syntax") as caught:
        open_stack(path)
    assert path.name in str(caught.value)


@pytest.mark.parametrize("tag", [b"\x20\x00\x13\x00IS", b"\x19\x00\x0a\x10US"])
def test_an_element_with_an_unknown_vr_ends_in_a_volume_or_our_error(tmp_path, tag):
    from mvl.coords import MvlError
    from mvl.dicom import open_stack

    if tag.startswith(b"\x19"):
        path = next(write_mosaic(tmp_path, np.zeros((4, 6, 5, 1), np.int16), np.diag([3.0, 3.0, 3.5, 1.0])).iterdir())
    else:
        path = _one_slice(tmp_path)
    data = path.read_bytes()
    assert tag in data
    path.write_bytes(
        data.replace(tag, tag[:4] + b"KS", 1)
    )  # pydicom: NotImplementedError("Unknown Value Representation")
    refused = None
    try:
        open_stack(path)
    except MvlError as error:
        refused = error
    assert refused is None or path.name in str(refused)


def test_a_zip_member_without_a_name_is_refused(tmp_path):
    from mvl.coords import FormatError
    from mvl.dicom import open_stack

    path = _one_slice(tmp_path / "series")
    archive = tmp_path / "series.zip"
    with zipfile.ZipFile(archive, "w") as writer:  # zipfile.ZipInfo.is_dir raised IndexError on it
        writer.writestr(zipfile.ZipInfo(""), path.read_bytes())
    with pytest.raises(FormatError, match="member without a name") as caught:
        open_stack(archive)
    assert "series.zip" in str(caught.value)
