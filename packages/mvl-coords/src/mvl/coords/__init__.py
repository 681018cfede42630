"""Anatomical coordinate systems and the `Volume` class: the numpy-only core of mvl.

Voxel space and world space
    A volume's voxels are addressed by indices ``(i, j, k)``; a (4, 4) matrix maps
    them to world coordinates in millimetres, in an anatomical system.

Anatomical systems (:mod:`mvl.coords.systems`)
    Three letters, one from each of {L, R}, {A, P}, {S, I}, in any order: 48 systems.
    Each letter names the direction its axis points towards, and "right" is the
    subject's right: in RAS+ x grows towards the subject's right, y towards anterior,
    z towards superior. DICOM uses LPS+, NIfTI RAS+, NRRD says so in its header.
    :func:`normalize_system`, :func:`permutation_matrix`,
    :func:`closest_permutation_matrix`, :func:`axcodes`, :data:`SYSTEMS`.

Transformations (:mod:`mvl.coords.transformations`)
    :func:`validate_transformation`, :func:`change_system`, :func:`spacing`,
    :func:`obliquity`, :func:`apply_transformation`, :func:`homogeneous`.

Reorientation (:mod:`mvl.coords.reorientation`)
    Flipping and transposing voxel axes as views: :func:`reorient_array`,
    :func:`index_transformation`.

Volumes (:mod:`mvl.coords.volume`)
    :class:`Volume`: source data and transformation as loaded, plus a view aligned
    to any system the user chooses.

Files and gzip (:mod:`mvl.coords.files`, :mod:`mvl.coords.compression`, :mod:`mvl.coords.heads`)
    Shared by the format packages: :func:`~mvl.coords.files.input_file`,
    :func:`~mvl.coords.files.atomic_write`, :func:`~mvl.coords.files.array_blocks`,
    :class:`~mvl.coords.compression.GzipReader`, :func:`~mvl.coords.compression.write_gzip`,
    and :func:`~mvl.coords.heads.peek` (the first bytes of a file, through gzip, bzip2 or
    xz), which every format's ``sniff`` reads with.

Formats (:mod:`mvl.coords.formats`)
    :class:`~mvl.coords.formats.Format`: what a format package registers under the
    ``mvl.formats`` entry-point group, and all that ``mvloader`` knows about it.

Errors and warnings (:mod:`mvl.coords.errors`)
    :class:`MvlError` and its family, shared by every mvl package.

Conformance kit (:mod:`mvl.coords.testing`)
    Checks every format package runs in its own tests; imported only by tests.
"""

from ._version import __version__
from .errors import (
    AmbiguousInputError,
    AxisCodeError,
    DataError,
    FormatError,
    FormatWarning,
    GeometryError,
    GeometryWarning,
    InputError,
    MissingDependencyError,
    MvlError,
    MvlWarning,
    NoImageDataError,
    ResourceLimitError,
    SaveError,
    SecurityError,
    UnsupportedFormatError,
)
from .reorientation import index_transformation, reorient_array
from .systems import (
    OPPOSITES,
    SYSTEMS,
    axcodes,
    closest_permutation_matrix,
    normalize_system,
    opposite,
    permutation_matrix,
)
from .transformations import (
    apply_transformation,
    change_system,
    homogeneous,
    obliquity,
    spacing,
    validate_transformation,
)
from .volume import Volume

__all__ = [
    "OPPOSITES",
    "SYSTEMS",
    "AmbiguousInputError",
    "AxisCodeError",
    "DataError",
    "FormatError",
    "FormatWarning",
    "GeometryError",
    "GeometryWarning",
    "InputError",
    "MissingDependencyError",
    "MvlError",
    "MvlWarning",
    "NoImageDataError",
    "ResourceLimitError",
    "SaveError",
    "SecurityError",
    "UnsupportedFormatError",
    "Volume",
    "__version__",
    "apply_transformation",
    "axcodes",
    "change_system",
    "closest_permutation_matrix",
    "homogeneous",
    "index_transformation",
    "normalize_system",
    "obliquity",
    "opposite",
    "permutation_matrix",
    "reorient_array",
    "spacing",
    "validate_transformation",
]
