"""The yearly progress report (báo cáo hằng năm, due before 15 December), per fonds.

Figures come from what exists: the AIPs in the stores (digitized in the year = the PREMIS
digitization event; packaged in the year = the METS creation date), the handover tars (the biên
bản bàn giao inside each) and, given a storage configuration, the storage ledger: packages stored,
copies held, audits done, problems found and repaired, and the handovers recorded there. A
hồ sơ counts once per fonds and year however many handovers carried it, and a handover tar
counts once however often it is found (in several folders, or both as a tar and in the ledger).
Figures with no source, such as the hồ sơ selected until a selection list is given, say "chưa có
dữ liệu" (no data yet), never 0.

A collector is any callable ``collector(year) -> {fonds_code: {column: number}}`` for the
columns of :data:`COLLECTED`; :func:`ledger_collector` is the storage ledger's,
:func:`selection_collector` the selection lists'.
"""

from __future__ import annotations

import base64
import hashlib
import html
import io
import json
import logging
import os
import tarfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from .errors import Problem, UserInputError
from .ledger import Ledger
from .profile import now
from .statistics import UNKNOWN, PackageFacts, read_package_facts
from .storage import StorageConfig, copy_path

__all__ = [
    "COLLECTED",
    "COLUMNS",
    "COMPUTED",
    "LEDGER_COLUMNS",
    "Collector",
    "FondsYear",
    "YearReport",
    "find_handovers",
    "ledger_audit_runs",
    "ledger_collector",
    "ledger_figures",
    "read_handover_record",
    "render_report_html",
    "selection_collector",
    "stored_aips",
    "write_report",
    "write_report_html",
    "write_report_xlsx",
    "yearly_report",
]

Collector = Callable[[int], Mapping[str, Mapping[str, int]]]

log = logging.getLogger(__name__)

#: Columns filled by collectors (the catalogue's selection list; the storage ledger).
COLLECTED: tuple[tuple[str, str], ...] = (
    ("selected", "Hồ sơ đã lựa chọn"),
    ("stored", "Gói đưa vào kho trong năm"),
    ("copies_held", "Số bản sao đang lưu giữ"),
    ("audits", "Số lần kiểm tra"),
    ("problems_found", "Lỗi phát hiện"),
    ("problems_repaired", "Lỗi đã khắc phục"),
)
#: Columns computed here from the packages and the handover records.
COMPUTED: tuple[tuple[str, str], ...] = (
    ("digitized", "Hồ sơ số hóa trong năm"),
    ("packaged", "Hồ sơ đóng gói trong năm"),
    ("handed_over", "Hồ sơ bàn giao trong năm"),
    ("pages", "Số trang số hóa trong năm"),
    ("bytes", "Dung lượng đóng gói trong năm (byte)"),
    ("hoso_total", "Tổng số hồ sơ đã đóng gói (lũy kế)"),
    ("pages_total", "Tổng số trang (lũy kế)"),
)
COLUMNS = (("fonds_code", "Mã phông"), ("fonds_name", "Tên phông/công trình/sưu tập"), *COMPUTED, *COLLECTED)


@dataclass
class FondsYear:
    """One fonds' row of the yearly report; ``None`` means no source was given for that figure."""

    fonds_code: str
    fonds_name: str
    digitized: int = 0
    packaged: int = 0
    handed_over: int = 0
    pages: int = 0
    bytes: int = 0
    hoso_total: int = 0
    pages_total: int = 0
    selected: int | None = None
    stored: int | None = None
    copies_held: int | None = None
    audits: int | None = None
    problems_found: int | None = None
    problems_repaired: int | None = None


@dataclass
class YearReport:
    """The report of one year: one row per fonds, and the handovers of the year."""

    year: int
    generated: datetime
    organization: str
    rows: list[FondsYear] = field(default_factory=list)
    handovers: list[dict[str, Any]] = field(default_factory=list)  # (name, fonds, date, hồ sơ) of the year
    #: Totals that are not the sum of the rows: one audit run that checked several fonds counts once.
    distinct_totals: dict[str, int] = field(default_factory=dict)
    #: What could not be counted (an unreadable handover tar): the report was made without it.
    problems: list[Problem] = field(default_factory=list)

    def totals(self) -> dict[str, int | None]:
        """Column totals over the fonds; ``None`` where any fonds has no source for the column.

        A total is the sum of the rows, except those in :attr:`distinct_totals`.
        """
        result: dict[str, int | None] = {}
        for key, _header in (*COMPUTED, *COLLECTED):
            values = [getattr(row, key) for row in self.rows]
            if any(v is None for v in values) or not values:
                result[key] = None
            else:
                result[key] = self.distinct_totals.get(key, sum(values))
        return result

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (``bao-cao-YYYY.json``)."""
        return {
            "year": self.year,
            "generated": self.generated.isoformat(timespec="seconds"),
            "organization": self.organization,
            "columns": dict(COLUMNS),
            "fonds": [asdict(row) for row in self.rows],
            "totals": self.totals(),
            "handovers": self.handovers,
            "problems": [asdict(problem) for problem in self.problems],
        }


def _year_of(timestamp: str | None) -> int | None:
    if not timestamp:
        return None
    try:
        return datetime.fromisoformat(timestamp).year
    except ValueError:
        return None


def read_handover_record(tar_path: Path) -> dict[str, Any]:
    """The biên bản bàn giao (JSON) inside a handover tar, read without extracting the tar."""
    from .handover import RECORD_BASE

    suffix = f"/{RECORD_BASE}.json"
    try:
        with tarfile.open(tar_path, mode="r:") as archive:
            for member in archive:
                if (
                    member.isreg()
                    and member.name.endswith(suffix)
                    and member.name.count("/") == suffix.count("/")
                ):
                    handle = archive.extractfile(member)
                    assert handle is not None
                    data: dict[str, Any] = json.loads(handle.read(16 << 20).decode("utf-8"))
                    return data
    except (tarfile.TarError, ValueError, OSError) as exc:
        raise UserInputError(f"{tar_path}: cannot read the handover record ({exc})") from exc
    raise UserInputError(f"{tar_path}: no handover record inside")


def find_handovers(folders: Iterable[Path]) -> list[Path]:
    """Handover tars in the given folders and their subfolders, in name order within each folder.

    Directly in a folder every ``*.tar`` is taken (the folder was named as holding handovers);
    in its subfolders only handover tars: ``BGNV_*.tar``, or a tar with its ``.sha256`` beside it,
    so that serialized AIPs kept alongside are not mistaken for handovers. Hidden files and
    folders (a handover still being written) are skipped.
    """
    found: list[Path] = []
    for folder in folders:
        top = Path(folder)
        if not top.is_dir():
            raise UserInputError(f"{folder}: handover folder not found")
        for dirpath, dirnames, filenames in os.walk(top):
            here = Path(dirpath)
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            found.extend(
                here / name
                for name in sorted(filenames)
                if name.endswith(".tar")
                and not name.startswith(".")
                and (here == top or name.startswith("BGNV_") or (here / f"{name}.sha256").is_file())
                and (here / name).is_file()
            )
    return found


#: The columns the storage ledger fills (:func:`ledger_collector`).
LEDGER_COLUMNS = ("stored", "copies_held", "audits", "problems_found", "problems_repaired")


def ledger_figures(ledger: Ledger, year: int) -> dict[str, dict[str, int]]:
    """Per fonds, the storage ledger's figures for ``year`` (every fonds of the ledger, zeros kept).

    - stored: packages first put into storage (``store``, or found by ``reindex``) in the year;
    - copies_held: undamaged copies now held that were written by the end of the year;
    - audits: audit runs started in the year that checked at least one file of the fonds;
    - problems_found: distinct faulty files (per copy) found by those runs;
    - problems_repaired: successful repairs in the year (a file, or a serialized copy restored whole).

    Audit figures come from the per-file checks; ``prune_checks`` forgets old successful checks
    (never failures), so prune only records older than any year still to be reported.
    """
    key = f"{year:04d}"
    figures: dict[str, dict[str, int]] = {
        str(code): dict.fromkeys(LEDGER_COLUMNS, 0)
        for (code,) in ledger.db.execute("SELECT DISTINCT fonds_code FROM packages")
    }
    queries = {
        "stored": "SELECT p.fonds_code, COUNT(*) FROM packages p JOIN (SELECT package_id, MIN(at) AS first"
        " FROM events WHERE kind IN ('store', 'reindex') AND outcome='success' GROUP BY package_id) s"
        " ON s.package_id = p.id WHERE substr(s.first, 1, 4)=? GROUP BY p.fonds_code",
        "copies_held": "SELECT p.fonds_code, COUNT(*) FROM copies c JOIN packages p ON p.id = c.package_id"
        " WHERE c.state='ok' AND substr(c.verified, 1, 4) <= ? GROUP BY p.fonds_code",
        "audits": "SELECT p.fonds_code, COUNT(DISTINCT ch.run_id) FROM checks ch"
        " JOIN audit_runs r ON r.id = ch.run_id JOIN copies c ON c.id = ch.copy_id"
        " JOIN packages p ON p.id = c.package_id WHERE substr(r.started, 1, 4)=? GROUP BY p.fonds_code",
        "problems_found": "SELECT p.fonds_code, COUNT(DISTINCT ch.copy_id || '/' || ch.path) FROM checks ch"
        " JOIN audit_runs r ON r.id = ch.run_id JOIN copies c ON c.id = ch.copy_id"
        " JOIN packages p ON p.id = c.package_id WHERE ch.outcome != 'ok' AND substr(r.started, 1, 4)=?"
        " GROUP BY p.fonds_code",
        "problems_repaired": "SELECT p.fonds_code, COUNT(*) FROM events e JOIN packages p"
        " ON p.id = e.package_id WHERE e.kind='repair' AND e.outcome='success' AND substr(e.at, 1, 4)=?"
        " GROUP BY p.fonds_code",
    }
    for column, query in queries.items():
        for code, count in ledger.db.execute(query, (key,)):
            figures.setdefault(str(code), dict.fromkeys(LEDGER_COLUMNS, 0))[column] = int(count)
    return figures


def ledger_audit_runs(ledger: Ledger, year: int) -> int:
    """Audit runs started in ``year`` that checked at least one file: the total of the audits column.

    The per-fonds figure counts a run once for each fonds it checked, so the column's sum would
    count a run over three fonds three times.
    """
    query = (
        "SELECT COUNT(DISTINCT ch.run_id) FROM checks ch JOIN audit_runs r ON r.id = ch.run_id"
        " WHERE substr(r.started, 1, 4)=?"
    )
    return int(ledger.db.execute(query, (f"{year:04d}",)).fetchone()[0])


def ledger_collector(config: StorageConfig) -> Collector:
    """A collector reading the storage ledger of ``config`` (see :func:`ledger_figures`)."""

    def collect(year: int) -> Mapping[str, Mapping[str, int]]:
        with config.open_ledger() as ledger:
            return ledger_figures(ledger, year)

    return collect


def selection_collector(lists: Iterable[Path]) -> Collector:
    """A collector counting, per fonds, the distinct hồ sơ on the selection lists (danh mục hồ sơ
    lựa chọn số hóa, written by :func:`oais_preserve.selection.write_selection`, ``.xlsx`` or
    ``.csv``).

    The lists carry no date: the figure is every hồ sơ selected so far, whatever the year. A fonds
    on no list keeps "chưa có dữ liệu". The lists are read when the collector is made, so a
    missing or malformed list is reported before any work.
    """
    from .selection import read_selection_entries

    codes: dict[str, set[str]] = {}
    for path in lists:
        for fonds, code in read_selection_entries(path):
            codes.setdefault(fonds, set()).add(code)
    figures = {fonds: {"selected": len(found)} for fonds, found in codes.items()}

    def collect(_year: int) -> Mapping[str, Mapping[str, int]]:
        return figures

    return collect


def stored_aips(config: StorageConfig) -> list[Path]:
    """One undamaged bag-folder copy of every package in the storage ledger (the facts reader
    reads folders; a serialized copy holds the bag, not the bare TT05 package)."""
    found = []
    with config.open_ledger() as ledger:
        for package in ledger.packages():
            usable = [
                copy
                for copy in ledger.clean_copies(package.id)
                if copy.location in config.locations and copy.form == "dir"
            ]
            if not usable:
                raise UserInputError(
                    f"{package.objid}: no undamaged bag-folder copy to read (run audit and repair, "
                    "or give the AIPs with --store)"
                )
            found.append(copy_path(config, usable[0]))
    return found


def yearly_report(
    year: int,
    aips: Iterable[Path] | None = None,
    *,
    handovers: Iterable[Path] = (),
    collectors: Sequence[Collector] = (),
    storage: StorageConfig | None = None,
    organization: str = "",
) -> YearReport:
    """Compute the report of ``year`` from the AIPs, the handover tars, the collectors and storage.

    With ``storage``, the ledger fills :data:`LEDGER_COLUMNS` (a real 0 for a fonds it holds
    nothing of), its recorded handovers are counted (once, even when the tar is also given), and
    ``aips`` defaults to one copy of every package in the ledger. No AIP at all (an empty or wrong
    store folder, and no storage holding packages) is a :class:`UserInputError`; AIPs with
    nothing in ``year`` make a report of zeros. A handover tar that cannot be read is left out
    and listed in :attr:`YearReport.problems`; the other tars are still counted.
    """
    if not 1900 <= year <= 9999:
        raise UserInputError(f"{year}: not a plausible year")
    if aips is None:
        if storage is None:
            raise UserInputError("give the AIPs or a storage configuration")
        aips = stored_aips(storage)
    facts: list[PackageFacts] = []
    seen: set[str] = set()
    for path in aips:
        fact = read_package_facts(Path(path))
        if fact.objid not in seen:  # the same AIP in two stores counts once
            seen.add(fact.objid)
            facts.append(fact)
    if not facts and not _ledger_holds_packages(storage):
        raise UserInputError(
            "không tìm thấy AIP nào trong các kho đã cho / no AIP found in the stores given "
            "(a folder of AIP bags, or --storage)"
        )
    rows: dict[str, FondsYear] = {}
    hoso_seen: dict[str, set[str]] = {}
    for fact in sorted(facts, key=lambda f: (f.fonds_code, f.arc_file_code)):
        row = rows.setdefault(fact.fonds_code, FondsYear(fact.fonds_code, fact.fonds_name))
        organization = organization or fact.organization
        codes = hoso_seen.setdefault(fact.fonds_code, set())
        if fact.arc_file_code in codes:
            continue
        codes.add(fact.arc_file_code)
        packaged_in = _year_of(fact.created)
        if packaged_in is None or packaged_in <= year:  # cumulative to the end of the year
            row.hoso_total += 1
            row.pages_total += fact.pages
        if _year_of(fact.digitized_at) == year:
            row.digitized += 1
            row.pages += fact.pages
        if packaged_in == year:
            row.packaged += 1
            row.bytes += fact.bytes
    report = YearReport(year, now().replace(microsecond=0), organization)
    seen_handovers = _SeenHandovers()
    for tar in handovers:
        try:
            _count_tar(Path(tar), year, rows, seen_handovers, report)
        except (UserInputError, OSError, LookupError, TypeError, ValueError) as exc:
            # one damaged tar must not cost the whole report: it is listed and the others counted
            detail = str(exc).removeprefix(f"{tar}: ")
            report.problems.append(
                Problem(str(tar), f"không đọc được, bỏ qua / unreadable, left out: {detail}", rule="handover")
            )
            # INFO: the caller gets it in report.problems (the CLI prints it once, as a warning)
            log.info("%s: handover tar left out of the report: %s", tar, detail)
    other_audits = 0  # audits given by collectors other than the ledger: theirs are summed
    for collector in collectors:
        figures = collector(year)
        _add_figures(rows, figures)
        other_audits += sum(f.get("audits", 0) for f in figures.values())
    if storage is not None:
        _ledger_handovers(storage, year, rows, seen_handovers, report)
        _add_figures(rows, ledger_collector(storage)(year))
        with storage.open_ledger() as ledger:
            report.distinct_totals["audits"] = ledger_audit_runs(ledger, year) + other_audits
        for row in rows.values():  # the ledger was asked: a fonds it holds nothing of has a real 0
            for key in LEDGER_COLUMNS:
                if getattr(row, key) is None:
                    setattr(row, key, 0)
    for code, hoso in seen_handovers.hoso.items():
        rows[code].handed_over = len(hoso)
    report.rows = [rows[code] for code in sorted(rows)]
    return report


def _ledger_holds_packages(storage: StorageConfig | None) -> bool:
    if storage is None:
        return False
    with storage.open_ledger() as ledger:
        return ledger.db.execute("SELECT 1 FROM packages LIMIT 1").fetchone() is not None


def _add_figures(rows: dict[str, FondsYear], figures: Mapping[str, Mapping[str, int]]) -> None:
    """Add one collector's figures to the rows (a column two collectors fill is summed)."""
    for code, columns in figures.items():
        row = rows.setdefault(code, FondsYear(code, ""))
        for key, value in columns.items():
            if key not in dict(COLLECTED):
                raise UserInputError(f"collector gave an unknown column {key!r}")
            current = getattr(row, key)
            setattr(row, key, value if current is None else current + value)


@dataclass
class _SeenHandovers:
    """Handovers already counted (by tar name and by digest) and the hồ sơ handed over per fonds.

    A hồ sơ handed over twice in the year (two handovers of the fonds) counts once; a tar found
    twice (two --handovers folders, or as a tar and in the ledger) is one handover.
    """

    names: set[str] = field(default_factory=set)
    digests: set[str] = field(default_factory=set)
    hoso: dict[str, set[str]] = field(default_factory=dict)

    def known(self, name: str, digest: str) -> bool:
        """Whether this handover (by tar name or digest) was already counted."""
        return name in self.names or digest in self.digests

    def add(self, name: str, digest: str, fonds_code: str, hoso: Iterable[str]) -> None:
        """Count one handover and the hồ sơ it carried."""
        self.names.add(name)
        self.digests.add(digest.lower())
        self.hoso.setdefault(fonds_code, set()).update(hoso)


def _tar_digest(tar: Path) -> str:
    """The tar's SHA-256: from the ``.sha256`` file beside it when there is one, else computed."""
    from .handover import _sha_file_digest, _UnusableShaFile

    try:
        return _sha_file_digest(tar.with_name(tar.name + ".sha256"), tar.name)
    except _UnusableShaFile:
        pass  # none, or one that cannot say: the tar itself tells
    sha = hashlib.sha256()
    with open(tar, "rb") as fh:
        while chunk := fh.read(4 << 20):
            sha.update(chunk)
    return sha.hexdigest()


def _count_tar(
    tar: Path, year: int, rows: dict[str, FondsYear], seen: _SeenHandovers, report: YearReport
) -> None:
    """One handover tar: its hồ sơ join the fonds' handed-over set if it is dated in ``year``."""
    record = read_handover_record(tar)
    when = date.fromisoformat(record["handover_date"])
    if when.year != year:
        return
    name, digest = tar.name.removesuffix(".tar"), _tar_digest(tar)
    if digest in seen.digests:  # the same tar found again (another folder, another name)
        return
    code, fonds_name = record["fonds"]["code"], record["fonds"]["name"]
    handed = {p["arc_file_code"] for p in record["packages"]}  # read all first: a bad tar adds nothing
    rows.setdefault(code, FondsYear(code, fonds_name))
    seen.add(name, digest, code, handed)
    report.handovers.append(
        {"name": tar.name, "fonds_code": code, "date": when.isoformat(), "hoso": len(handed)}
    )


def _ledger_handovers(
    storage: StorageConfig, year: int, rows: dict[str, FondsYear], seen: _SeenHandovers, report: YearReport
) -> None:
    """Handovers recorded in the ledger in ``year`` that were not already counted from their tar."""
    with storage.open_ledger() as ledger:
        for handover in ledger.handovers(year):
            if seen.known(handover.name, handover.sha256.lower()):
                continue
            hoso = {p.hoso_code or p.objid for p in ledger.handed_over_packages(handover.id)}
            rows.setdefault(handover.fonds_code, FondsYear(handover.fonds_code, ""))
            seen.add(handover.name, handover.sha256, handover.fonds_code, hoso)
            report.handovers.append(
                {
                    "name": f"{handover.name}.tar",
                    "fonds_code": handover.fonds_code,
                    "date": handover.handover_date,
                    "hoso": len(hoso),
                }
            )


# --- rendering ------------------------------------------------------------------------------------


def _cell(value: object) -> object:
    return UNKNOWN if value is None else value


def write_report_xlsx(report: YearReport, path: Path) -> None:
    """The report as a printable workbook (Vietnamese headers, totals row, A4 landscape)."""
    from openpyxl import Workbook

    from .sheets import header_row, setup_print, title_rows

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = f"Báo cáo {report.year}"
    first = title_rows(
        sheet,
        [
            f"BÁO CÁO TIẾN ĐỘ LẬP BẢN SAO BẢO HIỂM TÀI LIỆU LƯU TRỮ NĂM {report.year}",
            report.organization,
            f"Lập ngày {report.generated:%d/%m/%Y}",
        ],
        len(COLUMNS) + 1,
    )
    header_row(sheet, first, ["STT", *(header for _key, header in COLUMNS)])
    for number, row in enumerate(report.rows, start=1):
        data = asdict(row)
        sheet.append([number, *(_cell(data[key]) for key, _header in COLUMNS)])
    totals = report.totals()
    sheet.append(["", "Tổng cộng", "", *(_cell(totals[key]) for key, _header in (*COMPUTED, *COLLECTED))])
    setup_print(sheet, first, widths=[6, 12, 36] + [13] * (len(COLUMNS) - 2), landscape=True)
    book.save(path)


def _chart_png(report: YearReport) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    codes = [row.fonds_code for row in report.rows]
    series = [
        ("Số hóa", [row.digitized for row in report.rows]),
        ("Đóng gói", [row.packaged for row in report.rows]),
        ("Bàn giao", [row.handed_over for row in report.rows]),
    ]
    figure, axes = plt.subplots(figsize=(9, 3.2), dpi=110)
    width = 0.8 / len(series)
    for index, (label, values) in enumerate(series):
        positions = [i + (index - 1) * width for i in range(len(codes))]
        bars = axes.bar(positions, values, width, label=label)
        axes.bar_label(bars, fontsize=8)
    axes.set_xticks(range(len(codes)), codes)
    axes.set_ylabel("Số hồ sơ")
    axes.set_title(f"Hồ sơ số hóa, đóng gói và bàn giao năm {report.year}, theo phông")
    axes.legend()
    axes.spines[["top", "right"]].set_visible(False)
    figure.tight_layout()
    out = io.BytesIO()
    figure.savefig(out, format="png")
    plt.close(figure)
    return out.getvalue()


def render_report_html(report: YearReport) -> str:
    """A self-contained one-page HTML (A4 landscape when printed) with the table and the chart."""
    esc = html.escape
    head = "".join(f"<th>{esc(header)}</th>" for _key, header in COLUMNS)
    body = []
    for row in report.rows:
        data = asdict(row)
        cells = "".join(
            f'<td class="{"n" if isinstance(data[key], int) else "u" if data[key] is None else "t"}">'
            f"{esc(str(_cell(data[key])))}</td>"
            for key, _header in COLUMNS
        )
        body.append(f"<tr>{cells}</tr>")
    totals = report.totals()
    total_cells = "".join(
        f'<td class="n">{esc(str(_cell(totals[key])))}</td>' for key, _header in (*COMPUTED, *COLLECTED)
    )
    chart = base64.b64encode(_chart_png(report)).decode("ascii")
    handovers = "".join(
        f"<li>{esc(h['name'])}: phông {esc(h['fonds_code'])}, ngày {esc(h['date'])}, {h['hoso']} hồ sơ</li>"
        for h in report.handovers
    )
    left_out = "".join(
        f"<li>Không tính được / not counted: {esc(Path(p.where).name)}: {esc(p.message)}</li>"
        for p in report.problems
    )
    return f"""<!DOCTYPE html>
<html lang="vi"><head><meta charset="utf-8">
<title>Báo cáo năm {report.year}</title>
<style>
@page {{ size: A4 landscape; margin: 10mm; }}
body {{ font-family: "Times New Roman", "DejaVu Serif", serif; font-size: 10pt; margin: 0; }}
h1 {{ font-size: 14pt; text-align: center; margin: 0 0 2mm; }}
p.sub {{ text-align: center; margin: 0 0 3mm; }}
table {{ border-collapse: collapse; width: 100%; }}
th, td {{ border: 1px solid #000; padding: 1mm; font-size: 8pt; }}
th {{ background: #eee; }}
td.n {{ text-align: right; }} td.u {{ color: #777; font-style: italic; text-align: center; }}
tr.total td {{ font-weight: bold; }}
img {{ display: block; margin: 3mm auto 0; max-width: 100%; max-height: 75mm; }}
ul {{ margin: 2mm 0 0; font-size: 8pt; }}
</style></head><body>
<h1>BÁO CÁO TIẾN ĐỘ LẬP BẢN SAO BẢO HIỂM TÀI LIỆU LƯU TRỮ NĂM {report.year}</h1>
<p class="sub">{esc(report.organization)}. Lập ngày {report.generated:%d/%m/%Y}.
"{UNKNOWN}": chưa có nguồn số liệu cho cột này.</p>
<table><thead><tr>{head}</tr></thead><tbody>
{"".join(body)}
<tr class="total"><td></td><td>Tổng cộng</td>{total_cells}</tr>
</tbody></table>
<img alt="Biểu đồ hồ sơ số hóa, đóng gói và bàn giao theo phông" src="data:image/png;base64,{chart}">
<ul>{handovers or "<li>Không có đợt bàn giao nào trong năm.</li>"}{left_out}</ul>
</body></html>
"""


def write_report_html(report: YearReport, path: Path) -> None:
    """Write :func:`render_report_html` to ``path``."""
    path.write_text(render_report_html(report), encoding="utf-8")


def write_report(report: YearReport, out_dir: Path) -> dict[str, Path]:
    """``bao-cao-YYYY.xlsx``, ``.html`` and ``.json`` in ``out_dir``, each written then renamed."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = {}
    text = json.dumps(report.to_dict(), ensure_ascii=False, indent=2) + "\n"
    writers: dict[str, Callable[[Path], object]] = {
        "xlsx": lambda p: write_report_xlsx(report, p),
        "html": lambda p: write_report_html(report, p),
        "json": lambda p: p.write_text(text, "utf-8"),
    }
    for ext, write in writers.items():
        final = out_dir / f"bao-cao-{report.year}.{ext}"
        tmp = out_dir / f".{final.name}.partial"
        try:
            write(tmp)
            tmp.replace(final)
        finally:
            tmp.unlink(missing_ok=True)
        written[ext] = final
    return written
