"""Money: the one table of currency minor units (ISO 4217), and amounts in them.

Stripe counts amounts in the smallest unit of the currency (900 usd is $9.00, 1200 jpy is
¥1,200); Keepa's prices are integers in the same unit. Both read the exponent here.
"""

from __future__ import annotations

import functools
import re
from decimal import ROUND_HALF_UP, Decimal

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
# A unit price (one credit of a pack) is shown with two decimals more than the currency's own,
# more for a tiny one until two significant digits show, but never more than this.
UNIT_PRICE_EXTRA_DECIMALS = 2
UNIT_PRICE_MAX_DECIMALS = 10


# What a typed or exported amount may carry besides its number: spaces (also no-break ones),
# currency signs and ISO codes ("$1,299.99", "4,50 €", "12.00 USD").
_AMOUNT_NOISE = re.compile(
    r"[\s\u00a0\u202f$€£¥]|\b(?:USD|EUR|GBP|CAD|JPY|AUD|MXN|BRL|SEK|PLN|INR|TRY|AED|SAR|SGD)\b", re.I
)
_GROUPED = re.compile(r"\d{1,3}(?:[.,]\d{3})+")


def parse_amount(raw: str) -> Decimal | None:
    """A money amount as people write it in a spreadsheet, in any of the marketplaces' styles:
    "1,299.99", "1.299,99", "4,50", "4.50", "$12", "12.00 USD". None for an empty cell.

    The decimal separator is the last "." or "," when both appear; a lone "," is a decimal
    comma when one or two digits follow it ("4,50"), else it groups thousands ("1,299"); several
    of the same separator group thousands ("1.234.567"). Raises ``ValueError`` for anything else
    (letters, a sign, two decimal separators) and for negative or non-finite amounts."""
    text = _AMOUNT_NOISE.sub("", raw)
    if not text:
        return None
    if text.startswith("-"):
        raise ValueError(f"{raw!r} is negative")
    if "," in text and "." in text:
        decimal_mark = "," if text.rfind(",") > text.rfind(".") else "."
        group = "." if decimal_mark == "," else ","
        whole, _, fraction = text.rpartition(decimal_mark)
        if not _GROUPED.fullmatch(whole) and group in whole:
            raise ValueError(f"{raw!r} is not an amount")
        text = whole.replace(group, "") + "." + fraction
    elif text.count(",") == 1 and re.fullmatch(r"\d*,\d{1,2}", text):
        text = text.replace(",", ".")
    elif "," in text or text.count(".") > 1:
        if not _GROUPED.fullmatch(text) or ("," in text and "." in text):
            raise ValueError(f"{raw!r} is not an amount")
        text = text.replace(",", "").replace(".", "")
    try:
        amount = Decimal(text)
    except ArithmeticError:
        raise ValueError(f"{raw!r} is not an amount") from None
    if not amount.is_finite() or not re.fullmatch(r"\d*\.?\d*", text):
        raise ValueError(f"{raw!r} is not an amount")
    return amount


def currency_exponent(currency: str) -> int:
    """Digits after the decimal point of ``currency`` (any case): JPY 0, USD 2, KWD 3."""
    currency = currency.lower()
    if currency in ZERO_DECIMAL_CURRENCIES:
        return 0
    if currency in THREE_DECIMAL_CURRENCIES:
        return 3
    return 2


def round_money(amount: Decimal, currency: str) -> Decimal:
    """``amount`` in the major unit rounded half up to ``currency``'s minor unit (2.345 EUR -> 2.35,
    1980.5 JPY -> 1981): the one rounding of computed money (fees, profit)."""
    return amount.quantize(Decimal(1).scaleb(-currency_exponent(currency)), rounding=ROUND_HALF_UP)


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


def unit_price(amount: int, units: int, currency: str) -> Decimal:
    """One unit's share of ``amount`` minor units for ``units`` units, in the major unit, in
    decimal arithmetic (900 usd for 500 credits -> 0.018): exact whenever the quotient ends
    within 28 significant digits, as every price per credit of a real pack does."""
    if units <= 0:
        raise ValueError(f"A unit price needs a positive number of units, not {units}.")
    return Decimal(amount).scaleb(-currency_exponent(currency)) / Decimal(units)


def unit_price_decimals(value: Decimal, currency: str) -> int:
    """Decimals to show the unit price ``value`` with: the currency's own plus two (USD 0.0180),
    and for a tiny price as many as its first two significant digits need (0.0000090)."""
    decimals = currency_exponent(currency) + UNIT_PRICE_EXTRA_DECIMALS
    if value:
        # adjusted() is the exponent of the first significant digit: 0.000009 -> -6.
        decimals = max(decimals, 1 - value.adjusted())
    return min(decimals, UNIT_PRICE_MAX_DECIMALS)


def format_unit_price(value: Decimal | float | int | str, currency: str, *, locale: str | None = None) -> str:
    """A unit price in the major unit for people (``unit_price_decimals``): 0.018 usd -> "$0.0180"."""
    amount = Decimal(str(value))
    return format_price(amount, currency, locale=locale, decimals=unit_price_decimals(amount, currency))


def format_price(
    value: Decimal | float | int | str,
    currency: str,
    *,
    locale: str | None = None,
    decimals: int | None = None,
) -> str:
    """A price in the major unit (``Decimal("21.6400000000000")``, "eur") for people: rounded to
    the currency's minor units from the table above, with the locale's symbol, grouping and
    decimal sign (Babel's CLDR data). ``locale`` is a Babel/POSIX name (``de_DE``) or a
    language tag (``en-us``); unknown or missing: English (US).

    21.64 eur, en_US -> "€21.64"; de_DE -> "21,64 €"; 1980 jpy -> "¥1,980". ``decimals``, when
    given, replaces the currency's minor units (a unit price: ``format_unit_price``)."""
    if decimals is None:
        decimals = currency_exponent(currency)
    amount = Decimal(str(value)).quantize(Decimal(1).scaleb(-decimals))
    babel_locale = _babel_locale(locale)
    standard = babel_locale.currency_formats["standard"].pattern.split(";")[0]
    # The locale's pattern with the currency's own minor units ("¤#,##0.00" -> "¤#,##0" for JPY),
    # or the decimals asked for.
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
