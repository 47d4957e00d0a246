"""The profit calculator: worked examples done by hand (in the comments), VAT, no price, no fees."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from core.errors import DomainError
from products.marketplaces import marketplace_get
from products.providers.base import BuyBox, Dimensions, Measurement, Money, ProductRecord
from resale.fees import FeeQuote, fee_quote_unavailable
from resale.profit import FEES_UNAVAILABLE, NO_PRICE, OK, ResaleCosts, profit_calculate

D = Decimal
NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


def record(
    marketplace: str = "US",
    *,
    buy_box: str | None = "25.00",
    shipping: str = "0.00",
    price: str | None = None,
    grams: int | None = None,
    asin: str = "B07XJ8C8F5",
) -> ProductRecord:
    currency = marketplace_get(marketplace).currency
    box = BuyBox(Money.of(D(buy_box), currency), Money.of(D(shipping), currency)) if buy_box else None
    dims = Dimensions(weight=Measurement(D(grams), "g")) if grams is not None else None
    return ProductRecord(
        asin=asin,
        marketplace=marketplace,
        provider="spapi",
        fetched_at=NOW,
        buy_box=box,
        price=box.landed_price if box else (Money.of(D(price), currency) if price else None),
        package_dimensions=dims,
    )


def fees(total: str, marketplace: str = "US", *, sample: bool = False) -> FeeQuote:
    return FeeQuote(
        asin="B07XJ8C8F5",
        marketplace=marketplace,
        price=None,
        available=True,
        referral=None,
        fulfilment=None,
        closing=None,
        other=D(total),
        total=D(total),
        currency=marketplace_get(marketplace).currency,
        source="spapi",
        sample=sample,
        reason="",
        fetched_at=NOW,
    )


def test_us_worked_example_without_vat():
    result = profit_calculate(
        marketplace="US",
        record=record(buy_box="25.00"),
        fees=fees("7.06"),
        cost="8.00",
        quantity=3,
        costs=ResaleCosts(inbound_per_unit=D("0.50"), prep_per_unit=D("0.30"), target_roi_percent=D(50)),
    )
    assert result.status == OK
    assert result.sale_price == D("25.00")
    assert result.sale_price_source == "buy_box"
    assert result.output_vat == D("0.00")
    # 25.00 - 7.06
    assert result.net_proceeds == D("17.94")
    # 8.00 + 0.50 + 0.30
    assert result.landed_cost == D("8.80")
    # 17.94 - 8.80
    assert result.profit == D("9.14")
    assert result.profit_total == D("27.42")
    # 9.14 / 25.00 = 36.56 %; 9.14 / 8.80 = 103.8636... %
    assert result.margin_percent == D("36.56")
    assert result.roi_percent == D("103.86")
    # profit 0 at cost 17.94 - 0.80
    assert result.break_even_cost == D("17.14")
    # ROI 50 %: landed cost 17.94 / 1.5 = 11.96, less 0.80 of inbound and prep
    assert result.max_cost_for_target_roi == D("11.16")
    assert result.vat_rate is None


def test_de_worked_example_vat_registered():
    result = profit_calculate(
        marketplace="DE",
        record=record("DE", buy_box="23.80"),
        fees=fees("5.95", "DE"),
        cost="11.90",
        costs=ResaleCosts(vat_registered=True, target_roi_percent=D(30)),
    )
    assert result.status == OK
    assert result.currency == "EUR"
    assert result.vat_rate == D(19)
    # 23.80 x 19 / 119 = 3.80 owed; fees' 5.95 x 19 / 119 = 0.95 reclaimed
    assert result.output_vat == D("3.80")
    assert result.fees_vat_reclaimed == D("0.95")
    # 23.80 - 3.80 - (5.95 - 0.95)
    assert result.net_proceeds == D("15.00")
    # 11.90 x 19 / 119 = 1.90 reclaimed: the cost counts 10.00
    assert result.input_vat_reclaimed == D("1.90")
    assert result.landed_cost == D("10.00")
    assert result.profit == D("5.00")
    # 5.00 / (23.80 - 3.80); 5.00 / 10.00
    assert result.margin_percent == D("25.00")
    assert result.roi_percent == D("50.00")
    # 15.00 net, grossed up with VAT: 15.00 x 1.19
    assert result.break_even_cost == D("17.85")
    # 15.00 / 1.30 x 1.19 = 13.7307..., rounded down so paying it still makes 30 %
    assert result.max_cost_for_target_roi == D("13.73")


def test_same_de_sale_not_vat_registered_counts_everything_as_entered():
    result = profit_calculate(
        marketplace="DE", record=record("DE", buy_box="23.80"), fees=fees("5.95", "DE"), cost="11.90"
    )
    # 23.80 - 5.95 - 11.90
    assert result.profit == D("5.95")
    assert result.output_vat == D("0.00")
    assert result.vat_rate is None


def test_us_has_no_vat_even_for_a_vat_registered_seller():
    result = profit_calculate(
        marketplace="US",
        record=record(buy_box="25.00"),
        fees=fees("7.06"),
        cost="8.00",
        costs=ResaleCosts(vat_registered=True),
    )
    assert result.vat_rate is None
    assert result.profit == D("9.94")


def test_landed_buy_box_includes_its_shipping():
    result = profit_calculate(
        marketplace="DE",
        record=record("DE", buy_box="3.90", shipping="0.79"),
        fees=fees("1.00", "DE"),
        cost="1",
    )
    assert result.sale_price == D("4.69")
    # 4.69 - 1.00 - 1.00
    assert result.profit == D("2.69")


def test_inbound_per_kg_uses_the_package_weight_and_rounds_half_up():
    # 1,500 g at 2.00 per kg = 3.00, plus 0.25 per unit
    result = profit_calculate(
        marketplace="US",
        record=record(grams=1500),
        fees=fees("5.00"),
        cost="5.00",
        costs=ResaleCosts(inbound_per_unit=D("0.25"), inbound_per_kg=D("2.00")),
    )
    assert result.inbound == D("3.25")
    # 250 g at 0.10 per kg = 0.025: half up 0.03 (banker's rounding would say 0.02)
    half = profit_calculate(
        marketplace="US",
        record=record(grams=250),
        fees=fees("5.00"),
        cost="5.00",
        costs=ResaleCosts(inbound_per_kg=D("0.10")),
    )
    assert half.inbound == D("0.03")


def test_per_kg_without_a_weight_is_left_out_with_a_note():
    result = profit_calculate(
        marketplace="US",
        record=record(grams=None),
        fees=fees("5.00"),
        cost="5.00",
        costs=ResaleCosts(inbound_per_kg=D("2.00")),
    )
    assert result.status == OK
    assert result.inbound == D("0.00")
    assert any("weight" in note for note in result.notes)


def test_no_buy_box_falls_back_to_the_current_price():
    result = profit_calculate(
        marketplace="US", record=record(buy_box=None, price="18.00"), fees=fees("4.00"), cost="4.00"
    )
    assert result.sale_price_source == "price"
    assert result.profit == D("10.00")


@pytest.mark.parametrize("product", [None, record(buy_box=None, price=None)])
def test_no_price_is_a_status_not_a_zero(product):
    result = profit_calculate(
        marketplace="US", record=product, fees=fees("4.00"), cost="4.00", asin="B07XJ8C8F5"
    )
    assert result.status == NO_PRICE
    assert result.profit is None
    assert result.roi_percent is None
    assert result.net_proceeds is None


def test_fees_unavailable_is_a_status_not_a_zero():
    unavailable = fee_quote_unavailable(
        asin="B07XJ8C8F5", marketplace=marketplace_get("US"), price=D("25.00"), reason="Amazon is down"
    )
    result = profit_calculate(marketplace="US", record=record(), fees=unavailable, cost="4.00")
    assert result.status == FEES_UNAVAILABLE
    assert result.profit is None
    assert result.fees_total is None
    assert "Amazon is down" in result.notes[0]
    assert profit_calculate(marketplace="US", record=record(), fees=None, cost="4").status == FEES_UNAVAILABLE


def test_a_loss_is_negative_and_break_even_never_below_zero():
    result = profit_calculate(marketplace="US", record=record(buy_box="5.00"), fees=fees("6.00"), cost="2.00")
    assert result.profit == D("-3.00")
    assert result.roi_percent == D("-150.00")
    assert result.break_even_cost == D("0.00")


def test_jpy_rounds_to_whole_yen():
    result = profit_calculate(
        marketplace="JP", record=record("JP", buy_box="1980"), fees=fees("600", "JP"), cost="700.5"
    )
    assert result.buy_cost == D("701")
    assert result.profit == D("679")


def test_sample_data_is_flagged():
    result = profit_calculate(marketplace="US", record=record(), fees=fees("5.00", sample=True), cost="1")
    assert result.sample


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"cost": "-1"}, "invalid_cost"),
        ({"cost": "abc"}, "invalid_cost"),
        ({"cost": "NaN"}, "invalid_cost"),
        ({"cost": "1", "quantity": 0}, "invalid_quantity"),
        ({"cost": "1", "quantity": 1_000_001}, "invalid_quantity"),
        ({"cost": "1", "costs": ResaleCosts(prep_per_unit=D(-1))}, "invalid_prep_per_unit"),
        ({"cost": "1", "costs": ResaleCosts(target_roi_percent=D(-5))}, "invalid_target_roi_percent"),
    ],
)
def test_bad_input_is_a_clear_error(kwargs, code):
    with pytest.raises(DomainError) as caught:
        profit_calculate(marketplace="US", record=record(), fees=fees("1"), **kwargs)
    assert caught.value.code == code


@pytest.mark.parametrize(("buy_box", "price"), [("0.00", None), ("0.00", "0.00"), (None, "0.00")])
def test_a_price_of_zero_is_no_price_not_a_sale_at_zero(buy_box, price):
    result = profit_calculate(
        marketplace="US", record=record(buy_box=buy_box, price=price), fees=fees("3.00"), cost="5"
    )
    assert result.status == NO_PRICE
    assert result.profit is None


def test_a_zero_buy_box_falls_back_to_the_current_price():
    product = replace(record(buy_box="0.00"), price=Money.of(D("19.99"), "USD"))
    result = profit_calculate(marketplace="US", record=product, fees=fees("3.00"), cost="5")
    assert (result.status, result.sale_price, result.sale_price_source) == (OK, D("19.99"), "price")
    assert result.profit == D("19.99") - D("3.00") - D("5")
