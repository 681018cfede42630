"""Kinds: the images of one series that dcm2niix writes as separate outputs, each loaded on its own.

A series may hold, at the same slice positions, different echoes ((0018,0086) 'Echo
Numbers', (0018,0081) 'Echo Time', (0018,9082) 'Effective Echo Time'), magnitude, phase,
real and imaginary images ((0008,9208) 'Complex Image Component', (0008,0008) 'Image
Type' or (0008,9007) 'Frame Type', GE's and Philips' private image types), other image
types (derived maps such as ADC or trace inside a diffusion series) and CT
reconstructions with different (0018,1210) 'Convolution Kernel'; and copies of a series
under one Series Instance UID with different (0020,0011) 'Series Number' (dcm2niix's QA
data holds one mosaic in nine transfer syntaxes so), which dcm2niix converts as the
separate series they are. Each is a *kind*:
:func:`split_kinds` names each kind and gives the exact ``select=`` that picks it, so
nothing is ever discarded silently. Kinds are ordered by echo number, original before
derived images, then by where their first image comes in the input (file names, then
frame order).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .acquisition import Acquisition
from .frame import Frame
from .selection import Selector, matches, normalized

__all__ = [
    "KindKey",
    "VolumeKind",
    "chosen_kind",
    "kind_key",
    "kind_labels",
    "kinds_message",
    "plain",
    "split_kinds",
]

#: What tells kinds apart: echo number, echo time, image type, complex component, private image type, kernel,
#: series number.
KindKey = tuple[Any, ...]

#: Keywords a kind's ``select=`` is built from, most telling first.
_KIND_KEYWORDS = (
    "SeriesNumber",
    "EchoNumbers",
    "EffectiveEchoTime",
    "EchoTime",
    "ComplexImageComponent",
    "FrameType",
    "ImageType",
    "(0043,102F)",
    "(2005,1011)",
    "ConvolutionKernel",
)
Facts = Mapping[int, Acquisition]


@dataclass(frozen=True)
class VolumeKind:
    """One kind of volume in a series: an echo, a magnitude or phase set, a derived map.

    Attributes
    ----------
    label : str
        How messages name it, e.g. ``"echo 2"``, ``"phase"``; empty when the series has one kind.
    select : dict or None
        The ``select=`` entries that pick exactly these images (empty when there is one
        kind; None when no combination of the standard attributes and the vendors' image
        types picks them alone).
    frames : tuple of Frame
        Its images.
    """

    label: str
    select: dict[str, Any] | None
    frames: tuple[Frame, ...] = field(repr=False)

    @property
    def hint(self) -> str:
        """How a message tells the user to load this kind."""
        if self.select is None:
            return "no select= of single values picks them alone; pass select= with a predicate"
        return f"select={self.select!r}"


def kind_key(facts: Acquisition) -> KindKey:
    """The values that tell one kind of image from another."""
    echo_time = None if facts.echo_time is None else round(facts.echo_time, 4)
    return (
        facts.echo_number,
        echo_time,
        facts.image_type,
        facts.component,
        facts.vendor_image_type,
        facts.kernel,
        facts.series_number,
    )


def split_kinds(
    frames: Sequence[Frame], facts: Facts, *, select: Mapping[str, Selector] | None = None
) -> list[VolumeKind]:
    """Split a series' frames into the kinds of volume dcm2niix writes apart, first kind first.

    Kinds are ordered by series number, echo number, original before derived images
    ((0008,0008) 'Image Type' value 1), then by where their first image comes in the input (file
    names, then frame order). Each kind's :attr:`~VolumeKind.select` is checked to pick
    exactly its frames among `frames`.

    Parameters
    ----------
    frames : sequence of Frame
        The frames of the series (after the user's `select`).
    facts : mapping
        The :class:`~mvl.dicom.acquisition.Acquisition` of each frame, by ``id(frame)``.
    select : mapping, optional
        The user's ``select=``, merged into each kind's.
    """
    groups: dict[KindKey, list[Frame]] = {}
    keys: dict[int, KindKey] = {}  # the tiles of a mosaic share one Acquisition: its key is made once
    for frame in frames:
        acquisition = facts[id(frame)]
        key = keys.get(id(acquisition))
        if key is None:
            key = keys[id(acquisition)] = kind_key(acquisition)
        groups.setdefault(key, []).append(frame)
    if len(groups) == 1:
        return [VolumeKind("", {}, tuple(frames))]
    first_index = {id(frame): index for index, frame in enumerate(frames)}

    def order(item: tuple[KindKey, list[Frame]]) -> tuple[Any, ...]:
        key, members = item
        derived = str(key[2] or "").upper().startswith("DERIVED")
        return (key[6] is None, key[6] or 0, key[0] is None, key[0] or 0, derived, first_index[id(members[0])])

    ordered = sorted(groups.items(), key=order)
    labels = kind_labels([key for key, _ in ordered])
    user = dict(select or {})
    kinds = []
    for key, members in ordered:
        chosen = _select_for(members, frames)
        if chosen is not None and not any(callable(value) for value in user.values()):
            chosen = {**user, **chosen}
        kinds.append(VolumeKind(labels[key], chosen, tuple(members)))
    return kinds


def kind_labels(keys: Iterable[KindKey]) -> dict[KindKey, str]:
    """Name each kind by what tells it from the others: ``"echo 2"``, ``"phase"``, ``"ImageType ..."``.

    Examples
    --------
    >>> kind_labels([(1, 10.0, "ORIGINAL\\\\PRIMARY\\\\M", "MAGNITUDE", None, None, 3),
    ...              (2, 20.0, "ORIGINAL\\\\PRIMARY\\\\M", "MAGNITUDE", None, None, 3)]).values()
    dict_values(['echo 1', 'echo 2'])
    """
    keys = list(dict.fromkeys(keys))
    differs = [len({key[position] for key in keys}) > 1 for position in range(7)]
    return {key: _label(key, differs) for key in keys}


def chosen_kind(kinds: Sequence[VolumeKind], seed: str | None) -> VolumeKind:
    """The kind that holds the file the user named, else the first kind."""
    if seed is not None:
        for kind in kinds:
            if any(frame.header.member.key == seed for frame in kind.frames):
                return kind
    return kinds[0]


def kinds_message(location: str, loaded: VolumeKind, kinds: Sequence[VolumeKind]) -> str:
    """The warning when a series holds several kinds: which was loaded, and how to load each other one."""
    others = "; ".join(f"{kind.label} ({len(kind.frames)} images): {kind.hint}" for kind in kinds if kind is not loaded)
    return (
        f"{location}: the series holds {len(kinds)} kinds of images at the same positions, which are separate "
        f"volumes; loaded {loaded.label} ({len(loaded.frames)} images). The others: {others}"
    )


def _label(key: KindKey, differs: list[bool]) -> str:
    echo, echo_time, image_type, component, vendor_type, kernel, series = key
    parts = []
    if differs[6] and series is not None:
        parts.append(f"series {series}")
    if differs[0] and echo is not None:
        parts.append(f"echo {echo}")
    elif differs[1] and echo_time is not None:
        parts.append(f"echo time {echo_time:g} ms")
    if differs[3] and component is not None:
        parts.append(component.lower())
    elif differs[2] and image_type is not None:
        parts.append(f"ImageType {image_type}")
    elif differs[4] and vendor_type is not None:
        parts.append(f"private image type {vendor_type}")
    if differs[5] and kernel is not None:
        parts.append(f"kernel {kernel}")
    return ", ".join(parts) or "images"


def _select_for(members: list[Frame], frames: Sequence[Frame]) -> dict[str, Any] | None:
    """The fewest ``select=`` entries, most telling keywords first, that pick exactly `members` among `frames`."""
    wanted = {id(frame) for frame in members}
    current = list(frames)
    chosen: dict[str, Any] = {}
    for keyword in _KIND_KEYWORDS:
        values = {plain(member.attribute(keyword)) for member in members}
        if len(values) != 1:
            continue
        (value,) = values
        if value is None:
            continue
        kept = [frame for frame in current if matches(frame.attribute(keyword), value)]
        if len(kept) < len(current) and wanted <= {id(frame) for frame in kept}:
            chosen[keyword] = value
            current = kept
        if {id(frame) for frame in current} == wanted:
            return chosen
    return None


def plain(value: Any) -> Any:
    """A value as ``select=`` takes it and messages print it: a number, or text with ``\\`` between values."""
    parts = normalized(value)
    if not parts:
        return None
    if len(parts) > 1:
        return "\\".join(str(part).strip() for part in parts)
    (part,) = parts
    try:
        number = float(part)
    except (TypeError, ValueError):
        return str(part).strip()
    if not math.isfinite(number):
        return str(part).strip()
    return int(number) if number == int(number) else number
