"""The ``manifest`` kind of bulk job: each line of a liquidation manifest resolved, priced and costed.

The engine (jobs/bulk/services.py) claims chunks of a manifest's lines (one item per accepted line,
``item.row`` is the line's row in the file), holds ``manifest_line`` credits for every line when the
job is created and settles what was delivered. A chunk here:

1. **resolves** each line to an ASIN, in this order: its ASIN as written; its FNSKU through
   conversion (``conversion.bulk.convert_many``, the line's title as the label text, the batch not
   charged again and each answer logged as a ``Conversion``); its UPC/EAN through products' barcode
   lookup (``products.services.product_code_matches``: its cache, then the provider chain); else,
   or when the barcode names no product, a catalogue search of its title through the providers'
   search (``search_with_fallback``, as the conversion resolvers do), taking the best match only
   when its title matches the line's at least ``MANIFEST_TITLE_MIN_SIMILARITY``;
2. **prices** the resolved ASINs together (``products.store.product_records_many``: cache, store,
   upstream batches under the shared rate limit), at the landed buy box (item + shipping), else the
   record's own landed ``price``;
3. **estimates the fees** in batches (``resale.fees.fees_get_many``) and works out each line's
   profit (``resale.profit.profit_calculate``), at the lot price allocated to the line.

Outcomes: a line resolved and priced is delivered (charged), with ``no_price`` when the product has
no offer (a real answer, shown as such, never as 0); no product found is ``failed`` (not charged);
an upstream that could not answer now is ``retry`` or ``defer`` as for ASIN lookups, and fees
unavailable are retried too: a line that still has none after the last attempt fails, uncharged;
fees not asked (SP-API's rate limit: ``FeeQuote.retry_after``) are waited for (``defer``).
The lines' results are written to ``ManifestLine`` once final (``manifest_completed``).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import connection

from conversion.bulk import convert_many
from conversion.resolvers import search_keywords
from conversion.scoring import label_similarity, normalize_text
from core.errors import DomainError
from credits.models import Operation
from jobs.bulk.conf import bulk_settings
from jobs.bulk.kinds import BulkKind, ClaimedItem, ExportColumn, ItemOutcome, JobContext, OutcomeKind
from products.marketplaces import Marketplace, marketplace_get
from products.providers import (
    MarketplaceNotSupported,
    ProductNotFound,
    ProviderError,
    ProviderNotConfigured,
    search_with_fallback,
)
from products.services import product_code_matches
from products.store import Fetched, product_records_many, upstream_not_called
from products.validation import normalize_asin
from resale.economics import LineEconomics, line_economics_many
from resale.manifest_conf import manifest_settings
from resale.models import ManifestLine

logger = logging.getLogger(__name__)

MANIFEST_KIND = "manifest"
SEARCH_LIMIT = 5
_TRANSIENT_RETRY = 5.0


def manifest_item_text(line: int, identifier: str) -> str:
    """The job item's input for a line: its row, then what identifies it (shown on the bulk page)."""
    return f"line {line}: {identifier}"[:255]


def normalize_manifest_item(raw: str) -> str:
    """``line N: ...`` -> ``line N``: one item per line, so two lines naming the same product are two
    items (a manifest lists the same ASIN on several lines, each with its quantity)."""
    head, _, _ = raw.partition(":")
    number = head.removeprefix("line ").strip()
    if not head.startswith("line ") or not number.isdigit():
        raise DomainError("A manifest line is created from a manifest upload.", code="invalid_manifest_item")
    return f"line {int(number)}"


@dataclass(frozen=True, slots=True)
class Resolved:
    asin: str
    via: str
    title: str = ""
    confidence: float | None = None


def _manifest_params(params: Mapping[str, Any]) -> dict[str, Any]:
    manifest = params.get("manifest")
    if not isinstance(manifest, int):
        raise DomainError("A manifest job is started from its manifest.", code="invalid_manifest_item")
    return {"marketplace": marketplace_get(str(params.get("marketplace") or "US")).code, "manifest": manifest}


def manifest_process(job: JobContext, items: Sequence[ClaimedItem]) -> dict[int, ItemOutcome]:
    """The engine's processor for ``manifest`` jobs: see the module's docstring."""
    from accounts.models import User

    market = marketplace_get(str(job.params["marketplace"]))
    lines = {
        line.line: line
        for line in ManifestLine.objects.filter(
            manifest_id=int(job.params["manifest"]), line__in=[item.row for item in items]
        )
    }
    outcomes: dict[int, ItemOutcome] = {}
    resolved: dict[int, Resolved] = {}
    fnsku_items: list[ClaimedItem] = []
    title_items: list[ClaimedItem] = []
    for item in items:
        line = lines.get(item.row)
        if line is None:
            outcomes[item.id] = ItemOutcome.failed("line_missing", "The manifest line no longer exists.")
            continue
        asin = _valid_asin(line.asin_input)
        if asin:
            resolved[item.id] = Resolved(asin, ManifestLine.Via.ASIN)
        elif line.fnsku:
            fnsku_items.append(item)
        elif line.code:
            found = _by_code(line, market)
            if isinstance(found, Resolved):
                resolved[item.id] = found
            elif isinstance(found, ItemOutcome) and not line.title_input:
                outcomes[item.id] = found
            else:
                title_items.append(item)
        else:
            title_items.append(item)
    if fnsku_items:
        user = User.objects.get(pk=job.user_id)
        resolved_fnsku, failed_fnsku = _by_fnsku(user, job, fnsku_items, lines, market)
        resolved.update(resolved_fnsku)
        outcomes.update(failed_fnsku)
    for item in title_items:
        found_title = _by_title(lines[item.row], market)
        if isinstance(found_title, Resolved):
            resolved[item.id] = found_title
        else:
            outcomes[item.id] = found_title
    outcomes.update(_price_and_cost(job, items, lines, resolved, market))
    return outcomes


def _valid_asin(raw: str) -> str:
    if not raw:
        return ""
    try:
        return normalize_asin(raw)
    except DomainError:
        return ""


def _by_code(line: ManifestLine, market: Marketplace) -> Resolved | ItemOutcome | None:
    """The first product carrying the line's barcode; an outcome when there is none (None: an
    invalid code, so the title is tried)."""
    try:
        matches = product_code_matches(code=line.code, marketplace=market.code)
    except ProductNotFound as exc:
        return ItemOutcome.failed("not_found", f"No product carries the barcode {line.code}: {exc.message}")
    except ProviderError as exc:
        return _provider_outcome(exc)
    except DomainError:
        return None
    first = matches[0]
    return Resolved(str(first["asin"]), ManifestLine.Via.CODE, str(first.get("title") or ""))


def _by_fnsku(
    user: Any,
    job: JobContext,
    items: list[ClaimedItem],
    lines: Mapping[int, ManifestLine],
    market: Marketplace,
) -> tuple[dict[int, Resolved], dict[int, ItemOutcome]]:
    outcomes = convert_many(
        user=user,
        fnskus=[lines[item.row].fnsku for item in items],
        marketplace=market.code,
        label_texts={lines[item.row].fnsku: lines[item.row].title_input for item in items},
        # A redelivered chunk reuses its conversions instead of resolving (and logging) them twice.
        idempotency_keys={lines[item.row].fnsku: f"manifest:{job.job_id}:{item.id}" for item in items},
    )
    resolved: dict[int, Resolved] = {}
    failed: dict[int, ItemOutcome] = {}
    for item, outcome in zip(items, outcomes, strict=True):
        if outcome.ok and outcome.asin:
            resolved[item.id] = Resolved(
                outcome.asin, ManifestLine.Via.FNSKU, outcome.title or "", outcome.confidence
            )
        elif outcome.error_code in {"upstream_unavailable", "circuit_open", "rate_limited"}:
            failed[item.id] = ItemOutcome.retry(
                outcome.error_code, outcome.error_message, delay=_TRANSIENT_RETRY
            )
        else:
            failed[item.id] = ItemOutcome.failed(
                "not_found", outcome.error_message or f"No ASIN found for the FNSKU {lines[item.row].fnsku}."
            )
    return resolved, failed


def _by_title(line: ManifestLine, market: Marketplace) -> Resolved | ItemOutcome:
    if not line.title_input:
        return ItemOutcome.failed("not_found", "No product found: the line has no usable identifier.")
    keywords = search_keywords(line.title_input)
    if not keywords:
        return ItemOutcome.failed("not_found", "No product found: the title has no searchable words.")
    try:
        result = search_with_fallback(keywords, market, limit=SEARCH_LIMIT)
    except ProviderError as exc:
        return _provider_outcome(exc)
    wanted = normalize_text(line.title_input)
    best: tuple[float, str, str] | None = None
    for record in result.records:
        similarity = label_similarity(wanted, normalize_text(record.title)) or 0.0
        if best is None or similarity > best[0]:
            best = (similarity, record.asin, record.title or "")
    threshold = manifest_settings().title_min_similarity
    if best is None or best[0] < threshold:
        how = f"the best match scored {best[0]:.2f}" if best else "the search found nothing"
        return ItemOutcome.failed(
            "not_found", f"No product matches the title well enough ({how}; {threshold:.2f} needed)."
        )
    return Resolved(best[1], ManifestLine.Via.TITLE, best[2], round(best[0], 3))


def _provider_outcome(error: ProviderError) -> ItemOutcome:
    if isinstance(error, ProductNotFound | MarketplaceNotSupported | ProviderNotConfigured):
        return ItemOutcome.failed(error.code, error.message)
    if upstream_not_called(error):
        return ItemOutcome.defer(error.code, error.message, delay=error.retry_after)
    return ItemOutcome.retry(error.code, error.message, delay=error.retry_after)


def _price_and_cost(
    job: JobContext,
    items: Sequence[ClaimedItem],
    lines: Mapping[int, ManifestLine],
    resolved: Mapping[int, Resolved],
    market: Marketplace,
) -> dict[int, ItemOutcome]:
    if not resolved:
        return {}
    found = product_records_many(asins=[r.asin for r in resolved.values()], marketplace=market)
    records: dict[int, dict[str, Any]] = {}
    outcomes: dict[int, ItemOutcome] = {}
    for item in items:
        target = resolved.get(item.id)
        if target is None:
            continue
        answer = found.get(target.asin)
        if isinstance(answer, Fetched):
            records[item.id] = json.loads(answer.body)
        elif isinstance(answer, ProviderError):
            outcomes[item.id] = _provider_outcome(answer)
        else:
            outcomes[item.id] = ItemOutcome.retry("not_fetched", "The product was not fetched.")
    economics = line_economics_many(
        user_id=job.user_id,
        marketplace=market,
        lines=[(lines[item.row], records[item.id]) for item in items if item.id in records],
    )
    last_attempt = bulk_settings().max_attempts
    for item in items:
        if item.id not in records:
            continue
        line, target, record = lines[item.row], resolved[item.id], records[item.id]
        figures = economics[line.line]
        if figures.fees_unavailable and figures.retry_after is not None:
            # Not asked (the fee upstream's rate limit): wait for it without using an attempt.
            outcomes[item.id] = ItemOutcome.defer(
                "fees_not_asked", f"Fees not asked yet: {figures.reason}", delay=figures.retry_after
            )
            continue
        if figures.fees_unavailable and item.attempts < last_attempt:
            outcomes[item.id] = ItemOutcome.retry(
                "fees_unavailable", f"Fees unavailable: {figures.reason}", delay=_TRANSIENT_RETRY
            )
            continue
        if figures.fees_unavailable:
            outcomes[item.id] = ItemOutcome.failed("fees_unavailable", f"Fees unavailable: {figures.reason}")
            continue
        outcomes[item.id] = ItemOutcome.succeeded(_result(line, target, record, figures))
    return outcomes


def _money(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _result(
    line: ManifestLine, target: Resolved, record: Mapping[str, Any], figures: LineEconomics
) -> dict[str, Any]:
    return {
        "line": line.line,
        "status": figures.status,
        "resolved_via": target.via,
        "asin": target.asin,
        "title": str(record.get("title") or target.title or "")[:500],
        "confidence": target.confidence,
        "quantity": line.quantity,
        "allocated_cost": _money(line.allocated_cost),
        "sale_price": _money(figures.sale_price),
        "fees_unit": _money(figures.fees_unit),
        "net_unit": _money(figures.net_unit),
        "resale_value": _money(figures.resale_value),
        "fees_total": _money(figures.fees_total),
        "net_total": _money(figures.net_total),
        "profit": _money(figures.profit),
        "roi": _money(figures.roi),
        "currency": figures.currency,
        "fees_source": figures.fees_source,
        "sample_data": bool(record.get("sample_data")) or figures.sample,
        **_sales_figures(record),
    }


def _sales_figures(record: Mapping[str, Any]) -> dict[str, Any]:
    """The record's ``sales_velocity`` (record_version 3) as the line keeps it: what the provider
    reports, None where it reports nothing (a record stored before version 3 has nothing at all)."""
    velocity = record.get("sales_velocity") or {}
    return {
        "monthly_sold": velocity.get("monthly_sold"),
        "rank_drops_30": velocity.get("rank_drops_30"),
        "rank_drops_90": velocity.get("rank_drops_90"),
        "sales_data_source": velocity.get("source") or "",
        "sales_data_note": velocity.get("unavailable") or "",
    }


_DECIMAL_FIELDS = (
    "sale_price",
    "fees_unit",
    "net_unit",
    "resale_value",
    "fees_total",
    "net_total",
    "profit",
    "roi",
)
_COUNT_FIELDS = ("monthly_sold", "rank_drops_30", "rank_drops_90")


def manifest_completed(job: JobContext, done: Sequence[tuple[ClaimedItem, ItemOutcome]]) -> None:
    """Each final item's outcome onto its manifest line (idempotent: a line is set to what its item
    says, however often)."""
    manifest_id = int(job.params["manifest"])
    lines = {
        line.line: line
        for line in ManifestLine.objects.filter(
            manifest_id=manifest_id, line__in=[item.row for item, _ in done]
        )
    }
    changed: list[ManifestLine] = []
    for item, outcome in done:
        line = lines.get(item.row)
        if line is None:
            continue
        manifest_line_apply(
            line, outcome.result if outcome.kind == OutcomeKind.SUCCEEDED else None, outcome.error_message
        )
        changed.append(line)
    manifest_lines_write(changed)


def manifest_lines_write(lines: Sequence[ManifestLine]) -> None:
    """Write the results of ``lines`` (``MANIFEST_LINE_RESULT_FIELDS``).

    On PostgreSQL one ``UPDATE ... FROM (VALUES ...)`` per 500 lines: Django's ``bulk_update``
    builds a ``CASE`` of every line for each result field (21 now), which took most of a chunk's time
    (bench/manifest.py, docs/performance.md). Elsewhere (the embedded SQLite) ``bulk_update``."""
    if not lines:
        return
    if connection.vendor != "postgresql":
        ManifestLine.objects.bulk_update(lines, MANIFEST_LINE_RESULT_FIELDS, batch_size=500)
        return
    quote = connection.ops.quote_name
    fields: list[Any] = [ManifestLine._meta.get_field(name) for name in MANIFEST_LINE_RESULT_FIELDS]
    columns = [str(field.column) for field in fields]
    # Table, columns and types come from the model, never from input; the values are parameters.
    row_sql = "(%s::bigint, " + ", ".join(f"%s::{field.db_type(connection)}" for field in fields) + ")"
    assignments = ", ".join(f"{quote(column)} = v.{quote(column)}" for column in columns)
    names = ", ".join(["id", *(quote(column) for column in columns)])
    table = quote(ManifestLine._meta.db_table)
    for start in range(0, len(lines), 500):
        batch = lines[start : start + 500]
        params: list[Any] = []
        for line in batch:
            params.append(line.pk)
            params.extend(
                field.get_db_prep_save(getattr(line, field.attname), connection) for field in fields
            )
        values = ", ".join([row_sql] * len(batch))
        sql = f"UPDATE {table} SET {assignments} FROM (VALUES {values}) AS v({names}) WHERE {table}.id = v.id"  # noqa: S608
        with connection.cursor() as cursor:
            cursor.execute(sql, params)


MANIFEST_LINE_RESULT_FIELDS = (
    "status",
    "error",
    "resolved_via",
    "asin",
    "title",
    "confidence",
    "sample_data",
    "fees_source",
    *_DECIMAL_FIELDS,
    *_COUNT_FIELDS,
    "sales_data_source",
    "sales_data_note",
)


def manifest_line_apply(line: ManifestLine, result: Mapping[str, Any] | None, error: str) -> None:
    """A final item's result (None: not delivered, with ``error``) on its line, unsaved."""
    if result is None:
        line.status = ManifestLine.Status.UNRESOLVED
        line.error = error[:500]
        return
    line.status = str(result["status"])
    line.error = ""
    line.resolved_via = str(result.get("resolved_via") or "")
    line.asin = str(result.get("asin") or "")
    line.title = str(result.get("title") or "")[:500]
    line.confidence = result.get("confidence")
    line.sample_data = bool(result.get("sample_data"))
    line.fees_source = str(result.get("fees_source") or "")[:32]
    for name in _DECIMAL_FIELDS:
        value = result.get(name)
        setattr(line, name, Decimal(value) if value not in (None, "") else None)
    # A result written before lines carried sales figures has none of these keys: None, "".
    for name in _COUNT_FIELDS:
        setattr(line, name, _count(result.get(name)))
    line.sales_data_source = str(result.get("sales_data_source") or "")[:32]
    line.sales_data_note = str(result.get("sales_data_note") or "")[:200]


def _count(value: object) -> int | None:
    """A reported count, or None: never a made-up 0 for something missing or unreadable (and never
    a negative number that would fail the column's check and with it the chunk's one UPDATE)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        return None
    return value


def _result_value(name: str) -> Callable[[Mapping[str, Any]], object]:
    def value(result: Mapping[str, Any]) -> object:
        return result.get(name)

    return value


EXPORT_COLUMNS = tuple(
    ExportColumn(name, _result_value(name))
    for name in (
        "status",
        "resolved_via",
        "asin",
        "title",
        "quantity",
        "allocated_cost",
        "sale_price",
        "fees_unit",
        "net_unit",
        "resale_value",
        "profit",
        "roi",
        "currency",
        "sample_data",
        "monthly_sold",
        "rank_drops_30",
        "rank_drops_90",
        "sales_data_source",
        "sales_data_note",
    )
)


def manifest_summary(result: Mapping[str, Any]) -> str:
    parts = [str(result.get("asin") or ""), str(result.get("title") or "")[:60]]
    if result.get("profit") is not None:
        parts.append(f"profit {result['profit']} {result.get('currency') or ''}".strip())
    else:
        parts.append(str(result.get("status") or ""))
    return " · ".join(part for part in parts if part)


def manifest_bulk_kind() -> BulkKind:
    global _KIND
    if _KIND is None:
        _KIND = BulkKind(
            name=MANIFEST_KIND,
            label="Liquidation manifest",
            operation=Operation.MANIFEST_LINE,
            input_label="manifest line",
            input_column="line",
            normalize=normalize_manifest_item,
            process=manifest_process,
            export_columns=EXPORT_COLUMNS,
            clean_params=_manifest_params,
            on_completed=manifest_completed,
            summary=manifest_summary,
        )
    return _KIND


_KIND: BulkKind | None = None
