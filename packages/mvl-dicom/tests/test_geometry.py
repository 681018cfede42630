"""The stacking checks: each bad series gets its own error, each relaxation its warning."""

from __future__ import annotations

import numpy as np
import pytest

from mvl.coords import (
    AmbiguousInputError,
    DataError,
    FormatWarning,
    GeometryError,
    GeometryWarning,
)
from mvl.coords.testing import assert_same_image
from mvl.dicom import open_stack
from mvl.dicom.testing import oblique_transformation, write_series

DATA = np.arange(4 * 5 * 8, dtype=np.int16).reshape(4, 5, 8)


def test_oblique_series_every_voxel_in_place(tmp_path):
    write_series(tmp_path, DATA, oblique_transformation())
    for system in ("RAS", "LPS", "PIL"):
        assert_same_image(open_stack(tmp_path, system=system), DATA, oblique_transformation(), "LPS")


def test_missing_slice_is_an_error_naming_the_gap(tmp_path):
    write_series(tmp_path, DATA, oblique_transformation())
    victim = next(p for p in tmp_path.iterdir() if float(_position(p)[2]) == pytest.approx(_positions(tmp_path)[3][2]))
    victim.unlink()
    with pytest.raises(
        GeometryError,
        match=r"not evenly spaced .*'Image Position \(Patient\)'.*between most slices, but 5 mm .*1 missing slice\?"
        r".*allow_nonuniform_spacing=True",
    ):
        open_stack(tmp_path)


def test_missing_slice_loads_with_a_warning_when_allowed(tmp_path):
    write_series(tmp_path, DATA, oblique_transformation())
    victim = next(p for p in tmp_path.iterdir() if float(_position(p)[2]) == pytest.approx(_positions(tmp_path)[3][2]))
    victim.unlink()
    with pytest.warns(GeometryWarning, match=r"loaded with the average step 2\.917 mm, so slices lie up to"):
        volume = open_stack(tmp_path, allow_nonuniform_spacing=True)
    assert volume.src_data.shape == (4, 5, 7)


def test_small_jitter_within_tolerance_loads_and_larger_tolerance_accepts_more(tmp_path):
    jitter = [0.0, 0.1, -0.1, 0.05, 0.0, 0.1, -0.05, 0.0]

    def shake(dataset, index):
        position = [float(value) for value in dataset.ImagePositionPatient]
        position[2] += jitter[index]
        dataset.ImagePositionPatient = position

    write_series(tmp_path, DATA, np.diag([1.0, 1.0, 2.0, 1.0]), edit=shake)
    open_stack(tmp_path)  # 0.1 mm on a 2 mm step: within 10 %
    jitter[4] = 0.5
    write_series(tmp_path / "more", DATA, np.diag([1.0, 1.0, 2.0, 1.0]), edit=shake)
    with pytest.raises(GeometryError, match="not evenly spaced"):
        open_stack(tmp_path / "more")
    assert open_stack(tmp_path / "more", spacing_tolerance=0.3).src_data.shape == (4, 5, 8)


def test_echoes_at_one_position_are_kinds_each_with_its_select(tmp_path):
    matrix = oblique_transformation()
    uid, frame = "1.2.3.4", "1.2.3.5"
    for echo in (1, 2):

        def set_echo(dataset, index, echo=echo):
            dataset.EchoNumbers = echo
            dataset.EchoTime = 10.0 * echo

        write_series(
            tmp_path,
            DATA + 1000 * echo,
            matrix,
            series_uid=uid,
            frame_of_reference=frame,
            modality="MR",
            prefix=f"E{echo}",
            seed=echo,
            edit=set_echo,
        )
    # Two echoes are two kinds of volume (issue 13): the first loads, the warning names the other's select=.
    with pytest.warns(
        FormatWarning, match=r"2 kinds of images.*loaded echo 1 .*echo 2 \(8 images\): select=\{'EchoNumbers': 2\}"
    ):
        volume = open_stack(tmp_path, system="LPS")
    assert_same_image(volume, DATA + 1000, matrix, "LPS")
    volume = open_stack(tmp_path, select={"EchoNumbers": 2}, system="LPS")
    assert_same_image(volume, DATA + 2000, matrix, "LPS")
    volume = open_stack(tmp_path, select={"EchoTime": lambda time: time < 15}, system="LPS")
    assert_same_image(volume, DATA + 1000, matrix, "LPS")


def test_duplicate_files_are_an_error(tmp_path):
    write_series(tmp_path, DATA, oblique_transformation())
    first = sorted(tmp_path.iterdir())[0]
    (tmp_path / "copy.dcm").write_bytes(first.read_bytes())
    with pytest.raises(
        AmbiguousInputError,
        match=r"1 positions hold 2 images.*They are copies of one image .*remove the duplicate files",
    ):
        open_stack(tmp_path)


def test_mixed_orientations_are_an_error_or_the_largest_group_with_a_warning(tmp_path):
    uid, frame = "1.2.3.4", "1.2.3.5"
    write_series(tmp_path, DATA, oblique_transformation(), series_uid=uid, frame_of_reference=frame, prefix="AX")
    localizer = np.array([[0, 0, 1.0, 0], [1.0, 0, 0, 0], [0, 1.0, 0, 0], [0, 0, 0, 1]])
    write_series(tmp_path, DATA[:, :, :2], localizer, series_uid=uid, frame_of_reference=frame, prefix="LOC")
    with pytest.raises(
        GeometryError,
        match=r"'Image Orientation \(Patient\)' differs between the 10 images.*8 have"
        r".*2 have \[0\.0, 0\.0, 1\.0, 0\.0, 1\.0, 0\.0\] \(LOC.*allow_mixed_orientations=True",
    ):
        open_stack(tmp_path)
    with pytest.warns(GeometryWarning, match=r"kept the 8 .* left out 2 \(LOC"):
        volume = open_stack(tmp_path, allow_mixed_orientations=True, system="LPS")
    assert_same_image(volume, DATA, oblique_transformation(), "LPS")
    assert len(volume.src_object.left_out) == 2


def test_different_sizes_are_a_data_error(tmp_path):
    uid, frame = "1.2.3.4", "1.2.3.5"
    matrix = np.diag([1.0, 1.0, 2.0, 1.0])
    write_series(tmp_path, DATA, matrix, series_uid=uid, frame_of_reference=frame, prefix="A")
    shifted = matrix.copy()
    shifted[2, 3] = 16.0
    write_series(tmp_path, np.zeros((6, 5, 1), np.int16), shifted, series_uid=uid, frame_of_reference=frame, prefix="B")
    with pytest.raises(DataError, match=r"'Rows' x \(0028,0011\) 'Columns' differ .*8 are 4x5.*1 are 6x5 \(B"):
        open_stack(tmp_path)


def test_different_pixel_spacing_is_an_error(tmp_path):
    def coarser(dataset, index):
        if index == 3:
            dataset.PixelSpacing = [1.5, 1.5]

    write_series(tmp_path, DATA, np.diag([1.0, 1.0, 2.0, 1.0]), edit=coarser)
    with pytest.raises(
        GeometryError,
        match=r"'Pixel Spacing' differs between the images .*\[1\.5, 1\.5\] in IM\d+\.dcm, but \[1\.0, 1\.0\] in",
    ):
        open_stack(tmp_path)


@pytest.mark.parametrize("spacing", [[0, 1.0], [-0.5, 0.5]])
def test_zero_or_negative_pixel_spacing_is_an_error(tmp_path, spacing):
    def bad(dataset, index):
        dataset.PixelSpacing = spacing

    write_series(tmp_path, DATA, np.diag([1.0, 1.0, 2.0, 1.0]), edit=bad)
    with pytest.raises(GeometryError, match=r"'Pixel Spacing' is .* spacings must be positive"):
        open_stack(tmp_path)


def test_nan_position_is_an_error(tmp_path):
    def nan(dataset, index):
        if index == 2:
            dataset.ImagePositionPatient = ["nan", "0", "0"]

    write_series(tmp_path, DATA, np.diag([1.0, 1.0, 2.0, 1.0]), edit=nan)
    with pytest.raises(GeometryError, match=r"'Image Position \(Patient\)' holds 'nan\\\\0\\\\0': NaN or infinite"):
        open_stack(tmp_path)


def test_projection_images_without_position_are_an_error(tmp_path):
    def projection(dataset, index):
        del dataset.ImagePositionPatient
        del dataset.ImageOrientationPatient
        dataset.Modality = "CR"

    write_series(tmp_path, DATA[:, :, :1], edit=projection)
    with pytest.raises(
        GeometryError, match=r"'Image Position \(Patient\)' is missing in 1 of 1 images.*Projection images"
    ):
        open_stack(tmp_path)


def test_non_orthogonal_orientation_is_an_error(tmp_path):
    def skew(dataset, index):
        dataset.ImageOrientationPatient = [1, 0, 0, 0.5, 0.866, 0]

    write_series(tmp_path, DATA, edit=skew)
    with pytest.raises(GeometryError, match=r"must be unit vectors at right angles .*cosine of their angle 0\.5"):
        open_stack(tmp_path)


def test_different_frames_of_reference_are_an_error(tmp_path):
    def other_frame(dataset, index):
        if index == 5:
            dataset.FrameOfReferenceUID = "1.2.3.999"

    write_series(tmp_path, DATA, edit=other_frame)
    with pytest.raises(GeometryError, match=r"'Frame of Reference UID' differs .*positions in different frames"):
        open_stack(tmp_path)


@pytest.mark.parametrize("tilt", [15.0, -22.0])
def test_gantry_tilt_keeps_the_sheared_geometry_and_warns(tmp_path, tilt):
    matrix = oblique_transformation(tilt=tilt)

    def stated(dataset, index):
        dataset.GantryDetectorTilt = tilt

    write_series(tmp_path, DATA, matrix, edit=stated)
    with pytest.warns(
        GeometryWarning, match=rf"{abs(tilt):g} degrees off the normal .*Gantry/Detector Tilt' says {tilt:g}.*sheared"
    ):
        volume = open_stack(tmp_path, system="LPS")
    assert volume.src_object.tilt == pytest.approx(abs(tilt), abs=1e-3)
    np.testing.assert_allclose(volume.src_transformation, matrix, atol=1e-4)
    assert_same_image(volume, DATA, matrix, "LPS")


def _positions(folder):
    return sorted((_position(path) for path in folder.iterdir()), key=lambda p: p[2])


def _position(path):
    import pydicom

    return [float(value) for value in pydicom.dcmread(path, stop_before_pixels=True).ImagePositionPatient]


@pytest.mark.parametrize("count", [1, 2, 5, 6])
def test_median_helper_matches_numpy(count):
    from mvl.dicom.geometry import _median

    values = np.random.default_rng(count).normal(size=(count, 2))
    np.testing.assert_array_equal(_median(values), np.median(values, axis=0))
    np.testing.assert_array_equal(_median(values[:, 0]), np.median(values[:, 0]))
