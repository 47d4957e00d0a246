from decimal import Decimal

import pytest

from core.money import currency_exponent, format_money, format_unit_price, parse_amount, to_major, unit_price


@pytest.mark.parametrize(
    ("currency", "exponent"),
    [("USD", 2), ("usd", 2), ("EUR", 2), ("JPY", 0), ("jpy", 0), ("KRW", 0), ("KWD", 3), ("CHF", 2)],
)
def test_minor_units_follow_iso_4217_in_any_case(currency, exponent):
    assert currency_exponent(currency) == exponent


def test_every_marketplace_currency_keeps_its_exponent():
    # Before the tables were merged the marketplaces knew only JPY (0); all theirs stay as they were.
    for currency in ("USD", "CAD", "MXN", "BRL", "GBP", "EUR", "SEK", "PLN", "TRY", "AED", "SAR"):
        assert currency_exponent(currency) == 2
    for currency in ("EGP", "ZAR", "INR", "AUD", "SGD"):
        assert currency_exponent(currency) == 2


def test_amounts_in_minor_units_read_as_people_write_them():
    assert to_major(900, "usd") == Decimal("9.00")
    assert format_money(900, "usd") == "$9.00"
    assert format_money(-900, "usd") == "-$9.00"
    assert format_money(1200, "jpy") == "¥1,200"
    assert format_money(900, "chf") == "9.00 CHF"
    assert format_money(1500, "kwd") == "1.500 KWD"


def test_a_unit_price_is_computed_in_decimal_arithmetic():
    assert unit_price(900, 500, "usd") == Decimal("0.018")
    assert unit_price(3900, 2500, "usd") == Decimal("0.0156")
    assert unit_price(1200, 500, "jpy") == Decimal("2.4")
    assert unit_price(1000, 3, "usd") == Decimal("3.333333333333333333333333333")
    with pytest.raises(ValueError, match="positive number of units"):
        unit_price(900, 0, "usd")


@pytest.mark.parametrize(
    ("value", "currency", "expected"),
    [
        (Decimal("0.018"), "usd", "$0.0180"),  # two decimals more than the cent
        (Decimal("0.0156"), "usd", "$0.0156"),
        (Decimal("3.333333333333333333333333333"), "usd", "$3.3333"),
        (Decimal("0.000009"), "usd", "$0.0000090"),  # a tiny price keeps two significant digits
        (Decimal("0.00000000001"), "usd", "$0.0000000000"),  # ... up to ten decimals
        (Decimal("2.4"), "jpy", "¥2.40"),
        (Decimal("0"), "usd", "$0.0000"),
    ],
)
def test_a_unit_price_shows_more_decimals_than_the_currency(value, currency, expected):
    assert format_unit_price(value, currency) == expected


@pytest.mark.parametrize(
    ("text", "amount"),
    [
        ("4.50", "4.50"),
        ("4,50", "4.50"),  # a decimal comma (DE, FR, IT, ES, ...)
        ("4,5", "4.5"),
        ("1,299.99", "1299.99"),
        ("1.299,99", "1299.99"),
        ("1,299", "1299"),  # a comma before three digits groups thousands
        ("1.234.567", "1234567"),
        ("1 299,99", "1299.99"),
        ("$12", "12"),
        ("€ 3,99", "3.99"),
        ("12.00 USD", "12.00"),
        ("0", "0"),
    ],
)
def test_parse_amount_reads_the_marketplaces_styles(text, amount):
    assert parse_amount(text) == Decimal(amount)


@pytest.mark.parametrize("text", ["", "   ", "\u00a0"])
def test_parse_amount_of_an_empty_cell_is_none(text):
    assert parse_amount(text) is None


@pytest.mark.parametrize(
    "text", ["abc", "-3", "+3", "1,2,3", "4.50.1", "1e5", "NaN", "Infinity", "1,2345", "12,34.5", "."]
)
def test_parse_amount_refuses_what_is_not_an_amount(text):
    with pytest.raises(ValueError, match=r"negative|not an amount"):
        parse_amount(text)
