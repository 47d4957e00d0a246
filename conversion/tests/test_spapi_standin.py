"""The searchCatalogItems stand-in: a BM25 ranking, SP-API's shape, reached through the SP-API adapter."""

import requests

from conversion.evaluation.runner import standin_provider
from conversion.evaluation.spapi_standin import ACCESS_TOKEN, BM25, SEARCH_PATH, CatalogStandIn
from products.marketplaces import marketplace_get

LISTINGS = [
    ("B0AAAAAAA1", "Trail Hiking Backpack 30 L, Navy Blue"),
    ("B0AAAAAAA2", "Trail Hiking Backpack 30 L, Red"),
    ("B0AAAAAAA3", "Stainless Steel Water Bottle, 32 oz"),
    ("B0AAAAAAA4", "Ceramic Coffee Mug Set, Pack of 4"),
]


def test_bm25_ranks_by_the_words_that_tell_listings_apart():
    index = BM25(LISTINGS)

    total, ranked = index.search("hiking backpack red", 3)

    assert total == 2  # only listings sharing a word match
    assert ranked == ["B0AAAAAAA2", "B0AAAAAAA1"]
    assert index.search("garlic press", 5) == (0, [])


def test_the_answer_has_the_2022_04_01_shape_and_bad_requests_are_400():
    standin = CatalogStandIn(LISTINGS)

    status, body = standin.answer(
        {"marketplaceIds": "ATVPDKIKX0DER", "keywords": "water,bottle", "pageSize": "2"}
    )

    assert status == 200
    assert body["numberOfResults"] == 1
    assert {"numberOfResults", "pagination", "refinements", "items"} <= set(body)
    item = body["items"][0]
    assert item["asin"] == "B0AAAAAAA3"
    assert item["summaries"] == [
        {
            "marketplaceId": "ATVPDKIKX0DER",
            "itemName": "Stainless Steel Water Bottle, 32 oz",
            "brand": "Stainless",
        }
    ]
    assert standin.answer({"marketplaceIds": "ATVPDKIKX0DER"})[0] == 400
    assert standin.answer({"keywords": "mug"})[0] == 400
    assert standin.answer({"marketplaceIds": "X", "keywords": "mug", "pageSize": "21"})[0] == 400


def test_it_serves_http_and_refuses_a_request_without_the_access_token():
    standin = CatalogStandIn(LISTINGS)
    with standin.serving() as base_url:
        params = {"marketplaceIds": "ATVPDKIKX0DER", "keywords": "mug"}
        refused = requests.get(base_url + SEARCH_PATH, params=params, timeout=5)
        answered = requests.get(
            base_url + SEARCH_PATH, params=params, headers={"x-amz-access-token": ACCESS_TOKEN}, timeout=5
        )

    assert refused.status_code == 403
    assert refused.json()["errors"][0]["code"] == "Unauthorized"
    assert [item["asin"] for item in answered.json()["items"]] == ["B0AAAAAAA4"]


def test_the_platforms_spapi_adapter_searches_it_end_to_end():
    standin = CatalogStandIn(LISTINGS)
    with standin.serving() as base_url:
        provider = standin_provider(base_url)

        records = provider.search("Trail Hiking Backpack, Red", marketplace_get("US"), limit=5)

    assert [r.asin for r in records] == ["B0AAAAAAA2", "B0AAAAAAA1"]
    assert records[0].title == "Trail Hiking Backpack 30 L, Red"
    assert records[0].provider == "spapi"
    assert standin.requests == 1
