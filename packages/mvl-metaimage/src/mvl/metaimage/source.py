"""`MetaImageSource`: what :func:`~mvl.metaimage.open_image` keeps in ``Volume.src_object``."""

from __future__ import annotations

from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

__all__ = ["MetaImageSource"]


class _Fields(NamedTuple):
    data: np.ndarray[Any, Any]
    header: dict[str, str]


class MetaImageSource(_Fields):
    """The ``(data, header)`` pair of a loaded MetaImage file.

    A tuple of exactly two fields, like the ``(data, header)`` of the NRRD package; the
    files it came from are properties.

    Parameters
    ----------
    data : ndarray
        The voxels as :attr:`Volume.src_data <mvl.coords.Volume.src_data>` holds them:
        ``[i, j, k, further axes..., channel]``, axis 0 the fastest in the file.
    header : dict of str to str
        The header fields as written, in file order (``ElementDataFile`` last).
    path : pathlib.Path, optional
        The header file (the ``.mha`` or ``.mhd``).
    data_paths : tuple of pathlib.Path, optional
        The data files of a detached header; empty for ``LOCAL`` data.

    Examples
    --------
    >>> source = MetaImageSource(np.zeros((2, 3, 4)), {"ElementType": "MET_DOUBLE"}, Path("scan.mha"))
    >>> data, header = source
    >>> header["ElementType"], data.shape, source.path.name, source.data_paths
    ('MET_DOUBLE', (2, 3, 4), 'scan.mha', ())
    """

    _path: Path | None
    _data_paths: tuple[Path, ...]

    def __new__(
        cls,
        data: np.ndarray[Any, Any],
        header: dict[str, str],
        path: Path | None = None,
        data_paths: tuple[Path, ...] = (),
    ) -> MetaImageSource:
        self = super().__new__(cls, data, header)
        self._path = path
        self._data_paths = tuple(data_paths)
        return self

    def __getnewargs__(self) -> tuple[Any, ...]:
        return (self.data, self.header, self.path, self.data_paths)

    def _replace(self, **changes: Any) -> MetaImageSource:
        fields = {"data": self.data, "header": self.header, **changes}
        return MetaImageSource(fields["data"], fields["header"], self.path, self.data_paths)

    @property
    def path(self) -> Path | None:
        """pathlib.Path or None: The header file."""
        return getattr(self, "_path", None)  # None also for tuples built by _make

    @property
    def data_paths(self) -> tuple[Path, ...]:
        """tuple of pathlib.Path: The data files named by ``ElementDataFile``; empty for ``LOCAL``."""
        return getattr(self, "_data_paths", ())

    @property
    def detached(self) -> bool:
        """bool: Whether the data lives in files of its own."""
        return bool(self.data_paths)
