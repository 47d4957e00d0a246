"""Reads of the billing app: packs, a user's payments, and the revenue report."""

from __future__ import annotations

import contextlib
import datetime as dt
import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from fractions import Fraction
from typing import TYPE_CHECKING, Any, Literal

from django.db.models import Count, Q, QuerySet, Sum
from django.db.models.functions import Trunc
from django.utils import timezone

from billing.models import CreditPack, Payment, Reversal, WebhookEvent, checkout_session_id_valid
from core.errors import NotFoundError
from core.money import format_money, to_major

if TYPE_CHECKING:
    from accounts.models import User

Period = Literal["day", "month"]
PERIODS: tuple[Period, ...] = ("day", "month")


# --- Packs and payments -----------------------------------------------------------------


def pack_list_active() -> QuerySet[CreditPack]:
    return CreditPack.objects.filter(active=True).order_by("order", "id")


@dataclass(frozen=True)
class PackOffer:
    """An active pack as the landing page offers it: its price and what one credit costs in it."""

    pack: CreditPack
    price_display: str
    price_per_credit_display: str


def pack_offers() -> list[PackOffer]:
    return [
        PackOffer(
            pack=pack,
            price_display=pack.price_display,
            price_per_credit_display=pack.price_per_credit_display,
        )
        for pack in pack_list_active()
    ]


def pack_best_value_ids(*, packs: Iterable[CreditPack]) -> set[int]:
    """The packs with the lowest price per credit of their currency, compared exactly (as
    fractions). None when a currency has a single pack, or all its packs cost the same per credit:
    "best value" then says nothing."""
    by_currency: dict[str, dict[int, Fraction]] = defaultdict(dict)
    for pack in packs:
        by_currency[pack.currency][pack.pk] = Fraction(pack.price, pack.credits)
    best: set[int] = set()
    for prices in by_currency.values():
        lowest = min(prices.values())
        if lowest != max(prices.values()):
            best |= {pack_id for pack_id, price in prices.items() if price == lowest}
    return best


def pack_get_active(*, pack_id: int) -> CreditPack:
    pack = CreditPack.objects.filter(pk=pack_id, active=True).first()
    if pack is None:
        raise NotFoundError("No such credit pack on sale.", code="pack_not_found")
    return pack


def payment_list(*, user: User) -> QuerySet[Payment]:
    """``user``'s payments, newest first."""
    return Payment.objects.filter(user=user).select_related("pack").order_by("-created_at", "-id")


def payment_get(*, user: User, checkout_session_id: str) -> Payment:
    """``user``'s payment for a Checkout Session; someone else's, or an id that is not
    one (from a URL: ``checkout_session_id_valid``), is not found."""
    if not checkout_session_id_valid(checkout_session_id):
        raise NotFoundError("No such payment.", code="payment_not_found")
    payment = payment_list(user=user).filter(checkout_session_id=checkout_session_id).first()
    if payment is None:
        raise NotFoundError("No such payment.", code="payment_not_found")
    return payment


def payment_receipt_get(*, user: User, reference: uuid.UUID) -> Payment:
    """``user``'s paid payment with this reference, for its receipt; someone else's, or one never
    paid, is not found."""
    payment = (
        payment_list(user=user)
        .filter(reference=reference, paid_at__isnull=False, credits_granted__gt=0)
        .first()
    )
    if payment is None:
        raise NotFoundError("No such receipt.", code="receipt_not_found")
    return payment


def payment_refunds(*, payment: Payment) -> QuerySet[Reversal]:
    """The refunds of a payment that gave money back, oldest first."""
    return (
        payment.reversals.filter(kind=Reversal.Kind.REFUND, amount__gt=0)
        .select_related("payment")
        .order_by("occurred_at", "id")
    )


def payment_for_session(*, checkout_session_id: str) -> Payment | None:
    return Payment.objects.filter(checkout_session_id=checkout_session_id).first()


def payment_for_charge(
    *, payment_intent_id: str = "", charge_id: str = "", payment_ref: str | None = None
) -> Payment | None:
    """The payment a Stripe charge (or its refund or dispute) belongs to: by
    PaymentIntent, by charge, or by the reference Checkout copied into the
    PaymentIntent's metadata."""
    lookup = Q()
    if payment_intent_id:
        lookup |= Q(payment_intent_id=payment_intent_id)
    if charge_id:
        lookup |= Q(charge_id=charge_id)
    if payment_ref:
        with contextlib.suppress(ValueError):
            lookup |= Q(reference=uuid.UUID(str(payment_ref)))
    if not lookup:
        return None
    return Payment.objects.filter(lookup).order_by("pk").first()


def webhook_event_failed_count(*, since: dt.datetime, until: dt.datetime) -> int:
    """Stripe events received in ``[since, until)`` whose processing failed (and still stands failed)."""
    return WebhookEvent.objects.filter(
        status=WebhookEvent.Status.FAILED, received_at__gte=since, received_at__lt=until
    ).count()


# --- Revenue -------------------------------------------------------------------------------


@dataclass
class RevenueRow:
    """Sales of one period or one pack in one currency, in its smallest unit."""

    label: str
    currency: str
    payments: int = 0
    credits: int = 0
    gross: int = 0
    refunded: int = 0

    @property
    def net(self) -> int:
        return self.gross - self.refunded

    @property
    def gross_display(self) -> str:
        return format_money(self.gross, self.currency)

    @property
    def refunded_display(self) -> str:
        return format_money(self.refunded, self.currency)

    @property
    def net_display(self) -> str:
        return format_money(self.net, self.currency)


@dataclass
class RevenueReport:
    period: Period
    start: dt.date
    end: dt.date
    provider: str
    by_period: list[RevenueRow]
    by_pack: list[RevenueRow]
    totals: list[RevenueRow]
    credits_shortfall: int
    chart: dict[str, Any] = field(default_factory=dict)


def revenue_report(
    *,
    period: Period = "day",
    start: dt.date | None = None,
    end: dt.date | None = None,
    provider: str = "",
) -> RevenueReport:
    """Sales by day or month (UTC) and by pack, net of refunds, per currency.

    A sale counts on the day it was paid, a refund on the day it was made, so
    a period's net is what came in less what went out in it. ``provider``
    limits the report to Stripe (real money) or the sandbox; empty means both."""
    if period not in PERIODS:
        raise ValueError(f"period is one of {PERIODS}")
    today = timezone.now().astimezone(dt.UTC).date()
    end = end or today
    if start is None:
        start = end - dt.timedelta(days=29) if period == "day" else _month_start(end, back=11)
    if period == "month":
        start = start.replace(day=1)
    since = dt.datetime.combine(start, dt.time.min, tzinfo=dt.UTC)
    until = dt.datetime.combine(end + dt.timedelta(days=1), dt.time.min, tzinfo=dt.UTC)

    sales = Payment.objects.filter(paid_at__gte=since, paid_at__lt=until, credits_granted__gt=0)
    refunds = Reversal.objects.filter(
        kind=Reversal.Kind.REFUND, amount__gt=0, occurred_at__gte=since, occurred_at__lt=until
    )
    if provider:
        sales = sales.filter(provider=provider)
        refunds = refunds.filter(payment__provider=provider)

    periods: dict[tuple[str, str], RevenueRow] = {}
    packs: dict[tuple[str, str], RevenueRow] = {}
    period_sales = (
        sales.annotate(bucket=Trunc("paid_at", period, tzinfo=dt.UTC))
        .values("bucket", "currency")
        .annotate(payments=Count("id"), credits=Sum("credits_granted"), gross=Sum("amount"))
        .order_by()
    )
    for sale in period_sales:
        _add_sales(_row(periods, _period_label(sale["bucket"], period), sale["currency"]), sale)
    period_refunds = (
        refunds.annotate(bucket=Trunc("occurred_at", period, tzinfo=dt.UTC))
        .values("bucket", "payment__currency")
        .annotate(refunded=Sum("amount"))
        .order_by()
    )
    for refund in period_refunds:
        label = _period_label(refund["bucket"], period)
        _row(periods, label, refund["payment__currency"]).refunded += refund["refunded"] or 0
    pack_sales = (
        sales.values("pack__name", "pack_id", "currency")
        .annotate(payments=Count("id"), credits=Sum("credits_granted"), gross=Sum("amount"))
        .order_by()
    )
    for pack_sale in pack_sales:
        label = _pack_label(pack_sale["pack__name"], pack_sale["pack_id"])
        _add_sales(_row(packs, label, pack_sale["currency"]), pack_sale)
    pack_refunds = (
        refunds.values("payment__pack__name", "payment__pack_id", "payment__currency")
        .annotate(refunded=Sum("amount"))
        .order_by()
    )
    for pack_refund in pack_refunds:
        label = _pack_label(pack_refund["payment__pack__name"], pack_refund["payment__pack_id"])
        _row(packs, label, pack_refund["payment__currency"]).refunded += pack_refund["refunded"] or 0

    totals: dict[tuple[str, str], RevenueRow] = {}
    for entry in periods.values():
        total = _row(totals, "Total", entry.currency)
        total.payments += entry.payments
        total.credits += entry.credits
        total.gross += entry.gross
        total.refunded += entry.refunded

    labels = _period_labels(start, end, period)
    shortfall = Payment.objects.filter(paid_at__gte=since, paid_at__lt=until)
    if provider:
        shortfall = shortfall.filter(provider=provider)
    report = RevenueReport(
        period=period,
        start=start,
        end=end,
        provider=provider,
        by_period=sorted(periods.values(), key=lambda r: (r.label, r.currency)),
        by_pack=sorted(packs.values(), key=lambda r: (-r.net, r.label, r.currency)),
        totals=sorted(totals.values(), key=lambda r: (-r.gross, r.currency)),
        credits_shortfall=shortfall.aggregate(total=Sum("credits_shortfall"))["total"] or 0,
    )
    report.chart = _chart(labels, report)
    return report


def _row(rows: dict[tuple[str, str], RevenueRow], label: str, currency: str) -> RevenueRow:
    key = (label, currency)
    if key not in rows:
        rows[key] = RevenueRow(label=label, currency=currency)
    return rows[key]


def _add_sales(row: RevenueRow, sales: Any) -> None:
    row.payments += sales["payments"]
    row.credits += sales["credits"] or 0
    row.gross += sales["gross"] or 0


def _pack_label(name: str, pack_id: int) -> str:
    return f"{name} (#{pack_id})"


def _period_label(moment: dt.datetime, period: Period) -> str:
    day = moment.astimezone(dt.UTC).date()
    return day.isoformat() if period == "day" else day.strftime("%Y-%m")


def _month_start(day: dt.date, *, back: int) -> dt.date:
    months = day.year * 12 + day.month - 1 - back
    return dt.date(months // 12, months % 12 + 1, 1)


def _period_labels(start: dt.date, end: dt.date, period: Period) -> list[str]:
    labels: list[str] = []
    if period == "day":
        day = start
        while day <= end:
            labels.append(day.isoformat())
            day += dt.timedelta(days=1)
        return labels
    month = start.replace(day=1)
    while month <= end:
        labels.append(month.strftime("%Y-%m"))
        month = (month + dt.timedelta(days=32)).replace(day=1)
    return labels


def _chart(labels: list[str], report: RevenueReport) -> dict[str, Any]:
    """Net revenue and refunds per period, one pair of series per currency, in major units."""
    by_currency: dict[str, dict[str, RevenueRow]] = defaultdict(dict)
    for row in report.by_period:
        by_currency[row.currency][row.label] = row
    datasets: list[dict[str, Any]] = []
    for total in report.totals:
        rows = by_currency[total.currency]
        code = total.currency.upper()
        datasets.append(
            {
                "label": f"Net {code}",
                "kind": "net",
                "currency": code,
                "data": [
                    float(to_major(rows[label].net, total.currency)) if label in rows else 0
                    for label in labels
                ],
            }
        )
        datasets.append(
            {
                "label": f"Refunds {code}",
                "kind": "refunds",
                "currency": code,
                "data": [
                    -_major(rows[label].refunded, total.currency) if label in rows else 0 for label in labels
                ],
            }
        )
    return {"labels": labels, "datasets": datasets}


def _major(amount: int, currency: str) -> float:
    return float(to_major(amount, currency))
