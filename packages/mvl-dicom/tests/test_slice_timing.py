"""The slice timing of a series: the first volume's, unless its span is not the second's (issue 14)."""

from __future__ import annotations

import pytest

from mvl.coords import FormatWarning
from mvl.dicom.slice_timing import SPAN_TOLERANCE_MS, series_slice_timing
from mvl.dicom.volumes import VolumeInfo

FILES = ["v1.dcm", "v2.dcm", "v3.dcm"]


def _volumes(*timings):
    return [VolumeInfo(index, slice_timing=timing) for index, timing in enumerate(timings)]


def test_the_first_volumes_times_are_the_series_times():
    timing, warnings = series_slice_timing(_volumes((0.0, 1000.0, 500.0), (0.0, 1000.0, 502.5)), FILES, "run")
    assert timing == (0.0, 1000.0, 500.0) and warnings == []


def test_spans_within_the_tolerance_keep_the_first_volumes_times():
    first = (0.0, 1000.0 + SPAN_TOLERANCE_MS / 2, 500.0)
    timing, warnings = series_slice_timing(_volumes(first, (0.0, 1000.0, 500.0)), FILES, "run")
    assert timing == first and warnings == []


def test_a_span_one_clock_step_off_takes_the_second_volumes_times_without_a_warning():
    # Times are quantized to 2.5 ms; dcm2niix takes the second volume's then too (its issue 870).
    timing, warnings = series_slice_timing(_volumes((0.0, 1000.0, 500.0), (0.0, 1002.5, 500.0)), FILES, "run")
    assert timing == (0.0, 1002.5, 500.0) and warnings == []


def test_a_faulty_first_volume_gives_the_second_volumes_times_and_a_warning_naming_it():
    timing, warnings = series_slice_timing(_volumes((0.0, 86399862.5), (0.0, 2370.0), (0.0, 2370.0)), FILES, "run")
    assert timing == (0.0, 2370.0)
    ((category, message),) = warnings
    assert category is FormatWarning
    assert message.startswith("run: the slice times of volume 1 (v1.dcm) span 8.63999e+07 ms, those of volume 2 span")


@pytest.mark.parametrize("volumes", [[], _volumes(None), _volumes(None, (0.0, 1.0))])
def test_no_times_in_the_first_volume_is_no_series_timing(volumes):
    assert series_slice_timing(volumes, FILES, "run") == (None, [])
