"""The loading flags of the ``mvl`` command, and the Python hints of messages in their words.

The loaders' messages tell a Python user what to pass (``select={'EchoNumbers': 2}``,
``allow_incomplete_volumes=True``); the ``mvl`` command prints them with the flag that does
the same (``--select EchoNumbers=2``, ``--allow-incomplete-volumes``), so that every hint it
prints works when followed at the prompt. Each flag passes one load option that a format
declares (:mod:`mvl.coords.formats`); a flag given for a format that does not take it is
an error naming the formats that do.
"""

from __future__ import annotations

import argparse
import ast
import os
import re
import shlex
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from mvl.coords import InputError
from mvl.coords.formats import (
    ALLOW_INCOMPLETE_VOLUMES,
    ALLOW_MIXED_ORIENTATIONS,
    ALLOW_NONUNIFORM_SPACING,
    PHILIPS_SCALING,
    SELECT,
    SKIP_BROKEN,
    SPACING_TOLERANCE,
    Format,
)

__all__ = ["FLAGS", "LoadFlag", "add_load_flags", "cli_hints", "load_options", "select_value"]


@dataclass(frozen=True)
class LoadFlag:
    """A flag of ``mvl`` that passes one load option.

    Attributes
    ----------
    option : str
        The load option (keyword of the loaders).
    flag : str
        The command-line flag.
    help : str
        Its help text.
    switch : bool
        A flag without a value (the option is True when given).
    """

    option: str
    flag: str
    help: str
    switch: bool = False


def select_value(text: str) -> tuple[str, Any]:
    """One ``--select KEY=VALUE``: the attribute and its value (a number where it is one).

    Examples
    --------
    >>> select_value("EchoNumbers=2"), select_value("ImageType=ORIGINAL\\\\PRIMARY\\\\P")
    (('EchoNumbers', 2), ('ImageType', 'ORIGINAL\\\\PRIMARY\\\\P'))
    """
    key, separator, value = text.partition("=")
    if not separator or not key.strip():
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE (a DICOM keyword or tag, and its value), got {text!r}")
    parsed: Any = value
    for kind in (int, float):
        try:
            parsed = kind(value)
        except ValueError:
            continue
        break
    return key.strip(), parsed


def _tolerance(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None


#: The flags, in the order ``--help`` lists them.
FLAGS: tuple[LoadFlag, ...] = (
    LoadFlag(SELECT, "--select", "keep images whose attribute has this value, e.g. EchoNumbers=2 (repeatable)"),
    LoadFlag(ALLOW_INCOMPLETE_VOLUMES, "--allow-incomplete-volumes", "load the complete volumes only", True),
    LoadFlag(ALLOW_MIXED_ORIENTATIONS, "--allow-mixed-orientations", "keep the largest group of one orientation", True),
    LoadFlag(
        ALLOW_NONUNIFORM_SPACING, "--allow-nonuniform-spacing", "load uneven slices with their average step", True
    ),
    LoadFlag(SPACING_TOLERANCE, "--spacing-tolerance", "largest slice deviation, as a fraction of the step"),
    LoadFlag(SKIP_BROKEN, "--skip-broken", "skip unreadable files with a warning", True),
    LoadFlag(PHILIPS_SCALING, "--philips-scaling", "standard (DICOM rescale) or precise (Philips' float values)"),
)
_TYPES: dict[str, Callable[[str], Any]] = {SELECT: select_value, SPACING_TOLERANCE: _tolerance}


def add_load_flags(parser: argparse.ArgumentParser) -> None:
    """Add every loading flag to `parser`."""
    for item in FLAGS:
        destination = item.option
        if item.switch:
            parser.add_argument(item.flag, dest=destination, action="store_true", default=None, help=item.help)
        elif item.option == SELECT:
            parser.add_argument(
                item.flag, dest=destination, metavar="KEY=VALUE", action="append", type=select_value, help=item.help
            )
        elif item.option == PHILIPS_SCALING:
            parser.add_argument(item.flag, dest=destination, choices=("standard", "precise"), help=item.help)
        else:
            parser.add_argument(item.flag, dest=destination, type=_TYPES[item.option], help=item.help)


def load_options(
    args: argparse.Namespace, fmt: Format, formats: Mapping[str, Format], path: str | os.PathLike[str]
) -> dict[str, Any]:
    """The load options the flags in `args` ask for; an error if `fmt` does not take one of them."""
    options: dict[str, Any] = {}
    for item in FLAGS:
        value = getattr(args, item.option, None)
        if value is None:
            continue
        if item.option not in fmt.load_options:
            takers = [name for name, other in formats.items() if item.option in other.load_options]
            raise InputError(
                f"{item.flag} applies to {', '.join(takers) or 'no installed format'}; this is {fmt.name}", path=path
            )
        options[item.option] = dict(value) if item.option == SELECT else value
    return options


def flag_options(args: argparse.Namespace) -> dict[str, Any]:
    """The load options the flags in `args` ask for, whichever format takes them (``mvl batch``)."""
    options: dict[str, Any] = {}
    for item in FLAGS:
        value = getattr(args, item.option, None)
        if value is not None:
            options[item.option] = dict(value) if item.option == SELECT else value
    return options


_SELECT = re.compile(r"select=(\{[^{}]*\})")
_SWITCHES = {item.option: item.flag for item in FLAGS if item.switch}
_SWITCH = re.compile(r"\b(" + "|".join(map(re.escape, _SWITCHES)) + r")=True\b")
_VALUED = {
    "spacing_tolerance=": "--spacing-tolerance FRACTION",
    "series_uid=": "--series UID",
    "select=": "--select KEY=VALUE",
}
_PHILIPS = re.compile(r"philips_scaling=['\"](\w+)['\"]")


def cli_hints(message: str) -> str:
    """A loader's message with its Python hints written as ``mvl`` flags.

    Examples
    --------
    >>> cli_hints("The others: echo 2 (6 images): select={'EchoNumbers': 2}")
    'The others: echo 2 (6 images): --select EchoNumbers=2'
    >>> cli_hints("pass allow_incomplete_volumes=True to load the complete volumes only")
    'pass --allow-incomplete-volumes to load the complete volumes only'
    >>> cli_hints("choose images with select=, or spacing_tolerance= to accept more")
    'choose images with --select KEY=VALUE, or --spacing-tolerance FRACTION to accept more'
    """

    def select(match: re.Match[str]) -> str:
        try:
            chosen = ast.literal_eval(match.group(1))
        except (ValueError, SyntaxError):
            return match.group(0)
        return " ".join(f"--select {shlex.quote(f'{key}={value}')}" for key, value in chosen.items())

    text = _SELECT.sub(select, message)
    text = _SWITCH.sub(lambda match: _SWITCHES[match.group(1)], text)
    text = _PHILIPS.sub(lambda match: f"--philips-scaling {match.group(1)}", text)
    for python, flag in _VALUED.items():
        text = re.sub(rf"\b{re.escape(python)}(?!\{{)", flag, text)
    return text
