import io
import itertools
import warnings

import numpy as np
import pytest

from mvl.coords import SYSTEMS, FormatError, FormatWarning, GeometryError, GeometryWarning, axcodes
from mvl.metaimage import open_image
from mvl.metaimage.geometry import from_letters, read_geometry, towards_letters
from mvl.metaimage.header import read_header_text


def geometry(lines, ndims=3):
    blob = ("\n".join([*lines, "ElementDataFile = LOCAL"]) + "\n").encode()
    return read_geometry(read_header_text(io.BytesIO(blob), "g.mha"), ndims, "g.mha")


@pytest.mark.parametrize("system", sorted(SYSTEMS))
def test_orientation_letters_name_where_axes_come_from(system):
    """All 48: our "towards" system and ITK's "from" letters are each other's opposites."""
    letters = from_letters(system)
    assert towards_letters(letters) == system
    assert all(
        {ours, theirs} in ({"L", "R"}, {"A", "P"}, {"S", "I"}) for ours, theirs in zip(system, letters, strict=True)
    )
    matrix = np.eye(4)
    matrix[:3, :3] = np.array([[1.0 if s == t else -1.0 if {s, t} in ({"L", "R"}, {"A", "P"}, {"S", "I"}) else 0
                                for s in system] for t in "LPS"])  # fmt: skip
    assert axcodes(matrix, "LPS") == system
    fields = [
        f"TransformMatrix = {' '.join(str(v) for v in matrix[:3, :3].T.ravel())}",
        f"AnatomicalOrientation = {letters}",
    ]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_array_equal(geometry(fields).transformation, matrix)


def test_known_itk_codes():
    assert towards_letters("RAI") == "LPS"  # ITK's identity
    assert towards_letters("LPI") == "RAS"
    assert from_letters("ILA") == "SRP"


def test_synonyms_and_defaults():
    assert np.array_equal(geometry([]).transformation, np.eye(4))
    for matrix_field, offset_field in itertools.product(("TransformMatrix", "Rotation", "Orientation"),
                                                        ("Offset", "Origin", "Position")):  # fmt: skip
        found = geometry([f"{matrix_field} = 0 1 0 -1 0 0 0 0 1", f"{offset_field} = 1 2 3"]).transformation
        np.testing.assert_array_equal(found[:3, :3], [[0, -1, 0], [1, 0, 0], [0, 0, 1]])
        np.testing.assert_array_equal(found[:3, 3], [1, 2, 3])
    assert geometry(["Offset = 1 2 3", "Origin = 1 2 3"]).offset == (1, 2, 3)
    with pytest.raises(FormatError, match="'Offset' and 'Origin' are synonyms but hold different values"):
        geometry(["Offset = 1 2 3", "Origin = 1 2 4"])


def test_element_size_is_the_spacing_when_there_is_no_spacing():
    assert geometry(["ElementSize = 2 3 4"]).spacing == (2, 3, 4)
    assert geometry(["ElementSize = 2 3 4", "ElementSpacing = 1 1 1"]).spacing == (1, 1, 1)


@pytest.mark.parametrize(
    ("lines", "error", "message"),
    [
        (["ElementSpacing = 1 0 1"], GeometryError, "'ElementSpacing' must hold finite, non-zero steps"),
        (["ElementSpacing = 1 nan 1"], GeometryError, "'ElementSpacing' must hold finite"),
        (["ElementSpacing = 1 1"], FormatError, "'ElementSpacing' must hold 3 numbers"),
        (["Offset = 1 2 inf"], GeometryError, "'Offset' must be finite"),
        (["TransformMatrix = 1 0 0 0 1 0 0 0 0"], GeometryError, "'TransformMatrix' is not a valid direction matrix"),
        (["Rotation = 1 0 0 1 0 0 0 0 1"], GeometryError, "'Rotation' is not a valid"),
        (["TransformMatrix = 1 0 0 0 1 0 0 0"], FormatError, "'TransformMatrix' must hold 9 numbers"),
        (["TransformMatrix = 1 0 0 0 one 0 0 0 1"], FormatError, "must hold numbers, got 'one'"),
    ],
)
def test_bad_geometry(lines, error, message):
    with pytest.raises(error, match=message):
        geometry(lines)


def test_bad_orientation_text_warns_and_is_ignored():
    with pytest.warns(FormatWarning, match="'RAX', not 3 letters"):
        geometry(["AnatomicalOrientation = RAX"])
    with pytest.warns(FormatWarning, match="not an anatomical system"):
        geometry(["AnatomicalOrientation = RRI"])


def test_orientation_disagreement_is_reported_with_both_readings(make_mha):
    path = make_mha({"TransformMatrix": "0 1 0 1 0 0 0 0 1", "AnatomicalOrientation": "RAI"})
    with pytest.warns(FormatWarning, match=r"towards LPS\), but the direction matrix points them towards PLS"):
        volume = open_image(path)
    assert axcodes(volume.src_transformation, "LPS") == "PLS"


def test_time_axis_coupled_to_space_warns():
    flat = np.eye(4)
    flat[3, 0] = 0.5
    with pytest.warns(GeometryWarning, match="couples the axes beyond the third"):
        geometry([f"TransformMatrix = {' '.join(map(str, flat.ravel()))}"], ndims=4)
