"""Atomic output: build under a temporary sibling, rename into place only when complete and valid.

A crash or ``kill -9`` at any moment leaves either no package or a whole one at the destination;
the leftover ``.NAME.partial`` (a folder, or a file for a ``.tar``/``.zip``) is removed by the
next run, which then finishes the job.
A lock file keeps two processes from building the same package at once.
"""

from __future__ import annotations

import ctypes
import fcntl
import functools
import hashlib
import os
import shutil
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from .errors import UserInputError


def partial_path(final: Path) -> Path:
    return final.with_name(f".{final.name}.partial")


@contextmanager
def staged_output(final: Path) -> Iterator[Path]:
    """Yield an empty staging folder beside ``final``; the caller calls :func:`publish` at the end.

    If the block raises, the staging folder is removed and nothing appears at ``final``.
    """
    final.parent.mkdir(parents=True, exist_ok=True)
    lock_path = final.with_name(f".{final.name}.lock")
    with exclusive_lock(lock_path, final):
        stage = partial_path(final)
        remove_leftover(stage)  # left by an interrupted run, and we hold the lock
        stage.mkdir()
        try:
            yield stage
        finally:
            if stage.exists() or stage.is_symlink():
                remove_leftover(stage)


def remove_leftover(path: Path) -> None:
    """Remove a staging leftover, whatever it is: a folder (a bag), a file (a .tar/.zip) or a link."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


@contextmanager
def exclusive_lock(lock_path: Path, final: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``lock_path``; the file is removed by its holder on the way out.

    A second process asking for the same lock is refused at once (:class:`UserInputError`
    naming ``final``), not queued: two writers of one output is a user mistake.

    A process that opened the file just before it was removed would lock an orphan, so after
    locking we check that the file we hold is still the one at ``lock_path``, and retry if not.
    """
    for _attempt in range(10):
        with open(lock_path, "a+b") as lock:
            try:
                fcntl.flock(lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError as exc:
                raise UserInputError(f"{final}: another process is building this package right now") from exc
            try:
                current = os.stat(lock_path).st_ino
            except FileNotFoundError:
                continue
            if current != os.fstat(lock.fileno()).st_ino:
                continue
            try:
                yield
            finally:
                lock_path.unlink(missing_ok=True)
            return
    raise UserInputError(f"{final}: could not take the build lock")


def publish(stage: Path, final: Path) -> None:
    """Make the staged package durable, then rename it into place in one step.

    One ``syncfs`` flushes every file and folder of the package before the rename; an fsync per
    file costs far more (measured: 4 ms each on this disk) for the same guarantee.
    """
    sync_filesystem(stage)
    if final.exists():
        raise UserInputError(f"{final}: already exists")
    os.rename(stage, final)
    fsync_dir(final.parent)


def fsync_dir(path: Path) -> None:
    """Make a rename inside ``path`` durable (the folder entry reaches the disk)."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


SYNC_STEP = 256 << 20


class SyncBehind:
    """Flushes written data to the disk on a helper thread, each time ``step`` more bytes are written.

    Left alone, the kernel keeps gigabytes dirty and the final ``fsync`` waits for all of them at
    once, with the CPUs idle. Flushed behind the writer, the disk works while the writer goes on,
    and the final flush has little left. ``flush(upto)`` does the flushing: see :func:`file_flusher`.
    """

    def __init__(self, flush: Callable[[int], None], step: int = SYNC_STEP) -> None:
        self._flush = flush
        self._step = step
        self._written = self._asked = self._flushed = 0
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._stopping = False  # no new requests; the thread ends once the asked flush is done
        self._abandoned = False  # the thread ends after the flush under way, if any
        self._error: OSError | None = None

    def wrote(self, count: int) -> None:
        """``count`` more bytes were written (from any thread)."""
        with self._cond:
            self._written += count
            if self._written - self._asked < self._step or self._stopping:
                return
            self._asked = self._written
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="sync-behind", daemon=True)
                self._thread.start()
            self._cond.notify()

    def _run(self) -> None:
        while True:
            with self._cond:
                while self._asked == self._flushed and not self._stopping:
                    self._cond.wait()
                if self._abandoned or self._asked == self._flushed:
                    return
                upto = self._asked
            try:
                self._flush(upto)
            except OSError as exc:  # reported by finish(); the final flush would fail the same way
                with self._cond:
                    self._error = exc
                return
            with self._cond:
                self._flushed = upto

    def _end(self, *, abandon: bool) -> None:
        with self._cond:
            self._stopping = True
            self._abandoned = abandon
            self._cond.notify()
        if self._thread is not None:
            self._thread.join()

    def stop(self) -> None:
        """After a failure: end the helper thread, finishing only a flush already under way."""
        self._end(abandon=True)

    def finish(self) -> None:
        """End the helper thread once every asked flush is done; raise the error of a failed one.

        The caller still makes the last flush (of what was written since the last request).
        """
        self._end(abandon=False)
        if self._error is not None:
            raise self._error


def filesystem_flusher(path: Path) -> Callable[[int], None]:
    """Flush for :class:`SyncBehind` over many files written to the filesystem holding ``path``.

    Linux's ``syncfs`` flushes that filesystem only (not every mounted one, which could be a
    hung network share); elsewhere ``sync`` does.
    """

    def flush(_upto: int) -> None:
        sync_filesystem(path)

    return flush


def sync_filesystem(path: Path) -> None:
    """Flush every file of the filesystem that holds ``path`` to its disk."""
    syncfs = _libc_syncfs()
    if syncfs is None:
        os.sync()
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        if syncfs(fd) != 0:
            error = ctypes.get_errno()
            raise OSError(error, f"syncfs: {os.strerror(error)}", str(path))
    finally:
        os.close(fd)


@functools.lru_cache(maxsize=1)
def _libc_syncfs() -> Callable[[int], int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        function: Callable[[int], int] = libc.syncfs
    except (OSError, AttributeError):
        return None
    return function


def file_flusher(fd: int) -> Callable[[int], None]:
    """Flush for :class:`SyncBehind` over one file written front to back.

    Flushed pages are also dropped from the page cache: a file written once for someone else
    (a handover tar) should not push out what the machine is using.
    """

    def flush(upto: int) -> None:
        os.fdatasync(fd)
        if hasattr(os, "posix_fadvise"):
            os.posix_fadvise(fd, 0, upto, os.POSIX_FADV_DONTNEED)

    return flush


class HashingWriter:
    """A binary file that hashes what is written to it: our XML is never read back to hash it."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._fh = open(path, "xb")  # noqa: SIM115 - closed in close()
        self._sha = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self._sha.update(data)
        self.size += len(data)
        return self._fh.write(data)

    def flush(self) -> None:
        self._fh.flush()

    def close(self) -> None:
        self._fh.close()

    @property
    def sha256(self) -> str:
        return self._sha.hexdigest()

    def __enter__(self) -> HashingWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
