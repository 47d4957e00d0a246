"""POST /api/v1/products/profit (charge, free while fresh, refund, 402) and /api/v1/resale/defaults."""

from __future__ import annotations

from decimal import Decimal

import pytest

from credits.selectors import balance_get
from credits.tests.factories import funded_user
from resale.models import ResaleDefaults

D = Decimal
URL = "/api/v1/products/profit"
DEFAULTS_URL = "/api/v1/resale/defaults"
ASIN = "B07XJ8C8F5"


@pytest.fixture(autouse=True)
def _sandbox(settings):
    settings.PRODUCT_PROVIDERS = ["sandbox"]


def test_profit_is_charged_as_one_lookup_and_adds_up(api, user):
    response = api.post(URL, {"asin": ASIN, "marketplace": "DE", "cost": "5.00"}, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "ok"
    assert body["currency"] == "EUR"
    assert body["sample"] is True
    assert body["credits_charged"] == 1
    assert response["X-Credits-Remaining"] == "99"
    assert balance_get(user=user) == 99
    # Not VAT-registered: net = sale - fees, profit = net - cost.
    assert D(body["net_proceeds"]) == D(body["sale_price"]) - D(body["fees"]["total"])
    assert D(body["profit"]) == D(body["net_proceeds"]) - D("5.00")
    assert body["fees"]["source"] == "sandbox"


def test_same_asin_again_while_fresh_is_not_charged_other_asins_are(api, user):
    first = api.post(URL, {"asin": ASIN, "marketplace": "US", "cost": "5"}, format="json")
    again = api.post(URL, {"asin": ASIN, "marketplace": "US", "cost": "7.5", "quantity": 4}, format="json")
    assert first.status_code == again.status_code == 200
    assert again.json()["credits_charged"] == 0
    assert again.json()["quantity"] == 4
    assert D(again.json()["profit"]) == D(first.json()["profit"]) - D("2.50")
    assert balance_get(user=user) == 99
    other_market = api.post(URL, {"asin": ASIN, "marketplace": "UK", "cost": "5"}, format="json")
    assert other_market.json()["credits_charged"] == 1
    assert balance_get(user=user) == 98


def test_fresh_marker_ends_with_the_product_cache(api, user, settings):
    settings.PRODUCT_CACHE_SECONDS = 1
    api.post(URL, {"asin": ASIN, "cost": "5"}, format="json")
    from django.core.cache import cache

    keys = cache.client.get_client().keys("*resale-profit-paid*")  # type: ignore[attr-defined]
    assert keys
    assert 0 < cache.client.get_client().ttl(keys[0]) <= 1  # type: ignore[attr-defined]


def test_unknown_product_is_refunded_404(api, user):
    response = api.post(URL, {"asin": "B000000404", "cost": "5"}, format="json")
    assert response.status_code == 404
    assert balance_get(user=user) == 100
    # A refunded calculation leaves no "paid" marker: the next one pays again.
    assert api.post(URL, {"asin": "B000000404", "cost": "5"}, format="json").status_code == 404
    assert balance_get(user=user) == 100


def test_upstream_outage_is_refunded_503(api, user):
    response = api.post(URL, {"asin": "B000000503", "cost": "5"}, format="json")
    assert response.status_code == 503
    assert balance_get(user=user) == 100


def test_fees_unavailable_is_a_status_and_refunded(api, user, settings, monkeypatch):
    from products.providers import fees as fee_sources
    from products.providers.base import UpstreamUnavailable

    def down(self, items, marketplace):
        raise UpstreamUnavailable("fees down", provider="sandbox")

    monkeypatch.setattr(fee_sources.SandboxFees, "_estimate_batch", down)
    response = api.post(URL, {"asin": ASIN, "cost": "5"}, format="json")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "fees_unavailable"
    assert body["profit"] is None
    assert body["fees"]["total"] is None
    assert body["credits_charged"] == 0
    assert balance_get(user=user) == 100
    assert response["X-Credits-Remaining"] == "100"


@pytest.mark.django_db
def test_no_credits_is_402_and_charges_nothing():
    from rest_framework.test import APIClient

    from accounts.tests.factories import api_key_for

    poor = funded_user(credits=0)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key_for(poor)[1]}")
    response = client.post(URL, {"asin": ASIN, "cost": "5"}, format="json")
    assert response.status_code == 402
    assert response.json()["error"]["code"] == "insufficient_credits"
    assert balance_get(user=poor) == 0


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        ({"asin": "nope", "cost": "5"}, "invalid_asin"),
        ({"asin": ASIN, "marketplace": "XX", "cost": "5"}, "invalid_marketplace"),
        ({"asin": ASIN, "cost": "-1"}, "invalid_cost"),
        ({"asin": ASIN, "cost": "abc"}, "invalid_cost"),
        ({"asin": ASIN, "cost": "5", "quantity": 0}, "invalid"),
        ({"asin": ASIN}, "invalid"),
        ({"asin": ASIN, "cost": "5", "overrides": {"prep_per_unit": "-2"}}, "invalid"),
    ],
)
def test_bad_input_is_400_and_charges_nothing(api, user, payload, code):
    response = api.post(URL, payload, format="json")
    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"].startswith(code)
    assert balance_get(user=user) == 100


def test_saved_defaults_and_overrides_are_used(api, user):
    saved = api.put(
        DEFAULTS_URL,
        {
            "prep_per_unit": "0.40",
            "inbound_per_unit": "0.60",
            "vat_registered": True,
            "target_roi_percent": "30",
        },
        format="json",
    )
    assert saved.status_code == 200
    assert saved.json() == {
        "inbound_per_unit": "0.60",
        "inbound_per_kg": "0.00",
        "prep_per_unit": "0.40",
        "vat_registered": True,
        "target_roi_percent": "30.00",
    }
    body = api.post(URL, {"asin": ASIN, "marketplace": "DE", "cost": "10"}, format="json").json()
    assert body["prep"] == "0.40"
    assert body["inbound"] == "0.60"
    assert body["vat_rate"] == "19"
    assert body["target_roi_percent"] == "30.00"
    assert body["max_cost_for_target_roi"] is not None
    overridden = api.post(
        URL,
        {
            "asin": ASIN,
            "marketplace": "DE",
            "cost": "10",
            "overrides": {"vat_registered": False, "prep_per_unit": "0"},
        },
        format="json",
    ).json()
    assert overridden["vat_rate"] is None
    assert overridden["prep"] == "0.00"
    # The saved defaults are unchanged by an override.
    assert api.get(DEFAULTS_URL).json()["vat_registered"] is True


def test_defaults_get_without_saved_ones_and_partial_put(api, user):
    assert api.get(DEFAULTS_URL).json() == {
        "inbound_per_unit": "0.00",
        "inbound_per_kg": "0.00",
        "prep_per_unit": "0.00",
        "vat_registered": False,
        "target_roi_percent": None,
    }
    api.put(DEFAULTS_URL, {"inbound_per_kg": "1.25"}, format="json")
    api.put(DEFAULTS_URL, {"prep_per_unit": "0.10"}, format="json")
    row = ResaleDefaults.objects.get(user=user)
    assert (row.inbound_per_kg, row.prep_per_unit) == (D("1.25"), D("0.10"))
    bad = api.put(DEFAULTS_URL, {"inbound_per_kg": "-1"}, format="json")
    assert bad.status_code == 400


@pytest.mark.django_db
def test_defaults_are_per_user(api, user):
    api.put(DEFAULTS_URL, {"prep_per_unit": "0.50"}, format="json")
    other = funded_user(credits=0)
    assert not ResaleDefaults.objects.filter(user=other).exists()


def test_anonymous_is_refused(client, db):
    assert client.post(URL, {"asin": ASIN, "cost": "5"}, content_type="application/json").status_code in (
        401,
        403,
    )
    assert client.get(DEFAULTS_URL).status_code in (401, 403)
