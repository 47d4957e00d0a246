import pytest

from core.api_errors import http_status
from core.errors import DomainError
from core.money import currency_exponent
from products.marketplaces import MARKETPLACES, marketplace_get

# The issue's list, plus the two other marketplaces SP-API documents (IE, ZA).
SPEC_CODES = ["US", "CA", "MX", "BR", "UK", "DE", "FR", "IT", "ES", "NL", "SE"]
SPEC_CODES += ["PL", "BE", "TR", "JP", "IN", "AU", "SG", "AE", "SA", "EG"]

# ../shared/reference/keepa/keepa.md
KEEPA_DOMAINS = {
    "US": 1,
    "UK": 2,
    "DE": 3,
    "FR": 4,
    "JP": 5,
    "CA": 6,
    "IT": 8,
    "ES": 9,
    "IN": 10,
    "MX": 11,
    "BR": 12,
}


def test_every_marketplace_of_the_issue_is_mapped():
    for code in SPEC_CODES:
        marketplace = marketplace_get(code)
        assert marketplace.code == code
        assert marketplace.marketplace_id
        assert marketplace.spapi_endpoint.startswith("https://sellingpartnerapi-")
        assert len(marketplace.currency) == 3
        assert marketplace.amazon_domain.startswith("amazon.")


def test_keepa_domains_follow_keepa_and_are_none_elsewhere():
    for code, marketplace in MARKETPLACES.items():
        assert marketplace.keepa_domain == KEEPA_DOMAINS.get(code)


@pytest.mark.parametrize(
    ("code", "marketplace_id", "endpoint", "currency"),
    [
        ("US", "ATVPDKIKX0DER", "https://sellingpartnerapi-na.amazon.com", "USD"),
        ("BR", "A2Q3Y263D00KWC", "https://sellingpartnerapi-na.amazon.com", "BRL"),
        ("DE", "A1PA6795UKMFR9", "https://sellingpartnerapi-eu.amazon.com", "EUR"),
        ("UK", "A1F83G8C2ARO7P", "https://sellingpartnerapi-eu.amazon.com", "GBP"),
        ("IN", "A21TJRUUN4KGV", "https://sellingpartnerapi-eu.amazon.com", "INR"),
        ("EG", "ARBP9OOSHTCHU", "https://sellingpartnerapi-eu.amazon.com", "EGP"),
        ("JP", "A1VC38T7YXB528", "https://sellingpartnerapi-fe.amazon.com", "JPY"),
        ("AU", "A39IBJ37TRP1C6", "https://sellingpartnerapi-fe.amazon.com", "AUD"),
    ],
)
def test_marketplace_ids_endpoints_and_currencies(code, marketplace_id, endpoint, currency):
    marketplace = marketplace_get(code)
    assert marketplace.marketplace_id == marketplace_id
    assert marketplace.spapi_endpoint == endpoint
    assert marketplace.currency == currency
    assert [m.marketplace_id for m in MARKETPLACES.values()].count(marketplace_id) == 1


def test_codes_are_read_in_any_case_with_spaces_and_default_to_us():
    assert marketplace_get(" de ").code == "DE"
    assert marketplace_get("jp").code == "JP"
    assert marketplace_get("").code == "US"
    assert marketplace_get(None).code == "US"
    assert marketplace_get("GB").code == "UK"


@pytest.mark.parametrize("code", ["XX", "USA", "amazon.de", "C A"])
def test_unknown_code_is_a_400_listing_the_valid_ones(code):
    with pytest.raises(DomainError) as caught:
        marketplace_get(code)
    error = caught.value
    assert http_status(error) == 400
    assert error.code == "invalid_marketplace"
    assert repr(code) in error.message
    assert "DE, EG, ES" in error.message
    assert set(SPEC_CODES) <= set(error.extra["valid"])


def test_currency_minor_units():
    assert currency_exponent("JPY") == 0
    assert currency_exponent("USD") == 2
    assert marketplace_get("JP").currency_exponent == 0


def test_product_url_uses_the_storefront_domain():
    assert marketplace_get("UK").product_url("B08N5WRWNW") == "https://www.amazon.co.uk/dp/B08N5WRWNW"
