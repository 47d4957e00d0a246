"""Reads of the products app."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from accounts.models import User
from products.models import LookupLog, ProductSnapshot
from products.querylog import lookup_log_flush


def lookup_list(*, user: User) -> QuerySet[LookupLog]:
    """The user's lookups, newest first (buffered ones written out first)."""
    lookup_log_flush()
    return LookupLog.objects.filter(user=user).order_by("-created_at", "-id")


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
