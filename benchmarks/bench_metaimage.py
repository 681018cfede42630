"""mvl.metaimage: load raw and zlib .mha, save raw and zlib .mha; peer: SimpleITK (ITK's MetaImageIO).

The volume is the 300x512x512 int16 phantom of the harness (157 MB). The input files are
written once into `.bench-data/` by SimpleITK (a neutral writer, its default compression
level). Save cases write into `.bench-data/` too; their file sizes are in the notes,
measured once by the parent process before the cases run. Targets (issue 20): load at
most 0.7x SimpleITK, zlib save at most 0.4x.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import numpy as np
from harness import DATA, Case, phantom

SHAPE = (300, 512, 512)
TEXT = "x".join(map(str, SHAPE))
RAW = DATA / f"metaimage-{TEXT}-raw.mha"
ZLIB = DATA / f"metaimage-{TEXT}-zlib.mha"
# One fixed, oblique-free geometry; the matrix only has to be the same for everyone.
MATRIX = np.diag([0.7, 0.7, 1.25, 1.0])


def _write_input(path: Path, compress: bool) -> Path:
    if not path.exists():
        import SimpleITK as sitk

        image = sitk.GetImageFromArray(phantom(SHAPE))
        image.SetSpacing((0.7, 0.7, 1.25))
        partial = path.with_suffix(".partial.mha")
        sitk.WriteImage(image, str(partial), useCompression=compress)
        partial.replace(path)
    return path


def _raw() -> Path:
    return _write_input(RAW, compress=False)


def _zlib() -> Path:
    return _write_input(ZLIB, compress=True)


def _zlib_backend_zlib() -> Path:
    os.environ["MVL_GZIP_BACKEND"] = "zlib"  # this case runs in a process of its own
    return _zlib()


# -- loading -----------------------------------------------------------------------------


def _sitk_read(path: Path) -> Any:
    import SimpleITK as sitk

    image = sitk.ReadImage(str(path))
    return image, sitk.GetArrayViewFromImage(image)  # no copy: the fairest to SimpleITK


def _ours_read(path: Path) -> Any:
    from mvl.metaimage import open_image

    return open_image(path).aligned_data


def _ours_read_no_mmap(path: Path) -> Any:
    from mvl.metaimage import open_image

    return open_image(path, mmap=False).aligned_data


# -- saving ------------------------------------------------------------------------------


def _volume() -> Any:
    from mvl.coords import Volume

    return Volume(phantom(SHAPE), MATRIX, "LPS")


def _zlib_volume() -> Any:
    os.environ["MVL_GZIP_BACKEND"] = "zlib"
    return _volume()


def _out(name: str) -> Path:
    return DATA / f"metaimage-out-{name}.mha"


def _sitk_write(volume: Any, compress: bool = True, name: str = "sitk-zlib") -> Path:
    import SimpleITK as sitk

    # SimpleITK's array order is [k, j, i]: the transposed view, as a peer would pass it.
    image = sitk.GetImageFromArray(volume.src_data.T)
    image.SetSpacing((0.7, 0.7, 1.25))
    sitk.WriteImage(image, str(_out(name)), useCompression=compress)
    return _out(name)


def _sitk_write_raw(volume: Any) -> Path:
    return _sitk_write(volume, compress=False, name="sitk-raw")


def _ours_write(volume: Any, compress: bool = True, name: str = "ours-zlib") -> Path:
    from mvl.metaimage import save_volume

    save_volume(_out(name), volume, compress=compress)
    return _out(name)


def _ours_write_raw(volume: Any) -> Path:
    return _ours_write(volume, compress=False, name="ours-raw")


def _ours_write_zlib_backend(volume: Any) -> Path:
    return _ours_write(volume, name="ours-zlib-backend")


def _sizes() -> dict[str, str]:
    """Output sizes, for the notes: computed once, by the parent process only."""
    if sys.argv[1:2] == ["--one"]:
        return {}
    sizes = {}
    for name, write, backend in [
        ("sitk-zlib", _sitk_write, None),
        ("ours-zlib", _ours_write, None),
        ("ours-zlib-backend", _ours_write_zlib_backend, "zlib"),
    ]:
        if backend:
            os.environ["MVL_GZIP_BACKEND"] = backend
        try:
            path = write(_volume())
        finally:
            os.environ.pop("MVL_GZIP_BACKEND", None)
        sizes[name] = f"{path.stat().st_size / 1e6:.1f} MB"
    return sizes


def cases() -> list[Case]:
    raw = f"metaimage: load raw {TEXT} int16 (.mha written by SimpleITK, 157 MB)"
    zlib = f"metaimage: load zlib {TEXT} int16 (.mha written by SimpleITK)"
    save_raw = f"metaimage: save raw {TEXT} int16 (.mha)"
    save_zlib = f"metaimage: save zlib {TEXT} int16 (.mha)"
    sizes = _sizes()

    def size(name: str) -> str:
        return f"file {sizes[name]}" if name in sizes else ""

    return [
        Case(raw, "SimpleITK ReadImage + GetArrayViewFromImage", _sitk_read, _raw, baseline=True),
        Case(raw, "mvl.metaimage open_image (memory-mapped)", _ours_read, _raw, note="no copy: a copy-on-write memmap"),
        Case(raw, "mvl.metaimage open_image(mmap=False)", _ours_read_no_mmap, _raw, note="read into one array"),
        Case(zlib, "SimpleITK ReadImage + GetArrayViewFromImage", _sitk_read, _zlib, baseline=True),
        Case(zlib, "mvl.metaimage open_image (isal)", _ours_read, _zlib, note="inflated into one preallocated array"),
        Case(zlib, "mvl.metaimage open_image (MVL_GZIP_BACKEND=zlib)", _ours_read, _zlib_backend_zlib),
        Case(save_raw, "SimpleITK WriteImage", _sitk_write_raw, _volume, baseline=True, repeat=3),
        Case(save_raw, "mvl.metaimage save_volume(compress=False)", _ours_write_raw, _volume, repeat=3),
        Case(save_zlib, "SimpleITK WriteImage(useCompression=True)", _sitk_write, _volume, baseline=True, repeat=3,
             note=size("sitk-zlib")),
        Case(save_zlib, "mvl.metaimage save_volume (isal)", _ours_write, _volume, repeat=3, note=size("ours-zlib")),
        Case(save_zlib, "mvl.metaimage save_volume (MVL_GZIP_BACKEND=zlib)", _ours_write_zlib_backend, _zlib_volume,
             repeat=3, note=size("ours-zlib-backend")),
    ]  # fmt: skip
