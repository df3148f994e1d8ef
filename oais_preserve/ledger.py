"""The storage ledger: packages, their copies, every file's digest, audit runs and outcomes.

SQLite in WAL mode, embedded, one file. Readers never block the writer; each write is one
short ``BEGIN IMMEDIATE`` transaction, so two audits, or an audit during a ``store``, queue for
a moment instead of corrupting anything. The schema carries a version (``PRAGMA user_version``)
and is brought up to date by the migrations below when a ledger is opened.

The ledger is an index, not the truth: the bags are. :func:`oais_preserve.storage.reindex`
rebuilds it from the bags themselves.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from .errors import UserInputError

__all__ = [
    "SCHEMA_VERSION",
    "AuditRunSummary",
    "CopyRow",
    "DueFile",
    "FileRow",
    "HandedOverPackage",
    "HandoverRow",
    "Ledger",
    "PackageRow",
]

# Each entry upgrades the schema from version i to i + 1; never edit one that has shipped.
_MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE packages (
        id INTEGER PRIMARY KEY,
        objid TEXT NOT NULL UNIQUE,
        name TEXT NOT NULL,              -- folder (or .tar/.zip stem) name in every location
        fonds_code TEXT NOT NULL DEFAULT '',
        hoso_code TEXT NOT NULL DEFAULT '',
        created TEXT NOT NULL DEFAULT '',
        payload_bytes INTEGER NOT NULL,
        payload_files INTEGER NOT NULL,
        registered TEXT NOT NULL
    );
    CREATE INDEX packages_fonds ON packages(fonds_code);
    CREATE TABLE files (                 -- what every copy of a package must hold
        id INTEGER PRIMARY KEY,
        package_id INTEGER NOT NULL REFERENCES packages(id) ON DELETE CASCADE,
        path TEXT NOT NULL,              -- bag path: "data/…" or a tag file
        size INTEGER NOT NULL,
        sha256 TEXT NOT NULL,
        UNIQUE (package_id, path)
    );
    CREATE TABLE copies (
        id INTEGER PRIMARY KEY,
        package_id INTEGER NOT NULL REFERENCES packages(id) ON DELETE CASCADE,
        location TEXT NOT NULL,
        relpath TEXT NOT NULL,           -- inside the location's root
        form TEXT NOT NULL CHECK (form IN ('dir', 'tar', 'zip')),
        verified TEXT NOT NULL,          -- when it was verified by digest after writing
        state TEXT NOT NULL DEFAULT 'ok' CHECK (state IN ('ok', 'damaged', 'missing')),
        UNIQUE (package_id, location)
    );
    CREATE TABLE copy_files (            -- audit state of one file in one copy
        id INTEGER PRIMARY KEY,
        copy_id INTEGER NOT NULL REFERENCES copies(id) ON DELETE CASCADE,
        file_id INTEGER NOT NULL REFERENCES files(id) ON DELETE CASCADE,
        location TEXT NOT NULL,          -- copied from copies: the due-files query needs no join
        last_checked REAL NOT NULL DEFAULT 0,
        outcome TEXT NOT NULL DEFAULT 'unchecked',
        UNIQUE (copy_id, file_id)
    );
    CREATE INDEX copy_files_due ON copy_files(location, last_checked);
    CREATE TABLE audit_runs (
        id INTEGER PRIMARY KEY,
        started TEXT NOT NULL,
        started_at REAL NOT NULL,
        finished TEXT,
        state TEXT NOT NULL CHECK (state IN ('running', 'stopped', 'finished', 'interrupted', 'resumed')),
        mode TEXT NOT NULL,              -- 'scheduled' or 'full'
        cutoff REAL NOT NULL,            -- files checked before this are due (full mode)
        locations TEXT NOT NULL,         -- comma-separated scope
        package TEXT NOT NULL DEFAULT '',
        agent TEXT NOT NULL,
        resumed_from INTEGER REFERENCES audit_runs(id),
        files_checked INTEGER NOT NULL DEFAULT 0,
        bytes_checked INTEGER NOT NULL DEFAULT 0,
        failures INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE checks (                -- one row per file checked per run
        id INTEGER PRIMARY KEY,
        run_id INTEGER NOT NULL REFERENCES audit_runs(id),
        copy_file_id INTEGER REFERENCES copy_files(id) ON DELETE SET NULL,
        copy_id INTEGER NOT NULL,
        path TEXT NOT NULL,
        outcome TEXT NOT NULL,           -- ok | changed | missing | unreadable | extra | structure
        detail TEXT NOT NULL DEFAULT '',
        checked_at REAL NOT NULL
    );
    CREATE INDEX checks_run ON checks(run_id);
    CREATE TABLE events (                -- replications, repairs, audits: the backup log
        id INTEGER PRIMARY KEY,
        at TEXT NOT NULL,
        kind TEXT NOT NULL,              -- store | replication | repair | fixity check | reindex
        package_id INTEGER REFERENCES packages(id) ON DELETE SET NULL,
        location TEXT NOT NULL DEFAULT '',
        outcome TEXT NOT NULL,
        detail TEXT NOT NULL DEFAULT '',
        bytes INTEGER NOT NULL DEFAULT 0,
        files INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX events_at ON events(at);
    """,
    # 2: handovers to the Ministry, so that the yearly report can count what was handed over.
    """
    CREATE TABLE handovers (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,       -- BGNV_<mã phông>_<YYYYMMDD>: the tar's and the bag's name
        fonds_code TEXT NOT NULL,
        handover_date TEXT NOT NULL,     -- YYYY-MM-DD, the date on the biên bản bàn giao
        recorded TEXT NOT NULL,
        path TEXT NOT NULL,              -- where the tar was written
        sha256 TEXT NOT NULL,
        bytes INTEGER NOT NULL,
        receiver TEXT NOT NULL,
        min_copies INTEGER NOT NULL,     -- the storage minimum in force
        below_minimum INTEGER NOT NULL DEFAULT 0  -- AIPs handed over with fewer verified copies
    );
    CREATE INDEX handovers_date ON handovers(handover_date);
    CREATE TABLE handover_packages (
        handover_id INTEGER NOT NULL REFERENCES handovers(id) ON DELETE CASCADE,
        package_id INTEGER REFERENCES packages(id) ON DELETE SET NULL,
        objid TEXT NOT NULL,
        hoso_code TEXT NOT NULL,
        location TEXT NOT NULL,          -- the copy that was read
        verified_copies INTEGER NOT NULL,
        PRIMARY KEY (handover_id, objid)
    );
    """,
)
SCHEMA_VERSION = len(_MIGRATIONS)


@dataclass(frozen=True)
class PackageRow:
    """One package in the ledger: identity, descriptive keys, payload bytes and file count."""

    id: int
    objid: str
    name: str
    fonds_code: str
    hoso_code: str
    created: str
    payload_bytes: int
    payload_files: int


@dataclass(frozen=True)
class CopyRow:
    """One copy of a package: location, path inside it, form (dir/tar/zip), state (ok/damaged/missing)."""

    id: int
    package_id: int
    location: str
    relpath: str
    form: str
    verified: str
    state: str


@dataclass(frozen=True)
class FileRow:
    """One file every copy of a package must hold: bag path, size in bytes, SHA-256 (hex)."""

    id: int
    path: str
    size: int
    sha256: str


@dataclass(frozen=True)
class DueFile:
    """One file of one copy that an audit should check next."""

    copy_file_id: int
    copy_id: int
    location: str
    last_checked: float
    path: str
    size: int
    sha256: str


@dataclass(frozen=True)
class AuditRunSummary:
    """One audit run: times (ISO 8601), state, mode, scope and counts (files, bytes, failures)."""

    id: int
    started: str
    finished: str | None
    state: str
    mode: str
    locations: str
    files_checked: int
    bytes_checked: int
    failures: int


@dataclass(frozen=True)
class HandedOverPackage:
    """One AIP of a recorded handover, and the copy it was read from."""

    objid: str
    hoso_code: str
    location: str
    verified_copies: int


@dataclass(frozen=True)
class HandoverRow:
    """One handover tar recorded in the ledger."""

    id: int
    name: str
    fonds_code: str
    handover_date: str
    recorded: str
    path: str
    sha256: str
    bytes: int
    receiver: str
    min_copies: int
    below_minimum: int


class Ledger:
    """One connection to a ledger file; create one per process (and per thread)."""

    def __init__(self, path: Path, *, timeout: float = 60.0) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.db = sqlite3.connect(self.path, timeout=timeout, isolation_level=None)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: durable at checkpoints
            self.db.execute("PRAGMA foreign_keys=ON")
            self._migrate()
        except sqlite3.DatabaseError as exc:  # not a database, or damaged: a clear message, no traceback
            raise UserInputError(
                f"{self.path}: cannot open the ledger ({exc}); restore it from a backup, "
                "or move it aside and rebuild it with `oais-preserve reindex`"
            ) from exc

    def close(self) -> None:
        """Close the connection."""
        self.db.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ schema

    def _migrate(self) -> None:
        with self.write():
            version = int(self.db.execute("PRAGMA user_version").fetchone()[0])
            if version > SCHEMA_VERSION:
                raise UserInputError(
                    f"{self.path}: ledger schema {version} is newer than this version of oais_preserve "
                    f"({SCHEMA_VERSION}); upgrade oais_preserve"
                )
            for number in range(version, SCHEMA_VERSION):
                for statement in _MIGRATIONS[number].split(";"):
                    if statement.strip():
                        self.db.execute(statement)
                self.db.execute(f"PRAGMA user_version={number + 1}")

    @property
    def schema_version(self) -> int:
        """The ledger's schema version (``PRAGMA user_version``)."""
        return int(self.db.execute("PRAGMA user_version").fetchone()[0])

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction: taken at once (IMMEDIATE), committed whole or not at all."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    def integrity_check(self) -> str:
        """SQLite's ``PRAGMA integrity_check`` answer: ``'ok'`` for a sound file."""
        return str(self.db.execute("PRAGMA integrity_check").fetchone()[0])

    # ------------------------------------------------------------------ packages and copies

    def package(self, objid: str) -> PackageRow | None:
        """The package recorded under ``objid``, or None."""
        row = self.db.execute(f"SELECT {_PACKAGE_COLUMNS} FROM packages WHERE objid=?", (objid,)).fetchone()
        return PackageRow(*row) if row else None

    def package_by_id(self, package_id: int) -> PackageRow:
        """The package with ledger id ``package_id`` (it must exist)."""
        row = self.db.execute(f"SELECT {_PACKAGE_COLUMNS} FROM packages WHERE id=?", (package_id,)).fetchone()
        return PackageRow(*row)

    def packages(self) -> list[PackageRow]:
        """Every package, by OBJID."""
        rows = self.db.execute(f"SELECT {_PACKAGE_COLUMNS} FROM packages ORDER BY objid").fetchall()
        return [PackageRow(*row) for row in rows]

    def add_package(
        self,
        db: sqlite3.Connection,
        *,
        objid: str,
        name: str,
        fonds_code: str,
        hoso_code: str,
        created: str,
        files: Sequence[tuple[str, int, str]],
        payload_bytes: int,
        payload_files: int,
        registered: str,
    ) -> int:
        """Insert a package and the digests of its files (inside the caller's transaction)."""
        cursor = db.execute(
            "INSERT INTO packages (objid, name, fonds_code, hoso_code, created, payload_bytes,"
            " payload_files, registered) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (objid, name, fonds_code, hoso_code, created, payload_bytes, payload_files, registered),
        )
        package_id = int(cursor.lastrowid or 0)
        db.executemany(
            "INSERT INTO files (package_id, path, size, sha256) VALUES (?, ?, ?, ?)",
            ((package_id, path, size, digest) for path, size, digest in files),
        )
        return package_id

    def files(self, package_id: int) -> list[FileRow]:
        """The recorded files of a package (payload and tag files), by path."""
        rows = self.db.execute(
            "SELECT id, path, size, sha256 FROM files WHERE package_id=? ORDER BY path", (package_id,)
        ).fetchall()
        return [FileRow(*row) for row in rows]

    def copies(self, package_id: int | None = None, location: str | None = None) -> list[CopyRow]:
        """Copies, oldest first; optionally of one package and/or at one location."""
        query = f"SELECT {_COPY_COLUMNS} FROM copies WHERE 1=1"
        args: list[object] = []
        if package_id is not None:
            query += " AND package_id=?"
            args.append(package_id)
        if location is not None:
            query += " AND location=?"
            args.append(location)
        return [CopyRow(*row) for row in self.db.execute(query + " ORDER BY id", args).fetchall()]

    def copy(self, copy_id: int) -> CopyRow:
        """The copy with ledger id ``copy_id`` (it must exist)."""
        return CopyRow(
            *self.db.execute(f"SELECT {_COPY_COLUMNS} FROM copies WHERE id=?", (copy_id,)).fetchone()
        )

    def add_copy(
        self,
        db: sqlite3.Connection,
        *,
        package_id: int,
        location: str,
        relpath: str,
        form: str,
        verified: str,
        checked_at: float,
    ) -> int:
        """Record a copy verified by digest; each of its files counts as checked at ``checked_at``."""
        db.execute("DELETE FROM copies WHERE package_id=? AND location=?", (package_id, location))
        cursor = db.execute(
            "INSERT INTO copies (package_id, location, relpath, form, verified) VALUES (?, ?, ?, ?, ?)",
            (package_id, location, relpath, form, verified),
        )
        copy_id = int(cursor.lastrowid or 0)
        db.execute(
            "INSERT INTO copy_files (copy_id, file_id, location, last_checked, outcome)"
            " SELECT ?, id, ?, ?, 'ok' FROM files WHERE package_id=?",
            (copy_id, location, checked_at, package_id),
        )
        return copy_id

    def set_copy_state(self, db: sqlite3.Connection, copy_id: int, state: str) -> None:
        """Set a copy's state ('ok', 'damaged' or 'missing') inside the caller's transaction."""
        db.execute("UPDATE copies SET state=? WHERE id=?", (state, copy_id))

    def copy_file_states(self, copy_id: int) -> list[tuple[int, str, int, str, float, str]]:
        """(copy_file id, path, size, sha256, last_checked, outcome) of every file of a copy."""
        return self.db.execute(
            "SELECT cf.id, f.path, f.size, f.sha256, cf.last_checked, cf.outcome"
            " FROM copy_files cf JOIN files f ON f.id = cf.file_id WHERE cf.copy_id=? ORDER BY f.path",
            (copy_id,),
        ).fetchall()

    def copy_file_paths(self, copy_id: int) -> dict[str, int]:
        """Bag path -> copy_file id of every file a copy must hold."""
        rows = self.db.execute(
            "SELECT f.path, cf.id FROM copy_files cf JOIN files f ON f.id = cf.file_id WHERE cf.copy_id=?",
            (copy_id,),
        )
        return dict(rows.fetchall())

    def verified_copy_count(self, package_id: int) -> int:
        """How many copies of a package are in state 'ok' (any medium)."""
        row = self.db.execute(
            "SELECT COUNT(*) FROM copies WHERE package_id=? AND state='ok'", (package_id,)
        ).fetchone()
        return int(row[0])

    def packages_in_fonds(self, fonds_code: str) -> list[PackageRow]:
        """Every package of fonds ``fonds_code``, however many copies it has."""
        rows = self.db.execute(
            f"SELECT {_PACKAGE_COLUMNS} FROM packages WHERE fonds_code=? ORDER BY objid", (fonds_code,)
        ).fetchall()
        return [PackageRow(*row) for row in rows]

    def clean_copies(self, package_id: int) -> list[CopyRow]:
        """Copies of a package whose state is 'ok' and whose every file passed its last check."""
        rows = self.db.execute(
            f"SELECT {_COPY_COLUMNS} FROM copies c WHERE c.package_id=? AND c.state='ok'"
            " AND NOT EXISTS (SELECT 1 FROM copy_files cf WHERE cf.copy_id=c.id AND cf.outcome!='ok')"
            " ORDER BY c.id",
            (package_id,),
        ).fetchall()
        return [CopyRow(*row) for row in rows]

    def packages_of_fonds(self, fonds_code: str, min_copies: int = 2) -> list[PackageRow]:
        """Packages of fonds ``fonds_code`` with at least ``min_copies`` verified, undamaged copies."""
        rows = self.db.execute(
            f"SELECT {_PACKAGE_COLUMNS.replace('id,', 'p.id,', 1)} FROM packages p"
            " WHERE p.fonds_code=? AND (SELECT COUNT(*) FROM copies c"
            "  WHERE c.package_id=p.id AND c.state='ok') >= ? ORDER BY p.objid",
            (fonds_code, min_copies),
        ).fetchall()
        return [PackageRow(*row) for row in rows]

    # ------------------------------------------------------------------ audits

    def due_files(self, location: str, cutoff: float, limit: int) -> list[DueFile]:
        """The least-recently-checked files of ``location`` checked before ``cutoff``, oldest first."""
        rows = self.db.execute(
            "SELECT cf.id, cf.copy_id, cf.location, cf.last_checked, f.path, f.size, f.sha256"
            " FROM copy_files cf JOIN files f ON f.id = cf.file_id"
            " WHERE cf.location=? AND cf.last_checked < ? ORDER BY cf.last_checked LIMIT ?",
            (location, cutoff, limit),
        ).fetchall()
        return [DueFile(*row) for row in rows]

    def due_files_of_package(self, package_id: int, locations: Iterable[str], cutoff: float) -> list[DueFile]:
        """Files of one package at ``locations`` last checked before ``cutoff`` (Unix time)."""
        wanted = list(locations)
        marks = ",".join("?" * len(wanted))
        rows = self.db.execute(
            "SELECT cf.id, cf.copy_id, cf.location, cf.last_checked, f.path, f.size, f.sha256"
            " FROM copy_files cf JOIN files f ON f.id = cf.file_id JOIN copies c ON c.id = cf.copy_id"
            f" WHERE c.package_id=? AND cf.location IN ({marks}) AND cf.last_checked < ?"
            " ORDER BY cf.last_checked",
            (package_id, *wanted, cutoff),
        ).fetchall()
        return [DueFile(*row) for row in rows]

    def due_page(
        self,
        location: str,
        cutoff: float,
        after: tuple[float, int],
        limit: int,
        package_id: int | None = None,
    ) -> list[DueFile]:
        """One page of due files of ``location``, oldest check first, after the (time, id) key ``after``.

        Keyset paging on the (location, last_checked) index: every page costs the same however
        many rows the ledger holds.
        """
        extra = (
            " AND cf.copy_id IN (SELECT id FROM copies WHERE package_id=?)" if package_id is not None else ""
        )
        args: tuple[object, ...] = (location, cutoff, after[0], after[0], after[1])
        if package_id is not None:
            args += (package_id,)
        rows = self.db.execute(
            "SELECT cf.id, cf.copy_id, cf.location, cf.last_checked, f.path, f.size, f.sha256"
            " FROM copy_files cf JOIN files f ON f.id = cf.file_id"
            " WHERE cf.location=? AND cf.last_checked < ?"
            " AND (cf.last_checked > ? OR (cf.last_checked = ? AND cf.id > ?))"
            + extra
            + " ORDER BY cf.last_checked, cf.id LIMIT ?",
            (*args, limit),
        ).fetchall()
        return [DueFile(*row) for row in rows]

    def due_totals(self, location: str, cutoff: float, package_id: int | None = None) -> tuple[int, int]:
        """(files, bytes) due at ``location`` (for progress and ETA)."""
        extra = (
            " AND cf.copy_id IN (SELECT id FROM copies WHERE package_id=?)" if package_id is not None else ""
        )
        args: tuple[object, ...] = (location, cutoff) + ((package_id,) if package_id is not None else ())
        row = self.db.execute(
            "SELECT COUNT(*), COALESCE(SUM(f.size), 0) FROM copy_files cf JOIN files f ON f.id = cf.file_id"
            " WHERE cf.location=? AND cf.last_checked < ?" + extra,
            args,
        ).fetchone()
        return int(row[0]), int(row[1])

    def damaged_files(self, objid: str | None = None) -> list[tuple[int, int, str, int, str]]:
        """(copy_file id, copy id, path, size, sha256) of every file whose last check failed."""
        query = (
            "SELECT cf.id, cf.copy_id, f.path, f.size, f.sha256 FROM copy_files cf"
            " JOIN files f ON f.id = cf.file_id JOIN packages p ON p.id = f.package_id"
            " WHERE cf.outcome NOT IN ('ok', 'unchecked')"
        )
        args: tuple[object, ...] = ()
        if objid is not None:
            query += " AND p.objid=?"
            args = (objid,)
        return self.db.execute(query + " ORDER BY cf.copy_id, f.path", args).fetchall()

    def start_run(
        self, *, mode: str, cutoff: float, locations: Sequence[str], package: str, agent: str, started: str
    ) -> int:
        """Open an audit run; an unfinished run of the same scope is resumed (its cutoff kept)."""
        scope = ",".join(sorted(locations))
        with self.write() as db:
            # The caller holds the audit lock of each of its locations: a run still marked
            # 'running' on one of them died (crash, kill -9) and is marked so.
            for run_id, run_scope in db.execute("SELECT id, locations FROM audit_runs WHERE state='running'"):
                if set(run_scope.split(",")) & set(locations):
                    db.execute("UPDATE audit_runs SET state='interrupted' WHERE id=?", (run_id,))
            previous = db.execute(
                "SELECT id, cutoff, state FROM audit_runs WHERE state IN ('interrupted', 'stopped')"
                " AND mode=? AND locations=? AND package=? ORDER BY id DESC LIMIT 1",
                (mode, scope, package),
            ).fetchone()
            resumed_from = None
            if previous is not None and mode == "full":
                resumed_from, cutoff = int(previous[0]), float(previous[1])
            elif previous is not None and previous[2] == "interrupted":
                resumed_from = int(previous[0])  # a killed scheduled run: its failures are carried
            cursor = db.execute(
                "INSERT INTO audit_runs (started, started_at, state, mode, cutoff, locations, package, agent,"
                " resumed_from) VALUES (?, ?, 'running', ?, ?, ?, ?, ?, ?)",
                (started, time.time(), mode, cutoff, scope, package, agent, resumed_from),
            )
            if resumed_from is not None:
                # The older run is now continued by this one: never resume it a second time.
                db.execute("UPDATE audit_runs SET state='resumed' WHERE id=?", (resumed_from,))
            return int(cursor.lastrowid or 0)

    def resumed_runs(self, run_id: int) -> list[int]:
        """The ids of the runs that run ``run_id`` continues (each resumed the one before), newest first."""
        rows = self.db.execute(
            "WITH RECURSIVE chain(id) AS (SELECT resumed_from FROM audit_runs WHERE id=?"
            " UNION SELECT r.resumed_from FROM audit_runs r JOIN chain ON r.id = chain.id)"
            " SELECT id FROM chain WHERE id IS NOT NULL",
            (run_id,),
        ).fetchall()
        return [int(row[0]) for row in rows]

    def run_cutoff(self, run_id: int) -> float:
        """The cutoff (Unix time) of an audit run: files checked before it are due."""
        return float(self.db.execute("SELECT cutoff FROM audit_runs WHERE id=?", (run_id,)).fetchone()[0])

    def record_checks(
        self, run_id: int, outcomes: Sequence[tuple[int | None, int, str, str, str]], size: int, when: float
    ) -> None:
        """Record (copy_file id, copy id, path, outcome, detail) tuples of one batch in one transaction."""
        failures = sum(1 for outcome in outcomes if outcome[3] != "ok")
        checked = sum(1 for outcome in outcomes if outcome[0] is not None)
        with self.write() as db:
            db.executemany(
                "INSERT INTO checks (run_id, copy_file_id, copy_id, path, outcome, detail, checked_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    (run_id, cf, copy_id, path, outcome, detail, when)
                    for cf, copy_id, path, outcome, detail in outcomes
                ),
            )
            db.executemany(
                "UPDATE copy_files SET last_checked=?, outcome=? WHERE id=?",
                ((when, outcome, cf) for cf, _, _, outcome, _ in outcomes if cf is not None),
            )
            db.execute(
                "UPDATE audit_runs SET files_checked=files_checked+?, bytes_checked=bytes_checked+?,"
                " failures=failures+? WHERE id=?",
                (checked, size, failures, run_id),
            )

    def finish_run(self, run_id: int, state: str, finished: str) -> AuditRunSummary:
        """Close an audit run with its final state and finish time (ISO 8601); returns its summary."""
        with self.write() as db:
            db.execute("UPDATE audit_runs SET state=?, finished=? WHERE id=?", (state, finished, run_id))
        return self.run_summary(run_id)

    def run_summary(self, run_id: int) -> AuditRunSummary:
        """The summary of audit run ``run_id``."""
        row = self.db.execute(f"SELECT {_RUN_COLUMNS} FROM audit_runs WHERE id=?", (run_id,)).fetchone()
        return AuditRunSummary(*row)

    def run_failures(self, run_id: int) -> list[tuple[int, str, str, str]]:
        """(copy id, path, outcome, detail) of every failed check of a run."""
        return self.db.execute(
            "SELECT copy_id, path, outcome, detail FROM checks WHERE run_id=? AND outcome!='ok' ORDER BY id",
            (run_id,),
        ).fetchall()

    def audit_runs(self, year: int | None = None) -> list[AuditRunSummary]:
        """Audit-run summaries, oldest first; ``year`` keeps the runs started in that year."""
        query = f"SELECT {_RUN_COLUMNS} FROM audit_runs"
        args: tuple[object, ...] = ()
        if year is not None:
            query += " WHERE substr(started, 1, 4)=?"
            args = (f"{year:04d}",)
        return [AuditRunSummary(*row) for row in self.db.execute(query + " ORDER BY id", args).fetchall()]

    def coverage(self, since: float) -> dict[str, tuple[int, int]]:
        """Per location: (files held, files checked successfully since ``since``, a Unix time).

        With ``since`` three years ago, equal numbers prove the TT05 whole-holding check.
        """
        rows = self.db.execute(
            "SELECT location, COUNT(*), SUM(last_checked >= ? AND outcome = 'ok')"
            " FROM copy_files GROUP BY location",
            (since,),
        ).fetchall()
        return {location: (int(total), int(checked or 0)) for location, total, checked in rows}

    def check_counts(self, outcome: str = "ok") -> dict[int, int]:
        """copy_file id -> how many checks with ``outcome`` it has had (tests, reports)."""
        rows = self.db.execute(
            "SELECT copy_file_id, COUNT(*) FROM checks WHERE outcome=? AND copy_file_id IS NOT NULL"
            " GROUP BY copy_file_id",
            (outcome,),
        ).fetchall()
        return {int(a): int(b) for a, b in rows}

    def prune_checks(self, before: float) -> int:
        """Forget successful per-file checks older than ``before``; failures are kept for good."""
        with self.write() as db:
            cursor = db.execute("DELETE FROM checks WHERE outcome='ok' AND checked_at < ?", (before,))
            return cursor.rowcount

    # ------------------------------------------------------------------ handovers

    def record_handover(
        self,
        *,
        name: str,
        fonds_code: str,
        handover_date: str,
        path: str,
        sha256: str,
        size: int,
        receiver: str,
        min_copies: int,
        packages: Sequence[HandedOverPackage],
        recorded: str,
    ) -> int:
        """Record a handover tar and its AIPs; recording the same tar again changes nothing.

        A tar of the same name with another digest (the old one was removed and the handover
        redone) replaces the earlier row and its package list.
        """
        below = sum(1 for p in packages if p.verified_copies < min_copies)
        with self.write() as db:
            known = db.execute("SELECT id, sha256 FROM handovers WHERE name=?", (name,)).fetchone()
            if known is not None and known[1] == sha256:
                return int(known[0])
            if known is not None:
                db.execute("DELETE FROM handovers WHERE id=?", (known[0],))
            cursor = db.execute(
                "INSERT INTO handovers (name, fonds_code, handover_date, recorded, path, sha256, bytes,"
                " receiver, min_copies, below_minimum) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (name, fonds_code, handover_date, recorded, path, sha256, size, receiver, min_copies, below),
            )
            handover_id = int(cursor.lastrowid or 0)
            db.executemany(
                "INSERT INTO handover_packages (handover_id, package_id, objid, hoso_code, location,"
                " verified_copies) VALUES (?, (SELECT id FROM packages WHERE objid=?), ?, ?, ?, ?)",
                (
                    (handover_id, p.objid, p.objid, p.hoso_code, p.location, p.verified_copies)
                    for p in packages
                ),
            )
            return handover_id

    def handovers(self, year: int | None = None) -> list[HandoverRow]:
        """Recorded handovers, oldest first; ``year`` keeps those dated in that year."""
        query = f"SELECT {_HANDOVER_COLUMNS} FROM handovers"
        args: tuple[object, ...] = ()
        if year is not None:
            query += " WHERE substr(handover_date, 1, 4)=?"
            args = (f"{year:04d}",)
        return [HandoverRow(*row) for row in self.db.execute(query + " ORDER BY handover_date, id", args)]

    def handed_over_packages(self, handover_id: int) -> list[HandedOverPackage]:
        rows = self.db.execute(
            "SELECT objid, hoso_code, location, verified_copies FROM handover_packages"
            " WHERE handover_id=? ORDER BY objid",
            (handover_id,),
        ).fetchall()
        return [HandedOverPackage(*row) for row in rows]

    # ------------------------------------------------------------------ backup log

    def log_event(
        self,
        db: sqlite3.Connection,
        *,
        at: str,
        kind: str,
        package_id: int | None,
        location: str,
        outcome: str,
        detail: str = "",
        size: int = 0,
        files: int = 0,
    ) -> None:
        """Add one backup-log event (``size`` in bytes) inside the caller's transaction."""
        db.execute(
            "INSERT INTO events (at, kind, package_id, location, outcome, detail, bytes, files)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (at, kind, package_id, location, outcome, detail, size, files),
        )

    def events(
        self, kinds: Sequence[str] | None = None
    ) -> list[tuple[str, str, str, str, str, str, int, int]]:
        """(at, kind, objid, location, outcome, detail, bytes, files) of the backup log, oldest first."""
        query = (
            "SELECT e.at, e.kind, COALESCE(p.objid, ''), e.location, e.outcome, e.detail, e.bytes, e.files"
            " FROM events e LEFT JOIN packages p ON p.id = e.package_id"
        )
        args: list[object] = []
        if kinds:
            query += f" WHERE e.kind IN ({','.join('?' * len(kinds))})"
            args.extend(kinds)
        return self.db.execute(query + " ORDER BY e.id", args).fetchall()


_PACKAGE_COLUMNS = "id, objid, name, fonds_code, hoso_code, created, payload_bytes, payload_files"
_COPY_COLUMNS = "id, package_id, location, relpath, form, verified, state"
_HANDOVER_COLUMNS = (
    "id, name, fonds_code, handover_date, recorded, path, sha256, bytes, receiver, min_copies, below_minimum"
)
_RUN_COLUMNS = "id, started, finished, state, mode, locations, files_checked, bytes_checked, failures"
