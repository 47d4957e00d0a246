"""What products tells the ledger page (credits.wording): its refund reasons in plain words,
and "from cache" on a lookup's charge that the cache served (the query log's ``source``).

The ledger does not link a charge to its query log line; both carry the user, the ASIN and
marketplace (the charge's reference, "US:B0…") and are written within the same request, so a
charge is matched with the first log line of the same lookup at most ``MATCH_SECONDS`` after it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from credits.models import LedgerEntry
from products.models import LookupLog
from products.querylog import lookup_log_flush

LOOKUP_OPERATION = "asin_lookup"
MATCH_SECONDS = 30

REFUND_REASONS = {
    "product_not_found": "no product with this ASIN or barcode in this marketplace",
    "upstream_unavailable": "the product data providers were unavailable",
    "upstream_bad_response": "the product data providers sent an answer that could not be read",
    "provider_not_configured": "no product data provider is set up",
    "marketplace_not_supported": "the product data providers have no data for this marketplace",
    "circuit_open": "the product data providers were unavailable",
    "rate_limited": "the product data providers were busy",
}


def cache_hit_notes(charges: list[LedgerEntry]) -> Mapping[int, str]:
    """{charge id: "from cache"} for the lookups among ``charges`` served from the cache."""
    lookups = [c for c in charges if c.operation == LOOKUP_OPERATION and ":" in c.reference]
    if not lookups:
        return {}
    lookup_log_flush()
    window = dt.timedelta(seconds=MATCH_SECONDS)
    asins = {c.reference.split(":", 1)[1] for c in lookups}
    rows = list(
        LookupLog.objects.filter(
            user__credit_account__in={c.account_id for c in lookups},
            asin__in=asins,
            created_at__gte=min(c.created_at for c in lookups),
            created_at__lte=max(c.created_at for c in lookups) + window,
        )
        .exclude(source=LookupLog.Source.NONE)
        .order_by("created_at", "id")
        .values("user__credit_account", "asin", "marketplace", "source", "created_at")
    )
    notes: dict[int, str] = {}
    for charge in lookups:
        marketplace, asin = charge.reference.split(":", 1)
        first = next(
            (
                row
                for row in rows
                if row["user__credit_account"] == charge.account_id
                and row["asin"] == asin
                and row["marketplace"] == marketplace
                and charge.created_at <= row["created_at"] <= charge.created_at + window
            ),
            None,
        )
        if first is not None and first["source"] == LookupLog.Source.CACHE:
            notes[charge.pk] = "from cache"
    return notes
