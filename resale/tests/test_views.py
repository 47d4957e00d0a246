"""Resale pages: the defaults page, the profit page and panel, and the panel on other apps' pages."""

from __future__ import annotations

from decimal import Decimal

import pytest

from credits.selectors import balance_get
from resale.models import ResaleDefaults

ASIN = "B08N5WRWNW"


@pytest.fixture(autouse=True)
def _sandbox(settings):
    settings.PRODUCT_PROVIDERS = ["sandbox"]


@pytest.fixture
def signed_in(client, user):
    client.force_login(user)
    return client


def test_defaults_page_shows_and_saves(signed_in, user):
    page = signed_in.get("/resale/defaults")
    assert page.status_code == 200
    assert b"Resale defaults" in page.content
    assert b"Germany (DE)" in page.content  # the VAT table
    saved = signed_in.post(
        "/resale/defaults",
        {
            "inbound_per_unit": "0.50",
            "inbound_per_kg": "1.20",
            "prep_per_unit": "0.30",
            "vat_registered": "on",
            "target_roi_percent": "40",
        },
    )
    assert saved.status_code == 302
    row = ResaleDefaults.objects.get(user=user)
    assert (row.inbound_per_unit, row.inbound_per_kg, row.prep_per_unit) == (
        Decimal("0.50"),
        Decimal("1.20"),
        Decimal("0.30"),
    )
    assert row.vat_registered
    assert row.target_roi_percent == Decimal("40.00")


def test_defaults_page_refuses_a_negative_amount(signed_in, user):
    page = signed_in.post(
        "/resale/defaults", {"inbound_per_unit": "-1", "inbound_per_kg": "0", "prep_per_unit": "0"}
    )
    assert page.status_code == 200
    assert not ResaleDefaults.objects.filter(user=user).exists()
    assert b"greater than or equal to 0" in page.content


def test_profit_page_get_shows_the_form_and_charges_nothing(signed_in, user):
    page = signed_in.get(f"/resale/profit?asin={ASIN}&marketplace=US")
    assert page.status_code == 200
    assert b'name="cost"' in page.content
    assert balance_get(user=user) == 100


def test_profit_page_post_calculates_and_charges_once(signed_in, user):
    page = signed_in.post(
        "/resale/profit", {"asin": ASIN, "marketplace": "US", "cost": "4.00", "quantity": "2"}
    )
    assert page.status_code == 200
    assert b'id="profit-result"' in page.content
    assert b"Sample data" in page.content
    assert balance_get(user=user) == 99
    again = signed_in.post(
        "/resale/profit/panel", {"asin": ASIN, "marketplace": "US", "cost": "6.00", "quantity": "1"}
    )
    assert b'id="profit-result"' in again.content
    assert b"Not charged" in again.content
    assert b"<html" not in again.content  # the fragment alone
    assert balance_get(user=user) == 99


def test_profit_page_shows_bad_input_and_charges_nothing(signed_in, user):
    page = signed_in.post(
        "/resale/profit", {"asin": ASIN, "marketplace": "US", "cost": "-4", "quantity": "1"}
    )
    assert page.status_code == 200
    assert b'id="profit-result"' not in page.content
    assert balance_get(user=user) == 100
    bad = signed_in.get("/resale/profit?asin=nope&marketplace=US")
    assert bad.status_code == 400


def test_unknown_product_shows_the_error_and_refunds(signed_in, user):
    page = signed_in.post(
        "/resale/profit", {"asin": "B000000404", "marketplace": "US", "cost": "4", "quantity": "1"}
    )
    assert b"No product" in page.content
    assert balance_get(user=user) == 100


def test_anonymous_is_sent_to_log_in(client, db):
    assert client.get("/resale/defaults").status_code == 302
    assert client.post("/resale/profit/panel", {"asin": ASIN}).status_code == 302


def test_lookup_page_carries_the_profit_panel(signed_in):
    page = signed_in.post("/products/", {"asin": ASIN, "marketplace": "US"})
    assert page.status_code == 200
    assert b'id="profit-panel"' in page.content
    assert b'action="/resale/profit"' in page.content


def test_watch_item_page_carries_the_profit_panel(signed_in, user):
    from watchlists import services as watchlists

    watchlist = watchlists.watchlist_create(user=user, name="Picks")
    item = watchlists.watch_item_add(watchlist=watchlist, asin=ASIN, marketplace="DE", thresholds={})
    page = signed_in.get(f"/watchlists/{watchlist.pk}/items/{item.pk}/")
    assert b'id="profit-panel"' in page.content
    assert b'value="DE"' in page.content


def test_scanner_answer_carries_the_profit_panel(signed_in, user):
    from conversion.tests.factories import FnskuMappingFactory

    FnskuMappingFactory(fnsku="X001PROFIT", marketplace="US", asin=ASIN, times_confirmed=3, times_seen=3)
    answer = signed_in.post(
        "/convert/scan/", {"fnsku": "X001PROFIT", "marketplace": "US"}, HTTP_ACCEPT="application/json"
    )
    assert answer.status_code == 200, answer.content
    assert 'id="profit-panel"' in answer.json()["html"]
