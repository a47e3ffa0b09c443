"""Cells for CSV files people open in a spreadsheet.

A cell that starts with ``=``, ``+``, ``-`` or ``@`` (or a tab or carriage return, which some
spreadsheets skip before looking) is read as a formula: a tenant or lab name such as
``=HYPERLINK(...)`` would run in the reader's spreadsheet (CSV injection, OWASP). Every CSV
Nestlab writes passes its text cells through ``csv_cell``, which prefixes such a value with a
single quote so it is shown as text. Numbers are written as they are.
"""

from __future__ import annotations

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: object) -> object:
    """``value`` made safe for a CSV cell: text that a spreadsheet would take for a formula gets a
    leading single quote; numbers, None and other text are returned unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value
