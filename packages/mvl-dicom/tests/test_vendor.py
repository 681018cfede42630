"""Vendor private elements: trusted only under their creator; Philips' precise scaling."""

from __future__ import annotations

import numpy as np
import pytest

from mvl.coords import FormatWarning
from mvl.dicom import open_stack
from mvl.dicom.testing import oblique_transformation, write_series, write_volumes

MATRIX = oblique_transformation()
DATA = np.arange(4 * 5 * 6, dtype=np.int16).reshape(4, 5, 6)


def _philips(scale_slope, creator="Philips MR Imaging DD 001"):
    def edit(dataset, index):
        dataset.RescaleSlope = "2.5"
        dataset.RescaleIntercept = "-10"
        dataset.add_new(0x20050010, "LO", creator)
        dataset.add_new(0x2005100E, "FL", scale_slope)

    return edit


def test_philips_precise_scaling_is_an_option_and_the_standard_rescale_the_default(tmp_path):
    write_series(tmp_path, DATA, MATRIX, modality="MR", edit=_philips(0.5))
    standard = open_stack(tmp_path, system="LPS")
    precise = open_stack(tmp_path, system="LPS", philips_scaling="precise")
    stored = open_stack(tmp_path, system="LPS", rescale=False)
    assert np.array_equal(standard.src_data, stored.src_data * 2.5 - 10)
    # (stored x 2.5 - 10) / (2.5 x 0.5)
    assert np.allclose(precise.src_data, (stored.src_data * 2.5 - 10) / 1.25, rtol=1e-6)
    assert precise.src_object.slopes[0] == pytest.approx(2.0) and precise.src_object.intercepts[0] == pytest.approx(
        -8.0
    )


def test_a_scale_slope_under_another_creator_is_not_philips(tmp_path):
    write_series(tmp_path, DATA, MATRIX, modality="MR", edit=_philips(0.5, creator="NOT PHILIPS"))
    precise = open_stack(tmp_path, system="LPS", philips_scaling="precise")
    standard = open_stack(tmp_path, system="LPS")
    assert np.array_equal(precise.src_data, standard.src_data)


def test_precise_scaling_warns_when_only_some_images_state_it(tmp_path):
    def some(dataset, index):
        if index % 2 == 0:
            _philips(0.5)(dataset, index)

    write_series(tmp_path, DATA, MATRIX, modality="MR", edit=some)
    with pytest.warns(FormatWarning, match=r"3 of 6 images have no Philips scale slope \(2005,100E\)"):
        open_stack(tmp_path, philips_scaling="precise")


def test_philips_scaling_takes_two_values_only(tmp_path):
    write_series(tmp_path, DATA, MATRIX)
    with pytest.raises(ValueError, match="philips_scaling must be 'standard' or 'precise'"):
        open_stack(tmp_path, philips_scaling="dcm2niix")


@pytest.mark.parametrize(
    ("elements", "expected"),
    [
        ({(0x00190010, "LO"): "SIEMENS MR HEADER", (0x0019100C, "IS"): "1000"}, 1000.0),
        ({(0x20010010, "LO"): "Philips Imaging DD 001", (0x20011003, "FL"): 700.0}, 700.0),
        ({(0x00430010, "LO"): "GEMS_PARM_01", (0x00431039, "IS"): ["1000000800", "8", "0", "0"]}, 800.0),
        ({(0x00430010, "LO"): "SOMEONE", (0x00431039, "IS"): ["800", "8", "0", "0"]}, None),
    ],
)
def test_vendor_b_values_fill_in_for_the_standard_one(tmp_path, elements, expected):
    def vendor(dataset, index, volume):
        for (tag, vr), value in elements.items():
            if tag & 0xFFFF == 0x0010 or volume == 1:
                dataset.add_new(tag, vr, value)

    write_volumes(tmp_path, np.zeros((4, 5, 6, 2), np.int16), MATRIX, edit=vendor)
    table = open_stack(tmp_path).src_object.volume_table()
    assert table["b_value"] == [None, expected]


def test_siemens_private_direction_is_reported_in_the_patient_system(tmp_path):
    def vendor(dataset, index, volume):
        dataset.add_new(0x00190010, "LO", "SIEMENS MR HEADER")
        dataset.add_new(0x0019100C, "IS", str(1000 * volume))
        if volume:
            dataset.add_new(0x0019100E, "FD", [0.0, 0.6, 0.8])

    write_volumes(tmp_path, np.zeros((4, 5, 6, 2), np.int16), MATRIX, edit=vendor)
    table = open_stack(tmp_path).src_object.volume_table()
    assert table["direction"] == [None, (0.0, 0.6, 0.8)]
