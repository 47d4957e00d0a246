"""Reads of the credits app: balances, the ledger, usage and prices."""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.cache import cache
from django.db.models import F, Q, QuerySet, Sum
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone

from credits.errors import UnknownOperation
from credits.models import DEFAULT_PRICES, CreditAccount, CreditHold, LedgerEntry, Price

if TYPE_CHECKING:
    from accounts.models import User

logger = logging.getLogger(__name__)

# Entries that are spending on an operation: what a charge or a hold took,
# less what a refund or a release gave back.
SPENDING_KINDS = (
    LedgerEntry.Kind.CHARGE,
    LedgerEntry.Kind.REFUND,
    LedgerEntry.Kind.HOLD,
    LedgerEntry.Kind.RELEASE,
)
UNNAMED_OPERATION = "other"


def credit_account_get(*, user: User) -> CreditAccount | None:
    return CreditAccount.objects.filter(user=user).first()


def balance_get(*, user: User) -> int:
    balance = CreditAccount.objects.filter(user=user).values_list("balance", flat=True).first()
    return balance or 0


def held_total(*, account: CreditAccount) -> int:
    """Credits on open holds (already off the balance, not yet used or released)."""
    total = CreditHold.objects.filter(account=account, status=CreditHold.Status.OPEN).aggregate(
        held=Coalesce(Sum(F("amount") - F("released") - F("used")), 0)
    )["held"]
    return int(total)


def ledger_entry_list(*, user: User) -> QuerySet[LedgerEntry]:
    """``user``'s entries, newest first (filter with credits.filters.LedgerEntryFilter)."""
    return LedgerEntry.objects.filter(account__user=user).order_by("-created_at", "-id")


def credits_put_to_use(*, user: User) -> bool:
    """Whether ``user`` has bought credits or spent any (the free ones count)."""
    return (
        ledger_entry_list(user=user)
        .filter(kind__in=(LedgerEntry.Kind.PURCHASE, LedgerEntry.Kind.CHARGE, LedgerEntry.Kind.HOLD))
        .exists()
    )


def ledger_lines_list(entries: QuerySet[LedgerEntry], *, group: bool = True) -> QuerySet[LedgerEntry]:
    """``entries`` as the page lists them: a refund that gives back all of its charge is shown
    on the charge's line ("not charged"), so it is left out here, and each charge comes with its
    refund (``refunds``, prefetched). The balance and the API's list keep every entry. Without
    ``group`` (a list of refunds only) every entry is kept."""
    if not group:
        return entries.prefetch_related("refunds")
    full_refunds = Q(kind=LedgerEntry.Kind.REFUND, refund_of__amount=-F("amount"))
    return entries.exclude(full_refunds).prefetch_related("refunds")


def charge_refunded(*, charge: LedgerEntry) -> bool:
    """Whether ``charge`` has been refunded (a charge is refunded at most once)."""
    return LedgerEntry.objects.filter(refund_of_id=charge.pk).exists()


def ledger_entry_get(*, account: CreditAccount, idempotency_key: str) -> LedgerEntry | None:
    return LedgerEntry.objects.filter(account=account, idempotency_key=idempotency_key).first()


def credit_hold_get(*, hold_id: int) -> CreditHold:
    return CreditHold.objects.select_related("account").get(pk=hold_id)


# --- Usage ------------------------------------------------------------------------


@dataclass
class UsageDay:
    date: dt.date
    total: int = 0
    by_operation: dict[str, int] = field(default_factory=dict)


@dataclass
class UsageSummary:
    days: int
    start: dt.date
    end: dt.date
    total: int
    by_operation: dict[str, int]
    daily: list[UsageDay]


def usage_summary(*, user: User, days: int, today: dt.date | None = None) -> UsageSummary:
    """Credits spent per day (UTC) and per operation over the last ``days`` days,
    today included; days without spending are listed with zero."""
    end = today or timezone.now().astimezone(dt.UTC).date()
    start = end - dt.timedelta(days=days - 1)
    since = dt.datetime.combine(start, dt.time.min, tzinfo=dt.UTC)
    rows = (
        LedgerEntry.objects.filter(account__user=user, kind__in=SPENDING_KINDS, created_at__gte=since)
        .annotate(day=TruncDate("created_at", tzinfo=dt.UTC))
        .values("day", "operation")
        .annotate(net=Sum("amount"))
        .order_by()
    )
    daily = {start + dt.timedelta(days=i): UsageDay(date=start + dt.timedelta(days=i)) for i in range(days)}
    by_operation: dict[str, int] = {}
    for row in rows:
        day = daily.get(row["day"])
        if day is None:  # an entry dated after ``today``
            continue
        spent = -int(row["net"])
        operation = row["operation"] or UNNAMED_OPERATION
        day.total += spent
        day.by_operation[operation] = day.by_operation.get(operation, 0) + spent
        by_operation[operation] = by_operation.get(operation, 0) + spent
    ordered = [daily[d] for d in sorted(daily)]
    return UsageSummary(
        days=days,
        start=start,
        end=end,
        total=sum(d.total for d in ordered),
        by_operation=dict(sorted(by_operation.items())),
        daily=ordered,
    )


def ledger_user_ids(*, since: dt.datetime, until: dt.datetime) -> set[int]:
    """Users with a ledger entry (a charge, a grant, anything) in ``[since, until)``."""
    return set(
        LedgerEntry.objects.filter(created_at__gte=since, created_at__lt=until)
        .values_list("account__user_id", flat=True)
        .distinct()
    )


# --- Reconciliation ----------------------------------------------------------------


@dataclass(frozen=True)
class AccountDiscrepancy:
    account_id: int
    email: str
    balance: int
    ledger_sum: int

    @property
    def difference(self) -> int:
        return self.balance - self.ledger_sum


def accounts_out_of_balance() -> list[AccountDiscrepancy]:
    """Accounts whose balance is negative or differs from the sum of their ledger."""
    accounts: Any = (
        CreditAccount.objects.annotate(ledger_sum=Coalesce(Sum("entries__amount"), 0))
        .values_list("pk", "user__email", "balance", "ledger_sum")
        .order_by("pk")
    )
    return [
        AccountDiscrepancy(account_id=pk, email=email, balance=balance, ledger_sum=ledger_sum)
        for pk, email, balance, ledger_sum in accounts
        if balance != ledger_sum or balance < 0
    ]


# --- Prices -------------------------------------------------------------------------

PRICE_VERSION_CACHE_KEY = "credits:prices:version"


class _PriceCache:
    """Prices of this process, loaded once and reloaded when the shared version
    (bumped by services.price_set) changes; the version is read at most every
    CREDITS_PRICE_REFRESH_SECONDS, so a price lookup is normally a dict lookup."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.prices: dict[str, int] | None = None
        self.version: object = None
        self.checked_at = 0.0

    def get(self) -> dict[str, int]:
        prices = self.prices
        now = time.monotonic()
        if prices is not None and now - self.checked_at < settings.CREDITS_PRICE_REFRESH_SECONDS:
            return prices
        with self.lock:
            try:
                version = cache.get(PRICE_VERSION_CACHE_KEY)
            except Exception:  # the cache being down must not stop charging
                logger.warning("Price version unavailable from the cache; reloading prices.", exc_info=True)
                version = object()
            if self.prices is None or version != self.version:
                self.prices = self._load()
                self.version = version
            self.checked_at = now
            return self.prices

    def clear(self) -> None:
        with self.lock:
            self.prices = None
            self.checked_at = 0.0

    @staticmethod
    def _load() -> dict[str, int]:
        prices = {operation: credits for operation, (credits, _) in DEFAULT_PRICES.items()}
        prices.update(Price.objects.values_list("operation", "credits"))
        return prices


_price_cache = _PriceCache()


def price_get(*, operation: str) -> int:
    """Credits ``operation`` costs."""
    try:
        return _price_cache.get()[operation]
    except KeyError:
        raise UnknownOperation(f"The operation {operation!r} has no price.") from None


def price_list() -> list[Price]:
    """Every priced operation, defaults included, as stored (not cached)."""
    stored = {price.operation: price for price in Price.objects.all()}
    for operation, (credits, description) in DEFAULT_PRICES.items():
        stored.setdefault(operation, Price(operation=operation, credits=credits, description=description))
    return [stored[operation] for operation in sorted(stored)]


def price_cache_clear() -> None:
    """Forget this process's prices (the next lookup reloads them)."""
    _price_cache.clear()
