"""METS 1.12 documents of a TT05 / E-ARK CSIP package, written as a stream.

Two documents per package: the package ``METS.xml`` (metadata, documentation, schemas and a
pointer to the representation) and ``representations/rep1/METS.xml`` (the documents' EAD
records and the data files). Sections are written one element at a time with
``lxml.etree.xmlfile``; the structMap is produced by loops, never by recursion.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from _typeshed import SupportsWrite

from lxml import etree

from .profile import METS_NSMAP, NS_CSIP, NS_METS, NS_SIP, NS_XLINK, SOFTWARE_NAME, Profile, new_id
from .xmlstream import XmlStream, attr, start_tag

_M = f"{{{NS_METS}}}"
_XL = f"{{{NS_XLINK}}}"
_CSIP = f"{{{NS_CSIP}}}"
_SIP = f"{{{NS_SIP}}}"


def _schema_location(base: str) -> str:
    """xsi:schemaLocation pointing at the package's schemas/ folder, seen from the METS's folder."""
    return (
        f"{NS_METS} {base}mets.xsd {NS_XLINK} {base}xlink.xsd "
        f"{NS_CSIP} {base}DILCISExtensionMETS.xsd {NS_SIP} {base}DILCISExtensionSIPMETS.xsd"
    )


@dataclass(frozen=True)
class MetsAgent:
    role: str  # CREATOR, ARCHIVIST, PRESERVATION…
    type: str  # ORGANIZATION, INDIVIDUAL, OTHER
    name: str
    other_type: str | None = None  # "SOFTWARE" for the creating software
    note: str | None = None
    note_type: str | None = None  # csip:NOTETYPE: "SOFTWARE VERSION" or "IDENTIFICATIONCODE"


def package_agents(
    *, software_version: str, fonds_name: str, fonds_code: str, organization: str, archive_code: str
) -> list[MetsAgent]:
    """The METS agents of every package we write: this software (CREATOR), the fonds
    (ARCHIVIST) and the archive keeping it (PRESERVATION), each with its identification code."""
    return [
        MetsAgent(
            "CREATOR",
            "OTHER",
            SOFTWARE_NAME,
            other_type="SOFTWARE",
            note=software_version,
            note_type="SOFTWARE VERSION",
        ),
        MetsAgent(
            "ARCHIVIST",
            "ORGANIZATION",
            fonds_name or fonds_code,
            note=fonds_code or None,
            note_type="IDENTIFICATIONCODE",
        ),
        MetsAgent(
            "PRESERVATION",
            "ORGANIZATION",
            organization or archive_code,
            note=archive_code or None,
            note_type="IDENTIFICATIONCODE",
        ),
    ]


@dataclass(frozen=True)
class MetsFile:
    """A ``file`` (fileSec) or the target of an ``mdRef``: the same facts either way."""

    id: str
    href: str  # relative to the METS document's folder
    mimetype: str
    size: int
    created: str
    checksum: str
    checksum_type: str = "SHA-256"
    format_name: str | None = None
    format_version: str | None = None
    puid: str | None = None


@dataclass(frozen=True)
class MdRef:
    file: MetsFile
    mdtype: str  # DC, PREMIS, OTHER…
    section_id: str  # ID of the dmdSec / digiprovMD holding it
    mdtype_version: str | None = None
    other_mdtype: str | None = None
    label: str | None = None


@dataclass(frozen=True)
class DocumentLink:
    """Links a document's descriptive record (dmdSec) to its content files (structMap)."""

    label: str
    dmd_id: str
    file_ids: Sequence[str]


def _attrs(**values: Any) -> dict[str, str]:
    return {k: str(v) for k, v in values.items() if v is not None}


def _header(
    xf: Any, created: str, package_type: str, agents: Sequence[MetsAgent], alt_ids: Sequence[tuple[str, str]]
) -> None:
    hdr = etree.Element(_M + "metsHdr", _attrs(CREATEDATE=created, RECORDSTATUS="NEW"), nsmap=METS_NSMAP)
    hdr.set(_CSIP + "OAISPACKAGETYPE", package_type)
    for agent in agents:
        elem = etree.SubElement(
            hdr, _M + "agent", _attrs(ROLE=agent.role, TYPE=agent.type, OTHERTYPE=agent.other_type)
        )
        etree.SubElement(elem, _M + "name").text = agent.name
        if agent.note is not None:
            note = etree.SubElement(elem, _M + "note")
            note.text = agent.note
            if agent.note_type:
                note.set(_CSIP + "NOTETYPE", agent.note_type)
    for alt_type, value in alt_ids:
        etree.SubElement(hdr, _M + "altRecordID", TYPE=alt_type).text = value
    xf.write(hdr, pretty_print=True)


def _mdref(parent: etree._Element, ref: MdRef) -> None:
    f = ref.file
    elem = etree.SubElement(
        parent,
        _M + "mdRef",
        _attrs(
            LOCTYPE="URL",
            MDTYPE=ref.mdtype,
            OTHERMDTYPE=ref.other_mdtype,
            MDTYPEVERSION=ref.mdtype_version,
            MIMETYPE=f.mimetype,
            SIZE=f.size,
            CREATED=f.created,
            CHECKSUM=f.checksum,
            CHECKSUMTYPE=f.checksum_type,
            LABEL=ref.label,
        ),
    )
    elem.set(_XL + "type", "simple")
    elem.set(_XL + "href", f.href)


def _dmd_sec(xf: Any, ref: MdRef) -> None:
    sec = etree.Element(
        _M + "dmdSec", _attrs(ID=ref.section_id, CREATED=ref.file.created, STATUS="CURRENT"), nsmap=METS_NSMAP
    )
    _mdref(sec, ref)
    xf.write(sec, pretty_print=True)


def _amd_sec(xf: Any, digiprov: Sequence[MdRef]) -> str | None:
    if not digiprov:
        return None
    amd_id = new_id()
    sec = etree.Element(_M + "amdSec", ID=amd_id, nsmap=METS_NSMAP)
    for ref in digiprov:
        holder = etree.SubElement(
            sec, _M + "digiprovMD", ID=ref.section_id, CREATED=ref.file.created, STATUS="CURRENT"
        )
        _mdref(holder, ref)
    xf.write(sec, pretty_print=True)
    return amd_id


def _file_markup(f: MetsFile) -> str:
    """A ``file`` with its ``FLocat``, from a template: written once per content file."""
    attrs: dict[str, str | None] = {
        "ID": f.id,
        "MIMETYPE": f.mimetype,
        "SIZE": str(f.size),
        "CREATED": f.created,
        "CHECKSUM": f.checksum,
        "CHECKSUMTYPE": f.checksum_type,
    }
    if f.puid:
        attrs |= {
            "sip:FILEFORMATNAME": f.format_name or "",
            "sip:FILEFORMATVERSION": f.format_version or None,
            "sip:FORMATREGISTRY": "PRONOM",
            "sip:FORMATREGISTRYKEY": f.puid,
        }
    location = start_tag(
        "FLocat", {"LOCTYPE": "URL", "xlink:type": "simple", "xlink:href": f.href}, empty=True
    )
    return f"{start_tag('file', attrs)}{location}</file>\n"


def _file_group(
    xf: _MetsStream, use: str, group_id: str, files: Iterable[MetsFile], content_type: str | None = None
) -> None:
    attrs = {"ID": group_id, "USE": use, "csip:CONTENTINFORMATIONTYPE": content_type}
    xf.raw(start_tag("fileGrp", attrs) + "\n")
    for f in files:
        xf.raw(_file_markup(f))
    xf.raw("</fileGrp>\n")


def _div_with_group(parent: etree._Element, label: str, group_id: str) -> etree._Element:
    div = etree.SubElement(parent, _M + "div", ID=new_id(), LABEL=label)
    etree.SubElement(div, _M + "fptr", FILEID=group_id)
    return div


class _MetsStream:
    """The METS document as a stream: lxml elements for the irregular parts, templates for the rest."""

    def __init__(self, sink: SupportsWrite[bytes]) -> None:
        self._out = XmlStream(sink)

    def write(self, elem: etree._Element, pretty_print: bool = True) -> None:
        self._out.element(elem)

    def raw(self, markup: str) -> None:
        self._out.raw(markup)

    @contextmanager
    def element(
        self, name: str, attrs: Mapping[str, str | None] | None = None, **more: str
    ) -> Iterator[None]:
        """An open/close pair around what the block writes; ``name`` is a prefixed name."""
        self._out.raw(start_tag(name, {**(attrs or {}), **more}) + "\n")
        yield
        self._out.raw(f"</{name}>\n")


def _root(
    xf: _MetsStream, objid: str, label: str, profile_url: str, profile: Profile, schemas: str = "schemas/"
) -> Any:
    attrs = {f"xmlns:{prefix}" if prefix else "xmlns": uri for prefix, uri in METS_NSMAP.items()}
    attrs |= {
        "OBJID": objid,
        "LABEL": label,
        "TYPE": profile.content_category,
        "PROFILE": profile_url,
        "csip:CONTENTINFORMATIONTYPE": profile.content_information_type,
        "xsi:schemaLocation": _schema_location(schemas),
    }
    return xf.element("mets", attrs)


def write_package_mets(
    path: SupportsWrite[bytes],
    *,
    profile: Profile,
    objid: str,
    label: str,
    created: str,
    agents: Sequence[MetsAgent],
    alt_ids: Sequence[tuple[str, str]],
    descriptive: Sequence[MdRef],
    preservation: Sequence[MdRef],
    documentation: Sequence[MetsFile],
    schemas: Sequence[MetsFile],
    representation_mets: MetsFile,
    representation: str,
) -> None:
    """The package-level METS.xml (CSIP 2.0.4 recipe for 0 errors in eark-validator, see docs)."""
    doc_grp, schema_grp, rep_grp = new_id(), new_id(), new_id()
    xf = _MetsStream(path)
    with _root(xf, objid, label, profile.root_profile, profile):
        _header(xf, created, profile.package_type, agents, alt_ids)
        for ref in descriptive:
            _dmd_sec(xf, ref)
        amd_id = _amd_sec(xf, preservation)
        with xf.element("fileSec", ID=new_id()):
            _file_group(xf, "Documentation", doc_grp, documentation)
            _file_group(xf, "Schemas", schema_grp, schemas)
            _file_group(
                xf, "Representations", rep_grp, [representation_mets], profile.content_information_type
            )
        smap = etree.Element(_M + "structMap", ID=new_id(), TYPE="PHYSICAL", LABEL="CSIP", nsmap=METS_NSMAP)
        top = etree.SubElement(smap, _M + "div", ID=new_id(), LABEL=objid)
        etree.SubElement(
            top,
            _M + "div",
            _attrs(
                ID=new_id(),
                LABEL="Metadata",
                DMDID=" ".join(r.section_id for r in descriptive) or None,
                ADMID=amd_id,
            ),
        )
        _div_with_group(top, "Documentation", doc_grp)
        _div_with_group(top, "Schemas", schema_grp)
        _div_with_group(top, "Representations", rep_grp)
        rep_div = etree.SubElement(top, _M + "div", ID=new_id(), LABEL=f"Representations/{representation}")
        mptr = etree.SubElement(rep_div, _M + "mptr", LOCTYPE="URL")
        mptr.set(_XL + "type", "simple")
        mptr.set(_XL + "href", representation_mets.href)
        mptr.set(_XL + "title", rep_grp)
        xf.write(smap, pretty_print=True)


def write_representation_mets(
    path: SupportsWrite[bytes],
    *,
    profile: Profile,
    representation: str,
    created: str,
    agents: Sequence[MetsAgent],
    descriptive: Sequence[MdRef],
    preservation: Sequence[MdRef],
    data_files: Callable[[], Iterable[MetsFile]],
    links: Sequence[DocumentLink],
) -> None:
    """``representations/rep1/METS.xml``: the documents' records, the data files and their links.

    ``data_files`` is called twice (fileSec, then structMap) and streams the files each time, so
    the file list never has to be held in memory.
    """
    data_grp = new_id()
    xf = _MetsStream(path)
    with _root(xf, representation, representation, profile.representation_profile, profile, "../../schemas/"):
        _header(xf, created, profile.package_type, agents, ())
        for ref in descriptive:
            _dmd_sec(xf, ref)
        amd_id = _amd_sec(xf, preservation)
        with xf.element("fileSec", ID=new_id()):
            _file_group(xf, "Data", data_grp, data_files(), profile.content_information_type)
        with (
            xf.element("structMap", ID=new_id(), TYPE="PHYSICAL", LABEL="CSIP"),
            xf.element("div", ID=new_id(), LABEL=representation),
        ):
            dmd_ids = " ".join(r.section_id for r in descriptive) or None
            xf.raw(
                start_tag(
                    "div",
                    {"ID": new_id(), "LABEL": "Metadata", "DMDID": dmd_ids, "ADMID": amd_id},
                    empty=True,
                )
                + "\n"
            )
            with xf.element("div", ID=new_id(), LABEL="Data"):
                for f in data_files():
                    xf.raw(f'<fptr FILEID="{attr(f.id)}"/>\n')
            with xf.element("div", ID=new_id(), LABEL="MetadataLink/File"):
                for link in links:
                    pointers = "".join(f'<fptr FILEID="{attr(file_id)}"/>' for file_id in link.file_ids)
                    div = start_tag("div", {"ID": new_id(), "LABEL": link.label, "DMDID": link.dmd_id})
                    xf.raw(f"{div}{pointers}</div>\n")
