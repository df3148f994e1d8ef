"""Digitization quality checks (TT05 Art. 8, tt05.md §9): measured, not trusted.

For each scan: the format (PDF/A part and conformance read from the XMP ``pdfaid`` schema; an
OCR text layer, "hai lớp"); the **effective** resolution of every image (pixels ÷ the size it is
drawn at on the page, so a 150 dpi colour layer under a 300 dpi mask is seen as 150); the colour
depth; the page size (100 % scale); the naming rule ``mã hồ sơ.số thứ tự``. PDFs are read with
pikepdf, images with libvips (pyvips). Each file gets pass / warning / fail with the measured
values, as JSON, ``.xlsx`` and PREMIS ``validation`` events (:func:`premis_events`).

A PDF/A claim in XMP is only a claim: this module reports what the file declares; a full PDF/A
conformance check needs veraPDF, which is not part of this project (docs/qa.md).
"""

from __future__ import annotations

import json
import math
import os
import re
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Executor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from .errors import UserInputError
from .premis import Event, Identifier
from .profile import new_id, timestamp

Outcome = Literal["pass", "warning", "fail"]

MIN_DPI = 200  # administrative documents, photos (TT05 Art. 8)
MIN_DPI_DRAWING = 300  # maps and technical drawings
MIN_COLOUR_BITS = 24
IMAGE_SUFFIXES = frozenset({".tif", ".tiff", ".jpg", ".jpeg", ".png", ".jp2"})
_RANK: dict[str, int] = {"pass": 0, "warning": 1, "fail": 2}
_MM_PER_PT = 25.4 / 72
# A 100 % scan of a record is between a small card and a large map; outside this, the page size
# was scaled (or is not a physical size at all).
_PLAUSIBLE_MM = (40.0, 2000.0)


@dataclass(frozen=True)
class QaCheck:
    """One rule applied to one file: outcome, what was measured, what is required."""

    name: str
    outcome: Outcome
    measured: str
    required: str
    message_vi: str
    message_en: str


@dataclass(frozen=True)
class QaResult:
    """The checks of one scan and the values measured."""

    path: str
    format: str
    outcome: Outcome
    pages: int | None
    min_dpi: float | None
    bit_depth: int | None
    colour: bool | None
    pdfa: str | None  # "2B", "1A"… as declared in XMP; None when not declared
    text_layer: bool | None  # text on every scanned page (PDF); None for images
    checks: tuple[QaCheck, ...] = ()
    file_code: str | None = None
    text_pages: int | None = None  # pages carrying any text (PDF)

    def to_dict(self, lang: str = "vi") -> dict[str, Any]:
        data = asdict(self)
        data["checks"] = [
            {
                "name": c.name,
                "outcome": c.outcome,
                "measured": c.measured,
                "required": c.required,
                "message": c.message_en if lang == "en" else c.message_vi,
            }
            for c in self.checks
        ]
        return data

    def summary(self, lang: str = "vi") -> str:
        bad = [c for c in self.checks if c.outcome != "pass"]
        if not bad:
            return "đạt" if lang == "vi" else "pass"
        return "; ".join(f"{c.name}: {c.message_en if lang == 'en' else c.message_vi}" for c in bad)


@dataclass(frozen=True)
class QaJob:
    """What a worker needs to check one file (picklable: sent through an Executor)."""

    path: str
    rel: str
    drawing: bool = False
    paper: bool = True
    colour_original: bool | None = None
    file_code: str | None = None
    ordinal: int | None = None


def _worst(outcomes: Iterable[Outcome]) -> Outcome:
    worst: Outcome = "pass"
    for outcome in outcomes:
        if _RANK[outcome] > _RANK[worst]:
            worst = outcome
    return worst


# --------------------------------------------------------------------------- measuring PDFs


@dataclass
class _Measure:
    dpis: list[float] = field(default_factory=list)
    depths: list[int] = field(default_factory=list)
    colour: list[bool] = field(default_factory=list)
    text_chars: int = 0  # text shown so far, in string bytes (visible or invisible OCR text)
    page_text: list[int] = field(default_factory=list)  # per page
    page_images: list[int] = field(default_factory=list)  # per page
    pages_without_image: int = 0
    page_sizes_mm: list[tuple[float, float]] = field(default_factory=list)


_Matrix = tuple[float, float, float, float, float, float]
_IDENTITY: _Matrix = (1.0, 0.0, 0.0, 1.0, 0.0, 0.0)
_TEXT_OPERATORS = frozenset({"Tj", "TJ", "'", '"'})


def _multiply(m: _Matrix, n: _Matrix) -> _Matrix:
    """m × n, PDF row-vector convention (``cm`` makes CTM' = M × CTM)."""
    a, b, c, d, e, f = m
    a2, b2, c2, d2, e2, f2 = n
    return (
        a * a2 + b * c2,
        a * b2 + b * d2,
        c * a2 + d * c2,
        c * b2 + d * d2,
        e * a2 + f * c2 + e2,
        e * b2 + f * d2 + f2,
    )


def _components(colour_space: Any) -> int | None:
    import pikepdf

    name = colour_space
    if isinstance(colour_space, pikepdf.Array) and len(colour_space) > 0:
        name = colour_space[0]
        if name == "/ICCBased":
            return int(colour_space[1].get("/N", 0)) or None
        if name == "/Indexed":
            return 3  # a palette: colour, with the index's bits
    simple = {"/DeviceRGB": 3, "/CalRGB": 3, "/Lab": 3, "/DeviceGray": 1, "/CalGray": 1, "/DeviceCMYK": 4}
    return simple.get(str(name))


def _image(xobject: Any, ctm: _Matrix, measure: _Measure) -> None:
    width_px, height_px = int(xobject.get("/Width", 0)), int(xobject.get("/Height", 0))
    shown_w = math.hypot(ctm[0], ctm[1]) / 72.0  # inches
    shown_h = math.hypot(ctm[2], ctm[3]) / 72.0
    if width_px and height_px and shown_w > 0 and shown_h > 0:
        measure.dpis.append(min(width_px / shown_w, height_px / shown_h))
    if xobject.get("/ImageMask", False):
        return  # a stencil mask: no colour of its own
    bits = xobject.get("/BitsPerComponent")
    components = _components(xobject.get("/ColorSpace"))
    if bits is not None and components is not None:
        measure.depths.append(int(bits) * components)
        measure.colour.append(components >= 3)


def _shown_bytes(operands: Any) -> int:
    """Bytes of text a text-showing operator draws (its string, or the strings of a TJ array)."""
    import pikepdf

    if not operands:
        return 0
    shown = operands[-1]
    strings = list(shown) if isinstance(shown, pikepdf.Array) else [shown]
    return sum(len(bytes(item)) for item in strings if isinstance(item, pikepdf.String))


def _walk_content(owner: Any, resources: Any, ctm: _Matrix, measure: _Measure, depth: int = 0) -> None:
    import pikepdf

    if depth > 8:
        return  # nested forms this deep are hostile or broken
    stack: list[_Matrix] = []
    xobjects = resources.get("/XObject", {}) if resources is not None else {}
    for instruction in pikepdf.parse_content_stream(owner, "q Q cm Do Tj TJ ' \""):
        if not isinstance(instruction, pikepdf.ContentStreamInstruction):
            continue  # inline images are small (logos, stamps), never the page scan
        operands, op = instruction.operands, str(instruction.operator)
        if op == "q":
            stack.append(ctm)
        elif op == "Q":
            ctm = stack.pop() if stack else ctm
        elif op == "cm" and len(operands) == 6:
            ctm = _multiply(tuple(float(x) for x in operands), ctm)  # type: ignore[arg-type]
        elif op in _TEXT_OPERATORS:
            measure.text_chars += _shown_bytes(operands)
        elif op == "Do" and operands:
            xobject = xobjects.get(str(operands[0])) if xobjects is not None else None
            if xobject is None:
                continue
            subtype = xobject.get("/Subtype")
            if subtype == "/Image":
                _image(xobject, ctm, measure)
            elif subtype == "/Form":
                matrix = xobject.get("/Matrix")
                form_ctm = _multiply(tuple(float(x) for x in matrix), ctm) if matrix is not None else ctm  # type: ignore[arg-type]
                _walk_content(xobject, xobject.get("/Resources", resources), form_ctm, measure, depth + 1)


def _measure_pdf(path: Path) -> tuple[_Measure, int, str | None, str]:
    import pikepdf

    with pikepdf.open(path) as pdf:
        measure = _Measure()
        for page in pdf.pages:
            box = [float(x) for x in page.mediabox]
            unit = float(page.obj.get("/UserUnit", 1.0))
            width_mm = abs(box[2] - box[0]) * unit * _MM_PER_PT
            height_mm = abs(box[3] - box[1]) * unit * _MM_PER_PT
            measure.page_sizes_mm.append((width_mm, height_mm))
            images_before, text_before = len(measure.dpis), measure.text_chars
            scale = (unit, 0.0, 0.0, unit, 0.0, 0.0)
            _walk_content(page.obj, page.obj.get("/Resources"), scale, measure)
            measure.page_images.append(len(measure.dpis) - images_before)
            measure.page_text.append(measure.text_chars - text_before)
            if len(measure.dpis) == images_before:
                measure.pages_without_image += 1
        declared = pdf.open_metadata().pdfa_status or None
        return measure, len(pdf.pages), declared, pdf.pdf_version


# --------------------------------------------------------------------------- checks


def _check(
    name: str, ok: bool | None, measured: str, required: str, vi: str, en: str, soft: bool = False
) -> QaCheck:
    outcome: Outcome = "pass" if ok else ("warning" if soft or ok is None else "fail")
    return QaCheck(name, outcome, measured, required, vi if not ok else "đạt", en if not ok else "pass")


def _dpi_check(dpis: Sequence[float], drawing: bool, pages_without_image: int) -> QaCheck:
    need = MIN_DPI_DRAWING if drawing else MIN_DPI
    kind_vi = "bản đồ, bản vẽ kỹ thuật" if drawing else "tài liệu"
    if not dpis:
        return _check(
            "resolution",
            None,
            "không có ảnh" if pages_without_image else "?",
            f">= {need} dpi",
            "không đo được độ phân giải: không có lớp ảnh",
            "resolution not measurable: no image layer",
        )
    lowest = min(dpis)
    measured = f"{round(lowest)} dpi" + (f" (cao nhất {round(max(dpis))})" if max(dpis) - lowest >= 1 else "")
    return _check(
        "resolution",
        round(lowest) >= need,
        measured,
        f">= {need} dpi",
        f"độ phân giải {round(lowest)} dpi thấp hơn {need} dpi ({kind_vi})",
        f"resolution {round(lowest)} dpi below {need} dpi",
    )


def _depth_check(depths: Sequence[int], colours: Sequence[bool], colour_original: bool | None) -> QaCheck:
    if not depths:
        return _check(
            "colour-depth", None, "?", f">= {MIN_COLOUR_BITS} bit", "không đo được", "not measurable"
        )
    lowest = min(depths)
    is_colour = all(colours)
    measured = f"{lowest} bit" + (" màu" if is_colour else " xám/đen trắng")
    if is_colour or colour_original:
        return _check(
            "colour-depth",
            lowest >= MIN_COLOUR_BITS,
            measured,
            f">= {MIN_COLOUR_BITS} bit",
            f"độ sâu màu {lowest} bit thấp hơn {MIN_COLOUR_BITS} bit",
            f"colour depth {lowest} bit below {MIN_COLOUR_BITS} bit",
        )
    if colour_original is False:
        return _check("colour-depth", True, measured, "như bản gốc (đen trắng)", "", "")
    return _check(
        "colour-depth",
        None,
        measured,
        f">= {MIN_COLOUR_BITS} bit nếu bản gốc có màu",
        "bản quét không màu: chỉ đạt nếu bản gốc đen trắng",
        "not a colour scan: acceptable only if the original is black and white",
    )


def _scale_check(sizes: Sequence[tuple[float, float]]) -> QaCheck:
    low, high = _PLAUSIBLE_MM
    odd = [(w, h) for w, h in sizes if not (low <= min(w, h) and max(w, h) <= high)]
    shown = f"{sizes[0][0]:.0f}x{sizes[0][1]:.0f} mm" if sizes else "?"
    return _check(
        "scale",
        not odd,
        shown if not odd else f"{odd[0][0]:.0f}x{odd[0][1]:.0f} mm",
        "tỷ lệ 100 %",
        "kích thước trang không phải kích thước thật của tài liệu (tỷ lệ khác 100 %)",
        "page size is not a physical document size (scale is not 100 %)",
        soft=True,
    )


_NAME_TAIL = re.compile(r"^\.(\d+)(?:[_\-\s(][^.]*)?$")


def naming_check(name: str, file_code: str | None, ordinal: int | None) -> QaCheck | None:
    """``mã hồ sơ.số thứ tự`` (or ``mã hồ sơ`` for a hồ sơ scanned as one file), TT05 Art. 8(1)(d)."""
    if not file_code:
        return None
    stem = unicodedata.normalize("NFC", name).rsplit(".", 1)[0].casefold()
    code = unicodedata.normalize("NFC", file_code).casefold()
    if ordinal is None:
        ok = stem == code
        required = file_code
    else:
        tail = _NAME_TAIL.match(stem[len(code) :]) if stem.startswith(code) else None
        ok = bool(tail and int(tail[1]) == ordinal)
        required = f"{file_code}.{ordinal}"
    return _check(
        "naming",
        ok,
        name,
        required,
        f"tên tệp không theo quy tắc mã hồ sơ.số thứ tự ({required})",
        f"file name does not follow the rule file code.ordinal ({required})",
    )


def _text_layer_check(measure: _Measure, paper: bool) -> tuple[QaCheck, bool]:
    """Two-layer ("hai lớp"): text on every page that carries a scan image, counted per page.

    OCR text is usually invisible (render mode 3); any text on the page counts, so a stamp or a
    one-line footer on page 1 does not make the other scanned pages searchable."""
    pages = len(measure.page_text)
    with_text = sum(1 for chars in measure.page_text if chars)
    scanned = [i for i, images in enumerate(measure.page_images) if images]
    missing = [i + 1 for i in (scanned or range(pages)) if not measure.page_text[i]]
    ok = pages > 0 and not missing
    shown = ", ".join(str(n) for n in missing[:10]) + (" …" if len(missing) > 10 else "")
    check = _check(
        "text-layer",
        ok,
        f"chữ trên {with_text}/{pages} trang" + (f"; thiếu ở trang {shown}" if missing else ""),
        "hai lớp: ảnh + lớp chữ (OCR) trên mọi trang",
        f"trang {shown} không có lớp chữ (OCR): PDF không phải hai lớp",
        f"no text layer (OCR) on page {shown}: the PDF is not two-layer",
        soft=not paper,
    )
    return check, ok


def _pdf_result(path: Path, job: QaJob) -> QaResult:
    measure, pages, declared, version = _measure_pdf(path)
    text_check, two_layer = _text_layer_check(measure, job.paper)
    checks = [
        _check(
            "pdfa",
            declared is not None,
            f"PDF/A-{declared}" if declared else f"PDF {version}, không khai báo PDF/A",
            "PDF/A",
            "không phải PDF/A (XMP không khai báo pdfaid)",
            "not PDF/A (no pdfaid part/conformance in the XMP metadata)",
        ),
        text_check,
        _dpi_check(measure.dpis, job.drawing, measure.pages_without_image),
        _depth_check(measure.depths, measure.colour, job.colour_original),
        _scale_check(measure.page_sizes_mm),
    ]
    with_text = sum(1 for chars in measure.page_text if chars)
    return _result(
        job,
        "PDF",
        pages,
        measure.dpis,
        measure.depths,
        measure.colour,
        declared,
        two_layer,
        checks,
        with_text,
    )


def _image_result(path: Path, job: QaJob) -> QaResult:
    import pyvips

    image = pyvips.Image.new_from_file(str(path), access="sequential")
    pages = int(image.get("n-pages")) if "n-pages" in image.get_fields() else 1
    xres, yres = float(image.xres), float(image.yres)
    recorded = xres > 1.001 or yres > 1.001  # libvips reports 1 px/mm when the file records nothing
    dpi = min(xres, yres) * 25.4
    bands = int(image.bands) - (1 if image.hasalpha() else 0)
    bits = {"uchar": 8, "char": 8, "ushort": 16, "short": 16, "uint": 32, "int": 32, "float": 32}.get(
        str(image.format), 8
    )
    interpretation = str(image.interpretation)
    colour = bands >= 3 and interpretation not in ("b-w", "grey16")
    depth = bits * max(bands, 1)
    suffix = path.suffix.casefold().lstrip(".")
    fmt = {"tif": "TIFF", "tiff": "TIFF", "jpg": "JPEG", "jpeg": "JPEG", "png": "PNG", "jp2": "JPEG 2000"}[
        suffix
    ]
    dpis = [dpi] if recorded else []
    checks = [
        _check(
            "format",
            not job.paper,
            fmt,
            "PDF/A hai lớp (tài liệu giấy)" if job.paper else "JPEG, TIFF, PNG, PDF",
            "tài liệu giấy nên số hóa thành PDF/A hai lớp",
            "paper documents should be digitized as two-layer PDF/A",
            soft=True,
        ),
        _dpi_check(dpis, job.drawing, 0)
        if recorded
        else _check(
            "resolution",
            False,
            "không ghi",
            f">= {MIN_DPI_DRAWING if job.drawing else MIN_DPI} dpi",
            "tệp ảnh không ghi độ phân giải",
            "the image records no resolution",
        ),
        _depth_check([depth], [colour], job.colour_original),
    ]
    if recorded:
        width_mm, height_mm = image.width / xres, image.height / yres
        checks.append(_scale_check([(width_mm, height_mm)]))
    return _result(job, fmt, pages, dpis, [depth], [colour], None, None, checks)


def _result(
    job: QaJob,
    fmt: str,
    pages: int | None,
    dpis: Sequence[float],
    depths: Sequence[int],
    colours: Sequence[bool],
    pdfa: str | None,
    text: bool | None,
    checks: list[QaCheck],
    text_pages: int | None = None,
) -> QaResult:
    naming = naming_check(Path(job.rel).name, job.file_code, job.ordinal)
    if naming is not None:
        checks.append(naming)
    return QaResult(
        job.rel,
        fmt,
        _worst(c.outcome for c in checks),
        pages,
        round(min(dpis), 1) if dpis else None,
        min(depths) if depths else None,
        all(colours) if colours else None,
        pdfa,
        text,
        tuple(checks),
        job.file_code,
        text_pages,
    )


def check_job(job: QaJob) -> QaResult:
    """Check one scan (a top-level function, so it can run in a worker process)."""
    path = Path(job.path)
    suffix = path.suffix.casefold()
    try:
        if suffix == ".pdf":
            return _pdf_result(path, job)
        if suffix in IMAGE_SUFFIXES:
            return _image_result(path, job)
    except Exception as exc:  # a damaged file is a finding, not a crash of the batch
        failure = QaCheck(
            "readable",
            "fail",
            f"{type(exc).__name__}: {exc}"[:300],
            "đọc được",
            "không đọc được tệp (hỏng hoặc không đúng định dạng)",
            "cannot read the file (damaged or not what its name says)",
        )
        return _failed(job, suffix, failure)
    unsupported = QaCheck(
        "format",
        "fail",
        suffix or "?",
        "PDF/A, TIFF, JPEG, PNG",
        "định dạng không được chấp nhận cho bản số hóa",
        "format not accepted for digitized copies",
    )
    return _failed(job, suffix, unsupported)


def _failed(job: QaJob, suffix: str, check: QaCheck) -> QaResult:
    """A file that could not be measured: one failed check, no values."""
    return QaResult(
        job.rel,
        suffix.lstrip(".").upper(),
        "fail",
        pages=None,
        min_dpi=None,
        bit_depth=None,
        colour=None,
        pdfa=None,
        text_layer=None,
        checks=(check,),
        file_code=job.file_code,
    )


def check_file(
    path: Path | str,
    *,
    drawing: bool = False,
    paper: bool = True,
    colour_original: bool | None = None,
    file_code: str | None = None,
    ordinal: int | None = None,
) -> QaResult:
    """Check one scan against TT05 Art. 8. ``drawing``: a map or technical drawing (300 dpi);
    ``paper``: a paper document (PDF/A two-layer expected); ``colour_original``: the original's
    colour when known; ``file_code`` / ``ordinal``: check the naming rule."""
    path = Path(path)
    if not path.is_file():
        raise UserInputError(f"{path}: không tìm thấy tệp (file not found)")
    return check_job(QaJob(str(path), path.name, drawing, paper, colour_original, file_code, ordinal))


def count_pages(path: Path) -> int | None:
    """Pages of a PDF or a (multi-page) image; None when the file cannot be read."""
    try:
        if path.suffix.casefold() == ".pdf":
            import pikepdf

            with pikepdf.open(path) as pdf:
                return len(pdf.pages)
        import pyvips

        image = pyvips.Image.new_from_file(str(path), access="sequential")
        return int(image.get("n-pages")) if "n-pages" in image.get_fields() else 1
    except Exception:
        return None


def check_files(jobs: Iterable[QaJob], *, executor: Executor | None = None) -> Iterator[QaResult]:
    """Check many scans, in order, through ``executor`` when given (the same code runs on Dask)."""
    if executor is None:
        yield from map(check_job, jobs)
    else:
        yield from (
            executor.map(check_job, jobs, chunksize=4)
            if _is_process_pool(executor)
            else executor.map(check_job, jobs)
        )


def _is_process_pool(executor: Executor) -> bool:
    from concurrent.futures import ProcessPoolExecutor

    return isinstance(executor, ProcessPoolExecutor)


def jobs_for_folder(folder: Path | str) -> list[QaJob]:
    """One job per scan under ``folder`` (no catalogue context: no naming rule, 200 dpi)."""
    root = Path(folder)
    if not root.is_dir():
        raise UserInputError(f"{root}: không tìm thấy thư mục (folder not found)")
    jobs = []
    for current, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            path = Path(current) / name
            if name.startswith(".") or path.suffix.casefold() not in IMAGE_SUFFIXES | {".pdf"}:
                continue
            jobs.append(QaJob(str(path), path.relative_to(root).as_posix()))
    return jobs


# --------------------------------------------------------------------------- reports

_COLUMNS = {
    "vi": (
        "Tệp",
        "Mã hồ sơ",
        "Định dạng",
        "Kết quả",
        "Số trang",
        "DPI thấp nhất",
        "Độ sâu màu",
        "Màu",
        "PDF/A",
        "Lớp chữ",
        "Số trang có chữ",
        "Ghi chú",
    ),
    "en": (
        "File",
        "File code",
        "Format",
        "Outcome",
        "Pages",
        "Lowest dpi",
        "Bit depth",
        "Colour",
        "PDF/A",
        "Text layer",
        "Pages with text",
        "Notes",
    ),
}
_OUTCOME_VI = {"pass": "đạt", "warning": "cảnh báo", "fail": "không đạt"}


def _row(result: QaResult, lang: str) -> list[object]:
    return [
        result.path,
        result.file_code,
        result.format,
        _OUTCOME_VI[result.outcome] if lang == "vi" else result.outcome,
        result.pages,
        result.min_dpi,
        result.bit_depth,
        result.colour,
        result.pdfa,
        result.text_layer,
        result.text_pages,
        result.summary(lang),
    ]


def write_qa_report(results: Sequence[QaResult], dest: Path | str, *, lang: str = "vi") -> tuple[Path, Path]:
    """``dest.xlsx`` (one row per file, failing rows highlighted) and ``dest.json``; both atomic."""
    from openpyxl import Workbook
    from openpyxl.styles import Font, PatternFill

    base = Path(dest)
    base = base.with_suffix("") if base.suffix in (".xlsx", ".json") else base
    base.parent.mkdir(parents=True, exist_ok=True)
    fills = {
        "fail": PatternFill("solid", fgColor="FFC7CE"),
        "warning": PatternFill("solid", fgColor="FFEB9C"),
    }
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = "Kiểm tra số hóa" if lang == "vi" else "Digitization QA"
    sheet.append(list(_COLUMNS["vi" if lang == "vi" else "en"]))
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for result in results:
        sheet.append(_row(result, lang))
        if result.outcome in fills:
            for cell in sheet[sheet.max_row]:
                cell.fill = fills[result.outcome]
    xlsx = base.with_suffix(".xlsx")
    tmp = xlsx.with_name(f".{xlsx.name}.partial")
    workbook.save(tmp)
    os.replace(tmp, xlsx)
    counts = {k: sum(1 for r in results if r.outcome == k) for k in ("pass", "warning", "fail")}
    data = {"summary": {"files": len(results), **counts}, "files": [r.to_dict(lang) for r in results]}
    json_path = base.with_suffix(".json")
    tmp = json_path.with_name(f".{json_path.name}.partial")
    tmp.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, json_path)
    return xlsx, json_path


def _tool_versions() -> str:
    import pikepdf
    import pyvips

    return (
        f"pikepdf {pikepdf.__version__}, libvips {pyvips.version(0)}.{pyvips.version(1)}.{pyvips.version(2)}"
    )


def premis_events(
    results: Sequence[QaResult], objects: Sequence[Identifier], agent: Identifier, when: str | None = None
) -> list[Event]:
    """One PREMIS ``validation`` event per checked file, linked to its file object."""
    tools = _tool_versions()
    events = []
    for result, obj in zip(results, objects, strict=True):
        measured = "; ".join(f"{c.name}={c.measured} ({c.outcome})" for c in result.checks)
        events.append(
            Event(
                Identifier("UUID", new_id()),
                "validation",
                when or timestamp(),
                f"Kiểm tra chất lượng số hóa theo TT05 Điều 8 (digitization QA, TT05 Art. 8); tools: {tools}",
                {"pass": "success", "warning": "warning", "fail": "failure"}[result.outcome],
                measured[:2000],
                [(agent, "executing program")],
                [obj],
            )
        )
    return events
