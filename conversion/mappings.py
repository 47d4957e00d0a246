"""Writes to the mapping store (``FnskuMapping``) that several use cases share.

What a confident catalogue-search answer teaches (``mapping_learn``, called by
conversion/convert.py and conversion/bulk.py), a seller's own rows of one source
(``own_mappings_upsert``: inventory report imports and FBA inventory syncs,
conversion/sources.py), and the advisory lock that serialises writers of one key
(also taken by conversion/feedback.py around a recount).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from django.db import IntegrityError, connection, transaction
from django.db.models import F

from conversion.models import FnskuMapping

if TYPE_CHECKING:
    from accounts.models import User
    from conversion.resolvers import Resolution


def mapping_learn(*, resolution: Resolution, learn_confidence: float) -> None:
    """Keep a confident answer that only the catalogue search gave, as weak shared evidence for next time.

    Never one from sample data: the sandbox's made-up products must not become everyone's mappings."""
    best = resolution.best
    if best is None or not resolution.from_search_only or resolution.confidence < learn_confidence:
        return
    if resolution.sample_data:
        return
    query = resolution.query
    match = {
        "user": None,
        "fnsku": query.fnsku,
        "marketplace": query.marketplace.code,
        "asin": best.asin,
        "source": FnskuMapping.Source.PROVIDER,
    }
    title = (best.title or "")[:500]
    update = {"times_seen": F("times_seen") + 1, "last_seen": query.now, "title": title}
    if FnskuMapping.objects.filter(**match).update(**update):
        return
    try:
        with transaction.atomic():
            FnskuMapping.objects.create(**match, title=title, first_seen=query.now, last_seen=query.now)
    except IntegrityError:  # learnt by a concurrent conversion meanwhile
        FnskuMapping.objects.filter(**match).update(**update)


def advisory_lock(name: str) -> None:
    """Serialise writers of one key inside the current transaction (PostgreSQL; SQLite has one writer)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [name])


@dataclass(frozen=True)
class OwnMapping:
    fnsku: str
    asin: str
    seller_sku: str = ""
    title: str = ""


def own_mappings_upsert(
    *, user: User, marketplace: str, source: str, mappings: Iterable[OwnMapping], seen_at: datetime
) -> tuple[int, int]:
    """Write ``user``'s own rows of ``source``: new FNSKUs created, known ones updated. (created, updated)."""
    latest = {m.fnsku: m for m in mappings}  # a later line about the same FNSKU wins
    created = updated = 0
    codes = list(latest)
    with transaction.atomic():
        advisory_lock(f"fnsku-own:{user.pk}:{marketplace}:{source}")
        for start in range(0, len(codes), 1000):
            chunk = codes[start : start + 1000]
            existing = {
                row.fnsku: row
                for row in FnskuMapping.objects.filter(
                    user=user, marketplace=marketplace, source=source, fnsku__in=chunk
                )
            }
            new_rows = []
            changed = []
            for code in chunk:
                item = latest[code]
                row = existing.get(code)
                if row is None:
                    new_rows.append(
                        FnskuMapping(
                            user=user,
                            fnsku=code,
                            marketplace=marketplace,
                            source=source,
                            asin=item.asin,
                            seller_sku=item.seller_sku[:200],
                            title=item.title[:500],
                            first_seen=seen_at,
                            last_seen=seen_at,
                        )
                    )
                    continue
                row.asin = item.asin
                row.seller_sku = item.seller_sku[:200] or row.seller_sku
                row.title = item.title[:500] or row.title
                row.last_seen = max(seen_at, row.first_seen)
                row.times_seen += 1
                changed.append(row)
            FnskuMapping.objects.bulk_create(new_rows)
            FnskuMapping.objects.bulk_update(
                changed, ["asin", "seller_sku", "title", "last_seen", "times_seen"]
            )
            created += len(new_rows)
            updated += len(changed)
    return created, updated
