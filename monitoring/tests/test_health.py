import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from monitoring import health

pytestmark = pytest.mark.django_db


def test_liveness_touches_no_database(client):
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/health")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert len(queries) == 0


def test_readiness_reports_each_dependency(client):
    response = client.get("/health/ready")

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "ok"
    assert set(body["checks"]) == {"database", "cache", "broker"}
    assert all(check["status"] == "ok" for check in body["checks"].values())


def test_readiness_is_503_and_names_the_failed_dependency(client, settings):
    # A broker address nobody listens on: the real check, really failing.
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {}
    settings.HEALTH_CHECK_TIMEOUT = 0.5

    response = client.get("/health/ready")

    assert response.status_code == 503
    body = response.json()
    assert body["failed"] == ["broker"]
    assert body["checks"]["broker"]["status"] == "error"
    assert body["checks"]["database"]["status"] == "ok"


def test_readiness_checks_are_the_documented_three():
    assert list(health.READINESS_CHECKS) == ["database", "cache", "broker"]
