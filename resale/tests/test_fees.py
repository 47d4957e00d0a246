"""fees_get and fees_get_many: the quote, the cache, failures as "fees unavailable" (never zero)."""

from __future__ import annotations

from decimal import Decimal

import pytest
import responses
from django.core.cache import cache

from core.errors import DomainError
from products.tests.conftest import LWA_URL, SPAPI_NA, load_fixture
from resale.fees import UNAVAILABLE, FeeQuote, fees_get, fees_get_many

D = Decimal
ASIN = "B07XJ8C8F5"
BATCH_URL = SPAPI_NA + "/products/fees/v0/feesEstimate"


@pytest.fixture(autouse=True)
def _clean_cache():
    cache.delete_pattern("*")  # type: ignore[attr-defined]


@pytest.fixture
def rsps():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


@pytest.fixture
def spapi_only(settings):
    settings.PRODUCT_PROVIDERS = ["spapi"]
    settings.SPAPI_CLIENT_ID = "amzn1.application-oa2-client.test"
    settings.SPAPI_CLIENT_SECRET = "test-client-secret"
    settings.SPAPI_REFRESH_TOKEN = "Atzr|test-refresh-token"
    settings.LWA_TOKEN_URL = LWA_URL
    settings.SPAPI_ENDPOINT = ""
    settings.UPSTREAM_RETRY_BACKOFF = 0.01
    settings.UPSTREAM_RETRY_BACKOFF_MAX = 0.05
    settings.PROVIDER_RATE_LIMITS = "spapi.fees=1000/1000,spapi.fees_batch=1000/1000"
    return settings


def test_sandbox_quote_is_sample_in_the_marketplace_currency(settings):
    settings.PRODUCT_PROVIDERS = ["sandbox"]
    quote = fees_get(asin=ASIN, marketplace="DE", price="19.99")
    assert isinstance(quote, FeeQuote)
    assert quote.available
    assert quote.sample
    assert quote.source == "sandbox"
    assert quote.currency == "EUR"
    assert quote.total == quote.referral + quote.fulfilment + quote.closing + quote.other  # type: ignore[operator]
    assert quote.total > 0  # type: ignore[operator]
    assert quote.price == D("19.99")


def test_quotes_are_cached_per_asin_marketplace_and_price(spapi_only, rsps):
    rsps.post(LWA_URL, json={"access_token": "Atza|x", "expires_in": 3600})
    single = SPAPI_NA + f"/products/fees/v0/items/{ASIN}/feesEstimate"
    rsps.post(single, json=load_fixture("spapi/getMyFeesEstimateForASIN.200.fba-details.json"))
    first = fees_get(asin=ASIN, marketplace="US", price="10")
    again = fees_get(asin=ASIN.lower(), marketplace="us", price=D("10.00"))
    assert first == again
    assert len([c for c in rsps.calls if c.request.url == single]) == 1
    fees_get(asin=ASIN, marketplace="US", price="11")
    assert len([c for c in rsps.calls if c.request.url == single]) == 2


def test_a_failure_is_unavailable_with_a_reason_never_zero_and_cached_briefly(spapi_only, rsps, settings):
    settings.UPSTREAM_RETRY_ATTEMPTS = 1
    settings.FEES_UNAVAILABLE_SECONDS = 60
    rsps.post(LWA_URL, json={"access_token": "Atza|x", "expires_in": 3600})
    single = SPAPI_NA + f"/products/fees/v0/items/{ASIN}/feesEstimate"
    rsps.post(single, status=503, json={"errors": [{"code": "ServiceUnavailable"}]})
    quote = fees_get(asin=ASIN, marketplace="US", price="10")
    assert not quote.available
    assert quote.total is None
    assert quote.referral is None
    assert quote.reason
    assert quote.label == UNAVAILABLE
    key = next(k for k in cache.keys("*resale:fees*"))  # type: ignore[attr-defined]
    assert 0 < cache.ttl(key) <= 60  # type: ignore[attr-defined]


def test_a_good_quote_is_cached_for_the_fee_ttl(settings):
    settings.PRODUCT_PROVIDERS = ["sandbox"]
    settings.FEES_CACHE_SECONDS = 3600
    fees_get(asin=ASIN, marketplace="US", price="10")
    key = next(k for k in cache.keys("*resale:fees*"))  # type: ignore[attr-defined]
    assert 60 < cache.ttl(key) <= 3600  # type: ignore[attr-defined]


def test_many_mixes_per_item_errors_cached_and_fresh(spapi_only, rsps):
    rsps.post(LWA_URL, json={"access_token": "Atza|x", "expires_in": 3600})
    example = load_fixture("spapi/getMyFeesEstimates.200.json")[0]

    def result(asin, status="Success"):
        item = {**example, "FeesEstimateIdentifier": {**example["FeesEstimateIdentifier"], "IdValue": asin}}
        item["Status"] = status
        if status != "Success":
            item["Error"] = {
                "Type": "Sender",
                "Code": "InvalidParameterValue",
                "Message": "bad",
                "Detail": [],
            }
        return item

    rsps.post(BATCH_URL, json=[result("B000000001"), result("B000000002", "ClientError")])
    quotes = fees_get_many(
        marketplace="US", items=[("B000000001", "10"), ("B000000002", "10"), ("B000000003", None)]
    )
    assert list(quotes) == ["B000000001", "B000000002", "B000000003"]
    assert quotes["B000000001"].available
    assert quotes["B000000001"].total == D("3.00")
    assert not quotes["B000000002"].available
    assert "ClientError" in quotes["B000000002"].reason
    assert not quotes["B000000003"].available
    assert "no price" in quotes["B000000003"].reason
    # One upstream call; the unpriced ASIN was never asked for.
    assert len([c for c in rsps.calls if c.request.url == BATCH_URL]) == 1


def test_fees_the_rate_limit_left_unasked_are_not_cached_and_asked_next_time(spapi_only, rsps, settings):
    import json

    settings.PROVIDER_RATE_LIMITS = "spapi.fees_batch=0.01/1"
    settings.PROVIDER_RATE_LIMIT_MAX_WAIT = 0.1
    rsps.post(LWA_URL, json={"access_token": "Atza|x", "expires_in": 3600})
    example = load_fixture("spapi/getMyFeesEstimates.200.json")[0]
    asked: list[list[str]] = []

    def answer(request):
        ids = [item["IdValue"] for item in json.loads(request.body)]
        asked.append(ids)
        results = [
            {**example, "FeesEstimateIdentifier": {**example["FeesEstimateIdentifier"], "IdValue": asin}}
            for asin in ids
        ]
        return 200, {}, json.dumps(results)

    rsps.add_callback("POST", BATCH_URL, callback=answer, content_type="application/json")
    asins = [f"B0000003{n:02d}" for n in range(30)]
    quotes = fees_get_many(marketplace="US", items=[(asin, "10") for asin in asins])
    assert [len(batch) for batch in asked] == [20]
    assert all(quotes[asin].available for asin in asins[:20])
    waiting = [quotes[asin] for asin in asins[20:]]
    assert not any(quote.available for quote in waiting)
    assert all(quote.retry_after is not None and quote.retry_after > 1 for quote in waiting)
    assert waiting[0].label == UNAVAILABLE  # shown as unavailable, never as 0

    # The limit has refilled: the answered 20 come from the cache, only the 10 not asked are asked.
    settings.PROVIDER_RATE_LIMITS = "spapi.fees_batch=1000/1000"
    again = fees_get_many(marketplace="US", items=[(asin, "10") for asin in asins])
    assert asked[1:] == [asins[20:]]
    assert all(quote.available and quote.retry_after is None for quote in again.values())


@pytest.mark.parametrize("price", ["0", "-3", "abc", "inf"])
def test_bad_price_is_a_clear_error(price, settings):
    settings.PRODUCT_PROVIDERS = ["sandbox"]
    with pytest.raises(DomainError) as caught:
        fees_get(asin=ASIN, marketplace="US", price=price)
    assert caught.value.code == "invalid_price"


def test_bad_asin_and_marketplace_are_clear_errors(settings):
    with pytest.raises(DomainError) as caught:
        fees_get(asin="nope", marketplace="US", price="1")
    assert caught.value.code == "invalid_asin"
    with pytest.raises(DomainError) as caught:
        fees_get(asin=ASIN, marketplace="XX", price="1")
    assert caught.value.code == "invalid_marketplace"
