"""NIfTI headers: read and checked before a single voxel is allocated, and built for saving.

Reading goes through nibabel's header classes (``Nifti1Header``, ``Nifti2Header`` and
their pair variants), created without nibabel's check-and-fix pass (which logs to the
console); the checks that matter here are ours and raise errors that name the header
field (NIfTI-1 ``dim``, ``datatype``, ``vox_offset``; NIfTI-2 the same fields, 64-bit).
"""

from __future__ import annotations

import io
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final, Protocol

import numpy as np
from nibabel.nifti1 import Nifti1Header, Nifti1PairHeader
from nibabel.nifti2 import Nifti2Header, Nifti2PairHeader
from numpy.typing import NDArray

from mvl.coords.errors import FormatError, ResourceLimitError, SaveError, UnsupportedFormatError

from ._version import __version__
from .sniffing import SIZEOF_HDR, Signature, signature

__all__ = [
    "MAX_DEFLATE_RATIO",
    "NIFTI1_MAX_DIM",
    "Layout",
    "NiftiHeader",
    "build_header",
    "data_layout",
    "header_class",
    "read_header",
]

#: Largest dimension NIfTI-1 can store (``dim`` is int16); larger ones need NIfTI-2.
NIFTI1_MAX_DIM: Final = 32767
#: Deflate never inflates one byte to more than about 1032 bytes (RFC 1951: a 258-byte
#: match costs at least two bits). A gzip file of n bytes thus holds at most this many
#: times n bytes, which bounds what a header may claim before anything is allocated.
MAX_DEFLATE_RATIO: Final = 1032
#: A detached ``.hdr`` file larger than this is refused (its extensions would be absurd).
MAX_PAIR_HEADER_BYTES: Final = 1 << 28

_HEADER_CLASSES: Final[dict[tuple[int, bool], type[Nifti1Header]]] = {
    (1, True): Nifti1Header,
    (1, False): Nifti1PairHeader,
    (2, True): Nifti2Header,
    (2, False): Nifti2PairHeader,
}


class NiftiHeader(Protocol):
    """The part of nibabel's NIfTI header API used here, typed (nibabel leaves it unannotated).

    Every nibabel NIfTI header (``Nifti1Header``, ``Nifti2Header`` and the pair
    variants) has this interface.
    """

    @property
    def single_vox_offset(self) -> int: ...

    def __getitem__(self, field: str) -> Any: ...

    def __setitem__(self, field: str, value: Any) -> None: ...

    def copy(self) -> NiftiHeader: ...

    def get_data_dtype(self) -> np.dtype[Any]: ...

    def set_data_dtype(self, datatype: Any) -> None: ...

    def get_data_shape(self) -> tuple[int, ...]: ...

    def set_data_shape(self, shape: Sequence[int]) -> None: ...

    def get_zooms(self) -> tuple[float, ...]: ...

    def get_xyzt_units(self) -> tuple[str, str]: ...

    def set_xyzt_units(self, xyz: str | None = None, t: str | None = None) -> None: ...

    def get_sform(self) -> NDArray[np.float64]: ...

    def set_sform(self, affine: Any, code: Any = None) -> None: ...

    def get_qform(self) -> NDArray[np.float64]: ...

    def set_qform(self, affine: Any, code: Any = None) -> None: ...

    def get_base_affine(self) -> NDArray[np.float64]: ...

    def get_best_affine(self) -> NDArray[np.float64]: ...

    def write_to(self, fileobj: Any) -> None: ...


class Readable(Protocol):
    """Anything with ``read(n)``: a binary file, a :class:`~mvl.coords.compression.GzipReader`."""

    def read(self, size: int, /) -> bytes: ...


@dataclass(frozen=True)
class Layout:
    """Where and how the voxels are stored, as the header declares it.

    Attributes
    ----------
    shape : tuple of int
        ``dim[1:dim[0] + 1]``; one to seven axes, the first three spatial.
    dtype : numpy.dtype
        The stored data type, in the header's byte order.
    offset : int
        Byte offset of the first voxel in the data file (``vox_offset``).
    nbytes : int
        Bytes of voxel data: the product of `shape` times the item size.
    """

    shape: tuple[int, ...]
    dtype: np.dtype[Any]
    offset: int
    nbytes: int


def header_class(version: int, single: bool) -> type[Nifti1Header]:
    """Return nibabel's header class for a NIfTI version and layout.

    Examples
    --------
    >>> header_class(2, single=False).__name__
    'Nifti2PairHeader'
    """
    return _HEADER_CLASSES[(version, single)]


def read_header(
    source: Readable, *, path: str | os.PathLike[str], limit: int, pair: bool = False
) -> tuple[NiftiHeader, Signature]:
    """Read a NIfTI-1 or NIfTI-2 header with its extensions from the start of a stream.

    For a single file (magic ``n+1``/``n+2``), the stream is left at ``vox_offset``, the
    first voxel. For the header of a pair (``ni1``/``ni2``), the whole stream is read.

    Parameters
    ----------
    source : readable
        The file, or a :class:`~mvl.coords.compression.GzipReader` over it.
    path : str or os.PathLike
        Named in errors.
    limit : int
        The most bytes the (uncompressed) stream can hold; a ``vox_offset`` beyond it
        is refused before anything is read.
    pair : bool, optional
        Whether the file is named as a half of a pair (``.hdr``, ``.img``); a pair
        header in a file named otherwise is refused, its ``.img`` could not be found.

    Returns
    -------
    header : nibabel.nifti1.Nifti1Header
        A nibabel header (one of the four classes, see :func:`header_class`), as stored.
    signature : Signature

    Raises
    ------
    UnsupportedFormatError
        If the stream does not start with a NIfTI-1 or NIfTI-2 header (Analyze 7.5 included).
    FormatError
        If the header is truncated, its ``vox_offset`` is impossible, its extensions are
        malformed, or it is a pair header in a file not named as one.
    ResourceLimitError
        If a detached header file is absurdly large.
    """
    head = source.read(4)
    version = _version_from_sizeof_hdr(head)
    if version is None:
        found = int.from_bytes(head, "little") if len(head) == 4 else None
        raise UnsupportedFormatError(
            f"not a NIfTI file: sizeof_hdr is {found} (the first 4 bytes), expected 348 (NIfTI-1) or 540 "
            "(NIfTI-2) in either byte order",
            path=path,
        )
    size = SIZEOF_HDR[version]
    block = head + source.read(size - 4)
    if len(block) < size:
        raise FormatError(f"truncated header: {len(block)} bytes, a NIfTI-{version} header has {size}", path=path)
    found_signature = signature(block)
    if found_signature is None:
        magic = block[344:348] if version == 1 else block[4:12]
        raise UnsupportedFormatError(
            f"not a NIfTI-{version} file: the magic string is {magic!r}, expected "
            + (
                "b'n+1\\x00' or b'ni1\\x00' (an Analyze 7.5 header has none: read it with nibabel)"
                if version == 1
                else "b'n+2\\x00...' or b'ni2\\x00...'"
            ),
            path=path,
        )
    if not found_signature.single:
        if not pair:
            raise FormatError(
                f"the magic string says this is the header of a .hdr/.img pair ('ni{version}'), but the file "
                "name does not end in .hdr: rename it so that its .img can be found",
                path=path,
            )
        rest = _read_at_most(source, MAX_PAIR_HEADER_BYTES + 1)
        if len(rest) > MAX_PAIR_HEADER_BYTES:
            raise ResourceLimitError(f"the header file is larger than {MAX_PAIR_HEADER_BYTES} bytes", path=path)
    else:
        offset = _vox_offset(block, found_signature, path)
        if offset > limit:
            raise FormatError(
                f"header field vox_offset is {offset}, beyond the end of the file ({limit} bytes at most)", path=path
            )
        rest = _read_at_most(source, offset - size)
        if len(rest) < offset - size:
            raise FormatError(
                f"truncated: the file ends at byte {size + len(rest)}, before the voxel data at vox_offset {offset}",
                path=path,
            )
    klass = header_class(found_signature.version, found_signature.single)
    try:
        # check=False: nibabel's check-and-fix logs to the console; our checks follow.
        header: NiftiHeader = klass.from_fileobj(io.BytesIO(block + rest), check=False)  # type: ignore[no-untyped-call]
    except Exception as error:  # nibabel raises several types for malformed extensions
        raise FormatError(f"malformed header extensions ({type(error).__name__}: {error})", path=path) from error
    return header, found_signature


def _read_at_most(source: Readable, count: int) -> bytes:
    """Read `count` bytes, fewer at the end of the stream, in steps: a lying size allocates nothing."""
    parts: list[bytes] = []
    remaining = count
    while remaining > 0:
        part = source.read(min(remaining, 1 << 20))
        if not part:
            break
        parts.append(part)
        remaining -= len(part)
    return b"".join(parts)


def _version_from_sizeof_hdr(head: bytes) -> int | None:
    if len(head) < 4:
        return None
    for value in (int.from_bytes(head, "little"), int.from_bytes(head, "big")):
        for version, size in SIZEOF_HDR.items():
            if value == size:
                return version
    return None


def _vox_offset(block: bytes, found: Signature, path: str | os.PathLike[str]) -> int:
    """``vox_offset`` of a single file, checked: a whole number, past the header."""
    if found.version == 1:
        value = float(np.frombuffer(block, dtype=f"{found.byteorder}f4", count=1, offset=108)[0])
    else:
        value = float(np.frombuffer(block, dtype=f"{found.byteorder}i8", count=1, offset=168)[0])
    minimum = found.sizeof_hdr + 4
    if not math.isfinite(value) or value != int(value) or value < minimum:
        raise FormatError(
            f"header field vox_offset is {value:g}; in a single {found.name} file it must be a whole number "
            f"of at least {minimum} (header plus the 4 extension bytes)",
            path=path,
        )
    return int(value)


def data_layout(header: NiftiHeader, *, path: str | os.PathLike[str]) -> Layout:
    """Check the header's dimensions and data type and say where the voxels are.

    Parameters
    ----------
    header : nibabel.nifti1.Nifti1Header
        Any of the four NIfTI header classes.
    path : str or os.PathLike
        Named in errors.

    Returns
    -------
    Layout

    Raises
    ------
    FormatError
        If ``dim[0]`` is not 1 to 7, a dimension is zero or negative, their product
        overflows, or ``datatype`` is not a NIfTI data type that holds numbers.

    Examples
    --------
    >>> from nibabel import Nifti1Header
    >>> header = Nifti1Header()
    >>> header.set_data_shape((4, 5, 6))
    >>> header.set_data_dtype("int16")
    >>> data_layout(header, path="scan.nii")
    Layout(shape=(4, 5, 6), dtype=dtype('int16'), offset=0, nbytes=240)
    >>> header["dim"][2] = -5
    >>> data_layout(header, path="scan.nii")
    Traceback (most recent call last):
    ...
    mvl.coords.errors.FormatError: scan.nii: header field dim[2] is -5; every dimension must be at least 1
    """
    dims = [int(value) for value in header["dim"]]
    ndim = dims[0]
    if not 1 <= ndim <= 7:
        raise FormatError(
            f"header field dim[0] (the number of dimensions) is {ndim}; expected 1 to 7 (dim = {dims})", path=path
        )
    shape = tuple(dims[1 : ndim + 1])
    for index, length in enumerate(shape, start=1):
        if length < 1:
            raise FormatError(f"header field dim[{index}] is {length}; every dimension must be at least 1", path=path)
    code = int(header["datatype"])
    try:
        dtype = np.dtype(header.get_data_dtype())
    except Exception as error:  # nibabel's code lookup raises KeyError (and friends) for unknown codes
        raise FormatError(f"header field datatype is {code}, not a NIfTI data type", path=path) from error
    if dtype.isnative:
        dtype = dtype.newbyteorder("=")  # nibabel spells out "<"; numpy's native spelling reads better
    if dtype.itemsize == 0 or dtype.hasobject:
        raise FormatError(f"header field datatype is {code} ({dtype}), which does not hold voxel values", path=path)
    nbytes = math.prod(shape) * dtype.itemsize
    if nbytes >= 1 << 62:
        raise FormatError(
            f"header dimensions {shape} of {dtype} overflow: {nbytes} bytes is more than any file holds", path=path
        )
    offset = float(header["vox_offset"])
    return Layout(shape, dtype, int(offset) if math.isfinite(offset) and offset >= 0 else 0, nbytes)


def check_size(layout: Layout, *, available: int, compressed: bool, path: str | os.PathLike[str]) -> None:
    """Refuse a header that claims more voxel data than the file can hold.

    Parameters
    ----------
    layout : Layout
        What the header declares.
    available : int
        For an uncompressed data file, the bytes after ``vox_offset``; for a gzip file,
        its compressed size.
    compressed : bool
        Whether `available` is a compressed size (bounded by :data:`MAX_DEFLATE_RATIO`).
    path : str or os.PathLike
        Named in errors.

    Raises
    ------
    FormatError
        Naming what the header declares and what the file holds.
    """
    if compressed:
        capacity = available * MAX_DEFLATE_RATIO
        if layout.nbytes > capacity:
            raise FormatError(
                f"the header declares {_voxels(layout)}, {layout.nbytes} bytes, but a gzip file of {available} "
                f"bytes inflates to at most {capacity}: the header is wrong or the file is truncated",
                path=path,
            )
    elif layout.nbytes > available:
        raise FormatError(
            f"truncated: the header declares {_voxels(layout)}, {layout.nbytes} bytes from byte {layout.offset}, "
            f"but the file holds only {max(available, 0)} bytes there",
            path=path,
        )


def _voxels(layout: Layout) -> str:
    return f"{'x'.join(map(str, layout.shape))} voxels of {layout.dtype}"


def build_header(
    shape: Sequence[int],
    dtype: np.dtype[Any],
    affine: NDArray[np.float64],
    *,
    single: bool,
    qform_code: int,
    zooms: Sequence[float] = (),
    time_unit: str | None = None,
    path: str | os.PathLike[str],
) -> NiftiHeader:
    """Build the header of a new file: NIfTI-1 unless a dimension needs NIfTI-2.

    Parameters
    ----------
    shape : sequence of int
        Data shape, spatial axes first; one to seven axes.
    dtype : numpy.dtype
        The data type to store (native byte order is written).
    affine : (4, 4) ndarray
        Voxel-to-world transformation into RAS+ millimetres; stored as the sform
        (``sform_code`` 1, scanner) and as the qform.
    single : bool
        One ``.nii`` file (``n+1``/``n+2``, ``vox_offset`` after the header) or a pair.
    qform_code : int
        1 (scanner) when the qform represents `affine` faithfully, else 0.
    zooms : sequence of float, optional
        ``pixdim`` of the axes after the third (time step, ...); 1 by default.
    time_unit : str, optional
        nibabel's name of the unit of the fourth axis (``"sec"``, ``"msec"``, ...);
        ``"sec"`` by default when there is a fourth axis.
    path : str or os.PathLike
        Named in errors.

    Returns
    -------
    nibabel.nifti1.Nifti1Header

    Raises
    ------
    SaveError
        If the data type or the number of dimensions cannot be stored.
    """
    if not 1 <= len(shape) <= 7:
        raise SaveError(f"NIfTI stores 1 to 7 dimensions, the data has {len(shape)}", path=path)
    version = 2 if max(shape) > NIFTI1_MAX_DIM else 1
    header: NiftiHeader = header_class(version, single)()
    try:
        header.set_data_dtype(dtype.newbyteorder("="))
    except Exception as error:  # nibabel raises HeaderDataError for types NIfTI cannot store
        raise SaveError(
            f"NIfTI cannot store data of type {dtype}; convert it first, e.g. data.astype(np.float32)", path=path
        ) from error
    header.set_data_shape(tuple(shape))
    header.set_sform(affine, code=1)
    header.set_qform(affine, code=qform_code)
    if len(shape) > 3:
        pixdim = header["pixdim"]
        for axis, zoom in enumerate(zooms[: len(shape) - 3], start=4):
            pixdim[axis] = zoom
        header.set_xyzt_units("mm", time_unit or "sec")
    else:
        header.set_xyzt_units("mm")
    header["scl_slope"] = 1.0
    header["scl_inter"] = 0.0
    header["descrip"] = f"mvl-nifti {__version__}".encode()
    if single:
        header["vox_offset"] = header.single_vox_offset
    return header


def header_bytes(header: NiftiHeader) -> bytes:
    """The bytes of a header as written to disk: the fixed part, then the extension flag."""
    buffer = io.BytesIO()
    header.write_to(buffer)
    return buffer.getvalue()
