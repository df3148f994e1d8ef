"""Sample catalogues and scans for tests, benchmarks and the demo (nothing large is committed).

:func:`generate_catalogue` writes a workbook in the usual provincial layout (a phông sheet, a hồ sơ
sheet and a tài liệu sheet, title rows above the headers, a "(1) (2) (3)" numbering row, values
written as codes, labels, "code: label" and TT02 text, dates as Excel dates and text), or the single
sheet layout with the hồ sơ columns repeated on every document row. ``problems`` plants that many
errors, each producing exactly one finding, and returns where each one is. :func:`write_scan_pdf`
and :func:`write_scan_image` write scans of a known resolution, PDF/A claim and text layer.
"""

from __future__ import annotations

import functools
import random
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, Literal

MM_PER_INCH = 25.4

ARCHIVE_CODE = "H55.22"
FONDS = (
    ("H55.22.07", "Phông Ủy ban hành chính tỉnh Bắc Thái"),
    ("H55.22.11", "Phông Ty Thủy lợi tỉnh Bắc Thái"),
)
ORGANIZATION = "Trung tâm Lưu trữ lịch sử tỉnh Thái Nguyên"

_TITLES = (
    "Hồ sơ về việc đắp đê, làm thủy lợi chống hạn vụ chiêm",
    "Tập công văn, báo cáo của Ủy ban hành chính các huyện về tình hình sản xuất nông nghiệp",
    "Hồ sơ về việc xây dựng trường học cấp hai xã Đồng Hỷ",
    "Gia phả dòng họ Hoàng ở xã Phú Lương",
    "Bản đồ quy hoạch khu gang thép Thái Nguyên",
    "Hồ sơ về việc khen thưởng cán bộ, chiến sĩ thi đua",
)
_SUBJECTS = (
    "Về việc huy động nhân lực đắp đê Khe Mo",
    "Báo cáo tình hình sản xuất vụ chiêm xuân",
    "V/v cấp kinh phí sửa chữa trường học",
    "Chỉ thị về công tác phòng chống bão lụt",
    "Tờ trình xin phê duyệt quy hoạch",
    "Biên bản họp Ban chỉ huy chống hạn",
)
_ORGANS = ("Ủy ban hành chính tỉnh Bắc Thái", "Ty Thủy lợi Bắc Thái", "Ủy ban hành chính huyện Đại Từ")
_GROUPS = ("Nông nghiệp, thủy lợi", "Văn hóa, giáo dục", "Tổ chức, cán bộ")
_MATERIALS = ("", "", "", "", "giấy dó", "")
_DAMAGE = ("", "", "ố vàng, chữ mờ nhưng còn đọc được", "", "rách mép, giòn", "")

HOSO_HEADERS = (
    "Mã phông",
    "Mã hồ sơ",
    "Tiêu đề hồ sơ",
    "Thời hạn bảo quản",
    "Chế độ sử dụng",
    "Ngôn ngữ",
    "Thời gian bắt đầu",
    "Thời gian kết thúc",
    "Tổng số văn bản",
    "Số lượng tờ",
    "Số lượng trang",
    "Tình trạng vật lý",
    "Mức độ tin cậy",
    "Mã hồ sơ giấy gốc",
    "Chế độ dự phòng",
    "Tình trạng dự phòng",
    "Từ khóa",
    "Ghi chú",
    "Nhóm tài liệu",
    "Chất liệu",
    "Tình trạng hư hỏng",
)
DOC_HEADERS = (
    "Mã hồ sơ",
    "Số thứ tự văn bản",
    "Tên loại văn bản",
    "Số của văn bản",
    "Ký hiệu của văn bản",
    "Ngày, tháng, năm văn bản",
    "Tên cơ quan, tổ chức ban hành văn bản",
    "Trích yếu nội dung",
    "Ngôn ngữ",
    "Số lượng trang",
    "Chế độ sử dụng",
    "Đường dẫn tệp",
)
DIGITIZED_HEADER = "Ngày số hóa"  # optional (``digitized=``): the PREMIS digitization event's date
FONDS_HEADERS = ("Mã cơ quan lưu trữ", "Mã phông", "Tên phông", "Tên cơ quan lưu trữ")

HOSO_SHEET = "Hồ sơ"
DOC_SHEET = "Tài liệu"
FONDS_SHEET = "Phông"
SINGLE_SHEET = "Mục lục"
_TITLE_ROWS = 3  # title, subtitle, blank: the header is row 4, the numbering row 5


@dataclass(frozen=True)
class Planted:
    """One deliberate error: where the importer must find it."""

    sheet: str
    row: int
    column: str
    rule: str


@dataclass
class CatalogueSample:
    path: Path
    hoso_codes: list[str]
    documents: int
    planted: list[Planted] = field(default_factory=list)
    scans: Path | None = None


@dataclass
class _Doc:
    ordinal: int
    values: dict[str, object]


@dataclass
class _Hoso:
    code: str
    fonds: str
    values: dict[str, object]
    docs: list[_Doc]


def _hoso_plan(index: int, docs: int, rng: random.Random) -> _Hoso:
    fonds = FONDS[index % len(FONDS)][0]
    year = 1955 + (index * 7) % 40
    code = f"{fonds}.{year}.{index + 1}"
    documents = []
    for ordinal in range(1, docs + 1):
        pages = rng.randint(1, 4)
        issued = datetime(year, 1 + (ordinal * 5) % 12, 1 + (ordinal * 3) % 28)
        documents.append(
            _Doc(
                ordinal,
                {
                    "Số thứ tự văn bản": ordinal if ordinal % 3 else str(ordinal),
                    "Tên loại văn bản": rng.choice(
                        ("Công văn", "22", "Báo cáo", "14: Báo cáo", "Quyết định")
                    ),
                    "Số của văn bản": str(rng.randint(1, 300)),
                    "Ký hiệu của văn bản": rng.choice(("UB-BT", "TL", "QĐ-UB")),
                    "Ngày, tháng, năm văn bản": issued if ordinal % 2 else issued.strftime("%d/%m/%Y"),
                    "Tên cơ quan, tổ chức ban hành văn bản": rng.choice(_ORGANS),
                    "Trích yếu nội dung": rng.choice(_SUBJECTS),
                    "Ngôn ngữ": rng.choice(("01", "Tiếng Việt", "01: Tiếng Việt")),
                    "Số lượng trang": pages if ordinal % 4 else float(pages),
                    "Chế độ sử dụng": rng.choice(("01", "Công khai", "Hạn chế")),
                    "Đường dẫn tệp": None,
                },
            )
        )
    pages_total = sum(int(d.values["Số lượng trang"]) for d in documents)  # type: ignore[call-overload]
    values: dict[str, object] = {
        "Mã phông": fonds,
        "Tên phông": dict(FONDS)[fonds],
        "Mã hồ sơ": code,
        "Tiêu đề hồ sơ": f"{_TITLES[index % len(_TITLES)]} năm {year}",
        "Thời hạn bảo quản": rng.choice(("01", "Vĩnh viễn", "01: Vĩnh viễn", "70 năm")),
        "Chế độ sử dụng": rng.choice(("01", "Công khai")),
        "Ngôn ngữ": "Tiếng Việt",
        "Thời gian bắt đầu": f"01/{year}" if index % 5 == 0 else f"01/01/{year}",
        "Thời gian kết thúc": year if index % 3 == 0 else f"31/12/{year}",
        "Tổng số văn bản": len(documents) if index % 2 else str(len(documents)),
        "Số lượng tờ": pages_total,
        "Số lượng trang": pages_total,
        "Tình trạng vật lý": rng.choice(("Bình thường", "02", "Hỏng", "Tốt")),
        "Mức độ tin cậy": "02",
        "Mã hồ sơ giấy gốc": f"{ARCHIVE_CODE}.K{index % 9 + 1}.{index + 1}",
        "Chế độ dự phòng": rng.choice((1, "Có")),
        "Tình trạng dự phòng": "01",
        "Từ khóa": rng.choice(("thủy lợi", "giáo dục", "dòng họ", "")),
        "Ghi chú": _DAMAGE[index % len(_DAMAGE)],
        "Nhóm tài liệu": _GROUPS[index % len(_GROUPS)],
        "Chất liệu": _MATERIALS[index % len(_MATERIALS)],
        "Tình trạng hư hỏng": _DAMAGE[index % len(_DAMAGE)],
    }
    return _Hoso(code, fonds, values, documents)


_PLANTS = (
    "code",
    "date",
    "document-without-hoso",
    "totalDoc-count",
    "required",
    "integer",
    "maxLength",
    "doc-mode",
    "date-order",
    "duplicate-hoso",
    "numberOfPage-sum",
)


def _plant(
    kind: str, hoso: _Hoso, serial: int, extra_docs: list[tuple[str, _Doc]], extra_hoso: list[_Hoso]
) -> str:
    """Break one thing; returns the column whose cell carries the error ('' for extra rows)."""
    doc = hoso.docs[0]
    if kind == "code":
        hoso.values["Thời hạn bảo quản"] = "Lâu dài hơn"
        return "Thời hạn bảo quản"
    if kind == "date":
        doc.values["Ngày, tháng, năm văn bản"] = "31/02/1968"
        return "Ngày, tháng, năm văn bản"
    if kind == "document-without-hoso":
        orphan = _Doc(1, dict(doc.values))
        extra_docs.append((f"H55.22.99.1900.{serial}", orphan))
        return "Mã hồ sơ"
    if kind == "totalDoc-count":
        hoso.values["Tổng số văn bản"] = len(hoso.docs) + 1
        return "Tổng số văn bản"
    if kind == "required":
        doc.values["Trích yếu nội dung"] = "   "
        return "Trích yếu nội dung"
    if kind == "integer":
        doc.values["Số lượng trang"] = "mười hai"
        return "Số lượng trang"
    if kind == "maxLength":
        hoso.values["Tiêu đề hồ sơ"] = "Hồ sơ rất dài " + "x" * 1000
        return "Tiêu đề hồ sơ"
    if kind == "doc-mode":
        doc.values["Chế độ sử dụng"] = "Bí mật nhà nước"
        return "Chế độ sử dụng"
    if kind == "date-order":
        hoso.values["Thời gian bắt đầu"] = "01/01/1990"
        hoso.values["Thời gian kết thúc"] = "31/12/1980"
        return "Thời gian kết thúc"
    if kind == "duplicate-hoso":
        extra_hoso.append(_Hoso(hoso.code, hoso.fonds, dict(hoso.values), []))
        return "Mã hồ sơ"
    if kind == "numberOfPage-sum":
        hoso.values["Số lượng trang"] = int(hoso.values["Số lượng trang"]) + 5  # type: ignore[call-overload]
        return "Số lượng trang"
    raise ValueError(kind)


def _title(sheet: Any, text: str) -> None:
    sheet.append([text])
    sheet.append(["(Kèm theo Kế hoạch bảo hiểm tài liệu lưu trữ, giai đoạn II)"])
    sheet.append([])


def generate_catalogue(
    dest: Path | str,
    *,
    hoso_count: int = 20,
    docs_per_hoso: int = 5,
    problems: int = 0,
    layout: Literal["sheets", "single"] = "sheets",
    seed: int = 0,
    scans: Path | str | None = None,
    digitized: date | None = None,
) -> CatalogueSample:
    """Write a catalogue workbook (and, with ``scans``, one PDF/A per document there).

    ``problems`` plants that many errors, spread over distinct hồ sơ (needs ``hoso_count`` >= it),
    cycling through the kinds in ``_PLANTS``; ``CatalogueSample.planted`` says where each one is.
    ``digitized`` adds a "Ngày số hóa" column (the scanning log's date) with that day for every hồ sơ.
    """
    from openpyxl import Workbook

    rng = random.Random(seed)
    plans = [_hoso_plan(i, docs_per_hoso, rng) for i in range(hoso_count)]
    hoso_headers: tuple[str, ...] = HOSO_HEADERS
    single_hoso: dict[str, str] = _SINGLE_HOSO
    if digitized is not None:
        hoso_headers = (*HOSO_HEADERS, DIGITIZED_HEADER)
        single_hoso = {**_SINGLE_HOSO, DIGITIZED_HEADER: DIGITIZED_HEADER}
        for plan in plans:
            plan.values[DIGITIZED_HEADER] = digitized.strftime("%d/%m/%Y")
    if problems > hoso_count:
        raise ValueError("problems must not exceed hoso_count (one planted error per hồ sơ)")
    step = max(1, hoso_count // max(problems, 1))
    targets = {i * step: _PLANTS[i % len(_PLANTS)] for i in range(problems)}
    extra_docs: list[tuple[str, _Doc]] = []
    extra_hoso: list[_Hoso] = []
    planted_cols: dict[int, tuple[str, str]] = {}
    for index, kind in targets.items():
        planted_cols[index] = (kind, _plant(kind, plans[index], index, extra_docs, extra_hoso))
    scan_dir = Path(scans) if scans else None
    if scan_dir is not None:
        scan_dir.mkdir(parents=True, exist_ok=True)
        _write_scans(plans, scan_dir, rng)

    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    workbook = Workbook(write_only=True)
    planted: list[Planted] = []
    documents = 0
    if layout == "sheets":
        fonds_sheet = workbook.create_sheet(FONDS_SHEET)
        fonds_sheet.append(list(FONDS_HEADERS))
        for code, name in FONDS:
            fonds_sheet.append([ARCHIVE_CODE, code, name, ORGANIZATION])
        hoso_sheet = workbook.create_sheet(HOSO_SHEET)
        _title(hoso_sheet, "DANH MỤC HỒ SƠ LỰA CHỌN SỐ HÓA")
        hoso_sheet.append(list(hoso_headers))
        hoso_sheet.append([f"({i})" for i in range(1, len(hoso_headers) + 1)])
        row_of_hoso: dict[int, int] = {}
        row = _TITLE_ROWS + 2
        for index, plan in enumerate([*plans, *extra_hoso]):
            row += 1
            hoso_sheet.append([plan.values.get(h) for h in hoso_headers])
            row_of_hoso[index] = row
        doc_sheet = workbook.create_sheet(DOC_SHEET)
        _title(doc_sheet, "MỤC LỤC VĂN BẢN")
        doc_sheet.append(list(DOC_HEADERS))
        row = _TITLE_ROWS + 1
        first_doc_row: dict[int, int] = {}
        for index, plan in enumerate(plans):
            for doc in plan.docs:
                row += 1
                documents += 1
                first_doc_row.setdefault(index, row)
                doc_sheet.append([plan.code if h == "Mã hồ sơ" else doc.values.get(h) for h in DOC_HEADERS])
            if index % 50 == 49:
                row += 1
                doc_sheet.append([])  # blank rows happen
        orphan_rows = []
        for code, doc in extra_docs:
            row += 1
            documents += 1
            orphan_rows.append(row)
            doc_sheet.append([code if h == "Mã hồ sơ" else doc.values.get(h) for h in DOC_HEADERS])
        orphan_iter = iter(orphan_rows)
        dup_row = iter(row_of_hoso[len(plans) + i] for i in range(len(extra_hoso)))
        for index, (kind, column) in sorted(planted_cols.items()):
            if kind == "document-without-hoso":
                planted.append(Planted(DOC_SHEET, next(orphan_iter), column, kind))
            elif kind == "duplicate-hoso":
                planted.append(Planted(HOSO_SHEET, next(dup_row), column, kind))
            elif column in DOC_HEADERS and kind in ("date", "required", "integer", "doc-mode"):
                planted.append(Planted(DOC_SHEET, first_doc_row[index], column, kind))
            else:
                planted.append(Planted(HOSO_SHEET, row_of_hoso[index], column, kind))
    else:
        sheet = workbook.create_sheet(SINGLE_SHEET)
        headers = [*single_hoso, *[h for h in DOC_HEADERS if h != "Mã hồ sơ"]]
        _title(sheet, "MỤC LỤC HỒ SƠ, TÀI LIỆU")
        sheet.append(headers)
        row = _TITLE_ROWS + 1
        for plan in plans:
            for doc in plan.docs:
                row += 1
                documents += 1
                values = {**{single_hoso[h]: plan.values.get(h) for h in single_hoso}, **doc.values}
                sheet.append(
                    [
                        values.get(h) if h not in single_hoso else plan.values.get(single_hoso[h])
                        for h in headers
                    ]
                )
    path = dest
    tmp = path.with_name(f".{path.name}.partial")
    workbook.save(tmp)
    tmp.replace(path)
    return CatalogueSample(path, [p.code for p in plans], documents, planted, scan_dir)


#: single-sheet header -> hồ sơ sheet header it repeats.
_SINGLE_HOSO = {
    "Mã phông": "Mã phông",
    "Tên phông": "Tên phông",
    "Mã hồ sơ": "Mã hồ sơ",
    "Tiêu đề hồ sơ": "Tiêu đề hồ sơ",
    "Thời hạn bảo quản": "Thời hạn bảo quản",
    "Chế độ sử dụng hồ sơ": "Chế độ sử dụng",
    "Ngôn ngữ hồ sơ": "Ngôn ngữ",
    "Thời gian bắt đầu": "Thời gian bắt đầu",
    "Thời gian kết thúc": "Thời gian kết thúc",
    "Số lượng tờ": "Số lượng tờ",
    "Tình trạng vật lý": "Tình trạng vật lý",
    "Mức độ tin cậy": "Mức độ tin cậy",
    "Mã hồ sơ giấy gốc": "Mã hồ sơ giấy gốc",
    "Chế độ dự phòng": "Chế độ dự phòng",
    "Tình trạng dự phòng": "Tình trạng dự phòng",
}


# --------------------------------------------------------------------------- scans


@functools.lru_cache(maxsize=64)
def _page_jpeg(width: int, height: int, dpi: float, colour: bool, seed: int) -> bytes:
    """A paper-coloured page with a few dark text-like bars (small, quick to encode)."""
    import pyvips

    rng = random.Random(seed)
    paper = pyvips.Image.black(width, height, bands=3 if colour else 1) + ([236, 228, 206] if colour else 232)
    for _ in range(12):
        bar_w = rng.randint(width // 4, width * 3 // 4)
        bar_h = max(2, height // 80)
        x, y = rng.randint(width // 10, width - bar_w - 1), rng.randint(height // 10, height * 9 // 10)
        paper = paper.draw_rect([40, 36, 42] if colour else [40], x, y, bar_w, bar_h, fill=True)
    paper = paper.cast("uchar").copy(xres=dpi / MM_PER_INCH, yres=dpi / MM_PER_INCH)
    paper = paper.copy(interpretation="srgb" if colour else "b-w")
    return bytes(paper.jpegsave_buffer(Q=60, keep="none"))


def write_scan_pdf(
    path: Path | str,
    *,
    pages: int = 1,
    dpi: float = 200,
    pdfa: bool = True,
    text: bool = True,
    colour: bool = True,
    size_mm: tuple[float, float] = (105.0, 148.0),
    words: str = "Trich yeu noi dung",
) -> Path:
    """A scanned-document PDF: one JPEG image per page drawn at exactly ``dpi``; ``pdfa`` adds the
    XMP PDF/A-2B claim; ``text`` adds an invisible OCR text layer (text render mode 3)."""
    import pikepdf
    from pikepdf import Dictionary, Name

    path = Path(path)
    width_px = round(size_mm[0] / MM_PER_INCH * dpi)
    height_px = round(size_mm[1] / MM_PER_INCH * dpi)
    width_pt, height_pt = width_px * 72.0 / dpi, height_px * 72.0 / dpi
    pdf = pikepdf.new()
    font = pdf.make_indirect(Dictionary(Type=Name.Font, Subtype=Name.Type1, BaseFont=Name.Helvetica))
    for number in range(pages):
        data = _page_jpeg(width_px, height_px, dpi, colour, number % 3)
        image = pikepdf.Stream(pdf, data)
        image.Type, image.Subtype = Name.XObject, Name.Image
        image.Width, image.Height, image.BitsPerComponent = width_px, height_px, 8
        image.ColorSpace = Name.DeviceRGB if colour else Name.DeviceGray
        image.Filter = Name.DCTDecode
        content = b"q %.4f 0 0 %.4f 0 0 cm /Im0 Do Q" % (width_pt, height_pt)
        if text:
            safe = words.encode("ascii", "replace").replace(b"(", b"[").replace(b")", b"]")
            content += b"\nBT 3 Tr /F1 10 Tf 36 %.2f Td (%s) Tj ET" % (height_pt - 48, safe)
        resources = Dictionary(XObject=Dictionary(Im0=image))
        if text:
            resources.Font = Dictionary(F1=font)
        page = Dictionary(
            Type=Name.Page,
            MediaBox=[0, 0, width_pt, height_pt],
            Resources=resources,
            Contents=pikepdf.Stream(pdf, content),
        )
        pdf.pages.append(pikepdf.Page(page))
    if pdfa:
        with pdf.open_metadata(set_pikepdf_as_editor=False) as meta:
            meta["pdfaid:part"] = "2"
            meta["pdfaid:conformance"] = "B"
    path.parent.mkdir(parents=True, exist_ok=True)
    pdf.save(path, deterministic_id=True)
    return path


def write_scan_image(
    path: Path | str,
    *,
    dpi: float | None = 300,
    colour: bool = True,
    size_mm: tuple[float, float] = (100.0, 75.0),
) -> Path:
    """A TIFF / JPEG / PNG (by suffix) of a print scanned at ``dpi`` (None: no resolution recorded)."""
    import pyvips

    path = Path(path)
    res = dpi or MM_PER_INCH
    width, height = round(size_mm[0] / MM_PER_INCH * res), round(size_mm[1] / MM_PER_INCH * res)
    data = _page_jpeg(width, height, res, colour, 1)
    image = pyvips.Image.new_from_buffer(data, "")
    image = image.copy(xres=(dpi or MM_PER_INCH) / MM_PER_INCH, yres=(dpi or MM_PER_INCH) / MM_PER_INCH)
    path.parent.mkdir(parents=True, exist_ok=True)
    suffix = path.suffix.casefold()
    if suffix in (".tif", ".tiff"):
        image.tiffsave(str(path), compression="deflate", resunit="inch")
    elif suffix == ".png":
        image.pngsave(str(path))
    else:
        image.jpegsave(str(path), Q=80)
    if dpi is None and suffix in (".jpg", ".jpeg"):
        _strip_jfif_density(path)
    return path


def _strip_jfif_density(path: Path) -> None:
    """Set the JFIF density units to 0 (aspect ratio only): the file then records no resolution."""
    data = bytearray(path.read_bytes())
    at = data.find(b"JFIF\x00")
    if at > 0:
        data[at + 7] = 0
        data[at + 8 : at + 12] = b"\x00\x01\x00\x01"
    path.write_bytes(bytes(data))


def _write_scans(plans: Sequence[_Hoso], scans: Path, rng: random.Random) -> None:
    for plan in plans:
        for doc in plan.docs:
            pages = doc.values["Số lượng trang"]
            count = int(pages) if isinstance(pages, int | float) else 1
            drawing = doc.values["Tên loại văn bản"] in ("30", "31", "Bản đồ", "Bản vẽ kỹ thuật")
            name = unicodedata.normalize("NFC", f"{plan.code}.{doc.ordinal}.pdf")
            write_scan_pdf(
                scans / name,
                pages=count,
                dpi=300 if drawing else 200,
                words=str(doc.values["Trích yếu nội dung"]),
                size_mm=(74.0, 105.0),
            )
    del rng
