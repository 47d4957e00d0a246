"""Keyword search: the providers' optional method (FNSKU conversion's fallback) and the chain's fallback."""

import json
import re
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from products.marketplaces import marketplace_get
from products.providers import (
    ProviderNotConfigured,
    UpstreamUnavailable,
    provider_get,
    search_with_fallback,
)
from products.providers.sandbox import OUTAGE_ASIN, SandboxProvider, catalogue
from products.providers.spapi import SpApiProvider
from products.tests.conftest import LWA_URL, SPAPI_NA, load_fixture

US = marketplace_get("US")
SEARCH_URL = re.compile(re.escape(SPAPI_NA) + r"/catalog/2022-04-01/items\?")
REFERENCE = Path(__file__).resolve().parents[2] / ".." / "shared" / "reference" / "sp-api"


def test_sandbox_search_finds_catalogue_products_by_their_words():
    asin, title = catalogue()[0]
    words = title.removeprefix("[SAMPLE] ")

    found = SandboxProvider().search(words + " New", US, limit=5)

    assert found[0].asin == asin
    assert found[0].title == title
    assert all(r.sample_data for r in found)
    # Every result is the same record a lookup would give.
    assert found[0].to_dict() | {"fetched_at": None} == SandboxProvider(
        clock=lambda: found[0].fetched_at
    ).fetch_one(asin, US).to_dict() | {"fetched_at": None}


def test_sandbox_search_forgives_a_word_cut_short_and_finds_nothing_for_strangers():
    asin, title = catalogue()[1]
    cut = title.removeprefix("[SAMPLE] ")[:-2]
    assert asin in [r.asin for r in SandboxProvider().search(cut, US, limit=20)]
    assert SandboxProvider().search("zzz qqq", US) == []
    assert SandboxProvider().search("   ", US) == []


def test_sandbox_search_simulates_an_outage():
    with pytest.raises(UpstreamUnavailable):
        SandboxProvider().search(f"bottle {OUTAGE_ASIN}", US)


def test_providers_that_cannot_search_answer_nothing(keepa_settings):
    assert provider_get("keepa").supports_search is False
    assert provider_get("keepa").search("water bottle", US) == []


def test_spapi_search_decodes_search_catalog_items(spapi_settings, rsps):
    rsps.post(LWA_URL, json={"access_token": "Atza|t", "expires_in": 3600})
    rsps.get(SEARCH_URL, json=load_fixture("spapi/searchCatalogItems.200.json"))

    (record,) = SpApiProvider().search("Samsung, QLED TV  82", US, limit=5)

    assert record.asin == "B07N4M94X4"
    assert record.title.startswith("Samsung QN82Q60RAFXZA")
    assert record.images
    assert record.images[0].startswith("https://m.media-amazon.com/")
    (call,) = [c for c in rsps.calls if "/catalog/" in c.request.url]
    query = {k: v[0] for k, v in parse_qs(urlsplit(call.request.url).query).items()}
    assert query == {
        "marketplaceIds": "ATVPDKIKX0DER",
        "keywords": "Samsung,QLED,TV,82",
        "includedData": "summaries,images",
        "pageSize": "5",
    }


def test_the_chain_falls_back_to_a_provider_that_can_search(settings, spapi_settings, rsps):
    settings.PRODUCT_PROVIDERS = ["keepa", "spapi", "sandbox"]
    settings.KEEPA_API_KEY = "k"
    rsps.post(LWA_URL, json={"access_token": "Atza|t", "expires_in": 3600})
    rsps.get(SEARCH_URL, status=503, json={"errors": [{"code": "QuotaExceeded"}]})
    asin, title = catalogue()[2]

    result = search_with_fallback(title, US, limit=3)

    assert result.provider == "sandbox"
    assert result.records[0].asin == asin
    assert [e.provider for e in result.skipped] == ["spapi"]


def test_the_chain_without_a_searching_provider_searches_nothing(settings):
    settings.PRODUCT_PROVIDERS = ["keepa"]
    result = search_with_fallback("water bottle", US)
    assert (result.searched, result.records) == (False, [])


def test_the_chain_fails_when_every_searching_provider_fails(settings):
    settings.PRODUCT_PROVIDERS = ["spapi"]
    settings.SPAPI_CLIENT_ID = ""
    with pytest.raises(ProviderNotConfigured):
        search_with_fallback("water bottle", US)


@pytest.mark.skipif(not REFERENCE.is_dir(), reason="no reference formats beside the repository")
def test_the_search_fixture_matches_the_reference_model():
    catalog = json.loads((REFERENCE / "catalogItems_2022-04-01.json").read_text())
    example = catalog["paths"]["/catalog/2022-04-01/items"]["get"]["responses"]["200"]["examples"]
    assert load_fixture("spapi/searchCatalogItems.200.json") == example["application/json"]
