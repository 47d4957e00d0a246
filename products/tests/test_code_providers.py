"""Lookup by barcode in each provider (sandbox, Keepa, SP-API) and through the fallback chain."""

import copy
import re
from urllib.parse import parse_qs, urlsplit

import pytest
from stdnum import ean

from products.marketplaces import marketplace_get
from products.providers import (
    CircuitOpen,
    ProviderNotConfigured,
    UpstreamBadResponse,
    UpstreamUnavailable,
    search_by_code_with_fallback,
)
from products.providers.circuit import CircuitBreaker
from products.providers.keepa import KeepaProvider
from products.providers.sandbox import NOT_FOUND_CODE, OUTAGE_CODE, SandboxProvider
from products.providers.spapi import CATALOG_INCLUDED_DATA, SpApiProvider
from products.tests.conftest import KEEPA_KEY, KEEPA_PRODUCT_URL, LWA_URL, SPAPI_NA, load_fixture
from products.validation import normalize_product_code

US = marketplace_get("US")
DE = marketplace_get("DE")
SEARCH_URL = re.compile(re.escape(SPAPI_NA) + r"/catalog/2022-04-01/items\?")
SEARCH_URL_EU = re.compile(r"https://sellingpartnerapi-eu\.amazon\.com/catalog/2022-04-01/items\?")


def code(raw: str):
    return normalize_product_code(raw)


def query(call) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(call.request.url).query).items()}


# --- Sandbox -------------------------------------------------------------------------------


def test_sandbox_maps_a_code_to_the_same_plausible_products_every_time():
    first = SandboxProvider().search_by_code(code("4006381333931"), US)
    again = SandboxProvider().search_by_code(code("4006381333931"), US)

    assert 1 <= len(first) <= 3
    assert [r.asin for r in first] == [r.asin for r in again]
    for record in first:
        assert re.fullmatch(r"B0[A-Z0-9]{8}", record.asin)
        assert record.sample_data is True
        assert record.title.startswith("[SAMPLE]")
        assert record.price is not None  # whole records, as a fetch gives
        assert record.eans == ("4006381333931",)
    assert SandboxProvider.code_search_complete is True


def test_sandbox_finds_several_asins_for_some_codes():
    bodies = [f"40000000{n:04d}" for n in range(40)]
    counts = {len(SandboxProvider().search_by_code(code(b + ean.calc_check_digit(b)), US)) for b in bodies}
    assert counts == {1, 2, 3}


def test_sandbox_isbn10_and_isbn13_of_a_book_find_the_same_products():
    by_isbn10 = SandboxProvider().search_by_code(code("0306406152"), US)
    by_isbn13 = SandboxProvider().search_by_code(code("9780306406157"), US)
    assert [r.asin for r in by_isbn10] == [r.asin for r in by_isbn13]


def test_sandbox_upc_records_carry_the_upc():
    (record, *_) = SandboxProvider().search_by_code(code("036000291452"), US)
    assert record.upcs == ("036000291452",)
    assert record.eans == ("0036000291452",)


def test_sandbox_reserved_codes_find_nothing_or_fail():
    assert SandboxProvider().search_by_code(code(NOT_FOUND_CODE), US) == []
    with pytest.raises(UpstreamUnavailable) as caught:
        SandboxProvider().search_by_code(code(OUTAGE_CODE), US)
    assert caught.value.retry_after == 30


# --- Keepa ---------------------------------------------------------------------------------


def keepa_answer(*asins: str) -> dict:
    """Keepa's product answer (the reference sample) with one product per ASIN."""
    body = load_fixture("keepa/product-response.json")
    template = body["products"][0]
    body["products"] = [dict(copy.deepcopy(template), asin=asin) for asin in asins]
    return body


def test_keepa_looks_up_a_code_with_the_code_parameter(keepa_settings, rsps):
    rsps.get(KEEPA_PRODUCT_URL, json=keepa_answer("B0TESTKEEP"))

    (record,) = KeepaProvider().search_by_code(code("012345678905"), US)

    assert record.asin == "B0TESTKEEP"
    assert record.title == "Example Insulated Steel Water Bottle, 32 oz, Leak-Proof Lid"
    assert record.upcs == ("012345678905",)
    assert record.price is not None  # a whole record
    assert record.history
    (call,) = rsps.calls
    sent = query(call)
    assert sent["code"] == "012345678905"
    assert "asin" not in sent
    assert (sent["key"], sent["domain"], sent["buybox"], sent["rating"]) == (KEEPA_KEY, "1", "1", "1")


def test_keepa_answers_every_product_with_the_code(keepa_settings, rsps):
    rsps.get(KEEPA_PRODUCT_URL, json=keepa_answer("B0TESTKEEP", "B0TESTKEE2", "B0TESTKEEP"))

    found = KeepaProvider().search_by_code(code("012345678905"), US)

    assert [r.asin for r in found] == ["B0TESTKEEP", "B0TESTKEE2"]  # duplicates folded


def test_keepa_gets_an_isbn10_as_its_isbn13(keepa_settings, rsps):
    rsps.get(KEEPA_PRODUCT_URL, json=keepa_answer("0306406152"))
    KeepaProvider().search_by_code(code("0-306-40615-2"), US)
    assert query(rsps.calls[0])["code"] == "9780306406157"


def test_keepa_with_no_product_for_the_code_finds_nothing(keepa_settings, rsps):
    body = keepa_answer()
    rsps.get(KEEPA_PRODUCT_URL, json=body)
    assert KeepaProvider().search_by_code(code("4006381333931"), US) == []
    del body["products"]
    rsps.replace("GET", KEEPA_PRODUCT_URL, json=body)
    assert KeepaProvider().search_by_code(code("4006381333931"), US) == []


def test_keepa_code_lookup_retries_then_fails_as_unavailable(keepa_settings, rsps):
    rsps.get(KEEPA_PRODUCT_URL, status=500, json={"error": {"type": "server"}})
    with pytest.raises(UpstreamUnavailable):
        KeepaProvider().search_by_code(code("4006381333931"), US)
    assert len(rsps.calls) == 3  # UPSTREAM_RETRY_ATTEMPTS


def test_keepa_refusal_of_a_code_lookup_is_a_bad_response(keepa_settings, rsps):
    rsps.get(KEEPA_PRODUCT_URL, status=400, json={"error": {"type": "invalidParameter", "message": "code"}})
    with pytest.raises(UpstreamBadResponse):
        KeepaProvider().search_by_code(code("4006381333931"), US)


# --- SP-API --------------------------------------------------------------------------------


@pytest.fixture
def lwa(spapi_settings, rsps):
    rsps.post(LWA_URL, json={"access_token": "Atza|t", "expires_in": 3600})
    return rsps


def test_spapi_searches_catalog_items_by_identifier(lwa):
    lwa.get(SEARCH_URL, json=load_fixture("spapi/searchCatalogItems.200.json"))

    (record,) = SpApiProvider().search_by_code(code("887276302195"), US)

    assert record.asin == "B07N4M94X4"
    assert record.title.startswith("Samsung QN82Q60RAFXZA")
    assert record.brand == "SAMSUNG"
    assert record.images[0].startswith("https://m.media-amazon.com/")
    assert record.upcs == ("887276302195",)
    assert record.buy_box is None  # no offers in a catalogue search: a partial record
    assert SpApiProvider.code_search_complete is False
    (call,) = [c for c in lwa.calls if "/catalog/" in c.request.url]
    assert query(call) == {
        "marketplaceIds": "ATVPDKIKX0DER",
        "identifiers": "887276302195",
        "identifiersType": "UPC",
        "includedData": ",".join(CATALOG_INCLUDED_DATA),
    }
    assert call.request.headers["x-amz-access-token"] == "Atza|t"


@pytest.mark.parametrize(
    ("raw", "identifiers", "identifiers_type"),
    [
        ("4006381333931", "4006381333931", "EAN"),
        ("96385074", "96385074", "EAN"),
        ("0306406152", "0306406152", "ISBN"),
        ("9780306406157", "9780306406157", "EAN"),
    ],
)
def test_spapi_identifier_types(lwa, raw, identifiers, identifiers_type):
    lwa.get(SEARCH_URL_EU, json={"numberOfResults": 0, "items": []})
    assert SpApiProvider().search_by_code(code(raw), DE) == []
    (call,) = [c for c in lwa.calls if "/catalog/" in c.request.url]
    sent = query(call)
    assert (sent["identifiers"], sent["identifiersType"]) == (identifiers, identifiers_type)
    assert sent["marketplaceIds"] == "A1PA6795UKMFR9"
    assert call.request.url.startswith("https://sellingpartnerapi-eu.amazon.com/")


def test_spapi_answers_several_items_for_one_code(lwa):
    body = load_fixture("spapi/searchCatalogItems.200.json")
    second = copy.deepcopy(body["items"][0])
    second["asin"] = "B07N4M94X5"
    body["items"].append(second)
    body["numberOfResults"] = 2
    lwa.get(SEARCH_URL, json=body)

    found = SpApiProvider().search_by_code(code("887276302195"), US)

    assert [r.asin for r in found] == ["B07N4M94X4", "B07N4M94X5"]


def test_spapi_throttled_code_search_is_unavailable(lwa):
    throttled = {"errors": [{"code": "QuotaExceeded"}]}
    lwa.get(SEARCH_URL, status=429, json=throttled, headers={"Retry-After": "2"})
    with pytest.raises(UpstreamUnavailable):
        SpApiProvider().search_by_code(code("887276302195"), US)


# --- The chain -----------------------------------------------------------------------------


def test_the_chain_falls_back_to_the_next_provider(settings, keepa_settings, rsps):
    settings.PRODUCT_PROVIDERS = ["keepa", "sandbox"]
    rsps.get(KEEPA_PRODUCT_URL, status=503)

    result = search_by_code_with_fallback(code("4006381333931"), US)

    assert result.provider == "sandbox"
    assert result.complete is True
    assert result.records
    assert [e.provider for e in result.skipped] == ["keepa"]


def test_not_found_is_an_answer_not_a_failure(settings, spapi_settings, rsps):
    settings.PRODUCT_PROVIDERS = ["spapi", "sandbox"]
    rsps.post(LWA_URL, json={"access_token": "Atza|t", "expires_in": 3600})
    rsps.get(SEARCH_URL, json={"numberOfResults": 0, "items": []})

    result = search_by_code_with_fallback(code("4006381333931"), US)

    assert (result.provider, result.records, result.complete) == ("spapi", [], False)


def test_the_chain_fails_when_every_provider_fails(settings):
    settings.PRODUCT_PROVIDERS = ["sandbox"]
    with pytest.raises(UpstreamUnavailable) as caught:
        search_by_code_with_fallback(code(OUTAGE_CODE), US)
    assert caught.value.retry_after == 30


def test_the_chain_without_configured_providers(settings):
    settings.PRODUCT_PROVIDERS = ["keepa"]
    settings.KEEPA_API_KEY = ""
    with pytest.raises(ProviderNotConfigured):
        search_by_code_with_fallback(code("4006381333931"), US)


def test_code_lookups_trip_and_respect_the_circuit_breaker(settings):
    settings.PRODUCT_PROVIDERS = ["sandbox"]
    breaker = CircuitBreaker("sandbox")
    for _ in range(20):
        breaker.record_failure()
    with pytest.raises(CircuitOpen):
        SandboxProvider().search_by_code(code("4006381333931"), US)


def test_code_lookups_take_the_shared_rate_limit(settings):
    settings.PRODUCT_PROVIDERS = ["sandbox"]
    settings.PROVIDER_RATE_LIMITS = "sandbox=0.01/2"  # two calls now, then one every 100 s
    settings.PROVIDER_RATE_LIMIT_MAX_WAIT = 0.1
    search_by_code_with_fallback(code("4006381333931"), US)
    search_by_code_with_fallback(code("036000291452"), US)

    with pytest.raises(UpstreamUnavailable) as caught:
        search_by_code_with_fallback(code("96385074"), US)

    assert caught.value.retry_after > 50
    (failure,) = caught.value.extra["providers"]
    assert failure["reason"] == "rate_limited"
