"""The money and time filters pages share (core/templatetags/display.py)."""

import datetime as dt
import zoneinfo
from decimal import Decimal

import pytest
from django.template import Context, Template
from django.utils import timezone, translation

from core.money import format_price


def render(source: str, **context) -> str:
    return Template("{% load display %}" + source).render(Context(context))


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [
        (Decimal("21.6400000000000"), "EUR", "€21.64"),  # a Decimal with excess scale
        (Decimal("21.6400000000000"), "eur", "€21.64"),
        ("1980", "JPY", "¥1,980"),  # no minor unit
        (Decimal("1980.00"), "JPY", "¥1,980"),
        (Decimal("1234.5"), "USD", "$1,234.50"),
        (12, "USD", "$12.00"),
        (Decimal("0.125"), "KWD", "KWD0.125"),  # three decimals
    ],
)
def test_money_rounds_to_the_currencys_minor_units(amount, currency, expected):
    with translation.override("en-us"):
        assert render("{{ amount|money:currency }}", amount=amount, currency=currency) == expected


def test_money_follows_the_locale():
    assert format_price(Decimal("1234.5"), "EUR", locale="de_DE") == "1.234,50\xa0€"
    assert format_price(Decimal("1234.5"), "EUR", locale="fr-fr") == "1\u202f234,50\xa0€"
    assert format_price(Decimal("1980"), "JPY", locale="de_DE") == "1.980\xa0¥"
    with translation.override("de"):
        assert render("{{ amount|money:'EUR' }}", amount=Decimal("21.6400000000000")) == "21,64\xa0€"


def test_money_without_a_price():
    assert render("{{ amount|money:'EUR' }}", amount=None) == "—"


def test_when_shows_the_current_time_zone():
    moment = dt.datetime(2026, 12, 7, 10, 5, tzinfo=dt.UTC)

    with timezone.override(zoneinfo.ZoneInfo("Europe/Berlin")):
        assert render("{{ moment|when }}", moment=moment) == "7 Dec 2026, 11:05 CET"
        assert render("{{ moment|when }}", moment=moment.isoformat()) == "7 Dec 2026, 11:05 CET"
    with timezone.override(zoneinfo.ZoneInfo("Asia/Tokyo")):
        assert render("{{ moment|when }}", moment=moment) == "7 Dec 2026, 19:05 JST"


@pytest.mark.parametrize(
    ("amount", "expected"), [(Decimal("21.6400000000000"), "21.64"), ("3", "3.00"), ("0.125000", "0.125")]
)
def test_money_without_a_currency_drops_the_excess_scale(amount, expected):
    assert render("{{ amount|money:'' }}", amount=amount) == expected


def test_unit_money_shows_a_price_per_credit():
    with translation.override("en-us"):
        assert render("{{ amount|unit_money:'usd' }}", amount=Decimal("0.018")) == "$0.0180"
    with translation.override("de"):
        assert render("{{ amount|unit_money:'EUR' }}", amount=Decimal("0.0156")) == "0,0156\xa0€"
    assert render("{{ amount|unit_money:'usd' }}", amount=None) == "—"
    assert render("{{ amount|unit_money:'' }}", amount=Decimal("0.018")) == "—"
