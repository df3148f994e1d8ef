"""Offline, hardened XML parsing and schema validation.

Every schema is loaded from the repository's ``schemas/`` folder; no URL is ever fetched. The
METS schema is reached through a small driver schema that also imports the DILCIS CSIP and SIP
extensions, so that ``csip:`` and ``sip:`` attribute values are checked strictly, not laxly.
Parsers refuse DTDs, external entities and network access (XXE).
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

from lxml import etree

from .errors import Problem
from .profile import NS_PREMIS
from .schemas import SCHEMA_DIR

XSD_DIR = SCHEMA_DIR / "xsd"
EAD_XSD_DIR = SCHEMA_DIR / "ead"
_XLINK_URL = "http://www.loc.gov/standards/xlink/xlink.xsd"
_XML_URL = "http://www.w3.org/2001/xml.xsd"


class _LocalSchemas(etree.Resolver):
    """Maps the schema URLs the official XSDs import to our local copies."""

    def resolve(self, system_url: str, public_id: str, context: Any) -> Any:  # type: ignore[override]
        name = {_XLINK_URL: "xlink.xsd", _XML_URL: "xml.xsd"}.get(system_url)
        if name:
            return self.resolve_filename(str(XSD_DIR / name), context)  # type: ignore[attr-defined]
        if system_url.startswith(("http://", "https://")):
            raise etree.XMLSchemaParseError(f"refusing to fetch {system_url}")
        return None


def safe_parser(**options: Any) -> etree.XMLParser:
    """A parser that never resolves entities, loads DTDs or touches the network."""
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        **options,
    )


def _schema_parser() -> etree.XMLParser:
    parser = etree.XMLParser(no_network=True)
    parser.resolvers.add(_LocalSchemas())
    return parser


@cache
def mets_schema() -> etree.XMLSchema:
    driver = f"""<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema"
           targetNamespace="urn:oais-preserve:driver">
  <xs:import namespace="http://www.loc.gov/METS/" schemaLocation="{(XSD_DIR / "mets.xsd").as_uri()}"/>
  <xs:import namespace="https://DILCIS.eu/XML/METS/CSIPExtensionMETS"
             schemaLocation="{(XSD_DIR / "DILCISExtensionMETS.xsd").as_uri()}"/>
  <xs:import namespace="https://DILCIS.eu/XML/METS/SIPExtensionMETS"
             schemaLocation="{(XSD_DIR / "DILCISExtensionSIPMETS.xsd").as_uri()}"/>
</xs:schema>"""
    doc = etree.fromstring(driver.encode(), _schema_parser(), base_url=str(XSD_DIR / "driver.xsd"))
    return etree.XMLSchema(doc)


PREMIS_RECORDS = tuple(f"{{{NS_PREMIS}}}{tag}" for tag in ("object", "event", "agent", "rightsStatement"))


@cache
def premis_schema() -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(XSD_DIR / "premis.xsd"), _schema_parser()))


@cache
def ead_schema(name: str) -> etree.XMLSchema:
    """One of our strict TT05 record schemas: EAD.xsd, EAD_doc.xsd, EAD_pic.xsd, EAD_media.xsd."""
    return etree.XMLSchema(etree.parse(str(EAD_XSD_DIR / name), _schema_parser()))


def iter_validated(
    path: Path,
    schema: etree.XMLSchema | None,
    where: str,
    problems: list[Problem],
    tags: tuple[str, ...] | None = None,
) -> Iterator[etree._Element]:
    """Stream-parse ``path`` under ``schema``; yield each completed element, then free it.

    Memory stays bounded by the largest single element, so a METS listing 100,000 files is
    checked without building its tree. Parse and schema errors become problems of ``where``.
    """
    try:
        context = etree.iterparse(
            str(path),
            events=("end",),
            tag=tags,
            schema=schema,
            resolve_entities=False,
            no_network=True,
            load_dtd=False,
            huge_tree=False,
        )
        for _event, elem in context:
            yield elem
            # Free what has been seen: this element's content and the siblings before it.
            parent = elem.getparent()
            if parent is not None:
                elem.clear(keep_tail=False)
                while elem.getprevious() is not None:
                    del parent[0]
        root = context.root
        if root is not None and root.getroottree().docinfo.doctype:
            problems.append(Problem(where, "DOCTYPE declarations are refused", rule="xxe"))
    except etree.XMLSyntaxError as exc:
        rule = "xsd" if schema is not None and "validity" in str(exc).lower() else "xml-syntax"
        problems.append(Problem(where, f"XML: {exc}", rule=rule))
    except OSError as exc:
        problems.append(Problem(where, f"cannot read: {exc}", rule="unreadable"))


def validate_file(path: Path, schema: etree.XMLSchema, where: str) -> list[Problem]:
    """Whole-document schema validation with every error reported (small documents: EAD)."""
    problems: list[Problem] = []
    try:
        doc = etree.parse(str(path), safe_parser())
    except (etree.XMLSyntaxError, OSError) as exc:
        return [Problem(where, f"XML: {exc}", rule="xml-syntax")]
    if not schema.validate(doc):
        for err in schema.error_log:  # type: ignore[attr-defined]
            problems.append(Problem(where, f"line {err.line}: {err.message}", rule="xsd"))
    if _has_doctype(doc):
        problems.append(Problem(where, "DOCTYPE declarations are refused", rule="xxe"))
    return problems


def _has_doctype(doc: etree._ElementTree) -> bool:
    return bool(doc.docinfo.doctype)  # type: ignore[attr-defined]


def stream_validate(
    path: Path, schema: etree.XMLSchema, where: str, record_tags: tuple[str, ...] | None = None
) -> list[Problem]:
    """Schema-validate a possibly large document with bounded memory; all errors reported.

    ``record_tags`` names the repeated top-level records (PREMIS objects, events…): only those
    are handed back to Python and freed, which keeps the per-element cost in C.
    """
    problems: list[Problem] = []
    for _ in iter_validated(path, schema, where, problems, tags=record_tags):
        pass
    # iterparse stops at the first validity error; to list all of them, re-run non-streaming,
    # but only when the document is small enough to hold.
    if problems and problems[-1].rule == "xsd" and path.stat().st_size <= 32 * 2**20:
        return validate_file(path, schema, where)
    return problems
