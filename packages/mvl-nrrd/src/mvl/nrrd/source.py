"""`NrrdSource`: what :func:`~mvl.nrrd.open_image` keeps in ``Volume.src_object``."""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

__all__ = ["NrrdSource"]


class _Fields(NamedTuple):
    data: np.ndarray[Any, Any]
    header: OrderedDict[str, Any]


class NrrdSource(_Fields):
    """The ``(data, header)`` pair of a loaded NRRD file, like pynrrd's ``nrrd.read``.

    A tuple of exactly two fields, so that the original mvloader's
    ``data, header = volume.src_object`` keeps working; the files it came from are
    properties.

    Parameters
    ----------
    data : ndarray
        The voxels in NRRD's axis order, the first index fastest: the array
        ``nrrd.read(path)`` returns (its default ``index_order="F"``), and the very
        array :attr:`Volume.src_data <mvl.coords.Volume.src_data>` holds.
    header : collections.OrderedDict
        The header fields as ``nrrd.read_header`` parses them.
    path : pathlib.Path, optional
        The header file.
    data_path : pathlib.Path, optional
        The detached data file, or None for attached data.

    Examples
    --------
    >>> source = NrrdSource(np.zeros((2, 3, 4)), OrderedDict(type="double"), Path("scan.nrrd"))
    >>> data, header = source
    >>> header["type"], data.shape, source.path.name, source.data_path
    ('double', (2, 3, 4), 'scan.nrrd', None)
    """

    _path: Path | None
    _data_path: Path | None

    def __new__(
        cls,
        data: np.ndarray[Any, Any],
        header: OrderedDict[str, Any],
        path: Path | None = None,
        data_path: Path | None = None,
    ) -> NrrdSource:
        self = super().__new__(cls, data, header)
        self._path = path
        self._data_path = data_path
        return self

    def __getnewargs__(self) -> tuple[Any, ...]:
        return (self.data, self.header, self.path, self.data_path)

    def _replace(self, **changes: Any) -> NrrdSource:
        fields = {"data": self.data, "header": self.header, **changes}
        return NrrdSource(fields["data"], fields["header"], self.path, self.data_path)

    @property
    def path(self) -> Path | None:
        """pathlib.Path or None: The header file (the ``.nrrd`` or ``.nhdr``)."""
        return getattr(self, "_path", None)  # None also for tuples built by _make

    @property
    def data_path(self) -> Path | None:
        """pathlib.Path or None: The detached data file named by ``data file``; None when attached."""
        return getattr(self, "_data_path", None)

    @property
    def detached(self) -> bool:
        """bool: Whether the data lives in a separate file."""
        return self._data_path is not None
