import pytest

from core.api_errors import http_status
from core.errors import DomainError
from products.marketplaces import marketplace_get
from products.providers import (
    CircuitState,
    MarketplaceNotSupported,
    ProductNotFound,
    ProviderNotConfigured,
    UpstreamBadResponse,
    UpstreamUnavailable,
    circuit_state,
    fetch_one_with_fallback,
    fetch_with_fallback,
    provider_chain,
    provider_status,
)
from products.providers.circuit import CircuitBreaker
from products.tests.conftest import KEEPA_PRODUCT_URL, load_fixture

US = marketplace_get("US")
ASIN = "B0TESTKEEP"


def test_first_provider_down_second_used(keepa_settings, rsps, settings):
    settings.UPSTREAM_RETRY_ATTEMPTS = 2
    rsps.get(KEEPA_PRODUCT_URL, status=503)

    result = fetch_with_fallback([ASIN], US, providers=["keepa", "sandbox"])

    assert result.provider == "sandbox"
    assert result.records[ASIN].sample_data is True
    assert [(e.provider, e.code) for e in result.skipped] == [("keepa", "upstream_unavailable")]
    assert len(rsps.calls) == 2


def test_first_provider_answering_garbage_second_used(keepa_settings, rsps):
    rsps.get(KEEPA_PRODUCT_URL, body="<html>oops</html>")

    record = fetch_one_with_fallback(ASIN, US, providers=["keepa", "sandbox"])

    assert record.provider == "sandbox"


def test_first_provider_working_is_used(keepa_settings, rsps):
    rsps.get(KEEPA_PRODUCT_URL, json=load_fixture("keepa/product-response.json"))

    result = fetch_with_fallback([ASIN], US, providers=["keepa", "sandbox"])

    assert result.provider == "keepa"
    assert result.skipped == []
    assert result.records[ASIN].title.startswith("Example Insulated")


def test_open_circuit_is_skipped_without_calling(keepa_settings, rsps, settings):
    settings.CIRCUIT_FAILURE_THRESHOLD = 2
    breaker = CircuitBreaker("keepa")
    breaker.record_failure()
    breaker.record_failure()
    assert circuit_state("keepa") == CircuitState.OPEN
    rsps.get(KEEPA_PRODUCT_URL, json=load_fixture("keepa/product-response.json"))

    result = fetch_with_fallback([ASIN], US, providers=["keepa", "sandbox"])

    assert result.provider == "sandbox"
    assert result.skipped[0].extra["reason"] == "circuit_open"
    assert len(rsps.calls) == 0


def test_repeated_failures_open_the_circuit_and_later_lookups_skip_it(keepa_settings, rsps, settings):
    settings.CIRCUIT_FAILURE_THRESHOLD = 3
    settings.UPSTREAM_RETRY_ATTEMPTS = 1
    settings.PROVIDER_RATE_LIMITS = "keepa=1000/1000"
    rsps.get(KEEPA_PRODUCT_URL, status=500)

    for _ in range(5):
        assert fetch_one_with_fallback(ASIN, US, providers=["keepa", "sandbox"]).provider == "sandbox"

    assert len(rsps.calls) == 3
    assert circuit_state("keepa") == CircuitState.OPEN


def test_unconfigured_and_unsupported_providers_are_skipped(settings):
    settings.KEEPA_API_KEY = ""

    assert fetch_one_with_fallback(ASIN, US, providers=["keepa", "spapi", "sandbox"]).provider == "sandbox"


def test_not_found_is_an_answer_not_a_failure(keepa_settings, rsps):
    with pytest.raises(ProductNotFound) as caught:
        fetch_one_with_fallback("B000000404", US, providers=["sandbox", "keepa"])

    assert caught.value.extra["provider"] == "sandbox"
    assert len(rsps.calls) == 0
    assert circuit_state("sandbox") == CircuitState.CLOSED


def test_all_providers_down_is_unavailable_with_the_soonest_retry(keepa_settings, rsps, settings):
    settings.UPSTREAM_RETRY_BUDGET = 1
    rsps.get(KEEPA_PRODUCT_URL, status=503, headers={"Retry-After": "90"})

    with pytest.raises(UpstreamUnavailable) as caught:
        fetch_one_with_fallback("B000000503", US, providers=["keepa", "sandbox"])

    error = caught.value
    assert http_status(error) == 503
    assert error.retry_after == 30  # the sandbox's, sooner than Keepa's 90 s
    assert [p["provider"] for p in error.extra["providers"]] == ["keepa", "sandbox"]


def test_all_providers_answering_garbage_is_a_bad_response(settings):
    with pytest.raises(UpstreamBadResponse):
        fetch_one_with_fallback("B000000502", US, providers=["sandbox"])


def test_no_provider_for_the_marketplace(keepa_settings):
    with pytest.raises(MarketplaceNotSupported) as caught:
        fetch_one_with_fallback(ASIN, marketplace_get("NL"), providers=["keepa"])
    assert http_status(caught.value) == 422
    assert "NL" in caught.value.message


def test_no_configured_provider(settings):
    settings.KEEPA_API_KEY = ""
    settings.SPAPI_CLIENT_ID = ""
    with pytest.raises(ProviderNotConfigured):
        fetch_one_with_fallback(ASIN, US, providers=["keepa", "spapi"])


def test_the_chain_comes_from_the_settings(settings):
    settings.PRODUCT_PROVIDERS = ["Keepa", " sandbox "]
    assert [p.name for p in provider_chain()] == ["keepa", "sandbox"]

    settings.PRODUCT_PROVIDERS = ["sandbox"]
    assert fetch_one_with_fallback(ASIN, US).provider == "sandbox"


def test_unknown_provider_name():
    with pytest.raises(DomainError) as caught:
        provider_chain(["sandbox", "amazon"])
    assert caught.value.code == "unknown_provider"
    assert "keepa, sandbox, spapi" in caught.value.message


def test_provider_status_for_readiness(settings):
    settings.PRODUCT_PROVIDERS = ["keepa", "sandbox"]
    settings.KEEPA_API_KEY = ""
    settings.CIRCUIT_FAILURE_THRESHOLD = 1
    CircuitBreaker("sandbox").record_failure()

    assert provider_status() == {
        "keepa": {"configured": False, "circuit": "closed"},
        "sandbox": {"configured": True, "circuit": "open"},
    }
