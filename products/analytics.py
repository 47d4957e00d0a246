"""Reads over the lookup query log for the analytics pages (bulk jobs: jobs/analytics.py).

Every reader first flushes the buffered log lines (products/querylog.py) so a
lookup made a moment ago is counted. Periods are half-open ``[since, until)``
in UTC; days are UTC days, like the credits usage chart.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.db import connection
from django.db.models import Aggregate, Count, FloatField, Max, OuterRef, QuerySet, Subquery
from django.db.models.functions import TruncHour

from core.ratelimit import RateLimit
from products.conf import rate_limits
from products.models import LookupLog, Product
from products.querylog import lookup_log_flush

if TYPE_CHECKING:
    from accounts.models import User

PERCENTILES = (0.5, 0.95, 0.99)
# Above this many rows per channel the Python fallback would hold too much in memory.
PYTHON_PERCENTILE_MAX_ROWS = 200_000
UNKNOWN_PROVIDER = "unknown"


def _lookups(*, since: dt.datetime, until: dt.datetime | None = None) -> QuerySet[LookupLog]:
    lookup_log_flush()
    rows = LookupLog.objects.filter(created_at__gte=since)
    if until is not None:
        rows = rows.filter(created_at__lt=until)
    return rows


# --- A user's lookups --------------------------------------------------------------------------


@dataclass(frozen=True)
class TopProduct:
    asin: str
    marketplace: str
    lookups: int
    last_at: dt.datetime


def lookup_top_products(*, user: User, since: dt.datetime, limit: int = 10) -> list[TopProduct]:
    """``user``'s most looked-up (ASIN, marketplace) pairs since ``since``."""
    rows = (
        _lookups(since=since)
        .filter(user=user)
        .values("asin", "marketplace")
        .annotate(lookups=Count("id"), last_at=Max("created_at"))
        .order_by("-lookups", "-last_at", "asin", "marketplace")[:limit]
    )
    return [TopProduct(**row) for row in rows]


@dataclass(frozen=True)
class SourceShare:
    source: str
    lookups: int
    percent: float


def lookup_source_share(*, user: User, since: dt.datetime) -> list[SourceShare]:
    """Where ``user``'s lookups were served from (cache, database, upstream, none), with shares in %."""
    counts = dict.fromkeys(LookupLog.Source.values, 0)
    rows = _lookups(since=since).filter(user=user).values("source").annotate(n=Count("id")).order_by()
    for row in rows:
        counts[row["source"]] = counts.get(row["source"], 0) + row["n"]
    total = sum(counts.values())
    return [
        SourceShare(source=source, lookups=n, percent=round(100 * n / total, 1) if total else 0.0)
        for source, n in counts.items()
    ]


# --- Operators: the whole platform -------------------------------------------------------------


def lookup_user_ids(*, since: dt.datetime, until: dt.datetime) -> set[int]:
    """Users with at least one lookup in the period."""
    return set(_lookups(since=since, until=until).values_list("user_id", flat=True).distinct())


def lookup_errors_count(*, since: dt.datetime, until: dt.datetime) -> int:
    """Lookups that could not be delivered (every provider failed) in the period."""
    return _lookups(since=since, until=until).filter(outcome=LookupLog.Outcome.UNAVAILABLE).count()


@dataclass(frozen=True)
class ChannelLatency:
    channel: str
    lookups: int
    p50: float | None
    p95: float | None
    p99: float | None


class _PercentileCont(Aggregate):
    # PostgreSQL's ordered-set aggregate: the same linear interpolation as percentile() below.
    function = "percentile_cont"
    template = "%(function)s(%(fraction)s) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = FloatField()

    def __init__(self, expression: str, fraction: float, **extra: Any) -> None:
        super().__init__(expression, fraction=float(fraction), **extra)


def percentile(ordered: Sequence[float], fraction: float) -> float | None:
    """The ``fraction`` percentile of ascending ``ordered`` by linear interpolation between
    the closest ranks (PostgreSQL's ``percentile_cont``, numpy's default)."""
    if not ordered:
        return None
    position = (len(ordered) - 1) * fraction
    lower = math.floor(position)
    upper = math.ceil(position)
    if lower == upper:
        return float(ordered[lower])
    return float(ordered[lower] + (ordered[upper] - ordered[lower]) * (position - lower))


def lookup_latency_by_channel(*, since: dt.datetime, until: dt.datetime) -> list[ChannelLatency]:
    """Lookups and latency percentiles (ms) per channel (api, page, bulk) in the period.

    PostgreSQL computes them over every row; elsewhere (the embedded SQLite default) they
    are computed here over each channel's latest PYTHON_PERCENTILE_MAX_ROWS lookups."""
    rows = _lookups(since=since, until=until)
    counts: Any = rows.values("channel").annotate(lookups=Count("id")).order_by("channel")
    if connection.vendor == "postgresql":
        aggregates = {f"p{round(f * 100)}": _PercentileCont("latency_ms", f) for f in PERCENTILES}
        result: Any = counts.annotate(**aggregates)
        return [
            ChannelLatency(
                channel=row["channel"], lookups=row["lookups"], p50=row["p50"], p95=row["p95"], p99=row["p99"]
            )
            for row in result
        ]
    latencies: list[ChannelLatency] = []
    for row in counts:
        recent = rows.filter(channel=row["channel"]).order_by("-created_at")
        values = sorted(recent.values_list("latency_ms", flat=True)[:PYTHON_PERCENTILE_MAX_ROWS])
        latencies.append(
            ChannelLatency(
                channel=row["channel"],
                lookups=row["lookups"],
                p50=percentile(values, 0.5),
                p95=percentile(values, 0.95),
                p99=percentile(values, 0.99),
            )
        )
    return latencies


@dataclass
class ProviderUsage:
    provider: str
    lookups: int
    hourly_capacity: int | None
    peak_hour: dt.datetime | None = None
    peak_lookups: int = 0
    by_hour: dict[dt.datetime, int] = field(default_factory=dict)

    @property
    def peak_percent(self) -> float | None:
        if not self.hourly_capacity:
            return None
        return round(100 * self.peak_lookups / self.hourly_capacity, 1)


def provider_hourly_capacity(provider: str, limits: dict[str, RateLimit] | None = None) -> int | None:
    """Calls an hour ``provider``'s rate limits allow: a lookup takes a token from each of its
    buckets (``spapi.catalog`` and ``spapi.pricing``), so the slowest bucket sets the pace."""
    limits = rate_limits() if limits is None else limits
    rates = [
        limit.rate for name, limit in limits.items() if name == provider or name.startswith(f"{provider}.")
    ]
    return math.floor(min(rates) * 3600) if rates else None


def upstream_usage(*, since: dt.datetime, until: dt.datetime) -> list[ProviderUsage]:
    """Lookups served from upstream per provider and UTC hour, against each provider's hourly capacity.

    The query log does not name the provider; a lookup is counted for the provider whose
    record of that product is stored (``unknown`` when none is, e.g. a product not found)."""
    provider = Subquery(
        Product.objects.filter(asin=OuterRef("asin"), marketplace=OuterRef("marketplace")).values("provider")[
            :1
        ]
    )
    rows = (
        _lookups(since=since, until=until)
        .filter(source=LookupLog.Source.UPSTREAM)
        .annotate(provider=provider, hour=TruncHour("created_at", tzinfo=dt.UTC))
        .values("provider", "hour")
        .annotate(n=Count("id"))
        .order_by()
    )
    usage: dict[str, ProviderUsage] = {}
    limits = rate_limits()
    for row in rows:
        name = row["provider"] or UNKNOWN_PROVIDER
        entry = usage.get(name)
        if entry is None:
            entry = usage[name] = ProviderUsage(
                provider=name, lookups=0, hourly_capacity=provider_hourly_capacity(name, limits)
            )
        entry.lookups += row["n"]
        entry.by_hour[row["hour"]] = entry.by_hour.get(row["hour"], 0) + row["n"]
    for entry in usage.values():
        peak = max(entry.by_hour.items(), key=lambda item: (item[1], item[0]))
        entry.peak_hour, entry.peak_lookups = peak
    return sorted(usage.values(), key=lambda u: (-u.lookups, u.provider))
