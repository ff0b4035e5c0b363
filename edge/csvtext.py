"""CSV as the project writes it: RFC 4180, CRLF, and no cell a spreadsheet would run.

A text cell that begins with ``=``, ``+``, ``-``, ``@``, a tab or a carriage
return is read by Excel and LibreOffice as a formula (CSV injection: a name
or a title written by a node or a person could run ``=HYPERLINK(…)`` on the
secretary's computer). Such a cell is written with a leading apostrophe, as
OWASP advises; a number (``-5``, ``+3.5``) stays a number.
"""

from __future__ import annotations

import csv
import io
import re
from typing import Any, Iterable, Sequence

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"^[+-]?(\d+([.,]\d*)?|[.,]\d+)([eE][+-]?\d+)?$")


def safe_cell(value: Any) -> Any:
    """The value, or for a text that a spreadsheet would take as a formula, the text behind an apostrophe."""
    if isinstance(value, str) and value.startswith(_FORMULA_START) and not _NUMBER.match(value):
        return "'" + value
    return value


def csv_text(header: Sequence[str], rows: Iterable[Sequence[Any]], delimiter: str = ",") -> str:
    """CSV text: the header, then each row with its text cells made safe."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([safe_cell(v) for v in row])
    return out.getvalue()
