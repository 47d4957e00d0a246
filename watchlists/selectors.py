"""Reads of watchlists: every lookup is scoped to its owner (another user's id is a 404)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from django.db.models import Count, OuterRef, QuerySet, Subquery

from accounts.models import User
from core.errors import NotFoundError
from credits.models import Operation
from credits.selectors import price_get
from watchlists.models import INTERVAL_HOURS, Alert, Interval, ItemSnapshot, WatchItem, Watchlist

# A month, for costs: 30 days.
HOURS_PER_MONTH = 30 * 24
REFRESH_OPERATION = Operation.ASIN_LOOKUP


@dataclass(frozen=True, slots=True)
class CostPreview:
    interval: str
    items: int
    refreshes_per_month: float
    price: int  # credits per item refresh (the lookup's price)
    credits_per_month: int

    @property
    def interval_label(self) -> str:
        return str(Interval(self.interval).label).lower()

    def as_dict(self) -> dict[str, Any]:
        return {
            "interval": self.interval,
            "items": self.items,
            "refreshes_per_month": round(self.refreshes_per_month, 2),
            "credits_per_refresh": self.price,
            "credits_per_month": self.credits_per_month,
        }


def watchlist_cost(*, interval: str, items: int) -> CostPreview:
    """What ``items`` products refreshed every ``interval`` cost in a 30-day month (rounded up)."""
    refreshes = HOURS_PER_MONTH / INTERVAL_HOURS[interval]
    price = price_get(operation=REFRESH_OPERATION)
    return CostPreview(
        interval=interval,
        items=items,
        refreshes_per_month=refreshes,
        price=price,
        credits_per_month=math.ceil(round(items * refreshes * price, 6)),
    )


def watchlist_list(*, user: User) -> QuerySet[Watchlist]:
    return Watchlist.objects.filter(user=user).annotate(item_count=Count("items")).order_by("name", "id")


def has_watchlist(*, user: User) -> bool:
    return Watchlist.objects.filter(user=user).exists()


def watchlist_get(*, user: User, watchlist_id: int) -> Watchlist:
    watchlist = watchlist_list(user=user).filter(pk=watchlist_id).first()
    if watchlist is None:
        raise NotFoundError("No such watchlist.", code="watchlist_not_found")
    return watchlist


def watch_item_list(*, watchlist: Watchlist) -> QuerySet[WatchItem]:
    """The watchlist's items, each with the values of its latest successful refresh."""
    latest = ItemSnapshot.objects.filter(item=OuterRef("pk"), status=ItemSnapshot.Status.OK).order_by("-slot")
    return (
        WatchItem.objects.filter(watchlist=watchlist)
        .annotate(
            last_price=Subquery(latest.values("price")[:1]),
            last_currency=Subquery(latest.values("currency")[:1]),
            last_rank=Subquery(latest.values("sales_rank")[:1]),
            last_in_stock=Subquery(latest.values("in_stock")[:1]),
            last_buy_box_seller_id=Subquery(latest.values("buy_box_seller_id")[:1]),
            last_refreshed_at=Subquery(latest.values("taken_at")[:1]),
            last_provider=Subquery(latest.values("provider")[:1]),
            last_sample_data=Subquery(latest.values("sample_data")[:1]),
        )
        .order_by("id")
    )


def watch_item_get(*, watchlist: Watchlist, item_id: int) -> WatchItem:
    item = watch_item_list(watchlist=watchlist).filter(pk=item_id).first()
    if item is None:
        raise NotFoundError("No such item in this watchlist.", code="item_not_found")
    return item


def watch_item_count(*, watchlist: Watchlist) -> int:
    return WatchItem.objects.filter(watchlist=watchlist).count()


def item_snapshots(*, item: WatchItem, limit: int = 500) -> list[ItemSnapshot]:
    """The item's latest refresh records (any status), newest first."""
    return list(ItemSnapshot.objects.filter(item=item).order_by("-slot")[:limit])


def item_history(*, item: WatchItem, limit: int = 500) -> dict[str, Any]:
    """Price and rank of the item's successful refreshes, oldest first, for its charts;
    ``sample_data``: whether any of the points is the sandbox's made-up sample data."""
    rows = list(
        ItemSnapshot.objects.filter(item=item, status=ItemSnapshot.Status.OK)
        .order_by("-slot")
        .values("taken_at", "price", "currency", "sales_rank", "sample_data")[:limit]
    )
    rows.reverse()
    return {
        "sample_data": any(r["sample_data"] for r in rows),
        "currency": next((r["currency"] for r in reversed(rows) if r["currency"]), ""),
        "price": [
            [r["taken_at"].isoformat(), str(r["price"]) if r["price"] is not None else None] for r in rows
        ],
        "rank": [[r["taken_at"].isoformat(), r["sales_rank"]] for r in rows],
    }


def alert_list(*, user: User, unread: bool = False) -> QuerySet[Alert]:
    alerts = Alert.objects.filter(user=user)
    if unread:
        alerts = alerts.filter(read_at__isnull=True)
    return alerts.order_by("-created_at", "-id")


def alert_get(*, user: User, alert_id: int) -> Alert:
    alert = Alert.objects.filter(user=user, pk=alert_id).first()
    if alert is None:
        raise NotFoundError("No such alert.", code="alert_not_found")
    return alert


def alert_unread_count(*, user: User) -> int:
    return Alert.objects.filter(user=user, read_at__isnull=True).count()
