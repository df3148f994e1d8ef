"""The per-file facts of one build, kept in a temporary SQLite file rather than in memory.

A package of 100,000 files would otherwise hold 100,000 records (paths, digests, formats) in the
builder's memory while it writes METS, PREMIS and the manifests. Here each file's facts are one
row, written as the copy finishes and read back in order by each writer, so the builder's
memory does not grow with the file count.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .identify import Identification

_SCHEMA = """
CREATE TABLE files (
    seq INTEGER PRIMARY KEY,
    rel TEXT NOT NULL UNIQUE,       -- package-relative path
    kind TEXT NOT NULL,             -- 'data' (content) or 'meta' (our metadata, schemas, docs)
    size INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    digests TEXT,                   -- JSON {algorithm: hex} when more than SHA-256 was computed
    file_id TEXT,                   -- METS file ID of content files
    original TEXT,                  -- the producer's path
    mtime REAL,
    puid TEXT, format_name TEXT, format_version TEXT, mime TEXT,
    basis TEXT, status TEXT, note TEXT
)
"""


@dataclass(frozen=True)
class Entry:
    """One row: what the writers need to know about a file of the package."""

    rel: str
    kind: str
    size: int
    digests: dict[str, str]
    file_id: str | None = None
    original: str | None = None
    mtime: float | None = None
    puid: str | None = None
    format_name: str | None = None
    format_version: str | None = None
    mime: str | None = None
    basis: str | None = None
    status: str | None = None
    note: str | None = None

    @property
    def sha256(self) -> str:
        return self.digests["sha256"]


_COLUMNS = (
    "rel, kind, size, sha256, digests, file_id, original, mtime, puid, format_name, format_version,"
    " mime, basis, status, note"
)


def _extra(digests: dict[str, str]) -> str | None:
    return json.dumps(digests) if len(digests) > 1 else None


def _entry(row: tuple[Any, ...]) -> Entry:
    digests = json.loads(row[4]) if row[4] else {"sha256": row[3]}
    return Entry(row[0], row[1], row[2], digests, *row[5:])


class Inventory:
    """Rows of every file written into a package, in the order they were added."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.unlink(missing_ok=True)
        # The inventory is scratch data rebuilt by a re-run: durability is not needed.
        self._db = sqlite3.connect(str(path), isolation_level=None)
        self._db.execute("PRAGMA journal_mode=OFF")
        self._db.execute("PRAGMA synchronous=OFF")
        self._db.execute(_SCHEMA)
        self._db.execute("BEGIN")

    def close(self) -> None:
        self._db.close()
        self.path.unlink(missing_ok=True)

    def __enter__(self) -> Inventory:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def add_data(
        self,
        rel: str,
        size: int,
        digests: dict[str, str],
        *,
        file_id: str,
        original: str,
        mtime: float,
        ident: Identification | None,
    ) -> None:
        self._db.execute(
            "INSERT INTO files (rel, kind, size, sha256, digests, file_id, original, mtime, puid,"
            " format_name, format_version, mime, basis, status, note)"
            " VALUES (?, 'data', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                rel,
                size,
                digests["sha256"],
                _extra(digests),
                file_id,
                original,
                mtime,
                ident.puid if ident else None,
                ident.format_name if ident else None,
                ident.format_version if ident else None,
                ident.mime_type if ident else None,
                ident.basis if ident else None,
                ident.status if ident else None,
                ident.note if ident else None,
            ),
        )

    def add_meta(self, rel: str, size: int, digests: dict[str, str]) -> None:
        self._db.execute(
            "INSERT INTO files (rel, kind, size, sha256, digests) VALUES (?, 'meta', ?, ?, ?)",
            (rel, size, digests["sha256"], _extra(digests)),
        )

    def entries(self, kind: str | None = None, *, order_by_path: bool = False) -> Iterator[Entry]:
        """Rows in insertion order (or by path); streamed, never all in memory."""
        where = " WHERE kind = ?" if kind else ""
        order = "rel" if order_by_path else "seq"
        cursor = self._db.execute(
            f"SELECT {_COLUMNS} FROM files{where} ORDER BY {order}",
            (kind,) if kind else (),
        )
        for row in cursor:
            yield _entry(row)

    def entry(self, rel: str) -> Entry | None:
        cursor = self._db.execute(
            f"SELECT {_COLUMNS} FROM files WHERE rel = ?",
            (rel,),
        )
        row = cursor.fetchone()
        return None if row is None else _entry(row)

    def get(self, rel: str) -> tuple[int, str] | None:
        """(size, sha256) of a package path, as a digest lookup for validation."""
        row = self._db.execute("SELECT size, sha256 FROM files WHERE rel = ?", (rel,)).fetchone()
        return None if row is None else (int(row[0]), str(row[1]))

    def file_id(self, rel: str) -> str:
        row = self._db.execute("SELECT file_id FROM files WHERE rel = ?", (rel,)).fetchone()
        if row is None or row[0] is None:
            raise KeyError(rel)
        return str(row[0])

    def totals(self, kind: str = "data") -> tuple[int, int]:
        """(file count, bytes) of one kind of row."""
        count, size = self._db.execute(
            "SELECT COUNT(*), COALESCE(SUM(size), 0) FROM files WHERE kind = ?", (kind,)
        ).fetchone()
        return int(count), int(size)

    def status_counts(self) -> dict[str, int]:
        rows = self._db.execute(
            "SELECT COALESCE(status, 'not identified'), COUNT(*) FROM files"
            " WHERE kind = 'data' GROUP BY 1 ORDER BY 1"
        )
        return {str(status): int(count) for status, count in rows}
