"""Which matrix maps a NIfTI file's voxels to the world: the sform, the qform, or a fallback.

NIfTI-1 (and NIfTI-2, which only widens the fields) stores up to two voxel-to-world
matrices into RAS+, each with a code saying what its world is (0 unknown, 1 scanner,
2 aligned, 3 Talairach, 4 MNI-152, 5 other template):

- the **sform**: the rows ``srow_x``, ``srow_y``, ``srow_z``, a general affine
  (NIfTI-1 "method 3"), valid when ``sform_code > 0``;
- the **qform**: a rotation quaternion (``quatern_b/c/d``, the first component
  implied), voxel sizes ``pixdim[1:4]``, ``qfac = pixdim[0]`` (the sign of the third
  axis) and an offset ``qoffset_x/y/z`` (NIfTI-1 "method 2"), valid when
  ``qform_code > 0``.

The rule, the same as nibabel's ``get_best_affine``: the sform when ``sform_code > 0``,
else the qform when ``qform_code > 0``, else nibabel's voxel-size fallback (``pixdim``
as voxel sizes, the first axis towards the left, the origin at the centre of the
volume) with a :class:`~mvl.coords.GeometryWarning`, because then the file has no
anatomical orientation at all. ``matrix="sform"`` or ``matrix="qform"`` forces one.

When both codes are set and the two matrices put the corners of the volume more than
:data:`DISAGREEMENT_TOLERANCE` voxels apart, a GeometryWarning says so: readers
disagree on such files (nibabel takes the sform; ITK takes the qform in several cases).

Positions are in millimetres: a file whose ``xyzt_units`` says metres or micrometres is
scaled to millimetres, as ITK does (nibabel leaves the file's unit).
"""

from __future__ import annotations

import itertools
import math
import os
import warnings
from collections.abc import Sequence
from typing import Final, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from mvl.coords.errors import FormatWarning, GeometryError, GeometryWarning, warn
from mvl.coords.transformations import spacing, validate_transformation

from .header import NiftiHeader

__all__ = [
    "DISAGREEMENT_TOLERANCE",
    "MATRIX_CHOICES",
    "MatrixChoice",
    "corner_distance",
    "header_transformation",
    "qform_is_faithful",
]

MatrixChoice = Literal["auto", "sform", "qform"]
#: The values of the ``matrix`` option of :func:`~mvl.nifti.open_image`.
MATRIX_CHOICES: Final = ("auto", "sform", "qform")
#: Sform and qform farther apart than this fraction of the smallest voxel spacing, at
#: any corner of the volume, disagree (a warning on reading; qform_code 0 on saving).
DISAGREEMENT_TOLERANCE: Final = 0.01
#: Millimetres per unit of the NIfTI spatial unit codes (``xyzt_units & 7``); 0 is
#: "unknown", read as millimetres.
UNIT_TO_MM: Final = {0: 1.0, 1: 1000.0, 2: 1.0, 3: 0.001}
_UNIT_NAMES: Final = {1: "metres", 3: "micrometres"}
_VALID_CODES: Final = range(6)


def corner_distance(first: ArrayLike, second: ArrayLike, shape: Sequence[int]) -> float:
    """Return how far apart two transformations put the corner voxels of a grid.

    Both maps are affine, so the largest distance over the whole grid is reached at a
    corner.

    Parameters
    ----------
    first, second : (4, 4) array_like
        Voxel-to-world transformations.
    shape : sequence of int
        The grid; its first three entries are used (missing ones count as 1).

    Returns
    -------
    float
        The largest distance, in world units.

    Examples
    --------
    >>> shifted = np.eye(4)
    >>> shifted[0, 3] = 0.5
    >>> corner_distance(np.eye(4), shifted, (10, 10, 10))
    0.5
    """
    grid = [*list(shape[:3]), 1, 1, 1][:3]
    corners = np.array(list(itertools.product(*[(0, max(n - 1, 0)) for n in grid])), dtype=np.float64)
    difference = np.asarray(first, dtype=np.float64) - np.asarray(second, dtype=np.float64)
    offsets = corners @ difference[:3, :3].T + difference[:3, 3]
    return float(np.linalg.norm(offsets, axis=1).max())


def qform_is_faithful(header: NiftiHeader, affine: NDArray[np.float64], shape: Sequence[int]) -> bool:
    """Whether the qform `header` holds reproduces `affine` within the tolerance.

    The qform cannot store shears, and its quaternion, kept in float32, loses precision
    for rotations near 180 degrees.

    Parameters
    ----------
    header : nibabel.nifti1.Nifti1Header
        A header whose qform was set from `affine`.
    affine : (4, 4) ndarray
        The intended transformation.
    shape : sequence of int
        The data shape.

    Returns
    -------
    bool
    """
    try:
        qform = np.asarray(header.get_qform(), dtype=np.float64)
    except Exception:  # nibabel refuses unusable qform fields
        return False
    tolerance = DISAGREEMENT_TOLERANCE * min(spacing(affine))
    return bool(np.all(np.isfinite(qform))) and corner_distance(qform, affine, shape) <= tolerance


def header_transformation(
    header: NiftiHeader, *, matrix: MatrixChoice = "auto", path: str | os.PathLike[str]
) -> tuple[NDArray[np.float64], str]:
    """Return the voxel-to-world transformation a NIfTI header defines, in RAS+ millimetres.

    Parameters
    ----------
    header : nibabel.nifti1.Nifti1Header
        Any of the four NIfTI header classes; not modified.
    matrix : {"auto", "sform", "qform"}, optional
        ``"auto"``: the sform if ``sform_code > 0``, else the qform if
        ``qform_code > 0``, else the fallback (see the module). ``"sform"`` or
        ``"qform"``: that matrix, whatever its code.
    path : str or os.PathLike
        Named in errors and warnings.

    Returns
    -------
    transformation : (4, 4) ndarray of float64
        Maps voxel indices of the first three axes to RAS+ millimetres.
    source : str
        ``"sform"``, ``"qform"`` or ``"fallback"``.

    Raises
    ------
    GeometryError
        If the chosen matrix holds NaN or infinity, is singular (a zero voxel size,
        coplanar axes), or the qform's quaternion is not a rotation.
    ValueError
        If `matrix` is not one of the choices.

    Warns
    -----
    GeometryWarning
        When the fallback is used (no orientation in the file), when a forced matrix
        has code 0, and when sform and qform disagree (see the module).
    FormatWarning
        When header fields break the standard and are read the way nibabel reads them
        (an invalid code as 0, a negative voxel size as positive, ``qfac`` other than
        ``-1`` or ``1`` as ``1``).

    Examples
    --------
    >>> from nibabel import Nifti1Header
    >>> header = Nifti1Header()
    >>> header.set_data_shape((10, 10, 10))
    >>> header.set_sform(np.diag([2.0, 2.0, 3.0, 1.0]), code=1)
    >>> transformation, source = header_transformation(header, path="scan.nii")
    >>> source, transformation.diagonal().tolist()
    ('sform', [2.0, 2.0, 3.0, 1.0])
    """
    if matrix not in MATRIX_CHOICES:
        raise ValueError(f"matrix must be one of {', '.join(map(repr, MATRIX_CHOICES))}, got {matrix!r}")
    work = _repaired(header, path)
    sform_code, qform_code = int(work["sform_code"]), int(work["qform_code"])
    if matrix == "auto":
        source = "sform" if sform_code > 0 else "qform" if qform_code > 0 else "fallback"
    else:
        source = matrix
        if int(work[f"{matrix}_code"]) == 0:
            warn(
                f"{path}: {matrix}_code is 0 (unknown): the {matrix} is used only because matrix={matrix!r} asked "
                "for it; other readers ignore it",
                GeometryWarning,
            )
    transformation = _matrix(work, source, path)
    if matrix == "auto" and sform_code > 0 and qform_code > 0:
        _warn_on_disagreement(work, transformation, path)
    return transformation, source


def _repaired(header: NiftiHeader, path: str | os.PathLike[str]) -> NiftiHeader:
    """A copy with the fields fixed the way nibabel's header check fixes them on load."""
    work = header.copy()
    for field in ("sform_code", "qform_code"):
        code = int(work[field])
        if code not in _VALID_CODES:
            warn(
                f"{path}: header field {field} is {code}, not a valid code (0 to 5); read as 0 (unknown)",
                FormatWarning,
            )
            work[field] = 0
    pixdim = work["pixdim"]
    qfac = float(pixdim[0])
    if qfac not in (-1.0, 1.0):
        if qfac != 0.0:  # 0 is common and the standard says to read it as 1
            warn(
                f"{path}: header field pixdim[0] (qfac) is {qfac:g}, expected -1 or 1; read as 1",
                FormatWarning,
            )
        pixdim[0] = 1.0
    if np.any(pixdim[1:4] < 0):
        warn(
            f"{path}: negative voxel sizes in pixdim[1:4] = {pixdim[1:4].tolist()}; read as their absolute values",
            FormatWarning,
        )
        pixdim[1:4] = np.abs(pixdim[1:4])
    return work


def _matrix(work: NiftiHeader, source: str, path: str | os.PathLike[str]) -> NDArray[np.float64]:
    if source == "sform":
        candidate = np.asarray(work.get_sform(), dtype=np.float64)
    elif source == "qform":
        candidate = _qform(work, path)
    else:
        candidate = _fallback(work, path)
    candidate[:3] *= _unit_scale(work, path)
    try:
        return validate_transformation(candidate, name=f"the {source}")
    except GeometryError as error:
        hint = ""
        if source == "sform" and int(work["qform_code"]) > 0:
            hint = "; the file also has a qform: open_image(..., matrix='qform') uses it"
        raise GeometryError(f"{error.message}{hint}", path=path) from None


def _qform(work: NiftiHeader, path: str | os.PathLike[str]) -> NDArray[np.float64]:
    sizes = [float(value) for value in work["pixdim"][1:4]]
    if not all(math.isfinite(size) and size > 0 for size in sizes):
        raise GeometryError(f"the qform is unusable: voxel sizes pixdim[1:4] = {sizes} must be positive", path=path)
    try:
        return np.asarray(work.get_qform(), dtype=np.float64)
    except Exception as error:  # nibabel raises ValueError for |(b, c, d)| > 1
        quaternion = [float(work[name]) for name in ("quatern_b", "quatern_c", "quatern_d")]
        raise GeometryError(
            f"the qform is unusable: quatern_b/c/d = {quaternion} is not part of a unit quaternion ({error})",
            path=path,
        ) from error


def _fallback(work: NiftiHeader, path: str | os.PathLike[str]) -> NDArray[np.float64]:
    pixdim = work["pixdim"]
    sizes = pixdim[1:4]
    unusable = ~np.isfinite(sizes) | (sizes <= 0)
    sizes[unusable] = 1.0
    zooms = ", ".join(f"{float(size):g}" for size in sizes)
    warn(
        f"{path}: no world orientation (sform_code and qform_code are both 0): assumed nibabel's fallback, "
        f"voxel sizes ({zooms}) mm from pixdim{' (unusable ones as 1)' if unusable.any() else ''}, "
        "the first axis towards the subject's left, the second anterior, the third superior, the origin at the "
        "centre of the volume; left and right are a guess",
        GeometryWarning,
    )
    return np.asarray(work.get_base_affine(), dtype=np.float64)


def _unit_scale(work: NiftiHeader, path: str | os.PathLike[str]) -> float:
    code = int(work["xyzt_units"]) & 0x07
    if code not in UNIT_TO_MM:
        warn(
            f"{path}: header field xyzt_units has the unknown spatial unit code {code}; read as millimetres",
            FormatWarning,
        )
        return 1.0
    return UNIT_TO_MM[code]


def _warn_on_disagreement(work: NiftiHeader, sform: NDArray[np.float64], path: str | os.PathLike[str]) -> None:
    codes = f"sform_code {int(work['sform_code'])}, qform_code {int(work['qform_code'])}"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FormatWarning)  # already said for the sform
            qform = _matrix(work, "qform", path)
    except GeometryError as error:
        warn(
            f"{path}: both matrices are set ({codes}) and the sform was used, but the qform is unusable "
            f"({error.message}); readers that prefer the qform (ITK in several cases) will refuse or misplace "
            "this file",
            GeometryWarning,
        )
        return
    shape = [int(n) for n in work["dim"][1:4]]
    distance = corner_distance(sform, qform, shape)
    smallest = min(spacing(sform))
    if distance > DISAGREEMENT_TOLERANCE * smallest:
        warn(
            f"{path}: the sform and the qform disagree ({codes}): they put the corners of the volume up to "
            f"{distance:.3g} mm ({distance / smallest:.3g} voxels) apart. The sform was used, as nibabel does; "
            "other readers (ITK in several cases) use the qform: pass matrix='qform' to do the same",
            GeometryWarning,
        )
