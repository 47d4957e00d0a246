"""/metrics in one process: series counted by real requests, scrape-time gauges, restriction."""

from __future__ import annotations

import pytest
from django.apps import apps
from django.db import connection
from prometheus_client.parser import text_string_to_metric_families
from rest_framework.test import APIClient

from accounts.tests.factories import UserFactory, api_key_for
from billing.tests.stripe_fakes import WEBHOOK_SECRET, event, new_id, post_event
from credits.models import CreditAccount
from credits.tests.factories import funded_user
from monitoring import registry
from monitoring.metrics import platform_metric_names

pytestmark = pytest.mark.django_db

ASIN = "B08N5WRWNW"


def scrape(client, **headers) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain")
    samples = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_lookups_and_credits_are_counted_by_marketplace_source_and_operation(
    client, django_capture_on_commit_callbacks
):
    user = funded_user(credits=10)
    _, raw = api_key_for(user)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    before = scrape(client)

    # Credits are counted when their transaction commits (the test's own never does).
    with django_capture_on_commit_callbacks(execute=True):
        first = api.post("/api/v1/products/asin", {"asin": ASIN, "marketplace": "DE"}, format="json")
        second = api.post("/api/v1/products/asin", {"asin": ASIN, "marketplace": "DE"}, format="json")
    after = scrape(client)

    assert (first.status_code, second.status_code) == (200, 200)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    lookup = {"marketplace": "DE", "outcome": "ok", "channel": "api"}
    assert delta("apip_lookups_total", source="upstream", **lookup) == 1
    assert delta("apip_lookups_total", source="cache", **lookup) == 1
    assert delta("apip_lookup_duration_seconds_count", source="cache") == 1
    assert delta("apip_credits_total", kind="charge", operation="asin_lookup") == 2
    assert delta("apip_ledger_entries_total", kind="charge", operation="asin_lookup") == 2
    # django-prometheus's own series, by view, and the database and cache series.
    view = {"view": "api:product-lookup", "method": "POST"}
    assert delta("django_http_requests_total_by_view_transport_method_total", transport="http", **view) == 2
    assert delta("django_db_execute_total", alias="default", vendor=connection.vendor) > 0
    assert value(after, "apip_ratelimit_wait_seconds_count", bucket="sandbox") >= 1


def test_a_refund_is_counted_when_the_lookup_delivers_nothing(
    client, settings, django_capture_on_commit_callbacks
):
    settings.PRODUCT_PROVIDERS = ["keepa"]  # not configured: nothing can be delivered
    settings.KEEPA_API_KEY = ""
    user = funded_user(credits=5)
    _, raw = api_key_for(user)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    before = scrape(client)

    with django_capture_on_commit_callbacks(execute=True):
        response = api.post("/api/v1/products/asin", {"asin": ASIN, "marketplace": "US"}, format="json")
    after = scrape(client)

    assert response.status_code == 503, response.content
    refunded = value(after, "apip_credits_total", kind="refund", operation="asin_lookup") - value(
        before, "apip_credits_total", kind="refund", operation="asin_lookup"
    )
    assert refunded == 1
    unavailable = {"marketplace": "US", "source": "none", "outcome": "unavailable", "channel": "api"}
    assert (
        value(after, "apip_lookups_total", **unavailable) - value(before, "apip_lookups_total", **unavailable)
        == 1
    )


def test_webhook_events_are_counted_by_type_and_result(client, settings):
    settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET
    before = scrape(client)

    response = post_event(client, event("customer.created", {"id": new_id("cus"), "object": "customer"}))
    after = scrape(client)

    assert response.status_code == 200, response.content
    labels = {"type": "customer.created", "result": "ignored"}
    counted = value(after, "apip_webhook_events_total", **labels)
    assert counted - value(before, "apip_webhook_events_total", **labels) == 1


def test_circuit_states_and_reconciliation_are_read_at_scrape_time(client, settings):
    settings.METRICS_RECONCILIATION_TTL = 1
    settings.PRODUCT_PROVIDERS = ["sandbox"]
    from products.providers.circuit import CircuitBreaker

    settings.CIRCUIT_FAILURE_THRESHOLD = 1
    CircuitBreaker("sandbox").record_failure()
    user = funded_user(credits=7)
    # A balance that disagrees with its ledger (written behind the services' back).
    CreditAccount.objects.filter(user=user).update(balance=10)

    samples = scrape(client)

    assert value(samples, "apip_provider_circuit_state", provider="sandbox", state="open") == 1
    assert value(samples, "apip_provider_circuit_state", provider="sandbox", state="closed") == 0
    assert value(samples, "apip_credits_accounts_out_of_balance") == 1
    assert value(samples, "apip_credits_reconciliation_difference") == 3
    assert value(samples, "apip_collector_up", collector="reconciliation") == 1


def _table_exists(app_label: str, model: str) -> bool:
    try:
        table = apps.get_model(app_label, model)._meta.db_table
    except LookupError:
        return False
    return table in connection.introspection.table_names()


def test_bulk_backlog_is_counted_from_the_items_table(client):
    if not _table_exists("jobs", "BulkItem"):
        pytest.skip("jobs.BulkItem's table does not exist yet (bulk jobs not migrated)")
    from jobs.tests.bulk_helpers import asins, create_job

    create_job(funded_user(credits=100), asins(3))
    samples = scrape(client)

    assert value(samples, "apip_bulk_backlog_items") == 3
    assert value(samples, "apip_bulk_items", status="pending") == 3


def test_fnsku_conversions_are_counted_by_status_and_confidence_band(client):
    if not _table_exists("conversion", "Conversion"):
        pytest.skip("conversion.Conversion's table does not exist yet")
    from conversion.tests.factories import ConversionFactory

    user = UserFactory()
    rows = ((0.97, "resolved"), (0.9, "resolved"), (0.6, "ambiguous"), (None, "not_found"))
    for confidence, status in rows:
        ConversionFactory(user=user, fnsku="X000000001", status=status, confidence=confidence)
    samples = scrape(client)

    assert value(samples, "apip_fnsku_conversions", status="resolved", confidence_band="ge_0.95") == 1
    assert value(samples, "apip_fnsku_conversions", status="resolved", confidence_band="0.8_0.95") == 1
    assert value(samples, "apip_fnsku_conversions", status="ambiguous", confidence_band="0.5_0.8") == 1
    assert value(samples, "apip_fnsku_conversions", status="not_found", confidence_band="none") == 1


def test_every_platform_series_is_declared_in_monitoring_metrics_or_a_registered_collector(client):
    samples = scrape(client)
    exported = {name for name, _ in samples if name.startswith("apip_")}

    assert exported <= platform_metric_names()


def test_each_app_registers_its_own_scrape_time_collectors():
    assert [collector.name for collector in registry.collectors()] == [
        "reconciliation",  # credits
        "circuits",  # products
        "bulk",  # products
        "conversions",  # conversion
        "celery_queues",  # monitoring
    ]
    assert list(registry.readiness_reports()) == ["providers"]


def test_a_failing_collector_is_reported_down_and_the_others_still_answer(client, monkeypatch):
    def broken() -> None:
        raise RuntimeError("source unavailable")

    def families(value):
        raise AssertionError("not called for a failed collector")

    monkeypatch.setitem(
        registry._collectors, "broken", registry.ScrapeCollector("broken", broken, families, ("apip_broken",))
    )
    samples = scrape(client)

    assert samples[("apip_collector_up", (("collector", "broken"),))] == 0
    assert samples[("apip_collector_up", (("collector", "circuits"),))] == 1


# --- Restriction -------------------------------------------------------------------------


def test_metrics_are_open_when_no_restriction_is_configured(client, settings):
    settings.METRICS_TOKEN = ""
    settings.METRICS_ALLOWED_NETWORKS = []

    assert client.get("/metrics").status_code == 200


def test_a_token_restricts_metrics_to_scrapers_that_send_it(client, settings):
    settings.METRICS_TOKEN = "scrape-token-0123456789"
    settings.METRICS_ALLOWED_NETWORKS = []

    refused = client.get("/metrics")
    wrong = client.get("/metrics", headers={"Authorization": "Bearer not-the-token"})
    allowed = client.get("/metrics", headers={"Authorization": "Bearer scrape-token-0123456789"})

    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "forbidden"
    assert wrong.status_code == 403
    assert allowed.status_code == 200
    assert b"apip_collector_up" in allowed.content


def test_allowed_networks_restrict_metrics_by_the_peer_address(client, settings):
    settings.METRICS_TOKEN = ""
    settings.METRICS_ALLOWED_NETWORKS = ["10.0.0.0/8", "2001:db8::/32"]

    inside = client.get("/metrics", REMOTE_ADDR="10.1.2.3")
    inside_v6 = client.get("/metrics", REMOTE_ADDR="2001:db8::1")
    outside = client.get("/metrics", REMOTE_ADDR="192.0.2.7")
    forged = client.get("/metrics", REMOTE_ADDR="192.0.2.7", headers={"X-Forwarded-For": "10.1.2.3"})

    assert inside.status_code == 200
    assert inside_v6.status_code == 200
    assert outside.status_code == 403
    assert forged.status_code == 403


def test_with_token_and_networks_either_one_admits(client, settings):
    settings.METRICS_TOKEN = "scrape-token-0123456789"
    settings.METRICS_ALLOWED_NETWORKS = ["10.0.0.0/8"]

    assert client.get("/metrics", REMOTE_ADDR="10.0.0.5").status_code == 200
    token = {"Authorization": "Bearer scrape-token-0123456789"}
    assert client.get("/metrics", REMOTE_ADDR="192.0.2.7", headers=token).status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="192.0.2.7").status_code == 403


# --- Readiness ---------------------------------------------------------------------------------


def test_readiness_reports_each_providers_circuit_without_failing_on_an_open_one(client, settings):
    settings.PRODUCT_PROVIDERS = ["sandbox", "keepa"]
    settings.CIRCUIT_FAILURE_THRESHOLD = 1
    from products.providers.circuit import CircuitBreaker

    CircuitBreaker("keepa").record_failure()

    response = client.get("/health/ready")

    assert response.status_code == 200, response.content
    providers = response.json()["providers"]
    assert providers["sandbox"]["circuit"] == "closed"
    assert providers["keepa"]["circuit"] == "open"
    assert set(providers) == {"sandbox", "keepa"}
