"""The TT05 / E-ARK CSIP 2.0.4 choices in one versioned table.

TT05's sample packages, its circular text and the E-ARK validators disagree in places
(see docs/tt05-profile.md). Every such choice lives here, not scattered through the writers.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from .errors import UnsafePathError

VIETNAM_TZ = timezone(timedelta(hours=7), "ICT")

NS_METS = "http://www.loc.gov/METS/"
NS_XLINK = "http://www.w3.org/1999/xlink"
NS_CSIP = "https://DILCIS.eu/XML/METS/CSIPExtensionMETS"
NS_SIP = "https://DILCIS.eu/XML/METS/SIPExtensionMETS"
NS_PREMIS = "http://www.loc.gov/premis/v3"
NS_XSI = "http://www.w3.org/2001/XMLSchema-instance"

METS_NSMAP: dict[Any, str] = {None: NS_METS, "xlink": NS_XLINK, "csip": NS_CSIP, "sip": NS_SIP, "xsi": NS_XSI}
PREMIS_NSMAP: dict[Any, str] = {None: NS_PREMIS, "xsi": NS_XSI}


@dataclass(frozen=True)
class Profile:
    """Fixed values of one package type under one version of the rules."""

    name: str
    package_type: str  # csip:OAISPACKAGETYPE
    root_profile: str  # mets/@PROFILE of the package METS
    representation_profile: str  # mets/@PROFILE of representations/rep1/METS.xml
    content_category: str  # mets/@TYPE, from the CSIP ContentCategory vocabulary (case-sensitive)
    content_information_type: str  # csip:CONTENTINFORMATIONTYPE
    descriptive_mdtype: str  # MDTYPE of the simpledc records (the TT05 sample uses DC)
    descriptive_mdtype_version: str
    with_premis: bool  # PREMIS is AIP-only in TT05 (a SIP carries none)


CSIP_PROFILE = "https://earkcsip.dilcis.eu/profile/E-ARK-CSIP.xml"

AIP_HOSO = Profile(
    name="TT05 AIP_hoso (E-ARK CSIP 2.0.4)",
    package_type="AIP",
    root_profile="http://www.ra.ee/METS/v01/IP.xml",
    representation_profile=CSIP_PROFILE,
    content_category="Mixed",
    content_information_type="MIXED",
    descriptive_mdtype="DC",
    descriptive_mdtype_version="1.0.0",
    with_premis=True,
)

SIP_HOSO = Profile(
    name="TT05 SIP_hoso (E-ARK CSIP 2.0.4)",
    package_type="SIP",
    # TT05 writes the CSIP profile URL on the SIP root; eark-validator's SIP2 wants the SIP one
    # (a documented validator quirk, waived for SIPs only).
    root_profile=CSIP_PROFILE,
    representation_profile=CSIP_PROFILE,
    content_category="Mixed",
    content_information_type="MIXED",
    descriptive_mdtype="DC",
    descriptive_mdtype_version="1.0.0",
    with_premis=False,
)

DIP_HOSO = Profile(
    name="TT05 DIP (E-ARK DIP on CSIP 2.0.4)",
    package_type="DIP",
    root_profile="https://earkdip.dilcis.eu/profile/E-ARK-DIP.xml",
    representation_profile=CSIP_PROFILE,
    # TT05 writes MIXED for the DIP; the CSIP vocabulary is case-sensitive (eark-validator CSIP2).
    content_category="Mixed",
    content_information_type="MIXED",
    descriptive_mdtype="DC",
    descriptive_mdtype_version="1.0.0",
    with_premis=True,
)

PROFILES = {"AIP": AIP_HOSO, "SIP": SIP_HOSO, "DIP": DIP_HOSO}

SOFTWARE_NAME = "oais_preserve"
REPRESENTATION = "rep1"
XSD_MIMETYPE = "application/octet-stream"  # the TT05 sample's choice; .xsd is not in its MIME table

# The official schemas every package carries, byte for byte, in schemas/.
OFFICIAL_XSDS = ("mets.xsd", "xlink.xsd", "DILCISExtensionMETS.xsd", "DILCISExtensionSIPMETS.xsd", "xml.xsd")
PREMIS_XSD = "premis.xsd"


def now() -> datetime:
    """The current time in Vietnam (+07:00), to the second, as TT05 timestamps are written."""
    return datetime.now(VIETNAM_TZ).replace(microsecond=0)


def timestamp(moment: datetime | None = None) -> str:
    """ISO 8601 with the +07:00 offset, e.g. ``2025-07-01T09:30:00+07:00``."""
    moment = (moment or now()).astimezone(VIETNAM_TZ).replace(microsecond=0)
    return moment.isoformat()


def new_id(prefix: str = "uuid-") -> str:
    """An element ID: ``uuid-{UUID}`` (``ID-{UUID}`` for files); never a bare UUID (xs:ID)."""
    return f"{prefix}{str(uuid.uuid4()).upper()}"


# Namespace of the name-based package UUIDs: the same hồ sơ always maps to the same OBJID, so a
# re-run after a crash finishes the same package instead of starting a second one.
_PACKAGE_NAMESPACE = uuid.UUID("5b0c3a52-2f5e-4d0c-9a1e-7a7e0b5e1c05")


def package_uuid(*parts: str) -> str:
    return str(uuid.uuid5(_PACKAGE_NAMESPACE, "\x1f".join(parts))).upper()


def make_objid(package_type: str, fonds_code: str, package_uuid_text: str) -> str:
    """OBJID as TT05 writes it: SIP ``uuid-{UUID}``; AIP ``urn:{mã phông}:uuid:{UUID}``."""
    if package_type == "SIP":
        return f"uuid-{package_uuid_text}"
    return f"urn:{fonds_code}:uuid:{package_uuid_text}" if fonds_code else f"urn:uuid:{package_uuid_text}"


_SAFE_FOLDER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]*$")


def folder_name(objid: str) -> str:
    """The package folder is named after OBJID with ':' replaced by '_' (TT05).

    The OBJID may come from a producer's METS (fonds code) or a caller: anything that is not a
    plain folder name (separators, "..", a leading dot) is refused, so a package can only ever
    be written inside its destination folder.
    """
    name = objid.replace(":", "_")
    if not _SAFE_FOLDER.match(name) or ".." in name:
        raise UnsafePathError(f"OBJID {objid!r} does not make a safe folder name")
    return name
