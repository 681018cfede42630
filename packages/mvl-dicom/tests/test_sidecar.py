"""The BIDS sidecar of a loaded series (mvl.dicom.sidecar): keys, units, and where each value comes from."""

from __future__ import annotations

import json

import numpy as np
import pytest

from mvl.coords import Volume
from mvl.dicom import open_stack
from mvl.dicom.sidecar import sidecar
from mvl.dicom.testing import write_series, write_volumes
from mvl.dicom.testing_mosaic import write_mosaic

AXIAL = np.array([[0, 3.0, 0, 0], [3.0, 0, 0, 0], [0, 0, 3.5, 0], [0, 0, 0, 1]])  # rows P, columns L, tiles S


def _mr(dataset, index, volume=0):
    dataset.Manufacturer = "SIEMENS "
    dataset.ManufacturerModelName = "Prisma_fit"
    dataset.MagneticFieldStrength = 3
    dataset.SeriesNumber = 7
    dataset.SeriesDescription = "bold run-1"
    dataset.ProtocolName = "func_bold"
    dataset.ImageType = ["ORIGINAL", "PRIMARY", "M", "ND", "ECHO_00"]
    dataset.RepetitionTime = 2000
    dataset.EchoTime = 30
    dataset.FlipAngle = 90
    dataset.SliceThickness = 2
    dataset.AcquisitionTime = "090501.5"


def test_the_keys_come_in_bids_units_from_the_first_image(tmp_path):
    write_series(tmp_path, shape=(4, 4, 3), modality="MR", edit=_mr)
    found = sidecar(open_stack(tmp_path))
    assert found == {
        "Modality": "MR",
        "ManufacturersModelName": "Prisma_fit",
        "SeriesDescription": "bold run-1",
        "ProtocolName": "func_bold",
        "SeriesInstanceUID": found["SeriesInstanceUID"],
        "StudyInstanceUID": found["StudyInstanceUID"],
        "Manufacturer": "Siemens",  # as dcm2niix and BIDS datasets name the vendor
        "MagneticFieldStrength": 3.0,
        "FlipAngle": 90.0,
        "SliceThickness": 2.0,
        "SeriesNumber": 7,
        "AcquisitionTime": "09:05:01.500000",
        "ImageType": ["ORIGINAL", "PRIMARY", "M", "ND", "ECHO", "00", "MAGNITUDE"],  # split at _, component added
        "RepetitionTime": 2.0,  # s
        "EchoTime": 0.03,
    }
    assert json.loads(json.dumps(found)) == found


def test_what_the_files_do_not_state_is_left_out(tmp_path):
    def computed_map(dataset, index):
        dataset.EchoTime = 0  # a computed map: no echo time
        dataset.InversionTime = 0  # no inversion pulse

    write_series(tmp_path, shape=(4, 4, 3), modality="MR", edit=computed_map)
    found = sidecar(open_stack(tmp_path))
    assert not {"EchoTime", "InversionTime", "RepetitionTime", "SliceTiming", "EchoNumber"} & set(found)


def test_an_inversion_time_is_in_seconds(tmp_path):
    write_series(
        tmp_path, shape=(4, 4, 3), modality="MR", edit=lambda dataset, index: setattr(dataset, "InversionTime", 900)
    )
    assert sidecar(open_stack(tmp_path))["InversionTime"] == 0.9


def test_a_mosaics_slice_timing_is_in_seconds_along_the_slice_axis(tmp_path):
    times = [0.0, 1200.0, 400.0, 1600.0, 800.0]
    volume = open_stack(write_mosaic(tmp_path, np.zeros((4, 6, 5, 2), np.int16), AXIAL, times=times), system="RAS")
    found = sidecar(volume)
    assert found["SliceTiming"] == [0.0, 1.2, 0.4, 1.6, 0.8]
    assert "SliceEncodingDirection" not in found  # k, BIDS's default, for src_data
    # saved aligned to SAR, the source slices (towards S) are axis 0 of the aligned data
    assert sidecar(open_stack(tmp_path, system="SAR"), aligned=True)["SliceEncodingDirection"] == "i"
    assert sidecar(open_stack(tmp_path, system="IAR"), aligned=True)["SliceEncodingDirection"] == "i-"


def test_images_of_a_volume_acquired_at_different_times_give_the_slice_timing(tmp_path):
    def timed(dataset, index, volume):  # slices 0, 2, 1 at 0, 0.5, 1 s into each 2 s volume
        seconds = 2.0 * volume + [0.0, 1.0, 0.5][index]
        dataset.AcquisitionTime = f"1200{seconds:09.6f}"

    found = sidecar(open_stack(write_volumes(tmp_path, np.zeros((4, 4, 3, 2), np.int16), AXIAL, edit=timed)))
    assert found["SliceTiming"] == [0.0, 1.0, 0.5]


def test_the_echo_number_is_written_for_a_series_of_several_echoes_only(tmp_path):
    for echo in (1, 2):
        write_series(
            tmp_path,
            shape=(4, 4, 3),
            series_uid="1.2.3",
            frame_of_reference="1.2.4",
            modality="MR",
            prefix=f"E{echo}",
            seed=echo,
            edit=lambda dataset, index, echo=echo: setattr(dataset, "EchoNumbers", echo),
        )
    with pytest.warns(UserWarning, match=r"2 kinds of images"):
        first = open_stack(tmp_path)
    assert sidecar(first)["EchoNumber"] == 1
    assert sidecar(open_stack(tmp_path, select={"EchoNumbers": 2}))["EchoNumber"] == 2  # select= knows the series
    single = write_series(
        tmp_path / "one", shape=(4, 4, 3), modality="MR", edit=lambda d, i: setattr(d, "EchoNumbers", 1)
    )
    assert "EchoNumber" not in sidecar(open_stack(single))


def test_a_volume_not_from_dicom_has_no_sidecar():
    with pytest.raises(TypeError, match="loaded from DICOM"):
        sidecar(Volume(np.zeros((2, 2, 2)), np.eye(4), "RAS"))


def _phase_encoded(folder, positive, direction="COL"):
    def polarity(elements, volume):
        elements["PhaseEncodingDirectionPositive"] = positive

    def in_plane(dataset, volume):
        dataset.InPlanePhaseEncodingDirection = direction

    return write_mosaic(folder, np.zeros((4, 6, 5, 2), np.int16), AXIAL, edit_csa=polarity, edit=in_plane)


def test_the_phase_encoding_direction_is_in_the_axes_of_the_array_written(tmp_path):
    # COL: along the column cosines, here towards P (axis 0 of src_data); positive: that way
    assert sidecar(open_stack(_phase_encoded(tmp_path / "p1", 1)))["PhaseEncodingDirection"] == "i"
    assert sidecar(open_stack(_phase_encoded(tmp_path / "p0", 0)))["PhaseEncodingDirection"] == "i-"
    # aligned to RAS the second axis points A: towards P is j-
    assert sidecar(open_stack(tmp_path / "p1", system="RAS"), aligned=True)["PhaseEncodingDirection"] == "j-"
    # ROW: along the row cosines, towards L (axis 1 of src_data)
    assert sidecar(open_stack(_phase_encoded(tmp_path / "row", 1, "ROW")))["PhaseEncodingDirection"] == "j"


def test_without_the_polarity_only_the_axis_is_stated(tmp_path):
    write_series(
        tmp_path, shape=(4, 4, 3), modality="MR", edit=lambda d, i: setattr(d, "InPlanePhaseEncodingDirection", "ROW")
    )
    found = sidecar(open_stack(tmp_path))
    assert "PhaseEncodingDirection" not in found and found["PhaseEncodingAxis"] in "ijk"
