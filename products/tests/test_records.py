import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from products.marketplaces import marketplace_get
from products.providers.base import Money, ProductRecord
from products.providers.keepa import KeepaProvider
from products.providers.sandbox import SandboxProvider
from products.serializers import ProductRecordSerializer
from products.tests.conftest import KEEPA_PRODUCT_URL, load_fixture


def test_money_from_minor_units_and_rounding():
    assert str(Money.from_minor_units(2199, "USD")) == "21.99 USD"
    assert str(Money.from_minor_units(1980, "JPY")) == "1980 JPY"
    assert str(Money.of(Decimal("10.0"), "USD")) == "10.00 USD"
    assert str(Money.of(Decimal("10.005"), "EUR")) == "10.01 EUR"
    assert str(Money.of(Decimal("1980.4"), "JPY")) == "1980 JPY"
    assert str(Money.of(1, "USD") + Money.of(Decimal("0.5"), "USD")) == "1.50 USD"
    assert str(Money.of(10, "USD") - Money.of(Decimal("5.01"), "USD")) == "4.99 USD"
    with pytest.raises(ValueError, match="cannot add"):
        Money.of(1, "USD") + Money.of(1, "EUR")


def test_sandbox_record_survives_json_and_back():
    record = SandboxProvider(clock=lambda: datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)).fetch_one(
        "B08N5WRWNW", marketplace_get("UK")
    )

    data = json.loads(json.dumps(record.to_dict()))

    assert data["fetched_at"] == "2026-01-02T03:04:05Z"
    assert data["price"] == {"amount": str(record.price.amount), "currency": "GBP"}
    assert data["record_version"] == 3
    assert data["price_basis"] == "landed"
    assert ProductRecord.from_dict(data) == record


def test_sandbox_prices_are_landed_with_their_parts():
    record = SandboxProvider().fetch_one("B08N5WRWNW", marketplace_get("DE"))

    assert record.price == record.buy_box.landed_price
    for name in ("price", "lowest_new_price"):
        parts = record.parts(name)
        assert parts.basis == "landed"
        assert parts.listing + parts.shipping == getattr(record, name)


def test_a_record_stored_before_prices_were_landed_still_reads(keepa_settings, rsps):
    rsps.get(KEEPA_PRODUCT_URL, json=load_fixture("keepa/product-response.json"))
    data = json.loads(json.dumps(KeepaProvider().fetch_one("B0TESTKEEP", marketplace_get("US")).to_dict()))
    # Version 1 had no price_basis or price_parts.
    old = {key: value for key, value in data.items() if key not in ("price_basis", "price_parts")}
    old["record_version"] = 1
    old["history"] = [
        {key: value for key, value in h.items() if key not in ("basis", "landed_since")}
        for h in data["history"]
    ]

    record = ProductRecord.from_dict(old)

    assert record.price_basis is None
    assert record.parts("price") is None
    assert str(record.price) == "21.99 USD"
    assert record.to_dict()["price_parts"] == {}
    assert {h.basis for h in record.history} == {None}
    assert ProductRecordSerializer(data=old).is_valid(), "an old record still fits the documented shape"


def test_records_fit_the_documented_api_shape(keepa_settings, rsps):
    rsps.get(KEEPA_PRODUCT_URL, json=load_fixture("keepa/product-response.json"))
    keepa = KeepaProvider().fetch_one("B0TESTKEEP", marketplace_get("US")).to_dict()
    sandbox = SandboxProvider().fetch_one("B08N5WRWNW", marketplace_get("UK")).to_dict()

    for data in (keepa, sandbox):
        serializer = ProductRecordSerializer(data=json.loads(json.dumps(data)))
        assert serializer.is_valid(), serializer.errors
        assert set(data) == set(ProductRecordSerializer().fields)


def test_keepa_record_survives_json_and_back(keepa_settings, rsps):
    rsps.get(KEEPA_PRODUCT_URL, json=load_fixture("keepa/product-response.json"))
    record = KeepaProvider().fetch_one("B0TESTKEEP", marketplace_get("US"))

    data = json.loads(json.dumps(record.to_dict()))

    assert data["buy_box"] == {
        "price": {"amount": "21.99", "currency": "USD"},
        "shipping": {"amount": "0.00", "currency": "USD"},
        "landed_price": {"amount": "21.99", "currency": "USD"},
        "seller_id": "ATVPDKIKX0DER",
        "is_fba": True,
    }
    assert data["package_dimensions"]["weight"] == {"value": "499", "unit": "g"}
    amazon = next(h for h in data["history"] if h["metric"] == "amazon_price")
    assert amazon["points"][1][1] is None
    assert ProductRecord.from_dict(data) == record


def test_a_keepa_record_with_sales_velocity_survives_json_and_back(keepa_settings, rsps):
    body = load_fixture("keepa/product-response.json")
    product = body["products"][0]
    product.update(monthlySold=2000, lastSoldUpdate=8326800)
    product["stats"].update(salesRankDrops30=12, salesRankDrops90=40, salesRankDrops180=-1)
    rsps.get(KEEPA_PRODUCT_URL, json=body)
    record = KeepaProvider().fetch_one("B0TESTKEEP", marketplace_get("US"))

    data = json.loads(json.dumps(record.to_dict()))

    assert data["record_version"] == 3
    assert data["sales_velocity"] == {
        "source": "keepa",
        "monthly_sold": 2000,
        "monthly_sold_as_of": "2026-10-31T12:00:00Z",
        "rank_drops_30": 12,
        "rank_drops_90": 40,
        "rank_drops_180": None,
        "rank_drops_365": None,
        "rank_drops_as_of": "2026-10-31T16:30:00Z",
        "unavailable": None,
    }
    assert ProductRecord.from_dict(data) == record
    serializer = ProductRecordSerializer(data=data)
    assert serializer.is_valid(), serializer.errors


def test_a_record_stored_before_sales_velocity_still_reads(keepa_settings, rsps):
    rsps.get(KEEPA_PRODUCT_URL, json=load_fixture("keepa/product-response.json"))
    data = json.loads(json.dumps(KeepaProvider().fetch_one("B0TESTKEEP", marketplace_get("US")).to_dict()))
    old = {key: value for key, value in data.items() if key != "sales_velocity"}
    old["record_version"] = 2

    record = ProductRecord.from_dict(old)

    assert record.sales_velocity is None
    assert record.to_dict()["sales_velocity"] is None
    assert ProductRecordSerializer(data=old).is_valid(), "a version 2 record still fits the documented shape"
