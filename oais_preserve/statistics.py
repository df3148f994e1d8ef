"""Danh mục thống kê: per-fonds counts computed from the packages themselves, never typed in.

:func:`read_package_facts` reads what one AIP_hoso says about itself (METS header, the hồ sơ
EAD record, the document records, the PREMIS digitization event, the package's file sizes),
from a bag, a package folder or a TT05 ``.zip``. :func:`fonds_statistics` adds the facts up per
phông / công trình / sưu tập. The writers render the list as ``.xlsx`` (Vietnamese headers,
A4 landscape, ready to print), ``.csv`` (UTF-8 with BOM, so spreadsheet programs read the
diacritics) and JSON.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import unicodedata
import zipfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from lxml import etree

from .description import date_bounds
from .errors import FondsRecordError, InvalidPackageError, Problem, UserInputError
from .profile import NS_CSIP, NS_METS, NS_PREMIS
from .validate import check_zip_members
from .xmlcheck import safe_parser

__all__ = [
    "COLUMNS",
    "COUNT_KEYS",
    "DECLARED_KEYS",
    "JSON_ONLY",
    "STATISTICS_VERSION",
    "UNKNOWN",
    "FondsRecord",
    "FondsStatistics",
    "PackageFacts",
    "fonds_statistics",
    "load_fonds_record",
    "read_package_facts",
    "read_statistics_workbook",
    "read_statistics_xlsx",
    "statistics_csv",
    "statistics_json",
    "write_statistics_csv",
    "write_statistics_json",
    "write_statistics_xlsx",
]

_DOC_RECORD = re.compile(r"^EAD_(doc|pic|media)_.+\.xml$")
_DIGITIZATION_PREFIX = "Số hóa"  # eventDetail of the digitization event the builder writes
STATISTICS_VERSION = "oais_preserve/danh-muc-thong-ke/1"


@dataclass(frozen=True)
class PackageFacts:
    """What one AIP_hoso states about itself; every number is read from the package."""

    objid: str
    package_type: str
    fonds_code: str
    fonds_name: str
    archive_code: str
    organization: str
    arc_file_code: str
    title: str
    digitized: bool  # confidenceLevel 02
    insurance_copy: bool  # riskRecovery 1 and riskRecoveryStatus 01
    total_doc: int  # as the hồ sơ record declares
    document_records: int  # EAD_doc / EAD_pic / EAD_media records actually in the package
    pages: int
    sheets: int
    start_date: str
    end_date: str
    files: int
    bytes: int
    created: str  # METS CREATEDATE (packaging time)
    digitized_at: str | None  # PREMIS digitization event

    def to_dict(self) -> dict[str, Any]:
        """Every field, as plain JSON-ready values."""
        return asdict(self)


# --- reading one package ------------------------------------------------------------------------


class _PackageReader:
    """Read-only access to the files of an E-ARK package, wherever it lives."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._zip: zipfile.ZipFile | None = None
        self._root = ""
        if path.is_file():
            try:
                self._zip = zipfile.ZipFile(path)
            except zipfile.BadZipFile as exc:
                raise InvalidPackageError(
                    str(path), [Problem(str(path), f"damaged zip archive ({exc})", rule="zip")]
                ) from exc
            self._root = check_zip_members(self._zip, str(path)) + "/"
            self.folder = None
        else:
            self.folder = path / "data" if (path / "bagit.txt").is_file() else path

    def close(self) -> None:
        if self._zip is not None:
            self._zip.close()

    def read(self, rel: str) -> bytes:
        try:
            if self._zip is not None:
                return self._zip.read(self._root + rel)
            assert self.folder is not None
            return (self.folder / rel).read_bytes()
        except (KeyError, FileNotFoundError) as exc:
            raise InvalidPackageError(
                str(self.path), [Problem(rel, "file missing from the package", rule="facts")]
            ) from exc

    def files(self) -> Iterator[tuple[str, int]]:
        """(package-relative path, size) of every file."""
        if self._zip is not None:
            for info in self._zip.infolist():
                if not info.is_dir() and info.filename.startswith(self._root):
                    yield info.filename[len(self._root) :], info.file_size
            return
        assert self.folder is not None
        for dirpath, _dirs, names in os.walk(self.folder):
            for name in names:
                full = Path(dirpath) / name
                yield full.relative_to(self.folder).as_posix(), full.lstat().st_size


def _xml(data: bytes, where: str, path: Path) -> etree._Element:
    if b"<!DOCTYPE" in data[:4096]:
        raise InvalidPackageError(str(path), [Problem(where, "DOCTYPE refused", rule="xml")])
    try:
        return etree.fromstring(data, safe_parser())
    except etree.XMLSyntaxError as exc:
        raise InvalidPackageError(
            str(path), [Problem(where, f"not well-formed XML ({exc})", rule="xml")]
        ) from exc


def _text(root: etree._Element, name: str) -> str:
    elem = root.find(name)
    return (elem.text or "").strip() if elem is not None else ""


def _int(root: etree._Element, name: str) -> int:
    text = _text(root, name)
    return int(text) if text.isdigit() else 0


def _agent(header: etree._Element, role: str) -> tuple[str, str]:
    """(code, name) of an organisation agent, NFC and trimmed: the handover compares them between
    AIPs and the receiving side against the lists, so NFD and NFC spellings must be the same."""
    for agent in header.iterfind(f"{{{NS_METS}}}agent"):
        if agent.get("ROLE") == role and agent.get("TYPE") == "ORGANIZATION":
            name = _text(agent, f"{{{NS_METS}}}name")
            code = ""
            for note in agent.iterfind(f"{{{NS_METS}}}note"):
                if note.get(f"{{{NS_CSIP}}}NOTETYPE") == "IDENTIFICATIONCODE":
                    code = (note.text or "").strip()
            return unicodedata.normalize("NFC", code), unicodedata.normalize("NFC", name)
    return "", ""


def _digitized_at(premis: etree._Element) -> str | None:
    for event in premis.iterfind(f"{{{NS_PREMIS}}}event"):
        kind = _text(event, f"{{{NS_PREMIS}}}eventType")
        detail = _text(event, f"{{{NS_PREMIS}}}eventDetailInformation/{{{NS_PREMIS}}}eventDetail")
        if kind == "transfer" and detail.startswith(_DIGITIZATION_PREFIX):
            return _text(event, f"{{{NS_PREMIS}}}eventDateTime") or None
    return None


def read_package_facts(path: Path) -> PackageFacts:
    """Read the facts of one package (bag, package folder or ``.zip``); InvalidPackageError if unreadable."""
    path = Path(path)
    if not path.exists():
        raise UserInputError(f"{path}: no such package")
    reader = _PackageReader(path)
    try:
        mets = _xml(reader.read("METS.xml"), "METS.xml", path)
        header = mets.find(f"{{{NS_METS}}}metsHdr")
        if header is None:
            raise InvalidPackageError(str(path), [Problem("METS.xml", "no metsHdr", rule="facts")])
        fonds_code, fonds_name = _agent(header, "ARCHIVIST")
        archive_code, organization = _agent(header, "PRESERVATION")
        ead = _xml(reader.read("metadata/descriptive/EAD.xml"), "EAD.xml", path)
        premis = _xml(reader.read("metadata/preservation/PREMIS.xml"), "PREMIS.xml", path)
        records = files = size = 0
        for rel, file_size in reader.files():
            files += 1
            size += file_size
            parts = rel.split("/")
            if (
                len(parts) == 5
                and parts[0] == "representations"
                and parts[2:4] == ["metadata", "descriptive"]
            ):
                records += bool(_DOC_RECORD.match(parts[4]))
    finally:
        reader.close()
    if not fonds_code:
        raise InvalidPackageError(
            str(path), [Problem("METS.xml", "no ARCHIVIST organisation (fonds) in metsHdr", rule="facts")]
        )
    return PackageFacts(
        objid=mets.get("OBJID", ""),
        package_type=header.get(f"{{{NS_CSIP}}}OAISPACKAGETYPE", ""),
        fonds_code=fonds_code,
        fonds_name=fonds_name,
        archive_code=archive_code,
        organization=organization,
        arc_file_code=_text(ead, "arcFileCode") or _text(ead, "fileCode"),
        title=_text(ead, "title"),
        digitized=_text(ead, "confidenceLevel") == "02",
        insurance_copy=_text(ead, "riskRecovery") == "1" and _text(ead, "riskRecoveryStatus") == "01",
        total_doc=_int(ead, "totalDoc"),
        document_records=records,
        pages=_int(ead, "numberOfPage"),
        sheets=_int(ead, "numberOfPaper"),
        start_date=_text(ead, "startDate"),
        end_date=_text(ead, "endDate"),
        files=files,
        bytes=size,
        created=header.get("CREATEDATE", ""),
        digitized_at=_digitized_at(premis),
    )


# --- adding up per fonds --------------------------------------------------------------------------


@dataclass(frozen=True)
class FondsRecord:
    """Counters known only from the fonds record (TT02 PaperTotal), with their unit; optional.

    ``fonds_name``, ``organization`` and ``archive_code`` are what the record says of the fonds:
    not used in the list, only compared with the packages, so that a record of another fonds
    (a file picked by mistake) cannot lend it its PaperTotal.
    """

    paper_total: float | None = None
    paper_total_unit: str | None = None
    fonds_name: str | None = None
    organization: str | None = None
    archive_code: str | None = None


def load_fonds_record(path: Path) -> tuple[str, FondsRecord]:
    """(mã phông, counters) from a fonds record JSON (``schemas/fonds.schema.json``).

    Only TT02 PaperTotal is taken from it: every other figure is computed from the packages.
    Raises :class:`FondsRecordError` (a :class:`DescriptionError`) listing every problem of an
    invalid record.
    """
    from jsonschema import Draft202012Validator

    from .schemas import JSON_SCHEMA_BASE, load_json_schema_registry

    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UserInputError(f"{path}: cannot read the fonds record ({exc})") from exc
    registry = load_json_schema_registry()
    schema = registry.contents(JSON_SCHEMA_BASE + "fonds.schema.json")
    validator = Draft202012Validator(schema, registry=registry)
    problems = [
        Problem(
            f"{path}: $" + "".join(f"[{p!r}]" for p in error.absolute_path),
            error.message,
            rule=str(error.validator),
        )
        for error in validator.iter_errors(data)
    ]
    if problems:
        raise FondsRecordError(str(path), problems)
    total, unit = data.get("paperTotal"), data.get("paperTotalUnit")
    labels = schema["properties"]["paperTotalUnit"].get("x-labels", {})
    if total is not None:  # 1200 stays 1200 in every form; 12.5 (mét giá) keeps its fraction
        total = int(total) if float(total).is_integer() else float(total)
    names = {key: _plain_name(data.get(field)) for key, field in _RECORD_NAMES}
    return str(data["fondsCode"]), FondsRecord(
        total, labels.get(unit, unit).lower() if unit else None, **names
    )


_RECORD_NAMES = (
    ("fonds_name", "fondsName"),
    ("organization", "organization"),
    ("archive_code", "archiveCode"),
)


def _plain_name(value: object) -> str | None:
    """A name as the packages' facts hold it (NFC, trimmed), or None when not stated."""
    return unicodedata.normalize("NFC", value).strip() or None if isinstance(value, str) else None


@dataclass
class FondsStatistics:
    """One row of the danh mục thống kê."""

    fonds_code: str
    fonds_name: str
    archive_code: str
    organization: str
    packages: int = 0
    hoso: int = 0
    hoso_digitized: int = 0
    documents: int = 0
    pages: int = 0
    sheets: int = 0
    bytes: int = 0
    files: int = 0
    start_date: str | None = None  # earliest startDate, TT05 form
    end_date: str | None = None  # latest endDate, TT05 form
    paper_total: float | None = None  # TT02 PaperTotal: only from the fonds record
    paper_total_unit: str | None = None
    paper_digital: int = 0  # TT02 PaperDigital: sheets of the digitized hồ sơ
    paper_digital_unit: str = "tờ"
    copy_number: int = 0  # TT02 CopyNumber: pages of hồ sơ with an insurance copy made
    copy_number_unit: str = "trang"
    hoso_codes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Every field, as plain JSON-ready values."""
        return asdict(self)


def _bounds(text: str) -> tuple[date, date] | None:
    try:
        return date_bounds(text)
    except ValueError:
        return None  # a malformed date in a package is the validator's finding, not a crash here


def _earlier(a: str | None, b: str) -> str | None:
    new, old = _bounds(b), _bounds(a) if a else None
    return b if new and (old is None or new[0] < old[0]) else a


def _later(a: str | None, b: str) -> str | None:
    new, old = _bounds(b), _bounds(a) if a else None
    return b if new and (old is None or new[1] > old[1]) else a


def fonds_statistics(
    facts: Iterable[PackageFacts], records: Mapping[str, FondsRecord] | None = None
) -> list[FondsStatistics]:
    """Add the packages up per fonds (sorted by fonds code); hồ sơ counted once per mã hồ sơ lưu trữ."""
    rows: dict[str, FondsStatistics] = {}
    seen: dict[str, set[str]] = {}
    for fact in facts:
        row = rows.get(fact.fonds_code)
        if row is None:
            record = (records or {}).get(fact.fonds_code, FondsRecord())
            row = rows[fact.fonds_code] = FondsStatistics(
                fact.fonds_code,
                fact.fonds_name,
                fact.archive_code,
                fact.organization,
                paper_total=record.paper_total,
                paper_total_unit=record.paper_total_unit,
            )
            seen[fact.fonds_code] = set()
        row.packages += 1
        row.bytes += fact.bytes
        row.files += fact.files
        if fact.arc_file_code in seen[fact.fonds_code]:
            continue  # a second package of the same hồ sơ adds bytes, not hồ sơ
        seen[fact.fonds_code].add(fact.arc_file_code)
        row.hoso_codes.append(fact.arc_file_code)
        row.hoso += 1
        row.documents += fact.document_records
        row.pages += fact.pages
        row.sheets += fact.sheets
        if fact.digitized:
            row.hoso_digitized += 1
            row.paper_digital += fact.sheets
        if fact.insurance_copy:
            row.copy_number += fact.pages
        if fact.start_date:
            row.start_date = _earlier(row.start_date, fact.start_date)
        if fact.end_date:
            row.end_date = _later(row.end_date, fact.end_date)
    for row in rows.values():
        row.hoso_codes.sort()
    return [rows[code] for code in sorted(rows)]


# --- rendering ------------------------------------------------------------------------------------

#: (key, Vietnamese header) of every column, in order.
COLUMNS: tuple[tuple[str, str], ...] = (
    ("fonds_code", "Mã phông/công trình/sưu tập"),
    ("fonds_name", "Tên phông/công trình/sưu tập"),
    ("hoso", "Số hồ sơ"),
    ("hoso_digitized", "Số hồ sơ đã số hóa"),
    ("documents", "Số tài liệu"),
    ("pages", "Số trang"),
    ("sheets", "Số tờ"),
    ("bytes", "Dung lượng (byte)"),
    ("packages", "Số gói AIP"),
    ("start_date", "Thời gian bắt đầu"),
    ("end_date", "Thời gian kết thúc"),
    ("paper_total", "Tổng số tài liệu giấy"),
    ("paper_total_unit", "Đơn vị (tài liệu giấy)"),
    ("paper_digital", "Số lượng tài liệu giấy đã số hóa"),
    ("paper_digital_unit", "Đơn vị (đã số hóa)"),
    ("copy_number", "Số lượng trang tài liệu đã lập bản sao bảo hiểm"),
    ("copy_number_unit", "Đơn vị (bản sao bảo hiểm)"),
)
#: Columns whose values are computed counts (compared by verify-handover).
COUNT_KEYS = (
    "hoso",
    "hoso_digitized",
    "documents",
    "pages",
    "sheets",
    "bytes",
    "packages",
    "paper_digital",
    "copy_number",
)
#: Columns stated by the sender's fonds record (TT02 PaperTotal), not computable from the packages:
#: the receiving side can only check that the three forms of the list agree on them.
DECLARED_KEYS = ("paper_total", "paper_total_unit")
#: (key, Vietnamese label) of the fields only the JSON form carries.
JSON_ONLY: tuple[tuple[str, str], ...] = (
    ("archive_code", "Mã cơ quan lưu trữ"),
    ("organization", "Cơ quan lưu trữ"),
    ("files", "Số tệp"),
    ("hoso_codes", "Danh sách mã hồ sơ"),
)
UNKNOWN = "chưa có dữ liệu"


def statistics_json(rows: Sequence[FondsStatistics], *, generated: datetime) -> dict[str, Any]:
    """The list as a JSON document: schema, generation time, the column headers, one object per fonds."""
    return {
        "schema": STATISTICS_VERSION,
        "generated": generated.isoformat(timespec="seconds"),
        "columns": {key: header for key, header in COLUMNS},
        "fonds": [row.to_dict() for row in rows],
    }


def write_statistics_json(rows: Sequence[FondsStatistics], path: Path, *, generated: datetime) -> None:
    """Write :func:`statistics_json` to ``path`` (UTF-8, Vietnamese kept as is)."""
    text = json.dumps(statistics_json(rows, generated=generated), ensure_ascii=False, indent=2) + "\n"
    path.write_text(text, encoding="utf-8")


def _cell(value: object) -> object:
    return UNKNOWN if value is None else value


def statistics_csv(rows: Sequence[FondsStatistics]) -> str:
    """The list as CSV text: the headers of :data:`COLUMNS`, unknown values as :data:`UNKNOWN`."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([header for _key, header in COLUMNS])
    for row in rows:
        data = row.to_dict()
        writer.writerow([_cell(data[key]) for key, _header in COLUMNS])
    return out.getvalue()


def write_statistics_csv(rows: Sequence[FondsStatistics], path: Path) -> None:
    """Write :func:`statistics_csv` to ``path`` as UTF-8 with a BOM (spreadsheet programs need it)."""
    path.write_bytes(b"\xef\xbb\xbf" + statistics_csv(rows).encode("utf-8"))


def write_statistics_xlsx(
    rows: Sequence[FondsStatistics], path: Path, *, title: str, subtitle: str, generated: datetime
) -> None:
    """One sheet, A4 landscape fitted to the page width, header row repeated on every page."""
    from openpyxl import Workbook

    from .sheets import header_row, setup_print, title_rows

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "Danh mục thống kê"
    first = title_rows(sheet, [title, subtitle, f"Lập ngày {generated:%d/%m/%Y}"], len(COLUMNS) + 1)
    header_row(sheet, first, ["STT", *(header for _key, header in COLUMNS)])
    for number, row in enumerate(rows, start=1):
        data = row.to_dict()
        sheet.append([number, *(_cell(data[key]) for key, _header in COLUMNS)])
    totals = ["", "Tổng cộng", ""] + [
        sum(getattr(r, key) for r in rows) if key in COUNT_KEYS else "" for key, _header in COLUMNS[2:]
    ]
    sheet.append(totals)
    setup_print(sheet, first, widths=[6, 16, 40] + [14] * (len(COLUMNS) - 2), landscape=True)
    book.save(path)


def read_statistics_xlsx(path: Path) -> list[dict[str, Any]]:
    """The rows of a danh mục thống kê workbook, keyed like :data:`COLUMNS` (for checking a receipt)."""
    return read_statistics_workbook(path)[0]


def read_statistics_workbook(path: Path) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """(rows, totals row) of a danh mục thống kê workbook, keyed like :data:`COLUMNS`.

    The totals row ("Tổng cộng") is ``None`` when the sheet has none.
    """
    from openpyxl import load_workbook

    book = load_workbook(path, read_only=True, data_only=True)
    try:
        sheet = book.worksheets[0]
        headers = ["STT", *(header for _key, header in COLUMNS)]
        rows: list[dict[str, Any]] = []
        totals: dict[str, Any] | None = None
        in_table = False
        for values in sheet.iter_rows(values_only=True):
            cells = list(values) + [None] * (len(headers) - len(values))
            if not in_table:
                in_table = [str(c) if c is not None else "" for c in cells[: len(headers)]] == headers
                continue
            as_row = {key: cells[i + 1] for i, (key, _h) in enumerate(COLUMNS)}
            if cells[0] in (None, ""):
                if cells[1] == "Tổng cộng":
                    totals = as_row
                break
            rows.append(as_row)
        return rows, totals
    finally:
        book.close()
