"""Several volumes in one series (issue 13): told apart and ordered by what the files say, or refused truthfully."""

from __future__ import annotations

import numpy as np
import pytest

from mvl.coords import AmbiguousInputError, FormatWarning, GeometryError
from mvl.coords.testing import assert_same_image
from mvl.dicom import open_stack
from mvl.dicom.testing import oblique_transformation, write_enhanced, write_series, write_volumes

MATRIX = oblique_transformation()
DATA = np.arange(4 * 5 * 6 * 3, dtype=np.int16).reshape(4, 5, 6, 3)  # rows, columns, slices, volumes


@pytest.mark.parametrize("numbering", ["volume", "slice"])
def test_instance_numbers_order_the_volumes_of_a_series_numbered_either_way(tmp_path, numbering):
    write_volumes(tmp_path, DATA, MATRIX, numbering=numbering)
    volume = open_stack(tmp_path, system="LPS")
    assert volume.src_data.shape == (4, 5, 6, 3)
    assert_same_image(volume, DATA, MATRIX, "LPS")
    stack = volume.src_object
    assert len(stack.volumes) == 3 and "InstanceNumber" in stack.evidence
    assert volume.aligned_data.shape[3] == 3  # the volume axis stays at the back


def test_temporal_position_identifier_identifies_volumes_whatever_the_numbering(tmp_path):
    order = [2, 0, 1]  # volume v holds time point order[v]

    def when(dataset, index, volume):
        dataset.TemporalPositionIdentifier = order[volume] + 1

    write_volumes(tmp_path, DATA, MATRIX, numbering="none", edit=when)
    volume = open_stack(tmp_path, system="LPS")
    expected = DATA[..., np.argsort(order)]
    assert_same_image(volume, expected, MATRIX, "LPS")
    assert volume.src_object.evidence == "(0020,0100) 'Temporal Position Identifier'"
    assert [row.temporal_index for row in volume.src_object.volumes] == [1, 2, 3]


def test_acquisition_numbers_identify_volumes(tmp_path):
    def acquisition(dataset, index, volume):
        dataset.AcquisitionNumber = [7, 3, 5][volume]

    write_volumes(tmp_path, DATA, MATRIX, numbering="none", edit=acquisition)
    volume = open_stack(tmp_path, system="LPS")
    assert_same_image(volume, DATA[..., [1, 2, 0]], MATRIX, "LPS")
    assert volume.src_object.evidence == "(0020,0012) 'Acquisition Number'"
    assert volume.src_object.volume_table()["acquisition_number"] == [3, 5, 7]


def test_acquisition_numbers_that_change_with_every_image_only_order_them(tmp_path):
    def acquisition(dataset, index, volume):  # one acquisition per image: no identity of volumes, but an order
        dataset.AcquisitionNumber = 100 * [2, 0, 1][volume] + index

    write_volumes(tmp_path, DATA, MATRIX, numbering="none", edit=acquisition)
    volume = open_stack(tmp_path, system="LPS")
    assert_same_image(volume, DATA[..., [1, 2, 0]], MATRIX, "LPS")
    assert "AcquisitionNumber" in volume.src_object.evidence and "volume after volume" in volume.src_object.evidence


def test_trigger_times_order_cardiac_phases(tmp_path):
    phases = [300.0, 0.0, 150.0]

    def cardiac(dataset, index, volume):
        dataset.TriggerTime = phases[volume] + index  # each slice triggered a little later
        dataset.AcquisitionTime = "101500"  # the same for every image: no order in it

    write_volumes(tmp_path, DATA, MATRIX, numbering="none", edit=cardiac)
    volume = open_stack(tmp_path, system="LPS")
    assert_same_image(volume, DATA[..., [1, 2, 0]], MATRIX, "LPS")
    assert "TriggerTime" in volume.src_object.evidence
    assert volume.src_object.volume_table()["trigger_time"] == [0.0, 150.0, 300.0]


def test_dimension_index_values_order_enhanced_frames_without_a_temporal_index(tmp_path):
    order = np.random.default_rng(5).permutation(6 * 3).tolist()  # frames stored in no particular order

    def dimensions(item, index, volume):
        item.FrameContentSequence[0].DimensionIndexValues = [1, index + 1, volume + 1]

    path = write_enhanced(
        tmp_path / "dynamic.dcm", DATA, MATRIX, frame_order=order, temporal_index=False, edit_frame=dimensions
    )
    volume = open_stack(path, system="LPS")
    assert_same_image(volume, DATA, MATRIX, "LPS")
    assert "DimensionIndexValues" in volume.src_object.evidence


def test_acquisition_times_order_volumes_when_nothing_identifies_them(tmp_path):
    start = [30.0, 10.0, 20.0]  # seconds after 12:00 of each volume; slices 0.1 s apart

    def when(dataset, index, volume):
        dataset.AcquisitionTime = f"1200{start[volume] + 0.1 * index:09.6f}"

    write_volumes(tmp_path, DATA, MATRIX, numbering="none", edit=when)
    volume = open_stack(tmp_path, system="LPS")
    assert_same_image(volume, DATA[..., [1, 2, 0]], MATRIX, "LPS")
    assert "AcquisitionTime" in volume.src_object.evidence
    assert [row.acquisition_time for row in volume.src_object.volumes] == [
        "120010.000000",
        "120020.000000",
        "120030.000000",
    ]


def test_diffusion_volumes_carry_b_values_and_directions_in_patient_and_voxel_axes(tmp_path):
    b_values = [0.0, 1000.0, 1000.0]
    directions = [None, (1.0, 0.0, 0.0), (0.0, 0.6, 0.8)]

    def diffusion(dataset, index, volume):
        dataset.DiffusionBValue = b_values[volume]
        if directions[volume] is not None:
            dataset.DiffusionGradientOrientation = list(directions[volume])

    write_volumes(tmp_path, DATA, MATRIX, edit=diffusion)
    volume = open_stack(tmp_path, system="LPS")
    table = volume.src_object.volume_table()
    assert table["b_value"] == b_values
    assert table["direction"] == directions
    axes = MATRIX[:3, :3] / np.linalg.norm(MATRIX[:3, :3], axis=0)
    for direction, in_voxels in zip(directions[1:], table["voxel_direction"][1:], strict=True):
        assert axes @ np.asarray(in_voxels) == pytest.approx(direction)  # back to the patient system
    assert table["voxel_direction"][0] is None


def test_an_incomplete_last_volume_is_named_and_the_complete_ones_load_on_request(tmp_path):
    import pydicom

    write_volumes(tmp_path, DATA, MATRIX)
    # the run stopped early: the last two images of the last volume (highest instance numbers) were never written

    numbers = {path: int(pydicom.dcmread(path, stop_before_pixels=True).InstanceNumber) for path in tmp_path.iterdir()}
    for path in sorted(numbers, key=numbers.get)[-2:]:
        path.unlink()
    with pytest.raises(AmbiguousInputError, match=r"volume 3 lacks 2 of 6 positions .*allow_incomplete_volumes=True"):
        open_stack(tmp_path)
    with pytest.warns(FormatWarning, match=r"loaded the 2 complete volumes and left out 4 images"):
        volume = open_stack(tmp_path, system="LPS", allow_incomplete_volumes=True)
    assert_same_image(volume, DATA[..., :2], MATRIX, "LPS")
    assert len(volume.src_object.left_out) == 4


def test_a_position_missing_in_one_volume_is_named_when_volumes_are_identified(tmp_path):
    import pydicom

    def when(dataset, index, volume):
        dataset.TemporalPositionIdentifier = volume + 1

    write_volumes(tmp_path, DATA, MATRIX, numbering="none", edit=when)
    for path in tmp_path.iterdir():
        dataset = pydicom.dcmread(path, stop_before_pixels=True)
        if dataset.TemporalPositionIdentifier == 2 and dataset.ImagePositionPatient == _position_of(3):
            path.unlink()
    with pytest.raises(AmbiguousInputError, match=r"volume 2 lacks 1 of 6 positions \(.* mm\)"):
        open_stack(tmp_path)
    with pytest.warns(FormatWarning, match=r"left out 5 images"):
        volume = open_stack(tmp_path, system="LPS", allow_incomplete_volumes=True)
    assert_same_image(volume, DATA[..., [0, 2]], MATRIX, "LPS")


def _position_of(slice_index):
    """The (0020,0032) value write_series writes for a slice (as pydicom reads it back)."""
    from mvl.dicom.testing import _ds

    return [float(_ds(value)) for value in MATRIX[:3, 3] + slice_index * MATRIX[:3, 2]]


def test_images_nothing_tells_apart_are_refused_saying_what_differs(tmp_path):
    write_volumes(tmp_path, DATA, MATRIX, numbering="none")  # same instance number, no time, no identifier
    with pytest.raises(AmbiguousInputError, match=r"could not be told apart by .*InstanceNumber") as caught:
        open_stack(tmp_path)
    message = str(caught.value)
    assert "SOPInstanceUID" in message and "remove" not in message  # the files differ: never "remove the extra files"


def test_volumes_that_contradict_their_own_b_values_are_refused(tmp_path):
    def diffusion(dataset, index, volume):  # the b-value follows the slice, not the volume: no order can be trusted
        dataset.DiffusionBValue = 1000.0 * ((index + volume) % 2)

    write_volumes(tmp_path, DATA, MATRIX, edit=diffusion)
    with pytest.raises(AmbiguousInputError, match=r"volume 1 of 3 would mix images of different DiffusionBValue"):
        open_stack(tmp_path)


def test_volumes_on_different_grids_are_refused(tmp_path):
    def shift(dataset, index, volume):
        if volume == 1:
            position = [float(value) for value in dataset.ImagePositionPatient]
            shifted = np.asarray(position) + 2.0 * MATRIX[:3, 1] / np.linalg.norm(MATRIX[:3, 1])  # 2 mm in-plane
            dataset.ImagePositionPatient = [f"{value:.6f}" for value in shifted]

    write_volumes(tmp_path, DATA, MATRIX, edit=shift)
    with pytest.raises(GeometryError, match=r"2 mm apart in the slice plane .*different grids"):
        open_stack(tmp_path)


@pytest.mark.parametrize("shuffled", [False, True])
def test_an_enhanced_multi_volume_object_loads_like_its_classic_export(tmp_path, shuffled):
    order = np.random.default_rng(3).permutation(6 * 3).tolist() if shuffled else None
    enhanced = open_stack(write_enhanced(tmp_path / "fmri.dcm", DATA, MATRIX, frame_order=order), system="LPS")
    classic = open_stack(write_volumes(tmp_path / "classic", DATA, MATRIX), system="LPS")
    assert_same_image(enhanced, DATA, MATRIX, "LPS")
    assert_same_image(classic, np.asarray(enhanced.src_data), enhanced.src_transformation, "LPS")
    assert enhanced.src_object.evidence == "(0020,9128) 'Temporal Position Index'"


def test_colour_samples_stay_the_last_axis_after_the_volume_axis(tmp_path):
    rgb = np.random.default_rng(7).integers(0, 255, size=(4, 5, 3, 2, 3)).astype(np.uint8)

    def colour(dataset, index, volume):
        dataset.SamplesPerPixel = 3
        dataset.PhotometricInterpretation = "RGB"
        dataset.PlanarConfiguration = 0
        dataset.BitsAllocated = dataset.BitsStored = 8
        dataset.HighBit = 7
        dataset.PixelRepresentation = 0
        dataset.PixelData = rgb[:, :, index, volume].tobytes()

    write_volumes(tmp_path, np.zeros((4, 5, 3, 2), np.uint8), MATRIX, modality="XC", edit=colour)
    volume = open_stack(tmp_path, system="LPS")
    assert volume.src_data.shape == (4, 5, 3, 2, 3)
    assert_same_image(volume, rgb, MATRIX, "LPS")


def test_one_volume_has_one_row_and_no_evidence(tmp_path):
    stack = open_stack(write_series(tmp_path, DATA[..., 0], MATRIX)).src_object
    assert len(stack.volumes) == 1 and stack.evidence == "" and stack.kind == ""
    assert stack.volume_table()["index"] == [0]
