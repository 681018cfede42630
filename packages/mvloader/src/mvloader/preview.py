"""`mvl preview`: three orthogonal slices through the centre, every edge labelled.

The picture shows :attr:`~mvl.coords.Volume.aligned_data` as it is: in each panel the
horizontal axis is the lower-numbered aligned axis growing to the right, the vertical
axis the higher-numbered one growing upwards. Each edge carries the letter of the
anatomical direction it faces, so what you see is what the numbers say; in RAS+ that is
the "neurological" view (the subject's right on the right). Pixels have the aspect
ratio of the voxel spacing. CT-like data (Hounsfield units) gets a soft-tissue window,
anything else the 1st to 99.5th percentile of the shown slices.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from mvl.coords import OPPOSITES, MissingDependencyError, Volume
from mvl.coords.files import atomic_write

__all__ = ["display_window", "render_preview"]

_PAIRS = {"R": "L/R", "L": "L/R", "A": "A/P", "P": "A/P", "S": "S/I", "I": "S/I"}
_VIEWS = (("axial", "S/I"), ("coronal", "A/P"), ("sagittal", "L/R"))
_CT_WINDOW = (-160.0, 240.0)  # level 40, width 400: soft tissue


def display_window(values: np.ndarray[Any, Any]) -> tuple[float, float]:
    """Return (low, high) display limits: a CT soft-tissue window, or robust percentiles.

    Examples
    --------
    >>> display_window(np.array([-1000, -1000, 40, 1200]))
    (-160.0, 240.0)
    >>> display_window(np.arange(201.0))
    (2.0, 199.0)
    """
    finite = values[np.isfinite(values)] if np.issubdtype(values.dtype, np.floating) else values.ravel()
    if finite.size == 0:
        return 0.0, 1.0
    low, high = float(finite.min()), float(finite.max())
    if low <= -500 and high >= 300:
        return _CT_WINDOW
    low, high = (float(value) for value in np.percentile(finite, [1.0, 99.5]))
    return (low, high) if high > low else (low, low + 1.0)


def render_preview(volume: Volume, output: str | os.PathLike[str], *, title: str | None = None) -> Path:
    """Draw the axial, coronal and sagittal centre slices of a volume into a PNG file.

    Parameters
    ----------
    volume : Volume
        Shown in its current :attr:`~mvl.coords.Volume.system`; for more than three
        dimensions the first entry of every extra axis is shown.
    output : str or os.PathLike
        The PNG file to write (atomically).
    title : str, optional
        A line above the panels.

    Returns
    -------
    pathlib.Path
        `output`.

    Raises
    ------
    MissingDependencyError
        If matplotlib is not installed (``pip install "mvloader[preview]"``).
    SaveError
        If the file cannot be written; an existing file is left as it was.
    """
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as error:
        raise MissingDependencyError('previews need matplotlib: pip install "mvloader[preview]"') from error

    data = volume.aligned_data
    data = data[(slice(None),) * 3 + (0,) * (data.ndim - 3)]
    system = volume.system
    spacing = volume.aligned_spacing
    centre = [size // 2 for size in data.shape]
    axis_of = {_PAIRS[letter]: axis for axis, letter in enumerate(system)}
    planes = []
    for name, normal_pair in _VIEWS:
        normal = axis_of[normal_pair]
        first, second = (axis for axis in range(3) if axis != normal)
        plane = np.asarray(np.take(data, centre[normal], axis=normal))
        planes.append((name, normal, first, second, plane))
    low, high = display_window(np.concatenate([plane.ravel() for *_, plane in planes]).astype(np.float64))

    figure = Figure(figsize=(13.5, 5.0), dpi=100, facecolor="black")
    FigureCanvasAgg(figure)
    for index, (name, normal, first, second, plane) in enumerate(planes):
        axes = figure.add_subplot(1, 3, index + 1)
        axes.imshow(
            plane.T,
            origin="lower",
            cmap="gray",
            vmin=low,
            vmax=high,
            aspect=spacing[second] / spacing[first],
            interpolation="nearest",
        )
        axes.set_xticks([])
        axes.set_yticks([])
        label: dict[str, Any] = {"color": "yellow", "fontsize": 15, "fontweight": "bold", "transform": axes.transAxes}
        axes.text(1.02, 0.5, system[first], ha="left", va="center", **label)
        axes.text(-0.02, 0.5, OPPOSITES[system[first]], ha="right", va="center", **label)
        axes.text(0.5, 1.02, system[second], ha="center", va="bottom", **label)
        axes.text(0.5, -0.02, OPPOSITES[system[second]], ha="center", va="top", **label)
        axes.set_title(
            f"{name}: slice {centre[normal]} of {data.shape[normal]} along {system[normal]}",
            color="white",
            fontsize=11,
            pad=22,
        )
    if title:
        figure.suptitle(title, color="white", fontsize=12)
    figure.subplots_adjust(left=0.03, right=0.97, bottom=0.08, top=0.82, wspace=0.25)
    target = Path(output)
    with atomic_write(target) as (temporary,):
        figure.savefig(temporary, format="png", facecolor="black")
    return target
