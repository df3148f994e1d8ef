"""DIP: access copies of an AIP_hoso, packed as a TT05 / E-ARK DIP (Phụ lục V) with an HTML viewer.

Steps: validate the AIP (every digest re-checked unless ``verify=False``); read its METS and EAD
records; decide, document by document, what the access policy lets out (:class:`AccessPolicy`);
make the access copies and thumbnails once per master (:mod:`oais_preserve.derivatives`, cached
by digest, fanned out over an Executor); write the DIP (new OBJID, DIP profile, descriptive
metadata carried over unchanged with ``STATUS=CURRENT``, PREMIS with derivation relationships,
one ``creation`` event per derivative and the access environment); validate it; and only then
rename it into place.

Nothing about a document the policy keeps out is written anywhere in the DIP: not its record,
file names, codes, digests or content. The documentation lists it by position and reason only.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import tempfile
import time
import unicodedata
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Executor, Future
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from . import __version__
from .codes import CODE_LISTS
from .derivatives import (
    DerivativeError,
    DerivativeSet,
    DerivativeSettings,
    Output,
    configure_worker,
    make_derivatives,
    master_kind,
    tool_versions,
)
from .ead import read_simpledc
from .errors import InvalidPackageError, Problem, UnsafePathError, UserInputError
from .executors import process_pool
from .fixity import FileJob, read_file
from .mets import (
    DocumentLink,
    MdRef,
    MetsAgent,
    MetsFile,
    package_agents,
    write_package_mets,
    write_representation_mets,
)
from .metsread import MetsModel, read_mets
from .packagewriter import REP_DIR, premis_ref, record_file, relative_ref, schema_sources, write_file
from .premis import (
    Agent,
    EntityObject,
    Environment,
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
    DIP_HOSO,
    REPRESENTATION,
    SOFTWARE_NAME,
    XSD_MIMETYPE,
    folder_name,
    new_id,
    package_uuid,
    timestamp,
)
from .staging import HashingWriter, publish, staged_output
from .validate import ValidationReport, extracted_zip, validate, validate_package
from .viewer import (
    ViewerDocument,
    ViewerImage,
    ViewerPage,
    display_value,
    document_title,
    href,
    render_viewer,
)

log = logging.getLogger(__name__)

Progress = Callable[[str, int, int], None]  # (stage, done, total)
VIEWER = "documentation/index.html"
SUMMARY = "documentation/thong-tin-goi.txt"
_KIND_BY_PREFIX = (("EAD_DOC", "doc"), ("EAD_PIC", "pic"), ("EAD_MEDIA", "media"))
_MODE_RANK = {"01": 0, "02": 1, "03": 2}


# --- access policy ------------------------------------------------------------------------------


@dataclass(frozen=True)
class AccessDecision:
    included: bool
    mode: str  # the effective chế độ sử dụng: the stricter of the hồ sơ's and the document's
    reason: str  # Vietnamese, with the English in brackets: shown to readers and in PREMIS


@dataclass(frozen=True)
class AccessPolicy:
    """Which documents a DIP may carry, from chế độ sử dụng (``mode``) and explicit overrides.

    * ``01`` Công khai: included.
    * ``02`` Sử dụng có điều kiện: excluded unless ``allow_conditional`` (the reader's permission
      was granted) or an ``include`` override names the document.
    * ``03`` Mật: excluded unless ``include_restricted``; an ``include`` override alone is refused.
    * ``overrides`` maps a document (its docOrdinal as text, or its Mã lưu trữ tài liệu) to
      ``"include"`` or ``"exclude"``; ``exclude`` always wins (e.g. personal data in a public file).

    A document's effective mode is the stricter of its own and its hồ sơ's: a document filed in a
    secret hồ sơ is secret. ``note`` (who allowed what, and why) is recorded in PREMIS.
    """

    allow_conditional: bool = False
    include_restricted: bool = False
    overrides: Mapping[str, str] = field(default_factory=dict)
    note: str | None = None

    def __post_init__(self) -> None:
        for key, value in self.overrides.items():
            if value not in ("include", "exclude"):
                raise UserInputError(
                    f"access override for {key!r} must be 'include' or 'exclude', not {value!r}"
                )

    def decide(self, hoso_mode: str, doc_mode: str | None, keys: Sequence[str]) -> AccessDecision:
        mode = max((hoso_mode, doc_mode or hoso_mode), key=lambda m: _MODE_RANK.get(m, 2))
        # A document has several names (ordinal, code); an exclude under any of them wins.
        named = {self.overrides[k] for k in keys if k in self.overrides}
        override = "exclude" if "exclude" in named else ("include" if named else None)
        label = CODE_LISTS["mode"].get(mode, "không rõ")
        if override == "exclude":
            return AccessDecision(False, mode, "loại trừ theo yêu cầu (excluded by an override)")
        if mode == "01":
            return AccessDecision(True, mode, f"chế độ sử dụng {mode} {label} (open)")
        if mode == "02":
            if self.allow_conditional or self.include_restricted or override == "include":
                return AccessDecision(True, mode, f"chế độ sử dụng {mode} {label}: được phép (permitted)")
            return AccessDecision(
                False, mode, f"chế độ sử dụng {mode} {label}: cần được phép (conditional use, not permitted)"
            )
        if self.include_restricted:
            return AccessDecision(
                True, mode, f"chế độ sử dụng {mode} {label}: đưa vào theo --include-restricted"
            )
        if override == "include":
            raise UserInputError(
                f"document {keys[0]}: chế độ sử dụng {mode} ({label}) needs include_restricted, "
                "an include override is not enough"
            )
        return AccessDecision(False, mode, f"chế độ sử dụng {mode} {label} (restricted)")

    def describe(self) -> str:
        parts = [
            f"allow_conditional={str(self.allow_conditional).lower()}",
            f"include_restricted={str(self.include_restricted).lower()}",
        ]
        if self.overrides:
            parts.append("overrides=" + ",".join(f"{k}:{v}" for k, v in sorted(self.overrides.items())))
        return "; ".join(parts)


# --- the AIP as read back -----------------------------------------------------------------------


@dataclass(frozen=True)
class SourceFile:
    rel: str  # package-relative path in the AIP, e.g. representations/rep1/data/X.pdf
    size: int
    sha256: str
    mimetype: str
    puid: str | None

    @property
    def name(self) -> str:
        return PurePosixPath(self.rel).name


@dataclass(frozen=True)
class SourceDocument:
    ordinal: int
    code: str  # Mã lưu trữ tài liệu (the structMap label)
    kind: str
    ead_rel: str
    fields: dict[str, str]
    files: tuple[SourceFile, ...]


@dataclass(frozen=True)
class SourceAip:
    root: Path
    objid: str
    hoso_ead_rel: str
    hoso_fields: dict[str, str]
    fonds_code: str
    fonds_name: str
    organization: str
    archive_code: str
    documents: tuple[SourceDocument, ...]
    # Files no document links to (e.g. the whole-hồ sơ scan MÃ_HỒ_SƠ.pdf): they hold every
    # document of the hồ sơ, so they go out only when no document is excluded (see plan_dip).
    unlinked: tuple[SourceFile, ...]

    @property
    def code(self) -> str:
        return self.hoso_fields.get("arcFileCode", "") or self.objid

    @property
    def title(self) -> str:
        return self.hoso_fields.get("title", "") or self.code


def read_aip(root: Path) -> SourceAip:
    """The facts a DIP needs from an AIP_hoso package folder (a bag's ``data/``)."""
    problems: list[Problem] = []
    package = read_mets(root / "METS.xml", "METS.xml", problems)
    rep = read_mets(root / REP_DIR / "METS.xml", f"{REP_DIR}/METS.xml", problems)
    if problems:
        raise InvalidPackageError(str(root), problems)
    hoso_ead = next(
        (
            r.href
            for r in package.refs
            if r.kind == "dmdSec" and r.href and r.href.lower().endswith("ead.xml")
        ),
        None,
    )
    if hoso_ead is None:
        raise InvalidPackageError(
            str(root), [Problem("METS.xml", "no EAD.xml descriptive record", rule="DIP4")]
        )
    agents = _agents(package)
    files = {ref.id: _source_file(ref) for ref in rep.refs if ref.kind == "file" and ref.id and ref.href}
    documents, linked = _documents(root, rep, files)
    unlinked = tuple(f for fid, f in files.items() if fid not in linked)
    return SourceAip(
        root,
        package.attrs.get("OBJID", ""),
        hoso_ead,
        read_simpledc(root / hoso_ead),
        agents.get("ARCHIVIST", ("", ""))[1],
        agents.get("ARCHIVIST", ("", ""))[0],
        agents.get("PRESERVATION", ("", ""))[0],
        agents.get("PRESERVATION", ("", ""))[1],
        documents,
        unlinked,
    )


def _agents(model: MetsModel) -> dict[str, tuple[str, str]]:
    return {
        agent.get("ROLE", ""): (agent.get("name", ""), agent.get("note:IDENTIFICATIONCODE", ""))
        for agent in model.agents
        if agent.get("ROLE") in ("ARCHIVIST", "PRESERVATION")
    }


def _source_file(ref: Any) -> SourceFile:
    rel = f"{REP_DIR}/{ref.href}"
    return SourceFile(rel, int(ref.size or 0), (ref.checksum or "").lower(), ref.mimetype or "", ref.puid)


def _documents(
    root: Path, rep: MetsModel, files: Mapping[str, SourceFile]
) -> tuple[tuple[SourceDocument, ...], set[str]]:
    records = {ref.id: ref.href for ref in rep.refs if ref.kind == "dmdSec" and ref.id and ref.href}
    links = [div for div in rep.divs if div.dmdid and div.parent_label == "MetadataLink/File"]
    documents: list[SourceDocument] = []
    linked: set[str] = set()
    for position, div in enumerate(links, start=1):
        href = records.get(div.dmdid or "")
        if href is None:
            continue
        ead_rel = f"{REP_DIR}/{href}"
        name = PurePosixPath(href).name.upper()
        kind = next((k for prefix, k in _KIND_BY_PREFIX if name.startswith(prefix)), "doc")
        fields = read_simpledc(root / ead_rel)
        ordinal = int(fields["docOrdinal"]) if fields.get("docOrdinal", "").isdigit() else position
        doc_files = tuple(files[f] for f in div.fptr_ids if f in files)
        linked.update(f for f in div.fptr_ids if f in files)
        documents.append(SourceDocument(ordinal, div.label or "", kind, ead_rel, fields, doc_files))
    documents.sort(key=lambda d: d.ordinal)
    return tuple(documents), linked


# --- the result ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class DipResult:
    """What :func:`build_dip` produced (or found already complete, ``skipped``)."""

    path: Path
    objid: str
    aip_objid: str
    documents_included: int
    documents_excluded: int
    access_files: int
    thumbnails: int
    failed_masters: tuple[str, ...]
    derivatives_cached: int
    seconds: float
    skipped: bool = False
    report: ValidationReport | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "objid": self.objid,
            "aip_objid": self.aip_objid,
            "documents_included": self.documents_included,
            "documents_excluded": self.documents_excluded,
            "access_files": self.access_files,
            "thumbnails": self.thumbnails,
            "failed_masters": list(self.failed_masters),
            "derivatives_cached": self.derivatives_cached,
            "seconds": round(self.seconds, 3),
            "skipped": self.skipped,
        }


# --- public API ---------------------------------------------------------------------------------


def build_dip(
    aip: Path,
    dest_dir: Path,
    *,
    documents: Sequence[int | str] | None = None,
    policy: AccessPolicy | None = None,
    settings: DerivativeSettings | None = None,
    cache_dir: Path | None = None,
    verify: bool = True,
    workers: int | None = None,
    executor: Executor | None = None,
    progress: Progress | None = None,
    objid: str | None = None,
) -> DipResult:
    """Build a DIP of ``aip`` (an AIP_hoso bag, package folder or ``.zip``) in ``dest_dir``.

    ``documents`` selects documents by docOrdinal or Mã lưu trữ tài liệu (default: all the policy
    allows). ``cache_dir`` keeps derivatives between builds (default: a temporary folder).
    ``verify`` re-checks every AIP digest before anything is disseminated.
    """
    started = time.monotonic()
    policy = policy or AccessPolicy()
    settings = settings or DerivativeSettings()
    aip = Path(aip)
    dest_dir = Path(dest_dir)
    on_verify = (lambda done, total: progress("verify", done, total)) if progress else None
    report = validate(aip, verify=verify, executor=executor, progress=on_verify)
    if report.package_type != "AIP":
        raise UserInputError(f"{aip}: is {report.package_type or 'not a package'}, not an AIP")
    if not report.valid:
        raise InvalidPackageError(str(aip), report.problems)
    with ExitStack() as stack:
        root = _package_root(aip, stack)
        source = read_aip(root)
        plan = plan_dip(source, documents, policy)
        objid = objid or _dip_objid(source, plan, policy, settings)
        final = dest_dir / folder_name(objid)
        if final.exists():
            return _already_built(final, objid, source, started)
        cache = Path(cache_dir) if cache_dir else Path(stack.enter_context(tempfile.TemporaryDirectory()))
        with staged_output(final) as stage, _executor(workers, executor) as pool:
            if final.exists():
                return _already_built(final, objid, source, started)
            builder = _DipBuilder(source, plan, policy, settings, objid, stage, progress)
            builder.derive(cache, pool)
            builder.write()
            builder.self_check(pool)
            publish(stage, final)
    log.info("built DIP %s from %s", final, source.objid)
    return builder.result(final, time.monotonic() - started)


@contextmanager
def _executor(workers: int | None, executor: Executor | None) -> Iterator[Executor | None]:
    if executor is not None:
        yield executor
        return
    count = workers if workers is not None else (os.cpu_count() or 1)
    if count <= 1:
        yield None
        return
    # "spawn", not fork: a forked child of a process whose libvips threads are running can hang.
    context = multiprocessing.get_context("spawn")
    with process_pool(count, mp_context=context, initializer=configure_worker) as pool:
        yield pool


def _package_root(aip: Path, stack: ExitStack) -> Path:
    root = stack.enter_context(extracted_zip(aip)) if aip.is_file() else aip
    return root / "data" if (root / "bagit.txt").exists() else root


def _already_built(final: Path, objid: str, source: SourceAip, started: float) -> DipResult:
    report = validate(final, verify=False)
    if not report.valid:
        raise InvalidPackageError(str(final), report.problems)
    return DipResult(final, objid, source.objid, 0, 0, 0, 0, (), 0, time.monotonic() - started, True, report)


# --- planning -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlannedDocument:
    document: SourceDocument
    decision: AccessDecision
    requested: bool

    @property
    def included(self) -> bool:
        return self.requested and self.decision.included


@dataclass(frozen=True)
class DipPlan:
    documents: tuple[PlannedDocument, ...]
    masters: tuple[SourceFile, ...]  # masters to derive, in order, each once
    withheld_masters: int  # masters left out because they carry an excluded document
    hoso_decision: AccessDecision
    withheld_hoso_files: int = 0  # of those, hồ sơ-level files (no document links to them)

    @property
    def included(self) -> list[PlannedDocument]:
        return [p for p in self.documents if p.included]

    @property
    def excluded(self) -> list[PlannedDocument]:
        return [p for p in self.documents if not p.included]


def plan_dip(source: SourceAip, documents: Sequence[int | str] | None, policy: AccessPolicy) -> DipPlan:
    """Decide every document and master; refuses a DIP that would carry nothing.

    A master goes out only if every document it carries is allowed out: a master shared with an
    excluded document is withheld, and so is every hồ sơ-level file (one no document links to,
    such as the whole-hồ sơ scan), which carries all the documents of the hồ sơ.
    """
    hoso_mode = source.hoso_fields.get("mode", "03")  # no mode recorded: treat as the strictest
    hoso_decision = policy.decide(hoso_mode, None, [source.code])
    wanted = _selection(source, documents)
    planned = tuple(
        PlannedDocument(
            doc,
            policy.decide(hoso_mode, doc.fields.get("mode") or None, [str(doc.ordinal), doc.code]),
            wanted is None or doc.ordinal in wanted,
        )
        for doc in source.documents
    )
    # A master shared with a document that stays out would carry that document: withhold it.
    blocked = {f.rel for p in planned if not p.decision.included for f in p.document.files}
    masters: dict[str, SourceFile] = {}
    for p in planned:
        if p.included:
            for f in p.document.files:
                if f.rel not in blocked:
                    masters.setdefault(f.rel, f)
    withheld = len({f.rel for p in planned if p.included for f in p.document.files} & blocked)
    withheld_hoso = 0
    if hoso_decision.included and wanted is None:
        if any(not p.decision.included for p in planned):
            withheld_hoso = len({f.rel for f in source.unlinked})
        else:
            for f in source.unlinked:
                masters.setdefault(f.rel, f)
    if not masters:
        if not hoso_decision.included:
            raise UserInputError(
                f"{source.code}: hồ sơ is {hoso_decision.reason}; nothing may be disseminated"
            )
        raise UserInputError(f"{source.code}: the access policy and selection leave no file to disseminate")
    return DipPlan(planned, tuple(masters.values()), withheld + withheld_hoso, hoso_decision, withheld_hoso)


def _selection(source: SourceAip, documents: Sequence[int | str] | None) -> set[int] | None:
    if documents is None:
        return None
    by_key: dict[str, int] = {}
    for doc in source.documents:
        by_key[str(doc.ordinal)] = doc.ordinal
        by_key[doc.code] = doc.ordinal
    chosen: set[int] = set()
    for item in documents:
        key = str(item).strip()
        if key not in by_key:
            raise UserInputError(
                f"{source.code}: no document {key!r} (give a docOrdinal or Mã lưu trữ tài liệu)"
            )
        chosen.add(by_key[key])
    return chosen


def _dip_objid(source: SourceAip, plan: DipPlan, policy: AccessPolicy, settings: DerivativeSettings) -> str:
    """The same request on the same AIP gives the same DIP (a re-run finishes it); any change, a new one."""
    chosen = ",".join(str(p.document.ordinal) for p in plan.included)
    uid = package_uuid("DIP", source.objid, chosen, policy.describe(), repr(settings))
    return f"urn:{source.fonds_code}:uuid:{uid}" if source.fonds_code else f"urn:uuid:{uid}"


# --- the build ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Placed:
    """One derivative placed in the DIP."""

    rel: str  # package-relative
    output: Output
    master: SourceFile
    file_id: str
    record_size: int
    sha256: str
    puid: str | None
    format_name: str | None
    format_version: str | None


def _master_id(source: SourceAip, master: SourceFile) -> Identifier:
    """The master as the AIP's PREMIS names it, qualified by the AIP's OBJID."""
    return Identifier("local", f"{source.objid}/{master.rel}")


class _DipBuilder:
    def __init__(
        self,
        source: SourceAip,
        plan: DipPlan,
        policy: AccessPolicy,
        settings: DerivativeSettings,
        objid: str,
        root: Path,
        progress: Progress | None,
    ) -> None:
        self.source, self.plan, self.policy, self.settings = source, plan, policy, settings
        self.objid, self.root, self.progress = objid, root, progress
        self.created = timestamp()
        self.placed: dict[str, list[_Placed]] = {}  # master rel -> its derivatives in the DIP
        self.failed: dict[str, str] = {}  # master rel -> reason
        self.cached = 0
        self.known: dict[str, tuple[int, str]] = {}
        self.tools = tool_versions()
        self._names: set[str] = set()

    # derivatives -----------------------------------------------------------------------------
    def derive(self, cache: Path, pool: Executor | None) -> None:
        masters = self.plan.masters
        jobs: list[tuple[SourceFile, str | None, Future[DerivativeSet] | None]] = []
        for master in masters:
            kind = master_kind(master.name, master.mimetype)
            path = self.source.root / master.rel
            if kind is None:
                jobs.append((master, "no access copy is made for this format", None))
            elif pool is None:
                jobs.append((master, None, None))
            else:
                jobs.append(
                    (
                        master,
                        None,
                        pool.submit(make_derivatives, path, master.sha256, kind, self.settings, cache),
                    )
                )
        for done, (master, refused, future) in enumerate(jobs, start=1):
            try:
                if refused is not None:
                    raise DerivativeError(master.rel, refused)
                kind = master_kind(master.name, master.mimetype) or ""
                path = self.source.root / master.rel
                result = (
                    future.result()
                    if future
                    else make_derivatives(path, master.sha256, kind, self.settings, cache)
                )
                self._place(master, result)
            except DerivativeError as exc:
                self.failed[master.rel] = exc.reason
                log.warning("%s: skipped, %s", master.rel, exc.reason)
            if self.progress:
                self.progress("derivatives", done, len(jobs))
        if not self.placed:
            problems = [Problem(rel, reason, rule="derivative") for rel, reason in self.failed.items()]
            raise InvalidPackageError(str(self.source.root), problems or [Problem("DIP", "no access copy")])

    def _unique(self, rel: str, fallback: str) -> str:
        key = unicodedata.normalize("NFC", rel).casefold()
        if key in self._names:
            rel, key = fallback, unicodedata.normalize("NFC", fallback).casefold()
            if key in self._names:
                raise UnsafePathError(f"{rel}: two masters give the same access copy name")
        self._names.add(key)
        return rel

    def _place(self, master: SourceFile, result: DerivativeSet) -> None:
        """Copy one master's derivatives into the DIP under names derived from the master's."""
        if result.cached:
            self.cached += 1
        stem = PurePosixPath(master.name).stem
        placed: list[_Placed] = []
        for output in result.outputs:
            suffix = PurePosixPath(output.name).suffix
            if output.role == "access":
                rel = self._unique(f"{REP_DIR}/data/{stem}{suffix}", f"{REP_DIR}/data/{master.name}{suffix}")
            elif output.role == "thumbnail":
                rel = self._unique(
                    f"{REP_DIR}/data/thumbnails/{stem}.jpg", f"{REP_DIR}/data/thumbnails/{master.name}.jpg"
                )
            else:
                page = f"p{output.page:04d}"
                rel = self._unique(
                    f"{REP_DIR}/data/thumbnails/{stem}.{page}.jpg",
                    f"{REP_DIR}/data/thumbnails/{master.name}.{page}.jpg",
                )
            record = read_file(FileJob(result.path(output), self.root / rel), ("sha256",))
            sha = record.digests["sha256"]
            if sha != output.sha256:
                raise DerivativeError(str(result.path(output)), "cached derivative changed while copying")
            ident = record.identification
            self.known[rel] = (record.size, sha)
            placed.append(
                _Placed(
                    rel,
                    output,
                    master,
                    new_id("ID-"),
                    record.size,
                    sha,
                    ident.puid if ident else None,
                    ident.format_name if ident else None,
                    ident.format_version if ident else None,
                )
            )
        self.placed[master.rel] = placed

    # writing ---------------------------------------------------------------------------------
    def _copy(self, rel: str, source: Path, mimetype: str) -> MetsFile:
        meta, _record = record_file(self.root, rel, mimetype, self.created, ("sha256",), source)
        self.known[rel] = (meta.size, meta.checksum)
        return meta

    def _write(
        self, rel: str, writer: Callable[[HashingWriter], object], mimetype: str = "application/xml"
    ) -> MetsFile:
        meta = write_file(self.root, rel, writer, mimetype, self.created)
        self.known[rel] = (meta.size, meta.checksum)
        return meta

    def write(self) -> None:
        agents = self._mets_agents()
        doc_refs, links = self._document_records()
        rep_premis = self._rep_premis()
        rep_mets = self._write(
            f"{REP_DIR}/METS.xml",
            lambda out: write_representation_mets(
                out,
                profile=DIP_HOSO,
                representation=REPRESENTATION,
                created=self.created,
                agents=agents,
                descriptive=[relative_ref(r, REP_DIR) for r in doc_refs],
                preservation=[relative_ref(rep_premis, REP_DIR)],
                data_files=self._data_files,
                links=links,
            ),
        )
        hoso_ead = self._copy(
            "metadata/descriptive/EAD.xml", self.source.root / self.source.hoso_ead_rel, "application/xml"
        )
        descriptive = [
            MdRef(
                hoso_ead,
                DIP_HOSO.descriptive_mdtype,
                new_id(),
                DIP_HOSO.descriptive_mdtype_version,
                label="EAD",
            )
        ]
        preservation = [self._package_premis()]
        documentation = [
            self._write(VIEWER, lambda out: out.write(render_viewer(self._viewer_page())), "text/html"),
            self._write(SUMMARY, self._summary, "text/plain"),
        ]
        schemas = self._schemas()
        self._write(
            "METS.xml",
            lambda out: write_package_mets(
                out,
                profile=DIP_HOSO,
                objid=self.objid,
                label=self.source.title[:255],
                created=self.created,
                agents=agents,
                alt_ids=[("REFERENCECODE", self.source.code)],
                descriptive=descriptive,
                preservation=preservation,
                documentation=documentation,
                schemas=schemas,
                representation_mets=rep_mets,
                representation=REPRESENTATION,
            ),
        )

    def _mets_agents(self) -> list[MetsAgent]:
        s = self.source
        return package_agents(
            software_version=__version__,
            fonds_name=s.fonds_name,
            fonds_code=s.fonds_code,
            organization=s.organization,
            archive_code=s.archive_code,
        )

    def _document_records(self) -> tuple[list[MdRef], list[DocumentLink]]:
        refs: list[MdRef] = []
        links: list[DocumentLink] = []
        for planned in self.plan.included:
            doc = planned.document
            name = PurePosixPath(doc.ead_rel).name
            meta = self._copy(
                f"{REP_DIR}/metadata/descriptive/{name}", self.source.root / doc.ead_rel, "application/xml"
            )
            ref = MdRef(
                meta,
                DIP_HOSO.descriptive_mdtype,
                new_id(),
                DIP_HOSO.descriptive_mdtype_version,
                label=doc.code,
            )
            refs.append(ref)
            file_ids = [p.file_id for f in doc.files for p in self.placed.get(f.rel, [])]
            links.append(DocumentLink(doc.code, ref.section_id, file_ids))
        return refs, links

    def _all_placed(self) -> Iterator[_Placed]:
        for master in self.plan.masters:
            yield from self.placed.get(master.rel, [])

    def _data_files(self) -> Iterator[MetsFile]:
        for p in self._all_placed():
            yield MetsFile(
                p.file_id,
                p.rel.removeprefix(REP_DIR + "/"),
                p.output.mimetype,
                p.record_size,
                self.created,
                p.sha256,
                format_name=p.format_name,
                format_version=p.format_version,
                puid=p.puid,
            )

    def _schemas(self) -> list[MetsFile]:
        sources = schema_sources({p.document.kind for p in self.plan.included}, with_premis=True)
        return [self._copy(f"schemas/{src.name}", src, XSD_MIMETYPE) for src in sources]

    # PREMIS ----------------------------------------------------------------------------------
    def _agents(self) -> dict[str, Agent]:
        s, tools = self.source, self.tools
        return {
            "software": tool_agent(SOFTWARE_NAME, __version__, "TT05 / E-ARK DIP builder"),
            "libvips": tool_agent(
                "libvips", tools["libvips"], f"image processing, through pyvips {tools['pyvips']}"
            ),
            "pdfium": Agent(
                Identifier("local", f"pdfium-{tools['pdfium']}"),
                "PDFium",
                "software",
                tools["pdfium"],
                note=f"PDF page rendering, through pypdfium2 {tools['pypdfium2']}",
            ),
            "org": organization_agent(s.archive_code, s.organization),
        }

    def _rep_premis(self) -> MdRef:
        rel = f"{REP_DIR}/metadata/preservation/PREMIS_{REPRESENTATION}.xml"
        rep_id = Identifier("local", f"{self.objid}/{REPRESENTATION}")
        env_id = Identifier("local", f"{self.objid}/environment/web-browser")
        agents = self._agents()

        def write(out: HashingWriter) -> None:
            with PremisWriter(out) as premis:
                premis.add_entity(
                    EntityObject(
                        "representation",
                        rep_id,
                        storage_path=REP_DIR,
                        relationships=[
                            Relationship("structural", "is included in", [Identifier("URN", self.objid)]),
                            Relationship(
                                "derivation",
                                "has source",
                                [Identifier("local", f"{self.source.objid}/{REPRESENTATION}")],
                            ),
                            Relationship("dependency", "requires", [env_id]),
                        ],
                        significant_properties=[
                            (
                                "DIP representation format",
                                "JPEG (JFIF, sRGB) access copies of image masters; PDF masters as they are;"
                                " JPEG thumbnails; HTML viewer documentation/index.html",
                            )
                        ],
                    )
                )
                premis.add_entity(
                    EntityObject(
                        "intellectualEntity",
                        env_id,
                        original_name="Môi trường truy cập / access environment",
                        relationships=[Relationship("dependency", "is required by", [rep_id])],
                        environment=Environment(
                            "software",
                            "1",
                            "Web browser (HTML5) with a JPEG viewer and a PDF viewer",
                            "HTML5",
                            "Open documentation/index.html from the file system: no server, no network."
                            " Any current browser (Chromium, Firefox, Edge, Safari) shows it.",
                        ),
                    )
                )
                for placed in self._all_placed():
                    premis.add_file(self._file_object(placed, rep_id))
                for event in self._derivative_events(agents):
                    premis.add_event(event)
                premis.add_agents([agents["software"], agents["libvips"], agents["pdfium"]])

        meta = self._write(rel, write)
        return premis_ref(meta)

    def _file_object(self, placed: _Placed, rep_id: Identifier) -> FileObject:
        note = f"{placed.output.role}; {placed.output.parameters}"
        if placed.output.width:
            note += f"; {placed.output.width}x{placed.output.height} px"
        fmt = FileFormat(
            placed.format_name or placed.output.mimetype,
            placed.format_version,
            placed.puid or placed.master.puid if placed.output.mimetype == "application/pdf" else placed.puid,
            note=note,
        )
        return FileObject(
            Identifier("local", placed.rel),
            placed.record_size,
            [("SHA-256", placed.sha256)],
            fmt,
            PurePosixPath(placed.rel).name,
            placed.rel,
            digest_originator=SOFTWARE_NAME,
            relationships=[
                Relationship("structural", "is included in", [rep_id]),
                Relationship("derivation", "has source", [_master_id(self.source, placed.master)]),
            ],
        )

    def _derivative_events(self, agents: dict[str, Agent]) -> Iterator[Event]:
        software = agents["software"].identifier
        for master in self.plan.masters:
            source_id = _master_id(self.source, master)
            for placed in self.placed.get(master.rel, []):
                tool = agents["pdfium" if placed.output.role == "page-thumbnail" else "libvips"].identifier
                yield Event(
                    Identifier("UUID", new_id()),
                    "creation",
                    self.created,
                    f"{placed.output.role} of {master.rel} (SHA-256 {master.sha256});"
                    f" tool={placed.output.tool}; parameters={placed.output.parameters}",
                    "success",
                    placed.rel,
                    [(tool, "executing program"), (software, "implementer")],
                    [source_id, Identifier("local", placed.rel)],
                )
            if master.rel in self.failed:
                yield Event(
                    Identifier("UUID", new_id()),
                    "creation",
                    self.created,
                    f"access copy of {master.rel} (SHA-256 {master.sha256}); settings={self.settings!r}",
                    "failure",
                    f"{master.rel}: {self.failed[master.rel]}; the master was skipped, the AIP is unchanged",
                    [(agents["libvips"].identifier, "executing program"), (software, "implementer")],
                    [source_id],
                )

    def _package_premis(self) -> MdRef:
        rel = "metadata/preservation/PREMIS.xml"
        entity = Identifier("URN", self.objid)
        rep_id = Identifier("local", f"{self.objid}/{REPRESENTATION}")
        agents = self._agents()
        software, org = agents["software"].identifier, agents["org"].identifier

        def write(out: HashingWriter) -> None:
            with PremisWriter(out) as premis:
                premis.add_entity(
                    EntityObject(
                        "intellectualEntity",
                        entity,
                        original_name=self.source.code,
                        relationships=[
                            Relationship("structural", "includes", [rep_id]),
                            Relationship("derivation", "has source", [Identifier("URN", self.source.objid)]),
                        ],
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
                for event in self._package_events(entity, software, org):
                    premis.add_event(event)
                premis.add_agents([agents["software"], agents["org"]])

        meta = self._write(rel, write)
        return premis_ref(meta)

    def _package_events(self, entity: Identifier, software: Identifier, org: Identifier) -> list[Event]:
        plan = self.plan
        by_mode: dict[str, int] = {}
        for p in plan.excluded:
            key = "not requested" if not p.requested else p.decision.mode
            by_mode[key] = by_mode.get(key, 0) + 1
        excluded = ", ".join(f"{k}: {v}" for k, v in sorted(by_mode.items())) or "none"
        restricted_in = [p for p in plan.included if p.decision.mode == "03"]
        outcome_note = (
            f"{len(plan.included)} documents included, {len(plan.excluded)} excluded ({excluded});"
            f" {plan.withheld_masters} masters withheld because they carry an excluded document"
            f" ({plan.withheld_hoso_files} of them hồ sơ-level files)"
        )
        if self.policy.include_restricted:
            outcome_note += (
                f"; --include-restricted given: {len(restricted_in)} restricted (03) documents included"
            )
        if self.policy.note:
            outcome_note += f"; note: {self.policy.note}"
        source = Identifier("URN", self.source.objid)
        return [
            Event(
                Identifier("UUID", new_id()),
                "policy assignment",
                self.created,
                f"access policy applied (chế độ sử dụng): {self.policy.describe()}",
                "warning" if restricted_in else "success",
                outcome_note,
                [(software, "executing program"), (org, "authorizer")],
                [entity, source],
            ),
            Event(
                Identifier("UUID", new_id()),
                "dissemination",
                self.created,
                f"DIP built by {SOFTWARE_NAME} {__version__} from AIP {self.source.objid}; self-validated",
                "warning" if self.failed else "success",
                f"{sum(len(v) for v in self.placed.values())} derivative files;"
                f" {len(self.failed)} masters skipped (see PREMIS_{REPRESENTATION}.xml)",
                [(software, "executing program"), (org, "implementer")],
                [entity, source],
            ),
        ]

    # documentation ---------------------------------------------------------------------------
    def _excluded_lines(self) -> list[str]:
        """One line per document left out: its position and the reason, nothing that identifies it."""
        lines = []
        for p in self.plan.excluded:
            reason = p.decision.reason if p.requested else "không nằm trong yêu cầu (not requested)"
            lines.append(f"Tài liệu số thứ tự {p.document.ordinal}: {reason}")
        shared = self.plan.withheld_masters - self.plan.withheld_hoso_files
        if shared:
            lines.append(
                f"{shared} tệp dùng chung với tài liệu bị loại trừ không được đưa vào"
                " (files shared with an excluded document are withheld)"
            )
        if self.plan.withheld_hoso_files:
            lines.append(
                f"{self.plan.withheld_hoso_files} tệp của cả hồ sơ (không gắn với tài liệu nào) không được"
                " đưa vào vì chứa cả tài liệu bị loại trừ (hồ sơ-level files, e.g. the whole-hồ sơ scan,"
                " are withheld: they contain an excluded document)"
            )
        return lines

    def _viewer_page(self) -> ViewerPage:
        base = "../"
        docs = []
        for p in self.plan.included:
            doc = p.document
            images: list[ViewerImage] = []
            access: list[tuple[str, str]] = []
            problems: list[str] = []
            for f in doc.files:
                placed = self.placed.get(f.rel, [])
                access_copy = next((x for x in placed if x.output.role == "access"), None)
                if f.rel in self.failed:
                    problems.append(f"{f.name}: không tạo được bản sao truy cập ({self.failed[f.rel]})")
                if access_copy is None:
                    continue
                target = href(base + access_copy.rel)
                access.append((target, f"Bản sao truy cập: {PurePosixPath(access_copy.rel).name}"))
                for x in placed:
                    if x.output.role == "thumbnail":
                        images.append(ViewerImage(href(base + x.rel), target, f"{f.name}"))
                    elif x.output.role == "page-thumbnail":
                        page_target = href(base + access_copy.rel, f"page={x.output.page}")
                        images.append(ViewerImage(href(base + x.rel), page_target, f"Trang {x.output.page}"))
            docs.append(
                ViewerDocument(
                    doc.ordinal,
                    doc.code,
                    doc.kind,
                    document_title(doc.fields),
                    doc.fields,
                    images,
                    access,
                    problems,
                )
            )
        s = self.source
        return ViewerPage(
            s.title,
            s.code,
            self.objid,
            s.objid,
            self.created,
            s.organization,
            f"{s.fonds_code} {s.fonds_name}".strip(),
            s.hoso_fields,
            docs,
            self._excluded_lines(),
            (
                f"Tạo bởi {SOFTWARE_NAME} {__version__}; ảnh: libvips {self.tools['libvips']};"
                f" PDF: PDFium {self.tools['pdfium']}",
            ),
        )

    def _summary(self, out: HashingWriter) -> None:
        s = self.source
        lines = [
            "Gói thông tin truy cập / Dissemination information package: DIP"
            " (TT05 Phụ lục V, E-ARK DIP, CSIP 2.0.4)",
            f"OBJID: {self.objid}",
            f"Tạo từ AIP / From AIP: {s.objid}",
            f"Mã hồ sơ lưu trữ / File code: {s.code}",
            f"Tiêu đề hồ sơ / Title: {s.title}",
            f"Chế độ sử dụng hồ sơ / Access mode: {display_value('mode', s.hoso_fields.get('mode', ''))}",
            f"Chính sách truy cập / Access policy: {self.policy.describe()}",
            f"Tạo lúc / Created: {self.created} by {SOFTWARE_NAME} {__version__}",
            f"Xem / View: {VIEWER} (mở bằng trình duyệt, không cần mạng / open in a browser, no network)",
            "",
            f"Tài liệu đưa vào / Documents included: {len(self.plan.included)}",
        ]
        for p in self.plan.included:
            lines.append(f"  {p.document.ordinal}\t{p.document.code}\t{p.decision.reason}")
        lines += ["", f"Tài liệu không đưa vào / Documents excluded: {len(self.plan.excluded)}"]
        lines += [f"  {line}" for line in self._excluded_lines()]
        lines += ["", "Tệp không tạo được bản sao / Masters skipped:"]
        lines += [f"  {rel}: {reason}" for rel, reason in self.failed.items()] or ["  (none)"]
        lines += ["", "Tệp truy cập / Access files (path, bytes, SHA-256, role, source master):"]
        for placed in self._all_placed():
            lines.append(
                f"{placed.rel}\t{placed.record_size}\t{placed.sha256}\t{placed.output.role}\t{placed.master.rel}"
            )
        for line in lines:
            out.write((line + "\n").encode("utf-8"))

    # final check -----------------------------------------------------------------------------
    def self_check(self, pool: Executor | None) -> None:
        report = validate_package(self.root, known=self.known, executor=pool)
        if report.problems:
            raise InvalidPackageError(str(self.root), report.problems)

    def result(self, final: Path, seconds: float) -> DipResult:
        placed = list(self._all_placed())
        return DipResult(
            final,
            self.objid,
            self.source.objid,
            len(self.plan.included),
            len(self.plan.excluded),
            sum(1 for p in placed if p.output.role == "access"),
            sum(1 for p in placed if p.output.role != "access"),
            tuple(sorted(self.failed)),
            self.cached,
            seconds,
        )
