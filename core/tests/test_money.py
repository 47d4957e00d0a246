from decimal import Decimal

import pytest

from core.money import currency_exponent, format_money, format_unit_price, to_major


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


@pytest.mark.parametrize(
    ("amount", "quantity", "currency", "locale", "expected"),
    [
        (900, 500, "usd", None, "$0.018"),  # below a cent: two more digits
        (500, 100, "usd", None, "$0.05"),  # trailing zeros beyond the cents dropped
        (12_000, 10_000, "eur", None, "€0.012"),
        (12_000, 10_000, "eur", "de_DE", "0,012\xa0€"),
        (1000, 3, "jpy", None, "¥333.33"),  # a currency without minor unit still shows a fraction of it
        (1200, 12, "jpy", None, "¥100"),
        (100, 1, "usd", None, "$1.00"),
        (1, 3, "usd", None, "$0.0033"),  # rounded at two digits below the cent
    ],
)
def test_unit_prices_are_exact_below_the_minor_unit(amount, quantity, currency, locale, expected):
    assert format_unit_price(amount, quantity, currency, locale=locale) == expected


def test_a_unit_price_of_nothing_is_an_error():
    with pytest.raises(ValueError, match="quantity"):
        format_unit_price(900, 0, "usd")
