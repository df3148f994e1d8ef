"""Deterministic sample data: a small realistic fonds, and the two benchmark corpora.

Everything is generated offline from a seed: the same seed gives byte-identical files on the same
machine (page images depend on the installed fonts, rendered by libvips/Pango).

* :func:`generate_sample_fonds` writes a few digitized hồ sơ of a (fictional) closed fonds, with
  multi-page PDF scans and TIFF/JPEG photos, and one description JSON per hồ sơ in the format of
  ``docs/description-format.md``.
* :func:`generate_scan_corpus` writes large scan-like files for throughput benchmarks.
* :func:`generate_small_corpus` writes many small files of mixed formats for files/s benchmarks.

The PDF, TIFF and PNG writers here are minimal on purpose: they produce valid files quickly, and
are not meant as general-purpose encoders.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import io
import itertools
import json
import math
import random
import re
import struct
import unicodedata
import zipfile
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import pyvips

__all__ = [
    "CORPUS_FILES_DIR",
    "DESCRIPTIONS_DIR",
    "DESCRIPTION_SCHEMA",
    "SCANS_DIR",
    "generate_sample_fonds",
    "generate_scan_corpus",
    "generate_small_corpus",
]

DESCRIPTION_SCHEMA = "oais_preserve/hoso-description/1"
SCANS_DIR = "scans"
DESCRIPTIONS_DIR = "descriptions"
CORPUS_FILES_DIR = "files"

MM_PER_INCH = 25.4
A4_MM = (210.0, 297.0)
_RANDOM_BLOCK = 8 << 20
_SALT_EVERY = 1 << 20

# ---------------------------------------------------------------------------------------------
# The (fictional) fonds every generator describes.

_ARCHIVE_CODE = "H55.22"
_ORGAN_ID = "H55.22.07"
_FONDS = {
    "archiveCode": _ARCHIVE_CODE,
    "fondsCode": "P07",
    "fondsName": "Phông Ủy ban hành chính tỉnh Bắc Thái",
    "organization": "Trung tâm Lưu trữ lịch sử tỉnh Thái Nguyên",
}
_PLACE = "Bắc Thái"

_TYPE_LABELS = {
    "02": "Quyết định",
    "03": "Chỉ thị",
    "07": "Thông báo",
    "14": "Báo cáo",
    "15": "Tờ trình",
    "20": "Biên bản",
    "22": "Công văn",
    "23": "Công điện",
    "26": "Giấy mời",
    "30": "Bản đồ",
    "31": "Bản vẽ kỹ thuật",
    "32": "Khác",
}
_DRAWING_TYPES = frozenset({"30", "31"})

_SENTENCES = (
    "Căn cứ Luật Tổ chức Hội đồng nhân dân và Ủy ban hành chính các cấp ngày 27 tháng 10 năm 1962.",
    "Xét đề nghị của đồng chí Trưởng ban Tổ chức chính quyền tỉnh.",
    "Các Ty, Ban, ngành và Ủy ban hành chính các huyện, thị xã chịu trách nhiệm thi hành.",
    "Thực hiện chủ trương của Tỉnh ủy, các cấp, các ngành đã tập trung chỉ đạo và đạt được "
    "một số kết quả bước đầu.",
    "Yêu cầu các địa phương kiểm tra toàn bộ hệ thống đê, kè, cống và chuẩn bị đủ vật tư, "
    "phương tiện phòng chống lụt bão.",
    "Công tác vận động nhân dân đóng góp ngày công lao động được triển khai rộng khắp, "
    "bảo đảm đúng kế hoạch đề ra.",
    "Do thời tiết diễn biến phức tạp nên tiến độ thi công một số hạng mục còn chậm so với yêu cầu.",
    "Đề nghị cấp trên xem xét, hỗ trợ thêm kinh phí và lương thực để ổn định đời sống nhân dân "
    "vùng bị thiệt hại.",
    "Các đơn vị báo cáo kết quả thực hiện về Ủy ban hành chính tỉnh trước ngày 30 hằng tháng.",
    "Số liệu thống kê chi tiết được kèm theo trong phụ lục của văn bản này.",
    "Trong quá trình thực hiện, nếu có khó khăn, vướng mắc, các đơn vị phản ánh kịp thời để tỉnh "
    "xem xét giải quyết.",
    "Ban Quản lý công trình phối hợp với chính quyền địa phương tổ chức tốt việc giải phóng mặt bằng.",
    "Mọi cán bộ, công nhân viên phải nêu cao tinh thần trách nhiệm, tiết kiệm vật tư và bảo đảm "
    "an toàn lao động.",
    "Văn bản này có hiệu lực kể từ ngày ký; những quy định trước đây trái với văn bản này đều bãi bỏ.",
)
_SIGNERS = ("Nguyễn Văn Thành", "Lê Quang Hòa", "Trần Đức Lượng", "Hoàng Thị Nhung", "Đỗ Mạnh Hùng")
_POSITIONS = ("CHỦ TỊCH", "PHÓ CHỦ TỊCH", "TRƯỞNG BAN", "TRƯỞNG TY")


@dataclass(frozen=True)
class _DocSpec:
    type_name: str
    organ: str
    notation: str
    subject: str
    short: str
    pages: tuple[int, int]
    autograph: str = ""


@dataclass(frozen=True)
class _PicSpec:
    image_title: str
    event: str
    place: str
    photographer: str
    colour: str
    ext: str
    size_cm: tuple[float, float]
    short: str


@dataclass(frozen=True)
class _HosoSpec:
    year: int
    number: int
    title: str
    keyword: str
    description: str
    items: tuple[_DocSpec | _PicSpec, ...]
    months: tuple[int, int] = (1, 12)


_UBHC = "Ủy ban hành chính tỉnh Bắc Thái"
_HOSO_SPECS: tuple[_HosoSpec, ...] = (
    _HosoSpec(
        1968,
        12,
        "Tập quyết định của Ủy ban hành chính tỉnh Bắc Thái về công tác tổ chức, cán bộ năm 1968",
        "tổ chức cán bộ",
        "Hồ sơ do Văn phòng Ủy ban hành chính tỉnh lập; bản gốc đánh máy.",
        (
            _DocSpec(
                "02",
                _UBHC,
                "QĐ-UB",
                "Quyết định về việc thành lập Ban Tổ chức chính quyền tỉnh Bắc Thái",
                "Quyết định thành lập Ban Tổ chức",
                (2, 3),
            ),
            _DocSpec(
                "02",
                _UBHC,
                "QĐ-UB",
                "Quyết định về việc điều động cán bộ tăng cường cho các huyện vùng cao",
                "Quyết định điều động cán bộ",
                (2, 3),
                "Bút phê của Chủ tịch Ủy ban hành chính tỉnh ở lề trang 1",
            ),
            _DocSpec(
                "14",
                "Ban Tổ chức chính quyền tỉnh Bắc Thái",
                "BC-TC",
                "Báo cáo tình hình công tác tổ chức, cán bộ 6 tháng đầu năm 1968",
                "Báo cáo công tác tổ chức",
                (3, 4),
            ),
        ),
    ),
    _HosoSpec(
        1971,
        45,
        "Hồ sơ về công tác phòng chống lụt bão và khắc phục hậu quả trận lũ tháng 8 năm 1971",
        "phòng chống lụt bão",
        "Tài liệu có ảnh đen trắng đi kèm; tên tệp quét có phần mô tả tiếng Việt.",
        (
            _DocSpec(
                "03",
                _UBHC,
                "CT-UB",
                "Chỉ thị về việc tăng cường công tác phòng chống lụt bão năm 1971",
                "Chỉ thị phòng chống lụt bão",
                (2, 3),
            ),
            _DocSpec(
                "23",
                "Ban Chỉ huy phòng chống lụt bão tỉnh Bắc Thái",
                "CĐ-PCLB",
                "Công điện khẩn về việc sơ tán nhân dân vùng ven sông Cầu",
                "Công điện sơ tán ven sông Cầu",
                (2, 2),
            ),
            _PicSpec(
                "Nhân dân xã Đồng Bẩm đắp đê chống lũ trên sông Cầu",
                "Trận lũ tháng 8 năm 1971",
                "Xã Đồng Bẩm, huyện Đồng Hỷ",
                "Phạm Văn Lộc",
                "02",
                "jpg",
                (12.0, 9.0),
                "Ảnh đắp đê sông Cầu",
            ),
            _DocSpec(
                "14",
                "Ty Thủy lợi Bắc Thái",
                "BC-TL",
                "Báo cáo thiệt hại do trận lũ tháng 8 năm 1971 gây ra trên địa bàn tỉnh",
                "Báo cáo thiệt hại lũ lụt",
                (3, 4),
            ),
            _PicSpec(
                "Bộ đội giúp nhân dân thị xã Thái Nguyên khắc phục hậu quả lũ lụt",
                "Trận lũ tháng 8 năm 1971",
                "Thị xã Thái Nguyên",
                "Phạm Văn Lộc",
                "02",
                "tif",
                (9.0, 6.0),
                "Ảnh khắc phục hậu quả lũ",
            ),
        ),
        months=(7, 9),
    ),
    _HosoSpec(
        1972,
        7,
        "Hồ sơ xây dựng công trình thủy lợi hồ Núi Cốc",
        "thủy lợi",
        "Bản vẽ kỹ thuật số hóa ở độ phân giải 300 dpi.",
        (
            _DocSpec(
                "15",
                "Ty Thủy lợi Bắc Thái",
                "TTr-TL",
                "Tờ trình về việc phê duyệt nhiệm vụ thiết kế công trình hồ chứa nước Núi Cốc",
                "Tờ trình nhiệm vụ thiết kế",
                (2, 3),
            ),
            _DocSpec(
                "31",
                "Ty Thủy lợi Bắc Thái",
                "BV-TL",
                "Bản vẽ mặt bằng và mặt cắt đập chính công trình hồ Núi Cốc",
                "Bản vẽ đập chính",
                (2, 2),
            ),
            _DocSpec(
                "20",
                "Ban Quản lý công trình hồ Núi Cốc",
                "BB-BQL",
                "Biên bản nghiệm thu khối lượng đào đắp đợt I",
                "Biên bản nghiệm thu đợt I",
                (2, 2),
            ),
            _PicSpec(
                "Lễ khởi công công trình thủy lợi hồ Núi Cốc",
                "Khởi công công trình hồ Núi Cốc",
                "Xã Tân Thái, huyện Đại Từ",
                "Nguyễn Hữu Tài",
                "02",
                "tif",
                (9.0, 6.0),
                "Ảnh lễ khởi công",
            ),
        ),
    ),
    _HosoSpec(
        1975,
        31,
        "Hồ sơ về việc khánh thành cầu Gia Bảy, thị xã Thái Nguyên",
        "giao thông",
        "Ảnh màu do Ty Văn hóa tỉnh chụp.",
        (
            _DocSpec(
                "07",
                "Ty Giao thông vận tải Bắc Thái",
                "TB-GT",
                "Thông báo về việc tổ chức lễ khánh thành cầu Gia Bảy",
                "Thông báo lễ khánh thành",
                (2, 2),
            ),
            _DocSpec(
                "26",
                _UBHC,
                "GM-UB",
                "Giấy mời dự lễ khánh thành cầu Gia Bảy",
                "Giấy mời khánh thành",
                (2, 2),
            ),
            _PicSpec(
                "Toàn cảnh cầu Gia Bảy ngày khánh thành",
                "Khánh thành cầu Gia Bảy",
                "Thị xã Thái Nguyên",
                "Nguyễn Hữu Tài",
                "01",
                "jpg",
                (15.0, 10.0),
                "Ảnh toàn cảnh cầu",
            ),
        ),
        months=(9, 12),
    ),
)

# ---------------------------------------------------------------------------------------------
# Minimal file-format writers.


@dataclass(frozen=True)
class _JpegPage:
    """A JPEG page image and the resolution at which it fills its PDF page."""

    data: bytes
    width: int
    height: int
    dpi: float


def _pdf_text(value: str) -> bytes:
    """A PDF text string: UTF-16BE with BOM, written as a hex string."""
    return b"<FEFF" + value.encode("utf-16-be").hex().upper().encode("ascii") + b">"


def _pdf_stream(header: bytes, data: bytes) -> bytes:
    return b"<< " + header + b" /Length %d >>\nstream\n" % len(data) + data + b"\nendstream"


def _pdf_page_objects(page: _JpegPage, first: int) -> list[bytes]:
    """Page, content stream and image XObject, numbered ``first``, ``first+1``, ``first+2``."""
    width_pt = page.width * 72.0 / page.dpi
    height_pt = page.height * 72.0 / page.dpi
    page_obj = (
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %.2f %.2f] "
        b"/Resources << /XObject << /Im0 %d 0 R >> /ProcSet [/PDF /ImageC] >> "
        b"/Contents %d 0 R >>" % (width_pt, height_pt, first + 2, first + 1)
    )
    content = b"q %.2f 0 0 %.2f 0 0 cm /Im0 Do Q" % (width_pt, height_pt)
    size = b"/Width %d /Height %d" % (page.width, page.height)
    image_header = b"/Type /XObject /Subtype /Image " + size + b" /ColorSpace /DeviceRGB /BitsPerComponent 8"
    image_header += b" /Filter /DCTDecode"
    return [page_obj, _pdf_stream(b"", content), _pdf_stream(image_header, page.data)]


def _pdf_bytes(pages: Sequence[_JpegPage], *, title: str, created: str, file_id: bytes) -> bytes:
    """A PDF 1.4 file with one DCTDecode image per page and a correct cross-reference table.

    ``created`` is a PDF date (``D:20250814093000+07'00'``); ``file_id`` seeds the trailer /ID.
    """
    kids = b" ".join(b"%d 0 R" % (4 + 3 * i) for i in range(len(pages)))
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, len(pages)),
        b"<< /Title %s /Producer (oais_preserve samples) /CreationDate (%s) >>"
        % (_pdf_text(title), created.encode("ascii")),
    ]
    for index, page in enumerate(pages):
        objects.extend(_pdf_page_objects(page, 4 + 3 * index))
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref_at = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f\r\n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n\r\n" % offset for offset in offsets)
    doc_id = hashlib.md5(file_id, usedforsecurity=False).hexdigest().upper().encode("ascii")
    out += b"trailer\n<< /Size %d /Root 1 0 R /Info 3 0 R /ID [<%s> <%s>] >>\n" % (
        len(objects) + 1,
        doc_id,
        doc_id,
    )
    out += b"startxref\n%d\n%%%%EOF\n" % xref_at
    return bytes(out)


def _jpeg_with_comment(data: bytes, comment: bytes) -> bytes:
    """Insert a COM segment after the leading APPn segments (keeps EXIF/JFIF first)."""
    pos = 2
    while data[pos] == 0xFF and 0xE0 <= data[pos + 1] <= 0xEF:
        pos += 2 + int.from_bytes(data[pos + 2 : pos + 4], "big")
    segment = b"\xff\xfe" + (len(comment) + 2).to_bytes(2, "big") + comment
    return data[:pos] + segment + data[pos:]


def _tiff_header(width: int, height: int, dpi: int) -> bytes:
    """Header and IFD of an uncompressed baseline RGB TIFF whose single strip follows it."""
    tags = 13
    ifd_size = 2 + 12 * tags + 4
    extra_at = 8 + ifd_size
    strip_at = extra_at + 6 + 8 + 8
    entries = [
        struct.pack("<HHII", 256, 4, 1, width),
        struct.pack("<HHII", 257, 4, 1, height),
        struct.pack("<HHII", 258, 3, 3, extra_at),
        struct.pack("<HHIHH", 259, 3, 1, 1, 0),
        struct.pack("<HHIHH", 262, 3, 1, 2, 0),
        struct.pack("<HHII", 273, 4, 1, strip_at),
        struct.pack("<HHIHH", 277, 3, 1, 3, 0),
        struct.pack("<HHII", 278, 4, 1, height),
        struct.pack("<HHII", 279, 4, 1, width * height * 3),
        struct.pack("<HHII", 282, 5, 1, extra_at + 6),
        struct.pack("<HHII", 283, 5, 1, extra_at + 14),
        struct.pack("<HHIHH", 284, 3, 1, 1, 0),
        struct.pack("<HHIHH", 296, 3, 1, 2, 0),
    ]
    ifd = struct.pack("<H", tags) + b"".join(entries) + struct.pack("<I", 0)
    extra = struct.pack("<HHH", 8, 8, 8) + struct.pack("<II", dpi, 1) * 2
    return b"II*\x00" + struct.pack("<I", 8) + ifd + extra


def _png_bytes(width: int, height: int, pixels: bytes) -> bytes:
    """An 8-bit RGB PNG; ``pixels`` holds ``width * height * 3`` bytes."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    row = width * 3
    raw = b"".join(b"\x00" + pixels[y * row : (y + 1) * row] for y in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw, 1))
        + chunk(b"IEND", b"")
    )


# ---------------------------------------------------------------------------------------------
# Page and photo images (pyvips).

_INK_BLACK = [38, 34, 42]
_INK_BLUE = [28, 48, 140]
_INK_RED = [188, 32, 38]


def _px(mm: float, dpi: int) -> int:
    return round(mm * dpi / MM_PER_INCH)


def _paper(width: int, height: int, rng: random.Random, grain: float = 0.0) -> Any:
    """A yellowed-paper background with soft blotches (and fine scanner grain if asked)."""
    tone = [rng.randint(232, 242), rng.randint(222, 232), rng.randint(194, 210)]
    base = pyvips.Image.black(width, height, bands=3) + tone + _noise(width, height, 5, rng, step=32)
    if grain:
        base = base + _noise(width, height, grain, rng)
    return base.cast("uchar")


def _a4_paper(dpi: int, rng: random.Random, grain: float = 0.0) -> Any:
    """One sheet of paper stock for a whole document, in memory, with its resolution set."""
    paper = _paper(_px(A4_MM[0], dpi), _px(A4_MM[1], dpi), rng, grain)
    return _with_dpi(paper, dpi).copy_memory()


def _turn(paper: Any, page: int) -> Any:
    """The same stock turned around, so consecutive pages do not share their blotches."""
    if page % 4 == 2:
        return paper.rot180()
    if page % 4 == 3:
        return paper.fliphor()
    return paper.flipver() if page % 4 == 0 else paper


def _dpi_of(image: Any) -> int:
    return round(float(image.xres) * MM_PER_INCH)


def _noise(width: int, height: int, sigma: float, rng: random.Random, step: int = 1) -> Any:
    """Zero-mean grain (uniform, standard deviation ``sigma``) from Python's seeded generator.

    With ``step`` > 1 it is enlarged into soft blotches of about that size. Python's generator
    (not libvips') keeps the bytes identical across libvips versions, and is faster.
    """
    small_w, small_h = -(-width // step) + 1, -(-height // step) + 1
    raw = pyvips.Image.new_from_memory(rng.randbytes(small_w * small_h), small_w, small_h, 1, "uchar")
    grain = (raw - 128) * (sigma / 73.9)
    if step == 1:
        return grain.crop(0, 0, width, height)
    return grain.resize(step, kernel="linear").crop(0, 0, width, height)


_Draw = Callable[[Any], Any]
_INKS = (("black", _INK_BLACK), ("blue", _INK_BLUE), ("red", _INK_RED))


class _Sheet:
    """Ink layers (black, blue, red) over a page, kept as lazy libvips pipelines.

    Text and solid bars are inserted; line art is drawn on a small local canvas (``patch``)
    and merged, because a draw call on a whole page copies the page in memory.
    """

    def __init__(self, width: int, height: int, dpi: int) -> None:
        self.width, self.height, self.dpi = width, height, dpi
        self.layers: dict[str, Any] = {}

    def _layer(self, ink: str) -> Any:
        return self.layers.get(ink, pyvips.Image.black(self.width, self.height))

    def put(self, image: Any, x: int, y: int, ink: str = "black") -> None:
        """Insert a one-band 0-255 ``image`` (replacing what is under it) at (x, y)."""
        self.layers[ink] = self._layer(ink).insert(image, x, y)

    def text(self, markup: str, x: int, y: int, *, font: str = "serif 11", **kw: Any) -> tuple[int, int]:
        """Place Pango ``markup`` with its top-left corner at (x, y); returns its size."""
        block = pyvips.Image.text(markup, font=font, dpi=self.dpi, **kw)
        self.put(block, x, y)
        return int(block.width), int(block.height)

    def centred(self, markup: str, left: int, span: int, y: int, **kw: Any) -> int:
        """Place ``markup`` centred in the band [left, left + span); returns its height."""
        block = pyvips.Image.text(markup, font=kw.pop("font", "serif 11"), dpi=self.dpi, **kw)
        self.put(block, left + max(0, (span - int(block.width)) // 2), y)
        return int(block.height)

    def bar(self, x: int, y: int, width: int, height: int) -> None:
        """A solid black rectangle (rules, frame sides)."""
        self.put(pyvips.Image.black(max(1, width), max(1, height)) + 255, x, y)

    def patch(self, x: int, y: int, size: tuple[int, int], draws: Sequence[_Draw], ink: str) -> None:
        """Run ``draws`` on a blank ``size`` canvas and merge it at (x, y)."""
        canvas = pyvips.Image.black(*size)
        for draw in draws:
            canvas = draw(canvas)
        self.add_mask(canvas.embed(x, y, self.width, self.height), ink)

    def add_mask(self, mask: Any, ink: str = "black") -> None:
        """Merge a whole-page 0-255 mask (grid, contour lines) into an ink layer."""
        self.layers[ink] = self._layer(ink).maxpair(mask.cast("uchar"))

    def render(self, paper: Any) -> Any:
        page = paper
        for ink, colour in _INKS:
            if ink in self.layers:
                mask = self.layers[ink].cast("uchar").gaussblur(0.6)
                page = mask.ifthenelse(colour, page, blend=True)
        return page


def _polyline(points: Sequence[tuple[int, int]], thick: int) -> list[_Draw]:
    """Draw calls for a polyline ``thick`` pixels high."""
    return [
        functools.partial(_draw_line, (x1, y1 + o, x2, y2 + o))
        for (x1, y1), (x2, y2) in itertools.pairwise(points)
        for o in range(thick)
    ]


def _draw_line(coords: tuple[int, int, int, int], canvas: Any) -> Any:
    return canvas.draw_line(255, *coords)


def _draw_circle(centre: tuple[int, int], radius: int, canvas: Any) -> Any:
    return canvas.draw_circle(255, centre[0], centre[1], radius)


@dataclass(frozen=True)
class _PageText:
    """What a page of a typed document says."""

    organ: str
    type_name: str
    number: str
    subject: str
    issued: tuple[int, int, int]
    signer: str
    position: str
    stamp: str


def _margins(dpi: int) -> tuple[int, int, int, int]:
    """Left, top, right, bottom margins of Vietnamese administrative documents (30/20/15/20 mm)."""
    return _px(30, dpi), _px(20, dpi), _px(15, dpi), _px(20, dpi)


def _first_page_header(sheet: _Sheet, text: _PageText) -> int:
    left, top, right, _ = _margins(sheet.dpi)
    half = (sheet.width - left - right) // 2
    day, month, year = text.issued
    sheet.text(
        escape(text.stamp), sheet.width - right - _px(70, sheet.dpi), _px(6, sheet.dpi), font="serif 8"
    )
    organ = f"{escape(text.organ.upper())}\nSố: {escape(text.number)}"
    h1 = sheet.centred(organ, left - _px(10, sheet.dpi), half, top, align="centre", font="serif 10")
    motto = "<b>VIỆT NAM DÂN CHỦ CỘNG HÒA</b>\n<b>Độc lập - Tự do - Hạnh phúc</b>"
    h2 = sheet.centred(motto, left + half, half, top, align="centre", font="serif 10")
    rule_y = top + h2 + _px(1, sheet.dpi)
    sheet.bar(left + half + half // 4, rule_y, half // 2, 2)
    dated = f"<i>{_PLACE}, ngày {day:02d} tháng {month:02d} năm {year}</i>"
    h3 = sheet.centred(dated, left + half, half, rule_y + _px(4, sheet.dpi), font="serif 10")
    y = max(top + h1, rule_y + _px(4, sheet.dpi) + h3) + _px(10, sheet.dpi)
    kind = _TYPE_LABELS[text.type_name].upper()
    y += sheet.centred(f"<b>{escape(kind)}</b>", left, 2 * half, y, font="serif 13")
    y += _px(3, sheet.dpi)
    y += sheet.centred(
        f"<b>{escape(_display_subject(text))}</b>", left, 2 * half, y, align="centre", width=2 * half
    )
    return y + _px(8, sheet.dpi)


def _display_subject(text: _PageText) -> str:
    """The trích yếu under the document type: "Quyết định về việc X" is printed "Về việc X"."""
    label = _TYPE_LABELS[text.type_name]
    rest = text.subject[len(label) :].strip() if text.subject.startswith(label) else text.subject
    return rest[:1].upper() + rest[1:]


def _paragraph(rng: random.Random, article: int | None) -> str:
    body = " ".join(rng.sample(_SENTENCES, rng.randint(2, 4)))
    lead = f"<b>Điều {article}.</b> " if article else ""
    return "    " + lead + escape(body)


def _body(sheet: _Sheet, rng: random.Random, y: int, limit: int, articles: bool) -> int:
    """Typed paragraphs from ``y`` until the next would pass ``limit``; returns the new y."""
    left, _, right, _ = _margins(sheet.dpi)
    span = sheet.width - left - right
    article = 1 if articles else None
    while True:
        markup = _paragraph(rng, article)
        block = pyvips.Image.text(markup, font="serif 11", dpi=sheet.dpi, width=span, justify=True)
        if y + int(block.height) > limit:
            return y
        sheet.put(block, left, y)
        y += int(block.height) + _px(3, sheet.dpi)
        article = article + 1 if article else None


def _signature(sheet: _Sheet, rng: random.Random, text: _PageText, y: int) -> None:
    """Recipients block, signer's title, a hand signature (blue) and the seal (red)."""
    left, _, right, _ = _margins(sheet.dpi)
    half = (sheet.width - left - right) // 2
    recipients = "<b><i>Nơi nhận:</i></b>\n- Như trên;\n- Thường vụ Tỉnh ủy;\n- Lưu VT."
    sheet.text(recipients, left, y, font="serif 8")
    title = f"<b>T/M {escape(text.organ.upper())}\n{escape(text.position)}</b>"
    h = sheet.centred(title, left + half, half, y, align="centre", width=half, font="serif 10")
    cx, cy = left + half + half // 2, y + h + _px(14, sheet.dpi)
    step, box = _px(6, sheet.dpi), _px(40, sheet.dpi)
    points = [(i * step + 2, box // 2 + rng.randint(-25, 25)) for i in range(7)]
    sheet.patch(cx - box // 2, cy - box // 2, (box, box), _polyline(points, 3), ink="blue")
    radius = _px(17, sheet.dpi)
    rings = [
        functools.partial(_draw_circle, (radius + 2, radius + 2), r)
        for r in (radius, radius - 4, radius * 2 // 3)
    ]
    seal_x = cx - _px(12, sheet.dpi) - radius - 2
    sheet.patch(seal_x, cy - radius - 2, (2 * radius + 5, 2 * radius + 5), rings, ink="red")
    sheet.centred(f"<b>{escape(text.signer)}</b>", left + half, half, cy + _px(16, sheet.dpi))


def _render_typed_page(text: _PageText, page: int, pages: int, paper: Any, rng: random.Random) -> Any:
    width, height, dpi = int(paper.width), int(paper.height), _dpi_of(paper)
    sheet = _Sheet(width, height, dpi)
    left, top, right, bottom = _margins(dpi)
    if page == 1:
        y = _first_page_header(sheet, text)
    else:
        y = top + sheet.centred(f"- {page} -", left, width - left - right, top) + _px(6, dpi)
    last = page == pages
    fill = rng.uniform(0.45, 0.6) if last else rng.uniform(0.75, 0.95)
    y = _body(sheet, rng, y, top + int((height - top - bottom) * fill), articles=text.type_name == "02")
    if last:
        _signature(sheet, rng, text, y + _px(6, dpi))
    return sheet.render(paper)


def _render_drawing_page(text: _PageText, page: int, paper: Any, rng: random.Random) -> Any:
    """A technical drawing: frame, grid, contour lines, a dam section and a title block."""
    width, height, dpi = int(paper.width), int(paper.height), _dpi_of(paper)
    sheet = _Sheet(width, height, dpi)
    m = _px(10, dpi)
    xyz = pyvips.Image.xyz(width, height)
    x, y = xyz[0], xyz[1]
    grid = ((x % _px(10, dpi)) < 2) | ((y % _px(10, dpi)) < 2)
    sheet.add_mask(grid.ifthenelse(70, 0))
    amp, inner = _px(15, dpi), width - 2 * m
    for i in range(6):
        phase, k = rng.uniform(0, math.tau), math.tau / (inner * rng.uniform(0.4, 0.9))
        points = [(px, round(amp + amp * math.sin(px * k + phase))) for px in range(0, inner + 120, 120)]
        ink = "blue" if i == 3 else "black"
        sheet.patch(m, int(height * (0.15 + 0.12 * i)), (inner, 2 * amp + 4), _polyline(points, 2), ink)
    top, crest, toe = int(height * 0.4), int(height * 0.05), int(height * 0.22)
    dam = [(m * 4, toe), (int(width * 0.4), crest), (int(width * 0.55), crest), (width - m * 4, toe)]
    sheet.patch(0, top, (width, toe + 8), _polyline(dam, 4), ink="black")
    block_x, block_y = width - _px(110, dpi), height - _px(50, dpi)
    for bx, by, bw, bh in (
        (m, m, width - 2 * m, height - 2 * m),
        (block_x, block_y, width - m - block_x, height - m - block_y),
    ):
        for side in ((bx, by, bw, 3), (bx, by + bh - 3, bw, 3), (bx, by, 3, bh), (bx + bw - 3, by, 3, bh)):
            sheet.bar(*side)
    label = (
        f"<b>{escape(text.subject)}</b>\nTờ số {page} - Tỷ lệ 1:500\n"
        f"{escape(text.organ)}\nNgười vẽ: {escape(text.signer)}"
    )
    sheet.text(label, width - _px(107, dpi), height - _px(47, dpi), font="serif 8", width=_px(100, dpi))
    return sheet.render(paper)


def _render_photo(width: int, height: int, rng: random.Random, colour: bool) -> Any:
    """A scanned photographic print: sky, hills, a river, a bridge, grain and a white border.

    The scene is drawn at a quarter of the size (draw calls copy their image) and enlarged.
    """
    scene = _fit(_photo_scene(max(16, width // 4), max(16, height // 4), rng), width, height)
    image = scene + _noise(width, height, 8, rng, step=24) + _noise(width, height, 5, rng)
    image = image.cast("uchar").copy(interpretation="srgb")
    if not colour:
        image = image.colourspace("b-w") * [1.0, 0.95, 0.82]
    border = max(8, width // 40)
    return image.cast("uchar").embed(
        border,
        border,
        width + 2 * border,
        height + 2 * border,
        extend="background",
        background=[244, 241, 232],
    )


def _photo_scene(width: int, height: int, rng: random.Random) -> Any:
    y = pyvips.Image.xyz(width, height)[1]
    horizon = int(height * rng.uniform(0.4, 0.55))
    t = y / height
    sky = t * [60, 40, 20] + [150, 185, 222]
    ground = t * [-30, -30, -20] + [98, 118, 70]
    image = (y < horizon).ifthenelse(sky, ground).cast("uchar").copy_memory()
    for _ in range(3):
        cx, r = rng.randint(0, width), rng.randint(height // 8, height // 4)
        image = image.draw_circle([70, 95, 60], cx, horizon + r // 2, r, fill=True)
    river = horizon + (height - horizon) // 3
    image = image.draw_rect([90, 105, 120], 0, river, width, (height - horizon) // 3, fill=True)
    deck = river - height // 20
    image = image.draw_rect([120, 118, 112], 0, deck, width, max(2, height // 40), fill=True)
    for px in range(width // 10, width, max(1, width // 5)):
        image = image.draw_rect([105, 100, 95], px, deck, max(1, width // 60), height // 5, fill=True)
    return image


def _fit(image: Any, width: int, height: int) -> Any:
    """Enlarge ``image`` to exactly ``width`` x ``height``."""
    big = image.resize(width / image.width, vscale=height / image.height, kernel="linear")
    big = big.crop(0, 0, min(width, big.width), min(height, big.height))
    return big.embed(0, 0, width, height, extend="copy")


def _with_dpi(image: Any, dpi: float) -> Any:
    return image.copy(interpretation="srgb", xres=dpi / MM_PER_INCH, yres=dpi / MM_PER_INCH)


def _jpeg_page(image: Any, dpi: int, quality: int = 72) -> _JpegPage:
    data = _with_dpi(image, dpi).jpegsave_buffer(Q=quality, keep="none")
    return _JpegPage(bytes(data), int(image.width), int(image.height), float(dpi))


# ---------------------------------------------------------------------------------------------
# Descriptions.


def _date(day: int, month: int, year: int) -> str:
    return f"{day:02d}/{month:02d}/{year}"


def _dates_in_year(
    rng: random.Random, year: int, count: int, months: tuple[int, int] = (1, 12)
) -> list[tuple[int, int, int]]:
    """``count`` sorted (day, month, year) dates within ``months`` (days 1-28 only)."""
    window = range((months[0] - 1) * 28, months[1] * 28)
    picked = sorted(rng.choices(window, k=count) if count > len(window) else rng.sample(window, count))
    return [(d % 28 + 1, d // 28 + 1, year) for d in picked]


def _write_json(path: Path, document: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


def _hoso_record(
    spec_title: str, file_code: str, dates: Sequence[tuple[int, int, int]], digitized: bool
) -> dict[str, Any]:
    """File-level fields common to every generator; counts are filled in by the caller."""
    record: dict[str, Any] = {
        "fileCode": file_code,
        "title": spec_title,
        "maintenance": "01",
        "mode": "01",
        "language": "01",
        "startDate": _date(*min(dates, key=lambda d: (d[2], d[1], d[0]))),
        "endDate": _date(*max(dates, key=lambda d: (d[2], d[1], d[0]))),
        "totalDoc": 0,
        "riskRecovery": 0,
    }
    if digitized:
        record |= {"numberOfPaper": 0, "numberOfPage": 0, "format": "02", "confidenceLevel": "02"}
    else:
        record |= {"numberOfPage": 0, "confidenceLevel": "01"}
    return record


def _finish_hoso(hoso: dict[str, Any], documents: Sequence[dict[str, Any]], sheets: int) -> None:
    """Make the file-level counts agree with the documents."""
    hoso["totalDoc"] = len(documents)
    hoso["numberOfPage"] = sum(int(d.get("numberOfPage", 0)) for d in documents)
    if "numberOfPaper" in hoso:
        hoso["numberOfPaper"] = sheets


def _digitization(hoso: dict[str, Any], when: str, paper_code: str) -> None:
    """Digitized-file fields (TT05: paperFileCode required) and the digitization event."""
    hoso |= {
        "paperFileCode": paper_code,
        "riskRecovery": 1,
        "riskRecoveryStatus": "01",
        "digitizedAt": when,
        "digitizedBy": _FONDS["organization"],
    }


def _description(hoso: dict[str, Any], documents: list[dict[str, Any]]) -> dict[str, Any]:
    return {"schema": DESCRIPTION_SCHEMA, "fonds": dict(_FONDS), "hoso": hoso, "documents": documents}


# ---------------------------------------------------------------------------------------------
# The sample fonds.


@dataclass(frozen=True)
class _HosoContext:
    spec: _HosoSpec
    file_code: str
    year: int
    scans: Path
    nfd: bool
    signed: str
    stamp: str
    created: str


def _file_name(ctx: _HosoContext, ordinal: int, short: str, ext: str) -> str:
    """``mã hồ sơ.số thứ tự`` (TT05 Art. 8(1)(d)); the NFD hồ sơ adds a Vietnamese suffix."""
    name = f"{ctx.file_code}.{ordinal}"
    if ctx.nfd:
        name += "_" + short.replace(" ", "_")
    return f"{name}.{ext}"


def _on_disk(ctx: _HosoContext, name: str) -> Path:
    """Where ``name`` (NFC, as the description lists it) is written: NFD for the NFD hồ sơ."""
    return ctx.scans / (unicodedata.normalize("NFD", name) if ctx.nfd else name)


def _make_document(
    ctx: _HosoContext, spec: _DocSpec, ordinal: int, issued: tuple[int, int, int], rng: random.Random
) -> tuple[dict[str, Any], int]:
    """Render one typed document as a multi-page PDF; returns its record and its paper sheets."""
    pages = rng.randint(*spec.pages)
    dpi = 300 if spec.type_name in _DRAWING_TYPES else 200
    code_number = str(rng.randint(3, 240))
    text = _PageText(
        spec.organ,
        spec.type_name,
        f"{code_number}/{spec.notation}",
        spec.subject,
        issued,
        rng.choice(_SIGNERS),
        rng.choice(_POSITIONS),
        ctx.stamp,
    )
    paper = _a4_paper(dpi, rng)
    images = [
        _render_drawing_page(text, p, _turn(paper, p), rng)
        if spec.type_name in _DRAWING_TYPES
        else _render_typed_page(text, p, pages, _turn(paper, p), rng)
        for p in range(1, pages + 1)
    ]
    name = _file_name(ctx, ordinal, spec.short, "pdf")
    pdf = _pdf_bytes(
        [_jpeg_page(im, dpi) for im in images],
        title=spec.subject,
        created=ctx.created,
        file_id=f"{ctx.file_code}.{ordinal}".encode(),
    )
    _on_disk(ctx, name).write_bytes(pdf)
    two_sided = pages > 2 and rng.random() < 0.5
    record: dict[str, Any] = {
        "kind": "doc",
        "docOrdinal": ordinal,
        "files": [name],
        "typeName": spec.type_name,
        "codeNumber": code_number,
        "codeNotation": spec.notation,
        "issuedDate": _date(*issued),
        "organName": spec.organ,
        "subject": spec.subject,
        "mode": "01",
        "language": "01",
        "numberOfPage": pages,
        "format": "02",
        "confidenceLevel": "02",
    }
    if spec.autograph:
        record["autograph"] = spec.autograph
    return record, math.ceil(pages / 2) if two_sided else pages


def _make_photo(
    ctx: _HosoContext, spec: _PicSpec, ordinal: int, taken: tuple[int, int, int], rng: random.Random
) -> dict[str, Any]:
    """Scan one photographic print at 300 dpi as TIFF (deflate) or JPEG."""
    dpi = 300
    width, height = (_px(cm * 10, dpi) for cm in spec.size_cm)
    image = _with_dpi(_render_photo(width, height, rng, spec.colour == "01"), dpi)
    name = _file_name(ctx, ordinal, spec.short, spec.ext)
    if spec.ext == "tif":
        image.tiffsave(
            str(_on_disk(ctx, name)), compression="deflate", predictor="horizontal", resunit="inch"
        )
    else:
        image.jpegsave(str(_on_disk(ctx, name)), Q=85)
    return {
        "kind": "pic",
        "docOrdinal": ordinal,
        "files": [name],
        "typePic": "02",
        "archivesNumber": f"A.{ctx.year}.{ordinal:03d}",
        "eventName": spec.event,
        "imageTitle": spec.image_title,
        "photographer": spec.photographer,
        "photoPlace": spec.place,
        "photoTime": _date(*taken),
        "colour": spec.colour,
        "filmSize": f"{spec.size_cm[0]:g}x{spec.size_cm[1]:g} cm",
        "mode": "01",
        "format": "02",
    }


def _make_hoso(ctx: _HosoContext, rng: random.Random) -> dict[str, Any]:
    dates = _dates_in_year(rng, ctx.year, len(ctx.spec.items), ctx.spec.months)
    documents: list[dict[str, Any]] = []
    sheets = 0
    for ordinal, (item, when) in enumerate(zip(ctx.spec.items, dates, strict=True), start=1):
        if isinstance(item, _DocSpec):
            record, used = _make_document(ctx, item, ordinal, when, rng)
            sheets += used
        else:
            record = _make_photo(ctx, item, ordinal, when, rng)
        documents.append(record)
    hoso = _hoso_record(ctx.spec.title, ctx.file_code, dates, digitized=True)
    hoso["keyword"] = ctx.spec.keyword
    _finish_hoso(hoso, documents, sheets)
    _digitization(hoso, ctx.signed, f"{_ARCHIVE_CODE}.K{rng.randint(1, 9)}.{ctx.spec.number}")
    hoso["description"] = ctx.spec.description
    return _description(hoso, documents)


def _hoso_context(index: int, scans: Path, nfd_index: int, rng: random.Random) -> _HosoContext:
    spec = _HOSO_SPECS[index % len(_HOSO_SPECS)]
    cycle = index // len(_HOSO_SPECS)
    if cycle:
        spec = dataclasses.replace(
            spec, number=spec.number + 100 * cycle, title=f"{spec.title} (tập {cycle + 1})"
        )
    signed = f"2025-08-{rng.randint(4, 29):02d}T{rng.randint(8, 16):02d}:{rng.randint(0, 59):02d}:00+07:00"
    return _HosoContext(
        spec=spec,
        file_code=f"{_ORGAN_ID}.{spec.year}.{spec.number}",
        year=spec.year,
        scans=scans,
        nfd=index == nfd_index,
        signed=signed,
        stamp=f"Ký bởi: {_FONDS['organization']}\nThời gian ký: {signed}",
        created="D:" + re.sub(r"\D", "", signed[:19]) + "+07'00'",
    )


def generate_sample_fonds(dest: Path, *, hoso_count: int = 3, seed: int = 0) -> list[Path]:
    """Write a small, realistic digitized fonds; return the description paths (one per hồ sơ).

    Layout: ``dest/scans/`` holds the scans (give it to the builder as the source folder) and
    ``dest/descriptions/<fileCode>.json`` one description per hồ sơ (``docs/description-format.md``).

    * Typed documents are multi-page PDF 1.4 scans, one JPEG (DCTDecode) image per A4 page at
      200 dpi (technical drawings at 300 dpi, TT05 Art. 8), with a visible digitization stamp on
      page 1. Photos are 300 dpi TIFF (deflate) or JPEG scans of prints. The resolution is set in
      every image.
    * Files are named ``mã hồ sơ.số thứ tự`` (``H55.22.07.1968.12.1.pdf``).
    * **Normalization test:** the second hồ sơ (the only one if ``hoso_count`` is 1) adds a
      Vietnamese suffix to its file names (``H55.22.07.1971.45.1_Chỉ_thị_….pdf``) and writes them
      in **NFD** on disk, as macOS tools do, while its description lists them in NFC, as typed.
      A builder must match the two after normalization and store the NFC name.
    * ``totalDoc``, ``numberOfPage`` (sum of the documents' pages) and ``numberOfPaper`` (sheets)
      agree with the documents; dates lie between ``startDate`` and ``endDate``.

    The default three hồ sơ take about 10 MB. The same ``seed`` gives the same bytes.
    """
    scans = dest / SCANS_DIR
    scans.mkdir(parents=True, exist_ok=True)
    nfd_index = min(1, hoso_count - 1)
    written = []
    for index in range(hoso_count):
        rng = random.Random(f"{seed}:{index}")
        ctx = _hoso_context(index, scans, nfd_index, rng)
        path = dest / DESCRIPTIONS_DIR / f"{ctx.file_code}.json"
        _write_json(path, _make_hoso(ctx, rng))
        written.append(path)
    return written


# ---------------------------------------------------------------------------------------------
# Benchmark corpora.


class _Noise:
    """One pseudo-random block, handed out in cheap, varied slices."""

    def __init__(self, rng: random.Random, size: int = _RANDOM_BLOCK) -> None:
        self.block = memoryview(rng.randbytes(size))
        self.rng = rng

    def chunks(self, total: int) -> Iterator[bytes | memoryview]:
        """``total`` bytes: slices from a random offset, with an 8-byte salt every MiB."""
        pos = self.rng.randrange(len(self.block))
        left = total
        while left > 0:
            salt = self.rng.randbytes(min(8, left))
            yield salt
            left -= len(salt)
            take = min(left, _SALT_EVERY - len(salt), len(self.block) - pos)
            if take:
                yield self.block[pos : pos + take]
            left -= take
            pos = (pos + take) % len(self.block)

    def take(self, total: int) -> bytes:
        return b"".join(self.chunks(total))


def _write_chunks(path: Path, head: bytes, chunks: Iterator[bytes | memoryview]) -> int:
    with open(path, "wb") as out:
        out.write(head)
        size = len(head)
        for chunk in chunks:
            out.write(chunk)
            size += len(chunk)
    return size


def _scan_page_templates(rng: random.Random, count: int) -> list[_JpegPage]:
    """A4 pages at 200 dpi with typed text and scanner grain (about 0.5-0.8 MB each)."""
    pages = []
    for _ in range(count):
        dpi = 200
        width, height = _px(A4_MM[0], dpi), _px(A4_MM[1], dpi)
        sheet = _Sheet(width, height, dpi)
        _body(sheet, rng, _px(25, dpi), height - _px(25, dpi), articles=False)
        image = sheet.render(_paper(width, height, rng, grain=4.0))
        pages.append(_jpeg_page(image, dpi, quality=80))
    return pages


def _photo_templates(rng: random.Random, sizes_cm: Sequence[tuple[float, float]]) -> list[bytes]:
    templates = []
    for w_cm, h_cm in sizes_cm:
        width, height = _px(w_cm * 10, 300), _px(h_cm * 10, 300)
        image = _with_dpi(_render_photo(width, height, rng, colour=True), 300)
        templates.append(bytes(image.jpegsave_buffer(Q=90)))
    return templates


def _plan_kinds(rng: random.Random, count: int, weights: Mapping[str, float]) -> list[str]:
    """``count`` kinds in proportion to ``weights``, every kind present when count allows."""
    kinds = list(weights)
    plan = kinds[: min(count, len(kinds))]
    plan += rng.choices(kinds, weights=[weights[k] for k in kinds], k=count - len(plan))
    rng.shuffle(plan)
    return plan


@dataclass
class _CorpusFile:
    name: str
    kind: str
    size: int
    pages: int = 1


def _scan_pdf(path: Path, target: int, pages: Sequence[_JpegPage], rng: random.Random, ident: str) -> int:
    chosen: list[_JpegPage] = []
    while not chosen or sum(len(p.data) for p in chosen) < target * 0.95:
        chosen.append(rng.choice(pages))
    data = _pdf_bytes(chosen, title=ident, created="D:20250814093000+07'00'", file_id=ident.encode())
    path.write_bytes(data)
    return len(chosen)


def _scan_tiff(path: Path, target: int, noise: _Noise) -> int:
    pixels = max(1, (target - 200) // 3)
    width = max(1, int(math.sqrt(pixels / math.sqrt(2))))
    height = max(1, pixels // width)
    return _write_chunks(path, _tiff_header(width, height, 300), noise.chunks(width * height * 3))


def _nearest(templates: Sequence[bytes], target: int) -> bytes:
    return min(templates, key=lambda t: abs(len(t) - target))


def _scan_targets(rng: random.Random, kinds: Sequence[str], total: int) -> list[int]:
    factor = {"tif": 1.5, "pdf": 1.0, "jpg": 0.4}
    raw = [factor[k] * rng.lognormvariate(0, 0.3) for k in kinds]
    scale = total / sum(raw)
    return [max(4096, int(r * scale)) for r in raw]


def _corpus_file_code(number: int) -> str:
    return f"{_ORGAN_ID}.1980.{number}"


def generate_scan_corpus(dest: Path, *, total_bytes: int, file_count: int, seed: int = 0) -> Path:
    """Write about ``total_bytes`` of scan-like files and one description; return its path.

    Layout: ``dest/files/`` (the source folder) and ``dest/description.json`` (one digitized hồ
    sơ, one document per file). The mix is TIFF (uncompressed RGB, 300 dpi, random pixels), PDF
    (A4 200 dpi JPEG pages) and JPEG (photo scans); sizes vary around ``total_bytes / file_count``.
    PDFs and JPEGs reuse a few pre-rendered images; TIFFs absorb the remainder so that the total
    is close to ``total_bytes``. Content is pseudo-random (incompressible) and varied per file.
    """
    rng = random.Random(f"scan:{seed}")
    files_dir = dest / CORPUS_FILES_DIR
    files_dir.mkdir(parents=True, exist_ok=True)
    kinds = _plan_kinds(rng, file_count, {"tif": 45, "pdf": 40, "jpg": 15})
    targets = _scan_targets(rng, kinds, total_bytes)
    kit = _ScanKit(rng, _Noise(rng), _scan_page_templates(rng, 4), _photo_templates(rng, _PHOTO_SIZES_CM))
    file_code = _corpus_file_code(900 + seed)
    files: list[_CorpusFile] = []
    written = 0
    tif_targets = sum(t for t, k in zip(targets, kinds, strict=True) if k == "tif")
    for index in sorted(range(file_count), key=lambda i: kinds[i] == "tif"):  # TIFFs last
        kind, target = kinds[index], targets[index]
        if kind == "tif":  # scaled so that the total lands on total_bytes
            target, tif_targets = (
                int(target * (total_bytes - written) / max(1, tif_targets)),
                tif_targets - target,
            )
        name = f"{file_code}.{index + 1}.{kind}"
        pages = _write_scan_file(kit, kind, files_dir / name, max(4096, target))
        size = (files_dir / name).stat().st_size
        files.append(_CorpusFile(name, kind, size, pages))
        written += size
    files.sort(key=lambda f: int(f.name.split(".")[-2]))
    return _write_corpus_description(dest, file_code, files, rng, digitized=True)


@dataclass(frozen=True)
class _ScanKit:
    rng: random.Random
    noise: _Noise
    pages: Sequence[_JpegPage]
    photos: Sequence[bytes]


_PHOTO_SIZES_CM = ((10.0, 7.5), (15.0, 10.0), (20.0, 15.0), (30.0, 20.0))


def _write_scan_file(kit: _ScanKit, kind: str, path: Path, target: int) -> int:
    """Write one scan of about ``target`` bytes; returns its page count."""
    if kind == "pdf":
        return _scan_pdf(path, target, kit.pages, kit.rng, path.name)
    if kind == "jpg":
        path.write_bytes(_jpeg_with_comment(_nearest(kit.photos, target), path.name.encode()))
    else:
        _scan_tiff(path, target, kit.noise)
    return 1


def _corpus_document(entry: _CorpusFile, ordinal: int, issued: str, digitized: bool) -> dict[str, Any]:
    if entry.kind in ("jpg", "png", "tif") and not (digitized and entry.kind == "tif"):
        return {
            "kind": "pic",
            "docOrdinal": ordinal,
            "files": [entry.name],
            "typePic": "02",
            "imageTitle": f"Ảnh tư liệu số {ordinal}",
            "photoTime": issued,
            "colour": "01",
            "mode": "01",
        }
    record: dict[str, Any] = {
        "kind": "doc",
        "docOrdinal": ordinal,
        "files": [entry.name],
        "typeName": {"tif": "30", "pdf": "14", "docx": "22", "csv": "14"}.get(entry.kind, "32"),
        "issuedDate": issued,
        "organName": _UBHC,
        "subject": f"Tài liệu số {ordinal} ({entry.kind.upper()})",
        "mode": "01",
        "language": "01",
        "numberOfPage": entry.pages,
        "confidenceLevel": "02" if digitized else "01",
    }
    if not digitized:
        record["process"] = 0
    return record


def _grouped_document(
    group: Sequence[_CorpusFile], ordinal: int, issued: str, digitized: bool
) -> dict[str, Any]:
    """One document made of several files (e.g. one file per scanned page)."""
    record = _corpus_document(group[0], ordinal, issued, digitized)
    record["files"] = [entry.name for entry in group]
    if record["kind"] == "doc":
        record["numberOfPage"] = sum(entry.pages for entry in group)
    return record


def _write_corpus_description(
    dest: Path,
    file_code: str,
    files: Sequence[_CorpusFile],
    rng: random.Random,
    *,
    digitized: bool,
    files_per_document: int = 1,
) -> Path:
    groups = [files[i : i + files_per_document] for i in range(0, len(files), files_per_document)]
    dates = _dates_in_year(rng, 1980, min(len(groups), 300))
    documents = [
        _grouped_document(group, i, _date(*dates[(i - 1) % len(dates)]), digitized)
        for i, group in enumerate(groups, start=1)
    ]
    title = (
        "Tập tài liệu số hóa dùng để đo hiệu năng" if digitized else "Tập tài liệu điện tử hỗn hợp định dạng"
    )
    hoso = _hoso_record(title, file_code, dates, digitized=digitized)
    sheets = sum(int(d.get("numberOfPage", 0)) for d in documents)
    _finish_hoso(hoso, documents, sheets)
    if digitized:
        _digitization(hoso, "2025-08-14T09:30:00+07:00", f"{_ARCHIVE_CODE}.K9.{file_code.rsplit('.', 1)[-1]}")
    path = dest / "description.json"
    _write_json(path, _description(hoso, documents))
    return path


# --- small files ----------------------------------------------------------------------------

_SMALL_WEIGHTS = {
    "pdf": 14,
    "png": 10,
    "jpg": 14,
    "tif": 8,
    "xml": 10,
    "txt": 12,
    "csv": 10,
    "docx": 12,
    "bin": 10,
}


@dataclass(frozen=True)
class _SmallKit:
    rng: random.Random
    noise: _Noise
    jpegs: Sequence[bytes]


def _small_jpegs(rng: random.Random) -> list[bytes]:
    """Photo thumbnails from about 2 KB to 45 KB."""
    out = []
    for width, quality in ((96, 60), (160, 70), (240, 75), (320, 80), (400, 85), (480, 88)):
        image = _render_photo(width, width * 3 // 4, rng, colour=True)
        out.append(bytes(_with_dpi(image, 96).jpegsave_buffer(Q=quality)))
    return out


def _text_lines(rng: random.Random, target: int) -> Iterator[str]:
    size = 0
    while size < target:
        line = rng.choice(_SENTENCES)
        size += len(line.encode()) + 1
        yield line


def _small_text(kit: _SmallKit, target: int, name: str) -> bytes:
    text = "\n".join(_text_lines(kit.rng, target)) + "\n"
    return text.encode()[:target].decode(errors="ignore").encode()  # cut on a character boundary


def _small_csv(kit: _SmallKit, target: int, name: str) -> bytes:
    rows = ["stt,ma_ho_so,ngay,noi_dung,so_trang"]
    size = len(rows[0])
    while size < target:
        n = len(rows)
        row = f'{n},{_ORGAN_ID}.1980.{n},{n % 28 + 1:02d}/01/1980,"{kit.rng.choice(_SENTENCES)}",{n % 9 + 1}'
        rows.append(row)
        size += len(row.encode()) + 1
    return ("\n".join(rows) + "\n").encode()


def _small_xml(kit: _SmallKit, target: int, name: str) -> bytes:
    parts = ['<?xml version="1.0" encoding="UTF-8"?>\n<records>\n']
    size = len(parts[0])
    while size < target:
        n = len(parts)
        part = f'  <record id="{n}"><subject>{escape(kit.rng.choice(_SENTENCES))}</subject></record>\n'
        parts.append(part)
        size += len(part.encode())
    parts.append("</records>\n")
    return "".join(parts).encode()


_OOXML = "http://schemas.openxmlformats.org"
_XML_DECL = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
_DOCX_TYPES = (
    f'{_XML_DECL}<Types xmlns="{_OOXML}/package/2006/content-types">'
    f'<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Default Extension="jpeg" ContentType="image/jpeg"/>'
    '<Override PartName="/word/document.xml" ContentType="application/'
    'vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>'
)
_DOCX_RELS = (
    f'{_XML_DECL}<Relationships xmlns="{_OOXML}/package/2006/relationships">'
    f'<Relationship Id="rId1" Type="{_OOXML}/officeDocument/2006/relationships/officeDocument" '
    'Target="word/document.xml"/></Relationships>'
)


def _small_docx(kit: _SmallKit, target: int, name: str) -> bytes:
    """A DOCX-like OOXML package: content types, relationships, a document and an image."""
    fixed = (1980, 1, 1, 0, 0, 0)
    body = "".join(f"<w:p><w:r><w:t>{escape(s)}</w:t></w:r></w:p>" for s in _text_lines(kit.rng, target))
    document = (
        f'{_XML_DECL}<w:document xmlns:w="{_OOXML}/wordprocessingml/2006/main">'
        f"<w:body>{body}</w:body></w:document>"
    )
    members = {"[Content_Types].xml": _DOCX_TYPES, "_rels/.rels": _DOCX_RELS, "word/document.xml": document}
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for member, text in members.items():
            archive.writestr(zipfile.ZipInfo(member, fixed), text, compress_type=zipfile.ZIP_DEFLATED)
        image = zipfile.ZipInfo("word/media/image1.jpeg", fixed)
        archive.writestr(image, _nearest(kit.jpegs, target // 2), compress_type=zipfile.ZIP_STORED)
    return buffer.getvalue()


def _small_png(kit: _SmallKit, target: int, name: str) -> bytes:
    width = kit.rng.randint(16, 64)
    height = max(1, -(-(target - 60) // (3 * width + 1)))
    return _png_bytes(width, height, kit.noise.take(width * height * 3))


def _small_tiff(kit: _SmallKit, target: int, name: str) -> bytes:
    width = kit.rng.randint(16, 64)
    height = max(1, -(-(target - 198) // (3 * width)))
    return _tiff_header(width, height, 300) + kit.noise.take(width * height * 3)


def _small_jpeg(kit: _SmallKit, target: int, name: str) -> bytes:
    return _jpeg_with_comment(_nearest(kit.jpegs, target), name.encode())


def _small_pdf(kit: _SmallKit, target: int, name: str) -> bytes:
    data = _nearest(kit.jpegs, target - 800)
    width, height = _jpeg_size(data)
    page = _JpegPage(data, width, height, width / (A4_MM[0] / MM_PER_INCH))
    return _pdf_bytes([page], title=name, created="D:19800101000000+07'00'", file_id=name.encode())


def _jpeg_size(data: bytes) -> tuple[int, int]:
    """Width and height from the first SOFn segment of a JPEG."""
    pos = 2
    while pos + 9 < len(data):
        marker, length = data[pos + 1], int.from_bytes(data[pos + 2 : pos + 4], "big")
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            height, width = struct.unpack(">HH", data[pos + 5 : pos + 9])
            return width, height
        pos += 2 + length
    raise ValueError("no SOF segment in JPEG data")


def _small_bin(kit: _SmallKit, target: int, name: str) -> bytes:
    return b"\x00\x17OPX\x01" + kit.noise.take(max(0, target - 6))


_SMALL_WRITERS: dict[str, Callable[[_SmallKit, int, str], bytes]] = {
    "pdf": _small_pdf,
    "png": _small_png,
    "jpg": _small_jpeg,
    "tif": _small_tiff,
    "xml": _small_xml,
    "txt": _small_text,
    "csv": _small_csv,
    "docx": _small_docx,
    "bin": _small_bin,
}


def generate_small_corpus(dest: Path, *, file_count: int, seed: int = 0, files_per_document: int = 1) -> Path:
    """Write ``file_count`` small files (1-50 KB) and one description; return its path.

    Layout: ``dest/files/`` (the source folder) and ``dest/description.json`` (one born-digital
    hồ sơ). Formats: PDF (one JPEG page), PNG, JPEG, TIFF, XML, UTF-8 text, CSV, a DOCX-like OOXML
    zip and an unknown binary (``.bin``); sizes are log-uniform. Each document holds
    ``files_per_document`` consecutive files (1 = one document per file; more is how page-per-file
    scans arrive).
    """
    rng = random.Random(f"small:{seed}")
    files_dir = dest / CORPUS_FILES_DIR
    files_dir.mkdir(parents=True, exist_ok=True)
    kit = _SmallKit(rng, _Noise(rng, 1 << 20), _small_jpegs(rng))
    file_code = _corpus_file_code(950 + seed)
    files = []
    for index, kind in enumerate(_plan_kinds(rng, file_count, _SMALL_WEIGHTS), start=1):
        name = f"{file_code}.{index}.{kind}"
        target = int(math.exp(rng.uniform(math.log(1024), math.log(50 * 1024))))
        data = _SMALL_WRITERS[kind](kit, target, name)
        (files_dir / name).write_bytes(data)
        files.append(_CorpusFile(name, kind, len(data)))
    return _write_corpus_description(
        dest, file_code, files, rng, digitized=False, files_per_document=files_per_document
    )
