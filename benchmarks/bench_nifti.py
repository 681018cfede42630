"""mvl.nifti: .nii.gz and .nii loading, .nii.gz saving; peers: nibabel (baseline), SimpleITK.

The volume is the 300x512x512 int16 phantom (157 MB). Targets of issue 3: ``.nii.gz``
load at least 1.3x faster than nibabel with peak memory at most 1.3x the array;
``.nii`` load memory-mapped in O(1); ``.nii.gz`` save at least 2.5x faster than
nibabel's ``to_filename`` at a file size within 5% of nibabel's (the sizes are in the
notes: each save is run once, in this process, when the cases are listed).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import numpy as np
from harness import DATA, Case, phantom

SHAPE = (300, 512, 512)
LABEL = "x".join(map(str, SHAPE))
ARRAY_MB = np.prod(SHAPE) * 2 / 1e6


def _affine() -> np.ndarray[Any, Any]:
    from mvl.coords.testing import sample_transformation

    return sample_transformation((8, -5, 3), (0.7, 0.7, 1.25), (-180, -170, 40))


def _input(suffix: str) -> Path:
    """The phantom as nibabel writes it (zlib level 1 for .gz), cached in .bench-data."""
    path = DATA / f"nifti-phantom-{LABEL}{suffix}"
    if not path.exists():
        import nibabel as nib

        partial = path.with_name(f".{path.name}.partial{suffix}")
        nib.save(nib.Nifti1Image(phantom(SHAPE), _affine()), partial)
        partial.replace(path)
    return path


def _output(name: str) -> Path:
    return DATA / f"nifti-out-{name}.nii.gz"


def _backend(name: str | None) -> None:
    if name is None:
        os.environ.pop("MVL_GZIP_BACKEND", None)
    else:
        os.environ["MVL_GZIP_BACKEND"] = name


# -- loading ---------------------------------------------------------------------------------


def _gz_setup() -> Path:
    _backend(None)
    return _input(".nii.gz")


def _gz_setup_zlib() -> Path:
    _backend("zlib")
    return _input(".nii.gz")


def _nii_setup() -> Path:
    return _input(".nii")


def _nibabel_load(path: Path) -> Any:
    import nibabel as nib

    return np.asanyarray(nib.load(path).dataobj)


def _ours_load(path: Path) -> Any:
    from mvl.nifti import open_image

    return open_image(path).src_data


def _simpleitk_load(path: Path) -> Any:
    import SimpleITK as sitk

    return sitk.ReadImage(str(path))


# -- saving ----------------------------------------------------------------------------------


def _save_setup() -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    _backend(None)
    return phantom(SHAPE), _affine()


def _save_setup_zlib() -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    _backend("zlib")
    return phantom(SHAPE), _affine()


def _loaded_volume_setup() -> Any:
    from mvl.nifti import open_image

    _backend(None)
    return open_image(_input(".nii.gz"), system="LPS")


def _nibabel_save(state: Any) -> None:
    import nibabel as nib

    data, affine = state
    nib.Nifti1Image(data, affine).to_filename(_output("nibabel"))


def _ours_save(state: Any, name: str = "mvl") -> None:
    from mvl.nifti import save_image

    data, affine = state
    save_image(_output(name), data, affine)


def _ours_save_zlib(state: Any) -> None:
    _ours_save(state, "mvl-zlib")


def _ours_save_volume(volume: Any) -> None:
    from mvl.nifti import save_volume

    save_volume(_output("mvl-volume"), volume)


def _simpleitk_save(state: Any) -> None:
    import SimpleITK as sitk

    data, _ = state
    sitk.WriteImage(sitk.GetImageFromArray(data), str(_output("simpleitk")), useCompression=True)


SAVES = {
    "nibabel": (_save_setup, _nibabel_save),
    "mvl": (_save_setup, _ours_save),
    "mvl-volume": (_loaded_volume_setup, _ours_save_volume),
    "mvl-zlib": (_save_setup_zlib, _ours_save_zlib),
    "simpleitk": (_save_setup, _simpleitk_save),
}


def _sizes() -> dict[str, float]:
    """File size of each save, in MB, from one save each (only in the process that lists the cases)."""
    if sys.argv[1:2] == ["--one"]:
        return {}
    sizes = {}
    for name, (setup, run) in SAVES.items():
        run(setup())
        sizes[name] = _output(name).stat().st_size / 1e6
    _backend(None)
    return sizes


def _size_note(sizes: dict[str, float], name: str) -> str:
    if name not in sizes:
        return ""
    return f"file {sizes[name]:.1f} MB ({sizes[name] / sizes['nibabel']:.3f}x nibabel's size)"


def cases() -> list[Case]:
    load_gz = f"nifti: load {LABEL} int16 .nii.gz (written by nibabel), to an array"
    load_nii = f"nifti: load {LABEL} int16 .nii (written by nibabel)"
    save_gz = f"nifti: save {LABEL} int16 .nii.gz"
    array_note = f"array {ARRAY_MB:.1f} MB; target: peak at most 1.3x that"
    sizes = _sizes()
    return [
        Case(load_gz, "nibabel np.asanyarray(load(p).dataobj)", _nibabel_load, _gz_setup, baseline=True, repeat=3),
        Case(load_gz, "mvl.nifti open_image(p).src_data", _ours_load, _gz_setup, repeat=3, note=array_note),
        Case(load_gz, "mvl.nifti open_image, MVL_GZIP_BACKEND=zlib", _ours_load, _gz_setup_zlib, repeat=3),
        Case(load_gz, "SimpleITK ReadImage", _simpleitk_load, _gz_setup, repeat=3),
        Case(load_nii, "nibabel np.asanyarray(load(p).dataobj) (memmap)", _nibabel_load, _nii_setup, baseline=True),
        Case(load_nii, "mvl.nifti open_image(p).src_data (memmap)", _ours_load, _nii_setup, repeat=20),
        Case(load_nii, "SimpleITK ReadImage (reads it all)", _simpleitk_load, _nii_setup, repeat=3),
        Case(save_gz, "nibabel Nifti1Image(a, affine).to_filename", _nibabel_save, _save_setup, baseline=True, repeat=3,
             note=_size_note(sizes, "nibabel")),
        Case(save_gz, "mvl.nifti save_image (C-ordered array)", _ours_save, _save_setup, repeat=3,
             note=_size_note(sizes, "mvl")),
        Case(save_gz, "mvl.nifti save_volume (volume loaded from NIfTI)", _ours_save_volume, _loaded_volume_setup,
             repeat=3, note=_size_note(sizes, "mvl-volume")),
        Case(save_gz, "mvl.nifti save_image, MVL_GZIP_BACKEND=zlib", _ours_save_zlib, _save_setup_zlib, repeat=3,
             note=_size_note(sizes, "mvl-zlib")),
        Case(save_gz, "SimpleITK WriteImage(useCompression=True)", _simpleitk_save, _save_setup, repeat=3,
             note=_size_note(sizes, "simpleitk")),
    ]  # fmt: skip
