"""POST /api/v1/products/asin: charged, served, refunded, replayed — through the real stack."""

import uuid

import pytest
from rest_framework.test import APIClient

from accounts.tests.factories import UserFactory, api_key_for
from credits.models import LedgerEntry
from credits.selectors import balance_get
from credits.tests.factories import funded_user
from products.models import LookupLog, Product, ProductSnapshot
from products.querylog import lookup_log_flush

pytestmark = pytest.mark.django_db

URL = "/api/v1/products/asin"
ASIN = "B08N5WRWNW"


def client_for(user) -> APIClient:
    _, raw = api_key_for(user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


def charges(user) -> list[LedgerEntry]:
    return list(LedgerEntry.objects.filter(account__user=user, kind="charge"))


def test_lookup_charges_serves_and_caches():
    user = funded_user(credits=10)
    client = client_for(user)

    first = client.post(URL, {"asin": ASIN, "marketplace": "DE"}, format="json")
    second = client.post(URL, {"asin": f"  {ASIN.lower()} ", "marketplace": "de"}, format="json")

    assert first.status_code == 200, first.content
    assert first["X-Cache"] == "miss"
    assert first["X-Credits-Remaining"] == "9"
    body = first.json()
    assert body["source"] == "upstream"
    assert body["credits_charged"] == 1
    assert body["credits_remaining"] == 9
    product = body["product"]
    assert product["asin"] == ASIN
    assert product["marketplace"] == "DE"
    assert product["sample_data"] is True
    assert product["price"]["currency"] == "EUR"
    assert product["title"]

    assert second.status_code == 200
    assert second["X-Cache"] == "hit"
    assert second.json()["source"] == "cache"
    assert second.json()["product"] == product
    assert second["X-Credits-Remaining"] == "8"
    assert balance_get(user=user) == 8
    assert len(charges(user)) == 2
    assert Product.objects.get(asin=ASIN, marketplace="DE").record == product
    assert ProductSnapshot.objects.filter(product__asin=ASIN).count() == 1


def test_database_serves_when_the_cache_is_cold():
    from django.core.cache import cache

    user = funded_user(credits=10)
    client = client_for(user)
    client.post(URL, {"asin": ASIN}, format="json")
    cache.delete_pattern("*product:*")

    response = client.post(URL, {"asin": ASIN}, format="json")

    assert response.json()["source"] == "database"
    assert response["X-Cache"] == "miss"
    assert client.post(URL, {"asin": ASIN}, format="json").json()["source"] == "cache"


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        ({"asin": "B08N5WRWN"}, "invalid_asin"),
        ({"asin": "B08N5WRWNW1"}, "invalid_asin"),
        ({"asin": "B08N5-RWNW"}, "invalid_asin"),
        ({"asin": "B08N5WRWNÜ"}, "invalid_asin"),
        ({"asin": ASIN, "marketplace": "XX"}, "invalid_marketplace"),
        ({}, "invalid"),
        ({"asin": ["B08N5WRWNW"]}, "invalid"),
    ],
)
def test_bad_input_is_400_and_not_charged(payload, code):
    user = funded_user(credits=10)

    response = client_for(user).post(URL, payload, format="json")

    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] == code
    assert response.json()["error"]["message"]
    assert balance_get(user=user) == 10
    assert charges(user) == []


def test_no_credits_is_402_and_charges_nothing():
    user = funded_user(credits=0)

    response = client_for(user).post(URL, {"asin": ASIN}, format="json")

    assert response.status_code == 402
    error = response.json()["error"]
    assert error["code"] == "insufficient_credits"
    assert error["detail"]["balance"] == 0
    assert error["detail"]["price"] == 1
    assert charges(user) == []
    assert not Product.objects.exists()


def test_unknown_product_is_404_and_refunded():
    user = funded_user(credits=5)

    response = client_for(user).post(URL, {"asin": "B000000404"}, format="json")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "product_not_found"
    assert response["X-Credits-Remaining"] == "5"
    assert balance_get(user=user) == 5
    [charge] = charges(user)
    assert LedgerEntry.objects.filter(refund_of=charge).count() == 1


def test_upstream_outage_is_503_with_retry_after_and_refunded():
    user = funded_user(credits=5)

    response = client_for(user).post(URL, {"asin": "B000000503"}, format="json")

    assert response.status_code == 503
    assert response.json()["error"]["code"] == "upstream_unavailable"
    assert int(response["Retry-After"]) >= 1
    assert response["X-Credits-Remaining"] == "5"
    assert balance_get(user=user) == 5


def test_idempotency_key_replays_the_first_answer_without_a_second_charge():
    user = funded_user(credits=5)
    client = client_for(user)
    key = str(uuid.uuid4())

    first = client.post(URL, {"asin": ASIN}, format="json", HTTP_IDEMPOTENCY_KEY=key)
    again = client.post(URL, {"asin": ASIN}, format="json", HTTP_IDEMPOTENCY_KEY=key)

    assert first.status_code == again.status_code == 200
    assert again.content == first.content
    assert again["Idempotent-Replayed"] == "true"
    assert balance_get(user=user) == 4
    assert len(charges(user)) == 1


def test_idempotency_key_reused_for_another_product_is_409():
    user = funded_user(credits=5)
    client = client_for(user)
    key = str(uuid.uuid4())
    client.post(URL, {"asin": ASIN}, format="json", HTTP_IDEMPOTENCY_KEY=key)

    response = client.post(URL, {"asin": "B07FZ8S74R"}, format="json", HTTP_IDEMPOTENCY_KEY=key)

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "idempotency_key_reused"
    assert balance_get(user=user) == 4


def test_idempotent_retry_after_an_outage_tries_again_and_pays_once():
    user = funded_user(credits=5)
    client = client_for(user)
    key = str(uuid.uuid4())

    failed = client.post(URL, {"asin": "B000000503"}, format="json", HTTP_IDEMPOTENCY_KEY=key)
    assert failed.status_code == 503
    # Same key, same request: not replayed as a failure, looked up (and refunded) again.
    retried = client.post(URL, {"asin": "B000000503"}, format="json", HTTP_IDEMPOTENCY_KEY=key)

    assert retried.status_code == 503
    assert "Idempotent-Replayed" not in retried
    assert balance_get(user=user) == 5


def test_idempotent_not_found_is_replayed():
    user = funded_user(credits=5)
    client = client_for(user)
    key = str(uuid.uuid4())

    client.post(URL, {"asin": "B000000404"}, format="json", HTTP_IDEMPOTENCY_KEY=key)
    replay = client.post(URL, {"asin": "B000000404"}, format="json", HTTP_IDEMPOTENCY_KEY=key)

    assert replay.status_code == 404
    assert replay["Idempotent-Replayed"] == "true"
    assert len(charges(user)) == 1
    assert balance_get(user=user) == 5


def test_every_lookup_is_logged():
    user = funded_user(credits=2)
    client = client_for(user)
    client.post(URL, {"asin": ASIN}, format="json")
    client.post(URL, {"asin": "B000000404"}, format="json")  # refunded
    client.post(URL, {"asin": ASIN}, format="json")
    client.post(URL, {"asin": ASIN}, format="json")  # out of credits now

    assert lookup_log_flush() == 4

    rows = list(LookupLog.objects.filter(user=user).order_by("created_at", "id"))
    assert [(r.source, r.outcome, r.credits) for r in rows] == [
        ("upstream", "ok", 1),
        ("none", "not_found", 0),
        ("cache", "ok", 1),
        ("none", "insufficient_credits", 0),
    ]
    assert all(r.latency_ms >= 0 and r.channel == "api" for r in rows)
    listed = client.get("/api/v1/products/lookups").json()
    assert listed["count"] == 4


def test_cache_stats_are_for_staff_only():
    user = funded_user(credits=3)
    client = client_for(user)
    client.post(URL, {"asin": ASIN, "marketplace": "US"}, format="json")
    client.post(URL, {"asin": ASIN, "marketplace": "US"}, format="json")

    assert client.get("/api/v1/products/cache-stats").status_code == 403

    staff = UserFactory(is_staff=True)
    stats = client_for(staff).get("/api/v1/products/cache-stats").json()["marketplaces"]
    assert stats["US"]["upstream"] == 1
    assert stats["US"]["cache"] == 1
    assert stats["US"]["hit_ratio"] == 0.5


def test_lookup_needs_authentication():
    assert APIClient().post(URL, {"asin": ASIN}, format="json").status_code == 401


@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [
        ('["B08N5WRWNW"]', "application/json", 400),
        ('{"asin": 12}', "application/json", 400),
        ("asin=B08N5WRWNW", "text/plain", 415),
    ],
)
def test_request_body_must_be_a_json_object(body, content_type, status):
    user = funded_user(credits=5)

    response = client_for(user).post(URL, body, content_type=content_type)

    assert response.status_code == status
    assert response.json()["error"]["code"] in {"invalid", "unsupported_media_type"}
    assert balance_get(user=user) == 5
