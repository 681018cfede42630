"""The ``mvl`` command: inspect, list, convert, preview and batch-convert medical image volumes.

Every subcommand takes ``--quiet`` (no progress on the terminal) and ``--debug`` (a full
traceback instead of the one-line message on bad input). Exit codes: 0 success, 1 bad
input or a failed operation, 2 wrong usage, 130 interrupted.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from typing import Any, TextIO

from mvl.coords import InputError, MvlError, Volume, normalize_system
from mvl.coords.formats import PROGRESS, SERIES_UID, SRC_SYSTEM

from ._version import __version__
from .batch.naming import DEFAULT_NAMES, PLACEHOLDERS, check_template
from .cli_options import add_load_flags, cli_hints, flag_options, load_options
from .info import describe, format_description
from .loading import load, save
from .registry import detect_format, format_for_saving, installed_formats, output_suffixes
from .sidecars import sidecar_files, write_sidecars

__all__ = ["main"]


class _Status:
    """One line of progress on stderr when it is a terminal and not silenced."""

    def __init__(self, quiet: bool, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.active = not quiet and self.stream.isatty()
        self._started = time.perf_counter()
        self._message = ""
        self._shown = 0.0

    def __call__(self, message: str) -> None:
        if self.active:
            self._started = time.perf_counter()
            self._message = message
            self._shown = 0.0
            self.stream.write(f"\r\x1b[2K{message} ...")
            self.stream.flush()

    def phase(self, phase: str, done: int, total: int | None) -> None:
        """A loader's progress callback: ``phase(name, done, total)``, shown at most 10 times a second."""
        now = time.perf_counter()
        if not self.active or (now - self._shown < 0.1 and done != total):
            return
        self._shown = now
        count = f"{done}/{total}" if total else str(done)
        self.stream.write(f"\r\x1b[2K{self._message}: {phase} {count} ...")
        self.stream.flush()

    def done(self) -> None:
        if self.active:
            self.stream.write(f" {time.perf_counter() - self._started:.1f} s\n")
            self.stream.flush()


def _system(value: str) -> str:
    try:
        return normalize_system(value)
    except MvlError as error:
        raise argparse.ArgumentTypeError(str(error)) from error


def _load(args: argparse.Namespace, status: _Status) -> tuple[Volume, str]:
    options: dict[str, Any] = {}
    fmt = detect_format(args.path)
    if getattr(args, "series", None):
        if SERIES_UID not in fmt.load_options:
            several = [name for name, other in installed_formats().items() if SERIES_UID in other.load_options]
            raise InputError(
                f"--series applies to input that holds several series ({', '.join(several) or 'none installed'}); "
                f"this is {fmt.name}",
                path=args.path,
            )
        options[SERIES_UID] = args.series
    options.update(load_options(args, fmt, installed_formats(), args.path))
    if status.active:
        options.update(fmt.accepts({PROGRESS: status.phase}))  # e.g. headers and pixels of a long series
    status(f"loading {args.path} ({fmt.name})")
    volume = load(args.path, system=args.system, format=fmt.name, **options)
    status.done()
    return volume, fmt.name


def _info(args: argparse.Namespace, status: _Status, out: TextIO) -> int:
    volume, format_name = _load(args, status)
    summary = describe(volume, path=str(args.path), format_name=format_name)
    out.write(json.dumps(summary, indent=2) if args.json else format_description(summary))
    out.write("\n")
    return 0


def _series(args: argparse.Namespace, status: _Status, out: TextIO) -> int:
    from .dicom import list_series  # DICOM's own listing; without mvl-dicom, the import names the install

    status(f"scanning {args.path}")
    records = [dataclasses.asdict(info) for info in list_series(args.path, recursive=not args.no_recursive)]
    status.done()
    if args.json:
        out.write(json.dumps(records, indent=2, default=str) + "\n")
        return 0
    if not records:
        out.write("no DICOM series found\n")
        return 0
    for record in records:
        record["size"] = f"{record.get('rows')}x{record.get('columns')}" if record.get("rows") else "?"
        if record.get("rows") and record.get("slices"):  # rows x columns x slices: a mosaic's tiles, not its image
            record["size"] += f"x{record['slices']}"
        record["kinds"] = "; ".join(record.get("kinds") or ())
    wanted = [
        "uid",
        "number",
        "modality",
        "description",
        "patient_id",
        "files",
        "frames",
        "volumes",
        "kinds",
        "size",
        "orientation",
        "path",
    ]
    columns = [key for key in wanted if key in records[0]]
    if args.csv:
        writer = csv.DictWriter(out, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        writer.writerows({key: record.get(key, "") for key in columns} for record in records)
        return 0
    widths = {key: max(len(key), *(len(str(record.get(key, ""))) for record in records)) for key in columns}
    for key in columns:
        if key != "uid" and not args.wide:  # UIDs in full, always: they are pasted into --series
            widths[key] = min(widths[key], _NARROW_COLUMN)
    out.write("  ".join(key.ljust(widths[key]) for key in columns).rstrip() + "\n")
    for record in records:
        cells = [_cell(str(record.get(key, "")), widths[key], key == "path").ljust(widths[key]) for key in columns]
        out.write("  ".join(cells).rstrip() + "\n")
    return 0


#: Columns of `mvl series` other than the UID are cut to this width unless --wide.
_NARROW_COLUMN = 48


def _cell(text: str, width: int, from_the_left: bool) -> str:
    """`text` cut to `width`: a path keeps its end (the folder that tells series apart), other text its start."""
    if len(text) <= width:
        return text
    return "..." + text[len(text) - width + 3 :] if from_the_left else text[: width - 3] + "..."


def _convert(args: argparse.Namespace, status: _Status, out: TextIO) -> int:
    target = format_for_saving(args.output)  # fail before the (maybe long) load
    volume, source_format = _load(args, status)
    options: dict[str, Any] = {"src_order": not args.aligned}
    options.update(target.accepts({SRC_SYSTEM: not args.aligned}, saving=True))  # a format that states its world
    status(f"writing {args.output} ({target.name})")
    beside = {}
    if args.sidecar:  # computed before the save: a header that cannot be read again fails before any file is written
        beside = sidecar_files(volume, args.output, source_format=source_format, aligned=args.aligned, source=args.path)
    save(args.output, volume, **options)
    written = write_sidecars(beside)
    status.done()
    if not args.quiet:
        layout = f"aligned to {volume.system}" if args.aligned else "in source voxel order"
        also = f" and {', '.join(path.name for path in written)}" if written else ""
        out.write(f"wrote {args.output} ({target.name}, {layout}){also}\n")
    return 0


def _preview(args: argparse.Namespace, status: _Status, out: TextIO) -> int:
    from .preview import render_preview

    volume, format_name = _load(args, status)
    status(f"drawing {args.output}")
    render_preview(volume, args.output, title=f"{args.path} ({format_name}) in {volume.system}")
    status.done()
    if not args.quiet:
        out.write(f"wrote {args.output}\n")
    return 0


def _batch(args: argparse.Namespace, status: _Status, out: TextIO) -> int:
    from .batch import convert_tree

    bar = _ProgressBar(status)
    try:
        result = convert_tree(
            args.root,
            args.output,
            to=args.to,
            system=args.system,
            jobs=args.jobs,
            scheduler=args.scheduler,
            progress=bar,
            sidecars=args.sidecar,
            load_options=flag_options(args),
            names=args.names,
        )
    finally:
        bar.close()
    out.write(
        f"{len(result.records)} inputs: {result.converted} converted, {result.skipped} already done, "
        f"{result.failed} failed, in {result.seconds:.1f} s; manifest: {result.manifest}\n"
    )
    for what, count in sorted(result.unread.items()):
        out.write(f"  skipped {count} {what} file(s)\n")
    for record in result.records:
        if record.status == "failed":
            out.write(
                f"  failed: {record.source}{' ' + record.series_uid if record.series_uid else ''}: "
                f"{cli_hints(record.error)}\n"
            )
    return 0 if result.ok else 1


class _ProgressBar:
    """Batch progress: a tqdm bar on a terminal when tqdm is installed, else the status line."""

    def __init__(self, status: _Status) -> None:
        self.status = status
        self.bar: Any = None
        self.started = time.perf_counter()
        if status.active:
            try:
                from tqdm import tqdm
            except ImportError:
                return
            self.bar = tqdm(total=0, unit="input", file=status.stream, dynamic_ncols=True)

    def __call__(self, done: int, total: int, failed: int) -> None:
        if self.bar is not None:
            self.bar.total = total
            self.bar.n = done
            self.bar.set_postfix(failed=failed, refresh=False)
            self.bar.refresh()
        else:
            rate = done / max(time.perf_counter() - self.started, 1e-9)
            self.status(f"{done}/{total} inputs, {failed} failed, {rate:.2f}/s")

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
        elif self.status.active:
            self.status.stream.write("\n")


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("-q", "--quiet", action="store_true", help="no progress or confirmations")
    common.add_argument("--debug", action="store_true", help="show the full traceback on errors")

    loading = argparse.ArgumentParser(add_help=False)
    loading.add_argument("path", help="file, DICOM folder or archive")
    loading.add_argument("--system", type=_system, default="RAS", help="anatomical system to align to (default RAS)")
    loading.add_argument(
        "--series",
        metavar="UID-or-NUMBER",
        help="DICOM series to load: its Series Instance UID, or its Series Number when one series has it",
    )
    add_load_flags(loading)

    parser = argparse.ArgumentParser(prog="mvl", description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--version", action="version", version=f"mvl {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    info = commands.add_parser("info", parents=[loading, common], help="format, geometry and values of a volume")
    info.add_argument("--json", action="store_true", help="machine-readable output")
    info.set_defaults(run=_info)

    series = commands.add_parser("series", parents=[common], help="the DICOM series in a folder tree or archive")
    series.add_argument("path", help="folder or archive")
    series.add_argument("--json", action="store_true", help="machine-readable output")
    series.add_argument("--csv", action="store_true", help="comma-separated values, every value in full")
    series.add_argument("--wide", action="store_true", help="no column cut (the UID never is)")
    series.add_argument("--no-recursive", action="store_true", help="only the folder itself, not its sub-folders")
    series.set_defaults(run=_series)

    endings = output_suffixes()
    convert = commands.add_parser(
        "convert", parents=[loading, common], help="write any readable input in a format that saves"
    )
    convert.add_argument("output", help=f"target file, ending in {', '.join(endings)}")
    convert.add_argument("--aligned", action="store_true", help="write the voxels aligned to --system")
    convert.add_argument(
        "--no-sidecar",
        dest="sidecar",
        action="store_false",
        help="write no JSON sidecar (and no .bval/.bvec) beside a DICOM-sourced output",
    )
    convert.set_defaults(run=_convert)

    preview = commands.add_parser("preview", parents=[loading, common], help="PNG of three orthogonal slices")
    preview.add_argument("-o", "--output", required=True, help="PNG file to write")
    preview.set_defaults(run=_preview)

    batch = commands.add_parser(
        "batch", parents=[common], help="convert every series and file of a folder tree (resumable)"
    )
    batch.add_argument("root", help="folder tree with DICOM folders, archives, NIfTI and NRRD files")
    batch.add_argument("output", help="output folder (created); holds manifest.jsonl and manifest.csv")
    batch.add_argument(
        "--to", default="nii.gz", choices=[ending.lstrip(".") for ending in endings], help="output format"
    )
    batch.add_argument("--system", type=_system, default="RAS", help="anatomical system to align to (default RAS)")
    batch.add_argument("--jobs", type=int, default=None, help="CPUs to use: worker processes (default: all CPUs)")
    batch.add_argument("--scheduler", metavar="ADDRESS", help="Dask scheduler, e.g. tcp://host:8786")
    batch.add_argument(
        "--no-sidecar",
        dest="sidecar",
        action="store_false",
        help="write no JSON sidecars (and no .bval/.bvec) beside DICOM-sourced outputs",
    )
    batch.add_argument(
        "--names",
        metavar="TEMPLATE",
        type=_names_template,
        default=DEFAULT_NAMES,
        help="name of a DICOM series' output, e.g. '{patient_id}/{series_number}_{protocol}' "
        f"(default '{DEFAULT_NAMES}'; placeholders: {', '.join(PLACEHOLDERS)})",
    )
    add_load_flags(batch)  # applied to every input whose format takes them
    batch.set_defaults(run=_batch)
    return parser


def main(argv: Sequence[str] | None = None, *, out: TextIO | None = None) -> int:
    """Run the ``mvl`` command; returns the exit code.

    Parameters
    ----------
    argv : sequence of str, optional
        The arguments (default: ``sys.argv[1:]``).
    out : text stream, optional
        Where results go (default: standard output).
    """
    args = _parser().parse_args(argv)
    stream = out or sys.stdout
    status = _Status(args.quiet)
    run: Callable[[argparse.Namespace, _Status, TextIO], int] = args.run
    with warnings.catch_warnings():
        warnings.showwarning = _one_line_warning
        try:
            return run(args, status, stream)
        except KeyboardInterrupt:
            sys.stderr.write("\nmvl: interrupted\n")
            return 130
        except (MvlError, OSError) as error:
            if args.debug:
                raise
            text = cli_hints(str(error))
            sys.stderr.write(f"\nmvl: error: {text}\n" if status.active else f"mvl: error: {text}\n")
            return 1


def _names_template(text: str) -> str:
    try:
        return check_template(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _one_line_warning(message: Warning | str, category: type[Warning], *_: Any, **__: Any) -> None:
    sys.stderr.write(f"mvl: warning: {cli_hints(str(message))}\n")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
