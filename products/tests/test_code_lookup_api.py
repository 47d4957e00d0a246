"""POST /api/v1/products/code: a barcode to its ASINs, charged, refunded, replayed, cached."""

import uuid

import pytest
from rest_framework.test import APIClient

from accounts.tests.factories import api_key_for
from credits.models import LedgerEntry, Price
from credits.selectors import balance_get
from credits.tests.factories import funded_user
from products.models import Product
from products.providers.sandbox import NOT_FOUND_CODE, OUTAGE_CODE, code_asins
from products.tests.conftest import KEEPA_PRODUCT_URL, load_fixture

pytestmark = pytest.mark.django_db

URL = "/api/v1/products/code"
EAN = "4006381333931"


def client_for(user) -> APIClient:
    _, raw = api_key_for(user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


def charges(user) -> list[LedgerEntry]:
    return list(LedgerEntry.objects.filter(account__user=user, kind="charge"))


def test_the_code_lookup_has_its_own_price():
    price = Price.objects.get(operation="code_lookup")
    assert price.credits == 1
    assert price.description


def test_a_barcode_finds_its_asins_charged_once_and_stored():
    user = funded_user(credits=10)

    response = client_for(user).post(URL, {"code": EAN, "marketplace": "DE"}, format="json")

    assert response.status_code == 200, response.content
    assert response["X-Credits-Remaining"] == "9"
    assert response["X-Cache"] == "miss"
    body = response.json()
    expected = code_asins(EAN)
    assert body["code"] == EAN
    assert body["code_type"] == "ean13"
    assert body["marketplace"] == "DE"
    assert body["provider"] == "sandbox"
    assert body["asins"] == expected
    assert [m["asin"] for m in body["matches"]] == expected
    for match in body["matches"]:
        assert match["title"].startswith("[SAMPLE]")
        assert match["brand"]
        assert match["image"].startswith("data:image/svg+xml,")
        assert match["product"]["asin"] == match["asin"]
        assert match["product"]["price"]["currency"] == "EUR"
        assert EAN in match["product"]["eans"]
    assert (body["source"], body["credits_charged"], body["credits_remaining"]) == ("upstream", 1, 9)
    (charge,) = charges(user)
    assert charge.operation == "code_lookup"
    assert balance_get(user=user) == 9
    # The products are kept: an ASIN lookup of a match right after is a cache hit.
    assert set(Product.objects.filter(marketplace="DE").values_list("asin", flat=True)) == set(expected)
    lookup = {"asin": expected[0], "marketplace": "DE"}
    asin = client_for(user).post("/api/v1/products/asin", lookup, format="json")
    assert asin.status_code == 200
    assert asin["X-Cache"] == "hit"
    assert asin.json()["product"] == body["matches"][0]["product"]


def test_a_repeated_code_is_served_from_the_cache_and_charged_again():
    user = funded_user(credits=10)
    client = client_for(user)
    first = client.post(URL, {"code": "036000291452"}, format="json")
    again = client.post(URL, {"code": " 0-36000-29145-2 "}, format="json")

    assert again.status_code == 200
    assert again["X-Cache"] == "hit"
    assert again.json()["source"] == "cache"
    assert again.json()["code_type"] == "upc"
    assert again.json()["matches"] == first.json()["matches"]
    assert balance_get(user=user) == 8


def test_a_code_with_several_asins_answers_them_all():
    several = "5901234123457"  # three ASINs in the sandbox
    user = funded_user(credits=3)

    body = client_for(user).post(URL, {"code": several}, format="json").json()

    assert body["asins"] == code_asins(several)
    assert len(set(body["asins"])) == 3
    assert Product.objects.filter(asin__in=body["asins"]).count() == 3
    assert balance_get(user=user) == 2  # one price, however many products


@pytest.mark.parametrize(
    ("payload", "code", "message"),
    [
        ({"code": "4006381333932"}, "invalid_code", "check digit should be 1, not 2"),
        ({"code": "12345"}, "invalid_code", "has 5"),
        ({"code": "B08N5WRWNW"}, "invalid_code", "ISBN-10"),
        ({"code": "0306406153"}, "invalid_code", "ISBN-10"),
        ({"code": EAN, "marketplace": "XX"}, "invalid_marketplace", ""),
        ({}, "invalid", ""),
        ({"code": [EAN]}, "invalid", ""),
    ],
)
def test_bad_input_is_400_and_not_charged(payload, code, message):
    user = funded_user(credits=10)

    response = client_for(user).post(URL, payload, format="json")

    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == code
    assert message in error["message"]
    assert balance_get(user=user) == 10
    assert charges(user) == []


def test_no_credits_is_402_and_charges_nothing():
    user = funded_user(credits=0)

    response = client_for(user).post(URL, {"code": EAN}, format="json")

    assert response.status_code == 402
    error = response.json()["error"]
    assert error["code"] == "insufficient_credits"
    assert (error["detail"]["price"], error["detail"]["operation"]) == (1, "code_lookup")
    assert charges(user) == []
    assert not Product.objects.exists()


def test_a_code_no_product_carries_is_404_and_refunded():
    user = funded_user(credits=5)

    response = client_for(user).post(URL, {"code": NOT_FOUND_CODE}, format="json")

    assert response.status_code == 404
    error = response.json()["error"]
    assert error["code"] == "product_not_found"
    assert error["message"] == f"No product with EAN-13 {NOT_FOUND_CODE} in the US marketplace."
    assert response["X-Credits-Remaining"] == "5"
    assert balance_get(user=user) == 5
    (charge,) = charges(user)
    assert LedgerEntry.objects.filter(refund_of=charge).count() == 1


def test_an_upstream_outage_is_503_with_retry_after_and_refunded():
    user = funded_user(credits=5)

    response = client_for(user).post(URL, {"code": OUTAGE_CODE}, format="json")

    assert response.status_code == 503
    assert response.json()["error"]["code"] == "upstream_unavailable"
    assert response["Retry-After"] == "30"
    assert response["X-Credits-Remaining"] == "5"
    assert balance_get(user=user) == 5
    (charge,) = charges(user)
    assert LedgerEntry.objects.filter(refund_of=charge).exists()


def test_idempotency_key_replays_without_a_second_charge():
    user = funded_user(credits=5)
    client = client_for(user)
    key = str(uuid.uuid4())

    first = client.post(URL, {"code": EAN}, format="json", HTTP_IDEMPOTENCY_KEY=key)
    again = client.post(URL, {"code": EAN}, format="json", HTTP_IDEMPOTENCY_KEY=key)
    other = client.post(URL, {"code": "036000291452"}, format="json", HTTP_IDEMPOTENCY_KEY=key)

    assert first.status_code == again.status_code == 200
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert other.status_code == 409
    assert other.json()["error"]["code"] == "idempotency_key_reused"
    assert balance_get(user=user) == 4
    assert len(charges(user)) == 1


def test_idempotent_not_found_is_replayed_and_an_outage_is_not():
    user = funded_user(credits=5)
    client = client_for(user)
    missing, down = str(uuid.uuid4()), str(uuid.uuid4())

    client.post(URL, {"code": NOT_FOUND_CODE}, format="json", HTTP_IDEMPOTENCY_KEY=missing)
    replay = client.post(URL, {"code": NOT_FOUND_CODE}, format="json", HTTP_IDEMPOTENCY_KEY=missing)
    client.post(URL, {"code": OUTAGE_CODE}, format="json", HTTP_IDEMPOTENCY_KEY=down)
    retried = client.post(URL, {"code": OUTAGE_CODE}, format="json", HTTP_IDEMPOTENCY_KEY=down)

    assert (replay.status_code, replay["Idempotent-Replayed"]) == (404, "true")
    assert retried.status_code == 503
    assert "Idempotent-Replayed" not in retried
    assert len(charges(user)) == 3
    assert balance_get(user=user) == 5


def test_keepa_answers_through_the_api_and_its_records_are_cached(settings, keepa_settings, rsps):
    settings.PRODUCT_PROVIDERS = ["keepa"]
    body = load_fixture("keepa/product-response.json")
    second = dict(body["products"][0], asin="B0TESTKEE2")
    body["products"].append(second)
    rsps.get(KEEPA_PRODUCT_URL, json=body)
    user = funded_user(credits=5)
    client = client_for(user)

    response = client.post(URL, {"code": "012345678905"}, format="json")

    assert response.status_code == 200, response.content
    found = response.json()
    assert found["provider"] == "keepa"
    assert found["code_type"] == "upc"
    assert found["asins"] == ["B0TESTKEEP", "B0TESTKEE2"]
    first = found["matches"][0]
    assert first["title"] == "Example Insulated Steel Water Bottle, 32 oz, Leak-Proof Lid"
    assert first["image"].startswith("https://m.media-amazon.com/images/I/")
    assert first["product"]["provider"] == "keepa"
    lookup = client.post("/api/v1/products/asin", {"asin": "B0TESTKEE2"}, format="json")
    assert lookup["X-Cache"] == "hit"
    assert len(rsps.calls) == 1  # the ASIN lookup did not call Keepa


def test_spapi_partial_records_are_not_stored(settings, spapi_settings, rsps):
    import re

    from products.tests.conftest import LWA_URL, SPAPI_NA

    settings.PRODUCT_PROVIDERS = ["spapi"]
    rsps.post(LWA_URL, json={"access_token": "Atza|t", "expires_in": 3600})
    rsps.get(
        re.compile(re.escape(SPAPI_NA) + r"/catalog/2022-04-01/items\?"),
        json=load_fixture("spapi/searchCatalogItems.200.json"),
    )
    user = funded_user(credits=5)

    response = client_for(user).post(URL, {"code": "887276302195"}, format="json")

    assert response.status_code == 200, response.content
    (match,) = response.json()["matches"]
    assert match["asin"] == "B07N4M94X4"
    assert match["brand"] == "SAMSUNG"
    assert match["product"] is None  # no offers: an ASIN lookup gets the whole record
    assert not Product.objects.exists()


def test_anonymous_requests_are_refused():
    response = APIClient().post(URL, {"code": EAN}, format="json")
    assert response.status_code in (401, 403)
