"""Batch conversion of a generated tree: manifest, geometry, resume, interruption, Dask."""

import gc
import json
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import nibabel as nib
import nrrd
import numpy as np
import pytest

import mvloader
from mvl.coords import FormatWarning, SecurityError, change_system
from mvl.coords.testing import assert_same_image, sample_transformation
from mvl.dicom.testing import oblique_transformation, write_series
from mvloader import registry
from mvloader.batch import convert_tree
from mvloader.batch.discovery import discover
from mvloader.batch.manifest import read_records
from mvloader.batch.naming import dicom_output_name, inside, sanitise
from mvloader.batch.runner import _LocalPool

MVL = Path(sys.executable).with_name("mvl")
# The tree holds a deliberately truncated file; listing it warns (asserted in the first test).
pytestmark = pytest.mark.filterwarnings("ignore:.*skipped 1 unreadable DICOM file")


def labelled(patient, study, description, number):
    def edit(dataset, index):
        dataset.PatientID = patient
        dataset.StudyDescription = study
        dataset.SeriesDescription = description
        dataset.SeriesNumber = number

    return edit


def make_tree(root: Path) -> dict[str, str]:
    """A small PACS-like export; returns the expected status of each input by source."""
    write_series(root / "P1" / "s1" / "axial", shape=(8, 7, 6), edit=labelled("P1", "Head", "axial", 2), seed=1)
    write_series(
        root / "P1" / "s1" / "oblique",
        transformation=oblique_transformation(),
        shape=(6, 8, 5),
        edit=labelled("P1", "Head", "oblique", 3),
        seed=2,
    )
    gap = write_series(root / "P2" / "s2" / "gap", shape=(6, 6, 7), edit=labelled("P2", "Chest", "gap", 4), seed=3)
    next(iter(sorted(gap.iterdir())[3:4])).unlink()  # one slice in the middle of the stack goes missing
    corrupt = write_series(root / "P2" / "s2" / "corrupt", shape=(6, 6, 4), edit=labelled("P2", "Chest", "bad", 5))
    victim = sorted(corrupt.iterdir())[1]
    victim.write_bytes(victim.read_bytes()[:300])  # truncated in its header
    zipped = write_series(root / "tmp-zip", shape=(5, 5, 3), edit=labelled("P3", "Knee", "zipped", 6), seed=4)
    with zipfile.ZipFile(root / "P3.zip", "w") as archive:
        for file in sorted(zipped.iterdir()):
            archive.write(file, f"export/{file.name}")
            file.unlink()
    zipped.rmdir()
    (root / "scans").mkdir()
    data = np.arange(4 * 5 * 6, dtype=np.int16).reshape(4, 5, 6)
    nib.save(nib.Nifti1Image(data, sample_transformation()), root / "scans" / "t1.nii.gz")
    lps = change_system(sample_transformation((0, 10, 0)), "RAS", "LPS")
    header = {"space": "left-posterior-superior", "space directions": lps[:3, :3].T, "space origin": lps[:3, 3]}
    nrrd.write(str(root / "scans" / "t2.nrrd"), data.astype(np.float32), header)
    (root / "notes.txt").write_text("not an image")
    return {"gap": "failed", "corrupt": "failed", "axial": "done", "oblique": "done", "P3.zip": "done"}


@pytest.fixture
def tree(tmp_path):
    root = tmp_path / "export"
    expected = make_tree(root)
    return root, expected


def status_by_input(records):
    result = {}
    for record in records:
        name = Path(record.source).name if record.source.endswith(".zip") else Path(record.source).parent.name
        result[name if record.series_uid else Path(record.source).name] = record.status
    return result


def test_manifest_is_complete_and_outputs_keep_their_geometry(tree, tmp_path):
    root, expected = tree
    out = tmp_path / "out"
    seen = []
    with pytest.warns(FormatWarning, match=r"skipped 1 unreadable DICOM file\(s\): P2/s2/corrupt/"):
        result = convert_tree(root, out, system="LPS", jobs=1, progress=lambda *counts: seen.append(counts))
    statuses = status_by_input(result.records)
    assert statuses == {**expected, "t1.nii.gz": "done", "t2.nrrd": "done"}
    assert (result.converted, result.skipped, result.failed) == (5, 0, 2)
    assert not result.ok
    assert seen[0] == (0, 7, 0) and seen[-1] == (7, 7, 2)
    failed = {Path(r.source).parent.name: r.error for r in result.records if r.status == "failed"}
    assert "missing slice" in failed["gap"] or "spacing" in failed["gap"]
    assert failed["corrupt"]
    for record in result.records:
        if record.status != "done":
            continue
        source = root / record.source
        options = {"series_uid": record.series_uid} if record.series_uid else {}
        original = mvloader.load(source, system="LPS", **options)
        written = mvloader.load(out / record.output, system="LPS")
        np.testing.assert_array_equal(written.src_data, original.aligned_data)
        assert_same_image(original, written.src_data, written.src_transformation, written.src_system, atol=1e-3)
        assert record.shape == list(original.aligned_data.shape)
        assert record.output_bytes == (out / record.output).stat().st_size
    lines = (out / "manifest.jsonl").read_text().splitlines()
    assert len(lines) == 7 and all(json.loads(line)["system"] == "LPS" for line in lines)
    csv_rows = (out / "manifest.csv").read_text().splitlines()
    assert len(csv_rows) == 8 and csv_rows[0].startswith("key,source,series_uid,output,status")


def test_names_are_patient_study_series_and_stay_inside(tree, tmp_path):
    root, _ = tree
    records = convert_tree(root, tmp_path / "out", jobs=1).records
    outputs = sorted(record.output for record in records)
    assert "P1/Head/002_axial.nii.gz" in outputs  # readable: no hash where names do not collide
    assert "P3/Knee/006_zipped.nii.gz" in outputs
    assert "scans/t1.nii.gz" in outputs and "scans/t2.nii.gz" in outputs
    assert len(set(outputs)) == len(outputs)
    assert sanitise("../../etc/passwd") == "etc_passwd"
    evil = dicom_output_name(
        patient_id="../../..",
        study_date="",
        study_description="/abs",
        study_uid="1",
        series_number="x",
        series_description="..",
        series_uid="2",
        suffix=".nrrd",
    )
    assert inside(tmp_path, evil).is_relative_to(tmp_path)
    with pytest.raises(SecurityError, match="would lie outside the output folder"):
        inside(tmp_path, "../escape.nii")


def test_a_name_template_names_the_series_and_an_unknown_placeholder_is_refused_first(tree, tmp_path):
    root, _ = tree
    records = convert_tree(root, tmp_path / "out", jobs=1, names="{series_number}_{modality}/{patient_id}").records
    outputs = {record.output for record in records}
    assert "002_CT/P1.nii.gz" in outputs and "scans/t1.nii.gz" in outputs  # files keep their own path
    with pytest.raises(ValueError, match=r"unknown placeholder \{series\} .*use \{patient_id\}"):
        convert_tree(root, tmp_path / "never", names="{series}")
    assert not (tmp_path / "never").exists()
    refused = subprocess.run(
        [sys.executable, "-m", "mvloader", "batch", str(root), str(tmp_path / "cli"), "--names", "{nope}"],
        capture_output=True,
        text=True,
    )
    assert refused.returncode == 2 and "unknown placeholder {nope}" in refused.stderr


def discover_on_a_pool(root, caplog, **options):
    """`discover` with its parts surveyed by two worker processes; asserts that they were."""
    with ProcessPoolExecutor(2) as pool, caplog.at_level(logging.DEBUG, logger="mvloader.batch.discovery"):
        items = discover(root, ".nii.gz", executor=pool, **options)
    return items, [record.getMessage() for record in caplog.records if "surveying it at once" in record.getMessage()]


def test_surveying_in_parts_on_workers_finds_the_same_and_relays_warnings(tree, tmp_path, caplog):
    root, _ = tree
    at_once = discover(root, ".nii.gz")
    with pytest.warns(FormatWarning, match=r"corrupt: skipped 1 unreadable DICOM file\(s\): IM"):
        in_parts, fallbacks = discover_on_a_pool(root, caplog)
    assert not fallbacks
    assert in_parts == at_once
    assert len(in_parts) == 7


def test_a_series_split_across_parts_is_surveyed_at_once(tmp_path, caplog):
    root = tmp_path / "export"
    first = write_series(root / "A" / "ct", shape=(6, 5, 8), edit=labelled("P9", "Abdomen", "split", 7), seed=5)
    (root / "B" / "ct").mkdir(parents=True)
    for file in sorted(first.iterdir())[4:]:  # the second half of the slices lies in another folder
        file.rename(root / "B" / "ct" / file.name)
    write_series(root / "C" / "mr", shape=(4, 4, 3), modality="MR", edit=labelled("P9", "Abdomen", "other", 8))
    in_parts, fallbacks = discover_on_a_pool(root, caplog)
    assert fallbacks, "the split series must send the tree to one survey"
    assert in_parts == discover(root, ".nii.gz")
    split = next(item for item in in_parts if "split" in item.output)
    assert (split.source, split.recursive) == (".", True)
    result = convert_tree(root, tmp_path / "out", jobs=2)
    assert result.ok and sorted(tuple(record.shape) for record in result.records) == [(4, 4, 3), (6, 5, 8)]


def test_workers_leave_what_they_inherit_out_of_garbage_collection(tmp_path):
    # A collection in a forked worker would write to (and so copy) every object inherited from the parent.
    with _LocalPool(2, tmp_path / "x.nii.gz") as pool:
        executor = pool.executor()
        assert executor is not None
        assert executor.submit(gc.get_freeze_count).result() > 1000
    with _LocalPool(1, tmp_path / "x.nii.gz") as pool:
        assert pool.executor() is None  # one CPU: no worker processes at all


def test_outputs_that_would_share_a_name_get_distinct_ones(tree, tmp_path):
    root, _ = tree
    shutil.copy(root / "scans" / "t2.nrrd", root / "scans" / "t1.nrrd")  # t1.nii.gz and t1.nrrd -> t1.nii.gz
    with zipfile.ZipFile(root / "copy.zip", "w") as archive:  # the axial series once more, in an archive
        for file in sorted((root / "P1" / "s1" / "axial").iterdir()):
            archive.write(file, file.name)
    records = convert_tree(root, tmp_path / "out", jobs=2).records
    outputs = [record.output for record in records]
    assert len(outputs) == 9 and len({name.casefold() for name in outputs}) == 9
    by_source = {record.source: record.output for record in records}
    assert by_source["scans/t1.nii.gz"] == "scans/t1.nii.gz"  # the key sorting first keeps the plain name
    assert re.fullmatch(r"scans/t1_[0-9a-f]{8}\.nii\.gz", by_source["scans/t1.nrrd"])
    axial = sorted(record.output for record in records if "_axial" in record.output and record.status == "done")
    assert len(axial) == 2 and re.fullmatch(r"P1/Head/002_axial_[0-9a-f]{8}\.nii\.gz", axial[1]), axial
    assert convert_tree(root, tmp_path / "out", jobs=1).converted == 0  # the names are stable across runs


@pytest.mark.parametrize("jobs", [1, 2])
def test_an_unreadable_or_refused_archive_is_a_failed_input_not_a_stopped_batch(tmp_path, jobs):
    root = tmp_path / "export"
    write_series(root / "good", shape=(4, 4, 3))
    (root / "broken.zip").write_bytes(b"PK\x03\x04" + bytes(40))  # zip magic, nothing readable after it
    with zipfile.ZipFile(root / "evil.zip", "w") as archive:
        archive.writestr("../../escape.dcm", bytes(200))
    result = convert_tree(root, tmp_path / "out", jobs=jobs)
    assert (result.converted, result.failed) == (1, 2)
    errors = {record.source: record.error for record in result.records if record.status == "failed"}
    assert re.search(r"broken\.zip: is not a readable zip archive", errors["broken.zip"])
    assert errors["evil.zip"].startswith("SecurityError") and "climbs out of the archive" in errors["evil.zip"]
    assert not (tmp_path / "out" / "broken.zip.nii.gz").exists()


def test_without_mvl_dicom_archives_and_series_are_left_alone(tree, monkeypatch):
    root, _ = tree
    installed = registry.installed_formats()
    monkeypatch.setattr(registry, "installed_formats", lambda: {k: v for k, v in installed.items() if k != "dicom"})
    assert [item.source for item in discover(root, ".nii.gz")] == ["scans/t1.nii.gz", "scans/t2.nrrd"]


def test_second_run_converts_nothing_and_retries_failures(tree, tmp_path):
    root, _ = tree
    out = tmp_path / "out"
    first = convert_tree(root, out, jobs=2)
    before = {path: path.stat().st_mtime_ns for path in out.rglob("*.nii.gz")}
    second = convert_tree(root, out, jobs=2)
    assert (second.converted, second.skipped, second.failed) == (0, 5, 2)
    assert {path: path.stat().st_mtime_ns for path in out.rglob("*.nii.gz")} == before
    assert [r.key for r in second.records] == [r.key for r in first.records]
    # A deleted or truncated output is redone; the rest is still skipped.
    done = [r for r in first.records if r.status == "done"]
    (out / done[0].output).unlink()
    with open(out / done[1].output, "r+b") as stream:
        stream.truncate(10)
    third = convert_tree(root, out, jobs=1)
    assert (third.converted, third.skipped) == (2, 3)


SLOW_PLUGIN = """
import os, time
from pathlib import Path
from mvl.coords.formats import Format

def sniff(path):
    with open(path, "rb") as stream:
        return stream.read(8) == b"SLOWFMT\\n"

def load(path, *, system="RAS"):
    marker = Path(os.environ["SLOW_MARKER"])
    if not marker.exists():  # the first run: as if half-way through saving, announce this worker, hang
        partial = Path(os.environ["SLOW_PARTIAL"])
        partial.parent.mkdir(parents=True, exist_ok=True)
        partial.write_bytes(b"half a file")
        marker.write_text(str(os.getpid()))
        time.sleep(120)
    import mvloader
    return mvloader.load(Path(path).with_name("t1.nii.gz"), system=system)

FORMAT = Format("slowfmt", "a deliberately slow test format", (".slow",), sniff, "slowplugin:load")
"""


def install_plugin(folder: Path, module: str, name: str, source: str) -> Path:
    """The format plugin `module`, registered as format `name`, in `folder` (for PYTHONPATH)."""
    folder.mkdir()
    (folder / f"{module}.py").write_text(source)
    info = folder / f"{module}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {module}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[mvl.formats]\n{name} = {module}:FORMAT\n")
    return folder


def assert_same_outputs(records, folder, reference):
    """Same voxels and matrices (the gzip framing may differ with the number of threads)."""
    for record in records:
        if record.status == "done":
            got, want = mvloader.load(folder / record.output), mvloader.load(reference / record.output)
            np.testing.assert_array_equal(got.src_data, want.src_data)
            np.testing.assert_array_equal(got.src_transformation, want.src_transformation)


def comparable(records):
    return {(r.key, r.status, r.output, tuple(r.shape)) for r in records.values()}


def test_killed_worker_then_resume_reaches_the_same_final_state(tree, tmp_path):
    root, _ = tree
    (root / "scans" / "stuck.slow").write_bytes(b"SLOWFMT\n")
    plugin = install_plugin(tmp_path / "plugin", "slowplugin", "slowfmt", SLOW_PLUGIN)
    marker = tmp_path / "slow-worker.pid"
    out = tmp_path / "out"
    partial = out / "scans" / ".stuck.nii.gz.x1y2z3.partial"  # what a worker killed mid-save leaves
    env = {**os.environ, "PYTHONPATH": str(plugin), "SLOW_MARKER": str(marker), "SLOW_PARTIAL": str(partial)}
    batch = subprocess.Popen([str(MVL), "batch", root, out, "--jobs", "2", "--quiet"], env=env, text=True)
    deadline = time.monotonic() + 60
    while not marker.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert marker.exists(), "the slow worker never started"
    os.kill(int(marker.read_text()), signal.SIGKILL)  # a worker dies mid-batch
    assert batch.wait(timeout=120) == 1
    interrupted = read_records(out)
    assert interrupted["slowfmt:scans/stuck.slow"].status == "failed"
    assert "worker lost" in interrupted["slowfmt:scans/stuck.slow"].error
    assert not list(out.rglob("*.partial")), "a worker's half-written file outlived the run"

    resumed = subprocess.run([str(MVL), "batch", root, out, "--jobs", "2", "--quiet"], env=env, check=False)
    assert resumed.returncode == 1  # the gap and the corrupt series still fail, as they should
    clean = tmp_path / "clean"
    subprocess.run([str(MVL), "batch", root, clean, "--jobs", "1", "--quiet"], env=env, check=False)
    assert comparable(read_records(out)) == comparable(read_records(clean))
    assert_same_outputs(read_records(clean).values(), out, clean)


DYING_PLUGIN = """
import os
from pathlib import Path
from mvl.coords.formats import Format

def sniff(path):
    marker = Path(os.environ["DYING_MARKER"])
    if os.getpid() != int(os.environ["DYING_PARENT"]) and not marker.exists():
        marker.write_text(str(os.getpid()))
        os._exit(9)  # a worker dies while it surveys its part of the tree
    return False

FORMAT = Format("dying", "kills the first worker that looks at a file", (".dying",), sniff, "dyingplugin:load")
"""


def test_a_worker_lost_while_surveying_does_not_lose_the_batch(tree, tmp_path):
    root, _ = tree
    plugin = tmp_path / "plugin"
    plugin.mkdir()
    (plugin / "dyingplugin.py").write_text(DYING_PLUGIN)
    info = plugin / "dyingplugin-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: dyingplugin\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[mvl.formats]\ndying = dyingplugin:FORMAT\n")
    marker = tmp_path / "died"
    script = (
        "import os, sys; os.environ['DYING_PARENT'] = str(os.getpid()); from mvloader.cli import main; sys.exit(main())"
    )
    env = {**os.environ, "PYTHONPATH": str(plugin), "DYING_MARKER": str(marker)}
    out = tmp_path / "out"
    batch = subprocess.run(
        [sys.executable, "-c", script, "batch", str(root), str(out), "--jobs", "2", "--quiet"], env=env, check=False
    )
    assert marker.exists(), "no worker died: the test did not test anything"
    assert batch.returncode == 1  # the gap and the corrupt series fail, as they should; nothing else
    clean = tmp_path / "clean"
    subprocess.run([str(MVL), "batch", root, clean, "--jobs", "1", "--quiet"], check=False)
    assert comparable(read_records(out)) == comparable(read_records(clean))


def test_dask_cluster_gives_the_same_manifest(tree, tmp_path):
    import distributed

    root, _ = tree
    with distributed.LocalCluster(
        n_workers=2, processes=True, threads_per_worker=1, host="127.0.0.1", dashboard_address=None
    ) as cluster:
        on_dask = convert_tree(root, tmp_path / "dask", scheduler=cluster.scheduler_address)
    local = convert_tree(root, tmp_path / "local", jobs=1)
    assert {(r.key, r.status, r.output, tuple(r.shape)) for r in on_dask.records} == {
        (r.key, r.status, r.output, tuple(r.shape)) for r in local.records
    }
    assert_same_outputs(local.records, tmp_path / "dask", tmp_path / "local")


def test_cli_summary_and_exit_code(tree, tmp_path):
    root, _ = tree
    result = subprocess.run(
        [str(MVL), "batch", root, tmp_path / "out", "--to", "nrrd", "--jobs", "1"], capture_output=True, text=True
    )
    assert result.returncode == 1
    assert "7 inputs: 5 converted, 0 already done, 2 failed" in result.stdout
    assert result.stdout.count("  failed: ") == 2
    assert len(list((tmp_path / "out").rglob("*.nrrd"))) == 5


def test_bad_arguments(tmp_path):
    with pytest.raises(OSError, match="the batch root must be a folder"):
        convert_tree(tmp_path / "missing", tmp_path / "out")
    with pytest.raises(OSError, match="cannot convert to 'png'"):
        convert_tree(tmp_path, tmp_path / "out", to="png")


def test_scheduler_without_dask_names_the_install(tree, tmp_path, monkeypatch):
    root, _ = tree
    monkeypatch.setitem(sys.modules, "distributed", None)  # as if not installed
    with pytest.raises(ImportError, match=r'needs dask.distributed: pip install "mvloader\[dask\]"'):
        convert_tree(root, tmp_path / "out", scheduler="tcp://127.0.0.1:1")


def test_pairs_and_detached_data_files_are_one_input_each(tmp_path):
    # Regression: the .img.gz of a pair and the .raw.gz of a detached NRRD were taken for
    # archives (failed DICOM inputs), and a .hdr.gz kept its ending in the output name.
    root = tmp_path / "export"
    root.mkdir()
    volume = mvloader.Volume(np.arange(60, dtype=np.int16).reshape(3, 4, 5), sample_transformation(), "RAS")
    for name in ("pair.hdr.gz", "plain.hdr", "detached.nhdr"):
        mvloader.save(root / name, volume)
    found = {item.key: item.output for item in discover(root, ".nii.gz")}
    assert found == {
        "nifti:pair.hdr.gz": "pair.nii.gz",
        "nifti:plain.hdr": "plain.nii.gz",
        "nrrd:detached.nhdr": "detached.nii.gz",
    }
    result = convert_tree(root, tmp_path / "out", jobs=1)
    assert result.ok and result.converted == 3


def test_batch_passes_what_each_format_declares(tree, tmp_path, monkeypatch):
    # NRRD states its world system and takes a thread budget; options follow the records, not names.
    import mvl.nrrd.writer

    seen = []
    real = mvl.nrrd.writer.save_volume

    def recording(path, volume, **options):
        seen.append(options)
        real(path, volume, **options)

    monkeypatch.setattr(mvl.nrrd.writer, "save_volume", recording)
    root, _ = tree
    result = convert_tree(root, tmp_path / "out", to="nhdr", system="LPI", jobs=1)
    assert result.converted == 5 and seen == [{"src_order": False, "src_system": False, "threads": 1}] * 5
    written = next(record for record in result.records if record.source == "scans/t2.nrrd")
    assert mvloader.load(tmp_path / "out" / written.output).src_system == "RAS"  # LPI is stated as RAS+
    assert "MVL_GZIP_THREADS" not in os.environ


def test_output_endings_are_those_the_installed_formats_save(tmp_path):
    with pytest.raises(OSError, match=r"cannot convert to 'png'; choose one of .*nii.gz, nii, .*nrrd, nhdr"):
        convert_tree(tmp_path, tmp_path / "out", to="png")
