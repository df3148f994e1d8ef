"""Self-validation of a bag, a bare E-ARK package folder or a ``.zip`` of either.

Checks, all reported together: the bag (completeness, every checksum, Payload-Oxum, tag
manifests), the E-ARK folder structure, every METS (root and representation) against METS 1.12
+ the DILCIS extensions, PREMIS against PREMIS 3, the EAD records against our strict TT05
schemas, the CSIP rules by requirement ID, and each METS ``SIZE``/``CHECKSUM`` against the files.
Each payload file is read at most once: with a bag, the manifest digests verified by the bag
check are reused for the METS comparison.
"""

from __future__ import annotations

import hashlib
import os
import stat
import tempfile
import unicodedata
import zipfile
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Protocol

from .bag import validate_bag
from .earkrules import check_mets, check_reference
from .errors import Problem, UnsafePathError, UserInputError
from .metsread import MetsModel, Ref, read_mets
from .profile import NS_CSIP, NS_XLINK
from .xmlcheck import PREMIS_RECORDS, ead_schema, premis_schema, stream_validate, validate_file


class KnownDigests(Protocol):
    """Digests computed earlier (while copying, or by a bag check): path -> (size, sha256 hex).

    A plain dict works; so does a builder's on-disk inventory.
    """

    def get(self, rel: str, /) -> tuple[int, str] | None: ...


@dataclass
class ValidationReport:
    path: Path
    kind: str  # "bag", "package" or "zip"
    problems: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    objid: str | None = None
    package_type: str | None = None
    files_checked: int = 0
    bytes_checked: int = 0

    @property
    def valid(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        def row(p: Problem) -> dict[str, Any]:
            return {"where": p.where, "rule": p.rule, "message": p.message, "value": p.value}

        return {
            "path": str(self.path),
            "kind": self.kind,
            "valid": self.valid,
            "objid": self.objid,
            "package_type": self.package_type,
            "files_checked": self.files_checked,
            "bytes_checked": self.bytes_checked,
            "problems": [row(p) for p in self.problems],
            "warnings": [row(p) for p in self.warnings],
        }


def validate(
    path: Path,
    *,
    verify: bool = True,
    executor: Executor | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> ValidationReport:
    """Validate a bag, a package folder, or a zip of either; every problem is reported.

    ``verify=False`` checks structure, schemas and sizes without re-hashing the payload.
    """
    path = Path(path)
    if not path.exists():
        raise UserInputError(f"{path}: no such file or folder")
    if path.is_file():
        if not zipfile.is_zipfile(path):
            raise UserInputError(f"{path}: not a folder or a .zip package")
        with extracted_zip(path) as root:
            report = _validate_folder(root, verify, executor, progress)
        report.path, report.kind = path, "zip"
        return report
    return _validate_folder(path, verify, executor, progress)


def _validate_folder(
    path: Path, verify: bool, executor: Executor | None, progress: Callable[[int, int], None] | None
) -> ValidationReport:
    if (path / "bagit.txt").exists():
        bag = validate_bag(path, verify_payload=verify, executor=executor, progress=progress)
        report = ValidationReport(
            path,
            "bag",
            list(bag.problems),
            list(bag.warnings),
            files_checked=bag.files_checked,
            bytes_checked=bag.bytes_checked,
        )
        # Digests the bag check just verified are reused: no payload file is read twice.
        known = bag.verified if verify else None
        _check_package(path / "data", report, known, verify=False, prefix="data/")
        return report
    report = ValidationReport(path, "package")
    _check_package(path, report, None, verify=verify, prefix="")
    return report


def validate_package(
    root: Path,
    *,
    known: KnownDigests | None = None,
    verify: bool = False,
    check_ead: bool = True,
    executor: Executor | None = None,
) -> ValidationReport:
    """Check a bare E-ARK package folder; ``known`` digests (path relative to ``root``) spare re-reads.

    ``check_ead=False`` is for a builder that validated each EAD record in memory before writing it.
    """
    report = ValidationReport(root, "package")
    _check_package(root, report, known, verify=verify, prefix="", check_ead=check_ead, executor=executor)
    return report


def _check_package(
    root: Path,
    report: ValidationReport,
    known: KnownDigests | None,
    *,
    verify: bool,
    prefix: str,
    check_ead: bool = True,
    executor: Executor | None = None,
) -> None:
    problems = report.problems
    mets_path = root / "METS.xml"
    if not mets_path.is_file():
        problems.append(Problem(prefix + "METS.xml", "the package has no root METS.xml", rule="CSIPSTR4"))
        return
    _structure_warnings(root, report, prefix)
    checker = _RefChecker(root, known, verify, prefix, report, check_ead, executor)
    model = _read_and_check(root, "METS.xml", checker, is_package=True)
    report.objid = model.attrs.get("OBJID")
    report.package_type = model.header.get(f"{{{NS_CSIP}}}OAISPACKAGETYPE")
    for rep in model.representation_divs:
        href = rep.mptrs[0].get(f"{{{NS_XLINK}}}href") if rep.mptrs else None
        if not href:
            continue
        rep_rel = _safe_rel(href, prefix + "METS.xml", problems)
        if rep_rel is None or not (root / rep_rel).is_file():
            problems.append(Problem(prefix + (href or ""), "representation METS not found", rule="CSIP110"))
            continue
        _read_and_check(root, rep_rel, checker, is_package=False)
    _unreferenced(root, checker.seen | {"METS.xml"}, prefix, problems)
    for future in checker.pending:
        problems.extend(future.result())


def _read_and_check(root: Path, rel: str, checker: _RefChecker, *, is_package: bool) -> MetsModel:
    """Stream one METS: each reference is checked as it is read, then the document-level rules."""
    problems = checker.report.problems
    where = checker.prefix + rel
    parent = str(PurePosixPath(rel).parent)
    base = "" if parent == "." else parent + "/"

    def on_ref(ref: Ref) -> None:
        check_reference(ref, where, problems)
        checker.check(ref, base)

    model = read_mets(root / rel, where, problems, on_ref=on_ref)
    rule_problems, reps = check_mets(model, where, is_package=is_package)
    problems.extend(rule_problems)
    model.representation_divs = reps
    return model


class _RefChecker:
    """Checks each METS reference: safe path, existing file, SIZE, CHECKSUM, and XML schema."""

    def __init__(
        self,
        root: Path,
        known: KnownDigests | None,
        verify: bool,
        prefix: str,
        report: ValidationReport,
        check_ead: bool = True,
        executor: Executor | None = None,
    ) -> None:
        self.root, self.known, self.verify, self.prefix, self.report = root, known, verify, prefix, report
        self.check_ead, self.executor = check_ead, executor
        self.seen: set[str] = set()
        self._folders: dict[str, bool] = {}
        self.pending: list[Future[list[Problem]]] = []
        self._root_text = str(root)

    def _inside(self, folder_rel: str) -> bool:
        """Whether a folder really lies inside the package (no symlinked folder leads out)."""
        known = self._folders.get(folder_rel)
        if known is None:
            known = (self.root / folder_rel).resolve().is_relative_to(self.root.resolve())
            self._folders[folder_rel] = known
        return known

    def check(self, ref: Ref, base: str) -> None:
        problems = self.report.problems
        where_mets = self.prefix + base + "METS.xml"
        if not ref.href:
            return
        rel = _safe_rel(base + ref.href, where_mets, problems)
        if rel is None:
            return
        where = self.prefix + rel
        self.seen.add(rel)
        # Plain strings, not pathlib: this runs once per file of the package.
        if not self._inside(rel.rpartition("/")[0]):
            problems.append(
                Problem(where, "reached through a symbolic link that leaves the package", rule="unsafe-path")
            )
            return
        try:
            info = os.lstat(os.path.join(self._root_text, rel))
        except OSError:
            problems.append(Problem(where, f"referenced by {where_mets} but missing", rule="CSIP79"))
            return
        if not stat.S_ISREG(info.st_mode):
            problems.append(Problem(where, "not a regular file (symlinks are refused)", rule="unsafe-path"))
            return
        if ref.size is not None and ref.size != str(info.st_size):
            problems.append(
                Problem(
                    where,
                    f"METS SIZE {ref.size} but the file has {info.st_size} bytes",
                    rule="CSIP69",
                    value=ref.size,
                )
            )
        self._checksum(ref, rel, where, info.st_size)
        self._schema(ref, rel, where)

    def _checksum(self, ref: Ref, rel: str, where: str, size: int) -> None:
        if not ref.checksum or ref.checksum_type != "SHA-256":
            return
        actual: str | None = None
        known = self.known.get(self.prefix + rel) if self.known is not None else None
        if known is not None:
            actual = known[1]
        elif self.verify or rel.endswith(".xml"):
            # Our own metadata files are small; payload files are re-read only when asked to.
            actual = _sha256(self.root / rel)
            self.report.files_checked += 1
            self.report.bytes_checked += size
        if actual is not None and actual.lower() != ref.checksum.lower():
            self.report.problems.append(
                Problem(where, "METS CHECKSUM does not match the file", rule="CSIP71", value=ref.checksum)
            )

    def _schema(self, ref: Ref, rel: str, where: str) -> None:
        name = rel.rpartition("/")[2]
        if ref.mdtype == "PREMIS" or name.startswith("PREMIS"):
            if self.executor is not None:  # a large PREMIS validates in parallel with the METS
                self.pending.append(self.executor.submit(validate_premis_file, self.root / rel, where))
            else:
                self.report.problems.extend(validate_premis_file(self.root / rel, where))
        elif self.check_ead and ref.kind == "dmdSec" and name.lower().endswith(".xml"):
            xsd = _ead_schema_for(name)
            if xsd is not None:
                self.report.problems.extend(validate_file(self.root / rel, ead_schema(xsd), where))


def validate_premis_file(path: Path, where: str) -> list[Problem]:
    """PREMIS 3 schema validation, streamed; a top-level function so that a worker can run it."""
    return stream_validate(path, premis_schema(), where, PREMIS_RECORDS)


def _ead_schema_for(name: str) -> str | None:
    upper = name.upper()
    for prefix, xsd in (
        ("EAD_DOC", "EAD_doc.xsd"),
        ("EAD_PIC", "EAD_pic.xsd"),
        ("EAD_MEDIA", "EAD_media.xsd"),
    ):
        if upper.startswith(prefix):
            return xsd
    return "EAD.xsd" if upper == "EAD.XML" else None


def _sha256(path: Path) -> str:
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def _safe_rel(href: str, where: str, problems: list[Problem]) -> str | None:
    """A METS href as a safe package-relative path, or None (and a problem) when it escapes."""
    if "://" in href or href.startswith(("/", "\\")) or ":" in href.split("/")[0]:
        problems.append(Problem(where, "reference is not a relative path", value=href, rule="unsafe-path"))
        return None
    parts: list[str] = []
    for part in href.replace("\\", "/").split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if not parts:
                problems.append(
                    Problem(where, "reference escapes the package", value=href, rule="unsafe-path")
                )
                return None
            parts.pop()
        else:
            parts.append(part)
    return unicodedata.normalize("NFC", "/".join(parts))


def _walk(root: Path) -> Iterator[str]:
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        base = Path(dirpath).relative_to(root).as_posix()
        for name in sorted(filenames):
            yield name if base == "." else f"{base}/{name}"


def _unreferenced(root: Path, referenced: set[str], prefix: str, problems: list[Problem]) -> None:
    for rel in _walk(root):
        if unicodedata.normalize("NFC", rel) not in referenced:
            problems.append(Problem(prefix + rel, "file not referenced by any METS", rule="unreferenced"))


def _structure_warnings(root: Path, report: ValidationReport, prefix: str) -> None:
    for rel, rule in (
        ("metadata", "CSIPSTR5"),
        ("metadata/descriptive", "CSIPSTR7"),
        ("representations", "CSIPSTR9"),
        ("schemas", "CSIPSTR15"),
        ("documentation", "CSIPSTR16"),
    ):
        if not (root / rel).is_dir():
            report.warnings.append(Problem(prefix + rel, "recommended folder is missing", rule=rule))
    reps = root / "representations"
    if reps.is_dir():
        for rep in sorted(p for p in reps.iterdir() if p.is_dir()):
            for sub, rule in (("data", "CSIPSTR11"), ("METS.xml", "CSIPSTR12"), ("metadata", "CSIPSTR13")):
                if not (rep / sub).exists():
                    report.problems.append(
                        Problem(
                            f"{prefix}representations/{rep.name}/{sub}",
                            "missing in the representation",
                            rule=rule,
                        )
                    )


# --- zip packages -------------------------------------------------------------------------------

MAX_ZIP_RATIO = 200  # refuse zip bombs: uncompressed size far beyond the archive's own size


@contextmanager
def _open_zip(path: Path) -> Iterator[zipfile.ZipFile]:
    try:
        with zipfile.ZipFile(path) as archive:
            yield archive
    except zipfile.BadZipFile as exc:
        raise UserInputError(f"{path}: damaged zip archive ({exc})") from exc


def check_zip_members(archive: zipfile.ZipFile, name: str) -> str:
    """Refuse zip-slip, symlinks and bombs; return the single root folder (CSIPSTR1)."""
    roots: set[str] = set()
    total = 0
    for info in archive.infolist():
        member = info.filename.replace("\\", "/")
        if member.startswith("/") or ".." in member.split("/") or ":" in member.split("/")[0]:
            raise UnsafePathError(f"{name}: member {info.filename!r} escapes the archive (zip-slip)")
        if stat.S_ISLNK(info.external_attr >> 16):
            raise UnsafePathError(f"{name}: member {info.filename!r} is a symbolic link")
        total += info.file_size
        roots.add(member.split("/")[0])
    archive_size = Path(archive.filename or "").stat().st_size if archive.filename else 0
    if archive_size and total > MAX_ZIP_RATIO * archive_size and total > 2**30:
        raise UnsafePathError(f"{name}: expands to {total} bytes, refusing (zip bomb?)")
    if len(roots) != 1:
        raise UserInputError(f"{name}: a package archive must hold exactly one root folder (CSIPSTR1)")
    return roots.pop()


@contextmanager
def extracted_zip(path: Path) -> Iterator[Path]:
    """Extract a package zip safely into a private temporary folder, removed afterwards."""
    with _open_zip(path) as archive:
        root_name = check_zip_members(archive, str(path))
        with tempfile.TemporaryDirectory(prefix="oais-preserve-zip-") as tmp:
            archive.extractall(tmp)
            yield Path(tmp) / root_name
