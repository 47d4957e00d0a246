import time
from datetime import UTC, datetime

import pytest

from core.api_errors import http_status
from products.marketplaces import MARKETPLACES, marketplace_get
from products.providers import ProductNotFound, UpstreamBadResponse, UpstreamUnavailable
from products.providers import sandbox as sandbox_module
from products.providers.sandbox import RESERVED_ASINS, SandboxProvider

US = marketplace_get("US")
NOW = datetime(2026, 3, 14, 15, 9, 26, tzinfo=UTC)


def sandbox():
    return SandboxProvider(clock=lambda: NOW)


def test_records_are_deterministic():
    first = sandbox().fetch_one("B08N5WRWNW", US)
    second = sandbox().fetch_one("b08n5wrwnw".upper(), US)

    assert first.to_dict() == second.to_dict()
    assert first.fetched_at == NOW


def test_different_asins_get_different_products():
    titles = {sandbox().fetch_one(asin, US).title for asin in ("B08N5WRWNW", "B07N4M94X4", "0439064872")}
    assert len(titles) == 3


def test_the_same_product_in_each_marketplace_with_local_prices():
    us = sandbox().fetch_one("B08N5WRWNW", US)
    de = sandbox().fetch_one("B08N5WRWNW", marketplace_get("DE"))
    jp = sandbox().fetch_one("B08N5WRWNW", marketplace_get("JP"))

    assert us.title == de.title == jp.title
    assert (us.price.currency, de.price.currency, jp.price.currency) == ("USD", "EUR", "JPY")
    assert de.marketplace == "DE"
    assert jp.price.amount == jp.price.amount.to_integral_value()  # no minor unit for yen
    assert us.price.amount.as_tuple().exponent == -2


def test_every_valid_asin_in_every_marketplace_gets_a_plausible_record():
    for asin in ("B0TESTKEEP", "0439064872", "043906487X", "ZZZZZZZZZZ", "1111111111"):
        for marketplace in MARKETPLACES.values():
            record = sandbox().fetch_one(asin, marketplace)
            assert record.asin == asin
            assert record.title
            assert record.buy_box.price.currency == marketplace.currency
            assert record.list_price.amount >= record.buy_box.price.amount
            assert record.price == record.buy_box.landed_price  # landed: item + shipping
            assert record.offers.total == record.offers.new + record.offers.used
            assert 3.0 <= record.rating <= 4.9
            assert record.sales_rank == record.sales_ranks[0]
            assert record.categories[0].name == record.sales_rank.category
            assert len(record.upcs[0]) == 12
            assert record.eans == ("0" + record.upcs[0],)


def test_sample_data_is_labelled_everywhere():
    record = sandbox().fetch_one("B08N5WRWNW", US)
    data = record.to_dict()

    assert record.sample_data is True
    assert data["sample_data"] is True
    assert data["provider"] == "sandbox"
    assert record.title.startswith("[SAMPLE] ")
    assert all(image.startswith("data:image/svg+xml,") and "SAMPLE" in image for image in record.images)
    assert record.buy_box.seller_id.startswith("A0SAMPLE")


def test_history_ends_today_at_the_current_values():
    record = sandbox().fetch_one("B08N5WRWNW", US)
    history = {h.metric: h for h in record.history}

    buy_box = history["buy_box_landed_price"]
    assert len(buy_box.points) == 30
    assert buy_box.points[-1].at == datetime(2026, 3, 14, tzinfo=UTC)
    assert buy_box.points[-1].value == record.buy_box.landed_price.amount
    assert history["sales_rank"].points[-1].value == record.sales_rank.rank
    assert [p.at for p in buy_box.points] == sorted(p.at for p in buy_box.points)


def test_reserved_asin_not_found():
    assert sandbox().fetch_many(["B000000404", "B08N5WRWNW"], US)["B000000404"] is None
    with pytest.raises(ProductNotFound) as caught:
        sandbox().fetch_one("B000000404", US)
    assert http_status(caught.value) == 404


@pytest.mark.parametrize(
    ("asin", "error", "retry_after"),
    [
        ("B000000503", UpstreamUnavailable, 30),
        ("B000000429", UpstreamUnavailable, 60),
        ("B000000502", UpstreamBadResponse, None),
    ],
)
def test_reserved_asins_simulate_upstream_failures(asin, error, retry_after):
    with pytest.raises(error) as caught:
        sandbox().fetch_one(asin, US)
    assert caught.value.retry_after == retry_after
    assert asin in caught.value.message
    # An upstream failure fails the whole batch, as an outage would.
    with pytest.raises(error):
        sandbox().fetch_many(["B08N5WRWNW", asin], US)


def test_reserved_asins_are_documented():
    assert set(RESERVED_ASINS) == {"B000000404", "B000000429", "B000000502", "B000000503"}
    assert all(asin in sandbox_module.__doc__ for asin in RESERVED_ASINS)


def test_latency_setting_delays_every_answer(settings):
    settings.SANDBOX_LATENCY_MS = 250

    started = time.monotonic()
    sandbox().fetch_many(["B08N5WRWNW", "B07N4M94X4"], US)

    assert time.monotonic() - started >= 0.25


def test_duplicates_are_folded():
    records = sandbox().fetch_many(["B08N5WRWNW", "B08N5WRWNW"], US)
    assert list(records) == ["B08N5WRWNW"]


def test_simulated_failures_are_not_counted_by_the_circuit_breaker(settings):
    from products.providers import CircuitState, circuit_state

    settings.CIRCUIT_FAILURE_THRESHOLD = 2
    for asin in ("B000000503", "B000000429", "B000000502") * 2:
        with pytest.raises((UpstreamUnavailable, UpstreamBadResponse)) as raised:
            sandbox().fetch_many([asin], US)
        assert not raised.value.counts_as_failure

    assert circuit_state("sandbox") == CircuitState.CLOSED
    assert sandbox().fetch_one("B08N5WRWNW", US).asin == "B08N5WRWNW"


def test_sales_velocity_is_deterministic_sample_data_in_keepas_shape():
    fixed = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)
    provider = SandboxProvider(clock=lambda: fixed)
    asins = [f"B0SAMPLE{n:02d}" for n in range(40)]

    records = [provider.fetch_one(asin, marketplace_get("US")) for asin in asins]
    again = [SandboxProvider(clock=lambda: fixed).fetch_one(asin, marketplace_get("US")) for asin in asins]

    assert [r.sales_velocity for r in records] == [r.sales_velocity for r in again]
    steps = set(sandbox_module._MONTHLY_SOLD_STEPS)
    for record in records:
        velocity = record.sales_velocity
        assert record.sample_data is True
        assert velocity.source == "sandbox"
        assert velocity.monthly_sold is None or velocity.monthly_sold in steps
        assert (velocity.monthly_sold_as_of is None) == (velocity.monthly_sold is None)
        drops = [velocity.drops(days) for days in (30, 90, 180, 365)]
        assert drops == sorted(drops), "a longer window counts at least the drops of a shorter one"
        assert velocity.rank_drops_as_of == fixed
    # Like Amazon's badge, some products have a monthly figure and some do not.
    assert {r.sales_velocity.monthly_sold is None for r in records} == {True, False}
