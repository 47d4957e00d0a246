"""POST /api/v1/products/asin: charged, served, refunded, replayed — through the real stack."""

import uuid

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from accounts.tests.factories import UserFactory, api_key_for
from credits.models import LedgerEntry
from credits.selectors import balance_get
from credits.tests.factories import funded_user
from products.models import LookupLog, Product, ProductSnapshot
from products.querylog import lookup_log_flush
from products.store import product_local_cache_clear

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


@pytest.mark.parametrize("asin", ["B000000404", "B000000503"])
def test_a_remembered_failure_is_answered_as_the_fresh_one_was(asin):
    """The short-lived failure marker keeps the error's details (the providers tried,
    the ASIN and marketplace), not only its message."""
    fresh = client_for(funded_user(credits=5)).post(URL, {"asin": asin}, format="json")
    remembered = client_for(funded_user(credits=5)).post(URL, {"asin": asin}, format="json")

    assert remembered.status_code == fresh.status_code
    assert remembered.json() == fresh.json()
    assert remembered.get("Retry-After") == fresh.get("Retry-After")


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


def test_a_retry_after_a_worker_died_between_charge_and_answer_is_not_charged_again(monkeypatch):
    from core.shared_state import redis_client
    from credits.metering import ReplayClaim
    from products import services

    user = funded_user(credits=5)
    key = str(uuid.uuid4())

    class WorkerDied(BaseException):  # as a SIGKILL: nothing after the charge runs
        pass

    def die(claim, answer, charge):
        raise WorkerDied

    monkeypatch.setattr(ReplayClaim, "delivered", die)
    with pytest.raises(WorkerDied):
        services.product_lookup(user=user, asin=ASIN, idempotency_key=key)
    monkeypatch.undo()
    assert balance_get(user=user) == 4  # charged; the answer was never recorded
    # The request's pending claim expires (about a minute later); the client retries.
    redis_client().delete(*redis_client().keys("*lookup-replay*"))

    retried = client_for(user).post(URL, {"asin": ASIN}, format="json", HTTP_IDEMPOTENCY_KEY=key)

    assert retried.status_code == 200, retried.content
    assert retried.json()["product"]["asin"] == ASIN
    assert balance_get(user=user) == 4
    assert len(charges(user)) == 1


def test_a_charge_and_an_answer_kept_before_a_deploy_are_found_by_their_key_formats():
    """The ledger key (``lookup:idem:<user>:<sha256 of the key, 40 hex>:<attempt>``) and the
    Redis replay state are stored data: a retry after a deploy must find what the code
    before it wrote."""
    import hashlib
    import json

    from core.shared_state import redis_client, shared_key
    from credits.services import credits_charge

    user = funded_user(credits=5)
    client = client_for(user)
    charged_key = str(uuid.uuid4())
    digest = hashlib.sha256(charged_key.encode()).hexdigest()[:40]
    credits_charge(user=user, operation="asin_lookup", idempotency_key=f"lookup:idem:{user.pk}:{digest}:1")

    retried = client.post(URL, {"asin": ASIN}, format="json", HTTP_IDEMPOTENCY_KEY=charged_key)

    assert retried.status_code == 200, retried.content
    assert balance_get(user=user) == 4
    assert len(charges(user)) == 1

    kept_key = str(uuid.uuid4())
    kept = {
        "fingerprint": f"US:{ASIN}",
        "record": json.dumps({"asin": ASIN, "title": "Kept"}),
        "source": "upstream",
        "credits_charged": 1,
        "credits_remaining": 7,
    }
    redis_client().set(f"{shared_key('lookup-replay', str(user.pk))}:{kept_key}", json.dumps(kept), ex=60)

    replayed = client.post(URL, {"asin": ASIN}, format="json", HTTP_IDEMPOTENCY_KEY=kept_key)

    assert replayed.status_code == 200
    assert replayed["Idempotent-Replayed"] == "true"
    assert replayed["X-Credits-Remaining"] == "7"
    assert replayed.json()["product"] == {"asin": ASIN, "title": "Kept"}
    assert balance_get(user=user) == 4


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


@pytest.mark.redis
@pytest.mark.postgres
def test_a_cached_lookup_costs_two_redis_calls_and_one_statement():
    """The hot path: the key's check with its rate limit (one call), the charge (one
    statement), the cached record read with its log line appended (one call)."""
    from unittest import mock

    import redis
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    user = funded_user(credits=10)
    client = client_for(user)
    assert client.post(URL, {"asin": ASIN}, format="json").status_code == 200  # caches it, warms the key

    with (
        mock.patch.object(
            redis.Redis, "execute_command", autospec=True, side_effect=redis.Redis.execute_command
        ) as calls,
        CaptureQueriesContext(connection) as queries,
    ):
        response = client.post(URL, {"asin": ASIN}, format="json")

    assert response.status_code == 200
    assert response["X-Cache"] == "hit"
    # The test's transaction wraps the charge in a savepoint; in production it is one statement.
    statements = [q["sql"] for q in queries.captured_queries if "SAVEPOINT" not in q["sql"]]
    assert len(statements) == 1, statements
    assert "credits_ledgerentry" in statements[0]
    assert [call.args[1] for call in calls.call_args_list] == ["EVALSHA", "EVALSHA"]
    lookup_log_flush()
    rows = LookupLog.objects.filter(user=user).order_by("created_at")
    assert [(row.source, row.outcome, row.credits) for row in rows] == [
        ("upstream", "ok", 1),
        ("cache", "ok", 1),
    ]


@pytest.mark.redis
def test_a_product_asked_for_again_is_served_from_the_process_without_a_redis_read(settings):
    from unittest import mock

    import redis

    settings.PRODUCT_LOCAL_CACHE_SECONDS = 30
    user = funded_user(credits=10)
    client = client_for(user)
    client.post(URL, {"asin": ASIN}, format="json")  # upstream, into the Redis cache
    client.post(URL, {"asin": ASIN}, format="json")  # read from Redis, kept by this process

    with mock.patch.object(
        redis.Redis, "execute_command", autospec=True, side_effect=redis.Redis.execute_command
    ) as calls:
        response = client.post(URL, {"asin": ASIN}, format="json")

    assert response.status_code == 200
    assert response["X-Cache"] == "hit"
    assert [call.args[1] for call in calls.call_args_list] == ["EVALSHA"]  # the key's check only
    assert balance_get(user=user) == 7
    lookup_log_flush()
    assert [row.source for row in LookupLog.objects.filter(user=user).order_by("created_at")] == [
        "upstream",
        "cache",
        "cache",
    ]


@pytest.mark.redis
def test_a_record_refreshed_in_this_process_replaces_the_kept_one_at_once(settings):
    from django.utils import timezone

    from products.marketplaces import marketplace_get
    from products.store import product_record_bytes

    settings.PRODUCT_LOCAL_CACHE_SECONDS = 30
    us = marketplace_get("US")
    product_record_bytes(asin=ASIN, marketplace=us)  # upstream
    kept = product_record_bytes(asin=ASIN, marketplace=us)  # Redis, kept
    assert kept.source == "cache"

    refreshed = product_record_bytes(asin=ASIN, marketplace=us, fetched_since=timezone.now())
    again = product_record_bytes(asin=ASIN, marketplace=us)

    assert refreshed.source == "upstream"
    assert again.body == refreshed.body != kept.body


@pytest.mark.redis
def test_no_process_copy_when_it_is_turned_off(settings):
    from unittest import mock

    import redis

    settings.PRODUCT_LOCAL_CACHE_SECONDS = 0
    user = funded_user(credits=10)
    client = client_for(user)
    for _ in range(2):
        client.post(URL, {"asin": ASIN}, format="json")

    with mock.patch.object(
        redis.Redis, "execute_command", autospec=True, side_effect=redis.Redis.execute_command
    ) as calls:
        assert client.post(URL, {"asin": ASIN}, format="json")["X-Cache"] == "hit"

    assert [call.args[1] for call in calls.call_args_list] == ["EVALSHA", "EVALSHA"]


def test_the_documented_failure_asins_do_not_pause_the_sandbox_for_everyone(settings):
    """Trying the reserved outage ASIN more often than the breaker's threshold (in several
    marketplaces, so each try reaches the provider) leaves ordinary lookups answering."""
    settings.CIRCUIT_FAILURE_THRESHOLD = 2
    demo = client_for(funded_user(credits=10))
    for marketplace in ("US", "DE", "UK", "FR", "JP"):
        response = demo.post(URL, {"asin": "B000000503", "marketplace": marketplace}, format="json")
        assert response.status_code == 503
        assert response.json()["error"]["code"] == "upstream_unavailable"
    for marketplace in ("IT", "ES"):
        garbage = demo.post(URL, {"asin": "B000000502", "marketplace": marketplace}, format="json")
        assert garbage.status_code >= 500

    other = client_for(funded_user(credits=5)).post(URL, {"asin": ASIN}, format="json")

    assert other.status_code == 200, other.json()


def test_a_record_stored_before_landed_prices_is_still_served():
    # Fetch once, then make the stored record look like one kept before record_version 2.
    user = funded_user(credits=10)
    client = client_for(user)
    assert client.post(URL, {"asin": ASIN, "marketplace": "DE"}, format="json").status_code == 200
    product = Product.objects.get(asin=ASIN, marketplace="DE")
    old = {k: v for k, v in product.record.items() if k not in ("price_basis", "price_parts")}
    old["record_version"] = 1
    old["history"] = [
        {k: v for k, v in h.items() if k not in ("basis", "landed_since")} for h in old["history"]
    ]
    product.record = old
    product.save(update_fields=["record"])
    cache.delete_pattern("*")  # type: ignore[attr-defined]
    product_local_cache_clear()

    answer = client.post(URL, {"asin": ASIN, "marketplace": "DE"}, format="json")

    assert answer.status_code == 200, answer.content
    assert answer.json()["source"] == "database"
    assert answer.json()["product"] == old


def test_the_product_record_carries_sales_velocity_marked_sample_from_the_sandbox():
    answer = client_for(funded_user(credits=5)).post(URL, {"asin": ASIN, "marketplace": "US"}, format="json")

    product = answer.json()["product"]
    assert product["record_version"] == 3
    assert product["sample_data"] is True
    assert product["sales_velocity"]["source"] == "sandbox"
    assert set(product["sales_velocity"]) == {
        "source",
        "monthly_sold",
        "monthly_sold_as_of",
        "rank_drops_30",
        "rank_drops_90",
        "rank_drops_180",
        "rank_drops_365",
        "rank_drops_as_of",
        "unavailable",
    }


def test_a_record_stored_before_sales_velocity_is_still_served():
    user = funded_user(credits=10)
    client = client_for(user)
    assert client.post(URL, {"asin": ASIN, "marketplace": "US"}, format="json").status_code == 200
    product = Product.objects.get(asin=ASIN, marketplace="US")
    old = {k: v for k, v in product.record.items() if k != "sales_velocity"}
    old["record_version"] = 2
    product.record = old
    product.save(update_fields=["record"])
    cache.delete_pattern("*")  # type: ignore[attr-defined]
    product_local_cache_clear()

    answer = client.post(URL, {"asin": ASIN, "marketplace": "US"}, format="json")

    assert answer.status_code == 200, answer.content
    assert answer.json()["source"] == "database"
    assert "sales_velocity" not in answer.json()["product"]
