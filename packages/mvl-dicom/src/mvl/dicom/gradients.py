"""Diffusion b-values and b-vectors in FSL's convention (``.bval``, ``.bvec``) for the image actually written.

FSL, MRtrix's ``-fslgrad`` and dcm2niix state each volume's gradient direction in the
voxel axes of the NIfTI image it belongs to, not in the scanner's patient axes: the
components along the image's first, second and third axes, with the first one negated
when the image's voxel-to-world matrix has a positive determinant (FSL's "radiological"
voxel order). So the same acquisition saved in another orientation (``--system``,
``--aligned``) needs other numbers; :func:`fsl_gradients` computes them from the matrix
of the array that is written, and they stay right whatever orientation was chosen.

The directions come from :attr:`DicomStack.volumes <mvl.dicom.DicomStack>`
(:attr:`VolumeInfo.direction <mvl.dicom.volumes.VolumeInfo>`, patient LPS+); a volume
without one (b = 0) gets ``0 0 0``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from mvl.coords import Volume

__all__ = ["fsl_gradients", "fsl_texts"]

_LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0])


def fsl_gradients(volume: Volume, *, aligned: bool = False) -> tuple[list[float], list[list[float]]] | None:
    """Each volume's b-value (s/mm²) and FSL b-vector for the array written, or None without b-values.

    Parameters
    ----------
    volume : Volume
        Loaded by :func:`~mvl.dicom.open_stack` (its ``src_object`` is a :class:`~mvl.dicom.DicomStack`).
    aligned : bool, optional
        The output holds ``aligned_data`` (else ``src_data``).

    Returns
    -------
    (bvals, bvecs) or None
        ``bvals[t]`` and ``bvecs[t] = [x, y, z]`` per volume, in volume order; None when no
        volume states a b-value.
    """
    rows = getattr(volume.src_object, "volumes", ())
    if not rows or all(row.b_value is None for row in rows):
        return None
    matrix = volume.get_aligned_transformation("RAS") if aligned else volume.get_src_transformation("RAS")
    axes = matrix[:3, :3] / np.linalg.norm(matrix[:3, :3], axis=0)  # voxel axes as RAS+ unit vectors
    to_voxel = np.linalg.inv(axes)
    flip = np.linalg.det(axes) > 0
    bvals, bvecs = [], []
    for row in rows:
        bvals.append(float(row.b_value or 0.0))
        if row.direction is None or not np.any(row.direction) or not row.b_value:
            bvecs.append([0.0, 0.0, 0.0])
            continue
        direction = np.asarray(row.direction, dtype=np.float64)
        voxel = to_voxel @ (_LPS_TO_RAS @ (direction / np.linalg.norm(direction)))
        if flip:
            voxel[0] = -voxel[0]
        bvecs.append([float(value) + 0.0 for value in voxel])
    return bvals, bvecs


def fsl_texts(gradients: tuple[list[float], list[list[float]]]) -> tuple[str, str]:
    """The text of the ``.bval`` file (one line) and of the ``.bvec`` file (three lines: x, y, z).

    Examples
    --------
    >>> bval, bvec = fsl_texts(([0.0, 1000.0], [[0.0, 0.0, 0.0], [0.6, -0.8, 0.0]]))
    >>> print(bval, bvec, sep="")
    0 1000
    0 0.6
    0 -0.8
    0 0
    """
    bvals, bvecs = gradients
    bval = " ".join(f"{value:g}" for value in bvals) + "\n"
    bvec = "".join(" ".join(f"{vector[axis] + 0.0:.6g}" for vector in bvecs) + "\n" for axis in range(3))
    return bval, bvec
