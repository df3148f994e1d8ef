"""Catalogue import: the archive's Excel / CSV catalogue -> validated hồ sơ descriptions.

Archives keep their catalogue as a workbook: a sheet of hồ sơ (one row per file) and a sheet of
tài liệu (one row per document), sometimes a sheet of phông; or a single sheet with one row per
document where the hồ sơ columns repeat on every row. :func:`import_catalogue` reads either layout
(``.xlsx`` streamed read-only, ``.csv`` UTF-8 with or without BOM), maps the Vietnamese headers to
the TT05 fields, normalizes codes, dates and numbers, checks the sheets against each other and
against the scans, and validates every hồ sơ with the description JSON Schemas
(docs/description-format.md). Every problem is reported in one pass with its sheet, row, column
header, value and rule; nothing is silently resolved or defaulted. See docs/catalogue.md.
"""

from __future__ import annotations

import csv
import functools
import io
import itertools
import json
import logging
import os
import re
import unicodedata
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path, PurePosixPath
from typing import Any, Literal

from .codes import legacy_to_tt05, normalize_code, normalize_code_list
from .description import (
    SCHEMA_TAG,
    HoSo,
    date_bounds,
    derive_arc_file_code,
    load_description,
    validate_description,
)
from .errors import Problem, UserInputError
from .profile import VIETNAM_TZ
from .xlsxstream import PartialDate, XlsxReader

log = logging.getLogger(__name__)

Lang = Literal["vi", "en"]
Role = Literal["fonds", "hoso", "documents", "combined"]
Severity = Literal["error", "warning"]

SCAN_EXTENSIONS = frozenset({".pdf", ".tif", ".tiff", ".jpg", ".jpeg", ".png", ".jp2"})
HEADER_SEARCH_ROWS = 30

# --------------------------------------------------------------------------- header aliases

_FONDS_ALIASES: dict[str, tuple[str, ...]] = {
    "archiveCode": ("mã cơ quan lưu trữ", "mã cơ quan lưu trữ lịch sử", "identifier"),
    "fondsCode": (
        "mã phông",
        "mã phông lưu trữ",
        "mã phông/công trình/sưu tập",
        "mã phông/công trình/sưu tập lưu trữ",
        "organid",
    ),
    "fondsName": (
        "tên phông",
        "tên phông lưu trữ",
        "tên phông/công trình/sưu tập",
        "tên phông/công trình/sưu tập lưu trữ",
        "fondname",
    ),
    "organization": ("tên cơ quan lưu trữ", "cơ quan lưu trữ", "tên cơ quan, tổ chức lưu trữ"),
    "fondsHistory": ("lịch sử đơn vị hình thành phông", "fondhistory"),
    "archivesTime": ("thời gian tài liệu", "archivestime"),
    "keyGroups": ("các nhóm tài liệu chủ yếu", "keygroups"),
    "lookupTools": ("công cụ tra cứu", "lookuptools"),
}

_SHARED_HOSO_DOC: dict[str, tuple[str, ...]] = {
    "language": ("ngôn ngữ", "language"),
    "mode": ("chế độ sử dụng", "rights", "mode"),
    "format": ("tình trạng vật lý", "format"),
    "inforSign": ("ký hiệu thông tin", "inforsign"),
    "keyword": ("từ khóa", "từ khoá", "keyword"),
    "description": ("ghi chú", "chú giải", "description"),
    "confidenceLevel": ("mức độ tin cậy", "confidencelevel"),
    "numberOfPage": ("số lượng trang", "số trang", "pagenumber", "pageamount"),
    "files": ("đường dẫn", "đường dẫn tệp", "tệp", "tên tệp", "tệp tin", "file", "tệp số hóa"),
}

_HOSO_ALIASES: dict[str, tuple[str, ...]] = {
    "fileCode": ("mã hồ sơ", "filecode"),
    "arcFileCode": ("mã hồ sơ lưu trữ",),
    "fileCatalog": ("mục lục số", "mục lục số hoặc năm hình thành hồ sơ", "filecatalog"),
    "fileNotation": ("số và ký hiệu hồ sơ", "số ký hiệu hồ sơ", "hồ sơ số", "số hồ sơ", "filenotation"),
    "title": ("tiêu đề hồ sơ", "tiêu đề", "tên hồ sơ", "title"),
    "maintenance": ("thời hạn bảo quản", "thời hạn lưu trữ", "maintenance"),
    "startDate": ("thời gian bắt đầu", "ngày bắt đầu", "startdate"),
    "endDate": ("thời gian kết thúc", "ngày kết thúc", "enddate"),
    "totalDoc": (
        "tổng số tài liệu",
        "tổng số văn bản",
        "tổng số tài liệu trong hồ sơ",
        "tổng số văn bản trong hồ sơ",
        "số lượng văn bản",
        "số lượng tài liệu",
        "totaldoc",
    ),
    "numberOfPaper": ("số lượng tờ", "số tờ", "sheetnumber"),
    "paperFileCode": ("mã hồ sơ gốc giấy", "mã hồ sơ giấy gốc", "mã hồ sơ giấy"),
    "riskRecovery": ("chế độ dự phòng", "chế độ lập tài liệu lưu trữ dự phòng", "riskrecovery"),
    "riskRecoveryStatus": (
        "tình trạng dự phòng",
        "tình trạng lập tài liệu lưu trữ dự phòng",
        "riskrecoverystatus",
    ),
    "digitizedAt": ("thời điểm số hóa", "ngày số hóa", "thời gian số hóa"),
    "digitizedBy": ("đơn vị số hóa",),
    # Selection inputs (ours, not TT05 elements): kept beside the description.
    "group": ("nhóm", "nhóm tài liệu", "nhóm hồ sơ", "đề mục", "công trình", "sưu tập"),
    "notable": (
        "nhân vật tiêu biểu",
        "nhân vật, gia đình, dòng họ tiêu biểu",
        "nhân vật gia đình dòng họ",
        "dòng họ",
        "nhân vật, dòng họ",
    ),
    "material": ("chất liệu", "vật mang tin", "chất liệu vật mang tin", "loại hình vật mang tin"),
    "damage": ("tình trạng hư hỏng", "mức độ hư hỏng", "hư hỏng", "dấu hiệu hư hỏng"),
    "criteria": ("tiêu chí lựa chọn", "tiêu chí"),
    # One column for both dates ("1968 - 1970", "02/01/1968 - 30/12/1968"): split (ours).
    "dateRange": (
        "thời gian",
        "thời gian hồ sơ",
        "ngày tháng bắt đầu kết thúc",
        "thời gian bắt đầu kết thúc",
    ),
    **_SHARED_HOSO_DOC,
}

_DOC_ALIASES: dict[str, tuple[str, ...]] = {
    "fileCode": ("mã hồ sơ", "filecode"),
    "fileCatalog": _HOSO_ALIASES["fileCatalog"],
    "fileNotation": _HOSO_ALIASES["fileNotation"],
    "docOrdinal": (
        "số thứ tự văn bản",
        "số thứ tự văn bản trong hồ sơ",
        "số thứ tự tài liệu",
        "số thứ tự tài liệu trong hồ sơ",
        "stt văn bản",
        "stt tài liệu",
        "stt trong hồ sơ",
        "docordinal",
    ),
    "docCode": ("mã lưu trữ tài liệu", "mã lưu trữ của tài liệu", "mã tài liệu", "mã văn bản"),
    "docId": ("mã định danh văn bản", "mã định danh tài liệu", "doccode"),
    "typeName": ("tên loại văn bản", "tên loại tài liệu", "loại văn bản", "thể loại", "typename"),
    "codeNumber": ("số của văn bản", "số văn bản", "số của tài liệu", "codenumber"),
    "codeNotation": ("ký hiệu của văn bản", "ký hiệu văn bản", "ký hiệu của tài liệu", "codenotation"),
    "issuedDate": (
        "ngày tháng năm văn bản",
        "ngày, tháng, năm văn bản",
        "ngày tháng năm tài liệu",
        "ngày văn bản",
        "ngày ban hành",
        "ngày tháng văn bản",
        "issueddate",
    ),
    "organName": (
        "tên cơ quan, tổ chức ban hành văn bản",
        "tên cơ quan ban hành",
        "cơ quan ban hành",
        "cơ quan, tổ chức, cá nhân ban hành",
        "tác giả",
        "organname",
    ),
    "subject": ("trích yếu nội dung", "trích yếu", "subject"),
    "autograph": ("bút tích", "autograph"),
    "selected": ("chọn số hóa", "lựa chọn số hóa", "chọn", "lựa chọn"),
    # "Số, ký hiệu văn bản" in one column ("12/QĐ-UB"): split into codeNumber / codeNotation (ours).
    "numberNotation": (
        "số, ký hiệu văn bản",
        "số và ký hiệu văn bản",
        "số ký hiệu văn bản",
        "số, ký hiệu",
        "số ký hiệu",
    ),
    **_SHARED_HOSO_DOC,
}

#: Fields that live beside the description (selection inputs, composition parts), never in it.
EXTRA_FIELDS = frozenset({"group", "notable", "material", "damage", "criteria", "selected"})
_COMPOSE_FIELDS = frozenset({"fileCatalog", "fileNotation"})
_FONDS_ON_HOSO = frozenset(_FONDS_ALIASES)

_CODE_FIELDS = frozenset(
    {"maintenance", "mode", "format", "confidenceLevel", "riskRecoveryStatus", "typeName"}
)
_BOOL_FIELDS = frozenset({"riskRecovery", "process", "docAttached"})
_INT_FIELDS = frozenset({"totalDoc", "numberOfPaper", "numberOfPage", "docOrdinal"})
_PARTIAL_DATE_FIELDS = frozenset({"startDate", "endDate"})
_FULL_DATE_FIELDS = frozenset({"issuedDate"})

_ROLE_NAMES: dict[Role, tuple[str, ...]] = {
    "fonds": ("phong", "phông"),
    "hoso": ("ho so", "hồ sơ"),
    "documents": ("tai lieu", "van ban", "tài liệu", "văn bản"),
}


def header_key(text: str) -> str:
    """Comparison form of a header: NFC, no diacritics (đ -> d), case-folded, punctuation as spaces."""
    decomposed = unicodedata.normalize("NFD", unicodedata.normalize("NFC", text))
    bare = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    bare = bare.replace("đ", "d").replace("Đ", "D").casefold()
    return " ".join(re.sub(r"[^0-9a-z]+", " ", bare).split())


def _alias_index(table: Mapping[str, Sequence[str]]) -> dict[str, str]:
    return {header_key(alias): name for name, aliases in table.items() for alias in aliases}


_INDEX: dict[str, dict[str, str]] = {
    "fonds": _alias_index(_FONDS_ALIASES),
    "hoso": _alias_index({**_HOSO_ALIASES, **_FONDS_ALIASES}),
    "documents": _alias_index(
        {**_DOC_ALIASES, **{k: _FONDS_ALIASES[k] for k in ("fondsCode", "archiveCode")}}
    ),
}

# --------------------------------------------------------------------------- problems


@dataclass(frozen=True)
class CatalogueProblem:
    """One finding, located in the workbook: sheet, 1-based row, column header, value, rule.

    ``source`` is the catalogue file's name; ``location`` names it when the import read several
    files (``show_source``), where a sheet name alone would be ambiguous."""

    sheet: str
    row: int | None
    column: str | None
    value: str | None
    rule: str
    message_vi: str
    message_en: str
    file_code: str | None = None
    severity: Severity = "error"
    source: str | None = None
    show_source: bool = field(default=False, repr=False, compare=False)

    def message(self, lang: Lang = "vi") -> str:
        return self.message_en if lang == "en" else self.message_vi

    @property
    def location(self) -> str:
        parts = [f"{self.source} / {self.sheet}" if self.show_source and self.source else self.sheet]
        if self.row is not None:
            parts.append(f"dòng {self.row}")
        if self.column:
            parts.append(f"cột “{self.column}”")
        return ", ".join(parts)

    def __str__(self) -> str:
        shown = "" if self.value is None else f" (giá trị: {self.value!r})"
        return f"{self.location}: [{self.rule}] {self.message_vi}{shown}"

    def to_problem(self, lang: Lang = "vi") -> Problem:
        return Problem(self.location, self.message(lang), self.value, self.rule)

    def to_dict(self, lang: Lang = "vi") -> dict[str, Any]:
        return {
            "source": self.source,
            "sheet": self.sheet,
            "row": self.row,
            "column": self.column,
            "value": self.value,
            "rule": self.rule,
            "severity": self.severity,
            "fileCode": self.file_code,
            "message": self.message(lang),
        }


_ENGLISH_TAIL = re.compile(r"\(([^()]*[A-Za-z][^()]*)\)")


def _split_message(message: str) -> tuple[str, str]:
    """The project's messages read "tiếng Việt (English)": pull the English part out."""
    match = _ENGLISH_TAIL.search(message)
    if match is None:
        return message, message
    return message, (match[1] + message[match.end() :]).strip()


# --------------------------------------------------------------------------- reading tables


@dataclass
class _Column:
    index: int
    field: str
    header: str


@dataclass
class TableLayout:
    """How one sheet was understood: its role, header row and mapped columns (by 0-based index)."""

    source: str
    sheet: str
    role: Role
    header_row: int
    columns: dict[str, tuple[int, str]]  # field -> (column index, header text)
    unmapped: list[str] = field(default_factory=list)

    def header(self, name: str) -> str:
        found = self.columns.get(name)
        return found[1] if found else name


RowValues = tuple[object, ...]
#: Where a row is: (sheet, row number, source file name).
Origin = tuple[str, int, str]
ProblemOrigin = tuple[str, int | None, str]


NumberedRows = Iterator[tuple[int, RowValues]]


def _open_tables(path: Path) -> Iterator[tuple[str, NumberedRows]]:
    """(sheet name, rows) of a workbook or a CSV file; rows are streamed, numbered as Excel shows
    them (empty rows of a workbook may be left out)."""
    suffix = path.suffix.casefold()
    if suffix in (".xlsx", ".xlsm"):
        yield from _xlsx_tables(path)
    elif suffix in (".csv", ".txt"):
        yield path.stem, enumerate(_csv_rows(path), start=1)
    else:
        raise UserInputError(f"{path}: danh mục phải là .xlsx hoặc .csv (catalogue must be .xlsx or .csv)")


def _xlsx_tables(path: Path) -> Iterator[tuple[str, NumberedRows]]:

    with XlsxReader(str(path)) as reader:
        yield from reader.sheets()


def _csv_rows(path: Path) -> Iterator[RowValues]:
    if not path.is_file():
        raise UserInputError(f"{path}: không tìm thấy tệp (file not found)")
    with open(path, encoding="utf-8-sig", newline="") as handle:
        try:
            sample = handle.read(65536)
            handle.seek(0)
            delimiter = _delimiter(sample)
            for row in csv.reader(handle, delimiter=delimiter):
                yield tuple(row)
        except UnicodeDecodeError as exc:
            raise UserInputError(f"{path}: không phải UTF-8 (not UTF-8): {exc}") from exc


def _delimiter(sample: str) -> str:
    """The separator giving the widest row among the first lines (title rows have one cell)."""
    lines = sample.splitlines()[:HEADER_SEARCH_ROWS]
    widths = {d: max((len(r) for r in csv.reader(lines, delimiter=d)), default=0) for d in ",;\t"}
    return max(widths, key=lambda d: widths[d])


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return unicodedata.normalize("NFC", str(value)).strip()


def _header_candidates(row: RowValues, above: RowValues | None) -> list[list[str]]:
    """Per column, the header texts to try: the cell, then the group header above + the cell.

    Merged group headers ("Thời gian" over "Bắt đầu" / "Kết thúc") leave the value in the first
    cell only; it is carried to the right until the next group header.
    """
    carried = ""
    result = []
    for index in range(len(row)):
        text = _cell_text(row[index])
        parent = _cell_text(above[index]) if above is not None and index < len(above) else ""
        if parent:
            carried = parent
        elif not text:
            carried = ""
        options = [text] if text else []
        if carried and text:
            options.append(f"{carried} {text}")
        if carried and not text and parent:
            options.append(parent)
        result.append(options)
    return result


def _map_header(candidates: list[list[str]], index: Mapping[str, str]) -> dict[str, tuple[int, str]]:
    columns: dict[str, tuple[int, str]] = {}
    for col, options in enumerate(candidates):
        for option in options:
            name = index.get(header_key(option))
            if name and name not in columns:
                columns[name] = (col, option)
                break
    return columns


def _role_from_name(sheet: str) -> Role | None:
    key = header_key(sheet)
    for role, names in _ROLE_NAMES.items():
        if any(header_key(n) in key for n in names):
            return role
    return None


_DOC_ONLY = frozenset({"subject", "typeName", "issuedDate", "docOrdinal", "organName", "codeNotation"})
_HOSO_ONLY = frozenset({"title", "totalDoc", "startDate", "endDate", "maintenance", "numberOfPaper"})


def _classify(
    columns_hoso: Mapping[str, object], columns_doc: Mapping[str, object], name_role: Role | None
) -> Role:
    # Headers decide; the sheet name only breaks a tie ("Phông UBND" may well list hồ sơ).
    has_doc = len(_DOC_ONLY & set(columns_doc)) >= 2
    has_hoso = len(_HOSO_ONLY & set(columns_hoso)) >= 2
    if has_doc and has_hoso:
        return "combined"
    if has_doc:
        return "documents"
    if has_hoso:
        return "hoso"
    if "fondsName" in columns_hoso and "fileCode" not in columns_hoso:
        return "fonds"
    return name_role or "hoso"


#: Shared names that are required of the hồ sơ but optional for a document: in a single sheet,
#: a plain "Mức độ tin cậy" / "Tình trạng vật lý" column describes the hồ sơ.
_PREFER_HOSO = frozenset({"confidenceLevel", "format"})


def _combined_columns(
    candidates: list[list[str]], hoso_index: Mapping[str, str], doc_index: Mapping[str, str]
) -> dict[str, tuple[int, str]]:
    """One row per document with hồ sơ columns repeated: each header goes to one side.

    A header naming "hồ sơ" ("Số trang hồ sơ", "Ghi chú hồ sơ") is a hồ sơ column; a header that
    fits both sides otherwise belongs to the document. Hồ sơ fields are prefixed ``hoso.``.
    """
    columns: dict[str, tuple[int, str]] = {}
    for col, options in enumerate(candidates):
        for option in options:
            key = header_key(option)
            stripped = " ".join(key.replace("ho so", " ").split())
            in_doc, in_hoso = doc_index.get(key), hoso_index.get(key)
            if "ho so" in key and in_hoso is None and stripped in hoso_index:
                in_hoso = hoso_index[stripped]
            name = None
            about_doc = "van ban" in key or "tai lieu" in key
            prefer_hoso = in_hoso in _PREFER_HOSO and not about_doc
            if in_hoso and (in_doc is None or "ho so" in key or prefer_hoso) and in_hoso != "fileCode":
                name = f"hoso.{in_hoso}"
            elif in_doc:
                name = in_doc
            elif in_hoso:
                name = f"hoso.{in_hoso}"
            if name and name not in columns:
                columns[name] = (col, option)
                break
    return columns


def _is_blank(row: RowValues) -> bool:
    return all(v is None or (isinstance(v, str) and not v.strip()) for v in row)


def _is_numbering_row(row: RowValues) -> bool:
    """The "(1) (2) (3)…" row printed under many catalogue headers."""
    first = next((v for v in row if v is not None), None)
    starts = (isinstance(first, int) and first == 1) or (
        isinstance(first, str) and first.strip()[:2] in ("(1", "1")
    )
    if not starts:
        return False
    texts = [_cell_text(v) for v in row if _cell_text(v)]
    return len(texts) >= 3 and all(re.fullmatch(r"\(?\d{1,2}\)?", t) for t in texts)


def _row_above(head: list[tuple[int, RowValues]], index: int) -> RowValues | None:
    """The row right above ``head[index]`` in the sheet (None when it is empty or the first)."""
    if index and head[index - 1][0] == head[index][0] - 1:
        return head[index - 1][1]
    return None


def _detect_layout(
    source: str,
    sheet: str,
    head: list[tuple[int, RowValues]],
    user: Mapping[str, Mapping[str, str]] | None,
) -> tuple[TableLayout, int] | None:
    """Find the header row among the first rows (title rows may sit above it) and map its columns;
    the layout and the header's index in ``head``."""
    best: tuple[int, int, dict[str, tuple[int, str]], dict[str, tuple[int, str]]] | None = None
    for number, (_row_number, row) in enumerate(head):
        candidates = _header_candidates(row, _row_above(head, number))
        hoso = _map_header(candidates, _user_index(user, "hoso") or _INDEX["hoso"])
        docs = _map_header(candidates, _user_index(user, "documents") or _INDEX["documents"])
        score = len(set(hoso) | set(docs))
        if score >= 3 and (best is None or score > best[1]):
            best = (number, score, hoso, docs)
    if best is None:
        return None
    number, _score, hoso, docs = best
    role = _classify(hoso, docs, _role_from_name(sheet))
    candidates = _header_candidates(head[number][1], _row_above(head, number))
    if role == "fonds":
        columns = _map_header(candidates, _user_index(user, "fonds") or _INDEX["fonds"])
    elif role == "combined":
        columns = _combined_columns(
            candidates,
            _user_index(user, "hoso") or _INDEX["hoso"],
            _user_index(user, "documents") or _INDEX["documents"],
        )
    else:
        columns = hoso if role == "hoso" else docs
    used = {index for index, _ in columns.values()}
    unmapped = [opts[0] for i, opts in enumerate(candidates) if opts and i not in used]
    return TableLayout(source, sheet, role, head[number][0], columns, unmapped), number


def _user_index(user: Mapping[str, Mapping[str, str]] | None, scope: str) -> dict[str, str] | None:
    """A user mapping file adds (and overrides) header -> field pairs for one scope."""
    if not user or scope not in user:
        return None
    merged = dict(_INDEX[scope])
    merged.update({header_key(header): name for header, name in user[scope].items()})
    return merged


# --------------------------------------------------------------------------- value coercion


class _Bad(Exception):
    def __init__(self, rule: str, vi: str, en: str) -> None:
        super().__init__(en)
        self.rule, self.vi, self.en = rule, vi, en


_DMY = re.compile(r"(\d{1,2})\s*[/.\-]\s*(\d{1,2})\s*[/.\-]\s*(\d{4})")
_MY = re.compile(r"(\d{1,2})\s*[/.\-]\s*(\d{4})")
_YMD = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})(?:[ T].*)?")
_Y = re.compile(r"\d{4}")
_INT_TEXT = re.compile(r"[+]?\d+(?:[.,]0+)?")


_WORDY_DATE = re.compile(r"ngày\s*(\d{1,2})\s*tháng\s*(\d{1,2})\s*năm\s*(\d{4})", re.IGNORECASE)
_WORDY_YEAR = re.compile(r"(?:tháng\s*(\d{1,2})\s*)?năm\s*(\d{4})", re.IGNORECASE)


def coerce_date(value: object, *, partial: bool) -> str:
    """Excel dates, ``D/M/YYYY``, ``YYYY-MM-DD``, ``MM/YYYY``, ``YYYY`` -> the TT05 form ``DD/MM/YYYY``
    (``MM/YYYY`` or ``YYYY`` when ``partial`` and that is all that was written).

    An Excel date formatted without a day (``mmm-yy``) or with the year only (``yyyy``) comes from
    the reader as a :class:`~oais_preserve.xlsxstream.PartialDate`: the day Excel stores is not the
    archivist's, so it is never invented here."""
    if isinstance(value, PartialDate):
        value = str(value)  # "07/1968" or "1968": checked like the same text
    elif isinstance(value, datetime | date):
        return value.strftime("%d/%m/%Y")
    if isinstance(value, int | float) and not isinstance(value, bool):
        if float(value).is_integer() and 1000 <= value <= 9999 and partial:
            return str(int(value))
        raise _Bad("date", "không phải ngày", "not a date")
    text = _cell_text(value)
    if match := _WORDY_DATE.fullmatch(text):  # "ngày 05 tháng 01 năm 1968"
        text = f"{match[1]}/{match[2]}/{match[3]}"
    elif match := _WORDY_YEAR.fullmatch(text):  # "năm 1968", "tháng 3 năm 1968"
        text = f"{match[1]}/{match[2]}" if match[1] else match[2]
    if match := _DMY.fullmatch(text):
        result = f"{int(match[1]):02d}/{int(match[2]):02d}/{match[3]}"
    elif match := _YMD.fullmatch(text):
        result = f"{int(match[3]):02d}/{int(match[2]):02d}/{match[1]}"
    elif partial and (match := _MY.fullmatch(text)):
        result = f"{int(match[1]):02d}/{match[2]}"
    elif partial and _Y.fullmatch(text):
        result = text
    else:
        forms = "DD/MM/YYYY, MM/YYYY hoặc YYYY" if partial else "DD/MM/YYYY"
        raise _Bad("date", f"ngày phải có dạng {forms}", f"date must be {forms.replace('hoặc', 'or')}")
    try:
        date_bounds(result, partial=partial)
    except ValueError as exc:
        vi, en = _split_message(str(exc))
        raise _Bad("date", vi.split(" (")[0], en) from None
    return result


_COUNT_WITH_UNIT = re.compile(r"(\d+)\s*(?:trang|tr\.?|tờ|văn bản|vb|tài liệu|tl)", re.IGNORECASE)


def coerce_int(value: object) -> int:
    """Whole numbers, also when stored as text (``"012"``) or as floats (``12.0``)."""
    if isinstance(value, bool):
        raise _Bad("integer", "không phải số nguyên", "not a whole number")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    text = _cell_text(value)
    if match := _COUNT_WITH_UNIT.fullmatch(text):
        text = match[1]  # "12 trang", "3 tờ", "5 vb"
    text = text.replace(" ", "")
    if _INT_TEXT.fullmatch(text):
        return int(re.split(r"[.,]", text)[0])
    raise _Bad("integer", "không phải số nguyên", "not a whole number")


def _coerce_timestamp(value: object) -> str:
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=VIETNAM_TZ)
        return moment.replace(microsecond=0).isoformat()
    if isinstance(value, date):
        return datetime.combine(value, time(), VIETNAM_TZ).isoformat()
    text = _cell_text(value)
    if _DMY.fullmatch(text):
        day = datetime.strptime(coerce_date(text, partial=False), "%d/%m/%Y")
        return day.replace(tzinfo=VIETNAM_TZ).isoformat()
    return text  # an ISO timestamp, checked by the description rules


@dataclass(frozen=True)
class Conversion:
    """A TT02 value mapped to its TT05 code; the original is kept (tt05.md §12)."""

    field: str
    original: str
    code: str


def _as_code_input(value: object) -> object:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return _cell_text(value) if isinstance(value, str) else value


#: Abbreviations found in catalogues (compared in header_key form); recorded like TT02 values.
_ABBREVIATIONS: dict[str, dict[str, str]] = {
    "maintenance": {"vv": "01", "v v": "01"},
    "riskRecovery": {"x": "1"},
    "language": {"tv": "01", "tieng viet": "01"},
}


def coerce_code(name: str, value: object) -> tuple[str, Conversion | None]:
    """A code, label or "code: label" -> the TT05 code; a TT02 value -> its code plus the original."""
    list_name = "riskRecovery" if name in _BOOL_FIELDS else name
    raw = _as_code_input(value)
    short = _ABBREVIATIONS.get(list_name, {}).get(header_key(raw)) if isinstance(raw, str) else None
    if short is not None:
        return short, Conversion(name, _cell_text(value), short)
    try:
        if list_name == "language":
            return normalize_code_list("language", raw), None
        return normalize_code(list_name, raw), None
    except ValueError as exc:
        legacy = legacy_to_tt05(list_name, _cell_text(value)) if isinstance(raw, str) else None
        if legacy is not None:
            return legacy, Conversion(name, _cell_text(value), legacy)
        vi, en = _split_message(str(exc))
        raise _Bad("code", vi.split(" (")[0] + vi[vi.find(";") :] if ";" in vi else vi, en) from None


def _coerce(name: str, value: object) -> tuple[object, Conversion | None]:
    if name != "files" and isinstance(value, str | int | float | datetime | date | PartialDate):
        return _coerce_cached(name, value)
    return _coerce_value(name, value)


@functools.lru_cache(maxsize=65536)
def _coerce_cached(name: str, value: object) -> tuple[object, Conversion | None]:
    """Catalogue values repeat (codes, labels, organs): each distinct one is normalized once."""
    return _coerce_value(name, value)


def _coerce_value(name: str, value: object) -> tuple[object, Conversion | None]:
    if name in _CODE_FIELDS or name == "language":
        return coerce_code(name, value)
    if name in _BOOL_FIELDS:
        code, conversion = coerce_code(name, value)
        return int(code), conversion
    if name in _INT_FIELDS:
        return coerce_int(value), None
    if name in _PARTIAL_DATE_FIELDS:
        return coerce_date(value, partial=True), None
    if name in _FULL_DATE_FIELDS:
        return coerce_date(value, partial=False), None
    if name == "digitizedAt":
        return _coerce_timestamp(value), None
    if name == "files":
        parts = re.split(r"[;\n]+", _cell_text(value))
        return [p.strip().replace("\\", "/") for p in parts if p.strip()], None
    return _cell_text(value), None


# --------------------------------------------------------------------------- the import model


@dataclass
class CatalogueDocument:
    """One document row, normalized; ``origin`` is (sheet, row) for problem reports."""

    fields: dict[str, object]
    extras: dict[str, str]
    origin: Origin
    layout: TableLayout
    bad_fields: set[str] = field(default_factory=set)
    conversions: list[Conversion] = field(default_factory=list)


@dataclass
class CatalogueHoSo:
    """One hồ sơ as imported: its description (valid unless problems name it) and selection inputs."""

    file_code: str
    fonds_code: str | None
    fields: dict[str, object]
    extras: dict[str, str]
    origin: Origin
    layout: TableLayout
    documents: list[CatalogueDocument] = field(default_factory=list)
    hoso_files: list[str] = field(default_factory=list)
    conversions: list[Conversion] = field(default_factory=list)
    bad_fields: set[str] = field(default_factory=set)
    description: dict[str, Any] | None = None
    errors: int = 0
    pages_counted: int | None = None

    @property
    def valid(self) -> bool:
        return self.description is not None and self.errors == 0

    def load(self) -> HoSo:
        """The validated :class:`HoSo` (DescriptionError if the description is not valid)."""
        if self.description is None:
            raise UserInputError(f"{self.file_code}: hồ sơ has no description (see the import problems)")
        return load_description(self.description, kind="AIP")


@dataclass
class CatalogueImport:
    """The result of :func:`import_catalogue`: every hồ sơ, every problem, how each sheet was read."""

    sources: list[Path]
    scans: Path | None
    layouts: list[TableLayout]
    fonds: dict[str, dict[str, object]]
    hoso: list[CatalogueHoSo]
    problems: list[CatalogueProblem]
    unmatched_scans: list[str] = field(default_factory=list)
    scan_paths: dict[str, str] = field(default_factory=dict)  # NFC relative path -> name on disk

    def scan_path(self, rel: str) -> Path:
        """Where a described scan is on disk (its name may be NFD there)."""
        if self.scans is None:
            raise UserInputError("no scans folder was given to the import")
        return self.scans / self.scan_paths.get(rel, rel)

    @property
    def errors(self) -> list[CatalogueProblem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[CatalogueProblem]:
        return [p for p in self.problems if p.severity == "warning"]

    @property
    def document_count(self) -> int:
        return sum(len(h.documents) for h in self.hoso)

    def valid_hoso(self) -> list[CatalogueHoSo]:
        return [h for h in self.hoso if h.valid]

    def by_code(self, file_code: str) -> CatalogueHoSo | None:
        return next((h for h in self.hoso if h.file_code == file_code), None)

    def summary(self) -> dict[str, Any]:
        return {
            "sources": [str(s) for s in self.sources],
            "sheets": [
                {
                    "source": layout.source,
                    "sheet": layout.sheet,
                    "role": layout.role,
                    "headerRow": layout.header_row,
                    "unusedColumns": layout.unmapped,
                }
                for layout in self.layouts
            ],
            "fonds": len(self.fonds),
            "hoso": len(self.hoso),
            "hosoValid": len(self.valid_hoso()),
            "documents": self.document_count,
            "errors": len(self.errors),
            "warnings": len(self.warnings),
            "legacyConversions": sum(len(h.conversions) for h in self.hoso),
        }


def load_mapping(path: Path) -> dict[str, Any]:
    """A user mapping file (JSON): ``{"hoso": {header: field}, "documents": {...}, "fonds": {...},
    "fonds_defaults": {field: value}, "defaults": {"hoso": {...}, "documents": {...}}}``."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8-sig"))
    except (OSError, ValueError) as exc:
        raise UserInputError(
            f"{path}: tệp ánh xạ không đọc được (cannot read the mapping file): {exc}"
        ) from exc
    if not isinstance(data, dict):
        raise UserInputError(f"{path}: tệp ánh xạ phải là đối tượng JSON (the mapping must be a JSON object)")
    known = {"hoso", "documents", "fonds", "fonds_defaults", "defaults", "//"}
    unknown = [k for k in data if k not in known and not str(k).startswith("//")]
    if unknown:
        raise UserInputError(f"{path}: khóa không biết (unknown keys) {unknown}; có (known): {sorted(known)}")
    return data


# --------------------------------------------------------------------------- the importer


def _place(other: Origin, here: Origin, row_word: str) -> str:
    """Where ``other`` is, as seen from ``here``: the file is named when it is another one."""
    place = f"{other[0]} {row_word} {other[1]}"
    return place if other[2] == here[2] else f"{other[2]} / {place}"


class _Importer:
    def __init__(
        self,
        scans: Path | None,
        mapping: Mapping[str, Any] | None,
        fonds_defaults: Mapping[str, object] | None,
        several_sources: bool = False,
    ) -> None:
        self.scans = scans
        self.mapping = mapping or {}
        self.fonds_defaults = {**(self.mapping.get("fonds_defaults") or {}), **(fonds_defaults or {})}
        self.defaults: Mapping[str, Mapping[str, object]] = self.mapping.get("defaults") or {}
        self.problems: list[CatalogueProblem] = []
        self.layouts: list[TableLayout] = []
        self.fonds: dict[str, dict[str, object]] = {}
        self.fonds_origin: dict[str, Origin] = {}
        self.hoso: dict[str, CatalogueHoSo] = {}
        self.order: list[str] = []
        self.doc_rows: list[CatalogueDocument] = []
        self.first_values: dict[str, dict[str, object]] = {}
        self.missing_columns: set[tuple[str, str]] = set()
        self.several_sources = several_sources

    # reporting ------------------------------------------------------------------------------
    def problem(
        self,
        origin: ProblemOrigin,
        column: str | None,
        value: object,
        rule: str,
        vi: str,
        en: str,
        file_code: str | None = None,
        severity: Severity = "error",
    ) -> None:
        shown = (
            None
            if value is None or value == ""
            else _cell_text(value)
            if not isinstance(value, str)
            else value
        )
        self.problems.append(
            CatalogueProblem(
                origin[0],
                origin[1],
                column,
                shown,
                rule,
                vi,
                en,
                file_code,
                severity,
                source=origin[2] or None,
                show_source=self.several_sources,
            )
        )

    # reading --------------------------------------------------------------------------------
    def read(self, path: Path) -> None:
        user = {k: v for k, v in self.mapping.items() if k in ("hoso", "documents", "fonds")} or None
        for sheet, rows in _open_tables(path):
            head: list[tuple[int, RowValues]] = []
            for numbered in rows:
                head.append(numbered)
                if len(head) >= HEADER_SEARCH_ROWS:
                    break
            found = _detect_layout(path.name, sheet, head, user)
            if found is None:
                log.info("%s: sheet %r has no recognisable header; skipped", path, sheet)
                continue
            layout, header_index = found
            self.layouts.append(layout)
            self._missing_columns(layout)
            self._read_rows(layout, itertools.chain(head[header_index + 1 :], rows))

    def _missing_columns(self, layout: TableLayout) -> None:
        required = {
            "hoso": ("title",),
            "documents": ("subject",),
            "combined": ("subject", "hoso.title"),
            "fonds": ("fondsCode",),
        }[layout.role]
        key_ok = any(
            k in layout.columns for k in ("fileCode", "hoso.fileCode", "fileNotation", "hoso.fileNotation")
        )
        if layout.role != "fonds" and not key_ok:
            self.problem(
                (layout.sheet, layout.header_row, layout.source),
                None,
                None,
                "column-missing",
                "thiếu cột Mã hồ sơ (hoặc Mục lục số + Số và ký hiệu hồ sơ)",
                "missing column: Mã hồ sơ (file code), or Mục lục số + Số và ký hiệu hồ sơ",
            )
        for name in required:
            if name not in layout.columns:
                shown = name.removeprefix("hoso.")
                self.problem(
                    (layout.sheet, layout.header_row, layout.source),
                    None,
                    None,
                    "column-missing",
                    f"thiếu cột bắt buộc: {shown}",
                    f"missing required column: {shown}",
                )

    def _read_rows(self, layout: TableLayout, rows: Iterator[tuple[int, RowValues]]) -> None:
        for number, row in rows:
            if _is_blank(row) or _is_numbering_row(row):
                continue
            values = {name: row[index] for name, (index, _h) in layout.columns.items() if index < len(row)}
            if not any(_cell_text(v) for v in values.values()):
                continue
            origin = (layout.sheet, number, layout.source)
            if layout.role == "fonds":
                self._fonds_row(layout, values, origin)
            elif layout.role == "hoso":
                self._hoso_row(layout, values, origin)
            elif layout.role == "documents":
                self._document_row(layout, values, origin)
            else:
                hoso_values = {k.removeprefix("hoso."): v for k, v in values.items() if k.startswith("hoso.")}
                doc_values = {k: v for k, v in values.items() if not k.startswith("hoso.")}
                for name in ("fileCode", "fondsCode", "archiveCode", "fileCatalog", "fileNotation"):
                    if name in doc_values and name not in hoso_values:
                        hoso_values[name] = doc_values[name]
                self._combined_row(layout, hoso_values, doc_values, origin)

    # rows -----------------------------------------------------------------------------------
    def _convert(
        self,
        layout: TableLayout,
        values: Mapping[str, object],
        origin: Origin,
        prefix: str = "",
    ) -> tuple[dict[str, object], dict[str, str], list[Conversion], set[str]]:
        fields: dict[str, object] = {}
        extras: dict[str, str] = {}
        conversions: list[Conversion] = []
        bad: set[str] = set()
        for name, raw in values.items():
            if raw is None or (isinstance(raw, str) and not raw.strip()):
                continue
            if name in EXTRA_FIELDS or name in _COMPOSE_FIELDS:
                extras[name] = _cell_text(raw)
                continue
            if name in _SPLIT_FIELDS:
                try:
                    parts = _split_combined(name, raw)
                except _Bad as bad_value:
                    bad.update(_SPLIT_FIELDS[name])
                    self.problem(
                        origin, layout.header(prefix + name), raw, bad_value.rule, bad_value.vi, bad_value.en
                    )
                    continue
                for part, value in parts.items():
                    if part not in values or not _cell_text(values[part]):
                        fields[part] = value
                continue
            try:
                value, conversion = _coerce(name, raw)
            except _Bad as bad_value:
                bad.add(name)
                self.problem(
                    origin, layout.header(prefix + name), raw, bad_value.rule, bad_value.vi, bad_value.en
                )
                continue
            if conversion:
                conversions.append(conversion)
            if value != "" and value != []:
                fields[name] = value
        return fields, extras, conversions, bad

    def _fonds_row(self, layout: TableLayout, values: Mapping[str, object], origin: Origin) -> None:
        fields, _extras, _conv, _bad = self._convert(layout, values, origin)
        code = str(fields.get("fondsCode") or "")
        if not code:
            self.problem(
                origin, layout.header("fondsCode"), None, "required", "thiếu mã phông", "fonds code missing"
            )
            return
        if code in self.fonds_origin:
            self.problem(
                origin,
                layout.header("fondsCode"),
                code,
                "duplicate-fonds",
                f"trùng mã phông với {_place(self.fonds_origin[code], origin, 'dòng')}",
                f"duplicate fonds code (also {_place(self.fonds_origin[code], origin, 'row')})",
            )
            return
        self.fonds_origin[code] = origin
        self.fonds[code] = {**self.fonds_defaults, **fields}

    def _file_code(
        self, layout: TableLayout, fields: dict[str, object], extras: Mapping[str, str], prefix: str = ""
    ) -> str | None:
        code = str(fields.get("fileCode") or "")
        if code:
            return code
        catalog, notation = extras.get("fileCatalog"), extras.get("fileNotation")
        fonds = str(fields.get("fondsCode") or self.fonds_defaults.get("fondsCode") or "")
        if catalog and notation and fonds:
            # TT02: Mã hồ sơ = mã phông + mục lục số (hoặc năm) + số và ký hiệu hồ sơ (tt05.md §12).
            composed = f"{fonds}.{catalog}.{notation}"
            fields["fileCode"] = composed
            return composed
        return None

    def _new_hoso(
        self,
        layout: TableLayout,
        values: Mapping[str, object],
        origin: Origin,
        prefix: str = "",
    ) -> CatalogueHoSo | None:
        fields, extras, conversions, bad = self._convert(layout, values, origin, prefix)
        code = self._file_code(layout, fields, extras, prefix)
        if code is None:
            self.problem(
                origin,
                layout.header(prefix + "fileCode"),
                None,
                "required",
                "thiếu mã hồ sơ",
                "file code missing",
            )
            return None
        fonds_code = str(fields.pop("fondsCode", "") or "") or None
        fonds_fields = {k: fields.pop(k) for k in list(fields) if k in _FONDS_ON_HOSO}
        if fonds_code:
            known = self.fonds.setdefault(fonds_code, {**self.fonds_defaults, "fondsCode": fonds_code})
            for key, value in fonds_fields.items():
                known.setdefault(key, value)
            self.fonds_origin.setdefault(fonds_code, origin)
        for key in ("fileCode",):
            fields[key] = code
        hoso = CatalogueHoSo(
            code, fonds_code, fields, extras, origin, layout, conversions=conversions, bad_fields=bad
        )
        return hoso

    def _hoso_row(self, layout: TableLayout, values: Mapping[str, object], origin: Origin) -> None:
        hoso = self._new_hoso(layout, values, origin)
        if hoso is None:
            return
        if hoso.file_code in self.hoso:
            first = self.hoso[hoso.file_code]
            self.problem(
                origin,
                layout.header("fileCode"),
                hoso.file_code,
                "duplicate-hoso",
                f"trùng mã hồ sơ với {_place(first.origin, origin, 'dòng')}; cả hai bị từ chối",
                f"duplicate file code (also {_place(first.origin, origin, 'row')}); both refused",
                hoso.file_code,
            )
            first.errors += 1
            return
        self.hoso[hoso.file_code] = hoso
        self.order.append(hoso.file_code)

    def _document_row(self, layout: TableLayout, values: Mapping[str, object], origin: Origin) -> None:
        fields, extras, conversions, bad = self._convert(layout, values, origin)
        code = self._file_code(layout, fields, extras)
        fields.pop("fondsCode", None)
        fields.pop("archiveCode", None)
        doc = CatalogueDocument(fields, extras, origin, layout, bad, conversions)
        if code is None:
            self.problem(
                origin,
                layout.header("fileCode"),
                None,
                "required",
                "tài liệu thiếu mã hồ sơ",
                "document row without a file code",
            )
            return
        fields["fileCode"] = code
        self.doc_rows.append(doc)

    def _combined_row(
        self,
        layout: TableLayout,
        hoso_values: Mapping[str, object],
        doc_values: Mapping[str, object],
        origin: Origin,
    ) -> None:
        key_fields: dict[str, object] = {"fileCode": _cell_text(hoso_values.get("fileCode"))}
        key_fields["fondsCode"] = _cell_text(hoso_values.get("fondsCode"))
        parts = {k: _cell_text(v) for k, v in hoso_values.items() if k in _COMPOSE_FIELDS}
        code = self._file_code(layout, key_fields, parts)
        if code is None:
            self.problem(
                origin, layout.header("fileCode"), None, "required", "thiếu mã hồ sơ", "file code missing"
            )
            return
        existing = self.hoso.get(code)
        if existing is None:
            hoso = self._new_hoso(layout, {**hoso_values, "fileCode": code}, origin, "hoso.")
            if hoso is None:
                return
            self.first_values[code] = dict(hoso_values)
            self.hoso[code] = hoso
            self.order.append(code)
        else:
            self._check_repeat(existing, layout, hoso_values, origin)
        self._document_row(layout, {**doc_values, "fileCode": code}, origin)

    def _check_repeat(
        self, hoso: CatalogueHoSo, layout: TableLayout, values: Mapping[str, object], origin: Origin
    ) -> None:
        """Repeated hồ sơ values must agree with the hồ sơ's first row; disagreements are reported.

        A blank repeat is fine (merged cells leave the value in the first row only).
        """
        first = self.first_values.get(hoso.file_code, {})
        for name, raw in values.items():
            if name in ("fileCode", "fileCatalog", "fileNotation") or not _cell_text(raw):
                continue
            before = first.get(name)
            if not _cell_text(before) or _comparable(name, raw) == _comparable(name, before):
                continue
            self.problem(
                origin,
                layout.header("hoso." + name),
                raw,
                "hoso-values-disagree",
                f"khác giá trị của cùng hồ sơ ở dòng {hoso.origin[1]}: {_cell_text(before)!r}",
                f"differs from the value on row {hoso.origin[1]} of the same hồ sơ: {_cell_text(before)!r}",
                hoso.file_code,
            )
            hoso.errors += 1

    # assembling -----------------------------------------------------------------------------
    def attach_documents(self) -> None:
        doc_codes: dict[str, Origin] = {}
        for doc in self.doc_rows:
            code = str(doc.fields.pop("fileCode"))
            hoso = self.hoso.get(code)
            if hoso is None:
                self.problem(
                    doc.origin,
                    doc.layout.header("fileCode"),
                    code,
                    "document-without-hoso",
                    "tài liệu thuộc hồ sơ không có trong danh mục hồ sơ",
                    "the document belongs to a hồ sơ that is not in the hồ sơ list",
                    code,
                )
                continue
            hoso.conversions.extend(doc.conversions)
            hoso.documents.append(doc)
            given = doc.fields.get("docCode")
            if isinstance(given, str):
                if given in doc_codes:
                    other = doc_codes[given]
                    self.problem(
                        doc.origin,
                        doc.layout.header("docCode"),
                        given,
                        "duplicate-doccode",
                        f"trùng mã tài liệu với {_place(other, doc.origin, 'dòng')}",
                        f"duplicate document code (also {_place(other, doc.origin, 'row')})",
                        code,
                    )
                    hoso.errors += 1
                else:
                    doc_codes[given] = doc.origin
        for hoso in self.hoso.values():
            self._ordinals(hoso)

    def _ordinals(self, hoso: CatalogueHoSo) -> None:
        """docOrdinal from its column, else from the docCode suffix, else from the row order."""
        arc = derive_arc_file_code(str(self._fonds_of(hoso).get("archiveCode", "")), hoso.file_code)
        for position, doc in enumerate(hoso.documents, start=1):
            given = doc.fields.get("docCode")
            ordinal = doc.fields.get("docOrdinal")
            if isinstance(given, str):
                prefix, _, tail = given.rpartition(".")
                matches = tail.isdigit() and prefix in (hoso.file_code, arc)
                if matches and ordinal is None and "docOrdinal" not in doc.bad_fields:
                    doc.fields["docOrdinal"] = ordinal = int(tail)
                if not matches or (isinstance(ordinal, int) and int(tail) != ordinal):
                    expected = f"{hoso.file_code}.{ordinal or 'n'}"
                    self.problem(
                        doc.origin,
                        doc.layout.header("docCode"),
                        given,
                        "doc-code-rule",
                        f"mã tài liệu phải là mã hồ sơ + '.' + số thứ tự ({expected})",
                        f"document code must be the file code + '.' + ordinal ({expected})",
                        hoso.file_code,
                    )
                    hoso.errors += 1
                doc.fields.pop("docCode")
            if "docOrdinal" not in doc.fields and "docOrdinal" not in doc.bad_fields:
                if "docOrdinal" in doc.layout.columns:
                    continue  # blank ordinal: the description check reports the missing value
                doc.fields["docOrdinal"] = position

    def _fonds_of(self, hoso: CatalogueHoSo) -> dict[str, object]:
        if hoso.fonds_code and hoso.fonds_code in self.fonds:
            return self.fonds[hoso.fonds_code]
        if len(self.fonds) == 1:
            return next(iter(self.fonds.values()))
        return dict(self.fonds_defaults)


_SPLIT_FIELDS = {"dateRange": ("startDate", "endDate"), "numberNotation": ("codeNumber", "codeNotation")}
_RANGE = re.compile(r"\s*(?:-|–|—|đến)\s*")


def _split_combined(name: str, raw: object) -> dict[str, object]:
    """One column holding two fields: a date range, or "số/ký hiệu" of a document."""
    if name == "numberNotation":
        text = _cell_text(raw)
        number, slash, notation = text.partition("/")
        if slash and number.strip().isdigit():
            return {"codeNumber": number.strip(), "codeNotation": notation.strip()}
        return {"codeNotation": text}
    if isinstance(raw, datetime | date | int | float | PartialDate):
        single = coerce_date(raw, partial=True)
        return {"startDate": single, "endDate": single}
    try:
        single = coerce_date(raw, partial=True)
        return {"startDate": single, "endDate": single}
    except _Bad:
        pass
    parts = [p for p in _RANGE.split(_cell_text(raw)) if p]
    if len(parts) == 1:
        single = coerce_date(parts[0], partial=True)
        return {"startDate": single, "endDate": single}
    if len(parts) == 2:
        return {
            "startDate": coerce_date(parts[0], partial=True),
            "endDate": coerce_date(parts[1], partial=True),
        }
    raise _Bad(
        "date", "khoảng thời gian phải có dạng 'bắt đầu - kết thúc'", "date range must be 'start - end'"
    )


def _comparable(name: str, value: object) -> object:
    """Two spellings of one value ("01", "Vĩnh viễn", 1.0) compare equal."""
    try:
        return _coerce(name, value)[0]
    except _Bad:
        return _cell_text(value)


# --------------------------------------------------------------------------- scans


_ORDINAL_NAME = re.compile(r"^(.*)\.(\d+)(?:[_\-\s(][^.]*)?$")


@dataclass
class ScanIndex:
    """Every scan under the scans folder, by NFC base name (case-insensitive) and by naming rule."""

    root: Path
    by_name: dict[str, str]  # casefolded NFC name -> relative POSIX path
    by_stem: dict[str, list[str]] = field(default_factory=dict)  # name without extension
    by_ordinal: dict[tuple[str, int], list[str]] = field(default_factory=dict)
    claimed: set[str] = field(default_factory=set)
    on_disk: dict[str, str] = field(default_factory=dict)  # NFC relative path -> the name on disk

    @classmethod
    def build(cls, root: Path) -> ScanIndex:
        if not root.is_dir():
            raise UserInputError(f"{root}: thư mục bản quét không tồn tại (scans folder not found)")
        index = cls(root, {})
        for folder, dirs, files in os.walk(root):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            for name in sorted(files):
                if name.startswith(".") or Path(name).suffix.casefold() not in SCAN_EXTENSIONS:
                    continue
                disk = (Path(folder) / name).relative_to(root).as_posix()
                rel = unicodedata.normalize("NFC", disk)  # descriptions carry NFC; the disk may be NFD
                index.on_disk[rel] = disk
                index._add(unicodedata.normalize("NFC", name).casefold(), rel)
        return index

    def _add(self, key: str, rel: str) -> None:
        self.by_name.setdefault(key, rel)
        stem = key.rsplit(".", 1)[0]
        self.by_stem.setdefault(stem, []).append(rel)
        if match := _ORDINAL_NAME.match(stem):
            self.by_ordinal.setdefault((match[1], int(match[2])), []).append(rel)

    def find_name(self, written: str) -> str | None:
        """A path written in the workbook (maybe a Windows path of another machine): match by name."""
        name = PurePosixPath(written.replace("\\", "/")).name
        return self.by_name.get(unicodedata.normalize("NFC", name).casefold())

    def by_rule(self, file_code: str, ordinal: int | None) -> list[str]:
        """Files named ``mã hồ sơ.số thứ tự`` (zero padding and a "_suffix" allowed), or ``mã hồ sơ``."""
        stem = unicodedata.normalize("NFC", file_code).casefold()
        if ordinal is None:
            return sorted(self.by_stem.get(stem, []))
        return sorted(self.by_ordinal.get((stem, ordinal), []))


def _written_scans(
    importer: _Importer,
    index: ScanIndex,
    hoso: CatalogueHoSo,
    written: list[str],
    origin: ProblemOrigin,
    header: str | None,
    bad_fields: set[str],
) -> list[str]:
    """The scans found for the file names written in the workbook; each one missing is a problem."""
    found_all: list[str] = []
    for name in written:
        found = index.find_name(name)
        if found:
            found_all.append(found)
            continue
        importer.problem(
            origin,
            header,
            name,
            "scan-missing",
            "không tìm thấy tệp trong thư mục bản quét",
            "file not found in the scans folder",
            hoso.file_code,
        )
        hoso.errors += 1
        bad_fields.add("files")
    return found_all


def _match_scans(importer: _Importer, hoso: CatalogueHoSo, index: ScanIndex) -> None:
    whole = index.by_rule(hoso.file_code, None)
    written_hoso = hoso.fields.pop("files", None)
    if isinstance(written_hoso, list):
        header = hoso.layout.header("files" if hoso.layout.role == "hoso" else "hoso.files")
        whole += _written_scans(importer, index, hoso, written_hoso, hoso.origin, header, hoso.bad_fields)
    hoso.hoso_files = sorted(set(whole))
    for doc in hoso.documents:
        ordinal = doc.fields.get("docOrdinal")
        written_files = doc.fields.pop("files", None)
        matched: list[str] = []
        if isinstance(written_files, list):
            header = doc.layout.header("files")
            matched = _written_scans(importer, index, hoso, written_files, doc.origin, header, doc.bad_fields)
        elif isinstance(ordinal, int):
            matched = index.by_rule(hoso.file_code, ordinal)
            if not matched and not hoso.hoso_files:
                importer.problem(
                    doc.origin,
                    doc.layout.header("files"),
                    f"{hoso.file_code}.{ordinal}.*",
                    "scan-missing",
                    "không có bản quét đặt tên theo quy tắc mã hồ sơ.số thứ tự",
                    "no scan named by the rule file code.ordinal",
                    hoso.file_code,
                )
                hoso.errors += 1
                doc.bad_fields.add("files")
        doc.fields["files"] = matched
        index.claimed.update(matched)
    index.claimed.update(hoso.hoso_files)


def _check_pages(importer: _Importer, hoso: CatalogueHoSo, index: ScanIndex) -> None:
    """Pages counted in the PDFs / images must equal numberOfPage (document, or whole hồ sơ)."""
    from .qa import count_pages

    def counted(paths: Iterable[str]) -> int | None:
        total = 0
        for rel in paths:
            pages = count_pages(index.root / index.on_disk.get(rel, rel))
            if pages is None:
                return None
            total += pages
        return total

    if hoso.hoso_files:
        pages = counted(hoso.hoso_files)
        given = hoso.fields.get("numberOfPage")
        hoso.pages_counted = pages
        if pages is not None and isinstance(given, int) and pages != given:
            importer.problem(
                hoso.origin,
                hoso.layout.header("numberOfPage" if hoso.layout.role == "hoso" else "hoso.numberOfPage"),
                str(given),
                "page-count",
                f"khác số trang đếm được trong bản quét: {pages}",
                f"differs from the {pages} pages counted in the scans",
                hoso.file_code,
            )
            hoso.errors += 1
        return
    total = 0
    for doc in hoso.documents:
        files = doc.fields.get("files")
        if not isinstance(files, list) or not files:
            continue
        pages = counted(files)
        total += pages or 0
        given = doc.fields.get("numberOfPage")
        if pages is not None and isinstance(given, int) and pages != given:
            importer.problem(
                doc.origin,
                doc.layout.header("numberOfPage"),
                str(given),
                "page-count",
                f"khác số trang đếm được trong bản quét: {pages}",
                f"differs from the {pages} pages counted in the scans",
                hoso.file_code,
            )
            hoso.errors += 1
    hoso.pages_counted = total


# --------------------------------------------------------------------------- descriptions


def _apply_defaults(fields: dict[str, object], defaults: Mapping[str, object]) -> None:
    for key, value in defaults.items():
        fields.setdefault(key, value)


def _description(importer: _Importer, hoso: CatalogueHoSo) -> dict[str, Any]:
    fields = dict(hoso.fields)
    _apply_defaults(fields, importer.defaults.get("hoso", {}))
    documents = []
    for doc in hoso.documents:
        record: dict[str, object] = {"kind": "doc", **doc.fields}
        _apply_defaults(record, importer.defaults.get("documents", {}))
        record.setdefault("files", [])
        documents.append(record)
    # Counts absent from the sheet are derived from what is listed, never typed in (tt05.md §14).
    if "totalDoc" not in fields and "totalDoc" not in hoso.bad_fields:
        fields["totalDoc"] = len(documents)
    if "numberOfPage" not in fields and "numberOfPage" not in hoso.bad_fields:
        pages = [d.get("numberOfPage") for d in documents]
        if documents and all(isinstance(p, int) for p in pages):
            fields["numberOfPage"] = sum(p for p in pages if isinstance(p, int))
    if hoso.hoso_files:
        fields["files"] = list(hoso.hoso_files)
    fonds = {k: v for k, v in importer._fonds_of(hoso).items()}
    if hoso.fonds_code:
        fonds["fondsCode"] = hoso.fonds_code
    return {"schema": SCHEMA_TAG, "fonds": fonds, "hoso": fields, "documents": documents}


_PATH = re.compile(r"^\$\.(fonds|hoso|documents)(?:\[(\d+)\])?(?:\.([A-Za-z]+))?")


def _validate(
    importer: _Importer, hoso: CatalogueHoSo, reported_fonds: set[tuple[str, str]], check_files: bool
) -> None:
    """Validate the description; map each problem's JSON path back to its sheet, row and column."""
    description = _description(importer, hoso)
    for problem in validate_description(description, kind="AIP"):
        if not check_files and problem.rule == "files-required":
            continue
        match = _PATH.match(problem.where)
        scope, index, name = (match[1], match[2], match[3]) if match else ("hoso", None, None)
        vi, en = _split_message(problem.message)
        rule = problem.rule or "description"
        hoso.errors += 1
        if scope == "fonds":
            key = (hoso.fonds_code or "", name or "")
            if key not in reported_fonds:
                reported_fonds.add(key)
                where = importer.fonds_origin.get(hoso.fonds_code or "")
                origin: ProblemOrigin = where if where else (hoso.origin[0], None, hoso.origin[2])
                importer.problem(
                    origin, name, problem.value, rule, f"phông: {vi}", f"fonds: {en}", hoso.file_code
                )
            continue
        doc = None
        if scope == "documents" and index is not None and int(index) < len(hoso.documents):
            doc = hoso.documents[int(index)]
        owner_bad = doc.bad_fields if doc is not None else hoso.bad_fields
        layout = doc.layout if doc is not None else hoso.layout
        if name in owner_bad:
            continue  # its unreadable value was already reported
        column_key = _column_key(layout, name, doc is not None)
        absent = bool(name and column_key and column_key not in layout.columns)
        if rule.startswith("required") and name and absent and name not in _DERIVED:
            _column_missing(importer, layout, name, hoso.file_code)
            continue
        row_origin = doc.origin if doc is not None else hoso.origin
        header = layout.header(column_key) if column_key else None
        importer.problem(row_origin, header, problem.value, rule, vi, en, hoso.file_code)
    hoso.description = description


def _column_key(layout: TableLayout, name: str | None, is_document: bool) -> str | None:
    if name is None:
        return None
    prefix = "hoso." if layout.role == "combined" and not is_document else ""
    if prefix + name not in layout.columns:
        combined = next((k for k, parts in _SPLIT_FIELDS.items() if name in parts), None)
        if combined and prefix + combined in layout.columns:
            return prefix + combined  # the value comes from a combined column ("Thời gian")
    return prefix + name


_DERIVED = frozenset({"totalDoc", "numberOfPage", "files", "docOrdinal"})


def _column_missing(importer: _Importer, layout: TableLayout, name: str, file_code: str) -> None:
    """A required field with no column at all: one problem for the sheet, not one per row."""
    key = (layout.sheet, name)
    if key in importer.missing_columns:
        return
    importer.missing_columns.add(key)
    importer.problem(
        (layout.sheet, layout.header_row, layout.source),
        None,
        None,
        "column-missing",
        f"thiếu cột bắt buộc: {name} (thêm cột, hoặc giá trị mặc định trong tệp ánh xạ)",
        f"missing required column: {name} (add it, or give a default in the mapping file)",
        file_code,
    )


def _unmatched(importer: _Importer, index: ScanIndex) -> list[str]:
    unmatched = sorted(rel for rel in index.by_name.values() if rel not in index.claimed)
    for rel in unmatched:
        importer.problem(
            (str(index.root.name or index.root), None, ""),  # the scans folder, no catalogue file
            None,
            rel,
            "scan-unmatched",
            "bản quét không ứng với hồ sơ / tài liệu nào trong danh mục",
            "scan not matched to any hồ sơ or document of the catalogue",
            severity="warning",
        )
    return unmatched


def import_catalogue(
    sources: Path | str | Sequence[Path | str],
    *,
    scans: Path | str | None = None,
    mapping: Mapping[str, Any] | Path | str | None = None,
    fonds: Mapping[str, object] | None = None,
    count_scan_pages: bool = True,
) -> CatalogueImport:
    """Read a catalogue (one or more ``.xlsx`` / ``.csv``) into validated hồ sơ descriptions.

    ``scans`` is the folder of scans (optional: without it, files and page counts are not checked).
    ``mapping`` is a user mapping (dict or JSON file, see :func:`load_mapping`) for other layouts.
    ``fonds`` gives fonds fields the workbook lacks (``archiveCode``, ``organization``…).
    Never raises for bad content: every problem is in the result's ``problems``.
    """
    paths = [Path(sources)] if isinstance(sources, str | os.PathLike) else [Path(s) for s in sources]
    for path in paths:
        if not path.is_file():
            raise UserInputError(f"{path}: không tìm thấy tệp danh mục (catalogue file not found)")
    user_mapping = load_mapping(Path(mapping)) if isinstance(mapping, str | os.PathLike) else mapping
    importer = _Importer(Path(scans) if scans else None, user_mapping, fonds, len(paths) > 1)
    for path in paths:
        importer.read(path)
    if not importer.layouts:
        raise UserInputError("không tìm thấy bảng hồ sơ / tài liệu nào (no hồ sơ or document table found)")
    importer.attach_documents()
    index = ScanIndex.build(importer.scans) if importer.scans else None
    reported_fonds: set[tuple[str, str]] = set()
    for code in importer.order:
        hoso = importer.hoso[code]
        hoso.extras.pop("_raw", None)
        if index is not None:
            _match_scans(importer, hoso, index)
            if count_scan_pages:
                _check_pages(importer, hoso, index)
        _validate(importer, hoso, reported_fonds, check_files=index is not None)
    unmatched = _unmatched(importer, index) if index is not None else []
    return CatalogueImport(
        paths,
        importer.scans,
        importer.layouts,
        importer.fonds,
        [importer.hoso[c] for c in importer.order],
        importer.problems,
        unmatched,
        index.on_disk if index is not None else {},
    )


# --------------------------------------------------------------------------- error report

_HEADINGS = {
    "vi": ("Trang tính", "Dòng", "Cột", "Giá trị", "Quy tắc", "Mức độ", "Mã hồ sơ", "Lỗi"),
    "en": ("Sheet", "Row", "Column", "Value", "Rule", "Severity", "File code", "Problem"),
}


def write_error_report(result: CatalogueImport, dest: Path | str, *, lang: Lang = "vi") -> Path:
    """An ``.xlsx`` report: a summary sheet of every problem, then per source sheet a copy of the
    offending rows (original row number first) with the bad cells highlighted and commented."""
    from openpyxl import Workbook
    from openpyxl.comments import Comment
    from openpyxl.styles import Font, PatternFill

    dest = Path(dest)
    red = PatternFill("solid", fgColor="FFC7CE")
    bold = Font(bold=True)
    workbook = Workbook()
    summary = workbook.active
    assert summary is not None
    summary.title = "Tổng hợp lỗi" if lang == "vi" else "Problems"
    several = len(result.sources) > 1
    only = result.sources[0].name if len(result.sources) == 1 else None
    summary.append((["Tệp" if lang == "vi" else "File"] if several else []) + list(_HEADINGS[lang]))
    for cell in summary[1]:
        cell.font = bold
    for p in result.problems:
        fields = [p.sheet, p.row, p.column, p.value, p.rule, p.severity, p.file_code, p.message(lang)]
        summary.append(([p.source] if several else []) + fields)
    # Two catalogue files may both have a sheet "Hồ sơ": rows are keyed by (file, sheet).
    by_sheet: dict[tuple[str | None, str], dict[int, list[CatalogueProblem]]] = {}
    for p in result.problems:
        if p.row is not None:
            by_sheet.setdefault((p.source or only, p.sheet), {}).setdefault(p.row, []).append(p)
    layouts = {(layout.source, layout.sheet): layout for layout in result.layouts}
    for path in result.sources:
        for sheet, rows in _open_tables(path):
            wanted = by_sheet.get((path.name, sheet))
            layout = layouts.get((path.name, sheet))
            if not wanted or layout is None:
                continue
            title = f"{path.stem} - {sheet}" if several else sheet
            out = workbook.create_sheet(_safe_title(title, workbook.sheetnames))
            header_written = False
            for number, row in rows:
                if number == layout.header_row:
                    out.append(
                        [
                            "Dòng gốc" if lang == "vi" else "Source row",
                            *[_cell_text(v) for v in row],
                            "Lỗi" if lang == "vi" else "Problems",
                        ]
                    )
                    for cell in out[out.max_row]:
                        cell.font = bold
                    header_written = True
                    headers = [_cell_text(v) for v in row]
                    continue
                found = wanted.get(number)
                if not found or not header_written:
                    continue
                out.append(
                    [number, *[_report_value(v) for v in row], "; ".join(p.message(lang) for p in found)]
                )
                line = out.max_row
                for p in found:
                    col = _column_of(layout, headers, p.column)
                    if col is None:
                        continue
                    cell = out.cell(row=line, column=col + 2)
                    cell.fill = red
                    note = f"[{p.rule}] {p.message(lang)}"
                    cell.comment = Comment(
                        note if cell.comment is None else cell.comment.text + "\n" + note, "oais_preserve"
                    )
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.partial")
    workbook.save(tmp)
    os.replace(tmp, dest)
    return dest


def _report_value(value: object) -> object:
    if isinstance(value, datetime | date | int | float) or value is None:
        return value
    return str(value)


def _column_of(layout: TableLayout, headers: list[str], column: str | None) -> int | None:
    if column is None:
        return None
    for index, _header in layout.columns.values():
        if _header == column:
            return index
    return headers.index(column) if column in headers else None


def _safe_title(name: str, taken: list[str]) -> str:
    base = re.sub(r"[\[\]:*?/\\]", "_", name)[:28] or "Sheet"
    title, n = base, 1
    while title in taken:
        n += 1
        title = f"{base[:25]}_{n}"
    return title


def problems_json(result: CatalogueImport, lang: Lang = "vi") -> str:
    return json.dumps(
        {"summary": result.summary(), "problems": [p.to_dict(lang) for p in result.problems]},
        ensure_ascii=False,
        indent=2,
    )


def write_descriptions(result: CatalogueImport, dest: Path | str) -> list[Path]:
    """Write each valid hồ sơ's description JSON (``<fileCode>.json``) into ``dest``."""
    from .description import file_name_safe

    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    written = []
    for hoso in result.valid_hoso():
        path = dest / f"{file_name_safe(hoso.file_code)}.json"
        buffer = io.StringIO()
        json.dump(hoso.description, buffer, ensure_ascii=False, indent=2)
        tmp = path.with_name(f".{path.name}.partial")
        tmp.write_text(buffer.getvalue() + "\n", encoding="utf-8")
        os.replace(tmp, path)
        written.append(path)
    return written
