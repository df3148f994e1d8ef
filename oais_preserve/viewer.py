"""The static HTML viewer of a DIP: one self-contained page, opened straight from the file system.

No server, no network, no CDN: styles are inline, images are the DIP's own thumbnails linked by
relative paths, and the page works without JavaScript. A few lines of inline script only mark
thumbnails that fail to load (so a reader sees "không hiển thị được ảnh" instead of a broken icon,
and a test can count the images that rendered).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from html import escape
from typing import Any
from urllib.parse import quote

from .codes import CODE_LISTS
from .schemas import SCHEMA_DIR


def href(path: str, fragment: str | None = None) -> str:
    """A relative link to ``path`` (a POSIX path relative to the viewer page), percent-encoded.

    File names may hold ``#``, ``%``, ``?``, spaces or Vietnamese letters (``Tờ trình #5.pdf``):
    unencoded, a browser would cut the link at ``#`` or misread ``%``. Only ``/`` stays as it is.
    """
    link = quote(path, safe="/")  # UTF-8 bytes of the name as written, so the link finds the file
    return f"{link}#{fragment}" if fragment else link


@dataclass(frozen=True)
class ViewerImage:
    thumbnail: str  # URL relative to the viewer page, percent-encoded (see href)
    target: str  # what the thumbnail opens (access copy, or the PDF at that page), as a URL
    caption: str


@dataclass(frozen=True)
class ViewerDocument:
    ordinal: int
    code: str
    kind: str  # doc | pic | media
    title: str
    fields: Mapping[str, str]
    images: Sequence[ViewerImage]
    access_files: Sequence[tuple[str, str]]  # (URL as from href(), label)
    problems: Sequence[str] = ()


@dataclass(frozen=True)
class ViewerPage:
    title: str
    code: str
    dip_objid: str
    aip_objid: str
    created: str
    organization: str
    fonds: str
    hoso_fields: Mapping[str, str]
    documents: Sequence[ViewerDocument]
    excluded: Sequence[str] = ()  # one line per document left out, with the reason
    notes: Sequence[str] = field(default_factory=tuple)


# Fields shown first in a document card, in this order; the others follow in record order.
_DOC_TITLE_FIELDS = ("subject", "imageTitle", "movieTitle", "eventName")
_HIDDEN = frozenset({"arcFileCode", "arcDocCode", "docCode", "fileCode", "docId"})


@lru_cache(maxsize=1)
def field_titles() -> dict[str, str]:
    """Vietnamese field names, read from our JSON Schemas (the same names the archivists use)."""
    titles: dict[str, str] = {}

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.get("properties", {}).items():
                if isinstance(value, dict) and isinstance(value.get("title"), str):
                    titles.setdefault(key, value["title"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    for name in ("hoso.schema.json", "document.schema.json"):
        walk(json.loads((SCHEMA_DIR / name).read_text(encoding="utf-8")))
    return titles


def display_value(name: str, value: str) -> str:
    """A code shown with its label (``01 — Công khai``); other values as they are."""
    codes = CODE_LISTS.get(name)
    if codes is None:
        return value
    labels = [codes.get(part.strip()) for part in value.split(",")]
    if all(labels):
        return ", ".join(
            f"{part.strip()} — {lab}" for part, lab in zip(value.split(","), labels, strict=True)
        )
    return value


def document_title(fields: Mapping[str, str]) -> str:
    for name in _DOC_TITLE_FIELDS:
        if fields.get(name):
            return fields[name]
    return fields.get("typeName", "") or "(không có tiêu đề)"


def _table(fields: Mapping[str, str]) -> str:
    titles = field_titles()
    rows = []
    for name, value in fields.items():
        if name in _HIDDEN or not value:
            continue
        label = titles.get(name, name)
        rows.append(
            f'<tr><th scope="row">{escape(label)}</th><td>{escape(display_value(name, value))}</td></tr>'
        )
    return '<table class="meta">' + "".join(rows) + "</table>"


def _document(doc: ViewerDocument) -> str:
    kind = {"doc": "Văn bản", "pic": "Ảnh", "media": "Phim, âm thanh"}.get(doc.kind, doc.kind)
    images = "".join(
        f'<figure><a href="{escape(img.target)}"><img class="thumb" src="{escape(img.thumbnail)}" '
        f'alt="{escape(img.caption)}"></a><figcaption>{escape(img.caption)}</figcaption></figure>'
        for img in doc.images
    )
    files = "".join(
        f'<li><a href="{escape(href)}">{escape(label)}</a></li>' for href, label in doc.access_files
    )
    problems = "".join(f'<li class="problem">{escape(p)}</li>' for p in doc.problems)
    return (
        f'<article class="document" id="tl-{doc.ordinal}">'
        f"<h3>{doc.ordinal}. {escape(doc.title)}</h3>"
        f'<p class="code">{escape(kind)} · Mã lưu trữ tài liệu: <code>{escape(doc.code)}</code></p>'
        f'<div class="thumbs">{images}</div>'
        f"{'<ul class=files>' + files + '</ul>' if files else ''}"
        f"{'<ul>' + problems + '</ul>' if problems else ''}"
        f"<details><summary>Thông tin tài liệu</summary>{_table(doc.fields)}</details>"
        "</article>"
    )


_STYLE = """
body{font-family:"Noto Sans","Segoe UI",Arial,sans-serif;margin:0;color:#1d1d1f;background:#f6f5f2}
header{background:#7a1f1f;color:#fff;padding:1rem 2rem}
header h1{margin:.2rem 0;font-size:1.5rem}
header p{margin:.2rem 0;opacity:.9}
main{padding:1rem 2rem;max-width:80rem}
section{margin-bottom:2rem}
table.meta{border-collapse:collapse;background:#fff;width:100%;max-width:60rem}
table.meta th,table.meta td{border:1px solid #ddd;padding:.3rem .6rem;text-align:left;vertical-align:top}
table.meta th{width:16rem;background:#f0ece4;font-weight:600}
.document{background:#fff;border:1px solid #ddd;border-radius:6px;padding:.8rem 1rem;margin:.8rem 0}
.document h3{margin:.2rem 0}
.code{color:#555;margin:.2rem 0 .6rem}
.thumbs{display:flex;flex-wrap:wrap;gap:.6rem}
figure{margin:0;text-align:center;font-size:.8rem;color:#555}
img.thumb{max-width:256px;max-height:256px;border:1px solid #bbb;background:#eee;display:block}
img.broken{min-width:120px;min-height:80px}
.problem{color:#a00}
.excluded li{margin:.2rem 0}
footer{padding:1rem 2rem;color:#666;font-size:.85rem}
"""

# Marks each thumbnail as loaded or broken once the page has loaded (no network involved).
_SCRIPT = """
window.addEventListener("load", function () {
  var ok = 0, broken = 0;
  document.querySelectorAll("img.thumb").forEach(function (img) {
    if (img.complete && img.naturalWidth > 0) { img.classList.add("loaded"); ok++; }
    else { img.classList.add("broken"); img.alt = "Không hiển thị được ảnh: " + img.alt; broken++; }
  });
  document.body.setAttribute("data-thumbs-loaded", ok);
  document.body.setAttribute("data-thumbs-broken", broken);
});
"""


def render_viewer(page: ViewerPage) -> bytes:
    """The viewer page as UTF-8 HTML."""
    documents = "".join(_document(doc) for doc in page.documents)
    excluded = ""
    if page.excluded:
        items = "".join(f"<li>{escape(line)}</li>" for line in page.excluded)
        excluded = (
            '<section class="excluded"><h2>Tài liệu không đưa vào gói (excluded)</h2>'
            f"<ul>{items}</ul></section>"
        )
    notes = "".join(f"<p>{escape(n)}</p>" for n in page.notes)
    html = f"""<!DOCTYPE html>
<html lang="vi">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(page.title)}</title>
<style>{_STYLE}</style>
</head>
<body>
<header>
<p>Gói thông tin truy cập (DIP) · {escape(page.organization)}</p>
<h1>{escape(page.title)}</h1>
<p>Mã hồ sơ lưu trữ: <code>{escape(page.code)}</code> · Phông: {escape(page.fonds)}</p>
</header>
<main>
<section><h2>Thông tin hồ sơ</h2>{_table(page.hoso_fields)}</section>
<section><h2>Danh sách tài liệu ({len(page.documents)})</h2>{documents}</section>
{excluded}
</main>
<footer>
<p>DIP {escape(page.dip_objid)} · tạo từ AIP {escape(page.aip_objid)} · {escape(page.created)}</p>
{notes}
</footer>
<script>{_SCRIPT}</script>
</body>
</html>
"""
    return html.encode("utf-8")
