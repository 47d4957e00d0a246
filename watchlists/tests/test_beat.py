"""The alert fires once per crossing, driven by the real beat schedule on a controlled clock.

The clock is time-machine's (process-wide): Celery's beat scheduler logic
(``celery.beat.Scheduler`` with the ``watchlists-refresh-due`` entry from
settings) decides when the dispatcher is due and sends it through the Redis
broker; a real Celery worker (in this process, so it shares the clock)
consumes it, runs the dispatcher, then the per-watchlist refresh tasks it
queued, each against a local Keepa stand-in whose price the test moves across
the threshold and back.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta

import pytest
import time_machine
from celery import beat
from celery.contrib.testing.worker import start_worker
from django.conf import settings
from django.core import mail
from django.utils import timezone

from config.celery import app
from credits.models import LedgerEntry
from credits.selectors import balance_get
from credits.tests.factories import funded_user
from watchlists import services
from watchlists.models import Alert, ItemSnapshot
from watchlists.tests.helpers import ASIN

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.celery_worker,
    pytest.mark.django_db(transaction=True),
]
ENTRY = "watchlists-refresh-due"


class WatchlistBeat(beat.Scheduler):
    """The real scheduler, holding only the watchlists entry of CELERY_BEAT_SCHEDULE."""

    def setup_schedule(self) -> None:
        self.merge_inplace({ENTRY: settings.CELERY_BEAT_SCHEDULE[ENTRY]})


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"Timed out waiting for {what}")
        time.sleep(0.05)


def test_the_alert_fires_once_per_crossing_on_the_beat_schedule(keepa):
    user = funded_user(credits=50)
    watchlist = services.watchlist_create(user=user, name="Deals", interval="hourly")
    item = services.watch_item_add(watchlist=watchlist, asin=ASIN, thresholds={"price_below": "20.00"})
    app.control.purge()
    start = timezone.now() + timedelta(minutes=1)
    # Hourly prices: above, below (alert), still below, above again (re-armed), below (alert).
    hours = [2500, 1899, 1799, 2100, 1500]
    alerts_seen: list[int] = []
    with time_machine.travel(start, tick=True) as clock:
        scheduler = WatchlistBeat(app)
        # A tick before the interval has passed sends nothing.
        assert scheduler.tick() > 0
        with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=20):
            for hour, cents in enumerate(hours):
                keepa.market.price = cents
                clock.move_to(start + timedelta(hours=hour, minutes=2))
                assert scheduler.tick() == 0, "the dispatcher entry was due and sent"
                # Another tick right after: not due again within its minute.
                assert scheduler.tick() > 0
                wait_for(
                    lambda n=hour + 1: ItemSnapshot.objects.filter(item=item).count() == n,
                    f"refresh {hour + 1}",
                )
                alerts_seen.append(Alert.objects.filter(item=item).count())
            wait_for(lambda: len(mail.outbox) == 2, "the two alert emails")

    assert alerts_seen == [0, 1, 1, 1, 2]
    alerts = list(Alert.objects.filter(item=item).order_by("crossing"))
    assert [(a.crossing, a.observed) for a in alerts] == [(1, "18.99"), (2, "15.00")]
    assert all(a.emailed_at is not None for a in alerts)
    assert sorted(m.to[0] for m in mail.outbox) == [user.email, user.email]
    # One refresh per hourly slot, each charged once at the lookup price.
    snapshots = list(ItemSnapshot.objects.filter(item=item).order_by("slot"))
    assert [s.status for s in snapshots] == ["ok"] * 5
    assert [s.slot - snapshots[0].slot for s in snapshots] == [timedelta(hours=h) for h in range(5)]
    assert LedgerEntry.objects.filter(account__user=user, kind="charge").count() == 5
    assert balance_get(user=user) == 45


def test_a_refresh_delivered_twice_to_worker_processes_charges_once(keepa, celery_workers):
    """The same refresh message twice (a redelivery), on two real worker processes at once."""
    from products.tests.conftest import KEEPA_KEY
    from watchlists.tasks import watchlist_refresh

    env = {
        "PRODUCT_PROVIDERS": "keepa",
        "KEEPA_API_KEY": KEEPA_KEY,
        "KEEPA_API_BASE": settings.KEEPA_API_BASE,
    }
    celery_workers.start("w1", env=env)
    celery_workers.start("w2", env=env)
    user = funded_user(credits=10)
    watchlist = services.watchlist_create(user=user, name="Deals", interval="daily")
    services.watch_item_add(watchlist=watchlist, asin=ASIN, thresholds={"price_below": "30.00"})
    services.watch_item_add(watchlist=watchlist, asin="B0TESTKEE2", thresholds={"price_below": "30.00"})
    slot = timezone.now().isoformat()
    for _ in range(3):
        watchlist_refresh.delay(watchlist.pk, slot)
    wait_for(
        lambda: ItemSnapshot.objects.filter(item__watchlist=watchlist).count() == 2, "both items refreshed"
    )
    wait_for(lambda: Alert.objects.filter(user=user).count() == 2, "the alerts")
    time.sleep(1.5)  # let the other deliveries finish too
    assert LedgerEntry.objects.filter(account__user=user, kind="charge").count() == 2
    assert balance_get(user=user) == 8
    assert Alert.objects.filter(user=user).count() == 2
    assert ItemSnapshot.objects.filter(item__watchlist=watchlist, status="ok").count() == 2
