"""The transaction history as CSV, streamed so a long history never sits in memory."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from django.db.models import QuerySet
from django.http import StreamingHttpResponse

from core.csv_export import csv_streaming_response
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


def _rows(entries: Iterable[LedgerEntry]) -> Iterator[list[Any]]:
    yield list(CSV_COLUMNS)
    for entry in entries:
        yield [
            entry.pk,
            entry.created_at.isoformat(),
            entry.kind,
            entry.amount,
            entry.balance_after,
            entry.operation,
            entry.reference,
            entry.description,
            entry.idempotency_key,
            entry.refund_of_id or "",
        ]


def ledger_csv_response(queryset: QuerySet[LedgerEntry], *, filename: str) -> StreamingHttpResponse:
    return csv_streaming_response(_rows(queryset.iterator(chunk_size=2000)), filename=filename)
