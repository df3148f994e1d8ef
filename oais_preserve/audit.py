"""Fixity audits and repair of stored copies: incremental, bounded, resumable, parallel.

An audit checks the files whose last check is oldest first, per location schedule, and records
each file's outcome in the ledger as soon as a batch is done. A run can be bounded by time
(``max_duration``) or bytes (``max_bytes``); a crash or ``kill -9`` loses at most the batch in
flight: the next run starts with what is still due and never re-checks a file whose success was
recorded. Hashing goes through any ``concurrent.futures.Executor`` (local processes or Dask).

Per copy touched, a cheap structure pass (no hashing) finds missing, extra and non-regular files
and a Payload-Oxum mismatch; tag files (manifests, bag-info) are audited like payload files, so a
tampered manifest is found as a changed file. Serialized copies (.tar/.zip) are streamed member by
member, never extracted. Each run adds one PREMIS ``fixity check`` event per copy to the copy's
append-only event log; the AIP itself is never rewritten.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import heapq
import logging
import os
import stat
import threading
import time
import unicodedata
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor, Future
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .archives import scan_archive
from .bag import read_bag_info
from .errors import InvalidPackageError, UserInputError
from .ledger import CopyRow, DueFile, Ledger
from .profile import timestamp
from .records import FaultyFile, archivematica_report, write_premis_event
from .storage import ProgressCallback, StorageConfig, compare_with_ledger, copy_path, event_log_dir

__all__ = ["AuditResult", "RepairResult", "audit", "repair"]

log = logging.getLogger(__name__)
CHUNK_SIZE = 1 << 20
_BATCH_FILES = 64
_BATCH_BYTES = 64 * CHUNK_SIZE
_PAGE = 2048
_COMMIT_SECONDS = 1.0


# --------------------------------------------------------------------------- worker side


_buffers = threading.local()  # one read buffer per worker thread, not one allocation per file
_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)


def _hash_path(path: str) -> tuple[int, str]:
    fd = os.open(path, _OPEN_FLAGS)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise IsADirectoryError(errno.EISDIR, "not a regular file")
        buffer = getattr(_buffers, "buffer", None)
        if buffer is None:
            buffer = _buffers.buffer = bytearray(CHUNK_SIZE)
        view = memoryview(buffer)
        hasher = hashlib.sha256()
        size = 0
        while count := os.readv(fd, [buffer]):
            hasher.update(view[:count])
            size += count
        return size, hasher.hexdigest()
    finally:
        os.close(fd)


def check_file(path: str, size: int, sha256: str) -> tuple[str, str, int]:
    """(outcome, detail, bytes read) of one file against its recorded size and digest."""
    try:
        found_size, digest = _hash_path(path)
    except FileNotFoundError:
        return "missing", "absent", 0
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.EISDIR):
            return "special-file", "symbolic link or not a regular file (refused)", 0
        return "unreadable", f"cannot read: {exc.strerror}", 0
    if found_size != size or digest != sha256:
        return (
            "changed",
            f"expected {size} bytes sha256 {sha256}, found {found_size} bytes sha256 {digest}",
            found_size,
        )
    return "ok", "", found_size


def _check_batch(items: list[tuple[int, str, int, str]]) -> list[tuple[int, str, str, int]]:
    """Worker entry point (top-level: picklable for process pools and Dask)."""
    return [(cf, *check_file(path, size, digest)) for cf, path, size, digest in items]


def _check_archive(path: str, form: str) -> dict[str, tuple[int, str]] | str:
    """Every member's (size, sha256) from one streaming pass, or why the archive cannot be read."""
    try:
        if not os.path.lexists(path):
            return "missing"
        return scan_archive(Path(path), form).files
    except UserInputError as exc:
        return f"unreadable: {exc}"


def walk_copy(root: Path) -> Iterator[tuple[str, int]]:
    """(bag path, size) of every file under a copy; size -1 for a link or special file (not followed)."""
    stack = [(str(root), "")]
    while stack:
        folder, prefix = stack.pop()
        with os.scandir(folder) as entries:
            for entry in entries:
                name = entry.name if entry.name.isascii() else unicodedata.normalize("NFC", entry.name)
                rel = prefix + name
                if entry.is_dir(follow_symlinks=False):
                    stack.append((entry.path, rel + "/"))
                elif entry.is_file(follow_symlinks=False):
                    yield rel, entry.stat(follow_symlinks=False).st_size
                else:
                    yield rel, -1


# --------------------------------------------------------------------------- results


@dataclass
class AuditResult:
    """One audit run: what was checked and every problem found (``ok`` when none)."""

    run_id: int
    state: str  # finished (nothing left due) | stopped (a bound was reached)
    started: str
    finished: str
    locations: list[str]
    files_checked: int = 0
    bytes_checked: int = 0
    copies_touched: int = 0
    failures: list[FaultyFile] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "run_id": self.run_id,
            "state": self.state,
            "started": self.started,
            "finished": self.finished,
            "locations": self.locations,
            "files_checked": self.files_checked,
            "bytes_checked": self.bytes_checked,
            "copies_touched": self.copies_touched,
            "failures": [
                {
                    "objid": f.objid,
                    "location": f.location,
                    "medium": f.medium,
                    "path": f.path,
                    "outcome": f.outcome,
                    "detail": f.detail,
                }
                for f in self.failures
            ],
            "archivematica": archivematica_report(
                self.failures, when=self.finished, checked_files=self.files_checked
            ),
        }


@contextmanager
def _audit_locks(config: StorageConfig, names: Sequence[str]) -> Iterator[None]:
    """One audit per location at a time (a second one is refused, not queued)."""
    with ExitStack() as stack:
        for name in sorted(names):
            lock_path = config.ledger_path.with_name(f".{config.ledger_path.name}.audit-{name}.lock")
            handle = stack.enter_context(open(lock_path, "a+b"))
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise UserInputError(f"another audit of location {name!r} is running now") from None
        yield


class _Run:
    """The coordinator of one audit: picks due files, fans out hashing, records outcomes."""

    def __init__(
        self, config: StorageConfig, ledger: Ledger, run_id: int, names: list[str], cutoffs: dict[str, float]
    ):
        self.config = config
        self.ledger = ledger
        self.run_id = run_id
        self.names = names
        self.cutoffs = cutoffs
        self.copies: dict[int, CopyRow] = {}
        self.objids: dict[int, str] = {}
        self.copy_ok: dict[int, bool] = {}
        self.copy_notes: dict[int, list[str]] = {}
        self.copy_checked: dict[int, int] = {}
        self.done_ids: set[int] = set()
        self.roots: dict[int, str] = {}
        self.pending_records: list[tuple[int | None, int, str, str, str]] = []
        self.pending_bytes = 0
        self.last_commit = time.monotonic()
        self.result_failures: list[FaultyFile] = []
        self.files_checked = 0
        self.bytes_checked = 0

    # -- bookkeeping

    def copy(self, copy_id: int) -> CopyRow:
        if copy_id not in self.copies:
            copy = self.ledger.copy(copy_id)
            self.copies[copy_id] = copy
            self.objids[copy_id] = self.ledger.package_by_id(copy.package_id).objid
            self.copy_ok[copy_id] = True
            self.copy_notes[copy_id] = []
            self.copy_checked[copy_id] = 0
            self._structure(copy)
        return self.copies[copy_id]

    def record(self, cf: int | None, copy_id: int, path: str, outcome: str, detail: str, size: int) -> None:
        if cf is not None:
            if outcome != "ok":  # successes never come back: the due query moves past them
                self.done_ids.add(cf)
            self.files_checked += 1
            self.copy_checked[copy_id] += 1
        self.bytes_checked += size
        self.pending_bytes += size
        self.pending_records.append((cf, copy_id, path, outcome, detail))
        if outcome != "ok":
            copy = self.copies[copy_id]
            location = self.config.location(copy.location)
            full = (
                str(location.path / copy.relpath / path)
                if copy.form == "dir"
                else f"{location.path / copy.relpath}!{path}"
            )
            self.result_failures.append(
                FaultyFile(self.objids[copy_id], copy.location, location.medium, full, outcome, detail)
            )
            self.copy_ok[copy_id] = False
            self.copy_notes[copy_id].append(f"{outcome}: {path}" + (f" ({detail})" if detail else ""))
        if len(self.pending_records) >= 512 or time.monotonic() - self.last_commit > _COMMIT_SECONDS:
            self.commit()

    def commit(self) -> None:
        if self.pending_records:
            self.ledger.record_checks(self.run_id, self.pending_records, self.pending_bytes, time.time())
        self.pending_records, self.pending_bytes = [], 0
        self.last_commit = time.monotonic()

    # -- structure pass (no hashing)

    def _structure(self, copy: CopyRow) -> None:
        if copy.form != "dir":
            return  # the archive pass sees every member
        root = copy_path(self.config, copy)
        expected = self.ledger.copy_file_paths(copy.id)
        if not root.is_dir():
            for rel, cf in expected.items():
                self.record(cf, copy.id, rel, "missing", "the whole copy is absent", 0)
            return
        found: set[str] = set()
        payload_bytes = payload_files = 0
        for rel, size in walk_copy(root):
            found.add(rel)
            if size < 0:
                self.record(
                    expected.get(rel), copy.id, rel, "special-file", "link or not a regular file (refused)", 0
                )
                continue
            if rel.startswith("data/"):
                payload_bytes += size
                payload_files += 1
            if rel not in expected:
                self.record(None, copy.id, rel, "extra", "file not recorded for this package", 0)
        for rel, cf in expected.items():
            if rel not in found and cf not in self.done_ids:
                self.record(cf, copy.id, rel, "missing", "absent", 0)
        self._check_oxum(copy, root, payload_bytes, payload_files)

    def _check_oxum(self, copy: CopyRow, root: Path, octets: int, count: int) -> None:
        try:
            declared = read_bag_info(root).get("Payload-Oxum", [""])[0]
        except (OSError, UserInputError, InvalidPackageError):
            return  # bag-info.txt missing or unreadable: reported as a missing/changed tag file
        if declared != f"{octets}.{count}":
            self.record(
                None,
                copy.id,
                "bag-info.txt",
                "oxum",
                f"Payload-Oxum declares {declared or '(none)'}, payload holds {octets}.{count}",
                0,
            )

    def root_of(self, copy_id: int) -> str:
        """The copy's folder as a string with a trailing separator (cached: called per file)."""
        root = self.roots.get(copy_id)
        if root is None:
            root = self.roots[copy_id] = os.path.join(copy_path(self.config, self.copies[copy_id]), "")
        return root

    # -- choosing work

    def due(self, package_id: int | None) -> Iterator[DueFile]:
        """Due files of every location merged oldest check first, read page by page."""
        streams = [self._due_of(name, package_id) for name in self.names]
        return heapq.merge(*streams, key=lambda d: (d.last_checked, d.copy_file_id))

    def _due_of(self, name: str, package_id: int | None) -> Iterator[DueFile]:
        after = (-1.0, 0)
        while True:
            page = self.ledger.due_page(name, self.cutoffs[name], after, _PAGE, package_id)
            yield from page
            if len(page) < _PAGE:
                return
            after = (page[-1].last_checked, page[-1].copy_file_id)

    # -- archive copies: the whole copy at once

    def finish_archive(self, copy: CopyRow, found: dict[str, tuple[int, str]] | str) -> None:
        states = self.ledger.copy_file_states(copy.id)
        if isinstance(found, str):
            outcome = "missing" if found == "missing" else "unreadable"
            for cf, path, _, _, last, _ in states:
                if cf not in self.done_ids and last < self.cutoffs[copy.location]:
                    self.record(cf, copy.id, path, outcome, found, 0)
            return
        expected = {path: (size, digest) for _, path, size, digest, _, _ in states}
        problems = {p.where: p for p in compare_with_ledger(found, expected)}
        for cf, path, size, _, last, _ in states:
            if cf in self.done_ids or last >= self.cutoffs[copy.location]:
                continue
            problem = problems.get(path)
            if problem is None:
                self.record(cf, copy.id, path, "ok", "", size)
            else:
                self.record(
                    cf,
                    copy.id,
                    path,
                    problem.rule or "changed",
                    problem.value or problem.message,
                    found.get(path, (0, ""))[0],
                )
        for where, problem in problems.items():
            if problem.rule == "extra":
                self.record(None, copy.id, where, "extra", "member not recorded for this package", 0)
        payload = [v for k, v in found.items() if k.startswith("data/")]
        oxum = (sum(s for s, _ in payload), len(payload))
        ledger_oxum = (
            sum(s for k, (s, _) in expected.items() if k.startswith("data/")),
            sum(1 for k in expected if k.startswith("data/")),
        )
        if oxum != ledger_oxum:
            self.record(
                None,
                copy.id,
                "bag-info.txt",
                "oxum",
                f"payload holds {oxum[0]}.{oxum[1]}, recorded {ledger_oxum[0]}.{ledger_oxum[1]}",
                0,
            )


def audit(
    config: StorageConfig,
    *,
    locations: Sequence[str] | None = None,
    package: str | None = None,
    full: bool = False,
    max_duration: float | None = None,
    max_bytes: int | None = None,
    executor: Executor | None = None,
    progress: ProgressCallback | None = None,
    max_pending: int = 16,
) -> AuditResult:
    """Check the due files of ``locations`` (default: all), least recently checked first.

    Due means: last checked longer ago than the location's ``audit_every_days``; with ``full``
    every file is due once in this run (an interrupted full run is resumed by the next one).
    ``package`` limits the run to one OBJID. The run stops starting new work after
    ``max_duration`` seconds or ``max_bytes`` bytes. Raises UserInputError for a bad scope or
    when another audit holds a location.
    """
    names = list(dict.fromkeys(locations or config.locations))
    for name in names:
        config.location(name)
    started_wall = time.time()
    started = timestamp()
    deadline = time.monotonic() + max_duration if max_duration is not None else None
    with config.open_ledger() as ledger, _audit_locks(config, names):
        package_id = None
        if package is not None:
            row = ledger.package(package)
            if row is None:
                raise UserInputError(f"{package}: no such package in the ledger")
            package_id = row.id
        mode = "full" if full else "scheduled"
        run_id = ledger.start_run(
            mode=mode,
            cutoff=started_wall,
            locations=names,
            package=package or "",
            agent=config.agent,
            started=started,
        )
        if full:
            cutoffs = dict.fromkeys(names, ledger.run_cutoff(run_id))
        else:  # each location's own schedule: due when last checked longer ago than its interval
            cutoffs = {n: started_wall - config.location(n).audit_interval for n in names}
        run = _Run(config, ledger, run_id, names, cutoffs)
        totals = [ledger.due_totals(n, cutoffs[n], package_id) for n in names]
        total_files, total_bytes = sum(t[0] for t in totals), sum(t[1] for t in totals)
        if max_bytes is not None:
            total_bytes = min(total_bytes, max_bytes)
        state = _drive(
            run, package_id, executor, deadline, max_bytes, (total_files, total_bytes), progress, max_pending
        )
        run.commit()
        _finish_copies(run)
        summary = ledger.finish_run(run_id, state, timestamp())
    return AuditResult(
        run_id=run_id,
        state=state,
        started=started,
        finished=summary.finished or "",
        locations=names,
        files_checked=run.files_checked,
        bytes_checked=run.bytes_checked,
        copies_touched=len(run.copies),
        failures=run.result_failures,
    )


def _drive(
    run: _Run,
    package_id: int | None,
    executor: Executor | None,
    deadline: float | None,
    max_bytes: int | None,
    totals: tuple[int, int],
    progress: ProgressCallback | None,
    max_pending: int,
) -> str:
    total_files, total_bytes = totals
    submitted = 0
    archives_seen: set[int] = set()
    pending: deque[tuple[Future[Any] | None, Any, Any]] = deque()
    batch: list[tuple[int, str, int, str]] = []
    batch_copy: dict[int, int] = {}
    batch_paths: dict[int, str] = {}
    batch_bytes = 0
    state = "finished"

    def collect(entry: tuple[Future[Any] | None, Any, Any]) -> None:
        future, kind, payload = entry
        value = future.result() if future is not None else payload[1]
        if kind == "files":
            copies, paths = payload[0]
            for cf, outcome, detail, size in value:
                run.record(cf, copies[cf], paths[cf], outcome, detail, size)
        else:
            run.finish_archive(payload[0], value)
        if progress:
            progress("audit files", run.files_checked, total_files)
            progress("audit bytes", min(run.bytes_checked, total_bytes), total_bytes)

    def flush() -> None:
        nonlocal batch, batch_copy, batch_paths, batch_bytes
        if not batch:
            return
        meta = (batch_copy, batch_paths)
        if executor is None:
            pending.append((None, "files", (meta, _check_batch(batch))))
        else:
            pending.append((executor.submit(_check_batch, batch), "files", (meta, None)))
        batch, batch_copy, batch_paths, batch_bytes = [], {}, {}, 0
        while len(pending) >= (max_pending if executor is not None else 1):
            collect(pending.popleft())

    try:
        for due in run.due(package_id):
            if due.copy_file_id in run.done_ids or due.copy_id in archives_seen:
                continue
            if (deadline is not None and time.monotonic() >= deadline) or (
                max_bytes is not None and submitted >= max_bytes
            ):
                state = "stopped"
                break
            copy = run.copy(due.copy_id)
            if due.copy_file_id in run.done_ids:
                continue  # found missing by the structure pass
            if copy.form != "dir":
                archives_seen.add(copy.id)
                flush()
                path = str(copy_path(run.config, copy))
                submitted += sum(size for _, _, size, _, _, _ in run.ledger.copy_file_states(copy.id))
                if executor is None:
                    pending.append((None, "archive", (copy, _check_archive(path, copy.form))))
                    collect(pending.popleft())
                else:
                    pending.append((executor.submit(_check_archive, path, copy.form), "archive", (copy,)))
                continue
            full_path = run.root_of(copy.id) + due.path
            batch.append((due.copy_file_id, full_path, due.size, due.sha256))
            batch_copy[due.copy_file_id] = due.copy_id
            batch_paths[due.copy_file_id] = due.path
            batch_bytes += due.size
            submitted += due.size
            if len(batch) >= _BATCH_FILES or batch_bytes >= _BATCH_BYTES:
                flush()
        flush()
        while pending:
            collect(pending.popleft())
    finally:
        for future, _, _ in pending:
            if future is not None:
                future.cancel()
    return state


def _finish_copies(run: _Run) -> None:
    """Copy states from this run, and one PREMIS fixity-check event per copy touched."""
    with run.ledger.write() as db:
        for copy_id, copy in run.copies.items():
            bad = db.execute(
                "SELECT COUNT(*) FROM copy_files WHERE copy_id=? AND outcome!='ok'", (copy_id,)
            ).fetchone()[0]
            state = "ok" if run.copy_ok[copy_id] and not bad else "damaged"
            if not copy_path(run.config, copy).exists():
                state = "missing"
            run.ledger.set_copy_state(db, copy_id, state)
    for copy_id, copy in run.copies.items():
        total = len(run.ledger.copy_file_states(copy_id))
        notes = run.copy_notes[copy_id]
        try:
            write_premis_event(
                event_log_dir(run.config, copy),
                objid=run.objids[copy_id],
                event_type="fixity check",
                outcome="success" if run.copy_ok[copy_id] else "failure",
                detail=f"Audit run {run.run_id} of location {copy.location}: {run.copy_checked[copy_id]} of "
                f"{total} files checked by SHA-256 against the ledger; structure, extra files and "
                "Payload-Oxum checked",
                notes=notes[:1000] + ([f"… and {len(notes) - 1000} more"] if len(notes) > 1000 else []),
                agent=run.config.agent,
            )
        except OSError as exc:  # a read-only or vanished location must not lose the ledger records
            log.warning("%s: cannot write the PREMIS event: %s", event_log_dir(run.config, copy), exc)


# --------------------------------------------------------------------------- repair


@dataclass
class RepairResult:
    repaired: list[str] = field(default_factory=list)  # full paths restored and verified
    unrepairable: list[str] = field(default_factory=list)  # no good copy: left untouched

    @property
    def ok(self) -> bool:
        return not self.unrepairable

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "repaired": self.repaired, "unrepairable": self.unrepairable}


def repair(
    config: StorageConfig,
    *,
    package: str | None = None,
    locations: Sequence[str] | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> RepairResult:
    """Restore every file an audit found damaged or missing from another copy that still matches.

    The good copy's file is re-hashed now, copied to a temporary sibling while hashing, renamed
    over the damaged file only when it matches the recorded digest, then read back and verified.
    Nothing is overwritten when no copy holds a good file. Serialized copies are replaced whole
    from a good copy of the same form.
    """
    result = RepairResult()
    wanted = set(locations or config.locations)
    with config.open_ledger() as ledger:
        rows = ledger.damaged_files(package)
        done = 0
        archives_done: set[int] = set()
        touched: set[int] = set()
        for copy_file_id, copy_id, path, size, digest in rows:
            copy = ledger.copy(copy_id)
            if (
                copy.location not in wanted
                or copy.location not in config.locations
                or copy_id in archives_done
            ):
                continue
            target_root = copy_path(config, copy)
            label = str(target_root / path) if copy.form == "dir" else str(target_root)
            if copy.form != "dir":
                archives_done.add(copy_id)
                ok = _repair_archive(config, ledger, copy)
            else:
                ok = _repair_file(config, ledger, copy, copy_file_id, path, size, digest)
            (result.repaired if ok else result.unrepairable).append(label)
            touched.add(copy_id)
            done += 1
            if progress:
                progress("repair files", done, len(rows))
        _refresh_states(config, ledger, touched)
    return result


def _sources(config: StorageConfig, ledger: Ledger, copy: CopyRow) -> list[CopyRow]:
    return [
        c
        for c in ledger.copies(copy.package_id)
        if c.id != copy.id and c.location in config.locations and c.form == "dir"
    ]


def _repair_file(
    config: StorageConfig, ledger: Ledger, copy: CopyRow, copy_file_id: int, path: str, size: int, digest: str
) -> bool:
    target = copy_path(config, copy) / path
    for source_copy in _sources(config, ledger, copy):
        source = copy_path(config, source_copy) / path
        if check_file(str(source), size, digest)[0] != "ok":
            continue
        if _restore(copy_path(config, copy), source, target, size, digest):
            when = timestamp()
            with ledger.write() as db:
                db.execute(
                    "UPDATE copy_files SET outcome='ok', last_checked=? WHERE id=?",
                    (time.time(), copy_file_id),
                )
                ledger.log_event(
                    db,
                    at=when,
                    kind="repair",
                    package_id=copy.package_id,
                    location=copy.location,
                    outcome="success",
                    detail=f"{path} restored from {source_copy.location}",
                    size=size,
                    files=1,
                )
            objid = ledger.package_by_id(copy.package_id).objid
            write_premis_event(
                event_log_dir(config, copy),
                objid=objid,
                event_type="recovery",
                outcome="success",
                detail=f"{path} restored from the copy at location {source_copy.location}; "
                "verified by SHA-256 after writing",
                notes=[f"repaired: {path}"],
                agent=config.agent,
                when=when,
            )
            return True
    log.warning("%s: no copy holds a good version; left untouched", target)
    return False


def _restore(root: Path, source: Path, target: Path, size: int, digest: str) -> bool:
    """Copy ``source`` over ``target`` through a temporary sibling; only a verified file lands."""
    for parent in target.relative_to(root).parents:
        if (root / parent).is_symlink():
            log.warning("%s: a symbolic link in the path; not written through", root / parent)
            return False
    if target.is_symlink():
        target.unlink()  # a planted link is never written through
    target.parent.mkdir(parents=True, exist_ok=True)
    temp = target.with_name(f".{target.name}.repair")
    hasher = hashlib.sha256()
    written = 0
    try:
        with open(source, "rb") as src, open(temp, "wb") as dst:
            while chunk := src.read(CHUNK_SIZE):
                hasher.update(chunk)
                dst.write(chunk)
                written += len(chunk)
            dst.flush()
            os.fsync(dst.fileno())
        if (written, hasher.hexdigest()) != (size, digest):
            return False
        os.replace(temp, target)
    finally:
        temp.unlink(missing_ok=True)
    os.sync()
    return check_file(str(target), size, digest)[0] == "ok"


def _repair_archive(config: StorageConfig, ledger: Ledger, copy: CopyRow) -> bool:
    expected = {f.path: (f.size, f.sha256) for f in ledger.files(copy.package_id)}
    target = copy_path(config, copy)
    for source_copy in ledger.copies(copy.package_id):
        if (
            source_copy.id == copy.id
            or source_copy.form != copy.form
            or source_copy.location not in config.locations
        ):
            continue
        source = copy_path(config, source_copy)
        found = _check_archive(str(source), copy.form)
        if isinstance(found, str) or compare_with_ledger(found, expected):
            continue
        temp = target.with_name(f".{target.name}.repair")
        try:
            with open(source, "rb") as src, open(temp, "wb") as dst:
                while chunk := src.read(CHUNK_SIZE):
                    dst.write(chunk)
                dst.flush()
                os.fsync(dst.fileno())
            check = _check_archive(str(temp), copy.form)
            if isinstance(check, str) or compare_with_ledger(check, expected):
                continue
            os.replace(temp, target)
        finally:
            temp.unlink(missing_ok=True)
        with ledger.write() as db:
            db.execute(
                "UPDATE copy_files SET outcome='ok', last_checked=? WHERE copy_id=?", (time.time(), copy.id)
            )
            ledger.log_event(
                db,
                at=timestamp(),
                kind="repair",
                package_id=copy.package_id,
                location=copy.location,
                outcome="success",
                detail=f"archive restored from {source_copy.location}",
                size=target.stat().st_size,
                files=len(expected),
            )
        write_premis_event(
            event_log_dir(config, copy),
            objid=ledger.package_by_id(copy.package_id).objid,
            event_type="recovery",
            outcome="success",
            detail=f"serialized copy restored whole from location {source_copy.location}; "
            "every member verified by SHA-256",
            notes=[],
            agent=config.agent,
        )
        return True
    return False


def _refresh_states(config: StorageConfig, ledger: Ledger, copy_ids: set[int]) -> None:
    """A repaired copy is 'ok' again when no file is bad and a structure pass finds nothing."""
    for copy_id in copy_ids:
        copy = ledger.copy(copy_id)
        bad = ledger.db.execute(
            "SELECT COUNT(*) FROM copy_files WHERE copy_id=? AND outcome!='ok'", (copy_id,)
        ).fetchone()[0]
        if bad or (copy.form == "dir" and structure_problems(config, ledger, copy)):
            continue
        with ledger.write() as db:
            ledger.set_copy_state(db, copy_id, "ok")


def structure_problems(config: StorageConfig, ledger: Ledger, copy: CopyRow) -> list[str]:
    """Missing, extra or non-regular files and a Payload-Oxum mismatch of a folder copy (no hashing)."""
    root = copy_path(config, copy)
    if not root.is_dir():
        return ["the copy is absent"]
    expected = set(ledger.copy_file_paths(copy.id))
    found: set[str] = set()
    octets = count = 0
    problems: list[str] = []
    for rel, size in walk_copy(root):
        if size < 0:
            problems.append(f"special-file: {rel}")
            continue
        found.add(rel)
        if rel.startswith("data/"):
            octets += size
            count += 1
    problems += [f"extra: {rel}" for rel in sorted(found - expected)]
    problems += [f"missing: {rel}" for rel in sorted(expected - found)]
    try:
        declared = read_bag_info(root).get("Payload-Oxum", [""])[0]
    except (OSError, UserInputError, InvalidPackageError):
        declared = ""
    if declared != f"{octets}.{count}":
        problems.append(f"oxum: declared {declared}, found {octets}.{count}")
    return problems
