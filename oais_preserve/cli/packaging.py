"""Packaging commands: build-aip, build-sip, ingest, validate, identify, export-zip."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import click

from ._common import (
    EXIT_INVALID,
    Progress,
    emit,
    handle_errors,
    json_option,
    main,
    problem_lines,
    workers_option,
)


def _build_command(kind: str) -> Callable[..., None]:
    def command(
        description: Path,
        source: Path,
        out: Path,
        workers: int | None,
        algorithms: tuple[str, ...],
        verify: bool,
        as_json: bool,
    ) -> None:
        from ..packages import build_aip, build_sip

        progress = Progress(enabled=not as_json and sys.stderr.isatty())
        with handle_errors(as_json):
            if kind == "AIP":
                result = build_aip(
                    description,
                    source,
                    out,
                    workers=workers,
                    algorithms=algorithms or ("sha256",),
                    progress=progress,
                )
            else:
                result = build_sip(description, source, out, workers=workers, progress=progress)
            progress.close()
            report = _verify(result.path) if verify else None
        data = {"ok": True, **result.to_dict(), "verified": report.valid if report else None}
        emit(
            as_json,
            data,
            lambda: click.echo(
                f"{'đã có sẵn / already built' if result.skipped else 'đã tạo / built'} {kind}: "
                f"{result.path} "
                f"({result.files} files, {result.bytes} bytes, {result.seconds:.1f} s)"
            ),
        )
        if report is not None and not report.valid:
            sys.exit(EXIT_INVALID)

    return command


def _verify(path: Path) -> Any:
    from ..validate import validate

    return validate(path, verify=True)


def _builder(name: str, kind: str, help_text: str) -> None:
    cmd = _build_command(kind)
    cmd = click.option("--json", "as_json", is_flag=True, help="Print a JSON result for machines.")(cmd)
    cmd = click.option("--verify", is_flag=True, help="Re-read the finished package and check every digest.")(
        cmd
    )
    if kind == "AIP":
        cmd = click.option(
            "--algorithm",
            "algorithms",
            multiple=True,
            type=click.Choice(["sha256", "sha512", "sha1", "md5"]),
            help="Digest algorithm for the bag manifests (repeatable; SHA-256 always).",
        )(cmd)
    else:
        cmd = click.option("--algorithm", "algorithms", multiple=True, hidden=True)(cmd)
    cmd = workers_option(cmd)
    cmd = click.argument("out", type=click.Path(file_okay=False, path_type=Path))(cmd)
    cmd = click.argument("source", type=click.Path(exists=True, file_okay=False, path_type=Path))(cmd)
    cmd = click.argument("description", type=click.Path(exists=True, dir_okay=False, path_type=Path))(cmd)
    main.command(name, help=help_text)(cmd)


_builder(
    "build-aip", "AIP", "Build an AIP_hoso bag from DESCRIPTION (JSON) and the scans in SOURCE, into OUT."
)
_builder("build-sip", "SIP", "Build a SIP_hoso package folder from DESCRIPTION and SOURCE, into OUT.")


@main.command("ingest")
@click.argument("sip", type=click.Path(exists=True, path_type=Path))
@click.argument("out", type=click.Path(file_okay=False, path_type=Path))
@click.option("--archive-code", help="Mã cơ quan lưu trữ, when the SIP does not carry it.")
@click.option("--organization", help="Name of the receiving archive, when the SIP does not carry it.")
@workers_option
@json_option
def ingest_command(
    sip: Path,
    out: Path,
    archive_code: str | None,
    organization: str | None,
    workers: int | None,
    as_json: bool,
) -> None:
    """Turn a SIP_hoso (folder or .zip) into an AIP_hoso bag in OUT."""
    from ..ingest import ingest

    progress = Progress(enabled=not as_json and sys.stderr.isatty())
    with handle_errors(as_json):
        result = ingest(
            sip, out, archive_code=archive_code, organization=organization, workers=workers, progress=progress
        )
        progress.close()
    emit(
        as_json,
        {"ok": True, **result.to_dict()},
        lambda: click.echo(f"đã tiếp nhận / ingested: {result.path} ({result.files} files)"),
    )


@main.command("validate")
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.option("--fast", is_flag=True, help="Skip re-hashing the payload (structure, schemas, sizes only).")
@json_option
def validate_command(path: Path, fast: bool, as_json: bool) -> None:
    """Validate a bag, a package folder or a .zip: every problem is listed."""
    from ..validate import validate

    with handle_errors(as_json):
        report = validate(path, verify=not fast)

    def human() -> None:
        status = "HỢP LỆ / VALID" if report.valid else "KHÔNG HỢP LỆ / INVALID"
        click.echo(f"{status}: {path} ({report.kind}, {report.package_type or '?'} {report.objid or ''})")
        for line in problem_lines(report.problems, limit=200):
            click.echo(line)
        for warning in report.warnings[:20]:
            click.echo(f"  ~ warning: {warning}")

    emit(as_json, report.to_dict(), human)
    if not report.valid:
        sys.exit(EXIT_INVALID)


@main.command("identify")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@json_option
def identify_command(paths: tuple[Path, ...], as_json: bool) -> None:
    """Identify file formats (PRONOM, fido signatures) with one read per file."""
    from ..fixity import FileJob, read_file

    rows = []
    with handle_errors(as_json):
        for path in _iter_files(paths):
            record = read_file(FileJob(path), ("sha256",))
            ident = record.identification
            assert ident is not None
            rows.append(
                {
                    "path": str(path),
                    "size": record.size,
                    "sha256": record.digests["sha256"],
                    "puid": ident.puid,
                    "format": ident.format_name,
                    "version": ident.format_version,
                    "mime": ident.mime_type,
                    "basis": ident.basis,
                    "status": ident.status,
                    "note": ident.note,
                }
            )
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
    else:
        for row in rows:
            click.echo(
                f"{row['puid'] or 'UNKNOWN'}\t{row['status']}\t{row['basis']}\t{row['format'] or ''}"
                f"\t{row['path']}"
            )


def _iter_files(paths: tuple[Path, ...]) -> Iterator[Path]:
    for path in paths:
        if path.is_dir():
            yield from sorted(p for p in path.rglob("*") if p.is_file() and not p.is_symlink())
        else:
            yield path


@main.command("export-zip")
@click.argument("package", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.argument("dest", type=click.Path(path_type=Path))
@json_option
def export_zip_command(package: Path, dest: Path, as_json: bool) -> None:
    """Write the plain TT05 .zip of PACKAGE (a bag's data/ or a package folder) to DEST."""
    from ..packages import export_zip

    with handle_errors(as_json):
        path = export_zip(package, dest)
    emit(
        as_json,
        {"ok": True, "zip": str(path), "bytes": path.stat().st_size},
        lambda: click.echo(f"đã xuất / exported: {path}"),
    )
