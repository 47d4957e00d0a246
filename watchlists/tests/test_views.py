"""Watchlist pages: create with a cost preview, items and thresholds, charts, CSV import, notifications."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone

from credits.tests.factories import funded_user
from watchlists import services
from watchlists.models import Alert, ItemSnapshot, WatchItem, Watchlist
from watchlists.tests.factories import AlertFactory
from watchlists.tests.helpers import ASIN

pytestmark = pytest.mark.django_db


@pytest.fixture
def client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def no_inline_scripts(html: str) -> bool:
    scripts = re.findall(r"<script(?P<attrs>[^>]*)>(?P<body>.*?)</script>", html, flags=re.S)
    inline = [
        body for attrs, body in scripts if "src=" not in attrs and 'type="application/json"' not in attrs
    ]
    return not any(body.strip() for body in inline) and not re.search(r"\son[a-z]+=", html)


def test_the_nav_links_to_watchlists(client):
    assert 'href="/watchlists/"' in client.get("/watchlists/").content.decode()


def test_create_shows_the_cost_first_then_saves(client, user):
    preview = client.post(
        "/watchlists/", {"name": "Deals", "interval": "hourly", "preview": "1", "items": "4"}
    )
    assert preview.status_code == 200
    assert not Watchlist.objects.exists()
    assert "2,880 credits a month" in preview.content.decode()
    created = client.post("/watchlists/", {"name": "Deals", "interval": "hourly"})
    watchlist = Watchlist.objects.get(user=user)
    assert created.status_code == 302
    assert created["Location"] == f"/watchlists/{watchlist.pk}/"
    page = client.get("/watchlists/")
    assert "Deals" in page.content.decode()
    assert no_inline_scripts(page.content.decode())
    duplicate = client.post("/watchlists/", {"name": "Deals", "interval": "daily"})
    assert duplicate.status_code == 400
    assert "already have a watchlist" in duplicate.content.decode()


def test_the_cost_partial_is_computed_on_the_server(client):
    response = client.get("/watchlists/cost", {"interval": "every_6h", "items": "3"})
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="cost-preview"' in html
    assert "360 credits a month" in html


def test_edit_previews_the_new_interval_cost_before_saving(client, user):
    watchlist = services.watchlist_create(user=user, name="W", interval="daily")
    services.watch_item_add(watchlist=watchlist, asin=ASIN)
    services.watch_item_add(watchlist=watchlist, asin="B0TESTKEE2")
    preview = client.post(
        f"/watchlists/{watchlist.pk}/edit", {"name": "W", "interval": "hourly", "preview": "1"}
    )
    assert "1,440 credits a month" in preview.content.decode()
    assert Watchlist.objects.get(pk=watchlist.pk).interval == "daily"
    saved = client.post(f"/watchlists/{watchlist.pk}/edit", {"name": "W2", "interval": "hourly"})
    assert saved.status_code == 302
    assert Watchlist.objects.get(pk=watchlist.pk).interval == "hourly"


def test_add_items_with_thresholds_and_see_errors(client, user):
    watchlist = services.watchlist_create(user=user, name="W")
    ok = client.post(
        f"/watchlists/{watchlist.pk}/items/add",
        {"asin": ASIN.lower(), "marketplace": "US", "price_below": "19.99", "alert_out_of_stock": "on"},
    )
    assert ok.status_code == 302
    item = WatchItem.objects.get(watchlist=watchlist)
    assert item.price_below == Decimal("19.99")
    assert item.alert_out_of_stock
    bad = client.post(f"/watchlists/{watchlist.pk}/items/add", {"asin": "NOPE", "marketplace": "US"})
    assert bad.status_code == 400
    assert "exactly 10 characters" in bad.content.decode()
    no_seller = client.post(
        f"/watchlists/{watchlist.pk}/items/add",
        {"asin": "B0TESTKEE2", "marketplace": "US", "alert_buy_box_won": "on"},
    )
    assert no_seller.status_code == 400
    assert "need your seller id" in no_seller.content.decode()
    detail = client.get(f"/watchlists/{watchlist.pk}/")
    assert ASIN in detail.content.decode()
    assert no_inline_scripts(detail.content.decode())


def test_csv_import_on_the_page_reports_each_bad_row(client, user):
    watchlist = services.watchlist_create(user=user, name="W")
    upload = SimpleUploadedFile(
        "l.csv", f"asin,marketplace,price_below\n{ASIN},US,10\nBAD,US,\nB0TESTKEE2,US,-1\n".encode()
    )
    response = client.post(f"/watchlists/{watchlist.pk}/import", {"file": upload})
    html = response.content.decode()
    assert response.status_code == 200
    assert "1 added, 0 updated, 2 rows with errors" in html
    assert re.search(r"<td>3</td><td><code>BAD</code></td>", html)
    assert "a price must be above 0" in html
    assert WatchItem.objects.filter(watchlist=watchlist).count() == 1
    binary = client.post(
        f"/watchlists/{watchlist.pk}/import", {"file": SimpleUploadedFile("x.csv", b"\x00\x00\x01")}
    )
    assert binary.status_code == 400
    assert "Nothing was imported" in binary.content.decode()


def test_a_csv_over_the_size_limit_is_refused_on_the_page(client, user, settings):
    settings.WATCHLIST_IMPORT_MAX_BYTES = 100
    watchlist = services.watchlist_create(user=user, name="W")
    upload = SimpleUploadedFile("big.csv", b"asin\n" + f"{ASIN}\n".encode() * 20)

    response = client.post(f"/watchlists/{watchlist.pk}/import", {"file": upload})

    assert response.status_code == 413
    assert "the limit is" in response.content.decode()
    assert not WatchItem.objects.filter(watchlist=watchlist).exists()


def test_item_page_draws_history_charts_from_stored_refreshes(client, user):
    watchlist = services.watchlist_create(user=user, name="W")
    item = services.watch_item_add(watchlist=watchlist, asin=ASIN)
    start = timezone.now() - timedelta(hours=3)
    for hour, (price, rank) in enumerate([("25.00", 1500), ("19.50", 1200), (None, None)]):
        ItemSnapshot.objects.create(
            item=item,
            slot=start + timedelta(hours=hour),
            taken_at=start + timedelta(hours=hour),
            status="ok",
            currency="USD" if price else "",
            price=Decimal(price) if price else None,
            sales_rank=rank,
            in_stock=bool(price),
        )
    ItemSnapshot.objects.create(
        item=item, slot=start + timedelta(hours=4), status="skipped", error_message="Not enough credits"
    )
    page = client.get(f"/watchlists/{watchlist.pk}/items/{item.pk}/")
    html = page.content.decode()
    assert page.status_code == 200
    assert no_inline_scripts(html)
    assert 'src="/static/watchlists/watchlists.js"' in html
    assert "vendor/chartjs/chart.umd.js" in html
    data = json.loads(
        re.search(
            r'<script id="watch-history-data" type="application/json">(.*?)</script>', html, re.S
        ).group(1)
    )
    assert data["currency"] == "USD"
    assert [p[1] for p in data["price"]] == ["25.00", "19.50", None]
    assert [p[1] for p in data["rank"]] == [1500, 1200, None]
    assert 'id="price-chart"' in html
    assert 'id="rank-chart"' in html
    assert "Not enough credits" in html


def test_thresholds_edit_and_delete(client, user):
    watchlist = services.watchlist_create(user=user, name="W")
    item = services.watch_item_add(watchlist=watchlist, asin=ASIN)
    saved = client.post(
        f"/watchlists/{watchlist.pk}/items/{item.pk}/",
        {"rank_worse_than": "5000", "buy_box_seller_id": "a1b2"},
    )
    assert saved.status_code == 302
    item.refresh_from_db()
    assert item.rank_worse_than == 5000
    assert item.buy_box_seller_id == "A1B2"
    assert client.post(f"/watchlists/{watchlist.pk}/items/{item.pk}/delete").status_code == 302
    assert not WatchItem.objects.filter(pk=item.pk).exists()
    assert client.post(f"/watchlists/{watchlist.pk}/delete").status_code == 302
    assert not Watchlist.objects.filter(pk=watchlist.pk).exists()


def test_another_users_pages_are_404(client):
    other = funded_user(credits=0)
    theirs = services.watchlist_create(user=other, name="Theirs")
    item = services.watch_item_add(watchlist=theirs, asin=ASIN)
    alert = AlertFactory(
        user=other,
        item=item,
        watchlist_name="Theirs",
        asin=ASIN,
        crossing=1,
        message="theirs",
    )
    for method, url in [
        ("get", f"/watchlists/{theirs.pk}/"),
        ("get", f"/watchlists/{theirs.pk}/edit"),
        ("post", f"/watchlists/{theirs.pk}/delete"),
        ("post", f"/watchlists/{theirs.pk}/items/add"),
        ("post", f"/watchlists/{theirs.pk}/import"),
        ("get", f"/watchlists/{theirs.pk}/items/{item.pk}/"),
        ("post", f"/watchlists/{theirs.pk}/items/{item.pk}/delete"),
    ]:
        assert getattr(client, method)(url).status_code == 404, url
    assert client.post("/watchlists/notifications/read", {"alert": alert.pk}).status_code == 404
    assert Watchlist.objects.filter(pk=theirs.pk).exists()
    assert Alert.objects.get(pk=alert.pk).read_at is None


def test_notifications_list_read_and_unread(client, user):
    watchlist = services.watchlist_create(user=user, name="W")
    item = services.watch_item_add(watchlist=watchlist, asin=ASIN)
    first, second = (
        AlertFactory(
            user=user,
            item=item,
            watchlist_name="W",
            asin=ASIN,
            crossing=n,
            message=f"{ASIN} (US): alert number {n}",
        )
        for n in (1, 2)
    )
    page = client.get("/watchlists/notifications/")
    html = page.content.decode()
    assert "2 unread" in html
    assert "alert number 1" in html
    assert no_inline_scripts(html)
    assert client.post("/watchlists/notifications/read", {"alert": first.pk}).status_code == 302
    first.refresh_from_db()
    assert first.read_at is not None
    unread = client.get("/watchlists/notifications/?unread=1").content.decode()
    assert "alert number 2" in unread
    assert "alert number 1" not in unread
    client.post("/watchlists/notifications/read")
    second.refresh_from_db()
    assert second.read_at is not None
    assert "0 unread" in client.get("/watchlists/notifications/").content.decode()


def test_pages_need_login():
    response = Client().get("/watchlists/")
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


def test_prices_are_shown_in_the_currencys_minor_units(client, user):
    watchlist = services.watchlist_create(user=user, name="W")
    for asin, price, currency in [
        ("B000000001", "21.64", "EUR"),
        ("B000000002", "1980", "JPY"),
        ("B000000003", "1234.5", "USD"),
    ]:
        item = services.watch_item_add(watchlist=watchlist, asin=asin)
        ItemSnapshot.objects.create(
            item=item,
            slot=timezone.now(),
            taken_at=timezone.now(),
            status="ok",
            currency=currency,
            price=Decimal(price),
            in_stock=True,
        )

    html = client.get(f"/watchlists/{watchlist.pk}/").content.decode()

    assert "€21.64" in html
    assert "¥1,980" in html
    assert "$1,234.50" in html
    assert "21.6400" not in html
    assert " EUR" not in html


def test_an_items_page_shows_prices_and_refresh_times_in_plain_words(client, user):
    watchlist = services.watchlist_create(user=user, name="W")
    item = services.watch_item_add(watchlist=watchlist, asin="B000000001", marketplace="DE")
    ItemSnapshot.objects.create(
        item=item,
        slot=timezone.now(),
        taken_at=timezone.now(),
        status="ok",
        currency="EUR",
        price=Decimal("21.6400000000000"),
        in_stock=True,
    )

    html = client.get(f"/watchlists/{watchlist.pk}/items/{item.pk}/").content.decode()

    latest = re.search(r'<p id="item-latest">(.*?)</p>', html, re.S)
    assert latest is not None
    assert "€21.64" in latest.group(1)
    snapshots = re.search(r'<table id="item-snapshots">(.*?)</table>', html, re.S)
    assert snapshots is not None
    assert "€21.64" in snapshots.group(1)
    assert re.search(r"<td>\d{1,2} [A-Z][a-z]{2} \d{4}, \d\d:\d\d [A-Z+\-0-9]+</td>", snapshots.group(1))
    assert "21.6400" not in html
    assert "EUR</td>" not in html


@pytest.mark.parametrize(("marketplace", "step", "currency"), [("US", "0.01", "USD"), ("JP", "1", "JPY")])
def test_threshold_inputs_are_labelled_number_fields_in_the_marketplaces_minor_unit(
    client, user, marketplace, step, currency
):
    watchlist = services.watchlist_create(user=user, name="W")
    item = services.watch_item_add(watchlist=watchlist, asin="B000000001", marketplace=marketplace)

    html = client.get(f"/watchlists/{watchlist.pk}/items/{item.pk}/").content.decode()

    for name in ("price_below", "price_above"):
        field = re.search(rf'<input type="number" name="{name}"[^>]*>', html)
        assert field is not None, name
        assert f'step="{step}"' in field.group(0)
        assert f'min="{step}"' in field.group(0)
        assert f'aria-describedby="id_{name}_helptext"' in field.group(0)
        assert f'<label for="id_{name}">' in html
        help_text = re.search(rf'<small class="muted" id="id_{name}_helptext">([^<]*)</small>', html)
        assert help_text is not None
        assert f"In {currency}." in help_text.group(1)
    for name in ("rank_better_than", "rank_worse_than"):
        field = re.search(rf'<input type="number" name="{name}"[^>]*>', html)
        assert field is not None, name
        assert 'step="1"' in field.group(0)
        assert 'min="1"' in field.group(0)
        assert f'<label for="id_{name}">' in html
    assert 'id="id_buy_box_seller_id_helptext"' in html


def test_the_add_form_names_no_currency_until_the_marketplace_is_chosen(client, user):
    watchlist = services.watchlist_create(user=user, name="W")

    html = client.get(f"/watchlists/{watchlist.pk}/").content.decode()

    field = re.search(r'<input type="number" name="price_below"[^>]*>', html)
    assert field is not None
    assert 'step="0.01"' in field.group(0)
    assert "In the marketplace&#x27;s currency." in html


def test_a_refused_threshold_shows_its_error_beside_the_field(client, user):
    watchlist = services.watchlist_create(user=user, name="W")
    item = services.watch_item_add(watchlist=watchlist, asin="B000000001", marketplace="JP")

    response = client.post(f"/watchlists/{watchlist.pk}/items/{item.pk}/", {"price_below": "19.99"})

    assert response.status_code == 400
    html = response.content.decode()
    field_block = re.search(
        r'<div class="threshold-field">\s*<label for="id_price_below">.*?</div>', html, re.S
    )
    assert field_block is not None
    assert "JPY prices have" in field_block.group(0)
    item.refresh_from_db()
    assert item.price_below is None


def test_every_watchlist_table_scrolls_on_its_own(client, user):
    watchlist = services.watchlist_create(user=user, name="W")
    item = services.watch_item_add(watchlist=watchlist, asin="B000000001")
    ItemSnapshot.objects.create(item=item, slot=timezone.now(), taken_at=timezone.now(), status="ok")
    AlertFactory(user=user, item=item, watchlist_name="W", asin="B000000001", crossing=1)

    for url in (
        "/watchlists/",
        f"/watchlists/{watchlist.pk}/",
        f"/watchlists/{watchlist.pk}/items/{item.pk}/",
        "/watchlists/notifications/",
    ):
        html = client.get(url).content.decode()
        wrapped = re.findall(r'<div class="table-scroll" tabindex="0">\s*<table', html)
        assert html.count("<table") == len(wrapped), url
        assert "<table" in html, url


def test_sample_data_is_marked_on_the_watchlist_item_and_notifications_pages(client, user):
    watchlist = services.watchlist_create(user=user, name="W")
    real = services.watch_item_add(watchlist=watchlist, asin="B000000001")
    sample = services.watch_item_add(watchlist=watchlist, asin="B000000002")
    now = timezone.now()
    for item, provider in ((real, "keepa"), (sample, "sandbox")):
        snapshot = ItemSnapshot.objects.create(
            item=item,
            slot=now,
            taken_at=now,
            status="ok",
            currency="USD",
            price=Decimal("12.34"),
            in_stock=True,
            provider=provider,
            sample_data=provider == "sandbox",
        )
        AlertFactory(
            user=user,
            item=item,
            snapshot=snapshot,
            message=f"{item.asin} alert",
            provider=provider,
            sample_data=provider == "sandbox",
        )

    rows = re.findall(r"<tr>.*?</tr>", client.get(f"/watchlists/{watchlist.pk}/").content.decode(), re.S)
    sample_page = client.get(f"/watchlists/{watchlist.pk}/items/{sample.pk}/").content.decode()
    real_page = client.get(f"/watchlists/{watchlist.pk}/items/{real.pk}/").content.decode()
    notifications = client.get("/watchlists/notifications/").content.decode()

    assert ["Sample data" in row for row in rows if "B00000000" in row] == [False, True]
    assert 'id="item-sample"' in sample_page
    assert 'id="history-sample"' in sample_page
    assert "Sample data</span></td>" in sample_page.split('id="item-snapshots"')[1]
    assert "Sample data" in sample_page.split('id="item-alerts"')[1].split("</ul>")[0]
    assert "Sample data" not in real_page
    sample_row = next(r for r in re.findall(r"<tr.*?</tr>", notifications, re.S) if "B000000002 alert" in r)
    real_row = next(r for r in re.findall(r"<tr.*?</tr>", notifications, re.S) if "B000000001 alert" in r)
    assert "Sample data" in sample_row
    assert "Sample data" not in real_row
