"""The transaction history as CSV, streamed so a long history never sits in memory."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from typing import Any

from django.db.models import QuerySet
from django.http import StreamingHttpResponse

from credits.models import LedgerEntry

CSV_COLUMNS = (
    "id",
    "created_at",
    "kind",
    "amount",
    "balance_after",
    "operation",
    "reference",
    "description",
    "idempotency_key",
    "refund_of",
)
# A cell starting with one of these is a formula to a spreadsheet.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


class _Echo:
    def write(self, value: str) -> str:
        return value


def _text(value: str) -> str:
    return f"'{value}" if value.startswith(FORMULA_PREFIXES) else value


def _rows(entries: Iterable[LedgerEntry]) -> Iterator[list[Any]]:
    yield list(CSV_COLUMNS)
    for entry in entries:
        yield [
            entry.pk,
            entry.created_at.isoformat(),
            entry.kind,
            entry.amount,
            entry.balance_after,
            _text(entry.operation),
            _text(entry.reference),
            _text(entry.description),
            _text(entry.idempotency_key),
            entry.refund_of_id or "",
        ]


def ledger_csv_response(queryset: QuerySet[LedgerEntry], *, filename: str) -> StreamingHttpResponse:
    writer = csv.writer(_Echo())
    lines = (writer.writerow(row) for row in _rows(queryset.iterator(chunk_size=2000)))
    response = StreamingHttpResponse(lines, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "no-store"
    return response
