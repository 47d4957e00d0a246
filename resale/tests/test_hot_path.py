"""The hot lookup path is unchanged by resale: a lookup asks for no fees, its answer has the
same fields as before, and the product cache a profit calculation fills is the lookup's own."""

from __future__ import annotations

import json

import pytest

from credits.selectors import balance_get
from products.providers import fees as fee_sources
from products.providers.base import ProductRecord

ASIN = "B08N5WRWNW"


@pytest.fixture(autouse=True)
def _sandbox(settings):
    settings.PRODUCT_PROVIDERS = ["sandbox"]


@pytest.fixture
def no_fee_calls(monkeypatch):
    calls = []

    def refuse(*args, **kwargs):
        calls.append(args)
        raise AssertionError("a product lookup asked for fees")

    monkeypatch.setattr(fee_sources, "fees_with_fallback", refuse)
    return calls


def test_an_asin_lookup_asks_for_no_fees_and_answers_the_record_as_before(api, user, no_fee_calls):
    response = api.post("/api/v1/products/asin", {"asin": ASIN, "marketplace": "US"}, format="json")
    assert response.status_code == 200
    body = json.loads(response.content)
    # The record's own fields, exactly, and the lookup's: nothing of resale's is added.
    assert set(body) == {"product", "source", "cache", "credits_charged", "credits_remaining"}
    assert set(body["product"]) == set(ProductRecord.from_dict(body["product"]).to_dict())
    assert not any("fee" in key or "profit" in key for key in body["product"])
    assert no_fee_calls == []
    assert balance_get(user=user) == 99


def test_a_profit_after_a_lookup_reads_the_cached_product(api, user, monkeypatch):
    api.post("/api/v1/products/asin", {"asin": ASIN, "marketplace": "US"}, format="json")
    from products.providers.sandbox import SandboxProvider

    def no_upstream(*args, **kwargs):
        raise AssertionError("the product was fetched again")

    monkeypatch.setattr(SandboxProvider, "_fetch_batch", no_upstream)
    response = api.post(
        "/api/v1/products/profit", {"asin": ASIN, "marketplace": "US", "cost": "3"}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["status"] == "ok"
