"""Money: the one table of currency minor units (ISO 4217), and amounts in them.

Stripe counts amounts in the smallest unit of the currency (900 usd is $9.00, 1200 jpy is
¥1,200); Keepa's prices are integers in the same unit. Both read the exponent here.
"""

from __future__ import annotations

from decimal import Decimal

# Currencies without minor unit and with three decimals (ISO 4217; Stripe treats them the
# same way: https://docs.stripe.com/currencies); every other one has two decimals.
ZERO_DECIMAL_CURRENCIES = frozenset(
    {"bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd", "vuv", "xaf"}
    | {"xof", "xpf"}
)
THREE_DECIMAL_CURRENCIES = frozenset({"bhd", "jod", "kwd", "omr", "tnd"})
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
