"""DICOM series to volumes, never silently wrong; built on pydicom and :mod:`mvl.coords`.

Loading (:mod:`mvl.dicom.stack`)
    :func:`open_stack`: a series, a multi-frame object, or a zip/tar archive of them as
    a :class:`~mvl.coords.Volume` in LPS+ (voxel order ``(row, column, slice)``), after
    checking that its images really form one volume. Its ``src_object`` is a
    :class:`DicomStack`: file names, positions, rescale and the headers
    (``sorted_slices``) in stack order.

Discovery (:mod:`mvl.dicom.listing`)
    :func:`list_series`: one :class:`SeriesInfo` per series of a folder tree or an
    archive, from headers only.
    :func:`survey` also returns the files that are not DICOM (one read per file).

Inputs and safety (:mod:`.inputs`, :mod:`.sources`, :mod:`.archives`, :mod:`.limits`)
    Folders (regular files only), DICOM files, archives read in memory with refused
    links, traversal and bombs; :class:`Limits` bounds every size before allocation.

Headers (:mod:`mvl.dicom.headers`, :mod:`mvl.dicom.walk`, :mod:`mvl.dicom.elements`)
    The fast header scan: only the needed elements, raw until decoded, pydicom for the
    unusual; the data element walk; element names as in the standard.

Frames and geometry (:mod:`.frame`, :mod:`.frames`, :mod:`.multiframe`, :mod:`.selection`, :mod:`.geometry`)
    One frame per slice or per frame of a multi-frame object (functional groups, RT Dose
    grids); the checks (orientation, size, duplicates, spacing, tilt) and the matrix.

Series (:mod:`mvl.dicom.series`)
    Grouping by (0020,000E) 'Series Instance UID' and the rule that picks one.

Pixels (:mod:`mvl.dicom.pixels`)
    Reading frames straight into the output array, rescale and the output type, codecs.

Plumbing
    :mod:`mvl.dicom.plugin` (the ``mvl.formats`` entry point), :mod:`mvl.dicom.magic`
    (what a file is), :mod:`mvl.dicom.progress` (callbacks and tqdm bars),
    :mod:`mvl.dicom.testing` (synthetic series written with pydicom, for tests and examples).
"""

from ._version import __version__
from .limits import DEFAULT_LIMITS, Limits
from .listing import SeriesInfo, Survey, list_series, survey
from .stack import DicomStack, open_stack

__all__ = [
    "DEFAULT_LIMITS",
    "DicomStack",
    "Limits",
    "SeriesInfo",
    "Survey",
    "__version__",
    "list_series",
    "open_stack",
    "survey",
]
