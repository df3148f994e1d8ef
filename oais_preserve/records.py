"""Records of preservation work: the PREMIS event log beside each copy, JSON reports, TT05 forms.

Audits never rewrite an AIP (that would change the AIP and its own fixity). Each audit, repair or
replication instead adds one small PREMIS 3 document to ``<copy>.events/``, a folder beside the
bag: files are created exclusively and never rewritten, so the folder is an append-only log.

Reports: :func:`audit_report` (our JSON), :func:`archivematica_report` (the shape Archivematica's
storage service returns for a fixity check) and two Vietnamese workbooks following TT05 Annex VII:
biên bản kiểm tra (inspection minutes) and nhật ký sao lưu (backup log).
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, Side
from openpyxl.utils import get_column_letter

from . import __version__
from .premis import Agent, EntityObject, Event, Identifier, PremisWriter
from .profile import SOFTWARE_NAME, new_id, timestamp

__all__ = [
    "FaultyFile",
    "archivematica_report",
    "write_backup_log_xlsx",
    "write_inspection_minutes_xlsx",
    "write_premis_event",
]

_SOFTWARE_AGENT = Identifier("local", f"{SOFTWARE_NAME}-{__version__}")


def write_premis_event(
    log_dir: Path,
    *,
    objid: str,
    event_type: str,
    outcome: str,
    detail: str,
    notes: Sequence[str],
    agent: str,
    when: str | None = None,
) -> Path:
    """Append one PREMIS 3 event (with its package object and agents) to the log folder ``log_dir``.

    ``notes`` become the event outcome note, one line each (per-file failures). The file is
    written to a temporary name and renamed, so a crash never leaves half an event; names sort
    by time.
    """
    when = when or timestamp()
    log_dir.mkdir(parents=True, exist_ok=True)
    event_id = new_id("uuid-")
    buffer = io.BytesIO()
    operator = Identifier("local", agent)
    with PremisWriter(buffer) as premis:
        premis.add_entity(EntityObject("intellectualEntity", Identifier("OBJID", objid)))
        premis.add_event(
            Event(
                identifier=Identifier("UUID", event_id),
                type=event_type,
                date_time=when,
                detail=detail,
                outcome=outcome,
                outcome_note="\n".join(notes),
                agents=((_SOFTWARE_AGENT, "executing program"), (operator, "implementer")),
                objects=(Identifier("OBJID", objid),),
            )
        )
        premis.add_agents(
            [
                Agent(_SOFTWARE_AGENT, SOFTWARE_NAME, "software", version=__version__),
                Agent(operator, agent, "organization"),
            ]
        )
    stamp = when.replace(":", "").replace("-", "")[:15]
    name = f"{stamp}-{event_type.replace(' ', '-')}-{event_id[5:13].lower()}.xml"
    temp = log_dir / f".{name}.tmp"
    with open(temp, "xb") as handle:
        handle.write(buffer.getvalue())
        handle.flush()
        os.fsync(handle.fileno())
    final = log_dir / name
    os.link(temp, final)  # fails rather than replace an existing event: the log is append-only
    os.unlink(temp)
    return final


@dataclass(frozen=True)
class FaultyFile:
    """One finding of an audit, as the inspection minutes list it."""

    objid: str
    location: str
    medium: str
    path: str  # full path on the medium
    outcome: str  # changed | missing | unreadable | extra | oxum | special-file
    detail: str


def archivematica_report(failures: Sequence[FaultyFile], *, when: str, checked_files: int) -> dict[str, Any]:
    """The audit in the shape of Archivematica's storage-service fixity answer."""
    changed = [f.path for f in failures if f.outcome in ("changed", "unreadable")]
    missing = [f.path for f in failures if f.outcome == "missing"]
    untracked = [f.path for f in failures if f.outcome == "extra"]
    other = [
        f"{f.path}: {f.detail}"
        for f in failures
        if f.outcome not in ("changed", "unreadable", "missing", "extra")
    ]
    success = not failures
    if success:
        message = f"Fixity check passed ({checked_files} files checked)"
    else:
        message = (
            f"Fixity check failed: {len(changed)} changed, {len(missing)} missing, "
            f"{len(untracked)} untracked, {len(other)} other problem(s)"
        )
    return {
        "success": success,
        "message": message,
        "timestamp": when,
        "failures": {
            "files": {"changed": changed, "missing": missing, "untracked": untracked},
            "other": other,
        },
    }


# --------------------------------------------------------------------------- TT05 Annex VII workbooks

_THIN = Side(style="thin")
_BOX = Border(left=_THIN, right=_THIN, top=_THIN, bottom=_THIN)
_OUTCOME_VI = {
    "changed": "Thay đổi nội dung (sai mã băm SHA-256)",
    "missing": "Mất tệp",
    "unreadable": "Không đọc được",
    "extra": "Tệp lạ không có trong danh mục",
    "oxum": "Sai Payload-Oxum (tổng dung lượng / số tệp)",
    "special-file": "Không phải tệp thường (liên kết, thiết bị)",
    "copy-missing": "Mất bản sao",
}


def _heading(sheet: Any, title: str, width: int, lines: Iterable[str]) -> int:
    last = get_column_letter(width)
    rows = [
        ("CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", True),
        ("Độc lập - Tự do - Hạnh phúc", True),
        ("", False),
        (title, True),
    ]
    row = 1
    for text, bold in rows:
        sheet.merge_cells(f"A{row}:{last}{row}")
        cell = sheet.cell(row=row, column=1, value=text)
        cell.font = Font(bold=bold, size=13 if bold else 11)
        cell.alignment = Alignment(horizontal="center")
        row += 1
    for text in lines:
        sheet.merge_cells(f"A{row}:{last}{row}")
        sheet.cell(row=row, column=1, value=text)
        row += 1
    return row + 1


def _table(
    sheet: Any, start: int, header: Sequence[str], rows: Iterable[Sequence[Any]], widths: Sequence[int]
) -> int:
    for column, (text, width) in enumerate(zip(header, widths, strict=True), start=1):
        cell = sheet.cell(row=start, column=column, value=text)
        cell.font = Font(bold=True)
        cell.border = _BOX
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
        sheet.column_dimensions[get_column_letter(column)].width = width
    row = start
    for row_values in rows:
        row += 1
        for column, value in enumerate(row_values, start=1):
            cell = sheet.cell(row=row, column=column, value=value)
            cell.border = _BOX
            cell.alignment = Alignment(vertical="top", wrap_text=True)
    return row + 2


def _signatures(sheet: Any, row: int, left: str, right: str) -> None:
    sheet.cell(row=row, column=1, value=left).font = Font(bold=True)
    sheet.cell(row=row, column=4, value=right).font = Font(bold=True)
    sheet.cell(row=row + 1, column=1, value="(Ký, ghi rõ họ tên)").font = Font(italic=True)
    sheet.cell(row=row + 1, column=4, value="(Ký, ghi rõ họ tên)").font = Font(italic=True)


def _save(workbook: Workbook, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.partial")
    workbook.save(temp)
    os.replace(temp, path)
    return path


def write_inspection_minutes_xlsx(
    path: Path,
    *,
    faults: Sequence[FaultyFile],
    run: Mapping[str, Any],
    organization: str = "",
) -> Path:
    """Biên bản kiểm tra (TT05 Annex VII): the scope, the result and every faulty file (STT, medium, path)."""
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = "Biên bản kiểm tra"
    header_lines = [
        f"Cơ quan, tổ chức: {organization}" if organization else "Cơ quan, tổ chức: ……………………",
        f"Thời gian kiểm tra: từ {run.get('started', '')} đến {run.get('finished') or '…'}",
        f"Phạm vi kiểm tra (vị trí lưu trữ): {run.get('locations', '')}",
        f"Phương pháp: kiểm tra bằng phần mềm {SOFTWARE_NAME} {__version__}, so sánh mã băm SHA-256 "
        "với danh mục đã ghi nhận",
        f"Số tệp đã kiểm tra: {run.get('files_checked', 0)}; dung lượng: {run.get('bytes_checked', 0)} byte",
        "Kết quả: "
        + ("không phát hiện lỗi" if not faults else f"phát hiện {len(faults)} tệp lỗi (danh sách dưới đây)"),
    ]
    row = _heading(sheet, "BIÊN BẢN KIỂM TRA CƠ SỞ DỮ LIỆU TÀI LIỆU LƯU TRỮ SỐ", 7, header_lines)
    rows = [
        (i, f.objid, f.medium, f.location, f.path, _OUTCOME_VI.get(f.outcome, f.outcome), f.detail)
        for i, f in enumerate(faults, start=1)
    ]
    row = _table(
        sheet,
        row,
        [
            "STT",
            "Mã gói (OBJID)",
            "Ký hiệu phương tiện",
            "Vị trí lưu trữ",
            "Đường dẫn tệp lỗi",
            "Tình trạng lỗi",
            "Ghi chú",
        ],
        rows,
        [6, 40, 16, 14, 60, 30, 40],
    )
    _signatures(sheet, row, "NGƯỜI KIỂM TRA", "NGƯỜI CHỊU TRÁCH NHIỆM")
    return _save(workbook, path)


_KIND_VI = {
    "store": "Lưu trữ bản chính",
    "replication": "Sao lưu (nhân bản)",
    "repair": "Phục hồi tệp từ bản sao tốt",
    "reindex": "Ghi nhận lại từ gói",
    "fixity check": "Kiểm tra toàn vẹn",
}


def write_backup_log_xlsx(
    path: Path, *, events: Sequence[Sequence[Any]], media: Mapping[str, str], organization: str = ""
) -> Path:
    """Nhật ký sao lưu (TT05 Annex VII): one row per store, replication or repair, oldest first.

    ``events`` rows are (at, kind, objid, location, outcome, detail, bytes, files) as
    :meth:`Ledger.events` returns them; ``media`` maps a location to its medium symbol.
    """
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = "Nhật ký sao lưu"
    lines = [f"Cơ quan, tổ chức: {organization}" if organization else "Cơ quan, tổ chức: ……………………"]
    row = _heading(sheet, "NHẬT KÝ SAO LƯU TÀI LIỆU LƯU TRỮ SỐ", 9, lines)
    rows = [
        (
            i,
            at,
            _KIND_VI.get(kind, kind),
            objid,
            f"{location} ({media.get(location, '')})",
            size,
            files,
            "Thành công" if outcome == "success" else "Không thành công",
            detail,
        )
        for i, (at, kind, objid, location, outcome, detail, size, files) in enumerate(events, start=1)
    ]
    row = _table(
        sheet,
        row,
        [
            "STT",
            "Thời gian",
            "Nội dung công việc",
            "Mã gói (OBJID)",
            "Nơi lưu (ký hiệu phương tiện)",
            "Dung lượng (byte)",
            "Số tệp",
            "Kết quả",
            "Ghi chú",
        ],
        rows,
        [6, 26, 24, 40, 26, 16, 10, 16, 50],
    )
    _signatures(sheet, row, "NGƯỜI THỰC HIỆN", "NGƯỜI KIỂM TRA")
    return _save(workbook, path)
