"""What `mvl info` reports about a volume, as plain data (printable and JSON-ready)."""

from __future__ import annotations

from typing import Any

import numpy as np

from mvl.coords import Volume, axcodes

__all__ = ["describe", "format_description"]


def describe(volume: Volume, *, path: str, format_name: str) -> dict[str, Any]:
    """Summarise a volume: shapes, types, systems, spacing, axis codes, obliquity, matrices, values.

    Parameters
    ----------
    volume : Volume
        The loaded volume.
    path : str
        Where it came from.
    format_name : str
        The format it was loaded as.

    Returns
    -------
    dict
        Only str, int, float, bool, None, lists and dicts: ``json.dumps`` takes it as is.
    """
    data = volume.src_data
    finite = _value_range(data)
    return {
        "path": path,
        "format": format_name,
        "src_shape": list(data.shape),
        "dtype": str(data.dtype),
        "memory_mapped": isinstance(data, np.memmap),
        "src_system": volume.src_system,
        "system": volume.system,
        "src_spatial_dimensions": list(volume.src_spatial_dimensions),
        "aligned_shape": list(volume.aligned_data.shape),
        "src_spacing": [round(value, 6) for value in volume.src_spacing],
        "aligned_spacing": [round(value, 6) for value in volume.aligned_spacing],
        "src_axcodes": axcodes(volume.src_transformation, volume.src_system),
        "obliquity_degrees": round(volume.obliquity, 4),
        "src_transformation": volume.src_transformation.round(6).tolist(),
        "aligned_transformation": volume.aligned_transformation.round(6).tolist(),
        "value_range": finite,
    }


def _value_range(data: np.ndarray[Any, Any]) -> list[float] | None:
    if data.size == 0 or not (np.issubdtype(data.dtype, np.number) or data.dtype == np.bool_):
        return None
    values = np.asarray(data)
    if np.issubdtype(values.dtype, np.floating):
        finite = values[np.isfinite(values)]
        return [float(finite.min()), float(finite.max())] if finite.size else None
    return [float(values.min()), float(values.max())]


def format_description(info: dict[str, Any]) -> str:
    """Render :func:`describe`'s result for a terminal."""

    def matrix(rows: list[list[float]]) -> str:
        return "\n".join("    [" + "  ".join(f"{value:10.4f}" for value in row) + "]" for row in rows)

    spacing = ", ".join(f"{value:g}" for value in info["aligned_spacing"])
    value_range = info["value_range"]
    lines = [
        f"{info['path']}",
        f"  format               {info['format']}",
        f"  src_data             {tuple(info['src_shape'])} {info['dtype']}"
        + (" (memory-mapped)" if info["memory_mapped"] else ""),
        f"  src_system           {info['src_system']}  (src voxel axes point towards {info['src_axcodes']})",
        f"  system               {info['system']}",
        f"  aligned_data         {tuple(info['aligned_shape'])}",
        f"  aligned spacing      ({spacing}) mm",
        f"  obliquity            {info['obliquity_degrees']:g} degrees",
        f"  value range          {value_range[0]:g} .. {value_range[1]:g}"
        if value_range
        else "  value range          -",
        f"  src_transformation   (src voxel -> {info['src_system']})",
        matrix(info["src_transformation"]),
        f"  aligned_transformation   (aligned voxel -> {info['system']})",
        matrix(info["aligned_transformation"]),
    ]
    return "\n".join(lines)
