"""The watchlists API: CRUD, items, cost preview, CSV import, alerts; another user's ids are 404s."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.tests.factories import api_key_for
from credits.tests.factories import funded_user
from watchlists import services
from watchlists.models import Alert, WatchItem, Watchlist
from watchlists.tests.factories import AlertFactory
from watchlists.tests.helpers import ASIN

pytestmark = pytest.mark.django_db


def client_for(user) -> APIClient:
    client = APIClient()
    _, key = api_key_for(user)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return client


def test_create_list_get_patch_delete(api, user):
    created = api.post("/api/v1/watchlists", {"name": "Deals", "interval": "hourly"}, format="json")
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["name"] == "Deals"
    assert body["interval"] == "hourly"
    assert body["item_count"] == 0
    assert body["cost"] == {
        "interval": "hourly",
        "items": 0,
        "refreshes_per_month": 720.0,
        "credits_per_refresh": 1,
        "credits_per_month": 0,
    }
    wid = body["id"]
    assert created["Location"] == f"/api/v1/watchlists/{wid}"
    assert api.get("/api/v1/watchlists").json()["results"][0]["id"] == wid

    item = api.post(
        f"/api/v1/watchlists/{wid}/items",
        {"asin": " b0testkeep ", "marketplace": "us", "price_below": "19.99", "rank_better_than": 500},
        format="json",
    )
    assert item.status_code == 201, item.content
    assert item.json()["asin"] == ASIN
    assert item.json()["price_below"] == "19.99"
    assert item.json()["latest"] is None
    patched = api.patch(f"/api/v1/watchlists/{wid}", {"interval": "daily"}, format="json")
    assert patched.status_code == 200
    assert patched.json()["cost"]["credits_per_month"] == 30
    assert patched.json()["item_count"] == 1

    item_id = item.json()["id"]
    changed = api.patch(
        f"/api/v1/watchlists/{wid}/items/{item_id}", {"price_below": None, "price_above": "40"}, format="json"
    )
    assert changed.status_code == 200
    assert changed.json()["price_below"] is None
    assert changed.json()["price_above"] == "40.00"
    assert api.get(f"/api/v1/watchlists/{wid}/items").json()["count"] == 1
    assert api.get(f"/api/v1/watchlists/{wid}/items/{item_id}/snapshots").json()["count"] == 0
    assert api.delete(f"/api/v1/watchlists/{wid}/items/{item_id}").status_code == 204
    assert api.delete(f"/api/v1/watchlists/{wid}").status_code == 204
    assert not Watchlist.objects.filter(pk=wid).exists()


def test_bad_input_is_a_clear_400(api, user):
    watchlist = services.watchlist_create(user=user, name="W")
    bad_asin = api.post(f"/api/v1/watchlists/{watchlist.pk}/items", {"asin": "B0SHORT"}, format="json")
    assert bad_asin.status_code == 400
    assert bad_asin.json()["error"]["code"] == "invalid_asin"
    bad_market = api.post(
        f"/api/v1/watchlists/{watchlist.pk}/items", {"asin": ASIN, "marketplace": "XX"}, format="json"
    )
    assert bad_market.json()["error"]["code"] == "invalid_marketplace"
    no_seller = api.post(
        f"/api/v1/watchlists/{watchlist.pk}/items", {"asin": ASIN, "alert_buy_box_lost": True}, format="json"
    )
    assert no_seller.status_code == 400
    assert no_seller.json()["error"]["detail"]["field"] == "buy_box_seller_id"
    yen = api.post(
        f"/api/v1/watchlists/{watchlist.pk}/items",
        {"asin": ASIN, "marketplace": "JP", "price_below": "9.50"},
        format="json",
    )
    assert yen.status_code == 400
    assert "JPY" in yen.json()["error"]["message"]
    bad_interval = api.post("/api/v1/watchlists", {"name": "X", "interval": "minutely"}, format="json")
    assert bad_interval.status_code == 400
    duplicate = api.post("/api/v1/watchlists", {"name": "W"}, format="json")
    assert duplicate.status_code == 409
    assert duplicate.json()["error"]["code"] == "watchlist_exists"
    api.post(f"/api/v1/watchlists/{watchlist.pk}/items", {"asin": ASIN}, format="json")
    again = api.post(f"/api/v1/watchlists/{watchlist.pk}/items", {"asin": ASIN}, format="json")
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "item_exists"


def test_another_users_watchlists_items_and_alerts_are_404(api, user):
    other = funded_user(credits=5)
    theirs = services.watchlist_create(user=other, name="Theirs")
    item = services.watch_item_add(watchlist=theirs, asin=ASIN)
    mine = services.watchlist_create(user=user, name="Mine")
    for method, url in [
        ("get", f"/api/v1/watchlists/{theirs.pk}"),
        ("patch", f"/api/v1/watchlists/{theirs.pk}"),
        ("delete", f"/api/v1/watchlists/{theirs.pk}"),
        ("get", f"/api/v1/watchlists/{theirs.pk}/items"),
        ("post", f"/api/v1/watchlists/{theirs.pk}/items"),
        ("get", f"/api/v1/watchlists/{theirs.pk}/items/{item.pk}"),
        ("delete", f"/api/v1/watchlists/{theirs.pk}/items/{item.pk}"),
        ("get", f"/api/v1/watchlists/{mine.pk}/items/{item.pk}"),  # their item under my list
        ("get", f"/api/v1/watchlists/{theirs.pk}/items/{item.pk}/snapshots"),
        ("post", f"/api/v1/watchlists/{theirs.pk}/import"),
    ]:
        response = getattr(api, method)(url, {"name": "x", "asin": ASIN}, format="json")
        assert response.status_code == 404, (method, url, response.content)
    assert Watchlist.objects.filter(pk=theirs.pk).exists()
    assert WatchItem.objects.filter(pk=item.pk).exists()
    assert api.get("/api/v1/watchlists").json()["count"] == 1
    AlertFactory(
        user=other,
        item=item,
        watchlist_name="Theirs",
        asin=ASIN,
        crossing=1,
        message="theirs",
    )
    assert api.get("/api/v1/watchlists/alerts").json()["count"] == 0
    assert api.post("/api/v1/watchlists/alerts/read", {}, format="json").json() == {"marked": 0}
    assert Alert.objects.get(user=other).read_at is None


def test_cost_preview(api):
    response = api.get("/api/v1/watchlists/cost", {"interval": "every_6h", "items": 25})
    assert response.status_code == 200
    assert response.json()["credits_per_month"] == 25 * 120
    assert api.get("/api/v1/watchlists/cost", {"interval": "never", "items": 1}).status_code == 400
    assert api.get("/api/v1/watchlists/cost", {"interval": "daily", "items": -1}).status_code == 400


def test_csv_import_adds_good_rows_updates_known_ones_and_reports_each_bad_row(api, user):
    watchlist = services.watchlist_create(user=user, name="W")
    services.watch_item_add(watchlist=watchlist, asin=ASIN)
    csv = (
        "asin,marketplace,price_below,alert_out_of_stock,buy_box_seller_id,alert_buy_box_won\n"
        f"{ASIN},US,18.50,1,,\n"  # already there: thresholds updated
        "B0TESTKEE2,DE,9.99,0,A1SELLER,yes\n"
        "B0SHORT,US,,,,\n"  # bad ASIN
        "B0TESTKEE3,XX,,,,\n"  # bad marketplace
        "B0TESTKEE4,US,cheap,,,\n"  # bad price
        "B0TESTKEE5,US,,,,1\n"  # buy box alert without a seller id
        "b0testkee6,,5,,,\n"  # marketplace defaults to US
    )
    response = api.post(
        f"/api/v1/watchlists/{watchlist.pk}/import",
        {"file": SimpleUploadedFile("list.csv", csv.encode(), content_type="text/csv")},
        format="multipart",
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["added"], body["updated"]) == (2, 1)
    assert [(e["row"], e["code"]) for e in body["row_errors"]] == [
        (4, "invalid_asin"),
        (5, "invalid_marketplace"),
        (6, "invalid_threshold"),
        (7, "invalid_threshold"),
    ]
    assert "cheap" in body["row_errors"][2]["message"]
    assert body["watchlist"]["item_count"] == 3
    updated = WatchItem.objects.get(watchlist=watchlist, asin=ASIN)
    assert updated.price_below == Decimal("18.50")
    assert updated.alert_out_of_stock
    de = WatchItem.objects.get(watchlist=watchlist, asin="B0TESTKEE2")
    assert de.marketplace == "DE"
    assert de.buy_box_seller_id == "A1SELLER"
    assert de.alert_buy_box_won
    assert WatchItem.objects.get(watchlist=watchlist, asin="B0TESTKEE6").marketplace == "US"


@pytest.mark.parametrize(
    ("content", "code"),
    [
        (b"", "empty_file"),
        (b"\x00\x01\x02binary", "binary_file"),
        (b"marketplace,price\nUS,3\n", "missing_asin_column"),
        (b'asin,marketplace\n"B0TESTKEEP,US\n', "malformed_csv"),
    ],
)
def test_csv_import_file_problems_are_400_and_import_nothing(api, user, content, code):
    watchlist = services.watchlist_create(user=user, name="W")
    response = api.post(
        f"/api/v1/watchlists/{watchlist.pk}/import",
        {"file": SimpleUploadedFile("list.csv", content, content_type="text/csv")},
        format="multipart",
    )
    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] == code
    assert not WatchItem.objects.filter(watchlist=watchlist).exists()


def test_csv_import_is_bounded(api, user, settings):
    settings.WATCHLIST_IMPORT_MAX_BYTES = 100
    settings.WATCHLIST_MAX_ITEMS = 2
    watchlist = services.watchlist_create(user=user, name="W")
    big = api.post(
        f"/api/v1/watchlists/{watchlist.pk}/import",
        {"file": SimpleUploadedFile("big.csv", b"asin\n" + b"B0TESTKEEP\n" * 20)},
        format="multipart",
    )
    assert big.status_code == 413
    assert big.json()["error"]["code"] == "file_too_large"
    settings.WATCHLIST_IMPORT_MAX_BYTES = 10_000
    long = api.post(
        f"/api/v1/watchlists/{watchlist.pk}/import",
        {"file": SimpleUploadedFile("long.csv", b"asin\nB0TESTKEE1\nB0TESTKEE2\nB0TESTKEE3\n")},
        format="multipart",
    )
    assert long.status_code == 400
    assert long.json()["error"]["code"] == "too_many_rows"
    services.watch_item_add(watchlist=watchlist, asin="B0TESTKEE1")
    full = api.post(
        f"/api/v1/watchlists/{watchlist.pk}/import",
        {"file": SimpleUploadedFile("two.csv", b"asin\nB0TESTKEE2\nB0TESTKEE3\n")},
        format="multipart",
    )
    assert full.status_code == 200
    assert full.json()["added"] == 1
    assert [(e["row"], e["code"]) for e in full.json()["row_errors"]] == [(3, "watchlist_full")]


def test_alerts_list_and_mark_read(api, user):
    watchlist = services.watchlist_create(user=user, name="W")
    item = services.watch_item_add(watchlist=watchlist, asin=ASIN)
    alerts = [
        AlertFactory(
            user=user,
            item=item,
            watchlist_name="W",
            asin=ASIN,
            crossing=n,
            message=f"alert {n}",
            created_at=timezone.now(),
        )
        for n in (1, 2)
    ]
    listed = api.get("/api/v1/watchlists/alerts").json()
    assert [a["message"] for a in listed["results"]] == ["alert 2", "alert 1"]
    assert all(a["read"] is False for a in listed["results"])
    assert api.post("/api/v1/watchlists/alerts/read", {"ids": [alerts[0].pk]}, format="json").json() == {
        "marked": 1
    }
    unread = api.get("/api/v1/watchlists/alerts", {"unread": "true"}).json()
    assert [a["id"] for a in unread["results"]] == [alerts[1].pk]
    assert api.post("/api/v1/watchlists/alerts/read", {}, format="json").json() == {"marked": 1}


def test_the_api_needs_authentication():
    assert APIClient().get("/api/v1/watchlists").status_code in (401, 403)


@pytest.mark.parametrize("field", ["rank_better_than", "rank_worse_than"])
def test_a_rank_threshold_past_what_the_database_stores_is_a_400(api, field):
    wid = api.post("/api/v1/watchlists", {"name": "Big"}, format="json").json()["id"]

    response = api.post(
        f"/api/v1/watchlists/{wid}/items",
        {"asin": "B08N5WRWNW", "marketplace": "US", field: 2**31},
        format="json",
    )

    assert response.status_code == 400, response.content
    assert field in response.json()["error"]["detail"]


def test_an_items_latest_price_is_in_its_currencys_minor_units(api, user):
    from watchlists.models import ItemSnapshot

    watchlist = services.watchlist_create(user=user, name="Euro deals")
    item = services.watch_item_add(watchlist=watchlist, asin=ASIN, marketplace="DE")
    now = timezone.now()
    ItemSnapshot.objects.create(
        item=item, slot=now, taken_at=now, status="ok", currency="EUR", price=Decimal("21.64")
    )

    latest = api.get(f"/api/v1/watchlists/{watchlist.pk}/items/{item.pk}").json()["latest"]

    # SQLite hands the subquery's decimal back as 21.6400000000000: the API says what a price is.
    assert latest["price"] == "21.64"
    assert latest["currency"] == "EUR"


def test_an_items_refreshes_and_alerts_say_whether_they_are_sample_data(api, user):
    from watchlists.models import ItemSnapshot

    watchlist = services.watchlist_create(user=user, name="Mixed")
    item = services.watch_item_add(watchlist=watchlist, asin=ASIN, marketplace="US")
    now = timezone.now()
    older = ItemSnapshot.objects.create(
        item=item,
        slot=now - timedelta(hours=1),
        taken_at=now - timedelta(hours=1),
        status="ok",
        currency="USD",
        price=Decimal("19.99"),
        provider="keepa",
        sample_data=False,
    )
    latest = ItemSnapshot.objects.create(
        item=item,
        slot=now,
        taken_at=now,
        status="ok",
        currency="USD",
        price=Decimal("24.10"),
        provider="sandbox",
        sample_data=True,
    )
    AlertFactory(user=user, item=item, snapshot=latest, provider="sandbox", sample_data=True)

    got = api.get(f"/api/v1/watchlists/{watchlist.pk}/items/{item.pk}").json()["latest"]
    snapshots = api.get(f"/api/v1/watchlists/{watchlist.pk}/items/{item.pk}/snapshots").json()["results"]
    alerts = api.get("/api/v1/watchlists/alerts").json()["results"]

    assert (got["price"], got["provider"], got["sample_data"]) == ("24.10", "sandbox", True)
    assert [(s["price"], s["provider"], s["sample_data"]) for s in snapshots] == [
        ("24.10", "sandbox", True),
        (str(older.price), "keepa", False),
    ]
    assert [(a["provider"], a["sample_data"]) for a in alerts] == [("sandbox", True)]
