"""Work units on a pool of worker processes forked from this one (the embedded default of
`deltarad.parallel`): no start-up imports, and a worker that dies costs only its own unit.

A worker that dies (killed for memory, a crash in C code) breaks the whole pool and fails every
unit in flight with it. Those units are then run again one at a time, each in a fresh
one-process pool: the innocent ones give their results, the one that kills its worker on its own
is a failure of stage "worker", as a KilledWorker is on Dask.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from typing import Any


def available() -> bool:
    """Whether this OS can fork processes (Linux, macOS)."""
    return "fork" in multiprocessing.get_all_start_methods()


@contextmanager
def started(workers: int) -> Iterator[ProcessPoolExecutor]:
    """A pool of `workers` processes, all forked on entry: before the caller starts threads of its
    own (a progress bar), which a fork would copy in whatever state they hold their locks."""
    pool = ProcessPoolExecutor(max_workers=max(1, workers), mp_context=multiprocessing.get_context("fork"))
    try:
        pool.submit(int).result()  # the fork context starts every worker at the first submit
        yield pool
    finally:
        pool.shutdown(cancel_futures=True)


def map_guarded(
    pool: ProcessPoolExecutor,
    guarded: Callable,
    func: Callable,
    units: Sequence[Any],
    labels: Sequence[str],
    finish: Callable[[int, Any], None],
    failure: type,
) -> None:
    """finish(i, guarded(func, units[i], i, labels[i])) for every unit, as each completes, on
    `pool`; a unit whose worker died gives failure(i, label, "worker", why)."""
    lost = _run(pool, guarded, func, units, labels, finish, range(len(units)))
    for i in sorted(lost):
        with started(1) as alone:
            died = _run(alone, guarded, func, units, labels, finish, [i])
        if died:
            finish(
                i,
                failure(
                    i,
                    labels[i],
                    "worker",
                    "the worker process running this unit died (killed for memory, or a crash in compiled code)",
                ),
            )


def _run(pool, guarded, func, units, labels, finish, indices) -> set[int]:
    """Run `indices` on `pool`; returns those lost to a broken pool."""
    lost: set[int] = set()
    try:
        pending = {pool.submit(guarded, func, units[i], i, labels[i]): i for i in indices}
    except BrokenProcessPool:  # broken before this run: nothing of it ran
        return set(indices)
    while pending:
        done, _ = wait(pending, return_when=FIRST_COMPLETED)
        for future in done:
            i = pending.pop(future)
            try:
                outcome = future.result()
            except BrokenProcessPool:
                lost.add(i)
                continue
            finish(i, outcome)
    return lost
