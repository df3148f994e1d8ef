"""BagIt (RFC 8493) writer and complete validator.

Unlike bagit-python, the writer never moves or re-reads the payload (the builder hashes while
copying and hands us the digests), and the validator never stops at the first failure: every
problem is collected into one :class:`BagReport`. Bags of versions 0.93 to 1.0 are read.

Paths are compared after Unicode NFC normalization. Symbolic links and special files inside
a bag are refused and never followed or opened; the network is never used (``fetch.txt`` is
only checked for completeness).

``Problem.rule`` values. Errors: missing, extra, changed, manifest-gap, oxum, tag-changed,
tag-missing, bagit-txt, payload-dir, manifest-missing, manifest-syntax, duplicate, nfc-collision,
unsafe-path, outside-scope, symlink, special-file, unreadable, unsupported-algorithm,
tag-encoding, bag-info-syntax, fetch-syntax, fetch-incomplete, fetch-unlisted; check_bag_against
adds size and unverified. Warnings: old-version, line-endings, tag-encoding, weak-algorithm,
relative-path, md5sum-marker, percent-encoding, duplicate and nfc-collision (same digest, before
BagIt 1.0), case-collision, system-file, tag-unlisted, manifest-syntax (blank or comment lines),
bag-info-syntax (blank lines), bagit-txt (cosmetic).
"""

from __future__ import annotations

import codecs
import errno
import hashlib
import io
import os
import re
import stat
import unicodedata
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Executor, Future
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import NamedTuple
from urllib.parse import urlsplit

from .errors import InvalidPackageError, Problem, UnsafePathError, UserInputError

__all__ = [
    "BagReport",
    "PayloadEntry",
    "check_bag_against",
    "decode_path",
    "encode_path",
    "hash_file",
    "human_size",
    "path_hazard",
    "read_bag_info",
    "validate_bag",
    "write_bag_tags",
]

CHUNK_SIZE = 1 << 20
BAGIT_VERSION = "1.0"
# Manifest algorithm name (as in "manifest-<name>.txt") -> hashlib name.
ALGORITHMS: dict[str, str] = {
    "md5": "md5",
    "sha1": "sha1",
    "sha224": "sha224",
    "sha256": "sha256",
    "sha384": "sha384",
    "sha512": "sha512",
}
_HEX_LENGTH = {name: hashlib.new(lib).digest_size * 2 for name, lib in ALGORITHMS.items()}
WEAK_ALGORITHMS = frozenset({"md5", "sha1"})
OLDEST_VERSION = (0, 93)
NEWEST_VERSION = (1, 0)
# Labels the writer computes itself; a caller-supplied value would contradict the payload.
COMPUTED_LABELS = ("Bagging-Date", "Bag-Size", "Payload-Oxum")
SYSTEM_FILES = frozenset({".ds_store", "thumbs.db", "desktop.ini", "ehthumbs.db"})

_MANIFEST_NAME = re.compile(r"(tag)?manifest-([A-Za-z0-9_-]+)\.txt")
_MANIFEST_LINE = re.compile(r"(\S+)([ \t]+)(.*)")
_FETCH_LINE = re.compile(r"(\S+)[ \t]+(\S+)[ \t]+(.*)")
_OXUM = re.compile(r"(\d+)\.(\d+)")
_VERSION = re.compile(r"(\d+)\.(\d+)")
_ENCODED = re.compile(r"%(0[AaDd]|25)")
_DECODED = {"0a": "\n", "0d": "\r", "25": "%"}
_TEMP_PREFIX = ".oais-bag-tmp-"
_MAX_BAGIT_TXT = 64 * 1024
_NOT_LF = "tag file uses CR or CRLF line endings (LF preferred)"
_BATCH_FILES = 64
_BATCH_BYTES = 64 * CHUNK_SIZE
_MAX_PENDING = 32


# --------------------------------------------------------------------------- public records


@dataclass(frozen=True)
class PayloadEntry:
    """One payload file as the builder copied it: bag path ("data/…", NFC), size and digests."""

    path: str
    size: int
    digests: Mapping[str, str]


@dataclass
class BagReport:
    """Everything one validation run found; ``valid`` is true when ``problems`` is empty.

    ``files_checked`` counts payload files found and listed; ``bytes_checked`` counts payload
    bytes actually hashed (0 when ``verify_payload`` is false).
    """

    path: Path
    valid: bool
    problems: list[Problem]
    warnings: list[Problem]
    files_checked: int
    bytes_checked: int
    version: str | None
    #: payload path -> (size, SHA-256) of every file whose digests all matched its manifests,
    #: so a caller can reuse them instead of reading the file again (empty without SHA-256).
    verified: dict[str, tuple[int, str]] = field(default_factory=dict)


# --------------------------------------------------------------------------- shared helpers


class _Findings:
    """Problems and warnings of one run, each reported once."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []
        self.warnings: list[Problem] = []
        self._seen: set[Problem] = set()

    def error(self, where: str, rule: str, message: str, value: str | None = None) -> None:
        self._add(self.problems, Problem(where=where, message=message, value=value, rule=rule))

    def warn(self, where: str, rule: str, message: str, value: str | None = None) -> None:
        self._add(self.warnings, Problem(where=where, message=message, value=value, rule=rule))

    def report(self, severe: bool, where: str, rule: str, message: str, value: str | None = None) -> None:
        (self.error if severe else self.warn)(where, rule, message, value)

    def _add(self, target: list[Problem], problem: Problem) -> None:
        if problem not in self._seen:
            self._seen.add(problem)
            target.append(problem)


class _Refused(Exception):
    """A file we will not open: a symlink or not a regular file."""

    def __init__(self, rule: str, message: str) -> None:
        super().__init__(message)
        self.rule = rule
        self.message = message


def _nfc(path: str) -> str:
    return unicodedata.normalize("NFC", path)


def _open_regular(path: str | Path) -> io.FileIO:
    """Open a regular file for reading without following a final symlink or blocking on a FIFO."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(path, flags | getattr(os, "O_BINARY", 0))
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise _Refused("symlink", "symbolic link refused (not followed)") from exc
        raise
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise _Refused("special-file", "not a regular file (refused)")
    return io.FileIO(fd, "rb")


def hash_file(path: str | Path, algorithms: Iterable[str]) -> tuple[int, dict[str, str]]:
    """Size and digests of one file from a single read in 1 MiB chunks."""
    hashers = {a: hashlib.new(ALGORITHMS[a], usedforsecurity=False) for a in algorithms}
    buffer = bytearray(CHUNK_SIZE)
    view = memoryview(buffer)
    size = 0
    with _open_regular(path) as handle:
        while count := handle.readinto(buffer):
            chunk = view[:count]
            for hasher in hashers.values():
                hasher.update(chunk)
            size += count
    return size, {a: h.hexdigest() for a, h in hashers.items()}


def encode_path(path: str) -> str:
    """Percent-encode a bag path for a manifest line (RFC 8493 2.1.3: %, LF, CR only)."""
    return path.replace("%", "%25").replace("\n", "%0A").replace("\r", "%0D")


def decode_path(path: str) -> str:
    """Undo :func:`encode_path`; other %XX sequences (e.g. "%7E") stay literal."""
    return _ENCODED.sub(lambda m: _DECODED[m.group(1).lower()], path)


def manifest_entries(text: str) -> dict[str, str]:
    """A manifest's lines as NFC bag path -> lower-case digest, read leniently.

    For callers that compare digests with a manifest already validated (or that report what
    differs themselves); :func:`validate_bag` is the strict reader.
    """
    entries: dict[str, str] = {}
    for line in text.splitlines():
        digest, _sep, path = line.strip().partition(" ")
        if path:
            entries[unicodedata.normalize("NFC", decode_path(path.strip().lstrip("*")))] = digest.lower()
    return entries


def path_hazard(path: str) -> str | None:
    """Why ``path`` is unsafe as a bag-relative path on any common OS, or None if it is safe."""
    if not path:
        return "empty path"
    if "\x00" in path:
        return "NUL character in path"
    if re.search("[\ud800-\udfff]", path):
        return "name is not valid Unicode (undecodable bytes)"
    if path.startswith("/"):
        return "absolute path"
    if re.match(r"[A-Za-z]:", path) or path.startswith("\\"):
        return "Windows drive, UNC or backslash-rooted path"
    if path.startswith("~"):
        return "home-directory shortcut"
    if re.match(r"%[^%/\\]+%", path):
        return "environment-variable shortcut"
    parts = re.split(r"[/\\]", path)
    if ".." in parts:
        return "parent-directory reference"
    if any(part in ("", ".") for part in path.split("/")):
        return "empty or '.' path component"
    return None


# --------------------------------------------------------------------------- file-system scan


class _DiskFile(NamedTuple):
    rel: str  # the name as stored on disk (may be NFD)
    size: int


@dataclass
class _Inventory:
    payload: dict[str, _DiskFile] = field(default_factory=dict)  # NFC path -> file
    tags: dict[str, _DiskFile] = field(default_factory=dict)
    refused: set[str] = field(default_factory=set)  # NFC paths of symlinks and special files
    data_dir: bool = False

    def is_refused(self, key: str) -> bool:
        """Whether ``key`` or one of its parent folders was refused (already reported)."""
        parts = key.split("/")
        return any("/".join(parts[:n]) in self.refused for n in range(1, len(parts) + 1))


def _scan(bag_dir: Path, findings: _Findings, *, payload: bool = True) -> _Inventory:
    """Walk the bag without following links; symlinks and special files become problems."""
    inventory = _Inventory()
    stack: list[tuple[str, str]] = [("", str(bag_dir))]
    while stack:
        prefix, directory = stack.pop()
        try:
            with os.scandir(directory) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as exc:
            findings.error(prefix or ".", "unreadable", f"cannot list directory: {exc.strerror}")
            continue
        for entry in entries:
            rel = prefix + entry.name
            _scan_entry(entry, rel, inventory, stack, findings, payload)
    return inventory


def _scan_entry(
    entry: os.DirEntry[str],
    rel: str,
    inventory: _Inventory,
    stack: list[tuple[str, str]],
    findings: _Findings,
    payload: bool,
) -> None:
    if entry.is_symlink():
        inventory.refused.add(_nfc(rel))
        findings.error(rel, "symlink", "symbolic link refused (not followed)")
    elif entry.is_dir(follow_symlinks=False):
        if rel == "data":
            inventory.data_dir = True
            if not payload:
                return
        stack.append((rel + "/", entry.path))
    elif not entry.is_file(follow_symlinks=False):
        inventory.refused.add(_nfc(rel))
        findings.error(rel, "special-file", "not a regular file (refused)")
    else:
        target = inventory.payload if rel.startswith("data/") else inventory.tags
        key = _nfc(rel)
        if key in target:
            findings.error(
                key, "nfc-collision", "two names are equal after NFC", f"{target[key].rel!r}, {rel!r}"
            )
            return
        target[key] = _DiskFile(rel, entry.stat(follow_symlinks=False).st_size)


# --------------------------------------------------------------------------- tag file reading


@dataclass
class _Declaration:
    """What bagit.txt says; defaults stand in when it is missing or broken."""

    version: tuple[int, int] = NEWEST_VERSION
    version_text: str | None = None
    encoding: str = "utf-8"


def _read_declaration(bag_dir: Path, findings: _Findings) -> _Declaration:
    declaration = _Declaration()
    raw = _read_bagit_txt(bag_dir, findings)
    if raw is None:
        return declaration
    if raw.startswith(codecs.BOM_UTF8):
        findings.error("bagit.txt", "bagit-txt", "bagit.txt must not start with a byte-order mark")
        raw = raw[len(codecs.BOM_UTF8) :]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        findings.error("bagit.txt", "bagit-txt", "bagit.txt is not UTF-8")
        text = raw.decode("utf-8", errors="replace")
    lines = _split_lines(text, "bagit.txt", findings)
    fields = _bagit_txt_fields(lines, findings)
    _apply_version(fields.get("BagIt-Version"), declaration, findings)
    _apply_encoding(fields.get("Tag-File-Character-Encoding"), declaration, findings)
    if list(fields) == ["Tag-File-Character-Encoding", "BagIt-Version"]:
        findings.warn("bagit.txt", "bagit-txt", "BagIt-Version should be the first line")
    return declaration


def _read_bagit_txt(bag_dir: Path, findings: _Findings) -> bytes | None:
    try:
        with _open_regular(bag_dir / "bagit.txt") as handle:
            raw = handle.read(_MAX_BAGIT_TXT + 1)
    except FileNotFoundError:
        findings.error("bagit.txt", "bagit-txt", "bagit.txt is missing")
        return None
    except _Refused as exc:
        findings.error("bagit.txt", exc.rule, exc.message)
        return None
    except OSError as exc:
        findings.error("bagit.txt", "unreadable", f"cannot read: {exc.strerror}")
        return None
    if len(raw) > _MAX_BAGIT_TXT:
        findings.error("bagit.txt", "bagit-txt", "bagit.txt is implausibly large")
        return None
    return raw


def _split_lines(text: str, where: str, findings: _Findings) -> list[str]:
    """Split on LF, CRLF or CR only (str.splitlines also splits on U+2028 and friends)."""
    if "\r" in text:
        findings.warn(where, "line-endings", _NOT_LF)
    lines = re.split(r"\r\n|\r|\n", text)
    if lines and lines[-1] == "":
        lines.pop()
    return lines


def _bagit_txt_fields(lines: list[str], findings: _Findings) -> dict[str, str]:
    """Parse "Label: value" lines strictly: RFC 8493 allows exactly one space after the colon."""
    fields: dict[str, str] = {}
    for line in lines:
        if not line.strip():
            findings.warn("bagit.txt", "bagit-txt", "blank line")
            continue
        label, colon, value = line.partition(":")
        if not colon or label != label.strip() or not value.startswith(" "):
            findings.error("bagit.txt", "bagit-txt", "malformed line (expected 'Label: value')", line)
            label = label.strip()
        elif value.strip() != value[1:]:
            findings.warn("bagit.txt", "bagit-txt", "extra whitespace around the value", line)
        if label not in ("BagIt-Version", "Tag-File-Character-Encoding"):
            findings.error("bagit.txt", "bagit-txt", "unexpected line", line)
            continue
        if label in fields:
            findings.error("bagit.txt", "bagit-txt", f"{label} is repeated", line)
        fields[label] = value.strip()
    return fields


def _apply_version(text: str | None, declaration: _Declaration, findings: _Findings) -> None:
    if text is None:
        findings.error("bagit.txt", "bagit-txt", "BagIt-Version is missing")
        return
    declaration.version_text = text
    match = _VERSION.fullmatch(text)
    if match is None:
        findings.error("bagit.txt", "bagit-txt", "BagIt-Version must be MAJOR.MINOR", text)
        return
    version = (int(match.group(1)), int(match.group(2)))
    if not OLDEST_VERSION <= version <= NEWEST_VERSION:
        findings.error("bagit.txt", "bagit-txt", "unsupported BagIt version (0.93 to 1.0 are read)", text)
        return
    declaration.version = version
    if version < NEWEST_VERSION:
        findings.warn("bagit.txt", "old-version", "bag predates BagIt 1.0 (RFC 8493)", text)


def _apply_encoding(text: str | None, declaration: _Declaration, findings: _Findings) -> None:
    if text is None:
        findings.error("bagit.txt", "bagit-txt", "Tag-File-Character-Encoding is missing")
        return
    try:
        name = codecs.lookup(text).name
    except LookupError:
        findings.error("bagit.txt", "bagit-txt", "unknown Tag-File-Character-Encoding", text)
        return
    declaration.encoding = name
    if name != "utf-8":
        findings.warn("bagit.txt", "tag-encoding", "tag files are not UTF-8", text)


def _iter_tag_lines(path: Path, where: str, encoding: str, findings: _Findings) -> Iterator[str]:
    """Lines of a tag file in the declared encoding, streamed; problems go to ``findings``."""
    try:
        binary = _open_regular(path)
    except _Refused as exc:
        findings.error(where, exc.rule, exc.message)
        return
    except OSError as exc:
        findings.error(where, "unreadable", f"cannot read: {exc.strerror}")
        return
    with binary:
        if encoding == "utf-8" and binary.read(3) == codecs.BOM_UTF8:
            findings.warn(where, "tag-encoding", "UTF-8 tag file starts with a byte-order mark")
        else:
            binary.seek(0)
        # newline="" keeps terminators, and splits only on LF, CR and CRLF.
        text = io.TextIOWrapper(io.BufferedReader(binary), encoding=encoding, newline="")
        yield from _strip_terminators(text, where, findings)


def _strip_terminators(text: io.TextIOWrapper, where: str, findings: _Findings) -> Iterator[str]:
    not_lf = False
    try:
        for line in text:
            stripped = line.rstrip("\r\n")
            not_lf = not_lf or "\r" in line[len(stripped) :]
            yield stripped
    except UnicodeDecodeError as exc:
        findings.error(where, "tag-encoding", f"not valid {text.encoding}: {exc.reason}")
    if not_lf:
        findings.warn(where, "line-endings", _NOT_LF)


def _parse_info_lines(lines: Iterable[str], where: str, findings: _Findings) -> list[tuple[str, str]]:
    """bag-info "Label: value" lines; indented lines continue the previous value."""
    items: list[tuple[str, str]] = []
    for line in lines:
        if line[:1] in (" ", "\t") and items:
            label, value = items[-1]
            items[-1] = (label, f"{value} {line.strip()}".strip())
        elif not line.strip():
            findings.warn(where, "bag-info-syntax", "blank line")
        else:
            label, colon, value = line.partition(":")
            if not colon or not label.strip():
                findings.error(where, "bag-info-syntax", "malformed line (expected 'Label: value')", line)
                continue
            items.append((label.strip(), value.strip()))
    return items


def _bag_info_name(bag_dir: Path, findings: _Findings) -> str | None:
    if os.path.lexists(bag_dir / "bag-info.txt"):
        return "bag-info.txt"
    if os.path.lexists(bag_dir / "package-info.txt"):
        findings.warn(
            "package-info.txt", "old-version", "package-info.txt is the pre-0.96 name of bag-info.txt"
        )
        return "package-info.txt"
    return None


def read_bag_info(bag_dir: Path) -> dict[str, list[str]]:
    """Labels of bag-info.txt (or pre-0.96 package-info.txt) in file order, each with all its values.

    Labels keep their spelling; repeated labels collect every value. A bag without bag-info
    gives an empty dict. Raises InvalidPackageError when the file cannot be read or parsed.
    """
    if not bag_dir.is_dir():
        raise UserInputError(f"{bag_dir}: not a directory")
    declaration = _read_declaration(bag_dir, _Findings())
    findings = _Findings()
    name = _bag_info_name(bag_dir, findings)
    if name is None:
        return {}
    items = _parse_info_lines(
        _iter_tag_lines(bag_dir / name, name, declaration.encoding, findings), name, findings
    )
    if findings.problems:
        raise InvalidPackageError(str(bag_dir), findings.problems)
    info: dict[str, list[str]] = {}
    for label, value in items:
        info.setdefault(label, []).append(value)
    return info


# --------------------------------------------------------------------------- manifests


@dataclass
class _Manifest:
    name: str
    algorithm: str
    tag: bool
    entries: dict[str, str | None] = field(default_factory=dict)  # NFC path -> digest

    @property
    def supported(self) -> bool:
        return self.algorithm in ALGORITHMS


@dataclass
class _ManifestReader:
    """Turns manifest and fetch.txt lines into NFC keys, reporting every oddity once per file."""

    bag_dir: Path
    declaration: _Declaration
    inventory: _Inventory
    findings: _Findings

    def read_manifest(self, name: str, algorithm: str, tag: bool) -> _Manifest:
        manifest = _Manifest(name, algorithm, tag)
        non_nfc: dict[str, str] = {}  # first spelling of keys that were not written in NFC
        counts = {"./": 0, "*": 0}
        lines = _iter_tag_lines(self.bag_dir / name, name, self.declaration.encoding, self.findings)
        for line in lines:
            parsed = self._split_manifest_line(manifest, line, counts)
            if parsed is not None:
                self._add_entry(manifest, parsed[0], parsed[1], non_nfc)
        if counts["./"]:
            self.findings.warn(name, "relative-path", f"{counts['./']} path(s) start with './'")
        if counts["*"]:
            self.findings.warn(name, "md5sum-marker", f"{counts['*']} line(s) use the md5sum '*' marker")
        return manifest

    def _split_manifest_line(
        self, manifest: _Manifest, line: str, counts: dict[str, int]
    ) -> tuple[str, str | None] | None:
        name = manifest.name
        if not line.strip() or line.startswith("#"):
            self.findings.warn(name, "manifest-syntax", "blank or comment line ignored", line or None)
            return None
        match = _MANIFEST_LINE.fullmatch(line)
        if match is None:
            self.findings.error(name, "manifest-syntax", "malformed line (expected 'checksum path')", line)
            return None
        digest, separator, raw = match.groups()
        if separator == " " and raw.startswith("*"):
            counts["*"] += 1  # "<hash> *path" is md5sum's binary-mode marker, not part of the name
            raw = raw[1:]
        while raw.startswith("./"):
            counts["./"] += 1
            raw = raw[2:]
        return raw, self._check_digest(manifest, digest, line)

    def _check_digest(self, manifest: _Manifest, digest: str, line: str) -> str | None:
        if not manifest.supported:
            return None
        digest = digest.lower()
        if len(digest) != _HEX_LENGTH[manifest.algorithm] or not re.fullmatch(r"[0-9a-f]+", digest):
            self.findings.error(
                manifest.name, "manifest-syntax", f"not a {manifest.algorithm} checksum", line
            )
            return None
        return digest

    def _add_entry(self, manifest: _Manifest, raw: str, digest: str | None, non_nfc: dict[str, str]) -> None:
        key = self.key(raw, manifest.name, payload=not manifest.tag)
        if key is None:
            return
        path = decode_path(raw)
        spelling = path if _nfc(path) == key else raw  # raw when key() fell back to the literal name
        if key not in manifest.entries:
            manifest.entries[key] = digest
            if spelling != key:
                non_nfc[key] = spelling
            return
        first = non_nfc.get(key, key)
        previous = manifest.entries[key]
        # Listing a file twice with one digest was tolerated before RFC 8493; conflicting digests never.
        severe = previous != digest or self.declaration.version >= NEWEST_VERSION
        if first == spelling:
            self.findings.report(severe, key, "duplicate", f"listed more than once in {manifest.name}")
        else:
            self.findings.report(
                severe, key, "nfc-collision", f"listed in {manifest.name} in two Unicode normalization forms"
            )

    def key(self, raw: str, where: str, *, payload: bool) -> str | None:
        """NFC key of a listed path, or None (after reporting) when the path is unusable."""
        path = decode_path(raw)
        hazard = path_hazard(path)
        if hazard is not None:
            self.findings.error(path, "unsafe-path", f"{hazard} (in {where}); refused")
            return None
        if path.startswith("data/") != payload:
            scope = "payload files under data/" if payload else "tag files outside data/"
            self.findings.error(path, "outside-scope", f"{where} may only list {scope}")
            return None
        key = _nfc(path)
        files = self.inventory.payload if payload else self.inventory.tags
        if key not in files and path != raw and _nfc(raw) in files:
            # Pre-RFC writers did not encode "%"; the literal name is what is on disk.
            self.findings.warn(raw, "percent-encoding", f"'%' not percent-encoded in {where}")
            return _nfc(raw)
        return key

    def read_fetch(self) -> dict[str, str]:
        """fetch.txt targets (NFC key -> URL); the network is never used."""
        targets: dict[str, str] = {}
        lines = _iter_tag_lines(
            self.bag_dir / "fetch.txt", "fetch.txt", self.declaration.encoding, self.findings
        )
        for line in lines:
            match = _FETCH_LINE.fullmatch(line)
            if match is None:
                self.findings.error(
                    "fetch.txt", "fetch-syntax", "malformed line (expected 'url length path')", line
                )
                continue
            url, length, raw = match.groups()
            if not (length == "-" or length.isdigit()):
                self.findings.error("fetch.txt", "fetch-syntax", "length must be a number or '-'", line)
            parts = urlsplit(url)
            if not parts.scheme or (parts.scheme in ("http", "https", "ftp") and not parts.netloc):
                self.findings.error("fetch.txt", "fetch-syntax", "not a well-formed absolute URL", url)
            key = self.key(raw, "fetch.txt", payload=True)
            if key is not None:
                targets[key] = url
        return targets


# --------------------------------------------------------------------------- validation


@dataclass
class _Bag:
    """Everything read from a bag before any payload hashing."""

    path: Path
    declaration: _Declaration
    inventory: _Inventory
    manifests: list[_Manifest]
    fetch: dict[str, str]
    info_name: str | None  # bag-info.txt, pre-0.96 package-info.txt, or None
    info: list[tuple[str, str]]

    @property
    def payload_manifests(self) -> list[_Manifest]:
        return [m for m in self.manifests if not m.tag]

    @property
    def tag_manifests(self) -> list[_Manifest]:
        return [m for m in self.manifests if m.tag]

    @property
    def listed(self) -> set[str]:
        keys: set[str] = set()
        for manifest in self.payload_manifests:
            keys.update(manifest.entries)
        return keys


def _load(bag_dir: Path, findings: _Findings) -> _Bag:
    """Scan the bag and read every tag file (never the payload)."""
    inventory = _scan(bag_dir, findings)
    if not inventory.data_dir:
        findings.error("data/", "payload-dir", "the payload directory data/ is missing")
    declaration = _read_declaration(bag_dir, findings)
    reader = _ManifestReader(bag_dir, declaration, inventory, findings)
    manifests = _read_manifests(reader)
    fetch = reader.read_fetch() if "fetch.txt" in inventory.tags else {}
    info_name = _bag_info_name(bag_dir, findings)
    info: list[tuple[str, str]] = []
    if info_name is not None:
        lines = _iter_tag_lines(bag_dir / info_name, info_name, declaration.encoding, findings)
        info = _parse_info_lines(lines, info_name, findings)
    return _Bag(bag_dir, declaration, inventory, manifests, fetch, info_name, info)


def _read_manifests(reader: _ManifestReader) -> list[_Manifest]:
    manifests: list[_Manifest] = []
    for key, disk in sorted(reader.inventory.tags.items()):
        match = _MANIFEST_NAME.fullmatch(key)
        if match is None:
            continue
        algorithm = match.group(2).lower()
        if algorithm not in ALGORITHMS:
            reader.findings.error(
                key, "unsupported-algorithm", f"checksum algorithm {algorithm!r} is not supported"
            )
        manifests.append(reader.read_manifest(disk.rel, algorithm, tag=match.group(1) is not None))
    payload = [m.algorithm for m in manifests if not m.tag]
    if not payload:
        reader.findings.error(
            "manifest-<algorithm>.txt", "manifest-missing", "the bag has no payload manifest"
        )
    elif set(payload) <= WEAK_ALGORITHMS:
        reader.findings.warn(
            "manifest-<algorithm>.txt", "weak-algorithm", "only MD5/SHA-1 manifests; add sha256 or sha512"
        )
    return manifests


def _check_structure(bag: _Bag, findings: _Findings) -> int:
    """Everything but payload hashing; returns how many listed payload files are present."""
    present = _check_completeness(bag, findings)
    incomplete = any(key not in bag.inventory.payload for key in bag.fetch)
    _check_oxum(bag, incomplete, findings)
    _check_tag_manifests(bag, findings)
    return present


def _check_completeness(bag: _Bag, findings: _Findings) -> int:
    listed = bag.listed
    present = 0
    for key in sorted(listed):
        missing_from = [m.name for m in bag.payload_manifests if key not in m.entries]
        if missing_from:
            findings.error(key, "manifest-gap", f"not listed in {', '.join(missing_from)}")
        if key in bag.inventory.payload:
            present += 1
        elif bag.inventory.is_refused(key):
            continue  # reported as symlink / special file
        elif key in bag.fetch:
            findings.error(
                key, "fetch-incomplete", "listed in fetch.txt but absent (never fetched)", bag.fetch[key]
            )
        else:
            findings.error(key, "missing", "listed in the manifest but absent from the bag")
    for key in bag.inventory.payload:
        if key not in listed:
            findings.error(key, "extra", "payload file not listed in any manifest")
    for key in bag.fetch:
        if key not in listed:
            findings.error(key, "fetch-unlisted", "fetch.txt target is not listed in the payload manifests")
    _warn_portability(sorted(listed), findings)
    return present


def _warn_portability(paths: Iterable[str], findings: _Findings) -> None:
    folded: dict[str, str] = {}
    for key in paths:
        if key.rsplit("/", 1)[-1].lower() in SYSTEM_FILES:
            findings.warn(key, "system-file", "operating-system clutter file in the payload")
        other = folded.setdefault(key.casefold(), key)
        if other != key:
            findings.warn(key, "case-collision", "differs from another path only by case", other)


def _oxum_value(bag: _Bag, where: str, findings: _Findings) -> tuple[int, int] | None:
    values = [value for label, value in bag.info if label.lower() == "payload-oxum"]
    if not values:
        return None
    if len(values) > 1:
        findings.error(where, "oxum", "Payload-Oxum is repeated", ", ".join(values))
        return None
    match = _OXUM.fullmatch(values[0])
    if match is None:
        findings.error(where, "oxum", "Payload-Oxum must be <octets>.<file count>", values[0])
        return None
    return int(match.group(1)), int(match.group(2))


def _check_oxum(bag: _Bag, incomplete: bool, findings: _Findings) -> None:
    if bag.info_name is None:
        return
    declared = _oxum_value(bag, bag.info_name, findings)
    found = (sum(f.size for f in bag.inventory.payload.values()), len(bag.inventory.payload))
    # An incomplete (holey) bag cannot match its oxum; fetch-incomplete already says why.
    if declared is not None and declared != found and not incomplete:
        findings.error(
            bag.info_name,
            "oxum",
            "Payload-Oxum does not match the payload",
            f"declared {declared[0]}.{declared[1]}, found {found[0]}.{found[1]}",
        )


def _check_tag_manifests(bag: _Bag, findings: _Findings) -> None:
    if not bag.tag_manifests:
        findings.warn("tagmanifest-<algorithm>.txt", "tag-unlisted", "no tag manifest protects the tag files")
        return
    wanted: dict[str, dict[str, str]] = {}
    for manifest in bag.tag_manifests:
        for key, digest in manifest.entries.items():
            if key not in bag.inventory.tags:
                if not bag.inventory.is_refused(key):
                    findings.error(key, "tag-missing", f"listed in {manifest.name} but absent")
            elif digest is not None:
                wanted.setdefault(key, {})[manifest.algorithm] = digest
    for key, expected in sorted(wanted.items()):
        _verify_tag_file(bag, key, expected, findings)
    listed = {key for manifest in bag.tag_manifests for key in manifest.entries}
    for key in bag.inventory.tags:
        match = _MANIFEST_NAME.fullmatch(key)
        if key not in listed and not (match and match.group(1)):
            findings.warn(key, "tag-unlisted", "tag file not covered by any tag manifest")


def _verify_tag_file(bag: _Bag, key: str, expected: Mapping[str, str], findings: _Findings) -> None:
    try:
        _, actual = hash_file(bag.path / bag.inventory.tags[key].rel, expected)
    except _Refused as exc:
        findings.error(key, exc.rule, exc.message)
        return
    except OSError as exc:
        findings.error(key, "unreadable", f"cannot read: {exc.strerror}")
        return
    for algorithm, digest in expected.items():
        if actual[algorithm] != digest:
            findings.error(
                key,
                "tag-changed",
                f"{algorithm} checksum differs from tagmanifest-{algorithm}.txt",
                f"expected {digest}, found {actual[algorithm]}",
            )


# --------------------------------------------------------------------------- payload hashing


class _Job(NamedTuple):
    key: str
    rel: str
    size: int
    algorithms: tuple[str, ...]


class _Hashed(NamedTuple):
    key: str
    size: int
    digests: dict[str, str] | None
    error: str | None


def _hash_job(root: str, job: _Job) -> _Hashed:
    try:
        size, digests = hash_file(os.path.join(root, job.rel), job.algorithms)
    except _Refused as exc:
        return _Hashed(job.key, 0, None, exc.message)
    except OSError as exc:
        return _Hashed(job.key, 0, None, f"cannot read: {exc.strerror}")
    return _Hashed(job.key, size, digests, None)


def _hash_batch(root: str, jobs: list[_Job]) -> list[_Hashed]:
    """Worker entry point: top-level so a process pool can pickle it."""
    return [_hash_job(root, job) for job in jobs]


def _batches(jobs: Iterable[_Job]) -> Iterator[list[_Job]]:
    """Group small files so each task outweighs its scheduling cost; big files go alone."""
    batch: list[_Job] = []
    weight = 0
    for job in jobs:
        batch.append(job)
        weight += job.size
        if len(batch) >= _BATCH_FILES or weight >= _BATCH_BYTES:
            yield batch
            batch, weight = [], 0
    if batch:
        yield batch


def _run_jobs(
    root: str, jobs: Sequence[_Job], executor: Executor | None, on_result: Callable[[_Hashed], None]
) -> None:
    if executor is None:
        for job in jobs:
            on_result(_hash_job(root, job))
        return
    # A bounded window of futures keeps memory flat however many files the bag holds.
    pending: deque[Future[list[_Hashed]]] = deque()
    for batch in _batches(jobs):
        pending.append(executor.submit(_hash_batch, root, batch))
        if len(pending) >= _MAX_PENDING:
            for result in pending.popleft().result():
                on_result(result)
    while pending:
        for result in pending.popleft().result():
            on_result(result)


def _payload_jobs(bag: _Bag) -> list[_Job]:
    supported = [m for m in bag.payload_manifests if m.supported]
    jobs: list[_Job] = []
    for key, disk in bag.inventory.payload.items():
        algorithms = tuple(m.algorithm for m in supported if m.entries.get(key) is not None)
        if algorithms:
            jobs.append(_Job(key, disk.rel, disk.size, algorithms))
    return jobs


def _verify_payload(
    bag: _Bag,
    findings: _Findings,
    executor: Executor | None,
    progress: Callable[[int, int], None] | None,
    verified: dict[str, tuple[int, str]],
) -> int:
    """Hash every listed payload file once (all algorithms per read); returns bytes hashed."""
    by_algorithm = {m.algorithm: m for m in bag.payload_manifests}
    jobs = _payload_jobs(bag)
    counters = [0, 0]  # files done, bytes hashed

    def on_result(result: _Hashed) -> None:
        counters[0] += 1
        if result.digests is None:
            findings.error(result.key, "unreadable", result.error or "cannot read")
        else:
            counters[1] += result.size
            if (
                _compare_digests(result.key, result.digests, by_algorithm, findings)
                and "sha256" in result.digests
            ):
                verified[result.key] = (result.size, result.digests["sha256"])
        if progress is not None:
            progress(counters[0], len(jobs))

    _run_jobs(str(bag.path), jobs, executor, on_result)
    return counters[1]


def _compare_digests(
    key: str, actual: Mapping[str, str], manifests: Mapping[str, _Manifest], findings: _Findings
) -> bool:
    """Report each digest that differs from its manifest; True when all of them match."""
    matched = True
    for algorithm, digest in actual.items():
        expected = manifests[algorithm].entries[key]
        if digest != expected:
            matched = False
            findings.error(
                key, "changed", f"{algorithm} checksum differs", f"expected {expected}, found {digest}"
            )
    return matched


def validate_bag(
    bag_dir: Path,
    *,
    verify_payload: bool = True,
    executor: Executor | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> BagReport:
    """Check a bag completely and report every problem found, never stopping at the first.

    ``verify_payload=False`` checks completeness only (presence, Payload-Oxum, tag manifests).
    With ``executor`` payload hashing is fanned out in batches; ``progress(files_done, files_total)``
    is called as payload files are hashed. The network is never used.
    """
    if not bag_dir.is_dir():
        raise UserInputError(f"{bag_dir}: not a directory")
    findings = _Findings()
    bag = _load(bag_dir, findings)
    present = _check_structure(bag, findings)
    verified: dict[str, tuple[int, str]] = {}
    hashed = _verify_payload(bag, findings, executor, progress, verified) if verify_payload else 0
    return BagReport(
        path=bag_dir,
        valid=not findings.problems,
        problems=findings.problems,
        warnings=findings.warnings,
        files_checked=present,
        bytes_checked=hashed,
        version=bag.declaration.version_text,
        verified=verified,
    )


# --------------------------------------------------------------------------- build-time check


def check_bag_against(bag_dir: Path, expected: Mapping[str, tuple[int, Mapping[str, str]]]) -> list[Problem]:
    """Compare a freshly written bag with what the builder recorded while copying.

    ``expected`` maps each payload path to (size, digests). The payload is not read: manifests,
    sizes and Payload-Oxum are compared with ``expected``; tag files (small) are hashed.
    """
    if not bag_dir.is_dir():
        raise UserInputError(f"{bag_dir}: not a directory")
    findings = _Findings()
    bag = _load(bag_dir, findings)
    _check_structure(bag, findings)
    built = {
        _nfc(path): (size, {a.lower(): d.lower() for a, d in digests.items()})
        for path, (size, digests) in expected.items()
    }
    for manifest in bag.payload_manifests:
        _compare_manifest(manifest, built, findings)
    _compare_sizes(bag, built, findings)
    _compare_oxum(bag, built, findings)
    return findings.problems


def _compare_manifest(
    manifest: _Manifest, built: Mapping[str, tuple[int, Mapping[str, str]]], findings: _Findings
) -> None:
    for key, digest in manifest.entries.items():
        record = built.get(key)
        if record is None:
            findings.error(key, "extra", f"listed in {manifest.name} but not built")
            continue
        wanted = record[1].get(manifest.algorithm)
        if wanted is None:
            findings.error(key, "unverified", f"the builder computed no {manifest.algorithm} digest")
        elif digest is not None and digest != wanted:
            findings.error(
                key,
                "changed",
                f"{manifest.name} disagrees with the digest computed while copying",
                f"expected {wanted}, listed {digest}",
            )
    for key in built:
        if key not in manifest.entries:
            findings.error(key, "missing", f"built but not listed in {manifest.name}")


def _compare_sizes(
    bag: _Bag, built: Mapping[str, tuple[int, Mapping[str, str]]], findings: _Findings
) -> None:
    listed = bag.listed
    for key, (size, _) in built.items():
        disk = bag.inventory.payload.get(key)
        if disk is None:
            if key not in listed and not bag.inventory.is_refused(key):  # else already reported
                findings.error(key, "missing", "built but absent from the bag")
        elif disk.size != size:
            findings.error(
                key,
                "size",
                "size differs from the one recorded while copying",
                f"expected {size}, found {disk.size}",
            )


def _compare_oxum(bag: _Bag, built: Mapping[str, tuple[int, Mapping[str, str]]], findings: _Findings) -> None:
    where = bag.info_name or "bag-info.txt"
    declared = _oxum_value(bag, where, findings)
    totals = (sum(size for size, _ in built.values()), len(built))
    if declared is None:
        if not any(label.lower() == "payload-oxum" for label, _ in bag.info):
            findings.error(where, "oxum", "Payload-Oxum is missing")
    elif declared != totals:
        findings.error(
            where,
            "oxum",
            "Payload-Oxum disagrees with the builder's totals",
            f"declared {declared[0]}.{declared[1]}, built {totals[0]}.{totals[1]}",
        )


# --------------------------------------------------------------------------- writer


class _Staging:
    """Tag files written under temporary names, then renamed into place together."""

    def __init__(self, bag_dir: Path) -> None:
        self.bag_dir = bag_dir
        self._open: list[tuple[io.TextIOWrapper, Path, Path]] = []

    def __enter__(self) -> _Staging:
        return self

    def __exit__(self, *exc_info: object) -> None:
        # Reached with files still staged only on failure: leave the bag as it was.
        for handle, temp, _ in self._open:
            handle.close()
            temp.unlink(missing_ok=True)

    def open(self, name: str) -> io.TextIOWrapper:
        temp = self.bag_dir / f"{_TEMP_PREFIX}{name}"
        # newline="\n": LF on every OS; UTF-8 without BOM as RFC 8493 asks.
        handle = open(temp, "w", encoding="utf-8", newline="\n")  # noqa: SIM115 - closed in commit/__exit__
        self._open.append((handle, temp, self.bag_dir / name))
        return handle

    def write(self, name: str, text: str) -> None:
        self.open(name).write(text)

    def commit(self) -> None:
        for handle, _, _ in self._open:
            handle.flush()
            os.fsync(handle.fileno())
            handle.close()
        for _, temp, final in self._open:
            os.replace(temp, final)
        self._open.clear()


def write_bag_tags(
    bag_dir: Path,
    payload: Iterable[PayloadEntry],
    info: Mapping[str, str | Sequence[str]],
    *,
    algorithms: Sequence[str] = ("sha256",),
    bagging_date: date | None = None,
) -> None:
    """Write bagit.txt, the payload manifests, bag-info.txt and the tag manifests into ``bag_dir``.

    The payload is not read: ``payload`` carries the sizes and digests computed while copying and
    is consumed once, streamed into the manifests in the caller's order. Payload-Oxum, Bag-Size
    (payload octets, decimal units) and Bagging-Date are computed. Manifests or tag manifests of
    other algorithms left in ``bag_dir`` are removed, since they would be stale. Raises
    UserInputError / UnsafePathError on bad input; nothing is replaced unless every manifest was
    written.
    """
    names = _writer_algorithms(algorithms)
    info_lines = _info_lines(info)
    _prepare_bag_dir(bag_dir)
    with _Staging(bag_dir) as staging:
        count, octets = _write_manifests(staging, payload, names)
        staging.write("bagit.txt", f"BagIt-Version: {BAGIT_VERSION}\nTag-File-Character-Encoding: UTF-8\n")
        when = bagging_date or date.today()
        staging.write("bag-info.txt", _bag_info_text(info_lines, count, octets, when))
        staging.commit()
    _remove_stale_manifests(bag_dir, names)
    lines = _tag_manifest_lines(bag_dir, names)
    with _Staging(bag_dir) as staging:
        for name in names:
            staging.write(f"tagmanifest-{name}.txt", "".join(lines[name]))
        staging.commit()


def _writer_algorithms(algorithms: Sequence[str]) -> tuple[str, ...]:
    names = tuple(dict.fromkeys(a.lower() for a in algorithms))
    unknown = [a for a in names if a not in ALGORITHMS]
    if not names or unknown:
        raise UserInputError(f"unsupported or no checksum algorithm(s): {', '.join(unknown) or '(none)'}")
    return names


def _info_lines(info: Mapping[str, str | Sequence[str]]) -> list[str]:
    reserved = {label.lower() for label in COMPUTED_LABELS}
    lines: list[str] = []
    for label, value in info.items():
        if not label or label != label.strip() or ":" in label or re.search(r"[\r\n]", label):
            raise UserInputError(f"bag-info label {label!r} is not a valid label")
        if label.lower() in reserved:
            raise UserInputError(f"bag-info label {label!r} is computed by the writer")
        for item in [value] if isinstance(value, str) else value:
            if re.search(r"[\r\n]", item):
                raise UserInputError(f"bag-info value of {label!r} contains a line break")
            lines.append(f"{label}: {item.strip()}")  # readers strip edge whitespace anyway
    return lines


def _prepare_bag_dir(bag_dir: Path) -> None:
    if bag_dir.is_symlink() or not bag_dir.is_dir():
        raise UserInputError(f"{bag_dir}: not a directory")
    data = bag_dir / "data"
    if data.is_symlink():
        raise UnsafePathError(f"{data}: symbolic links are refused")
    try:
        data.mkdir(exist_ok=True)  # RFC 8493 requires data/ even for an empty payload
    except FileExistsError as exc:
        raise UserInputError(f"{data}: exists and is not a directory") from exc


def _write_manifests(
    staging: _Staging, payload: Iterable[PayloadEntry], names: Sequence[str]
) -> tuple[int, int]:
    handles = {name: staging.open(f"manifest-{name}.txt") for name in names}
    seen: set[str] = set()
    count = octets = 0
    for entry in payload:
        digests = _checked_entry(entry, names, seen)
        line_path = encode_path(entry.path)
        for name, handle in handles.items():
            handle.write(f"{digests[name]}  {line_path}\n")
        count += 1
        octets += entry.size
    return count, octets


def _checked_entry(entry: PayloadEntry, names: Sequence[str], seen: set[str]) -> dict[str, str]:
    """The entry's digests, lowercased, after checking its path, size and digests."""
    path = entry.path
    hazard = path_hazard(path)
    if hazard is not None or not path.startswith("data/"):
        raise UnsafePathError(f"payload path {path!r}: {hazard or 'must start with data/'}")
    if not unicodedata.is_normalized("NFC", path):
        raise UnsafePathError(f"payload path {path!r} is not NFC")
    if path in seen:
        raise UnsafePathError(f"payload path {path!r} is listed twice")
    seen.add(path)
    if entry.size < 0:
        raise UserInputError(f"payload path {path!r}: negative size")
    digests: dict[str, str] = {}
    for name in names:
        digest = entry.digests.get(name, "").lower()
        if len(digest) != _HEX_LENGTH[name] or not re.fullmatch(r"[0-9a-f]+", digest):
            raise UserInputError(f"payload path {path!r}: missing or malformed {name} digest")
        digests[name] = digest
    return digests


def _bag_info_text(lines: list[str], count: int, octets: int, when: date) -> str:
    computed = [
        f"Bagging-Date: {when:%Y-%m-%d}",
        f"Bag-Size: {human_size(octets)}",
        f"Payload-Oxum: {octets}.{count}",
    ]
    return "".join(f"{line}\n" for line in [*lines, *computed])


def human_size(octets: int) -> str:
    """Bag-Size in decimal units as RFC 8493 shows them ("42.6 GB")."""
    value = float(octets)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if value < 1000:
            return f"{octets} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{value:.1f} PB"


def _remove_stale_manifests(bag_dir: Path, names: Sequence[str]) -> None:
    for entry in os.scandir(bag_dir):
        match = _MANIFEST_NAME.fullmatch(entry.name)
        if match and match.group(2).lower() not in names and not entry.is_dir(follow_symlinks=False):
            os.unlink(entry.path)


def _tag_manifest_lines(bag_dir: Path, names: Sequence[str]) -> dict[str, list[str]]:
    """Tag manifest lines over every tag file except the tag manifests themselves."""
    findings = _Findings()
    inventory = _scan(bag_dir, findings, payload=False)
    if findings.problems:
        raise UnsafePathError(f"{bag_dir}: " + "; ".join(str(p) for p in findings.problems))
    lines: dict[str, list[str]] = {name: [] for name in names}
    for key, disk in sorted(inventory.tags.items()):
        match = _MANIFEST_NAME.fullmatch(key)
        if match and match.group(1):
            continue
        hazard = path_hazard(disk.rel)
        if hazard is not None or key != disk.rel:
            raise UnsafePathError(f"tag file name {disk.rel!r}: {hazard or 'not NFC'}")
        _, digests = hash_file(bag_dir / disk.rel, names)
        for name in names:
            lines[name].append(f"{digests[name]}  {encode_path(key)}\n")
    return lines
