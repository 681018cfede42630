"""Loading NIfTI files into a :class:`~mvl.coords.Volume`: :func:`open_image`."""

from __future__ import annotations

import contextlib
import io
import os
from pathlib import Path
from typing import Any, Final

import numpy as np
from nibabel.nifti1 import Nifti1Image, Nifti1Pair
from nibabel.nifti2 import Nifti2Image, Nifti2Pair

from mvl.coords import Volume
from mvl.coords.compression import GzipReader
from mvl.coords.errors import FormatError, FormatWarning, InputError, warn
from mvl.coords.files import input_file

from .header import MAX_DEFLATE_RATIO, Layout, NiftiHeader, check_size, data_layout, read_header
from .scaling import apply_scaling, scaled_dtype, scaling_of
from .sniffing import GZIP_MAGIC, Signature, pair_paths
from .transformation import MatrixChoice, header_transformation

__all__ = ["open_image"]

#: Inflated bytes tolerated after the voxel data of a ``.nii.gz`` (with a FormatWarning);
#: beyond this the stream is not inflated further (ResourceLimitError).
TRAILING_BYTES_ALLOWED: Final = 1 << 20
#: Scaled ``.nii.gz`` voxels are inflated and scaled in pieces of this many stored bytes.
SCALING_PIECE_BYTES: Final = 1 << 22

_IMAGE_CLASSES: Final[dict[tuple[int, bool], type[Nifti1Pair]]] = {
    (1, True): Nifti1Image,
    (1, False): Nifti1Pair,
    (2, True): Nifti2Image,
    (2, False): Nifti2Pair,
}


def open_image(
    path: str | os.PathLike[str],
    *,
    system: str = "RAS",
    squeeze: bool = False,
    matrix: MatrixChoice = "auto",
    scaling: bool = True,
    mmap: bool = True,
) -> Volume:
    """Load a NIfTI-1 or NIfTI-2 image as a :class:`~mvl.coords.Volume`.

    Reads ``.nii`` and ``.nii.gz`` files and ``.hdr``/``.img`` pairs (either half may be
    gzip-compressed); the content decides, not the name (a misnamed file loads, with a
    :class:`~mvl.coords.FormatWarning`). The first three axes are spatial; time, vector
    components and the other NIfTI axes follow them, in both ``src_data`` and
    ``aligned_data``.

    Parameters
    ----------
    path : str or os.PathLike
        The ``.nii`` or ``.nii.gz`` file, or either file of a pair.
    system : str, optional
        The anatomical system of :attr:`~mvl.coords.Volume.aligned_data`; ``"RAS"`` by
        default, any of the 48.
    squeeze : bool, optional
        Remove trailing axes of length 1 after the third (a ``(x, y, z, 1)`` file
        becomes ``(x, y, z)``). The spatial axes are always kept.
    matrix : {"auto", "sform", "qform"}, optional
        Which NIfTI matrix maps voxels to the world. ``"auto"`` (default) follows
        nibabel: the sform if ``sform_code > 0``, else the qform if ``qform_code > 0``,
        else a fallback with a warning. ``"sform"`` or ``"qform"`` forces that matrix.
    scaling : bool, optional
        Apply ``scl_slope``/``scl_inter`` as nibabel does (default): scaled data become
        float64 in memory. False keeps the stored values (and a memmap).
    mmap : bool, optional
        Memory-map uncompressed voxel data (default): ``src_data`` is a copy-on-write
        :class:`numpy.memmap`, loaded in O(1) and never written back. False reads it
        into memory. Compressed data is always read into memory.

    Returns
    -------
    Volume
        ``src_data`` in the file's voxel order (Fortran-ordered), ``src_system``
        ``"RAS"``, ``src_transformation`` the chosen matrix in millimetres, and
        ``src_object`` a nibabel image (``Nifti1Image``, ``Nifti2Image``,
        ``Nifti1Pair`` or ``Nifti2Pair``) made of the file's header and ``src_data``,
        with ``affine`` as nibabel would load it.

    Raises
    ------
    InputError
        If `path` is missing, a folder, or a pair lacks its other half.
    NoImageDataError
        If the file is empty.
    UnsupportedFormatError
        If the file is not NIfTI-1 or NIfTI-2 (Analyze 7.5 included).
    FormatError
        If the file is truncated or corrupt (gzip CRC-32 or length mismatch), or its
        header is impossible (dimensions, data type, ``vox_offset``, more voxels than
        the file holds). Nothing large is allocated before these checks.
    ResourceLimitError
        If a ``.nii.gz`` inflates far beyond what its header declares.
    GeometryError
        If the chosen matrix holds NaN or infinity or is singular.

    Warns
    -----
    GeometryWarning
        No orientation in the file (both codes 0), a forced matrix with code 0, or
        sform and qform that disagree.
    FormatWarning
        A misnamed file, header fields read the way nibabel repairs them, data after the
        voxels of a ``.nii.gz``.

    Examples
    --------
    >>> import tempfile, pathlib, numpy as np
    >>> from mvl.nifti import save_image
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "scan.nii"
    >>> save_image(path, np.arange(24, dtype=np.int16).reshape(2, 3, 4), np.diag([-1.0, 2.0, 3.0, 1.0]))
    >>> volume = open_image(path, system="LPS")
    >>> type(volume.src_data).__name__, volume.src_data.dtype, volume.aligned_data.shape
    ('memmap', dtype('int16'), (2, 3, 4))
    >>> # In the file, j runs anterior; in LPS+ the second axis runs posterior: flipped.
    >>> bool(volume.aligned_data[0, 0, 0] == volume.src_data[0, 2, 0])
    True
    """
    given = input_file(path)
    pair = pair_paths(given)
    header_path, image_path = pair if pair is not None else (given, given)
    if pair is not None:
        header_path, image_path = _pair_member(header_path, given), _pair_member(image_path, given)
    with contextlib.ExitStack() as stack:
        source, limit = _open(header_path, stack)
        header, found = read_header(source, path=header_path, limit=limit, pair=pair is not None)
        _check_name(header_path, isinstance(source, GzipReader))
        layout = data_layout(header, path=header_path)
        transformation, _ = header_transformation(header, matrix=matrix, path=header_path)
        scale = scaling_of(header, path=header_path) if scaling else None
        if found.single:
            data = _read_single(source, header_path, layout, scale, mmap=mmap)
        else:
            if isinstance(source, GzipReader):
                source.finish()
            data = _read_detached(image_path, layout, scale, stack, mmap=mmap)
    data = _spatial_shape(data, squeeze)
    image = _nibabel_image(data, header, found, header_path)
    return Volume(data, transformation, "RAS", (0, 1, 2), system=system, src_object=image)


def _pair_member(member: Path, given: Path) -> Path:
    if member == given:
        return given
    try:
        return input_file(member)
    except InputError as error:
        raise InputError(
            f"the other file of this .hdr/.img pair, {member.name!r}, cannot be used ({error.message})", path=given
        ) from None


_Source = io.BufferedReader | GzipReader


def _open(path: Path, stack: contextlib.ExitStack) -> tuple[_Source, int]:
    """Open a file of ours for reading: (stream or GzipReader, most bytes it can yield)."""
    stream = stack.enter_context(open(path, "rb"))  # noqa: SIM115
    size = os.fstat(stream.fileno()).st_size
    compressed = stream.read(2) == GZIP_MAGIC
    stream.seek(0)
    if compressed:
        return GzipReader(stream, path=path), size * MAX_DEFLATE_RATIO
    return stream, size


def _check_name(path: Path, compressed: bool) -> None:
    """Warn when the name says otherwise than the content about gzip compression."""
    if compressed != path.name.lower().endswith(".gz"):
        what = (
            "gzip-compressed although its name does not end" if compressed else "not compressed although its name ends"
        )
        warn(f"{path}: the file is {what} in .gz; read by its content", FormatWarning)


_Scale = tuple[float, float] | None


def _read_single(source: _Source, path: Path, layout: Layout, scale: _Scale, *, mmap: bool) -> np.ndarray[Any, Any]:
    """The voxels that follow the header in the same file; `source` stands at vox_offset."""
    if isinstance(source, GzipReader):
        check_size(layout, available=path.stat().st_size, compressed=True, path=path)
        return _inflate(source, path, layout, scale)
    check_size(layout, available=path.stat().st_size - layout.offset, compressed=False, path=path)
    return _scaled(_read_plain(source, path, layout, mmap=mmap), scale)


def _scaled(stored: np.ndarray[Any, Any], scale: _Scale) -> np.ndarray[Any, Any]:
    return stored if scale is None else apply_scaling(stored, *scale)


def _read_detached(
    path: Path, layout: Layout, scale: _Scale, stack: contextlib.ExitStack, *, mmap: bool
) -> np.ndarray[Any, Any]:
    """The voxels of a pair, from its ``.img`` file at ``vox_offset``."""
    source, _ = _open(path, stack)
    _check_name(path, isinstance(source, GzipReader))
    if isinstance(source, GzipReader):
        check_size(layout, available=path.stat().st_size, compressed=True, path=path)
        skipped = 0
        while skipped < layout.offset:
            step = len(source.read(min(layout.offset - skipped, 1 << 20)))
            if step == 0:
                raise FormatError(f"truncated: the data ends before vox_offset {layout.offset}", path=path)
            skipped += step
        return _inflate(source, path, layout, scale)
    check_size(layout, available=path.stat().st_size - layout.offset, compressed=False, path=path)
    source.seek(layout.offset)
    return _scaled(_read_plain(source, path, layout, mmap=mmap), scale)


def _read_plain(stream: io.BufferedReader, path: Path, layout: Layout, *, mmap: bool) -> np.ndarray[Any, Any]:
    if mmap:
        # Copy-on-write: writes to the array stay in this process's memory, never reach the file.
        return np.memmap(path, dtype=layout.dtype, mode="c", offset=layout.offset, shape=layout.shape, order="F")
    data = np.empty(layout.shape, dtype=layout.dtype, order="F")
    stream.seek(layout.offset)
    filled = stream.readinto(_flat_bytes(data).data)
    if filled != layout.nbytes:
        raise FormatError(f"truncated: read {filled} of the {layout.nbytes} bytes of voxel data", path=path)
    return data


def _inflate(reader: GzipReader, path: Path, layout: Layout, scale: _Scale) -> np.ndarray[Any, Any]:
    """Inflate exactly the declared voxels into a new array, then verify the rest of the stream.

    Scaled voxels are inflated piece by piece and scaled into the result, so that the
    stored values never exist as a whole next to it.
    """
    if scale is None:
        data = np.empty(layout.shape, dtype=layout.dtype, order="F")
        _fill(reader, _flat_bytes(data), 0, layout, path)
    else:
        data = np.empty(layout.shape, dtype=scaled_dtype(layout.dtype), order="F")
        flat = data.reshape(-1, order="F")
        piece = np.empty(max(1, SCALING_PIECE_BYTES // layout.dtype.itemsize), dtype=layout.dtype)
        for start in range(0, flat.size, piece.size):
            stored = piece[: min(piece.size, flat.size - start)]
            _fill(reader, stored.view(np.uint8), start * layout.dtype.itemsize, layout, path)
            apply_scaling(stored, *scale, out=flat[start : start + stored.size])
    extra = reader.finish(allowed_extra=TRAILING_BYTES_ALLOWED)
    if extra:
        warn(f"{path}: {extra} bytes after the voxel data were ignored", FormatWarning)
    return data


def _fill(reader: GzipReader, target: np.ndarray[Any, Any], done: int, layout: Layout, path: Path) -> None:
    filled = reader.readinto(target)
    if filled != target.size:
        raise FormatError(
            f"truncated: the gzip data holds {done + filled} of the {layout.nbytes} bytes of voxels the header "
            "declares",
            path=path,
        )


def _flat_bytes(data: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """The bytes of a Fortran-ordered array as a writable 1-D uint8 view, in file order."""
    return data.reshape(-1, order="F").view(np.uint8)


def _spatial_shape(data: np.ndarray[Any, Any], squeeze: bool) -> np.ndarray[Any, Any]:
    """Pad 1-D and 2-D data to three axes; with `squeeze`, drop trailing length-1 axes after the third."""
    shape = data.shape + (1,) * (3 - data.ndim)
    if squeeze:
        while len(shape) > 3 and shape[-1] == 1:
            shape = shape[:-1]
    return data if shape == data.shape else data.reshape(shape, order="F")


def _nibabel_image(data: np.ndarray[Any, Any], header: NiftiHeader, found: Signature, path: Path) -> Nifti1Pair:
    """nibabel's image of the file: its header, our voxels, the affine nibabel would load."""
    klass = _IMAGE_CLASSES[(found.version, found.single)]
    image = klass(data, None, header)
    with contextlib.suppress(Exception):  # an unusable matrix: leave nibabel's affine at None
        # As nibabel's own from_file_map does: the header passes through unmodified.
        image._affine = header.get_best_affine()
    with contextlib.suppress(Exception):  # a name nibabel does not accept: no file map
        image.file_map = klass.filespec_to_file_map(os.fspath(path))
    return image
