"""The streaming .xlsx reader on workbooks built here from raw XML parts, the way Excel and
LibreOffice write them (shared strings, rich text, phonetic runs, date formats, 1904 epoch), and on
malformed or hostile parts."""

from __future__ import annotations

import zipfile
from datetime import date, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from oais_preserve.cli import main
from oais_preserve.errors import UserInputError
from oais_preserve.xlsxstream import PartialDate, XlsxReader, date_precision

NS = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
R_NS = 'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"'
PKG = "http://schemas.openxmlformats.org/package/2006/relationships"
OFFICE = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8"?><Types '
    'xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    "</Types>"
)

# Rich text runs, a phonetic reading (rPh) that is not part of the value, kept spaces, Vietnamese.
SHARED = (
    f'<?xml version="1.0" encoding="UTF-8"?><sst {NS} count="4" uniqueCount="4">'
    "<si><t>Mã hồ sơ</t></si>"
    "<si><r><t>Hồ sơ về </t></r><r><rPr><b/></rPr><t>việc đắp đê</t></r>"
    '<rPh sb="0" eb="2"><t>PHONETIC</t></rPh><phoneticPr fontId="1"/></si>'
    '<si><t xml:space="preserve">  Vĩnh viễn  </t></si>'
    "<si><t>01</t></si>"
    "</sst>"
)

# cellXfs: 0 general, 1 dd/mm/yyyy (custom 164), 2 mmm-yy (built-in 17), 3 yyyy (165), 4 mm/yyyy (166)
STYLES = (
    f'<?xml version="1.0" encoding="UTF-8"?><styleSheet {NS}><numFmts count="3">'
    '<numFmt numFmtId="164" formatCode="dd/mm/yyyy"/><numFmt numFmtId="165" formatCode="yyyy"/>'
    '<numFmt numFmtId="166" formatCode="mm/yyyy"/></numFmts>'
    '<cellXfs count="5"><xf numFmtId="0"/><xf numFmtId="164" applyNumberFormat="1"/>'
    '<xf numFmtId="17" applyNumberFormat="1"/><xf numFmtId="165" applyNumberFormat="1"/>'
    '<xf numFmtId="166" applyNumberFormat="1"/></cellXfs></styleSheet>'
)


def _serial(day: date, *, mac: bool = False) -> int:
    epoch = date(1904, 1, 1) if mac else date(1899, 12, 30)
    return (day - epoch).days


def _sheet(rows: str) -> str:
    return f'<?xml version="1.0" encoding="UTF-8"?><worksheet {NS}><sheetData>{rows}</sheetData></worksheet>'


def write_xlsx(
    path: Path,
    sheet: str,
    *,
    shared: str | None = SHARED,
    styles: str | None = STYLES,
    shared_member: str = "xl/sharedStrings.xml",
    declare_shared: bool = True,
    date1904: bool = False,
    sheet_target: str = "worksheets/sheet1.xml",
    extra: dict[str, str] | None = None,
) -> Path:
    """A minimal workbook zipped from raw parts, found through the OPC relationships."""
    props = '<workbookPr date1904="1"/>' if date1904 else "<workbookPr/>"
    workbook = (
        f'<?xml version="1.0" encoding="UTF-8"?><workbook {NS} {R_NS}>{props}'
        '<sheets><sheet name="Hồ sơ" sheetId="1" r:id="rId1"/></sheets></workbook>'
    )
    rels = [f'<Relationship Id="rId1" Type="{OFFICE}/worksheet" Target="{sheet_target}"/>']
    if shared is not None and declare_shared:
        target = shared_member.removeprefix("xl/")
        rels.append(f'<Relationship Id="rId2" Type="{OFFICE}/sharedStrings" Target="{target}"/>')
    if styles is not None:
        rels.append(f'<Relationship Id="rId3" Type="{OFFICE}/styles" Target="styles.xml"/>')
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", CONTENT_TYPES)
        archive.writestr(
            "_rels/.rels",
            f'<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="{PKG}">'
            f'<Relationship Id="rId1" Type="{OFFICE}/officeDocument" Target="xl/workbook.xml"/>'
            "</Relationships>",
        )
        archive.writestr("xl/workbook.xml", workbook)
        archive.writestr(
            "xl/_rels/workbook.xml.rels",
            f'<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="{PKG}">'
            + "".join(rels)
            + "</Relationships>",
        )
        archive.writestr("xl/worksheets/sheet1.xml", sheet)
        if shared is not None:
            archive.writestr(shared_member, shared)
        if styles is not None:
            archive.writestr("xl/styles.xml", styles)
        for name, text in (extra or {}).items():
            archive.writestr(name, text)
    return path


def read(path: Path) -> list[tuple[int, tuple[object, ...]]]:
    with XlsxReader(str(path)) as reader:
        return [row for _name, rows in reader.sheets() for row in rows]


def test_shared_strings_rich_text_inline_strings_and_wide_refs(tmp_path: Path) -> None:
    sheet = _sheet(
        '<row r="1" spans="1:3"><c r="A1" t="s"><v>0</v></c><c r="B1" t="s"><v>1</v></c>'
        '<c r="C1" t="s" s="0"><v>2</v></c></row>'
        '<row r="3"><c r="A3" t="inlineStr"><is><r><t>Công </t></r><r><t>văn</t></r>'
        "<rPh><t>X</t></rPh></is></c>"
        '<c r="AB3" t="inlineStr"><is><t>cột AB</t></is></c><c r="ZZ3"><v>5</v></c></row>'
    )
    rows = read(write_xlsx(tmp_path / "s.xlsx", sheet))
    assert rows[0] == (1, ("Mã hồ sơ", "Hồ sơ về việc đắp đê", "  Vĩnh viễn  "))
    number, third = rows[1]
    assert number == 3 and len(third) == 26 * 26 + 26  # ZZ is column 702
    assert third[0] == "Công văn" and third[27] == "cột AB" and third[-1] == 5
    assert not any(third[1:27]) and not any(third[28:-1])


def test_shared_strings_found_through_the_relationships_in_any_case(tmp_path: Path) -> None:
    sheet = _sheet('<row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1" t="s"><v>3</v></c></row>')
    odd = write_xlsx(tmp_path / "odd.xlsx", sheet, shared_member="xl/SharedStrings.xml")
    assert read(odd) == [(1, ("Mã hồ sơ", "01"))]
    # No relationship at all: the usual part, whatever the case of its zip member.
    undeclared = write_xlsx(
        tmp_path / "undeclared.xlsx", sheet, shared_member="xl/sharedstrings.xml", declare_shared=False
    )
    assert read(undeclared) == [(1, ("Mã hồ sơ", "01"))]


def test_date_formats_keep_their_precision_and_the_1904_epoch(tmp_path: Path) -> None:
    for mac in (False, True):
        cells = (
            f'<c r="A1" s="1"><v>{_serial(date(1968, 7, 19), mac=mac)}</v></c>'
            f'<c r="B1" s="2"><v>{_serial(date(1968, 7, 1), mac=mac)}</v></c>'
            f'<c r="C1" s="3"><v>{_serial(date(1968, 1, 1), mac=mac)}</v></c>'
            f'<c r="D1" s="4"><v>{_serial(date(1975, 4, 1), mac=mac)}</v></c>'
            '<c r="E1"><v>12.5</v></c><c r="F1" t="s"><v>3</v></c>'
        )
        path = write_xlsx(tmp_path / f"d{mac}.xlsx", _sheet(f'<row r="1">{cells}</row>'), date1904=mac)
        assert read(path) == [
            (
                1,
                (
                    datetime(1968, 7, 19),
                    PartialDate(1968, 7),
                    PartialDate(1968),
                    PartialDate(1975, 4),
                    12.5,
                    "01",
                ),
            )
        ]
    assert str(PartialDate(1968, 7)) == "07/1968" and str(PartialDate(1968)) == "1968"


@pytest.mark.parametrize(
    ("code", "precision"),
    [
        ("mmm-yy", "month"),
        ("mm/yyyy", "month"),
        ("mmmm yyyy", "month"),
        ('[$-42A]"tháng "mm" năm "yyyy', "month"),
        ("yyyy", "year"),
        ("dd/mm/yyyy", "day"),
        ("[$-42A]dd/mm/yyyy hh:mm", "day"),
        ("yyyy-mm-dd", "day"),
        ("h:mm:ss", "day"),
        ("mm:ss", "day"),
        ("m/d/yy h:mm AM/PM", "day"),
    ],
)
def test_date_precision_of_number_formats(code: str, precision: str) -> None:
    assert date_precision(code) == precision


def test_hostile_references_are_refused_and_empty_rows_never_padded(tmp_path: Path) -> None:
    wide = write_xlsx(tmp_path / "w.xlsx", _sheet('<row r="1"><c r="ZZZZZ1"><v>1</v></c></row>'))
    with pytest.raises(UserInputError, match="XFD"):
        read(wide)
    xfd = write_xlsx(tmp_path / "xfd.xlsx", _sheet('<row r="1"><c r="XFD1"><v>1</v></c></row>'))
    assert read(xfd)[0][1][16383] == 1
    tall = write_xlsx(tmp_path / "t.xlsx", _sheet('<row r="1048577"><c r="A1048577"><v>1</v></c></row>'))
    with pytest.raises(UserInputError, match="1048576"):
        read(tall)
    last = _sheet(
        '<row r="1"><c r="A1"><v>1</v></c></row><row r="1048576" ht="20" customHeight="1"/>'
        '<row r="1048576"><c r="B1048576"><v>2</v></c></row>'
    )
    assert read(write_xlsx(tmp_path / "last.xlsx", last)) == [(1, (1,)), (1048576, (None, 2))]


BOMB = (
    '<?xml version="1.0"?><!DOCTYPE sst [<!ENTITY a "aaaaaaaaaa">'
    + "".join(f'<!ENTITY {chr(98 + i)} "' + f"&{chr(97 + i)};" * 10 + '">' for i in range(8))
    + f"]><sst {NS}><si><t>&i;</t></si></sst>"
)
XXE = (
    '<?xml version="1.0"?><!DOCTYPE sst [<!ENTITY x SYSTEM "file:///etc/hostname">]>'
    f"<sst {NS}><si><t>A&x;</t></si></sst>"
)
ONE_SHARED = _sheet('<row r="1"><c r="A1" t="s"><v>0</v></c></row>')


@pytest.mark.parametrize(
    ("kind", "sheet", "options", "named"),
    [
        ("shared index not a number", _sheet('<row r="1"><c r="B1" t="s"><v>x</v></c></row>'), {}, "B1"),
        ("shared index out of range", _sheet('<row r="1"><c r="A1" t="s"><v>99</v></c></row>'), {}, "99"),
        ("style not a number", _sheet('<row r="1"><c r="A1" s="x"><v>1</v></c></row>'), {}, "s='x'"),
        ("row number not a number", _sheet('<row r="abc"><c r="A1"><v>1</v></c></row>'), {}, "r='abc'"),
        ("bad cell reference", _sheet('<row r="1"><c r="1A"><v>1</v></c></row>'), {}, "1A"),
        ("sheet part missing", ONE_SHARED, {"sheet_target": "worksheets/missing.xml"}, "Hồ sơ"),
        ("entity bomb in shared strings", ONE_SHARED, {"shared": BOMB}, "xl/sharedStrings.xml"),
        ("XXE in shared strings", ONE_SHARED, {"shared": XXE}, "DOCTYPE"),
        ("DOCTYPE in styles", ONE_SHARED, {"styles": "<!DOCTYPE s []><styleSheet/>"}, "xl/styles.xml"),
        ("shared strings not XML", ONE_SHARED, {"shared": "<sst><si>"}, "xl/sharedStrings.xml"),
        (
            "DOCTYPE in a worksheet",
            f'<!DOCTYPE w [<!ENTITY a "x">]><worksheet {NS}><sheetData/></worksheet>',
            {},
            "xl/worksheets/sheet1.xml",
        ),
    ],
)
def test_malformed_parts_are_user_errors_naming_the_part(
    tmp_path: Path, kind: str, sheet: str, options: dict[str, object], named: str
) -> None:
    path = write_xlsx(tmp_path / "bad.xlsx", sheet, **options)  # type: ignore[arg-type]
    with pytest.raises(UserInputError, match=named.replace("(", r"\(")) as caught:
        read(path)
    assert str(path) in str(caught.value), kind
    # The CLI: one line, exit code 2, never "internal error".
    result = CliRunner().invoke(main, ["import-catalogue", str(path)])
    assert result.exit_code == 2, (kind, result.output)
    assert "Traceback" not in result.output and "internal error" not in result.output


def test_doctype_refused_in_workbook_and_relationships(tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "w.xlsx", ONE_SHARED)
    for member in ("xl/workbook.xml", "xl/_rels/workbook.xml.rels", "_rels/.rels"):
        with zipfile.ZipFile(path) as archive:
            parts = {name: archive.read(name) for name in archive.namelist()}
        text = parts[member].decode()
        parts[member] = text.replace("?>", '?><!DOCTYPE x [<!ENTITY e "e">]>', 1).encode()
        hostile = tmp_path / f"{member.replace('/', '_')}.xlsx"
        with zipfile.ZipFile(hostile, "w") as archive:
            for name, data in parts.items():
                archive.writestr(name, data)
        with pytest.raises(UserInputError, match="DOCTYPE"):
            read(hostile)
