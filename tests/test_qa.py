"""Digitization QA (TT05 Art. 8): dpi and PDF/A status measured on files of known properties."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from openpyxl import load_workbook

from oais_preserve import check_file, write_qa_report
from oais_preserve.cli import main
from oais_preserve.qa import naming_check
from oais_preserve.samples_catalogue import write_scan_image, write_scan_pdf

from .conftest import shared_or_skip


def _check(result, name):  # type: ignore[no-untyped-def]
    return next(c for c in result.checks if c.name == name)


@pytest.mark.parametrize("dpi", [150, 200, 300, 600])
@pytest.mark.parametrize("pdfa", [True, False])
def test_pdf_dpi_and_pdfa_status_are_measured(tmp_path: Path, dpi: int, pdfa: bool) -> None:
    path = write_scan_pdf(
        tmp_path / f"H1.2.{dpi}.pdf", pages=2, dpi=dpi, pdfa=pdfa, text=pdfa, size_mm=(74, 105)
    )
    result = check_file(path)
    assert result.pages == 2
    assert result.min_dpi == pytest.approx(dpi, abs=0.5)
    assert result.pdfa == ("2B" if pdfa else None)
    assert result.text_layer is pdfa
    assert result.bit_depth == 24 and result.colour is True
    assert _check(result, "resolution").outcome == ("pass" if dpi >= 200 else "fail")
    assert _check(result, "pdfa").outcome == ("pass" if pdfa else "fail")
    assert _check(result, "text-layer").outcome == ("pass" if pdfa else "fail")
    assert result.outcome == ("pass" if pdfa and dpi >= 200 else "fail")


def test_maps_and_drawings_need_300_dpi(tmp_path: Path) -> None:
    path = write_scan_pdf(tmp_path / "map.pdf", dpi=200, size_mm=(74, 105))
    assert check_file(path).outcome == "pass"
    drawing = check_file(path, drawing=True)
    assert drawing.outcome == "fail" and "300" in _check(drawing, "resolution").required


def test_scaled_image_is_measured_at_its_effective_resolution(tmp_path: Path) -> None:
    """A 300 dpi image drawn at twice its size on the page is 150 dpi in effect (and the page says so)."""
    import pikepdf

    path = write_scan_pdf(tmp_path / "scaled.pdf", dpi=300, size_mm=(74, 105))
    with pikepdf.open(path, allow_overwriting_input=True) as pdf:
        page = pdf.pages[0]
        page.obj.MediaBox = [float(x) * 2 for x in page.mediabox]
        content = page.obj.Contents.read_bytes().replace(b"q ", b"q 2 0 0 2 0 0 cm ", 1)
        page.obj.Contents = pikepdf.Stream(pdf, content)
        pdf.save(path)
    result = check_file(path)
    assert result.min_dpi == pytest.approx(150, abs=0.5)
    assert result.outcome == "fail"


def _add_text(path: Path, page_numbers: list[int], content: bytes, font: bool = True) -> None:
    """Append text-showing content to the given pages (1-based) of a scan PDF."""
    import pikepdf

    with pikepdf.open(path, allow_overwriting_input=True) as pdf:
        helvetica = pdf.make_indirect(
            pikepdf.Dictionary(
                Type=pikepdf.Name.Font, Subtype=pikepdf.Name.Type1, BaseFont=pikepdf.Name.Helvetica
            )
        )
        for number in page_numbers:
            page = pdf.pages[number - 1]
            page.obj.Contents = pikepdf.Stream(pdf, page.obj.Contents.read_bytes() + b"\n" + content)
            if font:
                page.obj.Resources.Font = pikepdf.Dictionary(F1=helvetica)
        pdf.save(path)


def test_two_layer_needs_text_on_every_scanned_page(tmp_path: Path) -> None:
    """A one-line visible footer on page 1 of an image-only scan is not an OCR layer."""
    footer = b"BT /F1 8 Tf 20 10 Td (Trung tam Luu tru lich su) Tj ET"
    stamped = write_scan_pdf(tmp_path / "footer.pdf", pages=3, text=False, size_mm=(74, 105))
    _add_text(stamped, [1], footer)
    result = check_file(stamped)
    assert result.text_layer is False and result.text_pages == 1 and result.outcome == "fail"
    layer = _check(result, "text-layer")
    assert layer.outcome == "fail" and layer.measured == "chữ trên 1/3 trang; thiếu ở trang 2, 3"
    assert "2, 3" in layer.message_en
    # OCR (invisible, render mode 3) on pages 1 and 2 only: page 3 is not searchable.
    partial = write_scan_pdf(tmp_path / "partial.pdf", pages=3, text=False, size_mm=(74, 105))
    _add_text(partial, [1, 2], b"BT 3 Tr /F1 10 Tf 36 100 Td [(Cong ) -20 (van)] TJ ET")
    assert check_file(partial).text_pages == 2 and _check(check_file(partial), "text-layer").outcome == "fail"
    # Empty strings draw nothing.
    empty = write_scan_pdf(tmp_path / "empty.pdf", pages=1, text=False, size_mm=(74, 105))
    _add_text(empty, [1], b"BT 3 Tr /F1 10 Tf () Tj ET")
    assert check_file(empty).text_layer is False
    whole = check_file(write_scan_pdf(tmp_path / "ocr.pdf", pages=3, size_mm=(74, 105)))
    assert whole.text_layer is True and whole.text_pages == 3
    assert _check(whole, "text-layer").measured == "chữ trên 3/3 trang"
    assert whole.to_dict()["text_pages"] == 3


def test_greyscale_scan_passes_only_for_black_and_white_originals(tmp_path: Path) -> None:
    path = write_scan_pdf(tmp_path / "grey.pdf", colour=False, size_mm=(74, 105))
    assert check_file(path).bit_depth == 8
    assert _check(check_file(path), "colour-depth").outcome == "warning"
    assert _check(check_file(path, colour_original=False), "colour-depth").outcome == "pass"
    assert _check(check_file(path, colour_original=True), "colour-depth").outcome == "fail"


@pytest.mark.parametrize("suffix", ["tif", "jpg", "png"])
@pytest.mark.parametrize("dpi", [150, 300, None])
def test_images_resolution_and_depth_read_with_libvips(tmp_path: Path, suffix: str, dpi: int | None) -> None:
    path = write_scan_image(tmp_path / f"photo.{suffix}", dpi=dpi)
    result = check_file(path, paper=False)
    assert result.bit_depth == 24 and result.colour is True and result.pages == 1
    if dpi is None:
        assert result.min_dpi is None and result.outcome == "fail"
        assert _check(result, "resolution").measured == "không ghi"
    else:
        assert result.min_dpi == pytest.approx(dpi, abs=1)
        assert result.outcome == ("pass" if dpi >= 200 else "fail")
    # a paper document scanned as an image is a warning: TT05 wants two-layer PDF/A for paper
    assert _check(check_file(path, paper=True), "format").outcome == "warning"


def test_naming_rule() -> None:
    assert naming_check("H1.22.5.pdf", "H1.22", 5).outcome == "pass"  # type: ignore[union-attr]
    assert naming_check("H1.22.005_Công_văn.pdf", "H1.22", 5).outcome == "pass"  # type: ignore[union-attr]
    assert naming_check("H1.22.6.pdf", "H1.22", 5).outcome == "fail"  # type: ignore[union-attr]
    assert naming_check("scan0001.pdf", "H1.22", 5).outcome == "fail"  # type: ignore[union-attr]
    assert naming_check("H1.22.pdf", "H1.22", None).outcome == "pass"  # type: ignore[union-attr]
    assert naming_check("x.pdf", None, None) is None


def test_damaged_file_is_a_failure_not_a_crash(tmp_path: Path) -> None:
    bad = tmp_path / "bad.pdf"
    bad.write_bytes(b"%PDF-1.4\n1 0 obj <<\n")
    result = check_file(bad)
    assert result.outcome == "fail" and result.checks[0].name == "readable"


def test_pdfa_claims_of_the_verapdf_corpus_are_read() -> None:
    corpus = shared_or_skip("corpora", "veraPDF-corpus")
    two_b = sorted((corpus / "PDF_A-2b").rglob("*pass*.pdf"))[:2]
    one_b = sorted((corpus / "PDF_A-1b").rglob("*pass*.pdf"))[:1]
    assert len(two_b) == 2 and len(one_b) == 1
    assert [check_file(f).pdfa for f in two_b + one_b] == ["2B", "2B", "1B"]


def test_qa_report_and_cli(tmp_path: Path) -> None:
    scans = tmp_path / "scans"
    write_scan_pdf(scans / "H1.1.1.pdf", dpi=200, size_mm=(74, 105))
    write_scan_pdf(scans / "H1.1.2.pdf", dpi=150, pdfa=False, size_mm=(74, 105))
    write_scan_image(scans / "H1.1.3.tif", dpi=300)
    results = [check_file(p) for p in sorted(scans.iterdir())]
    xlsx, json_path = write_qa_report(results, tmp_path / "qa")
    data = json.loads(json_path.read_text(encoding="utf-8"))
    assert data["summary"] == {"files": 3, "pass": 1, "warning": 1, "fail": 1}
    sheet = load_workbook(xlsx).worksheets[0]
    assert sheet.max_row == 4 and sheet.cell(row=3, column=4).value == "không đạt"
    run = CliRunner().invoke(main, ["qa", str(scans), "--out", str(tmp_path / "cli"), "-w", "1"])
    assert run.exit_code == 1, run.output
    assert "1 không đạt" in run.output and (tmp_path / "cli.xlsx").exists()
