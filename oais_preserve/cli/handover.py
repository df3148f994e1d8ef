"""Handover commands: handover (per fonds, to the Ministry), verify-handover (receiving side), report."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path

import click
from click.core import ParameterSource

from ..errors import UserInputError
from ._common import (
    EXIT_INVALID,
    Progress,
    emit,
    fail,
    handle_errors,
    json_option,
    main,
    problem_lines,
    scheduler_option,
    workers_option,
)

storage_option = click.option(
    "--storage",
    "storage_path",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    envvar="OAIS_STORAGE_CONFIG",
    help="Storage configuration (TOML, as --config of `store` and `audit`; also OAIS_STORAGE_CONFIG): "
    "the storage ledger lists the AIPs.",
)


@main.command("handover")
@click.argument("fonds", nargs=-1, required=True)
@click.argument("out", type=click.Path(file_okay=False, path_type=Path))
@storage_option
@click.option(
    "--allow-below-minimum",
    is_flag=True,
    help="With --storage: hand over AIPs with fewer verified copies than the configured minimum "
    "(stated in the handover record and the ledger).",
)
@click.option(
    "--store",
    "stores",
    multiple=True,
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="A folder holding AIP bags (repeatable), for AIPs kept without a storage ledger.",
)
@click.option("--sender", required=True, help="Bên giao: the archive handing over.")
@click.option("--sender-name", default="", help="Representative of the sender (signs the record).")
@click.option("--sender-position", default="", help="Position of the sender's representative.")
@click.option("--receiver", default="Bộ Nội vụ", show_default=True, help="Bên nhận.")
@click.option("--receiver-name", default="", help="Representative of the receiver.")
@click.option("--receiver-position", default="", help="Position of the receiver's representative.")
@click.option(
    "--format",
    "package_format",
    type=click.Choice(["zip", "bag"]),
    default="zip",
    show_default=True,
    help="Carry the AIPs as TT05 .zip files or as BagIt bags.",
)
@click.option(
    "--fonds-record",
    "fonds_records",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A fonds record JSON (schemas/fonds.schema.json) giving TT02 PaperTotal (repeatable).",
)
@click.option("--date", "when", type=click.DateTime(["%Y-%m-%d"]), help="Handover date (default: today).")
@workers_option
@scheduler_option
@json_option
def handover_command(
    fonds: tuple[str, ...],
    out: Path,
    storage_path: Path | None,
    allow_below_minimum: bool,
    stores: tuple[Path, ...],
    sender: str,
    sender_name: str,
    sender_position: str,
    receiver: str,
    receiver_name: str,
    receiver_position: str,
    package_format: str,
    fonds_records: tuple[Path, ...],
    when: datetime | None,
    workers: int | None,
    scheduler: str | None,
    as_json: bool,
) -> None:
    """Hand over every AIP of each FONDS (mã phông / công trình / sưu tập).

    The AIPs come from the storage ledger (--storage: a clean copy of each, every AIP with the
    configured minimum of verified copies) or from bag folders (--store). Each AIP is audited
    first; one tar per fonds is written into OUT, with NAME.tar.sha256 beside it.
    """
    from ..executors import open_executor
    from ..handover import HandoverIncompleteError, Party, find_aips, handover
    from ..statistics import load_fonds_record
    from ..storage import StorageConfig, load_storage_config

    progress = Progress(enabled=not as_json and sys.stderr.isatty())
    with handle_errors(as_json):
        source_of = click.get_current_context().get_parameter_source("storage_path")
        if stores and source_of is ParameterSource.ENVIRONMENT:
            storage_path = None  # an explicit --store wins over the environment
        if (storage_path is None) == (not stores):
            raise UserInputError("give either --storage CONFIG.toml or --store FOLDER (not both)")
        if allow_below_minimum and storage_path is None:
            raise UserInputError("--allow-below-minimum needs --storage")
        records = {}
        for path in fonds_records:
            code, record = load_fonds_record(path)
            if code in fonds:
                records[code] = record
            else:
                click.echo(
                    f"oais-preserve: chú ý / warning: {path}: bản mô tả phông {code} không dùng / fonds "
                    f"record of {code} ignored: {code} is not among the fonds handed over",
                    err=True,
                )
        source: StorageConfig | Iterable[Path] = (
            load_storage_config(storage_path) if storage_path is not None else find_aips(stores)
        )
        incomplete = None
        with open_executor(workers, scheduler) as executor:
            try:
                results = handover(
                    source,
                    out,
                    sender=Party(sender, sender_name, sender_position),
                    receiver=Party(receiver, receiver_name, receiver_position),
                    fonds=list(fonds),
                    package_format=package_format,
                    fonds_records=records,
                    handover_date=when.date() if when else None,
                    allow_below_minimum=allow_below_minimum,
                    workers=workers,  # with executor None (-w 1): run in this process, no pool
                    executor=executor,
                    progress=progress,
                )
            except HandoverIncompleteError as exc:  # the tars written are shown, then what failed
                incomplete, results = exc, exc.written
        progress.close()

    def human() -> None:
        for result in results:
            state = "đã có sẵn / already written" if result.skipped else "đã bàn giao / written"
            count = f"{len(result.packages)} AIP, " if result.packages else ""
            click.echo(f"{state}: {result.path} ({count}{result.bytes} bytes)\n  SHA-256 {result.sha256}")
            storage = result.storage or {}
            below = storage.get("below_minimum") or []
            if below:
                click.echo(
                    f"  CHÚ Ý / NOTE: {len(below)} AIP below {storage['min_copies']} verified copies "
                    "(stated in the handover record)"
                )

    handed = {"handovers": [r.to_dict() for r in results]}
    if incomplete is None:
        emit(as_json, {"ok": True, **handed}, human)
        return
    problems = [
        {"where": p.where, "rule": p.rule, "message": p.message, "value": p.value}
        for p in incomplete.problems
    ]
    emit(as_json, {"ok": False, **handed, "failed": list(incomplete.failures), "problems": problems}, human)
    if not as_json:
        for line in problem_lines(incomplete.problems):
            click.echo(line, err=True)
    fail(EXIT_INVALID, f"{incomplete.path} ({len(results)} written)")


@main.command("verify-handover")
@click.argument("package", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--sha256", "expected", help="Expected SHA-256 of the tar (default: the .sha256 file beside it)."
)
@click.option(
    "--workdir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Where to unpack the tar while checking it (default: the system's temporary folder).",
)
@workers_option
@json_option
def verify_handover_command(
    package: Path, expected: str | None, workdir: Path | None, workers: int | None, as_json: bool
) -> None:
    """Check a handover tar as the receiving side and print a receipt (biên nhận)."""
    from ..handover_verify import verify_handover

    with handle_errors(as_json):
        receipt = verify_handover(package, expected_sha256=expected, workers=workers, workdir=workdir)

    def human() -> None:
        status = "ĐÃ NHẬN ĐỦ, HỢP LỆ / RECEIVED, VALID" if receipt.ok else "CÓ SAI LỆCH / DISCREPANCIES"
        click.echo(f"{status}: {package}")
        click.echo(f"  SHA-256: {receipt.sha256}")
        click.echo(f"  Phông: {receipt.fonds_code or '?'} {receipt.fonds_name or ''}")
        click.echo(f"  Bên giao: {receipt.sender or '?'}; bên nhận: {receipt.receiver or '?'}")
        stats = receipt.statistics
        if stats is not None:
            click.echo(
                f"  Đã nhận / received: {stats.packages} AIP, {stats.hoso} hồ sơ, "
                f"{stats.documents} tài liệu, {stats.pages} trang, {stats.sheets} tờ, {stats.bytes} bytes"
            )
        for package_entry in receipt.packages:
            mark = "ok" if package_entry["valid"] else "HỎNG"
            click.echo(f"    [{mark}] {package_entry.get('arc_file_code', '?')}  {package_entry['name']}")
        if receipt.problems:
            click.echo(f"  {len(receipt.problems)} sai lệch / discrepancies:")
            for line in problem_lines(receipt.problems, limit=200):
                click.echo(line)

    emit(as_json, receipt.to_dict(), human)
    if not receipt.ok:
        sys.exit(EXIT_INVALID)


@main.command("report")
@click.option("--year", type=click.IntRange(1900, 9999), required=True, help="The reporting year.")
@storage_option
@click.option(
    "--store",
    "stores",
    multiple=True,
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="A folder holding AIP bags (repeatable); default with --storage: the AIPs in the ledger.",
)
@click.option(
    "--handovers",
    "handover_dirs",
    multiple=True,
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="A folder holding handover tars, searched with its subfolders (repeatable).",
)
@click.option(
    "--selection",
    "selection_lists",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A selection list written by `select` (.xlsx or .csv; repeatable): fills 'Hồ sơ đã lựa chọn'.",
)
@click.option("--organization", default="", help="Name of the reporting archive (default: from the AIPs).")
@click.argument("out", type=click.Path(file_okay=False, path_type=Path))
@json_option
def report_command(
    year: int,
    storage_path: Path | None,
    stores: tuple[Path, ...],
    handover_dirs: tuple[Path, ...],
    selection_lists: tuple[Path, ...],
    organization: str,
    out: Path,
    as_json: bool,
) -> None:
    """Write the yearly progress report per fonds into OUT (bao-cao-YYYY.xlsx, .html, .json).

    With --storage the storage ledger adds packages stored, copies held, audits done, problems
    found and repaired, and the handovers it recorded; --selection the hồ sơ selected.
    """
    from ..handover import find_aips
    from ..storage import load_storage_config
    from ..yearreport import find_handovers, selection_collector, write_report, yearly_report

    with handle_errors(as_json):
        if storage_path is None and not stores:
            raise UserInputError("give --store FOLDER or --storage CONFIG.toml (or both)")
        report = yearly_report(
            year,
            find_aips(stores) if stores else None,
            handovers=find_handovers(handover_dirs),
            collectors=[selection_collector(selection_lists)] if selection_lists else [],
            storage=load_storage_config(storage_path) if storage_path is not None else None,
            organization=organization,
        )
        written = write_report(report, out)
    for problem in report.problems:  # e.g. a damaged handover tar, left out of the figures
        click.echo(f"CHÚ Ý / WARNING: {problem.where}: {problem.message}", err=True)

    def human() -> None:
        click.echo(f"báo cáo năm / report {year}: {len(report.rows)} phông")
        for ext, path in written.items():
            click.echo(f"  {ext}: {path}")

    ok = not report.problems
    emit(as_json, {"ok": ok, "files": {k: str(v) for k, v in written.items()}, **report.to_dict()}, human)
    if not ok:  # the report is written, but a scheduled run must notice what was left out
        sys.exit(EXIT_INVALID)
