"""The yearly report: figures from the packages and handover records, collectors, rendering."""

from __future__ import annotations

import json
import shutil
import subprocess
from datetime import date, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from lxml import etree
from openpyxl import load_workbook

from oais_preserve import UserInputError
from oais_preserve.cli import main
from oais_preserve.handover import Party, find_aips, handover
from oais_preserve.yearreport import COLUMNS, UNKNOWN, yearly_report

METS = "{http://www.loc.gov/METS/}"
PREMIS = "{http://www.loc.gov/premis/v3}"


def _packaged_year(store: Path) -> int:
    bag = next(iter(sorted(store.iterdir())))
    header = etree.parse(str(bag / "data" / "METS.xml")).getroot().find(f"{METS}metsHdr")
    assert header is not None
    return datetime.fromisoformat(header.get("CREATEDATE", "")).year


@pytest.fixture(scope="module")
def handovers(fonds_store: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One handover of P08 dated in the packaging year, and one of P08 dated the year after."""
    year = _packaged_year(fonds_store)
    out = tmp_path_factory.mktemp("handovers")
    for when in (date(year, 12, 1), date(year + 1, 1, 5)):
        handover(
            find_aips([fonds_store]),
            out,
            sender=Party("Trung tâm Lưu trữ lịch sử tỉnh Thái Nguyên"),
            receiver=Party("Bộ Nội vụ"),
            fonds=["P08"],
            handover_date=when,
            audit=None,
            workers=1,
        )
    return out


def _ledger(store: Path, year: int) -> dict[str, dict[str, int]]:
    """Independent counts from the bags: what the report must show for ``year``."""
    counts: dict[str, dict[str, int]] = {}
    for bag in sorted(store.iterdir()):
        data = bag / "data"
        mets = etree.parse(str(data / "METS.xml")).getroot()
        fonds = next(
            n.text
            for n in mets.iter(f"{METS}note")
            if n.getparent().get("ROLE") == "ARCHIVIST"  # type: ignore[union-attr]
        )
        assert fonds is not None
        created = datetime.fromisoformat(mets.find(f"{METS}metsHdr").get("CREATEDATE"))  # type: ignore[union-attr,arg-type]
        premis = etree.parse(str(data / "metadata" / "preservation" / "PREMIS.xml")).getroot()
        digitized_year = next(
            int((event.findtext(f"{PREMIS}eventDateTime") or "")[:4])
            for event in premis.iter(f"{PREMIS}event")
            if event.findtext(f"{PREMIS}eventType") == "transfer"
        )
        pages = int(
            etree.parse(str(data / "metadata" / "descriptive" / "EAD.xml")).findtext("numberOfPage") or 0
        )
        row = counts.setdefault(fonds, {"digitized": 0, "packaged": 0, "pages": 0, "bytes": 0})
        if digitized_year == year:
            row["digitized"] += 1
            row["pages"] += pages
        if created.year == year:
            row["packaged"] += 1
            row["bytes"] += sum(f.stat().st_size for f in data.rglob("*") if f.is_file())
    return counts


def test_report_figures_match_the_packages_and_records(
    fonds_store: Path, handovers: Path, tmp_path: Path
) -> None:
    year = _packaged_year(fonds_store)
    result = CliRunner().invoke(
        main,
        [
            "report",
            "--year",
            str(year),
            "--store",
            str(fonds_store),
            "--handovers",
            str(handovers),
            str(tmp_path),
        ],
    )
    assert result.exit_code == 0, result.output
    expected = _ledger(fonds_store, year)
    book = load_workbook(tmp_path / f"bao-cao-{year}.xlsx", read_only=True)
    rows = list(book.worksheets[0].iter_rows(values_only=True))
    headers = ["STT", *(h for _k, h in COLUMNS)]
    start = next(i for i, row in enumerate(rows) if list(row[: len(headers)]) == headers)
    by_fonds = {row[1]: dict(zip(headers, row, strict=False)) for row in rows[start + 1 :] if row[0]}
    assert set(by_fonds) == {"P07", "P08"}
    for fonds, figures in expected.items():
        row = by_fonds[fonds]
        assert row["Hồ sơ đóng gói trong năm"] == figures["packaged"] > 0
        assert row["Dung lượng đóng gói trong năm (byte)"] == figures["bytes"]
        assert row["Hồ sơ số hóa trong năm"] == figures["digitized"]
        assert row["Số trang số hóa trong năm"] == figures["pages"]
        assert row["Hồ sơ đã lựa chọn"] == UNKNOWN and row["Số lần kiểm tra"] == UNKNOWN  # no source: not 0
    assert by_fonds["P08"]["Hồ sơ bàn giao trong năm"] == 2  # the handover of the next year is not counted
    assert by_fonds["P07"]["Hồ sơ bàn giao trong năm"] == 0
    total = next(row for row in rows[start + 1 :] if row[1] == "Tổng cộng")
    assert total[headers.index("Hồ sơ đóng gói trong năm")] == 32
    data = json.loads((tmp_path / f"bao-cao-{year}.json").read_text(encoding="utf-8"))
    assert data["totals"]["selected"] is None and len(data["handovers"]) == 1


def test_hoso_handed_over_twice_or_tar_found_twice_counts_once(
    fonds_store: Path, handovers: Path, tmp_path: Path
) -> None:
    """Two handovers of P08 in one year, and the same tar in two folders: 2 hồ sơ, not 4 or 6."""
    year = _packaged_year(fonds_store)
    again = tmp_path / "again"
    handover(
        find_aips([fonds_store]),
        again,
        sender=Party("Trung tâm Lưu trữ lịch sử tỉnh Thái Nguyên"),
        receiver=Party("Bộ Nội vụ"),
        fonds=["P08"],
        handover_date=date(year, 12, 2),
        audit=None,
        workers=1,
    )
    copy = tmp_path / "copy"
    copy.mkdir()
    first = handovers / f"BGNV_P08_{year}1201.tar"
    shutil.copy(first, copy / first.name)  # the same tar, in a second folder
    shutil.copy(first, copy / "renamed.tar")  # and under another name, with no .sha256 beside it
    report = yearly_report(
        year, find_aips([fonds_store]), handovers=[first, *again.glob("*.tar"), *copy.glob("*.tar")]
    )
    p08 = next(row for row in report.rows if row.fonds_code == "P08")
    assert p08.handed_over == p08.hoso_total == 2
    assert sorted(h["date"] for h in report.handovers) == [f"{year}-12-01", f"{year}-12-02"]


def test_collectors_fill_their_columns(fonds_store: Path) -> None:
    year = _packaged_year(fonds_store)

    def ledger(asked: int) -> dict[str, dict[str, int]]:
        assert asked == year
        return {"P07": {"copies_held": 2, "audits": 4, "problems_found": 1, "problems_repaired": 1}}

    def catalogue(asked: int) -> dict[str, dict[str, int]]:
        return {"P07": {"selected": 40}, "P08": {"selected": 0}}

    report = yearly_report(year, find_aips([fonds_store]), collectors=[ledger, catalogue])
    p07, p08 = report.rows
    assert (p07.selected, p07.copies_held, p07.audits, p07.problems_repaired) == (40, 2, 4, 1)
    assert p08.selected == 0 and p08.copies_held is None  # a real 0, and still no data
    assert report.totals()["selected"] == 40 and report.totals()["audits"] is None
    with pytest.raises(UserInputError, match="made_up"):
        yearly_report(year, find_aips([fonds_store]), collectors=[lambda _y: {"P07": {"made_up": 1}}])


def test_a_store_without_aips_is_refused_but_a_quiet_year_is_not(fonds_store: Path, tmp_path: Path) -> None:
    empty = tmp_path / "empty-store"
    empty.mkdir()
    out = tmp_path / "out"
    refused = CliRunner().invoke(main, ["report", "--year", "2026", "--store", str(empty), str(out)])
    assert refused.exit_code == 2, refused.output
    assert "no AIP found" in refused.output and len(refused.output.strip().splitlines()) == 1
    assert "Traceback" not in refused.output and not out.exists()
    with pytest.raises(UserInputError):
        yearly_report(2026, [])
    year = _packaged_year(fonds_store) - 30  # AIPs, but none of them from that year: a report of zeros
    quiet = CliRunner().invoke(main, ["report", "--year", str(year), "--store", str(fonds_store), str(out)])
    assert quiet.exit_code == 0, quiet.output
    rows = json.loads((out / f"bao-cao-{year}.json").read_text(encoding="utf-8"))["fonds"]
    assert [(r["fonds_code"], r["packaged"], r["hoso_total"]) for r in rows] == [("P07", 0, 0), ("P08", 0, 0)]


def test_a_damaged_handover_tar_is_reported_and_the_others_counted(
    fonds_store: Path, handovers: Path, tmp_path: Path
) -> None:
    year = _packaged_year(fonds_store)
    folder = tmp_path / "bàn giao"
    folder.mkdir()
    tar = handovers / f"BGNV_P08_{year}1201.tar"
    shutil.copy(tar, folder / tar.name)
    damaged = folder / f"BGNV_P07_{year}1202.tar"
    damaged.write_bytes(tar.read_bytes()[:3000])  # cut short in the copy
    out = tmp_path / "out"
    args = ["report", "--year", str(year), "--store", str(fonds_store), "--handovers", str(folder), str(out)]
    result = CliRunner().invoke(main, [*args, "--json"])
    assert result.exit_code == 1, result.output  # written, but a scheduled run must notice
    (warning,) = result.stderr.strip().splitlines()
    assert warning.startswith("CHÚ Ý / WARNING: ") and damaged.name in warning
    data = json.loads(result.stdout)
    assert data["ok"] is False
    assert [p["where"] for p in data["problems"]] == [str(damaged)]
    written = json.loads((out / f"bao-cao-{year}.json").read_text(encoding="utf-8"))
    assert written["problems"] == data["problems"]
    by_fonds = {row["fonds_code"]: row for row in written["fonds"]}
    assert by_fonds["P08"]["handed_over"] == 2 and by_fonds["P07"]["handed_over"] == 0
    assert [h["name"] for h in written["handovers"]] == [tar.name]
    assert damaged.name in (out / f"bao-cao-{year}.html").read_text(encoding="utf-8")


def test_a_tar_left_out_adds_no_fonds_row(fonds_store: Path, handovers: Path, tmp_path: Path) -> None:
    import io
    import tarfile

    year = _packaged_year(fonds_store)
    source = handovers / f"BGNV_P08_{year}1201.tar"
    odd = tmp_path / "bàn giao" / "BGNV_PX_odd.tar"
    odd.parent.mkdir()
    with tarfile.open(source) as original, tarfile.open(odd, "w") as out:
        for member in original:
            data = original.extractfile(member).read() if member.isreg() else b""  # type: ignore[union-attr]
            if member.name.endswith("bien-ban-ban-giao.json"):
                record = json.loads(data)
                record["fonds"]["code"] = "PX"
                record["packages"] = [{"objid": "x"}]  # no mã hồ sơ: the tar cannot be counted
                data = json.dumps(record).encode()
                member.size = len(data)
            out.addfile(member, io.BytesIO(data) if member.isreg() else None)
    report = yearly_report(year, find_aips([fonds_store]), handovers=[odd])
    assert [p.where for p in report.problems] == [str(odd)]
    assert "PX" not in {row.fonds_code for row in report.rows}


def test_handover_tars_in_subfolders_are_found(fonds_store: Path, handovers: Path, tmp_path: Path) -> None:
    from oais_preserve.yearreport import find_handovers

    year = _packaged_year(fonds_store)
    folder = tmp_path / "bàn giao"
    nested = folder / str(year) / "đợt 1"
    nested.mkdir(parents=True)
    tar = handovers / f"BGNV_P08_{year}1201.tar"
    for suffix in ("", ".sha256"):
        shutil.copy(f"{tar}{suffix}", nested / f"{tar.name}{suffix}")
    (folder / "khac").mkdir()
    (folder / "khac" / "aip.tar").write_bytes(b"a serialized AIP, not a handover")  # no .sha256: not taken
    (folder / ".dang-ghi").mkdir()
    shutil.copy(tar, folder / ".dang-ghi" / tar.name)  # a hidden folder (being written): not taken
    assert find_handovers([folder]) == [nested / tar.name]
    out = tmp_path / "out"
    args = ["report", "--year", str(year), "--store", str(fonds_store), "--handovers", str(folder), str(out)]
    result = CliRunner().invoke(main, [*args, "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert [h["name"] for h in data["handovers"]] == [tar.name] and data["problems"] == []
    assert {row["fonds_code"]: row["handed_over"] for row in data["fonds"]} == {"P07": 0, "P08": 2}


def test_html_page_renders_on_one_page_in_chromium(
    fonds_store: Path, handovers: Path, tmp_path: Path
) -> None:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if chromium is None:
        pytest.skip("no headless Chromium on this machine")
    year = _packaged_year(fonds_store)
    CliRunner().invoke(main, ["report", "--year", str(year), "--store", str(fonds_store), str(tmp_path)])
    page = tmp_path / f"bao-cao-{year}.html"
    assert "BÁO CÁO TIẾN ĐỘ" in page.read_text(encoding="utf-8")
    pdf, png = tmp_path / "page.pdf", tmp_path / "page.png"
    common = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars"]
    subprocess.run(
        [*common, "--no-pdf-header-footer", f"--print-to-pdf={pdf}", page.as_uri()],
        capture_output=True,
        timeout=120,
        check=True,
    )
    subprocess.run(
        [*common, f"--screenshot={png}", "--window-size=1400,1000", page.as_uri()],
        capture_output=True,
        timeout=120,
        check=True,
    )
    import pikepdf
    from PIL import Image

    with pikepdf.open(pdf) as document:
        assert len(document.pages) == 1
    with Image.open(png) as image:
        histogram = image.convert("L").histogram()
        dark = sum(histogram[:128])
        coloured = image.convert("RGB").getcolors(maxcolors=1 << 20) or []
    assert dark > 2000  # text and table lines were drawn
    assert len(coloured) > 50  # the chart's bars and anti-aliased text, not a blank page


@pytest.mark.parametrize("name", ["handover", "statistics", "yearreport"])
def test_public_api_is_declared_and_documented(name: str) -> None:
    """Each module says what is public (``__all__``); every public function and class has a docstring."""
    import importlib
    import inspect

    import oais_preserve

    module = importlib.import_module(f"oais_preserve.{name}")
    public = module.__all__
    assert public and len(public) == len(set(public))
    for attribute in public:
        value = getattr(module, attribute)
        if inspect.isfunction(value) or inspect.isclass(value):
            assert inspect.getdoc(value), f"{name}.{attribute} has no docstring"
    assert oais_preserve.yearly_report is yearly_report
    assert {"yearly_report", "write_report", "YearReport"} <= set(oais_preserve.__all__)
