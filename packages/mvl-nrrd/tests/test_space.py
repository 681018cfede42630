import warnings

import numpy as np
import pytest

from mvl.coords import DataError, FormatError, FormatWarning, GeometryError, GeometryWarning
from mvl.nrrd import open_image
from mvl.nrrd.space import ANATOMICAL_SPACES, parse_vector, parse_vectors

SPACES = sorted(ANATOMICAL_SPACES)


@pytest.mark.parametrize("space", SPACES + [space.upper() for space in SPACES])
def test_every_anatomical_space_short_long_and_time(make_nrrd, space):
    system, has_time = ANATOMICAL_SPACES[space.lower()]
    changes = {"space": space}
    if has_time:
        changes |= {"space directions": "(1,0,0,0) (0,2,0,0) (0,0,3,0)", "space origin": "(4,5,6,7)"}
    volume = open_image(make_nrrd(changes))
    assert volume.src_system == system
    np.testing.assert_array_equal(volume.src_transformation[:3, 3], [0, 0, 0] if not has_time else [4, 5, 6])
    assert volume.src_spacing == ((1.0, 1.0, 1.0) if not has_time else (1.0, 2.0, 3.0))


def test_time_axis_of_a_time_space_is_not_spatial(make_nrrd):
    values = np.arange(2 * 3 * 4 * 5, dtype="<i2")
    path = make_nrrd(
        {
            "space": "right-anterior-superior-time",
            "dimension": "4",
            "sizes": "2 3 4 5",
            "space directions": "(1,0,0,0) (0,1,0,0) (0,0,1,0) (0,0,0,2.5)",
            "kinds": "domain domain domain time",
            "space origin": "(0,0,0,100)",
        },
        body=values.tobytes(),
    )
    volume = open_image(path, system="LPS")
    assert volume.src_spatial_dimensions == (0, 1, 2)
    assert volume.aligned_data.shape == (2, 3, 4, 5)
    # LPS+ flips the first two axes of RAS+
    assert volume.aligned_data[1, 2, 0, 4] == values.reshape((2, 3, 4, 5), order="F")[0, 0, 0, 4]


def test_spatial_axis_stepping_in_time_warns(make_nrrd):
    path = make_nrrd(
        {"space": "RAST", "space directions": "(1,0,0,0.5) (0,1,0,0) (0,0,1,0)", "space origin": "(0,0,0,0)"}
    )
    with pytest.warns(GeometryWarning, match=r"axis 0 also steps in time \(0.5 per voxel\)"):
        open_image(path)


@pytest.mark.parametrize("space", ["scanner-xyz", "3D-right-handed", "3D-left-handed", "scanner-xyz-time"])
def test_non_anatomical_space_needs_an_assumption(make_nrrd, space):
    changes = {"space": space}
    if space.endswith("time"):
        changes |= {"space directions": "(1,0,0,0) (0,1,0,0) (0,0,1,0)", "space origin": "(0,0,0,0)"}
    path = make_nrrd(changes)
    with pytest.raises(GeometryError, match=f"header field 'space' is '{space}': a space with no anatomical meaning"):
        open_image(path)
    with warnings.catch_warnings():
        warnings.simplefilter("error" if space != "3D-left-handed" else "ignore")
        assert open_image(path, assume_system="LPS").src_system == "LPS"


def test_assumed_system_of_the_other_handedness_warns(make_nrrd):
    path = make_nrrd({"space": "3D-left-handed"})
    with pytest.warns(GeometryWarning, match="'3D-left-handed' but the assumed system RAS is right-handed"):
        open_image(path, assume_system="RAS")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        open_image(path, assume_system="LAS")


def test_missing_space_needs_an_assumption(make_nrrd):
    path = make_nrrd({"space": None})
    with pytest.raises(GeometryError, match=r"header field 'space' is missing .*pass assume_system='RAS'"):
        open_image(path)
    volume = open_image(path, assume_system="IAR")
    assert volume.src_system == "IAR"


def test_space_dimension_without_space(make_nrrd):
    path = make_nrrd({"space": None, "space dimension": "3"})
    with pytest.raises(GeometryError, match=r"'space' is missing \('space dimension' without 'space'\)"):
        open_image(path)
    assert open_image(path, assume_system="LPS").src_system == "LPS"
    with pytest.raises(GeometryError, match="header field 'space dimension' is 2"):
        open_image(make_nrrd({"space": None, "space dimension": "2"}), assume_system="LPS")


def test_no_orientation_at_all_uses_spacings_with_a_warning(make_nrrd):
    path = make_nrrd({"space": None, "space directions": None, "space origin": None, "spacings": "0.5 nan 2"})
    with pytest.raises(GeometryError, match="neither 'space' nor 'space directions'"):
        open_image(path)
    with pytest.warns(GeometryWarning, match=r"no 'space directions'; voxels assumed axis-aligned in RAS"):
        volume = open_image(path, assume_system="RAS")
    np.testing.assert_array_equal(volume.src_transformation, np.diag([0.5, 1.0, 2.0, 1.0]))


def test_non_spec_anatomical_space_is_read_with_a_warning(make_nrrd):
    with pytest.warns(FormatWarning, match="'space' is 'left-posterior-inferior', which the NRRD spec does not"):
        volume = open_image(make_nrrd({"space": "left-posterior-inferior"}))
    assert volume.src_system == "LPI"


def test_unknown_space(make_nrrd):
    with pytest.raises(FormatError, match=r"scan.nrrd: header field 'space' is 'banana', not an NRRD space"):
        open_image(make_nrrd({"space": "banana"}))


def test_space_and_space_dimension_disagree(make_nrrd):
    with pytest.raises(FormatError, match=r"header fields 'space' \('RAS'\) and 'space dimension' \('4'\) disagree"):
        open_image(make_nrrd({"space": "RAS", "space dimension": "4"}))


def test_missing_origin_warns_and_uses_zero(make_nrrd):
    with pytest.warns(GeometryWarning, match="header field 'space origin' is missing"):
        volume = open_image(make_nrrd({"space origin": None}))
    np.testing.assert_array_equal(volume.src_transformation[:3, 3], [0, 0, 0])


@pytest.mark.parametrize(
    ("changes", "error", "message"),
    [
        ({"space directions": None}, GeometryError, "header field 'space directions' is missing"),
        ({"space directions": "(1,0,0) (0,1,0) [0,0,1]"}, FormatError, "'space directions' is malformed"),
        ({"space directions": "(1,0,0) (0,1,0)"}, FormatError, "'space directions' has 2 entries, 'dimension' is 3"),
        ({"space directions": "(1,0,0) (0,1,0) (0,0,1,0)"}, FormatError, "axis 2 has 4 components, the space has 3"),
        ({"space directions": "(1,0,0) (0,nan,0) (0,0,1)"}, GeometryError, "the vector of axis 1 is not finite"),
        ({"space directions": "(1,0,0) (0,inf,0) (0,0,1)"}, GeometryError, "the vector of axis 1 is not finite"),
        ({"space directions": "(1,0,0) (0,0,0) (0,0,1)"}, GeometryError, "the vector of axis 1 is zero"),
        ({"space directions": "(1,0,0) (0,1,0) (1,1,0)"}, GeometryError, "'space directions': .* is singular"),
        ({"space directions": "(1,0,0) (0,1,0) none"}, DataError, "gives 2 spatial axes .*exactly three are needed"),
        ({"space origin": "(0,0)"}, FormatError, "'space origin' must be a vector of 3 components"),
        ({"space origin": "(0,nan,0)"}, GeometryError, "header field 'space origin' is not finite"),
        ({"space origin": "0,0,0"}, FormatError, "header field 'space origin' is malformed"),
        ({"kinds": "domain domain"}, FormatError, "header field 'kinds' lists 2 kinds, 'dimension' is 3"),
        ({"kinds": "domain vector domain"}, FormatError, "axis 1 has a space direction but the kind 'vector'"),
    ],
)
def test_bad_geometry_fields(make_nrrd, changes, error, message):
    with pytest.raises(error, match=f"scan\\.nrrd: .*{message}"):
        open_image(make_nrrd(changes))


def test_none_direction_with_kind_space_contradicts(make_nrrd):
    path = make_nrrd(
        {
            "dimension": "4",
            "sizes": "2 3 4 1",
            "space directions": "(1,0,0) (0,1,0) (0,0,1) none",
            "kinds": "domain domain domain space",
        }
    )
    with pytest.raises(FormatError, match="axis 3 is of kind 'space' but its direction is 'none'"):
        open_image(path)


def test_unknown_kind_warns(make_nrrd):
    path = make_nrrd(
        {"dimension": "4", "sizes": "2 3 4 1", "space directions": "(1,0,0) (0,1,0) (0,0,1) none"}
        | {"kinds": "domain domain domain banana"}
    )
    with pytest.warns(FormatWarning, match=r"'kinds' has values the NRRD spec does not define: \['banana'\]"):
        open_image(path)


def test_two_dimensional_image_is_refused(make_nrrd):
    path = make_nrrd({"dimension": "2", "sizes": "4 6", "space directions": "(1,0,0) (0,1,0)", "kinds": None})
    with pytest.raises(DataError, match="gives 2 spatial axes"):
        open_image(path)


def test_parse_vectors():
    assert parse_vectors("none NONE") == [None, None]
    np.testing.assert_array_equal(parse_vector("( 1 , 2,3)"), [1, 2, 3])
    for bad in ["(1,0,0)(0,1,0)", "(1,,0)", "(1,0", "1,0,0", "(a,b,c)"]:
        with pytest.raises(ValueError):
            parse_vectors(bad)
    with pytest.raises(ValueError, match="expected one vector, got 2"):
        parse_vector("(1) (2)")
