"""`convert_tree`: convert every input under a folder, in parallel, resumably."""

from __future__ import annotations

import gc
import logging
import os
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import BrokenExecutor, Future, ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mvl.coords import InputError, MissingDependencyError, normalize_system
from mvl.coords.compression import gzip_backend, usable_cpus

from .. import registry
from .discovery import discover_all
from .items import Item, convert_item
from .manifest import MANIFEST_JSONL, Record, append_record, read_records, write_csv
from .naming import DEFAULT_NAMES, check_template

__all__ = ["BatchResult", "Progress", "convert_tree"]

#: ``progress(done, total, failed)``, called after every finished input.
Progress = Callable[[int, int, int], None]
#: How the error of an input whose worker died starts.
_LOST = "worker lost: "
_log = logging.getLogger(__name__)


@dataclass
class BatchResult:
    """The outcome of one run.

    Attributes
    ----------
    records : list of Record
        The final record of every input (this run's or, for skipped ones, an earlier run's).
    converted, skipped, failed : int
        Counts for this run: newly converted, already done before, failed now.
    seconds : float
        Wall time of the run.
    manifest : pathlib.Path
        The ``manifest.jsonl`` file (``manifest.csv`` lies beside it).
    unread : dict of str to int
        Files of our formats that no installed package reads (a slim install meeting DICOM
        files), by what they hold and the ``pip install`` that reads them
        (:attr:`~mvloader.batch.discovery.Discovery.unread`): not inputs, never passed over silently.
    """

    records: list[Record] = field(default_factory=list)
    converted: int = 0
    skipped: int = 0
    failed: int = 0
    seconds: float = 0.0
    manifest: Path = Path()
    unread: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """bool: True when nothing failed, and something was converted unless nothing was there to convert.

        False for a tree whose files are all of formats that are not installed.
        """
        return self.failed == 0 and not (self.unread and not self.records)


def _suffix(to: str) -> str:
    """The output ending `to` names (``"nii.gz"`` -> ``".nii.gz"``), checked against the formats that save."""
    endings = registry.output_suffixes()
    suffix = "." + to.lower().lstrip(".")
    if suffix not in endings:
        choices = ", ".join(ending.lstrip(".") for ending in endings)
        raise InputError(f"cannot convert to {to!r}; choose one of {choices}")
    registry.format_for_saving(f"output{suffix}")  # a known format that is not installed: its hint, before any work
    return suffix


def _already_done(record: Record | None, output_folder: Path) -> bool:
    if record is None or record.status != "done":
        return False
    output = output_folder / record.output
    return output.is_file() and output.stat().st_size == record.output_bytes


def _remove_partial_files(output_folder: Path) -> None:
    """Temporary files of a save that a killed process never finished (see atomic_write)."""
    for leftover in output_folder.rglob(".*.partial"):
        if leftover.is_file():
            leftover.unlink()


def convert_tree(
    root: str | os.PathLike[str],
    output_folder: str | os.PathLike[str],
    *,
    to: str = "nii.gz",
    system: str = "RAS",
    jobs: int | None = None,
    scheduler: str | None = None,
    progress: Progress | None = None,
    sidecars: bool = True,
    load_options: Mapping[str, Any] | None = None,
    names: str = DEFAULT_NAMES,
) -> BatchResult:
    """Convert every DICOM series, NIfTI and NRRD file under `root` into `output_folder`.

    Each input is loaded, aligned to `system` and saved as `to`, under a predictable,
    collision-free name (see :mod:`mvloader.batch.naming`). One row per input goes to
    the manifest (``manifest.jsonl``, ``manifest.csv``) with its status, shape, spacing
    and error message. A failing input never stops the batch. Running the same call
    again skips what is done (recorded as done, and the output file is there with the
    recorded size) and retries failures, so an interrupted batch resumes where it
    stopped; outputs are written atomically, so a half-written file never counts.

    Parameters
    ----------
    root : str or os.PathLike
        The folder tree to convert (folders, archives, files).
    output_folder : str or os.PathLike
        Where outputs and the manifest go; created if needed.
    to : str, optional
        Output format, as the ending of the output files without its first dot:
        ``"nii.gz"`` (default), ``"nii"``, ``"nrrd"``, ``"nhdr"``, or any other that an
        installed format saves (see :func:`mvloader.registry.output_suffixes`).
    system : str, optional
        The anatomical system the outputs are aligned to (default ``"RAS"``).
    jobs : int, optional
        How many CPUs to use on this machine (by default all usable ones): as many
        worker processes, which first survey the tree side by side and then convert,
        each compressing on one thread (or, with fewer inputs than `jobs`, on several).
        ``1`` surveys and converts one input after the other in this process.
    scheduler : str, optional
        Address of a running Dask distributed scheduler (``tcp://host:port``): convert
        on its workers instead, which must see `root` and `output_folder` under the
        same paths (a shared file system). Needs ``pip install "mvloader[dask]"``.
    progress : callable, optional
        ``progress(done, total, failed)``, called after every finished input.
    sidecars : bool, optional
        Write beside each output what its source format describes it with (default):
        a DICOM series' BIDS JSON sidecar and, for diffusion, ``.bval``/``.bvec``
        (:mod:`mvloader.sidecars`). An input that is already done keeps what it had.
    load_options : mapping, optional
        Options for the loader of every input whose format takes them, as the loaders
        name them (``{"select": {"EchoNumbers": 1}, "skip_broken": True}``;
        :data:`mvl.coords.formats.LOAD_OPTIONS`): ``mvl batch`` passes its loading flags.
    names : str, optional
        The template of a DICOM series' output name (:mod:`mvloader.batch.naming`;
        default :data:`~mvloader.batch.naming.DEFAULT_NAMES`), e.g.
        ``"{patient_id}/{series_number}_{protocol}"``; sanitised and kept inside `output_folder`.

    Returns
    -------
    BatchResult

    Raises
    ------
    InputError
        If `root` is not a folder or `to` is not an output format.
    MissingDependencyError
        If `to` is the ending of a known format that is not installed, or `scheduler`
        is given and dask.distributed is not installed.
    """
    started = time.perf_counter()
    check_template(names)  # before anything is written
    source = Path(root)
    if not source.is_dir():
        raise InputError("the batch root must be a folder", path=source)
    target = Path(output_folder)
    target.mkdir(parents=True, exist_ok=True)
    chosen_system = normalize_system(system)
    suffix = _suffix(to)
    _remove_partial_files(target)
    budget = max(1, jobs or usable_cpus())  # CPUs the batch may use, like make -j
    result = BatchResult(manifest=target / MANIFEST_JSONL)
    tidy = False  # whether a worker may have died mid-save, leaving its temporary file
    try:
        with _LocalPool(budget if scheduler is None else 1, target / f"output{suffix}") as pool:
            found = discover_all(source, suffix, exclude=target, executor=pool.executor(), names=names)
            items, result.unread = found.items, found.unread
            previous = read_records(target)
            final: dict[str, Record] = {}
            todo: list[Item] = []
            for item in items:
                record = previous.get(item.key)
                if _already_done(record, target) and record is not None and record.output == item.output:
                    final[item.key] = record
                else:
                    todo.append(item)
            result.skipped = done = len(final)
            if progress:
                progress(done, len(items), 0)
            arguments = (
                str(source.resolve()),
                str(target.resolve()),
                chosen_system,
                sidecars,
                dict(load_options or {}),
            )
            try:
                tidy = True
                if scheduler:
                    records = _run_on_dask(todo, arguments, scheduler)
                else:
                    records = _run_locally(todo, arguments, budget, pool)
                lost = False
                for record in records:
                    append_record(target, record)
                    final[record.key] = record
                    done += 1
                    if record.status == "done":
                        result.converted += 1
                    else:
                        result.failed += 1
                        lost = lost or record.error.startswith(_LOST)
                    if progress:
                        progress(done, len(items), result.failed)
                tidy = lost
            finally:
                order = {item.key: index for index, item in enumerate(items)}
                result.records = sorted(final.values(), key=lambda record: order.get(record.key, len(order)))
                write_csv(target, result.records)
    finally:
        if tidy:  # the workers are gone now: what they left half-written goes
            _remove_partial_files(target)
        result.seconds = time.perf_counter() - started
    return result


class _LocalPool:
    """Worker processes for surveying and converting on this machine, started on first use.

    With fewer than two CPUs to use there is none (:meth:`executor` returns None). The
    loaders and the saver are imported before the workers start, so that the forked
    workers inherit them instead of each importing nibabel, pydicom & co.
    """

    def __init__(self, workers: int, example_output: Path) -> None:
        self.workers = workers
        self.example_output = example_output
        self._pool: ProcessPoolExecutor | None = None

    def __enter__(self) -> _LocalPool:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)

    def executor(self, *, fresh: bool = False) -> ProcessPoolExecutor | None:
        """The pool (None when there is one CPU); `fresh`: replace it (a worker died)."""
        if self.workers < 2:
            return None
        if fresh and self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
        if self._pool is None:
            _preload(self.example_output)
            self._pool = ProcessPoolExecutor(max_workers=self.workers, initializer=_worker_started)
        return self._pool


def _run_locally(
    items: list[Item], arguments: tuple[str, str, str, bool, dict[str, Any]], budget: int, pool: _LocalPool
) -> Iterator[Record]:
    workers = min(budget, len(items))
    threads = max(1, budget // max(workers, 1))  # compression threads per input: together within the budget
    executor = pool.executor() if workers > 1 else None
    if executor is None:
        for item in items:
            yield convert_item(item, *arguments, threads)
        return

    def submit_all(executor: ProcessPoolExecutor) -> dict[Future[Record], Item]:
        return {executor.submit(convert_item, item, *arguments, threads): item for item in items}

    try:
        futures = submit_all(executor)
    except BrokenExecutor:  # a worker died while the tree was surveyed: start afresh
        futures = submit_all(pool.executor(fresh=True) or executor)
    try:
        for future in as_completed(futures):
            yield _outcome(future, futures[future], arguments[2])
    except BaseException:
        for future in futures:
            future.cancel()
        raise


def _worker_started() -> None:
    """Worker initializer: the objects inherited from the parent are left out of garbage collection.

    A forked worker shares the parent's memory until it writes to it, and a full
    collection writes to every object it visits: it copied most of the parent's heap
    into both workers at once, stalling them for ~30 ms in the middle of a survey.
    """
    gc.freeze()


def _outcome(future: Any, item: Item, system: str) -> Record:
    """The record a finished future holds, or a failure record if its worker died."""
    try:
        record: Record = future.result()
    except Exception as error:  # the worker process died (killed, out of memory) or Dask lost it
        return Record(
            key=item.key,
            source=item.source,
            series_uid=item.series_uid,
            output=item.output,
            status="failed",
            system=system,
            error=f"{_LOST}{type(error).__name__}: {error}",
        )
    return record


def _run_on_dask(
    items: list[Item], arguments: tuple[str, str, str, bool, dict[str, Any]], scheduler: str
) -> Iterator[Record]:
    try:
        from distributed import Client
        from distributed import as_completed as dask_completed
    except ImportError as error:
        raise MissingDependencyError('a Dask scheduler needs dask.distributed: pip install "mvloader[dask]"') from error
    with Client(scheduler) as client:  # type: ignore[no-untyped-call]
        futures = {client.submit(convert_item, item, *arguments, pure=False): item for item in items}
        try:
            for future in dask_completed(futures):  # type: ignore[no-untyped-call]
                yield _outcome(future, futures[future], arguments[2])
        except BaseException:
            client.cancel(list(futures))
            raise


def _preload(example_output: Path) -> None:
    """Import the loaders, the saver of `example_output`'s format and the gzip backend now.

    A loader that cannot be imported here is left to fail where it is used, as a
    failed input.
    """
    for fmt in registry.installed_formats().values():
        try:
            fmt.loader()
        except Exception as error:  # noqa: PERF203 - a plugin's loader: its inputs fail later, with this error
            _log.debug("not importing the loader of %s before the workers start: %s", fmt.name, error)
    registry.format_for_saving(example_output).saver()
    gzip_backend()
