"""Template filters that put money and times in plain words, the same on every page.

Loaded with ``{% load display %}`` (registered in ``TEMPLATES["OPTIONS"]["libraries"]``,
since core is not an installed app):

- ``{{ price|money:currency }}``: a price in the major unit, rounded to the currency's minor
  units (core.money's table), with the symbol, grouping and decimal sign of the active
  language's locale ("21.6400000000000" EUR -> "€21.64"; 1980 JPY -> "¥1,980").
- ``{{ price|unit_money:currency }}``: a unit price (one credit of a pack), the same way with
  two decimals more than the currency's ("0.018" USD -> "$0.0180").
- ``{{ moment|when }}``: an aware datetime in the current time zone (the browser's, see
  core.timezones), as "7 Dec 2026, 11:02 CET".
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Any

from django import template
from django.utils import dateformat, timezone, translation

from core.money import format_price, format_unit_price

register = template.Library()

WHEN_FORMAT = "j M Y, H:i T"
CENTS = Decimal("0.01")


@register.filter
def money(value: Any, currency: Any) -> str:
    """``value`` (a number, or a string holding one) in ``currency``; "—" for none. Without a
    currency, the number alone with no trailing zeros beyond the cents ("21.6400000" -> "21.64")."""
    if value is None or value == "":
        return "—"
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        return str(value)
    if not currency:
        cents = amount.quantize(CENTS)
        return f"{cents if cents == amount else amount.normalize():f}"
    return format_price(amount, str(currency), locale=translation.get_language())


@register.filter
def unit_money(value: Any, currency: Any) -> str:
    """``value`` (a price per unit, in the major unit) in ``currency``; "—" for none."""
    if value is None or value == "" or not currency:
        return "—"
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        return str(value)
    return format_unit_price(amount, str(currency), locale=translation.get_language())


@register.filter
def when(value: Any) -> str:
    """An aware datetime (or an ISO 8601 string of one) in the current time zone."""
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value)
        except ValueError:
            return value
    if not isinstance(value, dt.datetime):
        return "" if value is None else str(value)
    if timezone.is_aware(value):
        value = timezone.localtime(value)
    return dateformat.format(value, WHEN_FORMAT)
