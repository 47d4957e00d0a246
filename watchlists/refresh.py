"""Scheduled refreshes of watchlists: the metered refresh of each item, its conditions, the alerts raised.

A refresh belongs to a due slot (the watchlist's ``next_refresh_at`` when the
beat's dispatcher queued it). Per (item, slot):

- the lookup's price is charged through the one metered call
  (credits/metering.py) under the ledger key ``watchlist:<item>:<slot>``, so a
  redelivered task finds its first charge instead of charging again; a fetch
  that delivers nothing is refunded;
- the refresh record (``ItemSnapshot``, unique per item and slot), the
  conditions' states and the alerts they raise are written in one transaction
  under the item's row lock, so an alert is raised once per crossing;
- a watchlist whose balance does not cover every item it still has to pay
  for is skipped for that slot, recorded, and charged nothing.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from core.errors import DomainError
from core.money import format_price
from credits.errors import InsufficientCredits
from credits.metering import KeyedCharge, metered
from credits.models import LedgerEntry
from credits.selectors import balance_get, credit_account_get, ledger_entry_get, price_get
from products.marketplaces import marketplace_get
from products.providers import ProviderError
from products.store import product_record_bytes
from watchlists.models import (
    Alert,
    Condition,
    ConditionState,
    ItemSnapshot,
    WatchItem,
    Watchlist,
    interval_delta,
)
from watchlists.selectors import REFRESH_OPERATION
from webhooks.services import EVENT_ALERT_RAISED, webhook_event_emit

# These two are about a change from an earlier state, so they wait to see that state
# first; the others fire on the first refresh that finds them true (and an item's new
# thresholds reset their states the same way, watchlists/services.py).
NEED_OPPOSITE_FIRST = frozenset({Condition.BACK_IN_STOCK, Condition.BUY_BOX_LOST})


def watchlists_refresh_due(*, now: datetime | None = None, limit: int = 500) -> list[tuple[int, datetime]]:
    """Move each due watchlist's next slot forward and queue its refresh (after commit).

    Two dispatchers at once take different rows (``skip_locked``); a missed
    stretch (the beat was down) is refreshed once, and the cadence kept."""
    from watchlists.tasks import watchlist_refresh

    now = now or timezone.now()
    due: list[tuple[int, datetime]] = []
    with transaction.atomic():
        watchlists = (
            Watchlist.objects.filter(next_refresh_at__lte=now)
            .select_for_update(skip_locked=True)
            .order_by("next_refresh_at", "pk")[:limit]
        )
        for watchlist in watchlists:
            slot, step = watchlist.next_refresh_at, interval_delta(watchlist.interval)
            missed = (now - slot) // step
            Watchlist.objects.filter(pk=watchlist.pk).update(next_refresh_at=slot + (missed + 1) * step)
            due.append((watchlist.pk, slot))
        for watchlist_id, slot in due:
            transaction.on_commit(
                lambda w=watchlist_id, s=slot: watchlist_refresh.delay(w, s.isoformat())  # type: ignore[misc]
            )
    return due


def _charge_key(item: WatchItem, slot: datetime) -> str:
    return f"watchlist:{item.pk}:{slot.isoformat()}"


@dataclass
class RefreshReport:
    refreshed: int = 0
    skipped: int = 0
    failed: int = 0
    alerts: int = 0


def watchlist_refresh(*, watchlist_id: int, slot: datetime | str) -> RefreshReport:
    """Refresh every item of the watchlist for ``slot``; safe to run again for the same slot."""
    if isinstance(slot, str):
        parsed = parse_datetime(slot)
        if parsed is None:
            raise ValueError(f"Not a datetime: {slot!r}")
        slot = parsed
    report = RefreshReport()
    watchlist = Watchlist.objects.select_related("user").filter(pk=watchlist_id).first()
    if watchlist is None:
        return report
    user = watchlist.user
    items = list(WatchItem.objects.filter(watchlist=watchlist).order_by("pk"))
    done = set(ItemSnapshot.objects.filter(item__in=items, slot=slot).values_list("item_id", flat=True))
    pending = [item for item in items if item.pk not in done]
    if not pending:
        return report
    # All or nothing for the items not paid yet (a redelivery may find some paid already).
    account = credit_account_get(user=user)
    unpaid = [
        item
        for item in pending
        if account is None
        or ledger_entry_get(account=account, idempotency_key=_charge_key(item, slot)) is None
    ]
    price = price_get(operation=REFRESH_OPERATION)
    balance = balance_get(user=user)
    if unpaid and balance < len(unpaid) * price:
        message = (
            f"Not enough credits: refreshing {len(unpaid)} items costs {len(unpaid) * price} "
            f"and the balance was {balance}; nothing was charged."
        )
        for item in unpaid:
            _record_skip(item, slot, message)
        report.skipped += len(unpaid)
        pending = [item for item in pending if item not in unpaid]
    for item in pending:
        outcome = _refresh_item(watchlist, item, slot)
        setattr(report, outcome[0], getattr(report, outcome[0]) + 1)
        report.alerts += outcome[1]
    Watchlist.objects.filter(pk=watchlist.pk).update(last_refreshed_at=timezone.now())
    return report


def _record_skip(item: WatchItem, slot: datetime, message: str) -> None:
    ItemSnapshot.objects.get_or_create(
        item=item,
        slot=slot,
        defaults={
            "status": ItemSnapshot.Status.SKIPPED,
            "error_code": InsufficientCredits.code,
            "error_message": message[:500],
        },
    )


class _ItemRemoved(DomainError):
    code = "item_deleted"


def _refresh_item(watchlist: Watchlist, item: WatchItem, slot: datetime) -> tuple[str, int]:
    def serve(charge: LedgerEntry) -> int:
        alerts = _record_observation(watchlist, item, slot, _observe(item, slot), charge)
        if alerts is None:  # removed from the list meanwhile: nothing recorded, nothing kept
            raise _ItemRemoved()
        return alerts

    try:
        alerts = metered(
            user=watchlist.user,
            operation=REFRESH_OPERATION,
            reference=f"watchlist {watchlist.pk}: {item.asin} ({item.marketplace})",
            claim=KeyedCharge(_charge_key(item, slot)),
            serve=serve,
            refund_on=(ProviderError, _ItemRemoved),
        )
    except InsufficientCredits as exc:
        _record_skip(item, slot, exc.message + " Nothing was charged.")
        return "skipped", 0
    except ProviderError as exc:  # refunded
        ItemSnapshot.objects.get_or_create(
            item=item,
            slot=slot,
            defaults={
                "status": ItemSnapshot.Status.FAILED,
                "error_code": exc.code[:64],
                "error_message": f"{exc.message} The charge was refunded."[:500],
            },
        )
        return "failed", 0
    except _ItemRemoved:  # refunded
        return "failed", 0
    return "refreshed", alerts


def _observe(item: WatchItem, slot: datetime) -> dict[str, Any]:
    """The product as of this slot: the cached or stored record if it was fetched since
    the slot began (someone looked it up meanwhile), else a fresh fetch through the
    product store (single flight, stored, and cached for everyone's lookups)."""
    market = marketplace_get(item.marketplace)
    fetched = product_record_bytes(asin=item.asin, marketplace=market, fetched_since=slot)
    data: dict[str, Any] = json.loads(fetched.body)
    return data


@dataclass(frozen=True, slots=True)
class Observation:
    price: Decimal | None
    currency: str
    buy_box_seller_id: str
    sales_rank: int | None
    in_stock: bool
    fetched_at: datetime | None
    provider: str = ""
    sample_data: bool = False


def observation_from_record(data: Mapping[str, Any]) -> Observation:
    price = data.get("price") or None
    buy_box = data.get("buy_box") or {}
    rank = data.get("sales_rank") or {}
    return Observation(
        price=Decimal(str(price["amount"])) if price else None,
        currency=str(price["currency"]) if price else "",
        buy_box_seller_id=str(buy_box.get("seller_id") or "").upper(),
        sales_rank=int(rank["rank"]) if rank.get("rank") is not None else None,
        # A product anyone offers new has a price (buy box, Amazon's or the lowest new offer).
        in_stock=price is not None,
        fetched_at=parse_datetime(str(data.get("fetched_at") or "")),
        provider=str(data.get("provider") or "")[:16],
        sample_data=bool(data.get("sample_data")),
    )


def condition_met(item: WatchItem, condition: str, seen: Observation) -> bool | None:
    """Whether ``condition`` holds for what was seen; None when it cannot be told (no price, no rank)."""
    if condition in (Condition.PRICE_BELOW, Condition.PRICE_ABOVE):
        if seen.price is None:
            return None
        if condition == Condition.PRICE_BELOW:
            return item.price_below is not None and seen.price < item.price_below
        return item.price_above is not None and seen.price > item.price_above
    if condition in (Condition.RANK_BETTER, Condition.RANK_WORSE):
        if seen.sales_rank is None:
            return None
        if condition == Condition.RANK_BETTER:
            return item.rank_better_than is not None and seen.sales_rank < item.rank_better_than
        return item.rank_worse_than is not None and seen.sales_rank > item.rank_worse_than
    won = bool(seen.buy_box_seller_id) and seen.buy_box_seller_id == item.buy_box_seller_id.upper()
    return {
        Condition.BUY_BOX_WON: won,
        Condition.BUY_BOX_LOST: not won,
        Condition.BACK_IN_STOCK: seen.in_stock,
        Condition.OUT_OF_STOCK: not seen.in_stock,
    }[Condition(condition)]


def _money(value: Decimal | None, currency: str) -> str:
    """The amount as the alert's ``threshold`` field keeps it ("20.00 USD"; the API and webhooks)."""
    return f"{value} {currency}".strip() if value is not None else "no price"


def _price(value: Decimal | None, currency: str) -> str:
    """The amount as people read it in an alert's message and email ("$20.00")."""
    if value is None:
        return "no price"
    return format_price(value, currency) if currency else str(value)


def _describe(item: WatchItem, condition: str, seen: Observation) -> tuple[str, str, str]:
    """(message, observed, threshold) of an alert."""
    product = f"{item.asin} ({item.marketplace})"
    currency = seen.currency or marketplace_get(item.marketplace).currency
    rank = f"#{seen.sales_rank:,}" if seen.sales_rank is not None else "no rank"
    price = _price(seen.price, currency)
    match condition:
        case Condition.PRICE_BELOW:
            return (
                f"{product}: price {price} is below {_price(item.price_below, currency)}.",
                str(seen.price),
                _money(item.price_below, currency),
            )
        case Condition.PRICE_ABOVE:
            return (
                f"{product}: price {price} is above {_price(item.price_above, currency)}.",
                str(seen.price),
                _money(item.price_above, currency),
            )
        case Condition.RANK_BETTER:
            threshold = f"#{item.rank_better_than:,}"
            return (
                f"{product}: sales rank {rank} is better than {threshold}.",
                str(seen.sales_rank),
                threshold,
            )
        case Condition.RANK_WORSE:
            threshold = f"#{item.rank_worse_than:,}"
            return f"{product}: sales rank {rank} is worse than {threshold}.", str(seen.sales_rank), threshold
        case Condition.BUY_BOX_WON:
            return (
                f"{product}: you ({item.buy_box_seller_id}) won the buy box.",
                seen.buy_box_seller_id,
                item.buy_box_seller_id,
            )
        case Condition.BUY_BOX_LOST:
            holder = f"seller {seen.buy_box_seller_id}" if seen.buy_box_seller_id else "no seller"
            return (
                f"{product}: you ({item.buy_box_seller_id}) lost the buy box; {holder} has it now.",
                seen.buy_box_seller_id,
                item.buy_box_seller_id,
            )
        case Condition.BACK_IN_STOCK:
            return f"{product} is back in stock at {price}.", "in stock", ""
        case _:
            return f"{product} is out of stock.", "out of stock", ""


def _record_observation(
    watchlist: Watchlist, item: WatchItem, slot: datetime, data: Mapping[str, Any], charge: LedgerEntry
) -> int | None:
    """Write the refresh, move the conditions' states and raise their alerts, in one transaction.

    Returns the number of alerts raised (0 when this slot was recorded before), or None
    when the item was deleted meanwhile."""
    seen = observation_from_record(data)
    raised: list[Alert] = []
    with transaction.atomic():
        locked = WatchItem.objects.select_for_update().filter(pk=item.pk).first()
        if locked is None:
            return None
        if ItemSnapshot.objects.filter(item=item, slot=slot).exists():
            return 0  # this slot is done (a redelivery)
        snapshot = ItemSnapshot.objects.create(
            item=locked,
            slot=slot,
            status=ItemSnapshot.Status.OK,
            currency=seen.currency,
            price=seen.price,
            buy_box_seller_id=seen.buy_box_seller_id[:32],
            sales_rank=seen.sales_rank,
            in_stock=seen.in_stock,
            fetched_at=seen.fetched_at,
            provider=seen.provider,
            sample_data=seen.sample_data,
            credits=-charge.amount,
        )
        watched = locked.conditions()
        states = {s.condition: s for s in ConditionState.objects.filter(item=locked, condition__in=watched)}
        for condition in watched:
            state = states.get(condition) or ConditionState(
                item=locked, condition=condition, armed=condition not in NEED_OPPOSITE_FIRST
            )
            if state.last_slot is not None and slot <= state.last_slot:
                continue  # an older slot delivered late: it does not move the state back
            met = condition_met(locked, condition, seen)
            state.last_slot = slot
            state.updated_at = timezone.now()
            if met and state.armed:
                state.armed = False
                state.crossings += 1
                message, observed, threshold = _describe(locked, condition, seen)
                raised.append(
                    Alert.objects.create(
                        user_id=watchlist.user_id,
                        item=locked,
                        snapshot=snapshot,
                        watchlist_name=watchlist.name,
                        asin=locked.asin,
                        marketplace=locked.marketplace,
                        condition=condition,
                        crossing=state.crossings,
                        message=message[:500],
                        observed=observed[:64],
                        threshold=threshold[:64],
                        provider=seen.provider,
                        sample_data=seen.sample_data,
                    )
                )
            elif met is False:
                state.armed = True
            state.save()
        for alert in raised:
            webhook_event_emit(
                user_id=watchlist.user_id, event=EVENT_ALERT_RAISED, data=alert_event_data(alert, watchlist)
            )
        if raised:
            ids = [alert.pk for alert in raised]
            transaction.on_commit(lambda: _email_later(ids))
    return len(raised)


def alert_event_data(alert: Alert, watchlist: Watchlist) -> dict[str, Any]:
    return {
        "alert_id": alert.pk,
        "watchlist_id": watchlist.pk,
        "watchlist": watchlist.name,
        "item_id": alert.item_id,
        "asin": alert.asin,
        "marketplace": alert.marketplace,
        "condition": alert.condition,
        "crossing": alert.crossing,
        "observed": alert.observed,
        "threshold": alert.threshold,
        "message": alert.message,
        # True when the refresh's values are the sandbox's made-up sample data, not Amazon's.
        "sample_data": alert.sample_data,
        "provider": alert.provider,
        "created_at": alert.created_at.isoformat(),
    }


def _email_later(alert_ids: list[int]) -> None:
    from watchlists.tasks import alerts_email

    alerts_email.delay(alert_ids)
