"""Siemens mosaics: a whole volume in one file, its slices the tiles of one image, unpacked into one frame per slice.

Classic Siemens EPI and diffusion series (syngo VB, VD, VE) store each volume as one
single-frame file whose (0008,0008) 'Image Type' contains ``MOSAIC``: its slices are the
tiles of one large image, row after row. What DICOM cannot say about them is in the
Siemens CSA image header, (0029,xx10) under the private creator ``SIEMENS CSA HEADER``
(read by :mod:`mvl.dicom.csa`):

- ``NumberOfImagesInMosaic``, the number of slices (Siemens' (0019,100A) where present
  says the same; when both are present they must agree). The tiles fill a grid of
  ``ceil(sqrt(n))`` tiles per row and column, so a tile is (0028,0010) 'Rows' / grid by
  (0028,0011) 'Columns' / grid pixels, and Rows and Columns must be multiples of the grid;
- ``SliceNormalVector``: the direction from one tile's slice to the next;
- ``MosaicRefAcqTimes``: when each tile's slice was acquired (ms after the first), and for
  diffusion ``B_value`` and ``DiffusionGradientDirection`` (patient LPS+).

**Geometry.** (0020,0032) 'Image Position (Patient)' of a mosaic is not the first slice's:
Siemens writes the position the top left pixel of the whole mosaic would have if it were
one slice. The first tile's first pixel lies ``(Rows - tile rows) / 2`` pixel spacings down
the columns and ``(Columns - tile columns) / 2`` along the rows from it (PS3.3 C.7.6.2.1.1
for the directions); tile ``k`` lies ``k`` x (0018,0088) 'Spacing Between Slices' (else
(0018,0050) 'Slice Thickness') further along the slice normal. That normal is the cross
product of the direction cosines of (0020,0037) 'Image Orientation (Patient)', exactly
perpendicular to the slices, with the sign of ``SliceNormalVector``, which alone says
whether the tiles go up or down that normal (ascending or descending mosaics), as
dcm2niix and nibabel do. The tiles become ordinary frames: :mod:`mvl.dicom.geometry`
orders and checks them like the slices of any series, and the files of a series become
its volumes (:mod:`mvl.dicom.volumes`).

**Disagreement.** When ``SliceNormalVector`` is not parallel to the cross product
(more than :data:`NORMAL_WARN_DEGREES`), :func:`mosaic_warnings` says so, naming the files;
more than :data:`NORMAL_REFUSE_DEGREES` apart, its sign means nothing and the file is
refused.

**Refusals.** A mosaic without a readable CSA image header, without
``NumberOfImagesInMosaic``, whose slice count does not fit its tile grid (below), or
without ``SliceNormalVector`` is refused with an error naming the file and what is missing
or inconsistent: its tiles are never stacked as if they were slices.

**Uneven images.** Scanners write whole tiles: Rows and Columns are multiples of the
grid. Files resized after the scan (nibabel's test mosaics are 256 x 256 pixels for
7 x 7 tiles) leave a strip narrower than a tile; they are loaded as nibabel and dcm2niix
place them, the tiles ``Rows // grid`` by
``Columns // grid`` pixels from the top left and the first tile's position shifted by
``(grid - 1) / grid x Rows / 2`` pixels (the same as above for whole tiles), with a
:class:`~mvl.coords.FormatWarning` that says which rows and columns were left out. A strip of a tile or more means the
slice count is wrong: refused.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, NamedTuple

import numpy as np
from numpy.typing import NDArray

from mvl.coords import FormatError, FormatWarning, GeometryError, GeometryWarning, MvlWarning

from . import elements as el
from .csa import CsaHeader, parse_csa
from .frame import Frame, frame_names, geometry_value, rescale_of, spacing_value
from .headers import Header
from .vendor import Private, private_value

__all__ = [
    "CSA_CREATOR",
    "CSA_ELEMENTS",
    "MOSAIC_TAGS",
    "NORMAL_REFUSE_DEGREES",
    "NORMAL_WARN_DEGREES",
    "NUMBER_OF_IMAGES",
    "Mosaic",
    "Tile",
    "csa_image_header",
    "frame_size",
    "is_mosaic",
    "mosaic_frames",
    "mosaic_warnings",
    "read_mosaic",
]

#: The private creator of Siemens' CSA headers (PS3.5 7.8.1).
CSA_CREATOR: Final = "SIEMENS CSA HEADER"
#: Siemens' (0019,100A) 'NumberOfImagesInMosaic'.
NUMBER_OF_IMAGES: Final = Private(0x0019, 0x0A, "SIEMENS MR HEADER", "US")
#: The private blocks searched for the CSA creator: (0029,0010) to (0029,0013).
_CSA_BLOCKS: Final = range(0x10, 0x14)
#: The top-level tags the header scan keeps for mosaics: the creators, the CSA image headers, (0019,100A).
MOSAIC_TAGS: Final = frozenset(
    {0x00290000 | block for block in _CSA_BLOCKS}
    | {0x00290000 | block << 8 | 0x10 for block in _CSA_BLOCKS}
    | {NUMBER_OF_IMAGES.tag, NUMBER_OF_IMAGES.creator_tag}
)
#: The CSA image header's elements a mosaic needs (the others are walked, not kept).
CSA_ELEMENTS: Final = frozenset(
    {"NumberOfImagesInMosaic", "SliceNormalVector", "MosaicRefAcqTimes", "B_value", "DiffusionGradientDirection"}
)
#: Degrees between SliceNormalVector and the cross product of the direction cosines above which a warning says so.
NORMAL_WARN_DEGREES: Final = 0.05
#: Degrees beyond which SliceNormalVector's sign cannot be trusted: the file is refused.
NORMAL_REFUSE_DEGREES: Final = 45.0


@dataclass(frozen=True, eq=False)
class Mosaic:
    """What one mosaic file says about its tiles.

    Attributes
    ----------
    count : int
        ``NumberOfImagesInMosaic``: the slices, one per tile.
    grid : int
        Tiles per row and per column of the mosaic image, ``ceil(sqrt(count))``.
    rows, columns : int
        The size of each tile.
    normal : (3,) ndarray
        ``SliceNormalVector`` as the CSA header states it, scaled to unit length.
    angle : float
        Degrees between ``SliceNormalVector`` and the cross product of the direction
        cosines of (0020,0037), as lines (0 when they are parallel either way).
    times : tuple of float or None
        ``MosaicRefAcqTimes``: each tile's acquisition time, ms, in tile order; None when
        absent or not one number per tile.
    b_value : float or None
        ``B_value``, s/mm².
    direction : tuple of 3 float or None
        ``DiffusionGradientDirection``, patient LPS+.
    layout : str
        The CSA header's layout, ``"SV10"`` or ``"CSA1"``.
    leftover : tuple of 2 int
        The image's last rows and columns that no tile holds, when (0028,0010) 'Rows' or
        (0028,0011) 'Columns' is not a multiple of :attr:`grid` (0, 0 as scanners write
        them; see :func:`mosaic_warnings`).
    """

    count: int
    grid: int
    rows: int
    columns: int
    normal: NDArray[np.float64]
    angle: float
    times: tuple[float, ...] | None = None
    b_value: float | None = None
    direction: tuple[float, float, float] | None = None
    layout: str = "SV10"
    leftover: tuple[int, int] = (0, 0)

    @property
    def image_shape(self) -> tuple[int, int]:
        """(0028,0010) 'Rows' and (0028,0011) 'Columns' of the whole mosaic image."""
        return self.grid * self.rows + self.leftover[0], self.grid * self.columns + self.leftover[1]


class Tile(NamedTuple):
    """One tile of a mosaic: where a frame's pixels are in its file's image.

    Each frame of a mosaic holds one (:attr:`Frame.tile <mvl.dicom.frame.Frame>`).

    Attributes
    ----------
    mosaic : Mosaic
        The file's mosaic.
    number : int
        The tile's number (0-based), row after row through the grid: its slice's place along ``SliceNormalVector``.
    """

    mosaic: Mosaic
    number: int

    @property
    def row(self) -> int:
        """The mosaic image row of the tile's first pixel."""
        return self.number // self.mosaic.grid * self.mosaic.rows

    @property
    def column(self) -> int:
        """The mosaic image column of the tile's first pixel."""
        return self.number % self.mosaic.grid * self.mosaic.columns

    @property
    def time(self) -> float | None:
        """When its slice was acquired (``MosaicRefAcqTimes``, ms), or None."""
        return None if self.mosaic.times is None else self.mosaic.times[self.number]


def is_mosaic(header: Header) -> bool:
    """Whether a file is a Siemens mosaic: (0008,0008) 'Image Type' has the value ``MOSAIC``."""
    image_type = header.text(el.IMAGE_TYPE)
    return image_type is not None and "MOSAIC" in (part.strip() for part in image_type.upper().split("\\"))


def csa_image_header(header: Header, names: frozenset[str] = CSA_ELEMENTS) -> CsaHeader | None:
    """The file's CSA image header, (0029,xx10) of the block whose creator is ``SIEMENS CSA HEADER``; None if absent.

    Only the elements named in `names` are kept (by default :data:`CSA_ELEMENTS`).

    Raises
    ------
    FormatError
        If it is there but cannot be parsed (:func:`~mvl.dicom.csa.parse_csa`); names the file.
    """
    for block in _CSA_BLOCKS:
        if el.decode_text(header.values.get(0x00290000 | block)) == CSA_CREATOR:
            raw = header.values.get(0x00290000 | block << 8 | 0x10)
            if not raw:
                return None
            return parse_csa(raw, header.name, names)
    return None


def read_mosaic(header: Header) -> Mosaic:
    """Read and check what a mosaic file says about its tiles (see the module).

    Raises
    ------
    FormatError
        No or an unreadable CSA image header, no ``NumberOfImagesInMosaic``, one that
        disagrees with (0019,100A), or a slice count that does not fit the tile grid.
    GeometryError
        No usable ``SliceNormalVector``, or one nearly perpendicular to the slices.
    """
    name = header.name
    stated = f"is a Siemens mosaic ((0008,0008) 'Image Type' {header.text(el.IMAGE_TYPE)!r})"
    try:
        csa = csa_image_header(header)
    except FormatError as error:
        raise FormatError(f"{stated} whose CSA image header cannot be read: {error.message}", path=name) from None
    if csa is None:
        raise FormatError(
            f"{stated} without a CSA image header ((0029,1010) under the private creator {CSA_CREATOR!r}): only it "
            "says how many slices the tiles hold and in which order, so the mosaic cannot be unpacked (its tiles are "
            "never stacked as slices). Anonymizers often remove private elements: load the original files",
            path=name,
        )
    count = _count(header, csa, stated)
    rows, columns = header.integer(el.ROWS) or 0, header.integer(el.COLUMNS) or 0
    grid = math.ceil(math.sqrt(count))
    tile_rows, tile_columns = rows // grid, columns // grid
    if not tile_rows or not tile_columns or rows % grid >= tile_rows or columns % grid >= tile_columns:
        raise FormatError(
            f"{stated} of {count} slices (NumberOfImagesInMosaic), which fill a grid of {grid} x {grid} tiles, but "
            f"its {el.describe(el.ROWS)} x {el.describe(el.COLUMNS)} is {rows} x {columns}, not a multiple of "
            f"{grid}: tiles of {tile_rows} x {tile_columns} pixels would leave {rows % grid} rows and "
            f"{columns % grid} columns over, a tile or more: the slice count does not fit the tile grid",
            path=name,
        )
    normal, angle = _normal(header, csa, stated)
    return Mosaic(
        count=count,
        grid=grid,
        rows=tile_rows,
        columns=tile_columns,
        normal=normal,
        angle=angle,
        times=_times(csa, count),
        b_value=_quiet_number(csa, "B_value"),
        direction=_direction(csa),
        layout=csa.layout,
        leftover=(rows % grid, columns % grid),
    )


def _count(header: Header, csa: CsaHeader, stated: str) -> int:
    try:
        in_csa = csa.number("NumberOfImagesInMosaic")
    except FormatError as error:
        raise FormatError(f"{stated}: {error.message}", path=header.name) from None
    private = private_value(header, {}, NUMBER_OF_IMAGES)
    in_private = float(private[0]) if private else None
    if in_csa is not None and in_private is not None and in_csa != in_private:
        raise FormatError(
            f"{stated} whose CSA image header says NumberOfImagesInMosaic is {in_csa:g}, but (0019,100A) "
            f"'NumberOfImagesInMosaic' says {in_private:g}: the headers contradict each other",
            path=header.name,
        )
    count = in_csa if in_csa is not None else in_private
    if count is None:
        raise FormatError(
            f"{stated} without NumberOfImagesInMosaic, in neither its CSA image header nor (0019,100A): how many "
            "of its tiles hold slices is unknown, so it cannot be unpacked",
            path=header.name,
        )
    if count < 1 or count != int(count):
        raise FormatError(f"{stated} whose NumberOfImagesInMosaic is {count:g}; expected 1 or more", path=header.name)
    return int(count)


def _normal(header: Header, csa: CsaHeader, stated: str) -> tuple[NDArray[np.float64], float]:
    """``SliceNormalVector`` as a unit vector, and its angle to the cross product of the orientation cosines."""
    try:
        values = csa.numbers("SliceNormalVector")
    except FormatError as error:
        raise FormatError(f"{stated}: {error.message}", path=header.name) from None
    if values is None:
        raise GeometryError(
            f"{stated} whose CSA image header has no SliceNormalVector: whether its tiles go up or down the normal "
            f"of {el.describe(el.IMAGE_ORIENTATION)} is unknown",
            path=header.name,
        )
    vector = np.asarray(values, dtype=np.float64)
    length = float(np.linalg.norm(vector)) if vector.shape == (3,) else 0.0
    if length == 0.0:
        raise GeometryError(f"{stated} whose SliceNormalVector is {values}: not a direction", path=header.name)
    normal = vector / length
    orientation = geometry_value(header, el.IMAGE_ORIENTATION, 6)
    if orientation is None:
        return normal, 0.0  # the geometry check reports the missing orientation
    cross = _unit_cross(orientation)
    cosine = abs(float(normal @ cross))
    angle = math.degrees(math.acos(min(1.0, cosine)))
    if angle > NORMAL_REFUSE_DEGREES:
        raise GeometryError(
            f"{stated} whose CSA SliceNormalVector {_rounded(normal)} is {angle:.3g} degrees off the normal "
            f"{_rounded(cross)} of {el.describe(el.IMAGE_ORIENTATION)}: the headers contradict each other, and which "
            "way the tiles go along the normal cannot be trusted",
            path=header.name,
        )
    return normal, angle


def _unit_cross(orientation: NDArray[np.float64]) -> NDArray[np.float64]:
    """The unit normal of the slices: row cosines x column cosines (written out: ``np.cross`` costs 30 us)."""
    a, b, c, d, e, f = (float(value) for value in orientation)
    cross = np.array([b * f - c * e, c * d - a * f, a * e - b * d])
    length = math.sqrt(float(cross @ cross))
    return cross / length if length > 0 else cross


def _rounded(vector: NDArray[np.float64]) -> list[float]:
    return [round(float(value), 5) + 0.0 for value in vector]


def _quiet_number(csa: CsaHeader, name: str) -> float | None:
    """A number of the CSA header that is metadata only: None when absent or broken."""
    try:
        return csa.number(name)
    except FormatError:
        return None


def _times(csa: CsaHeader, count: int) -> tuple[float, ...] | None:
    try:
        values = csa.numbers("MosaicRefAcqTimes")
    except FormatError:
        return None
    return None if values is None or len(values) < count else tuple(values[:count])


def _direction(csa: CsaHeader) -> tuple[float, float, float] | None:
    try:
        values = csa.numbers("DiffusionGradientDirection")
    except FormatError:
        return None
    return None if values is None or len(values) != 3 else (values[0], values[1], values[2])


def mosaic_frames(header: Header) -> list[Frame]:
    """The frames of a mosaic file, one per tile, each with its slice's position (see the module).

    Raises
    ------
    FormatError, GeometryError
        As :func:`read_mosaic`; also a mosaic without (0020,0032), (0020,0037) or
        (0028,0030), or with several slices and neither (0018,0088) nor (0018,0050).
    """
    mosaic = read_mosaic(header)
    position = geometry_value(header, el.IMAGE_POSITION, 3)
    orientation = geometry_value(header, el.IMAGE_ORIENTATION, 6)
    spacing = spacing_value(header)
    for value, tag in ((position, el.IMAGE_POSITION), (orientation, el.IMAGE_ORIENTATION), (spacing, el.PIXEL_SPACING)):
        if value is None:
            raise GeometryError(
                f"is a Siemens mosaic without {el.describe(tag)}: its tiles cannot be placed", path=header.name
            )
    assert position is not None and orientation is not None and spacing is not None
    thickness = el.first(header.floats(el.SLICE_THICKNESS))
    between = el.first(header.floats(el.SPACING_BETWEEN_SLICES))
    step_length = next((value for value in (between, thickness) if value is not None and value > 0), None)
    if step_length is None:
        if mosaic.count > 1:
            raise GeometryError(
                f"is a Siemens mosaic of {mosaic.count} slices without {el.describe(el.SPACING_BETWEEN_SLICES)} or "
                f"{el.describe(el.SLICE_THICKNESS)}: the distance between its slices is unknown",
                path=header.name,
            )
        step_length = 1.0
    cross = _unit_cross(orientation)
    direction = cross if float(mosaic.normal @ cross) >= 0 else -cross
    down, across = spacing[0] * orientation[3:], spacing[1] * orientation[:3]
    image_rows, image_columns = mosaic.image_shape  # Rows / grid, not the tile's rows: the same in whole tiles
    first = position + (mosaic.grid - 1) / mosaic.grid * (image_rows * down + image_columns * across) / 2
    positions = first + np.arange(mosaic.count)[:, np.newaxis] * (step_length * direction)
    positions.setflags(write=False)
    slope, intercept = rescale_of(header)
    return [
        Frame(
            header=header,
            index=None,
            position=positions[number],
            orientation=orientation,
            spacing=spacing,
            thickness=thickness,
            spacing_between=between,
            slope=slope,
            intercept=intercept,
            tile=Tile(mosaic, number),
        )
        for number in range(mosaic.count)
    ]


def frame_size(frame: Frame) -> tuple[int | None, int | None]:
    """The rows and columns of a frame's image: its tile's in a mosaic, else (0028,0010) x (0028,0011).

    Raises
    ------
    FormatError
        If Rows or Columns cannot be decoded.
    """
    tile = frame.tile
    if tile is not None:
        return tile.mosaic.rows, tile.mosaic.columns
    return frame.header.integer(el.ROWS), frame.header.integer(el.COLUMNS)


def mosaic_warnings(frames: Sequence[Frame], location: str) -> list[tuple[type[MvlWarning], str]]:
    """The warning for mosaics whose SliceNormalVector is not parallel to the cross product of the cosines.

    One warning for the whole series, naming the files and the largest angle; empty when
    they agree (within :data:`NORMAL_WARN_DEGREES`) or no frame is a tile.
    """
    off: dict[int, Frame] = {}
    uneven: dict[int, Frame] = {}
    worst = 0.0
    for frame in frames:
        tile = frame.tile
        if tile is None:
            continue
        if tile.mosaic.angle > NORMAL_WARN_DEGREES:
            off.setdefault(id(frame.header), frame)
            worst = max(worst, tile.mosaic.angle)
        if tile.mosaic.leftover != (0, 0):
            uneven.setdefault(id(frame.header), frame)
    found = _uneven_warnings(list(uneven.values()), location)
    if not off:
        return found
    shown = list(off.values())
    return [
        *found,
        (
            GeometryWarning,
            f"{location}: in {len(shown)} mosaic file(s) ({frame_names(shown)}) the CSA header's SliceNormalVector is "
            f"up to {worst:.3g} degrees off the normal of {el.describe(el.IMAGE_ORIENTATION)} (the cross product of "
            "its direction cosines). The slices were placed along that normal, which the standard element defines "
            "exactly perpendicular to them, in the direction SliceNormalVector points, which alone says the order of "
            "the tiles (as dcm2niix and nibabel do)",
        ),
    ]


def _uneven_warnings(shown: list[Frame], location: str) -> list[tuple[type[MvlWarning], str]]:
    """The warning for mosaics whose Rows or Columns is not a multiple of the tile grid."""
    if not shown:
        return []
    assert shown[0].tile is not None
    mosaic = shown[0].tile.mosaic
    rows, columns = mosaic.image_shape
    return [
        (
            FormatWarning,
            f"{location}: {len(shown)} mosaic file(s) ({frame_names(shown)}) hold {mosaic.count} slices in a grid of "
            f"{mosaic.grid} x {mosaic.grid} tiles, but their image of {rows} x {columns} pixels is not a multiple of "
            f"{mosaic.grid}: scanners write whole tiles, so these files were changed after the scan (resized or cut). "
            f"The tiles were taken as {mosaic.rows} x {mosaic.columns} pixels from the top left, the last "
            f"{mosaic.leftover[0]} rows and {mosaic.leftover[1]} columns left out, and placed as nibabel and dcm2niix "
            "place them; check the values against the original files",
        )
    ]
