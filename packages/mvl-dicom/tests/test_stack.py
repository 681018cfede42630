"""open_stack: inputs, the series rule, layout, src_object, options; and the shared reader conformance suite."""

from __future__ import annotations

import os
import re
import warnings

import numpy as np
import pytest

from mvl.coords import (
    FormatError,
    FormatWarning,
    InputError,
    MvlError,
    NoImageDataError,
    UnsupportedFormatError,
)
from mvl.coords.testing import ReaderConformance, assert_same_image
from mvl.dicom import DicomStack, open_stack
from mvl.dicom.testing import oblique_transformation as ct_transformation
from mvl.dicom.testing import write_series


class TestDicomReader(ReaderConformance):
    reference_system = "LPS"
    suffix = ".dcm"

    def open(self, path, system):
        return open_stack(path, system=system)

    def write_reference(self, directory, data, transformation):
        return write_series(directory, data, transformation)


def test_layout_is_rows_columns_slices_with_the_documented_matrix(tmp_path):
    data = np.arange(4 * 5 * 6, dtype=np.int16).reshape(4, 5, 6)
    matrix = ct_transformation()
    write_series(tmp_path, data, matrix)
    volume = open_stack(tmp_path, system="LPS")
    assert volume.src_data.shape == (4, 5, 6)
    np.testing.assert_array_equal(volume.src_data, data)
    np.testing.assert_allclose(volume.src_transformation, matrix, atol=1e-6)
    first = volume.src_object.sorted_slices[0]
    orientation = np.array(first.ImageOrientationPatient, dtype=float)
    spacing = np.array(first.PixelSpacing, dtype=float)
    np.testing.assert_allclose(volume.src_transformation[:3, 0], spacing[0] * orientation[3:], atol=1e-6)
    np.testing.assert_allclose(volume.src_transformation[:3, 1], spacing[1] * orientation[:3], atol=1e-6)
    np.testing.assert_allclose(volume.src_transformation[:3, 3], np.array(first.ImagePositionPatient, float))
    assert volume.src_system == "LPS"


def test_order_comes_from_positions_not_names_or_instance_numbers(tmp_path):
    data = np.arange(3 * 3 * 8, dtype=np.int16).reshape(3, 3, 8)

    def scramble(dataset, index):
        dataset.InstanceNumber = [5, 1, 8, 2, 7, 3, 6, 4][index]

    write_series(tmp_path, data, ct_transformation(), seed=3, edit=scramble)
    volume = open_stack(tmp_path, system="LPS")
    np.testing.assert_array_equal(volume.src_data, data)
    along = volume.src_object.positions @ np.cross(
        *np.split(np.array(volume.src_object.sorted_slices[0].ImageOrientationPatient, float), 2)
    )
    assert np.all(np.diff(along) > 0)


def test_slices_are_read_in_place_into_one_buffer(tmp_path):
    write_series(tmp_path, shape=(6, 7, 5))
    data = open_stack(tmp_path).src_data
    assert data.base is not None and data.base.flags.c_contiguous
    assert data.base.shape == (5, 6, 7)  # (slices, rows, columns), exposed as a transposed view


def test_src_object_keeps_headers_file_names_and_rescale(tmp_path):
    write_series(tmp_path, shape=(4, 4, 3), intercepts=-1024)
    volume = open_stack(tmp_path)
    stack = volume.src_object
    assert isinstance(stack, DicomStack)
    assert len(stack.sorted_slices) == 3 and len(stack.files) == 3
    assert all(os.path.isfile(name) for name in stack.files)
    assert stack.sorted_slices[0].SeriesDescription == "synthetic"
    assert "PixelData" not in stack.sorted_slices[0]
    assert [float(s.ImagePositionPatient[2]) for s in stack.sorted_slices] == list(stack.positions[:, 2])
    np.testing.assert_array_equal(stack.intercepts, [-1024] * 3)
    assert stack.frames == (None, None, None)
    assert "3 slices" in repr(stack)


def test_a_file_path_loads_its_series_from_its_folder(tmp_path):
    write_series(tmp_path, shape=(3, 3, 4), series_uid="1.2.3.1", prefix="A")
    write_series(tmp_path, shape=(3, 3, 2), series_uid="1.2.3.2", prefix="B")
    b_file = sorted(tmp_path.glob("B*.dcm"))[0]
    with pytest.warns(FormatWarning, match=r"holds 2 series.*chosen by the file given.*1\.2\.3\.1"):
        volume = open_stack(b_file)
    assert volume.src_data.shape == (3, 3, 2)
    assert volume.src_object.series_uid == "1.2.3.2"


def test_a_folder_loads_the_series_of_its_alphanumerically_first_image_and_warns_about_others(tmp_path):
    write_series(tmp_path, shape=(3, 3, 4), series_uid="1.2.3.1", prefix="B")
    write_series(tmp_path, shape=(3, 3, 2), series_uid="1.2.3.2", prefix="A")
    (tmp_path / "0-readme.txt").write_text("not DICOM")
    with pytest.warns(FormatWarning, match=r"holds 2 series; loaded 1\.2\.3\.2 .*first image file A.*series_uid="):
        volume = open_stack(tmp_path)
    assert volume.src_data.shape == (3, 3, 2)


def test_series_uid_picks_a_series_without_warning(tmp_path):
    write_series(tmp_path, shape=(3, 3, 4), series_uid="1.2.3.1", prefix="B")
    write_series(tmp_path, shape=(3, 3, 2), series_uid="1.2.3.2", prefix="A")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        volume = open_stack(tmp_path, series_uid="1.2.3.1")
    assert volume.src_data.shape == (3, 3, 4)


def test_unknown_series_uid_lists_the_series_present(tmp_path):
    write_series(tmp_path, shape=(3, 3, 2), series_uid="1.2.3.2")
    with pytest.raises(
        NoImageDataError, match=r"no image files of the series '9\.9'.*1\.2\.3\.2 \(CT, 'synthetic', 2 files\)"
    ):
        open_stack(tmp_path, series_uid="9.9")


def test_sloppy_stacks_every_series(tmp_path):
    matrix = ct_transformation()
    data = np.arange(3 * 3 * 4, dtype=np.int16).reshape(3, 3, 4)
    frame = "1.2.3.99"
    write_series(tmp_path / "x", data[:, :, :2], matrix, series_uid="1.2.3.1", frame_of_reference=frame, prefix="A")
    shifted = matrix.copy()
    shifted[:3, 3] += 2 * matrix[:3, 2]
    write_series(tmp_path / "x", data[:, :, 2:], shifted, series_uid="1.2.3.2", frame_of_reference=frame, prefix="B")
    volume = open_stack(tmp_path / "x", sloppy=True, system="LPS")
    assert_same_image(volume, data, matrix, "LPS")
    assert volume.src_object.series_uid is None


def test_recursive_searches_sub_folders(tmp_path):
    write_series(tmp_path / "a" / "b", shape=(3, 3, 3))
    with pytest.raises(NoImageDataError, match="no DICOM image files found"):
        open_stack(tmp_path)
    assert open_stack(tmp_path, recursive=True).src_data.shape == (3, 3, 3)


def test_empty_folder_raises_no_image_data(tmp_path):
    with pytest.raises(NoImageDataError, match="no DICOM image files found"):
        open_stack(tmp_path)


def test_folder_without_images_says_what_it_found(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    report = Dataset()
    report.file_meta = FileMetaDataset()
    report.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    report.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.88.11"
    report.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    report.SOPClassUID = "1.2.840.10008.5.1.4.1.1.88.11"
    report.preamble = b"\0" * 128
    report.save_as(tmp_path / "report.dcm", enforce_file_format=True)
    with pytest.raises(NoImageDataError, match=r"only 1 DICOM files without pixel data, 1 files that are not DICOM"):
        open_stack(tmp_path)
    with pytest.raises(NoImageDataError, match=r"report\.dcm: is a DICOM file without pixel data"):
        open_stack(tmp_path / "report.dcm")


def test_a_file_of_another_format_is_unsupported(tmp_path):
    path = tmp_path / "scan.nii"
    path.write_bytes(b"\x5c\x01" + b"\0" * 400)
    with pytest.raises(UnsupportedFormatError, match=r"scan\.nii: is neither a DICOM file"):
        open_stack(path)


def test_missing_path(tmp_path):
    with pytest.raises(InputError, match="no such file or folder"):
        open_stack(tmp_path / "nothing")


def test_single_slice_uses_spacing_between_slices_then_thickness(tmp_path):
    def spacing(dataset, index):
        dataset.SpacingBetweenSlices = "3.5"

    write_series(tmp_path / "a", shape=(3, 3, 1), edit=spacing)
    volume = open_stack(tmp_path / "a")
    assert volume.src_spacing[2] == pytest.approx(3.5)
    write_series(tmp_path / "b", shape=(3, 3, 1), transformation=np.diag([0.5, 0.5, 4.0, 1.0]))
    assert open_stack(tmp_path / "b").src_spacing == pytest.approx((0.5, 0.5, 4.0))

    def neither(dataset, index):
        del dataset.SliceThickness

    write_series(tmp_path / "c", shape=(3, 3, 1), edit=neither)
    with pytest.warns(Warning, match="single slice without .*'Spacing Between Slices'.*1 mm"):
        assert open_stack(tmp_path / "c").src_spacing[2] == pytest.approx(1.0)


def test_errors_are_of_our_family_and_name_the_file(tmp_path):
    path = tmp_path / "broken.dcm"
    path.write_bytes(b"\0" * 128 + b"DICM" + b"\x02\x00\x10\x00UI\xff\x7f" + b"1.2")
    with pytest.raises(FormatError, match=re.escape(str(path))):
        open_stack(path)
    with pytest.raises(MvlError):
        open_stack(path)


def test_a_folder_with_junk_loads_its_series_and_names_what_it_skipped(tmp_path):
    matrix = ct_transformation()
    data = np.arange(4 * 5 * 3, dtype=np.int16).reshape(4, 5, 3)
    write_series(tmp_path, data, matrix, prefix="S")
    (tmp_path / ".DS_Store").write_bytes(b"\0\0\0\1Bud1" + bytes(100))
    (tmp_path / "thumbs.db").write_bytes(bytes(600))
    (tmp_path / "notes.txt").write_text("scanned on Tuesday\n")
    (tmp_path / "empty").write_bytes(b"")
    # a file with the DICOM magic whose header is garbage, sorted before every image: never the seed
    (tmp_path / "A_broken.dcm").write_bytes(bytes(128) + b"DICM" + b"\x02\x00\x10\x00UI\xff\x7f" + bytes(20))
    import pydicom
    from pydicom.dataset import FileDataset, FileMetaDataset

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.1.3.10"
    meta.MediaStorageSOPInstanceUID = pydicom.uid.generate_uid()
    meta.TransferSyntaxUID = pydicom.uid.ExplicitVRLittleEndian
    dicomdir = FileDataset("", {}, file_meta=meta, preamble=bytes(128))
    dicomdir.FileSetID = "JUNK"
    dicomdir.save_as(tmp_path / "DICOMDIR", enforce_file_format=True)
    with pytest.warns(FormatWarning, match=r"skipped 1 DICOM file\(s\) whose header cannot be read .*A_broken\.dcm"):
        volume = open_stack(tmp_path, system="LPS")
    assert_same_image(volume, data, matrix, "LPS")


def test_an_unreadable_file_of_the_series_is_still_an_error_unless_skipped(tmp_path):
    write_series(tmp_path, np.zeros((4, 5, 3), np.int16), ct_transformation(), prefix="S")
    victim = sorted(tmp_path.iterdir())[-1]
    victim.write_bytes(victim.read_bytes()[:-10])  # its header (and series) read, its pixels cut short
    with pytest.raises(FormatError, match=r"pixel data is truncated.*skip_broken=True"):
        open_stack(tmp_path)


def test_a_series_number_picks_the_one_series_that_has_it(tmp_path):
    from mvl.coords import AmbiguousInputError
    from mvl.dicom.testing import write_series

    for number, prefix in ((3, "A"), (4, "B"), (4, "C")):
        write_series(
            tmp_path,
            shape=(3, 3, 2),
            prefix=prefix,
            seed=number,
            edit=lambda d, i, n=number: setattr(d, "SeriesNumber", n),
        )
    volume = open_stack(tmp_path, series_uid="3")
    assert volume.src_object.series_uid != "3" and len(volume.src_object.files) == 2
    with pytest.raises(AmbiguousInputError, match=r"2 series have \(0020,0011\) 'Series Number' 4: .*Name one by its"):
        open_stack(tmp_path, series_uid="4")
    with pytest.raises(NoImageDataError, match="no image files of the series '5'"):
        open_stack(tmp_path, series_uid="5")
