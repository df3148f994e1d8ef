"""Reading a METS document into a small model, streaming and schema-validated at once.

Only what the rules need is kept: header facts, metadata references, files (one small tuple
each) and structMap divs. A METS listing 100,000 files is read with bounded memory.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from lxml import etree

from .errors import Problem
from .profile import NS_CSIP, NS_METS, NS_SIP, NS_XLINK
from .xmlcheck import iter_validated, mets_schema

_M = f"{{{NS_METS}}}"
_XL = f"{{{NS_XLINK}}}"
_CSIP = f"{{{NS_CSIP}}}"
_SIP = f"{{{NS_SIP}}}"
_TAGS = tuple(
    _M + t
    for t in (
        "metsHdr",
        "dmdSec",
        "digiprovMD",
        "techMD",
        "rightsMD",
        "sourceMD",
        "amdSec",
        "file",
        "fileGrp",
        "fileSec",
        "fptr",
        "mptr",
        "div",
        "structMap",
        "mets",
    )
)


@dataclass
class Ref:
    """A file reference (``file/FLocat`` or ``mdRef``) and its declared facts."""

    kind: str  # "file" or the mdRef's section tag (dmdSec, digiprovMD…)
    id: str | None
    href: str | None
    size: str | None
    checksum: str | None
    checksum_type: str | None
    mimetype: str | None
    created: str | None
    group_use: str | None = None
    group_id: str | None = None
    mdtype: str | None = None
    loctype: str | None = None
    xlink_type: str | None = None
    flocat_count: int = 1
    puid: str | None = None


@dataclass
class Div:
    id: str | None
    label: str | None
    depth: int
    parent_label: str | None
    dmdid: str | None
    admid: str | None
    fptr_ids: list[str] = field(default_factory=list)
    mptrs: list[dict[str, str]] = field(default_factory=list)


@dataclass
class MetsModel:
    path: Path
    attrs: dict[str, str] = field(default_factory=dict)
    header: dict[str, str] = field(default_factory=dict)
    header_count: int = 0
    agents: list[dict[str, str]] = field(default_factory=list)
    alt_ids: list[tuple[str, str]] = field(default_factory=list)
    dmd_secs: list[dict[str, str]] = field(default_factory=list)
    amd_ids: list[str] = field(default_factory=list)
    refs: list[Ref] = field(default_factory=list)
    file_groups: list[dict[str, str]] = field(default_factory=list)
    file_sec_ids: list[str] = field(default_factory=list)
    struct_maps: list[dict[str, str]] = field(default_factory=list)
    divs: list[Div] = field(default_factory=list)
    fptr_total: int = 0
    group_sizes: dict[str, int] = field(default_factory=dict)  # fileGrp ID -> number of files
    on_ref: Callable[[Ref], None] | None = None  # when set, refs are handed over, not kept
    representation_divs: list[Div] = field(default_factory=list)  # set by the rule checks

    def add_ref(self, ref: Ref) -> None:
        if ref.kind == "file" and ref.group_id is not None:
            self.group_sizes[ref.group_id] = self.group_sizes.get(ref.group_id, 0) + 1
        if self.on_ref is not None:
            self.on_ref(ref)
        else:
            self.refs.append(ref)


def _attrs(elem: etree._Element) -> dict[str, str]:
    return {str(k): str(v) for k, v in elem.attrib.items()}


def _depth_and_parent_label(elem: etree._Element) -> tuple[int, str | None]:
    depth = 0
    parent_label = None
    node = elem.getparent()
    while node is not None and node.tag == _M + "div":
        if depth == 0:
            parent_label = node.get("LABEL")
        depth += 1
        node = node.getparent()
    return depth, parent_label


def _header(model: MetsModel, elem: etree._Element) -> None:
    model.header_count += 1
    model.header = _attrs(elem)
    for agent in elem.iterfind(_M + "agent"):
        info = _attrs(agent)
        info["name"] = agent.findtext(_M + "name") or ""
        notes = agent.findall(_M + "note")
        info["notes"] = str(len(notes))
        for note in notes:
            info["note:" + (note.get(_CSIP + "NOTETYPE") or "")] = note.text or ""
        model.agents.append(info)
    for alt in elem.iterfind(_M + "altRecordID"):
        model.alt_ids.append((alt.get("TYPE") or "", alt.text or ""))


def _mdref(model: MetsModel, section: etree._Element) -> None:
    for ref in section.iterfind(_M + "mdRef"):
        model.add_ref(
            Ref(
                kind=etree.QName(section).localname,
                id=section.get("ID"),
                href=ref.get(_XL + "href"),
                size=ref.get("SIZE"),
                checksum=ref.get("CHECKSUM"),
                checksum_type=ref.get("CHECKSUMTYPE"),
                mimetype=ref.get("MIMETYPE"),
                created=ref.get("CREATED") or section.get("CREATED"),
                mdtype=ref.get("MDTYPE"),
                loctype=ref.get("LOCTYPE"),
                xlink_type=ref.get(_XL + "type"),
            )
        )


def _file(model: MetsModel, elem: etree._Element) -> None:
    group = elem.getparent()
    locs = elem.findall(_M + "FLocat")
    loc = locs[0] if locs else None
    model.add_ref(
        Ref(
            kind="file",
            id=elem.get("ID"),
            href=loc.get(_XL + "href") if loc is not None else None,
            size=elem.get("SIZE"),
            checksum=elem.get("CHECKSUM"),
            checksum_type=elem.get("CHECKSUMTYPE"),
            mimetype=elem.get("MIMETYPE"),
            created=elem.get("CREATED"),
            group_use=group.get("USE") if group is not None else None,
            group_id=group.get("ID") if group is not None else None,
            loctype=loc.get("LOCTYPE") if loc is not None else None,
            xlink_type=loc.get(_XL + "type") if loc is not None else None,
            flocat_count=len(locs),
            puid=elem.get(_SIP + "FORMATREGISTRYKEY"),
        )
    )


def _key(elem: etree._Element) -> str:
    # lxml proxies are not stable objects, so open divs are keyed by their ID (or line).
    return elem.get("ID") or f"line:{elem.sourceline}"


def _div(model: MetsModel, elem: etree._Element, pending: dict[str, Div]) -> None:
    div = pending.pop(_key(elem), None)
    if div is None:
        depth, parent_label = _depth_and_parent_label(elem)
        div = Div(
            elem.get("ID"), elem.get("LABEL"), depth, parent_label, elem.get("DMDID"), elem.get("ADMID")
        )
    model.divs.append(div)


def read_mets(
    path: Path, where: str, problems: list[Problem], on_ref: Callable[[Ref], None] | None = None
) -> MetsModel:
    """Parse and validate ``path`` against METS 1.12 + DILCIS extensions, collecting the model.

    With ``on_ref``, each file and metadata reference is handed to it as it is read and not kept,
    so a METS of 100,000 files is checked in bounded memory.
    """
    model = MetsModel(path, on_ref=on_ref)
    open_divs: dict[str, Div] = {}
    for elem in iter_validated(path, mets_schema(), where, problems, tags=_TAGS):
        tag = etree.QName(elem).localname
        if tag == "mets":
            model.attrs = _attrs(elem)
        elif tag == "metsHdr":
            _header(model, elem)
        elif tag in ("dmdSec", "digiprovMD", "techMD", "rightsMD", "sourceMD"):
            if tag == "dmdSec":
                model.dmd_secs.append(_attrs(elem))
            _mdref(model, elem)
        elif tag == "amdSec":
            model.amd_ids.append(elem.get("ID") or "")
        elif tag == "file":
            _file(model, elem)
        elif tag == "fileGrp":
            model.file_groups.append(_attrs(elem))
        elif tag == "fileSec":
            model.file_sec_ids.append(elem.get("ID") or "")
        elif tag in ("fptr", "mptr"):
            _pointer(model, elem, open_divs)
        elif tag == "div":
            _div(model, elem, open_divs)
        elif tag == "structMap":
            model.struct_maps.append(_attrs(elem))
    return model


def _pointer(model: MetsModel, elem: etree._Element, open_divs: dict[str, Div]) -> None:
    parent = elem.getparent()
    if parent is None:
        return
    div = open_divs.get(_key(parent))
    if div is None:
        depth, parent_label = _depth_and_parent_label(parent)
        div = Div(
            parent.get("ID"),
            parent.get("LABEL"),
            depth,
            parent_label,
            parent.get("DMDID"),
            parent.get("ADMID"),
        )
        open_divs[_key(parent)] = div
    if etree.QName(elem).localname == "fptr":
        model.fptr_total += 1
        # A representation's Data div points at every file: count those, keep the others.
        if div.label != "Data":
            div.fptr_ids.append(elem.get("FILEID") or "")
    else:
        div.mptrs.append({**_attrs(elem)})
