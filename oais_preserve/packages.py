"""SIP_hoso and AIP_hoso builders (TT05 Phụ lục III and I), ingest, and zip export.

One build reads each source file exactly once (copy + every digest + identification in the same
pass, fanned out over an Executor), writes METS / PREMIS / EAD as streams, validates the staged
package against the digests it computed, and only then renames it into place.
"""

from __future__ import annotations

import logging
import mimetypes
import os
import time
import unicodedata
import zipfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from pathlib import Path, PurePosixPath
from typing import Any

from . import __version__
from .bag import PayloadEntry, check_bag_against, write_bag_tags
from .description import Document, HoSo, PackageKind, load_description
from .ead import document_ead_filename, ead_schema_files, write_document_ead, write_hoso_ead
from .errors import InvalidPackageError, Problem, UnsafePathError, UserInputError
from .fixity import METS_CHECKSUM_TYPE, FileJob, FileRecord, check_algorithms, read_file, read_files
from .identify import Identification, default_identifier
from .mets import DocumentLink, MdRef, MetsAgent, MetsFile, write_package_mets, write_representation_mets
from .premis import Agent, EntityObject, Event, FileFormat, FileObject, Identifier, PremisWriter, Relationship
from .profile import (
    OFFICIAL_XSDS,
    PREMIS_XSD,
    PROFILES,
    REPRESENTATION,
    SOFTWARE_NAME,
    XSD_MIMETYPE,
    Profile,
    folder_name,
    make_objid,
    new_id,
    package_uuid,
    timestamp,
)
from .schemas import SCHEMA_DIR
from .staging import HashingWriter, publish, staged_output
from .validate import ValidationReport, validate, validate_package

log = logging.getLogger(__name__)

Progress = Callable[[str, int, int], None]  # (stage, done, total)
REP_DIR = f"representations/{REPRESENTATION}"


@dataclass(frozen=True)
class BuildResult:
    """What a builder produced (or found already complete, ``skipped``)."""

    path: Path
    objid: str
    package_type: str
    files: int
    bytes: int
    seconds: float
    skipped: bool = False
    report: ValidationReport | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "objid": self.objid,
            "package_type": self.package_type,
            "files": self.files,
            "bytes": self.bytes,
            "seconds": round(self.seconds, 3),
            "skipped": self.skipped,
        }


@dataclass(frozen=True)
class PayloadItem:
    """One content file: where it comes from and where it goes in the package."""

    source: Path
    original_name: str
    target_rel: str  # package-relative, e.g. representations/rep1/data/X.pdf


@dataclass
class _Written:
    """Package-relative path -> (size, sha256) of every file written into the package."""

    entries: dict[str, tuple[int, dict[str, str]]] = field(default_factory=dict)

    def add(self, rel: str, size: int, digests: dict[str, str]) -> None:
        self.entries[rel] = (size, digests)


# --- public API ---------------------------------------------------------------------------------


def build_aip(
    description: Path | HoSo | Mapping[str, Any],
    source_dir: Path,
    dest_dir: Path,
    *,
    workers: int | None = None,
    executor: Executor | None = None,
    algorithms: Sequence[str] = ("sha256",),
    progress: Progress | None = None,
    objid: str | None = None,
) -> BuildResult:
    """Build an AIP_hoso bag from scans described by ``description`` (TT05 Art. 8(3))."""
    hoso = _as_hoso(description, "AIP")
    return _build(
        hoso,
        PROFILES["AIP"],
        Path(source_dir),
        Path(dest_dir),
        workers=workers,
        executor=executor,
        algorithms=algorithms,
        progress=progress,
        objid=objid,
    )


def build_sip(
    description: Path | HoSo | Mapping[str, Any],
    source_dir: Path,
    dest_dir: Path,
    *,
    workers: int | None = None,
    executor: Executor | None = None,
    progress: Progress | None = None,
    objid: str | None = None,
) -> BuildResult:
    """Build a SIP_hoso package folder (no bag, no PREMIS: TT05 Phụ lục III)."""
    hoso = _as_hoso(description, "SIP")
    return _build(
        hoso,
        PROFILES["SIP"],
        Path(source_dir),
        Path(dest_dir),
        workers=workers,
        executor=executor,
        algorithms=("sha256",),
        progress=progress,
        objid=objid,
    )


def _as_hoso(description: Path | HoSo | Mapping[str, Any], kind: PackageKind) -> HoSo:
    return description if isinstance(description, HoSo) else load_description(description, kind=kind)


# --- planning -----------------------------------------------------------------------------------


def plan_payload(hoso: HoSo, source_dir: Path) -> tuple[list[PayloadItem], dict[str, str]]:
    """Map every described file to its place in ``representations/rep1/data``.

    Returns the items and a map source-relative path -> target path. Names are NFC-normalized;
    two sources that collide after normalization are refused, as are paths leaving source_dir.
    """
    if not source_dir.is_dir():
        raise UserInputError(f"{source_dir}: source folder not found")
    root = source_dir.resolve()
    items: list[PayloadItem] = []
    by_source: dict[str, str] = {}
    taken: dict[str, str] = {}
    for rel in _described_files(hoso):
        if rel in by_source:
            continue
        source = _source_path(root, rel)
        name = unicodedata.normalize("NFC", PurePosixPath(rel.replace("\\", "/")).name)
        target = f"{REP_DIR}/data/{name}"
        key = name.casefold()
        if key in taken:
            raise UnsafePathError(f"{rel!r} and {taken[key]!r} map to the same name {name!r} in the package")
        taken[key] = rel
        by_source[rel] = target
        items.append(PayloadItem(source, rel, target))
    if not items:
        raise UserInputError("the description lists no files: nothing to package")
    return items, by_source


def _described_files(hoso: HoSo) -> Iterator[str]:
    yield from hoso.files
    for doc in hoso.documents:
        yield from doc.files


def _source_path(root: Path, rel: str) -> Path:
    candidate = root / rel.replace("\\", "/")
    if candidate.is_symlink():
        raise UnsafePathError(f"{rel}: symbolic links are refused")
    resolved = candidate.resolve()
    if not resolved.is_relative_to(root):
        raise UnsafePathError(f"{rel}: leaves the source folder")
    if not resolved.exists():
        # Vietnamese names may be stored NFD on disk while the description is NFC (or vice versa).
        resolved = _find_by_normalized_name(root, rel) or resolved
    if not resolved.is_file():
        raise UserInputError(f"{rel}: file not found in {root}")
    return resolved


def _find_by_normalized_name(root: Path, rel: str) -> Path | None:
    parent = (root / rel).parent
    wanted = unicodedata.normalize("NFC", PurePosixPath(rel).name)
    if not parent.is_dir():
        return None
    for entry in parent.iterdir():
        if unicodedata.normalize("NFC", entry.name) == wanted and not entry.is_symlink():
            return entry
    return None


# --- the build ----------------------------------------------------------------------------------


@contextmanager
def _executor(workers: int | None, executor: Executor | None) -> Iterator[Executor | None]:
    """The caller's executor, or a process pool of ``workers`` (None/0 = one per core, 1 = inline)."""
    if executor is not None:
        yield executor
        return
    count = workers if workers is not None else (os.cpu_count() or 1)
    if count <= 1:
        yield None
        return
    with ProcessPoolExecutor(max_workers=count) as pool:
        yield pool


def _build(
    hoso: HoSo,
    profile: Profile,
    source_dir: Path,
    dest_dir: Path,
    *,
    workers: int | None,
    executor: Executor | None,
    algorithms: Sequence[str],
    progress: Progress | None,
    objid: str | None,
    provenance: Sequence[Event] = (),
    expected: Mapping[str, str] | None = None,
) -> BuildResult:
    started = time.monotonic()
    algorithms = check_algorithms(algorithms)
    items, by_source = plan_payload(hoso, source_dir)
    objid = objid or make_objid(
        profile.package_type,
        str(hoso.fonds.get("fondsCode", "")),
        package_uuid(profile.package_type, hoso.arc_file_code),
    )
    final = dest_dir / folder_name(objid)
    if final.exists():
        return _already_built(final, objid, profile, started)
    with staged_output(final) as stage:
        package_root = stage / "data" if profile.with_premis else stage
        ctx = _BuildContext(hoso, profile, objid, package_root, algorithms, by_source, progress, provenance)
        with _executor(workers, executor) as pool:
            records = ctx.copy_payload(items, pool, expected)
        ctx.write_metadata(records)
        if profile.with_premis:
            write_bag_tags(
                stage, ctx.payload_entries(), _bag_info(hoso, objid, profile), algorithms=algorithms
            )
        ctx.self_check(stage)
        publish(stage, final)
    data_bytes = sum(r.size for r in records)
    log.info("built %s %s (%d files, %d bytes)", profile.package_type, final, len(records), data_bytes)
    return BuildResult(
        final, objid, profile.package_type, len(records), data_bytes, time.monotonic() - started
    )


def _already_built(final: Path, objid: str, profile: Profile, started: float) -> BuildResult:
    """A re-run finds the package in place: it counts only if it is complete and valid."""
    report = validate(final, verify=False)
    if not report.valid:
        raise InvalidPackageError(str(final), report.problems)
    return BuildResult(
        final, objid, profile.package_type, 0, 0, time.monotonic() - started, skipped=True, report=report
    )


def _bag_info(hoso: HoSo, objid: str, profile: Profile) -> dict[str, str]:
    return {
        "Source-Organization": str(hoso.fonds.get("organization", "")),
        "External-Identifier": objid,
        "External-Description": f"TT05 {profile.package_type}_hoso: {hoso.title}"[:1000],
        "Internal-Sender-Identifier": hoso.arc_file_code,
        "Bag-Group-Identifier": str(hoso.fonds.get("fondsCode", "")),
        "E-ARK-Package-Type": profile.package_type,
        "E-ARK-Specification-Version": "2.0.4",
        "Bag-Software-Agent": f"{SOFTWARE_NAME} {__version__}",
    }


class _BuildContext:
    """State of one package build: what was written, with sizes and digests."""

    def __init__(
        self,
        hoso: HoSo,
        profile: Profile,
        objid: str,
        root: Path,
        algorithms: Sequence[str],
        by_source: dict[str, str],
        progress: Progress | None,
        provenance: Sequence[Event],
    ) -> None:
        self.hoso, self.profile, self.objid, self.root = hoso, profile, objid, root
        self.algorithms, self.by_source, self.progress = algorithms, by_source, progress
        self.provenance = provenance
        self.created = timestamp()
        self.written = _Written()
        self.identifier = default_identifier()
        self.file_ids: dict[str, str] = {}
        self.kind: PackageKind = "AIP" if profile.package_type == "AIP" else "SIP"

    # payload ---------------------------------------------------------------------------------
    def copy_payload(
        self, items: Sequence[PayloadItem], pool: Executor | None, expected: Mapping[str, str] | None
    ) -> list[FileRecord]:
        jobs = [FileJob(item.source, self.root / item.target_rel) for item in items]

        def report(done: int, total: int) -> None:
            if self.progress:
                self.progress("copy", done, total)

        records = read_files(jobs, self.algorithms, executor=pool, progress=report)
        for item, record in zip(items, records, strict=True):
            self.written.add(item.target_rel, record.size, record.digests)
            if expected is not None:
                _check_expected(item, record, expected)
        self.items = list(items)
        return records

    def payload_entries(self) -> Iterator[PayloadEntry]:
        for rel, (size, digests) in sorted(self.written.entries.items()):
            yield PayloadEntry(f"data/{rel}", size, {a: digests[a] for a in self.algorithms if a in digests})

    # metadata --------------------------------------------------------------------------------
    def _write_xml(self, rel: str, writer: Callable[[HashingWriter], None]) -> MetsFile:
        with HashingWriter(self.root / rel) as out:
            writer(out)
        digests = {"sha256": out.sha256}
        if len(self.algorithms) > 1:
            digests = read_file(FileJob(self.root / rel, identify=False), self.algorithms).digests
        self.written.add(rel, out.size, digests)
        return MetsFile(new_id("ID-"), rel, "application/xml", out.size, self.created, out.sha256)

    def _record_file(self, rel: str, mimetype: str) -> MetsFile:
        record = read_file(FileJob(self.root / rel, identify=False), self.algorithms)
        self.written.add(rel, record.size, record.digests)
        return MetsFile(new_id("ID-"), rel, mimetype, record.size, self.created, record.digests["sha256"])

    def write_metadata(self, records: Sequence[FileRecord]) -> None:
        kind = self.kind
        data_files = [self._data_file(item, record) for item, record in zip(self.items, records, strict=True)]
        doc_refs, links = self._document_records(kind)
        rep_premis = self._rep_premis(records) if self.profile.with_premis else []
        agents = self._mets_agents()
        rep_mets = self._write_xml(
            f"{REP_DIR}/METS.xml",
            lambda out: write_representation_mets(
                out,
                profile=self.profile,
                representation=REPRESENTATION,
                created=self.created,
                agents=agents,
                descriptive=[_relative(r, REP_DIR) for r in doc_refs],
                preservation=[_relative(r, REP_DIR) for r in rep_premis],
                data_files=[_relative_file(f, REP_DIR) for f in data_files],
                links=links,
            ),
        )
        hoso_ead = self._ead("metadata/descriptive/EAD.xml", lambda p: write_hoso_ead(self.hoso, kind, p))
        descriptive = [
            MdRef(
                hoso_ead,
                self.profile.descriptive_mdtype,
                new_id(),
                mdtype_version=self.profile.descriptive_mdtype_version,
                label="EAD",
            )
        ]
        preservation = self._package_premis() if self.profile.with_premis else []
        documentation = [self._documentation(records)]
        schemas = self._schemas()
        self._write_xml(
            "METS.xml",
            lambda out: write_package_mets(
                out,
                profile=self.profile,
                objid=self.objid,
                label=self.hoso.title[:255],
                created=self.created,
                agents=agents,
                alt_ids=[("REFERENCECODE", self._file_code())],
                descriptive=descriptive,
                preservation=preservation,
                documentation=documentation,
                schemas=schemas,
                representation_mets=rep_mets,
                representation=REPRESENTATION,
            ),
        )

    def _file_code(self) -> str:
        return self.hoso.arc_file_code if self.profile.package_type == "AIP" else self.hoso.file_code

    def _data_file(self, item: PayloadItem, record: FileRecord) -> MetsFile:
        ident = record.identification
        file_id = new_id("ID-")
        self.file_ids[item.target_rel] = file_id
        created = timestamp(datetime.fromtimestamp(record.mtime)) if record.mtime else self.created
        return MetsFile(
            file_id,
            item.target_rel,
            _mimetype(item.target_rel, ident),
            record.size,
            created,
            record.digests["sha256"],
            format_name=ident.format_name if ident else None,
            format_version=ident.format_version if ident else None,
            puid=ident.puid if ident else None,
        )

    def _ead(self, rel: str, writer: Callable[[Path], None]) -> MetsFile:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        writer(path)
        return self._record_file(rel, "application/xml")

    def _document_records(self, kind: PackageKind) -> tuple[list[MdRef], list[DocumentLink]]:
        refs: list[MdRef] = []
        links: list[DocumentLink] = []
        whole = [self.by_source[f] for f in self.hoso.files]
        for doc in self.hoso.documents:
            name = document_ead_filename(self.hoso, doc, kind)
            rel = f"{REP_DIR}/metadata/descriptive/{name}"
            meta = self._ead(rel, partial(write_document_ead, self.hoso, doc, kind))
            ref = MdRef(
                meta,
                self.profile.descriptive_mdtype,
                new_id(),
                mdtype_version=self.profile.descriptive_mdtype_version,
                label=_doc_label(self.hoso, doc, kind),
            )
            refs.append(ref)
            targets = [self.by_source[f] for f in doc.files] or whole
            links.append(DocumentLink(ref.label or name, ref.section_id, [self.file_ids[t] for t in targets]))
        return refs, links

    def _documentation(self, records: Sequence[FileRecord]) -> MetsFile:
        rel = "documentation/thong-tin-goi.txt"
        with HashingWriter(self.root / rel) as out:
            for line in _package_summary(self, records):
                out.write((line + "\n").encode("utf-8"))
        self.written.add(
            rel,
            out.size,
            {"sha256": out.sha256}
            if len(self.algorithms) == 1
            else read_file(FileJob(self.root / rel, identify=False), self.algorithms).digests,
        )
        return MetsFile(new_id("ID-"), rel, "text/plain", out.size, self.created, out.sha256)

    def _schemas(self) -> list[MetsFile]:
        names = list(OFFICIAL_XSDS) + ([PREMIS_XSD] if self.profile.with_premis else [])
        files = []
        for name in names:
            files.append(self._copy_schema(SCHEMA_DIR / "xsd" / name, f"schemas/{name}"))
        kinds = {doc.kind for doc in self.hoso.documents}
        for name in ead_schema_files(kinds):
            files.append(self._copy_schema(SCHEMA_DIR / "ead" / name, f"schemas/{name}"))
        return files

    def _copy_schema(self, source: Path, rel: str) -> MetsFile:
        record = read_file(FileJob(source, self.root / rel, identify=False), self.algorithms)
        self.written.add(rel, record.size, record.digests)
        return MetsFile(new_id("ID-"), rel, XSD_MIMETYPE, record.size, self.created, record.digests["sha256"])

    def _mets_agents(self) -> list[MetsAgent]:
        fonds = self.hoso.fonds
        return [
            MetsAgent(
                "CREATOR",
                "OTHER",
                SOFTWARE_NAME,
                other_type="SOFTWARE",
                note=__version__,
                note_type="SOFTWARE VERSION",
            ),
            MetsAgent(
                "ARCHIVIST",
                "ORGANIZATION",
                str(fonds.get("fondsName") or fonds.get("fondsCode")),
                note=str(fonds.get("fondsCode", "")),
                note_type="IDENTIFICATIONCODE",
            ),
            MetsAgent(
                "PRESERVATION",
                "ORGANIZATION",
                str(fonds.get("organization", "")),
                note=str(fonds.get("archiveCode", "")),
                note_type="IDENTIFICATIONCODE",
            ),
        ]

    # PREMIS ----------------------------------------------------------------------------------
    def _agents(self) -> dict[str, Agent]:
        fonds = self.hoso.fonds
        org = str(fonds.get("organization", ""))
        agents = {
            "software": Agent(
                Identifier("local", f"{SOFTWARE_NAME}-{__version__}"),
                SOFTWARE_NAME,
                "software",
                __version__,
                note="https://pypi.org/project/oais_preserve (TT05 packager)",
            ),
            "fido": Agent(
                Identifier("local", f"fido-{self.identifier.tool_version}"),
                "fido",
                "software",
                self.identifier.tool_version,
                note=f"signatures: {self.identifier.signature_version}",
            ),
            "org": Agent(
                Identifier("local", str(fonds.get("archiveCode") or org)),
                org,
                "organization",
                note=f"Mã cơ quan lưu trữ: {fonds.get('archiveCode', '')}",
            ),
        }
        digitizer = self.hoso.fields.get("digitizedBy")
        if digitizer and digitizer != org:
            agents["digitizer"] = Agent(
                Identifier("local", f"digitizer:{digitizer}"), str(digitizer), "organization"
            )
        return agents

    def _rep_premis(self, records: Sequence[FileRecord]) -> list[MdRef]:
        rel = f"{REP_DIR}/metadata/preservation/PREMIS_{REPRESENTATION}.xml"
        rep_id = Identifier("local", f"{self.objid}/{REPRESENTATION}")
        agents = self._agents()

        def write(out: HashingWriter) -> None:
            with PremisWriter(out) as premis:
                premis.add_entity(
                    EntityObject(
                        "representation",
                        rep_id,
                        storage_path=REP_DIR,
                        relationships=[
                            Relationship("structural", "is included in", [Identifier("URN", self.objid)])
                        ],
                    )
                )
                for item, record in zip(self.items, records, strict=True):
                    premis.add_file(self._file_object(item, record, rep_id))
                for event in self._rep_events(records, rep_id, agents):
                    premis.add_event(event)
                premis.add_agents([agents["software"], agents["fido"]])

        meta = self._write_xml(rel, write)
        return [MdRef(meta, "PREMIS", new_id(), mdtype_version="3.0", label="PREMIS")]

    def _file_object(self, item: PayloadItem, record: FileRecord, rep_id: Identifier) -> FileObject:
        ident = record.identification
        digests = [(METS_CHECKSUM_TYPE[a], record.digests[a]) for a in self.algorithms]
        return FileObject(
            Identifier("local", item.target_rel),
            record.size,
            digests,
            _premis_format(ident),
            item.original_name,
            item.target_rel,
            digest_originator=SOFTWARE_NAME,
            relationships=[Relationship("structural", "is included in", [rep_id])],
        )

    def _rep_events(
        self, records: Sequence[FileRecord], rep_id: Identifier, agents: dict[str, Agent]
    ) -> list[Event]:
        software, fido = agents["software"].identifier, agents["fido"].identifier
        by_status: dict[str, int] = {}
        for record in records:
            status = record.identification.status if record.identification else "not identified"
            by_status[status] = by_status.get(status, 0) + 1
        summary = ", ".join(f"{k}: {v}" for k, v in sorted(by_status.items()))
        return [
            Event(
                Identifier("UUID", new_id()),
                "message digest calculation",
                self.created,
                f"program={SOFTWARE_NAME}; version={__version__}; algorithms="
                + ",".join(METS_CHECKSUM_TYPE[a] for a in self.algorithms)
                + "; computed while copying (single read)",
                "success",
                f"{len(records)} files; digests in each file object",
                [(software, "executing program")],
                [rep_id],
            ),
            Event(
                Identifier("UUID", new_id()),
                "format identification",
                self.created,
                f"program=fido; version={self.identifier.tool_version}; "
                f"signature={self.identifier.signature_version}; matcher={SOFTWARE_NAME} {__version__}",
                "success" if "unknown" not in by_status and "incomplete" not in by_status else "warning",
                f"{len(records)} files: {summary}; PUID and match basis in each file object",
                [(fido, "executing program"), (software, "implementer")],
                [rep_id],
            ),
        ]

    def _package_premis(self) -> list[MdRef]:
        rel = "metadata/preservation/PREMIS.xml"
        entity = Identifier("URN", self.objid)
        rep_id = Identifier("local", f"{self.objid}/{REPRESENTATION}")
        agents = self._agents()

        def write(out: HashingWriter) -> None:
            with PremisWriter(out) as premis:
                premis.add_entity(
                    EntityObject(
                        "intellectualEntity",
                        entity,
                        original_name=self.hoso.arc_file_code,
                        relationships=[Relationship("structural", "includes", [rep_id])],
                    )
                )
                premis.add_entity(
                    EntityObject(
                        "representation",
                        rep_id,
                        storage_path=REP_DIR,
                        relationships=[Relationship("structural", "is included in", [entity])],
                    )
                )
                for event in self._package_events(entity, agents):
                    premis.add_event(event)
                premis.add_agents(agents.values())

        meta = self._write_xml(rel, write)
        return [MdRef(meta, "PREMIS", new_id(), mdtype_version="3.0", label="PREMIS")]

    def _package_events(self, entity: Identifier, agents: dict[str, Agent]) -> list[Event]:
        software, org = agents["software"].identifier, agents["org"].identifier
        events: list[Event] = []
        digitized = self.hoso.digitized_at
        if digitized is not None:
            who = agents.get("digitizer", agents["org"]).identifier
            events.append(
                Event(
                    Identifier("UUID", new_id()),
                    "transfer",
                    timestamp(digitized),
                    "Số hóa tài liệu (digitization of the paper hồ sơ, TT05 Art. 8)",
                    "success",
                    f"mã hồ sơ giấy: {self.hoso.fields.get('paperFileCode', '')}",
                    [(who, "implementer")],
                    [entity],
                )
            )
        events.append(
            Event(
                Identifier("UUID", new_id()),
                "validation",
                self.created,
                "descriptive metadata checked against the TT05 JSON Schemas and rules",
                "success",
                "0 errors",
                [(software, "executing program")],
                [entity],
            )
        )
        events.extend(self.provenance)
        event_type = "information package creation" if self.provenance else "ingestion"
        events.append(
            Event(
                Identifier("UUID", new_id()),
                event_type,
                self.created,
                f"AIP_hoso built by {SOFTWARE_NAME} {__version__}; self-validated before storage",
                "success",
                self.objid,
                [(software, "executing program"), (org, "implementer")],
                [entity],
            )
        )
        return events

    # final check -----------------------------------------------------------------------------
    def self_check(self, stage: Path) -> None:
        known = {rel: (size, digests["sha256"]) for rel, (size, digests) in self.written.entries.items()}
        report = validate_package(self.root, known=known)
        problems = list(report.problems)
        if self.profile.with_premis:
            expected = {
                f"data/{rel}": (size, digests) for rel, (size, digests) in self.written.entries.items()
            }
            problems += check_bag_against(stage, expected)
        if problems:
            raise InvalidPackageError(str(stage), problems)


def _relative(ref: MdRef, base: str) -> MdRef:
    return MdRef(
        _relative_file(ref.file, base),
        ref.mdtype,
        ref.section_id,
        ref.mdtype_version,
        ref.other_mdtype,
        ref.label,
    )


def _relative_file(f: MetsFile, base: str) -> MetsFile:
    href = f.href[len(base) + 1 :] if f.href.startswith(base + "/") else f.href
    return MetsFile(
        f.id,
        href,
        f.mimetype,
        f.size,
        f.created,
        f.checksum,
        f.checksum_type,
        f.format_name,
        f.format_version,
        f.puid,
    )


def _doc_label(hoso: HoSo, doc: Document, kind: PackageKind) -> str:
    return hoso.doc_code(doc, kind)


def _mimetype(rel: str, ident: Identification | None) -> str:
    if ident is not None and ident.mime_type:
        return ident.mime_type.split(",")[0].strip()
    guessed, _ = mimetypes.guess_type(rel)
    return guessed or "application/octet-stream"


def _premis_format(ident: Identification | None) -> FileFormat:
    if ident is None or ident.puid is None:
        note = ident.note if ident is not None else "not identified"
        return FileFormat("Unknown", note=f"no PRONOM identification: {note}")
    return FileFormat(
        ident.format_name or ident.puid,
        ident.format_version,
        ident.puid,
        note=f"basis={ident.basis}; status={ident.status}; {ident.note}".strip("; "),
    )


def _check_expected(item: PayloadItem, record: FileRecord, expected: Mapping[str, str]) -> None:
    want = expected.get(item.original_name)
    if want is not None and want.lower() != record.digests["sha256"]:
        raise InvalidPackageError(
            item.original_name,
            [
                Problem(
                    item.original_name,
                    "the producer's SHA-256 does not match the file",
                    value=want,
                    rule="fixity",
                )
            ],
        )


def _package_summary(ctx: _BuildContext, records: Sequence[FileRecord]) -> Iterator[str]:
    hoso = ctx.hoso
    yield f"Gói thông tin / Information package: {ctx.profile.package_type}_hoso (TT05, E-ARK CSIP 2.0.4)"
    yield f"OBJID: {ctx.objid}"
    yield f"Mã hồ sơ / File code: {ctx._file_code()}"
    yield f"Tiêu đề hồ sơ / Title: {hoso.title}"
    yield f"Phông / Fonds: {hoso.fonds.get('fondsCode', '')} {hoso.fonds.get('fondsName', '')}"
    yield f"Cơ quan lưu trữ / Archive: {hoso.fonds.get('organization', '')}"
    yield f"Số tài liệu / Documents: {len(hoso.documents)}; số tệp / files: {len(records)}"
    yield f"Tạo lúc / Created: {ctx.created} by {SOFTWARE_NAME} {__version__}"
    yield ""
    yield "Tệp dữ liệu / Data files (path, bytes, SHA-256, PRONOM):"
    for item, record in zip(ctx.items, records, strict=True):
        puid = (
            record.identification.puid if record.identification and record.identification.puid else "unknown"
        )
        yield f"{item.target_rel}\t{record.size}\t{record.digests['sha256']}\t{puid}"


# --- ingest and export --------------------------------------------------------------------------


def export_zip(package: Path, dest: Path) -> Path:
    """Write the plain TT05 ``.zip`` of a package (a bag's ``data/``, or a package folder).

    The zip holds one root folder named after the package; it is written beside ``dest`` under a
    temporary name and renamed when complete.
    """
    package = Path(package)
    root = package / "data" if (package / "bagit.txt").exists() else package
    if not (root / "METS.xml").is_file():
        raise UserInputError(f"{package}: not a package (no METS.xml)")
    dest = Path(dest)
    if dest.is_dir():
        dest = dest / f"{package.name}.zip"
    if dest.exists():
        raise UserInputError(f"{dest}: already exists")
    tmp = dest.with_name(f".{dest.name}.partial")
    tmp.unlink(missing_ok=True)
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as archive:
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames.sort()
            for name in sorted(filenames):
                path = Path(dirpath) / name
                arcname = f"{package.name}/{path.relative_to(root).as_posix()}"
                archive.write(path, arcname)
    with open(tmp, "rb") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, dest)
    return dest
