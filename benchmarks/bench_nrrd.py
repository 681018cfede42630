"""mvl.nrrd: load raw and gzip NRRD, save gzip NRRD; peers: pynrrd (nrrd.read / nrrd.write), SimpleITK.

The volume is the 300x512x512 int16 phantom of the harness (157 MB). The input files are
written once into `.bench-data/`: raw and gzip by SimpleITK (a neutral writer, its default
gzip level), and gzip by pynrrd (its default, zlib level 9): how fast a deflate stream
inflates depends on the writer, so both are measured. Save cases write into
`.bench-data/` too; their file sizes are in the notes, measured once by the parent
process before the cases run.
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
RAW = DATA / f"nrrd-{TEXT}-raw.nrrd"
GZIP = DATA / f"nrrd-{TEXT}-gzip.nrrd"
PYNRRD_GZIP = DATA / f"nrrd-{TEXT}-gzip-pynrrd.nrrd"
# One fixed, oblique-free geometry; the matrix only has to be the same for everyone.
MATRIX = np.diag([0.7, 0.7, 1.25, 1.0])


def _write_input(path: Path, compress: bool) -> Path:
    if not path.exists():
        import SimpleITK as sitk

        image = sitk.GetImageFromArray(phantom(SHAPE))
        image.SetSpacing((0.7, 0.7, 1.25))
        partial = path.with_suffix(".partial.nrrd")
        sitk.WriteImage(image, str(partial), useCompression=compress)
        partial.replace(path)
    return path


def _raw() -> Path:
    return _write_input(RAW, compress=False)


def _gzip() -> Path:
    return _write_input(GZIP, compress=True)


def _pynrrd_gzip() -> Path:
    if not PYNRRD_GZIP.exists():
        import nrrd

        partial = PYNRRD_GZIP.with_suffix(".partial.nrrd")
        header = {
            "space": "left-posterior-superior",
            "space directions": MATRIX[:3, :3].T,
            "space origin": MATRIX[:3, 3],
            "encoding": "gzip",
        }
        nrrd.write(str(partial), phantom(SHAPE), header)
        partial.replace(PYNRRD_GZIP)
    return PYNRRD_GZIP


def _zlib_gzip() -> Path:
    os.environ["MVL_GZIP_BACKEND"] = "zlib"  # this case runs in a process of its own
    return _gzip()


# -- loading -----------------------------------------------------------------------------


def _pynrrd_read(path: Path) -> Any:
    import nrrd

    return nrrd.read(str(path))


def _sitk_read(path: Path) -> Any:
    import SimpleITK as sitk

    image = sitk.ReadImage(str(path))
    return image, sitk.GetArrayViewFromImage(image)  # no copy: the fairest to SimpleITK


def _ours_read(path: Path) -> Any:
    from mvl.nrrd import open_image

    return open_image(path).aligned_data


def _ours_read_no_mmap(path: Path) -> Any:
    from mvl.nrrd import open_image

    return open_image(path, mmap=False).aligned_data


# -- saving ------------------------------------------------------------------------------


def _volume() -> Any:
    from mvl.coords import Volume

    return Volume(phantom(SHAPE), MATRIX, "LPS")


def _zlib_volume() -> Any:
    os.environ["MVL_GZIP_BACKEND"] = "zlib"
    return _volume()


def _out(name: str) -> Path:
    return DATA / f"nrrd-out-{name}.nrrd"


def _pynrrd_write(volume: Any, level: int = 1, name: str = "pynrrd-1") -> Path:
    import nrrd

    header = {
        "space": "left-posterior-superior",
        "space directions": MATRIX[:3, :3].T,
        "space origin": MATRIX[:3, 3],
        "encoding": "gzip",
    }
    nrrd.write(str(_out(name)), volume.src_data, header, compression_level=level)
    return _out(name)


def _pynrrd_write_default(volume: Any) -> Path:
    return _pynrrd_write(volume, 9, "pynrrd-9")


def _sitk_write(volume: Any) -> Path:
    import SimpleITK as sitk

    # SimpleITK's array order is [k, j, i]: the transposed view, as a peer would pass it.
    image = sitk.GetImageFromArray(volume.src_data.T)
    image.SetSpacing((0.7, 0.7, 1.25))
    sitk.WriteImage(image, str(_out("sitk")), useCompression=True)
    return _out("sitk")


def _ours_write(volume: Any, name: str = "ours") -> Path:
    from mvl.nrrd import save_volume

    save_volume(_out(name), volume)
    return _out(name)


def _ours_write_zlib(volume: Any) -> Path:
    return _ours_write(volume, "ours-zlib")


def _sizes() -> dict[str, str]:
    """Output sizes, for the notes: computed once, by the parent process only."""
    if sys.argv[1:2] == ["--one"]:
        return {}
    sizes = {}
    for name, write, backend in [
        ("pynrrd-1", _pynrrd_write, None),
        ("pynrrd-9", _pynrrd_write_default, None),
        ("sitk", _sitk_write, None),
        ("ours", _ours_write, None),
        ("ours-zlib", _ours_write_zlib, "zlib"),
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
    raw = f"nrrd: load raw {TEXT} int16 (.nrrd, 157 MB)"
    gz = f"nrrd: load gzip {TEXT} int16 (.nrrd written by SimpleITK)"
    gz9 = f"nrrd: load gzip {TEXT} int16 (.nrrd written by pynrrd, level 9)"
    save = f"nrrd: save gzip {TEXT} int16 (C-order array, written in NRRD order)"
    sizes = _sizes()

    def size(name: str) -> str:
        return f"file {sizes[name]}" if name in sizes else ""

    return [
        Case(raw, "pynrrd nrrd.read", _pynrrd_read, _raw, baseline=True),
        Case(raw, "SimpleITK ReadImage + GetArrayViewFromImage", _sitk_read, _raw),
        Case(raw, "mvl.nrrd open_image (memory-mapped)", _ours_read, _raw, note="no copy: a copy-on-write memmap"),
        Case(raw, "mvl.nrrd open_image(mmap=False)", _ours_read_no_mmap, _raw, note="read into one array"),
        Case(gz, "pynrrd nrrd.read", _pynrrd_read, _gzip, baseline=True),
        Case(gz, "SimpleITK ReadImage + GetArrayViewFromImage", _sitk_read, _gzip),
        Case(gz, "mvl.nrrd open_image (isal)", _ours_read, _gzip, note="inflated into one preallocated array"),
        Case(gz, "mvl.nrrd open_image (MVL_GZIP_BACKEND=zlib)", _ours_read, _zlib_gzip),
        Case(gz9, "pynrrd nrrd.read", _pynrrd_read, _pynrrd_gzip, baseline=True),
        Case(gz9, "SimpleITK ReadImage + GetArrayViewFromImage", _sitk_read, _pynrrd_gzip),
        Case(gz9, "mvl.nrrd open_image (isal)", _ours_read, _pynrrd_gzip),
        Case(save, "pynrrd nrrd.write(compression_level=1)", _pynrrd_write, _volume, baseline=True,
             repeat=3, note=size("pynrrd-1") + " (zlib level 1: the size ours aims at)"),
        Case(save, "pynrrd nrrd.write (default level 9)", _pynrrd_write_default, _volume, repeat=1,
             note=size("pynrrd-9")),
        Case(save, "SimpleITK WriteImage(useCompression=True)", _sitk_write, _volume, repeat=3, note=size("sitk")),
        Case(save, "mvl.nrrd save_volume (isal, threads)", _ours_write, _volume, note=size("ours")),
        Case(save, "mvl.nrrd save_volume (MVL_GZIP_BACKEND=zlib)", _ours_write_zlib, _zlib_volume, repeat=3,
             note=size("ours-zlib")),
    ]  # fmt: skip
