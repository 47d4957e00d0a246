"""The analytics pages' figures, gathered from each app's selectors.

Each app computes its own numbers (credits: usage; billing: revenue; products:
the query log; accounts: signups); this module only puts them together for a
period, and reads the FNSKU conversion log when that app provides one.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.apps import apps
from django.db.models import Count, Q
from django.utils import timezone

from accounts import selectors as account_selectors
from billing import selectors as billing_selectors
from billing.conf import stripe_config
from billing.models import Payment
from core.confidence import CONFIDENCE_BANDS
from credits import selectors as credit_selectors
from jobs import analytics as job_analytics
from products import analytics as lookup_analytics


def day_bounds(start: dt.date, end: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """``[start 00:00, end+1 00:00)`` in UTC."""
    since = dt.datetime.combine(start, dt.time.min, tzinfo=dt.UTC)
    until = dt.datetime.combine(end + dt.timedelta(days=1), dt.time.min, tzinfo=dt.UTC)
    return since, until


def utc_today() -> dt.date:
    return timezone.now().astimezone(dt.UTC).date()


def revenue_provider() -> str:
    """Real money only once Stripe is live (an earlier sandbox trial would inflate the figures),
    as the admin's revenue report does."""
    return Payment.Provider.STRIPE if stripe_config().live else ""


# --- FNSKU conversions -------------------------------------------------------------------------


@dataclass
class ConversionQuality:
    available: bool
    conversions: int = 0
    answered: int = 0
    bands: list[tuple[str, int]] = field(default_factory=list)
    confirmed: int = 0
    corrected: int = 0

    @property
    def correction_percent(self) -> float | None:
        judged = self.confirmed + self.corrected
        return round(100 * self.corrected / judged, 1) if judged else None


def conversion_quality(*, since: dt.datetime, until: dt.datetime) -> ConversionQuality:
    """Confidence of the FNSKU conversions answered in the period, and the users' verdicts on them."""
    try:
        conversion_model: Any = apps.get_model("conversion", "Conversion")
        feedback_model: Any = apps.get_model("conversion", "ConversionFeedback")
    except LookupError:
        return ConversionQuality(available=False)
    conversions = conversion_model.objects.filter(created_at__gte=since, created_at__lt=until)
    band_counts = {
        f"band_{index}": Count("id", filter=Q(confidence__gte=band.low, confidence__lt=band.high))
        for index, band in enumerate(CONFIDENCE_BANDS)
    }
    counts = conversions.aggregate(
        conversions=Count("id", filter=~Q(status="pending")),
        answered=Count("id", filter=Q(confidence__isnull=False)),
        **band_counts,
    )
    verdicts = dict(
        feedback_model.objects.filter(created_at__gte=since, created_at__lt=until)
        .values_list("verdict")
        .annotate(n=Count("id"))
        .order_by()
    )
    return ConversionQuality(
        available=True,
        conversions=counts["conversions"],
        answered=counts["answered"],
        bands=[(band.label, counts[f"band_{index}"]) for index, band in enumerate(CONFIDENCE_BANDS)],
        confirmed=verdicts.get("confirmed", 0),
        corrected=verdicts.get("corrected", 0),
    )


# --- The operators' page -----------------------------------------------------------------------


@dataclass
class OperatorReport:
    start: dt.date
    end: dt.date
    revenue: billing_selectors.RevenueReport
    new_users: int
    active_users: int
    signups_by_day: list[tuple[dt.date, int]]
    latency: list[lookup_analytics.ChannelLatency]
    upstream: list[lookup_analytics.ProviderUsage]
    conversions: ConversionQuality


def operator_report(*, days: int, today: dt.date | None = None) -> OperatorReport:
    end = today or utc_today()
    start = end - dt.timedelta(days=days - 1)
    since, until = day_bounds(start, end)
    signups = account_selectors.user_signups_by_day(since=since, until=until)
    active = credit_selectors.ledger_user_ids(since=since, until=until) | lookup_analytics.lookup_user_ids(
        since=since, until=until
    )
    return OperatorReport(
        start=start,
        end=end,
        revenue=billing_selectors.revenue_report(
            period="day", start=start, end=end, provider=revenue_provider()
        ),
        new_users=sum(signups.values()),
        active_users=len(active),
        signups_by_day=[
            (start + dt.timedelta(days=i), signups.get(start + dt.timedelta(days=i), 0)) for i in range(days)
        ],
        latency=lookup_analytics.lookup_latency_by_channel(since=since, until=until),
        upstream=lookup_analytics.upstream_usage(since=since, until=until),
        conversions=conversion_quality(since=since, until=until),
    )


# --- The admin index ---------------------------------------------------------------------------


@dataclass
class TodayFigures:
    revenue: list[billing_selectors.RevenueRow]
    signups: int
    webhook_failures: int
    lookups_unavailable: int
    bulk_items_failed: int | None

    @property
    def errors(self) -> int:
        return self.webhook_failures + self.lookups_unavailable + (self.bulk_items_failed or 0)


def today_figures(*, today: dt.date | None = None) -> TodayFigures:
    """Today's (UTC) net revenue per currency, signups and error counts, for the admin index."""
    day = today or utc_today()
    since, until = day_bounds(day, day)
    revenue = billing_selectors.revenue_report(period="day", start=day, end=day, provider=revenue_provider())
    return TodayFigures(
        revenue=revenue.totals,
        signups=account_selectors.user_signup_count(since=since, until=until),
        webhook_failures=billing_selectors.webhook_event_failed_count(since=since, until=until),
        lookups_unavailable=lookup_analytics.lookup_errors_count(since=since, until=until),
        bulk_items_failed=job_analytics.bulk_items_failed_count(since=since, until=until),
    )
