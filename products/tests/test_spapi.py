import json
import re
import time
from urllib.parse import parse_qs, urlsplit

import pytest

from products import conf
from products.marketplaces import marketplace_get
from products.providers import ProductNotFound, ProviderNotConfigured, UpstreamBadResponse
from products.providers.spapi import LWA_EXPIRY_MARGIN_SECONDS, SpApiProvider
from products.tests.conftest import LWA_URL, SPAPI_NA, load_fixture

US = marketplace_get("US")
CATALOG_ASIN = "B07N4M94X4"  # the ASIN of the official getCatalogItem example
CATALOG_URL = re.compile(re.escape(SPAPI_NA) + r"/catalog/2022-04-01/items/(\w+)")
OFFERS_URL = re.compile(re.escape(SPAPI_NA) + r"/products/pricing/v0/items/(\w+)/offers")


def token_answer(token="Atza|first-token", expires_in=3600):  # noqa: S107 - a test token
    return {"access_token": token, "token_type": "bearer", "expires_in": expires_in}


def catalog_item(asin=CATALOG_ASIN):
    item = load_fixture("spapi/getCatalogItem.200.json")
    item["asin"] = asin
    return item


def query(call) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(call.request.url).query).items()}


def calls_to(rsps, url_part):
    return [call for call in rsps.calls if url_part in call.request.url]


@pytest.fixture
def upstream(spapi_settings, rsps):
    rsps.post(LWA_URL, json=token_answer())
    rsps.get(CATALOG_URL, json=catalog_item())
    rsps.get(OFFERS_URL, json=load_fixture("spapi/getItemOffers.200.consumer.json"))
    return rsps


def test_catalog_item_example_decodes_field_by_field(upstream):
    record = SpApiProvider().fetch_one(CATALOG_ASIN, US)

    assert record.asin == CATALOG_ASIN
    assert record.marketplace == "US"
    assert record.provider == "spapi"
    assert record.sample_data is False
    assert record.title == (
        "Samsung QN82Q60RAFXZA Flat 82-Inch QLED 4K Q60 Series (2019) Ultra HD Smart TV "
        "with HDR and Alexa Compatibility"
    )
    assert record.brand == "SAMSUNG"
    assert record.manufacturer == "Samsung"
    # The largest image of each variant, MAIN first.
    assert record.images == tuple(
        f"https://m.media-amazon.com/images/I/{name}.jpg"
        for name in (
            "91uohwV+k3L",
            "81w2rTVShlL",
            "51NTNhdhPyL",
            "51o4zpL+A3L",
            "71ux2k9GAZL",
            "61LwHkljX-L",
            "61uvoB4VvoL",
            "7121MGd2ncL",
            "61ECcGlG4IL",
        )
    )
    assert [(c.id, c.name) for c in record.categories] == [
        ("172282", "Electronics"),
        ("1266092011", "Television & Video"),
        ("172659", "Televisions"),
        ("21489946011", "QLED TVs"),
    ]
    assert (record.sales_rank.rank, record.sales_rank.category) == (72855, "Electronics")
    assert record.sales_rank.category_id == "ce_display_on_website"
    assert [(r.rank, r.category_id, r.category) for r in record.sales_ranks[1:]] == [
        (113, "21489946011", "QLED TVs")
    ]
    assert str(record.list_price) == "3799.99 USD"
    item = record.item_dimensions
    assert [str(item.length), str(item.width), str(item.height), str(item.weight)] == [
        "2.4 in",
        "72.4 in",
        "41.4 in",
        "107.6 lb",
    ]
    package = record.package_dimensions
    assert str(package.height) == "10.49999998929 in"
    assert str(package.weight) == "62.142 kg"
    assert record.eans == ("0887276302195",)
    assert record.upcs == ("887276302195",)
    assert record.parent_asin == "B08J7TQ9FL"
    # SP-API has no ratings and no histories.
    assert record.rating is None
    assert record.review_count is None
    assert record.history == ()


def test_item_offers_example_decodes_prices_and_offers(upstream):
    record = SpApiProvider().fetch_one(CATALOG_ASIN, US)

    # The example has one merchant offer and no buy box winner.
    assert record.buy_box is None
    assert str(record.lowest_new_price) == "10.00 USD"
    assert record.lowest_used_price is None
    assert record.offers.total == 1
    assert record.offers.new is None  # the example's NumberOfOffers has no OfferCount
    assert record.price == record.lowest_new_price


def test_buy_box_winner_offer_is_the_buy_box(spapi_settings, rsps):
    offers = load_fixture("spapi/getItemOffers.200.consumer.json")
    offers["payload"]["Offers"][0]["IsBuyBoxWinner"] = True  # a documented OfferDetail field
    rsps.post(LWA_URL, json=token_answer())
    rsps.get(CATALOG_URL, json=catalog_item())
    rsps.get(OFFERS_URL, json=offers)

    record = SpApiProvider().fetch_one(CATALOG_ASIN, US)

    assert str(record.buy_box.price) == "10.00 USD"
    assert str(record.buy_box.shipping) == "0.00 USD"
    assert record.buy_box.seller_id == "AXXXXXXXXXXXXX"
    assert record.buy_box.is_fba is False
    assert record.price == record.buy_box.landed_price


def test_business_prices_and_quantity_tiers_are_not_the_consumer_buy_box(spapi_settings, rsps):
    rsps.post(LWA_URL, json=token_answer())
    rsps.get(CATALOG_URL, json=catalog_item())
    rsps.get(OFFERS_URL, json=load_fixture("spapi/getItemOffers.200.business.json"))

    record = SpApiProvider().fetch_one(CATALOG_ASIN, US)

    assert record.buy_box is None
    assert record.lowest_new_price is None
    assert record.offers.total == 4


def test_consumer_buy_box_price_from_the_summary(spapi_settings, rsps):
    offers = load_fixture("spapi/getItemOffers.200.business.json")
    first = offers["payload"]["Summary"]["BuyBoxPrices"][0]
    first["offerType"] = "B2C"  # the same documented BuyBoxPriceType, for consumers
    rsps.post(LWA_URL, json=token_answer())
    rsps.get(CATALOG_URL, json=catalog_item())
    rsps.get(OFFERS_URL, json=offers)

    record = SpApiProvider().fetch_one(CATALOG_ASIN, US)

    assert str(record.buy_box.price) == "9.00 USD"
    assert record.buy_box.seller_id == "AXXXXXXXXXXXXX"
    assert record.buy_box.is_fba is None


def batch_answer(index):
    """One getItemOffers answer from the documented getItemOffersBatch example."""
    return load_fixture("spapi/getItemOffersBatch.200.json")["responses"][index]["body"]


def fetch_with_offers(rsps, offers):
    rsps.post(LWA_URL, json=token_answer())
    rsps.get(CATALOG_URL, json=catalog_item())
    rsps.get(OFFERS_URL, json=offers)
    return SpApiProvider().fetch_one(CATALOG_ASIN, US)


def test_prices_are_landed_listing_plus_shipping_with_both_parts_kept(spapi_settings, rsps):
    # B007Z07UK6 in the documented batch: the buy box winner asks 5.01 + 4.99 shipping,
    # the lowest used offer 11.00 + 7.00, the lowest new 1.00 + 0.00.
    record = fetch_with_offers(rsps, batch_answer(2))

    assert str(record.buy_box.price) == "5.01 USD"
    assert str(record.buy_box.shipping) == "4.99 USD"
    assert str(record.buy_box.landed_price) == "10.00 USD"
    assert record.buy_box.seller_id == "AEMQJEQHIGU8X"
    assert str(record.price) == "10.00 USD"
    assert [str(record.parts("price").listing), str(record.parts("price").shipping)] == [
        "5.01 USD",
        "4.99 USD",
    ]
    assert str(record.lowest_used_price) == "18.00 USD"
    used = record.parts("lowest_used_price")
    assert (used.basis, str(used.listing), str(used.shipping)) == ("landed", "11.00 USD", "7.00 USD")
    assert str(record.lowest_new_price) == "1.00 USD"
    assert record.parts("lowest_new_price").basis == "landed"
    assert record.price_basis == "landed"

    data = record.to_dict()
    assert data["price"] == {"amount": "10.00", "currency": "USD"}
    assert data["price_basis"] == "landed"
    assert data["price_parts"]["price"] == {
        "basis": "landed",
        "listing": {"amount": "5.01", "currency": "USD"},
        "shipping": {"amount": "4.99", "currency": "USD"},
    }


def test_the_lowest_new_price_is_the_lowest_landed_one(spapi_settings, rsps):
    # B00505DW2I in the documented batch: 10.00 + 4.99 shipping, with LandedPrice 14.99.
    record = fetch_with_offers(rsps, batch_answer(6))
    assert str(record.lowest_new_price) == "14.99 USD"
    assert str(record.price) == "14.99 USD"


def test_a_cheaper_listing_with_dearer_shipping_is_not_the_lowest(spapi_settings, rsps):
    # Beside 10.00 + 4.99, an FBA offer at 14.00 with free shipping: 14.00 is the lowest landed.
    offers = batch_answer(6)
    lowest = offers["payload"]["Summary"]["LowestPrices"]
    usd = lambda amount: {"CurrencyCode": "USD", "Amount": amount}  # noqa: E731
    lowest.append(
        {
            **lowest[0],
            "fulfillmentChannel": "Amazon",
            "LandedPrice": usd(14),
            "ListingPrice": usd(14),
            "Shipping": usd(0),
        }
    )

    record = fetch_with_offers(rsps, offers)

    assert str(record.lowest_new_price) == "14.00 USD"
    assert str(record.parts("lowest_new_price").shipping) == "0.00 USD"


def test_a_summary_price_without_shipping_takes_it_from_the_landed_price(spapi_settings, rsps):
    offers = batch_answer(6)
    for entry in offers["payload"]["Summary"]["LowestPrices"]:
        del entry["Shipping"]  # optional in the LowestPriceType model; LandedPrice is there
    offers["payload"]["Offers"] = []
    offers["payload"]["Summary"]["BuyBoxPrices"] = []

    record = fetch_with_offers(rsps, offers)

    parts = record.parts("lowest_new_price")
    assert (str(record.lowest_new_price), str(parts.listing), str(parts.shipping)) == (
        "14.99 USD",
        "10.00 USD",
        "4.99 USD",
    )


def test_a_price_with_no_shipping_given_is_marked_listing_not_landed(spapi_settings, rsps):
    offers = batch_answer(6)
    for entry in offers["payload"]["Summary"]["LowestPrices"]:
        del entry["Shipping"], entry["LandedPrice"]
    offers["payload"]["Offers"] = []
    offers["payload"]["Summary"]["BuyBoxPrices"] = []

    record = fetch_with_offers(rsps, offers)

    assert str(record.lowest_new_price) == "10.00 USD"
    assert record.parts("lowest_new_price").basis == "listing"
    assert record.parts("lowest_new_price").shipping is None
    assert record.price_basis == "mixed"


@pytest.mark.parametrize("amount", [0, 0.0, -1])
def test_a_list_price_of_zero_or_less_is_no_list_price(spapi_settings, rsps, amount):
    offers = batch_answer(2)
    offers["payload"]["Summary"]["ListPrice"]["Amount"] = amount  # as SE and PL answers have it
    item = catalog_item()
    for value in item["attributes"]["list_price"]:
        value["value"] = amount
    rsps.post(LWA_URL, json=token_answer())
    rsps.get(CATALOG_URL, json=item)
    rsps.get(OFFERS_URL, json=offers)

    record = SpApiProvider().fetch_one(CATALOG_ASIN, US)

    assert record.list_price is None
    assert record.to_dict()["list_price"] is None


def test_a_positive_summary_list_price_is_the_list_price(spapi_settings, rsps):
    record = fetch_with_offers(rsps, batch_answer(6))
    assert str(record.list_price) == "36.00 USD"


def test_requests_ask_for_the_documented_data(upstream):
    SpApiProvider().fetch_one(CATALOG_ASIN, US)

    catalog = calls_to(upstream, "/catalog/")[0]
    assert query(catalog)["marketplaceIds"] == "ATVPDKIKX0DER"
    assert set(query(catalog)["includedData"].split(",")) == {
        "attributes",
        "classifications",
        "dimensions",
        "identifiers",
        "images",
        "relationships",
        "salesRanks",
        "summaries",
    }
    offers = calls_to(upstream, "/offers")[0]
    assert query(offers) == {
        "MarketplaceId": "ATVPDKIKX0DER",
        "ItemCondition": "New",
        "CustomerType": "Consumer",
    }


def test_lwa_exchanges_the_refresh_token_and_sends_the_access_token(upstream):
    SpApiProvider().fetch_one(CATALOG_ASIN, US)

    token_call = calls_to(upstream, LWA_URL)[0]
    form = {k: v[0] for k, v in parse_qs(token_call.request.body).items()}
    assert form == {
        "grant_type": "refresh_token",
        "refresh_token": "Atzr|test-refresh-token",
        "client_id": "amzn1.application-oa2-client.test",
        "client_secret": "test-client-secret",
    }
    for call in calls_to(upstream, "sellingpartnerapi"):
        assert call.request.headers["x-amz-access-token"] == "Atza|first-token"


def test_access_token_is_cached_until_it_expires(spapi_settings, rsps, settings):
    settings.PROVIDER_RATE_LIMITS = "spapi.pricing=100/100"
    rsps.post(LWA_URL, json=token_answer("Atza|short-lived", expires_in=LWA_EXPIRY_MARGIN_SECONDS + 1))
    rsps.post(LWA_URL, json=token_answer("Atza|second"))
    rsps.get(CATALOG_URL, json=catalog_item())
    rsps.get(OFFERS_URL, json=load_fixture("spapi/getItemOffers.200.consumer.json"))

    SpApiProvider().fetch_one(CATALOG_ASIN, US)
    SpApiProvider().fetch_one(CATALOG_ASIN, US)
    assert len(calls_to(rsps, LWA_URL)) == 1

    time.sleep(1.2)
    SpApiProvider().fetch_one(CATALOG_ASIN, US)

    assert len(calls_to(rsps, LWA_URL)) == 2
    assert calls_to(rsps, "/offers")[-1].request.headers["x-amz-access-token"] == "Atza|second"


def test_a_refused_cached_token_is_renewed_once(spapi_settings, rsps):
    rsps.post(LWA_URL, json=token_answer("Atza|old"))
    rsps.post(LWA_URL, json=token_answer("Atza|new"))
    rsps.get(CATALOG_URL, status=403, json={"errors": [{"code": "Unauthorized", "message": "Access denied"}]})
    rsps.get(CATALOG_URL, json=catalog_item())
    rsps.get(OFFERS_URL, json=load_fixture("spapi/getItemOffers.200.consumer.json"))

    record = SpApiProvider().fetch_one(CATALOG_ASIN, US)

    assert record.title
    assert [c.request.headers["x-amz-access-token"] for c in calls_to(rsps, "/catalog/")] == [
        "Atza|old",
        "Atza|new",
    ]


def test_refused_credentials_are_a_clear_bad_response(spapi_settings, rsps):
    rsps.post(
        LWA_URL,
        status=400,
        json={"error": "invalid_grant", "error_description": "The request has an invalid grant parameter"},
    )

    with pytest.raises(UpstreamBadResponse) as caught:
        SpApiProvider().fetch_one(CATALOG_ASIN, US)

    assert "Login with Amazon" in caught.value.message
    assert "invalid_grant" in caught.value.message
    assert "test-client-secret" not in repr((caught.value.message, caught.value.extra))


def test_unknown_asin_is_not_found_and_pricing_is_not_called(spapi_settings, rsps):
    rsps.post(LWA_URL, json=token_answer())
    rsps.get(CATALOG_URL, status=404, json={"errors": [{"code": "NOT_FOUND", "message": "Not found"}]})

    with pytest.raises(ProductNotFound):
        SpApiProvider().fetch_one("B0NOTHERE1", US)
    assert calls_to(rsps, "/offers") == []


def test_no_offers_is_a_record_without_buy_box(spapi_settings, rsps):
    rsps.post(LWA_URL, json=token_answer())
    rsps.get(CATALOG_URL, json=catalog_item())
    rsps.get(OFFERS_URL, status=404, json={"errors": [{"code": "NOT_FOUND", "message": "No offers"}]})

    record = SpApiProvider().fetch_one(CATALOG_ASIN, US)

    assert record.buy_box is None
    assert record.offers is None
    assert record.price is None
    assert str(record.list_price) == "3799.99 USD"  # from the catalog attributes


def test_rejected_pricing_request_is_a_bad_response(spapi_settings, rsps):
    rsps.post(LWA_URL, json=token_answer())
    rsps.get(CATALOG_URL, json=catalog_item())
    rsps.get(OFFERS_URL, status=400, json=load_fixture("spapi/getItemOffers.400.json"))

    with pytest.raises(UpstreamBadResponse) as caught:
        SpApiProvider().fetch_one(CATALOG_ASIN, US)
    assert caught.value.extra["upstream_code"] == "InvalidInput"


def test_each_marketplace_goes_to_its_region(spapi_settings, rsps):
    eu = "https://sellingpartnerapi-eu.amazon.com"
    item = catalog_item()
    for key in ("summaries", "images", "classifications", "salesRanks", "dimensions", "identifiers"):
        for entry in item[key]:
            entry["marketplaceId"] = "A1PA6795UKMFR9"
    rsps.post(LWA_URL, json=token_answer())
    rsps.get(re.compile(re.escape(eu) + "/catalog/.*"), json=item)
    rsps.get(re.compile(re.escape(eu) + "/products/.*"), status=404, json={"errors": []})

    record = SpApiProvider().fetch_one(CATALOG_ASIN, marketplace_get("DE"))

    assert record.marketplace == "DE"
    assert record.brand == "SAMSUNG"
    assert query(calls_to(rsps, "/catalog/")[0])["marketplaceIds"] == "A1PA6795UKMFR9"


def test_spapi_endpoint_can_be_overridden(spapi_settings, rsps, settings):
    settings.SPAPI_ENDPOINT = "https://sandbox.sellingpartnerapi-na.amazon.com/"
    rsps.post(LWA_URL, json=token_answer())
    rsps.get(
        re.compile(r"https://sandbox\.sellingpartnerapi-na\.amazon\.com/catalog/.*"), json=catalog_item()
    )
    rsps.get(re.compile(r"https://sandbox\.sellingpartnerapi-na\.amazon\.com/products/.*"), status=404)

    assert SpApiProvider().fetch_one(CATALOG_ASIN, US).title


def test_default_rate_limits_are_the_documented_usage_plans():
    plans = load_fixture("spapi/usage-plans.json")

    def documented(operation: str) -> tuple[float, float]:
        rate, burst = re.search(r"\|\s*([\d.]+)\s*\|\s*([\d.]+)\s*\|", plans[operation]).groups()
        return float(rate), float(burst)

    catalog, pricing = conf.DEFAULT_RATE_LIMITS["spapi.catalog"], conf.DEFAULT_RATE_LIMITS["spapi.pricing"]
    assert (catalog.rate, catalog.burst) == documented("getCatalogItem")
    assert (pricing.rate, pricing.burst) == documented("getItemOffers")


def test_pricing_calls_keep_to_the_documented_rate(spapi_settings, rsps):
    # getItemOffers: 0.5 requests/s, burst 1 -> a second call waits 2 s for its token.
    rsps.post(LWA_URL, json=token_answer())
    asins = ["B07N4M94X4", "B07N4M94X5"]
    rsps.add_callback("GET", CATALOG_URL, callback=lambda request: (200, {}, _catalog_json(request)))
    sent_at: list[float] = []

    def offers(request):
        sent_at.append(time.monotonic())
        return 200, {}, _json(load_fixture("spapi/getItemOffers.200.consumer.json"))

    rsps.add_callback("GET", OFFERS_URL, callback=offers)

    records = SpApiProvider().fetch_many(asins, US)

    assert list(records) == asins
    assert len(sent_at) == 2
    assert sent_at[1] - sent_at[0] >= 1.95


def test_without_credentials_it_is_not_configured(settings, rsps):
    settings.SPAPI_REFRESH_TOKEN = ""
    with pytest.raises(ProviderNotConfigured):
        SpApiProvider().fetch_one(CATALOG_ASIN, US)
    assert len(rsps.calls) == 0


def _json(data) -> str:
    return json.dumps(data)


def _catalog_json(request) -> str:
    asin = urlsplit(request.url).path.rsplit("/", 1)[-1]
    return _json(catalog_item(asin))


def test_spapi_has_no_sales_figure_and_says_so(upstream):
    record = SpApiProvider().fetch_one(CATALOG_ASIN, US)

    velocity = record.to_dict()["sales_velocity"]
    assert velocity["source"] == "spapi"
    assert velocity["unavailable"] == "not available from SP-API"
    assert velocity["monthly_sold"] is None
    assert [velocity[f"rank_drops_{days}"] for days in (30, 90, 180, 365)] == [None] * 4
    assert record.sales_rank is not None  # a rank there is, and it is not turned into sales
