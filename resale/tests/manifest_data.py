"""Manifests built from real products (../shared/data/amazon-us-products-2023.csv: real ASINs and
titles), written the way liquidation sellers write them."""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

DATA = Path("/work/shared/data/amazon-us-products-2023.csv")


@cache
def real_products() -> list[dict[str, str]]:
    """Rows of the real product file: asin, title, category, price, list_price, ..."""
    with DATA.open(encoding="utf-8", newline="") as handle:
        return [row for row in csv.DictReader(handle) if row["asin"] and row["title"]]


def products(count: int, start: int = 0) -> list[dict[str, str]]:
    return real_products()[start : start + count]


def accented(count: int) -> list[dict[str, str]]:
    """Real products whose titles have characters Windows-1252 encodes (accents, ®, ™...)."""
    found = []
    for row in real_products():
        title = row["title"]
        if any(ord(c) > 127 for c in title):
            try:
                title.encode("cp1252")
            except UnicodeEncodeError:
                continue
            found.append(row)
        if len(found) == count:
            break
    return found


def retail(row: dict[str, str]) -> str:
    return row["list_price"] if row["list_price"] not in ("", "0", "0.0") else row["price"]


def csv_bytes(
    header: list[str], rows: list[list[Any]], *, encoding: str = "utf-8", delimiter: str = ","
) -> bytes:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, delimiter=delimiter)
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue().encode(encoding)


def bstock_manifest(rows: list[dict[str, str]], quantities: list[int] | None = None) -> bytes:
    """A B-Stock-like manifest: ASIN, Item Description, Qty, Unit Retail, Ext. Retail, ..."""
    header = ["Pallet ID", "ASIN", "Item Description", "Qty", "Unit Retail", "Ext. Retail", "Condition"]
    lines = []
    for i, row in enumerate(rows):
        qty = quantities[i] if quantities else 1
        unit = Decimal(retail(row))
        lines.append(
            ["PLT-1", row["asin"], row["title"], qty, f"${unit:,}", f"${unit * qty:,}", "Customer Returns"]
        )
    return csv_bytes(header, lines)


def xlsx_bytes(header: list[str], rows: list[list[Any]]) -> bytes:
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    sheet.append(header)
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
