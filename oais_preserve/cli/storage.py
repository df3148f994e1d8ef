"""Commands for insurance copies: init-location, store, replicate, audit, repair, reindex, copies, reports.

Every command reads the storage configuration given by ``--config`` (or ``OAIS_STORAGE_CONFIG``).
Exit codes: 0 all good; 1 problems found (damaged files, unsafe packages, unrepairable files);
2 could not run (bad configuration, unknown location, another audit running); 3 internal error.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import click

from ..audits import audit, repair
from ..executors import open_executor
from ..records import FaultyFile, archivematica_report, write_backup_log_xlsx, write_inspection_minutes_xlsx
from ..storage import (
    StorageConfig,
    init_location,
    load_storage_config,
    package_status,
    reindex,
    replicate,
    store,
)
from ._common import EXIT_INVALID, emit, handle_errors, json_option, main, scheduler_option, workers_option

config_option = click.option(
    "--config",
    "config_path",
    envvar="OAIS_STORAGE_CONFIG",
    type=click.Path(path_type=Path, dir_okay=False),
    default=Path("storage.toml"),
    show_default=True,
    help="Storage configuration (TOML); also OAIS_STORAGE_CONFIG.",
)


class ByteProgress:
    """A stderr progress line in bytes and files with an ETA, from the library's (stage, done, total).

    A stage named "… files" only updates the file count shown beside the next "… bytes" line.
    """

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.started = time.monotonic()
        self.last = 0.0
        self.files = ""

    def __call__(self, stage: str, done: int, total: int) -> None:
        if stage.endswith("files"):
            self.files = f", {done:,}/{total:,} files"
            return
        now = time.monotonic()
        if not self.enabled or (now - self.last < 0.5 and done < total):
            return
        self.last = now
        rate = done / max(now - self.started, 1e-6)
        eta = (total - done) / rate if rate > 0 else 0.0
        click.echo(
            f"\r{stage}: {done / 1e6:,.1f}/{total / 1e6:,.1f} MB{self.files} "
            f"({rate / 1e6:,.1f} MB/s, ETA {eta:,.0f} s)   ",
            err=True,
            nl=done >= total,
        )


def _show_progress(asked: bool | None, as_json: bool) -> bool:
    """``--progress`` forces the line, ``--no-progress`` or ``--json`` stops it; else a terminal shows it."""
    if as_json:
        return False
    return sys.stderr.isatty() if asked is None else asked


def _config(path: Path) -> StorageConfig:
    return load_storage_config(path)


@main.command("init-location")
@config_option
@click.argument("names", nargs=-1, required=True)
@json_option
def init_location_command(config_path: Path, names: tuple[str, ...], as_json: bool) -> None:
    """Make configured location(s) ready: write the .oais-location marker (the root's parent must exist).

    Nothing is ever stored in a location that has not been initialised: an unmounted disk or NAS
    share is refused instead of filling the folder it is mounted on.
    """
    with handle_errors(as_json):
        config = _config(config_path)
        markers = {name: str(init_location(config, name)) for name in names}

        def human() -> None:
            for name, marker in markers.items():
                click.echo(f"initialised: {name} ({marker})")

        emit(as_json, {"ok": True, "markers": markers}, human)


@main.command("store")
@config_option
@click.argument("bags", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--location", "-l", default=None, help="Target location (default: the first configured).")
@click.option(
    "--replicate/--no-replicate",
    "also_replicate",
    default=True,
    show_default=True,
    help="Also copy each bag to the other locations.",
)
@workers_option
@scheduler_option
@json_option
@click.option(
    "--progress/--no-progress",
    default=None,
    help="Progress line on stderr (default: only when stderr is a terminal, so logs stay clean).",
)
def store_command(
    config_path: Path,
    bags: tuple[Path, ...],
    location: str | None,
    also_replicate: bool,
    workers: int | None,
    scheduler: str | None,
    as_json: bool,
    progress: bool | None,
) -> None:
    """Put AIP bags (folders, .tar or .zip) into storage, verified by digest, and replicate them."""
    with handle_errors(as_json):
        config = _config(config_path)
        rows: list[dict[str, Any]] = []
        show = _show_progress(progress, as_json)
        with open_executor(workers, scheduler) as executor:
            for bag in bags:
                result = store(config, bag, location, executor=executor, progress=ByteProgress(show))
                results = [result]
                if also_replicate:
                    results += replicate(config, package=result.objid, executor=executor)
                for item in results:
                    rows.append(
                        {
                            "objid": item.objid,
                            "location": item.location,
                            "path": str(item.path),
                            "copied": item.copied,
                            "verified_copies": item.verified_copies,
                            "safe": item.safe,
                            "error": item.error,
                        }
                    )
        status = {s.objid: s for s in package_status(config)}
        unsafe = sorted({r["objid"] for r in rows if not status[r["objid"]].safe})

        def human() -> None:
            for row in rows:
                if row["error"]:
                    click.echo(f"NOT COPIED to {row['location']}: {row['error']}", err=True)
                    continue
                verb = "stored" if row["copied"] else "already held"
                click.echo(f"{verb}: {row['objid']} at {row['location']} ({row['path']})")
            for objid in unsafe:
                click.echo(
                    f"NOT SAFE: {objid}: {status[objid].verified_media} verified cop(ies), "
                    f"{config.min_copies} required",
                    err=True,
                )

        failed = [r for r in rows if r["error"]]
        emit(as_json, {"ok": not unsafe and not failed, "copies": rows, "unsafe": unsafe}, human)
        if unsafe or failed:
            raise SystemExit(EXIT_INVALID)


@main.command("replicate")
@config_option
@click.option("--package", "-p", default=None, help="Only this OBJID.")
@click.option("--location", "-l", "locations", multiple=True, help="Target location(s) (default: all).")
@workers_option
@scheduler_option
@json_option
def replicate_command(
    config_path: Path,
    package: str | None,
    locations: tuple[str, ...],
    workers: int | None,
    scheduler: str | None,
    as_json: bool,
) -> None:
    """Copy packages to every location that lacks them; each copy is verified before it is recorded."""
    with handle_errors(as_json):
        config = _config(config_path)
        with open_executor(workers, scheduler) as executor:
            results = replicate(config, package=package, locations=list(locations) or None, executor=executor)
        unsafe = [
            s.objid for s in package_status(config) if not s.safe and (package is None or s.objid == package)
        ]
        copied = [r for r in results if not r.error]
        failed = [r for r in results if r.error]
        data = {
            "ok": not unsafe and not failed,
            "copies": [{"objid": r.objid, "location": r.location, "path": str(r.path)} for r in copied],
            "failed": [{"objid": r.objid, "location": r.location, "error": r.error} for r in failed],
            "unsafe": unsafe,
        }

        def human() -> None:
            for r in copied:
                click.echo(f"replicated: {r.objid} -> {r.location} ({r.path})")
            for r in failed:
                click.echo(f"NOT REPLICATED: {r.objid} -> {r.location}: {r.error}", err=True)
            click.echo(
                f"{len(copied)} new cop(ies), {len(failed)} failed; "
                f"{len(unsafe)} package(s) below {config.min_copies} copies"
            )

        emit(as_json, data, human)
        if unsafe or failed:
            raise SystemExit(EXIT_INVALID)


@main.command("audit")
@config_option
@click.option("--location", "-l", "locations", multiple=True, help="Only these location(s).")
@click.option("--package", "-p", default=None, help="Only this OBJID.")
@click.option("--full", is_flag=True, help="Check every file now, whatever the schedule (resumable).")
@click.option(
    "--max-duration",
    type=click.FloatRange(min=0),
    default=None,
    metavar="SECONDS",
    help="Stop starting new work after this many seconds.",
)
@click.option(
    "--max-bytes", type=click.IntRange(min=1), default=None, help="Stop after about this many bytes."
)
@workers_option
@scheduler_option
@click.option(
    "--report",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Also write the JSON report (with the Archivematica-shaped part) to this file.",
)
@click.option(
    "--minutes",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Also write the biên bản kiểm tra (.xlsx, TT05 Annex VII).",
)
@json_option
@click.option(
    "--progress/--no-progress",
    default=None,
    help="Progress line on stderr (default: only when stderr is a terminal, so logs stay clean).",
)
def audit_command(
    config_path: Path,
    locations: tuple[str, ...],
    package: str | None,
    full: bool,
    max_duration: float | None,
    max_bytes: int | None,
    workers: int | None,
    scheduler: str | None,
    report: Path | None,
    minutes: Path | None,
    as_json: bool,
    progress: bool | None,
) -> None:
    """Fixity audit of the stored copies: least recently checked first, bounded and resumable."""
    with handle_errors(as_json):
        config = _config(config_path)
        with open_executor(workers, scheduler) as executor:
            result = audit(
                config,
                locations=list(locations) or None,
                package=package,
                full=full,
                max_duration=max_duration,
                max_bytes=max_bytes,
                executor=executor,
                progress=ByteProgress(_show_progress(progress, as_json)),
            )
        data = result.to_dict()
        if report is not None:
            _write_json(report, data)
        if minutes is not None:
            write_inspection_minutes_xlsx(minutes, faults=result.failures, run=data)

        def human() -> None:
            click.echo(
                f"audit run {result.run_id} {result.state}: {result.files_checked} file(s), "
                f"{result.bytes_checked / 1e6:,.1f} MB checked in {len(result.locations)} location(s)"
            )
            for fault in result.failures[:50]:
                click.echo(f"  - {fault.outcome}: {fault.path} {fault.detail}", err=True)
            if len(result.failures) > 50:
                click.echo(f"  … and {len(result.failures) - 50} more (use --json)", err=True)
            click.echo("all good" if result.ok else f"{len(result.failures)} problem(s) found")

        emit(as_json, data, human)
        if not result.ok:
            raise SystemExit(EXIT_INVALID)


@main.command("repair")
@config_option
@click.option("--package", "-p", default=None, help="Only this OBJID.")
@click.option("--location", "-l", "locations", multiple=True, help="Only repair copies at these location(s).")
@json_option
def repair_command(config_path: Path, package: str | None, locations: tuple[str, ...], as_json: bool) -> None:
    """Restore files an audit found damaged from another copy that still matches the recorded digest."""
    with handle_errors(as_json):
        config = _config(config_path)
        result = repair(config, package=package, locations=list(locations) or None)

        def human() -> None:
            for path in result.repaired:
                click.echo(f"repaired: {path}")
            for path in result.unrepairable:
                click.echo(f"NOT REPAIRED (no good copy): {path}", err=True)
            click.echo(f"{len(result.repaired)} repaired, {len(result.unrepairable)} without a good copy")

        emit(as_json, result.to_dict(), human)
        if not result.ok:
            raise SystemExit(EXIT_INVALID)


@main.command("reindex")
@config_option
@workers_option
@json_option
def reindex_command(config_path: Path, workers: int | None, as_json: bool) -> None:
    """Rebuild the ledger from the bags in every location (each bag verified completely)."""
    with handle_errors(as_json):
        config = _config(config_path)
        with open_executor(workers) as executor:
            counts = reindex(config, executor=executor)
        emit(
            as_json,
            {"ok": counts["invalid"] == 0 and counts["conflicting"] == 0, **counts},
            lambda: click.echo(", ".join(f"{k}: {v}" for k, v in counts.items())),
        )
        if counts["invalid"] or counts["conflicting"]:
            raise SystemExit(EXIT_INVALID)


@main.command("copies")
@config_option
@json_option
def copies_command(config_path: Path, as_json: bool) -> None:
    """List every package with its copies; exit 1 when one has fewer verified copies than required."""
    with handle_errors(as_json):
        config = _config(config_path)
        rows = package_status(config)
        data = {
            "ok": all(r.safe for r in rows),
            "min_copies": config.min_copies,
            "packages": [
                {
                    "objid": r.objid,
                    "fonds_code": r.fonds_code,
                    "hoso_code": r.hoso_code,
                    "copies": [{"location": loc, "state": state} for loc, state in r.copies],
                    "verified_media": r.verified_media,
                    "safe": r.safe,
                }
                for r in rows
            ],
        }

        def human() -> None:
            for r in rows:
                copies = ", ".join(f"{loc}:{state}" for loc, state in r.copies)
                click.echo(f"{'safe  ' if r.safe else 'UNSAFE'} {r.objid} [{copies}]")

        emit(as_json, data, human)
        if not data["ok"]:
            raise SystemExit(EXIT_INVALID)


@main.command("storage-report")
@config_option
@click.option("--run", "run_id", type=int, default=None, help="Audit run (default: the latest).")
@click.option(
    "--minutes",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Write the biên bản kiểm tra of the run (.xlsx).",
)
@click.option(
    "--backup-log",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Write the nhật ký sao lưu (.xlsx) of every store, replication and repair.",
)
@click.option("--organization", default="", help="Cơ quan, tổ chức shown on the forms.")
@json_option
def storage_report_command(
    config_path: Path,
    run_id: int | None,
    minutes: Path | None,
    backup_log: Path | None,
    organization: str,
    as_json: bool,
) -> None:
    """Reports from the ledger: an audit run (JSON, Archivematica shape, minutes) and the backup log."""
    with handle_errors(as_json):
        config = _config(config_path)
        with config.open_ledger() as ledger:
            runs = ledger.audit_runs()
            chosen = (
                next((r for r in runs if r.id == run_id), None) if run_id else (runs[-1] if runs else None)
            )
            faults: list[FaultyFile] = []
            summary: dict[str, Any] = {}
            if chosen is not None:
                for copy_id, path, outcome, detail in ledger.run_failures(chosen.id):
                    copy = ledger.copy(copy_id)
                    location = config.locations.get(copy.location)
                    base = (location.path / copy.relpath) if location else Path(copy.relpath)
                    faults.append(
                        FaultyFile(
                            ledger.package_by_id(copy.package_id).objid,
                            copy.location,
                            location.medium if location else "",
                            str(base / path),
                            outcome,
                            detail,
                        )
                    )
                summary = {
                    "run_id": chosen.id,
                    "started": chosen.started,
                    "finished": chosen.finished,
                    "state": chosen.state,
                    "locations": chosen.locations,
                    "files_checked": chosen.files_checked,
                    "bytes_checked": chosen.bytes_checked,
                }
            events = ledger.events(["store", "replication", "repair", "reindex"])
        if minutes is not None and chosen is not None:
            write_inspection_minutes_xlsx(minutes, faults=faults, run=summary, organization=organization)
        if backup_log is not None:
            media = {name: loc.medium for name, loc in config.locations.items()}
            write_backup_log_xlsx(backup_log, events=events, media=media, organization=organization)
        data = {
            "run": summary,
            "archivematica": archivematica_report(
                faults,
                when=str(summary.get("finished") or ""),
                checked_files=int(summary.get("files_checked", 0)),
            ),
            "backup_log_entries": len(events),
        }
        emit(
            as_json,
            data,
            lambda: click.echo(
                f"run {summary.get('run_id', '-')}: {len(faults)} problem(s); "
                f"backup log: {len(events)} entries"
            ),
        )


def _write_json(path: Path, data: dict[str, Any]) -> None:
    import json
    import os

    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.partial")
    temp.write_text(json.dumps(data, ensure_ascii=False, indent=2), encoding="utf-8")
    os.replace(temp, path)
