"""Format detection: content first, name second; hints for formats not installed; plugins."""

import gzip
import io
import re
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

import mvloader
from mvl.coords import MissingDependencyError, UnsupportedFormatError, Volume
from mvl.coords.formats import Format
from mvloader import registry

NIFTI1 = b"\x5c\x01\x00\x00" + b"\0" * 340 + b"n+1\0" + b"\0" * 100
NIFTI2 = b"\x1c\x02\x00\x00n+2\0\r\n\x1a\n" + b"\0" * 600
NRRD = b"NRRD0004\ntype: short\n"
DICOM = b"\0" * 128 + b"DICM" + b"\x02\x00\x00\x00UL\x04\x00"


def fake(name):
    return Format(name, name, (f".{name}",), lambda path: False, "builtins:repr")


@pytest.fixture
def only(monkeypatch):
    """Pretend that exactly the named formats are installed."""

    def install(*names):
        monkeypatch.setattr(registry, "installed_formats", lambda: {name: fake(name) for name in names})

    return install


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("scan.nii", NIFTI1, "nifti"),
        ("scan.nrrd", NIFTI1, "nifti"),  # misnamed: content wins
        ("scan.hdr", b"\x5c\x01\x00\x00" + b"\0" * 340 + b"ni1\0", "nifti"),
        ("scan.nii", NIFTI2, "nifti"),
        ("scan.nii.gz", gzip.compress(NIFTI1), "nifti"),
        ("scan.nii", gzip.compress(NIFTI1), "nifti"),  # gzip named .nii
        ("scan.nii.gz", NIFTI1, "nifti"),  # plain named .nii.gz
        ("scan.nrrd", NRRD, "nrrd"),
        ("scan.nhdr", NRRD, "nrrd"),
        ("scan.nii", NRRD, "nrrd"),
        ("slice", DICOM, "dicom"),
        ("scan.img", b"\0\1" * 64, "nifti"),  # Analyze/NIfTI pair image: by name
        ("slice.dcm", b"\0\1" * 64, "dicom"),  # no preamble: by name
    ],
)
def test_detection(tmp_path, only, name, content, expected):
    only("nifti", "nrrd", "dicom")
    path = tmp_path / name
    path.write_bytes(content)
    assert registry.detect_format(path).name == expected


def archive(kind):
    buffer = io.BytesIO()
    if kind == "zip":
        with zipfile.ZipFile(buffer, "w") as zipped:
            zipped.writestr("a/slice.dcm", DICOM)
    else:
        with tarfile.open(fileobj=buffer, mode=f"w:{kind}") as tarred:
            info = tarfile.TarInfo("a/slice.dcm")
            info.size = len(DICOM)
            tarred.addfile(info, io.BytesIO(DICOM))
    return buffer.getvalue()


@pytest.mark.parametrize("kind", ["zip", "", "gz", "bz2", "xz"])
def test_folders_and_archives_are_dicom(tmp_path, only, kind):
    only("nifti", "nrrd", "dicom")
    assert registry.detect_format(tmp_path).name == "dicom"
    path = tmp_path / "export.bin"
    path.write_bytes(archive(kind))
    assert registry.detect_format(path).name == "dicom"


@pytest.mark.parametrize(
    ("content", "extra"),
    [(NIFTI1, "nifti"), (NRRD, "nrrd"), (DICOM, "dicom")],
)
def test_missing_package_names_the_install(tmp_path, only, content, extra):
    only()
    path = tmp_path / "input"
    path.write_bytes(content)
    with pytest.raises(
        MissingDependencyError, match=rf'no {extra} reader is installed; pip install "mvloader\[{extra}\]"'
    ):
        mvloader.load(path)
    with pytest.raises(ImportError):
        mvloader.load(path)


def test_unknown_content_and_name(tmp_path, only):
    only("nifti", "nrrd", "dicom")
    path = tmp_path / "notes.txt"
    path.write_bytes(b"hello, not an image")
    with pytest.raises(
        UnsupportedFormatError, match=r"notes.txt: not a format mvloader reads: no NIfTI, NRRD, .*DICOM"
    ):
        mvloader.load(path)


def test_bad_paths(tmp_path, only):
    only("nifti")
    with pytest.raises(OSError, match=r"missing\.nii: no such file"):
        mvloader.load(tmp_path / "missing.nii")
    (tmp_path / "empty.nii").write_bytes(b"")
    with pytest.raises(OSError, match=r"empty\.nii: the file is empty"):
        mvloader.load(tmp_path / "empty.nii")


def test_save_format_from_the_ending(tmp_path, only):
    only("nifti")
    with pytest.raises(UnsupportedFormatError, match=r"out.png: cannot tell the format to save"):
        mvloader.save(
            tmp_path / "out.png", Volume([[[0]]], [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]], "RAS")
        )
    with pytest.raises(MissingDependencyError, match=r'pip install "mvloader\[nrrd\]"'):
        registry.format_for_saving(tmp_path / "out.nrrd")


def test_explicit_format_must_be_installed(tmp_path, only):
    only("nifti")
    with pytest.raises(UnsupportedFormatError, match=r"no installed format is called 'nrrd'; installed: nifti"):
        mvloader.load(tmp_path, format="nrrd")


PLUGIN = """
from pathlib import Path
import numpy as np
from mvl.coords import Volume
from mvl.coords.formats import Format

def sniff(path):
    return Path(path).read_bytes()[:6] == b"TOYFMT"

def load(path, *, system="RAS"):
    return Volume(np.zeros((2, 3, 4)), np.eye(4), "LPS", system=system, src_object=str(path))

def save(path, volume, **options):
    Path(path).write_bytes(b"TOYFMT" + repr(options).encode())

FORMAT = Format("toy", "a third-party toy format", (".toy",), sniff, "toyplugin:load", "toyplugin:save", (".toy",))
"""


def test_third_party_format_through_a_real_entry_point(tmp_path, monkeypatch):
    (tmp_path / "toyplugin.py").write_text(PLUGIN)
    info = tmp_path / "toyplugin-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: toyplugin\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[mvl.formats]\ntoy = toyplugin:FORMAT\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    registry.installed_formats.cache_clear()
    try:
        assert "toy" in registry.installed_formats()
        data = tmp_path / "scan.unknown"
        data.write_bytes(b"TOYFMT....")
        volume = mvloader.load(data, system="IAR")  # found by its sniff, not by name
        assert (volume.src_system, volume.system, volume.src_object) == ("LPS", "IAR", str(data))
        mvloader.save(tmp_path / "out.toy", volume, src_order=False)
        assert (tmp_path / "out.toy").read_bytes() == b"TOYFMT{'src_order': False}"
    finally:
        registry.installed_formats.cache_clear()
        sys.modules.pop("toyplugin", None)


def test_format_warnings_point_at_the_users_line_through_load():
    import warnings

    examples = Path(__file__).resolve().parents[3] / "examples" / "data" / "phantom-ct"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        mvloader.load(examples)  # two series here: a FormatWarning names the other
    assert [w.filename for w in caught if "holds 2 series" in str(w.message)] == [__file__]


def sample_files(folder):
    """Files of every kind the project's formats meet, and look-alikes that are none of them."""
    import nibabel as nib
    import numpy as np

    from mvl.dicom.testing import write_series

    folder.mkdir()
    data, affine = np.arange(24, dtype=np.int16).reshape(2, 3, 4), np.eye(4)
    nib.save(nib.Nifti1Image(data, affine), folder / "one.nii")
    nib.save(nib.Nifti1Image(data, affine), folder / "one.nii.gz")
    nib.save(nib.Nifti2Image(data, affine), folder / "two.nii")
    nib.save(nib.Nifti1Pair(data, affine), folder / "pair.hdr")
    mvloader.save(folder / "attached.nrrd", mvloader.load(folder / "one.nii"))
    mvloader.save(folder / "detached.nhdr", mvloader.load(folder / "one.nii"))
    mvloader.save(folder / "attached.mha", mvloader.load(folder / "one.nii"))
    series = write_series(folder / "series", shape=(2, 2, 2))
    slice_file = next(series.iterdir())
    (folder / "slice.dcm").write_bytes(slice_file.read_bytes())
    for kind in ("zip", "", "gz", "bz2", "xz"):
        (folder / f"export.{kind or 'tar'}").write_bytes(archive(kind))
    (folder / "notes.gz").write_bytes(gzip.compress(b"just text" * 100))  # gzip, but no tar and no NIfTI
    (folder / "notes.bz2").write_bytes(__import__("bz2").compress(b"just text" * 100))
    (folder / "packed.nrrd.gz").write_bytes(gzip.compress(NRRD))  # NRRD is never read compressed
    (folder / "notes.txt").write_bytes(b"hello, not an image")
    return sorted(path for path in folder.iterdir() if path.is_file())


@pytest.mark.parametrize("known", registry.KNOWN_FORMATS, ids=lambda known: known.name)
def test_the_hint_table_agrees_with_the_installed_formats(tmp_path, known):
    # Detection gives the same answer whether or not a format's package is installed.
    from mvl.coords.heads import peek

    fmt = registry.installed_formats()[known.name]  # all are installed in this session
    assert (fmt.extra, fmt.save_suffixes) == (known.extra, known.save_suffixes)
    assert set(fmt.suffixes) <= set(known.suffixes)
    assert fmt.sniff(tmp_path) == known.folders
    files = [path for path in sample_files(tmp_path / "samples") if path.name != "pair.img"]  # by its header
    assert [path.name for path in files if fmt.sniff(path)] == [
        path.name for path in files if known.signature(peek(path))
    ]
    assert any(fmt.sniff(path) for path in files)


def detected(path):
    """The name of the format detection picks for `path`, installed or named in the install hint."""
    try:
        return registry.detect_format(path).name
    except MissingDependencyError as error:
        return re.search(r"no (\w+) reader is installed", str(error)).group(1)
    except UnsupportedFormatError:
        return None


def test_detection_is_the_same_whether_or_not_the_formats_are_installed(tmp_path, monkeypatch):
    files = [*sample_files(tmp_path / "samples"), tmp_path / "samples" / "series"]
    with_packages = {path.name: detected(path) for path in files}
    monkeypatch.setattr(registry, "installed_formats", dict)
    assert {path.name: detected(path) for path in files} == with_packages
    assert with_packages["pair.img"] == "nifti" and with_packages["export.bz2"] == "dicom"
    assert with_packages["notes.gz"] is with_packages["packed.nrrd.gz"] is None


def test_installed_formats_are_ours_first_then_the_others_by_name(tmp_path, monkeypatch):
    import importlib.metadata

    (tmp_path / "alphaplugin.py").write_text(
        "from mvl.coords.formats import Format\n"
        "FORMAT = Format('alpha', 'a third-party format', ('.alpha',), bool, 'builtins:repr')\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    points = [
        importlib.metadata.EntryPoint(name, f"{module}:FORMAT", registry.ENTRY_POINT_GROUP)
        for name, module in [("alpha", "alphaplugin"), ("nrrd", "mvl.nrrd.plugin"), ("dicom", "mvl.dicom.plugin")]
    ]
    monkeypatch.setattr(registry, "entry_points", lambda group: points)
    registry.installed_formats.cache_clear()
    try:
        assert list(registry.installed_formats()) == ["dicom", "nrrd", "alpha"]
    finally:
        registry.installed_formats.cache_clear()
        sys.modules.pop("alphaplugin", None)


def test_endings_come_from_the_installed_formats(only, monkeypatch):
    toy = Format("toy", "toy", (".toy.gz", ".toy"), bool, "builtins:repr", "builtins:repr", (".toy",))
    monkeypatch.setattr(registry, "installed_formats", lambda: {"nifti": fake("nifti"), "toy": toy})
    # then those of known formats not installed
    assert registry.output_suffixes() == (".toy", ".nrrd", ".nhdr", ".mha", ".mhd")
    assert registry.input_suffixes() == (".toy.gz", ".nifti", ".toy")
