from decimal import Decimal

import pytest

from core.money import currency_exponent, format_money, to_major


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
