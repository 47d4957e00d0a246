"""Every Amazon marketplace the platform serves, in one table.

A marketplace code (``US``, ``DE``, ...) maps to everything an adapter needs:
the SP-API marketplace id and regional endpoint, Keepa's domain id (where
Keepa covers the marketplace), the currency and its minor unit, and the
storefront domain for product links.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.errors import DomainError
from core.money import currency_exponent

DEFAULT_MARKETPLACE = "US"

SPAPI_ENDPOINTS = {
    "na": "https://sellingpartnerapi-na.amazon.com",
    "eu": "https://sellingpartnerapi-eu.amazon.com",
    "fe": "https://sellingpartnerapi-fe.amazon.com",
}


@dataclass(frozen=True, slots=True)
class Marketplace:
    code: str
    name: str
    marketplace_id: str
    region: str
    keepa_domain: int | None
    currency: str
    amazon_domain: str

    @property
    def spapi_endpoint(self) -> str:
        return SPAPI_ENDPOINTS[self.region]

    @property
    def currency_exponent(self) -> int:
        """Digits after the decimal point (ISO 4217 minor unit): Keepa prices are integers in this
        unit, so JPY 1980 is 1980 yen, not 19.80."""
        return currency_exponent(self.currency)

    def product_url(self, asin: str) -> str:
        return f"https://www.{self.amazon_domain}/dp/{asin}"


# Marketplace ids: SP-API "Marketplace IDs" page; Keepa domain ids: ../shared/reference/keepa/keepa.md.
MARKETPLACES: dict[str, Marketplace] = {
    m.code: m
    for m in (
        Marketplace("US", "United States", "ATVPDKIKX0DER", "na", 1, "USD", "amazon.com"),
        Marketplace("CA", "Canada", "A2EUQ1WTGCTBG2", "na", 6, "CAD", "amazon.ca"),
        Marketplace("MX", "Mexico", "A1AM78C64UM0Y8", "na", 11, "MXN", "amazon.com.mx"),
        Marketplace("BR", "Brazil", "A2Q3Y263D00KWC", "na", 12, "BRL", "amazon.com.br"),
        Marketplace("UK", "United Kingdom", "A1F83G8C2ARO7P", "eu", 2, "GBP", "amazon.co.uk"),
        Marketplace("DE", "Germany", "A1PA6795UKMFR9", "eu", 3, "EUR", "amazon.de"),
        Marketplace("FR", "France", "A13V1IB3VIYZZH", "eu", 4, "EUR", "amazon.fr"),
        Marketplace("IT", "Italy", "APJ6JRA9NG5V4", "eu", 8, "EUR", "amazon.it"),
        Marketplace("ES", "Spain", "A1RKKUPIHCS9HS", "eu", 9, "EUR", "amazon.es"),
        Marketplace("NL", "Netherlands", "A1805IZSGTT6HS", "eu", None, "EUR", "amazon.nl"),
        Marketplace("SE", "Sweden", "A2NODRKZP88ZB9", "eu", None, "SEK", "amazon.se"),
        Marketplace("PL", "Poland", "A1C3SOZRARQ6R3", "eu", None, "PLN", "amazon.pl"),
        Marketplace("BE", "Belgium", "AMEN7PMS3EDWL", "eu", None, "EUR", "amazon.com.be"),
        Marketplace("IE", "Ireland", "A28R8C7NBKEWEA", "eu", None, "EUR", "amazon.ie"),
        Marketplace("TR", "Turkey", "A33AVAJ2PDY3EV", "eu", None, "TRY", "amazon.com.tr"),
        Marketplace("AE", "United Arab Emirates", "A2VIGQ35RCS4UG", "eu", None, "AED", "amazon.ae"),
        Marketplace("SA", "Saudi Arabia", "A17E79C6D8DWNP", "eu", None, "SAR", "amazon.sa"),
        Marketplace("EG", "Egypt", "ARBP9OOSHTCHU", "eu", None, "EGP", "amazon.eg"),
        Marketplace("ZA", "South Africa", "AE08WJ6YKNBMC", "eu", None, "ZAR", "amazon.co.za"),
        Marketplace("IN", "India", "A21TJRUUN4KGV", "eu", 10, "INR", "amazon.in"),
        Marketplace("JP", "Japan", "A1VC38T7YXB528", "fe", 5, "JPY", "amazon.co.jp"),
        Marketplace("AU", "Australia", "A39IBJ37TRP1C6", "fe", None, "AUD", "amazon.com.au"),
        Marketplace("SG", "Singapore", "A19VAU5U5O7RUS", "fe", None, "SGD", "amazon.sg"),
    )
}

# ISO 3166 calls the United Kingdom GB; Amazon calls it UK. Accept both.
_ALIASES = {"GB": "UK"}


def marketplace_get(code: str | None) -> Marketplace:
    """The marketplace for ``code`` (any case, surrounding spaces ignored; empty means the default).

    An unknown code is a 400 ``invalid_marketplace`` listing the valid ones.
    """
    normalized = (code or "").strip().upper() or DEFAULT_MARKETPLACE
    normalized = _ALIASES.get(normalized, normalized)
    try:
        return MARKETPLACES[normalized]
    except KeyError:
        valid = sorted(MARKETPLACES)
        raise DomainError(
            f"Unknown marketplace {code!r}. Use one of: {', '.join(valid)}.",
            code="invalid_marketplace",
            extra={"marketplace": code, "valid": valid},
        ) from None
