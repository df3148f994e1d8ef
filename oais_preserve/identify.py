"""PRONOM format identification with fido's signatures and fido's exact results, but fast.

fido (opf-fido 1.6.1) walks every format and every pattern for every file and hands each regex to
``re`` as text, so its compiled-pattern cache thrashes. This module loads the same signature
files once (as the fido command line selects them through ``conf/versions.xml``; the tables it
derives are cached per user), compiles each pattern once on first use, and only tries the
signatures whose first pattern can match: an index on fixed bytes at fixed offsets of the BOF,
plus literal "gates" for patterns that float (the widest searched in one Aho-Corasick pass).
Formats are tried in fido's order, with fido's priority rules, its container (ZIP/OLE2) step and
its extension fallback, so the PUIDs and their order are those the ``fido`` command line prints.

What fido lacks, for a batch that must not stall:

* a per-file time limit, checked between signatures and, in the main thread on POSIX, also
  enforced inside a running regex (SIGALRM; ``re`` checks for signals while matching);
* EOF patterns ending in ``\\Z`` are only searched where a match can start, and wide patterns
  are skipped when a literal they need is absent (the DXF regexes otherwise backtrack for
  seconds over a 128 KiB buffer);
* a byte cap on containers and on each container member read.

Results never use fido's own ``fido-fmt/...`` identifiers as PUIDs.
"""

from __future__ import annotations

import collections
import contextlib
import functools
import hashlib
import importlib.metadata
import io
import itertools
import json
import logging
import os
import re
import signal
import sys
import tempfile
import threading
import time
import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import ahocorasick_rs

from .errors import IdentificationError

__all__ = [
    "BOF_SIZE",
    "EOF_SIZE",
    "FormatIdentifier",
    "FormatMatch",
    "Identification",
    "default_cache_dir",
    "default_identifier",
]

log = logging.getLogger(__name__)

BOF_SIZE: int = 128 * 1024  # fido's default bufsize
EOF_SIZE: int = 128 * 1024

_ALL_BYTES = frozenset(range(256))
_DIGITS = frozenset(b"0123456789")
_SPACES = frozenset(b" \t\n\r\f\v")
_WORD = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")
_CLASS_ESCAPES = {
    "d": _DIGITS,
    "D": _ALL_BYTES - _DIGITS,
    "s": _SPACES,
    "S": _ALL_BYTES - _SPACES,
    "w": _WORD,
    "W": _ALL_BYTES - _WORD,
}
_CHAR_ESCAPES = {"n": 10, "r": 13, "t": 9, "f": 12, "v": 11, "a": 7}
_SIMPLE_REPEATS: dict[str, tuple[int, int | None]] = {"*": (0, None), "+": (1, None), "?": (0, 1)}
_QUANTIFIER = re.compile(r"\{(\d*)(?:(,)(\d*))?\}")
_HEX = frozenset("0123456789abcdefABCDEF")
_OCTAL = frozenset("01234567")


# --------------------------------------------------------------------------- public results


@dataclass(frozen=True)
class FormatMatch:
    """One format fido would print for a file, with how it was found."""

    puid: str
    name: str
    version: str | None
    mime_type: str | None
    basis: str  # "signature" | "container" | "extension"


@dataclass(frozen=True)
class Identification:
    """The identification of one file: the best PRONOM PUID and everything fido would print."""

    puid: str | None
    format_name: str | None
    format_version: str | None
    mime_type: str | None
    basis: str  # "signature" | "container" | "extension" | "none"
    status: str  # "identified" | "tentative" | "unknown" | "incomplete"
    matches: tuple[FormatMatch, ...]
    note: str


# --------------------------------------------------------------------------- regex shape analysis
# A small reader for the regex dialect of fido's signature files. It only answers two questions,
# and answers "don't know" (``_Unsupported``) for anything it does not model: which bytes must sit
# at fixed offsets of any match (for the BOF index), and how long a match can be (to bound EOF
# searches). Both answers are used for pruning only, so a conservative answer is always safe.


class _Unsupported(ValueError):
    """The regex uses a construct the shape reader does not model."""


@dataclass(frozen=True)
class _Set:
    """One byte out of ``values``."""

    values: frozenset[int]


@dataclass(frozen=True)
class _Seq:
    items: tuple[_Node, ...]


@dataclass(frozen=True)
class _Alt:
    branches: tuple[_Node, ...]


@dataclass(frozen=True)
class _Repeat:
    item: _Node
    low: int
    high: int | None  # None: unbounded


@dataclass(frozen=True)
class _Anchor:
    """A zero-width assertion: "start" (\\A, ^), "end" (\\Z), or "other" ($, \\b, lookarounds)."""

    kind: str


_Node = _Set | _Seq | _Alt | _Repeat | _Anchor
_BYTE_SETS = tuple(_Set(frozenset((value,))) for value in range(256))
_PLAIN_TOKEN = re.compile(r"\\x[0-9a-fA-F]{2}|\\[^A-Za-z0-9]|[^\\\[\]().*+?{}|^$]")
# A run of plain tokens none of which is followed by a quantifier (or by a "{" at all).
_PLAIN_RUN = re.compile(rf"(?:(?:{_PLAIN_TOKEN.pattern})(?![*+?{{]))+")


def _plain_byte(token: str) -> int:
    return int(token[2:], 16) if token.startswith("\\x") else ord(token[-1])


class _RegexReader:
    """Recursive-descent reader of a bytes regex into ``_Node`` trees.

    The pattern is read as Latin-1 text so that each character is exactly one pattern byte.
    """

    def __init__(self, src: bytes) -> None:
        self.src = src.decode("latin-1")
        self.pos = 0

    def parse(self) -> _Node:
        node = self._alternation()
        if self.pos != len(self.src):
            raise _Unsupported("unbalanced parenthesis")
        return node

    def _peek(self, ahead: int = 0) -> str | None:
        at = self.pos + ahead
        return self.src[at] if at < len(self.src) else None

    def _next(self) -> str:
        if self.pos >= len(self.src):
            raise _Unsupported("unexpected end of pattern")
        self.pos += 1
        return self.src[self.pos - 1]

    def _alternation(self) -> _Node:
        branches = [self._sequence()]
        while self._peek() == "|":
            self.pos += 1
            branches.append(self._sequence())
        return branches[0] if len(branches) == 1 else _Alt(tuple(branches))

    def _sequence(self) -> _Node:
        items: list[_Node] = []
        while (char := self._peek()) is not None and char not in "|)":
            run = _PLAIN_RUN.match(self.src, self.pos)
            if run is not None:  # fast path: unquantified literal bytes, most of any signature
                items.extend(_BYTE_SETS[_plain_byte(t)] for t in _PLAIN_TOKEN.findall(run.group()))
                self.pos = run.end()
            else:
                items.append(self._quantified(self._atom()))
        return _Seq(tuple(items))

    def _atom(self) -> _Node:
        char = self._next()
        if char == "(":
            return self._group()
        if char == "[":
            return _Set(self._class())
        if char == ".":
            return _Set(_ALL_BYTES)  # a superset whether or not DOTALL is on
        if char == "^":
            return _Anchor("start")
        if char == "$":
            return _Anchor("other")  # may match before a final newline: not a hard end
        if char == "\\":
            return self._escape()
        if char in "*+?" or (char == "{" and self._quantifier_at(self.pos - 1)):
            raise _Unsupported("nothing to repeat")
        return _BYTE_SETS[ord(char)]

    def _group(self) -> _Node:
        if self._peek() != "?":
            return self._group_body()
        self.pos += 1
        kind = self._next()
        if kind in ":>":
            return self._group_body()
        if kind in "=!" or (kind == "<" and self._peek() in ("=", "!")):
            self.pos += kind == "<"
            self._group_body()
            return _Anchor("other")  # lookaround: zero width
        if kind == "P" and self._peek() == "<":
            return self._skip_to(">", then=self._group_body)
        if kind == "#":
            return self._skip_to(")", then=lambda: _Seq(()))
        self.pos -= 1
        return self._flags()

    def _skip_to(self, end: str, then: Callable[[], _Node]) -> _Node:
        at = self.src.find(end, self.pos)
        if at < 0:
            raise _Unsupported(f"missing {end!r}")
        self.pos = at + 1
        return then()

    def _group_body(self) -> _Node:
        inner = self._alternation()
        if self._next() != ")":
            raise _Unsupported("missing ')'")
        return inner

    def _flags(self) -> _Node:
        start = self.pos
        while (char := self._peek()) is not None and char in "aiLmsux-":
            self.pos += 1
        if self.src[start : self.pos] != "s":
            raise _Unsupported("flags other than DOTALL")  # they change which bytes match
        end = self._next()
        if end == ")":
            return _Seq(())
        if end == ":":
            return self._group_body()
        raise _Unsupported("bad flag group")

    def _escape(self) -> _Node:
        char = self._next()
        if char == "A":
            return _Anchor("start")
        if char == "Z":
            return _Anchor("end")
        if char in "bB":
            return _Anchor("other")
        return _Set(self._escaped_set(char))

    def _escaped_set(self, char: str) -> frozenset[int]:
        """The bytes one escape stands for (shared by atoms and classes)."""
        if char == "x":
            digits = self.src[self.pos : self.pos + 2]
            if len(digits) != 2 or not all(d in _HEX for d in digits):
                raise _Unsupported("bad \\x escape")
            self.pos += 2
            return frozenset((int(digits, 16),))
        if char in _CLASS_ESCAPES:
            return _CLASS_ESCAPES[char]
        if char in _CHAR_ESCAPES:
            return frozenset((_CHAR_ESCAPES[char],))
        if char == "0":
            digits = "0"
            while len(digits) < 3 and (nxt := self._peek()) is not None and nxt in _OCTAL:
                digits += nxt
                self.pos += 1
            return frozenset((int(digits, 8),))
        if char.isascii() and char.isalnum():
            raise _Unsupported("escape with a special meaning")  # backrefs, \N, \u, bad escapes
        return frozenset((ord(char),))

    def _class_item(self) -> frozenset[int]:
        char = self._next()
        if char != "\\":
            return frozenset((ord(char),))
        esc = self._next()
        return frozenset((8,)) if esc == "b" else self._escaped_set(esc)

    def _class(self) -> frozenset[int]:
        negate = self._peek() == "^"
        self.pos += negate
        values: set[int] = set()
        first = True
        while self._peek() != "]" or first:
            first = False
            item = self._class_item()
            if len(item) == 1 and self._peek() == "-" and self._peek(1) not in (None, "]"):
                self.pos += 1
                high = self._class_item()
                if len(high) != 1 or min(high) < min(item):
                    raise _Unsupported("bad character range")
                values.update(range(min(item), min(high) + 1))
            else:
                values.update(item)
        self.pos += 1  # the closing "]"
        return _ALL_BYTES - values if negate else frozenset(values)

    def _quantifier_at(self, at: int) -> tuple[int, int | None, int] | None:
        """(low, high, end) of a ``{..}`` quantifier starting at ``at``, None if it is a literal."""
        found = _QUANTIFIER.match(self.src, at)
        if found is None or found.group(0) == "{}":
            return None
        low = int(found.group(1)) if found.group(1) else 0
        if found.group(2) is None:
            return low, low, found.end()
        return low, (int(found.group(3)) if found.group(3) else None), found.end()

    def _quantified(self, atom: _Node) -> _Node:
        bounds = self._read_quantifier()
        if bounds is None:
            return atom
        if (char := self._peek()) is not None and char in "?+":
            self.pos += 1  # lazy or possessive: same set of possible widths
        if self._read_quantifier() is not None:
            raise _Unsupported("multiple repeat")
        low, high = bounds
        if isinstance(atom, _Anchor) or (high is not None and high < low):
            raise _Unsupported("bad repeat")
        return _Repeat(atom, low, high)

    def _read_quantifier(self) -> tuple[int, int | None] | None:
        char = self._peek()
        if char is not None and char in _SIMPLE_REPEATS:
            self.pos += 1
            return _SIMPLE_REPEATS[char]
        if char == "{":
            found = self._quantifier_at(self.pos)
            if found is not None:
                self.pos = found[2]
                return found[0], found[1]
        return None


def _max_width(node: _Node) -> int | None:
    """Longest match of ``node`` in bytes, None when unbounded."""
    if isinstance(node, _Set):
        return 1
    if isinstance(node, _Anchor):
        return 0
    if isinstance(node, _Repeat):
        item = _max_width(node.item)
        if item is None or (node.high is None and item > 0):
            return None
        return item * (node.high or 0)
    parts = [_max_width(n) for n in (node.items if isinstance(node, _Seq) else node.branches)]
    if any(p is None for p in parts):
        return None
    widths = [p for p in parts if p is not None]
    if isinstance(node, _Seq):
        return sum(widths)
    return max(widths, default=0)


def _fixed_sets(node: _Node, out: list[frozenset[int]], limit: int) -> bool:
    """Append the byte set every match has at each next offset; True if ``node`` was fully fixed.

    Anchors and lookarounds are skipped (ignoring a constraint only widens the sets).
    """
    if isinstance(node, _Set):
        out.append(node.values)
        return True
    if isinstance(node, _Anchor):
        return True
    if isinstance(node, _Seq):
        return all(len(out) < limit and _fixed_sets(item, out, limit) for item in node.items)
    if isinstance(node, _Alt):
        return _fixed_alt(node, out, limit)
    sub: list[frozenset[int]] = []
    full = _fixed_sets(node.item, sub, limit)
    if not full:
        if node.low >= 1:
            out.extend(sub)
        return False
    for _ in range(node.low):
        if len(out) + len(sub) > limit:
            return False
        out.extend(sub)
    return node.high == node.low


def _fixed_alt(node: _Alt, out: list[frozenset[int]], limit: int) -> bool:
    subs: list[list[frozenset[int]]] = []
    full = True
    for branch in node.branches:
        sub: list[frozenset[int]] = []
        full = _fixed_sets(branch, sub, limit) and full
        subs.append(sub)
    common = min(len(s) for s in subs)
    out.extend(frozenset().union(*(s[i] for s in subs)) for i in range(common))
    return full and all(len(s) == common for s in subs)


def _ends_with_end_anchor(node: _Node) -> bool:
    """True when every match must end at the end of the buffer (a final ``\\Z``)."""
    if isinstance(node, _Anchor):
        return node.kind == "end"
    if isinstance(node, _Seq):
        return bool(node.items) and _ends_with_end_anchor(node.items[-1])
    if isinstance(node, _Alt):
        return all(_ends_with_end_anchor(b) for b in node.branches)
    return False


@functools.lru_cache(maxsize=4096)
def _parse_regex(src: bytes) -> _Node | None:
    """The shape of a regex, None if it uses something the reader does not model (cached:
    loading reads each pattern twice, and many signatures share patterns)."""
    try:
        return _RegexReader(src).parse()
    except _Unsupported as exc:
        log.debug("regex not analysed (%s): %r", exc, src[:80])
        return None


# --------------------------------------------------------------------------- pruning gates
# Every signature gets a gate on its first pattern: an exact index key (bytes at a fixed offset of
# the BOF), a literal that must occur in a window of a buffer, or nothing (always tried). A gate
# is a necessary condition of the first pattern, so skipping gated-out signatures changes nothing.

_INDEX_RUN = 4  # bytes per index key: long enough to be selective, short enough to be common
_MAX_SET_KEYS = 32  # a position with more possible bytes is not worth indexing
_MAX_KEY_OFFSET = 512  # keys further into the file would add index shapes for little gain
_MAX_SLACK = 32  # a literal whose offset varies more than this is searched for, not indexed
_FIXED_LIMIT = 1024  # how many leading offsets of a pattern are examined


@dataclass(frozen=True)
class _KeyOptions:
    """Fixed bytes at fixed offsets an anchored pattern needs; the index uses one of them."""

    options: tuple[tuple[int, bytes], ...]  # (offset, key), every key the same length


@dataclass(frozen=True)
class _KeyAnyOf:
    """Bytes one of which an anchored pattern needs (a literal at a few possible offsets)."""

    options: tuple[tuple[int, bytes], ...]


def _index_options(sets: Sequence[frozenset[int]]) -> _KeyOptions | None:
    """Index keys for an anchored pattern: every window of single bytes, else a small byte set."""
    single = [len(s) == 1 for s in sets]
    for length in range(_INDEX_RUN, 1, -1):
        options = tuple(
            (offset, bytes(min(s) for s in sets[offset : offset + length]))
            for offset in range(min(len(sets) - length + 1, _MAX_KEY_OFFSET + 1))
            if all(single[offset : offset + length])
        )
        if options:
            return _KeyOptions(options)
    smallest = min(range(len(sets)), key=lambda i: len(sets[i]), default=None)
    if smallest is None or len(sets[smallest]) > _MAX_SET_KEYS:
        return None
    return _KeyOptions(tuple((smallest, bytes((b,))) for b in sorted(sets[smallest])))


def _min_width(node: _Node) -> int:
    if isinstance(node, _Set):
        return 1
    if isinstance(node, _Anchor):
        return 0
    if isinstance(node, _Repeat):
        return _min_width(node.item) * node.low
    if isinstance(node, _Seq):
        return sum(_min_width(n) for n in node.items)
    return min(_min_width(n) for n in node.branches)


def _flatten(node: _Node) -> list[_Node]:
    """The top-level sequence of ``node``, with short fixed repeats of one byte unrolled."""
    if isinstance(node, _Seq):
        return [leaf for item in node.items for leaf in _flatten(item)]
    if isinstance(node, _Repeat) and node.low == node.high and node.low <= 64 and isinstance(node.item, _Set):
        return [node.item] * node.low
    return [node]


def _required_literals(node: _Node) -> list[tuple[bytes, int, int | None]]:
    """Byte strings every match contains, each with its (min, max) offset in the match."""
    runs: list[tuple[bytes, int, int | None]] = []
    run = bytearray()
    run_low: int = 0
    run_high: int | None = 0
    low: int = 0
    high: int | None = 0  # offset range of the next byte; None: unbounded
    for item in _flatten(node):
        if isinstance(item, _Anchor):
            continue  # zero width: the bytes on either side stay adjacent
        if isinstance(item, _Set) and len(item.values) == 1:
            if not run:
                run_low, run_high = low, high
            run.append(min(item.values))
            low, high = low + 1, None if high is None else high + 1
            continue
        if run:
            runs.append((bytes(run), run_low, run_high))
            run.clear()
        width = _max_width(item)
        low, high = low + _min_width(item), None if high is None or width is None else high + width
    if run:
        runs.append((bytes(run), run_low, run_high))
    return runs


def _required_literal(node: _Node) -> tuple[bytes, int, int | None] | None:
    """The longest byte string every match contains, with its (min, max) offset in the match."""
    return max(_required_literals(node), key=lambda r: len(r[0]), default=None)


# --------------------------------------------------------------------------- container sequences
# DROID container signatures are written as hex bytes, 'quoted text' and [ranges]. fido 1.6.1
# turns them into regexes with a small state machine that has quirks ("[00:FF]" becomes two bytes,
# "[01-04]" becomes "01 or 04"); container matches only agree with fido if the quirks are kept.

_LITERAL_OK = frozenset(" \"#%&',-/0123456789:;=@ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz~")
_LITERAL_SPECIAL = frozenset("$()*+.?![]^\\{|}")


def _quoted_char(char: str) -> str:
    """A character of quoted text, escaped for a regex the way fido escapes it."""
    if char in _LITERAL_OK:
        return char
    if char == "\n":
        return "\\n"
    if char == "\r":
        return "\\r"
    if char in _LITERAL_SPECIAL:
        return "\\" + char
    if ord(char) > 0xFF:
        raise ValueError(f"character {char!r} cannot be escaped")  # fido fails on it too
    return f"\\x{ord(char):02x}"


@dataclass
class _SequenceState:
    quoted: bool = False
    in_range: bool = False
    half_byte: bool = False  # one hex digit of a byte written, the second is next
    range_quoted: bool = False


def _range_char(char: str, state: _SequenceState) -> str:
    """What fido writes for ``char`` inside ``[...]``."""
    if char == "]":
        state.in_range = False
        return ")"
    if state.range_quoted and char not in "-'":
        return _quoted_char(char)
    if not state.range_quoted and char not in "-' :" and not state.half_byte:
        state.half_byte = True
        return "\\x" + char.lower()
    if not state.range_quoted and char not in "-' " and state.half_byte:
        state.half_byte = False
        return char.lower()
    if char in "- ":
        return "|"
    if char == "'":
        state.range_quoted = not state.range_quoted
    return ""


def _plain_char(char: str, state: _SequenceState) -> str:
    """What fido writes for ``char`` outside quotes and ranges."""
    if char == "'":
        state.quoted = True
        return ""
    if char in " \n":
        return ""
    if char == "[":
        state.in_range = True
        return "("
    state.half_byte = not state.half_byte
    return ("\\x" if state.half_byte else "") + char.lower()


def container_sequence_regex(sequence: str) -> bytes:
    """The regex (bytes) fido 1.6.1 derives from a container signature ``<Sequence>``."""
    state = _SequenceState()
    parts = ["(?s)"]
    for char in sequence:
        if state.in_range:
            parts.append(_range_char(char, state))
        elif state.quoted:
            if char == "'":
                state.quoted = False
            else:
                parts.append(_quoted_char(char))
        else:
            parts.append(_plain_char(char, state))
    return "".join(parts).encode("utf8")


# --------------------------------------------------------------------------- compiled signatures

_BOF, _EOF, _VAR, _SKIP, _BROKEN = range(5)  # pattern kinds; fido ignores unknown positions
_POSITIONS = {"BOF": _BOF, "EOF": _EOF, "VAR": _VAR, "IFB": _VAR}
_NO, _YES, _RAISED = range(3)  # outcomes of one signature
_NOT_FOUND = -1  # what bytes.find returns
_PRONOM_PUID = re.compile(r"(?:x-)?fmt/\d+")

# (kind, regex source (known to compile) or None, EOF search window in bytes or 0 for the whole
#  buffer, literals the buffer must contain before the regex is worth running: (bytes, start, stop))
_Pattern = tuple[int, bytes | None, int, tuple[tuple[bytes, int, int], ...]]
_WIDE = 256  # patterns that can match more bytes than this get literal pre-checks
_MAX_CHECKS = 3
# Below this buffer size no signature regex runs long (the worst, quadratic ones take ~0.07 s at
# 8 KiB), so the checks between signatures suffice and the alarm's cost (~20 us) is saved.
_ALARM_MIN_BYTES = 8 * 1024


@dataclass(frozen=True)
class _Format:
    puid: str
    name: str
    version: str | None
    mime: str | None
    extensions: tuple[str, ...]
    container: str | None  # what fido's container_type() returns when it reaches this format
    decides_container: bool  # container_type() stops at this format
    priority_over: frozenset[str]


def _text(element: ET.Element, tag: str) -> str | None:
    found = element.find(tag)
    return found.text if found is not None else None


def _parse_xml(path: Path) -> ET.Element:
    try:
        return ET.parse(path).getroot()
    except (OSError, ET.ParseError) as exc:
        raise IdentificationError(f"cannot load signature file {path}: {exc}") from exc


def _load_format_elements(files: Sequence[Path]) -> list[ET.Element]:
    """fido's format list: later files replace a PUID in place, new PUIDs are appended."""
    elements: list[ET.Element] = []
    where: dict[str, int] = {}
    for path in files:
        for element in _parse_xml(path).findall("./format"):
            puid = _text(element, "puid")
            if puid is None:
                raise IdentificationError(f"{path}: a <format> has no <puid>")
            if puid in where:
                elements[where[puid]] = element
            else:
                where[puid] = len(elements)
                elements.append(element)
    return elements


def _format_record(element: ET.Element) -> _Format:
    puid = _text(element, "puid") or ""
    container = element.find("container")
    return _Format(
        puid=puid,
        name=_text(element, "name") or "",
        version=_text(element, "version"),
        mime=_text(element, "mime"),
        extensions=tuple(dict.fromkeys(e.text for e in element.findall("extension") if e.text is not None)),
        container=container.text if container is not None else ("ole" if puid == "fmt/111" else None),
        decides_container=container is not None or puid == "fmt/111",
        priority_over=frozenset(e.text or "" for e in element.findall("has_priority_over")),
    )


@functools.cache
def _regex(source: bytes) -> re.Pattern[bytes]:
    """A signature regex, compiled on first use: the index and gates mean most signatures never
    run in a given process, and compiling all ~2,300 costs ~0.4 s per process."""
    try:
        return re.compile(source)
    except re.error as exc:  # built tables compile every source: only a tampered cache gets here
        raise IdentificationError(
            f"identification tables hold a broken regex ({exc}); delete the cache folder "
            f"{default_cache_dir()} and run again"
        ) from exc


def _compile_pattern(pattern: ET.Element) -> _Pattern:
    """One ``<pattern>``, with fido's reactions to broken ones (it reads position, then regex)."""
    position = pattern.find("position")
    regex = _text(pattern, "regex")
    if position is None or regex is None:
        return (_BROKEN, None, 0, ())  # fido raises reading it and skips the rest of the format
    kind = _POSITIONS.get(position.text or "", _SKIP)
    if kind == _SKIP:
        return (_SKIP, None, 0, ())  # an unknown position: fido never tests the regex
    source = regex.encode("utf8")
    try:
        re.compile(source)  # only when the tables are built, not when they come from the cache
    except re.error:
        log.warning("signature regex does not compile, fido skips its format: %r", source[:80])
        return (_BROKEN, None, 0, ())
    node = _parse_regex(source)
    window = _eof_window(node) if kind == _EOF else 0
    return (kind, source, window, _literal_checks(node, kind))


def _literal_checks(node: _Node | None, kind: int) -> tuple[tuple[bytes, int, int], ...]:
    """Cheap necessary conditions for a wide pattern, so that a regex which cannot match is
    never run (wide patterns with ``.*`` are the ones that can take seconds on a 128 KiB buffer).
    """
    if node is None or ((width := _max_width(node)) is not None and width <= _WIDE):
        return ()
    runs = sorted(_required_literals(node), key=lambda r: -len(r[0]))[:_MAX_CHECKS]
    checks = []
    for text, low, high in runs:
        if len(text) < 3:
            continue
        if kind == _BOF:  # anchored at offset 0: the literal sits in a known window
            checks.append((text, low, BOF_SIZE if high is None else high + len(text)))
        else:  # VAR: anywhere in the BOF; EOF: the start is applied at match time
            checks.append((text, 0, BOF_SIZE))
    return tuple(checks)


def _eof_window(node: _Node | None) -> int:
    """Bytes before the end where a match of an EOF pattern ending in \\Z can start (0: anywhere)."""
    if node is None or not _ends_with_end_anchor(node):
        return 0
    width = _max_width(node)
    return width if width is not None and width > 0 else 0


@dataclass(frozen=True)
class _Gate:
    """A necessary condition for a signature's first pattern: ``literal`` in a buffer window."""

    literal: bytes
    in_eof: bool
    start: int  # for BOF: first offset; for EOF: bytes before the end (0: whole buffer)
    stop: int | None  # BOF only: end of the window


def _signature_gate(first: _Pattern) -> _KeyOptions | _KeyAnyOf | _Gate | None:
    """How to preselect a signature by its first pattern: index keys, a literal gate, or None.

    Preference: several fixed bytes at fixed offsets, then a literal of 3+ bytes, then a small
    set of possible bytes at one offset, then a 2-byte literal.
    """
    kind, source, window, _ = first
    if source is None or kind not in (_BOF, _EOF, _VAR):
        return None
    node = _parse_regex(source)
    if node is None:
        return None
    keys = None
    if kind == _BOF:
        sets: list[frozenset[int]] = []
        _fixed_sets(node, sets, _FIXED_LIMIT)
        keys = _index_options(sets)
        if keys is not None and len(keys.options[0][1]) >= 2:
            return keys
    literal = _required_literal(node)
    gate = None
    if literal is not None and len(literal[0]) >= 2:
        text, low, high = literal
        if kind == _BOF:
            gate = _Gate(text, False, low, None if high is None else high + len(text))
        else:
            gate = _Gate(text, kind == _EOF, window if kind == _EOF else 0, None)
    if gate is not None and len(gate.literal) >= 3:
        return _literal_at_few_offsets(gate) or gate
    return keys if keys is not None else gate


def _literal_at_few_offsets(gate: _Gate) -> _KeyAnyOf | None:
    """A BOF literal whose offset can vary only a little becomes index keys, one per offset
    (cheaper than searching for it)."""
    if gate.in_eof or gate.stop is None or gate.stop - gate.start - len(gate.literal) > _MAX_SLACK:
        return None
    key = gate.literal[:_INDEX_RUN]
    return _KeyAnyOf(tuple((o, key) for o in range(gate.start, gate.stop - len(gate.literal) + 1)))


_SEQUENCE_PATH = (
    "Files/File/BinarySignatures/InternalSignatureCollection/InternalSignature"
    "/ByteSequence/SubSequence/Sequence"
)
# Per container kind: (path inside the container, ((puid, regexes), ...)) in fido's order.
_ContainerRules = tuple[tuple[str | None, tuple[tuple[str, tuple[bytes | None, ...]], ...]], ...]


def _load_container_rules(path: Path) -> dict[str, _ContainerRules]:
    """fido's ``extract_signatures`` for ZIP and OLE2, read once instead of once per file.

    Like fido, the path is the first ``<File>``'s and the sequence the first one found in any
    ``<File>``, even when they belong to different files of the signature.
    """
    root = _parse_xml(path)
    puids: dict[str, str] = {}
    for mapping in root.iterfind("FileFormatMappings/FileFormatMapping"):
        puids.setdefault(mapping.get("signatureId", ""), mapping.get("Puid", ""))
    rules: dict[str, _ContainerRules] = {}
    for kind, container_type in (("zip", "ZIP"), ("ole", "OLE2")):
        by_path: dict[str | None, dict[str, list[bytes | None]]] = {}
        query = f'ContainerSignatures/ContainerSignature[@ContainerType="{container_type}"]'
        for element in root.findall(query):
            if element.find("Files/File/BinarySignatures") is None:
                continue
            puid = puids.get(element.get("Id", ""))
            sequence = element.findtext(_SEQUENCE_PATH)
            if puid is None or sequence is None:
                log.warning("container signature %s is incomplete; skipped", element.get("Id"))
                continue
            member = element.findtext("Files/File/Path")
            by_path.setdefault(member, {}).setdefault(puid, []).append(_compile_sequence(sequence))
        rules[kind] = tuple(
            (member, tuple((puid, tuple(regexes)) for puid, regexes in by_puid.items()))
            for member, by_puid in by_path.items()
        )
    return rules


def _compile_sequence(sequence: str) -> bytes | None:
    """The regex source of a container sequence, None if fido's conversion gives no usable one."""
    try:
        source = container_sequence_regex(sequence)
        re.compile(source)
        return source
    except (ValueError, re.error) as exc:
        log.warning("container sequence %r gives no usable regex (%s)", sequence[:60], exc)
        return None


class _ContainerError(Exception):
    """The container could not be read the way fido reads it."""


class _Deadline(BaseException):
    """The per-file time limit passed (a BaseException, so library code cannot swallow it)."""


@dataclass
class _Tables:
    """Everything matching needs, built once from the signature files (or read from the cache)."""

    formats: list[_Format]
    sig_format: list[int]
    sig_patterns: list[tuple[_Pattern, ...]]
    index: list[tuple[int, int, dict[bytes, tuple[int, ...]]]]  # (offset, key length, key -> sigs)
    gates: list[tuple[_Gate, tuple[int, ...]]]
    always: tuple[int, ...]
    container_rules: dict[str, _ContainerRules]
    # Derived from the above in a few milliseconds, so not cached:
    puid_index: dict[str, int] = field(init=False)
    # format -> the *other* formats that have priority over it: fido's as_good_as_any() is
    # "none of these matched".
    outranked_by: list[frozenset[int]] = field(init=False)
    by_extension: dict[str, tuple[int, ...]] = field(init=False)
    # signatures of formats that start a container check
    container_probes: tuple[int, ...] = field(init=False)

    def __post_init__(self) -> None:
        formats = self.formats
        self.puid_index = {f.puid: i for i, f in enumerate(formats)}
        self.outranked_by = _outranked_by(formats, self.puid_index)
        by_extension: dict[str, list[int]] = {}
        for number, fmt in enumerate(formats):
            for extension in fmt.extensions:
                by_extension.setdefault(extension, []).append(number)
        self.by_extension = {k: tuple(v) for k, v in by_extension.items()}
        self.container_probes = tuple(
            s for s, f in enumerate(self.sig_format) if formats[f].container in ("zip", "ole")
        )


def _build_tables(format_files: Sequence[Path], container_file: Path) -> _Tables:
    elements = _load_format_elements(format_files)
    sig_format: list[int] = []
    sig_patterns: list[tuple[_Pattern, ...]] = []
    for number, element in enumerate(elements):
        for signature in element.findall("signature"):
            sig_format.append(number)
            sig_patterns.append(tuple(_compile_pattern(p) for p in signature.findall("pattern")))
    index, gates, always = _build_index(sig_patterns)
    return _Tables(
        formats=[_format_record(e) for e in elements],
        sig_format=sig_format,
        sig_patterns=sig_patterns,
        index=index,
        gates=gates,
        always=always,
        container_rules=_load_container_rules(container_file),
    )


def _outranked_by(formats: Sequence[_Format], puid_index: dict[str, int]) -> list[frozenset[int]]:
    beaten: list[set[int]] = [set() for _ in formats]
    for number, fmt in enumerate(formats):
        for puid in fmt.priority_over:
            if puid in puid_index and puid_index[puid] != number:
                beaten[puid_index[puid]].add(number)
    return [frozenset(b) for b in beaten]


def _build_index(
    sig_patterns: Sequence[tuple[_Pattern, ...]],
) -> tuple[
    list[tuple[int, int, dict[bytes, tuple[int, ...]]]], list[tuple[_Gate, tuple[int, ...]]], tuple[int, ...]
]:
    tables: dict[tuple[int, int], dict[bytes, list[int]]] = {}
    gates: dict[_Gate, list[int]] = {}
    always: list[int] = []
    plans = [_signature_gate(patterns[0]) if patterns else None for patterns in sig_patterns]
    # Each signature is filed under its least shared key, avoiding runs of one byte value (zero
    # padding), so that a common start such as "PK\x03\x04" does not make every ZIP try ~100.
    sharing = collections.Counter(
        o for plan in plans if isinstance(plan, _KeyOptions) for o in set(plan.options)
    )
    for sid, plan in enumerate(plans):
        if isinstance(plan, _Gate):
            gates.setdefault(plan, []).append(sid)
        elif plan is None:
            always.append(sid)
        elif isinstance(plan, _KeyAnyOf):
            for offset, key in plan.options:
                tables.setdefault((offset, len(key)), {}).setdefault(key, []).append(sid)
        elif len(plan.options[0][1]) == 1 and len({o for o, _ in plan.options}) == 1:
            offset = plan.options[0][0]  # a set of possible bytes at one offset: file under each
            for _, key in plan.options:
                tables.setdefault((offset, 1), {}).setdefault(key, []).append(sid)
        else:
            offset, key = min(plan.options, key=lambda o: (len(set(o[1])) == 1, sharing[o], o[0]))
            tables.setdefault((offset, len(key)), {}).setdefault(key, []).append(sid)
    index = [(o, n, {k: tuple(v) for k, v in t.items()}) for (o, n), t in sorted(tables.items())]
    log.debug("signature index: %d shapes, %d gates, %d always tried", len(index), len(gates), len(always))
    return index, [(g, tuple(s)) for g, s in gates.items()], tuple(always)


# --------------------------------------------------------------------------- table cache
# Building the tables (XML, regex analysis, compiling every pattern once to find broken ones) takes
# ~1 s, and every worker process of a build would pay it before its first file. The result is plain
# data, so the first process stores it as JSON in a per-user cache folder and the others read it.
# The file is named and checked by a key over everything the tables derive from (signature-file
# bytes, this module's source, the Python version), carries a digest of its own content, and is
# only read from a folder that only the current user can write. Anything unexpected: rebuild.

_CACHE_VERSION = b"oais_preserve identify tables v1"
_CACHE_PREFIX = "identify-"
_CACHE_UNUSED_DAYS = 30  # other versions' cache files unused this long are removed


def default_cache_dir() -> Path:
    """Where the identifier caches its tables: ``$OAIS_PRESERVE_CACHE_DIR``, else the per-user
    cache folder (``$XDG_CACHE_HOME`` or ``~/.cache``, ``%LOCALAPPDATA%`` on Windows)."""
    if configured := os.environ.get("OAIS_PRESERVE_CACHE_DIR"):
        return Path(configured)
    if os.name == "nt" and (local := os.environ.get("LOCALAPPDATA")):
        return Path(local) / "oais_preserve" / "cache"
    base = os.environ.get("XDG_CACHE_HOME", "")
    if not os.path.isabs(base):  # the XDG rule: a relative value is ignored
        base = str(Path.home() / ".cache")
    return Path(base) / "oais_preserve"


def _cache_folder(cache_dir: Path | None, use_cache: bool) -> Path | None:
    if not use_cache:
        return None
    try:
        return Path(cache_dir) if cache_dir is not None else default_cache_dir()
    except RuntimeError:  # no home folder to be found: work without a cache
        return None


def _cache_key(files: Sequence[Path]) -> str:
    digest = hashlib.sha256(_CACHE_VERSION)
    for part in (Path(__file__).read_bytes(), sys.version.encode(), *(p.read_bytes() for p in files)):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


def _private_dir(folder: Path) -> bool:
    """True when ``folder`` exists (it is created) and no other user can write into it."""
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = folder.stat()
    except OSError as exc:
        log.debug("identification cache folder %s not usable: %s", folder, exc)
        return False
    if os.name == "nt":
        return True  # per-user profile folders; POSIX ownership bits do not apply
    private = info.st_uid == os.getuid() and not info.st_mode & 0o022
    if not private:
        log.warning("identification cache folder %s is shared with other users; not used", folder)
    return private


def _read_cached_tables(path: Path, key: str) -> _Tables | None:
    try:
        with open(path, "rb") as handle:
            header, payload = handle.read().split(b"\n", 1)
        fields = json.loads(header)
        if fields != {"key": key, "sha256": hashlib.sha256(payload).hexdigest()}:
            raise ValueError("stale or damaged")
        tables = _tables_from_plain(json.loads(payload))
        with contextlib.suppress(OSError):
            os.utime(path)  # marks it as in use (see _remove_unused_caches)
        return tables
    except FileNotFoundError:
        return None
    except (OSError, ValueError, TypeError, KeyError, IndexError, AttributeError, RecursionError) as exc:
        log.info("identification cache %s not used (%s); rebuilding it", path, exc)
        return None


def _write_cached_tables(path: Path, key: str, tables: _Tables) -> None:
    """Write to a temporary sibling and rename: readers see the whole file or none."""
    payload = json.dumps(_tables_to_plain(tables), separators=(",", ":")).encode("ascii")
    header = json.dumps({"key": key, "sha256": hashlib.sha256(payload).hexdigest()}).encode("ascii")
    temporary: str | None = None
    try:
        descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(header + b"\n" + payload)
        os.replace(temporary, path)
    except OSError as exc:
        log.debug("identification cache %s not written: %s", path, exc)
        if temporary is not None:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
        return
    _remove_unused_caches(path)


def _remove_unused_caches(current: Path) -> None:
    """Cache files of other signature or module versions, unread for a month, are dead weight
    (~0.5 MB each); several installed versions in use keep theirs."""
    cutoff = time.time() - _CACHE_UNUSED_DAYS * 86400
    for other in current.parent.glob(f"{_CACHE_PREFIX}*.json"):
        with contextlib.suppress(OSError):
            if other != current and other.stat().st_mtime < cutoff:
                other.unlink()
    # temporary files of writers killed before their rename
    for leftover in current.parent.glob(f".{_CACHE_PREFIX}*.json.*"):
        with contextlib.suppress(OSError):
            if leftover.stat().st_mtime < time.time() - 86400:
                leftover.unlink()


def _load_tables(files: Sequence[Path], cache_dir: Path | None) -> _Tables:
    """The tables for these signature files (format files first, container file last)."""
    try:
        key = _cache_key(files) if cache_dir is not None and _private_dir(cache_dir) else None
    except OSError:
        key = None  # building says which file is unreadable
    if cache_dir is None or key is None:
        return _build_tables(files[:-1], files[-1])
    path = cache_dir / f"{_CACHE_PREFIX}{key[:32]}.json"
    tables = _read_cached_tables(path, key)
    if tables is None:
        tables = _build_tables(files[:-1], files[-1])
        _write_cached_tables(path, key, tables)
    return tables


# Plain-data form of the tables: bytes as Latin-1 text (one character per byte), tuples as lists.
# Reading checks every type, so a damaged file raises (and is rebuilt) instead of misleading.


def _text_of(data: bytes | None) -> str | None:
    return None if data is None else data.decode("latin-1")


def _bytes_of(text: object) -> bytes:
    if not isinstance(text, str):
        raise TypeError("expected text")
    return text.encode("latin-1")


def _int_of(value: object) -> int:
    if type(value) is not int:
        raise TypeError("expected an integer")
    return value


def _str_of(value: object) -> str:
    if not isinstance(value, str):
        raise TypeError("expected text")
    return value


def _bool_of(value: object) -> bool:
    if not isinstance(value, bool):
        raise TypeError("expected true or false")
    return value


def _optional_text(value: object) -> str | None:
    return None if value is None else _str_of(value)


def _sids(values: list[Any]) -> tuple[int, ...]:
    return tuple(map(_int_of, values))


def _tables_to_plain(t: _Tables) -> dict[str, Any]:
    return {
        "formats": [_format_to_plain(f) for f in t.formats],
        "sig_format": t.sig_format,
        "sig_patterns": [[_pattern_to_plain(p) for p in patterns] for patterns in t.sig_patterns],
        "index": [[o, n, [[_text_of(k), list(v)] for k, v in table.items()]] for o, n, table in t.index],
        "gates": [[_text_of(g.literal), g.in_eof, g.start, g.stop, list(s)] for g, s in t.gates],
        "always": list(t.always),
        "container_rules": {
            kind: [[member, [[puid, [_text_of(r) for r in rs]] for puid, rs in by]] for member, by in rules]
            for kind, rules in t.container_rules.items()
        },
    }


def _format_to_plain(f: _Format) -> list[Any]:
    extensions, over = list(f.extensions), sorted(f.priority_over)
    return [f.puid, f.name, f.version, f.mime, extensions, f.container, f.decides_container, over]


def _format_from_plain(
    puid: Any, name: Any, version: Any, mime: Any, extensions: Any, container: Any, decides: Any, over: Any
) -> _Format:
    return _Format(
        puid=_str_of(puid),
        name=_str_of(name),
        version=_optional_text(version),
        mime=_optional_text(mime),
        extensions=tuple(map(_str_of, extensions)),
        container=_optional_text(container),
        decides_container=_bool_of(decides),
        priority_over=frozenset(map(_str_of, over)),
    )


def _pattern_to_plain(p: _Pattern) -> list[Any]:
    kind, source, window, checks = p
    return [kind, _text_of(source), window, [[_text_of(text), low, high] for text, low, high in checks]]


def _pattern_from_plain(kind: int, source: str | None, window: int, checks: list[list[Any]]) -> _Pattern:
    if kind not in (_BOF, _EOF, _VAR, _SKIP, _BROKEN) or (source is None) != (kind in (_SKIP, _BROKEN)):
        raise ValueError("bad pattern")
    literals = tuple((_bytes_of(text), _int_of(low), _int_of(high)) for text, low, high in checks)
    return (kind, None if source is None else _bytes_of(source), _int_of(window), literals)


def _gate_from_plain(literal: str, in_eof: bool, start: int, stop: int | None, sids: list[Any]) -> Any:
    gate = _Gate(_bytes_of(literal), in_eof is True, _int_of(start), None if stop is None else _int_of(stop))
    return gate, _sids(sids)


def _rules_from_plain(plain: list[Any]) -> _ContainerRules:
    def regexes(sources: list[Any]) -> tuple[bytes | None, ...]:
        return tuple(None if r is None else _bytes_of(r) for r in sources)

    return tuple(
        (_optional_text(member), tuple((_str_of(puid), regexes(rs)) for puid, rs in by))
        for member, by in plain
    )


def _tables_from_plain(plain: dict[str, Any]) -> _Tables:
    """The tables from their plain form; raises ValueError/TypeError/... on anything malformed."""
    index = [
        (_int_of(offset), _int_of(length), {_bytes_of(k): _sids(v) for k, v in table})
        for offset, length, table in plain["index"]
    ]
    tables = _Tables(
        formats=[_format_from_plain(*f) for f in plain["formats"]],
        sig_format=list(_sids(plain["sig_format"])),
        sig_patterns=[tuple(_pattern_from_plain(*p) for p in patterns) for patterns in plain["sig_patterns"]],
        index=index,
        gates=[_gate_from_plain(*g) for g in plain["gates"]],
        always=_sids(plain["always"]),
        container_rules={kind: _rules_from_plain(plain["container_rules"][kind]) for kind in ("zip", "ole")},
    )
    _check_references(tables)
    return tables


def _check_references(t: _Tables) -> None:
    """Every signature and format number in the tables points at one that exists."""
    signatures = len(t.sig_patterns)
    if len(t.sig_format) != signatures or not all(0 <= f < len(t.formats) for f in t.sig_format):
        raise ValueError("signature table does not match the formats")
    listed = [*t.always, *(s for _, sids in t.gates for s in sids)]
    listed += [s for _, _, table in t.index for sids in table.values() for s in sids]
    if not all(0 <= s < signatures for s in listed):
        raise ValueError("index names a signature that does not exist")


# --------------------------------------------------------------------------- matching

# A BOF gate whose window is wider than this joins the one multi-literal scan of the BOF; smaller
# windows are cheaper to search one by one with bytes.find.
_SCAN_MIN_WINDOW = 4096


def _gate_stop(gate: _Gate) -> int:
    return gate.stop if gate.stop is not None else BOF_SIZE


def _self_overlapping(literal: bytes) -> bool:
    """True when two occurrences of ``literal`` can share bytes (a proper prefix is also a suffix)."""
    return any(literal.endswith(literal[:k]) for k in range(1, len(literal)))


def _can_overlap(a: bytes, b: bytes) -> bool:
    """True when an occurrence of ``a`` and one of ``b`` can share bytes."""
    if a in b or b in a:
        return True
    return any(a.endswith(b[:k]) or b.endswith(a[:k]) for k in range(1, min(len(a), len(b))))


class _LiteralScan:
    """Which literal gates pass, with one Aho-Corasick pass over the buffer per literal group.

    A leftmost, non-overlapping search (which can use SIMD prefilters, ~30x faster than a
    ``bytes.find`` per literal) reports every literal that occurs at least once, provided no two
    literals of a group can overlap: an occurrence of one can then never be hidden inside a
    reported match of another. The searches only say which literals occur; each gate is then
    confirmed in its window with ``bytes.find``, so results equal one find per gate. The list of
    matches is at most ``len(buffer) / shortest literal`` long, so the cost stays linear.
    """

    def __init__(self, gates: Sequence[tuple[bytes, int, int, tuple[int, ...]]]) -> None:
        self._windows: dict[bytes, list[tuple[int, int, tuple[int, ...]]]] = {}
        for literal, start, stop, sids in gates:
            self._windows.setdefault(literal, []).append((start, stop, sids))
        groups: list[list[bytes]] = []
        for literal in self._windows:
            group = next((g for g in groups if not any(_can_overlap(literal, o) for o in g)), None)
            if group is None:
                groups.append([literal])
            else:
                group.append(literal)
        self._groups = [
            (ahocorasick_rs.BytesAhoCorasick(g, matchkind=ahocorasick_rs.MATCHKIND_LEFTMOST_FIRST), g)
            for g in groups
        ]

    def hits(self, buffer: bytes) -> list[int]:
        """Signatures of the gates whose literal occurs in its window of ``buffer``."""
        found: list[int] = []
        for automaton, literals in self._groups:
            for number in {m[0] for m in automaton.find_matches_as_indexes(buffer)}:
                literal = literals[number]
                for start, stop, sids in self._windows[literal]:
                    if buffer.find(literal, start, stop) != _NOT_FOUND:
                        found.extend(sids)
        return found


def _run_signature(patterns: tuple[_Pattern, ...], bof: bytes, eof: bytes) -> int:
    """fido's test of one signature: every pattern must match, in order, until one fails."""
    for kind, source, window, checks in patterns:
        if source is None:
            if kind == _SKIP:
                continue
            return _RAISED
        if kind == _EOF:
            # A match ending at \Z is at most ``window`` long, so it starts in the last bytes.
            start = max(0, len(eof) - window) if window else 0
            if checks and any(eof.find(text, start) < 0 for text, _, _ in checks):
                return _NO
            found = _regex(source).search(eof, start)
        elif checks and any(bof.find(text, low, high) < 0 for text, low, high in checks):
            return _NO
        elif kind == _BOF:
            found = _regex(source).match(bof)
        else:
            found = _regex(source).search(bof)
        if found is None:
            return _NO
    return _YES


class _Outcome:
    """Signature matches of one file, as (format, signature) pairs, and whether time ran out."""

    def __init__(self) -> None:
        self.pairs: list[tuple[int, int]] = []
        self.timed_out = False


def _alarm_usable() -> bool:
    """SIGALRM can interrupt a regex only in the main thread, and only if nobody else uses it."""
    return (
        hasattr(signal, "setitimer")
        and threading.current_thread() is threading.main_thread()
        and signal.getsignal(signal.SIGALRM) is signal.SIG_DFL
        and signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
    )


def _with_alarm(seconds: float, work: Callable[[], Identification]) -> Identification:
    """Run ``work`` with SIGALRM raising ``_Deadline`` after ``seconds``.

    ``re`` checks for signals while it matches, so this stops even a single catastrophic regex,
    which the checks between patterns cannot. The handler fires at most once and the previous
    handler is always put back.
    """
    armed = [True]

    def on_alarm(signum: int, frame: object) -> None:
        if armed[0]:
            armed[0] = False
            raise _Deadline

    previous = signal.signal(signal.SIGALRM, on_alarm)
    try:
        signal.setitimer(signal.ITIMER_REAL, seconds)
        try:
            return work()
        finally:
            armed[0] = False
            signal.setitimer(signal.ITIMER_REAL, 0)
    finally:
        signal.signal(signal.SIGALRM, previous)


class FormatIdentifier:
    """PRONOM identification with fido's signature files and fido's results, from BOF/EOF buffers.

    Load once per process (see :func:`default_identifier`); ``identify`` is thread-safe. The
    tables built from the signature files are cached as JSON in ``cache_dir`` (default:
    :func:`default_cache_dir`, a per-user folder), so that later processes load in ~0.06 s
    instead of ~1 s; ``use_cache=False`` always builds them.
    """

    tool_name: str = "fido"
    tool_version: str  # the installed opf-fido, e.g. "1.6.1"
    signature_version: str  # e.g. "PRONOM v109; container-signature-20200121"
    conf_dir: Path
    time_limit: float  # seconds per file
    max_container_bytes: int  # larger containers (and container members) are not read whole
    #: Also interrupt a single long regex with SIGALRM when that is safe (POSIX, main thread, no
    #: other SIGALRM user); otherwise the time limit is checked between patterns only.
    hard_time_limit: bool = True

    def __init__(
        self,
        *,
        conf_dir: Path | None = None,
        time_limit: float = 5.0,
        max_container_bytes: int = 64 * 2**20,
        cache_dir: Path | None = None,
        use_cache: bool = True,
    ) -> None:
        conf = Path(conf_dir) if conf_dir is not None else _fido_conf_dir()
        versions = _read_versions(conf)
        self.conf_dir = conf
        self.time_limit = time_limit
        self.max_container_bytes = max_container_bytes
        self.tool_version, self.signature_version = identifier_versions(conf)
        container_file = conf / versions["pronomContainerSignature"]
        format_files = [conf / versions["pronomSignature"], conf / versions["fidoExtensionSignature"]]
        self._t = _load_tables([*format_files, container_file], _cache_folder(cache_dir, use_cache))
        self._prepare_columns()
        log.debug(
            "fido signatures loaded from %s: %d formats, %d signatures",
            conf,
            len(self._t.formats),
            len(self._t.sig_format),
        )

    def _prepare_columns(self) -> None:
        """Column-wise copies of the index and the gates, so that candidate selection runs in C
        (map/compress, one multi-literal scan) instead of one Python iteration per table or gate."""
        t = self._t
        self._index_slices = [slice(offset, offset + length) for offset, length, _ in t.index]
        self._index_tables = [table for _, _, table in t.index]
        narrow: list[tuple[_Gate, tuple[int, ...]]] = []
        wide: list[tuple[bytes, int, int, tuple[int, ...]]] = []
        for gate, sids in t.gates:
            if gate.in_eof:
                continue
            # A literal that can overlap itself (b"\xff" * 8) can match at nearly every byte of
            # padding or erased media, and the scan lists every match: one find costs less.
            if _gate_stop(gate) - gate.start <= _SCAN_MIN_WINDOW or _self_overlapping(gate.literal):
                narrow.append((gate, sids))
            else:
                wide.append((gate.literal, gate.start, _gate_stop(gate), sids))
        self._gate_literals = [g.literal for g, _ in narrow]
        self._gate_starts = [g.start for g, _ in narrow]
        self._gate_stops = [_gate_stop(g) for g, _ in narrow]
        self._gate_sids = [sids for _, sids in narrow]
        self._wide_gates = _LiteralScan(wide)
        self._eof_gates = [(g.literal, g.start, sids) for g, sids in t.gates if g.in_eof]
        # A signature filed in several tables (a literal at a few offsets) can be hit twice.
        shapes_per_sid = collections.Counter(
            sid for _, _, table in t.index for sid in {s for sids in table.values() for s in sids}
        )
        self._duplicates_possible = any(n > 1 for n in shapes_per_sid.values())

    # ------------------------------------------------------------------ public API

    def wants_container(self, bof: bytes) -> bool:
        """True when the BOF may be a ZIP or OLE2 container whose members fido would inspect."""
        return any(self._could_match_from_bof(sid, bof) for sid in self._t.container_probes)

    def identify(
        self, bof: bytes, eof: bytes, *, name: str, size: int, container: bytes | None = None
    ) -> Identification:
        """Identify one file from its first/last ``BOF_SIZE``/``EOF_SIZE`` bytes, as fido does.

        ``container`` is the whole content, needed only when :meth:`wants_container` says so (a
        file of at most ``BOF_SIZE`` bytes needs nothing more than ``bof``).
        """
        deadline = time.perf_counter() + self.time_limit
        small = len(bof) <= _ALARM_MIN_BYTES and len(eof) <= _ALARM_MIN_BYTES and container is None
        if small or not (self.hard_time_limit and self.time_limit > 0 and _alarm_usable()):
            return self._identify(bof, eof, name, size, container, deadline)
        try:
            return _with_alarm(
                self.time_limit, lambda: self._identify(bof, eof, name, size, container, deadline)
            )
        except _Deadline:
            return _timed_out([], self.time_limit, "identification")

    def _identify(
        self, bof: bytes, eof: bytes, name: str, size: int, container: bytes | None, deadline: float
    ) -> Identification:
        outcome = self._match_signatures(bof, eof, deadline)
        matches = [self._match(f, "signature") for f, _ in outcome.pairs]
        if outcome.timed_out:
            return _timed_out(matches, self.time_limit, "signature matching")
        notes = _Notes()
        container_type = self._container_type(outcome.pairs)
        if container_type in ("zip", "ole"):
            data = container if container is not None else (bof if len(bof) == size else None)
            if size > self.max_container_bytes:
                data = None  # the byte cap holds even when the caller has the content anyway
            try:
                found = self._container_matches(container_type, data, size, deadline, notes)
            except _Deadline:
                return _timed_out(matches, self.time_limit, "container matching")
            except _ContainerError as exc:
                return _container_failure(container_type, exc, matches)
            if found:
                return _compose(found, "container", notes)
        if matches and size > 0:
            return _compose(matches, "signature", notes)
        if size == 0:
            notes.add("empty file")
        return _compose(self._match_extensions(name), "extension", notes)

    def identify_path(self, path: Path) -> Identification:
        """Identify a file on disk with one read (the whole file only for a container)."""
        with open(path, "rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            bof = handle.read(BOF_SIZE)
            container: bytes | None = None
            if size <= BOF_SIZE:
                eof = container = bof
            elif self.wants_container(bof) and size <= self.max_container_bytes:
                container = bof + handle.read()
                eof = container[-EOF_SIZE:]
            else:
                handle.seek(max(size - EOF_SIZE, 0))
                eof = handle.read(EOF_SIZE)
        return self.identify(bof, eof, name=Path(path).name, size=size, container=container)

    # ------------------------------------------------------------------ signatures

    def _candidates(self, bof: bytes, eof: bytes) -> list[int]:
        """Signatures whose first pattern can match, in fido's order (the rest cannot match)."""
        keys = map(bof.__getitem__, self._index_slices)
        index_hits = filter(None, map(dict.get, self._index_tables, keys))
        positions = map(bof.find, self._gate_literals, self._gate_starts, self._gate_stops)
        gate_hits = itertools.compress(self._gate_sids, map(_NOT_FOUND.__ne__, positions))
        found = [*self._t.always, *itertools.chain.from_iterable(index_hits)]
        found.extend(itertools.chain.from_iterable(gate_hits))
        found.extend(self._wide_gates.hits(bof))
        for literal, window, sids in self._eof_gates:
            if eof.find(literal, max(0, len(eof) - window) if window else 0) >= 0:
                found.extend(sids)
        if self._duplicates_possible:
            return sorted(set(found))
        found.sort()
        return found

    def _match_signatures(self, bof: bytes, eof: bytes, deadline: float) -> _Outcome:
        """fido's ``match_formats`` restricted to the candidate signatures."""
        t = self._t
        outcome = _Outcome()
        pairs = outcome.pairs
        matched: set[int] = set()  # formats in ``pairs``
        current, skip = -1, False
        clock = time.perf_counter
        try:
            for sid in self._candidates(bof, eof):
                fmt = t.sig_format[sid]
                if fmt != current:
                    # fido decides once per format, before its first signature, on the matches so far.
                    current, skip = fmt, not t.outranked_by[fmt].isdisjoint(matched)
                if skip:
                    continue
                if clock() >= deadline:
                    raise _Deadline
                result = _run_signature(t.sig_patterns[sid], bof, eof)
                if result == _YES:
                    pairs.append((fmt, sid))
                    matched.add(fmt)
                elif result == _RAISED:
                    skip = True  # fido's exception handler abandons the rest of the format
        except _Deadline:  # from the check between signatures or from the alarm inside a regex
            outcome.timed_out = True
        outcome.pairs = [p for p in pairs if t.outranked_by[p[0]].isdisjoint(matched)]
        return outcome

    def _could_match_from_bof(self, sid: int, bof: bytes) -> bool:
        """The signature's BOF and VAR patterns match (EOF ones are not checked: no EOF here)."""
        for kind, source, _, _ in self._t.sig_patterns[sid]:
            if source is None:
                if kind == _SKIP:
                    continue
                return False
            if kind == _BOF and _regex(source).match(bof) is None:
                return False
            if kind == _VAR and _regex(source).search(bof) is None:
                return False
        return True

    def _container_type(self, pairs: Sequence[tuple[int, int]]) -> str | None:
        """fido's ``container_type``: decided by the first matched format that names one."""
        for fmt, _ in pairs:
            record = self._t.formats[fmt]
            if record.decides_container:
                return record.container
        return None

    def _match(self, fmt: int, basis: str) -> FormatMatch:
        record = self._t.formats[fmt]
        return FormatMatch(record.puid, record.name, record.version, record.mime, basis)

    def _match_extensions(self, name: str) -> list[FormatMatch]:
        """fido's ``match_extensions``: formats listing the lower-cased extension, priorities applied."""
        extension = os.path.splitext(name)[1].lower().lstrip(".")
        found = self._t.by_extension.get(extension, ()) if extension else ()
        outranked_by = self._t.outranked_by
        return [self._match(f, "extension") for f in found if outranked_by[f].isdisjoint(found)]

    # ------------------------------------------------------------------ containers

    def _container_matches(
        self, kind: str, data: bytes | None, size: int, deadline: float, notes: _Notes
    ) -> list[FormatMatch]:
        """fido's ``match_container``: formats whose container signatures match the members."""
        label = "ZIP" if kind == "zip" else "OLE2"
        if data is None:
            limit = self.max_container_bytes
            why = f"file larger than {limit} bytes" if size > limit else "content not supplied"
            notes.add(f"{label} container check skipped: {why}")
            return []
        capped: list[str] = []
        puids = self._container_puids(kind, data, deadline, capped)
        if capped:
            notes.add(
                f"{label} member(s) {', '.join(capped)} over {self.max_container_bytes} bytes:"
                " only the start was read"
            )
            notes.incomplete = True
        known = [p for p in puids if p in self._t.puid_index]
        if len(known) < len(puids):
            notes.add("container signature names a PUID missing from the format file; ignored")
        return [self._match(self._t.puid_index[p], "container") for p in known]

    def _container_puids(self, kind: str, data: bytes, deadline: float, capped: list[str]) -> list[str]:
        """PUIDs of matching container signatures, in fido's order (with fido's repeats)."""
        rules = self._t.container_rules[kind]
        read_members = _zip_members if kind == "zip" else _ole_members
        found: list[str] = []
        try:
            members = read_members(data, [member for member, _ in rules], self.max_container_bytes, capped)
            for number, contents in members:
                for puid, regexes in rules[number][1]:
                    found.extend(puid for regex in regexes if _search_member(regex, contents, deadline))
        except _FIDO_CONTAINER_ERRORS[kind]:
            return []  # fido catches these and reports no container match
        except _ContainerError:
            raise
        except Exception as exc:  # fido itself would crash here; we record it instead
            raise _ContainerError(f"{type(exc).__name__}: {exc}") from exc
        return found


def _search_member(source: bytes | None, contents: bytes, deadline: float) -> bool:
    if time.perf_counter() >= deadline:
        raise _Deadline
    if source is None:
        raise _ContainerError("a container signature has no usable regex")
    return _regex(source).search(contents) is not None


# Exceptions fido's ZipPackage / OlePackage catch (returning no match); anything else stops fido.
_FIDO_CONTAINER_ERRORS: dict[str, tuple[type[BaseException], ...]] = {
    "zip": (zipfile.BadZipFile, RuntimeError, UnicodeDecodeError),
    "ole": (OSError,),
}


def _read_capped(stream: IO[bytes], cap: int, name: str, capped: list[str]) -> bytes:
    contents: bytes = stream.read(cap + 1)
    if len(contents) > cap:
        capped.append(name)
        return contents[:cap]
    return contents


def _zip_members(
    data: bytes, paths: Sequence[str | None], cap: int, capped: list[str]
) -> Iterator[tuple[int, bytes]]:
    """(rule number, contents) for each rule path present in the ZIP, in rule order."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        names = set(archive.namelist())
        for number, path in enumerate(paths):
            if path is not None and path in names:
                with archive.open(path) as member:
                    yield number, _read_capped(member, cap, path, capped)


def _ole_members(
    data: bytes, paths: Sequence[str | None], cap: int, capped: list[str]
) -> Iterator[tuple[int, bytes]]:
    """(rule number, contents) for each rule path found among the OLE2 streams, in rule order."""
    import olefile  # fido's own dependency; no type stubs (mypy override in pyproject)

    with olefile.OleFileIO(io.BytesIO(data)) as ole:
        streams = ["/".join(parts) for parts in ole.listdir()]
        for number, path in enumerate(paths):
            # fido accepts a stream whose name has one extra leading character (e.g. "\x01CompObj").
            stream = next((s for s in streams if s == path or s[1:] == path), None)
            if stream is not None:
                with ole.openstream(stream) as handle:
                    yield number, _read_capped(handle, cap, stream, capped)


# --------------------------------------------------------------------------- results


class _Notes:
    """Remarks gathered while identifying one file, and whether a cap made it incomplete."""

    def __init__(self) -> None:
        self.items: list[str] = []
        self.incomplete = False

    def add(self, note: str) -> None:
        self.items.append(note)


def _is_pronom(puid: str) -> bool:
    return _PRONOM_PUID.fullmatch(puid) is not None


def _describe(matches: Sequence[FormatMatch], basis: str) -> str:
    puids = list(dict.fromkeys(m.puid for m in matches))
    shown = ", ".join(puids[:5]) + (" …" if len(puids) > 5 else "")
    text = f"{basis} match {shown}"
    if basis == "extension":
        text = f"extension match only (no signature matched): {shown}"
    if len(puids) > 1:
        text += f"; {len(puids)} candidates"
    fido_only = [p for p in puids if not _is_pronom(p)]
    if fido_only:
        text += f"; {', '.join(fido_only)} is fido's own format id, not a PRONOM PUID"
    return text


def _compose(
    matches: Sequence[FormatMatch], basis: str, notes: _Notes | None = None, *, incomplete: bool = False
) -> Identification:
    """The Identification for fido's printed matches; the best PUID is the first PRONOM one."""
    notes = notes or _Notes()
    if not matches:
        if incomplete or notes.incomplete:
            remark = "; ".join(["nothing matched yet", *notes.items])
            return Identification(None, None, None, None, "none", "incomplete", (), remark)
        remark = "; ".join(["no signature or extension match", *notes.items])
        return Identification(None, None, None, None, "none", "unknown", (), remark)
    pronom = [m for m in matches if _is_pronom(m.puid)]
    best = pronom[0] if pronom else matches[0]
    several = len({m.puid for m in matches}) > 1
    if incomplete or notes.incomplete:
        status = "incomplete"
    elif basis == "extension" or several or not pronom:
        status = "tentative"
    else:
        status = "identified"
    return Identification(
        puid=best.puid if pronom else None,
        format_name=best.name or None,
        format_version=best.version or None,
        mime_type=best.mime_type,
        basis=basis,
        status=status,
        matches=tuple(matches),
        note="; ".join([_describe(matches, basis), *notes.items]),
    )


def _container_failure(kind: str, error: _ContainerError, matches: Sequence[FormatMatch]) -> Identification:
    """fido prints nothing for a file whose container it cannot read (its own error handler, or a
    crash); we report no format either, but say what the signatures alone found."""
    label = "ZIP" if kind == "zip" else "OLE2"
    said = ", ".join(dict.fromkeys(m.puid for m in matches))
    note = f"{label} container not readable ({error}); fido reports nothing for this file"
    return Identification(None, None, None, None, "none", "unknown", (), f"{note}; signatures alone: {said}")


def _timed_out(matches: Sequence[FormatMatch], limit: float, stage: str) -> Identification:
    notes = _Notes()
    notes.add(f"time limit {limit:g} s reached during {stage}")
    return _compose(matches, "signature", notes, incomplete=True)


# --------------------------------------------------------------------------- configuration


def identifier_versions(conf_dir: Path | None = None) -> tuple[str, str]:
    """(fido version, signature-file version) without loading the signatures.

    What PREMIS agents and events record; a builder's main process needs only this, not the
    compiled tables its workers use.
    """
    conf = Path(conf_dir) if conf_dir is not None else _fido_conf_dir()
    versions = _read_versions(conf)
    container = Path(versions["pronomContainerSignature"]).stem
    return _fido_version(), f"PRONOM v{versions['pronomVersion']}; {container}"


def _fido_conf_dir() -> Path:
    import fido  # the signature files ship inside the fido package

    return Path(fido.CONFIG_DIR)


def _fido_version() -> str:
    try:
        return importlib.metadata.version("opf-fido")
    except importlib.metadata.PackageNotFoundError:
        import fido

        return str(fido.__version__)


_VERSION_FIELDS = ("pronomVersion", "pronomSignature", "pronomContainerSignature", "fidoExtensionSignature")


def _read_versions(conf: Path) -> dict[str, str]:
    """The signature file names of a fido conf directory, from its versions.xml."""
    root = _parse_xml(conf / "versions.xml")
    fields = {name: (root.findtext(name) or "").strip() for name in _VERSION_FIELDS}
    missing = [name for name, value in fields.items() if not value]
    if missing:
        raise IdentificationError(f"{conf / 'versions.xml'}: missing {', '.join(missing)}")
    return fields


@functools.lru_cache(maxsize=1)
def default_identifier() -> FormatIdentifier:
    """The process-wide identifier with fido's bundled signatures (loaded on first use)."""
    return FormatIdentifier()
