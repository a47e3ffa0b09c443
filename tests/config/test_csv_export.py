"""CSV export cells never start a formula."""

import csv
import io

import pytest
from hypothesis import given
from hypothesis import strategies as st

from config.csv_export import FORMULA_STARTS, csv_cell


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ('=HYPERLINK("http://x","y")', '\'=HYPERLINK("http://x","y")'),
        ("+1", "'+1"),
        ("-cmd", "'-cmd"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("acme", "acme"),
        ("a=b", "a=b"),
        ("", ""),
        (-5, -5),
        (2.5, 2.5),
        (None, None),
    ],
)
def test_cells_that_a_spreadsheet_would_run_are_quoted(value, cell):
    assert csv_cell(value) == cell


@given(st.text())
def test_no_cell_starts_a_formula_and_the_text_survives(text):
    buffer = io.StringIO()
    csv.writer(buffer).writerow([csv_cell(text)])
    (read,) = next(csv.reader(io.StringIO(buffer.getvalue(), newline="")))
    assert not read.startswith(FORMULA_STARTS)
    assert read == text or (read == "'" + text and text.startswith(FORMULA_STARTS))
