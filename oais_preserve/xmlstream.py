"""A small byte-level XML stream writer for documents with one entry per file.

METS and PREMIS repeat the same few elements once per content file. Building each of those as
an lxml tree costs more than the rest of a build; writing them from a template with proper
escaping costs almost nothing. Rare, irregular elements are still built with lxml and
serialized into the same stream. Every document written this way is schema-validated before a
package is published.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING

from lxml import etree

if TYPE_CHECKING:
    from _typeshed import SupportsWrite

_TEXT = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})
_ATTR = str.maketrans(
    {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "\n": "&#10;", "\r": "&#13;", "\t": "&#9;"}
)


_NEEDS_TEXT = re.compile(r"[&<>]")
_NEEDS_ATTR = re.compile(r'[&<>"\n\r\t]')


def text(value: str) -> str:
    """Escape character data (most values need nothing: test before translating)."""
    return value.translate(_TEXT) if _NEEDS_TEXT.search(value) else value


def attr(value: str) -> str:
    """Escape an attribute value (for use inside double quotes)."""
    return value.translate(_ATTR) if _NEEDS_ATTR.search(value) else value


def start_tag(name: str, attrs: Mapping[str, str | None], *, empty: bool = False) -> str:
    """``<name a="v" …>`` (or ``/>``) with escaped values; None values are left out."""
    parts = [f'{key}="{attr(value)}"' for key, value in attrs.items() if value is not None]
    inner = " ".join([name, *parts])
    return f"<{inner}/>" if empty else f"<{inner}>"


class XmlStream:
    """Writes UTF-8 XML to a binary sink: an XML declaration, then whatever is added."""

    def __init__(self, sink: SupportsWrite[bytes]) -> None:
        self._sink = sink
        self._sink.write(b'<?xml version="1.0" encoding="UTF-8"?>\n')

    def raw(self, markup: str) -> None:
        """Append markup the caller built with :func:`text`, :func:`attr` and :func:`start_tag`."""
        self._sink.write(markup.encode("utf-8"))

    def element(self, elem: etree._Element) -> None:
        """Append an lxml element (it carries its own namespace declarations)."""
        self._sink.write(etree.tostring(elem, encoding="UTF-8", pretty_print=True, xml_declaration=False))
