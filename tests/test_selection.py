"""Selection of whole hồ sơ: criteria, refusals, the grouped list with per-fonds totals."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from click.testing import CliRunner
from openpyxl import load_workbook

from oais_preserve import import_catalogue, select_hoso, write_selection
from oais_preserve.cli import main
from oais_preserve.errors import UserInputError
from oais_preserve.samples_catalogue import DOC_SHEET, HOSO_SHEET, generate_catalogue
from oais_preserve.selection import compute_criteria, parse_criteria, read_selection_codes


@pytest.fixture
def catalogue(tmp_path: Path):  # type: ignore[no-untyped-def]
    sample = generate_catalogue(tmp_path / "c.xlsx", hoso_count=12, docs_per_hoso=3, seed=11)
    return sample, import_catalogue(sample.path)


def _set(path: Path, sheet: str, header: str, values: dict[int, object]) -> None:
    workbook = load_workbook(path)
    ws = workbook[sheet]
    headers = [c.value for c in ws[4]]
    if header not in headers:
        ws.cell(row=4, column=len(headers) + 1, value=header)
        headers.append(header)
    for row, value in values.items():
        ws.cell(row=row, column=headers.index(header) + 1, value=value)
    workbook.save(path)


def test_criteria_are_computed_from_the_catalogue(catalogue) -> None:  # type: ignore[no-untyped-def]
    _sample, result = catalogue
    by_code = {h.file_code: compute_criteria(h) for h in result.hoso}
    first = result.hoso[0]  # 1955, permanent or 70 years, title index 0
    assert "pre1975" in by_code[first.file_code]
    notable = next(h for h in result.hoso if "Gia phả dòng họ" in str(h.fields["title"]))
    assert "notable" in by_code[notable.file_code]
    media = [h for h in result.hoso if h.extras.get("material") == "giấy dó"]
    assert media and all("media" in by_code[h.file_code] for h in media)
    damaged = [h for h in result.hoso if h.fields.get("format") == "03" or h.extras.get("damage")]
    assert damaged and all("damaged" in by_code[h.file_code] for h in damaged)
    late = [h for h in result.hoso if str(h.fields["startDate"]).endswith(("1976", "1983", "1990"))]
    assert late and all("pre1975" not in by_code[h.file_code] for h in late)
    assert parse_criteria("1, 4") == ("permanent", "damaged")
    assert parse_criteria("Vĩnh viễn; giấy dó") == ("permanent", "media")
    assert parse_criteria("???") is None


def test_selection_by_one_criterion_and_the_list_with_totals(catalogue, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _sample, result = catalogue
    selection = select_hoso(result, criteria=["pre1975"])
    assert selection.selected and selection.not_selected
    assert all(s.criteria == ("pre1975",) for s in selection.selected)
    assert all(int(s.start_date[-4:]) < 1975 for s in selection.selected)
    totals = selection.totals()
    assert sum(t["hoso"] for t in totals.values()) == len(selection.selected)
    xlsx, csv_path = write_selection(selection, tmp_path / "ds")
    with open(csv_path, encoding="utf-8-sig") as handle:
        rows = list(csv.reader(handle))
    fonds_totals = [r for r in rows if r[0] == "Cộng phông"]
    assert [(r[1], int(r[4]), int(r[8])) for r in fonds_totals] == [
        (code, t["hoso"], t["documents"]) for code, t in totals.items()
    ]
    assert rows[-1][0] == "Tổng cộng" and int(rows[-1][4]) == len(selection.selected)
    assert read_selection_codes(csv_path) == selection.codes
    assert read_selection_codes(xlsx) == selection.codes
    sheet = load_workbook(xlsx).worksheets[0]
    assert sheet["A1"].value == "DANH MỤC HỒ SƠ LỰA CHỌN SỐ HÓA"
    assert any(str(c.value).startswith("Phông: H55.22.07") for c in sheet["A"])
    with pytest.raises(UserInputError):
        select_hoso(result, criteria=["pretty"])


def test_a_document_alone_is_refused_and_partial_hoso_reported(catalogue, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    sample, result = catalogue
    code = sample.hoso_codes[0]
    selection = select_hoso(result, codes=[code, f"{code}.2", "NOPE.1"])
    assert selection.codes == [code]
    assert [p.rule for p in selection.problems] == ["document-selection-refused", "unknown-code"]
    # documents marked one by one: 1 of 3 marked is partial (reported, not selected); 3 of 3 is the hồ sơ
    _set(sample.path, DOC_SHEET, "Chọn số hóa", {5: "x", 8: "x", 9: "x", 10: "x"})
    marked = select_hoso(import_catalogue(sample.path), criteria=["media"])
    assert [(p.rule, p.file_code) for p in marked.problems] == [("partial-hoso", sample.hoso_codes[0])]
    assert sample.hoso_codes[1] in marked.codes
    assert next(s for s in marked.selected if s.file_code == sample.hoso_codes[1]).source == "marked"


def test_criteria_read_from_the_sheet_win(catalogue) -> None:  # type: ignore[no-untyped-def]
    sample, _result = catalogue
    _set(sample.path, HOSO_SHEET, "Tiêu chí lựa chọn", {6: "4", 7: "1; 5"})
    result = import_catalogue(sample.path)
    assert result.problems == []
    selection = select_hoso(result, criteria=["media"])
    line = next(s for s in selection.selected if s.file_code == sample.hoso_codes[1])
    assert line.criteria == ("media",) and line.source == "sheet"


def test_select_cli(catalogue, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    sample, _result = catalogue
    run = CliRunner().invoke(
        main, ["select", str(sample.path), "--out", str(tmp_path / "sel"), "--criteria", "pre1975"]
    )
    assert run.exit_code == 0, run.output
    assert (tmp_path / "sel.xlsx").exists() and (tmp_path / "sel.csv").exists()
    listed = tmp_path / "codes.txt"
    listed.write_text(f"{sample.hoso_codes[0]}.1\n", encoding="utf-8")
    refused = CliRunner().invoke(
        main, ["select", str(sample.path), "--out", str(tmp_path / "x"), "--codes", str(listed)]
    )
    assert refused.exit_code == 1 and "document-selection-refused" in refused.output
