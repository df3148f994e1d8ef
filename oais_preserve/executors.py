"""One way to get an Executor: local processes, in-process, or a Dask cluster.

Every parallel step of the library (fixity audits, replication, batch builds) takes a
``concurrent.futures.Executor``; this module makes one from what a user types: ``workers``
(1 = no subprocesses, None = one per core) or a Dask scheduler address
(``tcp://host:8786``). Dask is an optional extra (``pip install oais_preserve[dask]``) and is
imported only when a scheduler is named.

The process pools made here (:func:`process_pool`) are safe to interrupt: their workers ignore
Ctrl-C (the parent stops them, so no worker prints a ``KeyboardInterrupt`` traceback) and exit
as soon as the parent process is gone, even after a ``kill -9``.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, ProcessPoolExecutor
from contextlib import contextmanager
from multiprocessing.connection import wait
from multiprocessing.context import BaseContext
from typing import Any

from .errors import UserInputError

__all__ = ["executor_or_open", "open_executor", "prepare_worker", "process_pool", "stop_workers"]


@contextmanager
def open_executor(
    workers: int | None = None, scheduler: str | None = None, *, connect_timeout: float = 10.0
) -> Iterator[Executor | None]:
    """Yield an executor for ``workers`` local processes or the Dask cluster at ``scheduler``.

    ``None`` is yielded for one worker: the work then runs in this process, which is the
    fastest choice for one core and the easiest to debug. A function that takes both
    ``executor`` and ``workers`` reads ``executor=None`` as "open a pool of ``workers``", so
    pass it the ``workers`` too (see :func:`executor_or_open`). The pool (a :func:`process_pool`)
    or the Dask client is closed on the way out. A Dask executor runs the same top-level
    functions as the process pool, so results are identical; the workers must see the same
    paths (a shared NAS mounted alike).
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
    with process_pool(count) as pool:
        yield pool


@contextmanager
def process_pool(
    workers: int,
    *,
    mp_context: BaseContext | None = None,
    initializer: Callable[[], object] | None = None,
) -> Iterator[ProcessPoolExecutor]:
    """A ``ProcessPoolExecutor`` of ``workers`` processes that an interrupt or a crash cannot orphan.

    Each worker runs :func:`prepare_worker` (then ``initializer``, a top-level function). An
    exception in the ``with`` body cancels the work not yet started; a ``KeyboardInterrupt`` (or
    any other ``BaseException``) also stops the running workers at once, since they ignore Ctrl-C.
    """
    pool = ProcessPoolExecutor(
        max_workers=workers, mp_context=mp_context, initializer=prepare_worker, initargs=(initializer,)
    )
    try:
        try:
            yield pool
        except Exception:
            _shut_down(pool, cancel=True)
            raise
        _shut_down(pool, cancel=False)
    except BaseException as exc:  # Ctrl-C anywhere above, even between the body and the shutdown
        if not isinstance(exc, Exception):
            stop_workers(pool)
        raise


def _shut_down(pool: ProcessPoolExecutor, *, cancel: bool) -> None:
    """Wait for the running work; a Ctrl-C while waiting stops the workers (they ignore it).

    The Ctrl-C must not surface inside ``shutdown``: raised between a lock's acquire and its
    ``with`` block it leaves the executor's lock held, and the executor's own clean-up then waits
    on it forever. So while waiting, Ctrl-C only terminates the workers (the wait then ends at
    once) and ``KeyboardInterrupt`` is raised afterwards.
    """
    interrupted = []

    def on_interrupt(_signum: int, _frame: object) -> None:
        interrupted.append(True)
        _terminate_workers(pool)

    previous = None
    try:
        # only where Ctrl-C would raise here (the main thread, Python's own handler in place)
        main = threading.current_thread() is threading.main_thread()
        if main and signal.getsignal(signal.SIGINT) is signal.default_int_handler:
            previous = signal.signal(signal.SIGINT, on_interrupt)
        pool.shutdown(wait=True, cancel_futures=cancel)
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)
    if interrupted:
        raise KeyboardInterrupt


def prepare_worker(initializer: Callable[[], object] | None = None) -> None:
    """Set up a pool worker: ignore Ctrl-C, exit with the parent, then run ``initializer``.

    Ctrl-C reaches every process of the terminal's group; the parent handles it and stops the
    pool. A worker blocks reading its task queue, whose write end it holds itself, so it never
    sees an end of file when the parent dies: a thread waits on the parent's sentinel instead.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    parent = multiprocessing.parent_process()
    if parent is not None:
        threading.Thread(target=_exit_with_parent, args=(parent.sentinel,), daemon=True).start()
    if initializer is not None:
        initializer()


def _exit_with_parent(sentinel: int) -> None:
    wait([sentinel])  # ready when the parent process has exited, however it ended
    os._exit(1)


def stop_workers(pool: ProcessPoolExecutor) -> None:
    """Terminate the workers now (``terminate_workers`` from Python 3.14 on), then shut down."""
    _terminate_workers(pool)
    pool.shutdown(wait=True, cancel_futures=True)


def _terminate_workers(pool: ProcessPoolExecutor) -> None:
    try:
        processes = list((getattr(pool, "_processes", None) or {}).values())
    except RuntimeError:  # the manager thread changed the table meanwhile: read it again
        processes = list((getattr(pool, "_processes", None) or {}).values())
    for process in processes:
        if process.exitcode is None:
            process.terminate()


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
