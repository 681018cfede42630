"""`Limits`: the bounds that keep hostile or broken input from exhausting the machine.

Every size that a file or an archive *claims* is checked against these bounds before
anything is allocated or decompressed; crossing one raises
:class:`~mvl.coords.ResourceLimitError`, whose message names the limit and how to raise it.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DEFAULT_LIMITS", "Limits"]

_GIB = 1 << 30


@dataclass(frozen=True)
class Limits:
    """Upper bounds on what reading may cost.

    Parameters
    ----------
    max_output_bytes : int, optional
        Largest voxel array :func:`~mvl.dicom.open_stack` allocates (16 GiB by default).
        Checked from (0028,0010) 'Rows', (0028,0011) 'Columns', the number of slices and
        frames and the data type *before* the allocation.
    max_archive_bytes : int, optional
        Largest total uncompressed size of the members of an archive (16 GiB); an
        archive that claims more, or decompresses to more, is refused (zip bombs).
    max_archive_members : int, optional
        Most members an archive may have (200,000).
    max_header_bytes : int, optional
        Most bytes read from one file before its pixel data starts (256 MiB).

    Examples
    --------
    >>> Limits(max_archive_bytes=1 << 20).max_archive_bytes
    1048576
    """

    max_output_bytes: int = 16 * _GIB
    max_archive_bytes: int = 16 * _GIB
    max_archive_members: int = 200_000
    max_header_bytes: int = 256 << 20


#: The limits used when none are given.
DEFAULT_LIMITS = Limits()
