"""Warnings that point at the user's line, however deep inside the mvl family they arise."""

from __future__ import annotations

import sys
import warnings

#: Modules of the family (this package, mvl-coords, the umbrella mvloader) whose frames are skipped.
_FAMILY = ("mvl.", "mvloader.")


def _inside(module: str) -> bool:
    return module.startswith(_FAMILY) or module == "mvloader"


def warn(message: str, category: type[Warning]) -> None:
    """``warnings.warn`` with the stack level of the first frame outside the mvl family."""
    level = 2  # the caller of this function
    frame = sys._getframe(1)
    while frame.f_back is not None and _inside(frame.f_globals.get("__name__", "")):
        frame = frame.f_back
        level += 1
    warnings.warn(message, category, stacklevel=level)
