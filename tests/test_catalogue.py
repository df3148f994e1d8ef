"""Catalogue import: both layouts, messy real-world values, every planted problem found exactly once."""

from __future__ import annotations

import csv
import json
import unicodedata
from datetime import datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from openpyxl import Workbook, load_workbook

from oais_preserve import import_catalogue, load_description, write_error_report
from oais_preserve.catalogue import coerce_date, coerce_int, header_key
from oais_preserve.cli import main
from oais_preserve.errors import UserInputError
from oais_preserve.samples_catalogue import DOC_SHEET, HOSO_SHEET, generate_catalogue, write_scan_pdf

# The planted kind and the rule the importer names for it.
RULE_OF = {"doc-mode": "code"}


def _key(
    sheet: str, row: int | None, column: str | None, rule: str
) -> tuple[str, int | None, str | None, str]:
    return sheet, row, column, rule


def test_5000_rows_with_200_planted_problems_reports_exactly_those(tmp_path: Path) -> None:
    sample = generate_catalogue(tmp_path / "c.xlsx", hoso_count=500, docs_per_hoso=10, problems=200, seed=3)
    assert sample.documents >= 5000
    result = import_catalogue(sample.path)
    expected = {_key(p.sheet, p.row, p.column, RULE_OF.get(p.rule, p.rule)) for p in sample.planted}
    found = [_key(p.sheet, p.row, p.column, p.rule) for p in result.errors]
    assert len(expected) == 200
    assert len(found) == 200, [
        str(p) for p in result.errors if _key(p.sheet, p.row, p.column, p.rule) not in expected
    ][:10]
    assert set(found) == expected
    assert not result.warnings
    # each problem carries sheet, row, column header and (where there is one) the value
    assert all(p.sheet and p.row and p.column for p in result.errors)


def test_clean_workbook_gives_valid_descriptions_and_keeps_tt02_originals(tmp_path: Path) -> None:
    sample = generate_catalogue(
        tmp_path / "c.xlsx", hoso_count=12, docs_per_hoso=4, seed=5, scans=tmp_path / "s"
    )
    result = import_catalogue(sample.path, scans=sample.scans)
    assert result.problems == []
    assert [h.file_code for h in result.hoso] == sample.hoso_codes
    assert len(result.valid_hoso()) == 12
    assert result.document_count == 48
    assert {layout.role for layout in result.layouts} == {"fonds", "hoso", "documents"}
    hoso = result.hoso[0]
    loaded = load_description(hoso.description or {}, kind="AIP")  # validated by the JSON Schemas
    assert loaded.fonds_code == "H55.22.07" and loaded.archive_code == "H55.22"
    assert loaded.maintenance in {"01", "02"}
    assert all(d.fields["typeName"] in {"22", "14", "02"} for d in loaded.documents)
    # "Hạn chế" (TT02) became "02" and the original is kept beside it
    conversions = [c for h in result.hoso for c in h.conversions]
    assert any(c.field == "mode" and c.original == "Hạn chế" and c.code == "02" for c in conversions)
    assert result.summary()["legacyConversions"] == len(conversions)


def _rewrite(path: Path, edits: dict[tuple[str, int, int], object]) -> None:
    workbook = load_workbook(path)
    for (sheet, row, col), value in edits.items():
        workbook[sheet].cell(row=row, column=col, value=value)
    workbook.save(path)


FONDS_GIVEN = {"archiveCode": "H55.22", "organization": "Trung tâm Lưu trữ lịch sử tỉnh Thái Nguyên"}


def test_single_sheet_layout_and_disagreeing_repeats(tmp_path: Path) -> None:
    sample = generate_catalogue(tmp_path / "one.xlsx", hoso_count=4, docs_per_hoso=3, layout="single", seed=2)
    # no phông sheet: the archive code and name must be given, else one problem per fonds and field
    missing = import_catalogue(sample.path).problems
    assert sorted((p.column or "", p.rule) for p in missing) == [
        ("archiveCode", "required"), ("archiveCode", "required"), ("organization", "required"),
        ("organization", "required"),
    ]  # fmt: skip
    result = import_catalogue(sample.path, fonds=FONDS_GIVEN)
    assert result.problems == []
    assert [layout.role for layout in result.layouts] == ["combined"]
    assert len(result.valid_hoso()) == 4 and result.document_count == 12
    # the title of hồ sơ 1 repeated on its 2nd document row disagrees; a blank repeat is fine
    _rewrite(sample.path, {("Mục lục", 6, 4): "Một tiêu đề khác", ("Mục lục", 7, 5): None})
    result = import_catalogue(sample.path, fonds=FONDS_GIVEN)
    assert [(p.row, p.column, p.rule) for p in result.problems] == [
        (6, "Tiêu đề hồ sơ", "hoso-values-disagree")
    ]
    assert result.problems[0].value == "Một tiêu đề khác"
    assert not result.hoso[0].valid and result.hoso[1].valid


def test_csv_with_bom_and_semicolons(tmp_path: Path) -> None:
    sample = generate_catalogue(tmp_path / "one.xlsx", hoso_count=3, docs_per_hoso=2, layout="single", seed=4)
    sheet = load_workbook(sample.path, read_only=True, data_only=True)["Mục lục"]
    out = tmp_path / "mục lục.csv"
    with open(out, "w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle, delimiter=";")
        for row in sheet.iter_rows(values_only=True):
            writer.writerow(
                ["" if v is None else v.strftime("%d/%m/%Y") if isinstance(v, datetime) else v for v in row]
            )
    result = import_catalogue(out, fonds=FONDS_GIVEN)
    assert result.problems == []
    assert len(result.valid_hoso()) == 3 and result.document_count == 6


def _messy_workbook(path: Path) -> None:
    """What real provincial files look like: title rows, merged group headers, NFD and odd-case
    headers, numbers as text and floats, Excel dates, Windows paths, blank rows."""
    wb = Workbook()
    hs = wb.active
    assert hs is not None
    hs.title = "DANH MUC HO SO"
    hs.append(["ỦY BAN NHÂN DÂN TỈNH"])
    hs.append(["DANH MỤC HỒ SƠ ĐỀ NGHỊ SỐ HÓA"])
    group = [None] * 16
    group[5] = "Thời gian"
    hs.append(group)
    heads = [
        unicodedata.normalize("NFD", "MÃ HỒ SƠ"),
        "  Tiêu   đề hồ sơ ",
        "Thời hạn bảo quản (*)",
        "Chế độ sử dụng",
        "Ngôn ngữ",
        "Bắt đầu",
        "Kết thúc",
        "Tổng số văn bản",
        "Số tờ",
        "Số trang",
        "Tình trạng vật lý",
        "Mức độ tin cậy",
        "Mã hồ sơ gốc giấy",
        "Chế độ dự phòng",
        "Tình trạng dự phòng",
        "Đường dẫn",
    ]
    hs.merge_cells(start_row=3, start_column=6, end_row=3, end_column=7)
    hs.append(heads)
    hs.append([])
    hs.append(
        ["G09.1968.12", "Hồ sơ về việc đắp đê", "01: Vĩnh viễn", "Công khai", "Tiếng Việt", "1968", 1968.0,
         "2", "3", 5.0, "Hỏng", "02", "K1.12", "Có", "Đã dự phòng", None]
    )  # fmt: skip
    hs.append(
        ["G09.1970.3", "Bản đồ cả hồ sơ", "Vĩnh viễn", "01", "01", "03/1970", "12/1970",
         1, 1, 2, "02", "02", "K1.13", 1, "01", r"D:\SCAN\G09\G09.1970.3.pdf"]
    )  # fmt: skip
    docs = wb.create_sheet("Văn bản")
    docs.append(["Mã hồ sơ", "STT văn bản", "Loại văn bản", "Ngày văn bản", "Cơ quan ban hành", "Trích yếu",
                 "Số trang", "Chế độ sử dụng", "Ngôn ngữ", "Tệp"])  # fmt: skip
    docs.append(["(1)", "(2)", "(3)", "(4)", "(5)", "(6)", "(7)", "(8)", "(9)", "(10)"])
    docs.append(["G09.1968.12", 1.0, "Công văn", datetime(1968, 3, 5), "UBHC tỉnh", "Về việc đắp đê", "3",
                 "01", "01", r"C:\Users\lưu trữ\G09.1968.12.1.pdf"])  # fmt: skip
    docs.append([None] * 10)
    docs.append(["G09.1968.12", "2", "22", "7/4/1968", "UBHC huyện", "Báo cáo đê", 2, "Công khai", "Việt",
                 None])  # fmt: skip
    docs.append(
        ["G09.1970.3", 1, "30: Bản đồ", "01/01/1970", "Ty Thủy lợi", "Bản đồ đê", 2, "01", "01", None]
    )
    wb.save(path)


def test_messy_real_world_layout_with_scans(tmp_path: Path) -> None:
    scans = tmp_path / "scans"
    write_scan_pdf(scans / "G09.1968.12.1.pdf", pages=3, size_mm=(74, 105))
    write_scan_pdf(scans / "sub" / unicodedata.normalize("NFD", "G09.1968.12.02_Báo_cáo.pdf"), pages=1)
    write_scan_pdf(scans / "G09.1970.3.pdf", pages=2, dpi=300, size_mm=(74, 105))
    write_scan_pdf(scans / "G09.1999.1.1.pdf", pages=1)  # described by no row
    path = tmp_path / "catalogue.xlsx"
    _messy_workbook(path)
    fonds = {"archiveCode": "H49.64", "fondsCode": "G09", "fondsName": "Phông UBND", "organization": "TTLT"}
    result = import_catalogue(path, scans=scans, fonds=fonds)
    errors = [(p.sheet, p.row, p.column, p.rule) for p in result.errors]
    # the 2nd document has 1 page, not 2: counted from the PDF; and hồ sơ 1 gives 5 pages, documents 3 + 2
    assert errors == [("Văn bản", 5, "Số trang", "page-count")]
    assert [(p.rule, p.value) for p in result.warnings] == [("scan-unmatched", "G09.1999.1.1.pdf")]
    first, whole = result.hoso
    assert first.fields["startDate"] == "1968" and first.fields["endDate"] == "1968"
    assert first.fields["maintenance"] == "01" and first.fields["format"] == "03"
    assert first.fields["riskRecovery"] == 1 and first.fields["totalDoc"] == 2
    docs = first.description["documents"] if first.description else []
    assert [d["issuedDate"] for d in docs] == ["05/03/1968", "07/04/1968"]
    assert [d["files"] for d in docs] == [["G09.1968.12.1.pdf"], ["sub/G09.1968.12.02_Báo_cáo.pdf"]]
    assert whole.valid and whole.description and whole.description["hoso"]["files"] == ["G09.1970.3.pdf"]
    assert whole.description["documents"][0]["files"] == []
    assert [layout.header_row for layout in result.layouts] == [4, 1]


def test_missing_scan_and_orphan_windows_path_are_reported(tmp_path: Path) -> None:
    scans = tmp_path / "scans"
    scans.mkdir()
    path = tmp_path / "catalogue.xlsx"
    _messy_workbook(path)
    fonds = {"archiveCode": "H49.64", "fondsCode": "G09", "fondsName": "Phông UBND", "organization": "TTLT"}
    result = import_catalogue(path, scans=scans, fonds=fonds)
    rules = sorted((p.sheet, p.row, p.rule, p.value) for p in result.errors)
    assert rules == [
        ("DANH MUC HO SO", 7, "scan-missing", "D:/SCAN/G09/G09.1970.3.pdf"),
        ("Văn bản", 3, "scan-missing", "C:/Users/lưu trữ/G09.1968.12.1.pdf"),
        ("Văn bản", 5, "scan-missing", "G09.1968.12.2.*"),
        ("Văn bản", 6, "scan-missing", "G09.1970.3.1.*"),
    ]
    assert not any(h.valid for h in result.hoso)


def test_user_mapping_file_for_another_layout(tmp_path: Path) -> None:
    sample = generate_catalogue(tmp_path / "c.xlsx", hoso_count=2, docs_per_hoso=2, seed=1)
    workbook = load_workbook(sample.path)
    workbook[HOSO_SHEET].cell(row=4, column=3, value="Nội dung hồ sơ (tên gọi)")
    workbook.save(sample.path)
    assert any(p.rule == "column-missing" for p in import_catalogue(sample.path).problems)
    mapping = tmp_path / "map.json"
    mapping.write_text(json.dumps({"hoso": {"Nội dung hồ sơ (tên gọi)": "title"}}), encoding="utf-8")
    assert import_catalogue(sample.path, mapping=mapping).problems == []
    mapping.write_text(json.dumps({"hosso": {}}), encoding="utf-8")
    with pytest.raises(UserInputError, match="hosso"):
        import_catalogue(sample.path, mapping=mapping)


def test_a_missing_required_column_is_one_problem_not_one_per_row(tmp_path: Path) -> None:
    sample = generate_catalogue(tmp_path / "c.xlsx", hoso_count=30, docs_per_hoso=2, seed=1)
    workbook = load_workbook(sample.path)
    sheet = workbook[DOC_SHEET]
    sheet.delete_cols(11)  # "Chế độ sử dụng" of the documents
    workbook.save(sample.path)
    problems = import_catalogue(sample.path).problems
    assert [(p.sheet, p.row, p.rule) for p in problems] == [(DOC_SHEET, 4, "column-missing")]
    assert "mode" in problems[0].message("en")


def test_error_report_copies_offending_rows_with_highlighted_commented_cells(tmp_path: Path) -> None:
    sample = generate_catalogue(tmp_path / "c.xlsx", hoso_count=22, docs_per_hoso=2, problems=11, seed=9)
    result = import_catalogue(sample.path)
    report = write_error_report(result, tmp_path / "report" / "loi.xlsx")
    workbook = load_workbook(report)
    summary = workbook.worksheets[0]
    assert summary.max_row == 1 + len(result.problems) == 12
    docs = workbook[DOC_SHEET]
    planted = next(p for p in sample.planted if p.rule == "date")
    row = next(r for r in docs.iter_rows(min_row=2) if r[0].value == planted.row)
    headers = [c.value for c in docs[1]]
    cell = row[headers.index(planted.column)]
    assert cell.value == "31/02/1968"
    assert cell.fill.fgColor.rgb.endswith("FFC7CE")
    assert cell.comment is not None and "date" in cell.comment.text
    english = write_error_report(result, tmp_path / "en.xlsx", lang="en")
    assert load_workbook(english).worksheets[0].title == "Problems"


def test_values_dates_and_headers() -> None:
    assert header_key(unicodedata.normalize("NFD", " Thời  hạn BẢO QUẢN (*) ")) == "thoi han bao quan"
    assert header_key("Đường dẫn") == "duong dan"
    assert coerce_date(datetime(1968, 1, 5), partial=False) == "05/01/1968"
    assert coerce_date("5/1/1968", partial=False) == "05/01/1968"
    assert coerce_date("1968-01-05", partial=False) == "05/01/1968"
    assert coerce_date("1/1968", partial=True) == "01/1968"
    assert coerce_date(1968.0, partial=True) == "1968"
    assert coerce_int("012") == 12 and coerce_int(12.0) == 12 and coerce_int(" 7 ") == 7
    for bad in ("29/02/1967", "1968", "13/13/1968"):
        with pytest.raises(Exception, match=r"date|ngày"):
            coerce_date(bad, partial=False)


def test_import_cli_summary_english_and_exit_code(tmp_path: Path) -> None:
    sample = generate_catalogue(tmp_path / "c.xlsx", hoso_count=11, docs_per_hoso=2, problems=11, seed=9)
    runner = CliRunner()
    result = runner.invoke(
        main, ["import-catalogue", str(sample.path), "--lang", "en", "--report", str(tmp_path / "r.xlsx")]
    )
    assert result.exit_code == 1, result.output
    assert "11 error(s)" in result.output and "Traceback" not in result.output
    assert (tmp_path / "r.xlsx").exists()
    data = runner.invoke(main, ["import-catalogue", str(sample.path), "--json"])
    payload = json.loads(data.stdout)
    assert payload["summary"]["errors"] == 11 and len(payload["problems"]) == 11
    assert {"sheet", "row", "column", "value", "rule", "message"} <= set(payload["problems"][0])
    clean = generate_catalogue(tmp_path / "ok.xlsx", hoso_count=3, docs_per_hoso=2)
    out = tmp_path / "descriptions"
    ok = runner.invoke(main, ["import-catalogue", str(clean.path), "--descriptions", str(out)])
    assert ok.exit_code == 0, ok.output
    assert len(list(out.glob("*.json"))) == 3
    missing = runner.invoke(main, ["import-catalogue", str(tmp_path / "nope.xlsx")])
    assert missing.exit_code == 2 and "Traceback" not in missing.output


def test_streaming_xlsx_reader_reads_what_openpyxl_reads(tmp_path: Path) -> None:
    from oais_preserve.xlsxstream import XlsxReader

    path = tmp_path / "messy.xlsx"
    _messy_workbook(path)
    workbook = load_workbook(path)
    hidden = workbook.create_sheet("ẩn")
    hidden.append(["secret"])
    hidden.sheet_state = "hidden"
    workbook["Văn bản"].cell(row=12, column=2, value=True)  # a gap of empty rows, then a boolean
    workbook.save(path)
    theirs = load_workbook(path, read_only=True, data_only=True)
    with XlsxReader(str(path)) as reader:
        ours = {name: dict(rows) for name, rows in reader.sheets()}
    assert list(ours) == ["DANH MUC HO SO", "Văn bản"]
    for name, rows in ours.items():
        expected = {
            number: row
            for number, row in enumerate(theirs[name].iter_rows(values_only=True), start=1)
            if any(v is not None for v in row)
        }
        assert list(rows) == list(expected)  # the row numbers Excel shows; empty rows left out
        for number, mine in rows.items():
            their = expected[number]
            assert list(mine) == list(their)[: len(mine)] and not any(their[len(mine) :])


def test_two_csv_files_hoso_and_documents(tmp_path: Path) -> None:
    sample = generate_catalogue(tmp_path / "c.xlsx", hoso_count=3, docs_per_hoso=2, seed=6)
    workbook = load_workbook(sample.path, read_only=True, data_only=True)
    paths = []
    for sheet, name in ((HOSO_SHEET, "ho-so.csv"), (DOC_SHEET, "tai-lieu.csv")):
        out = tmp_path / name
        with open(out, "w", encoding="utf-8", newline="") as handle:  # no BOM this time
            writer = csv.writer(handle)
            for row in workbook[sheet].iter_rows(values_only=True):
                writer.writerow(
                    [
                        "" if v is None else v.strftime("%d/%m/%Y") if isinstance(v, datetime) else v
                        for v in row
                    ]
                )
        paths.append(out)
    result = import_catalogue(
        paths, fonds={**FONDS_GIVEN, "fondsName": "Phông Ủy ban hành chính tỉnh Bắc Thái"}
    )
    assert [layout.role for layout in result.layouts] == ["hoso", "documents"]
    assert result.problems == [] and result.document_count == 6


def test_worksheet_with_a_doctype_is_refused(tmp_path: Path) -> None:
    import zipfile

    sample = generate_catalogue(tmp_path / "c.xlsx", hoso_count=2, docs_per_hoso=1)
    hostile = tmp_path / "hostile.xlsx"
    with zipfile.ZipFile(sample.path) as source, zipfile.ZipFile(hostile, "w") as target:
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename == "xl/worksheets/sheet2.xml":
                doctype = b'<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
                data = doctype + data.replace(b"<t>H55", b"<t>&e;H55", 1)
            target.writestr(item, data)
    with pytest.raises(UserInputError, match="DOCTYPE"):
        import_catalogue(hostile)


def test_combined_date_range_and_number_notation_columns(tmp_path: Path) -> None:
    sample = generate_catalogue(tmp_path / "c.xlsx", hoso_count=3, docs_per_hoso=2, seed=8)
    workbook = load_workbook(sample.path)
    hs = workbook[HOSO_SHEET]
    hs.cell(row=4, column=7, value="Thời gian")  # replaces "Thời gian bắt đầu"
    hs.delete_cols(8)  # and "Thời gian kết thúc"
    hs.cell(row=6, column=7, value="1955 - 03/1956")
    hs.cell(row=7, column=7, value=datetime(1962, 5, 1))
    hs.cell(row=8, column=7, value="1969 đến 1970 đến 1971")
    docs = workbook[DOC_SHEET]
    docs.cell(row=4, column=4, value="Số, ký hiệu văn bản")  # replaces "Số của văn bản"
    docs.delete_cols(5)  # and "Ký hiệu của văn bản"
    docs.cell(row=5, column=4, value="12/QĐ-UB")
    docs.cell(row=6, column=4, value="CV-TL")
    workbook.save(sample.path)
    result = import_catalogue(sample.path)
    assert [(p.row, p.column, p.rule) for p in result.problems] == [(8, "Thời gian", "date")]
    first, second, _third = result.hoso
    assert (first.fields["startDate"], first.fields["endDate"]) == ("1955", "03/1956")
    assert (second.fields["startDate"], second.fields["endDate"]) == ("01/05/1962", "01/05/1962")
    one, two = first.documents
    assert (one.fields["codeNumber"], one.fields["codeNotation"]) == ("12", "QĐ-UB")
    assert "codeNumber" not in two.fields and two.fields["codeNotation"] == "CV-TL"


def test_lenient_forms_found_in_real_catalogues() -> None:
    from oais_preserve.catalogue import coerce_code

    assert coerce_int("12 trang") == 12 and coerce_int("3 tờ") == 3 and coerce_int("5 vb") == 5
    assert coerce_date("ngày 05 tháng 01 năm 1968", partial=False) == "05/01/1968"
    assert coerce_date("tháng 3 năm 1968", partial=True) == "03/1968"
    assert coerce_date("năm 1968", partial=True) == "1968"
    code, conversion = coerce_code("maintenance", "VV")
    assert code == "01" and conversion is not None and conversion.original == "VV"
    assert coerce_code("maintenance", "01: Vĩnh viễn") == ("01", None)
    with pytest.raises(Exception, match="whole number"):
        coerce_int("mười hai trang")


def test_a_hoso_sheet_named_after_its_fonds_is_a_hoso_sheet(tmp_path: Path) -> None:
    sample = generate_catalogue(tmp_path / "c.xlsx", hoso_count=3, docs_per_hoso=2, seed=8)
    workbook = load_workbook(sample.path)
    workbook[HOSO_SHEET].title = "Phông UBND tỉnh"
    workbook.save(sample.path)
    result = import_catalogue(sample.path)
    assert [layout.role for layout in result.layouts] == ["fonds", "hoso", "documents"]
    assert result.problems == []


def test_month_and_year_date_formats_do_not_invent_a_day(tmp_path: Path) -> None:
    """Excel keeps "07/1968" typed into an ``mmm-yy`` cell as 01/07/1968: the day is not the archivist's."""
    path = tmp_path / "catalogue.xlsx"
    _messy_workbook(path)
    workbook = load_workbook(path)
    hs, docs = workbook["DANH MUC HO SO"], workbook["Văn bản"]
    hs["F6"], hs["G6"] = datetime(1968, 1, 1), datetime(1968, 7, 1)
    hs["F6"].number_format, hs["G6"].number_format = "yyyy", "mmm-yy"
    hs["F7"], hs["G7"] = datetime(1970, 3, 1), datetime(1970, 12, 1)
    hs["F7"].number_format, hs["G7"].number_format = "mm/yyyy", '[$-42A]"tháng "mm" năm "yyyy'
    docs["D3"] = datetime(1968, 3, 1)
    docs["D3"].number_format = "mm/yyyy"  # a document date needs its day: reported, not invented
    workbook.save(path)
    fonds = {"archiveCode": "H49.64", "fondsCode": "G09", "fondsName": "Phông UBND", "organization": "TTLT"}
    result = import_catalogue(path, fonds=fonds)
    first, whole = result.hoso
    assert (first.fields["startDate"], first.fields["endDate"]) == ("1968", "07/1968")
    assert (whole.fields["startDate"], whole.fields["endDate"]) == ("03/1970", "12/1970")
    dates = [(p.sheet, p.row, p.column, p.value) for p in result.errors if p.rule == "date"]
    assert dates == [("Văn bản", 3, "Ngày văn bản", "03/1968")]


def test_two_catalogue_files_name_the_file_and_the_report_keeps_them_apart(tmp_path: Path) -> None:
    first = generate_catalogue(tmp_path / "a.xlsx", hoso_count=6, docs_per_hoso=2, problems=3, seed=1)
    generate_catalogue(tmp_path / "b.xlsx", hoso_count=6, docs_per_hoso=2, seed=2)  # same codes again
    result = import_catalogue([tmp_path / "a.xlsx", tmp_path / "b.xlsx"])
    for planted in first.planted:
        found = [
            p
            for p in result.errors
            if (p.sheet, p.row, p.column) == (planted.sheet, planted.row, planted.column)
        ]
        assert found and all(p.source == "a.xlsx" for p in found), planted
        assert found[0].location.startswith(f"a.xlsx / {planted.sheet}, dòng {planted.row}")
    duplicates = [p for p in result.errors if p.rule == "duplicate-hoso"]
    assert duplicates and all(p.source == "b.xlsx" and "a.xlsx / " in p.message_vi for p in duplicates)
    assert all(p.to_dict()["source"] in ("a.xlsx", "b.xlsx") for p in result.problems)
    workbook = load_workbook(write_error_report(result, tmp_path / "loi.xlsx"))
    assert workbook.worksheets[0]["A1"].value == "Tệp"
    for stem in ("a", "b"):
        for sheet in (HOSO_SHEET, DOC_SHEET):
            wanted = {
                p.row for p in result.problems if (p.source, p.sheet) == (f"{stem}.xlsx", sheet) and p.row
            }
            title = f"{stem} - {sheet}"
            copied = (
                {r[0].value for r in workbook[title].iter_rows(min_row=2)} if title in workbook else set()
            )
            assert copied == wanted, title
    alone = import_catalogue(tmp_path / "a.xlsx")
    assert alone.errors and not any(".xlsx" in p.location for p in alone.problems)
    assert all(p.source == "a.xlsx" for p in alone.problems)


def as_shared_strings(source: Path, dest: Path, member: str = "xl/sharedStrings.xml") -> Path:
    """The workbook as Excel and LibreOffice write it: every text cell a ``t="s"`` index into a
    shared-strings part (openpyxl writes inline strings), stored at ``member`` and declared in
    workbook.xml.rels."""
    import zipfile

    from lxml import etree

    main_ns = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    q = f"{{{main_ns}}}"
    strings: dict[str, int] = {}
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED) as new:
        for item in old.infolist():
            data = old.read(item.filename)
            if item.filename.startswith("xl/worksheets/"):
                root = etree.fromstring(data)
                for cell in root.iter(f"{q}c"):
                    if cell.get("t") == "inlineStr":
                        inline = cell.find(f"{q}is")
                        text = "".join(inline.itertext()) if inline is not None else ""
                        cell.set("t", "s")
                        for child in list(cell):
                            cell.remove(child)
                        etree.SubElement(cell, f"{q}v").text = str(strings.setdefault(text, len(strings)))
                data = etree.tostring(root, xml_declaration=True, encoding="UTF-8")
            elif item.filename == "xl/_rels/workbook.xml.rels":
                kind = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings"
                link = f'<Relationship Id="rIdSst" Type="{kind}" Target="{member.removeprefix("xl/")}"/>'
                data = data.replace(b"</Relationships>", link.encode() + b"</Relationships>")
            new.writestr(item, data)
        sst = etree.Element(f"{q}sst", nsmap={None: main_ns})
        for text in strings:  # first runs plain, the rest split into two rich-text runs
            si = etree.SubElement(sst, f"{q}si")
            for part in (text[: len(text) // 2], text[len(text) // 2 :]):
                run = etree.SubElement(si, f"{q}r")
                etree.SubElement(
                    run, f"{q}t", {"{http://www.w3.org/XML/1998/namespace}space": "preserve"}
                ).text = part
            etree.SubElement(etree.SubElement(si, f"{q}rPh", sb="0", eb="1"), f"{q}t").text = "PHONETIC"
        new.writestr(member, etree.tostring(sst, xml_declaration=True, encoding="UTF-8"))
    return dest


def test_shared_strings_at_a_non_standard_case_path(tmp_path: Path) -> None:
    """Excel's shared strings (with rich text and phonetic runs), at xl/SharedStrings.xml as some
    exporters write it, found through workbook.xml.rels: the import reads the same catalogue."""
    sample = generate_catalogue(tmp_path / "c.xlsx", hoso_count=3, docs_per_hoso=2, problems=2, seed=3)
    expected = import_catalogue(sample.path)
    for member in ("xl/sharedStrings.xml", "xl/SharedStrings.xml"):
        shared = as_shared_strings(sample.path, tmp_path / f"{member[3]}.xlsx", member)
        result = import_catalogue(shared)
        assert [h.fields for h in result.hoso] == [h.fields for h in expected.hoso] and len(result.hoso) == 3
        assert [(p.sheet, p.row, p.column, p.rule) for p in result.problems] == [
            (p.sheet, p.row, p.column, p.rule) for p in expected.problems
        ]


def test_entity_bomb_in_shared_strings_is_a_user_error(tmp_path: Path) -> None:
    import zipfile

    sample = generate_catalogue(tmp_path / "c.xlsx", hoso_count=2, docs_per_hoso=1)
    shared = as_shared_strings(sample.path, tmp_path / "shared.xlsx")
    entities = "".join(f'<!ENTITY {chr(98 + i)} "' + f"&{chr(97 + i)};" * 10 + '">' for i in range(8))
    bomb = (
        '<?xml version="1.0"?><!DOCTYPE sst [<!ENTITY a "aaaaaaaaaa">' + entities + "]>"
        '<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><si><t>&i;</t></si></sst>'
    )
    hostile = tmp_path / "bomb.xlsx"
    with zipfile.ZipFile(shared) as old, zipfile.ZipFile(hostile, "w") as new:
        for item in old.infolist():
            is_sst = item.filename == "xl/sharedStrings.xml"
            new.writestr(item, bomb.encode() if is_sst else old.read(item.filename))
    result = CliRunner().invoke(main, ["import-catalogue", str(hostile)])
    assert result.exit_code == 2, result.output
    assert "sharedStrings.xml" in result.output and "DOCTYPE" in result.output
    assert "Traceback" not in result.output and "internal error" not in result.output
