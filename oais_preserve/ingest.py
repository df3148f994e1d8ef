"""Ingest: a SIP_hoso (folder or ``.zip``) becomes an AIP_hoso bag (TT05 Art. 25(3)(a)).

Steps: validate the SIP (every problem reported, nothing built if it is invalid); read its
description back from ``EAD.xml`` and the ``EAD_*`` records; copy the content files once while
checking them against the producer's METS checksums; record PREMIS ``validation``, ``fixity
check`` and ``information package creation`` events; build and self-validate the AIP.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from concurrent.futures import Executor
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from typing import Any

from . import __version__
from .ead import read_simpledc
from .errors import InvalidPackageError, Problem, UserInputError
from .metsread import MetsModel, read_mets
from .packages import BuildResult, Progress, _build
from .packagewriter import REP_DIR
from .premis import Event, Identifier
from .profile import PROFILES, SOFTWARE_NAME, new_id, timestamp
from .schemas import SCHEMA_DIR
from .validate import extracted_zip, validate

_KIND_BY_PREFIX = (("EAD_DOC", "doc"), ("EAD_PIC", "pic"), ("EAD_MEDIA", "media"))


def ingest(
    sip: Path,
    dest_dir: Path,
    *,
    archive_code: str | None = None,
    organization: str | None = None,
    workers: int | None = None,
    executor: Executor | None = None,
    progress: Progress | None = None,
) -> BuildResult:
    """Validate ``sip``, verify the producer's checksums, and build its AIP_hoso bag in ``dest_dir``."""
    sip = Path(sip)
    # Structure, schemas and sizes only: the producer's checksums are verified during the copy,
    # so each content file is read once.
    report = validate(sip, verify=False)
    if report.package_type not in (None, "SIP"):
        raise UserInputError(f"{sip}: is an {report.package_type}, not a SIP")
    if not report.valid:
        raise InvalidPackageError(str(sip), report.problems)
    with _package_root(sip) as root:
        description, expected = read_sip(root, archive_code=archive_code, organization=organization)
        events = _provenance(report.objid or sip.name, len(expected))
        from .description import load_description

        hoso = load_description(description, kind="AIP")
        return _build(
            hoso,
            PROFILES["AIP"],
            root / REP_DIR / "data",
            Path(dest_dir),
            workers=workers,
            executor=executor,
            algorithms=("sha256",),
            progress=progress,
            objid=None,
            provenance=events,
            expected=expected,
        )


@contextmanager
def _package_root(sip: Path) -> Iterator[Path]:
    if sip.is_file():
        with extracted_zip(sip) as root:
            yield root
    else:
        yield sip


def _provenance(sip_objid: str, files_checked: int) -> list[Event]:
    agent = Identifier("local", f"{SOFTWARE_NAME}-{__version__}")
    sip_id = Identifier("URN", sip_objid)
    now = timestamp()
    return [
        Event(
            Identifier("UUID", new_id()),
            "validation",
            now,
            "SIP_hoso validated: METS/XSD, E-ARK CSIP 2.0.4 rules, TT05 EAD schemas",
            "success",
            f"SIP {sip_objid}: 0 errors",
            [(agent, "executing program")],
            [sip_id],
        ),
        Event(
            Identifier("UUID", new_id()),
            "fixity check",
            now,
            "producer's SHA-256 checksums (SIP METS @CHECKSUM) compared with the files as copied",
            "success",
            f"{files_checked} files read; every checksum matched",
            [(agent, "executing program")],
            [sip_id],
        ),
    ]


def read_sip(
    root: Path, *, archive_code: str | None = None, organization: str | None = None
) -> tuple[dict[str, Any], dict[str, str]]:
    """Rebuild our description from a TT05 SIP; return it and the producer digests by data path."""
    problems: list[Problem] = []
    root_mets = read_mets(root / "METS.xml", "METS.xml", problems)
    rep_mets = read_mets(root / REP_DIR / "METS.xml", f"{REP_DIR}/METS.xml", problems)
    if problems:
        raise InvalidPackageError(str(root), problems)
    fonds = _fonds(root_mets, archive_code, organization)
    hoso = _coerce("hoso", _simpledc(root / "metadata/descriptive/EAD.xml"))
    hoso.pop("arcFileCode", None)
    documents, whole_files = _documents(root, rep_mets)
    description: dict[str, Any] = {
        "schema": "oais_preserve/hoso-description/1",
        "fonds": fonds,
        "hoso": hoso,
        "documents": documents,
    }
    if whole_files:
        description["hoso"]["files"] = whole_files
    expected = {
        _data_rel(ref.href): (ref.checksum or "")
        for ref in rep_mets.refs
        if ref.kind == "file" and ref.href and ref.checksum_type == "SHA-256"
    }
    return description, expected


def _data_rel(href: str) -> str:
    path = PurePosixPath(href)
    return str(path.relative_to("data")) if path.parts[:1] == ("data",) else str(path)


def _fonds(model: MetsModel, archive_code: str | None, organization: str | None) -> dict[str, Any]:
    fonds: dict[str, Any] = {}
    for agent in model.agents:
        code = agent.get("note:IDENTIFICATIONCODE", "")
        if agent.get("ROLE") == "ARCHIVIST":
            fonds["fondsCode"], fonds["fondsName"] = code, agent.get("name", "")
        elif agent.get("ROLE") == "PRESERVATION":
            fonds["organization"], fonds["archiveCode"] = agent.get("name", ""), code
    if archive_code:
        fonds["archiveCode"] = archive_code
    if organization:
        fonds["organization"] = organization
    missing = [k for k in ("fondsCode", "archiveCode", "organization") if not fonds.get(k)]
    if missing:
        raise UserInputError(
            f"the SIP does not say {', '.join(missing)}: give --archive-code / --organization"
        )
    return {k: v for k, v in fonds.items() if v}


def _simpledc(path: Path) -> dict[str, str]:
    """The non-empty fields of an EAD record."""
    return {name: value for name, value in read_simpledc(path).items() if value}


def _schema_types(kind: str) -> dict[str, str]:
    """JSON types of each field, read from our JSON Schemas (so ingest coerces like the schema)."""
    name = "hoso.schema.json" if kind == "hoso" else "document.schema.json"
    schema = json.loads((SCHEMA_DIR / name).read_text(encoding="utf-8"))
    types: dict[str, str] = {}

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.get("properties", {}).items():
                if isinstance(value, dict) and isinstance(value.get("type"), str):
                    types.setdefault(key, value["type"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(schema)
    return types


def _coerce(kind: str, fields: Mapping[str, str]) -> dict[str, Any]:
    types = _schema_types(kind)
    out: dict[str, Any] = {}
    for key, value in fields.items():
        if types.get(key) == "integer" and value.isdigit():
            out[key] = int(value)
        else:
            out[key] = value
    return out


def _ordinal(fields: Mapping[str, Any], fallback: int) -> int:
    """The document's position: the last part of docId (SIP) or docCode, else its order."""
    for key in ("docId", "docCode"):
        tail = str(fields.get(key, "")).rsplit(".", 1)[-1]
        if tail.isdigit() and int(tail) > 0:
            return int(tail)
    return fallback


def _documents(root: Path, rep: MetsModel) -> tuple[list[dict[str, Any]], list[str]]:
    files_by_id = {ref.id: _data_rel(ref.href or "") for ref in rep.refs if ref.kind == "file"}
    records_by_dmd = {ref.id: ref.href for ref in rep.refs if ref.kind == "dmdSec" and ref.id}
    linked = {
        div.dmdid: div.fptr_ids for div in rep.divs if div.dmdid and div.parent_label == "MetadataLink/File"
    }
    documents: list[dict[str, Any]] = []
    used: set[str] = set()
    for ordinal, (dmd_id, href) in enumerate(records_by_dmd.items(), start=1):
        if not href:
            continue
        name = PurePosixPath(href).name
        kind = next((k for prefix, k in _KIND_BY_PREFIX if name.upper().startswith(prefix)), "doc")
        fields = _coerce("document", _simpledc(root / REP_DIR / href))
        files = [files_by_id[f] for f in linked.get(dmd_id, []) if f in files_by_id]
        used.update(files)
        fields.setdefault("docOrdinal", _ordinal(fields, ordinal))
        for key in ("docId", "docCode", "fileCode", "arcFileCode"):
            fields.pop(key, None)
        documents.append({"kind": kind, **fields, "files": files})
    whole = sorted(set(files_by_id.values()) - used)
    if whole and all(not d["files"] for d in documents):
        return documents, whole
    if whole:
        raise UserInputError(f"the SIP holds data files no document links to: {', '.join(whole[:5])}")
    return documents, []
