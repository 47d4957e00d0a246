"""Every write of watchlists but their refreshes: lists and items, CSV import, alerts read and emailed.

The scheduled, metered refreshes (and the conditions and alerts they evaluate
and raise) are watchlists/refresh.py's.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from core.email import send_templated, site_link
from core.errors import ConflictError, DomainError
from jobs.bulk.uploads import check_upload_size, decode_upload, read_csv_rows
from products.marketplaces import marketplace_get
from products.validation import normalize_asin
from watchlists.models import (
    Alert,
    Condition,
    ConditionState,
    Interval,
    WatchItem,
    Watchlist,
    interval_delta,
)
from watchlists.refresh import NEED_OPPOSITE_FIRST
from watchlists.selectors import watch_item_count

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
_TRUE = frozenset({"1", "true", "yes", "y", "x", "on"})
_FALSE = frozenset({"", "0", "false", "no", "n", "off"})


def _invalid(field_name: str, message: str, code: str = "invalid_threshold") -> DomainError:
    return DomainError(message, code=code, extra={"field": field_name})


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
                armed=condition not in NEED_OPPOSITE_FIRST, updated_at=timezone.now()
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
    alerts_link = site_link(reverse("watchlist-notifications"))
    by_user: dict[int, list[Alert]] = {}
    for alert in claimed:
        by_user.setdefault(alert.user_id, []).append(alert)
    sent = 0
    for user_alerts in by_user.values():
        context = {"alerts": user_alerts, "alerts_link": alerts_link}
        try:
            send_templated(
                to=user_alerts[0].user.email, template_prefix="email/watchlist_alerts", context=context
            )
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
