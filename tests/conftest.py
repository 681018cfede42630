"""Shared references of the cross-package tests.

Imports nothing beyond numpy and pytest at module level: pytest also reads this file when
a package's session (installed without SimpleITK) runs its doctests from the repository root.
"""

import numpy as np
import pytest


def _read_with_simpleitk(path):
    """Voxels ([i, j, k, ...]) and LPS+ matrix as SimpleITK reads a file."""
    import SimpleITK as sitk

    image = sitk.ReadImage(str(path))
    array = sitk.GetArrayFromImage(image)
    array = np.transpose(array, (2, 1, 0, *range(3, array.ndim)))
    matrix = np.eye(4)
    matrix[:3, :3] = np.array(image.GetDirection()).reshape(3, 3) * np.array(image.GetSpacing())
    matrix[:3, 3] = image.GetOrigin()
    return array, matrix


@pytest.fixture(scope="session")
def sitk_lps():
    """``sitk_lps(path) -> (array, matrix)``: SimpleITK as the independent reader (session-wide, for hypothesis)."""
    return _read_with_simpleitk
