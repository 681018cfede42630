"""FSL b-values and b-vectors (mvl.dicom.gradients) in the voxel axes of the array written."""

from __future__ import annotations

import numpy as np
import pytest

from mvl.dicom import open_stack
from mvl.dicom.gradients import fsl_gradients, fsl_texts
from mvl.dicom.testing import write_series, write_volumes

AXIAL = np.array([[0, 2.0, 0, 0], [2.0, 0, 0, 0], [0, 0, 3.0, 0], [0, 0, 0, 1]])  # rows P, columns L, slices S


def _diffusion(dataset, index, volume):
    dataset.DiffusionBValue = [0.0, 1000.0, 1000.0][volume]
    if volume:
        dataset.DiffusionGradientOrientation = [[1.0, 0.0, 0.0], [0.0, 0.6, 0.8]][volume - 1]  # LPS+: L, then P/S


def test_the_vectors_are_in_the_voxel_axes_with_fsls_x_flip(tmp_path):
    volume = open_stack(write_volumes(tmp_path, np.zeros((4, 4, 3, 3), np.int16), AXIAL, edit=_diffusion))
    bvals, bvecs = fsl_gradients(volume)
    assert bvals == [0.0, 1000.0, 1000.0]
    # src_data axes in RAS+: rows -> P (0,-1,0), columns -> L (-1,0,0), slices -> S; det < 0: no flip.
    # L = (-1,0,0) RAS is +1 along the columns (axis 1); (0, 0.6, 0.8) LPS = (0,-0.6,0.8) RAS = rows +0.6, slices +0.8
    np.testing.assert_allclose(bvecs, [[0, 0, 0], [0, 1, 0], [0.6, 0, 0.8]], atol=1e-12)


def test_aligned_to_ras_the_same_directions_get_fsls_flip_of_x(tmp_path):
    volume = open_stack(write_volumes(tmp_path, np.zeros((4, 4, 3, 3), np.int16), AXIAL, edit=_diffusion), system="RAS")
    _, bvecs = fsl_gradients(volume, aligned=True)
    # aligned axes R, A, S (det > 0): L = -R, flipped -> +1; (0,-0.6,0.8) RAS: A component -0.6
    np.testing.assert_allclose(bvecs, [[0, 0, 0], [1, 0, 0], [0, -0.6, 0.8]], atol=1e-12)


def test_a_series_without_b_values_has_no_gradients(tmp_path):
    assert fsl_gradients(open_stack(write_series(tmp_path, shape=(4, 4, 3)))) is None


def test_the_files_are_fsls_text_layout():
    bval, bvec = fsl_texts(([0.0, 1000.0], [[0.0, -0.0, 0.0], [0.6, -0.8, 1e-7]]))
    assert bval == "0 1000\n"
    assert bvec == "0 0.6\n0 -0.8\n0 1e-07\n"
    assert np.loadtxt(bvec.splitlines()).shape == (3, 2)


@pytest.mark.parametrize("system", ["LPS", "SAR", "PIL"])
def test_every_orientation_gives_the_same_world_directions(tmp_path, system):
    folder = write_volumes(tmp_path, np.zeros((4, 4, 3, 3), np.int16), AXIAL, edit=_diffusion)
    volume = open_stack(folder, system=system)
    _, bvecs = fsl_gradients(volume, aligned=True)
    axes = volume.get_aligned_transformation("RAS")[:3, :3]
    axes = axes / np.linalg.norm(axes, axis=0)
    voxel = np.array(bvecs).T
    if np.linalg.det(axes) > 0:
        voxel[0] = -voxel[0]
    np.testing.assert_allclose((axes @ voxel).T, [[0, 0, 0], [-1, 0, 0], [0, -0.6, 0.8]], atol=1e-12)
