"""Saving NIfTI files: :func:`save_image` (an array and its matrix) and :func:`save_volume`.

Both write the spatial axes first and the world in RAS+ millimetres, as NIfTI requires,
with the matrix as the sform (``sform_code`` 1, scanner) and as the qform (``qform_code``
1 where the quaternion reproduces the matrix within 1% of a voxel at every corner, else
0: the qform cannot store shears, and its float32 quaternion loses precision near 180
degree rotations). The file name picks the layout: ``.nii``, ``.nii.gz``, or a
``.hdr``/``.img`` pair (``.hdr.gz``/``.img.gz`` compressed). NIfTI-2 is written when a
dimension does not fit NIfTI-1 (more than 32767).

Saving is atomic (:func:`mvl.coords.files.atomic_write`): the data go to a temporary
file in the target folder, renamed into place when complete; a save that fails leaves
no partial file and an existing file at the path as it was. ``.nii.gz`` is compressed
through the fastest installed gzip backend, on several threads with python-isal.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

import numpy as np
from nibabel.nifti1 import Nifti1Header
from numpy.typing import ArrayLike, NDArray

from mvl.coords import Volume
from mvl.coords.compression import write_gzip
from mvl.coords.errors import DataError, GeometryError, SaveError
from mvl.coords.files import array_blocks, atomic_write, open_output
from mvl.coords.reorientation import normalize_spatial_dimensions
from mvl.coords.transformations import validate_transformation

from .header import NiftiHeader, build_header, header_bytes
from .sniffing import pair_paths
from .transformation import qform_is_faithful

__all__ = ["SAVE_SUFFIXES", "save_image", "save_volume"]

#: File name endings :func:`save_image` accepts (any case).
SAVE_SUFFIXES = (".nii", ".nii.gz", ".hdr", ".img", ".hdr.gz", ".img.gz")


def save_image(
    path: str | os.PathLike[str],
    data: ArrayLike,
    transformation: ArrayLike,
    spatial_dimensions: Sequence[int] = (0, 1, 2),
    *,
    threads: int | None = None,
) -> None:
    """Save voxel data and its voxel-to-RAS+ transformation as a NIfTI file.

    Parameters
    ----------
    path : str or os.PathLike
        Ends in ``.nii``, ``.nii.gz``, ``.hdr`` or ``.img`` (a pair: both files are
        written), optionally ``.hdr.gz``/``.img.gz``.
    data : array_like
        Three to seven dimensions, any layout (views, memmaps). Its data type is kept
        (``bool`` is stored as ``uint8``, NIfTI has no boolean type).
    transformation : (4, 4) array_like
        Maps indices along `spatial_dimensions` (in increasing axis order) to RAS+
        millimetres, NIfTI's world.
    spatial_dimensions : sequence of 3 int, optional
        The spatial axes of `data`; they are written first, the others after them in
        their order.
    threads : int, optional
        Compression threads for a gzip-compressed file (see
        :func:`mvl.coords.compression.write_gzip`, which also says what counts when it
        is not given).

    Raises
    ------
    SaveError
        If the name has no NIfTI extension, the data cannot be stored (too few or too
        many axes, an empty axis, a type NIfTI lacks), the transformation holds NaN or
        is singular, or writing fails (missing or read-only folder, full disk). The
        target is left as it was.

    Examples
    --------
    >>> import tempfile, pathlib, numpy as np
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> save_image(folder / "scan.nii.gz", np.zeros((4, 5, 6), np.int16), np.diag([0.5, 0.5, 2.0, 1.0]))
    >>> sorted(path.name for path in folder.iterdir())
    ['scan.nii.gz']
    >>> save_image(folder / "scan.png", np.zeros((4, 5, 6)), np.eye(4))
    Traceback (most recent call last):
    ...
    mvl.coords.errors.SaveError: .../scan.png: unknown file name extension; NIfTI files end in .nii, .nii.gz, ...
    """
    _save(Path(path), data, transformation, spatial_dimensions, threads=threads)


def save_volume(
    path: str | os.PathLike[str], volume: Volume, src_order: bool = True, *, threads: int | None = None
) -> None:
    """Save a :class:`~mvl.coords.Volume` as a NIfTI file.

    Parameters
    ----------
    path : str or os.PathLike
        As for :func:`save_image`.
    volume : Volume
        The volume; its world is converted to RAS+ for the file.
    src_order : bool, optional
        If True (default), save :attr:`~mvl.coords.Volume.src_data` with its
        transformation; if False, :attr:`~mvl.coords.Volume.aligned_data` with
        :attr:`~mvl.coords.Volume.aligned_transformation`. Either way the same voxels
        land at the same world positions; only their order in the file differs.
    threads : int, optional
        As for :func:`save_image`.

    Raises
    ------
    SaveError
        As for :func:`save_image`.

    Notes
    -----
    When the volume was loaded from NIfTI, the voxel sizes of its axes after the third
    (the time step, ...) and its time unit are kept.

    Examples
    --------
    >>> import tempfile, pathlib, numpy as np
    >>> from mvl.coords import Volume
    >>> from mvl.nifti import open_image
    >>> volume = Volume(np.arange(60, dtype=np.uint8).reshape(3, 4, 5), np.eye(4), "LPS", system="RAS")
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "aligned.nii"
    >>> save_volume(path, volume, src_order=False)
    >>> loaded = open_image(path)
    >>> bool(np.array_equal(loaded.src_data, volume.aligned_data))
    True
    """
    if src_order:
        data, transformation = volume.src_data, volume.get_src_transformation("RAS")
        spatial: Sequence[int] = volume.src_spatial_dimensions
    else:
        data, transformation, spatial = volume.aligned_data, volume.get_aligned_transformation("RAS"), (0, 1, 2)
    extra = data.shape[3:] if spatial == (0, 1, 2) else tuple(np.delete(data.shape, list(spatial)))
    zooms, time_unit = _extra_axes(volume.src_object, extra)
    _save(Path(path), data, transformation, spatial, zooms=zooms, time_unit=time_unit, threads=threads)


def _extra_axes(source: Any, extra_shape: tuple[int, ...]) -> tuple[tuple[float, ...], str | None]:
    """Voxel sizes and time unit of the non-spatial axes, from a NIfTI source image."""
    found = getattr(source, "header", None)
    if not extra_shape or not isinstance(found, Nifti1Header):
        return (), None
    header = cast(NiftiHeader, found)
    if tuple(header.get_data_shape()[3:]) != tuple(extra_shape):
        return (), None
    time_unit = header.get_xyzt_units()[1]
    return tuple(float(zoom) for zoom in header.get_zooms()[3:]), None if time_unit == "unknown" else time_unit


def _targets(path: Path) -> tuple[tuple[Path, ...], bool, bool]:
    """(targets in write order, single file?, gzip?) from the file name."""
    name = path.name.lower()
    if name.endswith((".nii", ".nii.gz")) and not name.startswith((".nii", ".nii.gz")):
        return (path,), True, name.endswith(".gz")
    pair = pair_paths(path)
    if pair is not None:
        header, image = pair
        return (image, header), False, name.endswith(".gz")  # the header last: it refers to the image
    raise SaveError(
        "unknown file name extension; NIfTI files end in .nii, .nii.gz, or .hdr/.img for a pair "
        "(.hdr.gz/.img.gz compressed)",
        path=path,
    )


def _save(
    path: Path,
    data: ArrayLike,
    transformation: ArrayLike,
    spatial_dimensions: Sequence[int],
    *,
    zooms: Sequence[float] = (),
    time_unit: str | None = None,
    threads: int | None = None,
) -> None:
    targets, single, compress = _targets(path)
    voxels = _file_axes(path, data, spatial_dimensions)
    try:
        affine = validate_transformation(transformation, name="the transformation")
    except GeometryError as error:
        raise SaveError(f"nothing was written: {error.message}", path=path) from error
    stored = np.dtype(np.uint8) if voxels.dtype == np.bool_ else voxels.dtype
    header = build_header(
        voxels.shape, stored, affine, single=single, qform_code=1, zooms=zooms, time_unit=time_unit, path=path
    )
    if not qform_is_faithful(header, affine, voxels.shape):
        header.set_qform(affine, code=0)
    file_dtype = header.get_data_dtype()
    head = header_bytes(header)
    with atomic_write(*targets) as temporaries:
        blocks = array_blocks(voxels, "F", dtype=file_dtype)  # NIfTI: the first index fastest
        if single:
            _write(temporaries[0], itertools.chain([head], blocks), compress, threads)
        else:
            _write(temporaries[0], blocks, compress, threads)
            _write(temporaries[1], [head], compress, threads)


def _file_axes(path: Path, data: ArrayLike, spatial_dimensions: Sequence[int]) -> NDArray[Any]:
    """The data with its spatial axes first, checked for what NIfTI can store."""
    try:
        array = np.asanyarray(data)
    except (TypeError, ValueError) as error:
        raise SaveError(f"nothing was written: the data is not an array ({error})", path=path) from error
    if array.ndim < 3:
        raise SaveError(
            f"nothing was written: the data needs at least 3 dimensions, got shape {array.shape}; add an axis of "
            "length 1 (data[..., np.newaxis]) for a single slice",
            path=path,
        )
    try:
        spatial = normalize_spatial_dimensions(spatial_dimensions, array.ndim)
    except DataError as error:
        raise SaveError(f"nothing was written: {error.message}", path=path) from error
    if 0 in array.shape:
        raise SaveError(f"nothing was written: the data has an empty axis (shape {array.shape})", path=path)
    return np.moveaxis(array, spatial, (0, 1, 2))


def _write(temporary: Path, blocks: Any, compress: bool, threads: int | None) -> None:
    with open_output(temporary) as stream:
        if compress:
            write_gzip(stream, blocks, threads=threads)
        else:
            for block in blocks:
                stream.write(block)
