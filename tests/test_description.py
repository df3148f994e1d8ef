"""The hồ sơ description: JSON Schemas, Python checks, loading, and the TT05 code lists."""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from oais_preserve.codes import CODE_LISTS, legacy_to_tt05, normalize_code, normalize_code_list
from oais_preserve.description import (
    HoSo,
    date_bounds,
    load_description,
    parse_timestamp,
    validate_description,
)
from oais_preserve.errors import DescriptionError, Problem
from oais_preserve.schemas import (
    DESCRIPTION_SCHEMA_ID,
    SCHEMA_DIR,
    json_schema_files,
    load_json_schema_registry,
)

REPO = Path(__file__).resolve().parents[1]


def nfd(text: str) -> str:
    return unicodedata.normalize("NFD", text)


def full_description() -> dict[str, Any]:
    """A valid digitized hồ sơ with a văn bản, a born-digital văn bản, a photo and a recording.

    Vietnamese text is given in NFD on purpose: loading must NFC it.
    """
    return {
        "schema": "oais_preserve/hoso-description/1",
        "fonds": {
            "archiveCode": "H49",
            "fondsCode": "G09",
            "fondsName": nfd("Phông Ủy ban hành chính tỉnh Hà Tĩnh"),
            "organization": nfd("Trung tâm Lưu trữ lịch sử tỉnh Hà Tĩnh"),
            "status": "closed",
            "language": "01,03",
            "paperTotal": 120.5,
            "paperTotalUnit": "shelfMetre",
            "// comment": "keys starting with // are ignored",
        },
        "hoso": {
            "fileCode": "H49.64.33.2001.160",
            "title": nfd("Hồ sơ về việc đắp đê sông Lam năm 1968"),
            "maintenance": "01",
            "mode": "01",
            "language": "01",
            "startDate": "02/01/1968",
            "endDate": "30/12/1968",
            "keyword": nfd("đê điều; thủy lợi"),
            "totalDoc": 4,
            "numberOfPaper": 5,
            "numberOfPage": 9,
            "format": "03",
            "confidenceLevel": "02",
            "paperFileCode": "H49.K1.12",
            "riskRecovery": 1,
            "riskRecoveryStatus": "01",
            "description": nfd("Người lập: Văn phòng UBHC tỉnh"),
            "digitizedAt": "2025-08-14T09:30:00+07:00",
            "digitizedBy": nfd("Trung tâm Lưu trữ lịch sử tỉnh Hà Tĩnh"),
        },
        "documents": [
            {
                "kind": "doc",
                "docOrdinal": 1,
                "files": [nfd("scans/Tờ trình 1.pdf")],
                "typeName": "15",
                "codeNumber": "12",
                "codeNotation": "TTr-UBHC",
                "issuedDate": "05/01/1968",
                "organName": nfd("Ủy ban hành chính tỉnh Hà Tĩnh"),
                "subject": nfd("Về việc huy động dân công đắp đê"),
                "mode": "01",
                "language": "01",
                "numberOfPage": 4,
                "format": "03",
                "confidenceLevel": "02",
                "autograph": nfd("Bút phê của Chủ tịch"),
            },
            {
                "kind": "doc",
                "docOrdinal": 2,
                "files": ["scans/bao-cao-2.pdf"],
                "typeName": "14",
                "issuedDate": "20/12/1968",
                "organName": nfd("Ty Thủy lợi Hà Tĩnh"),
                "subject": nfd("Báo cáo tổng kết"),
                "mode": "02",
                "language": "01,02",
                "numberOfPage": 5,
                "confidenceLevel": "01",
                "process": 0,
                "maintenance": "02",
                "riskRecovery": 0,
            },
            {
                "kind": "pic",
                "docOrdinal": 3,
                "files": ["scans/anh-3.tif"],
                "typePic": "02",
                "archivesNumber": "A-12",
                "imageTitle": nfd("Dân công đắp đê tại xã Hưng Lộc"),
                "photographer": nfd("Nguyễn Văn Ảnh"),
                "photoTime": "15/03/1968",
                "colour": "02",
                "docAttached": 0,
                "mode": "01",
            },
            {
                "kind": "media",
                "docOrdinal": 4,
                "files": ["scans/ghi-am-4.mp3"],
                "typeMedia": "01",
                "movieTitle": nfd("Lời kêu gọi toàn dân đắp đê"),
                "recordDate": "01/04/1968",
                "language": "01",
                "playTime": "00:12:30",
                "quality": nfd("Trung bình"),
                "mode": "01",
            },
        ],
    }


def where_rules(problems: list[Problem]) -> list[tuple[str, str | None]]:
    return sorted((p.where, p.rule) for p in problems)


# --------------------------------------------------------------------------- valid input


def test_full_description_is_valid() -> None:
    assert validate_description(full_description()) == []


def test_load_normalizes_to_nfc_and_builds_the_model() -> None:
    hoso = load_description(full_description())
    assert isinstance(hoso, HoSo)
    assert hoso.title == "Hồ sơ về việc đắp đê sông Lam năm 1968"
    assert unicodedata.is_normalized("NFC", hoso.title)
    assert hoso.fonds["fondsName"] == "Phông Ủy ban hành chính tỉnh Hà Tĩnh"
    assert "// comment" not in hoso.fonds
    assert [d.kind for d in hoso.documents] == ["doc", "doc", "pic", "media"]
    assert hoso.documents[0].files == ("scans/Tờ trình 1.pdf",)
    assert unicodedata.is_normalized("NFC", hoso.documents[0].files[0])
    assert "kind" not in hoso.documents[0].fields and "files" not in hoso.documents[0].fields
    assert hoso.kinds_used() == ("doc", "pic", "media")
    assert hoso.is_digitized
    assert hoso.date_range == (date(1968, 1, 2), date(1968, 12, 30))


def test_derived_identifiers() -> None:
    hoso = load_description(full_description())
    first = hoso.document(1)
    assert hoso.arc_file_code == "H49.H49.64.33.2001.160"
    assert hoso.code_for("SIP") == "H49.64.33.2001.160"
    assert hoso.code_for("AIP") == hoso.arc_file_code
    assert hoso.doc_code(first, "AIP") == "H49.H49.64.33.2001.160.0000001"
    assert hoso.doc_code(first, "SIP") == "H49.64.33.2001.160.0000001"
    assert hoso.doc_id(first) == "H49.64.33.2001.160.1"
    with pytest.raises(ValueError, match="SIP"):
        hoso.code_for("DIP")  # type: ignore[arg-type]


def test_explicit_codes_override_derived_ones() -> None:
    data = full_description()
    data["hoso"]["arcFileCode"] = "H49.G09.1968.160"
    data["documents"][0]["docCode"] = "H49.G09.1968.160.01"
    data["documents"][0]["docId"] = "G09.1968.160.1"
    hoso = load_description(data)
    assert hoso.arc_file_code == "H49.G09.1968.160"
    assert hoso.doc_code(hoso.document(1), "AIP") == "H49.G09.1968.160.01"
    assert hoso.doc_code(hoso.document(2), "AIP") == "H49.G09.1968.160.0000002"
    assert hoso.doc_id(hoso.document(1)) == "G09.1968.160.1"


def test_sip_documents_inherit_maintenance_and_backup_fields() -> None:
    hoso = load_description(full_description())
    first, second = hoso.document(1), hoso.document(2)
    assert hoso.document_value(first, "maintenance") == "01"
    assert hoso.document_value(first, "riskRecoveryStatus") == "01"
    assert hoso.document_value(second, "maintenance") == "02"
    # The document chose riskRecovery 0: the hồ sơ status must not leak into it.
    assert hoso.document_value(second, "riskRecoveryStatus") is None
    assert hoso.document_value(first, "keyword") is None


def test_digitized_at_is_timezone_aware() -> None:
    hoso = load_description(full_description())
    assert hoso.digitized_at is not None
    assert hoso.digitized_at.utcoffset() == timedelta(hours=7)
    assert parse_timestamp("2025-08-14T02:30:00Z") == hoso.digitized_at
    assert parse_timestamp("2025-08-14T09:30+07:00") == hoso.digitized_at


def test_docs_example_is_valid() -> None:
    text = (REPO / "docs" / "description-format.md").read_text(encoding="utf-8")
    block = re.search(r"```json\n(.*?)```", text, re.DOTALL)
    assert block is not None
    assert validate_description(json.loads(block.group(1))) == []


# --------------------------------------------------------------------------- every problem at once


def broken_description() -> dict[str, Any]:
    data = full_description()
    fonds, hoso, docs = data["fonds"], data["hoso"], data["documents"]
    data["schema"] = "oais_preserve/hoso-description/0"
    fonds["archiveCode"] = "H49.64.33.2001"  # 14 > 13
    fonds["fondsNmae"] = fonds.pop("fondsName")  # typo: unknown key + missing key
    fonds["copyNumber"] = 300  # unit missing
    del hoso["title"]
    hoso["maintenance"] = "Vĩnh viễn"  # label instead of code
    hoso["mode"] = "04"
    hoso["language"] = "01, 02"
    hoso["endDate"] = "1967"  # before startDate
    hoso["totalDoc"] = 5  # 3 documents below
    del hoso["numberOfPaper"], hoso["paperFileCode"]  # required: confidenceLevel 02
    del hoso["riskRecoveryStatus"]  # required: riskRecovery 1
    hoso["digitizedAt"] = "2025-08-14 09:30"
    hoso["keyword"] = " "
    docs.pop()  # three documents left
    docs[0].update(typeName="99", issuedDate="30/02/1968", numberOfPage="4", files=["/abs/a.pdf"])
    docs[0]["organName"] = "UBHC\x07"
    del docs[1]["process"]  # born digital (confidenceLevel 01)
    docs[1]["docOrdinal"] = 1
    docs[1]["docId"] = "x" * 26
    docs[1]["files"] = ["scans/tờ-1.pdf", nfd("scans\\tờ-1.pdf")]  # same after NFC and "/"
    docs[2].update(colour="03", imageTitle="Ả" * 501, photoDate="15/03/1968", files=["x/TỜ-1.PDF"])
    return data


EXPECTED_PROBLEMS = [
    ("$.schema", "const"),
    ("$.fonds.archiveCode", "maxLength"),
    ("$.fonds.fondsNmae", "additionalProperties"),
    ("$.fonds.fondsName", "required"),
    ("$.fonds.copyNumberUnit", "dependentRequired"),
    ("$.hoso.title", "required"),
    ("$.hoso.maintenance", "enum"),
    ("$.hoso.mode", "enum"),
    ("$.hoso.language", "pattern"),
    ("$.hoso.endDate", "date-order"),
    ("$.hoso.totalDoc", "totalDoc-count"),
    ("$.hoso.numberOfPaper", "required-if-digitized"),
    ("$.hoso.paperFileCode", "required-if-digitized"),
    ("$.hoso.riskRecoveryStatus", "required-if-riskRecovery"),
    ("$.hoso.digitizedAt", "pattern"),
    ("$.hoso.keyword", "pattern"),
    ("$.documents[0].typeName", "enum"),
    ("$.documents[0].issuedDate", "date"),
    ("$.documents[0].numberOfPage", "type"),
    ("$.documents[0].files[0]", "path-unsafe"),
    ("$.documents[0].organName", "control-character"),
    ("$.documents[1].process", "required-if-born-digital"),
    ("$.documents[1].docOrdinal", "duplicate-ordinal"),
    ("$.documents", "ordinal-sequence"),
    ("$.documents[1].docId", "maxLength"),
    ("$.documents[1].files[1]", "path-duplicate"),
    ("$.documents[2].colour", "enum"),
    ("$.documents[2].imageTitle", "maxLength"),
    ("$.documents[2].photoDate", "additionalProperties"),
    ("$.documents[2].files[0]", "file-name-duplicate"),
]


def test_every_problem_is_reported() -> None:
    problems = validate_description(broken_description())
    assert len(problems) == len(EXPECTED_PROBLEMS) == 30
    assert where_rules(problems) == sorted(EXPECTED_PROBLEMS)
    for problem in problems:
        assert problem.where.startswith("$")
        assert problem.message and problem.rule
        assert "(" in problem.message  # Vietnamese, English in parentheses


def test_problems_carry_the_offending_value() -> None:
    problems = {(p.where, p.rule): p for p in validate_description(broken_description())}
    assert problems[("$.hoso.mode", "enum")].value == "04"
    assert problems[("$.hoso.totalDoc", "totalDoc-count")].value == "5"
    assert problems[("$.documents[0].files[0]", "path-unsafe")].value == "/abs/a.pdf"
    assert (
        problems[("$.fonds.fondsNmae", "additionalProperties")].value
        == "Phông Ủy ban hành chính tỉnh Hà Tĩnh"
    )
    assert problems[("$.hoso.title", "required")].value is None
    maintenance = problems[("$.hoso.maintenance", "enum")]
    assert "01 = Vĩnh viễn" in maintenance.message and "'01'" in maintenance.message  # says which code
    assert "'fondsName'" in problems[("$.fonds.fondsNmae", "additionalProperties")].message  # did you mean
    assert "số hóa" in problems[("$.hoso.paperFileCode", "required-if-digitized")].message


def test_load_raises_with_every_problem() -> None:
    with pytest.raises(DescriptionError) as caught:
        load_description(broken_description())
    assert len(caught.value.problems) == len(EXPECTED_PROBLEMS)


def test_not_an_object() -> None:
    assert [p.rule for p in validate_description([])] == ["type"]  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="path or a mapping"):
        load_description([])  # type: ignore[arg-type]


# --------------------------------------------------------------------------- single rules


def test_calendar_dates() -> None:
    assert date_bounds("29/02/1968") == (date(1968, 2, 29), date(1968, 2, 29))
    assert date_bounds("02/1968") == (date(1968, 2, 1), date(1968, 2, 29))
    assert date_bounds("1968") == (date(1968, 1, 1), date(1968, 12, 31))
    for bad in ("29/02/1967", "31/04/1968", "00/00/0000", "0000"):
        with pytest.raises(ValueError):
            date_bounds(bad)
    with pytest.raises(ValueError, match="DD/MM/YYYY"):
        date_bounds("1968", partial=False)


def test_partial_file_dates_are_fine_for_aip_not_for_sip() -> None:
    data = full_description()
    data["hoso"].update(startDate="1968", endDate="12/1968")
    assert validate_description(data, kind="AIP") == []
    sip = validate_description(data, kind="SIP")
    assert where_rules(sip) == [("$.hoso.endDate", "sip-date"), ("$.hoso.startDate", "sip-date")]


def test_impossible_timestamp() -> None:
    data = full_description()
    data["hoso"]["digitizedAt"] = "2025-02-30T09:30:00+07:00"
    assert where_rules(validate_description(data)) == [("$.hoso.digitizedAt", "date-time")]


def test_number_of_pages_must_add_up_when_every_document_has_pages() -> None:
    data = full_description()
    data["documents"] = data["documents"][:2]
    data["hoso"].update(totalDoc=2, numberOfPage=10)
    assert where_rules(validate_description(data)) == [("$.hoso.numberOfPage", "numberOfPage-sum")]
    data["hoso"]["numberOfPage"] = 9
    assert validate_description(data) == []


def test_documents_need_files_unless_the_hoso_has_them() -> None:
    data = full_description()
    for doc in data["documents"]:
        doc.pop("files")
    expected = [(f"$.documents[{i}].files", "files-required") for i in range(4)]
    assert where_rules(validate_description(data)) == expected
    data["hoso"]["files"] = ["H49.64.33.2001.160.pdf"]
    assert validate_description(data) == []


@pytest.mark.parametrize(
    ("path", "rule"),
    [
        ("../escape.pdf", "path-unsafe"),
        ("a/../../b.pdf", "path-unsafe"),
        ("/etc/passwd", "path-unsafe"),
        ("C:\\scans\\a.pdf", "path-unsafe"),
        ("a//b.pdf", "path-unsafe"),
        ("./a.pdf", "path-unsafe"),
    ],
)
def test_unsafe_paths(path: str, rule: str) -> None:
    data = full_description()
    data["hoso"]["files"] = [path]
    assert where_rules(validate_description(data)) == [("$.hoso.files[0]", rule)]


def test_windows_separators_are_normalized() -> None:
    data = full_description()
    data["documents"][0]["files"] = ["scans\\sub\\a.pdf"]
    assert load_description(data).document(1).files == ("scans/sub/a.pdf",)


def test_derived_sip_doc_id_longer_than_25_characters() -> None:
    data = full_description()
    data["hoso"]["fileCode"] = "000.00.00.G09.1968.1600"  # 23 characters, docId 25 for ordinals 1-9
    data["documents"][0]["docOrdinal"] = 10
    data["documents"][1]["docOrdinal"] = 1
    data["documents"][2]["docOrdinal"] = 2
    data["documents"][3]["docOrdinal"] = 3
    data["hoso"]["totalDoc"] = 4
    problems = validate_description(data)
    assert ("$.documents[0].docId", "docId-length") in where_rules(problems)
    assert ("$.documents", "ordinal-sequence") in where_rules(problems)
    assert all(p.rule != "docId-length" for p in validate_description(data, kind="AIP"))


def test_derived_arc_file_code_longer_than_100_characters_is_reported_once() -> None:
    data = full_description()
    data["hoso"]["fileCode"] = "H" * 100
    problems = validate_description(data, kind="AIP")
    assert where_rules(problems) == [("$.hoso.fileCode", "arcFileCode-length")]


def test_duplicate_doc_code_overrides() -> None:
    data = full_description()
    data["documents"][0]["docCode"] = "X 1"
    data["documents"][1]["docCode"] = "X/1"  # same file name once made safe
    assert where_rules(validate_description(data)) == [("$.documents[1].docCode", "duplicate-docCode")]


def test_unknown_kind_is_one_problem() -> None:
    data = full_description()
    data["documents"][3]["kind"] = "video"
    assert where_rules(validate_description(data)) == [("$.documents[3].kind", "enum")]


def test_numbers_as_strings_get_a_hint() -> None:
    data = full_description()
    data["hoso"]["totalDoc"] = "4"
    data["hoso"]["riskRecovery"] = "Có"
    problems = {p.where: p for p in validate_description(data)}
    assert "ngoặc kép" in problems["$.hoso.totalDoc"].message
    assert "number 1" in problems["$.hoso.riskRecovery"].message


# --------------------------------------------------------------------------- reading files


def test_load_file_with_bom(tmp_path: Path) -> None:
    path = tmp_path / "d.json"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(full_description(), ensure_ascii=False).encode("utf-8"))
    assert load_description(path).file_code == "H49.64.33.2001.160"


def test_invalid_json_names_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "d.json"
    path.write_text('{\n  "schema": ,\n}', encoding="utf-8")
    with pytest.raises(DescriptionError) as caught:
        load_description(path)
    [problem] = caught.value.problems
    assert problem.rule == "json" and problem.where.endswith(":2:13")


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "d.json"
    path.write_bytes('{"title": "Hồ sơ"}'.encode("cp1258", errors="replace") + b"\xff")
    with pytest.raises(DescriptionError) as caught:
        load_description(path)
    assert caught.value.problems[0].rule == "utf-8"


def test_duplicate_keys_are_reported(tmp_path: Path) -> None:
    text = json.dumps(full_description(), ensure_ascii=False)
    text = text.replace('"mode": "01",', '"mode": "01", "mode": "02",', 1)
    path = tmp_path / "d.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(DescriptionError) as caught:
        load_description(path)
    assert where_rules(caught.value.problems) == [("$.hoso.mode", "duplicate-key")]


# --------------------------------------------------------------------------- schemas themselves


def properties(schema: Any, where: str = "$") -> Iterator[tuple[str, dict[str, Any]]]:
    if isinstance(schema, dict):
        for name, sub in schema.get("properties", {}).items():
            yield f"{where}.{name}", sub
        for key, sub in schema.items():
            if key != "properties":
                yield from properties(sub, f"{where}/{key}")
    elif isinstance(schema, list):
        for i, sub in enumerate(schema):
            yield from properties(sub, f"{where}[{i}]")


def test_schemas_are_valid_and_registered() -> None:
    assert (SCHEMA_DIR / "hoso-description.schema.json").is_file()
    names = sorted(p.name for p in json_schema_files())
    assert names == [
        "document.schema.json",
        "fonds.schema.json",
        "hoso-description.schema.json",
        "hoso.schema.json",
    ]
    registry = load_json_schema_registry()
    for path in json_schema_files():
        schema = json.loads(path.read_text(encoding="utf-8"))
        Draft202012Validator.check_schema(schema)
        assert registry.contents(schema["$id"]) == schema
    assert DESCRIPTION_SCHEMA_ID.endswith("hoso-description.schema.json")


def nodes(schema: Any, where: str = "$") -> Iterator[tuple[str, Any]]:
    yield where, schema
    children = (
        schema.items() if isinstance(schema, dict) else enumerate(schema) if isinstance(schema, list) else []
    )
    for key, sub in children:
        yield from nodes(sub, f"{where}/{key}")


def test_every_field_has_title_and_description() -> None:
    for path in json_schema_files():
        schema = json.loads(path.read_text(encoding="utf-8"))
        for where, sub in properties(schema):
            if "$ref" in sub or "/if" in where:
                continue  # references and if-conditions are not field definitions
            assert sub.get("title") and sub.get("description"), f"{path.name} {where}"


def test_objects_are_closed_so_typos_are_caught() -> None:
    for path in json_schema_files():
        schema = json.loads(path.read_text(encoding="utf-8"))
        for where, sub in nodes(schema):
            if not (isinstance(sub, dict) and sub.get("type") == "object") or where == "$":
                continue
            assert sub.get("additionalProperties") is False, f"{path.name} {where}"
        # The document root only dispatches on "kind"; each kind's variant is closed.
        if path.name != "document.schema.json":
            assert schema["additionalProperties"] is False


def test_schema_code_lists_match_codes_module() -> None:
    for path in json_schema_files():
        schema = json.loads(path.read_text(encoding="utf-8"))
        for where, sub in properties(schema):
            list_name = sub.get("x-code-list")
            if list_name is None:
                continue
            codes = CODE_LISTS[list_name]
            assert sub["x-labels"] == dict(codes), f"{path.name} {where}"
            if "enum" in sub:
                expected = [int(c) for c in codes] if sub["type"] == "integer" else list(codes)
                assert sorted(sub["enum"]) == sorted(expected), f"{path.name} {where}"


# --------------------------------------------------------------------------- code lists


@pytest.mark.parametrize(
    ("list_name", "value", "code"),
    [
        ("maintenance", "01", "01"),
        ("maintenance", "Vĩnh viễn", "01"),
        ("maintenance", "01: Vĩnh viễn", "01"),
        ("maintenance", nfd("  VĨNH   VIỄN "), "01"),
        ("maintenance", nfd("01 :vĩnh viễn"), "01"),
        ("maintenance", 1, "01"),
        ("maintenance", "1", "01"),
        ("mode", "sử dụng có điều kiện", "02"),
        ("language", "Hán Nôm", "09"),
        ("typeName", "Tờ trình", "15"),
        ("typeName", "32: Khác", "32"),
        ("riskRecovery", True, "1"),
        ("riskRecovery", "không", "0"),
        ("process", "Có", "1"),
        ("colour", "Đen trắng", "02"),
        ("fondsStatus", "Mở", "open"),
    ],
)
def test_normalize_code(list_name: str, value: object, code: str) -> None:
    assert normalize_code(list_name, value) == code


@pytest.mark.parametrize(
    ("list_name", "value"),
    [
        ("maintenance", "08"),
        ("maintenance", "Lâu dài"),
        ("maintenance", "02: Vĩnh viễn"),  # code and label disagree
        ("maintenance", ""),
        ("maintenance", None),
        ("mode", 4),
        ("colour", "Màu sắc"),
    ],
)
def test_normalize_code_rejects_unknown_values(list_name: str, value: object) -> None:
    with pytest.raises(ValueError, match="unknown"):
        normalize_code(list_name, value)


def test_normalize_code_unknown_list() -> None:
    with pytest.raises(ValueError, match="unknown code list"):
        normalize_code("colours", "01")


def test_normalize_code_list() -> None:
    assert normalize_code_list("language", "Tiếng Việt, Pháp") == "01,03"
    assert normalize_code_list("language", "01;02") == "01,02"
    with pytest.raises(ValueError):
        normalize_code_list("language", "01, Klingon")


@pytest.mark.parametrize(
    ("list_name", "text", "code"),
    [
        ("maintenance", "Vĩnh viễn", "01"),
        ("maintenance", "70 năm", "02"),
        ("maintenance", "10 Năm", "06"),
        ("maintenance", "15 năm", "07"),
        ("maintenance", "Lâu dài", None),
        ("mode", "Công khai", "01"),
        ("mode", "Hạn chế", "02"),
        ("mode", nfd("MẬT"), "03"),
        ("mode", "Tối mật", None),
        ("format", "Tốt", "01"),
        ("format", "bình thường", "02"),
        ("format", "Hỏng", "03"),
        ("format", "Rách", None),
        ("language", "Tiếng Anh; Tiếng Pháp", "02,03"),
        ("language", "Tiếng Việt", "01"),
        ("language", "Tiếng Việt, Tiếng Lào", None),
        ("typeName", "Quyết định", "02"),
        ("typeName", "Tờ khai", None),
    ],
)
def test_legacy_tt02_mapping(list_name: str, text: str, code: str | None) -> None:
    assert legacy_to_tt05(list_name, text) == code
