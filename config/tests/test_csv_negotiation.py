"""Endpoints that also speak CSV: what they answer when it is not a CSV (errors, OPTIONS)."""

import pytest

from accounts.tests.factories import api_key_for
from credits.tests.factories import funded_user

pytestmark = pytest.mark.django_db

CSV_ENDPOINTS = ["/api/v1/credits/transactions", "/api/v1/products/bulk/999999/results"]


@pytest.fixture
def auth() -> dict[str, str]:
    _, raw_key = api_key_for(funded_user(credits=5))
    return {"HTTP_AUTHORIZATION": f"Bearer {raw_key}"}


@pytest.mark.parametrize("path", CSV_ENDPOINTS)
def test_an_error_after_choosing_csv_is_the_json_error(client, path):
    response = client.get(f"{path}?format=csv")

    assert response.status_code == 401
    assert response["Content-Type"] == "application/json"
    assert response.json()["error"]["code"] == "not_authenticated"


def test_a_missing_job_asked_as_csv_is_a_json_404(client, auth):
    response = client.get("/api/v1/products/bulk/999999/results", {"format": "csv"}, **auth)

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert "error" in response.json()


@pytest.mark.parametrize("path", CSV_ENDPOINTS)
def test_options_with_csv_describes_the_endpoint_in_json(client, auth, path):
    response = client.options(f"{path}?format=csv", **auth)

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert "name" in response.json()


def test_an_unknown_format_is_a_json_404(client, auth):
    response = client.get("/api/v1/credits/transactions", {"format": "xml"}, **auth)

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json()["error"]["code"] == "not_found"


def test_csv_itself_still_downloads(client, auth):
    response = client.get("/api/v1/credits/transactions", {"format": "csv"}, **auth)

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    lines = b"".join(response.streaming_content).decode().splitlines()
    assert lines[0].startswith("id,created_at,kind,amount")
    assert len(lines) == 2
