"""Voxel scaling: NIfTI-1 ``scl_slope`` and ``scl_inter``, applied exactly as nibabel applies them.

A stored value ``v`` means ``scl_slope * v + scl_inter``. As in nibabel, a slope of 0
or NaN means "no scaling" (and so does slope 1 with intercept 0): the stored values and
their data type are kept. Otherwise the result is float64 (complex128 for complex data,
float128 stays float128): nibabel's ``np.asanyarray(image.dataobj)``, bit for bit.
"""

from __future__ import annotations

import math
import os
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from mvl.coords.errors import FormatError

from .header import NiftiHeader

__all__ = ["apply_scaling", "scaled_dtype", "scaling_of"]


def scaling_of(header: NiftiHeader, *, path: str | os.PathLike[str]) -> tuple[float, float] | None:
    """Return ``(slope, intercept)`` if the header asks for scaling, else None.

    Parameters
    ----------
    header : nibabel.nifti1.Nifti1Header
        Any of the four NIfTI header classes.
    path : str or os.PathLike
        Named in errors.

    Returns
    -------
    tuple of 2 float, or None
        None when ``scl_slope`` is 0 or NaN, or the pair is (1, 0), or the data are
        RGB (the standard exempts them).

    Raises
    ------
    FormatError
        If the slope is valid but the intercept is NaN or infinite.

    Examples
    --------
    >>> from nibabel import Nifti1Header
    >>> header = Nifti1Header()
    >>> header["scl_slope"], header["scl_inter"] = 0.5, -10
    >>> scaling_of(header, path="scan.nii")
    (0.5, -10.0)
    >>> header["scl_slope"] = 0
    >>> scaling_of(header, path="scan.nii") is None
    True
    """
    slope, intercept = float(header["scl_slope"]), float(header["scl_inter"])
    if slope == 0 or not math.isfinite(slope):
        return None
    if not math.isfinite(intercept):
        raise FormatError(
            f"header field scl_inter is {intercept} while scl_slope is {slope}: the scaled values are undefined",
            path=path,
        )
    if (slope, intercept) == (1.0, 0.0) or np.dtype(header.get_data_dtype()).fields is not None:
        return None
    return slope, intercept


def scaled_dtype(stored: np.dtype[Any]) -> np.dtype[Any]:
    """The data type of scaled values of a stored type, as nibabel makes it.

    Examples
    --------
    >>> scaled_dtype(np.dtype("int16")), scaled_dtype(np.dtype("complex64"))
    (dtype('float64'), dtype('complex128'))
    """
    if stored.kind in "iub":
        return np.dtype(np.float64)
    return np.result_type(stored.newbyteorder("="), np.float64)


def apply_scaling(
    stored: NDArray[Any], slope: float, intercept: float, *, out: NDArray[Any] | None = None
) -> NDArray[Any]:
    """Return ``slope * stored + intercept``, computed into one array.

    The values are those nibabel's ``apply_read_scaling`` computes (the same products
    and sums in the same type), but written into one output array in the layout of
    `stored` instead of two temporaries. Element by element, so scaling a large array
    piece by piece gives the same result.

    Parameters
    ----------
    stored : ndarray
        The values as stored (a memmap is read, not modified).
    slope, intercept : float
        From :func:`scaling_of`.
    out : ndarray, optional
        Where to write the result: the shape of `stored`, of :func:`scaled_dtype`.

    Returns
    -------
    ndarray
        `out`, or a new array of :func:`scaled_dtype`, Fortran-ordered if `stored` is.

    Examples
    --------
    >>> apply_scaling(np.array([[[1, 2]]], dtype=np.int16), 0.5, 10.0)
    array([[[10.5, 11. ]]])
    """
    target = scaled_dtype(stored.dtype)
    if out is None:
        order: Literal["C", "F"] = "F" if stored.flags.f_contiguous and not stored.flags.c_contiguous else "C"
        result: NDArray[Any] = np.empty(stored.shape, dtype=target, order=order)
    else:
        result = out
    factors = np.array([slope, intercept], dtype=target)
    if slope != 1.0:
        np.multiply(stored, factors[0], out=result, dtype=target)  # in `target` also where NumPy < 2 would not
    else:
        result[...] = stored
    if intercept != 0.0:
        result += factors[1]
    return result
