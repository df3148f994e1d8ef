"""EAD simpledc records: content, element order, our strict XSDs and the transcribed TT05 XSDs."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from lxml import etree

from oais_preserve.description import HoSo, PackageKind, load_description
from oais_preserve.ead import (
    DOCUMENT_ELEMENTS,
    HOSO_ELEMENTS,
    document_ead_filename,
    ead_schema_files,
    ead_schema_path,
    load_ead_schema,
    write_document_ead,
    write_hoso_ead,
)
from oais_preserve.schemas import EAD_XSD_DIR
from tests.test_description import full_description

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
TT05_XSD = SHARED / "reference" / "tt05-xsd"
XML_XSD = SHARED / "reference" / "xsd" / "xml.xsd"
TT05_FILES = {"EAD.xsd": "ead.xsd", "EAD_doc.xsd": "EAD_doc.xsd", "EAD_pic.xsd": "EAD_pic.xsd"}
TT05_FILES["EAD_media.xsd"] = "EAD_media.xsd"

KINDS: tuple[PackageKind, ...] = ("SIP", "AIP")


@pytest.fixture(scope="module")
def hoso() -> HoSo:
    return load_description(full_description())


def write_all(hoso: HoSo, kind: PackageKind, folder: Path) -> dict[Path, str]:
    """Write EAD.xml and every document record; map each file to our schema name."""
    folder.mkdir(parents=True, exist_ok=True)
    written = {folder / "EAD.xml": "EAD.xsd"}
    write_hoso_ead(hoso, kind, folder / "EAD.xml")
    for doc in hoso.documents:
        path = folder / document_ead_filename(hoso, doc, kind)
        write_document_ead(hoso, doc, kind, path)
        written[path] = f"EAD_{doc.kind}.xsd"
    return written


def children(path: Path) -> list[tuple[str, str]]:
    root = etree.parse(str(path)).getroot()
    return [(str(child.tag), child.text or "") for child in root]


def assert_valid(schema: etree.XMLSchema, path: Path) -> None:
    document = etree.parse(str(path))
    assert schema.validate(document), f"{path.name}: {schema.error_log}"


@pytest.fixture(scope="module")
def tt05_schemas(tmp_path_factory: pytest.TempPathFactory) -> dict[str, etree.XMLSchema]:
    """The transcribed annex schemas, copied beside xml.xsd (they import it by relative path)."""
    if not TT05_XSD.is_dir() or not XML_XSD.is_file():
        pytest.skip(f"{TT05_XSD} or {XML_XSD} is absent (tests that use ../shared run where it is present)")
    folder = tmp_path_factory.mktemp("tt05-xsd")
    shutil.copy(XML_XSD, folder / "xml.xsd")
    schemas = {}
    for ours, theirs in TT05_FILES.items():
        shutil.copy(TT05_XSD / theirs, folder / theirs)
        schemas[ours] = etree.XMLSchema(etree.parse(str(folder / theirs)))
    return schemas


def tt05_sequence(name: str) -> list[str]:
    tree = etree.parse(str(TT05_XSD / TT05_FILES[name]))
    xs = "{http://www.w3.org/2001/XMLSchema}"
    return [str(e.get("name")) for e in tree.iter(f"{xs}element") if e.get("name") != "simpledc"]


# --------------------------------------------------------------------------- content


def test_hoso_record_has_18_elements_in_order(hoso: HoSo, tmp_path: Path) -> None:
    for kind in KINDS:
        path = tmp_path / f"{kind}.xml"
        write_hoso_ead(hoso, kind, path)
        pairs = children(path)
        assert [name for name, _ in pairs] == list(HOSO_ELEMENTS[kind])
        assert len(pairs) == 18
    assert children(tmp_path / "SIP.xml")[0] == ("fileCode", "H49.64.33.2001.160")
    values = dict(children(tmp_path / "AIP.xml"))
    assert values["arcFileCode"] == "H49.H49.64.33.2001.160"
    assert values["title"] == "Hồ sơ về việc đắp đê sông Lam năm 1968"  # NFC
    assert values["totalDoc"] == "4" and values["riskRecovery"] == "1"
    assert values["inforSign"] == ""  # absent: written empty


def test_file_is_utf8_with_declaration_and_no_namespace(hoso: HoSo, tmp_path: Path) -> None:
    path = tmp_path / "EAD.xml"
    write_hoso_ead(hoso, "AIP", path)
    raw = path.read_bytes()
    assert raw.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n<simpledc>\n  <arcFileCode>')
    assert "Hồ sơ về việc".encode() in raw
    root = etree.fromstring(raw)
    assert root.tag == "simpledc" and root.nsmap == {}
    assert b"<inforSign/>" in raw
    assert not list(tmp_path.glob("*.part"))


def test_document_records_follow_their_variant_order(hoso: HoSo, tmp_path: Path) -> None:
    for kind in KINDS:
        for doc in hoso.documents:
            path = tmp_path / f"{kind}-{doc.ordinal}.xml"
            write_document_ead(hoso, doc, kind, path)
            assert [n for n, _ in children(path)] == list(DOCUMENT_ELEMENTS[(doc.kind, kind)])
    assert len(DOCUMENT_ELEMENTS[("doc", "AIP")]) == 19
    assert len(DOCUMENT_ELEMENTS[("doc", "SIP")]) == 21


def test_document_values_aip(hoso: HoSo, tmp_path: Path) -> None:
    path = tmp_path / "d.xml"
    write_document_ead(hoso, hoso.document(1), "AIP", path)
    values = dict(children(path))
    assert values["arcFileCode"] == hoso.arc_file_code
    assert values["docCode"] == "H49.H49.64.33.2001.160.0000001"
    assert values["docOrdinal"] == "1"
    assert values["organName"] == "Ủy ban hành chính tỉnh Hà Tĩnh"
    assert values["process"] == ""
    assert "maintenance" not in values and "docId" not in values


def test_document_values_sip_inherit_from_the_hoso(hoso: HoSo, tmp_path: Path) -> None:
    first, second = tmp_path / "1.xml", tmp_path / "2.xml"
    write_document_ead(hoso, hoso.document(1), "SIP", first)
    write_document_ead(hoso, hoso.document(2), "SIP", second)
    one, two = dict(children(first)), dict(children(second))
    assert one["docId"] == "H49.64.33.2001.160.1"
    assert one["docCode"] == "H49.64.33.2001.160.0000001"
    assert (one["maintenance"], one["riskRecovery"], one["riskRecoveryStatus"]) == ("01", "1", "01")
    assert (two["maintenance"], two["riskRecovery"], two["riskRecoveryStatus"]) == ("02", "0", "")
    assert two["process"] == "0"
    assert "arcFileCode" not in one and "docOrdinal" not in one


def test_pic_and_media_sip_records(hoso: HoSo, tmp_path: Path) -> None:
    pic, media = tmp_path / "pic.xml", tmp_path / "media.xml"
    write_document_ead(hoso, hoso.document(3), "SIP", pic)
    write_document_ead(hoso, hoso.document(4), "SIP", media)
    assert children(pic)[:2] == [("docCode", "H49.64.33.2001.160.0000003"), ("maintenance", "01")]
    assert dict(children(media))["playTime"] == "00:12:30"


def test_document_file_names(hoso: HoSo) -> None:
    assert (
        document_ead_filename(hoso, hoso.document(1), "AIP") == "EAD_doc_H49.H49.64.33.2001.160.0000001.xml"
    )
    assert document_ead_filename(hoso, hoso.document(3), "SIP") == "EAD_pic_H49.64.33.2001.160.0000003.xml"
    assert document_ead_filename(hoso, hoso.document(4), "SIP").startswith("EAD_media_")
    data = full_description()
    data["documents"][0]["docCode"] = "../Tài liệu 1/a"
    odd = load_description(data)
    assert document_ead_filename(odd, odd.document(1), "AIP") == "EAD_doc__T_i_li_u_1_a.xml"
    with pytest.raises(ValueError):
        document_ead_filename(odd, odd.document(1), "DIP")  # type: ignore[arg-type]


def test_ead_schema_files() -> None:
    assert ead_schema_files(["pic", "doc", "doc"]) == ["EAD.xsd", "EAD_doc.xsd", "EAD_pic.xsd"]
    assert ead_schema_files([]) == ["EAD.xsd"]
    assert ead_schema_files(("media", "pic", "doc")) == [
        "EAD.xsd",
        "EAD_doc.xsd",
        "EAD_pic.xsd",
        "EAD_media.xsd",
    ]
    with pytest.raises(ValueError, match="unknown document kind"):
        ead_schema_files(["video"])
    for name in ead_schema_files(["doc", "pic", "media"]):
        assert ead_schema_path(name).is_file()
        assert ead_schema_path(name).parent == EAD_XSD_DIR


# --------------------------------------------------------------------------- schemas


@pytest.mark.parametrize("kind", KINDS)
def test_output_validates_against_our_strict_schemas(hoso: HoSo, kind: PackageKind, tmp_path: Path) -> None:
    for path, schema_name in write_all(hoso, kind, tmp_path).items():
        assert_valid(load_ead_schema(schema_name), path)


def test_aip_output_validates_against_the_transcribed_tt05_schemas(
    hoso: HoSo, tt05_schemas: dict[str, etree.XMLSchema], tmp_path: Path
) -> None:
    for path, schema_name in write_all(hoso, "AIP", tmp_path).items():
        assert_valid(tt05_schemas[schema_name], path)


def test_aip_order_is_the_transcribed_order(tt05_schemas: dict[str, etree.XMLSchema]) -> None:
    assert tt05_sequence("EAD.xsd") == list(HOSO_ELEMENTS["AIP"])
    for kind in ("doc", "pic", "media"):
        assert tt05_sequence(f"EAD_{kind}.xsd") == list(DOCUMENT_ELEMENTS[(kind, "AIP")])


def test_minimal_records_validate(tmp_path: Path) -> None:
    """Only required fields given: every optional element is written empty and still valid."""
    data = full_description()
    data["hoso"] = {
        k: v
        for k, v in data["hoso"].items()
        if k in {"fileCode", "title", "maintenance", "mode", "language", "startDate", "endDate", "totalDoc"}
        or k in {"numberOfPage", "confidenceLevel", "riskRecovery"}
    }
    data["hoso"].update(confidenceLevel="03", riskRecovery=0, startDate="1968", endDate="12/1968")
    data["documents"][0] = {
        k: v for k, v in data["documents"][0].items() if k not in {"codeNumber", "codeNotation"}
    }
    data["documents"][0].update(confidenceLevel="01", process=1)
    data["documents"][0].pop("autograph")
    data["documents"][0].pop("format")
    keep = {"kind", "docOrdinal", "files", "typePic", "imageTitle", "mode"}
    data["documents"][2] = {k: v for k, v in data["documents"][2].items() if k in keep}
    keep = {"kind", "docOrdinal", "files", "typeMedia", "movieTitle", "mode"}
    data["documents"][3] = {k: v for k, v in data["documents"][3].items() if k in keep}
    data["hoso"]["numberOfPage"] = 9
    minimal = load_description(data, kind="AIP")
    for kind in KINDS:
        for path, schema_name in write_all(minimal, kind, tmp_path / kind).items():
            assert_valid(load_ead_schema(schema_name), path)


def replace_text(path: Path, element: str, text: str) -> etree._ElementTree:
    tree = etree.parse(str(path))
    node = tree.getroot().find(element)
    assert node is not None
    node.text = text
    return tree


@pytest.mark.parametrize(
    ("element", "text"),
    [
        ("maintenance", "09"),  # not in the code list
        ("maintenance", ""),  # required
        ("title", "T" * 1001),  # too long
        ("title", "   "),  # blank
        ("language", "01, 02"),
        ("startDate", "31/13/1968"),
        ("totalDoc", "bốn"),
        ("riskRecovery", "2"),
        ("format", "04"),
    ],
)
def test_strict_schema_rejects_bad_hoso_values(hoso: HoSo, tmp_path: Path, element: str, text: str) -> None:
    path = tmp_path / "EAD.xml"
    write_hoso_ead(hoso, "AIP", path)
    schema = load_ead_schema("EAD.xsd")
    assert schema.validate(etree.parse(str(path)))
    assert not schema.validate(replace_text(path, element, text))


@pytest.mark.parametrize(
    ("element", "text"),
    [
        ("typeName", "33"),
        ("issuedDate", "1968"),
        ("numberOfPage", "10000"),
        ("docOrdinal", "0"),
        ("process", "x"),
    ],
)
def test_strict_schema_rejects_bad_document_values(
    hoso: HoSo, tmp_path: Path, element: str, text: str
) -> None:
    path = tmp_path / "doc.xml"
    write_document_ead(hoso, hoso.document(1), "AIP", path)
    schema = load_ead_schema("EAD_doc.xsd")
    assert not schema.validate(replace_text(path, element, text))


def test_strict_schema_rejects_a_missing_or_mixed_variant(hoso: HoSo, tmp_path: Path) -> None:
    path = tmp_path / "doc.xml"
    write_document_ead(hoso, hoso.document(1), "AIP", path)
    tree = etree.parse(str(path))
    keyword = tree.getroot().find("keyword")
    assert keyword is not None
    tree.getroot().remove(keyword)
    assert not load_ead_schema("EAD_doc.xsd").validate(tree)
    sip = tmp_path / "sip.xml"
    write_hoso_ead(hoso, "SIP", sip)
    tree = etree.parse(str(sip))
    tree.getroot()[0].tag = "arcFileCode"  # AIP first element followed by SIP content is fine;
    assert load_ead_schema("EAD.xsd").validate(tree)  # the two file-level variants differ only there
    tree.getroot()[0].tag = "docId"
    assert not load_ead_schema("EAD.xsd").validate(tree)
