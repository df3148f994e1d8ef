"""Serialized bags (``.tar``, ``.tar.gz``, ``.zip``) read as a stream: members hashed, never extracted.

A package stored as one archive is audited by reading it once from start to end: every member's
size and SHA-256 come out of that pass, together with the small tag files (manifests, bag-info)
kept in memory. Nothing is written to a temporary folder, so a 45 GB AIP needs no 45 GB of
scratch space. Unsafe members (absolute paths, "..", links, devices) are refused.
"""

from __future__ import annotations

import hashlib
import tarfile
import unicodedata
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Protocol

from .bag import manifest_entries
from .errors import UnsafePathError, UserInputError

__all__ = ["ArchiveScan", "archive_form", "scan_archive"]

CHUNK_SIZE = 1 << 20
_TAG_LIMIT = 256 * 1024 * 1024  # a tag file (manifest) larger than this is not a bag we made


@dataclass
class ArchiveScan:
    """What one pass over an archive found: ``files`` maps bag path -> (size, sha256)."""

    root: str
    files: dict[str, tuple[int, str]] = field(default_factory=dict)
    tags: dict[str, bytes] = field(default_factory=dict)  # top-level tag files' contents
    refused: list[tuple[str, str]] = field(default_factory=list)  # (member, reason)
    unreadable: list[tuple[str, str]] = field(default_factory=list)  # (bag path, why): damaged zip members

    def manifest(self, name: str) -> dict[str, str] | None:
        """Bag path -> digest from a manifest tag file, or None when it is absent."""
        data = self.tags.get(name)
        if data is None:
            return None
        return manifest_entries(data.decode("utf-8", errors="replace"))

    def bag_info(self) -> dict[str, str]:
        data = self.tags.get("bag-info.txt", b"")
        info: dict[str, str] = {}
        for line in data.decode("utf-8", errors="replace").splitlines():
            label, sep, value = line.partition(":")
            if sep and not line[:1].isspace():
                info.setdefault(label.strip(), value.strip())
        return info


def archive_form(path: Path) -> str | None:
    """'tar' or 'zip' for a serialized package, None for anything else (e.g. a folder)."""
    name = path.name.lower()
    if name.endswith((".tar", ".tar.gz", ".tgz")):
        return "tar"
    if name.endswith(".zip"):
        return "zip"
    return None


def _member_path(name: str, archive: Path) -> tuple[str, str]:
    """(root folder, bag path) of a member name; refuses anything that could escape."""
    parts = name.replace("\\", "/").split("/")
    if name.startswith("/") or ".." in parts or (parts and ":" in parts[0]):
        raise UnsafePathError(f"{archive}: member {name!r} escapes the archive")
    parts = [p for p in parts if p not in ("", ".")]
    if len(parts) < 2:
        return (parts[0] if parts else ""), ""
    return parts[0], unicodedata.normalize("NFC", "/".join(parts[1:]))


class _Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


def _hash_stream(stream: _Readable, keep: bool) -> tuple[int, str, bytes | None]:
    hasher = hashlib.sha256()
    size = 0
    kept: list[bytes] = []
    while chunk := stream.read(CHUNK_SIZE):
        hasher.update(chunk)
        size += len(chunk)
        if keep and size <= _TAG_LIMIT:
            kept.append(chunk)
    return size, hasher.hexdigest(), (b"".join(kept) if keep else None)


#: What a damaged zip member raises: a bad CRC or local header (BadZipFile), bad deflate data.
_MEMBER_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError)


class _DamagedMember(Exception):
    """Raised by a zip member's stream: this member is damaged, the others can still be read."""


class _MemberStream:
    """A zip member's stream whose read errors name the member instead of failing the archive."""

    def __init__(self, archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> None:
        self.archive, self.info = archive, info
        self.stream: IO[bytes] | None = None

    def read(self, size: int = -1) -> bytes:
        try:
            if self.stream is None:
                self.stream = self.archive.open(self.info)
            return self.stream.read(size)
        except _MEMBER_ERRORS as exc:
            raise _DamagedMember(f"damaged member ({exc})") from exc

    def close(self) -> None:
        if self.stream is not None:
            self.stream.close()


def _members(path: Path, form: str) -> Iterator[tuple[str, str, _Readable | None]]:
    """(member name, refusal reason or "", stream of a regular file) in archive order.

    A zip member's stream raises :class:`_DamagedMember` when that member is damaged.
    """
    if form == "zip":
        with zipfile.ZipFile(path) as archive:
            for info in archive.infolist():
                if info.is_dir():
                    continue
                mode = info.external_attr >> 16
                if mode and (mode & 0o170000) not in (0, 0o100000):
                    yield info.filename, "not a regular file (link or device)", None
                    continue
                stream = _MemberStream(archive, info)
                try:
                    yield info.filename, "", stream
                finally:
                    stream.close()
        return
    # "r|*": a pure stream, one pass, whatever the compression; members are never extracted.
    with tarfile.open(path, "r|*") as archive:
        for member in archive:
            if member.isdir():
                continue
            if not member.isreg():
                yield member.name, "not a regular file (link or device)", None
                continue
            data = archive.extractfile(member)
            if data is not None:  # isreg() members always have data
                yield member.name, "", data


def scan_archive(path: Path, form: str | None = None) -> ArchiveScan:
    """Hash every member of a serialized bag in one streaming pass (top-level function: picklable)."""
    form = form or archive_form(path)
    if form is None:
        raise UserInputError(f"{path}: not a .tar, .tar.gz or .zip package")
    roots: set[str] = set()
    scan = ArchiveScan(root="")
    try:
        for name, refusal, stream in _members(path, form):
            root, rel = _member_path(name, path)
            roots.add(root)
            if not rel:
                scan.refused.append((name, "outside the bag folder"))
                continue
            if stream is None:
                scan.refused.append((rel, refusal))
                continue
            is_tag = "/" not in rel
            try:
                size, digest, data = _hash_stream(stream, keep=is_tag)
            except _DamagedMember as exc:
                scan.unreadable.append((rel, str(exc)))
                continue
            scan.files[rel] = (size, digest)
            if is_tag and data is not None:
                scan.tags[rel] = data
    except (tarfile.TarError, zipfile.BadZipFile, zlib.error, EOFError, OSError) as exc:
        raise UserInputError(f"{path}: unreadable archive ({exc})") from exc
    if len(roots) != 1:
        raise UserInputError(f"{path}: a serialized bag must hold exactly one root folder")
    scan.root = roots.pop()
    return scan
