import bz2
import gzip
import os
import re

import nrrd
import numpy as np
import pytest

from mvl.coords import DataError, FormatWarning, GeometryError, SaveError, Volume
from mvl.coords.testing import GzipThreads, WriterConformance, assert_same_image, sample_transformation
from mvl.nrrd import open_image, save_image, save_volume
from mvl.nrrd.writer import DATA_SUFFIXES


class TestNrrdWriter(WriterConformance):
    suffixes = (".nrrd", ".nhdr")
    dtypes = (np.uint8, np.int8, np.int16, np.uint16, np.int32, np.uint32, np.int64, np.uint64, np.float32, np.float64)

    def open(self, path, system):
        return open_image(path, system=system)

    def save_volume(self, path, volume, src_order):
        save_volume(path, volume, src_order)


class TestRawNrrdWriter(TestNrrdWriter):
    def save_volume(self, path, volume, src_order):
        save_volume(path, volume, src_order, encoding="raw")


class TestBzip2NrrdWriter(TestNrrdWriter):
    suffixes = (".nrrd",)

    def save_volume(self, path, volume, src_order):
        save_volume(path, volume, src_order, encoding="bzip2")


DATA = np.arange(5 * 6 * 7, dtype=np.int16).reshape(5, 6, 7)
MATRIX = sample_transformation()


def header_of(path):
    return nrrd.read_header(str(path))


def test_original_positional_calls_keep_working(tmp_path):
    save_image(tmp_path / "a.nrrd", DATA, MATRIX, "LPS", "domain")
    save_volume(tmp_path / "b.nrrd", Volume(DATA, MATRIX, "LPS"), False, False, ["domain"] * 3)
    assert header_of(tmp_path / "a.nrrd")["kinds"] == ["domain"] * 3
    assert_same_image(open_image(tmp_path / "b.nrrd"), DATA, MATRIX, "LPS")


# LAS+ is written as RAS+: ITK misread LAS NRRD files until 2025 (InsightSoftwareConsortium/ITK#5207).
@pytest.mark.parametrize(("system", "written"), [("RAS", "RAS"), ("LAS", "RAS"), ("LPS", "LPS"), ("IAR", "RAS")])
def test_nrrd_systems_are_kept_others_become_ras(tmp_path, system, written):
    path = tmp_path / "x.nrrd"
    save_image(path, DATA, MATRIX, system)
    header = header_of(path)
    names = {"RAS": "right-anterior-superior", "LAS": "left-anterior-superior", "LPS": "left-posterior-superior"}
    assert header["space"] == names[written]
    volume = open_image(path)
    assert volume.src_system == written
    assert_same_image(volume, DATA, MATRIX, system)  # the same world positions whatever was written


def test_save_volume_chooses_src_or_user_system(tmp_path):
    volume = Volume(DATA, MATRIX, "LPS", system="LAS")
    save_volume(tmp_path / "src.nrrd", volume)
    save_volume(tmp_path / "user.nrrd", volume, src_system=False)
    volume.system = "PIR"
    save_volume(tmp_path / "exotic.nrrd", volume, src_order=False, src_system=False)
    for name, expected in [("src", "LPS"), ("user", "RAS"), ("exotic", "RAS")]:
        loaded = open_image(tmp_path / f"{name}.nrrd")
        assert loaded.src_system == expected
        assert_same_image(loaded, DATA, MATRIX, "LPS")


def test_src_order_false_writes_aligned_voxels(tmp_path):
    volume = Volume(DATA, MATRIX, "LPS", system="IAR")
    save_volume(tmp_path / "x.nrrd", volume, src_order=False)
    loaded = open_image(tmp_path / "x.nrrd", system="IAR")
    np.testing.assert_array_equal(loaded.src_data, volume.aligned_data)
    np.testing.assert_allclose(loaded.get_src_transformation("IAR"), volume.aligned_transformation)


@pytest.mark.parametrize("encoding", ["gzip", "raw", "bzip2"])
def test_detached_pairs(tmp_path, encoding):
    path = tmp_path / "scan.nhdr"
    save_image(path, DATA, MATRIX, encoding=encoding)
    data_file = tmp_path / f"scan{DATA_SUFFIXES[encoding]}"
    assert sorted(os.listdir(tmp_path)) == sorted(["scan.nhdr", data_file.name])
    assert header_of(path)["data file"] == data_file.name
    raw = data_file.read_bytes()
    decoded = {"gzip": gzip.decompress, "bzip2": bz2.decompress, "raw": bytes}[encoding](raw)
    assert decoded == DATA.tobytes(order="F")
    volume = open_image(path)
    assert volume.src_object.data_path == data_file
    assert_same_image(volume, DATA, MATRIX, "RAS")


def test_gzip_is_the_default_and_raw_on_request(tmp_path):
    save_image(tmp_path / "g.nrrd", DATA, MATRIX)
    save_image(tmp_path / "r.nrrd", DATA, MATRIX, encoding="raw")
    assert header_of(tmp_path / "g.nrrd")["encoding"] == "gzip"
    assert header_of(tmp_path / "r.nrrd")["encoding"] == "raw"
    assert isinstance(open_image(tmp_path / "r.nrrd").src_data, np.memmap)


@pytest.mark.parametrize("backend", ["isal", "zlib-ng", "zlib"])
def test_every_gzip_backend_writes_standard_gzip(tmp_path, monkeypatch, backend):
    monkeypatch.setenv("MVL_GZIP_BACKEND", backend)
    save_image(tmp_path / "x.nrrd", DATA, MATRIX, compression_level=1)
    data, _ = nrrd.read(str(tmp_path / "x.nrrd"))
    np.testing.assert_array_equal(data, DATA)


def test_pynrrd_reads_what_we_write(tmp_path):
    series = np.stack([DATA, DATA + 1], axis=0).astype(np.float32)
    save_image(
        tmp_path / "x.nrrd",
        series,
        MATRIX,
        "LPS",
        ["vector", "domain", "domain", "domain"],
        spatial_dimensions=(1, 2, 3),
    )
    data, header = nrrd.read(str(tmp_path / "x.nrrd"))
    np.testing.assert_array_equal(data, series)
    assert header["kinds"] == ["vector", "domain", "domain", "domain"]
    assert np.isnan(header["space directions"][0]).all()
    np.testing.assert_allclose(header["space directions"][1:], MATRIX[:3, :3].T)


def test_data_types(tmp_path):
    cases = [
        (np.array([True, False]).repeat(12).reshape(2, 3, 4), "uint8", np.uint8),
        (np.zeros((2, 3, 4), np.float16), "float", np.float32),
        (np.zeros((2, 3, 4), ">i4"), "int32", np.dtype(">i4")),
    ]
    for data, type_name, loaded in cases:
        save_image(tmp_path / "x.nrrd", data, np.eye(4), encoding="raw")
        assert header_of(tmp_path / "x.nrrd")["type"] == type_name
        volume = open_image(tmp_path / "x.nrrd")
        assert volume.src_data.dtype == loaded
        np.testing.assert_array_equal(volume.src_data, data)
    assert header_of(tmp_path / "x.nrrd")["endian"] == "big"


@pytest.mark.parametrize("dtype", [np.complex64, np.float128, "U3", object])
def test_unsavable_types(tmp_path, dtype):
    target = tmp_path / "x.nrrd"
    with pytest.raises(SaveError, match=re.escape(f"{target}: cannot save")):
        save_image(target, np.zeros((2, 3, 4), dtype), np.eye(4))
    assert not os.listdir(tmp_path)


def test_bad_arguments(tmp_path):
    target = tmp_path / "x.nrrd"
    with pytest.raises(DataError, match="data needs at least 3 dimensions"):
        save_image(target, np.zeros((2, 3)), np.eye(4))
    with pytest.raises(GeometryError, match=re.escape(f"{target}: transformation is singular")):
        save_image(target, DATA, [[1, 0, 1, 0], [0, 1, 1, 0], [0, 0, 0, 0], [0, 0, 0, 1]])
    with pytest.raises(
        GeometryError, match=re.escape(f"{target}: transformation is unusable: voxel axes [2] have zero length")
    ):
        save_image(target, DATA, np.diag([1, 1, 0, 1]))
    with pytest.raises(DataError, match="kinds needs 3 entries"):
        save_image(target, DATA, np.eye(4), kinds=["domain"])
    with pytest.raises(DataError, match="kind 'banana' of axis 0 is not an NRRD kind"):
        save_image(target, DATA, np.eye(4), kinds=["banana", "domain", "domain"])
    with pytest.raises(DataError, match="axis 0 is spatial, its kind must be 'domain' or 'space', not 'vector'"):
        save_image(target, DATA, np.eye(4), kinds=["vector", "domain", "domain"])
    with pytest.raises(DataError, match="axis 3 is not spatial, its kind cannot be 'space'"):
        save_image(target, DATA[..., None], np.eye(4), kinds=["space"] * 4)
    with pytest.raises(SaveError, match="unknown encoding 'zstd'"):
        save_image(target, DATA, np.eye(4), encoding="zstd")
    with pytest.raises(SaveError, match=r"cannot save an empty array \(shape \(0, 3, 4\)\)"):
        save_image(target, np.zeros((0, 3, 4)), np.eye(4))
    with pytest.raises(SaveError, match="a value must fit on one line"):
        save_image(target, DATA, np.eye(4), header={"note": "two\nlines"})
    with pytest.raises(SaveError, match="cannot be a header field name"):
        save_image(target, DATA, np.eye(4), header={"a:b": "x"})
    with pytest.raises(DataError, match="header field 'labels' needs 3 entries"):
        save_image(target, DATA, np.eye(4), header={"labels": ["x"]})
    assert not os.listdir(tmp_path)


def test_single_kind_applies_to_the_spatial_axes(tmp_path):
    save_image(tmp_path / "x.nrrd", DATA[None], np.eye(4), "RAS", "space", spatial_dimensions=(1, 2, 3))
    assert header_of(tmp_path / "x.nrrd")["kinds"] == ["list", "space", "space", "space"]


def test_failed_save_keeps_the_existing_pair(tmp_path, monkeypatch):
    path = tmp_path / "x.nhdr"
    save_image(path, DATA, MATRIX)
    before = {name: (tmp_path / name).read_bytes() for name in os.listdir(tmp_path)}

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr("mvl.nrrd.writer.write_gzip", broken)
    with pytest.raises(SaveError, match=re.escape(f"{path}: saving failed, nothing was written (OSError: disk full)")):
        save_image(path, DATA + 1, MATRIX)
    assert {name: (tmp_path / name).read_bytes() for name in os.listdir(tmp_path)} == before


def test_saving_over_the_memory_mapped_source(tmp_path):
    path = tmp_path / "x.nrrd"
    save_image(path, DATA, MATRIX, encoding="raw")
    volume = open_image(path)
    assert isinstance(volume.src_data, np.memmap)
    save_volume(path, volume, encoding="raw")
    assert_same_image(open_image(path), DATA, MATRIX, "RAS")


def loaded_with_fields(tmp_path):
    path = tmp_path / "source.nrrd"
    series = np.stack([DATA, DATA + 100, DATA + 200], axis=0)
    header = {
        "space": "left-posterior-superior",
        "space directions": np.vstack([np.full(3, np.nan), MATRIX[:3, :3].T]),
        "space origin": MATRIX[:3, 3],
        "kinds": ["3-vector", "domain", "domain", "domain"],
        "labels": ["vec", "x", "y", "z"],
        "units": ["mm/s", "mm", "mm", "mm"],
        "measurement frame": np.array([[1.0, 0, 0], [0, 0, 1], [0, -1, 0]]),
        "content": "velocity",
        "DWMRI_b-value": "1000",
        "my key": "my value",
    }
    nrrd.write(str(path), series, header)
    return path, series, header


def test_fields_survive_a_round_trip(tmp_path):
    path, series, header = loaded_with_fields(tmp_path)
    volume = open_image(path)
    save_volume(tmp_path / "copy.nrrd", volume)
    copied = header_of(tmp_path / "copy.nrrd")
    for name in ("kinds", "labels", "units", "content", "DWMRI_b-value", "my key", "space"):
        assert copied[name] == header[name], name
    np.testing.assert_array_equal(copied["measurement frame"], header["measurement frame"])
    text = (tmp_path / "copy.nrrd").read_bytes().split(b"\n\n")[0].decode()
    assert "my key:=my value" in text and "content: velocity" in text
    assert_same_image(open_image(tmp_path / "copy.nrrd"), series, MATRIX, "LPS", spatial_dimensions=(1, 2, 3))


def test_fields_follow_the_axes_and_the_system(tmp_path):
    path, series, header = loaded_with_fields(tmp_path)
    volume = open_image(path, system="RAS")
    save_volume(tmp_path / "aligned.nrrd", volume, src_order=False, src_system=False)
    copied = header_of(tmp_path / "aligned.nrrd")
    assert copied["space"] == "right-anterior-superior"
    assert copied["kinds"][3] == "3-vector" and copied["labels"][3] == "vec"
    order = [header["labels"].index(label) for label in copied["labels"]]
    assert sorted(order) == [0, 1, 2, 3] and order[3] == 0
    # The frame's vectors, now in RAS+ coordinates: x and y flip.
    np.testing.assert_array_equal(copied["measurement frame"], header["measurement frame"] @ np.diag([-1, -1, 1]))
    loaded = open_image(tmp_path / "aligned.nrrd")
    assert_same_image(loaded, series, MATRIX, "LPS", spatial_dimensions=(1, 2, 3))


def test_exotic_system_measurement_frame_goes_to_ras(tmp_path):
    frame = np.array([[0.0, 1, 0], [1, 0, 0], [0, 0, 1]])
    save_image(tmp_path / "x.nrrd", DATA, MATRIX, "SPL", header={"measurement frame": frame})
    copied = header_of(tmp_path / "x.nrrd")
    assert copied["space"] == "right-anterior-superior"
    # SPL -> RAS: R = -L (column 2), A = -P (column 1), S = column 0
    np.testing.assert_array_equal(copied["measurement frame"], frame @ np.array([[0, 0, 1], [0, -1, 0], [-1, 0, 0]]))


def test_per_axis_fields_of_another_shape_are_dropped_with_a_warning(tmp_path):
    path, series, _ = loaded_with_fields(tmp_path)
    volume = open_image(path)
    derived = Volume(series[1:], MATRIX, "LPS", (1, 2, 3), src_object=volume.src_object)
    with pytest.warns(FormatWarning, match=r"per-axis fields \['kinds', 'labels', 'units'\] are not saved"):
        save_volume(tmp_path / "derived.nrrd", derived)
    copied = header_of(tmp_path / "derived.nrrd")
    assert "labels" not in copied and copied["my key"] == "my value"
    assert copied["kinds"] == ["list", "domain", "domain", "domain"]


def test_header_argument_adds_and_replaces(tmp_path):
    path, _, _ = loaded_with_fields(tmp_path)
    volume = open_image(path)
    save_volume(tmp_path / "x.nrrd", volume, header={"my key": "new", "other": 1.5, "sizes": "ignored"})
    copied = header_of(tmp_path / "x.nrrd")
    assert copied["my key"] == "new" and copied["other"] == "1.5"
    assert list(copied["sizes"]) == [3, 5, 6, 7]


def test_header_of_nrrd_read_as_src_object(tmp_path):
    path, _, _ = loaded_with_fields(tmp_path)
    data, header = nrrd.read(str(path))
    volume = Volume(data, np.eye(4), "LPS", (1, 2, 3), src_object=(data, header))
    save_volume(tmp_path / "x.nrrd", volume)
    assert header_of(tmp_path / "x.nrrd")["labels"] == ["vec", "x", "y", "z"]


def test_save_into_missing_folder_names_the_header(tmp_path):
    target = tmp_path / "nope" / "x.nhdr"
    with pytest.raises(SaveError, match=re.escape(str(target)) + ".*does not exist"):
        save_image(target, DATA, MATRIX)


def test_space_units_follow_the_system_and_min_max_are_not_carried(tmp_path):
    header = {"space units": ["mm", "um", "cm"], "min": 0, "max": 1000, "old min": -5}
    save_image(tmp_path / "a.nrrd", DATA, MATRIX, "LPS", header=header)
    assert header_of(tmp_path / "a.nrrd")["min"] == 0  # given explicitly: written
    save_volume(tmp_path / "b.nrrd", open_image(tmp_path / "a.nrrd"), src_system=False)  # RAS; same axis order
    copied = header_of(tmp_path / "b.nrrd")
    assert copied["space units"] == ["mm", "um", "cm"]
    assert "min" not in copied and "max" not in copied and copied["old min"] == -5
    save_image(tmp_path / "c.nrrd", DATA, MATRIX, "RAS", header={"space units": ["mm", "um", "cm"]})
    volume = open_image(tmp_path / "c.nrrd")
    volume.system = "SPL"
    save_volume(tmp_path / "d.nrrd", volume, src_system=False)  # SPL is saved as RAS: units unchanged
    assert header_of(tmp_path / "d.nrrd")["space units"] == ["mm", "um", "cm"]


def test_time_space_source_saves_a_3d_space(tmp_path, make_nrrd):
    values = np.arange(2 * 3 * 4 * 2, dtype="<i2")
    path = make_nrrd(
        {
            "space": "left-posterior-superior-time",
            "dimension": "4",
            "sizes": "2 3 4 2",
            "space directions": "(1,0,0,0) (0,1,0,0) (0,0,1,0) (0,0,0,3)",
            "kinds": "domain domain domain time",
            "space origin": "(0,0,0,0)",
            "space units": '"mm" "mm" "mm" "s"',
            "measurement frame": "(1,0,0,0) (0,1,0,0) (0,0,1,0) (0,0,0,1)",
        },
        body=values.tobytes(),
    )
    volume = open_image(path)
    with pytest.warns(FormatWarning) as caught:
        save_volume(tmp_path / "x.nrrd", volume)
    assert sorted(str(warning.message).split(": ", 1)[1] for warning in caught) == [
        "header field 'measurement frame' does not fit a 3D space; not saved",
        "header field 'space units' does not fit a 3D space; not saved",
    ]
    copied = header_of(tmp_path / "x.nrrd")
    assert copied["space"] == "left-posterior-superior"
    assert copied["kinds"] == ["domain", "domain", "domain", "time"]
    assert "space units" not in copied and "measurement frame" not in copied
    np.testing.assert_array_equal(open_image(tmp_path / "x.nrrd").src_data, volume.src_data)


@pytest.mark.parametrize("suffix", [".nrrd", ".nhdr"])
def test_the_thread_budget_reaches_the_compressor(tmp_path, monkeypatch, suffix):
    recorder = GzipThreads()
    monkeypatch.setattr("mvl.nrrd.writer.write_gzip", recorder)
    save_volume(tmp_path / f"given{suffix}", Volume(DATA, MATRIX, "RAS"), threads=2)
    save_image(tmp_path / f"default{suffix}", DATA, MATRIX)
    assert recorder.seen == [2, None]  # None: write_gzip's own default
    assert_same_image(open_image(tmp_path / f"given{suffix}"), DATA, MATRIX, "RAS")
