"""The receiving side of a handover: :func:`verify_handover` and its :class:`HandoverReceipt`.

The Ministry (or anyone given a handover tar) checks the tar's SHA-256 against its ``.sha256``,
extracts it refusing hostile members, validates the bag and its BagIt profile and every AIP
inside, and compares the statistics list and the handover record (JSON and the signed ``.xlsx``)
with what is actually inside. Every difference is one :class:`~oais_preserve.errors.Problem` of
the receipt; nothing is trusted because a form says so.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import re
import tarfile
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .bag import read_bag_info, validate_bag
from .errors import InvalidPackageError, Problem, UserInputError
from .executors import executor_or_open
from .handover import (
    BAG_SEAL,
    PACKAGES_DIR,
    PROFILE_ID,
    RECORD_BASE,
    STATISTICS_BASE,
    Audit,
    _audit_each,
    _HashingReader,
    _plain,
    _sha256_of,
    _sha_file_digest,
    _UnusableShaFile,
    full_audit,
    handover_profile,
    write_record_xlsx,
)
from .statistics import (
    COLUMNS,
    COUNT_KEYS,
    DECLARED_KEYS,
    JSON_ONLY,
    STATISTICS_VERSION,
    UNKNOWN,
    FondsStatistics,
    PackageFacts,
    fonds_statistics,
    read_package_facts,
    read_statistics_workbook,
)

__all__ = ["HandoverReceipt", "verify_handover"]


@dataclass
class HandoverReceipt:
    """What ``verify-handover`` found: what was received, and every discrepancy."""

    path: Path
    sha256: str = ""
    expected_sha256: str | None = None
    name: str | None = None
    fonds_code: str | None = None
    fonds_name: str | None = None
    sender: str | None = None
    receiver: str | None = None
    packages: list[dict[str, Any]] = field(default_factory=list)
    statistics: FondsStatistics | None = None
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when nothing differs from what the package states."""
        return not self.problems

    def add(self, where: str, message: str, value: str | None = None, rule: str | None = None) -> None:
        """Record one discrepancy."""
        self.problems.append(Problem(where, message, value, rule))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (the CLI's ``--json`` receipt)."""
        return {
            "path": str(self.path),
            "ok": self.ok,
            "sha256": self.sha256,
            "expected_sha256": self.expected_sha256,
            "name": self.name,
            "fonds_code": self.fonds_code,
            "fonds_name": self.fonds_name,
            "sender": self.sender,
            "receiver": self.receiver,
            "packages": self.packages,
            "statistics": self.statistics.to_dict() if self.statistics else None,
            "problems": [
                {"where": p.where, "rule": p.rule, "message": p.message, "value": p.value}
                for p in self.problems
            ],
        }


def _safe_member(member: tarfile.TarInfo, roots: set[str], seen: dict[str, bool]) -> str | None:
    """Why a member is refused (None if it is a plain file or folder inside one root)."""
    name = member.name
    parts = name.split("/")
    if name.startswith("/") or ".." in parts or "\\" in name or any(p in ("", ".") for p in parts[:-1]):
        return "path escapes the archive"
    if member.issparse() or not (member.isreg() or member.isdir()):
        return "not a plain file or folder (links, devices and sparse files are refused)"
    if name in seen and not (seen[name] and member.isdir()):  # a second copy would replace the first
        return "the same file appears twice in the archive"
    if any(seen.get("/".join(parts[:i])) is False for i in range(1, len(parts))):
        return "placed under a file of the archive, as if it were a folder"
    seen[name] = member.isdir()
    roots.add(parts[0])
    return None


#: Errors of extraction that come from the member's name (too long, a file where a folder goes).
_NAME_ERRNOS = {errno.ENAMETOOLONG, errno.ENOTDIR, errno.EISDIR, errno.EEXIST, errno.EINVAL, errno.EILSEQ}


def _extract(tar_path: Path, dest: Path, receipt: HandoverReceipt) -> Path | None:
    """Extract safely while hashing the tar; returns the bag root folder or None.

    A hostile member (escaping path, link, device, duplicate) is a discrepancy of the package
    received: it is never extracted, extraction stops there, and the bag is not checked further.
    """
    roots: set[str] = set()
    seen: dict[str, bool] = {}  # name: is a folder
    limit = tar_path.stat().st_size
    refused = False
    with open(tar_path, "rb") as raw:
        reader = _HashingReader(raw)
        try:
            with tarfile.open(fileobj=reader, mode="r|") as archive:  # type: ignore[call-overload]
                for member in archive:
                    reason = _safe_member(member, roots, seen)
                    if reason is None and member.size > limit:
                        reason = "larger than the archive"
                    if reason is None:
                        try:
                            archive.extract(member, dest, set_attrs=False, filter="data")
                        except tarfile.FilterError as exc:  # what the checks above missed
                            reason = str(exc)
                        except OSError as exc:
                            if exc.errno not in _NAME_ERRNOS:
                                raise  # the receiver's disk (full, read-only): not the package's fault
                            reason = f"cannot be written as named ({exc.strerror})"
                    if reason is not None:
                        receipt.add(
                            f"{tar_path.name}: {member.name}",
                            f"thành phần bị từ chối / member refused, not extracted: {reason}",
                            member.name,
                            "unsafe-member",
                        )
                        refused = True
                        break
        except tarfile.TarError as exc:
            receipt.add(tar_path.name, f"tar hỏng / damaged tar archive: {exc}", rule="tar")
        reader.drain()
        receipt.sha256 = reader.sha.hexdigest()
    if refused:
        return None
    if len(roots) != 1:
        receipt.add(
            tar_path.name, "the archive must hold exactly one bag folder", ", ".join(sorted(roots)), "tar"
        )
        return None
    return dest / roots.pop()


_SHA256_HEX = re.compile(r"[0-9a-fA-F]{64}")


def _digest_from_sha_file(sha_file: Path, tar_name: str, receipt: HandoverReceipt) -> str | None:
    """The digest a ``.sha256`` file states for the tar; None (and a receipt problem) when it cannot say."""
    try:
        return _sha_file_digest(sha_file, tar_name)
    except _UnusableShaFile as exc:
        cannot = "không dùng được để kiểm tra SHA-256 / the tar's digest cannot be checked against it"
        receipt.add(sha_file.name, f"{exc.reason}: {cannot}", exc.value, "tar-digest")
        return None


def verify_handover(
    tar_path: Path,
    *,
    expected_sha256: str | None = None,
    audit: Audit = full_audit,
    workers: int | None = None,
    executor: Executor | None = None,
    workdir: Path | None = None,
) -> HandoverReceipt:
    """Check a handover package as the receiving side; every discrepancy goes in the receipt.

    The expected digest is ``expected_sha256`` (64 hexadecimal digits, else :class:`UserInputError`)
    or the one the ``NAME.tar.sha256`` file beside the tar states for it.
    """
    tar_path = Path(tar_path)
    if expected_sha256 is not None:
        expected_sha256 = expected_sha256.strip()
        if not _SHA256_HEX.fullmatch(expected_sha256):
            raise UserInputError(
                f"SHA-256 mong đợi phải gồm 64 chữ số thập lục phân / the expected SHA-256 must be "
                f"64 hexadecimal digits: {expected_sha256!r}"
            )
        expected_sha256 = expected_sha256.lower()
    if not tar_path.is_file():
        raise UserInputError(f"{tar_path}: no such file")
    receipt = HandoverReceipt(tar_path)
    sha_file = tar_path.with_name(tar_path.name + ".sha256")
    if expected_sha256 is None and sha_file.is_file():
        expected_sha256 = _digest_from_sha_file(sha_file, tar_path.name, receipt)
    elif expected_sha256 is None:
        receipt.add(sha_file.name, "no SHA-256 given and no .sha256 file beside the tar", rule="tar-digest")
    receipt.expected_sha256 = expected_sha256
    with tempfile.TemporaryDirectory(prefix="oais-handover-", dir=workdir) as tmp:
        root = _extract(tar_path, Path(tmp), receipt)
        if expected_sha256 is not None and receipt.sha256 != expected_sha256:
            receipt.add(
                tar_path.name,
                f"SHA-256 của tệp tar không khớp / tar digest mismatch: expected {expected_sha256}",
                receipt.sha256,
                "tar-digest",
            )
        if root is not None:
            with executor_or_open(executor, workers) as pool:
                _verify_bag(root, tar_path, receipt, audit, pool)
    return receipt


def _verify_bag(
    root: Path, tar_path: Path, receipt: HandoverReceipt, audit: Audit, pool: Executor | None
) -> None:
    receipt.name = root.name
    bag_report = validate_bag(root, verify_payload=True)
    for problem in bag_report.problems:
        receipt.add(f"bag: {problem.where}", problem.message, problem.value, problem.rule)
    _check_profile(root, tar_path, receipt)
    info = _bag_info_of(root)
    receipt.fonds_code, receipt.fonds_name = info.get("Bag-Group-Identifier"), info.get("Fonds-Name")
    receipt.sender, receipt.receiver = info.get("Source-Organization"), info.get("Receiving-Organization")
    if receipt.name != info.get("External-Identifier"):
        receipt.add(
            "bag-info.txt",
            "External-Identifier differs from the bag folder name",
            info.get("External-Identifier"),
            "profile",
        )
    packages = _received_packages(root)
    record = _read_record(root, receipt)
    # AIPs missing or extra come first: most other differences follow from them
    set_differs = record is not None and _compare_package_set(record, packages, receipt)
    _check_payload(root, packages, info.get("Handover-Package-Format"), receipt)
    paths = [path for _rel, path in packages]
    reports = _audit_each(audit, paths, pool)
    facts: dict[str, PackageFacts] = {}
    for (rel, path), report in zip(packages, reports, strict=True):
        entry: dict[str, Any] = {"name": rel, "valid": report.valid, "objid": report.objid}
        for problem in report.problems:
            receipt.add(f"{rel}: {problem.where}", problem.message, problem.value, problem.rule or "aip")
        try:
            fact = read_package_facts(path)
        except (InvalidPackageError, UserInputError) as exc:
            receipt.add(rel, f"cannot read the package's metadata: {exc}", rule="aip")
        else:
            facts[rel] = fact
            if fact.fonds_code != receipt.fonds_code:
                receipt.add(rel, f"AIP of another fonds ({fact.fonds_code})", fact.objid, "fonds")
            entry.update(arc_file_code=fact.arc_file_code, title=fact.title, bytes=fact.bytes)
        receipt.packages.append(entry)
    stats = fonds_statistics(facts.values())
    receipt.statistics = stats[0] if len(stats) == 1 else None
    _check_bag_info(info, packages, receipt.statistics, record, receipt)
    _compare_statistics(root, stats, receipt, knock_on=set_differs)
    if record is not None:
        received = _received_digests(root, packages)
        _compare_record(record, received, facts, receipt.statistics, receipt, knock_on=set_differs)
        truth = _received_record(record, received, facts, receipt.statistics)
        _compare_record_form(root, record, truth, receipt, knock_on=set_differs)


def _check_profile(root: Path, tar_path: Path, receipt: HandoverReceipt) -> None:
    import bagit
    import bagit_profile

    logging.getLogger("bagit_profile").setLevel(logging.CRITICAL)  # its errors come back in the report
    try:
        profile = bagit_profile.Profile(PROFILE_ID, profile=handover_profile())
        profile.validate_serialization(str(tar_path))
        bag = bagit.Bag(str(root))
    except (bagit_profile.ProfileValidationError, bagit.BagError) as exc:
        receipt.add("profile", str(exc), rule="bagit-profile")
        return
    if not profile.validate(bag):
        for error in profile.report.errors:
            receipt.add("profile", str(error.value), rule="bagit-profile")


def _bag_info_of(root: Path) -> dict[str, str]:
    try:
        return {label: values[0] for label, values in read_bag_info(root).items()}
    except InvalidPackageError:
        return {}


def _received_packages(root: Path) -> list[tuple[str, Path]]:
    folder = root / PACKAGES_DIR
    if not folder.is_dir():
        return []
    found = []
    for entry in sorted(folder.iterdir()):
        if (entry.is_file() and entry.suffix == ".zip") or entry.is_dir():
            found.append((f"{PACKAGES_DIR}/{entry.name}", entry))
    return found


def _received_format(packages: Sequence[tuple[str, Path]]) -> str | None:
    """ "zip" or "bag" as the packages actually received are; None when mixed or none."""
    forms = {"zip" if path.is_file() else "bag" for _rel, path in packages}
    return forms.pop() if len(forms) == 1 else None


_FORMS = tuple(f"{STATISTICS_BASE}.{ext}" for ext in ("xlsx", "csv", "json")) + tuple(
    f"{RECORD_BASE}.{ext}" for ext in ("xlsx", "json")
)


def _check_payload(
    root: Path, packages: Sequence[tuple[str, Path]], stated_format: str | None, receipt: HandoverReceipt
) -> None:
    """Every payload file is an AIP, a form of the statistics list or a form of the record.

    Anything else riding along (a program, a stray document) is named, even when the bag's
    manifests list it; so is an entry of the AIP folder that is not an AIP in the declared format.
    """
    aips = {rel: "zip" if path.is_file() else "bag" for rel, path in packages}
    mixed = _received_format(packages) is None
    for rel, form in aips.items():
        if mixed and stated_format in ("zip", "bag") and form != stated_format:
            receipt.add(
                rel,
                f"gói không đúng định dạng đã khai ({stated_format}) / not in the declared package "
                f"format ({stated_format}): {'a .zip file' if form == 'zip' else 'a folder'}",
                rule="payload",
            )
    for dirpath, dirnames, names in os.walk(root / "data"):
        dirnames.sort()
        folder = Path(dirpath).relative_to(root).as_posix()
        if aips.get(folder) == "bag":
            dirnames.clear()  # the files of a bag-format AIP are the AIP's own (its audit checks them)
            continue
        for name in sorted(names):
            rel = f"{folder}/{name}"
            if rel in aips or rel in _FORMS:
                continue
            if folder == PACKAGES_DIR:
                message = "không phải gói AIP / not an AIP (a TT05 .zip file or a bag folder)"
            else:
                message = (
                    "tệp không thuộc gói bàn giao / file not accounted for: not an AIP, the "
                    "statistics list or the handover record"
                )
            receipt.add(rel, message, rule="payload")


def _check_bag_info(
    info: Mapping[str, str],
    packages: Sequence[tuple[str, Path]],
    stats: FondsStatistics | None,
    record: Mapping[str, Any] | None,
    receipt: HandoverReceipt,
) -> None:
    """What bag-info.txt states about the content against the content itself."""

    def differs(label: str, stated: str | None, found: object, what: str) -> None:
        receipt.add(
            f"bag-info.txt: {label}",
            f"bag-info ghi {stated}, {what} {found} / bag-info states {stated}, {what} {found}",
            stated,
            "bag-info",
        )

    count = info.get("Handover-Package-Count")
    if count != str(len(packages)):
        differs("Handover-Package-Count", count, len(packages), "packages received:")
    stated_format = info.get("Handover-Package-Format")
    received = _received_format(packages)
    if stated_format not in ("zip", "bag"):
        differs("Handover-Package-Format", stated_format, "zip or bag", "allowed:")
    elif received is not None and stated_format != received:
        differs("Handover-Package-Format", stated_format, received, "packages received are")
    if record is not None and stated_format != record.get("package_format"):
        differs("Handover-Package-Format", stated_format, record.get("package_format"), "the record states")
    if stats is not None and info.get("Fonds-Name") != stats.fonds_name:
        differs("Fonds-Name", info.get("Fonds-Name"), stats.fonds_name, "the packages received name")
    for label, party in (("Source-Organization", "sender"), ("Receiving-Organization", "receiver")):
        stated_party = record.get(party) if record is not None else None
        if not isinstance(stated_party, dict):
            continue
        if _plain(info.get(label)) != _plain(stated_party.get("organization")):
            differs(label, info.get(label), stated_party.get("organization"), "the record states")


def _shown(value: object) -> str:
    if value is None:
        return UNKNOWN
    if isinstance(value, list):
        return ", ".join(map(str, value))
    return str(value)


def _canonical(value: object) -> object:
    """A cell value as the CSV and xlsx forms hold it, made comparable (numbers as numbers)."""
    if isinstance(value, str):
        text = value.strip()
        if text in ("", UNKNOWN):
            return None
        if re.fullmatch(r"-?\d+", text):
            return int(text)
        if re.fullmatch(r"-?\d+\.\d*", text):
            value = float(text)
        else:
            return text
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _same(stated: object, expected: object, form: str) -> bool:
    if form == "json":  # JSON keeps types: "30" is not 30 (30.0 is)
        numbers = {type(stated), type(expected)} <= {int, float}
        return stated == expected and (type(stated) is type(expected) or numbers)
    return _canonical(stated) == _canonical(expected)


def _read_statistics_forms(
    base: Path, receipt: HandoverReceipt
) -> tuple[dict[str, list[dict[str, Any]]], dict[str, Any] | None]:
    """Each readable form of the statistics list (json, csv, xlsx), and the workbook's totals row."""
    forms: dict[str, list[dict[str, Any]]] = {}
    totals = None

    def unreadable(form: str, exc: Exception) -> None:
        receipt.add(f"{STATISTICS_BASE}.{form}", f"cannot read the statistics list: {exc}", rule="statistics")

    try:
        data = json.loads(base.with_suffix(".json").read_text(encoding="utf-8"))
        if data.get("schema") != STATISTICS_VERSION:
            raise ValueError(f"schema {data.get('schema')!r}, expected {STATISTICS_VERSION!r}")
        rows = data["fonds"]
        if not isinstance(rows, list) or not all(isinstance(row, dict) for row in rows):
            raise ValueError("'fonds' must be a list of objects")
        forms["json"] = rows
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        unreadable("json", exc)
    try:
        csv_text = base.with_suffix(".csv").read_bytes().decode("utf-8-sig")
        forms["csv"] = _csv_rows(csv_text)
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        unreadable("csv", exc)
    try:
        forms["xlsx"], totals = read_statistics_workbook(base.with_suffix(".xlsx"))
    except Exception as exc:  # openpyxl raises many types for a damaged workbook
        unreadable("xlsx", exc)
    return forms, totals


def _compare_statistics(
    root: Path, actual: list[FondsStatistics], receipt: HandoverReceipt, *, knock_on: bool = False
) -> None:
    """Every column of each form of the statistics list against the packages received.

    Columns computed from the packages (counts, names, date range, hồ sơ codes) are compared with
    the same figures computed here; the columns the sender's fonds record states
    (:data:`DECLARED_KEYS`) cannot be recomputed, so the CSV and xlsx forms must agree with the
    JSON form on them. ``knock_on``: the AIPs received are not the ones the record lists (already
    reported), so the figures they change are stated in one line per form, not one per column.
    """
    expected = {row.fonds_code: row.to_dict() for row in actual}
    forms, totals = _read_statistics_forms(root / STATISTICS_BASE, receipt)
    if receipt.fonds_code and receipt.fonds_code not in expected and actual:
        receipt.add(
            "statistics", "the packages received belong to another fonds", receipt.fonds_code, "statistics"
        )
    declared = {_code_of(row): row for row in forms.get("json", [])}
    for form, rows in forms.items():
        where = f"{STATISTICS_BASE}.{form}"
        listed: dict[str, dict[str, Any]] = {}
        for row in rows:
            code = _code_of(row)
            if code in listed:
                receipt.add(where, "fonds listed twice", code, "statistics")
            listed[code] = row
        for code in sorted(set(listed) | set(expected)):
            if code not in expected:
                receipt.add(where, "fonds listed, but no package of it was received", code, "statistics")
            elif code not in listed:
                receipt.add(where, "fonds received but not listed", code, "statistics")
            else:
                _compare_row(
                    f"{where}: {code}",
                    form,
                    listed[code],
                    expected[code],
                    declared.get(code),
                    receipt,
                    knock_on,
                )
    if "xlsx" in forms:
        _compare_totals(totals, actual, receipt, knock_on)


def _code_of(row: Mapping[str, Any]) -> str:
    """A row's mã phông as written (a code such as "07" is text, not the number 7)."""
    value = row.get("fonds_code")
    return "" if value is None else str(value).strip()


def _compare_row(
    where: str,
    form: str,
    row: Mapping[str, Any],
    expected: Mapping[str, Any],
    declared: Mapping[str, Any] | None,
    receipt: HandoverReceipt,
    knock_on: bool = False,
) -> None:
    """One fonds' row of one form; each differing field is one problem naming it."""
    labels = dict(COLUMNS) | (dict(JSON_ONLY) if form == "json" else {})
    folded: list[tuple[str, str, str]] = []
    for key, label in labels.items():
        field_at = f"{where}: {label} ({key})"
        if key not in row:
            receipt.add(field_at, "trường bị thiếu / field missing from the list", None, "statistics")
            continue
        stated = row[key]
        if key == "hoso_codes":
            _compare_codes(field_at, stated, expected[key], receipt)
        elif key in DECLARED_KEYS:
            if form == "json":
                _check_declared(field_at, key, stated, receipt)
            elif declared is not None and key in declared and not _same(stated, declared[key], form):
                receipt.add(
                    field_at,
                    f"danh mục ghi {_shown(stated)}, bản .json ghi {_shown(declared[key])} / this form "
                    f"states {_shown(stated)}, the .json form states {_shown(declared[key])}",
                    _shown(stated),
                    "statistics",
                )
        elif _same(stated, expected[key], form):
            continue
        elif knock_on and key in _SET_FIGURES:
            folded.append((f"{label} ({key})", _shown(stated), _shown(expected[key])))
        else:
            receipt.add(
                field_at,
                f"danh mục ghi {_shown(stated)}, các gói nhận được có {_shown(expected[key])} / the list "
                f"states {_shown(stated)}, the packages received hold {_shown(expected[key])}",
                _shown(stated),
                "statistics",
            )
    _report_folded(where, folded, "statistics", receipt)
    if form == "json":
        for key in sorted(set(row) - set(labels)):
            receipt.add(
                f"{where}: {key}", "trường lạ / unexpected field in the list", _shown(row[key]), "statistics"
            )


def _compare_codes(where: str, stated: object, expected: Sequence[str], receipt: HandoverReceipt) -> None:
    """The list of mã hồ sơ lưu trữ against the hồ sơ received."""
    if not isinstance(stated, list) or not all(isinstance(code, str) for code in stated):
        receipt.add(where, "must be a list of hồ sơ codes", _shown(stated), "statistics")
        return
    extra = sorted(set(stated) - set(expected))
    missing = sorted(set(expected) - set(stated))
    if extra:
        receipt.add(
            where,
            "mã hồ sơ ghi trong danh mục nhưng không có gói / listed, but no package of it was received",
            ", ".join(extra),
            "statistics",
        )
    if missing:
        receipt.add(
            where,
            "hồ sơ nhận được nhưng không ghi trong danh mục / received, but not listed",
            ", ".join(missing),
            "statistics",
        )
    if not extra and not missing and stated != list(expected):
        receipt.add(where, "codes repeated or out of order", _shown(stated), "statistics")


def _check_declared(where: str, key: str, value: object, receipt: HandoverReceipt) -> None:
    """A value from the sender's fonds record: only its kind can be checked."""
    if key == "paper_total":
        ok = value is None or (isinstance(value, int | float) and not isinstance(value, bool) and value >= 0)
    else:
        ok = value is None or (isinstance(value, str) and bool(value.strip()))
    if not ok:
        receipt.add(where, "not a valid value for this column", _shown(value), "statistics")


def _compare_totals(
    totals: Mapping[str, Any] | None,
    actual: Sequence[FondsStatistics],
    receipt: HandoverReceipt,
    knock_on: bool = False,
) -> None:
    """The workbook's "Tổng cộng" row, which is what a reader of the printed list sees."""
    where = f"{STATISTICS_BASE}.xlsx: Tổng cộng"
    if totals is None:
        receipt.add(where, "the totals row is missing", rule="statistics")
        return
    folded: list[tuple[str, str, str]] = []
    for key in COUNT_KEYS:
        counted = sum(getattr(row, key) for row in actual)
        if _canonical(totals.get(key)) != counted:
            stated = _shown(totals.get(key))
            if knock_on:
                folded.append((f"{dict(COLUMNS)[key]} ({key})", stated, str(counted)))
                continue
            receipt.add(
                f"{where}: {dict(COLUMNS)[key]} ({key})",
                f"danh mục ghi {stated}, các gói nhận được có {counted} / the list states {stated}, "
                f"the packages received hold {counted}",
                stated,
                "statistics",
            )
    _report_folded(where, folded, "statistics", receipt)


#: Figures that change with the set of AIPs received (folded when that set differs, see _report_folded).
_SET_FIGURES = frozenset((*COUNT_KEYS, "files", "start_date", "end_date"))


def _report_folded(
    where: str, folded: Sequence[tuple[str, str, str]], rule: str, receipt: HandoverReceipt
) -> None:
    """Figures of one form that differ because the AIPs received are not those listed: one line."""
    if not folded:
        return
    figures = "; ".join(f"{label}: {stated} → {found}" for label, stated, found in folded)
    receipt.add(
        where,
        "số liệu khác vì các gói nhận được không đúng các gói đã kê (xem sai lệch về gói) / figures differ "
        f"because the AIPs received are not those listed (see the package discrepancies): {figures}",
        None,
        rule,
    )


def _csv_rows(text: str) -> list[dict[str, Any]]:
    import csv

    reader = csv.reader(text.splitlines())
    headers = next(reader, [])
    keys = {header: key for key, header in COLUMNS}
    if [keys.get(h) for h in headers] != [key for key, _h in COLUMNS]:
        raise ValueError("unexpected columns")
    return [{keys[h]: value for h, value in zip(headers, row, strict=False)} for row in reader if row]


def _read_record(root: Path, receipt: HandoverReceipt) -> dict[str, Any] | None:
    where = f"{RECORD_BASE}.json"
    try:
        record = json.loads((root / where).read_text(encoding="utf-8"))
        if not isinstance(record, dict) or not all(isinstance(p, dict) for p in record["packages"]):
            raise TypeError("not a handover record")
        {p["name"] for p in record["packages"]}
    except (OSError, ValueError, KeyError, TypeError) as exc:
        receipt.add(where, f"cannot read the handover record: {exc}", rule="record")
        return None
    return record


def _compare_package_set(
    record: Mapping[str, Any], packages: Sequence[tuple[str, Path]], receipt: HandoverReceipt
) -> bool:
    """The AIPs the record lists against those received; True when they differ."""
    where = f"{RECORD_BASE}.json"
    listed = {p["name"] for p in record["packages"]}
    received = {rel for rel, _path in packages}
    for name in sorted(listed - received):
        receipt.add(
            where,
            "gói ghi trong biên bản nhưng không có trong túi / listed in the record, not received",
            name,
            "record",
        )
    for name in sorted(received - listed):
        receipt.add(
            where,
            "gói nhận được nhưng không ghi trong biên bản / received, not in the record",
            name,
            "record",
        )
    return listed != received


def _received_digests(root: Path, packages: Sequence[tuple[str, Path]]) -> dict[str, tuple[str, int]]:
    """(SHA-256, bytes) of each AIP received, as the record states them (a bag: its tag manifest's digest)."""
    manifest = _manifest(root)
    result = {}
    for name, path in packages:
        if path.is_file():
            result[name] = (manifest.get(name) or _sha256_of(path), path.stat().st_size)
        else:
            seal = path / BAG_SEAL
            size = sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
            result[name] = (_sha256_of(seal) if seal.is_file() else "", size)
    return result


def _compare_record(
    record: Mapping[str, Any],
    received: Mapping[str, tuple[str, int]],
    facts: Mapping[str, PackageFacts],
    stats: FondsStatistics | None,
    receipt: HandoverReceipt,
    *,
    knock_on: bool = False,
) -> None:
    """The record's fonds, counts and package list (hồ sơ, size, SHA-256) against what was received."""
    where = f"{RECORD_BASE}.json"
    listed = {p["name"]: p for p in record["packages"]}
    for name in sorted(set(listed) & set(received)):
        actual, size = received[name]
        if listed[name].get("sha256") != actual:
            receipt.add(where, "SHA-256 in the record differs from the package received", name, "record")
        if listed[name].get("bytes") != size:
            receipt.add(where, "size in the record differs from the package received", name, "record")
        fact = facts.get(name)
        for key, value in (
            (("objid", fact.objid), ("arc_file_code", fact.arc_file_code), ("title", fact.title))
            if fact
            else ()
        ):
            if listed[name].get(key) != value:
                receipt.add(
                    f"{where}: {name}: {key}",
                    f"biên bản ghi {_shown(listed[name].get(key))}, gói nhận được có {value} / the record "
                    f"states {_shown(listed[name].get(key))}, the package received holds {value}",
                    _shown(listed[name].get(key)),
                    "record",
                )
    if stats is not None:
        _compare_record_totals(where, record, stats, receipt, knock_on)


def _compare_record_totals(
    where: str,
    record: Mapping[str, Any],
    stats: FondsStatistics,
    receipt: HandoverReceipt,
    knock_on: bool = False,
) -> None:
    """The fonds and counts the record states (what is signed) against the packages received."""
    fonds, counts = record.get("fonds"), record.get("counts")
    fonds = fonds if isinstance(fonds, dict) else {}
    counts = counts if isinstance(counts, dict) else {}
    stated_items = [
        (f"fonds.{key}", fonds.get(key), value)
        for key, value in (
            ("code", stats.fonds_code),
            ("name", stats.fonds_name),
            ("archive_code", stats.archive_code),
        )
    ] + [(f"counts.{key}", counts.get(key), getattr(stats, key)) for key in COUNT_KEYS]
    folded: list[tuple[str, str, str]] = []
    for label, stated, value in stated_items:
        if stated == value and type(stated) is type(value):
            continue
        if knock_on and label.startswith("counts.") and isinstance(stated, int):
            folded.append((label, _shown(stated), str(value)))
            continue
        receipt.add(
            f"{where}: {label}",
            f"biên bản ghi {_shown(stated)}, các gói nhận được có {value} / the record states "
            f"{_shown(stated)}, the packages received hold {value}",
            _shown(stated),
            "record",
        )
    _report_folded(where, folded, "record", receipt)


# --- the printed record (bien-ban-ban-giao.xlsx) ----------------------------------------------


def _received_record(
    record: Mapping[str, Any],
    received: Mapping[str, tuple[str, int]],
    facts: Mapping[str, PackageFacts],
    stats: FondsStatistics | None,
) -> dict[str, Any]:
    """The record as it should read for what was received: the parties, date and format as the
    JSON record states them (nothing inside can tell), the fonds, counts and packages as received."""
    truth: dict[str, Any] = json.loads(json.dumps(record))
    if stats is not None:
        truth["fonds"] = {
            "code": stats.fonds_code,
            "name": stats.fonds_name,
            "archive_code": stats.archive_code,
        }
        truth["counts"] = {key: getattr(stats, key) for key in COUNT_KEYS}
    listed = {p["name"]: p for p in truth["packages"]}
    packages = []
    for name in [*(n for n in listed if n in received), *sorted(set(received) - set(listed))]:
        entry = listed.get(name) or {"name": name, "objid": "", "arc_file_code": "", "title": ""}
        entry["sha256"], entry["bytes"] = received[name]
        if (fact := facts.get(name)) is not None:
            entry.update(objid=fact.objid, arc_file_code=fact.arc_file_code, title=fact.title)
        packages.append(entry)
    truth["packages"] = packages
    return truth


@dataclass
class _RecordForm:
    """What a printed biên bản shows: its labelled lines, the package table by file name, and every
    non-empty cell by (row, column), with the cells those lines and the table were read from."""

    fields: dict[str, Any] = field(default_factory=dict)
    header: list[str] = field(default_factory=list)
    rows: dict[str, list[Any]] = field(default_factory=dict)
    repeated: list[str] = field(default_factory=list)
    cells: dict[tuple[int, int], Any] = field(default_factory=dict)
    known: set[tuple[int, int]] = field(default_factory=set)
    table_end: int = 0  # the first row below the package table (0: no table)
    formulas: dict[tuple[int, int], str] = field(default_factory=dict)
    sheet_problems: list[tuple[str, str]] = field(default_factory=list)


_NAME_HEADER = "Tệp trong gói bàn giao"


def _read_record_form(path: Path) -> _RecordForm:
    """Read a biên bản workbook back as :func:`write_record_xlsx` lays it out.

    The date line of the title, each "Label:" | value line (a representative under the party
    above it), the table under its "STT" header (rows numbered in column A), and the name typed
    under each "ĐẠI DIỆN BÊN …" signature heading. The sheet read is the one a spreadsheet
    program shows; more than one sheet, a hidden one and formula cells are noted, not trusted.
    """
    from openpyxl import load_workbook

    form = _RecordForm()
    # not data_only: a formula's cached value is not what a spreadsheet program shows
    book = load_workbook(path, read_only=True)
    try:
        names = book.sheetnames
        shown = [sheet for sheet in book.worksheets if sheet.sheet_state == "visible"]
        if len(names) != 1:
            form.sheet_problems.append(
                (
                    f"bảng tính có {len(names)} trang tính, biên bản chỉ có một / the workbook has "
                    f"{len(names)} sheets, the record has one",
                    ", ".join(names),
                )
            )
        for sheet in book.worksheets:
            if sheet.sheet_state != "visible":
                form.sheet_problems.append(
                    ("trang tính bị ẩn / hidden sheet", f"{sheet.title} ({sheet.sheet_state})")
                )
        if not book.worksheets:
            return form
        sheet = book.active if book.active in shown else (shown or book.worksheets)[0]
        sheet.reset_dimensions()  # a stated used range would hide the cells outside it
        for sheet_row in sheet.iter_rows():
            for cell in sheet_row:
                if cell.value is None or not hasattr(cell, "row"):
                    continue
                at = (cell.row, cell.column)
                form.cells[at] = cell.value
                if cell.data_type == "f":
                    form.formulas[at] = str(getattr(cell.value, "text", None) or cell.value)
    finally:
        book.close()
    widths: dict[int, int] = {}
    for row_number, column in form.cells:
        widths[row_number] = max(widths.get(row_number, 0), column)
    grid = [
        [form.cells.get((r, c)) for c in range(1, widths.get(r, 0) + 1)]
        for r in range(1, max(widths, default=0) + 1)
    ]
    party, in_table = "", False
    for index, cells in enumerate(grid):
        row_number = index + 1
        first = cells[0] if cells else None
        if in_table and (isinstance(first, int) or (isinstance(first, str) and first.strip().isdigit())):
            row = [*cells[1:], *[None] * len(form.header)][: len(form.header) - 1]
            name = str(_cell_at(form.header, row, _NAME_HEADER))
            if name in form.rows:
                form.repeated.append(name)
            form.rows[name] = row
            form.known.update((row_number, column) for column in range(2, len(form.header) + 1))
            form.table_end = row_number + 1
            continue
        in_table = False
        text = first.strip() if isinstance(first, str) else ""
        if text == "STT" and not form.header:
            form.header, in_table = [str(c).strip() if c is not None else "" for c in cells], True
            form.known.update((row_number, column) for column in range(1, len(cells) + 1))
            form.table_end = row_number + 1
        elif re.fullmatch(r"Ngày \d+ tháng \d+ năm \d+", text):
            form.fields["Ngày bàn giao"] = text
            form.known.add((row_number, 1))
        elif text.endswith(":") and not form.header:
            label = text[:-1].strip()
            if label in ("Bên giao", "Bên nhận"):
                party = label
            elif label == "Đại diện" and party:
                label = f"{party} - Đại diện"
            form.fields[label] = cells[1] if len(cells) > 1 else None
            form.known.update([(row_number, 1), (row_number, 2)])
        for column, value in enumerate(cells):
            if isinstance(value, str) and value.strip().startswith("ĐẠI DIỆN BÊN"):
                below, name_row = _name_below(grid, index, column)
                form.fields[f"Chữ ký - {value.strip()}"] = below
                form.known.update([(row_number, column + 1), (name_row, column + 1)])
    return form


def _cell_at(header: Sequence[str], row: Sequence[Any], title: str) -> Any:
    """The value of the column headed ``title`` (row without its STT cell)."""
    column = header.index(title) - 1 if title in header else 2
    return row[column] if 0 <= column < len(row) else None


def _name_below(grid: Sequence[Sequence[Any]], row: int, column: int) -> tuple[Any, int]:
    """The representative's name typed under a signature heading (below its "(Ký, …)" note),
    and its row number (0: none)."""
    for index, cells in enumerate(grid[row + 1 :], start=row + 2):
        value = cells[column] if column < len(cells) else None
        if value not in (None, "") and not (isinstance(value, str) and value.startswith("(")):
            return value, index
    return None, 0


def _rendered(record: Mapping[str, Any], path: Path) -> _RecordForm:
    """The form :func:`write_record_xlsx` makes of ``record``, as read back."""
    write_record_xlsx(record, path)
    return _read_record_form(path)


def _compare_record_form(
    root: Path,
    record: Mapping[str, Any],
    truth: Mapping[str, Any],
    receipt: HandoverReceipt,
    *,
    knock_on: bool = False,
) -> None:
    """The printed record, the copy people sign, against the JSON record and what was received.

    Both are rendered by :func:`write_record_xlsx` and read back like the received workbook, so
    every line and table cell is compared as printed; each difference is one problem naming the
    form, the line (or package and column) and the values.
    """
    where = f"{RECORD_BASE}.xlsx"
    try:
        stated = _read_record_form(root / where)
    except Exception as exc:  # openpyxl raises many types for a damaged workbook
        receipt.add(where, f"không đọc được biên bản / cannot read the signed record: {exc}", rule="record")
        return
    for message, value in stated.sheet_problems:
        receipt.add(where, message, value, "record")
    for (row, column), formula in sorted(stated.formulas.items()):
        receipt.add(
            f"{where}: {_coordinate(row, column)}",
            "ô chứa công thức, bảng tính hiện kết quả của nó chứ không phải chữ đã lưu / the cell holds a "
            "formula: a spreadsheet program shows its result, not the text stored with it",
            formula,
            "record",
        )
    for path, value in _unprintable(record):
        receipt.add(
            f"{RECORD_BASE}.json: {path}",
            "biên bản chứa ký tự điều khiển mà bảng tính không thể chứa / the record holds a control "
            "character a workbook cannot",
            _printable(value),
            "record",
        )
    try:
        with tempfile.TemporaryDirectory(dir=root.parent) as work:
            as_json = _rendered(_printable(record), Path(work) / "json.xlsx")
            as_received = _rendered(_printable(truth), Path(work) / "received.xlsx")
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        receipt.add(
            f"{RECORD_BASE}.json",
            f"biên bản thiếu trường cần in / the record lacks a field the printed form shows: {exc!r}",
            rule="record",
        )
        return
    if not stated.header and not stated.fields:
        receipt.add(where, "không phải biên bản bàn giao / not a handover record form", rule="record")
        return
    folded: list[tuple[str, str, str]] = []
    for label in dict.fromkeys([*as_received.fields, *stated.fields]):
        _compare_printed(
            f"{where}: {label}",
            [form.fields.get(label, _ABSENT) for form in (stated, as_json, as_received)],
            receipt,
            folded if knock_on else None,
        )
    if stated.header != as_received.header:
        receipt.add(
            f"{where}: STT",
            "bảng gói có tiêu đề cột khác / the package table's headings differ",
            " | ".join(stated.header),
            "record",
        )
    for name in stated.repeated:
        receipt.add(
            where, "gói ghi hai lần trong biên bản / package listed twice on the form", name, "record"
        )
    for name in [n for n in stated.rows if n not in as_received.rows]:
        receipt.add(
            where, "biên bản ghi gói không nhận được / the form lists a package not received", name, "record"
        )
    for name in [n for n in as_received.rows if n not in stated.rows]:
        receipt.add(
            where,
            "gói nhận được nhưng biên bản không ghi / package received, not on the form",
            name,
            "record",
        )
    for name in [n for n in as_received.rows if n in stated.rows]:
        for column, title in enumerate(as_received.header[1:]):
            if title == _NAME_HEADER:
                continue
            _compare_printed(
                f"{where}: {name}: {title}",
                [
                    form.rows[name][column] if name in form.rows else _ABSENT
                    for form in (stated, as_json, as_received)
                ],
                receipt,
                None,
            )
    _report_folded(where, folded, "record", receipt)
    _compare_record_grid(where, stated, as_json, receipt)


_ABSENT = object()
_CELL_LIMIT = 20  # unlabelled cells reported one by one; the rest in one line


def _coordinate(row: int, column: int) -> str:
    from openpyxl.utils import get_column_letter

    return f"{get_column_letter(column)}{row}"


def _compare_record_grid(
    where: str, stated: _RecordForm, expected: _RecordForm, receipt: HandoverReceipt
) -> None:
    """Every cell the labelled lines and the table do not cover (titles, headings, notes, numbers,
    free text anywhere) against the same cell of the form rendered from the JSON record.

    Below the package table, rows are matched as laid out after the table (a form listing one
    package more or less is reported by the table check, not again for each cell under it).
    """
    shift = expected.table_end - stated.table_end if stated.table_end and expected.table_end else 0

    def placed(row: int) -> int:
        return row + shift if stated.table_end and row >= stated.table_end else row

    def origin(row: int) -> int:
        return row - shift if expected.table_end and row >= expected.table_end else row

    received = {(placed(row), column): (row, column) for row, column in stated.cells}
    differing = []
    for at in sorted({*received, *expected.cells}):
        cell = received.get(at, (origin(at[0]), at[1]))
        if cell in stated.known or cell in stated.formulas or at in expected.known:
            continue
        shown, wanted = stated.cells.get(cell), expected.cells.get(at)
        if _canonical(shown) != _canonical(wanted):
            differing.append((cell, shown, wanted))
    for (row, column), shown, wanted in differing[:_CELL_LIMIT]:
        stated_text = "(trống / empty)" if shown is None else str(shown)
        wanted_text = "(trống / empty)" if wanted is None else str(wanted)
        receipt.add(
            f"{where}: {_coordinate(row, column)}",
            f"ô ghi {stated_text}, biên bản .json in ra {wanted_text} / the cell states {stated_text}, "
            f"the .json record prints {wanted_text}",
            None if shown is None else str(shown),
            "record",
        )
    if len(differing) > _CELL_LIMIT:
        more = len(differing) - _CELL_LIMIT
        receipt.add(where, f"… và {more} ô khác / … and {more} more cells", None, "record")


def _unprintable(value: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """Each string of the JSON record holding a character a workbook cannot (control characters)."""
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    if isinstance(value, str) and ILLEGAL_CHARACTERS_RE.search(value):
        yield path, value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from _unprintable(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _unprintable(item, f"{path}[{index}]")


def _printable(value: Any) -> Any:
    """The record with such characters written out (\\x01), so the form can still be rendered."""
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    if isinstance(value, str):
        return ILLEGAL_CHARACTERS_RE.sub(lambda found: f"\\x{ord(found.group()):02x}", value)
    if isinstance(value, Mapping):
        return {key: _printable(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_printable(item) for item in value]
    return value


def _compare_printed(
    where: str, values: Sequence[Any], receipt: HandoverReceipt, folded: list[tuple[str, str, str]] | None
) -> None:
    """One printed value against the JSON record's and the received truth's (as printed)."""
    stated, as_json, as_received = (None if v is _ABSENT else _canonical(v) for v in values)
    if values[0] is _ABSENT and values[2] is not _ABSENT:
        receipt.add(where, "dòng bị thiếu / line missing from the form", None, "record")
        return
    if values[2] is _ABSENT and values[0] is not _ABSENT:
        receipt.add(where, "dòng lạ / line not part of the record", _shown(stated), "record")
        return
    if stated == as_received:
        return
    shown = _shown(stated)
    if stated != as_json:
        vi, en = (
            f"biên bản ký ghi {shown}, bản .json ghi {_shown(as_json)}",
            (f"the signed form states {shown}, the .json record states {_shown(as_json)}"),
        )
        if as_json != as_received:
            vi, en = (
                f"{vi}, các gói nhận được có {_shown(as_received)}",
                (f"{en}, the packages received hold {_shown(as_received)}"),
            )
        receipt.add(where, f"{vi} / {en}", shown, "record")
    elif folded is not None:  # as the JSON record states: follows from the AIPs received differing
        folded.append((where.split(": ", 1)[1], shown, _shown(as_received)))
    else:
        receipt.add(
            where,
            f"biên bản ký ghi {shown}, các gói nhận được có {_shown(as_received)} / the signed form states "
            f"{shown}, the packages received hold {_shown(as_received)}",
            shown,
            "record",
        )


def _manifest(root: Path) -> dict[str, str]:
    """Verified digests of the bag (validate_bag just checked them against the files)."""
    from .bag import decode_path

    result = {}
    try:
        for line in (root / "manifest-sha256.txt").read_text(encoding="utf-8").splitlines():
            digest, _sep, rel = line.partition(" ")
            result[decode_path(rel.strip())] = digest.lower()
    except OSError:
        pass
    return result
