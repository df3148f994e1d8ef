"""Selection of whole hồ sơ for digitization and insurance copies (QĐ 71 phase II, tt05.md §13).

Five criteria, computed from the catalogue or read from its "Tiêu chí lựa chọn" column:
permanent retention, pre-1975, notable persons / families / clans, damaged or at-risk paper,
unusual media. The unit is always the whole hồ sơ: a document code is refused, and a hồ sơ whose
documents are only partly marked for digitization is reported, not selected. The list (danh mục
hồ sơ lựa chọn số hóa) is grouped by phông and group, with per-fonds totals (:func:`write_selection`).
"""

from __future__ import annotations

import csv
import os
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from .catalogue import CatalogueHoSo, CatalogueImport, CatalogueProblem, header_key
from .description import date_bounds
from .errors import UserInputError

CRITERIA = ("permanent", "pre1975", "notable", "damaged", "media")
CRITERIA_LABELS = {
    "permanent": "Bảo quản vĩnh viễn",
    "pre1975": "Tài liệu trước năm 1975",
    "notable": "Nhân vật, gia đình, dòng họ tiêu biểu",
    "damaged": "Tài liệu hư hỏng hoặc có nguy cơ hư hỏng",
    "media": "Vật mang tin đặc biệt (lá, gỗ, vải, da, giấy dó…)",
}
CRITERIA_EN = {
    "permanent": "permanent retention",
    "pre1975": "pre-1975",
    "notable": "notable persons, families, clans",
    "damaged": "damaged or at-risk paper",
    "media": "unusual media",
}

# Words are matched whole, on NFC case-folded text (Vietnamese syllables are words).
_NOTABLE = ("dòng họ", "gia phả", "nhân vật", "danh nhân", "gia đình", "tộc phả", "anh hùng")
_DAMAGE = (
    "hư hỏng",
    "ố vàng",
    "ố",
    "bạc màu",
    "phai màu",
    "chữ mờ",
    "mờ",
    "rách",
    "thủng",
    "mủn",
    "giòn",
    "nấm mốc",
    "mối mọt",
    "dính bết",
)
_MEDIA = ("lá buông", "lá", "gỗ", "mộc bản", "vải", "lụa", "da", "giấy dó", "tre", "đồng", "đá")
_NO = frozenset({"", "không", "0", "no", "khong", "-"})


def _words(text: str) -> str:
    folded = unicodedata.normalize("NFC", text).casefold()
    return " " + " ".join(re.findall(r"\w+", folded)) + " "


def _mentions(text: str, terms: Iterable[str]) -> bool:
    words = _words(text)
    return any(_words(term) in words for term in terms)


def _given(value: str | None) -> bool:
    return value is not None and value.strip().casefold() not in _NO


def compute_criteria(hoso: CatalogueHoSo, *, cutoff_year: int = 1975) -> tuple[str, ...]:
    """The criteria a hồ sơ meets, from its catalogue values."""
    fields, extras = hoso.fields, hoso.extras
    met = []
    if fields.get("maintenance") == "01":
        met.append("permanent")
    start = fields.get("startDate")
    if isinstance(start, str):
        try:
            if date_bounds(start)[0] < date(cutoff_year, 1, 1):
                met.append("pre1975")
        except ValueError:
            pass
    text = " ".join(str(fields.get(k, "")) for k in ("title", "keyword", "inforSign"))
    if _given(extras.get("notable")) or _mentions(text, _NOTABLE):
        met.append("notable")
    damage_text = " ".join((str(fields.get("description", "")), extras.get("damage", "")))
    if fields.get("format") == "03" or _given(extras.get("damage")) or _mentions(damage_text, _DAMAGE):
        met.append("damaged")
    if _given(extras.get("material")) and _mentions(extras.get("material", ""), _MEDIA):
        met.append("media")
    return tuple(met)


_CRITERION_WORDS = {
    "permanent": ("vĩnh viễn", "permanent"),
    "pre1975": ("1975", "trước năm 1975", "pre-1975"),
    "notable": ("nhân vật", "dòng họ", "gia đình", "tiêu biểu", "notable"),
    "damaged": ("hư hỏng", "hỏng", "damaged"),
    "media": ("vật mang tin", "chất liệu", "giấy dó", "media"),
}


def parse_criteria(text: str) -> tuple[str, ...] | None:
    """A "Tiêu chí lựa chọn" cell: numbers 1–5 (in the order of CRITERIA) or words; None if unreadable."""
    found: list[str] = []
    for part in re.split(r"[,;/+\n]", text):
        part = part.strip()
        if not part:
            continue
        if part.isdigit() and 1 <= int(part) <= len(CRITERIA):
            found.append(CRITERIA[int(part) - 1])
            continue
        hits = [name for name, words in _CRITERION_WORDS.items() if _mentions(part, words)]
        if not hits:
            return None
        found.extend(hits)
    return tuple(name for name in CRITERIA if name in found) or None


@dataclass(frozen=True)
class SelectedHoSo:
    """One line of the selection list."""

    file_code: str
    fonds_code: str
    fonds_name: str
    group: str
    title: str
    start_date: str
    end_date: str
    documents: int
    pages: int
    criteria: tuple[str, ...]
    source: str  # "computed", "sheet" (Tiêu chí column), "marked" (documents marked), "list" (codes given)

    def criteria_text(self, lang: str = "vi") -> str:
        labels = CRITERIA_LABELS if lang == "vi" else CRITERIA_EN
        return "; ".join(labels[c] for c in self.criteria)


@dataclass
class Selection:
    selected: list[SelectedHoSo] = field(default_factory=list)
    not_selected: list[str] = field(default_factory=list)  # valid hồ sơ meeting no criterion
    invalid: list[str] = field(default_factory=list)  # hồ sơ with import errors: fix them first
    problems: list[CatalogueProblem] = field(default_factory=list)  # refused / partial selections

    @property
    def codes(self) -> list[str]:
        return [s.file_code for s in self.selected]

    def totals(self) -> dict[str, dict[str, Any]]:
        """Per fonds: name, hồ sơ, documents, pages."""
        result: dict[str, dict[str, Any]] = {}
        for item in self.selected:
            entry = result.setdefault(
                item.fonds_code, {"name": item.fonds_name, "hoso": 0, "documents": 0, "pages": 0}
            )
            entry["hoso"] += 1
            entry["documents"] += item.documents
            entry["pages"] += item.pages
        return result

    def to_dict(self) -> dict[str, Any]:
        return {
            "selected": [
                {
                    "fileCode": s.file_code,
                    "fondsCode": s.fonds_code,
                    "group": s.group,
                    "title": s.title,
                    "documents": s.documents,
                    "pages": s.pages,
                    "criteria": list(s.criteria),
                    "source": s.source,
                }
                for s in self.selected
            ],
            "totals": self.totals(),
            "notSelected": self.not_selected,
            "invalid": self.invalid,
            "problems": [p.to_dict() for p in self.problems],
        }


def _line(
    catalogue: CatalogueImport, hoso: CatalogueHoSo, criteria: tuple[str, ...], source: str
) -> SelectedHoSo:
    fonds = catalogue.fonds.get(hoso.fonds_code or "", {})
    if not fonds and len(catalogue.fonds) == 1:
        fonds = next(iter(catalogue.fonds.values()))
    description = hoso.description or {}
    fields = description.get("hoso", hoso.fields)
    pages = fields.get("numberOfPage")
    return SelectedHoSo(
        hoso.file_code,
        str(fonds.get("fondsCode", hoso.fonds_code or "")),
        str(fonds.get("fondsName", "")),
        hoso.extras.get("group", ""),
        str(fields.get("title", "")),
        str(fields.get("startDate", "")),
        str(fields.get("endDate", "")),
        len(hoso.documents),
        pages if isinstance(pages, int) else 0,
        criteria,
        source,
    )


def _marks(hoso: CatalogueHoSo) -> tuple[int, int]:
    marked = sum(1 for doc in hoso.documents if _given(doc.extras.get("selected")))
    return marked, len(hoso.documents)


def _selection_problem(
    hoso: CatalogueHoSo, rule: str, vi: str, en: str, value: str | None = None
) -> CatalogueProblem:
    return CatalogueProblem(
        hoso.origin[0], hoso.origin[1], None, value, rule, vi, en, hoso.file_code, "error"
    )


def select_hoso(
    catalogue: CatalogueImport,
    *,
    criteria: Sequence[str] = CRITERIA,
    codes: Sequence[str] | None = None,
    cutoff_year: int = 1975,
) -> Selection:
    """Select whole hồ sơ: those meeting any of ``criteria``, or exactly ``codes`` when given.

    A code naming a document (``mã hồ sơ.số thứ tự``) is refused; a hồ sơ whose documents are only
    partly marked for digitization ("Chọn" column) is reported and not selected.
    """
    unknown = [c for c in criteria if c not in CRITERIA]
    if unknown:
        raise UserInputError(
            f"tiêu chí không biết (unknown criteria): {unknown}; có (known): {list(CRITERIA)}"
        )
    selection = Selection()
    wanted = set(criteria)
    chosen = _check_codes(catalogue, codes, selection) if codes is not None else None
    for hoso in catalogue.hoso:
        if chosen is not None and hoso.file_code not in chosen:
            continue
        if not hoso.valid:
            selection.invalid.append(hoso.file_code)
            continue
        computed = compute_criteria(hoso, cutoff_year=cutoff_year)
        given = parse_criteria(hoso.extras["criteria"]) if _given(hoso.extras.get("criteria")) else None
        met, source = (given, "sheet") if given else (computed, "computed")
        marked, total = _marks(hoso)
        if 0 < marked < total:
            selection.problems.append(
                _selection_problem(
                    hoso,
                    "partial-hoso",
                    f"chỉ {marked}/{total} tài liệu được chọn: phải chọn cả hồ sơ, không chọn từng tài liệu",
                    f"only {marked} of {total} documents marked: select whole hồ sơ, not single documents",
                )
            )
            continue
        if chosen is not None:
            selection.selected.append(_line(catalogue, hoso, met, "list"))
        elif marked == total and total:
            selection.selected.append(_line(catalogue, hoso, met, "marked"))
        elif wanted & set(met):
            selection.selected.append(_line(catalogue, hoso, tuple(c for c in met if c in wanted), source))
        else:
            selection.not_selected.append(hoso.file_code)
    selection.selected.sort(key=lambda s: (s.fonds_code, s.group, s.file_code))
    return selection


def _check_codes(catalogue: CatalogueImport, codes: Sequence[str], selection: Selection) -> set[str]:
    known = {h.file_code: h for h in catalogue.hoso}
    chosen: set[str] = set()
    for raw in codes:
        code = unicodedata.normalize("NFC", raw.strip())
        if not code:
            continue
        if code in known:
            chosen.add(code)
            continue
        parent, _, tail = code.rpartition(".")
        if parent in known and tail.isdigit():
            hoso = known[parent]
            selection.problems.append(
                _selection_problem(
                    hoso,
                    "document-selection-refused",
                    f"{code} là một tài liệu: chỉ chọn cả hồ sơ ({parent})",
                    f"{code} is a document: select the whole hồ sơ ({parent}), never a single document",
                    code,
                )
            )
            continue
        selection.problems.append(
            CatalogueProblem(
                "",
                None,
                None,
                code,
                "unknown-code",
                "mã không có trong danh mục",
                "code not in the catalogue",
            )
        )
    return chosen


# --------------------------------------------------------------------------- output

_HEAD = {
    "vi": (
        "STT",
        "Mã phông",
        "Tên phông",
        "Nhóm",
        "Mã hồ sơ",
        "Tiêu đề hồ sơ",
        "Thời gian bắt đầu",
        "Thời gian kết thúc",
        "Số tài liệu",
        "Số trang",
        "Tiêu chí lựa chọn",
    ),
    "en": (
        "No.",
        "Fonds code",
        "Fonds name",
        "Group",
        "File code",
        "Title",
        "Start",
        "End",
        "Documents",
        "Pages",
        "Criteria",
    ),
}


def _rows(selection: Selection, lang: str) -> Iterable[tuple[str, list[object]]]:
    """("fonds" | "item" | "total" | "grand", cells) in list order."""
    totals = selection.totals()
    current: str | None = None
    for number, item in enumerate(selection.selected, start=1):
        if item.fonds_code != current:
            if current is not None:
                yield "total", _total_row(current, totals[current], lang)
            current = item.fonds_code
            yield (
                "fonds",
                [
                    f"Phông: {item.fonds_code} – {item.fonds_name}"
                    if lang == "vi"
                    else f"Fonds: {item.fonds_code} – {item.fonds_name}"
                ],
            )
        yield (
            "item",
            [
                number,
                item.fonds_code,
                item.fonds_name,
                item.group,
                item.file_code,
                item.title,
                item.start_date,
                item.end_date,
                item.documents,
                item.pages,
                item.criteria_text(lang),
            ],
        )
    if current is not None:
        yield "total", _total_row(current, totals[current], lang)
    yield (
        "grand",
        [
            "Tổng cộng" if lang == "vi" else "Total",
            "",
            f"{len(totals)} phông" if lang == "vi" else f"{len(totals)} fonds",
            "",
            len(selection.selected),
            "",
            "",
            "",
            sum(t["documents"] for t in totals.values()),
            sum(t["pages"] for t in totals.values()),
            "",
        ],
    )


def _total_row(code: str, total: dict[str, Any], lang: str) -> list[object]:
    label = "Cộng phông" if lang == "vi" else "Fonds total"
    return [label, code, total["name"], "", total["hoso"], "", "", "", total["documents"], total["pages"], ""]


def write_selection(selection: Selection, dest: Path | str, *, lang: str = "vi") -> tuple[Path, Path]:
    """``dest.xlsx`` (grouped by fonds, with per-fonds totals) and ``dest.csv`` (UTF-8 with BOM, for
    Excel). In the total rows the "Mã hồ sơ" column holds the hồ sơ count."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    base = Path(dest)
    base = base.with_suffix("") if base.suffix in (".xlsx", ".csv") else base
    base.parent.mkdir(parents=True, exist_ok=True)
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = "Danh mục lựa chọn" if lang == "vi" else "Selection"
    sheet.append(
        ["DANH MỤC HỒ SƠ LỰA CHỌN SỐ HÓA" if lang == "vi" else "LIST OF HỒ SƠ SELECTED FOR DIGITIZATION"]
    )
    sheet["A1"].font = Font(bold=True, size=13)
    sheet.append(list(_HEAD[lang if lang == "en" else "vi"]))
    for cell in sheet[2]:
        cell.font = Font(bold=True)
    csv_rows: list[list[object]] = [list(_HEAD[lang if lang == "en" else "vi"])]
    for kind, cells in _rows(selection, lang):
        sheet.append(cells)
        if kind != "item":
            for cell in sheet[sheet.max_row]:
                cell.font = Font(bold=True)
        if kind != "fonds":
            csv_rows.append(cells)
    xlsx = base.with_suffix(".xlsx")
    tmp = xlsx.with_name(f".{xlsx.name}.partial")
    workbook.save(tmp)
    os.replace(tmp, xlsx)
    csv_path = base.with_suffix(".csv")
    tmp = csv_path.with_name(f".{csv_path.name}.partial")
    with open(tmp, "w", encoding="utf-8-sig", newline="") as handle:
        csv.writer(handle).writerows(csv_rows)
    os.replace(tmp, csv_path)
    return xlsx, csv_path


def _table_rows(path: Path) -> list[list[str]]:
    """The cells of a ``.csv`` or of the first sheet of an ``.xlsx``, as text."""
    if not path.is_file():
        raise UserInputError(f"{path}: không tìm thấy danh mục lựa chọn (selection list not found)")
    if path.suffix.casefold() == ".xlsx":
        from openpyxl import load_workbook

        workbook = load_workbook(path, read_only=True, data_only=True)
        try:
            sheet = workbook.worksheets[0]
            return [["" if v is None else str(v) for v in row] for row in sheet.iter_rows(values_only=True)]
        finally:
            workbook.close()
    with open(path, encoding="utf-8-sig", newline="") as handle:
        return list(csv.reader(handle))


def _is_total(row: Sequence[str]) -> bool:
    return bool(row) and (row[0] or "").startswith(("Cộng", "Tổng", "Fonds total", "Total"))


def read_selection_codes(path: Path | str) -> list[str]:
    """The hồ sơ codes of a selection list written by :func:`write_selection` (``.csv`` or ``.xlsx``),
    or of any one-column list of codes."""
    rows = _table_rows(Path(path))
    column = 0
    for number, row in enumerate(rows):
        keys = [header_key(cell) for cell in row]
        for wanted in ("ma ho so", "file code"):
            if wanted in keys:
                column = keys.index(wanted)
                rows = rows[number + 1 :]
                break
        else:
            continue
        break
    codes = []
    for row in rows:
        if column < len(row) and row[column].strip() and not _is_total(row):
            codes.append(row[column].strip())
    return codes


def read_selection_entries(path: Path | str) -> list[tuple[str, str]]:
    """(mã phông, mã hồ sơ) of every hồ sơ on a selection list written by :func:`write_selection`.

    The list must have its "Mã phông" and "Mã hồ sơ" columns (or the English ones); the fonds
    header and total rows are skipped.
    """
    path = Path(path)
    rows = _table_rows(path)
    header = _entry_columns(rows)
    if header is None:
        raise UserInputError(
            f"{path}: không phải danh mục lựa chọn / not a selection list "
            "(no 'Mã phông' and 'Mã hồ sơ' columns)"
        )
    start, fonds, code = header
    entries = []
    for row in rows[start + 1 :]:
        if _is_total(row) or max(fonds, code) >= len(row) or not row[code].strip():
            continue
        entries.append((row[fonds].strip(), row[code].strip()))
    return entries


def _entry_columns(rows: Sequence[Sequence[str]]) -> tuple[int, int, int] | None:
    """(header row, fonds column, hồ sơ column) of a selection list."""
    for number, row in enumerate(rows):
        keys = [header_key(cell) for cell in row]
        fonds = next((keys.index(k) for k in ("ma phong", "fonds code") if k in keys), None)
        code = next((keys.index(k) for k in ("ma ho so", "file code") if k in keys), None)
        if fonds is not None and code is not None:
            return number, fonds, code
    return None
