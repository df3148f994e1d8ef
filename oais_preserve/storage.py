"""Storage locations for AIP bags: store, replicate, verify, and the ledger that indexes them.

A storage configuration (TOML) names the locations: folders on local disks or mounted NAS
shares, each with its medium symbol and its own audit schedule::

    min_copies = 2                      # a package is "safe" with this many verified copies
    ledger = "ledger.sqlite"            # relative to this file

    [locations.primary]
    path = "/srv/aip"
    medium = "HDD-01"                   # ký hiệu phương tiện: copies count once per medium
    audit_every_days = 182

    [locations.replica]
    path = "/mnt/nas/aip"
    medium = "NAS-02"
    audit_every_days = 365

:func:`store` copies a bag (a folder, or a ``.tar``/``.zip`` of one) into a location through a
hidden staging sibling, re-reads the copy and compares every digest before renaming it into place
and recording it. :func:`replicate` does the same from a verified copy to the other locations.
:func:`reindex` rebuilds the ledger from the bags themselves.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import sys
import time
import unicodedata
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .archives import ArchiveScan, archive_form, scan_archive
from .bag import hash_file, read_bag_info, validate_bag
from .errors import InvalidPackageError, Problem, UnsafePathError, UserInputError
from .fixity import FileJob, iter_read_files
from .ledger import CopyRow, Ledger, PackageRow
from .profile import timestamp
from .records import write_premis_event
from .staging import publish, remove_leftover, staged_output

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

__all__ = [
    "LOCATION_MARKER",
    "Location",
    "PackageInfo",
    "StorageConfig",
    "StoreResult",
    "check_location",
    "init_location",
    "inspect_package",
    "load_storage_config",
    "package_status",
    "reindex",
    "replicate",
    "store",
]

log = logging.getLogger(__name__)
#: (stage, done, total) like the rest of the library; stage names the unit ("bytes").
ProgressCallback = Callable[[str, int, int], None]
DEFAULT_AUDIT_DAYS = 365
#: The file that makes a folder a storage location: written once by :func:`init_location`.
LOCATION_MARKER = ".oais-location"


@dataclass(frozen=True)
class Location:
    """One configured storage location: its root folder, medium symbol and audit schedule (days)."""

    name: str
    path: Path
    medium: str
    audit_every_days: float = DEFAULT_AUDIT_DAYS

    @property
    def audit_interval(self) -> float:
        """The audit schedule in seconds."""
        return self.audit_every_days * 86400.0

    @property
    def marker(self) -> Path:
        """The location's marker file (see :func:`init_location`)."""
        return self.path / LOCATION_MARKER


@dataclass(frozen=True)
class StorageConfig:
    """A parsed storage configuration: the locations by name, the ledger file, the safety rule."""

    locations: Mapping[str, Location]
    ledger_path: Path
    min_copies: int = 2
    agent: str = "oais-preserve"

    def location(self, name: str) -> Location:
        """The location called ``name``; UserInputError when it is not configured."""
        try:
            return self.locations[name]
        except KeyError:
            raise UserInputError(
                f"unknown storage location {name!r} (configured: {', '.join(self.locations)})"
            ) from None

    def open_ledger(self) -> Ledger:
        """A new connection to the ledger (close it, or use it as a context manager)."""
        return Ledger(self.ledger_path)


def init_location(config: StorageConfig, name: str) -> Path:
    """Make the folder of location ``name`` a storage location: write its marker; returns the marker.

    This is the only step that may create a location's root folder, and only when its parent
    exists: an unmounted disk or NAS share must never silently become a folder on the system
    disk. Initialising an initialised location again is a no-op; a marker naming another
    location or medium is refused (a different disk is mounted there).
    """
    location = config.location(name)
    if location.marker.is_file():
        check_location(location)
        return location.marker
    if not location.path.parent.is_dir():
        raise UserInputError(
            f"storage location {name!r}: {location.path.parent} does not exist (is the disk mounted?)"
        )
    location.path.mkdir(exist_ok=True)
    if location.path.is_symlink() or not location.path.is_dir():
        raise UserInputError(f"storage location {name!r}: {location.path} is not a folder")
    text = json.dumps(
        {"location": location.name, "medium": location.medium, "initialised": timestamp()},
        ensure_ascii=False,
        indent=2,
    )
    temp = location.path / f"{LOCATION_MARKER}.{os.getpid()}.tmp"
    with open(temp, "w", encoding="utf-8") as out:
        out.write(text + "\n")
        out.flush()
        os.fsync(out.fileno())
    os.replace(temp, location.marker)
    return location.marker


def check_location(location: Location) -> None:
    """Refuse (UserInputError) a location whose root or marker is missing or names another location."""
    hint = f"initialise it once with `oais-preserve init-location {location.name}`"
    if not location.path.is_dir():
        raise UserInputError(
            f"storage location {location.name!r}: {location.path} does not exist "
            f"(is the disk or NAS share mounted?); a new location: {hint}"
        )
    try:
        marker = json.loads(location.marker.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserInputError(
            f"storage location {location.name!r}: {location.path} has no {LOCATION_MARKER} marker "
            f"(the wrong disk mounted, or a new location: {hint})"
        ) from None
    except (OSError, ValueError) as exc:
        raise UserInputError(f"{location.marker}: unreadable location marker ({exc})") from exc
    found = (marker.get("location"), marker.get("medium")) if isinstance(marker, dict) else (None, None)
    if found != (location.name, location.medium):
        raise UserInputError(
            f"storage location {location.name!r} (medium {location.medium}): {location.path} is marked "
            f"as location {found[0]!r} (medium {found[1]}); the wrong disk is mounted there"
        )


def load_storage_config(path: Path) -> StorageConfig:
    """Read and check a storage TOML file; every mistake is one clear :class:`UserInputError`."""
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserInputError(f"{path}: storage configuration not found") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise UserInputError(f"{path}: not valid TOML: {exc}") from exc
    return storage_config_from_dict(raw, base=path.parent)


def storage_config_from_dict(raw: Mapping[str, Any], base: Path) -> StorageConfig:
    """A configuration from parsed TOML; relative paths are taken from ``base``."""
    locations_raw = raw.get("locations")
    if not isinstance(locations_raw, Mapping) or not locations_raw:
        raise UserInputError("storage configuration: at least one [locations.NAME] table is required")
    locations: dict[str, Location] = {}
    for name, entry in locations_raw.items():
        if not isinstance(entry, Mapping) or not isinstance(entry.get("path"), str):
            raise UserInputError(f"storage location {name!r}: 'path' (a folder) is required")
        days = entry.get("audit_every_days", DEFAULT_AUDIT_DAYS)
        if isinstance(days, bool) or not isinstance(days, (int, float)) or days < 0:
            raise UserInputError(f"storage location {name!r}: audit_every_days must be a number ≥ 0")
        root = (base / os.path.expanduser(entry["path"])).resolve()
        locations[name] = Location(name, root, str(entry.get("medium", name)), float(days))
    _refuse_nested(list(locations.values()))
    min_copies = raw.get("min_copies", 2)
    if isinstance(min_copies, bool) or not isinstance(min_copies, int) or min_copies < 1:
        raise UserInputError("storage configuration: min_copies must be a whole number ≥ 1")
    ledger = raw.get("ledger", "ledger.sqlite")
    if not isinstance(ledger, str):
        raise UserInputError("storage configuration: 'ledger' must be a file path")
    return StorageConfig(
        locations, (base / ledger).resolve(), min_copies, str(raw.get("agent", "oais-preserve"))
    )


def _refuse_nested(locations: Sequence[Location]) -> None:
    for a in locations:
        for b in locations:
            if a is not b and (a.path == b.path or a.path.is_relative_to(b.path)):
                raise UserInputError(
                    f"storage locations {a.name!r} and {b.name!r} overlap ({a.path}); "
                    "each copy needs its own storage"
                )


# --------------------------------------------------------------------------- package inspection


@dataclass
class PackageInfo:
    """What a bag is, read from the bag itself: identity, descriptive keys and every file's digest."""

    objid: str
    name: str  # folder name, or archive file name
    form: str  # dir | tar | zip
    fonds_code: str
    hoso_code: str
    created: str
    files: dict[str, tuple[int, str]]  # bag path -> (size, sha256), payload and tag files
    payload_bytes: int
    payload_files: int
    problems: list[Problem] = field(default_factory=list)


def inspect_package(path: Path, *, executor: Executor | None = None) -> PackageInfo:
    """Verify a bag completely (every digest) and describe it; raises InvalidPackageError if bad.

    A folder is checked by the bag validator; a ``.tar``/``.zip`` is streamed once and checked
    against its own manifests (SHA-256 required) without extraction.
    """
    path = Path(path)
    if path.is_symlink():
        raise UnsafePathError(f"{path}: symbolic links are refused")
    form = archive_form(path) if path.is_file() else "dir"
    if form is None or not path.exists():
        raise UserInputError(f"{path}: not a bag folder, .tar or .zip")
    if form == "dir":
        return _inspect_folder(path, executor)
    return _inspect_archive(path, form)


def _inspect_folder(path: Path, executor: Executor | None) -> PackageInfo:
    report = validate_bag(path, executor=executor)
    if not report.valid:
        raise InvalidPackageError(str(path), report.problems)
    files: dict[str, tuple[int, str]] = dict(report.verified)
    payload_bytes = sum(size for size, _ in files.values())
    payload_files = len(files)
    if payload_files != report.files_checked:
        raise UserInputError(f"{path}: the bag has no SHA-256 payload manifest (TT05 requires SHA-256)")
    for entry in os.scandir(path):
        if entry.is_file(follow_symlinks=False):
            name = unicodedata.normalize("NFC", entry.name)
            size, digests = hash_file(entry.path, ["sha256"])
            files[name] = (size, digests["sha256"])
    for dirpath, dirnames, filenames in os.walk(path):
        rel_dir = os.path.relpath(dirpath, path)
        if rel_dir == ".":
            dirnames[:] = [d for d in dirnames if d != "data"]  # the payload is verified above
            continue
        for filename in filenames:  # tag files in tag folders (rare but legal)
            rel = unicodedata.normalize("NFC", os.path.join(rel_dir, filename).replace(os.sep, "/"))
            size, digests = hash_file(os.path.join(dirpath, filename), ["sha256"])
            files[rel] = (size, digests["sha256"])
        dirnames[:] = [d for d in dirnames if not os.path.islink(os.path.join(dirpath, d))]
    info = {label: values[0] for label, values in read_bag_info(path).items() if values}
    return _describe(path.name, "dir", info, files, payload_bytes, payload_files, path)


def _inspect_archive(path: Path, form: str) -> PackageInfo:
    scan = scan_archive(path, form)
    problems = archive_problems(scan, None)
    if problems:
        raise InvalidPackageError(str(path), problems)
    payload = {k: v for k, v in scan.files.items() if k.startswith("data/")}
    info = scan.bag_info()
    return _describe(
        path.name, form, info, dict(scan.files), sum(s for s, _ in payload.values()), len(payload), path
    )


def archive_problems(scan: ArchiveScan, expected: Mapping[str, tuple[int, str]] | None) -> list[Problem]:
    """Check one pass over a serialized bag against its own manifests (and ``expected``)."""
    problems = [Problem(name, reason, rule="special-file") for name, reason in scan.refused]
    problems += [Problem(name, reason, rule="unreadable") for name, reason in scan.unreadable]
    manifest = scan.manifest("manifest-sha256.txt")
    if manifest is None:
        return [
            *problems,
            Problem("manifest-sha256.txt", "missing (TT05 requires SHA-256)", rule="manifest-missing"),
        ]
    for rel, digest in manifest.items():
        found = scan.files.get(rel)
        if found is None:
            problems.append(Problem(rel, "listed in the manifest but absent", rule="missing"))
        elif found[1] != digest:
            problems.append(
                Problem(rel, "sha256 checksum differs", f"expected {digest}, found {found[1]}", "changed")
            )
    payload = [rel for rel in scan.files if rel.startswith("data/")]
    problems += [
        Problem(rel, "payload file not listed in any manifest", rule="extra")
        for rel in payload
        if rel not in manifest
    ]
    tag_manifest = scan.manifest("tagmanifest-sha256.txt") or {}
    for rel, digest in tag_manifest.items():
        found = scan.files.get(rel)
        if found is None or found[1] != digest:
            problems.append(Problem(rel, "tag file differs from tagmanifest-sha256.txt", rule="tag-changed"))
    oxum = scan.bag_info().get("Payload-Oxum", "")
    actual = f"{sum(scan.files[r][0] for r in payload)}.{len(payload)}"
    if oxum != actual:
        problems.append(
            Problem(
                "bag-info.txt",
                "Payload-Oxum does not match the payload",
                f"declared {oxum}, found {actual}",
                "oxum",
            )
        )
    if expected is not None:
        problems += compare_with_ledger(scan.files, expected)
    return problems


def compare_with_ledger(
    found: Mapping[str, tuple[int, str]], expected: Mapping[str, tuple[int, str]]
) -> list[Problem]:
    """Problems of the files ``found`` (bag path -> (bytes, sha256)) against the recorded ones."""
    problems: list[Problem] = []
    for rel, (size, digest) in expected.items():
        actual = found.get(rel)
        if actual is None:
            problems.append(Problem(rel, "recorded in the ledger but absent", rule="missing"))
        elif actual != (size, digest):
            problems.append(
                Problem(
                    rel,
                    "differs from the digest recorded in the ledger",
                    f"expected {digest}, found {actual[1]}",
                    "changed",
                )
            )
    problems += [
        Problem(rel, "not recorded in the ledger", rule="extra") for rel in found if rel not in expected
    ]
    return problems


def _describe(
    name: str,
    form: str,
    info: Mapping[str, str],
    files: dict[str, tuple[int, str]],
    payload_bytes: int,
    payload_files: int,
    path: Path,
) -> PackageInfo:
    objid = info.get("External-Identifier", "").strip()
    if not objid:
        raise UserInputError(f"{path}: bag-info.txt has no External-Identifier (the package OBJID)")
    fonds = info.get("Bag-Group-Identifier", "").strip()
    if not fonds and objid.startswith("urn:") and objid.count(":") >= 3:
        fonds = objid.split(":")[1]  # urn:{mã phông}:uuid:{UUID}
    return PackageInfo(
        objid=objid,
        name=name,
        form=form,
        fonds_code=fonds,
        hoso_code=info.get("Internal-Sender-Identifier", "").strip(),
        created=info.get("Bagging-Date", "").strip(),
        files=files,
        payload_bytes=payload_bytes,
        payload_files=payload_files,
    )


# --------------------------------------------------------------------------- copying


@dataclass(frozen=True)
class StoreResult:
    """One copy written (or found already in place): where, and whether it is now safe."""

    objid: str
    location: str
    path: Path
    copied: bool
    bytes: int
    files: int
    seconds: float
    verified_copies: int
    safe: bool
    error: str = ""  # why no copy was made (replicate carries on with the other packages)


def copy_path(config: StorageConfig, copy: CopyRow) -> Path:
    """Where a recorded copy lives: its location's root joined with its relative path."""
    return config.location(copy.location).path / copy.relpath


def event_log_dir(config: StorageConfig, copy: CopyRow) -> Path:
    """The append-only PREMIS event log beside a copy: ``<copy>.events/``."""
    return config.location(copy.location).path / f"{copy.relpath}.events"


def store(
    config: StorageConfig,
    source: Path,
    location: str | None = None,
    *,
    executor: Executor | None = None,
    progress: ProgressCallback | None = None,
) -> StoreResult:
    """Put a bag into ``location`` (default: the first configured) and record the verified copy.

    The bag is verified first (every digest), copied through a hidden staging sibling while
    hashing, re-read and compared, then renamed into place. Storing a package already held at
    that location is a no-op; a different package under the same OBJID is refused, and so is a
    location that was never initialised (:func:`init_location`) or whose disk is not mounted.
    An unrecorded copy already in place (a run killed before recording it) is verified and recorded.
    """
    target = config.location(location or next(iter(config.locations)))
    check_location(target)  # before the (long) verification: an unmounted disk is refused at once
    started = time.monotonic()
    info = inspect_package(Path(source), executor=executor)
    with config.open_ledger() as ledger:
        package = _register(ledger, info)
        existing = ledger.copies(package.id, target.name)
        if existing:
            return _result(config, ledger, package, existing[0], copied=False, started=started)
        copy = _write_copy(config, ledger, package, info, Path(source), target, executor, progress, "store")
        return _result(config, ledger, package, copy, copied=True, started=started)


def _register(ledger: Ledger, info: PackageInfo) -> PackageRow:
    # Look up and insert in one IMMEDIATE transaction: two stores of one new package queue here
    # instead of both inserting it.
    with ledger.write() as db:
        known = ledger.package(info.objid)
        if known is not None:
            recorded = {f.path: (f.size, f.sha256) for f in ledger.files(known.id)}
            if recorded != info.files:
                differing = sorted(set(recorded.items()) ^ set(info.files.items()))[:3]
                raise UserInputError(
                    f"{info.objid}: the ledger holds a different package under this OBJID "
                    f"(differs in {', '.join(p for p, _ in differing)}); a new version needs a new OBJID"
                )
            return known
        ledger.add_package(
            db,
            objid=info.objid,
            name=info.name,
            fonds_code=info.fonds_code,
            hoso_code=info.hoso_code,
            created=info.created,
            files=[(path, size, digest) for path, (size, digest) in sorted(info.files.items())],
            payload_bytes=info.payload_bytes,
            payload_files=info.payload_files,
            registered=timestamp(),
        )
    package = ledger.package(info.objid)
    assert package is not None
    return package


def _write_copy(
    config: StorageConfig,
    ledger: Ledger,
    package: PackageRow,
    info: PackageInfo,
    source: Path,
    target: Location,
    executor: Executor | None,
    progress: ProgressCallback | None,
    kind: str,
) -> CopyRow:
    check_location(target)  # never create a location root: an unmounted disk is refused here
    final = target.path / info.name
    expected = {f.path: (f.size, f.sha256) for f in ledger.files(package.id)}
    if final.exists() or final.is_symlink():
        # A run killed between publish() and the ledger commit: adopt the copy if it verifies.
        _verify_in_place(final, info.form, expected, executor)
        origin = f"{source} (copy found in place unrecorded after an interrupted run, verified)"
    else:
        origin = str(source)
        with staged_output(final) as stage:
            if info.form == "dir":
                _copy_folder(source, stage, expected, executor, progress)
            else:
                stage.rmdir()
                try:
                    _copy_archive(source, stage, info.form, expected)
                except BaseException:
                    remove_leftover(stage)
                    raise
            publish(stage, final)
    checked_at = time.time()
    when = timestamp()
    with ledger.write() as db:
        copy_id = ledger.add_copy(
            db,
            package_id=package.id,
            location=target.name,
            relpath=info.name,
            form=info.form,
            verified=when,
            checked_at=checked_at,
        )
        ledger.log_event(
            db,
            at=when,
            kind=kind,
            package_id=package.id,
            location=target.name,
            outcome="success",
            detail=f"{origin} -> {final}",
            size=sum(size for size, _ in expected.values()),
            files=len(expected),
        )
    copy = ledger.copy(copy_id)
    write_premis_event(
        event_log_dir(config, copy),
        objid=package.objid,
        event_type="replication",
        outcome="success",
        detail=f"{'Stored' if kind == 'store' else 'Replicated'} to location {target.name} "
        f"(medium {target.medium}) from {origin}; every file verified by SHA-256 after writing",
        notes=[],
        agent=config.agent,
        when=when,
    )
    return copy


def _verify_in_place(
    final: Path, form: str, expected: Mapping[str, tuple[int, str]], executor: Executor | None
) -> None:
    """Check an unrecorded copy found at ``final`` against the ledger's digests; raise if it differs."""
    if final.is_symlink() or (form == "dir") != final.is_dir():
        raise UserInputError(f"{final}: already exists, is not recorded in the ledger and is not this copy")
    try:
        if form == "dir":
            _verify_written(final, expected, executor)
        else:
            problems = archive_problems(scan_archive(final, form), expected)
            if problems:
                raise InvalidPackageError(str(final), problems)
    except (InvalidPackageError, UserInputError, OSError) as exc:
        raise UserInputError(
            f"{final}: already exists, is not recorded in the ledger and differs from the recorded "
            f"package ({exc}); move it aside and run again"
        ) from exc


def _copy_folder(
    source: Path,
    stage: Path,
    expected: Mapping[str, tuple[int, str]],
    executor: Executor | None,
    progress: ProgressCallback | None,
) -> None:
    """Copy every recorded file, hashing while copying, then re-read the copy and compare."""
    total = sum(size for size, _ in expected.values())
    jobs = [
        FileJob(source / rel, stage / rel, identify=False, size_hint=size)
        for rel, (size, _) in expected.items()
    ]
    done = 0
    problems: list[Problem] = []
    for copied, record in enumerate(iter_read_files(jobs, executor=executor), start=1):
        rel = record.target.relative_to(stage).as_posix() if record.target else ""
        if (record.size, record.digests["sha256"]) != expected[rel]:
            problems.append(Problem(rel, "source changed while copying", rule="changed"))
        done += record.size
        if progress:
            progress("copy files", copied, len(jobs))
            progress("copy bytes", done, total)
    if problems:
        raise InvalidPackageError(str(source), problems)
    _verify_written(stage, expected, executor)


def _verify_written(root: Path, expected: Mapping[str, tuple[int, str]], executor: Executor | None) -> None:
    os.sync()  # the re-read below must see what reached the disk, not only a dirty page
    jobs = [FileJob(root / rel, None, identify=False, size_hint=size) for rel, (size, _) in expected.items()]
    problems = [
        Problem(record.source.relative_to(root).as_posix(), "copy differs after writing", rule="changed")
        for record in iter_read_files(jobs, executor=executor)
        if (record.size, record.digests["sha256"]) != expected[record.source.relative_to(root).as_posix()]
    ]
    found = {
        Path(dirpath, name).relative_to(root).as_posix()
        for dirpath, _, names in os.walk(root)
        for name in names
    }
    problems += [
        Problem(rel, "unexpected file in the copy", rule="extra") for rel in sorted(found - set(expected))
    ]
    if problems:
        raise InvalidPackageError(str(root), problems)


def _copy_archive(source: Path, stage: Path, form: str, expected: Mapping[str, tuple[int, str]]) -> None:
    """Copy a serialized bag to ``stage`` (fsynced), then stream the copy and compare every member."""
    with open(source, "rb") as src, open(stage, "xb") as dst:
        shutil.copyfileobj(src, dst, 1 << 20)
        dst.flush()
        os.fsync(dst.fileno())
    problems = archive_problems(scan_archive(stage, form), expected)
    if problems:
        raise InvalidPackageError(str(source), problems)


def _result(
    config: StorageConfig, ledger: Ledger, package: PackageRow, copy: CopyRow, *, copied: bool, started: float
) -> StoreResult:
    verified = verified_media(config, ledger, package.id)
    return StoreResult(
        objid=package.objid,
        location=copy.location,
        path=copy_path(config, copy),
        copied=copied,
        bytes=package.payload_bytes,
        files=package.payload_files,
        seconds=time.monotonic() - started,
        verified_copies=verified,
        safe=verified >= config.min_copies,
    )


def verified_media(config: StorageConfig, ledger: Ledger, package_id: int) -> int:
    """How many distinct media hold a verified, undamaged copy of the package."""
    media = {
        config.locations[c.location].medium
        for c in ledger.copies(package_id)
        if c.state == "ok" and c.location in config.locations
    }
    return len(media)


def replicate(
    config: StorageConfig,
    *,
    package: str | None = None,
    locations: Sequence[str] | None = None,
    executor: Executor | None = None,
    progress: ProgressCallback | None = None,
) -> list[StoreResult]:
    """Copy every package (or one OBJID) to each of ``locations`` (default: all) lacking a copy.

    The source is an undamaged copy that is first re-verified against the ledger; each new copy is
    verified by digest after writing before it is recorded. A package that cannot be copied (no
    good source, a target location not mounted, a differing copy in the way) is logged and
    returned with ``error`` set and ``copied`` false; the other packages are still copied.
    """
    wanted = [config.location(name) for name in (locations or list(config.locations))]
    results: list[StoreResult] = []
    with config.open_ledger() as ledger:
        packages = [_package_or_fail(ledger, package)] if package else ledger.packages()
        for row in packages:
            copies = ledger.copies(row.id)
            held = {c.location for c in copies}
            for target in wanted:
                if target.name in held:
                    continue
                started = time.monotonic()
                try:
                    copy = replicate_copy(config, ledger, row, copies, target, executor, progress)
                except (UserInputError, InvalidPackageError) as exc:
                    log.warning("%s: not replicated to %s: %s", row.objid, target.name, exc)
                    results.append(_failed(config, ledger, row, target, str(exc), started))
                    continue
                results.append(_result(config, ledger, row, copy, copied=True, started=started))
    return results


def replicate_copy(
    config: StorageConfig,
    ledger: Ledger,
    row: PackageRow,
    copies: Sequence[CopyRow],
    target: Location,
    executor: Executor | None,
    progress: ProgressCallback | None,
) -> CopyRow:
    """Write and record a new copy of ``row`` at ``target`` from the first of ``copies`` that verifies."""
    source_copy = _good_source(config, ledger, row, copies, executor)
    info = PackageInfo(
        row.objid,
        source_copy.relpath,
        source_copy.form,
        row.fonds_code,
        row.hoso_code,
        row.created,
        {f.path: (f.size, f.sha256) for f in ledger.files(row.id)},
        row.payload_bytes,
        row.payload_files,
    )
    source = copy_path(config, source_copy)
    return _write_copy(config, ledger, row, info, source, target, executor, progress, "replication")


def _failed(
    config: StorageConfig, ledger: Ledger, row: PackageRow, target: Location, error: str, started: float
) -> StoreResult:
    verified = verified_media(config, ledger, row.id)
    return StoreResult(
        objid=row.objid,
        location=target.name,
        path=target.path,
        copied=False,
        bytes=0,
        files=0,
        seconds=time.monotonic() - started,
        verified_copies=verified,
        safe=verified >= config.min_copies,
        error=error,
    )


def _package_or_fail(ledger: Ledger, objid: str) -> PackageRow:
    row = ledger.package(objid)
    if row is None:
        raise UserInputError(f"{objid}: no such package in the ledger")
    return row


def _good_source(
    config: StorageConfig,
    ledger: Ledger,
    package: PackageRow,
    copies: Sequence[CopyRow],
    executor: Executor | None,
) -> CopyRow:
    expected = {f.path: (f.size, f.sha256) for f in ledger.files(package.id)}
    for copy in copies:
        if copy.state != "ok" or copy.location not in config.locations:
            continue
        path = copy_path(config, copy)
        try:
            if copy.form == "dir":
                _verify_written(path, expected, executor)
            elif archive_problems(scan_archive(path, copy.form), expected):
                continue
        except (InvalidPackageError, UserInputError, OSError) as exc:
            log.warning("%s: not usable as a replication source: %s", path, exc)
            continue
        return copy
    raise UserInputError(f"{package.objid}: no undamaged copy to replicate from; run audit and repair")


# --------------------------------------------------------------------------- status and reindex


@dataclass(frozen=True)
class PackageStatus:
    """A package's copies as (location, state) and whether it is safe (enough verified media)."""

    objid: str
    fonds_code: str
    hoso_code: str
    copies: tuple[tuple[str, str], ...]  # (location, state)
    verified_media: int
    safe: bool


def package_status(config: StorageConfig) -> list[PackageStatus]:
    """Every package with its copies; ``safe`` needs ``min_copies`` verified copies on distinct media."""
    with config.open_ledger() as ledger:
        out = []
        for row in ledger.packages():
            media = verified_media(config, ledger, row.id)
            copies = tuple((c.location, c.state) for c in ledger.copies(row.id))
            out.append(
                PackageStatus(
                    row.objid, row.fonds_code, row.hoso_code, copies, media, media >= config.min_copies
                )
            )
        return out


def reindex(config: StorageConfig, *, executor: Executor | None = None) -> dict[str, int]:
    """Rebuild the ledger's packages and copies from the bags in every location (the bags are the truth).

    Every bag found is verified completely; copies already recorded are left as they are, a bag that
    fails verification is reported and not recorded. Audit history is kept.
    """
    counts = {"found": 0, "recorded": 0, "invalid": 0, "conflicting": 0}
    for location in config.locations.values():
        check_location(location)  # an unmounted location would look empty, not be reindexed
    with config.open_ledger() as ledger:
        for location in config.locations.values():
            for entry in _bags_in(location.path):
                counts["found"] += 1
                try:
                    info = inspect_package(entry, executor=executor)
                    package = _register(ledger, info)
                except InvalidPackageError as exc:
                    log.warning("%s: not recorded: %s", entry, exc)
                    counts["invalid"] += 1
                    continue
                except UserInputError as exc:
                    log.warning("%s: not recorded: %s", entry, exc)
                    counts["conflicting"] += 1
                    continue
                if ledger.copies(package.id, location.name):
                    continue
                with ledger.write() as db:
                    ledger.add_copy(
                        db,
                        package_id=package.id,
                        location=location.name,
                        relpath=entry.name,
                        form=info.form,
                        verified=timestamp(),
                        checked_at=time.time(),
                    )
                    ledger.log_event(
                        db,
                        at=timestamp(),
                        kind="reindex",
                        package_id=package.id,
                        location=location.name,
                        outcome="success",
                        detail=str(entry),
                        size=info.payload_bytes,
                        files=len(info.files),
                    )
                counts["recorded"] += 1
    return counts


def _bags_in(root: Path) -> Iterator[Path]:
    if not root.is_dir():
        return
    for entry in sorted(root.iterdir()):
        if entry.name.startswith(".") or entry.name.endswith(".events") or entry.is_symlink():
            continue
        if (entry.is_dir() and (entry / "bagit.txt").is_file()) or (
            entry.is_file() and archive_form(entry) is not None
        ):
            yield entry
