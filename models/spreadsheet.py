"""Text that leaves the platform in a spreadsheet stays text (CSV/formula injection, OWASP).

A counterparty name or a document number is typed by another department; one starting with `=`
(or `+ - @`, a tab or a carriage return) would run as a formula in whoever opens the export.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any) -> Any:
    """A CSV field: text that a spreadsheet would read as a formula gets a leading apostrophe."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def csv_row(values: Sequence[Any]) -> list[Any]:
    return [csv_cell(v) for v in values]


def keep_as_text(cells: Iterable[Any]) -> None:
    """openpyxl stores a string starting with `=` as a formula: store these cells as plain strings."""
    for cell in cells:
        if getattr(cell, "data_type", None) == "f":
            cell.data_type = "s"
