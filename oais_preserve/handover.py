"""Handover to the Ministry (Bộ Nội vụ) per fonds: the sending side.

:func:`handover` gathers the AIPs of each requested phông / công trình / sưu tập (from bag
folders, or from the storage ledger: see :mod:`oais_preserve.handover_storage`), audits every
one first (a damaged AIP stops that fonds' handover, with the reason), and writes one handover
package per fonds: a BagIt bag declaring ``schemas/handover-bagit-profile.json``, carrying the
AIPs as TT05 ``.zip`` files (or as bags), the danh mục thống kê (xlsx, csv, json) and the biên
bản bàn giao (xlsx to print and sign, json for machines). The bag is serialized straight into
an uncompressed tar, hashed while it is written; its SHA-256 is recorded beside it in
``NAME.tar.sha256`` (``sha256sum -c`` format). The tar is written under a temporary name and
renamed into place when complete; a re-run skips finished fonds (once their tar is checked
against its digest and found to be what is asked) and redoes unfinished ones. Each fonds is
handed over on its own: one refused does not stop the others (:class:`HandoverIncompleteError`).

:func:`~oais_preserve.handover_verify.verify_handover` (module :mod:`oais_preserve.handover_verify`)
is the receiving side: the tar's digest, the bag and its profile, every AIP inside, and the
statistics list and record against what is actually inside.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import re
import shutil
import tarfile
import time
import unicodedata
import zipfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import asdict, dataclass, replace
from datetime import date, datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from . import __version__
from .bag import encode_path, human_size, manifest_entries, read_bag_info
from .errors import InvalidPackageError, OaisPreserveError, Problem, UnsafePathError, UserInputError
from .executors import executor_or_open
from .profile import SOFTWARE_NAME, now
from .schemas import SCHEMA_DIR
from .staging import exclusive_lock, fsync_dir
from .statistics import (
    COUNT_KEYS,
    FondsRecord,
    FondsStatistics,
    PackageFacts,
    fonds_statistics,
    read_package_facts,
    write_statistics_csv,
    write_statistics_json,
    write_statistics_xlsx,
)
from .storage import StorageConfig
from .tarstream import PendingDigest, TarPipeline
from .validate import ValidationReport, validate

__all__ = [
    "PACKAGES_DIR",
    "PROFILE_FILE",
    "PROFILE_ID",
    "RECORD_BASE",
    "RECORD_SCHEMA",
    "STATISTICS_BASE",
    "Audit",
    "DamagedCopyError",
    "FondsConflictError",
    "HandedPackage",
    "HandoverIncompleteError",
    "HandoverResult",
    "Party",
    "Progress",
    "find_aips",
    "full_audit",
    "handover",
    "handover_name",
    "handover_profile",
    "handover_record",
    "stored_zip_size",
    "structural_audit",
    "write_record_xlsx",
]

log = logging.getLogger(__name__)

PROFILE_FILE = "handover-bagit-profile.json"
PROFILE_ID = "https://oais-preserve.invalid/schemas/handover-bagit-profile.json"
PACKAGES_DIR = "data/goi-aip"
STATISTICS_BASE = "data/thong-ke/danh-muc-thong-ke"
RECORD_BASE = "data/bien-ban/bien-ban-ban-giao"
RECORD_SCHEMA = "oais_preserve/bien-ban-ban-giao/1"
CHUNK = 4 << 20
BAG_SEAL = "tagmanifest-sha256.txt"

if TYPE_CHECKING:
    from .handover_storage import StorageSelection, StoredAip

Progress = Callable[[str, int, int], None]
Audit = Callable[[Path], ValidationReport]


def full_audit(path: Path) -> ValidationReport:
    """:func:`validate` with every payload digest re-computed (reads every file)."""
    return validate(path, verify=True)


def structural_audit(path: Path) -> ValidationReport:
    """:func:`validate` without re-hashing the payload: bag completeness, sizes, Payload-Oxum,
    tag manifests, METS / PREMIS / EAD schemas and the E-ARK rules.

    The handover's default: the payload digests are checked against the AIP's manifest while
    the files are copied (``verify_digests``), so the two halves make a full audit with one read.
    """
    return validate(path, verify=False)


def _run_audit(audit: Audit, path: Path) -> ValidationReport:
    """One audit; a package too damaged to be read at all becomes a report with that reason."""
    try:
        return audit(path)
    except OaisPreserveError as exc:
        message = str(exc).replace(str(path), path.name)
        return ValidationReport(path, "package", [Problem(path.name, message, rule="unreadable")])


def _audit_each(audit: Audit, paths: Sequence[Path], pool: Executor | None) -> Iterator[ValidationReport]:
    run = functools.partial(_run_audit, audit)
    yield from (pool.map(run, paths) if pool is not None else map(run, paths))


def handover_profile() -> dict[str, Any]:
    """The BagIt profile every handover bag declares (a fresh copy)."""
    data: dict[str, Any] = json.loads((SCHEMA_DIR / PROFILE_FILE).read_text(encoding="utf-8"))
    return data


@dataclass(frozen=True)
class Party:
    """One side of the handover: the organisation and the person who signs for it."""

    organization: str
    representative: str = ""
    position: str = ""

    def __post_init__(self) -> None:
        # Names are compared and printed: NFC and trimmed, whatever the keyboard or shell produced.
        for name in ("organization", "representative", "position"):
            value = getattr(self, name)
            if value is None and name != "organization":
                value = ""  # not given
            if not isinstance(value, str):
                raise UserInputError(f"Party {name} must be text, not {type(value).__name__}")
            object.__setattr__(self, name, _plain(value))


@dataclass(frozen=True)
class HandedPackage:
    """One AIP as carried in the handover bag."""

    name: str  # bag-relative path, e.g. data/goi-aip/urn_P07_uuid_….zip
    objid: str
    arc_file_code: str
    title: str
    bytes: int
    sha256: str


@dataclass(frozen=True)
class HandoverResult:
    """One fonds' handover tar: where, its SHA-256 and size, the AIPs carried, the statistics row."""

    fonds_code: str
    path: Path  # the .tar
    sha256: str
    bytes: int
    packages: tuple[HandedPackage, ...]
    statistics: FondsStatistics | None
    seconds: float
    skipped: bool = False
    storage: dict[str, Any] | None = None  # copies read and the minimum in force (from storage)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (the CLI's ``--json``)."""
        return {
            "fonds_code": self.fonds_code,
            "path": str(self.path),
            "sha256": self.sha256,
            "bytes": self.bytes,
            "packages": [asdict(p) for p in self.packages],
            "statistics": self.statistics.to_dict() if self.statistics else None,
            "seconds": round(self.seconds, 3),
            "skipped": self.skipped,
            "storage": self.storage,
        }


# --- finding the AIPs ------------------------------------------------------------------------------


def find_aips(stores: Iterable[Path]) -> Iterator[Path]:
    """Every bag under the store folders; bags are not descended into.

    A bag is a folder holding ``bagit.txt``, or any other sign of one (``bag-info.txt``, a
    manifest, ``data/METS.xml``): a bag that lost its ``bagit.txt`` is still found, and then
    refused by the audit with the reason, rather than silently left out of the handover.
    """
    for store in stores:
        store = Path(store)
        if not store.is_dir():
            raise UserInputError(f"{store}: store folder not found")
        for dirpath, dirnames, files in os.walk(store):
            here = Path(dirpath)
            dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and not (here / d).is_symlink())
            if _looks_like_a_bag(here, files):
                dirnames[:] = []
                yield here


def _looks_like_a_bag(folder: Path, files: Sequence[str]) -> bool:
    names = set(files)
    if names & {"bagit.txt", "bag-info.txt"} or any(
        name.startswith(("manifest-", "tagmanifest-")) and name.endswith(".txt") for name in names
    ):
        return True
    return (folder / "data" / "METS.xml").is_file()


def _bag_labels(path: Path) -> dict[str, str]:
    """The first value of each bag-info label (a cheap pre-filter; METS decides)."""
    try:
        return {label: values[0] for label, values in read_bag_info(path).items() if values}
    except OaisPreserveError:
        return {}


_UNREADABLE = "AIP không đọc được, không bàn giao / unreadable AIPs refused"


def _gather(
    aips: Iterable[Path], wanted: Sequence[str] | None
) -> tuple[dict[str, list[StoredAip]], dict[str, OaisPreserveError], set[str]]:
    """The AIPs of each wanted fonds, each with every copy found (in the order found); the fonds
    refused, each with its reason; and every fonds code seen in the stores.

    The same OBJID in several stores is one AIP with several copies: the handover reads the
    first good one. An unreadable AIP is refused by name, unless its bag-info names an OBJID of
    which another copy can be read; it stops the fonds its bag-info names, or every fonds when
    it names none (any of them may be incomplete).
    """
    from .handover_storage import StoredAip, StoredCopy

    by_objid: dict[str, StoredAip] = {}
    by_fonds: dict[str, list[StoredAip]] = {}
    unreadable: list[tuple[str, str, Path, Problem]] = []  # (OBJID, fonds code, bag, why)
    seen: set[str] = set()
    for path in map(Path, aips):
        labels = _bag_labels(path)
        group = labels.get("Bag-Group-Identifier")
        if group is not None:
            seen.add(group)
        if wanted and group is not None and group not in wanted:
            continue  # another fonds: its AIPs are not even opened
        try:
            facts = read_package_facts(path)
        except OaisPreserveError as exc:
            problem = Problem(path.name, str(exc), rule="unreadable")
            unreadable.append((labels.get("External-Identifier", ""), group or "", path, problem))
            continue
        seen.add(facts.fonds_code)
        if wanted and facts.fonds_code not in wanted:
            continue
        if facts.package_type != "AIP":
            problem = Problem(path.name, f"not an AIP ({facts.package_type or 'no type'})", rule="aip")
            unreadable.append(("", facts.fonds_code, path, problem))
            continue
        aip = by_objid.get(facts.objid)
        if aip is None:
            aip = by_objid[facts.objid] = StoredAip(facts.objid, facts.arc_file_code, 0, [], {})
            aip.facts = facts  # its fonds names are compared before the audit (see _check_fonds_agrees)
            by_fonds.setdefault(facts.fonds_code, []).append(aip)
        else:
            log.info("%s: another copy of %s", path, facts.objid)
        aip.candidates.append(StoredCopy(str(path), path))
    refused: dict[str, list[Problem]] = {}
    for objid, code, path, problem in unreadable:
        if objid in by_objid:  # another copy of it can be read: that one is handed over
            log.warning("%s: unreadable copy of %s, another copy is used: %s", path, objid, problem.message)
            by_objid[objid].rejected.append(f"{path}: {problem.message}")
        else:
            refused.setdefault(code, []).append(problem)
    orphans = refused.pop("", [])
    missing = [code for code in wanted or () if code not in by_fonds and code not in refused]
    if missing and not orphans:
        raise UserInputError(f"không tìm thấy AIP của phông / no AIP found for fonds: {', '.join(missing)}")
    if orphans:  # fonds unknown: every fonds handed over may be missing them
        codes = list(wanted or dict.fromkeys([*by_fonds, *refused]))
        if not codes:
            raise InvalidPackageError(_UNREADABLE, orphans)
        for code in codes:
            refused.setdefault(code, []).extend(orphans)
    if not by_fonds and not refused:
        raise UserInputError("không tìm thấy AIP nào / no AIP found in the stores")
    for group_aips in by_fonds.values():
        group_aips.sort(key=lambda aip: (aip.hoso_code, aip.objid))
    failures: dict[str, OaisPreserveError] = {
        code: InvalidPackageError(_UNREADABLE, problems) for code, problems in refused.items()
    }
    return {code: group for code, group in by_fonds.items() if code not in failures}, failures, seen


class DamagedCopyError(InvalidPackageError):
    """A payload file of the AIP being copied differs from its recorded digest."""

    def __init__(self, package: Path, problems: Sequence[Problem]) -> None:
        super().__init__("AIP hỏng, không bàn giao / damaged AIP refused", problems)
        self.package = package


class FondsConflictError(InvalidPackageError):
    """The AIPs of one fonds disagree on its name, or on the archive (name or code) that keeps it.

    Nothing of that fonds is written: the statistics list and the record would state one value
    while some AIPs hold another. Each problem names the field, one distinct value and the AIPs
    (mã hồ sơ, or OBJID) carrying it, so that the metadata can be corrected.
    """

    def __init__(self, fonds_code: str, problems: Sequence[Problem]) -> None:
        super().__init__(
            f"phông {fonds_code}: các AIP ghi khác nhau, không bàn giao / the AIPs of fonds "
            f"{fonds_code} disagree, not handed over",
            problems,
        )
        self.fonds_code = fonds_code


class HandoverIncompleteError(InvalidPackageError):
    """Some fonds could not be handed over; every other fonds was.

    ``written``: the :class:`HandoverResult` of each fonds whose tar is in place (written now,
    or found complete from an earlier run); ``failures``: mã phông -> the error that stopped it.
    ``problems`` name each fonds refused, with its reason, then that error's own problems.
    """

    def __init__(self, written: Sequence[HandoverResult], failures: Mapping[str, OaisPreserveError]) -> None:
        problems = []
        for code, error in failures.items():
            if isinstance(error, InvalidPackageError):
                problems.append(Problem(code, error.path, rule="fonds"))
                problems.extend(
                    replace(p, where=p.where if p.where.startswith(f"{code}:") else f"{code}: {p.where}")
                    for p in error.problems
                )
            else:
                problems.append(Problem(code, str(error), rule="fonds"))
        super().__init__(
            f"{len(failures)} phông không bàn giao được / fonds not handed over: {', '.join(failures)}",
            problems,
        )
        self.written = list(written)
        self.failures = dict(failures)


class _Source:
    """Copies the files of one AIP into the tar, checking each against its manifest digest.

    This is the audit's fixity half, done during the copy so that every file is read once. The
    digests come from the tar's lanes, so they are compared later, by :meth:`verify`.
    """

    def __init__(self, tar: TarPipeline, package: Path, expected: Mapping[str, str] | None) -> None:
        self.tar = tar
        self.package = package
        self.expected = expected
        self._checks: list[tuple[str, PendingDigest]] = []

    def copy(
        self, path: Path, rel: str, sink: Callable[[memoryview], object], size: int, *, fixity: Any = None
    ) -> None:
        """Stream ``path`` (``rel`` inside the bag) into ``sink``; exactly ``size`` bytes.

        ``fixity``: a hasher for the file's own bytes, when the sink wraps them (a zip member).
        """
        done = 0
        with open(path, "rb", buffering=0) as src:
            while done < size:
                if fixity is None:
                    count = self.tar.copy_from(src, size - done, sink)
                else:
                    with self.tar.hashing_also(fixity):
                        count = self.tar.copy_from(src, size - done, sink)
                if not count:
                    break
                done += count
        if done != size or os.stat(path).st_size != size:
            raise InvalidPackageError(
                self.package.name, [Problem(rel, "file changed size while being copied", rule="copy")]
            )

    def check(self, rel: str, digest: PendingDigest) -> None:
        """Compare ``rel``'s digest with the manifest at :meth:`verify` (payload files only)."""
        if self.expected is not None and rel.startswith("data/"):
            self._checks.append((rel, digest))

    def verify(self) -> None:
        """Every file copied so far against the AIP's manifest; all differences in one error."""
        problems = []
        for rel, pending in self._checks:
            want, found = (self.expected or {}).get(rel), pending.hexdigest()
            if want != found:
                problems.append(
                    Problem(
                        f"{self.package.name}: {rel}",
                        "sha256 checksum differs from the AIP's manifest"
                        if want
                        else "not in the AIP's manifest (or the ledger)",
                        f"expected {want}, found {found}" if want else None,
                        "fixity",
                    )
                )
        self._checks.clear()
        if problems:
            raise DamagedCopyError(self.package, problems)


def _manifest_digests(bag: Path) -> dict[str, str]:
    """The AIP's own manifest-sha256.txt: bag-relative path -> SHA-256."""
    try:
        text = (bag / "manifest-sha256.txt").read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidPackageError(
            str(bag), [Problem("manifest-sha256.txt", f"unreadable ({exc})", rule="bag")]
        ) from exc
    return manifest_entries(text)


@dataclass
class _CopiedAip:
    """An AIP written into the tar whose digests the pipeline may still be computing."""

    source: _Source
    rel: str
    facts: PackageFacts
    size: int
    digest: PendingDigest

    def settle(self) -> HandedPackage:
        """Its fixity checked against its manifest, and its entry for the handover record."""
        self.source.verify()
        facts = self.facts
        return HandedPackage(
            self.rel, facts.objid, facts.arc_file_code, facts.title, self.size, self.digest.hexdigest()
        )


class _Sink:
    """The write side zipfile sees: not seekable, so it streams with data descriptors."""

    def __init__(self, tar: TarPipeline) -> None:
        self.write = tar.write
        self.flush = tar.flush


def stored_zip_size(entries: Sequence[tuple[str, int]]) -> int:
    """Exact size of the stored zip that :mod:`zipfile` streams for ``entries`` (name, size).

    Follows zipfile's rules for a non-seekable output: a data descriptor after each member,
    ZIP64 extras where sizes or offsets need them. The copy checks the result byte for byte.
    """
    limit = zipfile.ZIP64_LIMIT
    offset = 0
    central = 0
    for name, size in entries:
        encoded = len(name.encode("utf-8"))
        zip64 = size * 1.05 > limit
        offset_before = offset
        offset += 30 + encoded + (20 if zip64 else 0) + size + (24 if zip64 else 16)
        extra = (8 if size > limit else 0) * 2 + (8 if offset_before > limit else 0)
        central += 46 + encoded + (4 + extra if extra else 0)
    end = 22
    if len(entries) > zipfile.ZIP_FILECOUNT_LIMIT or offset > limit or central > limit:
        end += 56 + 20
    return offset + central + end


# --- writing one fonds ----------------------------------------------------------------------------


def handover_name(fonds_code: str, when: date) -> str:
    """``BGNV_<mã phông>_<YYYYMMDD>``: the tar name and the bag's root folder."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", unicodedata.normalize("NFC", fonds_code)).strip("._") or "phong"
    return f"BGNV_{safe}_{when:%Y%m%d}"


def handover(
    aips: Iterable[Path] | StorageConfig,
    out_dir: Path,
    *,
    sender: Party,
    receiver: Party,
    fonds: Sequence[str] | None = None,
    package_format: str = "zip",
    audit: Audit | None = structural_audit,
    verify_digests: bool = True,
    fonds_records: Mapping[str, FondsRecord] | None = None,
    handover_date: date | None = None,
    allow_below_minimum: bool = False,
    workers: int | None = None,
    executor: Executor | None = None,
    progress: Progress | None = None,
) -> list[HandoverResult]:
    """Write one handover package per fonds into ``out_dir``; see the module docstring.

    ``aips`` are AIP bags (e.g. :func:`find_aips` over the stores; bags with the same OBJID are
    copies of one AIP, read from the first that passes, in the order given), or a
    :class:`~oais_preserve.storage.StorageConfig`: then the storage ledger gives every AIP of each
    fonds, refuses a fonds whose AIPs lack the configured minimum of verified copies (unless
    ``allow_below_minimum``, which the handover record states), reads a clean copy of each AIP
    (falling back to another copy when one is damaged), checks the payload against the digests
    the ledger recorded, and records the handover in the ledger. ``fonds`` limits the fonds
    handed over (default: every fonds found). ``audit`` runs on each AIP before anything is
    written; a copy it refuses gives way to the AIP's next copy, and every AIP left without a good
    copy is listed, with the reasons, in one :class:`InvalidPackageError`. With
    ``verify_digests`` each payload file's SHA-256 is also checked against the AIP's manifest as
    it is copied; a mismatch makes that fonds' tar start again from the AIP's next copy, or stops
    the fonds if there is none: nothing of it is published. The defaults together
    equal :func:`full_audit` with one read per file; pass ``audit=full_audit`` to re-hash up
    front too, or an audit backed by the storage ledger. ``audit=None, verify_digests=False``
    only for AIPs audited moments ago.

    AIPs of one fonds that disagree on its name or archive stop that fonds
    (:class:`FondsConflictError`). A tar of the fonds and date already in place is trusted (a
    result with ``skipped``) only when its SHA-256 equals its ``.sha256`` file and its record
    lists the same AIPs, format, parties and fonds record; otherwise :class:`UserInputError`, and the tar is
    left as it is. Each fonds is handed over on its own; when some fail, the others are still
    written and :class:`HandoverIncompleteError` carries their results (``written``) and every
    failure; when the only fonds asked for fails, its own error is raised. An output folder the
    call created is removed again when nothing was written in it.
    """
    if package_format not in ("zip", "bag"):
        raise UserInputError(f"{package_format}: package format must be 'zip' or 'bag'")
    if not sender.organization.strip() or not receiver.organization.strip():
        raise UserInputError("bên giao và bên nhận phải có tên cơ quan / both parties need an organisation")
    out_dir = Path(out_dir)
    options = _Options(sender, receiver, package_format, audit, verify_digests, handover_date or now().date())
    records = fonds_records or {}
    write: Callable[
        [str, Sequence[StoredAip], Path, _Options, FondsRecord | None, Executor | None, Progress | None],
        HandoverResult,
    ] = _handover_copies
    if isinstance(aips, StorageConfig):
        from .handover_storage import select_stored_aips

        selection = select_stored_aips(aips, fonds, allow_below_minimum=allow_below_minimum, partial=True)
        groups, seen = selection.fonds, set(selection.ledger_fonds)
        failed: dict[str, OaisPreserveError] = {
            code: InvalidPackageError(
                "AIP chưa đủ điều kiện bàn giao / AIPs not ready for handover", problems
            )
            for code, problems in selection.refused.items()
        }
        write = functools.partial(_handover_stored, aips, selection)
    else:
        groups, failed, seen = _gather(aips, fonds)
    if not out_dir.exists() and str(out_dir) in seen:  # `handover P07 P08` without OUT
        raise UserInputError(
            f"OUT '{out_dir}' là mã phông, thư mục ra đặt cuối cùng / OUT '{out_dir}' is a fonds code; "
            "the output folder comes last"
        )
    for code in sorted(set(records) - set(groups) - set(failed)):
        log.warning("fonds record for %s ignored: that fonds is not handed over", code)
    results: list[HandoverResult] = []
    created = _make_dirs(out_dir)
    try:
        with executor_or_open(executor, workers) as pool:
            for code, group in groups.items():
                try:  # each fonds on its own: one refused does not stop the others
                    results.append(write(code, group, out_dir, options, records.get(code), pool, progress))
                except OaisPreserveError as exc:
                    log.info("handover of %s refused: %s", code, exc)  # the error says it all
                    failed[code] = exc
    except BaseException:
        _remove_empty(created)  # a refused handover leaves no folder behind that it made
        raise
    if failed:
        _remove_empty(created)
        if not results and len(failed) == 1:
            raise next(iter(failed.values()))  # one fonds asked for: its own error, as it is
        raise HandoverIncompleteError(results, failed)
    return results


def _make_dirs(folder: Path) -> list[Path]:
    """``mkdir -p``; returns the folders it created, outermost first."""
    missing = []
    for candidate in (folder, *folder.parents):
        if candidate.exists():
            break
        missing.append(candidate)
    folder.mkdir(parents=True, exist_ok=True)
    return missing[::-1]


def _remove_empty(created: Sequence[Path]) -> None:
    """Remove the folders in ``created`` that are still empty, innermost first."""
    for folder in reversed(created):
        try:
            folder.rmdir()
        except OSError:
            return  # not empty (another fonds was handed over, or someone wrote there): kept


@dataclass(frozen=True)
class _Options:
    sender: Party
    receiver: Party
    package_format: str
    audit: Audit | None
    verify_digests: bool
    when: date


def _handover_stored(
    config: StorageConfig,
    selection: StorageSelection,
    code: str,
    aips: Sequence[StoredAip],
    out_dir: Path,
    options: _Options,
    record: FondsRecord | None,
    pool: Executor | None,
    progress: Progress | None,
) -> HandoverResult:
    """One fonds from storage: handed over as from folders, then recorded in the ledger."""
    from .handover_storage import record_handover

    note = functools.partial(selection.note, code)
    result = _handover_copies(code, aips, out_dir, options, record, pool, progress, storage=note)
    record_handover(
        config,
        name=result.path.name.removesuffix(".tar"),
        fonds_code=code,
        handover_date=options.when.isoformat(),
        path=result.path,
        sha256=result.sha256,
        size=result.bytes,
        receiver=options.receiver.organization,
        aips=aips,
    )
    return replace(result, storage=note())


def _handover_copies(
    code: str,
    aips: Sequence[StoredAip],
    out_dir: Path,
    options: _Options,
    record: FondsRecord | None,
    pool: Executor | None,
    progress: Progress | None,
    *,
    storage: Callable[[], Mapping[str, Any]] | None = None,
) -> HandoverResult:
    """Hand over one fonds, each AIP read from the first of its copies that is good.

    A copy refused by the audit, or found damaged while it is copied into the tar (its payload
    differs from the ledger's digests or, without them, from the AIP's manifest), gives way to
    the next copy of that AIP; the fonds is refused only when an AIP has no good copy left.
    ``storage`` gives the record's storage section once the copies are chosen.
    """
    started = time.monotonic()
    done = _existing_handover(code, out_dir, options, record, {aip.objid for aip in aips}, started)
    if done is not None:
        return done
    _check_fonds_agrees(code, aips, record)  # from the stores the facts are known already: before the audit
    while True:
        entries = _choose_copies(aips, options.audit, pool, progress)
        _check_fonds_agrees(code, aips, record)
        by_path = {entry[0]: aip for entry, aip in zip(entries, aips, strict=True)}
        digests = None
        if options.verify_digests:
            digests = {path: aip.digests for path, aip in by_path.items() if aip.digests}
        try:
            return _handover_fonds(
                code,
                entries,
                out_dir,
                options,
                record,
                pool,
                progress,
                storage=storage() if storage else None,
                digests=digests,
            )
        except DamagedCopyError as exc:  # damaged since its last audit: try the next copy
            aip = by_path[exc.package]
            following = aip.drop(str(exc.problems[0]))
            if following is not None:
                log.warning("%s: %s; trying another copy (%s)", exc.package, exc.problems[0], following.path)
            else:  # the error raised below names it
                log.info("%s: %s; no other copy", exc.package, exc.problems[0])
                raise InvalidPackageError(
                    "AIP hỏng ở mọi bản sao, không bàn giao / every copy of an AIP is damaged",
                    [Problem(aip.objid, "; ".join(aip.rejected), rule="copies")],
                ) from exc


def _choose_copies(
    aips: Sequence[StoredAip], audit: Audit | None, pool: Executor | None, progress: Progress | None
) -> list[tuple[Path, PackageFacts]]:
    """Audit the chosen copy of every AIP not audited yet; a copy that fails gives way to the
    package's next one. Returns (bag folder, facts) in the order of ``aips``; raises when an AIP
    has no good copy left."""
    pending = [i for i, aip in enumerate(aips) if aip.audited != aip.chosen and aip.copy is not None]
    done = len(aips) - len(pending)
    while pending:
        paths = [aips[i].candidates[aips[i].chosen].path for i in pending]
        reports: Iterable[ValidationReport | None] = (
            _audit_each(audit, paths, pool) if audit is not None else [None] * len(paths)
        )
        retry = []
        for index, path, report in zip(pending, paths, reports, strict=True):
            aip = aips[index]
            reason = "; ".join(str(p) for p in report.problems[:3]) if report and report.problems else ""
            if not reason:
                try:
                    fact = read_package_facts(path)
                except OaisPreserveError as exc:
                    reason = str(exc)
                else:
                    if fact.objid == aip.objid:
                        aip.facts, aip.audited = fact, aip.chosen
                        done += 1
                        if progress:
                            progress("kiểm tra AIP / audit", done, len(aips))
                        continue
                    reason = f"holds {fact.objid}, not the package recorded in the ledger"
            log.warning("%s: not handed over from this copy: %s", path, reason)
            if aip.drop(reason) is not None:
                retry.append(index)
        pending = retry
    failed = [aip for aip in aips if aip.facts is None or aip.audited != aip.chosen]
    if failed:
        raise InvalidPackageError(
            "AIP hỏng ở mọi bản sao, không bàn giao / every copy of an AIP is damaged",
            [Problem(aip.objid, "; ".join(aip.rejected), rule="copies") for aip in failed],
        )
    return [(aip.candidates[aip.chosen].path, aip.facts) for aip in aips if aip.facts is not None]


#: (field of PackageFacts, what it is) that every AIP of one fonds must state alike: the
#: statistics list and the record state one value, and the receiving side compares them.
_FONDS_FIELDS = (
    ("fonds_name", "tên phông / fonds name"),
    ("organization", "cơ quan lưu trữ / archive"),
    ("archive_code", "mã cơ quan lưu trữ / archive code"),
)


def _check_fonds_agrees(code: str, aips: Sequence[StoredAip], record: FondsRecord | None = None) -> None:
    """Refuse the fonds when its AIPs (those whose facts are known), or its fonds record, name it
    differently.

    The facts are NFC and trimmed (:func:`read_package_facts`), so only a real difference counts.
    """
    problems = []
    for key, label in _FONDS_FIELDS:
        holders: dict[str, list[str]] = {}
        for aip in aips:
            if aip.facts is not None:
                holders.setdefault(getattr(aip.facts, key), []).append(aip.facts.arc_file_code or aip.objid)
        if len(holders) < 2:
            continue
        for value, names in holders.items():
            shown = ", ".join(names[:10]) + (f" … (+{len(names) - 10})" if len(names) > 10 else "")
            problems.append(
                Problem(
                    f"{code}: {label}",
                    f"ghi trong / stated in {len(names)} AIP: {shown}",
                    value,
                    "fonds-conflict",
                )
            )
    if not problems and record is not None:
        problems = _record_conflicts(code, aips, record)
    if problems:
        raise FondsConflictError(code, problems)


def _record_conflicts(code: str, aips: Sequence[StoredAip], record: FondsRecord) -> list[Problem]:
    """Where the fonds record names the fonds differently from its AIPs (a record of another
    fonds, picked by mistake, must not lend this one its PaperTotal)."""
    facts = next((aip.facts for aip in aips if aip.facts is not None), None)
    if facts is None:
        return []
    problems = []
    for key, label in _FONDS_FIELDS:
        stated, found = getattr(record, key), getattr(facts, key)
        if stated is not None and stated != found:
            problems.append(
                Problem(
                    f"{code}: {label}",
                    f"bản mô tả phông ghi khác các AIP / the fonds record differs from the AIPs ({found})",
                    stated,
                    "fonds-conflict",
                )
            )
    return problems


#: What to do about a handover tar in place that cannot be trusted (it is never overwritten).
_CHECK_OR_REDO = (
    "kiểm tra bằng verify-handover, hoặc xóa tệp .tar và .tar.sha256 để làm lại / check it with "
    "`verify-handover`, or remove the tar and its .sha256 to build it again"
)


def _existing_handover(
    code: str,
    out_dir: Path,
    options: _Options,
    fonds_record: FondsRecord | None,
    objids: set[str],
    started: float,
) -> HandoverResult | None:
    """The finished handover of this fonds and date, if one is already in place (checked)."""
    final = out_dir / f"{handover_name(code, options.when)}.tar"
    if final.exists():
        return _finished(code, final, options, fonds_record, objids, started)
    return None


def _handover_fonds(
    code: str,
    entries: Sequence[tuple[Path, PackageFacts]],
    out_dir: Path,
    options: _Options,
    record: FondsRecord | None,
    pool: Executor | None,
    progress: Progress | None,
    *,
    storage: Mapping[str, Any] | None = None,
    digests: Mapping[Path, Mapping[str, str]] | None = None,
) -> HandoverResult:
    """Write the handover tar of one fonds from AIP copies already audited."""
    started = time.monotonic()
    when, sender, receiver = options.when, options.sender, options.receiver
    package_format, verify_digests = options.package_format, options.verify_digests
    name = handover_name(code, when)
    final = out_dir / f"{name}.tar"
    sha_file = out_dir / f"{name}.tar.sha256"
    objids = {facts.objid for _path, facts in entries}
    with exclusive_lock(out_dir / f".{name}.tar.lock", final):
        if final.exists():  # another run published it meanwhile
            return _finished(code, final, options, record, objids, started)
        facts = [fact for _path, fact in entries]
        stats = fonds_statistics(facts, {code: record} if record else None)[0]
        work = out_dir / f".{name}.work"
        partial = out_dir / f".{name}.tar.partial"
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir()
        try:
            with open(partial, "wb", buffering=0) as fh:
                writer = _BagWriter(fh, name, work, progress)
                try:
                    packages = writer.add_packages(entries, package_format, verify_digests, digests)
                    writer.add_documents(stats, packages, sender, receiver, when, package_format, storage)
                    info = _bag_info(name, stats, sender, receiver, when, package_format, len(packages))
                    digest = writer.finish(info)  # every byte hashed, written and flushed to disk
                except BaseException:
                    writer.tar.abort()
                    raise
            size = partial.stat().st_size
            _write_sha_file(sha_file, digest, final.name)
            os.rename(partial, final)
            fsync_dir(out_dir)
        finally:
            partial.unlink(missing_ok=True)
            shutil.rmtree(work, ignore_errors=True)
    log.info("handover %s: %s (%d packages, %d bytes)", code, final, len(packages), size)
    return HandoverResult(code, final, digest, size, tuple(packages), stats, time.monotonic() - started)


def _finished(
    code: str,
    final: Path,
    options: _Options,
    fonds_record: FondsRecord | None,
    objids: set[str],
    started: float,
) -> HandoverResult:
    """A handover already in place counts only if it is intact and is what was asked for now.

    Intact: its SHA-256 (one streaming read) equals its ``.sha256`` file, which the writer writes
    before the tar is renamed into place, so a tar without one was tampered with. What was asked:
    exactly these AIPs, in this format, between these parties. Anything else is refused with
    what to do; a published tar is never overwritten or removed here.
    """
    sha_file = final.with_name(f"{final.name}.sha256")
    if not sha_file.is_file():
        raise UserInputError(
            f"{final}: tệp tar bàn giao không có tệp {sha_file.name} / the handover tar is in place "
            f"without its digest file; {_CHECK_OR_REDO}"
        )
    try:
        expected = _sha_file_digest(sha_file, final.name)
    except _UnusableShaFile as exc:
        shown = f" ({exc.value})" if exc.value else ""
        raise UserInputError(f"{sha_file}: {exc.reason}{shown}; {_CHECK_OR_REDO}") from exc
    digest, documents, error = _read_published(final)
    if digest != expected:
        raise UserInputError(
            f"{final}: SHA-256 khác tệp {sha_file.name} / the tar differs from its digest file "
            f"(expected {expected}, found {digest}): damaged since it was written?; {_CHECK_OR_REDO}"
        )
    if error:
        raise UserInputError(
            f"{final}: không đọc được tệp tar / cannot read the tar ({error}); {_CHECK_OR_REDO}"
        )
    record = documents.get(RECORD_BASE)
    if not isinstance(record, dict) or not isinstance(record.get("packages"), list):
        raise UserInputError(
            f"{final}: không có biên bản bàn giao đọc được trong tệp tar / no readable handover record "
            f"inside; {_CHECK_OR_REDO}"
        )
    statistics = _statistics_row(documents.get(STATISTICS_BASE), code)
    differences = _differences(record, options, objids)
    if statistics is not None:
        differences += _record_differences(statistics, fonds_record)
    if differences:
        raise UserInputError(
            f"{final}: đã có bản bàn giao của phông này cùng ngày nhưng khác yêu cầu / a handover of "
            f"this fonds and date already exists, made differently: {'; '.join(differences)}; "
            "choose another --date or move it away"
        )
    return HandoverResult(
        code,
        final,
        digest,
        final.stat().st_size,
        _handed_packages(record["packages"]),
        statistics,
        time.monotonic() - started,
        True,
    )


def _read_published(final: Path) -> tuple[str, dict[str, Any], str]:
    """One streaming read of a published tar: (its SHA-256, the record and statistics JSON found
    under their paths in the bag, why they could not be read or "")."""
    root = final.name.removesuffix(".tar")
    wanted = {f"{root}/{base}.json": base for base in (RECORD_BASE, STATISTICS_BASE)}
    documents: dict[str, Any] = {}
    error = ""
    with open(final, "rb") as raw:
        reader = _HashingReader(raw)
        try:
            with tarfile.open(fileobj=reader, mode="r|") as archive:  # type: ignore[call-overload]
                for member in archive:
                    base = wanted.get(member.name)
                    if base is not None and member.isreg() and member.size <= 256 << 20:
                        handle = archive.extractfile(member)
                        assert handle is not None
                        documents[base] = json.loads(handle.read().decode("utf-8"))
        except (tarfile.TarError, ValueError, EOFError) as exc:
            error = str(exc) or type(exc).__name__
        reader.drain()
    return reader.sha.hexdigest(), documents, error


def _differences(record: Mapping[str, Any], options: _Options, objids: set[str]) -> list[str]:
    """How a published record differs from the handover asked for now (empty when it does not)."""
    found = []
    listed = {package.get("objid") for package in record["packages"] if isinstance(package, dict)}
    if listed != objids:
        gone, new = sorted(map(str, listed - objids)), sorted(objids - listed)
        found.append(
            f"other AIPs ({len(listed)} listed, {len(objids)} now"
            + (f"; only in the tar: {_few(gone)}" if gone else "")
            + (f"; only now: {_few(new)}" if new else "")
            + ")"
        )
    if record.get("package_format") != options.package_format:
        found.append(f"--format {record.get('package_format')} (asked: {options.package_format})")
    for side, party in (("sender", options.sender), ("receiver", options.receiver)):
        stated = record.get(side)
        stated = stated if isinstance(stated, dict) else {}
        for key, asked in asdict(party).items():
            value = _plain(stated.get(key))
            if value != asked:
                found.append(f"{side} {key} {value!r} (asked: {asked!r})")
    return found


def _record_differences(statistics: FondsStatistics, fonds_record: FondsRecord | None) -> list[str]:
    """How the fonds record given now differs from the one the tar's statistics list was made with."""
    asked = (fonds_record.paper_total, fonds_record.paper_total_unit) if fonds_record else (None, None)
    stated = (statistics.paper_total, statistics.paper_total_unit)
    if stated == asked:
        return []

    def shown(total: float | None, unit: str | None) -> str:
        return "none" if total is None else f"{total:g} {unit or ''}".strip()

    return [f"--fonds-record PaperTotal {shown(*asked)} (in the tar: {shown(*stated)})"]


def _few(names: Sequence[str], most: int = 5) -> str:
    """Up to ``most`` names, then how many more."""
    more = f" and {len(names) - most} more" if len(names) > most else ""
    return ", ".join(names[:most]) + more


def _handed_packages(entries: Sequence[Any]) -> tuple[HandedPackage, ...]:
    """The record's package list as :class:`HandedPackage` (what the tar was written with)."""
    keys = HandedPackage.__dataclass_fields__
    try:
        return tuple(HandedPackage(**{k: v for k, v in entry.items() if k in keys}) for entry in entries)
    except (TypeError, AttributeError):
        return ()


def _statistics_row(document: Any, code: str) -> FondsStatistics | None:
    """This fonds' row of the statistics list (JSON form) in a published tar, if it can be read."""
    keys = FondsStatistics.__dataclass_fields__
    try:
        for row in document["fonds"]:
            if row.get("fonds_code") == code:
                return FondsStatistics(**{k: v for k, v in row.items() if k in keys})
    except (TypeError, KeyError, AttributeError):
        pass
    return None


def _write_sha_file(path: Path, digest: str, name: str) -> None:
    tmp = path.with_name(f".{path.name}.partial")
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(f"{digest}  {name}\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def _sha256_of(path: Path) -> str:
    sha = hashlib.sha256()
    with open(path, "rb", buffering=0) as fh:
        while chunk := fh.read(CHUNK):
            sha.update(chunk)
    return sha.hexdigest()


def _bag_info(
    name: str,
    stats: FondsStatistics,
    sender: Party,
    receiver: Party,
    when: date,
    package_format: str,
    count: int,
) -> list[tuple[str, str]]:
    return [
        ("BagIt-Profile-Identifier", PROFILE_ID),
        ("Source-Organization", sender.organization),
        ("Contact-Name", sender.representative or sender.organization),
        ("External-Identifier", name),
        (
            "External-Description",
            f"Bàn giao cơ sở dữ liệu số hóa phông {stats.fonds_code} ({stats.fonds_name}) "
            f"cho {receiver.organization}",
        ),
        ("Bag-Group-Identifier", stats.fonds_code),
        ("Fonds-Name", stats.fonds_name),
        ("Receiving-Organization", receiver.organization),
        ("Handover-Package-Format", package_format),
        ("Handover-Package-Count", str(count)),
        ("Bagging-Date", when.isoformat()),
        ("Bag-Software-Agent", f"{SOFTWARE_NAME} {__version__}"),
    ]


class _BagWriter:
    """Writes the handover bag into the tar: payload first, tag files last (their digests need it)."""

    def __init__(self, fh: IO[bytes], name: str, work: Path, progress: Progress | None) -> None:
        self.tar = TarPipeline(fh.fileno(), time.time())
        self.root = name
        self.work = work
        self.progress = progress
        self.manifest: list[tuple[str, PendingDigest]] = []
        self.octets = 0

    def _record(self, rel: str, size: int, digest: PendingDigest) -> None:
        self.manifest.append((rel, digest))
        self.octets += size

    def add_packages(
        self,
        entries: Sequence[tuple[Path, PackageFacts]],
        package_format: str,
        verify: bool,
        digests: Mapping[Path, Mapping[str, str]] | None = None,
    ) -> list[HandedPackage]:
        """Add every AIP; with ``verify`` each payload file is checked against ``digests`` of its
        package (the ledger's record) or, without them, against the AIP's own manifest."""
        handed = []
        previous: _CopiedAip | None = None
        for done, (path, facts) in enumerate(entries, start=1):
            expected = None
            if verify:
                expected = (digests or {}).get(path) or _manifest_digests(path)
            source = _Source(self.tar, path, expected)
            if package_format == "zip":
                rel = f"{PACKAGES_DIR}/{path.name}.zip"
                size, digest = self._add_zip(path, rel, source)
            else:
                rel = f"{PACKAGES_DIR}/{path.name}"
                size, digest = self._add_tree(path, rel, source)
            # Checked one AIP later, so that the pipeline never runs dry between AIPs: a damaged
            # one still stops the handover before anything is published.
            if previous is not None:
                handed.append(previous.settle())
            previous = _CopiedAip(source, rel, facts, size, digest)
            if self.progress:
                self.progress("đóng gói bàn giao / writing", done, len(entries))
        if previous is not None:
            handed.append(previous.settle())
        return handed

    def _add_zip(self, bag: Path, rel: str, source: _Source) -> tuple[int, PendingDigest]:
        """The AIP's TT05 ``.zip`` (its ``data/`` under one root folder), streamed into the tar."""
        root = bag / "data"
        if not (root / "METS.xml").is_file():
            raise UserInputError(f"{bag}: not a package (no METS.xml)")
        members = []
        for path in _regular_files(root):
            info = zipfile.ZipInfo.from_file(path, f"{bag.name}/{path.relative_to(root).as_posix()}")
            info.compress_type = zipfile.ZIP_STORED
            members.append((path, info))
        size = stored_zip_size([(info.filename, info.file_size) for _path, info in members])
        self.tar.begin(f"{self.root}/{rel}", size)
        sink: Any = _Sink(self.tar)  # write + flush, no tell/seek: zipfile streams
        with zipfile.ZipFile(sink, "w", zipfile.ZIP_STORED, allowZip64=True) as archive:
            for path, info in members:
                inner = f"data/{path.relative_to(root).as_posix()}"
                fixity = hashlib.sha256()
                with archive.open(info, "w") as member:
                    source.copy(path, inner, member.write, info.file_size, fixity=fixity)
                source.check(inner, self.tar.pending(fixity))
        digest = self.tar.end()
        self._record(rel, size, digest)
        return size, digest

    def _add_tree(self, folder: Path, rel: str, source: _Source) -> tuple[int, PendingDigest]:
        """Add a bag folder file by file; returns (bytes, SHA-256 of its tagmanifest-sha256.txt).

        The tag manifest seals the bag (it covers the manifest, which covers the payload), so its
        digest identifies the whole AIP in the record.
        """
        total = 0
        seal = None
        for file in _regular_files(folder):
            inner = file.relative_to(folder).as_posix()
            member = f"{rel}/{inner}"
            size = file.stat().st_size
            self.tar.begin(f"{self.root}/{member}", size)
            source.copy(file, inner, self.tar.write, size)
            digest = self.tar.end()  # the member is the file, byte for byte: one digest serves both
            source.check(inner, digest)
            self._record(member, size, digest)
            total += size
            if inner == BAG_SEAL:
                seal = digest
        if seal is None:
            raise InvalidPackageError(
                str(folder), [Problem(BAG_SEAL, "missing: the AIP bag is not sealed", rule="bag")]
            )
        return total, seal

    def _add_small(self, rel: str, data: bytes) -> None:
        digest = self.tar.add_bytes(f"{self.root}/{rel}", data)
        self._record(rel, len(data), digest)

    def add_documents(
        self,
        stats: FondsStatistics,
        packages: Sequence[HandedPackage],
        sender: Party,
        receiver: Party,
        when: date,
        package_format: str,
        storage: Mapping[str, Any] | None = None,
    ) -> None:
        generated = now().replace(microsecond=0)
        title = "DANH MỤC THỐNG KÊ TÀI LIỆU LƯU TRỮ ĐÃ SỐ HÓA"
        subtitle = f"Phông {stats.fonds_code}: {stats.fonds_name}"
        paths = {ext: self.work / f"thong-ke.{ext}" for ext in ("xlsx", "csv", "json")}
        write_statistics_xlsx([stats], paths["xlsx"], title=title, subtitle=subtitle, generated=generated)
        write_statistics_csv([stats], paths["csv"])
        write_statistics_json([stats], paths["json"], generated=generated)
        for ext, path in paths.items():
            self._add_small(f"{STATISTICS_BASE}.{ext}", path.read_bytes())
        record = handover_record(stats, packages, sender, receiver, when, package_format, generated, storage)
        record_xlsx = self.work / "bien-ban.xlsx"
        write_record_xlsx(record, record_xlsx)
        self._add_small(f"{RECORD_BASE}.xlsx", record_xlsx.read_bytes())
        self._add_small(
            f"{RECORD_BASE}.json", (json.dumps(record, ensure_ascii=False, indent=2) + "\n").encode("utf-8")
        )

    def finish(self, info: list[tuple[str, str]]) -> str:
        count = len(self.manifest)
        info = [
            *info,
            ("Bag-Size", human_size(self.octets)),
            ("Payload-Oxum", f"{self.octets}.{count}"),
        ]
        tags = {
            "bagit.txt": b"BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n",
            "bag-info.txt": "".join(f"{label}: {value}\n" for label, value in info).encode("utf-8"),
            "manifest-sha256.txt": "".join(
                f"{digest.hexdigest()}  {encode_path(rel)}\n"
                for rel, digest in sorted(self.manifest, key=lambda item: item[0])
            ).encode("utf-8"),
        }
        tag_lines = []
        for tag, data in tags.items():
            tag_lines.append(f"{self.tar.add_bytes(f'{self.root}/{tag}', data).hexdigest()}  {tag}\n")
        self.tar.add_bytes(f"{self.root}/tagmanifest-sha256.txt", "".join(tag_lines).encode("utf-8"))
        return self.tar.close()


def _regular_files(folder: Path) -> Iterator[Path]:
    for dirpath, dirnames, names in os.walk(folder):
        dirnames.sort()
        for entry in sorted(names):
            path = Path(dirpath) / entry
            if path.is_symlink() or not path.is_file():
                raise UnsafePathError(f"{path}: not a regular file (symlinks are refused)")
            yield path


# --- the handover record --------------------------------------------------------------------------


def handover_record(
    stats: FondsStatistics,
    packages: Sequence[HandedPackage],
    sender: Party,
    receiver: Party,
    when: date,
    package_format: str,
    generated: datetime,
    storage: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The biên bản bàn giao as data: both parties, the fonds, the counts, every package with its SHA-256.

    ``storage`` (a handover from the storage ledger) states the minimum of verified copies in
    force, the copy each AIP was read from, and any AIP handed over below the minimum.
    """
    record: dict[str, Any] = {
        "schema": RECORD_SCHEMA,
        "handover_date": when.isoformat(),
        "generated": generated.isoformat(timespec="seconds"),
        "sender": asdict(sender),
        "receiver": asdict(receiver),
        "fonds": {"code": stats.fonds_code, "name": stats.fonds_name, "archive_code": stats.archive_code},
        "counts": {key: getattr(stats, key) for key in COUNT_KEYS},
        "package_format": package_format,
        "packages": [asdict(p) for p in packages],
        "software": f"{SOFTWARE_NAME} {__version__}",
    }
    if storage is not None:
        record["storage"] = dict(storage)
    return record


def write_record_xlsx(record: Mapping[str, Any], path: Path) -> None:
    """The record as an A4 portrait sheet ready to print and sign."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font

    from .sheets import FONT, header_row, setup_print, title_rows

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "Biên bản bàn giao"
    when = date.fromisoformat(record["handover_date"])
    row = title_rows(
        sheet,
        [
            "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM",
            "Độc lập - Tự do - Hạnh phúc",
            "BIÊN BẢN BÀN GIAO CƠ SỞ DỮ LIỆU TÀI LIỆU LƯU TRỮ SỐ HÓA",
            f"Ngày {when.day:02d} tháng {when.month:02d} năm {when.year}",
        ],
        6,
    )
    sender, receiver, fonds, counts = record["sender"], record["receiver"], record["fonds"], record["counts"]
    lines = [
        ("Bên giao:", sender["organization"]),
        (
            "Đại diện:",
            f"{sender['representative']} {('- ' + sender['position']) if sender['position'] else ''}",
        ),
        ("Bên nhận:", receiver["organization"]),
        (
            "Đại diện:",
            f"{receiver['representative']} {('- ' + receiver['position']) if receiver['position'] else ''}",
        ),
        ("Phông/công trình/sưu tập:", f"{fonds['code']} - {fonds['name']}"),
        ("Số hồ sơ:", counts["hoso"]),
        ("Số tài liệu:", counts["documents"]),
        ("Số trang / số tờ:", f"{counts['pages']} trang / {counts['sheets']} tờ"),
        ("Số gói AIP / dung lượng:", f"{counts['packages']} gói / {counts['bytes']} byte"),
        ("Định dạng gói:", "tệp .zip TT05" if record["package_format"] == "zip" else "túi BagIt"),
    ]
    if "storage" in record:
        lines.append(("Bản sao bảo hiểm:", _copies_line(record["storage"])))
    for label, value in lines:
        sheet.cell(row=row, column=1, value=label).font = Font(name=FONT, bold=True)
        sheet.merge_cells(start_row=row, start_column=2, end_row=row, end_column=6)
        sheet.cell(row=row, column=2, value=value).font = Font(name=FONT)
        row += 1
    row += 1
    table = row
    header_row(
        sheet,
        table,
        [
            "STT",
            "Mã hồ sơ lưu trữ",
            "Tiêu đề hồ sơ",
            "Tệp trong gói bàn giao",
            "Dung lượng (byte)",
            "SHA-256",
        ],
    )
    for number, package in enumerate(record["packages"], start=1):
        values = [
            number,
            package["arc_file_code"],
            package["title"],
            package["name"],
            package["bytes"],
            package["sha256"],
        ]
        for column, value in enumerate(values, start=1):
            sheet.cell(row=table + number, column=column, value=value)
    setup_print(sheet, table, widths=[6, 24, 40, 34, 14, 34], landscape=False)
    row = sheet.max_row + 2
    for column, party in ((1, "ĐẠI DIỆN BÊN GIAO"), (4, "ĐẠI DIỆN BÊN NHẬN")):
        sheet.merge_cells(start_row=row, start_column=column, end_row=row, end_column=column + 2)
        cell = sheet.cell(row=row, column=column, value=party)
        cell.font = Font(name=FONT, bold=True)
        cell.alignment = Alignment(horizontal="center")
        sheet.merge_cells(start_row=row + 1, start_column=column, end_row=row + 1, end_column=column + 2)
        note = sheet.cell(row=row + 1, column=column, value="(Ký, ghi rõ họ tên, đóng dấu)")
        note.font = Font(name=FONT, italic=True)
        note.alignment = Alignment(horizontal="center")
    for column, party in ((1, sender), (4, receiver)):
        sheet.merge_cells(start_row=row + 6, start_column=column, end_row=row + 6, end_column=column + 2)
        cell = sheet.cell(row=row + 6, column=column, value=party["representative"])
        cell.font = Font(name=FONT, bold=True)
        cell.alignment = Alignment(horizontal="center")
    book.save(path)


def _copies_line(storage: Mapping[str, Any]) -> str:
    minimum, below = storage["min_copies"], storage["below_minimum"]
    if not below:
        return f"mỗi gói có ít nhất {minimum} bản sao đã kiểm tra trên phương tiện khác nhau"
    return (
        f"{len(below)} gói chưa đủ {minimum} bản sao đã kiểm tra, vẫn bàn giao theo quyết định "
        f"của bên giao: {', '.join(entry['objid'] for entry in below)}"
    )


# --- shared with the receiving side (handover_verify) ---------------------------------------------


class _HashingReader:
    """A read-only stream that hashes what passes through it (the tar is read exactly once)."""

    def __init__(self, fh: IO[bytes]) -> None:
        self._fh = fh
        self.sha = hashlib.sha256()

    def read(self, size: int = -1) -> bytes:
        data = self._fh.read(size)
        self.sha.update(data)
        return data

    def drain(self) -> None:
        while self.read(CHUNK):
            pass


_SHA_LINE = re.compile(r"(\\?)([0-9a-fA-F]{64})(?: [ *](.+))?")  # sha256sum: DIGEST, 2 spaces (or " *"), NAME


_SHA_FILE_LIMIT = 1 << 16


def _plain(value: object) -> object:
    """A name as compared: NFC, without surrounding spaces (bag-info lines are read stripped, and
    records written before parties were trimmed may keep a trailing space); other values as they are."""
    return _nfc(value).strip() if isinstance(value, str) else value


def _nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


class _UnusableShaFile(ValueError):
    """Why a ``.sha256`` file cannot vouch for its tar (``value``: what it holds instead, if anything)."""

    def __init__(self, reason: str, value: str | None = None) -> None:
        super().__init__(reason)
        self.reason, self.value = reason, value


def _sha_file_digest(sha_file: Path, tar_name: str) -> str:
    """The SHA-256 a ``NAME.tar.sha256`` file (sha256sum format) states for ``tar_name``.

    Raises :class:`_UnusableShaFile` for an unreadable or garbled file, an empty one, or one
    naming another file: none of them can vouch for this tar.
    """
    try:
        with open(sha_file, "rb") as fh:
            data = fh.read(_SHA_FILE_LIMIT + 1)
        if len(data) > _SHA_FILE_LIMIT:
            raise ValueError(f"larger than {_SHA_FILE_LIMIT} bytes")
        text = data.decode("utf-8")
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise _UnusableShaFile(f"tệp .sha256 không đọc được / unreadable .sha256 file ({exc})") from exc
    named = []
    for line in text.splitlines():
        match = _SHA_LINE.fullmatch(line.strip("\r\n\ufeff"))
        if match is None:
            if line.strip():
                raise _UnusableShaFile("dòng không đúng dạng sha256sum / not a sha256sum line", line[:200])
            continue
        escaped, digest, name = match.groups()
        if name is not None and escaped:  # sha256sum escapes "\\" and newlines in names
            name = re.sub(r"\\(.)", lambda m: "\n" if m[1] == "n" else m[1], name)
        # "sha256sum /path/to/NAME.tar > NAME.tar.sha256" names the same file by a longer path
        if name is None or _nfc(name.rsplit("/", 1)[-1]) == _nfc(tar_name):
            return digest.lower()
        named.append(name)
    if not named:
        raise _UnusableShaFile("tệp .sha256 rỗng / empty .sha256 file")
    raise _UnusableShaFile(
        "tệp .sha256 ghi SHA-256 của tệp khác / the .sha256 file names another file", ", ".join(named)
    )
