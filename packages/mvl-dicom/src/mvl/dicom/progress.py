"""Progress reporting: a callback of the caller's, a tqdm bar when asked for, or nothing.

``progress=callback`` is called as ``callback(phase, done, total)`` with ``phase`` one of
``"headers"`` and ``"pixels"``, ``done`` the files (headers) or frames (pixels) finished so
far and ``total`` their number (None while unknown, e.g. inside a compressed tar).
``progress=True`` shows a tqdm bar per phase on standard error; it needs ``pip install
"mvl-dicom[progress]"``. Library code never prints otherwise.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from types import TracebackType
from typing import Any

from mvl.coords import MissingDependencyError

__all__ = ["ProgressCallback", "Reporter", "reporter"]

#: ``callback(phase, done, total)``.
ProgressCallback = Callable[[str, int, "int | None"], None]


class Reporter(AbstractContextManager["Reporter"]):
    """Counts work done in one phase and reports it; thread-safe."""

    def __init__(self, phase: str, total: int | None, callback: ProgressCallback | None, bar: Any = None) -> None:
        self.phase = phase
        self.total = total
        self.done = 0
        self._callback = callback
        self._bar = bar
        self._lock = threading.Lock()

    def tick(self, count: int = 1) -> None:
        """Record `count` more units done."""
        with self._lock:
            self.done += count
            if self._bar is not None:
                self._bar.update(count)
            if self._callback is not None:
                self._callback(self.phase, self.done, self.total)

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        if self._bar is not None:
            self._bar.close()


def reporter(progress: bool | ProgressCallback | None, phase: str, total: int | None) -> Reporter:
    """Return the reporter for one phase.

    Parameters
    ----------
    progress : bool or callable or None
        None or False: silent; True: a tqdm bar; a callable: ``callable(phase, done, total)``.
    phase : str
        ``"headers"`` or ``"pixels"``.
    total : int or None
        Units of work, if known.

    Raises
    ------
    MissingDependencyError
        If a bar was asked for and tqdm is not installed.

    Examples
    --------
    >>> seen = []
    >>> with reporter(lambda *report: seen.append(report), "pixels", 2) as counter:
    ...     counter.tick()
    ...     counter.tick()
    >>> seen
    [('pixels', 1, 2), ('pixels', 2, 2)]
    """
    if progress is None or progress is False:
        return Reporter(phase, total, None)
    if progress is True:
        try:
            from tqdm.auto import tqdm
        except ImportError:
            raise MissingDependencyError(
                'progress=True shows a tqdm bar: pip install "mvl-dicom[progress]" (or pass a callback)'
            ) from None
        label = {"headers": "reading DICOM headers", "pixels": "reading DICOM pixels"}.get(phase, phase)
        unit = "file" if phase == "headers" else "frame"
        return Reporter(phase, total, None, tqdm(total=total, desc=label, unit=unit, leave=False))
    if not callable(progress):
        raise TypeError(f"progress must be None, a bool or a callable, got {progress!r}")
    return Reporter(phase, total, progress)
