"""Mutation fuzzing of the formats' readers: every damaged file ends in a Volume or our error (for tests).

A reader is trusted only when no input makes it fail in a way of its own: every load of
a file must end in a :class:`~mvl.coords.Volume` or an :class:`~mvl.coords.MvlError`
whose message names the file; never another exception, never a hang, never unbounded
memory. :func:`cases` mutates valid seed files deterministically (a seeded
:class:`random.Random`) with the edits that break parsers: bit flips, truncations,
inserted bytes, and 32-bit fields overwritten with extreme values (the lengths and
dimensions of headers). :func:`run_cases` loads each in a worker process with an
address-space limit, a time limit per case, and sorts the outcomes.

Each format package runs a few hundred cases in its tests; ``nox -s fuzz`` runs
100,000 and prints the counts. A finding becomes a regression test with its input.
"""

from __future__ import annotations

import importlib
import random
import signal
import struct
import traceback
import warnings
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path
from typing import Any, Final

from .errors import MvlError

__all__ = ["MUTATIONS", "Case", "Outcome", "cases", "mutate", "run_cases", "summary"]

#: The kinds of edit :func:`mutate` makes.
MUTATIONS: Final = ("flip", "truncate", "insert", "int32")
#: Values a 32-bit field is overwritten with: zero, one, the extremes, and lengths near 2**31 and 2**32.
_EXTREMES: Final = (0, 1, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 0xFFFFFFFE, 0x10000, 0x7FFF, 0xFFFF, 3)


@dataclass(frozen=True)
class Case:
    """One damaged file: its `name` (unique, for messages), the seed it came from, the edit, the bytes."""

    name: str
    seed: str
    mutation: str
    data: bytes


@dataclass(frozen=True)
class Outcome:
    """How loading one case ended.

    Attributes
    ----------
    case : str
        :attr:`Case.name`.
    kind : str
        ``"loaded"`` (a Volume), ``"refused"`` (an MvlError naming the file), or a
        failure: ``"unexpected"`` (another exception, or an MvlError that does not name
        the file), ``"timeout"``, ``"crashed"`` (the worker died: memory, a segfault).
    detail : str
        The exception, for failures.
    """

    case: str
    kind: str
    detail: str = ""

    @property
    def failed(self) -> bool:
        """bool: Whether the reader misbehaved."""
        return self.kind not in ("loaded", "refused")


def mutate(data: bytes, rng: random.Random) -> tuple[bytes, str]:
    """One damaged copy of `data` and the name of the edit (one of :data:`MUTATIONS`).

    Examples
    --------
    >>> damaged, how = mutate(bytes(100), random.Random(1))
    >>> how in MUTATIONS and damaged != bytes(100) or len(damaged) != 100
    True
    """
    how = rng.choice(MUTATIONS)
    if not data:
        return bytes([rng.randrange(256)]), "insert"
    changed = bytearray(data)
    if how == "flip":
        for _ in range(rng.randint(1, 8)):
            changed[rng.randrange(len(changed))] ^= 1 << rng.randrange(8)
    elif how == "truncate":
        del changed[rng.randrange(len(changed)) :]
    elif how == "insert":
        at = rng.randrange(len(changed) + 1)
        changed[at:at] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 16)))
    else:
        at = rng.randrange(max(1, len(changed) - 3))
        value = rng.choice(_EXTREMES)
        changed[at : at + 4] = struct.pack("<I" if rng.random() < 0.5 else ">I", value)[: len(changed) - at]
    return bytes(changed), how


def cases(seeds: Mapping[str, bytes], count: int, seed: int = 0) -> Iterator[Case]:
    """`count` damaged files, spread over the `seeds` (file name -> bytes) in turn, reproducibly from `seed`."""
    rng = random.Random(seed)
    names = sorted(seeds)
    for index in range(count):
        name = names[index % len(names)]
        data, how = mutate(seeds[name], rng)
        yield Case(f"case{index:06d}-{how}-{name}", name, how, data)


def run_cases(
    load: str,
    damaged: Iterable[Case],
    folder: str | Path,
    *,
    timeout: float = 20.0,
    memory_mb: int = 2048,
) -> list[Outcome]:
    """Load each case (written to ``folder/<case>/<seed name>``) with `load` and return the outcomes.

    Parameters
    ----------
    load : str
        ``"module:function"`` called as ``function(path)``, e.g. ``"mvl.nifti:open_image"``.
    damaged : iterable of Case
        From :func:`cases`.
    folder : str or Path
        Where the cases are written, one folder each (a DICOM file loads its folder's series).
    timeout : float, optional
        Seconds one load may take.
    memory_mb : int, optional
        The worker's address-space limit (RLIMIT_AS), MiB.
    """
    root = Path(folder)
    outcomes = []
    worker = _Worker(memory_mb)
    try:
        for case in damaged:
            place = root / case.name
            place.mkdir(parents=True, exist_ok=True)
            path = place / case.seed
            path.write_bytes(case.data)
            outcomes.append(worker.load(load, str(path), case.name, timeout))
    finally:
        worker.stop()
    return outcomes


def summary(outcomes: Iterable[Outcome]) -> dict[str, int]:
    """Counts of each outcome kind, with ``"cases"``.

    Examples
    --------
    >>> summary([Outcome("a", "loaded"), Outcome("b", "refused"), Outcome("c", "refused")])
    {'cases': 3, 'loaded': 1, 'refused': 2}
    """
    counted = Counter(outcome.kind for outcome in outcomes)
    return {"cases": sum(counted.values()), **dict(sorted(counted.items()))}


class _Worker:
    """A process with an address-space limit that loads cases; replaced when it dies or hangs."""

    def __init__(self, memory_mb: int) -> None:
        self.memory_mb = memory_mb
        self.process: Any = None
        self.connection: Any = None

    def _start(self) -> None:
        context = get_context("spawn")
        parent, child = context.Pipe()
        self.process = context.Process(target=_serve, args=(child, self.memory_mb), daemon=True)
        self.process.start()
        child.close()
        self.connection = parent

    def load(self, load: str, path: str, name: str, timeout: float) -> Outcome:
        if self.process is None or not self.process.is_alive():
            self._start()
        try:
            self.connection.send((load, path, name, timeout))
            # The worker's own alarm stops Python code; this catches what it cannot interrupt (a long C call).
            if not self.connection.poll(timeout + _STARTUP_SECONDS):
                self.stop()
                return Outcome(name, "timeout", f"more than {timeout:g} s (the worker was killed)")
            outcome: Outcome = self.connection.recv()
        except (EOFError, OSError):
            self.stop()
            return Outcome(name, "crashed", "the worker process died (memory, or a crash in compiled code)")
        return outcome

    def stop(self) -> None:
        process, connection = self.process, self.connection
        self.process = self.connection = None
        if process is not None:
            if process.is_alive():
                process.kill()
            process.join()
            connection.close()


#: Seconds a fresh worker may take to start and import the reader, beyond the case's own limit.
_STARTUP_SECONDS: Final = 30.0


def _serve(connection: Any, memory_mb: int) -> None:
    import resource

    limit = memory_mb << 20
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    while True:
        try:
            request = connection.recv()
        except EOFError:
            return
        connection.send(_load_one(*request))


class _TimedOut(BaseException):
    """A load ran past its time (a BaseException: the reader's ``except Exception`` cannot swallow it)."""


def _alarm(signum: int, frame: object) -> None:
    raise _TimedOut


def _load_one(load: str, path: str, name: str, timeout: float) -> Outcome:
    module, _, function = load.partition(":")
    reader = getattr(importlib.import_module(module), function)
    signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, timeout)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # warnings are allowed: a load may repair what it says it repaired
            reader(path)
    except _TimedOut:
        return Outcome(name, "timeout", f"more than {timeout:g} s")
    except MvlError as error:
        named = Path(path).name in str(error) or Path(path).parent.name in str(error)
        return Outcome(name, "refused") if named else Outcome(name, "unexpected", f"not naming the file: {error}")
    except MemoryError:
        return Outcome(name, "crashed", "MemoryError: the load needed more than the address-space limit")
    except Exception as error:  # the finding: anything that is not our error
        where = traceback.extract_tb(error.__traceback__)[-1]
        return Outcome(name, "unexpected", f"{type(error).__name__}: {error} ({where.filename}:{where.lineno})")
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
    return Outcome(name, "loaded")
