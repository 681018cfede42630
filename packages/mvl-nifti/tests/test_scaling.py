"""Scaling values and types: nibabel's apply_read_scaling, bit for bit, with one allocation."""

import re

import nibabel as nib
import numpy as np
import pytest
from nibabel.volumeutils import apply_read_scaling

from mvl.coords.errors import FormatError
from mvl.nifti.scaling import apply_scaling, scaled_dtype, scaling_of

TYPES = ["u1", "i1", "<i2", ">i2", "u2", "i4", "u4", "i8", "u8", "f4", ">f4", "f8", "c8", "c16"]


@pytest.mark.parametrize("dtype", TYPES)
@pytest.mark.parametrize(("slope", "intercept"), [(2.5, -3.0), (1.0, 7.0), (-0.125, 0.0), (1e-3, 1e3)])
def test_values_and_type_match_nibabel(dtype, slope, intercept):
    stored = np.asfortranarray((np.arange(3 * 4 * 5).reshape(3, 4, 5) * 7 % 127).astype(dtype))
    ours = apply_scaling(stored, slope, intercept)
    # nibabel's ArrayProxy hands apply_read_scaling 0-d float64 scale factors
    theirs = apply_read_scaling(stored, np.asanyarray(slope), np.asanyarray(intercept))
    assert ours.dtype == theirs.dtype == scaled_dtype(np.dtype(dtype))
    np.testing.assert_array_equal(ours, theirs)
    assert ours.flags.f_contiguous


def test_stored_array_is_not_modified():
    stored = np.arange(8, dtype=np.int16).reshape(2, 2, 2)
    apply_scaling(stored, 2.0, 1.0)
    np.testing.assert_array_equal(stored, np.arange(8).reshape(2, 2, 2))


@pytest.mark.parametrize(
    ("slope", "intercept", "expected"),
    [(0.0, 5.0, None), (np.nan, 5.0, None), (1.0, 0.0, None), (2.0, 0.0, (2.0, 0.0)), (1.0, -1.0, (1.0, -1.0))],
)
def test_when_scaling_applies(slope, intercept, expected):
    header = nib.Nifti1Header()
    header["scl_slope"], header["scl_inter"] = slope, intercept
    assert scaling_of(header, path="x.nii") == expected


def test_rgb_is_never_scaled():
    header = nib.Nifti1Header()
    header.set_data_dtype(np.dtype([("R", "u1"), ("G", "u1"), ("B", "u1")]))
    header["scl_slope"] = 2.0
    assert scaling_of(header, path="x.nii") is None


def test_infinite_intercept_with_a_valid_slope():
    header = nib.Nifti1Header()
    header["scl_slope"], header["scl_inter"] = 2.0, -np.inf
    with pytest.raises(FormatError, match=re.escape("x.nii: header field scl_inter is -inf while scl_slope is 2.0")):
        scaling_of(header, path="x.nii")
