"""Refreshes, charges and alerts through the services, with Keepa answered by a local HTTP stub."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.utils import timezone

from core.api_errors import http_status
from core.errors import DomainError
from core.tests.emails import assert_platform_email, html_part
from credits.models import LedgerEntry
from credits.selectors import balance_get
from credits.services import credits_charge
from credits.tests.factories import funded_user
from watchlists import refresh, services, tasks
from watchlists.models import Alert, ConditionState, ItemSnapshot, Watchlist
from watchlists.selectors import watchlist_cost
from watchlists.tests.factories import AlertFactory
from watchlists.tests.helpers import ASIN

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.django_db(transaction=True)]


def make_watchlist(credits: int = 100, interval: str = "hourly", **thresholds: object):
    user = funded_user(credits=credits)
    watchlist = services.watchlist_create(user=user, name="Deals", interval=interval)
    item = services.watch_item_add(watchlist=watchlist, asin=ASIN, marketplace="US", thresholds=thresholds)
    return user, watchlist, item


def charges(user) -> list[LedgerEntry]:
    return list(LedgerEntry.objects.filter(account__user=user, kind="charge").order_by("pk"))


def test_a_price_crossing_raises_one_alert_until_it_crosses_back(keepa, settings):
    settings.SITE_URL = "http://127.0.0.1:8123/"
    user, watchlist, item = make_watchlist(price_below="20.00")
    start = timezone.now()
    alerts_after = []
    for hour, cents in enumerate([2500, 1899, 1799, 2100, 1500]):
        keepa.market.price = cents
        refresh.watchlist_refresh(watchlist_id=watchlist.pk, slot=start + timedelta(hours=hour))
        alerts_after.append(Alert.objects.filter(item=item).count())

    assert alerts_after == [0, 1, 1, 1, 2]
    alerts = list(Alert.objects.filter(item=item).order_by("crossing"))
    assert [a.crossing for a in alerts] == [1, 2]
    assert [a.observed for a in alerts] == ["18.99", "15.00"]
    assert alerts[0].message == f"{ASIN} (US): price $18.99 is below $20.00."  # core.money's formatting
    assert [a.threshold for a in alerts] == ["20.00 USD", "20.00 USD"]  # the API's field keeps its shape
    assert balance_get(user=user) == 95
    prices = list(ItemSnapshot.objects.filter(item=item).order_by("slot").values_list("price", flat=True))
    assert prices == [
        Decimal("25.00"),
        Decimal("18.99"),
        Decimal("17.99"),
        Decimal("21.00"),
        Decimal("15.00"),
    ]
    # Emailed on commit (eager tasks in tests would need a worker: the email service itself here).
    services.alerts_email(alert_ids=[a.pk for a in alerts])
    assert len(mail.outbox) == 1
    assert "2 watchlist alerts" in mail.outbox[0].subject
    assert "http://127.0.0.1:8123/watchlists/notifications" in mail.outbox[0].body  # SITE_URL's
    html = assert_platform_email(mail.outbox[0], link="http://127.0.0.1:8123/watchlists/notifications/")
    for part in (mail.outbox[0].body, html):
        assert "price $18.99 is below $20.00" in part  # amounts through core.money, not "18.99 USD"
        assert "price $15.00 is below $20.00" in part
        assert "USD" not in part


def test_one_alert_is_emailed_under_its_own_message_and_a_failed_send_can_be_retried(monkeypatch, settings):
    settings.SITE_URL = "https://platform.example"
    alert = AlertFactory(item__watchlist__name="Toys & games")

    def broken(**kwargs):
        raise OSError("SMTP down")

    monkeypatch.setattr(services, "send_templated", broken)
    with pytest.raises(OSError, match="SMTP down"):
        services.alerts_email(alert_ids=[alert.pk])
    monkeypatch.undo()
    alert.refresh_from_db()
    assert alert.emailed_at is None  # released for the retry

    assert services.alerts_email(alert_ids=[alert.pk]) == 1
    assert services.alerts_email(alert_ids=[alert.pk]) == 0  # once

    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == [alert.user.email]
    assert message.subject == alert.message
    assert f"- [Toys & games] {alert.message}" in message.body
    html = assert_platform_email(message, link="https://platform.example/watchlists/notifications/")
    assert "<strong>Toys &amp; games</strong>" in html


def test_each_condition_fires_on_its_own_crossing(keepa):
    _user, watchlist, _item = make_watchlist(
        price_above="30.00",
        rank_better_than=1000,
        rank_worse_than=5000,
        buy_box_seller_id="AMYSELLER1",
        alert_buy_box_won=True,
        alert_buy_box_lost=True,
        alert_back_in_stock=True,
        alert_out_of_stock=True,
    )
    start = timezone.now()
    steps = [
        {"price": 2500, "seller": "OTHERSELLER", "rank": 2000},  # lost needs "won" seen first: nothing
        {"price": 3100, "seller": "AMYSELLER1", "rank": 900},  # above 30, won, rank better
        {"price": None, "seller": "AMYSELLER1", "rank": 6000},  # out of stock, lost, rank worse
        {"price": 2000, "seller": "AMYSELLER1", "rank": 6000},  # back in stock, won again
    ]
    raised = []
    for hour, step in enumerate(steps):
        keepa.market.price, keepa.market.seller, keepa.market.rank = (
            step["price"],
            step["seller"],
            step["rank"],
        )
        refresh.watchlist_refresh(watchlist_id=watchlist.pk, slot=start + timedelta(hours=hour))
        raised.append(
            sorted(
                Alert.objects.filter(snapshot__slot=start + timedelta(hours=hour)).values_list(
                    "condition", flat=True
                )
            )
        )
    assert raised == [
        [],
        ["buy_box_won", "price_above", "rank_better"],
        ["buy_box_lost", "out_of_stock", "rank_worse"],
        ["back_in_stock", "buy_box_won"],
    ]


def test_a_redelivered_refresh_charges_and_alerts_once(keepa):
    user, watchlist, _item = make_watchlist(price_below="20.00")
    keepa.market.price = 1500
    slot = timezone.now()
    first = refresh.watchlist_refresh(watchlist_id=watchlist.pk, slot=slot)
    again = refresh.watchlist_refresh(watchlist_id=watchlist.pk, slot=slot.isoformat())
    assert (first.refreshed, first.alerts) == (1, 1)
    assert (again.refreshed, again.alerts) == (0, 0)
    assert len(charges(user)) == 1
    assert balance_get(user=user) == 99
    assert Alert.objects.count() == 1
    assert ItemSnapshot.objects.count() == 1


def test_a_task_that_died_after_charging_is_not_charged_again(keepa):
    user, watchlist, item = make_watchlist()
    slot = timezone.now()
    # The first delivery charged, then its worker died before recording anything.
    credits_charge(user=user, operation="asin_lookup", idempotency_key=refresh._charge_key(item, slot))
    assert balance_get(user=user) == 99
    report = refresh.watchlist_refresh(watchlist_id=watchlist.pk, slot=slot)
    assert report.refreshed == 1
    assert len(charges(user)) == 1
    assert balance_get(user=user) == 99
    assert ItemSnapshot.objects.get(item=item).credits == 1


def test_not_enough_credits_skips_the_refresh_and_charges_nothing(keepa):
    user, watchlist, _item = make_watchlist(credits=1)
    services.watch_item_add(watchlist=watchlist, asin="B0TESTKEE2", marketplace="US")
    report = refresh.watchlist_refresh(watchlist_id=watchlist.pk, slot=timezone.now())
    assert report.skipped == 2
    assert report.refreshed == 0
    assert balance_get(user=user) == 1
    assert charges(user) == []
    assert keepa.requests == 0
    snapshots = list(ItemSnapshot.objects.all())
    assert {s.status for s in snapshots} == {"skipped"}
    assert all(s.error_code == "insufficient_credits" and s.credits == 0 for s in snapshots)
    assert "nothing was charged" in snapshots[0].error_message


def test_an_upstream_failure_is_refunded_and_recorded(keepa):
    user, watchlist, item = make_watchlist()
    keepa.market.status = 500
    report = refresh.watchlist_refresh(watchlist_id=watchlist.pk, slot=timezone.now())
    assert report.failed == 1
    assert balance_get(user=user) == 100
    snapshot = ItemSnapshot.objects.get(item=item)
    assert snapshot.status == "failed"
    assert snapshot.credits == 0
    assert "refunded" in snapshot.error_message


def test_an_item_removed_during_its_refresh_is_refunded(keepa, monkeypatch):
    user, watchlist, item = make_watchlist()
    observe = refresh._observe

    def removed_meanwhile(observed, slot):
        record = observe(observed, slot)
        services.watch_item_delete(item=observed)
        return record

    monkeypatch.setattr(refresh, "_observe", removed_meanwhile)
    report = refresh.watchlist_refresh(watchlist_id=watchlist.pk, slot=timezone.now())

    assert report.failed == 1
    assert balance_get(user=user) == 100
    (refund,) = LedgerEntry.objects.filter(account__user=user, kind="refund")
    assert refund.description == "item_deleted"
    assert refund.refund_of == charges(user)[0]
    assert not ItemSnapshot.objects.filter(item_id=item.pk).exists()


def test_the_dispatcher_queues_due_watchlists_once_per_slot(keepa, monkeypatch):
    queued: list[tuple[int, str]] = []
    monkeypatch.setattr(tasks.watchlist_refresh, "delay", lambda *args: queued.append(args))
    _user, watchlist, _item = make_watchlist(interval="every_6h")
    created = Watchlist.objects.get(pk=watchlist.pk).next_refresh_at
    due = refresh.watchlists_refresh_due(now=created + timedelta(minutes=1))
    assert due == [(watchlist.pk, created)]
    assert queued == [(watchlist.pk, created.isoformat())]  # after commit
    assert Watchlist.objects.get(pk=watchlist.pk).next_refresh_at == created + timedelta(hours=6)
    assert refresh.watchlists_refresh_due(now=created + timedelta(hours=5)) == []
    # The beat was down for a day: one refresh, and the cadence is kept.
    later = created + timedelta(hours=30, minutes=5)
    assert refresh.watchlists_refresh_due(now=later) == [(watchlist.pk, created + timedelta(hours=6))]
    assert Watchlist.objects.get(pk=watchlist.pk).next_refresh_at == created + timedelta(hours=36)


def test_changing_a_threshold_rearms_its_condition(keepa):
    _user, watchlist, item = make_watchlist(price_below="20.00")
    keepa.market.price = 1500
    slot = timezone.now()
    refresh.watchlist_refresh(watchlist_id=watchlist.pk, slot=slot)
    assert not ConditionState.objects.get(item=item).armed
    services.watch_item_update(item=item, thresholds={"price_below": "16.00"})
    refresh.watchlist_refresh(watchlist_id=watchlist.pk, slot=slot + timedelta(hours=1))
    assert Alert.objects.filter(item=item).count() == 2


@pytest.mark.parametrize(
    ("marketplace", "thresholds", "field"),
    [
        ("US", {"price_below": "19.999"}, "price_below"),
        ("JP", {"price_below": "1980.5"}, "price_below"),
        ("US", {"price_above": "-3"}, "price_above"),
        ("US", {"rank_better_than": "0"}, "rank_better_than"),
        ("US", {"alert_buy_box_won": "yes"}, "buy_box_seller_id"),
        ("US", {"alert_out_of_stock": "maybe"}, "alert_out_of_stock"),
    ],
)
def test_bad_thresholds_are_refused_with_the_field(marketplace, thresholds, field):
    user = funded_user(credits=0)
    watchlist = services.watchlist_create(user=user, name="W")
    with pytest.raises(DomainError) as exc:
        services.watch_item_add(
            watchlist=watchlist, asin=ASIN, marketplace=marketplace, thresholds=thresholds
        )
    assert http_status(exc.value) == 400
    assert exc.value.extra["field"] == field


def test_jpy_thresholds_are_whole_yen():
    user = funded_user(credits=0)
    watchlist = services.watchlist_create(user=user, name="W")
    item = services.watch_item_add(
        watchlist=watchlist, asin=ASIN, marketplace="jp", thresholds={"price_below": "1980"}
    )
    assert item.marketplace == "JP"
    assert item.price_below == Decimal("1980")


def test_cost_per_month_is_items_times_refreshes_times_the_lookup_price():
    assert watchlist_cost(interval="hourly", items=3).credits_per_month == 3 * 720
    assert watchlist_cost(interval="every_6h", items=2).credits_per_month == 240
    assert watchlist_cost(interval="daily", items=10).credits_per_month == 300
    assert watchlist_cost(interval="weekly", items=7).credits_per_month == 30
    assert watchlist_cost(interval="weekly", items=1).credits_per_month == 5  # 4.29 rounded up


SANDBOX_ASIN = "B08N5WRWNW"


def test_a_refresh_of_sandbox_data_says_it_is_sample_data_in_its_record_alert_webhook_and_email(settings):
    from webhooks.models import WebhookDelivery
    from webhooks.tests.factories import WebhookEndpointFactory

    settings.PRODUCT_PROVIDERS = ["sandbox"]
    user = funded_user(credits=10)
    watchlist = services.watchlist_create(user=user, name="Sandbox deals", interval="hourly")
    item = services.watch_item_add(
        watchlist=watchlist, asin=SANDBOX_ASIN, marketplace="US", thresholds={"price_below": "99999.00"}
    )
    WebhookEndpointFactory(user=user, events=["alert.raised"])

    refresh.watchlist_refresh(watchlist_id=watchlist.pk, slot=timezone.now())

    snapshot = ItemSnapshot.objects.get(item=item)
    assert (snapshot.status, snapshot.provider, snapshot.sample_data) == ("ok", "sandbox", True)
    alert = Alert.objects.get(item=item)
    assert (alert.provider, alert.sample_data) == ("sandbox", True)
    delivery = WebhookDelivery.objects.get(event="alert.raised")
    assert delivery.payload["data"]["sample_data"] is True
    assert delivery.payload["data"]["provider"] == "sandbox"
    services.alerts_email(alert_ids=[alert.pk])
    message = mail.outbox[0]
    assert message.subject.startswith("[Sample data] ")
    for part in (message.body, html_part(message)):
        assert "Sample data: made up by the sandbox provider, not Amazon's." in part


def test_a_refresh_of_keepa_data_is_not_marked_sample(keepa):
    from webhooks.models import WebhookDelivery
    from webhooks.tests.factories import WebhookEndpointFactory

    user, watchlist, item = make_watchlist(price_below="30.00")
    WebhookEndpointFactory(user=user, events=["alert.raised"])

    refresh.watchlist_refresh(watchlist_id=watchlist.pk, slot=timezone.now())

    snapshot = ItemSnapshot.objects.get(item=item)
    assert (snapshot.provider, snapshot.sample_data) == ("keepa", False)
    alert = Alert.objects.get(item=item)
    assert alert.sample_data is False
    assert WebhookDelivery.objects.get(event="alert.raised").payload["data"]["sample_data"] is False
    services.alerts_email(alert_ids=[alert.pk])
    assert "Sample data" not in mail.outbox[0].subject
    assert "Sample data" not in mail.outbox[0].body
