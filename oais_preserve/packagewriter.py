"""Writing an E-ARK package's own files: the pieces the AIP/SIP and DIP builders share.

Each helper writes or copies one file into the staged package, hashing it in the same pass, and
returns its METS ``<file>``; the caller records the digests where its self-check will find them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from .ead import ead_schema_files
from .fixity import FileJob, FileRecord, read_file
from .mets import MdRef, MetsFile
from .profile import OFFICIAL_XSDS, PREMIS_XSD, REPRESENTATION, new_id
from .schemas import SCHEMA_DIR
from .staging import HashingWriter

REP_DIR = f"representations/{REPRESENTATION}"


def write_file(
    root: Path, rel: str, writer: Callable[[HashingWriter], object], mimetype: str, created: str
) -> MetsFile:
    """Write one of our files through a hashing writer: it is never read back to hash it."""
    with HashingWriter(root / rel) as out:
        writer(out)
    return MetsFile(new_id("ID-"), rel, mimetype, out.size, created, out.sha256)


def record_file(
    root: Path, rel: str, mimetype: str, created: str, algorithms: Sequence[str], source: Path | None = None
) -> tuple[MetsFile, FileRecord]:
    """Copy ``source`` in as ``rel`` (or hash ``rel`` in place when there is no source), one read."""
    job = FileJob(source or root / rel, root / rel if source else None, identify=False)
    record = read_file(job, algorithms)
    return MetsFile(new_id("ID-"), rel, mimetype, record.size, created, record.digests["sha256"]), record


def schema_sources(kinds_used: Iterable[str], *, with_premis: bool) -> list[Path]:
    """The XSDs a package carries in schemas/: the official ones, then ours for the EAD kinds used."""
    names = list(OFFICIAL_XSDS) + ([PREMIS_XSD] if with_premis else [])
    sources = [SCHEMA_DIR / "xsd" / name for name in names]
    return sources + [SCHEMA_DIR / "ead" / name for name in ead_schema_files(kinds_used)]


def premis_ref(meta: MetsFile) -> MdRef:
    return MdRef(meta, "PREMIS", new_id(), mdtype_version="3.0", label="PREMIS")


def relative_ref(ref: MdRef, base: str) -> MdRef:
    """``ref`` as the representation METS in ``base`` points to it (href relative to ``base``)."""
    return MdRef(
        relative_file(ref.file, base),
        ref.mdtype,
        ref.section_id,
        ref.mdtype_version,
        ref.other_mdtype,
        ref.label,
    )


def relative_file(f: MetsFile, base: str) -> MetsFile:
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
