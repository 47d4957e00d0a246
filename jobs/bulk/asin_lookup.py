"""The ``asin_lookup`` kind: product data for each ASIN of a job.

Items go through the same store as single lookups (products/store.py: Redis
cache, fresh database row, single-flight upstream fetch under the providers'
shared rate limits and circuit breakers), many at a time: one cache read, one
database query and upstream batches of the provider's size per chunk.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from typing import Any

from core.errors import DomainError
from credits.models import Operation
from jobs.bulk.kinds import (
    BulkKind,
    ClaimedItem,
    ExportColumn,
    ItemOutcome,
    JobContext,
    bulk_kind_register,
)
from products.marketplaces import DEFAULT_MARKETPLACE, marketplace_get
from products.models import LookupLog
from products.providers import MarketplaceNotSupported, ProductNotFound, ProviderError, ProviderNotConfigured
from products.querylog import LookupLine, lookup_log_buffer
from products.store import Fetched, product_records_many, upstream_not_called
from products.validation import normalize_asin

ASIN_LOOKUP = "asin_lookup"


def asin_lookup_params(params: Mapping[str, Any]) -> dict[str, Any]:
    raw = params.get("marketplace") or DEFAULT_MARKETPLACE
    if not isinstance(raw, str):
        raise DomainError("The marketplace is a code such as US or DE.", code="invalid_marketplace")
    return {"marketplace": marketplace_get(raw).code}


def asin_lookup_process(job: JobContext, items: Sequence[ClaimedItem]) -> dict[int, ItemOutcome]:
    started = time.perf_counter()
    marketplace = marketplace_get(str(job.params.get("marketplace") or DEFAULT_MARKETPLACE))
    found = product_records_many(asins=[item.value for item in items], marketplace=marketplace)
    latency_ms = (time.perf_counter() - started) * 1000 / max(1, len(found))
    outcomes: dict[int, ItemOutcome] = {}
    for item in items:
        answer = found.get(item.value)
        if isinstance(answer, Fetched):
            outcomes[item.id] = ItemOutcome.succeeded(
                json.loads(answer.body), source=answer.source, latency_ms=latency_ms
            )
        elif isinstance(answer, ProviderError):
            outcomes[item.id] = _outcome_of_error(answer, latency_ms)
        else:  # not asked for: cannot happen, but never charge for it
            outcomes[item.id] = ItemOutcome.retry("not_fetched", "The product was not fetched.")
    return outcomes


def _outcome_of_error(error: ProviderError, latency_ms: float) -> ItemOutcome:
    if isinstance(error, ProductNotFound | MarketplaceNotSupported | ProviderNotConfigured):
        return ItemOutcome.failed(error.code, error.message, latency_ms=latency_ms)
    if upstream_not_called(error):
        return ItemOutcome.defer(error.code, error.message, delay=error.retry_after, latency_ms=latency_ms)
    return ItemOutcome.retry(error.code, error.message, delay=error.retry_after, latency_ms=latency_ms)


_LOG_OUTCOMES = {"succeeded": LookupLog.Outcome.OK, ProductNotFound.code: LookupLog.Outcome.NOT_FOUND}


def asin_lookup_completed(job: JobContext, done: Sequence[tuple[ClaimedItem, ItemOutcome]]) -> None:
    """One query-log line per item that reached a final state (channel ``bulk``)."""
    marketplace = str(job.params.get("marketplace") or DEFAULT_MARKETPLACE)
    for item, outcome in done:
        delivered = outcome.kind == "succeeded"
        lookup_log_buffer(
            LookupLine(
                user_id=job.user_id,
                asin=item.value,
                marketplace=marketplace,
                channel=LookupLog.Channel.BULK,
                source=str(outcome.meta.get("source", LookupLog.Source.NONE)),
                outcome=_LOG_OUTCOMES.get(
                    "succeeded" if delivered else outcome.error_code, LookupLog.Outcome.UNAVAILABLE
                ),
                credits=job.item_price if delivered else 0,
                latency_ms=float(outcome.meta.get("latency_ms", 0.0)),
            )
        )


def _money(name: str, part: str) -> ExportColumn:
    return ExportColumn(
        f"{name}_{part}" if part != "amount" else name, lambda r: (r.get(name) or {}).get(part)
    )


def _rank(part: str) -> ExportColumn:
    return ExportColumn(
        f"sales_rank_{part}" if part != "rank" else "sales_rank",
        lambda r: (r.get("sales_rank") or {}).get(part),
    )


_VELOCITY_FIELDS = (
    "monthly_sold",
    "monthly_sold_as_of",
    "rank_drops_30",
    "rank_drops_90",
    "rank_drops_180",
    "rank_drops_365",
    "rank_drops_as_of",
)


def _velocity(name: str) -> ExportColumn:
    return ExportColumn(name, lambda r: (r.get("sales_velocity") or {}).get(name))


ASIN_EXPORT_COLUMNS: tuple[ExportColumn, ...] = (
    ExportColumn("title", lambda r: r.get("title")),
    ExportColumn("brand", lambda r: r.get("brand")),
    _money("price", "amount"),
    ExportColumn("currency", lambda r: (r.get("price") or {}).get("currency")),
    _money("list_price", "amount"),
    # Landed (item + shipping) like `price`; a record stored before landed prices has only "price".
    ExportColumn(
        "buy_box_price",
        lambda r: (
            (r.get("buy_box") or {}).get("landed_price") or (r.get("buy_box") or {}).get("price") or {}
        ).get("amount"),
    ),
    _rank("rank"),
    _rank("category"),
    ExportColumn("rating", lambda r: r.get("rating")),
    ExportColumn("review_count", lambda r: r.get("review_count")),
    ExportColumn("offers", lambda r: (r.get("offers") or {}).get("total")),
    ExportColumn("category", lambda r: " > ".join(c["name"] for c in r.get("categories") or ())),
    ExportColumn("parent_asin", lambda r: r.get("parent_asin")),
    ExportColumn("ean", lambda r: " ".join(r.get("eans") or ())),
    ExportColumn("upc", lambda r: " ".join(r.get("upcs") or ())),
    # Sales velocity as the provider reports it (empty for SP-API, which has none, and for a
    # record stored before record_version 3); sales_data_note says why there is none.
    *(_velocity(name) for name in _VELOCITY_FIELDS),
    ExportColumn("sales_data_source", lambda r: (r.get("sales_velocity") or {}).get("source")),
    ExportColumn("sales_data_note", lambda r: (r.get("sales_velocity") or {}).get("unavailable")),
    ExportColumn("provider", lambda r: r.get("provider")),
    ExportColumn("sample_data", lambda r: r.get("sample_data")),
    ExportColumn("fetched_at", lambda r: r.get("fetched_at")),
)


def asin_lookup_summary(record: Mapping[str, Any]) -> str:
    """The job page's line about a delivered product: its title, brand and price."""
    price = record.get("price") or {}
    parts = [
        str(record.get("title") or "(no title)"),
        str(record.get("brand") or ""),
        f"{price.get('amount')} {price.get('currency') or ''}".strip() if price.get("amount") else "",
    ]
    return " · ".join(part for part in parts if part)


bulk_kind_register(
    BulkKind(
        name=ASIN_LOOKUP,
        label="ASIN lookup",
        operation=Operation.BULK_ITEM,
        input_label="ASIN",
        input_column="asin",
        normalize=normalize_asin,
        process=asin_lookup_process,
        export_columns=ASIN_EXPORT_COLUMNS,
        clean_params=asin_lookup_params,
        on_completed=asin_lookup_completed,
        summary=asin_lookup_summary,
    )
)
