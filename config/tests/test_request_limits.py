"""Over-long URLs: 414 in the API's error shape, before authentication or any charge."""

import pytest
from django.test import override_settings

from accounts.tests.factories import api_key_for
from credits.tests.factories import funded_user

pytestmark = pytest.mark.django_db


def test_a_long_query_string_on_the_api_is_414_in_the_error_shape(client):
    response = client.get("/api/v1/credits/transactions?q=" + "x" * 5000)

    assert response.status_code == 414
    body = response.json()
    assert body["error"]["code"] == "uri_too_long"
    assert body["error"]["detail"] == {"length": len("/api/v1/credits/transactions") + 5002, "limit": 4096}


def test_a_long_url_is_refused_before_it_is_charged(client):
    user = funded_user(credits=5)
    _, raw_key = api_key_for(user)

    response = client.post(
        "/api/v1/products/asin?pad=" + "x" * 5000,
        {"asin": "B08N5WRWNW", "marketplace": "US"},
        content_type="application/json",
        headers={"Authorization": f"Bearer {raw_key}"},
    )

    assert response.status_code == 414
    user.credit_account.refresh_from_db()
    assert user.credit_account.balance == 5


def test_a_long_page_url_is_a_plain_414(client):
    response = client.get("/accounts/login/?next=" + "x" * 5000)

    assert response.status_code == 414
    assert response["Content-Type"].startswith("text/plain")


def test_a_url_at_the_limit_is_served(client):
    path = "/health"
    response = client.get(path + "?" + "x" * (4096 - len(path) - 1))

    assert response.status_code == 200


@override_settings(MAX_URL_LENGTH=100)
def test_the_limit_is_a_setting(client):
    assert client.get("/health?" + "x" * 200).status_code == 414
