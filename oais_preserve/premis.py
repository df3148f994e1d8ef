"""PREMIS 3 written as a stream: one small element at a time, never the whole document in memory.

PREMIS orders its children object* → event* → agent* → rightsStatement*; :class:`PremisWriter`
accepts them in that order and refuses anything else, so the output stays schema-valid.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from _typeshed import SupportsWrite

from lxml import etree

from .profile import NS_PREMIS, NS_XSI, PREMIS_NSMAP

_P = f"{{{NS_PREMIS}}}"
_XSI_TYPE = f"{{{NS_XSI}}}type"
_ORDER = {"object": 0, "event": 1, "agent": 2, "rightsStatement": 3}


@dataclass(frozen=True)
class Identifier:
    """A PREMIS identifier: type (``local``, ``UUID``, ``URN``…) and value."""

    type: str
    value: str


@dataclass(frozen=True)
class Agent:
    identifier: Identifier
    name: str
    type: str  # "software", "organization", "person"
    version: str | None = None
    note: str | None = None


@dataclass(frozen=True)
class Event:
    identifier: Identifier
    type: str  # PREMIS eventType vocabulary, e.g. "message digest calculation"
    date_time: str
    detail: str
    outcome: str  # "success" | "failure" | "warning"
    outcome_note: str = ""
    agents: Sequence[tuple[Identifier, str]] = ()  # (agent, role) e.g. (fido, "executing program")
    objects: Sequence[Identifier] = ()


@dataclass(frozen=True)
class FileFormat:
    name: str
    version: str | None = None
    puid: str | None = None
    note: str | None = None


@dataclass(frozen=True)
class Relationship:
    type: str  # "structural", "derivation"
    sub_type: str  # "is included in", "includes", "has source"…
    related: Sequence[Identifier]


@dataclass(frozen=True)
class FileObject:
    identifier: Identifier
    size: int
    digests: Sequence[tuple[str, str]]  # (PREMIS algorithm name e.g. "SHA-256", hex)
    file_format: FileFormat
    original_name: str
    storage_path: str
    digest_originator: str | None = None
    relationships: Sequence[Relationship] = ()


@dataclass(frozen=True)
class EntityObject:
    """An intellectual entity or a representation (``kind``) with its relationships."""

    kind: str  # "intellectualEntity" | "representation"
    identifier: Identifier
    original_name: str | None = None
    storage_path: str | None = None
    relationships: Sequence[Relationship] = field(default_factory=tuple)


def _sub(parent: etree._Element, tag: str, text: str | None = None) -> etree._Element:
    child = etree.SubElement(parent, _P + tag)
    if text is not None:
        child.text = text
    return child


def _identifier(parent: etree._Element, prefix: str, ident: Identifier) -> None:
    holder = _sub(parent, prefix + "Identifier")
    _sub(holder, prefix + "IdentifierType", ident.type)
    _sub(holder, prefix + "IdentifierValue", ident.value)


def _relationship(parent: etree._Element, rel: Relationship) -> None:
    holder = _sub(parent, "relationship")
    _sub(holder, "relationshipType", rel.type)
    _sub(holder, "relationshipSubType", rel.sub_type)
    for ident in rel.related:
        _identifier(holder, "relatedObject", ident)


def _storage(parent: etree._Element, path: str) -> None:
    location = _sub(_sub(parent, "storage"), "contentLocation")
    _sub(location, "contentLocationType", "relative path")
    _sub(location, "contentLocationValue", path)


def file_object_element(obj: FileObject) -> etree._Element:
    elem = etree.Element(_P + "object", nsmap=PREMIS_NSMAP)
    elem.set(_XSI_TYPE, "file")
    _identifier(elem, "object", obj.identifier)
    chars = _sub(elem, "objectCharacteristics")
    _sub(chars, "compositionLevel", "0")
    for algorithm, digest in obj.digests:
        fixity = _sub(chars, "fixity")
        _sub(fixity, "messageDigestAlgorithm", algorithm)
        _sub(fixity, "messageDigest", digest)
        if obj.digest_originator:
            _sub(fixity, "messageDigestOriginator", obj.digest_originator)
    _sub(chars, "size", str(obj.size))
    fmt = _sub(chars, "format")
    designation = _sub(fmt, "formatDesignation")
    _sub(designation, "formatName", obj.file_format.name)
    if obj.file_format.version:
        _sub(designation, "formatVersion", obj.file_format.version)
    if obj.file_format.puid:
        registry = _sub(fmt, "formatRegistry")
        _sub(registry, "formatRegistryName", "PRONOM")
        _sub(registry, "formatRegistryKey", obj.file_format.puid)
        _sub(registry, "formatRegistryRole", "identification")
    if obj.file_format.note:
        _sub(fmt, "formatNote", obj.file_format.note)
    _sub(elem, "originalName", obj.original_name)
    _storage(elem, obj.storage_path)
    for rel in obj.relationships:
        _relationship(elem, rel)
    return elem


def entity_object_element(obj: EntityObject) -> etree._Element:
    elem = etree.Element(_P + "object", nsmap=PREMIS_NSMAP)
    elem.set(_XSI_TYPE, obj.kind)
    _identifier(elem, "object", obj.identifier)
    if obj.original_name:
        _sub(elem, "originalName", obj.original_name)
    if obj.storage_path and obj.kind == "representation":
        _storage(elem, obj.storage_path)
    for rel in obj.relationships:
        _relationship(elem, rel)
    return elem


def event_element(event: Event) -> etree._Element:
    elem = etree.Element(_P + "event", nsmap=PREMIS_NSMAP)
    _identifier(elem, "event", event.identifier)
    _sub(elem, "eventType", event.type)
    _sub(elem, "eventDateTime", event.date_time)
    _sub(_sub(elem, "eventDetailInformation"), "eventDetail", event.detail)
    outcome = _sub(elem, "eventOutcomeInformation")
    _sub(outcome, "eventOutcome", event.outcome)
    if event.outcome_note:
        _sub(_sub(outcome, "eventOutcomeDetail"), "eventOutcomeDetailNote", event.outcome_note)
    for agent, role in event.agents:
        link = _sub(elem, "linkingAgentIdentifier")
        _sub(link, "linkingAgentIdentifierType", agent.type)
        _sub(link, "linkingAgentIdentifierValue", agent.value)
        _sub(link, "linkingAgentRole", role)
    for obj in event.objects:
        link = _sub(elem, "linkingObjectIdentifier")
        _sub(link, "linkingObjectIdentifierType", obj.type)
        _sub(link, "linkingObjectIdentifierValue", obj.value)
    return elem


def agent_element(agent: Agent) -> etree._Element:
    elem = etree.Element(_P + "agent", nsmap=PREMIS_NSMAP)
    _identifier(elem, "agent", agent.identifier)
    _sub(elem, "agentName", agent.name)
    _sub(elem, "agentType", agent.type)
    if agent.version:
        _sub(elem, "agentVersion", agent.version)
    if agent.note:
        _sub(elem, "agentNote", agent.note)
    return elem


class PremisWriter:
    """Writes one PREMIS document incrementally (``lxml.etree.xmlfile``)."""

    def __init__(self, target: Path | SupportsWrite[bytes]) -> None:
        self.target = target
        self._stage = 0
        self._stack: list[Any] = []

    def __enter__(self) -> PremisWriter:
        sink = str(self.target) if isinstance(self.target, Path) else self.target
        self._file = etree.xmlfile(sink, encoding="UTF-8")
        xf = self._file.__enter__()
        xf.write_declaration()
        root = xf.element(_P + "premis", {"version": "3.0"}, nsmap=PREMIS_NSMAP)
        root.__enter__()
        self._xf, self._root = xf, root
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._root.__exit__(exc_type, exc, tb)
        self._file.__exit__(exc_type, exc, tb)

    def _write(self, section: str, elem: etree._Element) -> None:
        order = _ORDER[section]
        if order < self._stage:
            raise ValueError(f"PREMIS {section} written after a later section")
        self._stage = order
        self._xf.write(elem, pretty_print=True)

    def add_file(self, obj: FileObject) -> None:
        self._write("object", file_object_element(obj))

    def add_entity(self, obj: EntityObject) -> None:
        self._write("object", entity_object_element(obj))

    def add_event(self, event: Event) -> None:
        self._write("event", event_element(event))

    def add_agents(self, agents: Iterable[Agent]) -> None:
        for agent in agents:
            self._write("agent", agent_element(agent))
