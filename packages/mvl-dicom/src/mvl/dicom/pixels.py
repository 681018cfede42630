"""Pixel data: layout checks, the output type, and reading frames straight into the volume.

The output array is allocated once, frame after frame written into it, and never
copied: uncompressed frames are read from the file directly into their place
(``readinto``), compressed ones decoded by pydicom's decoders and copied in. A Siemens
mosaic (:mod:`.mosaic`) is read (or decoded) once per file into a buffer of one mosaic
image, and each tile copied from there into its slice's place.

Rescale (PS3.3 C.11.1.1.2: value = stored value x (0028,1053) 'Rescale Slope' + (0028,1052)
'Rescale Intercept') is applied by default, per frame, since frames may differ. The
result keeps the stored integer type when every rescaled value fits it exactly (CT with
slope 1 and intercept -1024 stays int16); an unsigned stored type becomes the signed type
of the same width when that is what the values need; anything else is float32. The
integer case is computed in place with modular arithmetic on the stored bytes, which is
exact whenever the result fits the target type, and that is checked first: from (0028,0101)
'Bits Stored' where that suffices, from each frame's actual minimum and maximum otherwise.

Compressed transfer syntaxes need pydicom's decoder plugins; ``pip install
"mvl-dicom[codecs]"`` installs the pylibjpeg ones. A missing decoder is reported before
anything is read.
"""

from __future__ import annotations

import io
import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, BinaryIO

import numpy as np
from numpy.typing import NDArray

from mvl.coords import DataError, FormatError, MissingDependencyError, ResourceLimitError, UnsupportedFormatError

from . import elements as el
from .frame import Frame
from .headers import Header
from .limits import Limits
from .mosaic import Tile, frame_size

__all__ = ["OutputPlan", "PixelLayout", "check_decoders", "layout_of", "plan_output", "read_frames"]

_CODECS_HINT = 'pip install "mvl-dicom[codecs]"'


@dataclass(frozen=True)
class PixelLayout:
    """How one file's pixels are stored (PS3.3 C.7.6.3 Image Pixel module)."""

    rows: int
    columns: int
    samples: int
    bits_allocated: int
    bits_stored: int
    signed: bool
    photometric: str
    planar: int
    frames: int
    dtype: np.dtype[Any]
    frame_bytes: int
    native: bool  # readable straight from the file, without pydicom

    @property
    def stored_range(self) -> tuple[float, float]:
        """Smallest and largest value (0028,0101) 'Bits Stored' allows."""
        if self.dtype.kind == "f":
            return -np.inf, np.inf
        if self.signed:
            return -(2.0 ** (self.bits_stored - 1)), 2.0 ** (self.bits_stored - 1) - 1
        return 0.0, 2.0**self.bits_stored - 1


def layout_of(header: Header) -> PixelLayout:
    """Check and return the pixel layout of a file.

    Raises
    ------
    FormatError
        Missing or contradictory Image Pixel elements, or uncompressed pixel data shorter
        than (0028,0010) 'Rows' x (0028,0011) 'Columns' x ... needs (truncated file).
    """
    pixel = header.pixel
    assert pixel is not None
    key = (
        pixel.tag,
        pixel.offset is None,
        pixel.length is None,
        header.little_endian,
        *(header.values.get(tag) for tag in _LAYOUT_TAGS),
    )
    layout = _LAYOUTS.get(key)
    if layout is None:
        layout = _layout(header)
        if len(_LAYOUTS) >= 256:
            _LAYOUTS.clear()
        _LAYOUTS[key] = layout
    _check_length(header, layout)
    return layout


#: The elements a pixel layout is made of; files with the same raw values share one layout.
_LAYOUT_TAGS = (
    el.ROWS,
    el.COLUMNS,
    el.SAMPLES_PER_PIXEL,
    el.NUMBER_OF_FRAMES,
    el.PHOTOMETRIC_INTERPRETATION,
    el.PLANAR_CONFIGURATION,
    el.BITS_ALLOCATED,
    el.BITS_STORED,
    el.PIXEL_REPRESENTATION,
)
_LAYOUTS: dict[tuple[Any, ...], PixelLayout] = {}


def _layout(header: Header) -> PixelLayout:
    name = header.name
    pixel = header.pixel
    assert pixel is not None
    rows, columns = header.integer(el.ROWS), header.integer(el.COLUMNS)
    if not rows or not columns or rows < 1 or columns < 1:
        raise FormatError(f"{el.describe(el.ROWS)} x {el.describe(el.COLUMNS)} is {rows} x {columns}", path=name)
    samples = header.integer(el.SAMPLES_PER_PIXEL, 1) or 1
    frames = header.integer(el.NUMBER_OF_FRAMES, 1) or 1
    photometric = (header.text(el.PHOTOMETRIC_INTERPRETATION) or "MONOCHROME2").upper()
    planar = header.integer(el.PLANAR_CONFIGURATION, 0) or 0
    dtype: np.dtype[Any]
    if pixel.tag == el.FLOAT_PIXEL_DATA:
        bits, stored, signed, dtype = 32, 32, True, np.dtype("float32")
    elif pixel.tag == el.DOUBLE_FLOAT_PIXEL_DATA:
        bits, stored, signed, dtype = 64, 64, True, np.dtype("float64")
    else:
        bits = header.integer(el.BITS_ALLOCATED) or 0
        stored = header.integer(el.BITS_STORED, bits) or bits
        signed = header.integer(el.PIXEL_REPRESENTATION, 0) == 1
        if bits == 1:
            dtype = np.dtype("uint8")
        elif bits in (8, 16, 32, 64):
            dtype = np.dtype(f"{'i' if signed else 'u'}{bits // 8}")
        else:
            raise FormatError(f"{el.describe(el.BITS_ALLOCATED)} is {bits}; expected 1, 8, 16, 32 or 64", path=name)
        if not 1 <= stored <= bits:
            raise FormatError(
                f"{el.describe(el.BITS_STORED)} is {stored}, {el.describe(el.BITS_ALLOCATED)} {bits}", path=name
            )
    if samples not in (1, 3, 4):
        raise FormatError(f"{el.describe(el.SAMPLES_PER_PIXEL)} is {samples}; expected 1 or 3", path=name)
    frame_bytes = rows * columns * samples * max(bits, 8) // 8
    native = (
        pixel.offset is not None
        and pixel.length is not None
        and samples == 1
        and bits in (8, 16, 32, 64)
        and not photometric.startswith("YBR")
    )
    return PixelLayout(
        rows, columns, samples, bits, stored, signed, photometric, planar, frames, dtype, frame_bytes, native
    )


def _check_length(header: Header, layout: PixelLayout) -> None:
    """Uncompressed pixel data must hold every frame: a truncated file is an error before anything is read."""
    pixel = header.pixel
    assert pixel is not None
    if pixel.length is None or pixel.offset is None:
        return
    rows, columns, samples, frames, bits = (
        layout.rows,
        layout.columns,
        layout.samples,
        layout.frames,
        layout.bits_allocated,
    )
    needed = (rows * columns * samples * frames * bits + 7) // 8
    if layout.photometric == "YBR_FULL_422":
        needed = needed * 2 // 3
    available = min(pixel.length, header.size - pixel.offset)
    if available < needed:
        raise FormatError(
            f"the pixel data is truncated: {el.describe(pixel.tag)} holds {max(available, 0)} bytes, but "
            f"{rows} rows x {columns} columns x {samples} samples x {frames} frames x {bits} bits need "
            f"{needed} bytes",
            path=header.name,
        )


def check_decoders(headers: Sequence[Header]) -> None:
    """Check that pydicom can decode every transfer syntax among `headers`, before reading any pixels.

    Raises
    ------
    MissingDependencyError
        If a decoder plugin is missing; names ``pip install "mvl-dicom[codecs]"``.
    UnsupportedFormatError
        If pydicom has no decoder for a transfer syntax at all, or does not know it.
    """
    from pydicom.pixels.decoders.base import get_decoder
    from pydicom.uid import UID

    for syntax in sorted({header.transfer_syntax for header in headers if header.transfer_syntax}):
        uid = UID(syntax)
        if not uid.is_transfer_syntax:  # a damaged or private UID: how the pixels are encoded is unknown
            example = next(header.name for header in headers if header.transfer_syntax == syntax)
            raise UnsupportedFormatError(
                f"its (0002,0010) 'Transfer Syntax UID' {syntax!r} is not a transfer syntax DICOM or pydicom "
                "knows, so how its pixel data is encoded is unknown",
                path=example,
            )
        if not uid.is_compressed and not uid.is_deflated:
            continue
        example = next(header.name for header in headers if header.transfer_syntax == syntax)
        try:
            decoder = get_decoder(uid)
        except NotImplementedError:
            raise UnsupportedFormatError(
                f"its pixel data uses the transfer syntax {uid.name} ({syntax}), which pydicom cannot decode",
                path=example,
            ) from None
        if not decoder.is_available:
            missing = "; ".join(decoder.missing_dependencies) or "no plugin"
            raise MissingDependencyError(
                f"its pixel data is compressed ({uid.name}, {syntax}) and no installed decoder reads it "
                f"({missing}): {_CODECS_HINT} installs the pylibjpeg decoders",
                path=example,
            )


@dataclass(frozen=True)
class OutputPlan:
    """The output array and how each frame is written into it."""

    shape: tuple[int, ...]
    stored: np.dtype[Any]
    dtype: np.dtype[Any]
    in_place: bool  # integer output computed in place on the stored bytes
    scan: bool  # check each frame's actual range before rescaling it in place
    slopes: NDArray[np.float64]
    intercepts: NDArray[np.float64]


def plan_output(frames: Sequence[Frame], layouts: Sequence[PixelLayout], rescale: bool, limits: Limits) -> OutputPlan:
    """Decide the output shape and type for `frames` (in stack order), before reading anything.

    Raises
    ------
    DataError
        Frames whose samples per pixel or data types cannot share one array.
    ResourceLimitError
        An output larger than ``limits.max_output_bytes``.
    """
    first = layouts[0]
    if any(layout.samples != first.samples for layout in layouts):
        raise DataError(f"{el.describe(el.SAMPLES_PER_PIXEL)} differs between the images of the series")
    stored = np.result_type(*{layout.dtype for layout in layouts})
    if any(layout.dtype.itemsize != stored.itemsize or layout.dtype.kind != stored.kind for layout in layouts):
        raise DataError(
            f"{el.describe(el.BITS_ALLOCATED)} or {el.describe(el.PIXEL_REPRESENTATION)} differ between the images "
            f"of the series ({', '.join(sorted({str(layout.dtype) for layout in layouts}))})"
        )
    rows, columns = frame_size(frames[0])  # a mosaic's tile
    shape: tuple[int, ...] = (len(frames), rows or first.rows, columns or first.columns)
    if first.samples > 1:
        shape += (first.samples,)
    slopes = np.array([frame.slope if rescale else 1.0 for frame in frames], dtype=np.float64)
    intercepts = np.array([frame.intercept if rescale else 0.0 for frame in frames], dtype=np.float64)
    identity = bool(np.all(slopes == 1) and np.all(intercepts == 0))
    dtype, in_place, scan = stored, True, False
    if stored.kind == "f" or identity:
        pass
    elif np.all(slopes == np.round(slopes)) and np.all(intercepts == np.round(intercepts)):
        low, high = _rescaled_range(layouts, slopes, intercepts)
        signed = np.dtype(f"i{stored.itemsize}")
        if _fits(stored, low, high):
            dtype = stored
        elif _fits(signed, low, high):
            dtype = signed
        else:  # the values themselves decide, frame by frame
            dtype, scan = (signed if low < 0 else stored), True
    else:
        dtype, in_place = np.dtype("float32"), False
    itemsize = max(dtype.itemsize, stored.itemsize)
    total = int(np.prod(shape, dtype=np.float64)) * itemsize
    if total > limits.max_output_bytes:
        raise ResourceLimitError(
            f"the volume would need {total / 2**30:.3g} GiB ({' x '.join(map(str, shape))} {dtype}), more than "
            f"Limits.max_output_bytes ({limits.max_output_bytes / 2**30:.3g} GiB); check (0028,0010) 'Rows', "
            "(0028,0011) 'Columns' and the number of frames, or raise the limit"
        )
    return OutputPlan(shape, stored, dtype, in_place, scan, slopes, intercepts)


def _rescaled_range(
    layouts: Sequence[PixelLayout], slopes: NDArray[np.float64], intercepts: NDArray[np.float64]
) -> tuple[float, float]:
    low, high = np.inf, -np.inf
    for layout, slope, intercept in zip(layouts, slopes, intercepts, strict=True):
        first, last = layout.stored_range
        ends = (first * slope + intercept, last * slope + intercept)
        low, high = min(low, *ends), max(high, *ends)
    return float(low), float(high)


def _fits(dtype: np.dtype[Any], low: float, high: float) -> bool:
    info = np.iinfo(dtype)
    return bool(info.min <= low and high <= info.max)


@dataclass
class _Work:
    """Where one file's frames go: (frame index in the file, slot in the output), or its mosaic's (tile, slot)."""

    header: Header
    layout: PixelLayout
    targets: list[tuple[int, int]]
    tiles: list[tuple[Tile, int]]


def read_frames(
    frames: Sequence[Frame],
    layouts: Sequence[PixelLayout],
    plan: OutputPlan,
    read: Callable[[Sequence[Header], Callable[[Header, BinaryIO], None]], None],
    tick: Callable[[int], None],
) -> NDArray[Any]:
    """Read every frame into one array of shape ``plan.shape`` (slices first) and rescale it.

    Parameters
    ----------
    frames, layouts : sequence
        The frames in stack order and the layout of each one's file.
    plan : OutputPlan
        From :func:`plan_output`.
    read : callable
        ``read(headers, function)`` calls ``function(header, stream)`` for each file,
        perhaps concurrently.
    tick : callable
        Called with the number of frames done after each file.

    Returns
    -------
    ndarray
        Shape ``plan.shape``, type ``plan.dtype``.
    """
    work: dict[int, _Work] = {}
    for slot, (frame, layout) in enumerate(zip(frames, layouts, strict=True)):
        entry = work.setdefault(id(frame.header), _Work(frame.header, layout, [], []))
        if frame.tile is None:
            entry.targets.append((frame.index or 0, slot))
        else:
            entry.tiles.append((frame.tile, slot))
    output = np.empty(plan.shape, dtype=plan.stored if plan.in_place else plan.dtype)
    identity = bool(np.all(plan.slopes == 1) and np.all(plan.intercepts == 0))  # nothing to rescale
    pending: list[int] = []  # slots whose values did not fit the integer type
    lock = threading.Lock()
    local = threading.local()

    def scratch(shape: tuple[int, ...], dtype: np.dtype[Any], name: str = "buffer") -> NDArray[Any]:
        buffer: NDArray[Any] | None = getattr(local, name, None)
        if buffer is None or buffer.shape != shape or buffer.dtype != dtype:
            buffer = np.empty(shape, dtype=dtype)
            setattr(local, name, buffer)
        return buffer

    def place(slot: int, raw: NDArray[Any]) -> None:
        """Rescale one frame, already in `raw` (the output slot itself when in place)."""
        slope, intercept = plan.slopes[slot], plan.intercepts[slot]
        if plan.in_place:
            if plan.scan and not _frame_fits(raw, slope, intercept, plan.dtype):
                with lock:
                    pending.append(slot)
                return
            if slope != 1 or intercept != 0:
                _rescale_in_place(raw, int(slope), int(intercept))
        elif slope == 1 and intercept == 0:
            output[slot] = raw
        else:
            output[slot] = raw * slope + intercept

    def one_file(header: Header, stream: BinaryIO) -> None:
        entry = work[id(header)]
        layout = entry.layout
        if entry.tiles:
            _mosaic(stream, header, entry, lambda shape, dtype: scratch(shape, dtype, "mosaic"), _store_tiles)
        elif layout.native:
            for index, slot in entry.targets:
                target = output[slot] if plan.in_place else scratch(plan.shape[1:], plan.stored)
                _read_native(stream, header, layout, index, target)
                place(slot, target)
        else:
            _decode(stream, header, entry.targets, lambda slot, frame: _store(slot, frame))
        tick(len(entry.targets) + len(entry.tiles))

    def _store_tiles(slots: list[int], tiles: NDArray[Any]) -> None:
        """Store the tiles of one mosaic (a (tiles, rows, columns) array) in their slots."""
        if not plan.in_place:
            for slot, tile in zip(slots, tiles, strict=True):
                place(slot, tile)
            return
        if not np.can_cast(tiles.dtype, output.dtype, "same_kind") or tiles.shape[1:] != output.shape[1:]:
            raise DataError(f"the decoded mosaic's tiles ({tiles.dtype}, {tiles.shape[1:]}) do not fit the volume")
        output[slots] = tiles
        if plan.scan or not identity:
            for slot in slots:
                place(slot, output[slot])

    def _store(slot: int, frame: NDArray[Any]) -> None:
        if plan.in_place:
            try:
                np.copyto(output[slot], frame.reshape(plan.shape[1:]), casting="same_kind")
            except (TypeError, ValueError) as error:
                raise DataError(f"a decoded frame does not fit the volume ({error})") from error
            place(slot, output[slot])
        else:
            place(slot, frame.reshape(plan.shape[1:]))

    read([entry.header for entry in work.values()], one_file)
    if not plan.in_place:
        return output
    if pending:  # some frames do not fit the integer type: float32 for all, exactly
        result = np.empty(plan.shape, dtype=np.float32)
        done = set(pending)
        for slot in range(plan.shape[0]):
            if slot in done:
                result[slot] = output[slot] * plan.slopes[slot] + plan.intercepts[slot]
            else:
                result[slot] = output[slot].view(plan.dtype)
        return result
    return output.view(plan.dtype) if output.dtype != plan.dtype else output


def _frame_fits(raw: NDArray[Any], slope: float, intercept: float, dtype: np.dtype[Any]) -> bool:
    low, high = float(raw.min()), float(raw.max())
    ends = (low * slope + intercept, high * slope + intercept)
    return _fits(dtype, min(ends), max(ends))


def _rescale_in_place(raw: NDArray[Any], slope: int, intercept: int) -> None:
    """value x slope + intercept, modulo 2**bits on the unsigned view: exact when the result fits."""
    bits = raw.dtype.itemsize * 8
    unsigned = raw.view(f"u{raw.dtype.itemsize}")
    if slope != 1:
        np.multiply(unsigned, unsigned.dtype.type(slope % 2**bits), out=unsigned)
    if intercept != 0:
        np.add(unsigned, unsigned.dtype.type(intercept % 2**bits), out=unsigned)


def _descriptor(stream: BinaryIO) -> int | None:
    """The file descriptor of a file on disk, for positional reads; None for streams in memory."""
    if not hasattr(os, "preadv"):  # pragma: no cover - Windows
        return None
    try:
        return stream.fileno()
    except (AttributeError, OSError, io.UnsupportedOperation):
        return None


def _read_native(stream: BinaryIO, header: Header, layout: PixelLayout, index: int, target: NDArray[Any]) -> None:
    pixel = header.pixel
    assert pixel is not None and pixel.offset is not None
    view = target.reshape(-1).view(np.uint8).data  # the slot's own memory: it is contiguous
    start = pixel.offset + index * layout.frame_bytes
    descriptor = _descriptor(stream)
    if descriptor is None:
        stream.seek(start)
    done = 0
    while done < layout.frame_bytes:
        if descriptor is not None:  # one system call, no seek
            count = os.preadv(descriptor, [view[done:]], start + done)
        else:
            count = stream.readinto(view[done:])  # type: ignore[attr-defined]
        if not count:
            raise FormatError(
                f"the pixel data of frame {index + 1} ends after {done} of {layout.frame_bytes} bytes (truncated)",
                path=header.name,
            )
        done += count
    if not header.little_endian and layout.bits_allocated > 8:
        target.byteswap(inplace=True)
    if layout.bits_stored < layout.bits_allocated and layout.dtype.kind in "iu":
        shift = layout.bits_allocated - layout.bits_stored  # PS3.5 8.1.1: unused high bits are not data
        np.left_shift(target, shift, out=target)
        np.right_shift(target, shift, out=target)


def _mosaic(
    stream: BinaryIO,
    header: Header,
    entry: _Work,
    scratch: Callable[[tuple[int, ...], np.dtype[Any]], NDArray[Any]],
    store: Callable[[list[int], NDArray[Any]], None],
) -> None:
    """Read a mosaic's image once (into `scratch`, or decoded by pydicom), then store its tiles in their slots.

    The tiles are cut out with one indexing of the image seen as (grid, tile rows, grid,
    tile columns): one copy of the tiles wanted, whatever their number.
    """
    layout = entry.layout
    mosaic = entry.tiles[0][0].mosaic  # one file, one mosaic
    numbers = np.array([tile.number for tile, _ in entry.tiles], dtype=np.intp)
    slots = [slot for _, slot in entry.tiles]

    def cut(image: NDArray[Any]) -> None:
        if image.shape[:2] != mosaic.image_shape:
            raise DataError(
                f"the decoded mosaic image is {image.shape[0]} x {image.shape[1]} pixels, not the "
                f"{mosaic.grid} x {mosaic.grid} tiles of {mosaic.rows} x {mosaic.columns} its header says",
                path=header.name,
            )
        if mosaic.leftover != (0, 0):  # rows and columns past the last tile hold no slice
            image = image[: mosaic.grid * mosaic.rows, : mosaic.grid * mosaic.columns]
        grid = image.reshape(mosaic.grid, mosaic.rows, mosaic.grid, mosaic.columns, *image.shape[2:])
        store(slots, grid[numbers // mosaic.grid, :, numbers % mosaic.grid])

    if layout.native:
        image = scratch((layout.rows, layout.columns), layout.dtype)
        _read_native(stream, header, layout, 0, image)
        cut(image)
    else:
        _decode(stream, header, [(0, 0)], lambda _, image: cut(image))


def _decode(
    stream: BinaryIO, header: Header, targets: list[tuple[int, int]], store: Callable[[int, NDArray[Any]], None]
) -> None:
    """Decode frames through pydicom (compressed, deflated, bit-packed or colour data).

    A deflated data set (PS3.5 A.5) is inflated by reading it whole with pydicom first:
    pydicom's frame iterator reads files as stored, where the pixel data is deflated too.
    """
    from pydicom import dcmread
    from pydicom.pixels.utils import iter_pixels
    from pydicom.uid import UID

    wanted = dict(targets)
    indices = sorted(wanted)
    source: BinaryIO = stream
    if not stream.seekable():  # pragma: no cover - every source gives seekable streams
        source = io.BytesIO(stream.read())
    stream.seek(0)
    try:
        inflated = dcmread(source) if UID(header.transfer_syntax).is_deflated else None
        frames = iter_pixels(source if inflated is None else inflated, indices=indices)
        for index, frame in zip(indices, frames, strict=True):
            store(wanted[index], frame)
    except (MissingDependencyError, DataError):
        raise
    except Exception as error:  # pydicom and the decoder plugins raise many kinds
        raise FormatError(
            f"cannot decode the pixel data ({type(error).__name__}: {error})", path=header.name
        ) from error
