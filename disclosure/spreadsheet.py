"""Cells of the CSV files gongshi writes, made safe for spreadsheets (OWASP "CSV Injection")."""

from __future__ import annotations

import re
from typing import Any

# What makes Excel, LibreOffice or Sheets read a cell as a formula (TAB and CR too: some strip
# them and read on).
FORMULA_START = frozenset("=+-@\t\r")
_NUMBER = re.compile(r"[+-]?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?")


def is_formula(text: str) -> bool:
    """Whether a spreadsheet would read `text` as a formula (a plain number such as -2.5 is not)."""
    return bool(text) and text[0] in FORMULA_START and _NUMBER.fullmatch(text) is None


def neutralise(cell: Any) -> Any:
    """A text cell a spreadsheet shows as text: a formula-looking one prefixed with a `'`;
    anything else (numbers, plain text, non-text cells) as it is."""
    if isinstance(cell, str) and cell and cell[0] in FORMULA_START and is_formula(cell):
        return "'" + cell
    return cell


def neutralise_row(cells: list[Any]) -> list[Any]:
    """Every cell of a row neutralised."""
    return [neutralise(cell) for cell in cells]
