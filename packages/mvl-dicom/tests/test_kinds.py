"""Kinds of images at the same positions (echoes, magnitude and phase, derived maps): each loads on its own.

Every ``select=`` a warning prints is fed back here: a hint that does not work is a bug.
"""

from __future__ import annotations

import ast
import re
import warnings

import numpy as np
import pytest

from mvl.coords import FormatWarning
from mvl.coords.testing import assert_same_image
from mvl.dicom import list_series, open_stack
from mvl.dicom.testing import oblique_transformation, write_series, write_volumes

MATRIX = oblique_transformation()
DATA = np.arange(4 * 5 * 6, dtype=np.int16).reshape(4, 5, 6)


def _two_kinds(folder, first, second, **options):
    """One series with two images at every position: the first written with `first`, the second with `second`."""
    uid, frame = "1.2.3.4", "1.2.3.5"
    for number, (edit, offset) in enumerate(((first, 0), (second, 1000))):
        write_series(
            folder,
            DATA + offset,
            MATRIX,
            series_uid=uid,
            frame_of_reference=frame,
            modality="MR",
            prefix=f"K{number}",
            seed=number,
            edit=edit,
            **options,
        )
    return folder


def _hints(message):
    """The ``select={...}`` dictionaries a warning prints, as Python values."""
    return [ast.literal_eval(text) for text in re.findall(r"select=(\{.*?\})", message)]


def _load_with_warning(folder, **options):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        volume = open_stack(folder, system="LPS", **options)
    messages = [str(warning.message) for warning in caught if issubclass(warning.category, FormatWarning)]
    return volume, messages


def _image_type(value):
    def edit(dataset, index):
        dataset.ImageType = value

    return edit


def test_echoes_load_the_first_and_name_the_select_of_the_other(tmp_path):
    def echo(number):
        def edit(dataset, index):
            dataset.EchoNumbers = number
            dataset.EchoTime = 5.0 * number

        return edit

    _two_kinds(tmp_path, echo(2), echo(1))  # echo 1 is written second: echo numbers decide, not file order
    volume, messages = _load_with_warning(tmp_path)
    assert_same_image(volume, DATA + 1000, MATRIX, "LPS")
    assert volume.src_object.kind == "echo 1"
    (message,) = messages
    assert "loaded echo 1 (6 images)" in message and "echo 2 (6 images)" in message
    (hint,) = _hints(message)
    assert hint == {"EchoNumbers": 2}
    assert_same_image(open_stack(tmp_path, select=hint, system="LPS"), DATA, MATRIX, "LPS")


def test_magnitude_and_phase_by_image_type_and_every_spelling_of_a_multi_valued_select(tmp_path):
    _two_kinds(
        tmp_path, _image_type(["ORIGINAL", "PRIMARY", "M", "ND"]), _image_type(["ORIGINAL", "PRIMARY", "P", "ND"])
    )
    volume, (message,) = _load_with_warning(tmp_path)
    assert volume.src_object.kind == "magnitude" and "phase (6 images)" in message
    (hint,) = _hints(message)
    assert hint == {"ImageType": "ORIGINAL\\PRIMARY\\P\\ND"}  # the joined form, as printed
    for spelling in (hint["ImageType"], ("ORIGINAL", "PRIMARY", "P", "ND"), ["ORIGINAL", "PRIMARY", "P", "ND"]):
        phase = open_stack(tmp_path, select={"ImageType": spelling}, system="LPS")
        assert_same_image(phase, DATA + 1000, MATRIX, "LPS")


def test_ge_private_image_type_splits_kinds_only_under_ge_s_private_creator(tmp_path):
    def ge(code, creator="GEMS_PARM_01"):
        def edit(dataset, index):
            dataset.add_new(0x00430010, "LO", creator)
            dataset.add_new(0x0043102F, "SS", code)
            dataset.InstanceNumber = 1  # nothing else tells the two apart

        return edit

    _two_kinds(tmp_path / "ge", ge(0), ge(1))
    volume, (message,) = _load_with_warning(tmp_path / "ge")
    assert volume.src_object.kind == "magnitude" and "phase (6 images): select={'(0043,102F)': 1}" in message
    (hint,) = _hints(message)
    assert_same_image(open_stack(tmp_path / "ge", select=hint, system="LPS"), DATA + 1000, MATRIX, "LPS")
    # the same element under another creator is not GE's image type: nothing tells the images apart
    _two_kinds(tmp_path / "other", ge(0, "SOMEONE ELSE"), ge(1, "SOMEONE ELSE"))
    with pytest.raises(Exception, match="could not be told apart"):
        open_stack(tmp_path / "other")


def test_a_derived_map_inside_a_diffusion_series_is_its_own_kind(tmp_path):
    uid, frame = "1.2.3.4", "1.2.3.5"
    four = np.stack([DATA + 100 * volume for volume in range(3)], axis=-1)

    def diffusion(dataset, index, volume):
        dataset.ImageType = ["ORIGINAL", "PRIMARY", "DIFFUSION", "NONE"]
        dataset.DiffusionBValue = [0.0, 1000.0, 1000.0][volume]

    write_volumes(tmp_path, four, MATRIX, series_uid=uid, frame_of_reference=frame, edit=diffusion)
    write_series(
        tmp_path,
        DATA + 5000,
        MATRIX,
        series_uid=uid,
        frame_of_reference=frame,
        modality="MR",
        prefix="ADC",
        edit=_image_type(["DERIVED", "PRIMARY", "DIFFUSION", "ADC"]),
    )
    volume, (message,) = _load_with_warning(tmp_path)
    assert volume.src_data.shape == (4, 5, 6, 3)
    assert volume.src_object.kind == "ImageType ORIGINAL\\PRIMARY\\DIFFUSION\\NONE"
    (hint,) = _hints(message)
    assert_same_image(open_stack(tmp_path, select=hint, system="LPS"), DATA + 5000, MATRIX, "LPS")


def test_the_file_given_chooses_its_kind(tmp_path):
    _two_kinds(tmp_path, _image_type(["ORIGINAL", "PRIMARY", "M"]), _image_type(["ORIGINAL", "PRIMARY", "P"]))
    phase_file = sorted(tmp_path.glob("K1*"))[0]
    volume, (message,) = _load_with_warning(phase_file)
    assert volume.src_object.kind == "phase" and "loaded phase" in message
    assert_same_image(volume, DATA + 1000, MATRIX, "LPS")


def test_a_select_that_leaves_one_kind_loads_it_without_a_warning(tmp_path):
    _two_kinds(tmp_path, _image_type(["ORIGINAL", "PRIMARY", "M"]), _image_type(["ORIGINAL", "PRIMARY", "P"]))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        volume = open_stack(tmp_path, select={"ImageType": ["ORIGINAL", "PRIMARY", "M"]}, system="LPS")
    assert_same_image(volume, DATA, MATRIX, "LPS")


def test_list_series_reports_volumes_and_kinds(tmp_path):
    _two_kinds(tmp_path / "kinds", _image_type(["ORIGINAL", "PRIMARY", "M"]), _image_type(["ORIGINAL", "PRIMARY", "P"]))
    write_volumes(tmp_path / "fmri", np.zeros((4, 5, 6, 7), np.int16), MATRIX)
    found = {info.path.parent.name if info.path.is_file() else info.path.name: info for info in list_series(tmp_path)}
    assert (found["kinds"].volumes, found["kinds"].kinds) == (1, ("magnitude", "phase"))
    assert (found["fmri"].volumes, found["fmri"].kinds) == (7, ())
    assert "x 7 volumes" in str(found["fmri"])


def test_copies_of_a_series_under_one_uid_are_told_apart_by_their_series_number(tmp_path):
    for number in (2, 1):  # the copy numbered 2 comes first in the folder
        write_series(
            tmp_path,
            np.full((3, 4, 2), number, np.int16),
            series_uid="1.2.3",
            frame_of_reference="1.2.4",
            prefix=f"S{number}",
            seed=number,
            edit=lambda dataset, index, number=number: setattr(dataset, "SeriesNumber", number),
        )
    with pytest.warns(
        FormatWarning, match=r"loaded series 1 \(2 images\).*series 2 \(2 images\): select=\{'SeriesNumber': 2\}"
    ):
        first = open_stack(tmp_path)
    assert np.unique(first.src_data).tolist() == [1]
    assert np.unique(open_stack(tmp_path, select={"SeriesNumber": 2}).src_data).tolist() == [2]
