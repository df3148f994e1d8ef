"""Catalogue commands: import-catalogue, select, qa, build-batch (docs/catalogue.md)."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from ._common import (
    EXIT_INVALID,
    Progress,
    handle_errors,
    json_option,
    main,
    scheduler_option,
    workers_option,
)

lang_option = click.option(
    "--lang",
    type=click.Choice(["vi", "en"]),
    default="vi",
    show_default=True,
    help="Language of the problem messages and reports.",
)
mapping_option = click.option(
    "--mapping",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="JSON mapping of other column headers to fields (docs/catalogue.md).",
)
archive_option = click.option(
    "--archive-code", help="Mã cơ quan lưu trữ, when the workbook has no phông sheet."
)
organization_option = click.option("--organization", help="Tên cơ quan lưu trữ, when the workbook lacks it.")


def _fonds(archive_code: str | None, organization: str | None) -> dict[str, object]:
    given: dict[str, object] = {}
    if archive_code:
        given["archiveCode"] = archive_code
    if organization:
        given["organization"] = organization
    return given


def _import(
    catalogue: tuple[Path, ...],
    scans: Path | None,
    mapping: Path | None,
    archive_code: str | None,
    organization: str | None,
) -> Any:
    from ..catalogue import import_catalogue

    return import_catalogue(
        list(catalogue), scans=scans, mapping=mapping, fonds=_fonds(archive_code, organization)
    )


def _echo_problems(result: Any, lang: str, limit: int = 100) -> None:
    for problem in result.problems[:limit]:
        mark = "!" if problem.severity == "error" else "~"
        shown = "" if problem.value is None else f" [{problem.value[:80]}]"
        click.echo(f"  {mark} {problem.location}: ({problem.rule}) {problem.message(lang)}{shown}", err=True)
    if len(result.problems) > limit:
        more = len(result.problems) - limit
        hint = "xem báo cáo .xlsx hoặc --json" if lang == "vi" else "see the .xlsx report or --json"
        click.echo(f"  … {more} nữa / more ({hint})", err=True)


def _summary_line(result: Any, lang: str) -> str:
    s = result.summary()
    if lang == "en":
        return (
            f"{s['hoso']} hồ sơ ({s['hosoValid']} valid), {s['documents']} documents; "
            f"{s['errors']} error(s), {s['warnings']} warning(s); "
            f"{s['legacyConversions']} TT02 value(s) mapped"
        )
    return (
        f"{s['hoso']} hồ sơ ({s['hosoValid']} hợp lệ), {s['documents']} tài liệu; "
        f"{s['errors']} lỗi, {s['warnings']} cảnh báo; {s['legacyConversions']} giá trị TT02 đã chuyển mã"
    )


@main.command("import-catalogue")
@click.argument(
    "catalogue", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option(
    "--scans", type=click.Path(exists=True, file_okay=False, path_type=Path), help="Folder of scans."
)
@click.option(
    "--report", type=click.Path(dir_okay=False, path_type=Path), help="Write the .xlsx error report here."
)
@click.option(
    "--descriptions",
    type=click.Path(file_okay=False, path_type=Path),
    help="Write one description JSON per valid hồ sơ into this folder.",
)
@mapping_option
@archive_option
@organization_option
@lang_option
@json_option
def import_command(
    catalogue: tuple[Path, ...],
    scans: Path | None,
    report: Path | None,
    descriptions: Path | None,
    mapping: Path | None,
    archive_code: str | None,
    organization: str | None,
    lang: str,
    as_json: bool,
) -> None:
    """Read CATALOGUE (.xlsx / .csv, one or more files) and report every problem in one pass."""
    from ..catalogue import problems_json, write_descriptions, write_error_report

    with handle_errors(as_json):
        result = _import(catalogue, scans, mapping, archive_code, organization)
        written = write_descriptions(result, descriptions) if descriptions else []
        if report is not None:
            write_error_report(result, report, lang="en" if lang == "en" else "vi")
    if as_json:
        click.echo(problems_json(result, "en" if lang == "en" else "vi"))
    else:
        _echo_problems(result, lang)
        for layout in result.layouts:
            click.echo(f"{layout.source} / {layout.sheet}: {layout.role}, header row {layout.header_row}")
            if layout.unmapped:
                click.echo(f"  cột không dùng / unused columns: {', '.join(layout.unmapped)}")
        click.echo(_summary_line(result, lang))
        if report is not None:
            click.echo(f"{'báo cáo lỗi' if lang == 'vi' else 'error report'}: {report}")
        if written:
            click.echo(f"{len(written)} {'tệp mô tả' if lang == 'vi' else 'descriptions'}: {descriptions}")
    if result.errors:
        sys.exit(EXIT_INVALID)


def _criteria(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


@main.command("select")
@click.argument(
    "catalogue", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option(
    "--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="OUT.xlsx + OUT.csv"
)
@click.option(
    "--criteria",
    default="permanent,pre1975,notable,damaged,media",
    show_default=True,
    help="Criteria that select a hồ sơ (any of them).",
)
@click.option(
    "--codes",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Select exactly the hồ sơ listed in this file (one code per line, or a selection list).",
)
@click.option(
    "--cutoff-year", type=int, default=1975, show_default=True, help="'Pre-1975' means before this year."
)
@click.option(
    "--scans", type=click.Path(exists=True, file_okay=False, path_type=Path), help="Folder of scans."
)
@mapping_option
@archive_option
@organization_option
@lang_option
@json_option
def select_command(
    catalogue: tuple[Path, ...],
    out: Path,
    criteria: str,
    codes: Path | None,
    cutoff_year: int,
    scans: Path | None,
    mapping: Path | None,
    archive_code: str | None,
    organization: str | None,
    lang: str,
    as_json: bool,
) -> None:
    """Write the list of whole hồ sơ selected for digitization (danh mục hồ sơ lựa chọn số hóa)."""
    from ..selection import read_selection_codes, select_hoso, write_selection

    with handle_errors(as_json):
        result = _import(catalogue, scans, mapping, archive_code, organization)
        listed = read_selection_codes(codes) if codes else None
        selection = select_hoso(result, criteria=_criteria(criteria), codes=listed, cutoff_year=cutoff_year)
        xlsx, csv_path = write_selection(selection, out, lang=lang)
    if as_json:
        click.echo(
            json.dumps({"ok": not selection.problems, **selection.to_dict()}, ensure_ascii=False, indent=2)
        )
    else:
        for problem in selection.problems:
            text = problem.message("en" if lang == "en" else "vi")
            click.echo(f"  ! {problem.location}: ({problem.rule}) {text}", err=True)
        for code, total in selection.totals().items():
            click.echo(
                f"  {code} {total['name']}: {total['hoso']} hồ sơ, "
                f"{total['documents']} tài liệu, {total['pages']} trang"
            )
        click.echo(
            f"{len(selection.selected)} hồ sơ đã chọn / selected; "
            f"{len(selection.not_selected)} không đạt tiêu chí / meet no criterion; "
            f"{len(selection.invalid)} có lỗi danh mục / with catalogue errors -> {xlsx}, {csv_path}"
        )
    if selection.problems:
        sys.exit(EXIT_INVALID)


@main.command("qa")
@click.argument("scans", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="OUT.xlsx + OUT.json"
)
@click.option(
    "--catalogue",
    "catalogue",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Check the scans the catalogue describes, with its context (naming rule, maps at 300 dpi).",
)
@mapping_option
@workers_option
@lang_option
@json_option
def qa_command(
    scans: Path,
    out: Path,
    catalogue: tuple[Path, ...],
    mapping: Path | None,
    workers: int | None,
    lang: str,
    as_json: bool,
) -> None:
    """Check the scans in SCANS against TT05 Article 8: PDF/A, text layer, dpi, colour depth, naming."""
    from ..qa import jobs_for_folder, write_qa_report

    progress = Progress(enabled=not as_json and sys.stderr.isatty())
    with handle_errors(as_json):
        if catalogue:
            from ..batch import qa_jobs

            result = _import(catalogue, scans, mapping, None, None)
            jobs = [job for hoso in result.hoso if hoso.description for job in qa_jobs(result, hoso)]
        else:
            jobs = jobs_for_folder(scans)
        results = _run_qa(jobs, workers, progress)
        progress.close()
        xlsx, json_path = write_qa_report(results, out, lang=lang)
    counts = {k: sum(1 for r in results if r.outcome == k) for k in ("pass", "warning", "fail")}
    if as_json:
        click.echo(json.dumps({"ok": counts["fail"] == 0, "files": len(results), **counts}, indent=2))
    else:
        for r in results:
            if r.outcome != "pass":
                click.echo(f"  {'!' if r.outcome == 'fail' else '~'} {r.path}: {r.summary(lang)}", err=True)
        click.echo(
            f"{len(results)} tệp / files: {counts['pass']} đạt / pass, "
            f"{counts['warning']} cảnh báo / warning, "
            f"{counts['fail']} không đạt / fail -> {xlsx}, {json_path}"
        )
    if counts["fail"]:
        sys.exit(EXIT_INVALID)


def _run_qa(jobs: list[Any], workers: int | None, progress: Callable[[str, int, int], None]) -> list[Any]:
    from ..executors import open_executor
    from ..qa import check_files

    results = []
    with open_executor(workers) as executor:  # None for -w 1: checked in this process
        for done, result in enumerate(check_files(jobs, executor=executor), start=1):
            results.append(result)
            progress("qa", done, len(jobs))
    return results


@main.command("build-batch")
@click.argument("catalogue", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("scans", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.argument("out", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--selection",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Package exactly the hồ sơ of this selection list (from `select`).",
)
@click.option("--all", "package_all", is_flag=True, help="Package every valid hồ sơ, whatever the criteria.")
@click.option(
    "--criteria",
    default="permanent,pre1975,notable,damaged,media",
    show_default=True,
    help="Without --selection / --all: package the hồ sơ meeting any of these.",
)
@click.option("--no-qa", is_flag=True, help="Do not check the scans (no PREMIS validation events).")
@mapping_option
@archive_option
@organization_option
@workers_option
@scheduler_option
@lang_option
@json_option
def build_batch_command(
    catalogue: Path,
    scans: Path,
    out: Path,
    selection: Path | None,
    package_all: bool,
    criteria: str,
    no_qa: bool,
    mapping: Path | None,
    archive_code: str | None,
    organization: str | None,
    workers: int | None,
    scheduler: str | None,
    lang: str,
    as_json: bool,
) -> None:
    """One AIP_hoso per selected hồ sơ of CATALOGUE, scans from SCANS, into OUT/<mã phông>/.

    Resumable: a complete, valid package is skipped; a partial one is redone. A failing hồ sơ is
    reported and skipped. Exit 1 when any hồ sơ failed.
    """
    from ..batch import build_batch
    from ..executors import open_executor
    from ..selection import read_selection_codes, select_hoso

    progress = Progress(enabled=not as_json and sys.stderr.isatty())
    with handle_errors(as_json):
        result = _import((catalogue,), scans, mapping, archive_code, organization)
        if selection is not None:
            codes: list[str] | None = read_selection_codes(selection)
        elif package_all:
            codes = None
        else:
            chosen = select_hoso(result, criteria=_criteria(criteria))
            codes = chosen.codes + chosen.invalid
        with open_executor(workers if scheduler else 1, scheduler) as executor:
            # Without a scheduler build_batch makes its own pool of ``workers`` processes.
            report = build_batch(
                result, out, codes=codes, executor=executor, workers=workers, qa=not no_qa, progress=progress
            )
        progress.close()
    if as_json:
        click.echo(json.dumps(report.to_dict(), ensure_ascii=False, indent=2))
    else:
        _summary_table(report, lang)
    if not report.ok:
        sys.exit(EXIT_INVALID)


def _summary_table(report: Any, lang: str) -> None:
    labels = {"built": "đã tạo", "skipped": "đã có", "failed": "lỗi"} if lang == "vi" else {}
    width = max((len(item.file_code) for item in report.items), default=10)
    click.echo(f"{'Mã hồ sơ'.ljust(width)}  {'Kết quả':8}  QA       {'Gói / lý do'}")
    for item in report.items:
        status = labels.get(item.status, item.status)
        detail = item.path if item.status != "failed" else item.reason
        click.echo(f"{item.file_code.ljust(width)}  {status:8}  {item.qa or '-':7}  {detail}")
    click.echo(
        f"{report.built} đã tạo / built, {report.skipped} đã có / skipped, {report.failed} lỗi / failed "
        f"({report.seconds:.1f} s)"
    )
