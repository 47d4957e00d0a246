"""Money: the one table of currency minor units (ISO 4217), and amounts in them.

Stripe counts amounts in the smallest unit of the currency (900 usd is $9.00, 1200 jpy is
¥1,200); Keepa's prices are integers in the same unit. Both read the exponent here.
"""

from __future__ import annotations

import functools
import re
from decimal import Decimal

import babel
import babel.numbers as babel_numbers

# Currencies without minor unit and with three decimals (ISO 4217; Stripe treats them the
# same way: https://docs.stripe.com/currencies); every other one has two decimals.
ZERO_DECIMAL_CURRENCIES = frozenset(
    {"bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd", "vuv", "xaf"}
    | {"xof", "xpf"}
)
THREE_DECIMAL_CURRENCIES = frozenset({"bhd", "jod", "kwd", "omr", "tnd"})
DEFAULT_LOCALE = "en_US"
CURRENCY_SYMBOLS = {"usd": "$", "eur": "€", "gbp": "£", "jpy": "¥", "cad": "CA$", "aud": "A$"}


def currency_exponent(currency: str) -> int:
    """Digits after the decimal point of ``currency`` (any case): JPY 0, USD 2, KWD 3."""
    currency = currency.lower()
    if currency in ZERO_DECIMAL_CURRENCIES:
        return 0
    if currency in THREE_DECIMAL_CURRENCIES:
        return 3
    return 2


def to_major(amount: int, currency: str) -> Decimal:
    """``amount`` minor units as a decimal in the currency's major unit (900 usd -> 9.00)."""
    decimals = currency_exponent(currency)
    return Decimal(amount).scaleb(-decimals).quantize(Decimal(1).scaleb(-decimals))


def format_money(amount: int, currency: str) -> str:
    """900, "usd" -> "$9.00"; 1200, "jpy" -> "¥1,200"; 900, "chf" -> "9.00 CHF"."""
    major = to_major(amount, currency)
    decimals = currency_exponent(currency)
    number = f"{major:,.{decimals}f}"
    symbol = CURRENCY_SYMBOLS.get(currency.lower())
    if symbol:
        return f"-{symbol}{number[1:]}" if number.startswith("-") else f"{symbol}{number}"
    return f"{number} {currency.upper()}"


def format_price(value: Decimal | float | int | str, currency: str, *, locale: str | None = None) -> str:
    """A price in the major unit (``Decimal("21.6400000000000")``, "eur") for people: rounded to
    the currency's minor units from the table above, with the locale's symbol, grouping and
    decimal sign (Babel's CLDR data). ``locale`` is a Babel/POSIX name (``de_DE``) or a
    language tag (``en-us``); unknown or missing: English (US).

    21.64 eur, en_US -> "€21.64"; de_DE -> "21,64 €"; 1980 jpy -> "¥1,980"."""
    decimals = currency_exponent(currency)
    return _format_currency(Decimal(str(value)), currency, decimals, locale)


def format_unit_price(amount: int, quantity: int, currency: str, *, locale: str | None = None) -> str:
    """The price of one of ``quantity`` things that cost ``amount`` minor units together, exact to
    two digits below the currency's minor unit, trailing zeros beyond it dropped: 900 usd for 500
    -> "$0.018"; 500 usd for 100 -> "$0.05"; 1000 jpy for 3 -> "¥333.33"."""
    if quantity <= 0:
        raise ValueError("quantity must be positive")
    decimals = currency_exponent(currency)
    each = (to_major(amount, currency) / quantity).quantize(Decimal(1).scaleb(-(decimals + 2)))
    exponent = int(each.normalize().as_tuple().exponent)
    return _format_currency(each, currency, max(decimals, -exponent), locale)


def _format_currency(value: Decimal, currency: str, decimals: int, locale: str | None) -> str:
    amount = value.quantize(Decimal(1).scaleb(-decimals))
    babel_locale = _babel_locale(locale)
    standard = babel_locale.currency_formats["standard"].pattern.split(";")[0]
    # The locale's pattern with the wanted minor units ("¤#,##0.00" -> "¤#,##0" for JPY).
    fraction = "." + "0" * decimals if decimals else ""
    pattern = re.sub(r"0\.0+|0(?![.0])", "0" + fraction, standard, count=1)
    return babel_numbers.format_currency(
        amount, currency.upper(), format=pattern, locale=babel_locale, currency_digits=False
    )


@functools.lru_cache(maxsize=64)
def _babel_locale(locale: str | None) -> babel.Locale:
    try:
        return babel.Locale.parse((locale or DEFAULT_LOCALE).replace("-", "_"))
    except (ValueError, babel.UnknownLocaleError):
        return babel.Locale.parse(DEFAULT_LOCALE)
