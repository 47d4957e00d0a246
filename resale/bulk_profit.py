"""The ``asin_profit`` kind of bulk job: an ASIN lookup whose results also hold fees and profit.

Offered with the ASIN lookup (``offered_with``): the bulk page's "Results" choice and the ``kind``
of ``POST /api/v1/products/bulk``. A chunk is the ASIN lookup's (``asin_lookup_process``: cache,
store, upstream batches), then, for the products delivered, one ``fees_get_many`` call (cached
quotes, then SP-API batches of 20 or Keepa's) at each product's sale price, and
``profit_calculate`` per row with the user's saved defaults (inbound shipping, prep, VAT, target
ROI, read once per chunk).

The buy cost per unit comes from the row's ``cost`` column (or "buy cost", "unit cost", "cost per
unit"), written as people write amounts (``core.money.parse_amount``: "4.50", "4,50 €"); a cost
that is not an amount makes the row invalid at upload, reported and not charged. Without a cost
the row still gets its fees, net proceeds, break-even buy cost and the most one may pay for the
target ROI; profit, margin and ROI are then empty, never computed at a made-up cost of 0.

Price: the ASIN lookup's (``bulk_item``) per delivered row; fees and profit add nothing. As with
``POST /api/v1/products/profit`` and manifests, a row whose fees are unavailable is not
delivered: it is retried, and fails uncharged after the last attempt; one whose fees were not
asked (``FeeQuote.retry_after``: SP-API's 20 fees every 2 s outlast a chunk) waits for them
(``defer``) without using an attempt. A product without a buy box
or offer is delivered with profit status ``no_price``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from core.errors import DomainError
from core.money import parse_amount
from credits.models import Operation
from jobs.bulk.asin_lookup import (
    ASIN_EXPORT_COLUMNS,
    asin_lookup_completed,
    asin_lookup_params,
    asin_lookup_process,
    asin_lookup_summary,
)
from jobs.bulk.conf import bulk_settings
from jobs.bulk.kinds import BulkKind, ClaimedItem, ExportColumn, ItemOutcome, JobContext, OutcomeKind
from products.marketplaces import DEFAULT_MARKETPLACE, marketplace_get
from products.providers.base import ProductRecord
from products.validation import normalize_asin
from resale.fees import FeeQuote, fees_get_many
from resale.profit import FEES_UNAVAILABLE, OK, ProfitResult, profit_calculate, sale_price_of
from resale.selectors import resale_defaults_of

ASIN_PROFIT = "asin_profit"
COST_COLUMNS = ("cost", "buy cost", "unit cost", "cost per unit", "buy_cost", "unit_cost")
MAX_COST = Decimal("9999999999.99")
_FEES_RETRY_SECONDS = 5.0
# What a row's profit holds only when it has a cost.
_COST_FIELDS = (
    "landed_cost",
    "input_vat_reclaimed",
    "profit",
    "margin_percent",
    "roi_percent",
)


def row_cost(extra: Mapping[str, str]) -> Decimal | None:
    """The row's buy cost per unit from the first cost column that has one; None when none has.
    Raises ``DomainError`` (the row's reason) for a cost that is not an amount of 0 or more."""
    for name in COST_COLUMNS:
        raw = extra.get(name, "")
        if not raw:
            continue
        try:
            cost = parse_amount(raw)
        except ValueError:
            raise DomainError(
                f"The cost {raw!r} is not an amount: write it as 4.50 or 4,50.", code="invalid_cost"
            ) from None
        if cost is not None and cost > MAX_COST:
            raise DomainError(f"The cost {raw!r} is too large.", code="invalid_cost")
        return cost
    return None


def check_cost(extra: Mapping[str, str]) -> None:
    row_cost(extra)


def _money(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def profit_fields(result: ProfitResult, quote: FeeQuote | None, *, with_cost: bool) -> dict[str, Any]:
    """A row's ``profit`` object: the calculation's amounts as strings (None when not computed)."""
    fees = quote if quote is not None and quote.available else None
    fields: dict[str, Any] = {
        "status": result.status,
        "currency": result.currency,
        "cost": _money(result.buy_cost) if with_cost else None,
        "sale_price": _money(result.sale_price),
        "sale_price_source": result.sale_price_source,
        "referral_fee": _money(fees.referral) if fees else None,
        "fulfilment_fee": _money(fees.fulfilment) if fees else None,
        "closing_fee": _money(fees.closing) if fees else None,
        "other_fees": _money(fees.other) if fees else None,
        "fees_total": _money(result.fees_total),
        "fees_source": quote.source if quote is not None else "",
        "fees_unavailable_reason": quote.reason if quote is not None and not quote.available else "",
        "vat_rate": _money(result.vat_rate),
        "output_vat": _money(result.output_vat),
        "net_proceeds": _money(result.net_proceeds),
        "inbound": _money(result.inbound),
        "prep": _money(result.prep),
        "landed_cost": _money(result.landed_cost),
        "input_vat_reclaimed": _money(result.input_vat_reclaimed),
        "profit": _money(result.profit),
        "margin_percent": _money(result.margin_percent),
        "roi_percent": _money(result.roi_percent),
        "break_even_cost": _money(result.break_even_cost),
        "target_roi_percent": _money(result.target_roi_percent),
        "max_cost_for_target_roi": _money(result.max_cost_for_target_roi),
        "sample": result.sample,
        "notes": list(result.notes),
    }
    if not with_cost:
        fields.update(dict.fromkeys(_COST_FIELDS))
        if result.status == OK:
            fields["notes"].append("No cost on the row: profit, margin and ROI need one.")
    return fields


def asin_profit_process(job: JobContext, items: Sequence[ClaimedItem]) -> dict[int, ItemOutcome]:
    """The ASIN lookup of ``items``, then fees and profit for the products delivered."""
    outcomes = asin_lookup_process(job, items)
    market = marketplace_get(str(job.params.get("marketplace") or DEFAULT_MARKETPLACE))
    delivered = [
        (
            item,
            outcomes[item.id],
            ProductRecord.from_dict({**(outcomes[item.id].result or {}), "history": ()}),
        )
        for item in items
        if outcomes[item.id].kind == OutcomeKind.SUCCEEDED
    ]
    if not delivered:
        return outcomes
    quotes = fees_get_many(
        marketplace=market, items=[(record.asin, sale_price_of(record)[0]) for _, _, record in delivered]
    )
    costs = resale_defaults_of(user_id=job.user_id)
    last_attempt = bulk_settings().max_attempts
    for item, outcome, record in delivered:
        quote = quotes.get(normalize_asin(item.value))
        cost = row_cost(item.extra)
        result = profit_calculate(
            marketplace=market, record=record, fees=quote, cost=cost or 0, costs=costs, asin=item.value
        )
        if result.status == FEES_UNAVAILABLE:
            reason = quote.reason if quote is not None else "no fee estimate"
            if quote is not None and quote.retry_after is not None:
                # Not asked (the fee upstream's rate limit): wait for it without using an attempt.
                outcomes[item.id] = ItemOutcome.defer(
                    "fees_not_asked", f"Fees not asked yet: {reason}", delay=quote.retry_after, **outcome.meta
                )
            elif item.attempts < last_attempt:
                outcomes[item.id] = ItemOutcome.retry(
                    "fees_unavailable",
                    f"Fees unavailable: {reason}",
                    delay=_FEES_RETRY_SECONDS,
                    **outcome.meta,
                )
            else:
                outcomes[item.id] = ItemOutcome.failed(
                    "fees_unavailable", f"Fees unavailable: {reason}", **outcome.meta
                )
            continue
        answer = dict(outcome.result or {})
        answer["profit"] = profit_fields(result, quote, with_cost=cost is not None)
        outcomes[item.id] = ItemOutcome.succeeded(answer, **outcome.meta)
    return outcomes


def _profit(name: str) -> ExportColumn:
    return ExportColumn(name, lambda result: (result.get("profit") or {}).get(name))


PROFIT_EXPORT_COLUMNS: tuple[ExportColumn, ...] = (
    *(
        _profit(name)
        for name in (
            "cost",
            "sale_price",
            "sale_price_source",
            "referral_fee",
            "fulfilment_fee",
            "closing_fee",
            "other_fees",
            "fees_total",
            "fees_source",
            "vat_rate",
            "net_proceeds",
            "landed_cost",
            "profit",
            "margin_percent",
            "roi_percent",
            "break_even_cost",
            "target_roi_percent",
            "max_cost_for_target_roi",
        )
    ),
    ExportColumn("profit_status", lambda result: (result.get("profit") or {}).get("status")),
    ExportColumn("profit_notes", lambda result: " ".join((result.get("profit") or {}).get("notes") or ())),
)


def asin_profit_summary(result: Mapping[str, Any]) -> str:
    """The job page's line: the product's, then its profit and ROI, else what it can be bought at."""
    profit = result.get("profit") or {}
    currency = profit.get("currency") or ""
    line = asin_lookup_summary(result)
    if profit.get("status") != OK:
        return f"{line} · no price to sell at"
    if profit.get("profit") is not None:
        return f"{line} · profit {profit['profit']} {currency} (ROI {profit.get('roi_percent')} %)"
    fees, break_even = profit.get("fees_total"), profit.get("break_even_cost")
    return f"{line} · fees {fees} {currency}, break-even at {break_even} {currency}"


ASIN_PROFIT_KIND = BulkKind(
    name=ASIN_PROFIT,
    label="ASIN lookup with fees and profit",
    operation=Operation.BULK_ITEM,
    input_label="ASIN",
    input_column="asin",
    normalize=normalize_asin,
    process=asin_profit_process,
    export_columns=(*ASIN_EXPORT_COLUMNS, *PROFIT_EXPORT_COLUMNS),
    extra_columns=COST_COLUMNS,
    clean_params=asin_lookup_params,
    on_completed=asin_lookup_completed,
    summary=asin_profit_summary,
    check_extra=check_cost,
    offered_with="asin_lookup",
    description=(
        "Adds Amazon's fees, net proceeds, break-even and the most to pay for your target ROI; with a "
        "cost column (your buy cost per unit), profit and ROI. Same price; rows whose fees are "
        "unavailable are not charged."
    ),
)
