"""The promise of issue 12: a format defined outside mvloader works everywhere, with no edit to mvloader.

`mvltest` is a tiny reader and writer defined here and installed as a real entry point (a
dist-info folder on the path). It is found by `mvl info`, written by `mvl convert` and
`mvl batch --to mvltest`, discovered by `mvl batch`, and given the compression thread
budget it declares; a format that is known but not installed names its install.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import mvloader
from mvl.coords import MissingDependencyError, Volume
from mvl.coords.testing import assert_same_image, sample_transformation
from mvloader import cli, registry
from mvloader.batch import convert_tree
from mvloader.batch.manifest import read_records

EXAMPLES = Path(__file__).resolve().parents[3] / "examples" / "data"
NIFTI = EXAMPLES / "phantom-t1.nii.gz"
MVL = Path(sys.executable).with_name("mvl")
MAGIC = b"MVLTEST\n"

PLUGIN = '''
"""A third-party format: a magic line, a JSON header line, the voxels (C order)."""
import json, os
from pathlib import Path
import numpy as np
from mvl.coords import Volume
from mvl.coords.formats import THREADS, Format
from mvl.coords.heads import peek

MAGIC = b"MVLTEST\\n"

def sniff(path):
    try:
        return peek(path, len(MAGIC), through=()).stored == MAGIC
    except OSError:
        return False

def load(path, *, system="RAS"):
    header, _, body = Path(path).read_bytes()[len(MAGIC):].partition(b"\\n")
    meta = json.loads(header)
    data = np.frombuffer(body, dtype=meta["dtype"]).reshape(meta["shape"])
    return Volume(data, np.array(meta["matrix"]), meta["system"], system=system, src_object=meta)

def save(path, volume, *, src_order=True, threads=None):
    data = volume.src_data if src_order else volume.aligned_data
    matrix = volume.src_transformation if src_order else volume.aligned_transformation
    meta = {
        "shape": list(data.shape), "dtype": data.dtype.str, "matrix": matrix.tolist(),
        "system": volume.src_system if src_order else volume.system,
        "threads": threads, "environment": os.environ.get("MVL_GZIP_THREADS"),  # what the saver was given
    }
    Path(path).write_bytes(MAGIC + json.dumps(meta).encode() + b"\\n" + np.ascontiguousarray(data).tobytes())

FORMAT = Format(
    "mvltest", "a third-party test format", (".mvltest",), sniff, "mvltestplugin:load", "mvltestplugin:save",
    (".mvltest",), "mvltestplugin", save_options=frozenset({THREADS}),
)
'''


@pytest.fixture(scope="module")
def plugin(tmp_path_factory):
    """The folder that holds the `mvltest` plugin and its entry point, for PYTHONPATH."""
    folder = tmp_path_factory.mktemp("plugin")
    (folder / "mvltestplugin.py").write_text(PLUGIN)
    info = folder / "mvltestplugin-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: mvltestplugin\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[mvl.formats]\nmvltest = mvltestplugin:FORMAT\n")
    return folder


@pytest.fixture
def installed(plugin, monkeypatch):
    """The plugin installed in this process too (for loading what the `mvl` subprocesses wrote)."""
    monkeypatch.syspath_prepend(str(plugin))
    registry.installed_formats.cache_clear()
    yield
    registry.installed_formats.cache_clear()
    sys.modules.pop("mvltestplugin", None)


def mvl(plugin, *args, env=None):
    environment = {**os.environ, "PYTHONPATH": str(plugin), **(env or {})}
    return subprocess.run(
        [str(MVL), *map(str, args)], capture_output=True, text=True, timeout=300, env=environment, check=False
    )


def write_mvltest(path, data, matrix, system):
    meta = {"shape": list(data.shape), "dtype": data.dtype.str, "matrix": np.asarray(matrix).tolist(), "system": system}
    path.write_bytes(MAGIC + json.dumps(meta).encode() + b"\n" + data.tobytes())


def meta_of(path):
    return json.loads(path.read_bytes()[len(MAGIC) :].partition(b"\n")[0])


def test_info_and_convert_read_and_write_the_format(plugin, installed, tmp_path):
    written = tmp_path / "t1.mvltest"
    result = mvl(plugin, "convert", NIFTI, written)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"wrote {written} (mvltest, in source voxel order)")
    misnamed = tmp_path / "t1.bin"
    misnamed.write_bytes(written.read_bytes())
    result = mvl(plugin, "info", misnamed, "--system", "LPS", "--json")
    assert result.returncode == 0, result.stderr
    info = json.loads(result.stdout)
    reference = json.loads(mvl(plugin, "info", NIFTI, "--system", "LPS", "--json").stdout)
    assert info == {**reference, "path": str(misnamed), "format": "mvltest", "memory_mapped": False}
    back = tmp_path / "back.nii.gz"
    assert mvl(plugin, "convert", misnamed, back, "--aligned", "--system", "LPS").returncode == 0
    original = mvloader.load(NIFTI, system="LPS")
    np.testing.assert_array_equal(mvloader.load(back, system="LPS").src_data, original.aligned_data)
    assert ".mvltest" in mvl(plugin, "convert", "--help").stdout


def test_batch_discovers_the_format_and_writes_it(plugin, installed, tmp_path):
    root = tmp_path / "export"
    (root / "scans").mkdir(parents=True)
    data = np.arange(60, dtype=np.int16).reshape(3, 4, 5)
    write_mvltest(root / "scans" / "a.mvltest", data, sample_transformation(), "LPS")
    write_mvltest(root / "scans" / "b.dat", data + 1, np.eye(4), "RAS")  # found by its content
    (root / "scans" / "t1.nii.gz").write_bytes(NIFTI.read_bytes())
    assert "mvltest" in mvl(plugin, "batch", "--help").stdout
    out = tmp_path / "out"
    result = mvl(plugin, "batch", root, out, "--to", "mvltest", "--jobs", "1", "--system", "LPS")
    assert result.returncode == 0, result.stderr
    records = read_records(out)
    assert sorted(records) == ["mvltest:scans/a.mvltest", "mvltest:scans/b.dat", "nifti:scans/t1.nii.gz"]
    assert records["mvltest:scans/a.mvltest"].output == "scans/a.mvltest"  # its own ending, replaced
    for record in records.values():
        assert record.status == "done" and record.output.endswith(".mvltest")
        source = mvloader.load(root / record.source, system="LPS")
        written = mvloader.load(out / record.output, system="LPS")
        assert_same_image(source, written.src_data, written.src_transformation, written.src_system)
        assert meta_of(out / record.output)["threads"] == 1  # `--jobs 1`: the whole budget, passed explicitly


def test_batch_hands_the_thread_budget_to_savers_that_take_it(plugin, tmp_path):
    user = {"MVL_GZIP_THREADS": "7"}
    for inputs, threads in ((["a"], 2), (["a", "b"], 1)):  # `--jobs 2`: one input gets both CPUs
        root = tmp_path / f"export-{len(inputs)}"
        root.mkdir()
        for name in inputs:
            write_mvltest(root / f"{name}.mvltest", np.zeros((2, 3, 4), np.uint8), np.eye(4), "RAS")
        out = tmp_path / f"out-{len(inputs)}"
        result = mvl(plugin, "batch", root, out, "--to", "mvltest", "--jobs", 2, env=user)
        assert result.returncode == 0, result.stderr
        metas = [meta_of(out / f"{name}.mvltest") for name in inputs]
        # The budget is an argument: the user's variable is neither what counts nor overwritten.
        assert [(meta["threads"], meta["environment"]) for meta in metas] == [(threads, "7")] * len(inputs)


def test_a_known_format_that_is_not_installed_names_its_install(tmp_path, monkeypatch, capsys):
    def signature(head):
        return head.stored.startswith(MAGIC)

    hint = registry.KnownFormat("mvltest", "MVLTEST", "mvltest", signature, (".mvltest",), (".mvltest",))
    monkeypatch.setattr(registry, "KNOWN_FORMATS", (*registry.KNOWN_FORMATS, hint))  # its row in the one table
    assert "mvltest" not in registry.installed_formats()
    data = tmp_path / "scan.bin"
    write_mvltest(data, np.zeros((2, 2, 2), np.uint8), np.eye(4), "RAS")
    expected = r'this is MVLTEST data, but no mvltest reader is installed; pip install "mvloader\[mvltest\]"'
    with pytest.raises(MissingDependencyError, match=expected):
        mvloader.load(data)  # by its content
    with pytest.raises(MissingDependencyError, match=r'pip install "mvloader\[mvltest\]"'):
        mvloader.save(tmp_path / "out.mvltest", Volume(np.zeros((2, 2, 2)), np.eye(4), "RAS"))
    assert cli.main(["info", str(data)]) == 1
    assert cli.main(["convert", str(NIFTI), str(tmp_path / "out.mvltest")]) == 1
    errors = capsys.readouterr().err.splitlines()
    assert len(errors) == 2 and all('pip install "mvloader[mvltest]"' in line for line in errors)
    (tmp_path / "root").mkdir()
    with pytest.raises(MissingDependencyError, match=r'pip install "mvloader\[mvltest\]"'):
        convert_tree(tmp_path / "root", tmp_path / "out", to="mvltest")
    assert not (tmp_path / "out" / "manifest.jsonl").exists()
