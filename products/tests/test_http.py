import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from email.utils import format_datetime

import pytest
import requests

from core.api_errors import http_status
from products.marketplaces import marketplace_get
from products.providers import (
    CircuitOpen,
    CircuitState,
    RateLimited,
    UpstreamBadResponse,
    UpstreamUnavailable,
    circuit_state,
)
from products.providers.circuit import CircuitBreaker
from products.providers.http import UpstreamClient, json_body, parse_retry_after, session_for
from products.providers.keepa import KeepaProvider
from products.tests.conftest import KEEPA_PRODUCT_URL
from products.tests.stub_server import StubServer

UPSTREAM = "https://upstream.test/resource"


@pytest.fixture
def client():
    return UpstreamClient("testprovider", "Test upstream")


def get(client, url=UPSTREAM, **kwargs):
    return client.request(
        "GET", url, operation="resource", rate_bucket=kwargs.pop("rate_bucket", None), **kwargs
    )


# --- Retries -----------------------------------------------------------------------------------


def test_5xx_then_success(rsps, client):
    rsps.get(UPSTREAM, status=503)
    rsps.get(UPSTREAM, status=500)
    rsps.get(UPSTREAM, json={"ok": True})

    response = get(client)

    assert response.status_code == 200
    assert len(rsps.calls) == 3


def test_5xx_until_attempts_run_out_is_unavailable(settings, rsps, client):
    settings.UPSTREAM_RETRY_ATTEMPTS = 3
    rsps.get(UPSTREAM, status=502)

    with pytest.raises(UpstreamUnavailable) as caught:
        get(client)

    assert len(rsps.calls) == 3
    assert http_status(caught.value) == 503
    assert caught.value.extra["reason"] == "HTTP 502"
    assert caught.value.retry_after is None


def test_429_honours_retry_after(rsps, client):
    rsps.get(UPSTREAM, status=429, headers={"Retry-After": "1"})
    rsps.get(UPSTREAM, json={})

    started = time.monotonic()
    response = get(client)

    assert response.status_code == 200
    assert len(rsps.calls) == 2
    assert time.monotonic() - started >= 1.0


def test_5xx_retry_after_as_http_date_is_honoured(rsps, client):
    when = datetime.now(UTC) + timedelta(seconds=2)
    rsps.get(UPSTREAM, status=503, headers={"Retry-After": format_datetime(when, usegmt=True)})
    rsps.get(UPSTREAM, json={})

    started = time.monotonic()
    get(client)

    # HTTP dates have whole seconds: at least one second, at most two.
    assert time.monotonic() - started >= 1.0


def test_retry_after_beyond_the_budget_fails_at_once(settings, rsps, client):
    settings.UPSTREAM_RETRY_BUDGET = 5
    rsps.get(UPSTREAM, status=429, headers={"Retry-After": "120"})

    started = time.monotonic()
    with pytest.raises(UpstreamUnavailable) as caught:
        get(client)

    assert len(rsps.calls) == 1
    assert time.monotonic() - started < 1
    assert caught.value.retry_after == 120
    assert caught.value.extra["retry_after"] == 120


def test_backoff_is_exponential_with_jitter(settings, rsps, client):
    settings.UPSTREAM_RETRY_ATTEMPTS = 4
    settings.UPSTREAM_RETRY_BACKOFF = 0.2
    settings.UPSTREAM_RETRY_BACKOFF_MAX = 5
    rsps.get(UPSTREAM, status=500)

    started = time.monotonic()
    with pytest.raises(UpstreamUnavailable):
        get(client)
    elapsed = time.monotonic() - started

    # Waits of 0.2, 0.4 and 0.8 s, each plus up to 0.2 s of jitter.
    assert len(rsps.calls) == 4
    assert 1.4 <= elapsed < 2.0 + 0.5


def test_the_budget_caps_the_total_wait(settings, rsps, client):
    settings.UPSTREAM_RETRY_ATTEMPTS = 10
    settings.UPSTREAM_RETRY_BACKOFF = 0.4
    settings.UPSTREAM_RETRY_BACKOFF_MAX = 5
    settings.UPSTREAM_RETRY_BUDGET = 1.0
    rsps.get(UPSTREAM, status=500)

    with pytest.raises(UpstreamUnavailable):
        get(client)

    # 0.4 s (+ jitter) fits the budget; the next wait of 0.8 s does not.
    assert len(rsps.calls) == 2


def test_timeouts_and_connection_errors_are_retried(rsps, client):
    rsps.get(UPSTREAM, body=requests.exceptions.ReadTimeout())
    rsps.get(UPSTREAM, body=requests.exceptions.ConnectionError())
    rsps.get(UPSTREAM, json={"ok": True})

    assert get(client).status_code == 200
    assert len(rsps.calls) == 3


def test_connect_timeouts_exhaust_into_unavailable(rsps, client):
    rsps.get(UPSTREAM, body=requests.exceptions.ConnectTimeout())

    with pytest.raises(UpstreamUnavailable) as caught:
        get(client)
    assert caught.value.extra["reason"] == "timeout"


def test_a_slow_upstream_hits_the_read_timeout(settings, client):
    settings.UPSTREAM_READ_TIMEOUT = 0.2
    settings.UPSTREAM_RETRY_ATTEMPTS = 2

    def slow(path):
        time.sleep(1.0)
        return 200, {"Content-Type": "application/json"}, b"{}"

    with StubServer(slow) as server:
        started = time.monotonic()
        with pytest.raises(UpstreamUnavailable) as caught:
            get(client, url=server.url + "/slow")
        elapsed = time.monotonic() - started

    assert caught.value.extra["reason"] == "timeout"
    assert len(server.arrivals) == 2
    assert elapsed < 1.0


def test_client_errors_are_returned_without_retrying(rsps, client):
    rsps.get(UPSTREAM, status=404, json={"errors": []})

    assert get(client).status_code == 404
    assert len(rsps.calls) == 1


def test_garbage_instead_of_json_is_a_bad_response(rsps, client):
    rsps.get(UPSTREAM, body="<html>Service Unavailable</html>", content_type="text/html")

    with pytest.raises(UpstreamBadResponse) as caught:
        json_body(get(client), provider="testprovider", what="resource")
    assert http_status(caught.value) == 502


def test_json_numbers_are_read_as_exact_decimals(rsps, client):
    rsps.get(UPSTREAM, body='{"Amount": 3799.99, "Count": 3}', content_type="application/json")

    body = json_body(get(client), provider="testprovider", what="resource")

    assert body == {"Amount": Decimal("3799.99"), "Count": 3}


@pytest.mark.parametrize(
    ("header", "seconds"),
    [("5", 5.0), ("0", 0.0), ("-3", 0.0), ("1.5", 1.5), (None, None), ("", None), ("soon", None)],
)
def test_parse_retry_after(header, seconds):
    assert parse_retry_after(header) == seconds


def test_parse_retry_after_http_date():
    when = datetime.now(UTC) + timedelta(seconds=30)
    assert 28 <= parse_retry_after(format_datetime(when, usegmt=True)) <= 30
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0


def test_sessions_are_pooled_per_provider(settings):
    session = session_for("pooltest")

    assert session_for("pooltest") is session
    assert session_for("pooltest-other") is not session
    adapter = session.get_adapter("https://upstream.test")
    assert adapter._pool_maxsize == settings.UPSTREAM_POOL_SIZE
    assert adapter.max_retries.total == 0  # retries are ours, not urllib3's


# --- Shared rate limit ---------------------------------------------------------------------------


def test_every_attempt_takes_a_rate_limit_token(settings, rsps, client):
    settings.PROVIDER_RATE_LIMITS = "httptest=0.01/2"
    settings.PROVIDER_RATE_LIMIT_MAX_WAIT = 0.5
    settings.UPSTREAM_RETRY_ATTEMPTS = 5
    rsps.get(UPSTREAM, status=500)

    with pytest.raises(UpstreamUnavailable) as caught:
        get(client, rate_bucket="httptest")

    # Two tokens, two requests; the third attempt would have waited 100 s. The
    # call failed upstream (it counts against the provider's circuit).
    assert len(rsps.calls) == 2
    assert 99 <= caught.value.retry_after <= 100
    assert caught.value.extra["reason"] == "HTTP 500"
    assert not isinstance(caught.value, RateLimited)


def test_a_call_over_the_rate_never_reaches_the_upstream(settings, rsps, client):
    settings.PROVIDER_RATE_LIMITS = "httptest=0.01/1"
    settings.PROVIDER_RATE_LIMIT_MAX_WAIT = 0.5
    rsps.get(UPSTREAM, json={})

    get(client, rate_bucket="httptest")
    with pytest.raises(RateLimited):
        get(client, rate_bucket="httptest")

    assert len(rsps.calls) == 1


# --- Circuit breaker ------------------------------------------------------------------------------


@pytest.fixture
def quick_circuit(settings):
    settings.CIRCUIT_FAILURE_THRESHOLD = 3
    settings.CIRCUIT_OPEN_SECONDS = 0.3
    settings.CIRCUIT_FAILURE_WINDOW = 60
    return CircuitBreaker("testprovider")


def test_circuit_opens_after_threshold_failures_then_half_opens(quick_circuit):
    breaker = quick_circuit
    breaker.record_failure()
    breaker.record_failure()
    assert circuit_state("testprovider") == CircuitState.CLOSED
    assert breaker.allow(probe_seconds=5) is None

    breaker.record_failure()
    assert circuit_state("testprovider") == CircuitState.OPEN
    assert 0 < breaker.allow(probe_seconds=5) <= 0.3

    time.sleep(0.35)
    assert circuit_state("testprovider") == CircuitState.HALF_OPEN
    assert breaker.allow(probe_seconds=5) is None  # one caller probes...
    assert breaker.allow(probe_seconds=5) > 0  # ...the others wait for its outcome

    breaker.record_failure()  # the probe failed: open again
    assert circuit_state("testprovider") == CircuitState.OPEN

    time.sleep(0.35)
    assert breaker.allow(probe_seconds=5) is None
    breaker.record_success()  # the probe succeeded: closed
    assert circuit_state("testprovider") == CircuitState.CLOSED
    assert breaker.allow(probe_seconds=5) is None
    assert breaker.allow(probe_seconds=5) is None


def test_a_success_resets_the_failure_count(quick_circuit):
    breaker = quick_circuit
    breaker.record_failure()
    breaker.record_failure()
    breaker.record_success()
    breaker.record_failure()
    breaker.record_failure()

    assert circuit_state("testprovider") == CircuitState.CLOSED


def test_failures_lapse_after_the_window(quick_circuit, settings):
    settings.CIRCUIT_FAILURE_WINDOW = 0.3
    breaker = quick_circuit
    breaker.record_failure()
    breaker.record_failure()
    time.sleep(0.4)
    breaker.record_failure()

    assert circuit_state("testprovider") == CircuitState.CLOSED


def test_an_abandoned_probe_lets_another_caller_probe(quick_circuit):
    breaker = quick_circuit
    for _ in range(3):
        breaker.record_failure()
    time.sleep(0.35)

    assert breaker.allow(probe_seconds=0.2) is None  # this probe's process dies
    assert breaker.allow(probe_seconds=0.2) > 0
    time.sleep(0.25)
    assert breaker.allow(probe_seconds=0.2) is None


def test_a_failing_provider_trips_its_circuit_and_stops_calling(settings, rsps, keepa_settings):
    settings.CIRCUIT_FAILURE_THRESHOLD = 2
    settings.UPSTREAM_RETRY_ATTEMPTS = 2
    settings.PROVIDER_RATE_LIMITS = "keepa=1000/1000"
    rsps.get(KEEPA_PRODUCT_URL, status=500)
    us = marketplace_get("US")

    for _ in range(2):
        with pytest.raises(UpstreamUnavailable):
            KeepaProvider().fetch_one("B0TESTKEEP", us)
    assert len(rsps.calls) == 4
    assert circuit_state("keepa") == CircuitState.OPEN

    with pytest.raises(CircuitOpen) as caught:
        KeepaProvider().fetch_one("B0TESTKEEP", us)
    assert len(rsps.calls) == 4
    assert caught.value.retry_after > 0
    assert http_status(caught.value) == 503
