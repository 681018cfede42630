"""The ``mvl.formats`` entry point of mvl-metaimage: light, it does not import the reader.

Registered in ``pyproject.toml`` as ``metaimage = "mvl.metaimage.plugin:FORMAT"``;
``mvloader.load`` and ``mvloader.save`` find MetaImage files through it (see
:mod:`mvl.coords.formats`).
"""

from __future__ import annotations

import os
import re

from mvl.coords.formats import THREADS, Format
from mvl.coords.heads import peek

__all__ = ["FORMAT", "looks_like_metaimage", "sniff"]

# The first field of a MetaImage header: ITK writes ObjectType first; some writers start with NDims.
_FIRST = re.compile(rb"\A\s*(?:ObjectType\s*[=:]\s*Image\b|NDims\s*[=:]\s*[0-9])", re.IGNORECASE)
_NDIMS = re.compile(rb"^\s*NDims\s*[=:]\s*[0-9]+\s*$", re.MULTILINE)


def looks_like_metaimage(head: bytes) -> bool:
    """Whether the first bytes of a file are a MetaImage header.

    It starts with ``ObjectType = Image`` or ``NDims = n`` (``=`` or ``:``), and an
    ``NDims`` line follows within the bytes given (2 KiB hold every header ITK writes).

    Examples
    --------
    >>> looks_like_metaimage(b"ObjectType = Image\\nNDims = 3\\nDimSize = 2 3 4\\n")
    True
    >>> looks_like_metaimage(b"ObjectType = Tube\\nNDims = 3\\n"), looks_like_metaimage(b"NRRD0004\\n")
    (False, False)
    """
    return _FIRST.match(head) is not None and _NDIMS.search(head) is not None


def sniff(path: str | os.PathLike[str]) -> bool:
    """Whether `path` is a regular file that starts with a MetaImage header.

    Never raises: anything unreadable, and anything that is not a regular file (a
    folder, a FIFO, a device), is not MetaImage. The header must be stored as it is:
    a compressed file is not MetaImage, whatever it holds.

    Examples
    --------
    >>> sniff("/no/such/file.mha"), sniff("/dev/zero")
    (False, False)
    """
    try:
        return looks_like_metaimage(peek(path, 2048, through=()).stored)
    except Exception:  # sniffing must never fail, whatever the path is
        return False


#: MetaImage (ITK's MetaIO): attached (``.mha``) or detached (``.mhd`` with its data files).
FORMAT = Format(
    name="metaimage",
    description="MetaImage (ITK MetaIO): .mha, or .mhd with its data files",
    suffixes=(".mha", ".mhd"),
    sniff=sniff,
    load="mvl.metaimage.reader:open_image",
    save="mvl.metaimage.writer:save_volume",
    save_suffixes=(".mha", ".mhd"),
    distribution="mvl-metaimage",
    extra="metaimage",
    save_options=frozenset({THREADS}),
)
