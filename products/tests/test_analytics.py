"""Lookup analytics over the query log, checked against rows of known content."""

from __future__ import annotations

import datetime as dt

import pytest

from accounts.tests.factories import UserFactory
from products import analytics
from products.models import LookupLog
from products.querylog import LookupLine, lookup_log_buffer
from products.tests.factories import ProductFactory

pytestmark = pytest.mark.django_db

SINCE = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
UNTIL = dt.datetime(2026, 3, 8, tzinfo=dt.UTC)


def at(day: int, hour: int = 12, minute: int = 0) -> dt.datetime:
    return dt.datetime(2026, 3, day, hour, minute, tzinfo=dt.UTC)


def log(
    user,
    *,
    asin="B000000001",
    marketplace="US",
    channel="api",
    source="cache",
    outcome="ok",
    latency=5.0,
    when=None,
) -> LookupLog:
    return LookupLog(
        user=user,
        asin=asin,
        marketplace=marketplace,
        channel=channel,
        source=source,
        outcome=outcome,
        credits=1 if outcome == "ok" else 0,
        latency_ms=latency,
        created_at=when or at(2),
    )


class TestPercentile:
    def test_linear_interpolation_between_closest_ranks(self):
        values = [float(v) for v in range(1, 101)]
        assert analytics.percentile(values, 0.5) == pytest.approx(50.5)
        assert analytics.percentile(values, 0.95) == pytest.approx(95.05)
        assert analytics.percentile(values, 0.99) == pytest.approx(99.01)

    def test_exact_rank_and_single_value_and_empty(self):
        assert analytics.percentile([10.0, 20.0, 30.0], 0.5) == 20.0
        assert analytics.percentile([7.0], 0.99) == 7.0
        assert analytics.percentile([], 0.5) is None


class TestUserLookups:
    def test_top_products_are_the_users_most_looked_up_in_the_period(self):
        user, other = UserFactory(), UserFactory()
        LookupLog.objects.bulk_create(
            [log(user, asin="B000000001", when=at(2, 10 + i)) for i in range(3)]
            + [log(user, asin="B000000002", marketplace="DE", when=at(3, i)) for i in range(2)]
            + [log(user, asin="B000000002", when=at(4))]
            + [log(other, asin="B000000009", when=at(2, i)) for i in range(5)]  # someone else's
            + [
                log(user, asin="B000000003", when=at(1, 0) - dt.timedelta(days=1)) for _ in range(9)
            ]  # too old
        )

        top = analytics.lookup_top_products(user=user, since=SINCE)

        assert [(p.asin, p.marketplace, p.lookups) for p in top] == [
            ("B000000001", "US", 3),
            ("B000000002", "DE", 2),
            ("B000000002", "US", 1),
        ]
        assert top[0].last_at == at(2, 12)
        assert len(analytics.lookup_top_products(user=user, since=SINCE, limit=2)) == 2

    def test_source_share_counts_and_percentages(self):
        user = UserFactory()
        LookupLog.objects.bulk_create(
            [log(user, source="cache") for _ in range(6)]
            + [log(user, source="database") for _ in range(3)]
            + [log(user, source="upstream")]
            + [log(UserFactory(), source="upstream") for _ in range(4)]
        )

        shares = {
            s.source: (s.lookups, s.percent) for s in analytics.lookup_source_share(user=user, since=SINCE)
        }

        assert shares == {"cache": (6, 60.0), "database": (3, 30.0), "upstream": (1, 10.0), "none": (0, 0.0)}

    def test_buffered_lines_are_counted(self):
        user = UserFactory()
        lookup_log_buffer(
            LookupLine(
                user_id=user.pk,
                asin="B0BUFFERED",
                marketplace="US",
                channel="api",
                source="upstream",
                outcome="ok",
                credits=1,
                latency_ms=12.5,
            )
        )

        since = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
        top = analytics.lookup_top_products(user=user, since=since)

        assert [(p.asin, p.lookups) for p in top] == [("B0BUFFERED", 1)]


class TestOperatorLookups:
    @pytest.fixture
    def latencies(self):
        user = UserFactory()
        rows = [log(user, channel="api", latency=float(v), when=at(3, 1, v % 60)) for v in range(1, 101)]
        rows += [log(user, channel="page", latency=v, when=at(5)) for v in (40.0, 10.0, 30.0, 20.0)]
        rows += [log(user, channel="api", latency=10_000.0, when=UNTIL)]  # outside the period
        LookupLog.objects.bulk_create(rows)

    def expected(self):
        return [
            ("api", 100, pytest.approx(50.5), pytest.approx(95.05), pytest.approx(99.01)),
            ("page", 4, pytest.approx(25.0), pytest.approx(38.5), pytest.approx(39.7)),
        ]

    def test_latency_percentiles_by_channel(self, latencies):
        rows = analytics.lookup_latency_by_channel(since=SINCE, until=UNTIL)

        assert [(r.channel, r.lookups, r.p50, r.p95, r.p99) for r in rows] == self.expected()

    def test_the_python_fallback_gives_the_same_percentiles(self, latencies, monkeypatch):
        monkeypatch.setattr(analytics, "connection", type("Other", (), {"vendor": "sqlite"})())

        rows = analytics.lookup_latency_by_channel(since=SINCE, until=UNTIL)

        assert [(r.channel, r.lookups, r.p50, r.p95, r.p99) for r in rows] == self.expected()

    def test_active_users_and_errors(self):
        first, second, idle = UserFactory(), UserFactory(), UserFactory()
        LookupLog.objects.bulk_create(
            [
                log(first, outcome="unavailable", source="none"),
                log(first),
                log(second, outcome="unavailable", source="none", when=at(7, 23, 59)),
                log(idle, outcome="unavailable", source="none", when=UNTIL),
            ]
        )

        assert analytics.lookup_user_ids(since=SINCE, until=UNTIL) == {first.pk, second.pk}
        assert analytics.lookup_errors_count(since=SINCE, until=UNTIL) == 2

    def test_hourly_capacity_is_the_slowest_bucket(self, settings):
        settings.PROVIDER_RATE_LIMITS = "keepa=0.5/100"
        assert analytics.provider_hourly_capacity("keepa") == 1800
        # spapi.catalog 2/s and spapi.pricing 0.5/s by default: pricing sets the pace.
        assert analytics.provider_hourly_capacity("spapi") == 1800
        assert analytics.provider_hourly_capacity("sandbox") == 3_600_000
        assert analytics.provider_hourly_capacity("nobody") is None

    def test_upstream_usage_per_provider_and_hour(self, settings):
        settings.PROVIDER_RATE_LIMITS = "keepa=0.25/100"  # 900 an hour
        user = UserFactory()
        for asin, provider in (("B00000KEEP", "keepa"), ("B00000SPAP", "spapi")):
            ProductFactory(asin=asin, provider=provider, fetched_at=at(1))
        LookupLog.objects.bulk_create(
            [log(user, asin="B00000KEEP", source="upstream", when=at(2, 9, m)) for m in range(3)]
            + [log(user, asin="B00000KEEP", source="upstream", when=at(2, 10, m)) for m in range(9)]
            + [log(user, asin="B00000KEEP", source="cache", when=at(2, 10)) for _ in range(50)]
            + [log(user, asin="B00000SPAP", source="upstream", when=at(3, 1))]
            + [log(user, asin="B0NOTFOUND", source="upstream", outcome="not_found", when=at(3, 2))]
        )

        usage = {u.provider: u for u in analytics.upstream_usage(since=SINCE, until=UNTIL)}

        keepa = usage["keepa"]
        assert (keepa.lookups, keepa.peak_hour, keepa.peak_lookups) == (12, at(2, 10), 9)
        assert keepa.hourly_capacity == 900
        assert keepa.peak_percent == 1.0
        assert (usage["spapi"].lookups, usage["spapi"].hourly_capacity) == (1, 1800)
        assert usage[analytics.UNKNOWN_PROVIDER].lookups == 1
        assert usage[analytics.UNKNOWN_PROVIDER].peak_percent is None
        assert list(usage) == ["keepa", "spapi", analytics.UNKNOWN_PROVIDER]  # busiest first
