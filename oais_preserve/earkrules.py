"""E-ARK CSIP 2.0.4 rules (and the TT05 profile) checked on a :class:`MetsModel`.

Each finding carries the DILCIS requirement ID as its rule. Unlike eark-validator, these rules
are applied to the package METS *and* to every representation METS, including the ones that
validator never reaches (CSIP84–86, CSIP108–112; see docs/validation.md).
"""

from __future__ import annotations

import re

from .errors import Problem
from .metsread import Div, MetsModel, Ref
from .profile import NS_CSIP, NS_XLINK, PROFILES

_CSIP = f"{{{NS_CSIP}}}"
_XL = f"{{{NS_XLINK}}}"

# CSIP ContentCategory vocabulary (case-sensitive, byte-exact with its U+2013 dashes).
CONTENT_CATEGORIES = frozenset(
    {
        "Textual works – Print",
        "Textual works – Digital",
        "Textual works – Electronic Serials",
        "Digital Musical Composition (Score-based representations)",
        "Photographs – Print",
        "Photographs – Digital",
        "Other Graphic Images – Print",
        "Other Graphic Images – Digital",
        "Microforms",
        "Audio – On Tangible Medium (digital or analog)",
        "Audio – Media-independent (digital)",
        "Motion Pictures – Digital and Physical Media",
        "Video – File-based and Physical Media",
        "Software",
        "Datasets",
        "Geospatial Data",
        "Databases",
        "Websites",
        "Collection",
        "Email",
        "Research Data",
        "Mixed",
        "Other",
    }
)
CHECKSUM_TYPES = frozenset(
    {
        "Adler-32",
        "CRC32",
        "HAVAL",
        "MD5",
        "MNP",
        "SHA-1",
        "SHA-256",
        "SHA-384",
        "SHA-512",
        "TIGER",
        "WHIRLPOOL",
    }
)
_TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")


def _p(problems: list[Problem], where: str, rule: str, message: str, value: str | None = None) -> None:
    problems.append(Problem(where, message, value=value, rule=rule))


def check_root_attributes(m: MetsModel, where: str, problems: list[Problem], *, is_package: bool) -> None:
    a = m.attrs
    if not a.get("OBJID"):
        _p(problems, where, "CSIP1", "mets/@OBJID is missing or empty")
    mets_type = a.get("TYPE")
    if mets_type not in CONTENT_CATEGORIES:
        _p(problems, where, "CSIP2", "mets/@TYPE is not a CSIP content category (case-sensitive)", mets_type)
    elif mets_type == "Other" and not a.get(_CSIP + "OTHERTYPE"):
        _p(problems, where, "CSIP3", "mets/@TYPE=Other needs csip:OTHERTYPE")
    cit = a.get(_CSIP + "CONTENTINFORMATIONTYPE")
    if not cit:
        _p(problems, where, "CSIP4", "mets/@csip:CONTENTINFORMATIONTYPE is missing")
    elif cit == "OTHER" and not a.get(_CSIP + "OTHERCONTENTINFORMATIONTYPE"):
        _p(problems, where, "CSIP5", "CONTENTINFORMATIONTYPE=OTHER needs OTHERCONTENTINFORMATIONTYPE")
    if not a.get("PROFILE"):
        _p(problems, where, "CSIP6", "mets/@PROFILE is missing")


def check_header(m: MetsModel, where: str, problems: list[Problem]) -> str | None:
    """CSIP117, CSIP7, CSIP9, CSIP10–16; returns the package type."""
    if m.header_count != 1:
        _p(problems, where, "CSIP117", f"exactly one metsHdr expected, found {m.header_count}")
        return None
    created = m.header.get("CREATEDATE", "")
    if not _TIMESTAMP.match(created):
        _p(problems, where, "CSIP7", "metsHdr/@CREATEDATE must be an xs:dateTime with offset", created)
    package_type = m.header.get(_CSIP + "OAISPACKAGETYPE")
    if package_type not in ("SIP", "AIP", "DIP", "AIU", "AIC"):
        _p(problems, where, "CSIP9", "metsHdr/@csip:OAISPACKAGETYPE missing or unknown", package_type)
    software = [
        ag
        for ag in m.agents
        if ag.get("ROLE") == "CREATOR" and ag.get("TYPE") == "OTHER" and ag.get("OTHERTYPE") == "SOFTWARE"
    ]
    if len(software) != 1:
        _p(problems, where, "CSIP10", f"exactly one software CREATOR agent expected, found {len(software)}")
    else:
        agent = software[0]
        if not agent.get("name"):
            _p(problems, where, "CSIP14", "the software agent has no name")
        if "note:SOFTWARE VERSION" not in agent or agent.get("notes") != "1":
            _p(problems, where, "CSIP15", "the software agent needs exactly one SOFTWARE VERSION note")
    for agent in m.agents:
        if agent.get("ROLE") == "CREATOR" and agent not in software:
            _p(problems, where, "CSIP12", "a CREATOR agent other than the software agent", agent.get("name"))
    return package_type


def check_dmd_secs(m: MetsModel, where: str, problems: list[Problem]) -> None:
    """CSIP18–19: each dmdSec has an ID and a creation date."""
    for d in m.dmd_secs:
        if not d.get("ID"):
            _p(problems, where, "CSIP18", "dmdSec without @ID")
        if not d.get("CREATED"):
            _p(problems, where, "CSIP19", "dmdSec without @CREATED", d.get("ID"))


def check_reference(ref: Ref, where: str, problems: list[Problem]) -> None:
    """CSIP21–30, 66–79 and TT05's SHA-256 on one mdRef or file, as the METS is streamed."""
    label = ref.href or ref.id or "?"
    needed: list[tuple[str, str | None, str]] = [
        ("ID", ref.id, "CSIP66" if ref.kind == "file" else "CSIP18"),
        ("MIMETYPE", ref.mimetype, "CSIP68" if ref.kind == "file" else "CSIP24"),
        ("SIZE", ref.size, "CSIP69" if ref.kind == "file" else "CSIP25"),
        ("CREATED", ref.created, "CSIP70" if ref.kind == "file" else "CSIP26"),
        ("CHECKSUM", ref.checksum, "CSIP71" if ref.kind == "file" else "CSIP27"),
        ("CHECKSUMTYPE", ref.checksum_type, "CSIP72" if ref.kind == "file" else "CSIP28"),
        ("href", ref.href, "CSIP79" if ref.kind == "file" else "CSIP22"),
    ]
    for attr, value, rule in needed:
        if not value:
            _p(problems, f"{where}: {label}", rule, f"{ref.kind} without @{attr}")
    if ref.checksum_type and ref.checksum_type not in CHECKSUM_TYPES:
        _p(problems, f"{where}: {label}", "CSIP72", "unknown CHECKSUMTYPE", ref.checksum_type)
    if ref.loctype != "URL":
        _p(
            problems,
            f"{where}: {label}",
            "CSIP77" if ref.kind == "file" else "CSIP21",
            "LOCTYPE must be URL",
            ref.loctype,
        )
    if ref.xlink_type != "simple":
        _p(
            problems,
            f"{where}: {label}",
            "CSIP78" if ref.kind == "file" else "CSIP21",
            "xlink:type must be simple",
            ref.xlink_type,
        )
    if ref.kind == "file" and ref.flocat_count != 1:
        _p(
            problems,
            f"{where}: {label}",
            "CSIP76",
            f"exactly one FLocat expected, found {ref.flocat_count}",
        )
    if ref.checksum_type and ref.checksum_type != "SHA-256":
        _p(problems, f"{where}: {label}", "TT05-SHA256", "TT05 requires SHA-256", ref.checksum_type)


def check_file_sec(m: MetsModel, where: str, problems: list[Problem], *, is_package: bool) -> None:
    """CSIP58–65, 113, 114 for the package METS; a representation needs a non-empty data group."""
    if len(m.file_sec_ids) != 1:
        _p(problems, where, "CSIP58", f"one fileSec expected, found {len(m.file_sec_ids)}")
    elif not m.file_sec_ids[0]:
        _p(problems, where, "CSIP59", "fileSec without @ID")
    uses = {g.get("USE", ""): g for g in m.file_groups}
    members = m.group_sizes
    for group in m.file_groups:
        if not group.get("ID"):
            _p(problems, where, "CSIP65", "fileGrp without @ID", group.get("USE"))
        if not group.get("USE"):
            _p(problems, where, "CSIP64", "fileGrp without @USE")
        if members.get(group.get("ID", ""), 0) == 0:
            _p(problems, where, "CSIP66", "empty fileGrp", group.get("USE"))
    if is_package:
        for use, rule in (
            ("Documentation", "CSIP60"),
            ("Schemas", "CSIP113"),
            ("Representations", "CSIP114"),
        ):
            if use not in uses:
                _p(problems, where, rule, f"no fileGrp with USE='{use}'")
        rep = uses.get("Representations")
        if rep is not None and not rep.get(_CSIP + "CONTENTINFORMATIONTYPE"):
            _p(problems, where, "CSIP62", "the Representations fileGrp lacks csip:CONTENTINFORMATIONTYPE")
    elif not m.file_groups:
        _p(problems, where, "CSIP114", "the representation lists no files")


def _children(divs: list[Div], top: Div) -> list[Div]:
    return [d for d in divs if d.depth == 1 and d.parent_label == top.label]


def check_struct_map(m: MetsModel, where: str, problems: list[Problem], *, is_package: bool) -> list[Div]:
    """CSIP80–112; returns the representation divs (with their mptr) for the caller to follow."""
    csip_maps = [s for s in m.struct_maps if s.get("TYPE") == "PHYSICAL" and s.get("LABEL") == "CSIP"]
    if len(csip_maps) != 1:
        _p(
            problems,
            where,
            "CSIP80",
            f"one PHYSICAL structMap labelled CSIP expected, found {len(csip_maps)}",
        )
        return []
    if not csip_maps[0].get("ID"):
        _p(problems, where, "CSIP82", "structMap without @ID")
    tops = [d for d in m.divs if d.depth == 0]
    if len(tops) != 1:
        _p(problems, where, "CSIP84", f"one top-level div expected, found {len(tops)}")
        return []
    top = tops[0]
    if not top.id:
        _p(problems, where, "CSIP85", "top-level div without @ID")
    if is_package and top.label != m.attrs.get("OBJID"):
        _p(problems, where, "CSIP86", "top-level div @LABEL must equal mets/@OBJID", top.label)
    children = {d.label: d for d in _children(m.divs, top)}
    group_ids = {g.get("USE", ""): g.get("ID", "") for g in m.file_groups}
    meta = children.get("Metadata")
    if meta is None:
        _p(problems, where, "CSIP88", "no div labelled Metadata")
    else:
        _check_ids(meta, m, where, problems)
    if not is_package:
        return []
    for label, rule in (("Documentation", "CSIP95"), ("Schemas", "CSIP99"), ("Representations", "CSIP103")):
        div = children.get(label)
        if div is None:
            _p(problems, where, rule, f"no div labelled {label}")
        elif group_ids.get(label) not in div.fptr_ids:
            _p(problems, where, rule, f"div {label} must point (fptr) at the {label} fileGrp")
    reps = [d for d in m.divs if (d.label or "").startswith("Representations/")]
    for rep in reps:
        _check_representation_div(rep, group_ids, where, problems)
    return reps


def _check_ids(meta: Div, m: MetsModel, where: str, problems: list[Problem]) -> None:
    dmd_ids = {d.get("ID") for d in m.dmd_secs if d.get("STATUS", "CURRENT") == "CURRENT"}
    listed = set((meta.dmdid or "").split())
    if dmd_ids - listed:
        _p(problems, where, "CSIP92", "Metadata div @DMDID does not list every current dmdSec")
    if set(m.amd_ids) - set((meta.admid or "").split()):
        _p(problems, where, "CSIP91", "Metadata div @ADMID does not list every amdSec")


def _check_representation_div(
    rep: Div, group_ids: dict[str, str], where: str, problems: list[Problem]
) -> None:
    if not rep.id:
        _p(problems, where, "CSIP106", "representation div without @ID", rep.label)
    if len(rep.mptrs) != 1:
        _p(
            problems,
            where,
            "CSIP109",
            f"representation div needs exactly one mptr, found {len(rep.mptrs)}",
            rep.label,
        )
        return
    mptr = rep.mptrs[0]
    if not mptr.get(_XL + "href"):
        _p(problems, where, "CSIP110", "mptr without xlink:href", rep.label)
    if mptr.get(_XL + "type") != "simple" or mptr.get("LOCTYPE") != "URL":
        _p(problems, where, "CSIP111", "mptr needs xlink:type=simple and LOCTYPE=URL", rep.label)
    valid_titles = {group_ids.get("Representations"), group_ids.get(rep.label or "")}
    if mptr.get(_XL + "title") not in valid_titles:
        _p(problems, where, "CSIP108", "mptr/@xlink:title must be the representation fileGrp ID", rep.label)


def check_tt05_profile(
    m: MetsModel, where: str, problems: list[Problem], package_type: str | None, *, is_package: bool
) -> None:
    """TT05 specifics: PROFILE URL per package type, +07:00-style timestamps, SHA-256, ID forms."""
    profile = PROFILES.get(package_type or "")
    if profile is None:
        return
    expected = profile.root_profile if is_package else profile.representation_profile
    if m.attrs.get("PROFILE") not in (expected, "https://earksip.dilcis.eu/profile/E-ARK-SIP.xml"):
        _p(problems, where, "TT05-PROFILE", f"PROFILE should be {expected}", m.attrs.get("PROFILE"))
    objid = m.attrs.get("OBJID", "")
    if is_package and package_type == "AIP" and not objid.startswith("urn:"):
        _p(problems, where, "TT05-OBJID", "an AIP OBJID is urn:uuid:… or urn:{mã phông}:uuid:…", objid)


def check_mets(m: MetsModel, where: str, *, is_package: bool) -> tuple[list[Problem], list[Div]]:
    """The document-level rules on one METS; returns problems and representation divs.

    References are checked one by one with :func:`check_reference` while the METS is read.
    """
    problems: list[Problem] = []
    check_root_attributes(m, where, problems, is_package=is_package)
    package_type = check_header(m, where, problems)
    check_dmd_secs(m, where, problems)
    check_file_sec(m, where, problems, is_package=is_package)
    reps = check_struct_map(m, where, problems, is_package=is_package)
    check_tt05_profile(m, where, problems, package_type, is_package=is_package)
    return problems, reps
