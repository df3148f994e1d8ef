"""Writers of the TT05 "simpledc" EAD records (tt05.md §5, §6).

Every element of a record's sequence is written, empty when the value is absent: the transcribed
annex schemas require all of them in a fixed order. Element orders:

- ``EAD.xml``: the §5 order; the first slot is ``fileCode`` (SIP) or ``arcFileCode`` (AIP).
- AIP documents: the orders of the public implementer XSDs (§6.1, §6.3, §6.4).
- SIP documents: the order of the TT05 SIP tables (§6.2, §6.3, §6.4); the official sample schema
  uses ``xs:all``, so any order is accepted there.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import get_args

from lxml import etree

from .description import Document, DocumentKind, HoSo, PackageKind, file_name_safe
from .errors import InvalidPackageError, Problem
from .schemas import EAD_XSD_DIR
from .xmlcheck import safe_parser

ROOT = "simpledc"

_HOSO_TAIL = (
    "title",
    "maintenance",
    "mode",
    "language",
    "startDate",
    "endDate",
    "keyword",
    "totalDoc",
    "numberOfPaper",
    "numberOfPage",
    "format",
    "inforSign",
    "confidenceLevel",
    "paperFileCode",
    "description",
    "riskRecovery",
    "riskRecoveryStatus",
)

#: EAD.xml element order per package kind (18 elements).
HOSO_ELEMENTS: Mapping[PackageKind, tuple[str, ...]] = {
    "SIP": ("fileCode", *_HOSO_TAIL),
    "AIP": ("arcFileCode", *_HOSO_TAIL),
}

#: Document record element order per (document kind, package kind).
DOCUMENT_ELEMENTS: Mapping[tuple[DocumentKind, PackageKind], tuple[str, ...]] = {
    ("doc", "AIP"): (
        "arcFileCode",
        "mode",
        "language",
        "keyword",
        "numberOfPage",
        "format",
        "inforSign",
        "confidenceLevel",
        "description",
        "docCode",
        "docOrdinal",
        "typeName",
        "codeNumber",
        "codeNotation",
        "issuedDate",
        "organName",
        "subject",
        "autograph",
        "process",
    ),
    ("doc", "SIP"): (
        "docId",
        "docCode",
        "maintenance",
        "typeName",
        "codeNumber",
        "codeNotation",
        "issuedDate",
        "organName",
        "subject",
        "language",
        "numberOfPage",
        "inforSign",
        "keyword",
        "mode",
        "confidenceLevel",
        "autograph",
        "format",
        "process",
        "description",
        "riskRecovery",
        "riskRecoveryStatus",
    ),
    ("pic", "AIP"): (
        "arcFileCode",
        "mode",
        "format",
        "inforSign",
        "description",
        "docOrdinal",
        "typePic",
        "archivesNumber",
        "eventName",
        "imageTitle",
        "photographer",
        "photoPlace",
        "photoTime",
        "colour",
        "filmSize",
        "docAttached",
    ),
    ("pic", "SIP"): (
        "docCode",
        "maintenance",
        "typePic",
        "archivesNumber",
        "inforSign",
        "eventName",
        "imageTitle",
        "photographer",
        "photoPlace",
        "photoTime",
        "colour",
        "filmSize",
        "docAttached",
        "mode",
        "format",
        "description",
        "riskRecovery",
        "riskRecoveryStatus",
    ),
    ("media", "AIP"): (
        "arcFileCode",
        "mode",
        "language",
        "format",
        "inforSign",
        "description",
        "docOrdinal",
        "archivesNumber",
        "eventName",
        "docAttached",
        "typeMedia",
        "movieTitle",
        "recorder",
        "recordPlace",
        "recordDate",
        "playTime",
        "quality",
    ),
    ("media", "SIP"): (
        "docCode",
        "maintenance",
        "typeMedia",
        "archivesNumber",
        "inforSign",
        "eventName",
        "movieTitle",
        "recorder",
        "recordPlace",
        "recordDate",
        "language",
        "playTime",
        "docAttached",
        "quality",
        "mode",
        "format",
        "description",
        "riskRecovery",
        "riskRecoveryStatus",
    ),
}

HOSO_SCHEMA = "EAD.xsd"
#: Our schema file name per document kind (the record file is ``EAD_<kind>_<code>.xml``).
DOCUMENT_SCHEMAS: Mapping[DocumentKind, str] = {
    "doc": "EAD_doc.xsd",
    "pic": "EAD_pic.xsd",
    "media": "EAD_media.xsd",
}


def _package_kind(kind: str) -> PackageKind:
    if kind == "SIP":
        return "SIP"
    if kind == "AIP":
        return "AIP"
    raise ValueError(f"package kind must be 'SIP' or 'AIP', not {kind!r}")


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value)


def _simpledc(pairs: Iterable[tuple[str, str]]) -> etree._Element:
    root = etree.Element(ROOT)
    for name, value in pairs:
        etree.SubElement(root, name).text = value or None
    return root


def _serialize(root: etree._Element) -> bytes:
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + etree.tostring(
        root, encoding="UTF-8", pretty_print=True
    )


def _write_simpledc(pairs: Iterable[tuple[str, str]], path: Path) -> None:
    body = _serialize(_simpledc(pairs))
    # Write beside the target, then rename: a crash never leaves a half-written record.
    partial = path.with_name(path.name + ".part")
    partial.write_bytes(body)
    os.replace(partial, path)


def render_checked(pairs: Iterable[tuple[str, str]], schema: etree.XMLSchema, where: str) -> bytes:
    """Serialize a record after validating it in memory against ``schema`` (our strict XSD).

    The builders use this so that each record is checked before it is written, without reading
    it back; an invalid record raises :class:`InvalidPackageError` with every schema error.
    """
    root = _simpledc(pairs)
    if not schema.validate(root):
        problems = [Problem(where, f"line {e.line}: {e.message}", rule="xsd") for e in schema.error_log]  # type: ignore[attr-defined]
        raise InvalidPackageError(where, problems)
    return _serialize(root)


def hoso_values(hoso: HoSo, kind: PackageKind) -> list[tuple[str, str]]:
    """(element, text) pairs of ``EAD.xml`` in schema order; absent values are empty strings."""
    package = _package_kind(kind)
    first = {"fileCode": hoso.file_code, "arcFileCode": hoso.arc_file_code}
    return [
        (name, _text(first[name] if name in first else hoso.fields.get(name)))
        for name in HOSO_ELEMENTS[package]
    ]


def _document_value(hoso: HoSo, doc: Document, kind: PackageKind, name: str) -> object:
    if name == "arcFileCode":
        return hoso.arc_file_code
    if name == "docCode":
        return hoso.doc_code(doc, kind)
    if name == "docId":
        return hoso.doc_id(doc)
    if name == "docOrdinal":
        return doc.ordinal
    return hoso.document_value(doc, name) if kind == "SIP" else doc.fields.get(name)


def document_values(hoso: HoSo, doc: Document, kind: PackageKind) -> list[tuple[str, str]]:
    """(element, text) pairs of one document record in schema order."""
    package = _package_kind(kind)
    order = DOCUMENT_ELEMENTS[(doc.kind, package)]
    return [(name, _text(_document_value(hoso, doc, package, name))) for name in order]


def write_hoso_ead(hoso: HoSo, kind: PackageKind, path: Path) -> None:
    """Write ``metadata/descriptive/EAD.xml`` (18 elements)."""
    _write_simpledc(hoso_values(hoso, kind), path)


def document_ead_filename(hoso: HoSo, doc: Document, kind: PackageKind) -> str:
    """``EAD_doc_<docCode>.xml`` (or ``EAD_pic_…`` / ``EAD_media_…``), docCode made file-name-safe."""
    return f"EAD_{doc.kind}_{file_name_safe(hoso.doc_code(doc, _package_kind(kind)))}.xml"


def write_document_ead(hoso: HoSo, doc: Document, kind: PackageKind, path: Path) -> None:
    """Write one document record, AIP or SIP variant."""
    _write_simpledc(document_values(hoso, doc, kind), path)


def ead_schema_files(kinds_used: Iterable[str]) -> list[str]:
    """Our XSD file names a package must carry: ``EAD.xsd`` plus one per document kind used."""
    wanted = set(kinds_used)
    unknown = wanted - set(DOCUMENT_SCHEMAS)
    if unknown:
        raise ValueError(f"unknown document kind(s): {sorted(unknown)}; expected {list(DOCUMENT_SCHEMAS)}")
    return [HOSO_SCHEMA] + [DOCUMENT_SCHEMAS[k] for k in get_args(DocumentKind) if k in wanted]


def ead_schema_path(name: str) -> Path:
    """Path of one of our strict EAD XSDs, e.g. ``ead_schema_path("EAD_doc.xsd")``."""
    if name != HOSO_SCHEMA and name not in DOCUMENT_SCHEMAS.values():
        raise ValueError(f"not one of our EAD schemas: {name!r}")
    return EAD_XSD_DIR / name


def load_ead_schema(name: str) -> etree.XMLSchema:
    """One of our strict EAD XSDs, parsed afresh (cheap; a schema object is not shared across threads)."""
    return etree.XMLSchema(etree.parse(str(ead_schema_path(name))))


def read_simpledc(path: Path) -> dict[str, str]:
    """The fields of an EAD ``simpledc`` record (file or document level): element name -> text,
    stripped, empty elements included. The parser refuses DOCTYPEs and never loads entities."""
    doc = etree.parse(str(path), safe_parser())
    return {
        etree.QName(child).localname: (child.text or "").strip()
        for child in doc.getroot()
        if isinstance(child.tag, str)
    }
