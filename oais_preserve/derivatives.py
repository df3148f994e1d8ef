"""Access copies and thumbnails of preservation masters, made with pyvips (and PDFium for PDF pages).

* Image masters (TIFF, JPEG, PNG; JPEG 2000 when the installed libvips reads it) give a JPEG
  access copy (long edge ``access_long_edge``, sRGB, quality ``access_quality``) and a JPEG
  thumbnail. ``pyvips.Image.thumbnail`` shrinks on load (JPEG) or streams the master strip by
  strip (TIFF, PNG), so memory does not grow with the master's pixel count; the master is read
  once, the thumbnail is made from the access copy.
* PDF masters are their own access copy; each page gets a thumbnail rendered by PDFium
  (``pypdfium2``: the pyvips-binary build of libvips has no PDF loader) and encoded by pyvips.
* Results are cached by the master's SHA-256 and the settings, so a master is derived once, however
  many DIPs ask for it. Cache entries are written to a temporary sibling and renamed when complete.

A damaged master raises :class:`DerivativeError` naming the file; the caller skips it and records
a PREMIS event.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from .errors import OaisPreserveError

IMAGE_MIMETYPES = ("image/tiff", "image/jpeg", "image/png", "image/jp2", "image/jpx")
PDF_MIMETYPE = "application/pdf"
_IMAGE_SUFFIXES = {".tif": "tiff", ".tiff": "tiff", ".jpg": "jpeg", ".jpeg": "jpeg", ".png": "png"}
_JP2_SUFFIXES = {".jp2", ".jpx", ".j2k", ".jpf"}
_CACHE_FORMAT = 1
_M_ARENA_MAX = -8  # glibc mallopt parameter


class DerivativeError(OaisPreserveError):
    """A master could not be turned into access copies (damaged, truncated or unreadable)."""

    def __init__(self, path: str, reason: str) -> None:
        self.path, self.reason = path, reason
        super().__init__(path, reason)  # both in args, so the error survives a process pool

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


@dataclass(frozen=True)
class DerivativeSettings:
    """How access copies are made; part of the cache key and of every PREMIS creation event."""

    access_long_edge: int = 2000
    access_quality: int = 85
    thumbnail_size: int = 256
    thumbnail_quality: int = 80
    max_pdf_pages: int | None = None  # page thumbnails per PDF; None = every page

    def __post_init__(self) -> None:
        for name in ("access_long_edge", "thumbnail_size"):
            if not 16 <= getattr(self, name) <= 20000:
                raise ValueError(f"{name} must lie between 16 and 20000 pixels")
        for name in ("access_quality", "thumbnail_quality"):
            if not 1 <= getattr(self, name) <= 100:
                raise ValueError(f"{name} must lie between 1 and 100")
        if self.max_pdf_pages is not None and self.max_pdf_pages < 1:
            raise ValueError("max_pdf_pages must be at least 1")


@dataclass(frozen=True)
class Output:
    """One derivative file: its role, its name inside the set, and what it took to make it."""

    role: str  # "access" | "thumbnail" | "page-thumbnail"
    name: str  # file name inside the derivative set (deterministic)
    size: int
    sha256: str
    mimetype: str
    width: int | None
    height: int | None
    page: int | None
    tool: str  # e.g. "libvips 8.18.7 (pyvips 3.0.0)"
    parameters: str  # e.g. "thumbnail size=2000 size=down; jpegsave Q=85 …"


@dataclass(frozen=True)
class DerivativeSet:
    """Every derivative of one master, stored in ``folder`` (a cache entry)."""

    master_sha256: str
    master_kind: str  # "image" | "pdf"
    folder: Path
    outputs: tuple[Output, ...]
    cached: bool = False

    def path(self, output: Output) -> Path:
        return self.folder / output.name


def configure_worker(threads: int | None = 1) -> None:
    """Set up a process that does nothing but derivatives (our pool workers; the benchmark).

    Process-wide settings, so never applied to a caller's own process:

    * ``threads``: libvips threads per process. The DIP builder already runs one worker process
      per core, so one thread each uses the cores with the least memory (None keeps libvips'
      default, one per core);
    * one glibc malloc arena: by default each libvips thread gets its own, tens of MB per worker
      for nothing here;
    * no libvips operation cache: it keeps the pixels of masters a batch never reads again.
    """
    import ctypes
    import ctypes.util

    import pyvips

    libc_name = ctypes.util.find_library("c")
    if libc_name and "libc" in libc_name:
        with contextlib.suppress(OSError, AttributeError):  # not glibc: nothing to tune
            ctypes.CDLL(libc_name).mallopt(_M_ARENA_MAX, 1)
    pyvips.cache_set_max(0)
    if threads is not None:
        pyvips.concurrency_set(threads)


def master_kind(name: str, mimetype: str | None = None) -> str | None:
    """``"image"``, ``"pdf"`` or None (no access copy is made for this format)."""
    suffix = Path(name).suffix.lower()
    mime = (mimetype or "").lower()
    if mime == PDF_MIMETYPE or suffix == ".pdf":
        return "pdf"
    if suffix in _IMAGE_SUFFIXES or suffix in _JP2_SUFFIXES or mime in IMAGE_MIMETYPES:
        return "image"
    return None


def tool_versions() -> dict[str, str]:
    """Versions of the imaging tools, for PREMIS agents and the cache key."""
    import pypdfium2
    import pyvips

    return {
        "libvips": ".".join(str(pyvips.version(i)) for i in range(3)),
        "pyvips": str(pyvips.__version__),
        "pdfium": str(pypdfium2.version.PDFIUM_INFO),
        "pypdfium2": str(pypdfium2.version.PYPDFIUM_INFO),
    }


def cache_key(master_sha256: str, kind: str, settings: DerivativeSettings) -> str:
    """The folder name of a cache entry: same master, settings and tools -> same derivatives."""
    facts = json.dumps(
        {"format": _CACHE_FORMAT, "kind": kind, "settings": asdict(settings), "tools": tool_versions()},
        sort_keys=True,
    )
    return f"{master_sha256}-{hashlib.sha256(facts.encode()).hexdigest()[:16]}"


def make_derivatives(
    master: Path, master_sha256: str, kind: str, settings: DerivativeSettings, cache_dir: Path
) -> DerivativeSet:
    """The derivatives of ``master`` (``kind`` from :func:`master_kind`), from the cache or made now.

    A top-level function so that a process pool (or a Dask cluster) can run it.
    """
    final = Path(cache_dir) / master_sha256[:2] / cache_key(master_sha256, kind, settings)
    found = _load_entry(final, master_sha256, kind)
    if found is not None:
        return found
    final.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{final.name}.", dir=final.parent))
    os.chmod(work, 0o755)  # a cache shared by several operators stays readable
    try:
        if kind == "image":
            outputs = _image_derivatives(master, settings, work)
        elif kind == "pdf":
            outputs = _pdf_derivatives(master, settings, work)
        else:
            raise DerivativeError(str(master), f"no access copy is made for this format ({kind})")
        entry = {"format": _CACHE_FORMAT, "master_sha256": master_sha256, "kind": kind}
        entry["outputs"] = [asdict(o) for o in outputs]
        (work / "derivatives.json").write_text(json.dumps(entry, indent=1), encoding="utf-8")
        try:
            os.rename(work, final)
        except OSError:  # another worker finished the same master first: use theirs
            shutil.rmtree(work, ignore_errors=True)
            again = _load_entry(final, master_sha256, kind)
            if again is None:
                raise
            return again
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return DerivativeSet(master_sha256, kind, final, tuple(outputs))


def _load_entry(folder: Path, master_sha256: str, kind: str) -> DerivativeSet | None:
    """A cache entry, only if every output is still there with its recorded digest."""
    manifest = folder / "derivatives.json"
    if not manifest.is_file():
        return None
    try:
        entry = json.loads(manifest.read_text(encoding="utf-8"))
        outputs = tuple(Output(**o) for o in entry["outputs"])
    except (ValueError, KeyError, TypeError):
        shutil.rmtree(folder, ignore_errors=True)
        return None
    for output in outputs:
        path = folder / output.name
        if not path.is_file() or _sha256(path) != output.sha256:
            shutil.rmtree(folder, ignore_errors=True)  # damaged entry: make it again
            return None
    return DerivativeSet(master_sha256, kind, folder, outputs, cached=True)


def _sha256(path: Path) -> str:
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def _vips_tool() -> str:
    versions = tool_versions()
    return f"libvips {versions['libvips']} (pyvips {versions['pyvips']})"


def _save_jpeg(image: Any, path: Path, quality: int, *, optimize: bool = False) -> None:
    # No metadata carried over (keep="none"): EXIF/XMP of a master may hold what a reader must not see.
    # optimize_coding holds every DCT coefficient of the image (+17 MB for a 2000 px copy): only
    # for thumbnails, where it is small and saves a few per cent.
    image.jpegsave(str(path), Q=quality, optimize_coding=optimize, interlace=False, keep="none")


def _to_srgb8(image: Any) -> Any:
    """Flatten alpha onto white and convert to 8-bit sRGB, whatever the master's colour space."""
    import pyvips

    if image.hasalpha():
        image = image.flatten(background=[255] * (image.bands - 1) if image.bands > 2 else [255])
    srgb_or_grey = image.interpretation in (pyvips.Interpretation.SRGB, pyvips.Interpretation.B_W)
    if not srgb_or_grey or image.format != pyvips.BandFormat.UCHAR:
        image = image.colourspace(pyvips.Interpretation.SRGB)
    if image.format != pyvips.BandFormat.UCHAR:
        image = image.cast(pyvips.BandFormat.UCHAR)
    if image.bands == 1:  # greyscale masters give sRGB copies: one colour space for every reader
        image = image.colourspace(pyvips.Interpretation.SRGB)
    return image


def _record(path: Path, role: str, image: Any, page: int | None, tool: str, parameters: str) -> Output:
    return Output(
        role,
        path.name,
        path.stat().st_size,
        _sha256(path),
        "image/jpeg",
        image.width,
        image.height,
        page,
        tool,
        parameters,
    )


def _image_derivatives(master: Path, settings: DerivativeSettings, work: Path) -> list[Output]:
    import pyvips

    if master.suffix.lower() in _JP2_SUFFIXES and not pyvips.type_find("VipsForeignLoad", "jp2kload"):
        raise DerivativeError(str(master), "this libvips cannot read JPEG 2000 (no jp2kload)")
    tool = _vips_tool()
    edge, thumb = settings.access_long_edge, settings.thumbnail_size
    try:
        # thumbnail(): shrink-on-load for JPEG, a sequential stream for TIFF/PNG; never enlarges.
        # fail_on="truncated" turns a truncated or damaged master into an error, not a grey copy.
        access = pyvips.Image.thumbnail(str(master), edge, height=edge, size="down", fail_on="truncated")
        access = _to_srgb8(access)
        access_path = work / "access.jpg"
        _save_jpeg(access, access_path, settings.access_quality)
        small = pyvips.Image.thumbnail(str(access_path), thumb, height=thumb, size="down")
        thumb_path = work / "thumbnail.jpg"
        _save_jpeg(small, thumb_path, settings.thumbnail_quality, optimize=True)
        access_done = pyvips.Image.new_from_file(str(access_path))
        thumb_done = pyvips.Image.new_from_file(str(thumb_path))
    except pyvips.Error as exc:
        raise DerivativeError(str(master), f"unreadable or damaged image ({_first_line(exc)})") from exc
    common = "sRGB, 8 bit, metadata stripped"
    return [
        _record(
            access_path,
            "access",
            access_done,
            None,
            tool,
            f"thumbnail(size={edge}, size=down, fail_on=truncated);"
            f" jpegsave(Q={settings.access_quality}, baseline); {common}",
        ),
        _record(
            thumb_path,
            "thumbnail",
            thumb_done,
            None,
            tool,
            f"thumbnail of the access copy (size={thumb}, size=down); "
            f"jpegsave(Q={settings.thumbnail_quality}, optimize_coding); {common}",
        ),
    ]


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return " / ".join(line.strip() for line in text[:3] if line.strip()) or type(exc).__name__


def _check_pdf_complete(master: Path) -> None:
    """A PDF ends with ``%%EOF`` (ISO 32000-1 §7.5.5); a truncated copy does not."""
    size = master.stat().st_size
    with open(master, "rb") as fh:
        fh.seek(max(0, size - 1024))
        tail = fh.read()
    if b"%%EOF" not in tail:
        raise DerivativeError(str(master), "truncated PDF (no %%EOF marker at the end)")


def _pdf_derivatives(master: Path, settings: DerivativeSettings, work: Path) -> list[Output]:
    import pypdfium2
    import pyvips

    _check_pdf_complete(master)
    versions = tool_versions()
    tool = f"PDFium {versions['pdfium']} (pypdfium2 {versions['pypdfium2']}) + {_vips_tool()}"
    outputs: list[Output] = []
    try:
        pdf = pypdfium2.PdfDocument(str(master))
    except pypdfium2.PdfiumError as exc:
        raise DerivativeError(str(master), f"unreadable PDF ({_first_line(exc)})") from exc
    try:
        pages = len(pdf)
        if pages == 0:
            raise DerivativeError(str(master), "the PDF has no pages")
        limit = pages if settings.max_pdf_pages is None else min(pages, settings.max_pdf_pages)
        for number in range(1, limit + 1):
            page = pdf[number - 1]
            try:
                width, height = page.get_size()
                scale = settings.thumbnail_size / max(width, height, 1.0)
                bitmap = page.render(scale=scale, rev_byteorder=True)
                image = _bitmap_to_vips(bitmap, pyvips)
                path = work / f"page-{number:04d}.jpg"
                _save_jpeg(_to_srgb8(image), path, settings.thumbnail_quality, optimize=True)
                outputs.append(
                    _record(
                        path,
                        "page-thumbnail",
                        image,
                        number,
                        tool,
                        f"page {number} rendered at scale {scale:.4f} (long edge "
                        f"{settings.thumbnail_size} px);"
                        f" jpegsave(Q={settings.thumbnail_quality}, optimize_coding)",
                    )
                )
            finally:
                page.close()
    except (pypdfium2.PdfiumError, pyvips.Error) as exc:
        raise DerivativeError(str(master), f"damaged PDF page ({_first_line(exc)})") from exc
    finally:
        pdf.close()
    access_path = work / "access.pdf"
    shutil.copyfile(master, access_path)
    outputs.insert(
        0,
        Output(
            "access",
            access_path.name,
            access_path.stat().st_size,
            _sha256(access_path),
            PDF_MIMETYPE,
            None,
            None,
            None,
            f"oais_preserve copy; checked with {tool}",
            f"the master PDF itself (byte-identical copy); {pages} pages, "
            f"{limit} page thumbnails of {settings.thumbnail_size} px",
        ),
    )
    return outputs


def _bitmap_to_vips(bitmap: Any, pyvips: Any) -> Any:
    """A PDFium bitmap (rows of ``stride`` bytes) as a pyvips image, copied once."""
    bands = bitmap.n_channels
    width, height, stride = bitmap.width, bitmap.height, bitmap.stride
    data = bytes(bitmap.buffer)
    if stride != width * bands:
        data = b"".join(data[row * stride : row * stride + width * bands] for row in range(height))
    image = pyvips.Image.new_from_memory(data, width, height, bands, "uchar")
    if bands == 4:  # BGRA reversed to RGBA: drop the (opaque) alpha of a rendered page
        image = image.extract_band(0, n=3)
    return image.copy(interpretation="srgb" if bands >= 3 else "b-w")
