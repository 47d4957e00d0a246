"""The fixtures are copies of ../shared/reference; where that exists, they must still match it."""

import json
from pathlib import Path

import pytest

from products.tests.conftest import FIXTURES

REFERENCE = Path(__file__).resolve().parents[2] / ".." / "shared" / "reference"

needs_reference = pytest.mark.skipif(
    not REFERENCE.is_dir(), reason=f"no reference formats at {REFERENCE.resolve()}"
)


@needs_reference
@pytest.mark.parametrize("name", ["product-response.json", "product-response.expected.json"])
def test_keepa_fixtures_match_the_reference(name):
    reference = json.loads((REFERENCE / "keepa" / name).read_text())
    assert json.loads((FIXTURES / "keepa" / name).read_text()) == reference


@needs_reference
def test_spapi_fixtures_match_the_reference_models():
    catalog = json.loads((REFERENCE / "sp-api" / "catalogItems_2022-04-01.json").read_text())
    pricing = json.loads((REFERENCE / "sp-api" / "productPricingV0.json").read_text())
    get_item = catalog["paths"]["/catalog/2022-04-01/items/{asin}"]["get"]
    offers = pricing["paths"]["/products/pricing/v0/items/{Asin}/offers"]["get"]
    sandbox = offers["responses"]["200"]["x-amzn-api-sandbox"]["static"]

    def fixture(name):
        return json.loads((FIXTURES / "spapi" / name).read_text())

    assert fixture("getCatalogItem.200.json") == get_item["responses"]["200"]["examples"]["application/json"]
    assert fixture("getItemOffers.200.consumer.json") == sandbox[0]["response"]
    assert fixture("getItemOffers.200.business.json") == sandbox[1]["response"]
    batch = pricing["paths"]["/batches/products/pricing/v0/itemOffers"]["post"]["responses"]["200"]
    assert fixture("getItemOffersBatch.200.json") == batch["x-amzn-api-sandbox"]["static"][0]["response"]
    assert (
        fixture("getItemOffers.400.json")
        == offers["responses"]["400"]["x-amzn-api-sandbox"]["static"][0]["response"]
    )
    assert fixture("usage-plans.json") == {
        "getCatalogItem": get_item["description"],
        "getItemOffers": offers["description"],
    }


def test_spapi_license_travels_with_the_fixtures():
    assert "Apache License" in (FIXTURES / "spapi" / "LICENSE").read_text()
    assert "Amazon.com" in (FIXTURES / "spapi" / "NOTICE").read_text()
