"""``make demo``: a provincial archive's insurance-copy work, end to end, on generated data.

Eight steps through the public library API (no subprocesses), told in Vietnamese with short
English glosses:

1. a catalogue workbook with scans (two errors planted) is imported; the error report is written;
2. the whole hồ sơ meeting the criteria are selected;
3. the scans are checked (one planted 150 dpi scan fails, is scanned again and passes);
4. one AIP_hoso per hồ sơ, per fonds; one is validated; a producer's SIP is ingested too;
5. two storage locations on distinct media: store, replicate, audit; one byte of the replica is
   flipped, the audit finds it, ``repair`` restores it, the audit is clean again;
6. a DIP with its HTML viewer;
7. the handover of each fonds (tar + .sha256), verified as the Ministry would;
8. the yearly report.

Every planted problem is checked to be found exactly; anything else a step finds makes the run
exit 1. Usage: ``python -m oais_preserve.demo --out build/demo [--workers N] [--hoso N]``.
"""

from __future__ import annotations

import multiprocessing
import shutil
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Executor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import click

from . import (
    AuditResult,
    CatalogueImport,
    Party,
    Selection,
    audit,
    build_batch,
    build_dip,
    build_sip,
    find_aips,
    handover,
    import_catalogue,
    ingest,
    init_location,
    load_storage_config,
    repair,
    replicate,
    select_hoso,
    store,
    validate,
    validate_description,
    verify_handover,
    write_error_report,
    write_qa_report,
    write_selection,
)
from .batch import qa_jobs
from .catalogue import CatalogueHoSo
from .errors import UserInputError
from .executors import process_pool
from .handover import HandoverResult
from .handover_verify import HandoverReceipt
from .profile import now
from .qa import QaResult, check_files, count_pages
from .records import write_backup_log_xlsx, write_inspection_minutes_xlsx
from .samples_catalogue import ORGANIZATION, generate_catalogue, write_scan_pdf
from .storage import StorageConfig, package_status
from .yearreport import COLLECTED, YearReport, write_report, yearly_report

STEPS = 8
MARKER = ".oais-preserve-demo"  # only a folder holding this is ever emptied by a re-run
# What earlier versions of the demo wrote (no marker then): such a folder may be emptied too.
_OLD_DEMO_ENTRIES = frozenset({"sample", "sip", "aip", "zip"})
PLANTED_DPI = 150  # the scan "delivered" below the 200 dpi of TT05 Art. 8

Echo = Callable[[str], None]


class StopDemo(Exception):
    """A step failed in a way the next steps cannot get past."""


@dataclass
class Demo:
    """The run: where it writes, how it runs work, and what it found that it should not have."""

    out: Path
    executor: Executor | None
    echo: Echo
    unexpected: list[str] = field(default_factory=list)
    outputs: dict[str, Path] = field(default_factory=dict)

    def expect(self, ok: bool, what: str) -> bool:
        if not ok:
            self.unexpected.append(what)
            self.echo(f"  !! KHÔNG NHƯ MONG ĐỢI / UNEXPECTED: {what}")
        return ok

    def require(self, ok: bool, what: str) -> None:
        """Like :meth:`expect`, for what the next steps cannot do without: stop the run."""
        if not self.expect(ok, what):
            raise StopDemo(what)

    def folder(self, name: str, label: str) -> Path:
        path = self.out / name
        path.mkdir(parents=True, exist_ok=True)
        self.outputs[label] = path
        return path


@dataclass
class Catalogue:
    result: CatalogueImport
    scans: Path
    bad_scan: Path  # the scan planted below 200 dpi


@contextmanager
def _step(demo: Demo, number: int, title: str) -> Iterator[None]:
    demo.echo(f"\nBước {number}/{STEPS} · {title}")
    started = time.monotonic()
    yield
    demo.echo(f"  ({time.monotonic() - started:.1f} s)")


# --------------------------------------------------------------------------- 1. catalogue


def import_step(demo: Demo, hoso_count: int) -> Catalogue:
    folder = demo.folder("danh-muc", "danh mục, báo cáo lỗi / catalogue, error report")
    scans = demo.folder("ban-quet", "bản quét (bản gốc số hóa) / scans")
    sample = generate_catalogue(
        folder / "muc-luc-ho-so.xlsx",
        hoso_count=hoso_count,
        docs_per_hoso=3,
        problems=2,
        scans=scans,
        digitized=now().date(),  # the scanning log's date: today, in Vietnam
    )
    # The scanning contractor delivered one scan at 150 dpi: QA (step 3) must catch it.
    bad_scan = scans / f"{sample.hoso_codes[1]}.1.pdf"
    write_scan_pdf(bad_scan, pages=count_pages(bad_scan) or 1, dpi=PLANTED_DPI, size_mm=(74.0, 105.0))
    result = import_catalogue([sample.path], scans=scans)
    report = write_error_report(result, folder / "bao-cao-loi.xlsx")
    summary = result.summary()
    demo.echo(
        f"  {summary['hoso']} hồ sơ, {summary['documents']} tài liệu / documents "
        f"({summary['fonds']} phông / fonds) -> {summary['hosoValid']} hợp lệ / valid; "
        f"{summary['errors']} lỗi / errors, {summary['warnings']} cảnh báo / warnings"
    )
    for problem in result.errors:
        demo.echo(f"  ! {problem.location}: {problem.message('vi')}")
    found = {(p.sheet, p.row, p.rule) for p in result.errors}
    planted = {(p.sheet, p.row, p.rule) for p in sample.planted}
    verdict = "đều tìm thấy / all found" if found >= planted else "?"
    demo.echo(f"  {len(planted)} lỗi cài sẵn / planted errors: {verdict}")
    demo.expect(found >= planted, f"planted catalogue errors not all found: {sorted(planted - found)}")
    demo.expect(found <= planted, f"catalogue errors beyond the planted ones: {sorted(found - planted)}")
    demo.expect(not result.warnings, f"{len(result.warnings)} catalogue warning(s)")
    demo.echo(f"  báo cáo lỗi / error report: {report}")
    return Catalogue(result, scans, bad_scan)


# --------------------------------------------------------------------------- 2. selection


def selection_step(demo: Demo, catalogue: Catalogue) -> Selection:
    folder = demo.folder("lua-chon", "danh mục lựa chọn / selection list")
    selection = select_hoso(catalogue.result)
    xlsx, csv_path = write_selection(selection, folder / "danh-muc-lua-chon")
    for code, total in selection.totals().items():
        counts = f"{total['hoso']} hồ sơ, {total['documents']} tài liệu, {total['pages']} trang"
        demo.echo(f"  {code} {total['name']}: {counts}")
    demo.echo(
        f"  {len(selection.selected)} chọn / selected, {len(selection.not_selected)} không đạt tiêu chí / "
        f"meet no criterion, {len(selection.invalid)} chờ sửa danh mục / awaiting catalogue fixes"
    )
    demo.require(bool(selection.selected), "nothing selected")
    demo.expect(not selection.problems, f"{len(selection.problems)} selection problem(s)")
    demo.expect(
        len(selection.invalid) == len(catalogue.result.errors),
        "the hồ sơ with catalogue errors are not exactly the ones held back",
    )
    demo.echo(f"  {xlsx}\n  {csv_path}")
    return selection


# --------------------------------------------------------------------------- 3. digitization QA


def _check(demo: Demo, catalogue: Catalogue, selection: Selection) -> list[QaResult]:
    result = catalogue.result
    jobs = [job for code in selection.codes for job in qa_jobs(result, _hoso(result, code))]
    return list(check_files(jobs, executor=demo.executor))


def _hoso(result: CatalogueImport, code: str) -> CatalogueHoSo:
    hoso = result.by_code(code)
    if hoso is None:
        raise UserInputError(f"{code}: not in the catalogue")
    return hoso


def qa_step(demo: Demo, catalogue: Catalogue, selection: Selection) -> None:
    folder = demo.folder("kiem-tra-chat-luong", "kiểm tra chất lượng bản quét / scan QA")
    first = _check(demo, catalogue, selection)
    xlsx, _ = write_qa_report(first, folder / "lan-1")
    failed = [r for r in first if r.outcome != "pass"]
    demo.echo(
        f"  lần 1 / first pass: {len(first)} tệp / files, {len(failed)} không đạt / not passed -> {xlsx}"
    )
    for r in failed:
        demo.echo(f"  ! {r.path}: {r.summary('vi')}")
    planted = catalogue.bad_scan.name
    demo.expect(
        [(r.path, r.outcome) for r in failed] == [(planted, "fail")],
        f"QA should fail exactly the planted {PLANTED_DPI} dpi scan {planted}",
    )
    # Quét lại / rescan: the operator scans the document again at the required resolution.
    pages = count_pages(catalogue.bad_scan) or 1
    write_scan_pdf(catalogue.bad_scan, pages=pages, dpi=200, size_mm=(74.0, 105.0))
    second = _check(demo, catalogue, selection)
    xlsx, _ = write_qa_report(second, folder / "lan-2-sau-quet-lai")
    passed = sum(1 for r in second if r.outcome == "pass")
    demo.echo(
        f"  quét lại / rescanned {planted}; lần 2 / second pass: {passed}/{len(second)} đạt / pass -> {xlsx}"
    )
    demo.expect(passed == len(second), "scans still failing QA after the rescan")


# --------------------------------------------------------------------------- 4. packaging


_STATUS = {"built": "đã tạo / built", "skipped": "đã có / skipped", "failed": "lỗi / failed"}


def packaging_step(demo: Demo, catalogue: Catalogue, selection: Selection, workers: int) -> list[Path]:
    out = demo.folder("aip", "gói AIP_hoso theo phông / AIP bags per fonds")
    report = build_batch(
        catalogue.result, out, codes=selection.codes, executor=demo.executor, workers=workers
    )
    aips = [Path(item.path) for item in report.items if item.path]
    demo.require(bool(aips), "no package was built")
    for item in report.items:
        detail = f"{item.files} tệp, {item.bytes} bytes" if item.path else item.reason
        status = _STATUS.get(item.status, item.status)
        demo.echo(f"  {item.file_code:<20} {status:<16} QA {item.qa or '-':<5} {detail}")
    demo.echo(f"  {report.built} gói / packages -> {out}/<mã phông>/")
    demo.expect(
        report.ok and report.built == len(selection.codes), f"{report.failed} hồ sơ failed to package"
    )
    demo.expect(all(item.qa == "pass" for item in report.items), "a packaged hồ sơ carries a QA failure")
    check = validate(aips[0], verify=True, executor=demo.executor)
    verdict = "hợp lệ / valid" if check.valid else "KHÔNG hợp lệ / INVALID"
    demo.echo(
        f"  kiểm tra / validate {aips[0].name}: {verdict} "
        f"({check.files_checked} tệp, BagIt + XSD + E-ARK + SHA-256)"
    )
    demo.expect(check.valid, f"{aips[0]} is invalid: {check.problems[:3]}")
    _ingest(demo, catalogue, selection)
    return aips


def _ingest(demo: Demo, catalogue: Catalogue, selection: Selection) -> None:
    """The older path: a producer hands in a SIP_hoso, the archive ingests it into an AIP."""
    # A SIP needs full file-level dates (TT05 Phụ lục III): take the first hồ sơ that has them.
    descriptions = [_hoso(catalogue.result, code).description or {} for code in selection.codes]
    usable = [d for d in descriptions if not validate_description(d, kind="SIP")]
    if not demo.expect(bool(usable), "no selected hồ sơ can make a SIP (full dates needed)"):
        return
    sip = build_sip(usable[0], catalogue.scans, demo.folder("sip", "SIP_hoso (đơn vị nộp / producer)"))
    aip = ingest(
        sip.path, demo.folder("tiep-nhan", "AIP từ SIP / AIP ingested from the SIP"), executor=demo.executor
    )
    check = validate(aip.path, verify=True)
    demo.echo(
        f"  SIP -> tiếp nhận / ingest: {sip.path.name} -> {aip.path.name} "
        f"({'hợp lệ / valid' if check.valid else 'KHÔNG hợp lệ / INVALID'})"
    )
    demo.expect(check.valid, f"ingested AIP {aip.path} is invalid")


# --------------------------------------------------------------------------- 5. insurance copies

STORAGE_TOML = """\
# Hai bản sao trên hai phương tiện độc lập (TT05 Art. 26-31) / two copies on independent media
min_copies = 2
ledger = "so-cai.sqlite"
agent = "{agent}"

[locations.kho-chinh]          # kho chính / primary
path = "kho-chinh"
medium = "HDD-01"
audit_every_days = 182

[locations.kho-du-phong]       # kho dự phòng / replica
path = "kho-du-phong"
medium = "NAS-02"
audit_every_days = 365
"""


def storage_step(demo: Demo, aips: list[Path]) -> StorageConfig:
    folder = demo.folder("kho", "kho lưu trữ: 2 bản sao, sổ cái, biên bản / storage, ledger, records")
    (folder / "storage.toml").write_text(STORAGE_TOML.format(agent=ORGANIZATION), encoding="utf-8")
    config = load_storage_config(folder / "storage.toml")
    for name in config.locations:  # khởi tạo kho một lần / each location initialised once
        init_location(config, name)
    for aip in aips:
        store(config, aip, "kho-chinh", executor=demo.executor)
    copies = replicate(config, executor=demo.executor)
    status = package_status(config)
    safe = sum(1 for s in status if s.safe)
    demo.echo(
        f"  lưu / stored {len(aips)} gói vào kho-chinh (HDD-01), nhân bản / replicated {len(copies)} "
        f"vào kho-du-phong (NAS-02): {safe}/{len(status)} an toàn / safe (2 bản sao đã kiểm)"
    )
    demo.expect(safe == len(status) == len(aips), "packages below two verified copies")
    clean = _audit(demo, config, "kiểm tra toàn bộ / full audit")
    demo.expect(clean.ok, "the first audit found problems")

    victim = _flip_one_bit(config)
    demo.echo(f"  giả lập hỏng bit / simulated bit rot: đảo 1 bit / one bit flipped in {victim}")
    found = _audit(demo, config, "kiểm tra lại / audit again")
    minutes = write_inspection_minutes_xlsx(
        folder / "bien-ban-kiem-tra.xlsx",
        faults=found.failures,
        run=found.to_dict(),
        organization=ORGANIZATION,
    )
    for fault in found.failures:
        demo.echo(f"  ! {fault.outcome} @ {fault.location} ({fault.medium}): {fault.path}")
    demo.expect(
        [(f.outcome, Path(f.path)) for f in found.failures] == [("changed", victim)],
        "the audit should find exactly the flipped file",
    )
    demo.echo(f"  biên bản kiểm tra / inspection minutes: {minutes}")
    fixed = repair(config)
    demo.echo(f"  sửa / repair: {len(fixed.repaired)} tệp khôi phục từ kho-chinh / restored from the primary")
    demo.expect(fixed.ok and [Path(p) for p in fixed.repaired] == [victim], "repair did not restore the file")
    again = _audit(demo, config, "kiểm tra sau khi sửa / audit after repair")
    demo.expect(again.ok, "the audit after repair still finds problems")
    status = package_status(config)
    demo.expect(all(s.safe for s in status), "packages unsafe after repair")
    with config.open_ledger() as ledger:
        log = write_backup_log_xlsx(
            folder / "nhat-ky-sao-luu.xlsx",
            events=ledger.events(),
            media={name: loc.medium for name, loc in config.locations.items()},
            organization=ORGANIZATION,
        )
    demo.echo(f"  nhật ký sao lưu / backup log: {log}")
    return config


def _audit(demo: Demo, config: StorageConfig, label: str) -> AuditResult:
    result = audit(config, full=True, executor=demo.executor)
    verdict = "sạch / clean" if result.ok else f"{len(result.failures)} lỗi / problem(s)"
    demo.echo(
        f"  {label}: {result.files_checked} tệp, {result.bytes_checked / 1e6:.1f} MB ở 2 kho -> {verdict}"
    )
    return result


def _flip_one_bit(config: StorageConfig) -> Path:
    """Flip one bit in the middle of the first scan of the first package of the replica."""
    replica = config.location("kho-du-phong").path
    scans = sorted(replica.glob("*/data/representations/*/data/*.pdf"))
    if not scans:
        raise StopDemo(f"no scan in the replica {replica}")
    victim = scans[0]
    with victim.open("r+b") as handle:
        handle.seek(victim.stat().st_size // 2)
        byte = handle.read(1)
        handle.seek(-1, 1)
        handle.write(bytes([byte[0] ^ 0x01]))
    return victim


# --------------------------------------------------------------------------- 6. DIP


def dip_step(demo: Demo, config: StorageConfig) -> None:
    stored = sorted(find_aips([config.location("kho-chinh").path]))
    demo.require(bool(stored), "no package in kho-chinh")
    aip = stored[0]
    dip = build_dip(
        aip, demo.folder("dip", "DIP + trình xem / DIP with viewer"), executor=demo.executor, workers=1
    )
    viewer = dip.path / "documentation" / "index.html"
    demo.echo(
        f"  {dip.documents_included} tài liệu đưa ra / documents out, {dip.documents_excluded} giữ lại theo "
        f"chế độ sử dụng / withheld by access rules; {dip.access_files} bản truy cập / access copies, "
        f"{dip.thumbnails} ảnh nhỏ / thumbnails"
    )
    demo.echo(f"  xem / view: {viewer}")
    demo.expect(viewer.is_file() and not dip.failed_masters, f"DIP of {aip.name} incomplete")


# --------------------------------------------------------------------------- 7. handover


def hand_over(demo: Demo, config: StorageConfig, out: Path) -> list[HandoverResult]:
    """The handover: the storage ledger gives each fonds' AIPs and a clean copy of each."""
    return handover(
        config,
        out,
        sender=Party(ORGANIZATION, "Nguyễn Văn An", "Giám đốc"),
        receiver=Party("Bộ Nội vụ", "Trần Thị Bình", "Chuyên viên"),
        executor=demo.executor,
        workers=1,
    )


def handover_step(demo: Demo, config: StorageConfig, selection: Selection) -> list[Path]:
    out = demo.folder("ban-giao", "bàn giao cho Bộ Nội vụ / handover to the Ministry")
    results = hand_over(demo, config, out)
    for result in results:
        demo.echo(
            f"  {result.fonds_code}: {result.path.name} ({len(result.packages)} AIP, {result.bytes} bytes)"
        )
        demo.echo(f"    SHA-256 {result.sha256}  (+ {result.path.name}.sha256)")
        receipt = verify_handover(result.path, executor=demo.executor, workers=1)
        _receipt(demo, receipt, result)
    fonds = sorted(selection.totals())
    demo.expect(
        sorted(r.fonds_code for r in results) == fonds,
        f"one handover per fonds expected ({', '.join(fonds)})",
    )
    return [result.path for result in results]


def _receipt(demo: Demo, receipt: HandoverReceipt, result: HandoverResult) -> None:
    stats = receipt.statistics
    counted = f"{stats.hoso} hồ sơ, {stats.documents} tài liệu, {stats.pages} trang" if stats else "?"
    verdict = "ĐÃ NHẬN ĐỦ, HỢP LỆ / received, valid" if receipt.ok else "CÓ SAI LỆCH / discrepancies"
    demo.echo(f"    bên nhận kiểm tra / receiver's check: {verdict} ({counted})")
    demo.expect(receipt.ok, f"{result.path.name}: {[str(p) for p in receipt.problems[:3]]}")


# --------------------------------------------------------------------------- 8. yearly report


def year_report(year: int, config: StorageConfig, handovers: list[Path], selection: Selection) -> YearReport:
    """The yearly report: packages, copies, audits and handovers from the storage ledger."""

    def selected(_year: int) -> Mapping[str, Mapping[str, int]]:
        return {code: {"selected": total["hoso"]} for code, total in selection.totals().items()}

    return yearly_report(
        year,
        handovers=handovers,
        collectors=[selected],
        storage=config,
        organization=ORGANIZATION,
    )


def report_step(demo: Demo, config: StorageConfig, handovers: list[Path], selection: Selection) -> None:
    out = demo.folder("bao-cao-nam", "báo cáo năm / yearly report")
    year = now().year  # Vietnam time, as the packages' timestamps
    report = year_report(year, config, handovers, selection)
    written = write_report(report, out)
    for row in report.rows:
        demo.echo(
            f"  {row.fonds_code}: chọn / selected {row.selected}, số hóa / digitized {row.digitized}, "
            f"đóng gói / packaged {row.packaged}, bàn giao / handed over {row.handed_over}, {row.pages} trang"
        )
    missing = [label for key, label in COLLECTED if all(getattr(row, key) is None for row in report.rows)]
    if missing:  # a column without a source is shown as such, never as 0
        demo.echo(f"  chưa có dữ liệu / no source yet: {', '.join(missing)}")
    demo.echo(f"  {', '.join(str(path) for path in written.values())}")
    packaged = sum(row.packaged for row in report.rows)
    handed = sum(row.handed_over for row in report.rows)
    digitized = sum(row.digitized for row in report.rows)
    demo.expect(
        packaged == handed == digitized == len(selection.codes) and len(handovers) == len(report.handovers),
        "the yearly report does not count every packaged and handed-over hồ sơ",
    )


# --------------------------------------------------------------------------- the run


def _prepare(out: Path) -> None:
    """Empty ``out`` for a fresh run, but only if an earlier demo made it (never someone's folder)."""
    if out.exists():
        if not out.is_dir():
            raise UserInputError(f"{out}: not a folder")
        entries = {entry.name for entry in out.iterdir()}
        if entries and MARKER not in entries and not entries <= _OLD_DEMO_ENTRIES:
            raise UserInputError(
                f"{out}: thư mục không trống và không phải của demo / not empty and not made by the demo; "
                "choose another --out"
            )
        shutil.rmtree(out)
    out.mkdir(parents=True)
    (out / MARKER).write_text(
        "oais_preserve demo output; `make demo` empties this folder\n", encoding="utf-8"
    )


@contextmanager
def _executor(workers: int) -> Iterator[Executor | None]:
    """One pool for every step. "forkserver", not fork: pyvips (scans, DIP) must not be forked."""
    if workers <= 1:
        yield None
        return
    with process_pool(workers, mp_context=multiprocessing.get_context("forkserver")) as pool:
        yield pool


def run_demo(out: Path, *, workers: int = 2, hoso_count: int = 8, echo: Echo = print) -> Demo:
    """Run the eight steps into ``out``; ``Demo.unexpected`` lists what went wrong (empty: all good)."""
    _prepare(out)
    with _executor(workers) as executor:
        demo = Demo(out, executor, echo)
        try:
            _steps(demo, hoso_count, workers)
        except StopDemo as stop:
            echo(f"  dừng / stopped: {stop}")
    return demo


def _steps(demo: Demo, hoso_count: int, workers: int) -> None:
    with _step(demo, 1, "Nhập danh mục hồ sơ / catalogue import"):
        catalogue = import_step(demo, hoso_count)
    with _step(demo, 2, "Lựa chọn hồ sơ số hóa / selection"):
        selection = selection_step(demo, catalogue)
    with _step(demo, 3, "Kiểm tra chất lượng bản quét / digitization QA (TT05 Art. 8)"):
        qa_step(demo, catalogue, selection)
    with _step(demo, 4, "Đóng gói AIP_hoso theo phông / batch packaging"):
        aips = packaging_step(demo, catalogue, selection, workers)
    with _step(demo, 5, "Bản sao bảo hiểm: lưu, kiểm tra, sửa / insurance copies: store, audit, repair"):
        config = storage_step(demo, aips)
    with _step(demo, 6, "Gói khai thác DIP / dissemination package"):
        dip_step(demo, config)
    with _step(demo, 7, "Bàn giao theo phông cho Bộ Nội vụ / handover per fonds"):
        handovers = handover_step(demo, config, selection)
    with _step(demo, 8, "Báo cáo năm / yearly report"):
        report_step(demo, config, handovers, selection)


@click.command()
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("build/demo"))
@click.option("--workers", type=click.IntRange(min=1), default=2, help="Worker processes (1: in-process).")
@click.option(
    "--hoso", "hoso_count", type=click.IntRange(min=4, max=200), default=8, help="Hồ sơ in the catalogue."
)
def main(out: Path, workers: int, hoso_count: int) -> None:
    """Show what a provincial archive does with oais_preserve, on generated data."""
    from .cli._common import handle_errors

    started = time.monotonic()
    with handle_errors(as_json=False):
        demo = run_demo(out, workers=workers, hoso_count=hoso_count, echo=click.echo)
    click.echo(f"\nThư mục kết quả / output folders ({out}):")
    for label, path in demo.outputs.items():
        click.echo(f"  {path.relative_to(out).as_posix() + '/':<22} {label}")
    elapsed = time.monotonic() - started
    if demo.unexpected:
        click.echo(
            f"\n{len(demo.unexpected)} vấn đề ngoài dự kiến / unexpected problem(s) ({elapsed:.0f} s):",
            err=True,
        )
        for what in demo.unexpected:
            click.echo(f"  - {what}", err=True)
        raise SystemExit(1)
    click.echo(f"\nTất cả các bước như mong đợi / every step as expected ({elapsed:.0f} s)")


if __name__ == "__main__":
    main()
