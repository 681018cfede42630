"""`open_image`: a MetaImage file (``.mha``, or ``.mhd`` with its data files) as a `Volume`."""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from mvl.coords.errors import InputError
from mvl.coords.files import input_file
from mvl.coords.volume import Volume

from .data import read_data
from .files import locate_data
from .geometry import read_geometry
from .header import read_header_text, read_layout
from .source import MetaImageSource

__all__ = ["open_image"]


def open_image(
    path: str | os.PathLike[str],
    *,
    system: str = "RAS",
    allow_external_data: bool = False,
    mmap: bool = True,
) -> Volume:
    """Load a MetaImage image: ``.mha`` (data attached) or ``.mhd`` (data in other files).

    The world is LPS+, ITK's (see :mod:`mvl.metaimage.geometry` for the fields and
    ``AnatomicalOrientation``). The first three axes of ``DimSize`` are spatial; images
    of one or two dimensions get length-1 axes up to three, and further axes (time) are
    carried along as non-spatial axes. ``ElementNumberOfChannels`` above 1 (vector,
    RGB, complex data) gives a last axis of that length.

    Parameters
    ----------
    path : str or os.PathLike
        The ``.mha`` or ``.mhd`` file.
    system : str, optional
        The anatomical system to work in (:attr:`Volume.system <mvl.coords.Volume.system>`);
        default ``"RAS"``.
    allow_external_data : bool, optional
        Read data files named by ``ElementDataFile`` even when they are absolute paths,
        lead out of the header's folder (``..``, symbolic links), or are not regular
        files (devices, FIFOs). Only for headers you trust: by default such headers
        raise :class:`~mvl.coords.SecurityError`.
    mmap : bool, optional
        Memory-map uncompressed binary data held in one file (copy-on-write: writing to
        the array changes memory, never the file); default True. False reads it into
        memory.

    Returns
    -------
    Volume
        :attr:`~mvl.coords.Volume.src_data` is ``[i, j, k, further axes..., channel]``
        with axis 0 the fastest in the file (a view of the memory map for uncompressed
        data), :attr:`~mvl.coords.Volume.src_system` is ``"LPS"``, and
        :attr:`~mvl.coords.Volume.src_object` a :class:`~mvl.metaimage.MetaImageSource`.

    Raises
    ------
    InputError
        The path (or a data file) does not exist, is a folder or a device.
    UnsupportedFormatError
        Not a MetaImage file, an ``ObjectType`` other than ``Image``, a non-numeric
        ``ElementType``, or compressed data spread over several files.
    FormatError
        A missing, malformed or contradictory header field (the message names it), or
        data that is corrupt or shorter or longer than the header declares.
    GeometryError
        Zero or non-finite spacing, a singular direction matrix.
    SecurityError
        A data file outside the header's folder or not a regular file.
    ResourceLimitError
        Absurd sizes, or compressed data that inflates far beyond the declared size.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "tiny.mha"
    >>> _ = path.write_bytes(
    ...     b"ObjectType = Image\\nNDims = 3\\nTransformMatrix = -1 0 0 0 1 0 0 0 1\\nOffset = 5 0 0\\n"
    ...     b"DimSize = 2 1 1\\nElementType = MET_UCHAR\\nElementDataFile = LOCAL\\n\\x07\\x09"
    ... )
    >>> volume = open_image(path)
    >>> volume.src_system, volume.src_data.ravel().tolist(), volume.aligned_data.ravel().tolist()
    ('LPS', [7, 9], [7, 9])
    >>> volume.voxel_to_world([1, 0, 0], src_order=True, system="RAS")  # 1 mm right of voxel 0
    array([-4.,  0.,  0.])
    """
    header_path = input_file(path)
    try:
        stream = open(header_path, "rb")  # noqa: SIM115 - closed right below
    except OSError as error:
        raise InputError(f"cannot read the file ({error.strerror or error})", path=header_path) from error
    with stream:
        text = read_header_text(stream, header_path)
    layout = read_layout(text, header_path)
    geometry = read_geometry(text, len(layout.dims), header_path)
    files = locate_data(header_path, text, layout, allow_external=allow_external_data)
    data = volume_array(read_data(files, layout, header_path, mmap=mmap), layout.channels)
    return Volume(
        data,
        geometry.transformation,
        "LPS",
        system=system,
        src_object=MetaImageSource(data, dict(text.fields), header_path, () if files.local else files.paths),
    )


def volume_array(stored: np.ndarray[Any, Any], channels: int) -> np.ndarray[Any, Any]:
    """The stored ``(channels, *DimSize)`` array as ``[i, j, k, further axes..., channel]`` (a view).

    Fewer than three axes get length-1 axes up to three; one channel gives no channel axis.

    Examples
    --------
    >>> volume_array(np.zeros((3, 4, 5), order="F"), 3).shape
    (4, 5, 1, 3)
    """
    missing = max(0, 4 - stored.ndim)
    if missing:
        stored = stored.reshape(stored.shape + (1,) * missing, order="F")
    return stored[0] if channels == 1 else np.moveaxis(stored, 0, -1)
