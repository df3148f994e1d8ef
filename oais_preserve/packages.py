"""SIP_hoso and AIP_hoso builders (TT05 Phụ lục III and I), ingest, and zip export.

One build reads each source file exactly once (copy + every digest + identification in the same
pass, fanned out over an Executor), writes METS / PREMIS / EAD as streams, validates the staged
package against the digests it computed, and only then renames it into place.
"""

from __future__ import annotations

import fcntl
import functools
import logging
import math
import mimetypes
import os
import re
import stat
import time
import unicodedata
import zipfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from datetime import datetime
from itertools import tee, zip_longest
from pathlib import Path, PurePosixPath
from typing import Any

from . import __version__
from .bag import PayloadEntry, encode_path, read_bag_info, write_bag_tags
from .description import HoSo, PackageKind, load_description
from .ead import (
    DOCUMENT_SCHEMAS,
    HOSO_SCHEMA,
    document_ead_filename,
    document_values,
    hoso_values,
    read_simpledc,
    render_checked,
)
from .errors import InvalidPackageError, PackageConflictError, Problem, UnsafePathError, UserInputError
from .executors import executor_or_open
from .fixity import METS_CHECKSUM_TYPE, FileJob, FileRecord, check_algorithms, iter_read_files, read_file
from .identify import identifier_versions
from .inventory import Entry, Inventory
from .mets import (
    DocumentLink,
    MdRef,
    MetsAgent,
    MetsFile,
    package_agents,
    write_package_mets,
    write_representation_mets,
)
from .packagewriter import REP_DIR, premis_ref, record_file, relative_ref, schema_sources, write_file
from .premis import (
    Agent,
    EntityObject,
    Event,
    FileFormat,
    FileObject,
    Identifier,
    PremisWriter,
    Relationship,
    organization_agent,
    tool_agent,
)
from .profile import (
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
from .qa import QaResult, premis_events
from .staging import HashingWriter, SyncBehind, filesystem_flusher, publish, staged_output
from .validate import ValidationReport, validate, validate_package
from .xmlcheck import ead_schema

log = logging.getLogger(__name__)

Progress = Callable[[str, int, int], None]  # (stage, done, total)


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


@dataclass(frozen=True, slots=True)
class PayloadItem:
    """One content file: where it comes from and where it goes in the package (kept small)."""

    source: str  # absolute path
    original_name: str
    target_rel: str  # package-relative, e.g. representations/rep1/data/X.pdf
    size: int | None = None


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
    qa: Sequence[QaResult] = (),
    events: Sequence[Event] = (),
) -> BuildResult:
    """Build an AIP_hoso bag from scans described by ``description`` (TT05 Art. 8(3)).

    ``qa``: digitization QA results (:mod:`oais_preserve.qa`) of the described files, recorded as
    one PREMIS ``validation`` event per file in the representation PREMIS. ``events``: further
    package-level PREMIS events (e.g. the ``migration`` of TT02 catalogue values).
    """
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
        provenance_extra=events,
        qa=qa,
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


# Characters that would end or escape the path of a URI (and controls): METS hrefs are plain
# relative paths, read as such by the E-ARK validator, so these become "_" in the package's name.
# The producer's name stays in PREMIS originalName.
_URI_UNSAFE = re.compile(r"[%#?\x00-\x1f\x7f]")


def target_rel(rel: str) -> str:
    """Where a described file goes: ``representations/rep1/data/<NFC base name>``."""
    name = rel.replace("\\", "/").rstrip("/").rpartition("/")[2]
    if name in ("", ".", ".."):
        raise UnsafePathError(f"{rel!r}: not a file name")
    return f"{REP_DIR}/data/{_URI_UNSAFE.sub('_', unicodedata.normalize('NFC', name))}"


@dataclass
class PayloadPlan:
    """Every described file, checked once up front; items are produced again, lazily, to copy.

    Only a set of names is kept between the check and the copy, not one record per file.
    """

    hoso: HoSo
    tree: _SourceTree
    count: int

    def items(self) -> Iterator[PayloadItem]:
        seen: set[str] = set()
        for rel in self.hoso.all_files():
            if rel not in seen:
                seen.add(rel)
                source, size = self.tree.find(rel)
                yield PayloadItem(str(source), rel, target_rel(rel), size)


def plan_payload(hoso: HoSo, source_dir: Path) -> PayloadPlan:
    """Check that every described file exists, is safe, and has its own place in the package.

    Names are NFC-normalized; two sources that collide after normalization (or case folding)
    are refused, as are symlinks, special files and paths leaving source_dir.
    """
    if not source_dir.is_dir():
        raise UserInputError(f"{source_dir}: source folder not found")
    tree = _SourceTree(source_dir)
    taken: dict[str, str] = {}
    for rel in hoso.all_files():
        key = target_rel(rel).casefold()
        if taken.get(key, rel) != rel:
            raise UnsafePathError(f"{rel!r} and {taken[key]!r} map to the same name in the package")
        if key not in taken:
            tree.find(rel)
            taken[key] = rel
    if not taken:
        raise UserInputError("the description lists no files: nothing to package")
    return PayloadPlan(hoso, tree, len(taken))


class _SourceTree:
    """Finds described files under the source folder, safely, resolving each folder only once."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self._folders: dict[str, str] = {}
        self._nfc_names: dict[str, dict[str, str]] = {}

    def find(self, rel: str) -> tuple[str, int]:
        """The file's path and size; refuses symlinks, special files and escapes.

        Paths are plain strings: this runs twice per file, and pathlib objects cost more than
        the system call.
        """
        folder_rel, _, name = rel.replace("\\", "/").rpartition("/")
        folder = self._folder(folder_rel, rel)
        path = os.path.join(folder, name)
        try:
            info = os.lstat(path)
        except FileNotFoundError:
            # Vietnamese names may be stored NFD on disk while the description is NFC (or vice versa).
            alias = self._by_nfc(folder).get(unicodedata.normalize("NFC", name))
            if alias is None:
                raise UserInputError(f"{rel}: file not found in {self.root}") from None
            path = os.path.join(folder, alias)
            info = os.lstat(path)
        if stat.S_ISLNK(info.st_mode):
            raise UnsafePathError(f"{rel}: symbolic links are refused")
        if not stat.S_ISREG(info.st_mode):
            raise UserInputError(f"{rel}: not a regular file")
        return path, info.st_size

    def _folder(self, folder_rel: str, rel: str) -> str:
        found = self._folders.get(folder_rel)
        if found is None:
            resolved = (self.root / folder_rel).resolve()
            if not resolved.is_relative_to(self.root):
                raise UnsafePathError(f"{rel}: leaves the source folder")
            found = self._folders[folder_rel] = str(resolved)
        return found

    def _by_nfc(self, folder: str) -> dict[str, str]:
        names = self._nfc_names.get(folder)
        if names is None:
            names = {unicodedata.normalize("NFC", entry): entry for entry in os.listdir(folder)}
            self._nfc_names[folder] = names
        return names


# --- the build ----------------------------------------------------------------------------------


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
    provenance_extra: Sequence[Event] = (),
    qa: Sequence[QaResult] = (),
) -> BuildResult:
    started = time.monotonic()
    algorithms = check_algorithms(algorithms)
    plan = plan_payload(hoso, source_dir)
    _check_qa_paths(hoso, qa)
    objid = objid or make_objid(
        profile.package_type,
        str(hoso.fonds.get("fondsCode", "")),
        package_uuid(profile.package_type, hoso.arc_file_code),
    )
    final = dest_dir / folder_name(objid)
    if final.parent.resolve() != dest_dir.resolve():
        raise UnsafePathError(f"{objid}: the package would not be written inside {dest_dir}")
    if final.exists():
        _drop_stale_lock(final)
        return _already_built(final, objid, profile, started, hoso)
    inventory_path = final.with_name(f".{final.name}.inventory")
    with (
        staged_output(final) as stage,
        Inventory(inventory_path) as inventory,
        executor_or_open(executor, workers) as pool,
    ):
        if final.exists():  # another run published it while we waited for the lock
            return _already_built(final, objid, profile, started, hoso)
        package_root = stage / "data" if profile.with_premis else stage
        ctx = _BuildContext(hoso, profile, objid, package_root, algorithms, inventory, progress, provenance)
        ctx.qa, ctx.extra_events = tuple(qa), tuple(provenance_extra)
        _timed("copy", ctx.copy_payload, plan, pool, expected)
        _timed("metadata", ctx.write_metadata)
        if profile.with_premis:
            bag_info = _bag_info(hoso, objid, profile)
            _timed("bag", write_bag_tags, stage, ctx.payload_entries(), bag_info, algorithms=algorithms)
        _timed("self-check", ctx.self_check, stage, pool)
        _timed("publish", publish, stage, final)
        count, data_bytes = inventory.totals()
    log.info("built %s %s (%d files, %d bytes)", profile.package_type, final, count, data_bytes)
    return BuildResult(final, objid, profile.package_type, count, data_bytes, time.monotonic() - started)


def _drop_stale_lock(final: Path) -> None:
    """A run killed between publishing and cleaning up leaves its scratch inventory and lock file.

    The package is in place, so no build of it will start again: once the lock is free (or gone),
    the leftovers are removed.
    """
    lock_path = final.with_name(f".{final.name}.lock")
    leftovers = list(final.parent.glob(f".{final.name}.inventory*"))
    if not lock_path.exists():
        for path in leftovers:
            path.unlink(missing_ok=True)
        return
    try:
        with open(lock_path, "a+b") as lock:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            for path in leftovers:
                path.unlink(missing_ok=True)
            lock_path.unlink(missing_ok=True)
    except OSError:
        pass  # held by a live process (BlockingIOError) or already gone: leave it


def _check_qa_paths(hoso: HoSo, qa: Sequence[QaResult]) -> None:
    described = {unicodedata.normalize("NFC", rel.replace("\\", "/")) for rel in hoso.all_files()}
    for result in qa:
        if unicodedata.normalize("NFC", result.path) not in described:
            raise UserInputError(f"{result.path}: QA result for a file the description does not list")


def _timed(stage: str, func: Callable[..., object], *args: Any, **kwargs: Any) -> None:
    started = time.monotonic()
    func(*args, **kwargs)
    log.debug("stage %s took %.3f s", stage, time.monotonic() - started)


def _already_built(final: Path, objid: str, profile: Profile, started: float, hoso: HoSo) -> BuildResult:
    """A re-run finds the package in place: it counts only if it is complete, valid and the same.

    The OBJID depends only on the hồ sơ's code, so a corrected catalogue (a new title, chế độ sử
    dụng 01 -> 03) lands on the same package: its descriptive records are compared with the ones
    this description would give, and any difference is an error, never a silent skip.
    """
    report = validate(final, verify=False)
    if not report.valid:
        raise InvalidPackageError(str(final), report.problems)
    differences = description_differences(final, hoso, "AIP" if profile.package_type == "AIP" else "SIP")
    if differences:
        raise PackageConflictError(str(final), differences)
    return BuildResult(
        final, objid, profile.package_type, 0, 0, time.monotonic() - started, skipped=True, report=report
    )


def description_differences(package: Path, hoso: HoSo, kind: PackageKind) -> list[str]:
    """How the EAD records of ``package`` (a bag or package folder) differ from ``hoso``'s, as
    ``"record: field, field"`` lines; empty when the package describes the hồ sơ as given."""
    root = package / "data" if (package / "bagit.txt").exists() else package
    expected = {"metadata/descriptive/EAD.xml": hoso_values(hoso, kind)}
    for doc in hoso.documents:
        name = document_ead_filename(hoso, doc, kind)
        expected[f"{REP_DIR}/metadata/descriptive/{name}"] = document_values(hoso, doc, kind)
    present = {"metadata/descriptive/EAD.xml"} | {
        f"{REP_DIR}/metadata/descriptive/{p.name}"
        for p in (root / REP_DIR / "metadata" / "descriptive").glob("EAD_*.xml")
    }
    differences = []
    for rel in sorted(expected.keys() | present):
        name = PurePosixPath(rel).name
        if rel not in expected:
            differences.append(f"{name}: không còn trong mục lục (no longer in the catalogue)")
        elif rel not in present or not (root / rel).is_file():
            differences.append(f"{name}: chưa có trong gói (not in the package)")
        else:
            recorded = read_simpledc(root / rel)
            wanted = {field: value.strip() for field, value in expected[rel]}
            changed = [
                f for f in dict.fromkeys([*wanted, *recorded]) if wanted.get(f, "") != recorded.get(f, "")
            ]
            if changed:
                differences.append(f"{name}: {', '.join(changed)}")
    return differences


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
    """One package build: writes the files and records each one in the inventory."""

    def __init__(
        self,
        hoso: HoSo,
        profile: Profile,
        objid: str,
        root: Path,
        algorithms: Sequence[str],
        inventory: Inventory,
        progress: Progress | None,
        provenance: Sequence[Event],
    ) -> None:
        self.hoso, self.profile, self.objid, self.root = hoso, profile, objid, root
        self.algorithms, self.inventory = algorithms, inventory
        self.progress, self.provenance = progress, provenance
        self.created = timestamp()
        self.qa: tuple[QaResult, ...] = ()
        self.extra_events: tuple[Event, ...] = ()
        self.kind: PackageKind = "AIP" if profile.package_type == "AIP" else "SIP"

    # payload ---------------------------------------------------------------------------------
    def copy_payload(
        self, plan: PayloadPlan, pool: Executor | None, expected: Mapping[str, str] | None
    ) -> None:
        """Copy, hash and identify every content file in one read each, recording the results."""
        items, jobs = tee(plan.items())
        read = iter_read_files(
            (FileJob(Path(i.source), self.root / i.target_rel, size_hint=i.size) for i in jobs),
            self.algorithms,
            executor=pool,
        )
        # The copies reach the disk while the workers go on, not all at once when publishing.
        sync = SyncBehind(filesystem_flusher(self.root))
        try:
            self._record_copies(plan, zip(items, read, strict=True), expected, sync)
        except BaseException:
            sync.stop()
            raise
        sync.finish()

    def _record_copies(
        self,
        plan: PayloadPlan,
        copies: Iterator[tuple[PayloadItem, FileRecord]],
        expected: Mapping[str, str] | None,
        sync: SyncBehind,
    ) -> None:
        for done, (item, record) in enumerate(copies, start=1):
            sync.wrote(record.size)
            if expected is not None:
                _check_expected(item, record, expected)
            self.inventory.add_data(
                item.target_rel,
                record.size,
                record.digests,
                file_id=new_id("ID-"),
                original=item.original_name,
                mtime=record.mtime,
                ident=record.identification,
            )
            if self.progress:
                self.progress("copy", done, plan.count)

    def payload_entries(self) -> Iterator[PayloadEntry]:
        for entry in self.inventory.entries(order_by_path=True):
            digests = {a: entry.digests[a] for a in self.algorithms if a in entry.digests}
            yield PayloadEntry(f"data/{entry.rel}", entry.size, digests)

    # metadata --------------------------------------------------------------------------------
    def _digests_of(self, rel: str, sha256: str) -> dict[str, str]:
        if len(self.algorithms) == 1:
            return {"sha256": sha256}
        return read_file(FileJob(self.root / rel, identify=False), self.algorithms).digests

    def _write_xml(
        self, rel: str, writer: Callable[[HashingWriter], object], mimetype: str = "application/xml"
    ) -> MetsFile:
        meta = write_file(self.root, rel, writer, mimetype, self.created)
        self.inventory.add_meta(rel, meta.size, self._digests_of(rel, meta.checksum))
        return meta

    def _record_file(self, rel: str, mimetype: str, source: Path | None = None) -> MetsFile:
        """Hash a small file we wrote (EAD) or copy one in (schemas) and record it."""
        meta, record = record_file(self.root, rel, mimetype, self.created, self.algorithms, source)
        self.inventory.add_meta(rel, record.size, record.digests)
        return meta

    def write_metadata(self) -> None:
        agents = self._mets_agents()
        doc_refs, links = self._document_records()
        rep_premis = self._rep_premis() if self.profile.with_premis else []
        rep_mets = self._write_xml(
            f"{REP_DIR}/METS.xml",
            lambda out: write_representation_mets(
                out,
                profile=self.profile,
                representation=REPRESENTATION,
                created=self.created,
                agents=agents,
                descriptive=[relative_ref(r, REP_DIR) for r in doc_refs],
                preservation=[relative_ref(r, REP_DIR) for r in rep_premis],
                data_files=self._data_files,
                links=links,
            ),
        )
        hoso_ead = self._ead("metadata/descriptive/EAD.xml", hoso_values(self.hoso, self.kind), HOSO_SCHEMA)
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
        documentation = [self._write_xml("documentation/thong-tin-goi.txt", self._summary, "text/plain")]
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
                alt_ids=[("REFERENCECODE", self.hoso.code_for(self.kind))],
                descriptive=descriptive,
                preservation=preservation,
                documentation=documentation,
                schemas=schemas,
                representation_mets=rep_mets,
                representation=REPRESENTATION,
            ),
        )

    def _data_files(self) -> Iterator[MetsFile]:
        """The representation's content files, streamed from the inventory (hrefs relative to rep1)."""
        prefix = REP_DIR + "/"
        for entry in self.inventory.entries("data"):
            created = _modified_stamp(math.floor(entry.mtime)) if entry.mtime else self.created
            yield MetsFile(
                entry.file_id or new_id("ID-"),
                entry.rel.removeprefix(prefix),
                _mimetype(entry),
                entry.size,
                created,
                entry.sha256,
                format_name=entry.format_name,
                format_version=entry.format_version,
                puid=entry.puid,
            )

    def _ead(self, rel: str, pairs: list[tuple[str, str]], schema_name: str) -> MetsFile:
        """Render a simpledc record, check it against our strict XSD in memory, write it once."""
        body = render_checked(pairs, ead_schema(schema_name), rel)
        return self._write_xml(rel, lambda out: out.write(body))

    def _document_records(self) -> tuple[list[MdRef], list[DocumentLink]]:
        refs: list[MdRef] = []
        links: list[DocumentLink] = []
        whole = [target_rel(f) for f in self.hoso.files]
        for doc in self.hoso.documents:
            name = document_ead_filename(self.hoso, doc, self.kind)
            rel = f"{REP_DIR}/metadata/descriptive/{name}"
            meta = self._ead(rel, document_values(self.hoso, doc, self.kind), DOCUMENT_SCHEMAS[doc.kind])
            label = self.hoso.doc_code(doc, self.kind)
            ref = MdRef(
                meta,
                self.profile.descriptive_mdtype,
                new_id(),
                mdtype_version=self.profile.descriptive_mdtype_version,
                label=label,
            )
            refs.append(ref)
            targets = [target_rel(f) for f in doc.files] or whole
            links.append(DocumentLink(label, ref.section_id, [self.inventory.file_id(t) for t in targets]))
        return refs, links

    def _summary(self, out: HashingWriter) -> None:
        for line in _package_summary(self):
            out.write((line + "\n").encode("utf-8"))

    def _schemas(self) -> list[MetsFile]:
        sources = schema_sources(self.hoso.kinds_used(), with_premis=self.profile.with_premis)
        return [self._record_file(f"schemas/{src.name}", XSD_MIMETYPE, source=src) for src in sources]

    def _mets_agents(self) -> list[MetsAgent]:
        hoso = self.hoso
        return package_agents(
            software_version=__version__,
            fonds_name=hoso.fonds_name,
            fonds_code=hoso.fonds_code,
            organization=hoso.organization,
            archive_code=hoso.archive_code,
        )

    # PREMIS ----------------------------------------------------------------------------------
    def _agents(self) -> dict[str, Agent]:
        hoso = self.hoso
        fido, signatures = identifier_versions()
        agents = {
            "software": tool_agent(SOFTWARE_NAME, __version__, "TT05 / E-ARK packager"),
            "fido": tool_agent("fido", fido, f"signatures: {signatures}"),
            "org": organization_agent(hoso.archive_code, hoso.organization),
        }
        digitizer = hoso.digitized_by
        if digitizer and digitizer != hoso.organization:
            agents["digitizer"] = Agent(
                Identifier("local", f"digitizer:{digitizer}"), digitizer, "organization"
            )
        return agents

    def _rep_premis(self) -> list[MdRef]:
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
                for entry in self.inventory.entries("data"):
                    premis.add_file(self._file_object(entry, rep_id))
                for event in self._rep_events(rep_id, agents):
                    premis.add_event(event)
                qa_objects = [Identifier("local", target_rel(r.path)) for r in self.qa]
                for event in premis_events(self.qa, qa_objects, agents["software"].identifier, self.created):
                    premis.add_event(event)
                premis.add_agents([agents["software"], agents["fido"]])

        meta = self._write_xml(rel, write)
        return [premis_ref(meta)]

    def _file_object(self, entry: Entry, rep_id: Identifier) -> FileObject:
        digests = [(METS_CHECKSUM_TYPE[a], entry.digests[a]) for a in self.algorithms]
        return FileObject(
            Identifier("local", entry.rel),
            entry.size,
            digests,
            _premis_format(entry),
            entry.original or entry.rel,
            entry.rel,
            digest_originator=SOFTWARE_NAME,
            relationships=[Relationship("structural", "is included in", [rep_id])],
        )

    def _rep_events(self, rep_id: Identifier, agents: dict[str, Agent]) -> list[Event]:
        software, fido = agents["software"].identifier, agents["fido"].identifier
        count, _size = self.inventory.totals()
        by_status = self.inventory.status_counts()
        summary = ", ".join(f"{k}: {v}" for k, v in by_status.items())
        tool = identifier_versions()
        clean = "unknown" not in by_status and "incomplete" not in by_status
        algorithms = ",".join(METS_CHECKSUM_TYPE[a] for a in self.algorithms)
        return [
            Event(
                Identifier("UUID", new_id()),
                "message digest calculation",
                self.created,
                f"program={SOFTWARE_NAME}; version={__version__}; algorithms={algorithms};"
                " computed while copying (single read)",
                "success",
                f"{count} files; digests in each file object",
                [(software, "executing program")],
                [rep_id],
            ),
            Event(
                Identifier("UUID", new_id()),
                "format identification",
                self.created,
                f"program=fido; version={tool[0]}; signature={tool[1]};"
                f" matcher={SOFTWARE_NAME} {__version__}",
                "success" if clean else "warning",
                f"{count} files: {summary}; PUID and match basis in each file object",
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
        return [premis_ref(meta)]

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
        events.extend(self.extra_events)
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
    def self_check(self, stage: Path, pool: Executor | None) -> None:
        """Validate the staged package with the digests computed while copying (no re-read)."""
        # EAD records were validated in memory as they were written (see _ead).
        report = validate_package(self.root, known=self.inventory, check_ead=False, executor=pool)
        problems = list(report.problems)
        if self.profile.with_premis:
            problems += self._check_bag(stage)
        if problems:
            raise InvalidPackageError(str(stage), problems)

    def _check_bag(self, stage: Path) -> list[Problem]:
        """The bag's manifests and Payload-Oxum against the inventory, streamed line by line.

        Both are in path order, so they are compared as a merge: memory does not grow with the
        file count (the general validator, :func:`bag.validate_bag`, indexes every entry). Tag
        files are small and are re-hashed by the bag check below.
        """
        problems: list[Problem] = []
        for algorithm in self.algorithms:
            name = f"manifest-{algorithm}.txt"
            with open(stage / name, encoding="utf-8") as manifest:
                expected = (
                    f"{entry.digests[algorithm]}  {encode_path('data/' + entry.rel)}\n"
                    for entry in self.inventory.entries(order_by_path=True)
                )
                for number, (line, want) in enumerate(zip_longest(manifest, expected), start=1):
                    if line != want:
                        problems.append(
                            Problem(
                                name,
                                f"line {number} disagrees with the files written",
                                value=(line or "").strip(),
                                rule="manifest",
                            )
                        )
                        break
        count = sum(self.inventory.totals(kind)[0] for kind in ("data", "meta"))
        octets = sum(self.inventory.totals(kind)[1] for kind in ("data", "meta"))
        oxum = read_bag_info(stage).get("Payload-Oxum", [""])[0]
        if oxum != f"{octets}.{count}":
            problems.append(
                Problem(
                    "bag-info.txt", "Payload-Oxum disagrees with the files written", value=oxum, rule="oxum"
                )
            )
        return problems + self._check_tag_manifests(stage)

    def _check_tag_manifests(self, stage: Path) -> list[Problem]:
        """Every top-level tag file is listed in each tag manifest with its true digest."""
        problems: list[Problem] = []
        tag_files = sorted(
            p.name for p in stage.iterdir() if p.is_file() and not p.name.startswith("tagmanifest-")
        )
        for algorithm in self.algorithms:
            name = f"tagmanifest-{algorithm}.txt"
            listed: dict[str, str] = {}
            for line in (stage / name).read_text(encoding="utf-8").splitlines():
                digest, _, path = line.partition("  ")
                listed[path] = digest
            for tag in tag_files:
                actual = read_file(FileJob(stage / tag, identify=False), (algorithm,)).digests[algorithm]
                if listed.get(tag) != actual:
                    problems.append(Problem(tag, f"missing from or wrong in {name}", rule="tag-changed"))
        return problems


@functools.lru_cache(maxsize=4096)
def _modified_stamp(seconds: int) -> str:
    """A file's modification time as a TT05 timestamp (whole seconds). Cached: files copied
    together share their seconds, and the METS lists every file twice."""
    return timestamp(datetime.fromtimestamp(seconds))


def _mimetype(entry: Entry) -> str:
    if entry.mime:
        return entry.mime.split(",")[0].strip()
    guessed, _ = mimetypes.guess_type(entry.rel)
    return guessed or "application/octet-stream"


def _premis_format(entry: Entry) -> FileFormat:
    if entry.puid is None:
        return FileFormat("Unknown", note=f"no PRONOM identification: {entry.note or entry.status or ''}")
    note = "; ".join(x for x in (f"basis={entry.basis}", f"status={entry.status}", entry.note) if x)
    return FileFormat(entry.format_name or entry.puid, entry.format_version, entry.puid, note=note)


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


def _package_summary(ctx: _BuildContext) -> Iterator[str]:
    hoso = ctx.hoso
    count, size = ctx.inventory.totals()
    yield f"Gói thông tin / Information package: {ctx.profile.package_type}_hoso (TT05, E-ARK CSIP 2.0.4)"
    yield f"OBJID: {ctx.objid}"
    yield f"Mã hồ sơ / File code: {hoso.code_for(ctx.kind)}"
    yield f"Tiêu đề hồ sơ / Title: {hoso.title}"
    yield f"Phông / Fonds: {hoso.fonds_code} {hoso.fonds_name}"
    yield f"Cơ quan lưu trữ / Archive: {hoso.organization}"
    yield f"Số tài liệu / Documents: {len(hoso.documents)}; số tệp / files: {count}; bytes: {size}"
    yield f"Tạo lúc / Created: {ctx.created} by {SOFTWARE_NAME} {__version__}"
    yield ""
    yield "Tệp dữ liệu / Data files (path, bytes, SHA-256, PRONOM):"
    for entry in ctx.inventory.entries("data"):
        yield f"{entry.rel}\t{entry.size}\t{entry.sha256}\t{entry.puid or 'unknown'}"


# --- ingest and export --------------------------------------------------------------------------


def export_zip(package: Path, dest: Path) -> Path:
    """Write the plain TT05 ``.zip`` of a package (a bag's ``data/``, or a package folder).

    ``dest`` is a ``.zip`` path or a folder (``<package name>.zip`` inside it). The zip holds one
    root folder named after the package; it is written under a temporary name and renamed when
    complete. Symlinks inside the package are refused, never followed.
    """
    package = Path(package).resolve()
    root = package / "data" if (package / "bagit.txt").exists() else package
    if not (root / "METS.xml").is_file():
        raise UserInputError(f"{package}: not a package (no METS.xml)")
    dest = Path(dest)
    if dest.suffix.lower() != ".zip":  # a folder to put it in
        dest.mkdir(parents=True, exist_ok=True)
        dest = dest / f"{package.name}.zip"
    if dest.resolve().is_relative_to(package):
        raise UserInputError(f"{dest}: the zip cannot be written inside the package it holds")
    if dest.exists():
        raise UserInputError(f"{dest}: already exists")
    tmp = dest.with_name(f".{dest.name}.partial")
    try:
        _write_zip(root, package.name, tmp)
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
    return dest


def _write_zip(root: Path, name: str, target: Path) -> None:
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as archive:
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames.sort()
            for entry in sorted(filenames):
                path = Path(dirpath) / entry
                if not path.is_file() or path.is_symlink():
                    raise UnsafePathError(f"{path}: not a regular file (symlinks are refused)")
                archive.write(path, f"{name}/{path.relative_to(root).as_posix()}")
    with open(target, "rb") as fh:
        os.fsync(fh.fileno())
