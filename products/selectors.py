"""Reads of the products app."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet

from accounts.models import User
from credits.models import LedgerEntry, Operation
from credits.selectors import ledger_entry_list
from products.models import LookupLog, ProductSnapshot
from products.querylog import lookup_log_flush


def lookup_list(*, user: User) -> QuerySet[LookupLog]:
    """The user's lookups, newest first (buffered ones written out first)."""
    lookup_log_flush()
    return LookupLog.objects.filter(user=user).order_by("-created_at", "-id")


@dataclass(frozen=True)
class RecentLookup:
    """One line of "Your recent lookups": an ASIN lookup (query log) or a barcode lookup (its
    ledger charge: barcode lookups have no query log line, which holds ASINs only)."""

    created_at: dt.datetime
    kind: str  # "ASIN" or "Barcode"
    code: str
    marketplace: str
    result: str
    source: str
    credits: int


def recent_lookups(*, user: User, limit: int = 10) -> list[RecentLookup]:
    """``user``'s latest ASIN and barcode lookups together, newest first."""
    lines = [
        RecentLookup(
            row.created_at,
            "ASIN",
            row.asin,
            row.marketplace,
            row.get_outcome_display(),
            row.source,
            row.credits,
        )
        for row in lookup_list(user=user)[:limit]
    ]
    charges = (
        ledger_entry_list(user=user)
        .filter(kind=LedgerEntry.Kind.CHARGE, operation=Operation.CODE_LOOKUP)
        .prefetch_related("refunds")[:limit]
    )
    for charge in charges:
        # The reference is "<marketplace>:<code> (<type>)", as products.services writes it.
        marketplace, _, rest = charge.reference.partition(":")
        code = rest.split(" ", 1)[0]
        refund = next(iter(charge.refunds.all()), None)
        refunded = refund.amount if refund is not None else 0
        lines.append(
            RecentLookup(
                charge.created_at,
                "Barcode",
                code,
                marketplace,
                _code_lookup_outcome(refund),
                "",
                -charge.amount - refunded,
            )
        )
    lines.sort(key=lambda line: line.created_at, reverse=True)
    return lines[:limit]


def has_looked_up(*, user: User) -> bool:
    """Whether ``user`` has looked up a product, by ASIN or by barcode, through any channel."""
    if lookup_list(user=user).exists():
        return True
    return ledger_entry_list(user=user).filter(operation=Operation.CODE_LOOKUP).exists()


def _code_lookup_outcome(refund: LedgerEntry | None) -> str:
    if refund is None:
        return LookupLog.Outcome.OK.label
    if refund.description == "product_not_found":
        return LookupLog.Outcome.NOT_FOUND.label
    return LookupLog.Outcome.UNAVAILABLE.label


def product_history(*, asin: str, marketplace: str, limit: int = 200) -> list[dict[str, Any]]:
    """Stored snapshots of a product, oldest first, for charts."""
    rows = (
        ProductSnapshot.objects.filter(product__asin=asin, product__marketplace=marketplace)
        .order_by("-fetched_at")
        .values("fetched_at", "price", "currency", "sales_rank")[:limit]
    )
    return [
        {
            "at": row["fetched_at"].isoformat(),
            "price": str(row["price"]) if row["price"] is not None else None,
            "currency": row["currency"],
            "rank": row["sales_rank"],
        }
        for row in reversed(list(rows))
    ]
