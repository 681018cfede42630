import numpy as np
import pytest

from mvl.nrrd.fields import format_fields, format_number, format_value, measurement_frame, reorder_axes


def test_numbers_round_trip_exactly():
    for value in (0.1, 1 / 3, -2.5e-7, 1e20, 123456789.123, 0.56469509887811908):
        assert float(format_number(value)) == value
    assert format_number(np.float32(0.5)) == "0.5"
    assert format_number(3) == "3"


def test_values():
    assert format_value("content", "  text ") == "text"
    assert format_value("centers", ["cell", "node"]) == "cell node"
    assert format_value("space units", ["mm", "mm", "mm"]) == '"mm" "mm" "mm"'
    assert format_value("my key", 7) == "7"
    with pytest.raises(ValueError, match="a quoted value may not contain"):
        format_value("labels", ['a"b'])
    with pytest.raises(ValueError, match="must fit on one line"):
        format_value("content", "a\rb")


def test_field_names():
    assert format_fields("NRRD0004", "c", [("content", "x"), ("DWMRI_b-value", "1000")]).endswith(
        b"content: x\nDWMRI_b-value:=1000\n\n"
    )
    for bad in ("a:b", "", " padded", "new\nline"):
        with pytest.raises(ValueError, match="cannot be a header field name"):
            format_fields("NRRD0004", "c", [(bad, "x")])


def test_measurement_frame_and_axes():
    assert measurement_frame("(1,0,0) (0,1,0)", "LPS", "RAS") is None
    assert measurement_frame("(1,0,0) none (0,0,1)", "LPS", "RAS") is None
    assert measurement_frame("garbage", "LPS", "RAS") is None
    np.testing.assert_array_equal(measurement_frame(np.eye(3), "RAS", "RAS"), np.eye(3))
    assert reorder_axes(np.array([1.0, 2.0, 3.0]), [2, 1, 0]) == [3.0, 2.0, 1.0]
