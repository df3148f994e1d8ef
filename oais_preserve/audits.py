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
import tempfile
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

from .archives import ArchiveScan, scan_archive
from .bag import read_bag_info
from .errors import InvalidPackageError, UserInputError
from .ledger import CopyRow, DueFile, Ledger
from .profile import timestamp
from .records import FaultyFile, archivematica_report, write_premis_event
from .storage import (
    ProgressCallback,
    StorageConfig,
    check_location,
    compare_with_ledger,
    copy_path,
    event_log_dir,
    replicate_copy,
)

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


def _check_archive(path: str, form: str) -> ArchiveScan | str:
    """One streaming pass over a serialized copy (members hashed, links and damaged members
    listed), or why the archive cannot be read at all."""
    try:
        if not os.path.lexists(path):
            return "missing"
        return scan_archive(Path(path), form)
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
        """True when the run found no problem."""
        return not self.failures

    def to_dict(self) -> dict[str, Any]:
        """The JSON report, with an Archivematica-shaped ``archivematica`` member."""
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
def _location_locks(config: StorageConfig, names: Sequence[str]) -> Iterator[None]:
    """One audit or repair per location at a time (a second one is refused, not queued)."""
    with ExitStack() as stack:
        for name in sorted(names):
            lock_path = config.ledger_path.with_name(f".{config.ledger_path.name}.audit-{name}.lock")
            handle = stack.enter_context(open(lock_path, "a+b"))
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise UserInputError(f"another audit or repair of location {name!r} is running now") from None
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
        self.faulty_paths: set[tuple[int, str]] = set()  # (copy id, bag path) already in the notes
        self.files_checked = 0
        self.bytes_checked = 0

    # -- bookkeeping

    def copy(self, copy_id: int) -> CopyRow:
        """The copy, registered on first use with its structure pass."""
        if copy_id not in self.copies:
            self._remember(copy_id)
            self._structure(self.copies[copy_id])
        return self.copies[copy_id]

    def _remember(self, copy_id: int) -> None:
        copy = self.ledger.copy(copy_id)
        self.copies[copy_id] = copy
        self.objids[copy_id] = self.ledger.package_by_id(copy.package_id).objid
        self.copy_ok[copy_id] = True
        self.copy_notes[copy_id] = []
        self.copy_checked[copy_id] = 0

    def carry(self, resumed: Sequence[int]) -> None:
        """Take over the failures found by the runs this one resumes (killed or bounded).

        Their files are not due again in this run, so without this a failure found just before
        a kill would be in no result, no minutes and no PREMIS event. A failure since repaired
        (its file's outcome is 'ok' again) is not carried; a copy already registered ran its
        structure pass in the earlier run.
        """
        live = {copy.id for copy in self.ledger.copies()}
        outcomes: dict[int, dict[str, str]] = {}  # copy id -> bag path -> the file's outcome now
        seen: set[tuple[int, str, str]] = set()
        for run_id in resumed:
            for copy_id, path, outcome, detail in self.ledger.run_failures(run_id):
                if copy_id not in live or (copy_id, path, outcome) in seen:
                    continue
                seen.add((copy_id, path, outcome))
                if copy_id not in outcomes:
                    outcomes[copy_id] = {p: o for _, p, _, _, _, o in self.ledger.copy_file_states(copy_id)}
                if outcomes[copy_id].get(path, outcome) == "ok":
                    continue  # repaired or found good since
                if copy_id not in self.copies:
                    self._remember(copy_id)
                self._fault(copy_id, path, outcome, detail, f" (found by audit run {run_id})")

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
            self._fault(copy_id, path, outcome, detail)
        if len(self.pending_records) >= 512 or time.monotonic() - self.last_commit > _COMMIT_SECONDS:
            self.commit()

    def _fault(self, copy_id: int, path: str, outcome: str, detail: str, origin: str = "") -> None:
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
        self.faulty_paths.add((copy_id, path))
        self.copy_notes[copy_id].append(f"{outcome}: {path}" + (f" ({detail})" if detail else "") + origin)

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

    def finish_archive(self, copy: CopyRow, scan: ArchiveScan | str) -> None:
        states = self.ledger.copy_file_states(copy.id)
        if isinstance(scan, str):
            outcome = "missing" if scan == "missing" else "unreadable"
            for cf, path, _, _, last, _ in states:
                if cf not in self.done_ids and last < self.cutoffs[copy.location]:
                    self.record(cf, copy.id, path, outcome, scan, 0)
            return
        found = scan.files
        expected = {path: (size, digest) for _, path, size, digest, _, _ in states}
        problems = {p.where: p for p in compare_with_ledger(found, expected)}
        damaged = dict(scan.unreadable)  # one damaged zip member does not make the others unreadable
        for cf, path, size, _, last, _ in states:
            if cf in self.done_ids or last >= self.cutoffs[copy.location]:
                continue
            problem = problems.get(path)
            if path in damaged:
                self.record(cf, copy.id, path, "unreadable", damaged.pop(path), 0)
            elif problem is None:
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
        for where, reason in [*scan.refused, *damaged.items()]:
            outcome = "unreadable" if where in damaged else "special-file"
            self.record(None, copy.id, where, outcome, reason, 0)
        payload = [v for k, v in found.items() if k.startswith("data/")]
        oxum = (sum(s for s, _ in payload), len(payload))
        ledger_oxum = (
            sum(s for k, (s, _) in expected.items() if k.startswith("data/")),
            sum(1 for k in expected if k.startswith("data/")),
        )
        if oxum != ledger_oxum and not scan.unreadable:  # a damaged member is reported already
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
        check_location(config.location(name))  # an unmounted location is refused, not "all missing"
    started_wall = time.time()
    started = timestamp()
    deadline = time.monotonic() + max_duration if max_duration is not None else None
    with config.open_ledger() as ledger, _location_locks(config, names):
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
        run.carry(ledger.resumed_runs(run_id))
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
    """Copy states and one PREMIS fixity-check event per copy touched.

    Both come from the ledger's per-file outcomes as well as this run's findings, so a failure
    recorded by an earlier (killed) run is never turned back into a success.
    """
    failed: dict[int, bool] = {}
    with run.ledger.write() as db:
        for copy_id, copy in run.copies.items():
            bad = db.execute(
                "SELECT COUNT(*) FROM copy_files WHERE copy_id=? AND outcome NOT IN ('ok', 'unchecked')",
                (copy_id,),
            ).fetchone()[0]
            failed[copy_id] = bool(bad) or not run.copy_ok[copy_id]
            state = "damaged" if failed[copy_id] else "ok"
            if not copy_path(run.config, copy).exists():
                state = "missing"
            run.ledger.set_copy_state(db, copy_id, state)
    for copy_id, copy in run.copies.items():
        states = run.ledger.copy_file_states(copy_id)
        total = len(states)
        notes = run.copy_notes[copy_id]
        notes += [
            f"{outcome}: {path} (recorded by an earlier audit run)"
            for _, path, _, _, _, outcome in states
            if outcome not in ("ok", "unchecked") and (copy_id, path) not in run.faulty_paths
        ]
        try:
            write_premis_event(
                event_log_dir(run.config, copy),
                objid=run.objids[copy_id],
                event_type="fixity check",
                outcome="failure" if failed[copy_id] else "success",
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
    """What a repair did: the paths restored and verified, and those left without a good copy."""

    repaired: list[str] = field(default_factory=list)  # full paths restored and verified
    unrepairable: list[str] = field(default_factory=list)  # no good copy: left untouched

    @property
    def ok(self) -> bool:
        """True when every damaged file or copy was restored."""
        return not self.unrepairable

    def to_dict(self) -> dict[str, Any]:
        """The JSON report of the repair."""
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
    from a good copy of the same form; a copy missing entirely is replicated again through the
    staged, verified copy path. Repair holds the locks of its locations (no audit or other
    repair runs there meanwhile) and first removes temporary files a killed repair left behind.
    """
    result = RepairResult()
    wanted = sorted(set(locations or config.locations))
    for name in wanted:
        check_location(config.location(name))  # never repair onto an unmounted disk
    with config.open_ledger() as ledger, _location_locks(config, wanted):
        rows = ledger.damaged_files(package)
        package_id = None if package is None else _package_id(ledger, package)
        touched = {
            c.id
            for c in ledger.copies(package_id)
            if c.location in wanted and c.state == "damaged"  # e.g. only a leftover temp file is extra
        }
        touched |= {copy_id for _, copy_id, _, _, _ in rows if ledger.copy(copy_id).location in wanted}
        for copy_id in touched:
            _clear_repair_leftovers(config, ledger, ledger.copy(copy_id))
        done = 0
        whole_done: set[int] = set()
        for copy_file_id, copy_id, path, size, digest in rows:
            if copy_id not in touched or copy_id in whole_done:
                continue
            copy = ledger.copy(copy_id)
            target_root = copy_path(config, copy)
            label = str(target_root / path) if copy.form == "dir" else str(target_root)
            if not os.path.lexists(target_root):
                whole_done.add(copy_id)
                label = str(target_root)
                ok = _replicate_again(config, ledger, copy)
            elif copy.form != "dir":
                whole_done.add(copy_id)
                ok = _repair_archive(config, ledger, copy)
            else:
                ok = _repair_file(config, ledger, copy, copy_file_id, path, size, digest)
            (result.repaired if ok else result.unrepairable).append(label)
            done += 1
            if progress:
                progress("repair files", done, len(rows))
        for copy_id in sorted(touched - whole_done):  # e.g. a link appended to a .tar: replace it whole
            copy = ledger.copy(copy_id)
            if copy.form != "dir" and copy.state == "damaged" and os.path.lexists(copy_path(config, copy)):
                expected = {f.path: (f.size, f.sha256) for f in ledger.files(copy.package_id)}
                if not _archive_matches(str(copy_path(config, copy)), copy.form, expected):
                    ok = _repair_archive(config, ledger, copy)
                    (result.repaired if ok else result.unrepairable).append(str(copy_path(config, copy)))
        live = {c.id for c in ledger.copies()}
        _refresh_states(config, ledger, touched & live)
    return result


def _package_id(ledger: Ledger, objid: str) -> int:
    row = ledger.package(objid)
    if row is None:
        raise UserInputError(f"{objid}: no such package in the ledger")
    return row.id


def _replicate_again(config: StorageConfig, ledger: Ledger, copy: CopyRow) -> bool:
    """A copy missing entirely: a new one through the staged, verified copy path (not file by file)."""
    row = ledger.package_by_id(copy.package_id)
    others = [c for c in ledger.copies(copy.package_id) if c.id != copy.id]
    try:
        replicate_copy(config, ledger, row, others, config.location(copy.location), None, None)
    except (UserInputError, InvalidPackageError) as exc:
        log.warning("%s: the missing copy cannot be replicated again: %s", copy_path(config, copy), exc)
        return False
    return True


def _clear_repair_leftovers(config: StorageConfig, ledger: Ledger, copy: CopyRow) -> None:
    """Remove the ``.NAME.*.repair`` temporary files a killed repair left (never a recorded file)."""
    root = copy_path(config, copy)
    if copy.form != "dir":
        prefix = f".{root.name}."
        names = os.listdir(root.parent)
        found = [root.parent / n for n in names if n.startswith(prefix) and n.endswith(".repair")]
    elif root.is_dir() and not root.is_symlink():
        recorded = set(ledger.copy_file_paths(copy.id))
        found = [
            Path(folder, name)
            for folder, _, names in os.walk(root)
            for name in names
            if name.startswith(".")
            and name.endswith(".repair")
            and Path(folder, name).relative_to(root).as_posix() not in recorded
        ]
    else:
        return
    for path in found:
        if path.is_file() and not path.is_symlink():
            log.info("%s: removing a leftover of an interrupted repair", path)
            path.unlink()


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
    temp = _temp_beside(target)
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


def _temp_beside(target: Path) -> Path:
    """A new, uniquely named temporary file beside ``target``: two repairs never share one."""
    fd, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".repair")
    os.close(fd)
    return Path(name)


def _archive_matches(path: str, form: str, expected: dict[str, tuple[int, str]]) -> bool:
    """Whether a serialized copy holds exactly the recorded files: no link, no damaged member."""
    scan = _check_archive(path, form)
    if isinstance(scan, str) or scan.refused or scan.unreadable:
        return False
    return not compare_with_ledger(scan.files, expected)


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
        if not _archive_matches(str(source), copy.form, expected):
            continue
        temp = _temp_beside(target)
        try:
            with open(source, "rb") as src, open(temp, "wb") as dst:
                while chunk := src.read(CHUNK_SIZE):
                    dst.write(chunk)
                dst.flush()
                os.fsync(dst.fileno())
            if not _archive_matches(str(temp), copy.form, expected):
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
        expected = {f.path: (f.size, f.sha256) for f in ledger.files(copy.package_id)}
        if copy.form != "dir" and not _archive_matches(str(copy_path(config, copy)), copy.form, expected):
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
