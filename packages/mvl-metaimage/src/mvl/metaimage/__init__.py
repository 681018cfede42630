"""MetaImage in and out for mvl, as ITK reads and writes it: ``.mha`` and ``.mhd``.

Loading (:mod:`mvl.metaimage.reader`)
    :func:`open_image` reads ``.mha`` (data after the header) and ``.mhd`` (data in a
    file beside it, a ``%d`` pattern of files or a ``LIST``) into a
    :class:`~mvl.coords.Volume` in LPS+: every ``MET_*`` scalar type, either byte
    order, channels (``ElementNumberOfChannels``) as a last axis, 2D images as one
    slice, 4D and up with the further axes carried along; uncompressed data is
    memory-mapped, zlib data (``CompressedData``) inflated through the fastest
    installed backend (``pip install "mvl-metaimage[fast]"``).

Saving (:mod:`mvl.metaimage.writer`)
    :func:`save_image` (array and matrix) and :func:`save_volume` (a volume, keeping
    the custom fields of the MetaImage it came from), as ITK writes them; zlib by
    default; ``.mhd`` writes a detached pair; atomic.

The loaded source (:mod:`mvl.metaimage.source`)
    :class:`MetaImageSource`, kept in ``Volume.src_object``: the pair ``(data, header)``.

Inside (for the curious)
    :mod:`mvl.metaimage.header` (header text, storage fields), :mod:`mvl.metaimage.geometry`
    (``TransformMatrix``, ``Offset``, ``ElementSpacing``, ``AnatomicalOrientation``),
    :mod:`mvl.metaimage.files` (``ElementDataFile`` and its safety),
    :mod:`mvl.metaimage.data` (decoding), :mod:`mvl.metaimage.plugin` (the
    ``mvl.formats`` entry point).

The names here are imported on first use, so that ``import mvl.metaimage.plugin`` stays
light (no reader, no writer).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._version import __version__

if TYPE_CHECKING:
    from .reader import open_image
    from .source import MetaImageSource
    from .writer import save_image, save_volume

__all__ = ["MetaImageSource", "__version__", "open_image", "save_image", "save_volume"]

_LAZY = {
    "open_image": ".reader",
    "save_image": ".writer",
    "save_volume": ".writer",
    "MetaImageSource": ".source",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
