"""The request series the alerts and the dashboard read, recorded by one middleware."""

from __future__ import annotations

import pytest
from django.conf import settings

from accounts.tests.factories import UserFactory, api_key_for
from monitoring.tests.test_metrics import scrape, value

pytestmark = pytest.mark.django_db


def test_requests_are_counted_by_view_status_and_timed(client):
    _, raw = api_key_for(UserFactory())
    before = scrape(client)

    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {raw}"}).status_code == 200
    assert client.get("/api/v1/me").status_code == 401
    assert client.get("/api/v1/no-such-endpoint").status_code == 404
    after = scrape(client)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    me = {"view": "api:me", "method": "GET"}
    assert delta("django_http_requests_total_by_view_transport_method_total", transport="http", **me) == 2
    assert delta("django_http_requests_latency_seconds_by_view_method_count", **me) == 2
    assert delta("django_http_requests_latency_seconds_by_view_method_bucket", le="+Inf", **me) == 2
    assert delta("django_http_responses_total_by_status_total", status="200") >= 1
    assert delta("django_http_responses_total_by_status_total", status="401") == 1
    unnamed = {"view": "<unnamed view>", "method": "GET"}
    assert delta("django_http_responses_total_by_status_total", status="404") == 1
    assert delta("django_http_requests_latency_seconds_by_view_method_count", **unnamed) == 1


def test_the_metrics_middleware_runs_first_so_latency_covers_the_whole_chain():
    assert settings.MIDDLEWARE[0] == "monitoring.metrics_middleware.RequestMetricsMiddleware"
    assert not [name for name in settings.MIDDLEWARE if name.startswith("django_prometheus.middleware")]
