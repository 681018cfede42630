"""`select=`: choosing the frames of a series by the values of their DICOM attributes."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from .frame import Frame

__all__ = ["Selector", "matches", "normalized", "select_frames"]

#: A value to select, or a predicate on the value.
Selector = Callable[[Any], bool] | object


def normalized(value: Any) -> list[Any]:
    """A value as a list of its values: multi-valued elements, sequences, and text with ``\\`` split.

    Examples
    --------
    >>> normalized("ORIGINAL\\\\PRIMARY"), normalized(3), normalized(None)
    (['ORIGINAL', 'PRIMARY'], [3], [])
    """
    if value is None:
        return []
    if isinstance(value, list | tuple) or type(value).__name__ == "MultiValue":
        return list(value)
    if isinstance(value, str) and "\\" in value:
        return value.split("\\")
    return [value]


def matches(value: Any, wanted: Selector) -> bool:
    """Whether an attribute value is the one wanted (equal, numerically or as text), or passes a predicate.

    Multi-valued attributes match a list or tuple of their values, or the values joined
    by ``\\`` as messages print them.

    Examples
    --------
    >>> matches("2", 2), matches(2.0, "2"), matches(["ORIGINAL", "PRIMARY"], ["ORIGINAL", "PRIMARY"])
    (True, True, True)
    >>> matches(["ORIGINAL", "PRIMARY", "M"], "ORIGINAL\\\\PRIMARY\\\\M"), matches(["ORIGINAL"], "PRIMARY")
    (True, False)
    >>> matches(12.5, lambda echo_time: echo_time > 10)
    True
    """
    if callable(wanted):
        return bool(wanted(value))
    if value is None:
        return wanted is None
    values = normalized(value)
    wanteds = normalized(wanted)
    if len(values) != len(wanteds):
        return False
    for have, want in zip(values, wanteds, strict=True):
        try:  # a few values; numbers first, text when they are not numbers
            if float(have) != float(want):
                return False
        except (TypeError, ValueError):  # noqa: PERF203
            if str(have).strip() != str(want).strip():
                return False
    return True


def select_frames(frames: list[Frame], select: Mapping[str, Selector]) -> list[Frame]:
    """Keep the frames whose attributes match every entry of `select`."""
    return [frame for frame in frames if all(matches(frame.attribute(key), want) for key, want in select.items())]
