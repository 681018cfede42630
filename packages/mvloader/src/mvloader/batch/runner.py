"""`convert_tree`: convert every input under a folder, in parallel, resumably."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mvl.coords import InputError, MissingDependencyError, normalize_system
from mvl.coords.compression import gzip_backend, usable_cpus

from .. import registry
from .discovery import discover
from .items import Item, convert_item
from .manifest import MANIFEST_JSONL, Record, append_record, read_records, write_csv

__all__ = ["BatchResult", "Progress", "convert_tree"]

#: ``progress(done, total, failed)``, called after every finished input.
Progress = Callable[[int, int, int], None]
_SUFFIXES = {"nii.gz": ".nii.gz", "nii": ".nii", "nrrd": ".nrrd", "nhdr": ".nhdr"}


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
    """

    records: list[Record] = field(default_factory=list)
    converted: int = 0
    skipped: int = 0
    failed: int = 0
    seconds: float = 0.0
    manifest: Path = Path()

    @property
    def ok(self) -> bool:
        """bool: True when nothing failed."""
        return self.failed == 0


def _suffix(to: str) -> str:
    key = to.lower().lstrip(".")
    if key not in _SUFFIXES:
        raise InputError(f"cannot convert to {to!r}; choose one of {', '.join(_SUFFIXES)}")
    return _SUFFIXES[key]


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
    to : {"nii.gz", "nii", "nrrd", "nhdr"}, optional
        Output format.
    system : str, optional
        The anatomical system the outputs are aligned to (default ``"RAS"``).
    jobs : int, optional
        How many CPUs to use on this machine (by default all usable ones): as many
        worker processes, each compressing on one thread (or, with fewer inputs than
        `jobs`, on several). ``1`` converts one input after the other in this process.
    scheduler : str, optional
        Address of a running Dask distributed scheduler (``tcp://host:port``): convert
        on its workers instead, which must see `root` and `output_folder` under the
        same paths (a shared file system). Needs ``pip install "mvloader[dask]"``.
    progress : callable, optional
        ``progress(done, total, failed)``, called after every finished input.

    Returns
    -------
    BatchResult

    Raises
    ------
    InputError
        If `root` is not a folder or `to` is not an output format.
    MissingDependencyError
        If `scheduler` is given and dask.distributed is not installed.
    """
    started = time.perf_counter()
    source = Path(root)
    if not source.is_dir():
        raise InputError("the batch root must be a folder", path=source)
    target = Path(output_folder)
    target.mkdir(parents=True, exist_ok=True)
    chosen_system = normalize_system(system)
    suffix = _suffix(to)
    _remove_partial_files(target)

    items = discover(source, suffix, exclude=target)
    previous = read_records(target)
    final: dict[str, Record] = {}
    todo: list[Item] = []
    for item in items:
        record = previous.get(item.key)
        if _already_done(record, target) and record is not None and record.output == item.output:
            final[item.key] = record
        else:
            todo.append(item)
    result = BatchResult(skipped=len(final), manifest=target / MANIFEST_JSONL)
    done = len(final)
    if progress:
        progress(done, len(items), 0)
    try:
        for record in _run(todo, source, target, chosen_system, jobs, scheduler):
            append_record(target, record)
            final[record.key] = record
            done += 1
            if record.status == "done":
                result.converted += 1
            else:
                result.failed += 1
            if progress:
                progress(done, len(items), result.failed)
    finally:
        order = {item.key: index for index, item in enumerate(items)}
        result.records = sorted(final.values(), key=lambda record: order.get(record.key, len(order)))
        write_csv(target, result.records)
        result.seconds = time.perf_counter() - started
    return result


def _run(
    items: list[Item], root: Path, target: Path, system: str, jobs: int | None, scheduler: str | None
) -> Iterator[Record]:
    arguments = (str(root.resolve()), str(target.resolve()), system)
    if scheduler:
        yield from _run_on_dask(items, arguments, scheduler)
        return
    _preload(items, target)
    budget = max(1, jobs or usable_cpus())  # CPUs the batch may use, like make -j
    workers = min(budget, len(items))
    threads = max(1, budget // max(workers, 1))  # gzip threads per worker: together within the budget
    if workers <= 1:
        with _gzip_threads(threads):
            for item in items:
                yield convert_item(item, *arguments)
        return
    with ProcessPoolExecutor(max_workers=workers, initializer=_limit_gzip_threads, initargs=(threads,)) as pool:
        futures: dict[Future[Record], Item] = {pool.submit(convert_item, item, *arguments): item for item in items}
        try:
            for future in as_completed(futures):
                yield _outcome(future, futures[future], system)
        except BaseException:
            for future in futures:
                future.cancel()
            raise


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
            error=f"worker lost: {type(error).__name__}: {error}",
        )
    return record


def _run_on_dask(items: list[Item], arguments: tuple[str, str, str], scheduler: str) -> Iterator[Record]:
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


def _preload(items: list[Item], target: Path) -> None:
    """Import the loaders and the saver now: forked workers inherit them instead of each
    importing nibabel, pydicom & co. on their first input."""
    formats = registry.installed_formats()
    for name in {item.format for item in items}:
        if name in formats:
            formats[name].loader()
    if items:
        registry.format_for_saving(target / items[0].output).saver()
        gzip_backend()  # NIfTI and NRRD outputs are compressed; the backend is imported on first use


def _limit_gzip_threads(threads: int) -> None:
    """Worker initializer: several processes on one machine should not each start a
    compression thread per CPU (see :func:`mvl.coords.compression.write_gzip`)."""
    os.environ["MVL_GZIP_THREADS"] = str(threads)


@contextlib.contextmanager
def _gzip_threads(threads: int) -> Iterator[None]:
    """Limit this process's compression threads for the duration of a batch."""
    before = os.environ.get("MVL_GZIP_THREADS")
    _limit_gzip_threads(threads)
    try:
        yield
    finally:
        if before is None:
            del os.environ["MVL_GZIP_THREADS"]
        else:
            os.environ["MVL_GZIP_THREADS"] = before
