"""Dissemination command: build-dip (access copies and a browsable DIP from an AIP_hoso)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ._common import EXIT_USER, Progress, emit, fail, handle_errors, json_option, main, workers_option


@main.command("build-dip")
@click.argument("aip", type=click.Path(path_type=Path))
@click.argument("out", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--document",
    "-d",
    "documents",
    multiple=True,
    help="Only this document (docOrdinal or Mã lưu trữ tài liệu); repeat for more. Default: all allowed.",
)
@click.option(
    "--allow-conditional",
    is_flag=True,
    help="Include chế độ sử dụng 02 (conditional use): permission was granted.",
)
@click.option(
    "--include-restricted",
    is_flag=True,
    help="Include chế độ sử dụng 03 (Mật) documents too. Recorded in PREMIS; say who allowed it with --note.",
)
@click.option("--include", "includes", multiple=True, help="Override: include this document (02 only).")
@click.option("--exclude", "excludes", multiple=True, help="Override: leave this document out.")
@click.option("--note", default=None, help="Who authorised the access decision and why (recorded in PREMIS).")
@click.option(
    "--long-edge", type=click.IntRange(16, 20000), default=2000, show_default=True, help="Access copy, px."
)
@click.option(
    "--quality", type=click.IntRange(1, 100), default=85, show_default=True, help="Access copy JPEG quality."
)
@click.option("--thumbnail-size", type=click.IntRange(16, 20000), default=256, show_default=True)
@click.option(
    "--max-pdf-pages", type=click.IntRange(min=1), default=None, help="Page thumbnails per PDF (default all)."
)
@click.option(
    "--cache",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Keep derivatives here between runs (keyed by master SHA-256).",
)
@click.option("--no-verify", is_flag=True, help="Skip re-checking every AIP digest first.")
@workers_option
@json_option
def build_dip_command(
    aip: Path,
    out: Path,
    documents: tuple[str, ...],
    allow_conditional: bool,
    include_restricted: bool,
    includes: tuple[str, ...],
    excludes: tuple[str, ...],
    note: str | None,
    long_edge: int,
    quality: int,
    thumbnail_size: int,
    max_pdf_pages: int | None,
    cache: Path | None,
    no_verify: bool,
    workers: int | None,
    as_json: bool,
) -> None:
    """Build a DIP (TT05 Phụ lục V) of AIP in folder OUT: access copies, thumbnails, HTML viewer."""
    from ..derivatives import DerivativeSettings
    from ..dip import AccessPolicy, build_dip

    clash = set(includes) & set(excludes)
    if clash:
        fail(EXIT_USER, f"both --include and --exclude given for {', '.join(sorted(clash))}")
    progress = Progress(enabled=not as_json and sys.stderr.isatty())
    with handle_errors(as_json):
        policy = AccessPolicy(
            allow_conditional=allow_conditional,
            include_restricted=include_restricted,
            overrides={**dict.fromkeys(includes, "include"), **dict.fromkeys(excludes, "exclude")},
            note=note,
        )
        settings = DerivativeSettings(long_edge, quality, thumbnail_size, max_pdf_pages=max_pdf_pages)
        result = build_dip(
            aip,
            out,
            documents=list(documents) or None,
            policy=policy,
            settings=settings,
            cache_dir=cache,
            verify=not no_verify,
            workers=workers,
            progress=progress,
        )
        progress.close()

    def human() -> None:
        verb = "đã có sẵn / already built" if result.skipped else "đã tạo / built"
        click.echo(
            f"{verb} DIP: {result.path} ({result.documents_included} documents included, "
            f"{result.documents_excluded} excluded; {result.access_files} access copies, "
            f"{result.thumbnails} thumbnails, {result.seconds:.1f} s)"
        )
        if not result.skipped:
            click.echo(f"xem / view: {result.path / 'documentation' / 'index.html'}")
        for master in result.failed_masters:
            click.echo(f"không tạo được bản sao / no access copy (see PREMIS): {master}", err=True)

    emit(as_json, {"ok": True, **result.to_dict()}, human)
