"""The sample generators: files are valid, descriptions agree with them, output is deterministic."""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import pyvips

from oais_preserve.samples import (
    CORPUS_FILES_DIR,
    DESCRIPTION_SCHEMA,
    generate_sample_fonds,
    generate_scan_corpus,
    generate_small_corpus,
)

REPO = Path(__file__).resolve().parents[1]
PAGE = re.compile(rb"/Type\s*/Page(?![A-Za-z])")
IMAGE = re.compile(
    rb"<< /Type /XObject /Subtype /Image /Width (\d+) /Height (\d+) [^>]*/Length (\d+) >>\nstream\n"
)
MEDIABOX = re.compile(rb"/MediaBox \[0 0 ([\d.]+) ([\d.]+)\]")
A4_MM = (210.0, 297.0)


# --------------------------------------------------------------------------- helpers


def load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def disk_names(folder: Path) -> dict[str, Path]:
    """NFC name -> path of every file in ``folder`` (names may be NFD on disk)."""
    return {unicodedata.normalize("NFC", p.name): p for p in folder.iterdir() if p.is_file()}


def listed_files(description: dict[str, Any]) -> Iterator[tuple[dict[str, Any], str]]:
    for document in description["documents"]:
        for name in document.get("files", []):
            yield document, name


def parse_date(text: str) -> date:
    day, month, year = (int(part) for part in text.split("/"))
    return date(year, month, day)


def check_pdf_structure(data: bytes) -> int:
    """Check header, xref table, trailer and startxref of a PDF we wrote; returns its page count."""
    assert data.startswith(b"%PDF-1.")
    assert data.rstrip().endswith(b"%%EOF")
    startxref = int(re.findall(rb"startxref\s+(\d+)", data)[-1])
    assert data[startxref : startxref + 4] == b"xref"
    header = re.match(rb"xref\s+0 (\d+)", data[startxref:])
    assert header
    count = int(header.group(1))
    table = data[startxref:].split(b"\n", 2)[2]
    entries = [table[i * 20 : (i + 1) * 20] for i in range(count)]
    assert entries[0] == b"0000000000 65535 f\r\n"
    for number, entry in enumerate(entries[1:], start=1):
        assert len(entry) == 20 and entry.endswith(b" n\r\n"), entry
        offset = int(entry[:10])
        assert data[offset:].startswith(b"%d 0 obj" % number), (number, offset)
    assert re.search(rb"trailer\s*<< /Size %d /Root 1 0 R" % count, data)
    pages = len(PAGE.findall(data))
    assert re.search(rb"/Type /Pages /Kids \[[^\]]*\] /Count %d" % pages, data)
    return pages


def pdf_images(data: bytes) -> Iterator[tuple[int, int, bytes]]:
    """(declared width, declared height, JPEG bytes) of every image XObject."""
    for match in IMAGE.finditer(data):
        width, height, length = (int(g) for g in match.groups())
        yield width, height, data[match.end() : match.end() + length]


def tree_bytes(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


# --------------------------------------------------------------------------- the sample fonds


@pytest.fixture(scope="module")
def fonds(sample_fonds: tuple[Path, list[Path]]) -> tuple[Path, list[tuple[Path, dict[str, Any]]]]:
    scans, descriptions = sample_fonds
    return scans, [(path, load(path)) for path in descriptions]


def test_fonds_layout_and_descriptions(fonds: tuple[Path, list[tuple[Path, dict[str, Any]]]]) -> None:
    scans, described = fonds
    assert scans.name == "scans" and len(described) == 3
    for path, description in described:
        assert path.parent == scans.parent / "descriptions"
        assert path.name == description["hoso"]["fileCode"] + ".json"
        assert description["schema"] == DESCRIPTION_SCHEMA


def test_fonds_descriptions_validate_against_the_schemas(
    fonds: tuple[Path, list[tuple[Path, dict[str, Any]]]],
) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    referencing = pytest.importorskip("referencing")
    folder = REPO / "schemas"
    if not (folder / "hoso-description.schema.json").exists():
        pytest.skip("schemas/hoso-description.schema.json not present")
    schemas = [json.loads(p.read_text(encoding="utf-8")) for p in folder.glob("*.schema.json")]
    registry = referencing.Registry().with_resources(
        (s["$id"], referencing.Resource.from_contents(s)) for s in schemas
    )
    root = next(s for s in schemas if s["$id"].endswith("/hoso-description.schema.json"))
    validator = jsonschema.Draft202012Validator(root, registry=registry)
    for path, description in fonds[1]:
        errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(description)]
        assert not errors, (path.name, errors)


def test_every_listed_file_exists_and_every_scan_is_listed(
    fonds: tuple[Path, list[tuple[Path, dict[str, Any]]]],
) -> None:
    scans, described = fonds
    on_disk = disk_names(scans)
    listed = [name for _, d in described for _, name in listed_files(d)]
    assert sorted(unicodedata.normalize("NFC", n) for n in listed) == sorted(on_disk)
    for _, description in described:
        code = description["hoso"]["fileCode"]
        for document, name in listed_files(description):
            # TT05 Art. 8(1)(d): "mã hồ sơ.số thứ tự"
            assert re.match(re.escape(f"{code}.{document['docOrdinal']}") + "[._]", name), name


def test_counts_and_dates_agree_with_the_documents(
    fonds: tuple[Path, list[tuple[Path, dict[str, Any]]]],
) -> None:
    for _, description in fonds[1]:
        hoso, documents = description["hoso"], description["documents"]
        assert hoso["totalDoc"] == len(documents)
        assert [d["docOrdinal"] for d in documents] == list(range(1, len(documents) + 1))
        pages = sum(d["numberOfPage"] for d in documents if d["kind"] == "doc")
        assert hoso["numberOfPage"] == pages
        assert 0 < hoso["numberOfPaper"] <= hoso["numberOfPage"]
        start, end = parse_date(hoso["startDate"]), parse_date(hoso["endDate"])
        for document in documents:
            when = parse_date(document.get("issuedDate") or document["photoTime"])
            assert start <= when <= end
        assert hoso["confidenceLevel"] == "02" and hoso["paperFileCode"]


def test_fonds_mixes_document_kinds_and_formats(
    fonds: tuple[Path, list[tuple[Path, dict[str, Any]]]],
) -> None:
    scans, described = fonds
    kinds = {d["kind"] for _, desc in described for d in desc["documents"]}
    suffixes = {Path(name).suffix for _, desc in described for _, name in listed_files(desc)}
    assert kinds == {"doc", "pic"}
    assert suffixes == {".pdf", ".tif", ".jpg"}
    text = " ".join(
        desc["hoso"]["title"] + " ".join(d.get("subject", "") for d in desc["documents"])
        for _, desc in described
    )
    assert {"ủ", "ố", "ệ"} <= set(text)  # Vietnamese with diacritics
    total = sum(p.stat().st_size for p in scans.iterdir())
    assert total < 15 * 1024 * 1024


def test_scanned_pdfs_are_valid_a4_jpeg_pages(fonds: tuple[Path, list[tuple[Path, dict[str, Any]]]]) -> None:
    scans, described = fonds
    on_disk = disk_names(scans)
    for _, description in described:
        for document, name in listed_files(description):
            if not name.endswith(".pdf"):
                continue
            data = on_disk[name].read_bytes()
            pages = check_pdf_structure(data)
            assert pages == document["numberOfPage"] >= 2
            boxes = [(float(w), float(h)) for w, h in MEDIABOX.findall(data)]
            images = list(pdf_images(data))
            assert len(boxes) == len(images) == pages
            for (width_pt, height_pt), (width, height, jpeg) in zip(boxes, images, strict=True):
                assert width_pt * 25.4 / 72 == pytest.approx(A4_MM[0], abs=1)
                assert height_pt * 25.4 / 72 == pytest.approx(A4_MM[1], abs=1)
                assert 199 <= width / (width_pt / 72) <= 301  # effective dpi
                image = pyvips.Image.new_from_buffer(jpeg, "")
                assert (image.width, image.height, image.bands) == (width, height, 3)


def test_pyvips_renders_page_one_of_each_pdf(fonds: tuple[Path, list[tuple[Path, dict[str, Any]]]]) -> None:
    if not pyvips.type_find("VipsForeign", "pdfload"):
        pytest.skip("this libvips has no PDF loader (pdfload needs PDFium or poppler)")
    scans, _ = fonds
    for pdf in scans.glob("*.pdf"):
        page = pyvips.Image.new_from_file(str(pdf), page=0, dpi=50)
        assert page.width > 0


def test_photos_load_with_their_resolution(fonds: tuple[Path, list[tuple[Path, dict[str, Any]]]]) -> None:
    scans, described = fonds
    on_disk = disk_names(scans)
    photos = [(d, name) for _, desc in described for d, name in listed_files(desc) if d["kind"] == "pic"]
    assert photos
    for document, name in photos:
        image = pyvips.Image.new_from_file(str(on_disk[name]))
        assert image.xres * 25.4 == pytest.approx(300, abs=0.5)
        assert image.yres * 25.4 == pytest.approx(300, abs=0.5)
        assert image.bands == 3 and image.width > 500
        assert image.deviate() > 5  # a picture, not a blank
        assert document["colour"] in ("01", "02")


def test_one_hoso_has_nfd_file_names_on_disk(fonds: tuple[Path, list[tuple[Path, dict[str, Any]]]]) -> None:
    scans, described = fonds
    nfd_hoso = described[1][1]
    raw = {p.name for p in scans.iterdir()}
    for _, name in listed_files(nfd_hoso):
        assert unicodedata.is_normalized("NFC", name) and not name.isascii()
        nfd = unicodedata.normalize("NFD", name)
        assert nfd != name and nfd in raw and name not in raw
    for _, other in (described[0], described[2]):
        assert all(name.isascii() and name in raw for _, name in listed_files(other))


def test_same_seed_gives_the_same_bytes(sample_fonds: tuple[Path, list[Path]], tmp_path: Path) -> None:
    # conftest generates 3 hồ sơ with seed 7; hồ sơ are independent, so 2 must match the first 2.
    scans, descriptions = sample_fonds
    again = generate_sample_fonds(tmp_path, hoso_count=2, seed=7)
    assert [p.name for p in again] == [p.name for p in descriptions[:2]]
    for old, new in zip(descriptions, again, strict=False):
        assert old.read_bytes() == new.read_bytes()
    expected = {k: v for k, v in tree_bytes(scans).items() if not k.startswith(descriptions[2].stem + ".")}
    assert tree_bytes(tmp_path / "scans") == expected


def test_another_seed_gives_other_bytes(sample_fonds: tuple[Path, list[Path]], tmp_path: Path) -> None:
    scans, descriptions = sample_fonds
    other = generate_sample_fonds(tmp_path, hoso_count=1, seed=8)
    assert other[0].name == descriptions[0].name  # same hồ sơ, other content
    assert other[0].read_bytes() != descriptions[0].read_bytes()
    first = sorted((tmp_path / "scans").glob("*.pdf"))[0]
    assert first.read_bytes() != sorted(scans.glob("*.pdf"))[0].read_bytes()
    # with a single hồ sơ, that one carries the NFD names
    assert all(not p.name.isascii() for p in (tmp_path / "scans").iterdir())


# --------------------------------------------------------------------------- bench corpora


@pytest.fixture(scope="module")
def scan_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate_scan_corpus(
        tmp_path_factory.mktemp("scan"), total_bytes=12_000_000, file_count=12, seed=3
    )


def test_scan_corpus_size_mix_and_description(scan_corpus: Path) -> None:
    files = disk_names(scan_corpus.parent / CORPUS_FILES_DIR)
    description = load(scan_corpus)
    assert len(files) == 12
    assert sum(p.stat().st_size for p in files.values()) == pytest.approx(12_000_000, rel=0.1)
    assert {Path(n).suffix for n in files} == {".tif", ".pdf", ".jpg"}
    listed = [name for _, name in listed_files(description)]
    assert sorted(listed) == sorted(files)
    hoso = description["hoso"]
    assert hoso["totalDoc"] == 12
    pages = 0
    for document, name in listed_files(description):
        data = files[name].read_bytes()
        if name.endswith(".pdf"):
            assert check_pdf_structure(data) == document["numberOfPage"]
        if document["kind"] == "doc":
            pages += document["numberOfPage"]
    assert hoso["numberOfPage"] == pages


def test_scan_corpus_images_load(scan_corpus: Path) -> None:
    for path in (scan_corpus.parent / CORPUS_FILES_DIR).iterdir():
        if path.suffix in (".tif", ".jpg"):
            image = pyvips.Image.new_from_file(str(path))
            assert image.bands == 3 and image.xres * 25.4 == pytest.approx(300, abs=0.5)
            image.crop(0, image.height - 8, 8, 8).avg()  # decodes the last rows too
        else:
            for width, height, jpeg in pdf_images(path.read_bytes()):
                assert pyvips.Image.new_from_buffer(jpeg, "").width == width and height > 0


def test_scan_corpus_is_deterministic(scan_corpus: Path, tmp_path: Path) -> None:
    again = generate_scan_corpus(tmp_path, total_bytes=12_000_000, file_count=12, seed=3)
    assert again.read_bytes() == scan_corpus.read_bytes()
    assert tree_bytes(tmp_path / CORPUS_FILES_DIR) == tree_bytes(scan_corpus.parent / CORPUS_FILES_DIR)


def test_small_corpus_formats_sizes_and_description(tmp_path: Path) -> None:
    description_path = generate_small_corpus(tmp_path / "a", file_count=60, seed=5)
    files = disk_names(tmp_path / "a" / CORPUS_FILES_DIR)
    assert len(files) == 60
    assert {Path(n).suffix for n in files} == {
        ".pdf",
        ".png",
        ".jpg",
        ".tif",
        ".xml",
        ".txt",
        ".csv",
        ".docx",
        ".bin",
    }
    magic = {
        ".pdf": b"%PDF-",
        ".png": b"\x89PNG",
        ".jpg": b"\xff\xd8\xff",
        ".tif": b"II*\x00",
        ".xml": b"<?xml",
        ".docx": b"PK\x03\x04",
    }
    for name, path in files.items():
        data = path.read_bytes()
        assert 1024 <= len(data) <= 60 * 1024, (name, len(data))
        assert data.startswith(magic.get(path.suffix, b""))
        if path.suffix in (".png", ".jpg", ".tif"):
            assert pyvips.Image.new_from_buffer(data, "").avg() >= 0
        if path.suffix == ".pdf":
            assert check_pdf_structure(data) == 1
    description = load(description_path)
    assert description["hoso"]["totalDoc"] == len(description["documents"]) == 60
    assert sorted(name for _, name in listed_files(description)) == sorted(files)
    again = generate_small_corpus(tmp_path / "b", file_count=60, seed=5)
    assert again.read_bytes() == description_path.read_bytes()
    assert tree_bytes(tmp_path / "b" / CORPUS_FILES_DIR) == tree_bytes(tmp_path / "a" / CORPUS_FILES_DIR)


def test_small_docx_is_an_ooxml_package(tmp_path: Path) -> None:
    import zipfile

    generate_small_corpus(tmp_path, file_count=30, seed=1)
    docx = sorted((tmp_path / CORPUS_FILES_DIR).glob("*.docx"))
    assert docx
    with zipfile.ZipFile(docx[0]) as archive:
        assert archive.testzip() is None
        assert {"[Content_Types].xml", "_rels/.rels", "word/document.xml"} <= set(archive.namelist())
