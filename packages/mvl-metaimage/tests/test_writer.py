import os
import re
import zlib

import numpy as np
import pytest

from mvl.coords import DataError, SaveError, Volume
from mvl.coords.testing import WriterConformance, assert_same_image, sample_cases
from mvl.metaimage import open_image, save_image, save_volume
from mvl.metaimage.writer import format_number

CASES = list(sample_cases())


class TestMetaImageWriter(WriterConformance):
    suffixes = (".mha", ".mhd")
    dtypes = (np.uint8, np.int8, np.int16, np.uint16, np.int32, np.uint32, np.int64, np.uint64, np.float32, np.float64)

    def open(self, path, system):
        return open_image(path, system=system)

    def save_volume(self, path, volume, src_order):
        save_volume(path, volume, src_order=src_order)


class TestUncompressedWriter(TestMetaImageWriter):
    def save_volume(self, path, volume, src_order):
        save_volume(path, volume, src_order=src_order, compress=False)


def header_of(path):
    text = path.read_bytes()
    end = text.index(b"ElementDataFile")
    end = text.index(b"\n", end) + 1
    return text[:end].decode()


def test_header_is_written_as_itk_writes_it(tmp_path):
    _, data, matrix = CASES[1]
    save_image(tmp_path / "a.mha", data, matrix, "RAS", compress=False)
    names = [line.split(" = ")[0] for line in header_of(tmp_path / "a.mha").splitlines()]
    assert names == [
        "ObjectType", "NDims", "BinaryData", "BinaryDataByteOrderMSB", "CompressedData", "TransformMatrix",
        "Offset", "CenterOfRotation", "AnatomicalOrientation", "ElementSpacing", "DimSize", "ElementType",
        "ElementDataFile",
    ]  # fmt: skip
    header = header_of(tmp_path / "a.mha")
    assert "DimSize = 5 6 7\n" in header and "ElementType = MET_SHORT\n" in header
    assert "ElementDataFile = LOCAL\n" in header and "ElementSpacing = 0.9 0.8 2\n" in header


def test_compressed_data_size_is_the_stream_length(tmp_path):
    _, data, matrix = CASES[2]
    for name in ("z.mha", "z.mhd"):
        save_image(tmp_path / name, data, matrix, "RAS")
        size = int(re.search(r"CompressedDataSize = ([0-9]+) *\n", header_of(tmp_path / name))[1])
        stored = (
            (tmp_path / "z.zraw").read_bytes()
            if name == "z.mhd"
            else (tmp_path / name).read_bytes()[len(header_of(tmp_path / name).encode()) :]
        )
        assert len(stored) == size
        assert zlib.decompress(stored) == np.asarray(data, "<i2").tobytes("F")
    assert sorted(os.listdir(tmp_path)) == ["z.mha", "z.mhd", "z.zraw"]


def test_detached_pair_names_its_data_file(tmp_path):
    save_image(tmp_path / "pair.mhd", CASES[0][1], np.eye(4), compress=False)
    assert "ElementDataFile = pair.raw\n" in header_of(tmp_path / "pair.mhd")
    assert (tmp_path / "pair.raw").stat().st_size == CASES[0][1].nbytes


def test_any_system_is_saved_as_lps(tmp_path):
    _, data, matrix = CASES[2]
    for system in ("RAS", "IAR", "PSL"):
        from mvl.coords import change_system

        save_image(tmp_path / f"{system}.mha", data, change_system(matrix, "RAS", system), system)
        volume = open_image(tmp_path / f"{system}.mha")
        assert volume.src_system == "LPS"
        assert_same_image(volume, data, matrix, "RAS")


def test_channels_and_complex(tmp_path):
    _, data, matrix = CASES[0]
    vector = np.stack([data, -data], axis=-1)
    save_image(tmp_path / "v.mha", vector, matrix, "RAS", channels=True)
    volume = open_image(tmp_path / "v.mha")
    assert volume.src_object.header["ElementNumberOfChannels"] == "2" and volume.src_data.shape == (5, 6, 7, 2)
    assert_same_image(volume, vector, matrix, "RAS")
    save_volume(tmp_path / "again.mha", volume)  # channels kept by default
    assert open_image(tmp_path / "again.mha").src_object.header["NDims"] == "3"
    values = (data + 1j * data).astype(np.complex64)
    save_image(tmp_path / "c.mha", values, matrix, "RAS")
    loaded = open_image(tmp_path / "c.mha")
    assert loaded.src_object.header["ElementType"] == "MET_FLOAT"
    np.testing.assert_array_equal(loaded.src_data[..., 0] + 1j * loaded.src_data[..., 1], values)
    with pytest.raises(DataError, match="channels=True needs a last axis"):
        save_image(tmp_path / "bad.mha", data, matrix, channels=True)


def test_bool_and_float16_are_widened(tmp_path):
    _, data, matrix = CASES[0]
    save_image(tmp_path / "b.mha", data > 100, matrix)
    assert open_image(tmp_path / "b.mha").src_data.dtype == np.uint8
    save_image(tmp_path / "h.mha", data.astype(np.float16), matrix)
    assert open_image(tmp_path / "h.mha").src_data.dtype == np.float32


def test_big_endian_input_is_written_little_endian(tmp_path):
    _, data, matrix = CASES[0]
    save_image(tmp_path / "be.mha", data.astype(">i4"), matrix, compress=False)
    assert "BinaryDataByteOrderMSB = False\n" in header_of(tmp_path / "be.mha")
    np.testing.assert_array_equal(open_image(tmp_path / "be.mha").src_data, data)


def test_custom_fields_survive_a_round_trip(tmp_path, make_mha):
    path = make_mha({"Comment": "phantom", "Modality": "MET_MOD_CT", "AcquisitionDate": "20260101", "ElementMax": "23"})
    save_volume(tmp_path / "copy.mha", open_image(path), header={"Extra": 3})
    header = open_image(tmp_path / "copy.mha").src_object.header
    assert header["Modality"] == "MET_MOD_CT" and header["AcquisitionDate"] == "20260101" and header["Extra"] == "3"
    assert header["Comment"] == "phantom" and "ElementMax" not in header  # the values may have changed
    assert list(header)[-2:] == ["ElementType", "ElementDataFile"]


def test_header_fields_that_cannot_be_written(tmp_path):
    _, data, matrix = CASES[0]
    for fields in ({"Bad": "two\nlines"}, {"not a name": "x"}):
        with pytest.raises(SaveError, match="cannot write header field"):
            save_image(tmp_path / "x.mha", data, matrix, header=fields)
    assert os.listdir(tmp_path) == []


def test_generated_fields_in_header_are_ignored(tmp_path):
    _, data, matrix = CASES[0]
    save_image(tmp_path / "x.mha", data, matrix, header={"DimSize": "1 1 1", "ElementType": "MET_CHAR"})
    assert open_image(tmp_path / "x.mha").src_data.shape == (5, 6, 7)


def test_more_than_three_dimensions_in_aligned_order(tmp_path):
    _, data, matrix = CASES[2]
    series = np.stack([data, data + 1], axis=-1)
    volume = Volume(series, matrix, "RAS", system="SPL")
    save_volume(tmp_path / "s.mha", volume, src_order=False)
    loaded = open_image(tmp_path / "s.mha")
    assert loaded.src_object.header["NDims"] == "4"
    assert_same_image(loaded, series, matrix, "RAS")


def test_numbers_read_back_exactly():
    for value in (0.1, 1 / 3, 1e-300, -12.5, 2.0, 1e20):
        assert float(format_number(value)) == value
    assert format_number(-0.0) == "0"


def test_failed_compression_leaves_nothing(tmp_path, monkeypatch):
    import mvl.metaimage.writer as writer

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(writer, "write_zlib", broken)
    (tmp_path / "x.mha").write_bytes(b"precious")
    with pytest.raises(SaveError, match=r"x.mha: saving failed.*disk full"):
        save_image(tmp_path / "x.mha", CASES[0][1], np.eye(4))
    assert os.listdir(tmp_path) == ["x.mha"] and (tmp_path / "x.mha").read_bytes() == b"precious"


def test_threads_reach_the_zlib_writer(tmp_path, monkeypatch):
    import mvl.metaimage.writer as writer
    from mvl.coords.zlibstream import write_zlib

    seen = []

    def recording(stream, blocks, **options):
        seen.append(options.get("threads"))
        return write_zlib(stream, blocks, **options)

    monkeypatch.setattr(writer, "write_zlib", recording)
    _, data, matrix = CASES[0]
    save_volume(tmp_path / "a.mha", Volume(data, matrix, "RAS"), threads=2)
    save_image(tmp_path / "b.mhd", data, matrix, threads=1)
    save_image(tmp_path / "c.mha", data, matrix)
    assert seen == [2, 1, None]
    for name in ("a.mha", "b.mhd", "c.mha"):
        assert_same_image(open_image(tmp_path / name), data, matrix, "LPS" if name != "a.mha" else "RAS")
