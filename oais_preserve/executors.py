"""One way to get an Executor: local processes, in-process, or a Dask cluster.

Every parallel step of the library (fixity audits, replication, batch builds) takes a
``concurrent.futures.Executor``; this module makes one from what a user types: ``workers``
(1 = no subprocesses, None = one per core) or a Dask scheduler address
(``tcp://host:8786``). Dask is an optional extra (``pip install oais_preserve[dask]``) and is
imported only when a scheduler is named.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from concurrent.futures import Executor, ProcessPoolExecutor
from contextlib import contextmanager
from typing import Any

from .errors import UserInputError

__all__ = ["executor_or_open", "open_executor"]


@contextmanager
def open_executor(
    workers: int | None = None, scheduler: str | None = None, *, connect_timeout: float = 10.0
) -> Iterator[Executor | None]:
    """Yield an executor for ``workers`` local processes or the Dask cluster at ``scheduler``.

    ``None`` is yielded for one worker: the work then runs in this process, which is the
    fastest choice for one core and the easiest to debug. The pool or the Dask client is closed
    on the way out. A Dask executor runs the same top-level functions as the process pool, so
    results are identical; the workers must see the same paths (a shared NAS mounted alike).
    """
    if scheduler:
        with _dask_executor(scheduler, connect_timeout) as executor:
            yield executor
        return
    count = workers if workers is not None else (os.cpu_count() or 1)
    if count < 1:
        raise UserInputError(f"workers must be at least 1, not {count}")
    if count == 1:
        yield None
        return
    with ProcessPoolExecutor(max_workers=count) as pool:
        yield pool


@contextmanager
def executor_or_open(
    executor: Executor | None, workers: int | None = None, scheduler: str | None = None
) -> Iterator[Executor | None]:
    """The caller's ``executor`` as it is (left open for the caller), or :func:`open_executor`'s.

    For library functions that take both an ``executor`` and ``workers``: an embedding system
    passes its own pool (or Dask executor) once and keeps it across calls.
    """
    if executor is not None:
        yield executor
        return
    with open_executor(workers, scheduler) as opened:
        yield opened


@contextmanager
def _dask_executor(address: str, connect_timeout: float) -> Iterator[Executor]:
    try:
        from distributed import Client
    except ImportError as exc:
        raise UserInputError(
            "a Dask scheduler was given but dask.distributed is not installed: "
            "pip install 'oais_preserve[dask]'"
        ) from exc
    if "://" not in address:
        address = f"tcp://{address}"
    try:
        client: Any = Client(address, timeout=f"{connect_timeout}s", set_as_default=False)  # type: ignore[no-untyped-call]
    except (OSError, TimeoutError) as exc:
        raise UserInputError(f"cannot reach the Dask scheduler at {address}: {exc}") from exc
    try:
        executor: Executor = client.get_executor()
        yield executor
    finally:
        client.close()
