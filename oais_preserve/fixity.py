"""Single-pass reading: every digest, the size and the format identification from one read.

A payload file is opened once, read in chunks, and each chunk feeds every hash, the optional
copy target, and the first/last buffers that format identification needs. Nothing is read twice:
the digests computed here go into METS ``@CHECKSUM``, PREMIS fixity and the bag manifests.
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Executor, Future, wait
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from .errors import UnsafePathError, UserInputError
from .identify import BOF_SIZE, EOF_SIZE, Identification, default_identifier

CHUNK_SIZE = 1 << 20
SUPPORTED_ALGORITHMS = ("sha256", "sha512", "sha1", "md5")
# METS CHECKSUMTYPE spelling of each bag manifest algorithm name.
METS_CHECKSUM_TYPE = {"sha256": "SHA-256", "sha512": "SHA-512", "sha1": "SHA-1", "md5": "MD5"}


@dataclass(frozen=True)
class FileJob:
    """One file to read: where it is, and where its copy goes (None to only read it)."""

    source: Path
    target: Path | None = None
    identify: bool = True
    size_hint: int | None = None  # when the caller already knows it: spares a stat per file


@dataclass(frozen=True)
class FileRecord:
    """What one read of a file tells: the small per-file record kept for the whole build."""

    source: Path
    target: Path | None
    size: int
    digests: dict[str, str]
    identification: Identification | None = None
    mtime: float = 0.0
    extra: dict[str, str] = field(default_factory=dict)


def check_algorithms(algorithms: Sequence[str]) -> tuple[str, ...]:
    """Normalise and check digest algorithm names; SHA-256 is always included (TT05)."""
    names = [a.lower().replace("-", "") for a in algorithms]
    unknown = [a for a in names if a not in SUPPORTED_ALGORITHMS]
    if unknown:
        raise UserInputError(f"unsupported digest algorithm(s): {', '.join(unknown)}")
    ordered = ["sha256", *[a for a in names if a != "sha256"]]
    return tuple(dict.fromkeys(ordered))


def _open_source(path: str | Path) -> int:
    # O_NOFOLLOW: a symlink planted in a source tree must not redirect us elsewhere.
    try:
        # O_NONBLOCK: a FIFO must not block the open before we can see it is not a regular file.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        if os.path.islink(path):
            raise UnsafePathError(f"{path}: symbolic links are refused") from exc
        raise UserInputError(f"{path}: cannot open: {exc.strerror}") from exc
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise UserInputError(f"{path}: not a regular file")
    return fd


# What one read yields besides the job itself: size, digests, identification, mtime.
_Outcome = tuple[int, dict[str, str], Identification | None, float]


def read_file(job: FileJob, algorithms: Sequence[str] = ("sha256",)) -> FileRecord:
    """Read ``job.source`` once: hash it, copy it to ``job.target`` if set, identify it."""
    target = None if job.target is None else str(job.target)
    return _record(job, _read(str(job.source), target, job.identify, algorithms))


def _record(job: FileJob, outcome: _Outcome) -> FileRecord:
    size, digests, identification, mtime = outcome
    return FileRecord(job.source, job.target, size, digests, identification, mtime)


def _read(source: str, target: str | None, identify: bool, algorithms: Sequence[str]) -> _Outcome:
    """The single read itself, on plain strings: workers receive and return only these."""
    hashers = {name: hashlib.new(name) for name in algorithms}
    identifier = default_identifier() if identify else None
    fd = _open_source(source)
    with os.fdopen(fd, "rb", buffering=0) as src:
        info = os.fstat(src.fileno())
        keep_all = False
        kept: list[bytes] = []
        head = b""
        tail = b""
        size = 0
        out = _open_target(target)
        try:
            while chunk := src.read(CHUNK_SIZE):
                for hasher in hashers.values():
                    hasher.update(chunk)
                if out is not None:
                    out.write(chunk)
                if size < BOF_SIZE:
                    head += chunk[: BOF_SIZE - size]
                    if identifier is not None and len(head) >= min(BOF_SIZE, info.st_size):
                        keep_all = identifier.wants_container(head) and (
                            info.st_size <= identifier.max_container_bytes
                        )
                if keep_all:
                    kept.append(chunk)
                tail = (tail + chunk)[-EOF_SIZE:] if len(chunk) < EOF_SIZE else chunk[-EOF_SIZE:]
                size += len(chunk)
        finally:
            if out is not None:
                out.close()
    identification = None
    if identifier is not None:
        container = b"".join(kept) if keep_all else None
        file_name = os.path.basename(source)
        identification = identifier.identify(head, tail, name=file_name, size=size, container=container)
    return size, {name: h.hexdigest() for name, h in hashers.items()}, identification, info.st_mtime


def _open_target(target: str | None) -> BinaryIO | None:
    if target is None:
        return None
    # "xb": never overwrite something already there. The folder is made only when missing:
    # most files of a package share one, and a mkdir per file costs a system call each.
    try:
        return open(target, "xb")
    except FileNotFoundError:
        os.makedirs(os.path.dirname(target), exist_ok=True)
        return open(target, "xb")


def _read_batch(jobs: Sequence[tuple[str, str | None, bool]], algorithms: Sequence[str]) -> list[_Outcome]:
    # Jobs travel as tuples of strings and results as tuples: pickling dataclasses of Path
    # objects both ways cost more than hashing a small file.
    return [_read(source, target, identify, algorithms) for source, target, identify in jobs]


def _batches(jobs: Iterable[FileJob], max_files: int, max_bytes: int) -> Iterator[list[FileJob]]:
    """Group jobs so that each task sent to a worker carries enough work to beat its overhead."""
    batch: list[FileJob] = []
    weight = 0
    for job in jobs:
        batch.append(job)
        if job.size_hint is not None:
            weight += job.size_hint
        else:
            with suppress(OSError):  # read_file reports the problem properly
                weight += job.source.stat().st_size
        if len(batch) >= max_files or weight >= max_bytes:
            yield batch
            batch, weight = [], 0
    if batch:
        yield batch


def iter_read_files(
    jobs: Iterable[FileJob],
    algorithms: Sequence[str] = ("sha256",),
    *,
    executor: Executor | None = None,
    max_pending: int = 8,
) -> Iterator[FileRecord]:
    """Read every job once, through ``executor`` when given; yield records in job order.

    Jobs are consumed lazily and at most ``max_pending`` batches are in flight, so memory stays
    bounded however many files there are. Without an executor the work runs in this process.
    """
    algorithms = check_algorithms(algorithms)
    if executor is None:
        for job in jobs:
            yield read_file(job, algorithms)
        return
    pending: deque[tuple[list[FileJob], Future[list[_Outcome]]]] = deque()

    def records(batch: list[FileJob], future: Future[list[_Outcome]]) -> Iterator[FileRecord]:
        return map(_record, batch, future.result())

    try:
        for batch in _batches(jobs, max_files=256, max_bytes=64 * CHUNK_SIZE):
            wire = [
                (str(job.source), None if job.target is None else str(job.target), job.identify)
                for job in batch
            ]
            pending.append((batch, executor.submit(_read_batch, wire, algorithms)))
            if len(pending) >= max_pending:
                yield from records(*pending.popleft())
        while pending:
            yield from records(*pending.popleft())
    finally:
        # On failure (or when the caller stops early) no worker may go on writing copies into
        # a staging folder that is about to be removed: cancel what has not started, wait for
        # what has.
        futures = [future for _batch, future in pending]
        for future in futures:
            future.cancel()
        wait(futures)


def read_files(
    jobs: Sequence[FileJob],
    algorithms: Sequence[str] = ("sha256",),
    *,
    executor: Executor | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> list[FileRecord]:
    """:func:`iter_read_files` collected into a list, with ``progress(done, total)``."""
    results: list[FileRecord] = []
    for record in iter_read_files(jobs, algorithms, executor=executor):
        results.append(record)
        if progress:
            progress(len(results), len(jobs))
    return results
