"""NRRD in and out for mvl: every anatomical space, vector and time axes, safe detached headers.

Loading (:mod:`mvl.nrrd.reader`)
    :func:`open_image` reads ``.nrrd`` and ``.nhdr`` (detached) files into a
    :class:`~mvl.coords.Volume`: raw, gzip, bzip2, ascii or hex data, either byte
    order; ``space`` in any of its anatomical forms; ``space directions`` with ``none``
    for vector, colour, list or time axes. Raw data is memory-mapped; gzip is inflated
    through the fastest installed backend (``pip install "mvl-nrrd[fast]"``).

Saving (:mod:`mvl.nrrd.writer`)
    :func:`save_image` (array and matrix) and :func:`save_volume` (a volume, keeping
    the fields of the NRRD it came from). RAS+ and LPS+ are written as they are, other
    systems (LAS+ too, which ITK misread) as RAS+; gzip by default; ``.nhdr`` writes a
    detached pair; atomic.

The loaded source (:mod:`mvl.nrrd.source`)
    :class:`NrrdSource`, kept in ``Volume.src_object``: the pair ``(data, header)``
    that ``nrrd.read`` returns, with the file paths as properties.

Inside (for the curious)
    :mod:`mvl.nrrd.header` (header text, storage fields), :mod:`mvl.nrrd.space`
    (``space``, ``space directions``, ``kinds``), :mod:`mvl.nrrd.data` (data files,
    their safety, decoding), :mod:`mvl.nrrd.fields` (writing header fields),
    :mod:`mvl.nrrd.plugin` (the ``mvl.formats`` entry point).

The names here are imported on first use, so that ``import mvl.nrrd.plugin`` stays
light (no pynrrd).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._version import __version__

if TYPE_CHECKING:
    from .reader import open_image
    from .source import NrrdSource
    from .writer import save_image, save_volume

__all__ = ["NrrdSource", "__version__", "open_image", "save_image", "save_volume"]

_LAZY = {
    "open_image": ".reader",
    "save_image": ".writer",
    "save_volume": ".writer",
    "NrrdSource": ".source",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
