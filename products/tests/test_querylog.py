import pytest
from django.conf import settings as django_settings

from accounts.tests.factories import UserFactory
from products.models import LookupLog
from products.querylog import LookupLine, lookup_cache_stats, lookup_log_buffer
from products.tasks import flush_lookup_log

pytestmark = pytest.mark.django_db


def buffer(user, asin="B08N5WRWNW", source="cache", marketplace="US"):
    lookup_log_buffer(
        LookupLine(
            user_id=user.pk,
            asin=asin,
            marketplace=marketplace,
            channel="api",
            source=source,
            outcome="ok",
            credits=1,
            latency_ms=1.25,
        )
    )


def test_buffered_lines_reach_the_database_in_one_flush():
    user = UserFactory()
    for i in range(2500):  # more than one batch
        buffer(user, asin=f"B{i:09d}")

    assert LookupLog.objects.count() == 0
    assert flush_lookup_log() == 2500
    assert LookupLog.objects.filter(user=user).count() == 2500
    assert flush_lookup_log() == 0


def test_flush_runs_on_beat():
    schedule = django_settings.CELERY_BEAT_SCHEDULE["products-flush-lookup-log"]
    assert schedule["task"] == flush_lookup_log.name
    assert schedule["schedule"] <= 10


def test_cache_stats_per_marketplace():
    user = UserFactory()
    for source in ["cache", "cache", "cache", "upstream"]:
        buffer(user, source=source, marketplace="DE")
    buffer(user, source="database", marketplace="JP")

    stats = lookup_cache_stats()

    assert stats["DE"]["hits"] == 3
    assert stats["DE"]["misses"] == 1
    assert stats["DE"]["hit_ratio"] == 0.75
    assert stats["JP"]["hit_ratio"] == 0.0
