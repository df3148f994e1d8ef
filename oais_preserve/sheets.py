"""Printable spreadsheet helpers (openpyxl): titles, a bold wrapped header row, A4 page setup.

Shared by the statistics list, the handover record and the yearly report, so that every
workbook an archivist prints looks the same: Times New Roman (the font of Vietnamese
administrative documents), header repeated on each page, fitted to the page width.
"""

from __future__ import annotations

from collections.abc import Sequence

from openpyxl.styles import Alignment, Border, Font, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.properties import PageSetupProperties
from openpyxl.worksheet.worksheet import Worksheet

FONT = "Times New Roman"
_THIN = Side(style="thin")
BOX = Border(left=_THIN, right=_THIN, top=_THIN, bottom=_THIN)


def title_rows(sheet: Worksheet, lines: Sequence[str], span: int) -> int:
    """Centred title lines merged across ``span`` columns; returns the next free row."""
    for row, line in enumerate(lines, start=1):
        sheet.cell(row=row, column=1, value=line)
        sheet.merge_cells(start_row=row, start_column=1, end_row=row, end_column=span)
        cell = sheet.cell(row=row, column=1)
        cell.font = Font(name=FONT, bold=row == 1, size=14 if row == 1 else 12)
        cell.alignment = Alignment(horizontal="center")
    return len(lines) + 2


def header_row(sheet: Worksheet, row: int, headers: Sequence[str]) -> None:
    for column, header in enumerate(headers, start=1):
        cell = sheet.cell(row=row, column=column, value=header)
        cell.font = Font(name=FONT, bold=True)
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
        cell.border = BOX


def setup_print(sheet: Worksheet, header: int, *, widths: Sequence[float], landscape: bool) -> None:
    """Borders and font on the table below ``header``; A4, fit to width, header row on every page."""
    for index, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width
    for row in sheet.iter_rows(min_row=header + 1, max_row=sheet.max_row, max_col=len(widths)):
        for cell in row:
            cell.font = Font(name=FONT)
            cell.border = BOX
            cell.alignment = Alignment(vertical="top", wrap_text=True)
    sheet.print_title_rows = f"{header}:{header}"
    sheet.page_setup.paperSize = sheet.PAPERSIZE_A4
    sheet.page_setup.orientation = "landscape" if landscape else "portrait"
    sheet.page_setup.fitToWidth = 1
    sheet.page_setup.fitToHeight = 0
    sheet.sheet_properties.pageSetUpPr = PageSetupProperties(fitToPage=True)
    sheet.print_options.horizontalCentered = True
    sheet.page_margins.left = sheet.page_margins.right = 0.5
    sheet.freeze_panes = f"A{header + 1}"
