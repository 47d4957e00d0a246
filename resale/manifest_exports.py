"""A manifest's lines as CSV or XLSX: every cell a spreadsheet could run is escaped (core.csv_export).

Both stream: the CSV through ``csv_streaming_response``, the XLSX through openpyxl's write-only
workbook (rows written as they are read, then saved to a temporary file), so a manifest of many
thousand lines is never held in memory as rows. A text cell starting with ``=``, ``+``, ``-`` or
``@`` is written with a leading apostrophe in both, and XLSX text cells are typed as strings, so a
title such as ``=HYPERLINK(...)`` from an uploaded manifest is never a formula in the export.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from decimal import Decimal

from django.http import FileResponse, HttpResponseBase

from core.csv_export import csv_cell, csv_streaming_response
from resale.manifest_selectors import manifest_lines
from resale.models import Manifest, ManifestLine

FORMATS = ("csv", "xlsx")
HEADER = (
    "line",
    "status",
    "asin_input",
    "fnsku",
    "upc_ean",
    "title_input",
    "quantity",
    "unit_retail",
    "allocated_cost",
    "resolved_via",
    "asin",
    "title",
    "confidence",
    "sale_price",
    "fees_unit",
    "net_unit",
    "resale_value",
    "fees_total",
    "net_total",
    "profit",
    "roi_percent",
    "currency",
    "sample_data",
    # Sales velocity as the product's provider reports it (empty: not reported, never 0);
    # sales_data_note says why there is none at all ("not available from SP-API").
    "monthly_sold",
    "rank_drops_30",
    "rank_drops_90",
    "sales_data_source",
    "sales_data_note",
    "error",
)
XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _row(line: ManifestLine, currency: str) -> list[object]:
    return [
        line.line,
        line.status,
        line.asin_input,
        line.fnsku,
        line.code,
        line.title_input,
        line.quantity,
        line.unit_retail,
        line.allocated_cost,
        line.resolved_via,
        line.asin,
        line.title,
        line.confidence,
        line.sale_price,
        line.fees_unit,
        line.net_unit,
        line.resale_value,
        line.fees_total,
        line.net_total,
        line.profit,
        line.roi,
        currency,
        "true" if line.sample_data else "false",
        line.monthly_sold,
        line.rank_drops_30,
        line.rank_drops_90,
        line.sales_data_source,
        line.sales_data_note,
        line.error,
    ]


def manifest_rows(manifest: Manifest, *, sort: str = "line") -> Iterator[list[object]]:
    yield list(HEADER)
    for line in manifest_lines(manifest=manifest, sort=sort).iterator(chunk_size=1000):
        yield _row(line, manifest.currency)


def _filename(manifest: Manifest, fmt: str) -> str:
    return f"manifest-{manifest.pk}.{fmt}"


def manifest_export_response(manifest: Manifest, *, fmt: str, sort: str = "line") -> HttpResponseBase:
    if fmt == "xlsx":
        return _xlsx_response(manifest, sort=sort)
    return csv_streaming_response(
        manifest_rows(manifest, sort=sort), filename=_filename(manifest, "csv"), batch=200
    )


def _xlsx_response(manifest: Manifest, *, sort: str) -> FileResponse:
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("Manifest")
    for row in manifest_rows(manifest, sort=sort):
        cells = []
        for value in row:
            cell = WriteOnlyCell(sheet, value=_xlsx_value(value))
            if isinstance(cell.value, str):
                cell.data_type = "s"  # never a formula, whatever the text starts with
            cells.append(cell)
        sheet.append(cells)
    output = tempfile.TemporaryFile(suffix=".xlsx")  # noqa: SIM115 (closed by the FileResponse)
    workbook.save(output)
    output.seek(0)
    response = FileResponse(
        output, as_attachment=True, filename=_filename(manifest, "xlsx"), content_type=XLSX_CONTENT_TYPE
    )
    response["Cache-Control"] = "no-store"
    return response


def _xlsx_value(value: object) -> object:
    if isinstance(value, Decimal):
        return value  # a number cell
    escaped = csv_cell(value)
    return None if escaped == "" else escaped
