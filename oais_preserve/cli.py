"""The ``oais-preserve`` command line: parse, call the library, render.

Exit codes: 0 success; 1 a package or file failed validation or fixity; 2 a user mistake
(bad path, bad option, invalid description); 3 an unexpected internal error.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn

import click

from . import __version__
from .errors import DescriptionError, InvalidPackageError, OaisPreserveError, Problem, UserInputError

EXIT_INVALID = 1
EXIT_USER = 2
EXIT_INTERNAL = 3

_workers = click.option(
    "--workers",
    "-w",
    type=click.IntRange(min=1),
    default=None,
    help="Worker processes (default: one per core; 1 = no subprocesses).",
)
_json = click.option("--json", "as_json", is_flag=True, help="Print a JSON result for machines.")


class _Progress:
    """Adapts the library's (stage, done, total) callback to a click progress bar on stderr."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.bar: Any = None
        self.stage = ""
        self.done = 0

    def __call__(self, stage: str, done: int, total: int) -> None:
        if not self.enabled:
            return
        if self.bar is None or stage != self.stage:
            self.close()
            self.bar = click.progressbar(
                length=total, label=stage, file=sys.stderr, show_eta=True, show_pos=True
            ).__enter__()
            self.stage, self.done = stage, 0
        self.bar.update(done - self.done)
        self.done = done

    def close(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)
            self.bar = None


def _fail(code: int, message: str) -> NoReturn:
    click.echo(f"oais-preserve: {message}", err=True)
    sys.exit(code)


def _problem_lines(problems: list[Problem], limit: int = 50) -> Iterator[str]:
    for problem in problems[:limit]:
        yield f"  - {problem}"
    if len(problems) > limit:
        yield f"  … and {len(problems) - limit} more (use --json for all)"


@contextmanager
def _errors(as_json: bool) -> Iterator[None]:
    """Turn library errors into one-line messages and exit codes; never a traceback for a user."""
    try:
        yield
    except DescriptionError as exc:
        _report_problems(as_json, "description", exc.problems)
        _fail(EXIT_USER, f"mô tả không hợp lệ / invalid description: {len(exc.problems)} problem(s)")
    except InvalidPackageError as exc:
        _report_problems(as_json, exc.path, exc.problems)
        _fail(EXIT_INVALID, f"{exc.path}: invalid ({len(exc.problems)} problem(s))")
    except UserInputError as exc:
        _fail(EXIT_USER, str(exc))
    except OaisPreserveError as exc:
        _fail(EXIT_INVALID, str(exc))
    except KeyboardInterrupt:
        _fail(130, "interrupted; nothing partial was left at the destination")
    except OSError as exc:
        _fail(EXIT_USER, f"{exc.filename or ''}: {exc.strerror or exc}")
    except Exception as exc:  # a bug of ours: say so plainly, keep the details in the log
        logging.getLogger(__name__).debug("internal error", exc_info=True)
        _fail(EXIT_INTERNAL, f"internal error ({type(exc).__name__}: {exc}); run with -vv for details")


def _report_problems(as_json: bool, where: str, problems: list[Problem]) -> None:
    if as_json:
        click.echo(
            json.dumps(
                {
                    "ok": False,
                    "where": where,
                    "problems": [
                        {"where": p.where, "rule": p.rule, "message": p.message, "value": p.value}
                        for p in problems
                    ],
                },
                ensure_ascii=False,
                indent=2,
            )
        )
    else:
        for line in _problem_lines(problems):
            click.echo(line, err=True)


def _emit(as_json: bool, data: dict[str, Any], human: Callable[[], None]) -> None:
    if as_json:
        click.echo(json.dumps(data, ensure_ascii=False, indent=2))
    else:
        human()


@click.group()
@click.version_option(__version__, prog_name="oais-preserve")
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
def main(verbose: int) -> None:
    """TT05 / E-ARK preservation packages (SIP_hoso, AIP_hoso) in BagIt bags."""
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")


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
        from .packages import build_aip, build_sip

        progress = _Progress(enabled=not as_json and sys.stderr.isatty())
        with _errors(as_json):
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
        _emit(
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
    from .validate import validate

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
    cmd = _workers(cmd)
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
@_workers
@_json
def ingest_command(
    sip: Path,
    out: Path,
    archive_code: str | None,
    organization: str | None,
    workers: int | None,
    as_json: bool,
) -> None:
    """Turn a SIP_hoso (folder or .zip) into an AIP_hoso bag in OUT."""
    from .ingest import ingest

    progress = _Progress(enabled=not as_json and sys.stderr.isatty())
    with _errors(as_json):
        result = ingest(
            sip, out, archive_code=archive_code, organization=organization, workers=workers, progress=progress
        )
        progress.close()
    _emit(
        as_json,
        {"ok": True, **result.to_dict()},
        lambda: click.echo(f"đã tiếp nhận / ingested: {result.path} ({result.files} files)"),
    )


@main.command("validate")
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.option("--fast", is_flag=True, help="Skip re-hashing the payload (structure, schemas, sizes only).")
@_json
def validate_command(path: Path, fast: bool, as_json: bool) -> None:
    """Validate a bag, a package folder or a .zip: every problem is listed."""
    from .validate import validate

    with _errors(as_json):
        report = validate(path, verify=not fast)
    if as_json:
        click.echo(json.dumps(report.to_dict(), ensure_ascii=False, indent=2))
    else:
        status = "HỢP LỆ / VALID" if report.valid else "KHÔNG HỢP LỆ / INVALID"
        click.echo(f"{status}: {path} ({report.kind}, {report.package_type or '?'} {report.objid or ''})")
        for line in _problem_lines(report.problems, limit=200):
            click.echo(line)
        for warning in report.warnings[:20]:
            click.echo(f"  ~ warning: {warning}")
    if not report.valid:
        sys.exit(EXIT_INVALID)


@main.command("identify")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@_json
def identify_command(paths: tuple[Path, ...], as_json: bool) -> None:
    """Identify file formats (PRONOM, fido signatures) with one read per file."""
    from .fixity import FileJob, read_file

    rows = []
    with _errors(as_json):
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
@_json
def export_zip_command(package: Path, dest: Path, as_json: bool) -> None:
    """Write the plain TT05 .zip of PACKAGE (a bag's data/ or a package folder) to DEST."""
    from .packages import export_zip

    with _errors(as_json):
        path = export_zip(package, dest)
    _emit(
        as_json,
        {"ok": True, "zip": str(path), "bytes": path.stat().st_size},
        lambda: click.echo(f"đã xuất / exported: {path}"),
    )
