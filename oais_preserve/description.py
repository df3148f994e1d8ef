"""The hồ sơ description JSON (docs/description-format.md): validation and loading.

:func:`validate_description` reports every problem at once: each JSON Schema error
(``schemas/hoso-description.schema.json``) plus the checks a schema cannot express (real calendar
dates, counts, ordinals, file paths, derived identifier lengths). :func:`load_description` turns a
valid description into an immutable :class:`HoSo`.
"""

from __future__ import annotations

import calendar
import difflib
import json
import os
import re
import unicodedata
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from functools import cache
from pathlib import Path, PurePosixPath
from types import MappingProxyType
from typing import Any, Literal, cast, get_args

import jsonschema_rs
from jsonschema import Draft202012Validator, ValidationError
from jsonschema.protocols import Validator

from .codes import normalize_code, normalize_code_list
from .errors import DescriptionError, Problem, UserInputError
from .schemas import DESCRIPTION_SCHEMA_ID, json_schema_files, load_json_schema_registry

PackageKind = Literal["SIP", "AIP"]
DocumentKind = Literal["doc", "pic", "media"]

SCHEMA_TAG = "oais_preserve/hoso-description/1"
FILE_CODE_MAX = 100  # mã hồ sơ / mã hồ sơ lưu trữ (tt05.md §5)
DOC_CODE_MAX = 100  # mã lưu trữ của tài liệu (§6.1)
DOC_ID_MAX = 25  # mã định danh tài liệu, SIP (§6.2)
ORDINAL_DIGITS = 7  # docCode ends in a 7-digit ordinal (§8)

#: SIP document records repeat these hồ sơ values unless the document gives its own (§6.2).
SIP_INHERITED = ("maintenance", "riskRecovery", "riskRecoveryStatus")
_COMMENT_PREFIX = "//"
_NOT_FIELDS = frozenset({"kind", "files"})

_FULL_DATE = re.compile(r"([0-9]{2})/([0-9]{2})/([0-9]{4})")
_MONTH_DATE = re.compile(r"([0-9]{2})/([0-9]{4})")
_YEAR_DATE = re.compile(r"([0-9]{4})")
_DATETIME = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2})(?::([0-9]{2})(?:\.([0-9]{1,6}))?)?"
    r"(Z|[+-][0-9]{2}:[0-9]{2})"
)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_UNSAFE_NAME = re.compile(r"[^0-9A-Za-z._-]")


# --------------------------------------------------------------------------- model


@dataclass(frozen=True)
class Document:
    """One tài liệu: an ``EAD_doc`` / ``EAD_pic`` / ``EAD_media`` record and its content files."""

    kind: DocumentKind
    ordinal: int
    files: tuple[str, ...]
    fields: Mapping[str, object]  # TT05 element name -> value as given (docOrdinal included)

    def text(self, name: str) -> str | None:
        """A field as a string, None when absent."""
        return _as_optional_text(self.fields.get(name))


@dataclass(frozen=True)
class HoSo:
    """A validated hồ sơ description: fonds, hồ sơ fields, documents sorted by ordinal."""

    fonds: Mapping[str, object]
    fields: Mapping[str, object]
    documents: tuple[Document, ...]
    files: tuple[str, ...]  # hồ sơ-level files (whole hồ sơ scanned as one file)

    @property
    def archive_code(self) -> str:
        """Mã cơ quan lưu trữ lịch sử (TT02 Identifier)."""
        return _required_text(self.fonds, "archiveCode")

    @property
    def fonds_code(self) -> str:
        """Mã phông (TT02 OrganId): AIP OBJID part and organisation IDENTIFICATIONCODE."""
        return _required_text(self.fonds, "fondsCode")

    @property
    def fonds_name(self) -> str:
        return _required_text(self.fonds, "fondsName")

    @property
    def organization(self) -> str:
        """Name of the archive holding the fonds."""
        return _required_text(self.fonds, "organization")

    @property
    def file_code(self) -> str:
        """Mã hồ sơ (SIP ``fileCode``)."""
        return _required_text(self.fields, "fileCode")

    @property
    def arc_file_code(self) -> str:
        """Mã hồ sơ lưu trữ (AIP ``arcFileCode``): as given, else archiveCode + "." + fileCode."""
        return _as_optional_text(self.fields.get("arcFileCode")) or derive_arc_file_code(
            self.archive_code, self.file_code
        )

    def code_for(self, kind: PackageKind) -> str:
        """The first element of ``EAD.xml``: fileCode (SIP) or arcFileCode (AIP)."""
        return self.file_code if _checked_kind(kind) == "SIP" else self.arc_file_code

    @property
    def title(self) -> str:
        return _required_text(self.fields, "title")

    @property
    def maintenance(self) -> str:
        return _required_text(self.fields, "maintenance")

    @property
    def mode(self) -> str:
        return _required_text(self.fields, "mode")

    @property
    def language(self) -> str:
        return _required_text(self.fields, "language")

    @property
    def confidence_level(self) -> str:
        return _required_text(self.fields, "confidenceLevel")

    @property
    def is_digitized(self) -> bool:
        """confidenceLevel 02 (Số hóa)."""
        return self.confidence_level == "02"

    @property
    def total_doc(self) -> int:
        return cast(int, self.fields["totalDoc"])

    @property
    def number_of_page(self) -> int:
        return cast(int, self.fields["numberOfPage"])

    @property
    def date_range(self) -> tuple[date, date]:
        """Earliest day of startDate and latest day of endDate (partial dates widened)."""
        return (
            date_bounds(_required_text(self.fields, "startDate"))[0],
            date_bounds(_required_text(self.fields, "endDate"))[1],
        )

    @property
    def digitized_at(self) -> datetime | None:
        """When the hồ sơ was digitized (timezone-aware), for the PREMIS transfer event."""
        text = _as_optional_text(self.fields.get("digitizedAt"))
        return parse_timestamp(text) if text else None

    @property
    def digitized_by(self) -> str | None:
        return _as_optional_text(self.fields.get("digitizedBy"))

    def doc_code(self, doc: Document, kind: PackageKind) -> str:
        """Mã lưu trữ của tài liệu: as given, else (arc)FileCode + "." + 7-digit ordinal."""
        given = doc.text("docCode")
        return given or derive_doc_code(self.code_for(kind), doc.ordinal)

    def doc_id(self, doc: Document) -> str:
        """Mã định danh tài liệu (SIP ``docId``): as given, else fileCode + "." + ordinal."""
        return doc.text("docId") or derive_doc_id(self.file_code, doc.ordinal)

    def document_value(self, doc: Document, name: str) -> object | None:
        """A document field, falling back to the hồ sơ value for :data:`SIP_INHERITED` names."""
        if name in doc.fields:
            return doc.fields[name]
        if name == "riskRecoveryStatus" and "riskRecovery" in doc.fields:
            return None  # the document chose its own regime; the hồ sơ status does not apply
        return self.fields.get(name) if name in SIP_INHERITED else None

    def document(self, ordinal: int) -> Document:
        """The document with this docOrdinal; KeyError if there is none."""
        for doc in self.documents:
            if doc.ordinal == ordinal:
                return doc
        raise KeyError(ordinal)

    def kinds_used(self) -> tuple[DocumentKind, ...]:
        """Document kinds present, in the order doc, pic, media."""
        present = {doc.kind for doc in self.documents}
        return tuple(kind for kind in get_args(DocumentKind) if kind in present)

    def all_files(self) -> tuple[str, ...]:
        """Every content path: hồ sơ-level files first, then each document's, in ordinal order."""
        return self.files + tuple(path for doc in self.documents for path in doc.files)


def _as_optional_text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value)


def _required_text(fields: Mapping[str, object], name: str) -> str:
    value = _as_optional_text(fields.get(name))
    if value is None:
        raise KeyError(name)
    return value


def _checked_kind(kind: str) -> PackageKind:
    if kind not in get_args(PackageKind):
        raise ValueError(f"package kind must be 'SIP' or 'AIP', not {kind!r}")
    return cast(PackageKind, kind)


# --------------------------------------------------------------------------- identifiers and dates


def derive_arc_file_code(archive_code: str, file_code: str) -> str:
    """Mã hồ sơ lưu trữ = Mã cơ quan lưu trữ + "." + Mã hồ sơ (tt05.md §8)."""
    return f"{archive_code}.{file_code}"


def derive_doc_code(file_code: str, ordinal: int) -> str:
    """(arc)FileCode + "." + 7-digit ordinal, e.g. ``….160.0000001``."""
    return f"{file_code}.{ordinal:0{ORDINAL_DIGITS}d}"


def derive_doc_id(file_code: str, ordinal: int) -> str:
    """fileCode + "." + ordinal, e.g. ``H49.64.33.2001.160.1``."""
    return f"{file_code}.{ordinal}"


def file_name_safe(code: str) -> str:
    """A code usable in a file name: characters outside ``[0-9A-Za-z._-]`` become ``_``."""
    return _UNSAFE_NAME.sub("_", unicodedata.normalize("NFC", code)).lstrip(".") or "_"


def _day(year: int, month: int, day: int) -> date:
    if year < 1:
        raise ValueError("năm 0000 không có thật (year 0000 does not exist)")
    try:
        return date(year, month, day)
    except ValueError:
        raise ValueError("ngày không có thật trong lịch (no such calendar date)") from None


def date_bounds(text: str, *, partial: bool = True) -> tuple[date, date]:
    """First and last day meant by a TT05 date ``DD/MM/YYYY`` (or ``MM/YYYY`` / ``YYYY`` if partial).

    ValueError (Vietnamese + English message) for a wrong form or a day that does not exist.
    """
    if match := _FULL_DATE.fullmatch(text):
        day = _day(int(match[3]), int(match[2]), int(match[1]))
        return day, day
    if partial and (match := _MONTH_DATE.fullmatch(text)):
        year, month = int(match[2]), int(match[1])
        first = _day(year, month, 1)
        return first, first.replace(day=calendar.monthrange(year, month)[1])
    if partial and (match := _YEAR_DATE.fullmatch(text)):
        year = int(match[1])
        return _day(year, 1, 1), _day(year, 12, 31)
    forms = "DD/MM/YYYY, MM/YYYY hoặc (or) YYYY" if partial else "DD/MM/YYYY"
    raise ValueError(f"ngày phải có dạng {forms} (date must be {forms.replace('hoặc (or)', 'or')})")


def parse_timestamp(text: str) -> datetime:
    """An ISO 8601 date-time with UTC offset (``Z`` or ``±hh:mm``); ValueError otherwise."""
    match = _DATETIME.fullmatch(text)
    if match is None:
        raise ValueError(
            "thời điểm phải có dạng YYYY-MM-DDThh:mm:ss+07:00 (timestamp must be ISO 8601 with offset)"
        )
    year, month, day, hour, minute = (int(match[i]) for i in range(1, 6))
    second = int(match[6] or 0)
    micro = int((match[7] or "0").ljust(6, "0"))
    try:
        return datetime(year, month, day, hour, minute, second, micro, tzinfo=_offset(match[8]))
    except ValueError:
        raise ValueError("thời điểm không có thật (no such date or time)") from None


def _offset(text: str) -> timezone:
    if text == "Z":
        return timezone.utc
    sign = -1 if text[0] == "-" else 1
    hours, minutes = int(text[1:3]), int(text[4:6])
    if hours > 23 or minutes > 59:
        raise ValueError("độ lệch múi giờ không hợp lệ (invalid UTC offset)")
    return timezone(sign * timedelta(hours=hours, minutes=minutes))


# --------------------------------------------------------------------------- input preparation


def _nfc(value: object) -> object:
    """NFC-normalize every string, keys included (Vietnamese text often arrives in NFD)."""
    if isinstance(value, str):
        return unicodedata.normalize("NFC", value)
    if isinstance(value, Mapping):
        return {unicodedata.normalize("NFC", str(key)): _nfc(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_nfc(item) for item in value]
    return value


def _posix_paths(value: object) -> object:
    # Windows back-slashes in a spreadsheet once produced zero packages (tt05.md §14): normalise.
    if isinstance(value, list):
        return [item.replace("\\", "/") if isinstance(item, str) else item for item in value]
    return value


def _prepare(data: Mapping[str, object]) -> dict[str, object]:
    prepared = cast(dict[str, object], _nfc(data))
    hoso = prepared.get("hoso")
    if isinstance(hoso, dict) and "files" in hoso:
        hoso["files"] = _posix_paths(hoso["files"])
    documents = prepared.get("documents")
    for doc in documents if isinstance(documents, list) else []:
        if isinstance(doc, dict) and "files" in doc:
            doc["files"] = _posix_paths(doc["files"])
    return prepared


# --------------------------------------------------------------------------- JSON Schema problems


@cache
def _validator() -> Validator:
    registry = load_json_schema_registry()
    schema = registry.contents(DESCRIPTION_SCHEMA_ID)
    return cast(Validator, Draft202012Validator(schema, registry=registry))


_QUOTED = re.compile(r"'([^']*)'")
_TYPE_NAMES = {
    "string": "chuỗi (string)",
    "integer": "số nguyên (integer)",
    "number": "số (number)",
    "object": "đối tượng (object)",
    "array": "danh sách (array)",
    "boolean": "đúng/sai (boolean)",
}


def _show(value: object) -> str | None:
    if value is None:
        return None
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 200 else text[:199] + "…"


def _code_hint(schema: Mapping[str, Any], value: object) -> str:
    """When a label was written instead of the code, say which code to write."""
    list_name = schema.get("x-code-list")
    if not isinstance(list_name, str):
        return ""
    try:
        code = (normalize_code_list if list_name == "language" else normalize_code)(list_name, value)
    except ValueError:
        return ""
    if schema.get("type") == "integer":
        return f"; ghi số {code} không có ngoặc kép (write the number {code}, without quotes)"
    return f"; ghi mã {code!r} (write the code {code!r})"


def _allowed(schema: Mapping[str, Any]) -> str:
    labels = schema.get("x-labels")
    if isinstance(labels, Mapping):
        return ", ".join(f"{code} = {text}" for code, text in labels.items())
    return ", ".join(json.dumps(v, ensure_ascii=False) for v in schema.get("enum", []))


def _unknown_key_message(key: str, schema: Mapping[str, Any]) -> str:
    known = list(schema.get("properties", {}))
    close = difflib.get_close_matches(key, known, n=1)
    hint = f"; có phải {close[0]!r}? (did you mean {close[0]!r}?)" if close else ""
    return f"trường không được phép (unknown field, typo?){hint}"


def _number_message(error: ValidationError) -> str:
    bound = error.validator_value
    if error.validator == "minimum":
        return f"nhỏ hơn mức tối thiểu {bound} (below the minimum {bound})"
    return f"vượt quá mức tối đa {bound} (above the maximum {bound})"


def _type_message(error: ValidationError) -> str:
    expected = error.validator_value
    wanted = [str(t) for t in (expected if isinstance(expected, list) else [expected])]
    names = [_TYPE_NAMES.get(t, t) for t in wanted]
    hint = ""
    if isinstance(error.instance, str) and error.instance.strip().isdigit() and "integer" in str(expected):
        hint = "; ghi số không có ngoặc kép (write numbers without quotes)"
    return f"sai kiểu dữ liệu, cần {' / '.join(names)} (wrong type){hint}"


def _required_message(error: ValidationError) -> str:
    extra = cast(Mapping[str, Any], error.schema).get("x-message")
    base = "thiếu trường bắt buộc (required field missing)"
    return f"{base}: {extra}" if extra else base


def _dependent_message(error: ValidationError) -> str:
    names = _QUOTED.findall(error.message)  # "'unit' is a dependency of 'counter'"
    given = names[-1] if names else "?"
    return f"thiếu trường bắt buộc khi có {given} (required when {given} is given)"


def _enum_message(error: ValidationError) -> str:
    schema = cast(Mapping[str, Any], error.schema)
    allowed = _allowed(schema)
    return f"giá trị không có trong danh mục (not in the code list); hợp lệ: {allowed}" + _code_hint(
        schema, error.instance
    )


def _max_length_message(error: ValidationError) -> str:
    size = len(error.instance) if isinstance(error.instance, str) else 0
    limit = error.validator_value
    return f"quá dài: {size} ký tự, tối đa {limit} (too long: {size} > {limit} characters)"


def _pattern_message(error: ValidationError) -> str:
    schema = cast(Mapping[str, Any], error.schema)
    message = (
        schema.get("x-message") or f"không khớp mẫu {error.validator_value} (does not match the pattern)"
    )
    return str(message) + _code_hint(schema, error.instance)


def _const_message(error: ValidationError) -> str:
    return f"phải là {error.validator_value!r} (must be {error.validator_value!r})"


def _min_items_message(error: ValidationError) -> str:
    return f"cần ít nhất {error.validator_value} phần tử (at least {error.validator_value} item(s))"


def _min_length_message(error: ValidationError) -> str:
    return "không được để trống (must not be empty)"


_MESSAGES = {
    "required": _required_message,
    "dependentRequired": _dependent_message,
    "type": _type_message,
    "enum": _enum_message,
    "const": _const_message,
    "maxLength": _max_length_message,
    "minLength": _min_length_message,
    "pattern": _pattern_message,
    "minimum": _number_message,
    "maximum": _number_message,
    "minItems": _min_items_message,
}


def _schema_message(error: ValidationError) -> str:
    """Vietnamese message with the English in parentheses, per failing JSON Schema keyword."""
    build = _MESSAGES.get(str(error.validator))
    return build(error) if build else f"không hợp lệ (invalid): {error.message}"


_SUPERSEDING = frozenset({"enum", "const"})


def _drop_redundant(errors: list[ValidationError]) -> list[ValidationError]:
    """An out-of-list value also breaks type/maxLength/pattern; report only the code-list error."""
    superseded = {tuple(e.absolute_path) for e in errors if e.validator in _SUPERSEDING}
    return [e for e in errors if e.validator in _SUPERSEDING or tuple(e.absolute_path) not in superseded]


def _sort_key(error: ValidationError) -> tuple[tuple[tuple[int, int, str], ...], str]:
    parts = tuple((0, p, "") if isinstance(p, int) else (1, 0, str(p)) for p in error.absolute_path)
    return parts, str(error.validator)


def _unknown_keys(error: ValidationError) -> list[str]:
    schema = cast(Mapping[str, Any], error.schema)
    instance = cast(Mapping[str, Any], error.instance)
    known = set(schema.get("properties", {}))
    patterns = [re.compile(p) for p in schema.get("patternProperties", {})]
    return [k for k in instance if k not in known and not any(p.search(k) for p in patterns)]


def _expand(error: ValidationError) -> list[Problem]:
    """One Problem per offending field; a missing or unknown key is named in ``where`` itself."""
    schema = cast(Mapping[str, Any], error.schema)
    if error.validator == "additionalProperties" and isinstance(error.instance, Mapping):
        return [
            Problem(
                f"{error.json_path}.{key}",
                _unknown_key_message(key, schema),
                _show(error.instance[key]),
                "additionalProperties",
            )
            for key in _unknown_keys(error)
        ]
    if error.validator in ("required", "dependentRequired"):
        # jsonschema yields one error per missing key and names it first in the message.
        match = _QUOTED.search(error.message)
        where = f"{error.json_path}.{match[1]}" if match else error.json_path
        rule = schema.get("x-rule") if error.validator == "required" else None
        return [Problem(where, _schema_message(error), None, str(rule or error.validator))]
    return [Problem(error.json_path, _schema_message(error), _show(error.instance), str(error.validator))]


@cache
def _fast_validator() -> Any:
    """The same schemas compiled by jsonschema-rs: ~200x faster, used only to say "valid".

    A hồ sơ of 20,000 documents validates in milliseconds instead of seconds; when it is not
    valid, the Python validator below explains every error with our messages.
    """
    registry = load_json_schema_registry()
    schemas = {uri: registry.contents(uri) for uri in _schema_uris()}
    return jsonschema_rs.validator_for(schemas[DESCRIPTION_SCHEMA_ID], retriever=schemas.__getitem__)


def _schema_uris() -> list[str]:
    return [str(json.loads(p.read_text(encoding="utf-8"))["$id"]) for p in json_schema_files()]


def _schema_problems(data: object) -> list[Problem]:
    if _fast_validator().is_valid(data):
        return []
    errors = sorted(_validator().iter_errors(cast(Any, data)), key=_sort_key)
    return [problem for error in _drop_redundant(errors) for problem in _expand(error)]


# --------------------------------------------------------------------------- Python checks


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _str(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _object(value: object) -> Mapping[str, object]:
    return value if isinstance(value, Mapping) else {}


def _documents(data: Mapping[str, object]) -> list[tuple[str, Mapping[str, object]]]:
    """(JSON path, document) for every document that is an object."""
    docs = data.get("documents")
    items = docs if isinstance(docs, list) else []
    return [(f"$.documents[{i}]", doc) for i, doc in enumerate(items) if isinstance(doc, Mapping)]


def _strings(value: object, where: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        yield where, value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from _strings(item, f"{where}.{key}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _strings(item, f"{where}[{i}]")


def _check_control_characters(data: Mapping[str, object]) -> Iterator[Problem]:
    # lxml refuses such characters, and they are never meant in archival text.
    for where, text in _strings(data, "$"):
        if _CONTROL.search(text):
            yield Problem(
                where, "chứa ký tự điều khiển (contains a control character)", text, "control-character"
            )


_DOCUMENT_DATES = ("issuedDate", "photoTime", "recordDate")


def _date_problem(where: str, text: str, *, partial: bool) -> Problem | None:
    try:
        date_bounds(text, partial=partial)
    except ValueError as exc:
        return Problem(where, str(exc), text, "date")
    return None


def _check_hoso_dates(hoso: Mapping[str, object], kind: PackageKind | None) -> Iterator[Problem]:
    bounds: dict[str, tuple[date, date]] = {}
    for name in ("startDate", "endDate"):
        text = _str(hoso.get(name))
        if text is None or not _looks_like_date(text, partial=True):
            continue  # absent or malformed: the schema already said so
        where = f"$.hoso.{name}"
        if kind == "SIP" and not _FULL_DATE.fullmatch(text):
            yield Problem(
                where, "gói SIP cần ngày đầy đủ DD/MM/YYYY (a SIP needs a full date)", text, "sip-date"
            )
        if problem := _date_problem(where, text, partial=True):
            yield problem
        else:
            bounds[name] = date_bounds(text)
    if len(bounds) == 2 and bounds["endDate"][1] < bounds["startDate"][0]:
        yield Problem(
            "$.hoso.endDate",
            f"trước thời gian bắt đầu {hoso.get('startDate')} (endDate is earlier than startDate)",
            _str(hoso.get("endDate")),
            "date-order",
        )


def _looks_like_date(text: str, *, partial: bool) -> bool:
    forms = (_FULL_DATE, _MONTH_DATE, _YEAR_DATE) if partial else (_FULL_DATE,)
    return any(form.fullmatch(text) for form in forms)


def _check_document_dates(data: Mapping[str, object]) -> Iterator[Problem]:
    for where, doc in _documents(data):
        for name in _DOCUMENT_DATES:
            text = _str(doc.get(name))
            if text is not None and _looks_like_date(text, partial=False):
                problem = _date_problem(f"{where}.{name}", text, partial=False)
                if problem:
                    yield problem


def _check_timestamp(hoso: Mapping[str, object]) -> Iterator[Problem]:
    text = _str(hoso.get("digitizedAt"))
    if text is not None and _DATETIME.fullmatch(text):
        try:
            parse_timestamp(text)
        except ValueError as exc:
            yield Problem("$.hoso.digitizedAt", str(exc), text, "date-time")


def _check_counts(
    hoso: Mapping[str, object], docs: list[tuple[str, Mapping[str, object]]]
) -> Iterator[Problem]:
    total = _int(hoso.get("totalDoc"))
    if total is not None and total != len(docs):
        yield Problem(
            "$.hoso.totalDoc",
            f"khác số tài liệu được mô tả: {len(docs)} "
            f"(totalDoc does not match the {len(docs)} documents listed)",
            str(total),
            "totalDoc-count",
        )
    pages = _int(hoso.get("numberOfPage"))
    doc_pages = [_int(doc.get("numberOfPage")) for _, doc in docs]
    if pages is None or not docs or any(p is None for p in doc_pages):
        return  # photos / media have no pages: no sum to compare
    summed = sum(p for p in doc_pages if p is not None)
    if summed != pages:
        yield Problem(
            "$.hoso.numberOfPage",
            f"khác tổng số trang các tài liệu: {summed} "
            f"(numberOfPage does not match the documents' sum {summed})",
            str(pages),
            "numberOfPage-sum",
        )


def _check_ordinals(docs: list[tuple[str, Mapping[str, object]]]) -> Iterator[Problem]:
    seen: dict[int, str] = {}
    for where, doc in docs:
        ordinal = _int(doc.get("docOrdinal"))
        if ordinal is None:
            continue
        if ordinal in seen:
            yield Problem(
                f"{where}.docOrdinal",
                f"trùng số thứ tự với {seen[ordinal]} (duplicate docOrdinal)",
                str(ordinal),
                "duplicate-ordinal",
            )
        else:
            seen[ordinal] = where
    count = len(docs)
    valid = all((_int(doc.get("docOrdinal")) or 0) >= 1 for _, doc in docs)
    missing = sorted(set(range(1, count + 1)) - set(seen))
    if valid and missing:
        shown = ", ".join(str(m) for m in missing[:20]) + (" …" if len(missing) > 20 else "")
        yield Problem(
            "$.documents",
            f"số thứ tự phải liên tục 1..{count}, thiếu: {shown} (docOrdinal must run 1..{count}; missing)",
            None,
            "ordinal-sequence",
        )


def _path_problem(path: str) -> str | None:
    if path.startswith("/") or re.match(r"[A-Za-z]:", path):
        return "đường dẫn tuyệt đối (absolute path; give it relative to the source folder)"
    segments = path.split("/")
    if ".." in segments:
        return "đường dẫn chứa '..' (path escapes the source folder with '..')"
    if any(segment in ("", ".") for segment in segments):
        return "đường dẫn có đoạn rỗng hoặc '.' (empty or '.' path segment)"
    return None


def _file_entries(data: Mapping[str, object]) -> list[tuple[str, str]]:
    """(JSON path, path) of every file string, hồ sơ files first."""
    entries: list[tuple[str, str]] = []
    owners = [("$.hoso", _object(data.get("hoso"))), *_documents(data)]
    for where, owner in owners:
        files = owner.get("files")
        for i, item in enumerate(files if isinstance(files, list) else []):
            if isinstance(item, str) and item:
                entries.append((f"{where}.files[{i}]", item))
    return entries


def _check_paths(data: Mapping[str, object]) -> Iterator[Problem]:
    full: dict[str, str] = {}
    names: dict[str, tuple[str, str]] = {}
    for where, path in _file_entries(data):
        if message := _path_problem(path):
            yield Problem(where, message, path, "path-unsafe")
            continue
        nfc = unicodedata.normalize("NFC", path)
        if nfc in full:
            yield Problem(where, f"trùng với {full[nfc]} (duplicate path after NFC)", path, "path-duplicate")
            continue
        full[nfc] = where
        name = PurePosixPath(nfc).name
        # Files land in data/ under their base name; a case-only clash breaks on Windows/macOS too.
        if (key := name.casefold()) in names:
            other_where, other_name = names[key]
            yield Problem(
                where,
                f"trùng tên tệp với {other_where} {other_name!r} (same file name; files are copied "
                "into data/ by name, case-insensitively distinct names required)",
                path,
                "file-name-duplicate",
            )
        else:
            names[key] = (where, name)


def _check_files_present(data: Mapping[str, object]) -> Iterator[Problem]:
    hoso_files = _object(data.get("hoso")).get("files")
    if isinstance(hoso_files, list) and hoso_files:
        return
    for where, doc in _documents(data):
        if doc.get("files") in (None, []):  # a wrongly typed value is the schema's finding
            yield Problem(
                f"{where}.files",
                "tài liệu không có tệp và hoso.files trống (document has no files and hoso.files is empty)",
                None,
                "files-required",
            )


def _kinds(kind: PackageKind | None) -> tuple[PackageKind, ...]:
    return get_args(PackageKind) if kind is None else (kind,)


def _check_codes(data: Mapping[str, object], kind: PackageKind | None) -> Iterator[Problem]:
    fonds, hoso = _object(data.get("fonds")), _object(data.get("hoso"))
    file_code, archive = _str(hoso.get("fileCode")), _str(fonds.get("archiveCode"))
    if file_code is None or archive is None:
        return
    arc = _str(hoso.get("arcFileCode")) or derive_arc_file_code(archive, file_code)
    for package in _kinds(kind):
        prefix, prefix_where = (
            (file_code, "$.hoso.fileCode") if package == "SIP" else (arc, "$.hoso.arcFileCode")
        )
        if package == "AIP" and "arcFileCode" not in hoso and len(arc) > FILE_CODE_MAX:
            yield _too_long("$.hoso.fileCode", "arcFileCode", package, arc, FILE_CODE_MAX)
            continue  # every derived docCode would be too long as well: one report is enough
        yield from _check_code_lengths(data, package, prefix, prefix_where)
    yield from _check_duplicate_overrides(data)


def _too_long(where: str, name: str, package: PackageKind, code: str, limit: int) -> Problem:
    return Problem(
        where,
        f"{name} ({package}) suy ra dài {len(code)} > {limit} ký tự "
        f"(derived {name} too long: {len(code)} > {limit})",
        code,
        f"{name}-length",
    )


_CODE_LIMITS = {"docCode": DOC_CODE_MAX, "docId": DOC_ID_MAX}


def _derived(name: str, prefix: str, ordinal: int) -> str:
    return derive_doc_code(prefix, ordinal) if name == "docCode" else derive_doc_id(prefix, ordinal)


def _check_code_lengths(
    data: Mapping[str, object], package: PackageKind, prefix: str, prefix_where: str
) -> Iterator[Problem]:
    """Derived docCode (and SIP docId of văn bản) within their limits; given ones are the schema's job."""
    names = ("docCode", "docId") if package == "SIP" else ("docCode",)
    for name in names:
        limit = _CODE_LIMITS[name]
        if len(_derived(name, prefix, 1)) > limit:
            yield _too_long(prefix_where, name, package, _derived(name, prefix, 1), limit)
            continue
        for where, doc in _documents(data):
            ordinal = _int(doc.get("docOrdinal"))
            applies = name == "docCode" or doc.get("kind") == "doc"
            if applies and ordinal is not None and name not in doc:
                code = _derived(name, prefix, ordinal)
                if len(code) > limit:
                    yield _too_long(f"{where}.{name}", name, package, code, limit)


def _check_duplicate_overrides(data: Mapping[str, object]) -> Iterator[Problem]:
    """Given docCode / docId values must be unique (docCode also as an EAD file name, per kind)."""
    for name in ("docCode", "docId"):
        seen: dict[tuple[str, str], str] = {}
        for where, doc in _documents(data):
            given = _str(doc.get(name))
            if given is None:
                continue
            key = (str(doc.get("kind")), file_name_safe(given)) if name == "docCode" else ("", given)
            if key in seen:
                yield Problem(
                    f"{where}.{name}",
                    f"trùng {name} với {seen[key]} (duplicate {name})",
                    given,
                    f"duplicate-{name}",
                )
            else:
                seen[key] = where


def _python_problems(data: Mapping[str, object], kind: PackageKind | None) -> list[Problem]:
    hoso = _object(data.get("hoso"))
    docs = _documents(data)
    checks: list[Iterator[Problem]] = [
        _check_control_characters(data),
        _check_hoso_dates(hoso, kind),
        _check_document_dates(data),
        _check_timestamp(hoso),
        _check_counts(hoso, docs),
        _check_ordinals(docs),
        _check_files_present(data),
        _check_paths(data),
        _check_codes(data, kind),
    ]
    return [problem for check in checks for problem in check]


def _validate_prepared(data: Mapping[str, object], kind: PackageKind | None) -> list[Problem]:
    if kind is not None:
        _checked_kind(kind)
    problems = _schema_problems(data)
    if isinstance(data, Mapping):
        problems += _python_problems(data, kind)
    return problems


def validate_description(data: Mapping[str, object], *, kind: PackageKind | None = None) -> list[Problem]:
    """Every problem of a description: JSON Schema errors, then the checks a schema cannot make.

    ``kind`` None checks what any package needs and the SIP docId length; "SIP" also requires full
    file-level dates; "AIP" skips the SIP-only identifier checks.
    """
    return _validate_prepared(_prepare(data) if isinstance(data, Mapping) else data, kind)


# --------------------------------------------------------------------------- loading


class _DuplicateKeys(dict[str, object]):
    """A JSON object that remembers keys given twice (json keeps the last one silently)."""

    duplicates: list[str]


def _pairs_hook(pairs: list[tuple[str, object]]) -> _DuplicateKeys:
    result = _DuplicateKeys()
    result.duplicates = []
    for key, value in pairs:
        if key in result:
            result.duplicates.append(key)
        result[key] = value
    return result


def _duplicate_key_problems(value: object, where: str = "$") -> Iterator[Problem]:
    if isinstance(value, _DuplicateKeys):
        for key in value.duplicates:
            yield Problem(f"{where}.{key}", "khóa bị lặp lại (key given twice)", None, "duplicate-key")
    if isinstance(value, Mapping):
        for key, item in value.items():
            yield from _duplicate_key_problems(item, f"{where}.{key}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _duplicate_key_problems(item, f"{where}[{i}]")


def _read_json(path: Path) -> tuple[object, list[Problem]]:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise UserInputError(
            f"không đọc được tệp mô tả (cannot read the description): {path}: {exc}"
        ) from exc
    try:
        text = raw.decode("utf-8-sig")  # a BOM from Windows editors is fine
    except UnicodeDecodeError as exc:
        problem = Problem(str(path), f"không phải UTF-8 (not UTF-8): byte {exc.start}", None, "utf-8")
        raise DescriptionError([problem]) from exc
    try:
        data = json.loads(text, object_pairs_hook=_pairs_hook)
    except json.JSONDecodeError as exc:
        where = f"{path}:{exc.lineno}:{exc.colno}"
        raise DescriptionError(
            [Problem(where, f"JSON không hợp lệ (invalid JSON): {exc.msg}", None, "json")]
        ) from exc
    return data, list(_duplicate_key_problems(data))


def _clean(fields: Mapping[str, object], drop: frozenset[str] = frozenset()) -> Mapping[str, object]:
    return MappingProxyType(
        {k: v for k, v in fields.items() if k not in drop and not k.startswith(_COMMENT_PREFIX)}
    )


def _files(owner: Mapping[str, object]) -> tuple[str, ...]:
    return tuple(str(path) for path in cast(Sequence[object], owner.get("files", [])))


def _build(data: Mapping[str, object]) -> HoSo:
    hoso = _object(data["hoso"])
    documents = [
        Document(
            kind=cast(DocumentKind, doc["kind"]),
            ordinal=cast(int, doc["docOrdinal"]),
            files=_files(doc),
            fields=_clean(doc, _NOT_FIELDS),
        )
        for _, doc in _documents(data)
    ]
    return HoSo(
        fonds=_clean(_object(data["fonds"])),
        fields=_clean(hoso, frozenset({"files"})),
        documents=tuple(sorted(documents, key=lambda d: d.ordinal)),
        files=_files(hoso),
    )


def load_description(source: Path | Mapping[str, object], *, kind: PackageKind | None = None) -> HoSo:
    """Read (UTF-8 JSON, BOM allowed) or take a description, NFC it, validate it, build the HoSo.

    Raises DescriptionError listing every problem; UserInputError if the file cannot be read.
    """
    early: list[Problem] = []
    if isinstance(source, Mapping):
        raw: object = source
    elif isinstance(source, str | os.PathLike):
        raw, early = _read_json(Path(source))
    else:
        raise TypeError(f"load_description takes a path or a mapping, not {type(source).__name__}")
    if not isinstance(raw, Mapping):
        problem = Problem("$", "mô tả phải là một đối tượng JSON (the description must be a JSON object)")
        raise DescriptionError([*early, problem])
    data = _prepare(raw)
    problems = early + _validate_prepared(data, kind)
    if problems:
        raise DescriptionError(problems)
    return _build(data)
