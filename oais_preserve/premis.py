"""PREMIS 3 written as a stream: one small element at a time, never the whole document in memory.

PREMIS orders its children object* → event* → agent* → rightsStatement*; :class:`PremisWriter`
accepts them in that order and refuses anything else, so the output stays schema-valid.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from _typeshed import SupportsWrite

from lxml import etree

from .profile import NS_PREMIS, NS_XSI, PREMIS_NSMAP
from .xmlstream import XmlStream, start_tag, text

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


def tool_agent(name: str, version: str, note: str) -> Agent:
    """A software agent identified by its name and version (``local`` identifier ``name-version``)."""
    return Agent(Identifier("local", f"{name}-{version}"), name, "software", version, note=note)


def organization_agent(archive_code: str, organization: str) -> Agent:
    """The archive as an agent, identified by its mã cơ quan lưu trữ (or its name without one)."""
    return Agent(
        Identifier("local", archive_code or organization or "archive"),
        organization or archive_code,
        "organization",
        note=f"Mã cơ quan lưu trữ: {archive_code}",
    )


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
class Environment:
    """What an environment entity does and is (PREMIS 3 environmentFunction / Designation)."""

    function_type: str  # e.g. "software"
    function_level: str  # "1" = the environment needed directly
    name: str
    version: str | None = None
    note: str | None = None


@dataclass(frozen=True)
class EntityObject:
    """An intellectual entity or a representation (``kind``) with its relationships."""

    kind: str  # "intellectualEntity" | "representation"
    identifier: Identifier
    original_name: str | None = None
    storage_path: str | None = None
    relationships: Sequence[Relationship] = field(default_factory=tuple)
    significant_properties: Sequence[tuple[str, str]] = ()  # (type, value)
    environment: Environment | None = None  # only for an intellectualEntity that is an environment


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


def entity_object_element(obj: EntityObject) -> etree._Element:
    elem = etree.Element(_P + "object", nsmap=PREMIS_NSMAP)
    elem.set(_XSI_TYPE, obj.kind)
    _identifier(elem, "object", obj.identifier)
    for prop_type, prop_value in obj.significant_properties:
        prop = _sub(elem, "significantProperties")
        _sub(prop, "significantPropertiesType", prop_type)
        _sub(prop, "significantPropertiesValue", prop_value)
    if obj.original_name:
        _sub(elem, "originalName", obj.original_name)
    if obj.environment is not None and obj.kind == "intellectualEntity":
        env = obj.environment
        function = _sub(elem, "environmentFunction")
        _sub(function, "environmentFunctionType", env.function_type)
        _sub(function, "environmentFunctionLevel", env.function_level)
        designation = _sub(elem, "environmentDesignation")
        _sub(designation, "environmentName", env.name)
        if env.version:
            _sub(designation, "environmentVersion", env.version)
        if env.note:
            _sub(designation, "environmentDesignationNote", env.note)
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


def file_object_markup(obj: FileObject) -> str:
    """A file object as text: the element repeated once per content file, written from a template."""
    parts = [
        '<object xsi:type="file"><objectIdentifier>',
        f"<objectIdentifierType>{text(obj.identifier.type)}</objectIdentifierType>",
        f"<objectIdentifierValue>{text(obj.identifier.value)}</objectIdentifierValue></objectIdentifier>",
        "<objectCharacteristics><compositionLevel>0</compositionLevel>",
    ]
    originator = (
        f"<messageDigestOriginator>{text(obj.digest_originator)}</messageDigestOriginator>"
        if obj.digest_originator
        else ""
    )
    for algorithm, digest in obj.digests:
        parts.append(
            f"<fixity><messageDigestAlgorithm>{algorithm}</messageDigestAlgorithm>"
            f"<messageDigest>{digest}</messageDigest>{originator}</fixity>"  # hex: nothing to escape
        )
    parts.append(f"<size>{obj.size}</size>{_format_markup(obj.file_format)}</objectCharacteristics>")
    parts.append(f"<originalName>{text(obj.original_name)}</originalName>")
    parts.append(
        "<storage><contentLocation><contentLocationType>relative path</contentLocationType>"
        f"<contentLocationValue>{text(obj.storage_path)}</contentLocationValue></contentLocation></storage>"
    )
    for rel in obj.relationships:
        parts.append(
            f"<relationship><relationshipType>{text(rel.type)}</relationshipType>"
            f"<relationshipSubType>{text(rel.sub_type)}</relationshipSubType>"
        )
        for ident in rel.related:
            parts.append(
                f"<relatedObjectIdentifier><relatedObjectIdentifierType>{text(ident.type)}"
                f"</relatedObjectIdentifierType><relatedObjectIdentifierValue>{text(ident.value)}"
                "</relatedObjectIdentifierValue></relatedObjectIdentifier>"
            )
        parts.append("</relationship>")
    parts.append("</object>\n")
    return "".join(parts)


def _format_markup(fmt: FileFormat) -> str:
    out = f"<format><formatDesignation><formatName>{text(fmt.name)}</formatName>"
    if fmt.version:
        out += f"<formatVersion>{text(fmt.version)}</formatVersion>"
    out += "</formatDesignation>"
    if fmt.puid:
        out += (
            "<formatRegistry><formatRegistryName>PRONOM</formatRegistryName>"
            f"<formatRegistryKey>{text(fmt.puid)}</formatRegistryKey>"
            "<formatRegistryRole>identification</formatRegistryRole></formatRegistry>"
        )
    if fmt.note:
        out += f"<formatNote>{text(fmt.note)}</formatNote>"
    return out + "</format>"


class PremisWriter:
    """Writes one PREMIS document as a stream, in the order PREMIS requires."""

    def __init__(self, target: SupportsWrite[bytes]) -> None:
        self.target = target
        self._stage = 0

    def __enter__(self) -> PremisWriter:
        self._out = XmlStream(self.target)
        self._out.raw(start_tag("premis", {"xmlns": NS_PREMIS, "xmlns:xsi": NS_XSI, "version": "3.0"}) + "\n")
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is None:
            self._out.raw("</premis>\n")

    def _order(self, section: str) -> None:
        order = _ORDER[section]
        if order < self._stage:
            raise ValueError(f"PREMIS {section} written after a later section")
        self._stage = order

    def add_file(self, obj: FileObject) -> None:
        self._order("object")
        self._out.raw(file_object_markup(obj))

    def add_entity(self, obj: EntityObject) -> None:
        self._order("object")
        self._out.element(entity_object_element(obj))

    def add_event(self, event: Event) -> None:
        self._order("event")
        self._out.element(event_element(event))

    def add_agents(self, agents: Iterable[Agent]) -> None:
        for agent in agents:
            self._order("agent")
            self._out.element(agent_element(agent))
