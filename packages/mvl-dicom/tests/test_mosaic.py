"""Siemens mosaics (issue 14): each file one volume, its tiles the slices, placed by the CSA header; or refused.

Every mosaic here is written with pydicom and a CSA header encoded by
:mod:`mvl.dicom.testing_mosaic` from the layout's description, in both layouts, and
checked voxel by voxel in world space against the matrix it was written from.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from pydicom.uid import (
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ImplicitVRLittleEndian,
    RLELossless,
)

from mvl.coords import FormatError, FormatWarning, GeometryError, GeometryWarning, NoImageDataError
from mvl.coords.testing import assert_same_image
from mvl.dicom import elements as el
from mvl.dicom import list_series, open_stack
from mvl.dicom.frames import frames_of
from mvl.dicom.headers import scan_header
from mvl.dicom.mosaic import MOSAIC_TAGS, frame_size, is_mosaic
from mvl.dicom.sources import Member
from mvl.dicom.testing import oblique_transformation
from mvl.dicom.testing_mosaic import write_mosaic

#: 4 x 6 tiles, 5 slices (a grid of 3 x 3 tiles: a 12 x 18 mosaic image), 3 volumes.
DATA = np.arange(4 * 6 * 5 * 3, dtype=np.int16).reshape(4, 6, 5, 3) - 100
MATRIX = oblique_transformation()  # slices ascending along row x column direction
DESCENDING = MATRIX.copy()
DESCENDING[:3, 2] *= -1  # the tiles go down the normal: SliceNormalVector = -(row x column)
KEPT = el.IMAGE_TAGS | MOSAIC_TAGS
INTERLEAVED = [0.0, 600.0, 150.0, 750.0, 300.0]  # ms, per tile: slices 0, 2, 4 first, then 1, 3


def _load(folder, **options):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a healthy mosaic series loads without a word
        return open_stack(folder, system="LPS", **options)


@pytest.mark.parametrize("layout", ["SV10", "CSA1"])
def test_an_ascending_mosaic_series_is_a_4d_volume_voxel_by_voxel(tmp_path, layout):
    write_mosaic(tmp_path, DATA, MATRIX, layout=layout)
    volume = _load(tmp_path)
    assert volume.src_data.shape == (4, 6, 5, 3) and volume.src_data.dtype == np.int16
    assert_same_image(volume, DATA, MATRIX, "LPS")
    stack = volume.src_object
    assert stack.evidence == "(0020,0012) 'Acquisition Number'" and len(stack.volumes) == 3
    assert stack.tiles == (0, 1, 2, 3, 4) * 3 and stack.frames == (None,) * 15
    assert len(set(stack.files)) == 3 and stack.files[0] == stack.files[4] != stack.files[5]


def test_a_descending_mosaic_is_stacked_along_the_normal_and_lands_where_its_tiles_are(tmp_path):
    write_mosaic(tmp_path, DATA, DESCENDING, times=INTERLEAVED)
    volume = _load(tmp_path)
    assert_same_image(volume, DATA, DESCENDING, "LPS")  # every voxel where the scanner put it
    np.testing.assert_array_equal(volume.src_data, DATA[:, :, ::-1])  # stack order: up the normal, as always
    normal = np.cross(MATRIX[:3, 1], MATRIX[:3, 0])
    assert volume.src_transformation[:3, 2] @ normal > 0
    assert volume.src_object.tiles[:5] == (4, 3, 2, 1, 0)
    # The slice timing follows the slice axis: tile 4 (first in the stack) was acquired at 300 ms.
    assert volume.src_object.volumes[0].slice_timing == tuple(INTERLEAVED[::-1])
    assert volume.src_object.slice_timing == tuple(INTERLEAVED[::-1])


@pytest.mark.parametrize("layout", ["SV10", "CSA1"])
def test_interleaved_acquisition_times_are_reported_per_slice_and_per_volume(tmp_path, layout):
    write_mosaic(tmp_path, DATA, MATRIX, layout=layout, times=INTERLEAVED)
    stack = _load(tmp_path).src_object
    assert [row.slice_timing for row in stack.volumes] == [tuple(INTERLEAVED)] * 3
    assert stack.slice_timing == tuple(INTERLEAVED)
    assert stack.volume_table()["slice_timing"] == [tuple(INTERLEAVED)] * 3


def test_a_series_whose_first_volume_has_faulty_times_takes_the_second_and_says_so(tmp_path):
    faulty = [value * 2 for value in INTERLEAVED]  # as some multiband sequences write the first volume

    def first_wrong(elements, volume):
        if volume == 0:
            elements["MosaicRefAcqTimes"] = faulty

    write_mosaic(tmp_path, DATA, MATRIX, times=INTERLEAVED, edit_csa=first_wrong)
    with pytest.warns(
        FormatWarning, match=r"slice times of volume 1 \(MOSAIC\d+\.dcm\) span 1500 ms, those of volume 2 span 750"
    ):
        stack = open_stack(tmp_path).src_object
    assert stack.volumes[0].slice_timing == tuple(faulty)  # each volume's own, as stated
    assert stack.slice_timing == tuple(INTERLEAVED)


@pytest.mark.parametrize(
    "syntax", [ImplicitVRLittleEndian, ExplicitVRBigEndian, DeflatedExplicitVRLittleEndian, RLELossless]
)
def test_every_transfer_syntax_gives_the_same_voxels(tmp_path, syntax):
    write_mosaic(tmp_path, DATA, MATRIX, transfer_syntax=syntax)
    assert_same_image(_load(tmp_path), DATA, MATRIX, "LPS")


def test_one_mosaic_file_is_one_volume_and_the_rescale_applies_to_its_tiles(tmp_path):
    def rescale(dataset, volume):
        dataset.RescaleSlope, dataset.RescaleIntercept = "2", "1"

    write_mosaic(tmp_path, DATA[..., :1], MATRIX, edit=rescale)
    volume = _load(tmp_path)
    assert volume.src_data.shape == (4, 6, 5)
    assert_same_image(volume, DATA[..., 0] * 2 + 1, MATRIX, "LPS")


def test_select_picks_volumes_of_a_mosaic_series(tmp_path):
    write_mosaic(tmp_path, DATA, MATRIX)
    volume = _load(tmp_path, select={"AcquisitionNumber": 2})
    assert_same_image(volume, DATA[..., 1], MATRIX, "LPS")


def test_diffusion_values_come_from_the_csa_header_where_the_elements_are_absent(tmp_path):
    directions = [[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.6, 0.8]]
    write_mosaic(tmp_path, DATA, MATRIX, b_values=[0, 1000, 1000], directions=directions)
    stack = _load(tmp_path).src_object
    assert [row.b_value for row in stack.volumes] == [0.0, 1000.0, 1000.0]
    assert [row.direction for row in stack.volumes] == [(0.0, 0.0, 0.0), (1.0, 0.0, 0.0), (0.0, 0.6, 0.8)]
    axes = MATRIX[:3, :3] / np.linalg.norm(MATRIX[:3, :3], axis=0)
    np.testing.assert_allclose(axes @ np.array(stack.volumes[2].voxel_direction), [0.0, 0.6, 0.8], atol=1e-9)


def test_siemens_private_diffusion_elements_win_over_the_csa_header(tmp_path):
    def private(dataset, volume):
        block = dataset.private_block(0x0019, "SIEMENS MR HEADER", create=True)
        block.add_new(0x0C, "IS", str(500 * volume))

    write_mosaic(tmp_path, DATA, MATRIX, b_values=[0, 1000, 1000], edit=private)
    assert [row.b_value for row in _load(tmp_path).src_object.volumes] == [0.0, 500.0, 1000.0]


def test_the_count_may_come_from_0019_100a_alone(tmp_path):
    write_mosaic(tmp_path, DATA, MATRIX, edit_csa=lambda elements, volume: elements.pop("NumberOfImagesInMosaic"))
    assert_same_image(_load(tmp_path), DATA, MATRIX, "LPS")


def test_a_slice_normal_slightly_off_the_cosines_loads_along_the_cosines_and_warns_naming_the_files(tmp_path):
    normal = np.cross(MATRIX[:3, 1], MATRIX[:3, 0])
    normal /= np.linalg.norm(normal)
    tilted = normal + 0.02 * MATRIX[:3, 0] / np.linalg.norm(MATRIX[:3, 0])  # about 1.1 degrees off

    def off(elements, volume):
        elements["SliceNormalVector"] = [float(value) for value in tilted]

    write_mosaic(tmp_path, DATA, MATRIX, edit_csa=off)
    with pytest.warns(GeometryWarning, match=r"in 3 mosaic file\(s\) \(MOSAIC.*SliceNormalVector is up to 1.1\d* deg"):
        volume = open_stack(tmp_path, system="LPS")
    assert_same_image(volume, DATA, MATRIX, "LPS")  # the cosines' normal, SliceNormalVector's sign


def _refused(tmp_path, error, message, **writing):
    write_mosaic(tmp_path, DATA, MATRIX, **writing)
    with pytest.raises(error, match=message) as caught:
        open_stack(tmp_path)
    assert "MOSAIC" in str(caught.value)  # the file is named
    with (
        pytest.raises(NoImageDataError, match="every image file of the series is unreadable"),
        warnings.catch_warnings(),
    ):
        warnings.simplefilter("ignore")
        open_stack(tmp_path, skip_broken=True)  # never a stack of tiles, even when asked to skip


def test_a_mosaic_without_csa_header_is_refused(tmp_path):
    def drop(dataset, volume):
        del dataset[0x00291010]

    _refused(tmp_path, FormatError, r"is a Siemens mosaic .*MOSAIC.*without a CSA image header", edit=drop)


def test_a_csa_header_under_another_private_creator_is_not_read(tmp_path):
    def other(dataset, volume):
        dataset[0x00290010].value = "SOMEONE ELSE"

    _refused(tmp_path, FormatError, r"without a CSA image header \(\(0029,1010\) under the private creator", edit=other)


def test_an_unreadable_csa_header_is_refused(tmp_path):
    def garbage(dataset, volume):
        dataset[0x00291010].value = b"SV10\x04\x03\x02\x01\x02\x00\x00\x00M\x00\x00\x00" + b"\x00" * 30

    _refused(
        tmp_path, FormatError, r"whose CSA image header cannot be read: the CSA header \(SV10\) is trunc", edit=garbage
    )


def test_a_slice_count_that_does_not_fit_the_tile_grid_is_refused(tmp_path):
    def forty(elements, volume):
        elements["NumberOfImagesInMosaic"] = 40  # a grid of 7 x 7 tiles, but the image is 12 x 18

    _refused(
        tmp_path,
        FormatError,
        r"of 40 slices .*fill a grid of 7 x 7 tiles, but its .*Rows.* is 12 x 18, not a multiple of 7: tiles of 1 x 2 "
        r"pixels would leave 5 rows and 4 columns over, a tile or more: the slice count",
        edit_csa=forty,
        count_element=False,
    )


def test_a_missing_number_of_images_is_refused(tmp_path):
    _refused(
        tmp_path,
        FormatError,
        r"without NumberOfImagesInMosaic, in neither its CSA image header nor \(0019,100A\)",
        edit_csa=lambda elements, volume: elements.pop("NumberOfImagesInMosaic"),
        count_element=False,
    )


def test_counts_that_contradict_each_other_are_refused(tmp_path):
    def four(elements, volume):
        elements["NumberOfImagesInMosaic"] = 4

    _refused(tmp_path, FormatError, r"NumberOfImagesInMosaic is 4, but \(0019,100A\) .* says 5", edit_csa=four)


def test_a_missing_slice_normal_is_refused(tmp_path):
    _refused(
        tmp_path,
        GeometryError,
        r"has no SliceNormalVector: whether its tiles go up or down the normal",
        edit_csa=lambda elements, volume: elements.pop("SliceNormalVector"),
    )


def test_a_slice_normal_in_the_slice_plane_is_refused(tmp_path):
    def in_plane(elements, volume):
        elements["SliceNormalVector"] = [float(value) for value in MATRIX[:3, 0] / np.linalg.norm(MATRIX[:3, 0])]

    _refused(tmp_path, GeometryError, r"SliceNormalVector .* is 90 degrees off the normal", edit_csa=in_plane)


def test_a_mosaic_without_slice_spacing_is_refused(tmp_path):
    def drop(dataset, volume):
        del dataset.SpacingBetweenSlices
        del dataset.SliceThickness

    _refused(tmp_path, GeometryError, r"of 5 slices without .*Spacing Between Slices.*the distance", edit=drop)


def test_each_tile_is_a_frame_with_the_tiles_size(tmp_path):
    write_mosaic(tmp_path, DATA[..., :1], MATRIX)
    (path,) = tmp_path.iterdir()
    data = path.read_bytes()
    header = scan_header(Member(str(path), path.name, path.name), lambda count: data[:count], len(data), keep=KEPT)
    assert header is not None and is_mosaic(header)
    frames = frames_of(header)
    tiles = [frame.tile for frame in frames]
    assert [tile.number for tile in tiles if tile is not None] == [0, 1, 2, 3, 4]
    assert {frame_size(frame) for frame in frames} == {(4, 6)}
    assert [(tile.row, tile.column) for tile in tiles if tile is not None][3:] == [(4, 0), (4, 6)]  # a 3 x 3 grid
    np.testing.assert_allclose(frames[2].position, MATRIX[:3, 3] + 2 * MATRIX[:3, 2], atol=1e-4)


def test_list_series_shows_the_slices_not_the_tile_grid(tmp_path):
    write_mosaic(tmp_path, DATA, MATRIX)
    (info,) = list_series(tmp_path)
    assert (info.rows, info.columns, info.slices, info.volumes) == (4, 6, 5, 3)
    assert (info.files, info.frames, info.sizes) == (3, 15, ((4, 6),))
    assert "3 files, 15 frames, 4x6x5 x 3 volumes" in str(info)
    assert info.open().src_data.shape == (4, 6, 5, 3)


#: Slice times (ms, tile order) that dcm2niix v1.0.20260724 writes for mosaics without MosaicRefAcqTimes, by
#: sSliceArray.ucMode and slice count, for a repetition time of 2000 ms (the cross tests compare with it running).
PROTOCOL_TIMES = {
    (1, 5): (0.0, 400.0, 800.0, 1200.0, 1600.0),
    (2, 5): (1600.0, 1200.0, 800.0, 400.0, 0.0),
    (4, 5): (0.0, 1200.0, 400.0, 1600.0, 800.0),
    (4, 6): (1000.0, 0.0, 4000 / 3, 1000 / 3, 5000 / 3, 2000 / 3),
}


@pytest.mark.parametrize(("mode", "count"), list(PROTOCOL_TIMES))
def test_without_acquisition_times_the_protocols_slice_mode_gives_the_slice_timing(tmp_path, mode, count):
    data = np.arange(4 * 6 * count * 2, dtype=np.int16).reshape(4, 6, count, 2)
    protocol = {"sSliceArray.lSize": count, "sSliceArray.ucMode": mode, "alTR[0]": 2000000}
    write_mosaic(tmp_path, data, MATRIX, times=(), protocol=protocol, repetition_time=2000.0)
    stack = _load(tmp_path).src_object
    assert stack.slice_timing == pytest.approx(PROTOCOL_TIMES[mode, count])
    assert [row.slice_timing for row in stack.volumes] == [None, None]  # the files state none


def test_the_protocols_delay_shortens_the_time_the_slices_share_and_the_tr_is_0018_0080s(tmp_path):
    protocol = {"sSliceArray.ucMode": 1, "alTR[0]": 2000000, "lDelayTimeInTR": 500000}
    write_mosaic(tmp_path / "delay", DATA, MATRIX, times=(), protocol=protocol, repetition_time=2000.0)
    assert _load(tmp_path / "delay").src_object.slice_timing == pytest.approx((0.0, 300.0, 600.0, 900.0, 1200.0))
    write_mosaic(tmp_path / "tr", DATA, MATRIX, times=(), protocol={"sSliceArray.ucMode": 1}, repetition_time=3000.0)
    assert _load(tmp_path / "tr").src_object.slice_timing == pytest.approx((0.0, 600.0, 1200.0, 1800.0, 2400.0))


def test_descending_tiles_get_the_protocols_times_in_the_order_of_the_slice_axis(tmp_path):
    write_mosaic(tmp_path, DATA, DESCENDING, times=(), protocol={"sSliceArray.ucMode": 4}, repetition_time=2000.0)
    stack = _load(tmp_path).src_object
    assert stack.tiles[:5] == (4, 3, 2, 1, 0)
    assert stack.slice_timing == pytest.approx(PROTOCOL_TIMES[4, 5][::-1])


@pytest.mark.parametrize(
    "writing",
    [
        {"times": ()},  # no protocol
        {"times": (), "protocol": {"sSliceArray.ucMode": 4}},  # no repetition time
        {"times": (), "protocol": {"sSliceArray.ucMode": 8}, "repetition_time": 2000.0},  # an unknown mode
        {"times": (), "protocol": {"alTR[0]": 2000000}, "repetition_time": 2000.0},  # no mode
    ],
)
def test_without_times_or_a_protocol_that_says_there_is_no_slice_timing(tmp_path, writing):
    write_mosaic(tmp_path, DATA, MATRIX, **writing)
    volume = _load(tmp_path)
    assert volume.src_object.slice_timing is None
    assert_same_image(volume, DATA, MATRIX, "LPS")


def _padded(rows: int, columns: int):
    """An `edit` that enlarges each mosaic image by `rows` and `columns` of zeros at the bottom and right."""

    def pad(dataset, volume):
        image = np.pad(dataset.pixel_array, ((0, rows), (0, columns)))
        dataset.Rows, dataset.Columns = image.shape
        dataset.PixelData = image.tobytes()

    return pad


def test_an_image_a_little_larger_than_its_tiles_loads_them_from_the_top_left_and_warns(tmp_path):
    write_mosaic(tmp_path, DATA, MATRIX, edit=_padded(2, 1))  # 14 x 19: 3 x 3 tiles of 4 x 6, 2 rows and 1 column over
    with pytest.warns(
        FormatWarning,
        match=r"3 mosaic file\(s\) .* hold 5 slices in a grid of 3 x 3 tiles, but their "
        r"image of 14 x 19 pixels .* taken as 4 x 6 pixels from the top left, the last 2 rows and 1 "
        r"columns left out",
    ):
        volume = open_stack(tmp_path, system="LPS")
    np.testing.assert_array_equal(volume.src_data, DATA)
    # placed as nibabel and dcm2niix place them: the position is shifted by (grid - 1) / grid x Rows / 2 pixels
    shift = (2 / 3) * (14 * MATRIX[:3, 0] + 19 * MATRIX[:3, 1]) / 2 - (2 / 3) * (
        12 * MATRIX[:3, 0] + 18 * MATRIX[:3, 1]
    ) / 2
    np.testing.assert_allclose(volume.src_transformation[:3, 3], MATRIX[:3, 3] + shift, atol=1e-4)
