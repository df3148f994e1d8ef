"""Handover per fonds, the statistics list, the handover record, and verify-handover."""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import unicodedata
import zipfile
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from lxml import etree

from oais_preserve import InvalidPackageError, UserInputError
from oais_preserve.cli import main
from oais_preserve.handover import (
    PROFILE_ID,
    FondsConflictError,
    HandoverIncompleteError,
    Party,
    find_aips,
    handover,
    handover_profile,
    structural_audit,
)
from oais_preserve.handover_verify import verify_handover
from oais_preserve.statistics import read_statistics_xlsx

from .conftest import run_bagit_validator, run_eark_validator

SENDER = Party("Trung tâm Lưu trữ lịch sử tỉnh Thái Nguyên", "Nguyễn Văn Thành", "Giám đốc")
RECEIVER = Party("Cục Văn thư và Lưu trữ nhà nước, Bộ Nội vụ", "Lê Quang Hòa", "Trưởng phòng")


@pytest.fixture(scope="module")
def p07_handover(fonds_store: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("handover")
    aips = find_aips([fonds_store])
    results = handover(aips, out, sender=SENDER, receiver=RECEIVER, fonds=["P07"], workers=1)
    assert [r.fonds_code for r in results] == ["P07"]
    return results[0].path


@pytest.fixture(scope="module")
def p08_handover(fonds_store: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small handover (2 AIPs) for the receiving-side checks that need a real one quickly."""
    out = tmp_path_factory.mktemp("handover-p08")
    (result,) = handover(
        find_aips([fonds_store]), out, sender=SENDER, receiver=RECEIVER, fonds=["P08"], workers=1
    )
    return result.path


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _extract(tar: Path, dest: Path) -> Path:
    with tarfile.open(tar) as archive:
        archive.extractall(dest, filter="data")
    (root,) = dest.iterdir()
    return root


def _retar(root: Path, tar: Path) -> None:
    """Serialize a (modified) bag again and record the new digest beside it, as a sender would."""
    tar.unlink()
    with tarfile.open(tar, "w", format=tarfile.PAX_FORMAT) as archive:
        archive.add(root, arcname=root.name)
    Path(f"{tar}.sha256").write_text(f"{_sha256(tar)}  {tar.name}\n", encoding="utf-8")


def _reseal(root: Path) -> None:
    """Recompute the bag's manifests after an edit, so only the content check can notice it."""
    files = [path for path in sorted((root / "data").rglob("*")) if path.is_file()]
    lines = [f"{_sha256(path)}  {path.relative_to(root).as_posix()}\n" for path in files]
    (root / "manifest-sha256.txt").write_text("".join(lines), encoding="utf-8")
    oxum = f"Payload-Oxum: {sum(p.stat().st_size for p in files)}.{len(files)}"
    info = root / "bag-info.txt"
    info.write_text(re.sub(r"Payload-Oxum: .*", oxum, info.read_text(encoding="utf-8")), encoding="utf-8")
    tags = [
        f"{_sha256(root / name)}  {name}\n" for name in ("bagit.txt", "bag-info.txt", "manifest-sha256.txt")
    ]
    (root / "tagmanifest-sha256.txt").write_text("".join(tags), encoding="utf-8")


def _copy_handover(tar: Path, dest: Path) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    copy = dest / tar.name
    shutil.copy(tar, copy)
    shutil.copy(f"{tar}.sha256", f"{copy}.sha256")
    return copy


def _rules(receipt_problems: list[dict[str, object]]) -> set[object]:
    return {p["rule"] for p in receipt_problems}


# --- the handover is accepted, by our checker and by tools we did not write --------------------


def test_handover_is_accepted_by_verify_and_external_validators(p07_handover: Path, tmp_path: Path) -> None:
    tar = p07_handover
    digest_line = Path(f"{tar}.sha256").read_text(encoding="utf-8")
    assert digest_line == f"{_sha256(tar)}  {tar.name}\n"  # sha256sum -c format
    assert not list(tar.parent.glob(".*"))  # no partial, lock or work file left behind

    receipt = verify_handover(tar, workers=1)
    assert receipt.ok, receipt.problems
    assert receipt.fonds_code == "P07" and len(receipt.packages) == 30
    assert all(p["valid"] for p in receipt.packages)

    root = _extract(tar, tmp_path)
    assert run_bagit_validator(root).returncode == 0  # bagit-python, separate process
    import bagit
    import bagit_profile

    profile = bagit_profile.Profile(PROFILE_ID, profile=handover_profile())
    assert profile.validate_serialization(str(tar))
    assert profile.validate(bagit.Bag(str(root))), profile.report.errors

    # one AIP, unpacked from its TT05 zip, passes the E-ARK validator
    first = sorted((root / "data" / "goi-aip").glob("*.zip"))[0]
    with zipfile.ZipFile(first) as archive:
        archive.extractall(tmp_path / "aip")
    result = run_eark_validator(tmp_path / "aip" / first.stem)
    assert result.returncode == 0, result.stdout + result.stderr


def test_cli_verify_handover_receipt(p07_handover: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(main, ["verify-handover", str(p07_handover), "--workers", "1", "--json"])
    assert result.exit_code == 0, result.output
    receipt = json.loads(result.output)
    assert receipt["ok"] and receipt["statistics"]["hoso"] == 30
    human = runner.invoke(main, ["verify-handover", str(p07_handover), "--workers", "1"])
    assert human.exit_code == 0
    assert "HỢP LỆ" in human.output and "30 hồ sơ" in human.output


# --- the statistics list equals counts taken independently from the packages -------------------


def _independent_counts(store: Path, fonds: str) -> dict[str, int]:
    counts = {"hoso": 0, "documents": 0, "pages": 0, "sheets": 0, "bytes": 0, "packages": 0}
    for bag in sorted(store.iterdir()):
        info = (bag / "bag-info.txt").read_text(encoding="utf-8")
        if f"Bag-Group-Identifier: {fonds}\n" not in info:
            continue
        ead = etree.parse(str(bag / "data" / "metadata" / "descriptive" / "EAD.xml")).getroot()
        counts["packages"] += 1
        counts["hoso"] += 1
        records = (bag / "data" / "representations").glob("*/metadata/descriptive/EAD_*")
        counts["documents"] += len(list(records))
        counts["pages"] += int(ead.findtext("numberOfPage") or 0)
        counts["sheets"] += int(ead.findtext("numberOfPaper") or 0)
        counts["bytes"] += sum(f.stat().st_size for f in (bag / "data").rglob("*") if f.is_file())
    return counts


def test_statistics_list_matches_independent_counts(
    p07_handover: Path, fonds_store: Path, tmp_path: Path
) -> None:
    expected = _independent_counts(fonds_store, "P07")
    assert expected["packages"] == 30
    root = _extract(p07_handover, tmp_path)
    base = root / "data" / "thong-ke" / "danh-muc-thong-ke"
    (row,) = json.loads(base.with_suffix(".json").read_text(encoding="utf-8"))["fonds"]
    (xlsx_row,) = read_statistics_xlsx(base.with_suffix(".xlsx"))
    csv_text = base.with_suffix(".csv").read_bytes().decode("utf-8-sig")
    csv_row = dict(zip(*[line.split(",") for line in csv_text.splitlines()[:2]], strict=True))
    for key, value in expected.items():
        assert row[key] == value, key
        assert xlsx_row[key] == value, key
    assert csv_row["Số hồ sơ"] == "30" and csv_row["Số trang"] == str(expected["pages"])
    assert row["fonds_name"] == "Phông Ủy ban hành chính tỉnh Bắc Thái"
    assert row["copy_number"] == expected["pages"]  # every sample hồ sơ has its insurance copy made
    assert row["paper_total"] is None and csv_row["Tổng số tài liệu giấy"] == "chưa có dữ liệu"
    # the record lists every package with the SHA-256 the bag manifest holds for it
    record = json.loads((root / "data" / "bien-ban" / "bien-ban-ban-giao.json").read_text(encoding="utf-8"))
    manifest = dict(
        reversed(line.split("  ", 1)) for line in (root / "manifest-sha256.txt").read_text().splitlines()
    )
    assert len(record["packages"]) == 30
    for package in record["packages"]:
        assert manifest[package["name"]] == package["sha256"]
    assert record["sender"]["organization"] == SENDER.organization
    assert record["receiver"]["representative"] == RECEIVER.representative


def test_handover_record_workbook_is_printable(p07_handover: Path, tmp_path: Path) -> None:
    from openpyxl import load_workbook

    root = _extract(p07_handover, tmp_path)
    book = load_workbook(root / "data" / "bien-ban" / "bien-ban-ban-giao.xlsx")
    sheet = book.active
    assert sheet is not None
    text = "\n".join(str(c) for row in sheet.iter_rows(values_only=True) for c in row if c is not None)
    assert "BIÊN BẢN BÀN GIAO" in text and SENDER.organization in text and RECEIVER.organization in text
    assert "ĐẠI DIỆN BÊN GIAO" in text and "ĐẠI DIỆN BÊN NHẬN" in text
    assert len(re.findall(r"\b[0-9a-f]{64}\b", text)) == 30
    assert str(sheet.page_setup.paperSize) == sheet.PAPERSIZE_A4 and sheet.print_title_rows


# --- tampering is reported precisely, with a non-zero exit ------------------------------------


def test_flipped_byte_inside_the_tar_is_reported(p07_handover: Path, tmp_path: Path) -> None:
    tar = _copy_handover(p07_handover, tmp_path / "flip")
    with tarfile.open(tar) as archive:
        member = next(m for m in archive.getmembers() if m.name.endswith(".zip"))
    data = bytearray(tar.read_bytes())
    position = member.offset_data + member.size // 2
    data[position] ^= 0x01
    tar.write_bytes(bytes(data))
    result = CliRunner().invoke(main, ["verify-handover", str(tar), "--workers", "1", "--json"])
    assert result.exit_code == 1
    receipt = json.loads(result.output)
    rules = _rules(receipt["problems"])
    assert "tar-digest" in rules
    name = member.name.split("/", 1)[1]
    precise = [p for p in receipt["problems"] if p["rule"] != "tar-digest"]
    assert any(name in p["where"] for p in precise)


def test_removed_aip_is_reported(p07_handover: Path, tmp_path: Path) -> None:
    tar = _copy_handover(p07_handover, tmp_path / "removed")
    root = _extract(tar, tmp_path / "x")
    victim = sorted((root / "data" / "goi-aip").glob("*.zip"))[3]
    victim.unlink()
    _retar(root, tar)  # the digest beside the tar is made to match: the content checks must find it
    receipt = verify_handover(tar, workers=1)
    assert not receipt.ok
    removed = f"data/goi-aip/{victim.name}"
    messages = [str(p) for p in receipt.problems]
    assert any(removed in m and p.rule == "record" for m, p in zip(messages, receipt.problems, strict=True))
    assert any(removed in m for m, p in zip(messages, receipt.problems, strict=True) if "bag" in p.where)
    # the missing AIP comes before the figures it changes, which take one line per form, not one per column
    first_figures = next(i for i, p in enumerate(receipt.problems) if p.rule in ("statistics", "bag-info"))
    assert any(removed in m for m in messages[:first_figures])
    assert not [p for p in receipt.problems if "(hoso)" in p.where or "counts.hoso" in p.where]
    stats, record = "data/thong-ke/danh-muc-thong-ke", "data/bien-ban/bien-ban-ban-giao"
    folded = [p.where for p in receipt.problems if "Số hồ sơ (hoso): 30 → 29" in p.message]
    assert folded == [
        f"{stats}.json: P07",
        f"{stats}.csv: P07",
        f"{stats}.xlsx: P07",
        f"{stats}.xlsx: Tổng cộng",
    ]
    assert any(p.where == f"{record}.json" and "counts.hoso: 30 → 29" in p.message for p in receipt.problems)
    assert any(p.where == f"{record}.xlsx" and "Số hồ sơ: 30 → 29" in p.message for p in receipt.problems)
    assert len(receipt.problems) <= 15  # was 51 lines, most of them one cause repeated per column
    result = CliRunner().invoke(main, ["verify-handover", str(tar), "--workers", "1"])
    assert result.exit_code == 1 and removed in result.output


def test_edited_count_in_statistics_list_is_reported(p07_handover: Path, tmp_path: Path) -> None:
    tar = _copy_handover(p07_handover, tmp_path / "edited")
    root = _extract(tar, tmp_path / "x")
    stats_json = root / "data" / "thong-ke" / "danh-muc-thong-ke.json"
    data = json.loads(stats_json.read_text(encoding="utf-8"))
    true_pages = data["fonds"][0]["pages"]
    data["fonds"][0]["pages"] = true_pages + 1
    stats_json.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    _reseal(root)
    _retar(root, tar)
    receipt = verify_handover(tar, workers=1)
    assert [(p.where, p.value) for p in receipt.problems] == [
        ("data/thong-ke/danh-muc-thong-ke.json: P07: Số trang (pages)", str(true_pages + 1))
    ]
    assert str(true_pages) in receipt.problems[0].message
    # without re-sealing, the bag check names the edited file too
    stats_json.write_text(json.dumps(data, ensure_ascii=False) + " ", encoding="utf-8")
    _retar(root, tar)
    result = CliRunner().invoke(main, ["verify-handover", str(tar), "--workers", "1"])
    assert result.exit_code == 1 and "danh-muc-thong-ke.json" in result.output


def _edit_xlsx(path: Path, fonds: str, edits: dict[str, object], totals: dict[str, object]) -> None:
    """Change cells of the statistics workbook, in the fonds' row and in the totals row."""
    from openpyxl import load_workbook

    from oais_preserve.statistics import COLUMNS

    book = load_workbook(path)
    sheet = book.worksheets[0]
    column = {key: index + 2 for index, (key, _header) in enumerate(COLUMNS)}  # after STT
    for row in sheet.iter_rows():
        target = edits if row[1].value == fonds else totals if row[1].value == "Tổng cộng" else {}
        for key, value in target.items():
            row[column[key] - 1].value = value
    book.save(path)


def test_every_field_of_every_form_is_compared(p07_handover: Path, tmp_path: Path) -> None:
    """Not only the counts: dates, names, hồ sơ codes, declared columns, totals, bag-info, record."""
    tar = _copy_handover(p07_handover, tmp_path / "fields")
    root = _extract(tar, tmp_path / "x")
    base = root / "data" / "thong-ke" / "danh-muc-thong-ke"
    data = json.loads(base.with_suffix(".json").read_text(encoding="utf-8"))
    row = data["fonds"][0]
    truth = dict(row)
    row.update(start_date="1900-01-01", fonds_name="Phông giả mạo", archive_code="H99")
    row["hoso_codes"] = [*row["hoso_codes"][1:], "X.1"]
    base.with_suffix(".json").write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    csv_text = base.with_suffix(".csv").read_bytes().decode("utf-8-sig")
    header, line = csv_text.splitlines()[:2]
    cells = line.split(",")
    cells[10] = "2099"  # end_date
    cells[11] = "5"  # paper_total: the JSON form says unknown
    base.with_suffix(".csv").write_bytes(("\ufeff" + header + "\r\n" + ",".join(cells) + "\r\n").encode())
    _edit_xlsx(base.with_suffix(".xlsx"), "P07", {"hoso_digitized": 3}, {"pages": 1})
    info = root / "bag-info.txt"
    text = info.read_text(encoding="utf-8")
    text = text.replace("Handover-Package-Count: 30", "Handover-Package-Count: 29")
    text = text.replace("Handover-Package-Format: zip", "Handover-Package-Format: bag")
    info.write_text(text, encoding="utf-8")
    record_path = root / "data" / "bien-ban" / "bien-ban-ban-giao.json"
    record = json.loads(record_path.read_text(encoding="utf-8"))
    record["counts"]["sheets"] += 1
    record["packages"][0]["arc_file_code"] = "X.2"
    record_path.write_text(json.dumps(record, ensure_ascii=False), encoding="utf-8")
    _reseal(root)
    _retar(root, tar)

    receipt = verify_handover(tar, workers=1)
    found = sorted((p.where, p.value or "") for p in receipt.problems)
    stats = "data/thong-ke/danh-muc-thong-ke"
    first_code = truth["hoso_codes"][0]
    assert found == sorted(
        [
            (f"{stats}.json: P07: Thời gian bắt đầu (start_date)", "1900-01-01"),
            (f"{stats}.json: P07: Tên phông/công trình/sưu tập (fonds_name)", "Phông giả mạo"),
            (f"{stats}.json: P07: Mã cơ quan lưu trữ (archive_code)", "H99"),
            (f"{stats}.json: P07: Danh sách mã hồ sơ (hoso_codes)", "X.1"),
            (f"{stats}.json: P07: Danh sách mã hồ sơ (hoso_codes)", first_code),
            (f"{stats}.csv: P07: Thời gian kết thúc (end_date)", "2099"),
            (f"{stats}.csv: P07: Tổng số tài liệu giấy (paper_total)", "5"),
            (f"{stats}.xlsx: P07: Số hồ sơ đã số hóa (hoso_digitized)", "3"),
            (f"{stats}.xlsx: Tổng cộng: Số trang (pages)", "1"),
            ("bag-info.txt: Handover-Package-Count", "29"),
            ("bag-info.txt: Handover-Package-Format", "bag"),  # the packages are zips
            ("bag-info.txt: Handover-Package-Format", "bag"),  # the record says zip
            ("data/bien-ban/bien-ban-ban-giao.json: counts.sheets", str(truth["sheets"] + 1)),
            (f"data/bien-ban/bien-ban-ban-giao.json: {record['packages'][0]['name']}: arc_file_code", "X.2"),
        ]
    )
    by_where = {p.where: p.message for p in receipt.problems}
    assert truth["start_date"] in by_where[f"{stats}.json: P07: Thời gian bắt đầu (start_date)"]
    assert truth["end_date"] in by_where[f"{stats}.csv: P07: Thời gian kết thúc (end_date)"]
    assert "30" in by_where["bag-info.txt: Handover-Package-Count"]
    result = CliRunner().invoke(main, ["verify-handover", str(tar), "--workers", "1"])
    assert (
        result.exit_code == 1 and "start_date" in result.output and "Handover-Package-Count" in result.output
    )


def test_statistics_forms_as_written_compare_clean(tmp_path: Path) -> None:
    """The three forms as the writers make them raise nothing: a numeric-looking mã phông, a
    declared PaperTotal, unknown dates; one edit then names exactly its form and column."""
    from datetime import datetime

    from oais_preserve.handover import STATISTICS_BASE
    from oais_preserve.handover_verify import HandoverReceipt, _compare_statistics
    from oais_preserve.statistics import (
        FondsStatistics,
        write_statistics_csv,
        write_statistics_json,
        write_statistics_xlsx,
    )

    row = FondsStatistics("07", "Phông Sở Thủy lợi", "H55.22", "Trung tâm", packages=2, hoso=2, pages=9)
    row.paper_total, row.paper_total_unit, row.hoso_codes = 12.5, "mét giá", ["07.1", "07.2"]
    base = tmp_path / STATISTICS_BASE
    base.parent.mkdir(parents=True)
    generated = datetime(2026, 12, 1, 8, 0)
    write_statistics_json([row], base.with_suffix(".json"), generated=generated)
    write_statistics_csv([row], base.with_suffix(".csv"))
    write_statistics_xlsx([row], base.with_suffix(".xlsx"), title="T", subtitle="S", generated=generated)
    receipt = HandoverReceipt(tmp_path / "x.tar", fonds_code="07")
    _compare_statistics(tmp_path, [row], receipt)
    assert receipt.problems == []
    _edit_xlsx(base.with_suffix(".xlsx"), "07", {"paper_total": 13}, {})
    _compare_statistics(tmp_path, [row], receipt)
    assert [(p.where, p.value) for p in receipt.problems] == [
        (f"{STATISTICS_BASE}.xlsx: 07: Tổng số tài liệu giấy (paper_total)", "13")
    ]


def test_every_payload_file_must_be_accounted_for(
    p08_handover: Path, fonds_store: Path, tmp_path: Path
) -> None:
    """A file riding along in the payload is named even when the bag's manifests list it."""
    tar = _copy_handover(p08_handover, tmp_path / "extra")
    root = _extract(tar, tmp_path / "x")
    (root / "data" / "goi-aip" / "evil.exe").write_bytes(b"MZ" * 100)
    (root / "data" / "thong-ke" / "ghi-chu.txt").write_text("note", encoding="utf-8")
    (root / "data" / "khac").mkdir()
    (root / "data" / "khac" / "a.pdf").write_bytes(b"%PDF-1.4")
    _reseal(root)
    _retar(root, tar)
    receipt = verify_handover(tar, workers=1)
    assert sorted((p.where, p.rule) for p in receipt.problems) == [
        ("data/goi-aip/evil.exe", "payload"),
        ("data/khac/a.pdf", "payload"),
        ("data/thong-ke/ghi-chu.txt", "payload"),
    ]
    result = CliRunner().invoke(main, ["verify-handover", str(tar), "--workers", "1"])
    assert result.exit_code == 1 and "evil.exe" in result.output and "HỢP LỆ" not in result.output

    # an AIP folder among the declared .zip files: not in the declared format
    bag = next(b for b in sorted(fonds_store.iterdir()) if "P08" in (b / "bag-info.txt").read_text())
    for extra in ("evil.exe", "../thong-ke/ghi-chu.txt", "../khac/a.pdf"):
        (root / "data" / "goi-aip" / extra).unlink()
    shutil.copytree(bag, root / "data" / "goi-aip" / bag.name)
    _reseal(root)
    _retar(root, tar)
    receipt = verify_handover(tar, workers=1)
    folder = f"data/goi-aip/{bag.name}"
    assert [p.rule for p in receipt.problems if p.where == folder] == ["payload"]
    assert not [
        p for p in receipt.problems if p.where.startswith(f"{folder}/")
    ]  # its files are the AIP's own


def _edit_record_xlsx(path: Path, edit: dict[str, object]) -> None:
    """Set cells of the printed record: a label (column A) sets the value beside it, a value anywhere
    else (a package's size, a representative's name) is replaced."""
    from openpyxl import load_workbook

    book = load_workbook(path)
    sheet = book.worksheets[0]
    for row in sheet.iter_rows():
        for cell in row:
            if cell.column == 1 and cell.value in edit:
                sheet.cell(row=cell.row, column=2).value = edit[cell.value]
            elif cell.column > 1 and cell.value in edit:
                cell.value = edit[cell.value]
    book.save(path)


def test_signed_record_workbook_is_compared(p08_handover: Path, tmp_path: Path) -> None:
    """The printed biên bản (the copy people sign) against the JSON record and what is inside."""
    tar = _copy_handover(p08_handover, tmp_path / "xlsx")
    root = _extract(tar, tmp_path / "x")
    record_path = root / "data" / "bien-ban" / "bien-ban-ban-giao.json"
    record = json.loads(record_path.read_text(encoding="utf-8"))
    package = record["packages"][1]
    xlsx = root / "data" / "bien-ban" / "bien-ban-ban-giao.xlsx"
    _edit_record_xlsx(
        xlsx,
        {
            "Bên nhận:": "Bộ Tài chính",
            package["bytes"]: package["bytes"] + 1,
            RECEIVER.representative: "Người khác",
            "Số hồ sơ:": 3,
        },
    )
    _reseal(root)
    _retar(root, tar)
    receipt = verify_handover(tar, workers=1, audit=structural_audit)
    where = "data/bien-ban/bien-ban-ban-giao.xlsx"
    found = {p.where: p for p in receipt.problems}
    assert sorted(found) == sorted(
        [
            f"{where}: Bên nhận",
            f"{where}: {package['name']}: Dung lượng (byte)",
            f"{where}: Chữ ký - ĐẠI DIỆN BÊN NHẬN",
            f"{where}: Số hồ sơ",
        ]
    )
    receiver = found[f"{where}: Bên nhận"]
    assert receiver.value == "Bộ Tài chính" and RECEIVER.organization in receiver.message
    size = found[f"{where}: {package['name']}: Dung lượng (byte)"]
    assert size.value == str(package["bytes"] + 1) and str(package["bytes"]) in size.message
    assert found[f"{where}: Số hồ sơ"].value == "3" and "2" in found[f"{where}: Số hồ sơ"].message

    # the JSON record and the workbook edited alike: the workbook is still checked against what is inside
    record["counts"]["documents"] += 5
    record_path.write_text(json.dumps(record, ensure_ascii=False), encoding="utf-8")
    shutil.copy(_extract(p08_handover, tmp_path / "y") / "data" / "bien-ban" / "bien-ban-ban-giao.xlsx", xlsx)
    documents = record["counts"]["documents"]
    _edit_record_xlsx(xlsx, {"Số tài liệu:": documents})
    _reseal(root)
    _retar(root, tar)
    receipt = verify_handover(tar, workers=1, audit=structural_audit)
    assert sorted((p.where, p.value) for p in receipt.problems) == [
        ("data/bien-ban/bien-ban-ban-giao.json: counts.documents", str(documents)),
        (f"{where}: Số tài liệu", str(documents)),
    ]

    # a damaged workbook is a discrepancy, not a crash
    xlsx.write_bytes(b"PK\x03\x04 not really a workbook")
    _reseal(root)
    _retar(root, tar)
    result = CliRunner().invoke(main, ["verify-handover", str(tar), "--workers", "1", "--json"])
    assert result.exit_code == 1, result.output
    problems = json.loads(result.output)["problems"]
    assert [p["where"] for p in problems if p["rule"] == "record"].count(where) == 1


def _tampered_record(p08_handover: Path, tmp_path: Path, edit: Any) -> tuple[Path, Path]:
    """A copy of the handover whose record workbook ``edit`` changed, re-sealed: only the record
    check can notice it."""
    tar = _copy_handover(p08_handover, tmp_path / "record")
    root = _extract(tar, tmp_path / "x")
    xlsx = root / "data" / "bien-ban" / "bien-ban-ban-giao.xlsx"
    edit(xlsx)
    _reseal(root)
    _retar(root, tar)
    return tar, xlsx


def _label_cell(sheet: Any, label: str) -> Any:
    """The value cell beside a "Label:" of the printed record."""
    row = next(cell.row for cell in sheet["A"] if cell.value == label)
    return sheet.cell(row=row, column=2)


def test_formula_cell_in_the_signed_record_is_refused(p08_handover: Path, tmp_path: Path) -> None:
    """A formula whose cached value is the expected text: a spreadsheet program shows the formula's
    result, so the cached value cannot vouch for the form."""
    from openpyxl import load_workbook

    coordinates: list[str] = []

    def edit(xlsx: Path) -> None:
        book = load_workbook(xlsx)
        cell = _label_cell(book.worksheets[0], "Bên nhận:")
        cell.value = '="Bộ Tài chính"'
        coordinate = cell.coordinate
        coordinates.append(coordinate)
        book.calculation.fullCalcOnLoad = True
        book.save(xlsx)
        # store the genuine text as the formula's cached value, as a hand-edited file can
        with zipfile.ZipFile(xlsx) as archive:
            parts = {name: archive.read(name) for name in archive.namelist()}
        sheet_xml = parts["xl/worksheets/sheet1.xml"].decode("utf-8")
        sheet_xml, count = re.subn(
            rf'<c r="{coordinate}"([^>]*)><f>(.*?)</f><v\s*/?>(</v>)?</c>',
            rf'<c r="{coordinate}"\1 t="str"><f>\2</f><v>{RECEIVER.organization}</v></c>',
            sheet_xml,
        )
        assert count == 1, sheet_xml
        parts["xl/worksheets/sheet1.xml"] = sheet_xml.encode("utf-8")
        with zipfile.ZipFile(xlsx, "w", zipfile.ZIP_DEFLATED) as archive:
            for name, data in parts.items():
                archive.writestr(name, data)
        assert _label_cell(load_workbook(xlsx, data_only=True).worksheets[0], "Bên nhận:").value == (
            RECEIVER.organization
        )

    tar, _xlsx = _tampered_record(p08_handover, tmp_path, edit)
    receipt = verify_handover(tar, workers=1, audit=structural_audit)
    where = "data/bien-ban/bien-ban-ban-giao.xlsx"
    formula = [p for p in receipt.problems if p.where == f"{where}: {coordinates[0]}"]
    assert [(p.rule, p.value) for p in formula] == [("record", '="Bộ Tài chính"')]
    assert "formula" in formula[0].message


def test_signed_record_must_be_one_visible_sheet(p08_handover: Path, tmp_path: Path) -> None:
    """The genuine sheet hidden, an edited copy shown and printed: the copy is what is compared."""
    from openpyxl import load_workbook

    def edit(xlsx: Path) -> None:
        book = load_workbook(xlsx)
        genuine = book.worksheets[0]
        shown = book.copy_worksheet(genuine)
        _label_cell(shown, "Bên nhận:").value = "Bộ Tài chính"
        genuine.sheet_state = "hidden"
        book.active = shown
        book.save(xlsx)

    tar, _xlsx = _tampered_record(p08_handover, tmp_path, edit)
    receipt = verify_handover(tar, workers=1, audit=structural_audit)
    where = "data/bien-ban/bien-ban-ban-giao.xlsx"
    assert sorted((p.where, p.rule) for p in receipt.problems) == [
        (where, "record"),
        (where, "record"),
        (f"{where}: Bên nhận", "record"),
    ]
    messages = " ".join(p.message for p in receipt.problems)
    assert "2 sheets" in messages and "hidden" in messages
    assert next(p for p in receipt.problems if p.where.endswith("Bên nhận")).value == "Bộ Tài chính"


def test_free_text_on_the_signed_record_is_reported(p08_handover: Path, tmp_path: Path) -> None:
    """Every cell is compared with the form rendered from the JSON record, not only the labelled lines."""
    from openpyxl import load_workbook

    def edit(xlsx: Path) -> None:
        book = load_workbook(xlsx)
        sheet = book.worksheets[0]
        blank = next(c.row for c in sheet["A"] if c.value == "STT") - 1
        assert all(cell.value is None for cell in sheet[blank])
        sheet.cell(row=blank, column=1, value="Hai bên thống nhất: bên nhận chỉ nhận 1 trong 2 gói")
        sheet.cell(row=sheet.max_row + 3, column=8, value="ghi thêm")
        book.save(xlsx)

    tar, xlsx = _tampered_record(p08_handover, tmp_path, edit)
    receipt = verify_handover(tar, workers=1, audit=structural_audit)
    where = "data/bien-ban/bien-ban-ban-giao.xlsx"
    sheet = load_workbook(xlsx).worksheets[0]
    blank = next(c.row for c in sheet["A"] if c.value == "STT") - 1
    assert [(p.where, p.value, p.rule) for p in receipt.problems] == [
        (f"{where}: A{blank}", "Hai bên thống nhất: bên nhận chỉ nhận 1 trong 2 gói", "record"),
        (f"{where}: H{sheet.max_row}", "ghi thêm", "record"),
    ]
    assert "empty" in receipt.problems[0].message

    # a title changed and many cells written: one problem each, up to a limit, then how many more
    sheet["A3"] = "BIÊN BẢN KHÁC"
    for row in range(sheet.max_row + 1, sheet.max_row + 31):
        sheet.cell(row=row, column=2, value=f"x{row}")
    sheet.parent.save(xlsx)
    root = xlsx.parents[2]
    _reseal(root)
    _retar(root, tar)
    receipt = verify_handover(tar, workers=1, audit=structural_audit)
    wheres = [p.where for p in receipt.problems]
    assert wheres[0] == f"{where}: A3" and "BIÊN BẢN BÀN GIAO" in receipt.problems[0].message
    assert len(wheres) == 21 and wheres[-1] == where
    assert "and 13 more" in receipt.problems[-1].message  # 33 cells differ, 20 named


def test_control_character_in_the_json_record_is_a_discrepancy(p08_handover: Path, tmp_path: Path) -> None:
    """A character no workbook can hold: a problem of the record received, not an internal error."""
    tar = _copy_handover(p08_handover, tmp_path / "control")
    root = _extract(tar, tmp_path / "x")
    record_path = root / "data" / "bien-ban" / "bien-ban-ban-giao.json"
    record = json.loads(record_path.read_text(encoding="utf-8"))
    record["receiver"]["position"] = "Trưởng\x01phòng"
    record_path.write_text(json.dumps(record, ensure_ascii=False), encoding="utf-8")
    _reseal(root)
    _retar(root, tar)
    result = CliRunner().invoke(main, ["verify-handover", str(tar), "--workers", "1", "--json"])
    assert result.exit_code == 1, result.output
    problems = json.loads(result.output)["problems"]
    assert [(p["where"], p["rule"], p["value"]) for p in problems] == [
        ("data/bien-ban/bien-ban-ban-giao.json: receiver.position", "record", "Trưởng\\x01phòng"),
        # the rest goes on: the signed form no longer matches the JSON record
        (
            "data/bien-ban/bien-ban-ban-giao.xlsx: Bên nhận - Đại diện",
            "record",
            f"{RECEIVER.representative} - {RECEIVER.position}",
        ),
    ]


def test_sha256_file_and_option_are_checked(p08_handover: Path, tmp_path: Path) -> None:
    """A garbled .sha256 or one naming another file cannot vouch for the tar; a malformed --sha256
    is a user mistake, reported before anything is read."""
    tar = _copy_handover(p08_handover, tmp_path / "sha")
    sha_file = Path(f"{tar}.sha256")
    digest = _sha256(tar)
    sha_file.write_text(f"{digest}  /somewhere/else/{tar.name}\n", encoding="utf-8")  # same name, longer path
    assert verify_handover(tar, workers=1, audit=structural_audit).ok
    cases = {
        b"\xff\xfe\x00garbage": "unreadable",
        f"{digest}  OTHER.tar\n".encode(): "another file",
        b"not a digest at all\n": "sha256sum",
        b"": "empty",
    }
    for content, words in cases.items():
        sha_file.write_bytes(content)
        result = CliRunner().invoke(main, ["verify-handover", str(tar), "--workers", "1", "--json"])
        assert result.exit_code == 1, (content, result.output)
        problems = json.loads(result.output)["problems"]
        assert [(p["where"], p["rule"]) for p in problems] == [(sha_file.name, "tar-digest")], content
        assert words in problems[0]["message"]
    for bad in ("ABCDEF", "é", digest + "0", "g" * 64):
        result = CliRunner().invoke(main, ["verify-handover", str(tar), "--sha256", bad])
        assert result.exit_code == 2 and "64" in result.output and len(result.output.splitlines()) == 1
        with pytest.raises(UserInputError):
            verify_handover(tmp_path / "not-read.tar", expected_sha256=bad)
    result = CliRunner().invoke(
        main, ["verify-handover", str(tar), "--sha256", digest.upper(), "--workers", "1"]
    )
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("tamper", [False, True])
def test_receipt_exit_code_survives_a_closed_stdout(
    p08_handover: Path, fonds_store: Path, tmp_path: Path, tamper: bool
) -> None:
    """`verify-handover big.tar | head -1`: the reader stops early, the exit code stays the receipt's."""
    tar = _copy_handover(p08_handover, tmp_path / "pipe")
    if tamper:
        Path(f"{tar}.sha256").write_text(f"{'0' * 64}  {tar.name}\n", encoding="utf-8")
    result = _run_with_closed_stdout(["verify-handover", str(tar), "--workers", "1"])
    assert result.returncode == (1 if tamper else 0), result.stderr
    assert "Traceback" not in result.stderr and "BrokenPipe" not in result.stderr
    # the same for another command printing its result at the end
    bag = next(b for b in sorted(fonds_store.iterdir()) if "P08" in (b / "bag-info.txt").read_text())
    shutil.copytree(bag, tmp_path / "bag")
    if tamper:
        _flip_payload(tmp_path / "bag")
    result = _run_with_closed_stdout(["validate", str(tmp_path / "bag")])
    assert result.returncode == (1 if tamper else 0), result.stderr


def _run_with_closed_stdout(args: list[str]) -> subprocess.CompletedProcess[str]:
    """Run the CLI with a stdout whose reader is gone before the first line is written."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        exe = Path(sys.executable).with_name("oais-preserve")
        return subprocess.run(
            [str(exe), *args], stdout=write_end, stderr=subprocess.PIPE, text=True, timeout=300, check=False
        )
    finally:
        os.close(write_end)


def test_a_tar_from_before_parties_were_trimmed_still_verifies(fonds_store: Path, tmp_path: Path) -> None:
    """Earlier releases kept "TT " as typed in the record; bag-info lines are read stripped."""
    from oais_preserve.yearreport import read_handover_record

    sender = Party(SENDER.organization)
    object.__setattr__(sender, "organization", SENDER.organization + " ")  # as the old Party kept it
    store = _copy_fonds(fonds_store, "P08", tmp_path / "store", 1)[0].parent
    (result,) = handover(find_aips([store]), tmp_path / "out", sender=sender, receiver=RECEIVER, workers=1)
    assert read_handover_record(result.path)["sender"]["organization"].endswith(" ")
    receipt = verify_handover(result.path, workers=1)
    assert receipt.ok, receipt.problems


def _hostile_member(kind: str) -> tuple[tarfile.TarInfo, bytes]:
    body = b"bad"
    info = tarfile.TarInfo(
        {"traversal": "BAG/../../escape.txt", "absolute": "/tmp/escape.txt"}.get(kind, "BAG/data/evil")
    )
    if kind == "symlink":
        info.type, info.linkname = tarfile.SYMTYPE, "/etc"
    elif kind == "hardlink":
        info.type, info.linkname = tarfile.LNKTYPE, "BAG/bagit.txt"
    elif kind == "device":
        info.type, info.devmajor, info.devminor = tarfile.CHRTYPE, 1, 3
    elif kind == "duplicate":
        info.name = "BAG/bagit.txt"  # a second copy would silently replace the first
    elif kind == "under-a-file":
        info.name = "BAG/bagit.txt/inside"  # a file used as a folder
    elif kind == "long-name":
        info.name = "BAG/" + "x" * 300  # longer than any file system's name limit
    if info.isreg():
        info.size = len(body)
    return info, body


@pytest.mark.parametrize(
    "kind",
    ["traversal", "absolute", "symlink", "hardlink", "device", "duplicate", "under-a-file", "long-name"],
)
def test_hostile_tar_members_are_refused(kind: str, tmp_path: Path) -> None:
    """A hostile member is a discrepancy of the package received: receipt, exit 1, nothing outside."""
    tar = tmp_path / "in" / "evil.tar"
    tar.parent.mkdir()
    with tarfile.open(tar, "w") as archive:
        archive.addfile(tarfile.TarInfo("BAG/bagit.txt"), io.BytesIO(b""))
        member, body = _hostile_member(kind)
        archive.addfile(member, io.BytesIO(body))
        after = tarfile.TarInfo("BAG/data/evil/escape.txt")  # written through the link, if it were made
        after.size = 3
        archive.addfile(after, io.BytesIO(b"bad"))
    Path(f"{tar}.sha256").write_text(f"{_sha256(tar)}  evil.tar\n")
    work = tmp_path / "work" / "deep"
    work.mkdir(parents=True)
    result = CliRunner().invoke(
        main, ["verify-handover", str(tar), "--workers", "1", "--workdir", str(work), "--json"]
    )
    assert result.exit_code == 1, result.output
    receipt = json.loads(result.output)
    assert [(p["rule"], p["value"]) for p in receipt["problems"]] == [("unsafe-member", member.name)]
    assert receipt["sha256"] == _sha256(tar)  # the whole tar was still hashed
    assert sorted(p.name for p in tmp_path.rglob("*")) == sorted(
        ["in", "evil.tar", "evil.tar.sha256", "work", "deep"]
    )
    assert not Path("/tmp/escape.txt").exists()
    human = CliRunner().invoke(main, ["verify-handover", str(tar), "--workers", "1"])
    assert human.exit_code == 1 and "unsafe-member" in human.output and member.name in human.output


# --- writing: audit first, per fonds, atomic and resumable --------------------------------------


def test_damaged_aip_is_refused_and_nothing_is_written(fonds_store: Path, tmp_path: Path) -> None:
    store = tmp_path / "store"
    bags = [b for b in sorted(fonds_store.iterdir()) if "P08" in (b / "bag-info.txt").read_text()]
    for bag in bags:
        shutil.copytree(bag, store / bag.name)
    victim = next((store / bags[1].name / "data" / "representations" / "rep1" / "data").iterdir())
    data = bytearray(victim.read_bytes())
    data[len(data) // 2] ^= 0xFF
    victim.write_bytes(bytes(data))
    out = tmp_path / "out"
    with pytest.raises(InvalidPackageError) as caught:
        handover(find_aips([store]), out, sender=SENDER, receiver=RECEIVER, workers=1)
    assert any(bags[1].name in str(p) and victim.name in str(p) for p in caught.value.problems)
    assert not out.exists()  # the folder the refused handover made is gone again
    existing = tmp_path / "existing"
    existing.mkdir()
    with pytest.raises(InvalidPackageError):
        handover(find_aips([store]), existing / "a" / "b", sender=SENDER, receiver=RECEIVER, workers=1)
    assert existing.is_dir() and list(existing.iterdir()) == []  # what was there before stays
    result = CliRunner().invoke(
        main, ["handover", "P08", str(out), "--store", str(store), "--sender", SENDER.organization]
    )
    assert result.exit_code == 1 and victim.name in result.output


def _p08_copies(fonds_store: Path, tmp_path: Path) -> tuple[Path, Path, list[Path]]:
    """Two stores holding copies of the same P08 AIPs; returns (store A, store B, bags in A)."""
    bags = [b for b in sorted(fonds_store.iterdir()) if "P08" in (b / "bag-info.txt").read_text()]
    for store in ("a", "b"):
        for bag in bags:
            shutil.copytree(bag, tmp_path / store / bag.name)
    return tmp_path / "a", tmp_path / "b", [tmp_path / "a" / bag.name for bag in bags]


def _flip_payload(bag: Path) -> Path:
    victim = next((bag / "data" / "representations" / "rep1" / "data").iterdir())
    data = bytearray(victim.read_bytes())
    data[len(data) // 2] ^= 0xFF
    victim.write_bytes(bytes(data))
    return victim


@pytest.mark.parametrize("audit_name", ["structural_audit", "full_audit"])
def test_damaged_copy_in_one_store_falls_back_to_another_store(
    fonds_store: Path, tmp_path: Path, audit_name: str
) -> None:
    """Damage found by the audit (full) or while copying (structural): the other store's copy is used."""
    from oais_preserve.handover import full_audit, structural_audit

    store_a, store_b, bags = _p08_copies(fonds_store, tmp_path)
    _flip_payload(bags[1])
    audit = {"structural_audit": structural_audit, "full_audit": full_audit}[audit_name]
    (result,) = handover(
        find_aips([store_a, store_b]),
        tmp_path / "out",
        sender=SENDER,
        receiver=RECEIVER,
        audit=audit,
        workers=1,
    )
    assert len(result.packages) == 2
    receipt = verify_handover(result.path, workers=1)
    assert receipt.ok, receipt.problems
    # every copy damaged: refused, naming both copies, and nothing left behind
    victim = _flip_payload(store_b / bags[1].name)
    out = tmp_path / "refused"
    with pytest.raises(InvalidPackageError) as caught:
        handover(find_aips([store_a, store_b]), out, sender=SENDER, receiver=RECEIVER, audit=audit, workers=1)
    (problem,) = caught.value.problems
    assert str(bags[1]) in problem.message and str(store_b / bags[1].name) in problem.message
    assert victim.name in problem.message and not out.exists()


def test_unreadable_copy_in_one_store_falls_back_to_another_store(fonds_store: Path, tmp_path: Path) -> None:
    store_a, store_b, bags = _p08_copies(fonds_store, tmp_path)
    (bags[0] / "data" / "METS.xml").write_text("<mets")  # not well-formed; bag-info still names it
    args = ["handover", "P08", str(tmp_path / "out"), "--store", str(store_a), "--store", str(store_b)]
    result = CliRunner().invoke(main, [*args, "--sender", SENDER.organization, "-w", "1", "--json"])
    assert result.exit_code == 0, result.output
    (handed,) = json.loads(result.output)["handovers"]
    assert len(handed["packages"]) == 2 and verify_handover(Path(handed["path"]), workers=1).ok


def test_bag_format_multi_store_resume_and_user_errors(fonds_store: Path, tmp_path: Path) -> None:
    store_b = tmp_path / "second-store"
    p08 = [b for b in sorted(fonds_store.iterdir()) if "P08" in (b / "bag-info.txt").read_text()]
    shutil.copytree(p08[0], store_b / p08[0].name)  # the same AIP held in two stores: handed over once
    out = tmp_path / "out"
    stale = out / ".BGNV_P08_20261215.tar.partial"
    out.mkdir()
    stale.write_bytes(b"left by a crashed run")
    args = ["handover", "P08", str(out), "--store", str(fonds_store), "--store", str(store_b)]
    args += ["--sender", SENDER.organization, "--format", "bag", "--date", "2026-12-15", "--json", "-w", "1"]
    first = CliRunner().invoke(main, args)
    assert first.exit_code == 0, first.output
    (result,) = json.loads(first.output)["handovers"]
    assert not result["skipped"] and len(result["packages"]) == 2
    assert Path(result["path"]).name == "BGNV_P08_20261215.tar" and not stale.exists()
    receipt = verify_handover(Path(result["path"]), workers=1)
    assert receipt.ok, receipt.problems
    assert receipt.receiver == "Bộ Nội vụ" and receipt.statistics and receipt.statistics.hoso == 2
    again = CliRunner().invoke(main, args)
    assert again.exit_code == 0, again.output
    (skipped,) = json.loads(again.output)["handovers"]
    # a re-run reports what the tar in place holds, read from it
    assert skipped["skipped"] and skipped["packages"] == result["packages"]
    assert skipped["statistics"] == result["statistics"] and skipped["sha256"] == result["sha256"]
    # the same fonds and date with a different set of AIPs is not taken for a finished job
    other = CliRunner().invoke(main, [*args[:3], "--store", str(store_b), *args[7:]])
    assert other.exit_code == 2 and "other AIPs" in other.output
    assert "only in the tar: urn:P08:uuid:" in other.output  # which ones, not only how many
    # the digest file is written before the tar is published: a tar without it is not trusted,
    # and no digest of whatever the tar now holds is written
    Path(f"{result['path']}.sha256").unlink()
    lost = CliRunner().invoke(main, args)
    assert (
        lost.exit_code == 2 and "without its digest file" in lost.stderr and "verify-handover" in lost.stderr
    )
    assert not Path(f"{result['path']}.sha256").exists()

    unknown_args = ["handover", "P99", str(out), "--store", str(fonds_store), "--sender", "X"]
    unknown = CliRunner().invoke(main, unknown_args)
    assert unknown.exit_code == 2 and "P99" in unknown.output
    with pytest.raises(UserInputError):
        handover([], out, sender=SENDER, receiver=RECEIVER)
    with pytest.raises(UserInputError):
        handover(p08, out, sender=Party(" "), receiver=RECEIVER)


def test_stored_zip_size_is_exact_for_streamed_zips() -> None:
    from oais_preserve.handover import stored_zip_size

    class Stream:  # write-only, like the tar member zipfile streams into
        def __init__(self) -> None:
            self.data = bytearray()

        def write(self, chunk: bytes) -> int:
            self.data += chunk
            return len(chunk)

        def flush(self) -> None:
            pass

    entries = [
        ("AIP/METS.xml", 1234),
        ("AIP/representations/rep1/data/Biên bản họp.pdf", 0),
        ("AIP/x.tif", 70001),
    ]
    stream = Stream()
    sink: object = stream
    with zipfile.ZipFile(sink, "w", zipfile.ZIP_STORED, allowZip64=True) as archive:  # type: ignore[call-overload]
        for name, size in entries:
            info = zipfile.ZipInfo(name, (2026, 12, 15, 8, 0, 0))
            info.file_size = size
            with archive.open(info, "w") as member:
                member.write(bytes(size))
    assert len(stream.data) == stored_zip_size(entries)
    with zipfile.ZipFile(io.BytesIO(bytes(stream.data))) as check:
        assert check.testzip() is None and check.namelist() == [name for name, _size in entries]


def test_unreadable_aip_blocks_only_its_own_fonds(fonds_store: Path, tmp_path: Path) -> None:
    store = tmp_path / "store"
    for bag in sorted(fonds_store.iterdir()):
        if "P08" in (bag / "bag-info.txt").read_text():
            shutil.copytree(bag, store / bag.name)
    broken = store / "broken-P07"
    (broken / "data").mkdir(parents=True)
    (broken / "bagit.txt").write_text("BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n")
    (broken / "bag-info.txt").write_text("Bag-Group-Identifier: P07\n")
    (broken / "data" / "METS.xml").write_text("<mets")  # not well-formed
    results = handover(find_aips([store]), tmp_path / "a", sender=SENDER, receiver=RECEIVER, fonds=["P08"])
    assert [r.fonds_code for r in results] == ["P08"]
    # every fonds: P08 is still handed over, P07 is refused naming the AIP
    with pytest.raises(HandoverIncompleteError) as caught:
        handover(find_aips([store]), tmp_path / "b", sender=SENDER, receiver=RECEIVER, workers=1)
    assert [p.where for p in caught.value.problems] == ["P07", "P07: broken-P07"]
    assert [r.fonds_code for r in caught.value.written] == ["P08"] and list(caught.value.failures) == ["P07"]
    assert sorted(p.name for p in (tmp_path / "b").iterdir()) == [
        f"{caught.value.written[0].path.name}",
        f"{caught.value.written[0].path.name}.sha256",
    ]
    # P07 alone: its own error, as it is
    with pytest.raises(InvalidPackageError) as alone:
        handover(find_aips([store]), tmp_path / "c", sender=SENDER, receiver=RECEIVER, fonds=["P07"])
    assert not isinstance(alone.value, HandoverIncompleteError)
    assert [p.where for p in alone.value.problems] == ["broken-P07"] and not (tmp_path / "c").exists()


def test_fonds_record_supplies_paper_total_only(fonds_store: Path, tmp_path: Path) -> None:
    record = {
        "archiveCode": "H55.22",
        "fondsCode": "P08",
        "fondsName": "Phông Ty Thủy lợi tỉnh Bắc Thái",
        "organization": SENDER.organization,
        "paperTotal": 12.5,
        "paperTotalUnit": "shelfMetre",
        "copyNumber": 999999,  # informative in the record: the list computes its own
        "copyNumberUnit": "page",
    }
    path = tmp_path / "P08.json"
    path.write_text(json.dumps(record, ensure_ascii=False), encoding="utf-8")
    args = ["handover", "P08", str(tmp_path / "out"), "--store", str(fonds_store), "--sender", "X", "-w", "1"]
    result = CliRunner().invoke(main, [*args, "--fonds-record", str(path), "--json"])
    assert result.exit_code == 0, result.output
    (handed,) = json.loads(result.output)["handovers"]
    stats = handed["statistics"]
    assert (stats["paper_total"], stats["paper_total_unit"]) == (12.5, "mét giá")
    assert stats["copy_number"] == _independent_counts(fonds_store, "P08")["pages"] != 999999
    assert verify_handover(Path(handed["path"]), workers=1).ok
    # a record of a fonds not handed over: one warning line, the handover goes on (here: in place)
    other = tmp_path / "P99.json"
    other.write_text(json.dumps(record | {"fondsCode": "P99"}, ensure_ascii=False), encoding="utf-8")
    unused = CliRunner().invoke(main, [*args, "--fonds-record", str(path), "--fonds-record", str(other)])
    assert unused.exit_code == 0, unused.output
    (warning,) = unused.stderr.splitlines()
    assert "P99" in warning and "ignored" in warning and str(other) in warning
    path.write_text(json.dumps(record | {"paperTotal": "nhiều"}), encoding="utf-8")
    bad = CliRunner().invoke(main, [*args, "--fonds-record", str(path)])
    assert bad.exit_code == 2 and "paperTotal" in bad.output
    assert f"{path}: bản mô tả phông không hợp lệ / invalid fonds record" in bad.stderr
    assert "invalid description" not in bad.output
    # a record of the same code but naming another fonds (a file picked by mistake): refused
    path.write_text(json.dumps(record | {"fondsName": "Phông khác"}, ensure_ascii=False), encoding="utf-8")
    fresh = [*args[:2], str(tmp_path / "out2"), *args[3:]]
    wrong = CliRunner().invoke(main, [*fresh, "--fonds-record", str(path)])
    assert wrong.exit_code == 1 and "Phông khác" in wrong.output and "fonds record differs" in wrong.output
    assert not (tmp_path / "out2").exists()


def test_library_warns_of_a_fonds_record_not_used(
    fonds_store: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from oais_preserve.statistics import FondsRecord

    store = _copy_fonds(fonds_store, "P08", tmp_path / "store")[0].parent
    with caplog.at_level("WARNING", logger="oais_preserve.handover"):
        handover(
            find_aips([store]),
            tmp_path / "out",
            sender=SENDER,
            receiver=RECEIVER,
            fonds_records={"P99": FondsRecord(3.0, "mét giá")},
            workers=1,
        )
    assert "fonds record for P99 ignored" in caplog.text


# --- one fonds' AIPs must agree on the fonds; each fonds is handed over on its own -------------


def _copy_fonds(fonds_store: Path, fonds: str, store: Path, count: int | None = None) -> list[Path]:
    """Copies of the AIP bags of one fonds into ``store`` (the first ``count``); returns them."""
    bags = [b for b in sorted(fonds_store.iterdir()) if f": {fonds}\n" in (b / "bag-info.txt").read_text()]
    for bag in bags[:count]:
        shutil.copytree(bag, store / bag.name)
    return [store / bag.name for bag in bags[:count]]


def _set_fonds_name(bag: Path, name: str) -> None:
    """Rename the fonds in the AIP's METS header and reseal the bag (a consistent, valid AIP)."""
    mets = bag / "data" / "METS.xml"
    text = mets.read_text(encoding="utf-8")
    pattern = r'(<agent ROLE="ARCHIVIST" TYPE="ORGANIZATION">\s*<name>)[^<]*(</name>)'
    edited = re.sub(pattern, lambda m: f"{m[1]}{name}{m[2]}", text, count=1)
    assert edited != text
    mets.write_text(edited, encoding="utf-8")
    _reseal(bag)


def test_aips_of_one_fonds_that_disagree_are_refused(fonds_store: Path, tmp_path: Path) -> None:
    from oais_preserve.statistics import read_package_facts

    bags = _copy_fonds(fonds_store, "P08", tmp_path / "store")
    store = bags[0].parent
    facts = [read_package_facts(bag) for bag in bags]
    original, renamed = facts[0].fonds_name, "Phông Sở Thủy lợi tỉnh Bắc Thái"
    _set_fonds_name(bags[1], renamed)
    out = tmp_path / "out"
    with pytest.raises(FondsConflictError) as caught:
        handover(find_aips([store]), out, sender=SENDER, receiver=RECEIVER, workers=1)
    stated = {p.value: p.message for p in caught.value.problems}
    assert set(stated) == {original, renamed}  # each distinct value, with the hồ sơ stating it
    assert facts[0].arc_file_code in stated[original] and facts[1].arc_file_code in stated[renamed]
    assert {p.rule for p in caught.value.problems} == {"fonds-conflict"} and not out.exists()
    args = ["handover", "P08", str(out), "--store", str(store), "--sender", "X", "-w", "1"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 1 and renamed in result.stderr and original in result.stderr
    # the same name in NFD with a trailing space is the same name: handed over, and accepted
    _set_fonds_name(bags[1], unicodedata.normalize("NFD", original) + " ")
    assert read_package_facts(bags[1]).fonds_name == original
    (handed,) = handover(find_aips([store]), out, sender=SENDER, receiver=RECEIVER, workers=1)
    receipt = verify_handover(handed.path, workers=1)
    assert receipt.ok, receipt.problems


def test_a_bag_that_lost_its_bagit_txt_is_not_silently_left_out(fonds_store: Path, tmp_path: Path) -> None:
    bags = _copy_fonds(fonds_store, "P08", tmp_path / "store")
    (bags[1] / "bagit.txt").unlink()
    assert bags[1] in list(find_aips([bags[0].parent]))
    with pytest.raises(InvalidPackageError) as caught:
        handover(find_aips([bags[0].parent]), tmp_path / "out", sender=SENDER, receiver=RECEIVER, workers=1)
    assert bags[1].name in str(caught.value.problems) and not (tmp_path / "out").exists()


def test_each_fonds_is_handed_over_on_its_own(
    fonds_store: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = tmp_path / "store"
    _copy_fonds(fonds_store, "P07", store, 2)
    victim = _flip_payload(_copy_fonds(fonds_store, "P08", store)[1])
    out = tmp_path / "out"
    with (
        caplog.at_level("INFO", logger="oais_preserve.handover"),
        pytest.raises(HandoverIncompleteError) as caught,
    ):
        handover(find_aips([store]), out, sender=SENDER, receiver=RECEIVER, workers=1)
    error = caught.value
    assert [r.fonds_code for r in error.written] == ["P07"] and list(error.failures) == ["P08"]
    assert error.problems[0].where == "P08" and victim.name in str(error.problems)
    assert "trying another copy" not in caplog.text and "no other copy" in caplog.text  # there is none
    receipt = verify_handover(error.written[0].path, workers=1)
    assert receipt.ok, receipt.problems
    # the command shows the tar in place and what failed (text and JSON), exit 1
    args = ["handover", "P07", "P08", str(out), "--store", str(store), "--sender", SENDER.organization]
    args += ["--sender-name", SENDER.representative, "--sender-position", SENDER.position, "-w", "1"]
    args += ["--receiver", RECEIVER.organization, "--receiver-name", RECEIVER.representative]
    args += ["--receiver-position", RECEIVER.position]
    text = CliRunner().invoke(main, args)
    assert text.exit_code == 1 and str(error.written[0].path) in text.stdout
    assert "P08" in text.stderr.splitlines()[-1] and "1 written" in text.stderr
    as_json = CliRunner().invoke(main, [*args, "--json"])
    assert as_json.exit_code == 1
    data = json.loads(as_json.stdout)
    assert data["ok"] is False and data["failed"] == ["P08"]
    assert [h["fonds_code"] for h in data["handovers"]] == ["P07"] and data["handovers"][0]["skipped"]
    assert any(victim.name in p["message"] for p in data["problems"])


def test_a_forgotten_out_is_not_taken_for_a_fonds(
    fonds_store: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(
        main, ["handover", "P07", "P08", "--store", str(fonds_store), "--sender", "S"]
    )
    assert result.exit_code == 2, result.output
    (line,) = result.stderr.splitlines()
    assert "'P08'" in line and "is a fonds code; the output folder comes last" in line
    assert not (tmp_path / "P08").exists()


# --- a re-run trusts only an intact tar made as asked -------------------------------------------


def test_a_rerun_trusts_only_an_intact_tar_made_as_asked(fonds_store: Path, tmp_path: Path) -> None:
    from datetime import date

    from oais_preserve.yearreport import read_handover_record

    store = _copy_fonds(fonds_store, "P08", tmp_path / "store")[0].parent
    out = tmp_path / "out"
    nfd = Party(
        *(unicodedata.normalize("NFD", f" {value} ") for value in (SENDER.organization, "Lê Thị Ánh"))
    )
    assert nfd == Party(SENDER.organization, "Lê Thị Ánh")  # NFC and trimmed
    with pytest.raises(UserInputError, match="organization must be text"):
        Party(None)  # type: ignore[arg-type]
    options: dict[str, Any] = dict(sender=nfd, receiver=Party("Bộ Nội vụ"), handover_date=date(2026, 12, 15))

    def run(**changes: Any) -> list[Any]:
        return handover(find_aips([store]), out, **(options | {"workers": 1} | changes))

    (first,) = run()
    assert read_handover_record(first.path)["sender"]["representative"] == "Lê Thị Ánh"
    (again,) = run()
    assert again.skipped and (again.sha256, again.bytes) == (first.sha256, first.bytes)
    assert again.packages == first.packages and again.statistics == first.statistics

    tar, sha_file = first.path, Path(f"{first.path}.sha256")
    pristine, digest_line = tar.read_bytes(), sha_file.read_text(encoding="utf-8")

    def refused(match: str) -> None:
        with pytest.raises(UserInputError, match=match) as caught:
            run()
        assert "verify-handover" in str(caught.value)

    damaged = bytearray(pristine)
    damaged[len(damaged) // 2] ^= 0xFF
    tar.write_bytes(bytes(damaged))
    refused("differs from its digest file")
    assert tar.read_bytes() == damaged and sha_file.read_text(encoding="utf-8") == digest_line
    args = ["handover", "P08", str(out), "--store", str(store), "--sender", SENDER.organization]
    args += ["--sender-name", "Lê Thị Ánh", "--date", "2026-12-15", "-w", "1"]
    cli = CliRunner().invoke(main, args)
    assert cli.exit_code == 2 and len(cli.stderr.splitlines()) == 1 and "verify-handover" in cli.stderr
    tar.write_bytes(pristine)
    sha_file.unlink()
    refused("without its digest file")
    assert not sha_file.exists()  # the digest of a tar nobody vouches for is not written
    truncated = pristine[: len(pristine) // 2]
    tar.write_bytes(truncated)
    sha_file.write_text(f"{hashlib.sha256(truncated).hexdigest()}  {tar.name}\n", encoding="utf-8")
    refused("cannot read the tar")
    tar.write_bytes(pristine)
    for garbled, why in (
        (b"\xff\xfe\x00", "unreadable .sha256 file"),  # not text: one line, not a crash
        (b"", "empty .sha256 file"),
        (f"{first.sha256}  BGNV_P07_20261215.tar\n".encode(), "names another file"),
    ):
        sha_file.write_bytes(garbled)
        refused(why)
        assert sha_file.read_bytes() == garbled

    sha_file.write_text(digest_line, encoding="utf-8")
    with pytest.raises(UserInputError, match=r"--format zip \(asked: bag\)"):
        run(package_format="bag")
    with pytest.raises(UserInputError, match=r"receiver organization 'Bộ Nội vụ'.*Sở Nội vụ"):
        run(receiver=Party("Sở Nội vụ tỉnh Thái Nguyên"))
    with pytest.raises(UserInputError, match="sender organization"):
        run(sender=Party("Trung tâm khác", "Lê Thị Ánh"))
    from oais_preserve.statistics import FondsRecord

    with pytest.raises(UserInputError, match=r"--fonds-record PaperTotal 12.5 mét giá \(in the tar: none\)"):
        run(fonds_records={"P08": FondsRecord(12.5, "mét giá")})
    assert tar.read_bytes() == pristine and run()[0].skipped
    assert CliRunner().invoke(main, args).exit_code == 0


def test_fonds_record_whole_paper_total_is_written_as_a_whole_number(tmp_path: Path) -> None:
    from oais_preserve.statistics import FondsStatistics, load_fonds_record, statistics_csv

    record = {
        "archiveCode": "H55.22",
        "fondsCode": "P08",
        "fondsName": "Phông Ty Thủy lợi",
        "organization": "Trung tâm",
    }
    path = tmp_path / "P08.json"
    path.write_text(json.dumps(record | {"paperTotal": 1200.0, "paperTotalUnit": "sheet"}), encoding="utf-8")
    _code, counters = load_fonds_record(path)
    assert counters.paper_total == 1200 and isinstance(counters.paper_total, int)
    row = FondsStatistics("P08", "Phông Ty Thủy lợi", "H55.22", "Trung tâm", paper_total=counters.paper_total)
    assert ",1200," in statistics_csv([row]) and ",1200.0," not in statistics_csv([row])
