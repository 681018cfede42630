"""Files written beside a conversion's output: a BIDS JSON sidecar, FSL b-values and b-vectors.

The format that loaded a volume says what goes beside its outputs (the ``sidecars`` field
of its :class:`~mvl.coords.formats.Format` record; DICOM: ``.json``, and ``.bval``/``.bvec``
for diffusion series, :mod:`mvl.dicom.sidecar`). ``scan.nii.gz`` gets ``scan.json``: the
output's name without the ending that chose its format. ``mvl convert`` and ``mvl batch``
write them by default (``--no-sidecar`` turns them off); :func:`sidecar_files` returns
their text without writing anything.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from mvl.coords import Volume
from mvl.coords.files import atomic_write

from . import registry
from ._version import __version__

__all__ = ["sidecar_files", "write_sidecars"]


def sidecar_files(
    volume: Volume,
    output: str | os.PathLike[str],
    *,
    source_format: str,
    aligned: bool = False,
    source: str | os.PathLike[str] | None = None,
) -> dict[Path, str]:
    """The files to write beside `output` for `volume`, by path: empty when its format writes none.

    Parameters
    ----------
    volume : Volume
        The volume saved to `output`.
    output : str or os.PathLike
        The output file; its ending selects its format (:func:`~mvloader.registry.format_for_saving`).
    source_format : str
        The name of the format that loaded `volume` (``"dicom"``).
    aligned : bool, optional
        The output holds ``aligned_data`` (else ``src_data``).
    source : str or os.PathLike, optional
        The input, named in the JSON sidecar (``SourcePath``).
    """
    loaded_by = registry.installed_formats().get(source_format)
    if loaded_by is None or loaded_by.sidecars is None:
        return {}
    target = Path(output)
    provenance: dict[str, Any] = {"ConversionSoftware": "mvloader", "ConversionSoftwareVersion": __version__}
    if source is not None:
        provenance["SourcePath"] = os.fspath(source)
    stem = _stem(target)
    return {
        target.with_name(stem + ending): text
        for ending, text in loaded_by.sidecar_files(volume, aligned=aligned, provenance=provenance).items()
    }


def write_sidecars(files: dict[Path, str]) -> list[Path]:
    """Write :func:`sidecar_files`' files, each complete or not at all; return their paths.

    Raises
    ------
    SaveError
        If one cannot be written (the others written before it stay).
    """
    for path, text in files.items():
        with atomic_write(path) as (temporary,):
            temporary.write_text(text, encoding="utf-8")
    return list(files)


def _stem(target: Path) -> str:
    """The output's name without the ending that chose its format (``scan.nii.gz`` -> ``scan``)."""
    name = target.name
    fmt = registry.format_for_saving(target)
    for suffix in sorted(fmt.save_suffixes, key=len, reverse=True):
        if name.lower().endswith(suffix):
            return name[: len(name) - len(suffix)]
    return target.stem
