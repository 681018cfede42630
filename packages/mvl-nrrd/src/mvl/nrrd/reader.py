"""`open_image`: an NRRD file (``.nrrd``, or ``.nhdr`` with its data file) as a `Volume`."""

from __future__ import annotations

import os

from mvl.coords.errors import InputError
from mvl.coords.files import input_file
from mvl.coords.volume import Volume

from .data import locate_data, read_data
from .header import pynrrd_header, read_header_text, read_layout
from .source import NrrdSource
from .space import read_geometry

__all__ = ["open_image"]


def open_image(
    path: str | os.PathLike[str],
    *,
    system: str = "RAS",
    assume_system: str | None = None,
    allow_external_data: bool = False,
    mmap: bool = True,
) -> Volume:
    """Load an NRRD image: attached (``.nrrd``) or detached (``.nhdr`` plus data file).

    The world system is the header's ``space`` (NRRD spec, section 4): any of its
    anatomical values, short or long (``RAS``, ``right-anterior-superior``, ``LAS``,
    ``LPS``) and their ``-time`` forms. ``space directions`` gives one column of the
    voxel-to-world matrix per spatial axis and ``space origin`` the position of the first
    voxel. Axes whose direction is ``none`` (vector components, colours, time points,
    lists, as ``kinds`` says) are carried along as non-spatial axes, wherever they are.

    Parameters
    ----------
    path : str or os.PathLike
        The ``.nrrd`` or ``.nhdr`` file.
    system : str, optional
        The anatomical system to work in (:attr:`Volume.system <mvl.coords.Volume.system>`);
        default ``"RAS"``.
    assume_system : str, optional
        The system in which to read a file whose ``space`` is missing or not anatomical
        (``scanner-xyz``, ``3D-right-handed``, ``3D-left-handed``, ``space dimension``).
        Without it such files raise :class:`~mvl.coords.GeometryError`: their
        coordinates say nothing about left and right.
    allow_external_data : bool, optional
        Read a detached ``data file`` even when it is an absolute path, leads out of the
        header's folder (``..``, symbolic links), or is not a regular file (a device or
        FIFO). Only for headers you trust: by default such headers raise
        :class:`~mvl.coords.SecurityError`, since a header can name any file
        (``/etc/passwd``, ``/dev/zero``).
    mmap : bool, optional
        Memory-map raw data (copy-on-write: writing to the array changes memory, never
        the file); default True. False reads it into memory.

    Returns
    -------
    Volume
        :attr:`~mvl.coords.Volume.src_data` is the data in NRRD's axis order (the first
        index fastest, as ``nrrd.read`` returns it): memory-mapped for raw encoding,
        otherwise decoded once into a new array. :attr:`~mvl.coords.Volume.src_object` is
        an :class:`~mvl.nrrd.NrrdSource`, the pair ``(data, header)`` like ``nrrd.read``.

    Raises
    ------
    InputError
        The path (or the data file) does not exist, is a folder or a device.
    UnsupportedFormatError
        Not an NRRD file, or one whose data we do not read (``type: block``, several
        data files).
    FormatError
        A missing, malformed or contradictory header field (the message names it), or
        data that is corrupt or shorter or longer than ``sizes`` and ``type`` declare.
    GeometryError
        No anatomical ``space`` (and no `assume_system`); ``space directions`` missing;
        NaN, zero or coplanar directions.
    DataError
        Not exactly three spatial axes.
    SecurityError
        A detached data file outside the header's folder or not a regular file.
    ResourceLimitError
        Absurd sizes, or compressed data that inflates far beyond the declared size.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "tiny.nrrd"
    >>> _ = path.write_bytes(
    ...     b"NRRD0004\\ntype: uint8\\ndimension: 3\\nspace: left-posterior-superior\\nsizes: 2 1 1\\n"
    ...     b"space directions: (-1,0,0) (0,1,0) (0,0,1)\\nencoding: raw\\nspace origin: (5,0,0)\\n\\n\\x07\\x09"
    ... )
    >>> volume = open_image(path)
    >>> volume.src_system, volume.src_data.ravel().tolist(), volume.aligned_data.ravel().tolist()
    ('LPS', [7, 9], [7, 9])
    >>> volume.voxel_to_world([1, 0, 0], src_order=True, system="RAS")  # 1 mm right of voxel 0
    array([-4.,  0.,  0.])
    >>> data, header = volume.src_object
    >>> header["space"], data is volume.src_data
    ('left-posterior-superior', True)
    """
    header_path = input_file(path)
    try:
        stream = open(header_path, "rb")  # noqa: SIM115 - closed right below
    except OSError as error:
        raise InputError(f"cannot read the file ({error.strerror or error})", path=header_path) from error
    with stream:
        text = read_header_text(stream, header_path)
    layout = read_layout(text, header_path)
    geometry = read_geometry(text, layout.sizes, header_path, assume_system)
    header = pynrrd_header(text, header_path)
    source = locate_data(header_path, text, layout, allow_external=allow_external_data)
    data = read_data(source, layout, header_path, mmap=mmap)
    return Volume(
        data,
        geometry.transformation,
        geometry.system,
        geometry.spatial_axes,
        system=system,
        src_object=NrrdSource(data, header, header_path, source.path if source.detached else None),
    )
