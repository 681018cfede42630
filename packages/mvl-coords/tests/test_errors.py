import pickle

import pytest

import mvl.coords as coords
from mvl.coords import errors

FAMILY = [
    ("AxisCodeError", ValueError, "MvlError"),
    ("InputError", OSError, "MvlError"),
    ("UnsupportedFormatError", OSError, "InputError"),
    ("NoImageDataError", OSError, "InputError"),
    ("AmbiguousInputError", OSError, "InputError"),
    ("FormatError", ValueError, "MvlError"),
    ("GeometryError", ValueError, "MvlError"),
    ("DataError", ValueError, "MvlError"),
    ("SecurityError", ValueError, "MvlError"),
    ("ResourceLimitError", ValueError, "SecurityError"),
    ("SaveError", OSError, "MvlError"),
]


@pytest.mark.parametrize(("name", "builtin", "parent"), FAMILY)
def test_hierarchy(name, builtin, parent):
    cls = getattr(coords, name)
    assert issubclass(cls, builtin)
    assert issubclass(cls, getattr(errors, parent))
    assert issubclass(cls, coords.MvlError)


@pytest.mark.parametrize("name", [name for name, _, _ in FAMILY])
def test_message_names_the_path_and_survives_pickling(name, tmp_path):
    cls = getattr(coords, name)
    error = cls("header field 'sizes' is missing", path=tmp_path / "scan.nrrd")
    assert str(error) == f"{tmp_path / 'scan.nrrd'}: header field 'sizes' is missing"
    assert error.path == str(tmp_path / "scan.nrrd")
    again = pickle.loads(pickle.dumps(error))
    assert type(again) is cls and str(again) == str(error) and again.path == error.path
    assert str(cls("no path")) == "no path" and cls("no path").path is None


class Broken(coords.FormatError):
    """A subclass with an attribute of its own, as mvl-dicom's UnreadableHeader."""

    series_uid: str | None = None


def test_attributes_of_a_subclass_survive_pickling():
    error = Broken("cannot parse", path="a.dcm")
    error.series_uid = "1.2.3"
    again = pickle.loads(pickle.dumps(error))
    assert again.series_uid == "1.2.3" and str(again) == "a.dcm: cannot parse"


def test_warnings():
    assert issubclass(coords.MvlWarning, UserWarning)
    assert issubclass(coords.GeometryWarning, coords.MvlWarning)
    assert issubclass(coords.FormatWarning, coords.MvlWarning)


def test_warn_points_at_the_first_frame_outside_the_family():
    import warnings

    from mvl.coords.errors import GeometryWarning, warn

    family = {"__name__": "mvl.fake", "warn": warn, "GeometryWarning": GeometryWarning}
    exec("def inner():\n    warn('assumed RAS', GeometryWarning)\n\ndef outer():\n    inner()\n", family)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        family["outer"]()
    assert [(w.category, w.filename) for w in caught] == [(GeometryWarning, __file__)]
