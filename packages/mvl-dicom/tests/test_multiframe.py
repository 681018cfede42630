"""Multi-frame objects: enhanced functional groups, RT Dose grids, and what is refused."""

from __future__ import annotations

import numpy as np
import pytest

from mvl.coords import FormatError, GeometryError
from mvl.coords.testing import assert_same_image
from mvl.dicom import open_stack
from mvl.dicom.testing import oblique_transformation, write_enhanced, write_series

DATA = np.arange(4 * 5 * 7, dtype=np.int16).reshape(4, 5, 7)


@pytest.mark.parametrize("shared", [True, False])
def test_enhanced_ct_with_shuffled_frames_and_per_frame_rescale(tmp_path, shared):
    matrix = oblique_transformation()
    slopes = [1, 2, 1, 1, 3, 1, 1]
    intercepts = [-1024, 0, 5, -1024, 0, -7, 0]
    order = [3, 1, 0, 6, 2, 5, 4]
    path = write_enhanced(
        tmp_path / "enhanced.dcm",
        DATA,
        matrix,
        slopes=slopes,
        intercepts=intercepts,
        frame_order=order,
        shared_orientation=shared,
    )
    volume = open_stack(path, system="LPS")
    frame_slopes = np.empty(7)
    frame_intercepts = np.empty(7)
    frame_slopes[order] = slopes
    frame_intercepts[order] = intercepts
    assert_same_image(volume, DATA * frame_slopes + frame_intercepts, matrix, "LPS")
    assert volume.src_object.frames == tuple(order.index(k) for k in range(7))
    assert volume.src_object.sorted_slices[0].SOPClassUID == "1.2.840.10008.5.1.4.1.1.2.1"


def test_enhanced_frames_are_checked_like_slices(tmp_path):
    matrix = oblique_transformation()
    order = [0, 1, 2, 2, 4, 5, 6]  # frame 4 repeats slice 2: a duplicate position and a gap
    path = write_enhanced(tmp_path / "enhanced.dcm", DATA, matrix, frame_order=order)
    from mvl.coords import AmbiguousInputError

    with pytest.raises(AmbiguousInputError, match=r"enhanced\.dcm \(frame 3\), enhanced\.dcm \(frame 4\)"):
        open_stack(path)


def test_real_enhanced_ct(isolated):
    volume = open_stack(isolated("eCT_Supplemental.dcm"))
    assert volume.src_data.shape == (512, 512, 2)
    assert volume.src_spacing == pytest.approx((0.388672, 0.388672, 10.0))
    assert volume.src_data.dtype == np.int16  # stored uint16, intercept -1024


def test_rt_dose_grid_frame_offsets(isolated):
    volume = open_stack(isolated("rtdose.dcm"))
    assert volume.src_data.shape == (10, 10, 15)
    assert volume.src_data.dtype == np.float32  # Dose Grid Scaling
    offsets = np.array(volume.src_object.sorted_slices[0].GridFrameOffsetVector, dtype=float)
    np.testing.assert_allclose(
        volume.src_object.positions[:, 2] - volume.src_object.positions[0, 2], offsets - offsets[0]
    )


def test_enhanced_mr_without_positions_is_refused(isolated):
    with pytest.raises(GeometryError, match=r"is a multi-frame object \(10 frames.*without a position for each frame"):
        open_stack(isolated("emri_small.dcm"))


def test_siemens_mosaic_is_refused(tmp_path):
    def mosaic(dataset, index):
        dataset.ImageType = ["ORIGINAL", "PRIMARY", "M", "ND", "MOSAIC"]
        dataset.Manufacturer = "SIEMENS"

    write_series(tmp_path, shape=(6, 6, 2), modality="MR", edit=mosaic)
    # Without its CSA image header a mosaic cannot be unpacked (issue 14): refused, never a stack of tiles.
    with pytest.raises(FormatError, match=r"is a Siemens mosaic .*MOSAIC.*without a CSA image header.*never stacked"):
        open_stack(tmp_path)
