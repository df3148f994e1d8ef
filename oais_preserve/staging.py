"""Atomic output: build under a temporary sibling, rename into place only when complete and valid.

A crash or ``kill -9`` at any moment leaves either no package or a whole one at the destination;
the leftover ``.NAME.partial`` (a folder, or a file for a ``.tar``/``.zip``) is removed by the
next run, which then finishes the job.
A lock file keeps two processes from building the same package at once.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
from collections.abc import Iterator
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

    One ``sync`` flushes every file and folder of the package before the rename; an fsync per
    file costs far more (measured: 4 ms each on this disk) for the same guarantee.
    """
    os.sync()
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
