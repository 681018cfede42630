"""The errors and warnings that every mvl package raises.

One family, so that a caller can catch everything of ours with :class:`MvlError`,
and scripts can tell the cases apart by type. Each error also subclasses the builtin
exception that fits (:class:`ValueError`, :class:`OSError`), so ``except`` clauses
written against the builtins keep working::

    MvlError                          root of everything we raise
      AxisCodeError (ValueError)      not one of the 48 anatomical systems
      InputError (OSError)            the path cannot be used as given
        UnsupportedFormatError        not a format we read
        NoImageDataError              nothing loadable there (empty folder, no pixels)
        AmbiguousInputError           several candidates where one is needed
      FormatError (ValueError)        a recognised file that is broken or inconsistent
      GeometryError (ValueError)      no trustworthy voxel-to-world mapping
      DataError (ValueError)          arrays or axes that cannot form a volume
      SecurityError (ValueError)      unsafe input refused (path traversal, links, devices)
        ResourceLimitError            sizes beyond a bound (bombs, absurd dimensions)
      SaveError (OSError)             a save failed; the target was left untouched
      MissingDependencyError (ImportError)
                                      an optional package is needed: the message says
                                      which `pip install` brings it

    MvlWarning (UserWarning)
      GeometryWarning                 loaded, but the geometry needed an assumption
      FormatWarning                   loaded, but the file bends its format's rules
"""

from __future__ import annotations

import os
import sys
import warnings
from typing import Any

__all__ = [
    "AmbiguousInputError",
    "AxisCodeError",
    "DataError",
    "FormatError",
    "FormatWarning",
    "GeometryError",
    "GeometryWarning",
    "InputError",
    "MissingDependencyError",
    "MvlError",
    "MvlWarning",
    "NoImageDataError",
    "ResourceLimitError",
    "SaveError",
    "SecurityError",
    "UnsupportedFormatError",
    "warn",
]


class MvlError(Exception):
    """Root of every error an mvl package raises.

    Parameters
    ----------
    message : str
        What was found, what was expected, and how to fix it.
    path : str or os.PathLike, optional
        The file or folder concerned. When given, the message starts with it and it is
        kept as :attr:`path`.

    Examples
    --------
    >>> error = FormatError("header field 'sizes' is missing", path="scan.nrrd")
    >>> str(error)
    "scan.nrrd: header field 'sizes' is missing"
    >>> error.path
    'scan.nrrd'
    >>> isinstance(error, ValueError)
    True
    """

    def __init__(self, message: str, *, path: str | os.PathLike[str] | None = None) -> None:
        location = None if path is None else os.fspath(path)
        super().__init__(message if location is None else f"{location}: {message}")
        # After the builtin's __init__: ImportError and OSError have attributes of their own.
        self.message = message
        self.path = location

    def __str__(self) -> str:
        return self.message if self.path is None else f"{self.path}: {self.message}"

    def __reduce__(self) -> tuple[Any, ...]:
        # Keep `path` and any attributes a subclass set when an error crosses a process
        # boundary (worker pools).
        return (_rebuild, (type(self), self.message, self.path), dict(self.__dict__))


def _rebuild(cls: type[MvlError], message: str, path: str | None) -> MvlError:
    return cls(message, path=path)


class AxisCodeError(MvlError, ValueError):
    """A value is not one of the 48 anatomical systems (``"RAS"``, ``"LPS"``, ...)."""


class InputError(MvlError, OSError):
    """The path cannot be used as given (missing, wrong kind of file system object)."""


class UnsupportedFormatError(InputError):
    """The input is not in a format we read."""


class NoImageDataError(InputError):
    """Nothing loadable at the path: an empty folder, no image slices, no pixels."""


class AmbiguousInputError(InputError):
    """Several candidates where exactly one is needed (series, files)."""


class FormatError(MvlError, ValueError):
    """A recognised file that is broken or inconsistent (truncated, corrupt, contradictory)."""


class GeometryError(MvlError, ValueError):
    """No trustworthy voxel-to-world mapping (NaN, singular or malformed matrices)."""


class DataError(MvlError, ValueError):
    """Voxel data or axes that cannot form a volume: too few dimensions, bad spatial axes,
    point arrays of the wrong shape."""


class SecurityError(MvlError, ValueError):
    """Unsafe input refused: path traversal, links, devices, data outside the input."""


class ResourceLimitError(SecurityError):
    """Sizes beyond a bound: decompression bombs, absurd dimensions."""


class SaveError(MvlError, OSError):
    """A save failed; the target path was left as it was before the call."""


class MissingDependencyError(MvlError, ImportError):
    """An optional package is needed (a codec, a fast backend); the message names the install."""


class MvlWarning(UserWarning):
    """Root of every warning an mvl package issues."""


class GeometryWarning(MvlWarning):
    """Loaded, but the voxel-to-world mapping needed an assumption; the message says which."""


class FormatWarning(MvlWarning):
    """Loaded, but the file bends its format's rules; the message says how."""


#: Modules of the family whose frames :func:`warn` skips.
_FAMILY = ("mvl.", "mvloader.")


def warn(message: str, category: type[Warning]) -> None:
    """``warnings.warn`` pointing at the first frame outside the mvl family.

    A warning about a file belongs to the line that asked for it, however many of our
    frames (a format package, the umbrella's ``mvloader.load``) lie in between; a fixed
    ``stacklevel`` points inside mvloader when the call comes through it.

    Parameters
    ----------
    message : str
        What was assumed or bent, naming the file.
    category : type of Warning
        Usually :class:`GeometryWarning` or :class:`FormatWarning`.
    """
    level = 2  # the caller of this function
    frame = sys._getframe(1)
    while frame.f_back is not None and _inside(frame.f_globals.get("__name__", "")):
        frame = frame.f_back
        level += 1
    warnings.warn(message, category, stacklevel=level)


def _inside(module: str) -> bool:
    return module.startswith(_FAMILY) or module == "mvloader"
