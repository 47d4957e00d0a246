"""Every write of watchlists: lists and items, CSV import, scheduled refreshes, alerts.

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
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from accounts.models import User
from config.errors import ConflictError, DomainError
from credits.errors import InsufficientCredits
from credits.metering import KeyedCharge, metered
from credits.models import LedgerEntry
from credits.selectors import balance_get, credit_account_get, ledger_entry_get, price_get
from jobs.bulk.uploads import check_upload_size, decode_upload, read_csv_rows
from products.marketplaces import marketplace_get
from products.providers import ProviderError
from products.store import product_record_bytes
from products.validation import normalize_asin
from watchlists.models import (
    Alert,
    Condition,
    ConditionState,
    Interval,
    ItemSnapshot,
    WatchItem,
    Watchlist,
    interval_delta,
)
from watchlists.selectors import REFRESH_OPERATION, watch_item_count
from webhooks.services import EVENT_ALERT_RAISED, webhook_event_emit

THRESHOLD_FIELDS = (
    "price_below",
    "price_above",
    "buy_box_seller_id",
    "alert_buy_box_lost",
    "alert_buy_box_won",
    "rank_better_than",
    "rank_worse_than",
    "alert_back_in_stock",
    "alert_out_of_stock",
)
_PRICE_FIELDS = ("price_below", "price_above")
_RANK_FIELDS = ("rank_better_than", "rank_worse_than")
_FLAG_FIELDS = ("alert_buy_box_lost", "alert_buy_box_won", "alert_back_in_stock", "alert_out_of_stock")
# The conditions each threshold field drives (a change resets their state).
_FIELD_CONDITIONS: dict[str, tuple[str, ...]] = {
    "price_below": (Condition.PRICE_BELOW,),
    "price_above": (Condition.PRICE_ABOVE,),
    "buy_box_seller_id": (Condition.BUY_BOX_LOST, Condition.BUY_BOX_WON),
    "alert_buy_box_lost": (Condition.BUY_BOX_LOST,),
    "alert_buy_box_won": (Condition.BUY_BOX_WON,),
    "rank_better_than": (Condition.RANK_BETTER,),
    "rank_worse_than": (Condition.RANK_WORSE,),
    "alert_back_in_stock": (Condition.BACK_IN_STOCK,),
    "alert_out_of_stock": (Condition.OUT_OF_STOCK,),
}
# These two are about a change from an earlier state, so they wait to see that state
# first; the others fire on the first refresh that finds them true.
_NEED_OPPOSITE_FIRST = frozenset({Condition.BACK_IN_STOCK, Condition.BUY_BOX_LOST})
_TRUE = frozenset({"1", "true", "yes", "y", "x", "on"})
_FALSE = frozenset({"", "0", "false", "no", "n", "off"})


def _invalid(field_name: str, message: str, code: str = "invalid_threshold") -> DomainError:
    return DomainError(message, code=code, status_code=400, extra={"field": field_name})


# --- Watchlists ------------------------------------------------------------------------------


def _clean_name(name: str) -> str:
    name = (name or "").strip()
    if not name:
        raise _invalid("name", "Give the watchlist a name.", code="invalid_name")
    if len(name) > 100:
        raise _invalid("name", "A watchlist name has at most 100 characters.", code="invalid_name")
    return name


def _clean_interval(interval: str) -> str:
    if interval not in Interval.values:
        raise _invalid(
            "interval",
            f"Unknown refresh interval {interval!r}; use one of: {', '.join(Interval.values)}.",
            code="invalid_interval",
        )
    return interval


def watchlist_create(*, user: User, name: str, interval: str = Interval.DAILY) -> Watchlist:
    """A new watchlist; its first refresh is due at once (the beat's next round)."""
    name, interval = _clean_name(name), _clean_interval(interval)
    try:
        with transaction.atomic():
            return Watchlist.objects.create(user=user, name=name, interval=interval)
    except IntegrityError:
        raise ConflictError(
            f"You already have a watchlist named {name!r}.", code="watchlist_exists"
        ) from None


def watchlist_update(
    *, watchlist: Watchlist, name: str | None = None, interval: str | None = None
) -> Watchlist:
    """Rename or change the interval; a new interval counts from the last due slot."""
    now = timezone.now()
    if name is not None:
        watchlist.name = _clean_name(name)
    if interval is not None and _clean_interval(interval) != watchlist.interval:
        if watchlist.last_refreshed_at is not None:
            previous_slot = watchlist.next_refresh_at - interval_delta(watchlist.interval)
            watchlist.next_refresh_at = max(previous_slot + interval_delta(interval), now)
        watchlist.interval = interval
    watchlist.updated_at = now
    try:
        with transaction.atomic():
            watchlist.save(update_fields=["name", "interval", "next_refresh_at", "updated_at"])
    except IntegrityError:
        raise ConflictError(
            f"You already have a watchlist named {watchlist.name!r}.", code="watchlist_exists"
        ) from None
    return watchlist


def watchlist_delete(*, watchlist: Watchlist) -> None:
    """Delete the list, its items and their history; alerts stay (detached) in the notifications."""
    watchlist.delete()


# --- Items -----------------------------------------------------------------------------------


def _parse_price(field_name: str, raw: object, currency: str, exponent: int) -> Decimal | None:
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    try:
        value = raw if isinstance(raw, Decimal) else Decimal(str(raw).strip())
    except InvalidOperation:
        raise _invalid(field_name, f"{field_name}: {raw!r} is not a price such as 19.99.") from None
    if not value.is_finite() or value <= 0:
        raise _invalid(field_name, f"{field_name}: a price must be above 0.")
    if value != value.quantize(Decimal(1).scaleb(-exponent)):
        places = f"{exponent} decimal places" if exponent else "no decimals"
        raise _invalid(field_name, f"{field_name}: {currency} prices have {places}; {value} has more.")
    if value >= Decimal(10) ** 10:
        raise _invalid(field_name, f"{field_name}: {value} is too large.")
    return value


def _parse_rank(field_name: str, raw: object) -> int | None:
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    try:
        value = int(str(raw).strip().replace(",", "")) if not isinstance(raw, int) else raw
    except ValueError:
        raise _invalid(field_name, f"{field_name}: {raw!r} is not a whole number such as 5000.") from None
    if not 0 < value < 2**31:
        raise _invalid(field_name, f"{field_name}: a sales rank is a whole number from 1.")
    return value


def _parse_flag(field_name: str, raw: object) -> bool:
    if isinstance(raw, bool):
        return raw
    text = str(raw or "").strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise _invalid(field_name, f"{field_name}: {raw!r} is not yes/no (use 1 or 0, true or false).")


def thresholds_clean(*, marketplace: str, values: Mapping[str, object]) -> dict[str, Any]:
    """The threshold fields present in ``values`` (text from a CSV or typed values), checked.

    Prices are in the marketplace's currency, with at most its minor unit's decimals."""
    market = marketplace_get(marketplace)
    cleaned: dict[str, Any] = {}
    for name in THRESHOLD_FIELDS:
        if name not in values:
            continue
        raw = values[name]
        if name in _PRICE_FIELDS:
            cleaned[name] = _parse_price(name, raw, market.currency, market.currency_exponent)
        elif name in _RANK_FIELDS:
            cleaned[name] = _parse_rank(name, raw)
        elif name in _FLAG_FIELDS:
            cleaned[name] = _parse_flag(name, raw)
        else:
            seller = str(raw or "").strip().upper()
            if len(seller) > 32 or (not seller.isalnum() and seller):
                raise _invalid(
                    name, "buy_box_seller_id: a seller id is letters and digits, such as A1B2C3D4E5F6G7."
                )
            cleaned[name] = seller
    return cleaned


def _check_item(item: WatchItem) -> None:
    if (item.alert_buy_box_lost or item.alert_buy_box_won) and not item.buy_box_seller_id:
        raise _invalid("buy_box_seller_id", "The buy box alerts need your seller id.")


def watch_item_add(
    *,
    watchlist: Watchlist,
    asin: str,
    marketplace: str = "US",
    thresholds: Mapping[str, object] | None = None,
) -> WatchItem:
    """Add a product to the watchlist (400 for a bad ASIN, marketplace or threshold; 409 if already there)."""
    asin = normalize_asin(asin)
    market = marketplace_get(marketplace)
    values = thresholds_clean(marketplace=market.code, values=thresholds or {})
    item = WatchItem(watchlist=watchlist, asin=asin, marketplace=market.code, **values)
    _check_item(item)
    limit = settings.WATCHLIST_MAX_ITEMS
    with transaction.atomic():
        Watchlist.objects.select_for_update().filter(pk=watchlist.pk).first()  # serialise adds: the limit
        if watch_item_count(watchlist=watchlist) >= limit:
            raise DomainError(
                f"A watchlist holds at most {limit:,} items; this one is full.", code="watchlist_full"
            )
        if WatchItem.objects.filter(watchlist=watchlist, asin=asin, marketplace=market.code).exists():
            raise ConflictError(
                f"{asin} ({market.code}) is already in this watchlist.",
                code="item_exists",
                extra={"asin": asin, "marketplace": market.code},
            )
        item.save()
    return item


def watch_item_update(*, item: WatchItem, thresholds: Mapping[str, object]) -> WatchItem:
    """Change thresholds; the state of each changed condition starts afresh (armed as new)."""
    values = thresholds_clean(marketplace=item.marketplace, values=thresholds)
    changed = [name for name, value in values.items() if getattr(item, name) != value]
    for name, value in values.items():
        setattr(item, name, value)
    _check_item(item)
    with transaction.atomic():
        item.save(update_fields=list(THRESHOLD_FIELDS))
        # Re-armed as new; the crossings count goes on, so the next alert gets a new number.
        for condition in {condition for name in changed for condition in _FIELD_CONDITIONS[name]}:
            ConditionState.objects.filter(item=item, condition=condition).update(
                armed=condition not in _NEED_OPPOSITE_FIRST, updated_at=timezone.now()
            )
    return item


def watch_item_delete(*, item: WatchItem) -> None:
    item.delete()


# --- CSV import --------------------------------------------------------------------------------


@dataclass
class ImportReport:
    added: int = 0
    updated: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)

    @property
    def rows(self) -> int:
        return self.added + self.updated + len(self.errors)


def watchlist_import_csv(*, watchlist: Watchlist, data: bytes) -> ImportReport:
    """Add the rows of a CSV (columns ``asin``, ``marketplace`` and any threshold column).

    The file's problems (too large, binary, malformed, too many rows, no
    ``asin`` column) are a 400 before anything changes. Then each row is added,
    or updates the thresholds of the product already in the list, or is
    reported with its row number and what is wrong; a bad row does not stop the others."""
    check_upload_size(len(data), max_bytes=settings.WATCHLIST_IMPORT_MAX_BYTES)
    text = decode_upload(data)
    first_line = text.lstrip().split("\n", 1)[0].lower()
    if first_line.strip() and "asin" not in first_line:
        raise DomainError(
            "The file needs a header row with an `asin` column (and optionally `marketplace` and "
            f"threshold columns: {', '.join(THRESHOLD_FIELDS)}).",
            code="missing_asin_column",
        )
    rows = read_csv_rows(
        text,
        column="asin",
        max_rows=settings.WATCHLIST_MAX_ITEMS,
        extra_columns=("marketplace", *THRESHOLD_FIELDS),
    )
    report = ImportReport()
    for row in rows:
        marketplace = row.extra.get("marketplace", "US")
        thresholds = {name: value for name, value in row.extra.items() if name in THRESHOLD_FIELDS}
        try:
            asin = normalize_asin(row.text)
            market = marketplace_get(marketplace)
            existing = WatchItem.objects.filter(
                watchlist=watchlist, asin=asin, marketplace=market.code
            ).first()
            if existing is not None:
                watch_item_update(item=existing, thresholds=thresholds)
                report.updated += 1
            else:
                watch_item_add(watchlist=watchlist, asin=asin, marketplace=market.code, thresholds=thresholds)
                report.added += 1
        except DomainError as exc:
            report.errors.append({"row": row.row, "asin": row.text, "code": exc.code, "message": exc.message})
    return report


# --- Scheduled refreshes -------------------------------------------------------------------------


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
    return f"{value} {currency}".strip() if value is not None else "no price"


def _describe(item: WatchItem, condition: str, seen: Observation) -> tuple[str, str, str]:
    """(message, observed, threshold) of an alert."""
    product = f"{item.asin} ({item.marketplace})"
    currency = seen.currency or marketplace_get(item.marketplace).currency
    rank = f"#{seen.sales_rank:,}" if seen.sales_rank is not None else "no rank"
    match condition:
        case Condition.PRICE_BELOW:
            threshold = _money(item.price_below, currency)
            return (
                f"{product}: price {_money(seen.price, currency)} is below {threshold}.",
                str(seen.price),
                threshold,
            )
        case Condition.PRICE_ABOVE:
            threshold = _money(item.price_above, currency)
            return (
                f"{product}: price {_money(seen.price, currency)} is above {threshold}.",
                str(seen.price),
                threshold,
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
            return f"{product} is back in stock at {_money(seen.price, currency)}.", "in stock", ""
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
            credits=-charge.amount,
        )
        watched = locked.conditions()
        states = {s.condition: s for s in ConditionState.objects.filter(item=locked, condition__in=watched)}
        for condition in watched:
            state = states.get(condition) or ConditionState(
                item=locked, condition=condition, armed=condition not in _NEED_OPPOSITE_FIRST
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
        "created_at": alert.created_at.isoformat(),
    }


def _email_later(alert_ids: list[int]) -> None:
    from watchlists.tasks import alerts_email

    alerts_email.delay(alert_ids)


# --- Alerts ----------------------------------------------------------------------------------------


def alerts_email(*, alert_ids: list[int]) -> int:
    """Email the alerts not emailed yet (one message per user); each alert at most once."""
    now = timezone.now()
    alerts = list(Alert.objects.filter(pk__in=alert_ids, emailed_at__isnull=True).select_related("user"))
    claimed = [
        a for a in alerts if Alert.objects.filter(pk=a.pk, emailed_at__isnull=True).update(emailed_at=now)
    ]
    if not claimed:
        return 0
    base = settings.WATCHLIST_EMAIL_BASE_URL.rstrip("/")
    link = f"{base}{reverse('watchlist-notifications')}"
    by_user: dict[int, list[Alert]] = {}
    for alert in claimed:
        by_user.setdefault(alert.user_id, []).append(alert)
    sent = 0
    for user_alerts in by_user.values():
        subject = user_alerts[0].message if len(user_alerts) == 1 else f"{len(user_alerts)} watchlist alerts"
        lines = [f"- [{a.watchlist_name}] {a.message}" for a in user_alerts]
        body = "\n".join(["Your watchlists raised these alerts:", "", *lines, "", f"All alerts: {link}"])
        try:
            send_mail(subject[:200], body, None, [user_alerts[0].user.email])
        except Exception:
            Alert.objects.filter(pk__in=[a.pk for a in user_alerts], emailed_at=now).update(emailed_at=None)
            raise
        sent += len(user_alerts)
    return sent


def alerts_mark_read(*, user: User, alert_ids: list[int] | None = None) -> int:
    """Mark the user's alerts (``alert_ids``, or all) read; returns how many changed."""
    alerts = Alert.objects.filter(user=user, read_at__isnull=True)
    if alert_ids is not None:
        alerts = alerts.filter(pk__in=alert_ids)
    return alerts.update(read_at=timezone.now())
