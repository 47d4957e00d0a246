import copy
import json
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import pytest

from core.api_errors import http_status
from products.marketplaces import marketplace_get
from products.providers import (
    MarketplaceNotSupported,
    ProductNotFound,
    ProviderNotConfigured,
    RateLimited,
    UpstreamBadResponse,
    UpstreamUnavailable,
)
from products.providers.keepa import KeepaProvider, TokenState
from products.tests.conftest import KEEPA_KEY, KEEPA_PRODUCT_URL, load_fixture

US = marketplace_get("US")
ASIN = "B0TESTKEEP"


def keepa_time(minutes: int) -> datetime:
    # keepa.md: Keepa time is minutes since 2011-01-01 00:00 UTC.
    return datetime(2011, 1, 1, tzinfo=UTC) + timedelta(minutes=minutes)


def answer(**overrides):
    body = load_fixture("keepa/product-response.json")
    body.update(overrides)
    return body


def query(call) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(call.request.url).query).items()}


@pytest.fixture
def fetched(keepa_settings, rsps):
    rsps.get(KEEPA_PRODUCT_URL, json=answer())
    return KeepaProvider().fetch_one(ASIN, US)


def test_reference_sample_decodes_to_the_expected_record(fetched):
    expected = load_fixture("keepa/product-response.expected.json")
    record = fetched

    assert record.asin == expected["asin"]
    assert record.title == expected["title"]
    assert record.brand == expected["brand"]
    assert str(record.buy_box.price) == expected["buy_box_price"]
    assert str(record.amazon_price) == expected["amazon_price"]
    assert str(record.lowest_new_price) == expected["lowest_new"]
    assert str(record.list_price) == expected["list_price"]
    assert record.sales_rank.rank == expected["sales_rank"]
    assert record.sales_rank.category == expected["sales_rank_category"]
    assert record.rating == expected["rating"]
    assert record.review_count == expected["review_count"]
    assert record.offers.new == expected["new_offers"]
    assert str(record.package_dimensions.weight) == expected["package_weight"]
    assert list(record.images) == expected["images"]


def test_reference_sample_other_fields(fetched):
    record = fetched
    assert record.marketplace == "US"
    assert record.provider == "keepa"
    assert record.sample_data is False
    assert record.manufacturer == "Example Manufacturing Co."
    assert [(c.id, c.name) for c in record.categories] == [
        ("1055398", "Home & Kitchen"),
        ("284507", "Kitchen & Dining"),
        ("2975435011", "Water Bottles"),
    ]
    assert [(r.rank, r.category_id, r.category) for r in record.sales_ranks] == [
        (1432, "1055398", "Home & Kitchen"),
        (11, "2975435011", "Water Bottles"),
    ]
    # The buy box: price and shipping from the smallest currency unit, seller, FBA.
    assert record.buy_box.price.amount == Decimal("21.99")
    assert record.buy_box.shipping.amount == Decimal("0.00")
    assert record.buy_box.seller_id == "ATVPDKIKX0DER"
    assert record.buy_box.is_fba is True
    assert record.price == record.buy_box.landed_price
    assert str(record.lowest_used_price) == "18.75 USD"
    # COUNT_NEW 12 + COUNT_USED 2; refurbished and collectible unknown (-1).
    assert (record.offers.new, record.offers.used, record.offers.total) == (12, 2, 14)
    assert record.eans == ("0012345678905",)
    assert record.upcs == ("012345678905",)
    assert record.parent_asin == "B0TESTPRNT"
    item = record.item_dimensions
    assert [str(item.length), str(item.width), str(item.height), str(item.weight)] == [
        "89 mm",
        "89 mm",
        "279 mm",
        "454 g",
    ]
    package = record.package_dimensions
    assert [str(package.length), str(package.width), str(package.height)] == ["102 mm", "97 mm", "292 mm"]


def test_histories_decode_keepa_time_prices_and_gaps(fetched):
    history = {h.metric: h for h in fetched.history}

    amazon = history["amazon_price"]
    assert amazon.kind == "price"
    assert amazon.currency == "USD"
    assert [(p.at, p.value) for p in amazon.points] == [
        (keepa_time(8298240), Decimal("24.99")),
        (keepa_time(8312640), None),  # -1: Amazon had no offer
        (keepa_time(8327040), Decimal("22.99")),
    ]
    # keepa.md's other form of the same encoding: unix ms = (keepaTime + 21564000) * 60000.
    assert amazon.points[-1].at.timestamp() * 1000 == (8327040 + 21564000) * 60000

    assert [p.value for p in history["sales_rank"].points] == [1520, 1611, 1432]
    assert [p.value for p in history["rating"].points] == [4.5, 4.6]
    assert [p.value for p in history["review_count"].points] == [8650, 8812]
    assert [p.value for p in history["new_offer_count"].points] == [9, 12]
    assert [p.value for p in history["list_price"].points] == [Decimal("29.99")]
    # The buy box history holds [time, price, shipping] triples: landed prices.
    buy_box = history["buy_box_landed_price"]
    assert [(p.at, p.value) for p in buy_box.points] == [
        (keepa_time(8298240), Decimal("23.99")),
        (keepa_time(8327040), Decimal("21.99")),
    ]


def test_request_asks_for_the_marketplace_domain_stats_buy_box_and_rating(keepa_settings, rsps):
    rsps.get(KEEPA_PRODUCT_URL, json=answer())

    KeepaProvider().fetch_many([ASIN], marketplace_get("DE"))

    params = query(rsps.calls[0])
    assert params["key"] == KEEPA_KEY
    assert params["domain"] == "3"
    assert params["asin"] == ASIN
    assert params["stats"] == "90"
    assert params["buybox"] == "1"
    assert params["rating"] == "1"


def test_prices_use_the_currency_smallest_unit(keepa_settings, rsps):
    rsps.get(KEEPA_PRODUCT_URL, json=answer())

    record = KeepaProvider().fetch_one(ASIN, marketplace_get("JP"))

    # Yen have no minor unit: 2299 is 2299 yen.
    assert str(record.amazon_price) == "2299 JPY"
    assert record.marketplace == "JP"


def test_batches_hold_up_to_100_asins(keepa_settings, rsps, settings):
    settings.PROVIDER_RATE_LIMITS = "keepa=1000/1000"
    asins = [f"B0BATCH{i:03d}" for i in range(150)]
    template = load_fixture("keepa/product-response.json")["products"][0]

    def callback(request):
        requested = parse_qs(urlsplit(request.url).query)["asin"][0].split(",")
        products = [dict(copy.deepcopy(template), asin=asin) for asin in requested]
        return 200, {}, json.dumps(answer(products=products))

    rsps.add_callback("GET", KEEPA_PRODUCT_URL, callback=callback)

    records = KeepaProvider().fetch_many(asins, US)

    assert [len(query(call)["asin"].split(",")) for call in rsps.calls] == [100, 50]
    assert list(records) == asins
    assert all(record.asin == asin for asin, record in records.items())


def test_unknown_asin_comes_back_as_a_stub_and_is_not_found(keepa_settings, rsps):
    rsps.get(KEEPA_PRODUCT_URL, json=answer(products=[{"asin": "B0UNKNOWN1", "domainId": 1, "csv": None}]))

    with pytest.raises(ProductNotFound) as caught:
        KeepaProvider().fetch_one("B0UNKNOWN1", US)
    assert http_status(caught.value) == 404


def test_token_state_of_every_answer_is_shared(keepa_settings, rsps):
    rsps.get(KEEPA_PRODUCT_URL, json=answer(tokensLeft=0, refillIn=45000))

    KeepaProvider().fetch_one(ASIN, US)

    # Any process now knows the bucket is empty until the refill.
    assert 44 < TokenState(KEEPA_KEY).wait_seconds() <= 45


def test_429_waits_for_the_refill_then_succeeds(keepa_settings, rsps):
    rsps.get(KEEPA_PRODUCT_URL, status=429, json={"tokensLeft": -3, "refillIn": 400, "refillRate": 20})
    rsps.get(KEEPA_PRODUCT_URL, json=answer())

    started = time.monotonic()
    record = KeepaProvider().fetch_one(ASIN, US)

    assert record.title
    assert len(rsps.calls) == 2
    assert time.monotonic() - started >= 0.4


def test_429_with_a_long_refill_fails_cleanly_without_hammering(keepa_settings, rsps):
    rsps.get(KEEPA_PRODUCT_URL, status=429, json={"tokensLeft": 0, "refillIn": 50000, "refillRate": 20})

    started = time.monotonic()
    with pytest.raises(UpstreamUnavailable) as caught:
        KeepaProvider().fetch_one(ASIN, US)

    assert len(rsps.calls) == 1
    assert time.monotonic() - started < 2
    assert 49 < caught.value.retry_after <= 51
    assert http_status(caught.value) == 503

    # Until the refill, no process calls Keepa at all.
    with pytest.raises(RateLimited) as again:
        KeepaProvider().fetch_one(ASIN, US)
    assert len(rsps.calls) == 1
    assert 48 < again.value.retry_after <= 50


def test_429_in_debt_waits_for_enough_refills(keepa_settings, rsps):
    # 50 tokens in debt at 20 a minute: positive again after the third refill.
    rsps.get(KEEPA_PRODUCT_URL, status=429, json={"tokensLeft": -50, "refillIn": 10000, "refillRate": 20})

    with pytest.raises(UpstreamUnavailable) as caught:
        KeepaProvider().fetch_one(ASIN, US)

    assert 129 < caught.value.retry_after <= 131


def test_refusals_are_bad_responses_that_never_show_the_key(keepa_settings, rsps):
    rsps.get(
        KEEPA_PRODUCT_URL,
        status=402,
        json={
            "tokensLeft": 0,
            "refillIn": 0,
            "error": {"type": "payment", "message": "No active subscription"},
        },
    )

    with pytest.raises(UpstreamBadResponse) as caught:
        KeepaProvider().fetch_one(ASIN, US)

    error = caught.value
    assert "402" in error.message
    assert error.extra["upstream_message"] == "No active subscription"
    assert KEEPA_KEY not in repr((error.message, error.extra))


@pytest.mark.parametrize(
    "body",
    [
        b"<html><body>Bad gateway</body></html>",
        b'{"tokensLeft": 10, "refillIn": 100',
        b'{"tokensLeft": 10, "refillIn": 100, "products": "nope"}',
        b'{"tokensLeft": 10, "refillIn": 100, "products": [{"asin": "B0TESTKEEP", "title": "x", "csv": 7}]}',
        b"[]",
    ],
)
def test_garbage_answers_are_bad_responses(keepa_settings, rsps, body):
    rsps.get(KEEPA_PRODUCT_URL, body=body, status=200)

    with pytest.raises(UpstreamBadResponse) as caught:
        KeepaProvider().fetch_one(ASIN, US)
    assert http_status(caught.value) == 502


def test_marketplace_without_keepa_domain_is_not_supported(keepa_settings, rsps):
    with pytest.raises(MarketplaceNotSupported):
        KeepaProvider().fetch_one(ASIN, marketplace_get("NL"))
    assert len(rsps.calls) == 0


def test_without_an_api_key_it_is_not_configured(settings, rsps):
    settings.KEEPA_API_KEY = ""
    with pytest.raises(ProviderNotConfigured):
        KeepaProvider().fetch_one(ASIN, US)
    assert len(rsps.calls) == 0


# --- Data fidelity: images, csv types, landed prices -----------------------------------------------

# Keepa's documentation of the ``images`` array (keepacom/api_backend, Product.images).
DOCUMENTED_IMAGE = {
    "l": "81bRlmLRyPL.jpg",
    "lH": 1500,
    "lW": 1500,
    "m": "g1dlEmb2mq3.jpg",
    "mH": 500,
    "mW": 500,
}
# 2026-02-16 00:00 UTC in Keepa minutes: from then on Keepa's NEW price includes shipping.
NEW_LANDED_SINCE = 7_956_000


def product(**changes):
    body = answer()
    body["products"][0].update(changes)
    return body


def fetch(rsps, body):
    rsps.get(KEEPA_PRODUCT_URL, json=body)
    return KeepaProvider().fetch_one(ASIN, US)


def csv_with(**series):
    csv = copy.deepcopy(answer()["products"][0]["csv"])
    csv += [None] * (36 - len(csv))
    for index, values in series.items():
        csv[int(index.removeprefix("i"))] = values
    return csv


def stats_current(**values):
    stats = copy.deepcopy(answer()["products"][0]["stats"])
    stats["current"] += [-1] * (36 - len(stats["current"]))
    for index, value in values.items():
        stats["current"][int(index.removeprefix("i"))] = value
    return stats


def test_images_come_from_the_images_array_large_files_first(keepa_settings, rsps):
    medium_only = {"m": "61mediumONLY.jpg", "mH": 500, "mW": 500}
    record = fetch(rsps, product(images=[DOCUMENTED_IMAGE, medium_only]))

    # imagesCSV (deprecated) is not read when the images array is there.
    assert record.images == (
        "https://m.media-amazon.com/images/I/81bRlmLRyPL.jpg",
        "https://m.media-amazon.com/images/I/61mediumONLY.jpg",
    )


def test_images_csv_is_the_fallback_without_an_images_array(keepa_settings, rsps):
    record = fetch(rsps, product(images=None))
    assert record.images == (
        "https://m.media-amazon.com/images/I/71abcdEXAMPL.jpg",
        "https://m.media-amazon.com/images/I/81efghEXAMPL.jpg",
    )


def test_a_product_with_only_an_images_array_is_known(keepa_settings, rsps):
    body = answer(products=[{"asin": ASIN, "domainId": 1, "csv": None, "images": [DOCUMENTED_IMAGE]}])
    record = fetch(rsps, body)
    assert record.images == ("https://m.media-amazon.com/images/I/81bRlmLRyPL.jpg",)


def test_csv_type_indexes_follow_keepas_csv_type():
    from products.providers.keepa import _TRIPLE_TYPES, CsvType

    assert [
        CsvType.USED_NEW_SHIPPING,
        CsvType.USED_VERY_GOOD_SHIPPING,
        CsvType.USED_GOOD_SHIPPING,
        CsvType.USED_ACCEPTABLE_SHIPPING,
    ] == [19, 20, 21, 22]
    assert (CsvType.REFURBISHED_SHIPPING, CsvType.TRADE_IN, CsvType.BUY_BOX_USED_SHIPPING) == (27, 30, 32)
    # isWithShipping in Keepa's CsvType: 7, 18, 19-29 and 32; trade-in (30) and rent (31) are pairs.
    assert sorted(_TRIPLE_TYPES) == [7, 18, *range(19, 30), 32]


def test_the_used_buy_box_history_is_read_as_price_shipping_triples(keepa_settings, rsps):
    # csv[32], BUY_BOX_USED_SHIPPING: [time, price, shipping, ...]; csv[30], trade-in, is pairs.
    csv = csv_with(i32=[8298240, 1500, 399, 8327040, 1450, -1], i30=[8298240, 500, 8327040, 450])
    record = fetch(rsps, product(csv=csv))

    history = {h.metric: h for h in record.history}
    assert [(p.at, p.value) for p in history["buy_box_used_landed_price"].points] == [
        (keepa_time(8298240), Decimal("18.99")),
        (keepa_time(8327040), Decimal("14.50")),
    ]


def test_the_lowest_used_price_is_the_lowest_landed_used_condition(keepa_settings, rsps):
    # Used - like new 15.00 + 3.99, used - good 14.00 + 6.00 (landed 20.00), used - acceptable none.
    csv = csv_with(i19=[8327040, 1500, 399], i21=[8327040, 1400, 600], i22=[8327040, -1, -1])
    stats = stats_current(i19=1899, i21=2000, i22=-1)
    record = fetch(rsps, product(csv=csv, stats=stats))

    assert str(record.lowest_used_price) == "18.99 USD"
    used = record.parts("lowest_used_price")
    assert (used.basis, str(used.listing), str(used.shipping)) == ("landed", "15.00 USD", "3.99 USD")


def test_without_used_conditions_the_lowest_used_is_used_without_shipping(fetched):
    # The reference sample has USED (18.75) but no used-by-condition prices (they need offers=).
    assert str(fetched.lowest_used_price) == "18.75 USD"
    assert fetched.parts("lowest_used_price").basis == "listing"
    assert fetched.parts("lowest_used_price").shipping is None
    assert fetched.price_basis == "mixed"


def test_used_condition_prices_from_the_history_alone_are_landed(keepa_settings, rsps):
    stats = copy.deepcopy(answer()["products"][0]["stats"])
    del stats["current"]
    record = fetch(rsps, product(csv=csv_with(i20=[8327040, 1200, 250]), stats=stats))

    assert str(record.lowest_used_price) == "14.50 USD"
    assert str(record.parts("lowest_used_price").shipping) == "2.50 USD"


def test_new_is_landed_when_keepa_collected_it_from_2026_02_16_on(fetched):
    # The reference sample was updated at Keepa time 8327070, in 2026-11.
    assert str(fetched.lowest_new_price) == "21.99 USD"
    assert fetched.parts("lowest_new_price").basis == "landed"
    # Keepa gives NEW's total only, not its parts.
    assert fetched.parts("lowest_new_price").listing is None
    assert fetched.to_dict()["price_parts"]["lowest_new_price"] == {
        "basis": "landed",
        "listing": None,
        "shipping": None,
    }


def test_new_collected_before_2026_02_16_is_the_item_price_alone(keepa_settings, rsps):
    record = fetch(rsps, product(lastUpdate=NEW_LANDED_SINCE - 1))
    assert record.parts("lowest_new_price").basis == "listing"

    rsps.replace("GET", KEEPA_PRODUCT_URL, json=product(lastUpdate=NEW_LANDED_SINCE))
    record = KeepaProvider().fetch_one(ASIN, US)
    assert record.parts("lowest_new_price").basis == "landed"


def test_amazons_own_price_is_marked_without_shipping(fetched):
    # Keepa's AMAZON type has no shipping (isWithShipping false).
    assert str(fetched.amazon_price) == "22.99 USD"
    assert fetched.parts("amazon_price").basis == "listing"


def test_the_price_is_the_buy_box_landed_price_with_its_parts(keepa_settings, rsps):
    # As in the issue: a DE buy box of 3.90 + 0.79 shipping is 4.69, not 3.90.
    stats = copy.deepcopy(answer()["products"][0]["stats"])
    stats.update(buyBoxPrice=390, buyBoxShipping=79)
    rsps.get(KEEPA_PRODUCT_URL, json=product(stats=stats))

    record = KeepaProvider().fetch_one(ASIN, marketplace_get("DE"))

    assert str(record.buy_box.landed_price) == "4.69 EUR"
    assert str(record.price) == "4.69 EUR"
    parts = record.parts("price")
    assert (parts.basis, str(parts.listing), str(parts.shipping)) == ("landed", "3.90 EUR", "0.79 EUR")


def test_the_buy_box_from_its_history_alone_is_landed(keepa_settings, rsps):
    stats = copy.deepcopy(answer()["products"][0]["stats"])
    del stats["buyBoxPrice"], stats["buyBoxShipping"], stats["current"]
    csv = csv_with(i18=[8298240, 2399, 0, 8327040, 1999, 150])
    record = fetch(rsps, product(csv=csv, stats=stats))

    assert str(record.price) == "21.49 USD"
    assert str(record.parts("price").shipping) == "1.50 USD"


def test_price_histories_say_whether_they_include_shipping(fetched):
    history = {h.metric: h for h in fetched.history}

    assert history["buy_box_landed_price"].basis == "landed"
    assert history["amazon_price"].basis == "listing"
    assert history["used_price"].basis == "listing"
    # NEW: landed for points from 2026-02-16 on, the item's price alone before.
    assert history["new_price"].basis == "landed"
    assert history["new_price"].landed_since == keepa_time(NEW_LANDED_SINCE)
    assert history["sales_rank"].basis is None
    new = next(h for h in fetched.to_dict()["history"] if h["metric"] == "new_price")
    assert (new["basis"], new["landed_since"]) == ("landed", "2026-02-16T00:00:00Z")


# Sales velocity. Field names and meanings as in Keepa's API backend (keepacom/api_backend,
# structs/Product.java: monthlySold, lastSoldUpdate, monthlySoldHistory; structs/Stats.java:
# salesRankDrops30/90/180/365, -1 when not counted).
def with_velocity(*, monthly_sold=1000, last_sold_update=8326800, drops=(24, 71, 140, 301)):
    body = answer()
    product = body["products"][0]
    product["monthlySold"] = monthly_sold
    product["lastSoldUpdate"] = last_sold_update
    product["monthlySoldHistory"] = [8283600, 600, 8326800, monthly_sold]
    for days, count in zip((30, 90, 180, 365), drops, strict=True):
        product["stats"][f"salesRankDrops{days}"] = count
    return body


def test_monthly_sold_and_rank_drops_are_read_with_their_source_and_time(keepa_settings, rsps):
    rsps.get(KEEPA_PRODUCT_URL, json=with_velocity())

    velocity = KeepaProvider().fetch_one(ASIN, US).sales_velocity

    assert velocity.source == "keepa"
    assert velocity.monthly_sold == 1000
    assert velocity.monthly_sold_as_of == keepa_time(8326800)
    assert [velocity.drops(days) for days in (30, 90, 180, 365)] == [24, 71, 140, 301]
    # The statistics are Keepa's as of its last update of the product (lastUpdate 8327070).
    assert velocity.rank_drops_as_of == keepa_time(8327070)
    assert velocity.unavailable is None


def test_windows_keepa_did_not_count_are_none_not_zero(keepa_settings, rsps):
    rsps.get(KEEPA_PRODUCT_URL, json=with_velocity(drops=(3, 9, -1, -1)))

    data = KeepaProvider().fetch_one(ASIN, US).to_dict()["sales_velocity"]

    assert (data["rank_drops_30"], data["rank_drops_90"]) == (3, 9)
    assert (data["rank_drops_180"], data["rank_drops_365"]) == (None, None)


@pytest.mark.parametrize("monthly_sold", [None, 0, -1])
def test_no_monthly_sold_is_none_and_no_estimate_is_made(keepa_settings, rsps, monthly_sold):
    rsps.get(KEEPA_PRODUCT_URL, json=with_velocity(monthly_sold=monthly_sold))

    record = KeepaProvider().fetch_one(ASIN, US)

    assert record.sales_rank is not None  # a rank there is, and it is not turned into sales
    assert record.sales_velocity.monthly_sold is None
    assert record.sales_velocity.monthly_sold_as_of is None
    assert record.sales_velocity.drops(30) == 24


def test_an_answer_without_velocity_fields_has_none(fetched):
    # The reference answer predates these fields: no monthlySold, no salesRankDrops.
    velocity = fetched.sales_velocity

    assert velocity.source == "keepa"
    assert velocity.monthly_sold is None
    assert velocity.rank_drops == ()
    assert velocity.rank_drops_as_of is None
    assert fetched.to_dict()["sales_velocity"]["rank_drops_30"] is None


def test_an_unreadable_monthly_sold_is_a_bad_response(keepa_settings, rsps):
    rsps.get(KEEPA_PRODUCT_URL, json=with_velocity(monthly_sold="lots"))

    with pytest.raises(UpstreamBadResponse):
        KeepaProvider().fetch_one(ASIN, US)
