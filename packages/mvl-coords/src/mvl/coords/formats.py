"""`Format`: how a format package announces itself to ``mvloader.load`` and ``mvloader.save``.

A format package registers one :class:`Format` under the entry-point group
``mvl.formats`` in its ``pyproject.toml``::

    [project.entry-points."mvl.formats"]
    nifti = "mvl.nifti.plugin:FORMAT"

The module named there must stay light: importing it must not import the imaging
library. Loading and saving are named as ``"module:function"`` strings and imported
only when used, so that finding the format of a file costs milliseconds. A third-party
package adds a format the same way.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["ENTRY_POINT_GROUP", "Format"]

#: The entry-point group that format packages register their :class:`Format` under.
ENTRY_POINT_GROUP = "mvl.formats"


@dataclass(frozen=True)
class Format:
    """A loadable (and maybe savable) file format.

    Parameters
    ----------
    name : str
        Short name, e.g. ``"nifti"``; also the ``format=`` users may pass.
    description : str
        One line for listings.
    suffixes : tuple of str
        Lower-case endings of paths this format reads, e.g. ``(".nii.gz", ".nii")``.
    sniff : callable
        ``sniff(path) -> bool``: whether `path` holds this format, judged from its
        content (magic bytes) and kind (file, folder, archive). Cheap, light imports
        only, and never raises for unreadable input: it returns False.
    load : str
        ``"module:function"`` of the loader, called as ``load(path, system=...,
        **options)`` and returning a :class:`~mvl.coords.Volume`.
    save : str, optional
        ``"module:function"`` of the saver, called as ``save(path, volume,
        **options)``; None for read-only formats.
    save_suffixes : tuple of str, optional
        Endings that select this format when saving, e.g. ``(".nii.gz", ".nii")``.
    distribution : str, optional
        The distribution that provides the format, for messages.

    Examples
    --------
    >>> fmt = Format("toy", "a toy format", (".toy",), lambda path: False, "json:loads")
    >>> fmt.matches_suffix("scan.TOY")
    True
    >>> fmt.loader() is __import__("json").loads
    True
    """

    name: str
    description: str
    suffixes: tuple[str, ...]
    sniff: Callable[[Path], bool]
    load: str
    save: str | None = None
    save_suffixes: tuple[str, ...] = ()
    distribution: str = ""

    def matches_suffix(self, path: str | os.PathLike[str], *, saving: bool = False) -> bool:
        """Whether the name of `path` ends in one of the (save) suffixes, ignoring case."""
        name = Path(path).name.lower()
        return any(name.endswith(suffix) for suffix in (self.save_suffixes if saving else self.suffixes))

    def loader(self) -> Callable[..., Any]:
        """Import and return the load function."""
        return _resolve(self.load)

    def saver(self) -> Callable[..., Any] | None:
        """Import and return the save function, or None for a read-only format."""
        return None if self.save is None else _resolve(self.save)


def _resolve(target: str) -> Callable[..., Any]:
    module_name, _, attribute = target.partition(":")
    function: Callable[..., Any] = getattr(importlib.import_module(module_name), attribute)
    return function
