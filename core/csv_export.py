"""CSV downloads with formula escaping: the one place a cell is made safe for a spreadsheet.

A text cell starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is a formula to
Excel, LibreOffice and Google Sheets (CSV injection); such a cell is written with a leading
apostrophe, which a spreadsheet shows as text. Numbers are written as they are (``-5`` stays a
number), ``None`` as an empty cell.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator

from django.http import HttpResponse, StreamingHttpResponse

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
CSV_CONTENT_TYPE = "text/csv; charset=utf-8"


def csv_cell(value: object) -> object:
    """``value`` as a CSV cell a spreadsheet will not run."""
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return f"'{value}"
    return value


class _Echo:
    def write(self, value: str) -> str:
        return value


def csv_lines(rows: Iterable[Iterable[object]], *, batch: int = 1) -> Iterator[str]:
    """The CSV text of ``rows`` (every cell escaped), in pieces of ``batch`` lines, for streaming."""
    writer = csv.writer(_Echo())
    lines: list[str] = []
    for row in rows:
        lines.append(writer.writerow([csv_cell(cell) for cell in row]))
        if len(lines) >= batch:
            yield "".join(lines)
            lines.clear()
    if lines:
        yield "".join(lines)


def _as_download(response: HttpResponse | StreamingHttpResponse, filename: str) -> None:
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "no-store"


def csv_response(rows: Iterable[Iterable[object]], *, filename: str) -> HttpResponse:
    """A small CSV download built in memory (``rows`` include the header)."""
    buffer = io.StringIO()
    csv.writer(buffer).writerows([csv_cell(cell) for cell in row] for row in rows)
    response = HttpResponse(buffer.getvalue(), content_type=CSV_CONTENT_TYPE)
    _as_download(response, filename)
    return response


def csv_streaming_response(
    rows: Iterable[Iterable[object]], *, filename: str, batch: int = 1
) -> StreamingHttpResponse:
    """A CSV download written while ``rows`` (header included) are read, so it never sits in memory."""
    response = StreamingHttpResponse(csv_lines(rows, batch=batch), content_type=CSV_CONTENT_TYPE)
    _as_download(response, filename)
    return response
