"""API rate limits (core/throttling.py): 429 with Retry-After, per key, per budget, across processes."""

import os
import subprocess
import sys
from unittest import mock

import pytest
import redis
from django.conf import settings as django_settings
from django.urls import resolve
from rest_framework.request import Request
from rest_framework.test import APIClient, APIRequestFactory

from accounts.selectors import ApiKeyPrincipal
from accounts.tests.factories import PASSWORD, UserFactory, api_key_for
from core.ratelimit import RateLimitExceeded, TokenBucket
from core.throttling import ApiRateThrottle, is_metered, parse_rate
from credits.models import LedgerEntry
from credits.selectors import balance_get
from credits.tests.factories import funded_user

pytestmark = pytest.mark.django_db

LOOKUP = "/api/v1/products/asin"
ME = "/api/v1/me"
ASIN = "B08N5WRWNW"


@pytest.fixture(autouse=True)
def _small_budgets(settings):
    settings.API_RATE_METERED = "3/min"
    settings.API_RATE_FREE = "4/min"
    settings.API_RATE_USER_METERED = "5/min"
    settings.API_RATE_USER_FREE = "7/min"


def key_client(user) -> tuple[APIClient, int]:
    key, raw = api_key_for(user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client, key.pk


def lookup(client: APIClient):
    return client.post(LOOKUP, {"asin": ASIN}, format="json")


def test_metered_calls_over_the_limit_are_refused_with_retry_after_and_not_charged():
    user = funded_user(credits=10)
    client, _ = key_client(user)

    assert [lookup(client).status_code for _ in range(3)] == [200, 200, 200]
    refused = lookup(client)

    assert refused.status_code == 429
    # 3 a minute: the next token comes in 20 seconds.
    assert 1 <= int(refused["Retry-After"]) <= 20
    error = refused.json()["error"]
    assert error["code"] == "rate_limited"
    assert error["detail"] == {"retry_after": int(refused["Retry-After"])}
    assert balance_get(user=user) == 7
    assert LedgerEntry.objects.filter(account__user=user, kind="charge").count() == 3


def test_each_api_key_has_its_own_budget():
    user = funded_user(credits=10)
    first, _ = key_client(user)
    second, _ = key_client(user)
    for _ in range(3):
        lookup(first)

    assert lookup(first).status_code == 429
    assert lookup(second).status_code == 200


def test_more_keys_do_not_buy_a_bigger_budget():
    user = funded_user(credits=10)
    first, _ = key_client(user)
    second, _ = key_client(user)
    for _ in range(3):
        assert lookup(first).status_code == 200

    # The user's 5 a minute: two more through the second key, then refused whatever the key.
    assert [lookup(second).status_code for _ in range(3)] == [200, 200, 429]
    third, _ = key_client(user)
    refused = lookup(third)
    assert refused.status_code == 429
    assert int(refused["Retry-After"]) >= 1
    assert balance_get(user=user) == 5
    # Someone else is not affected.
    stranger, _ = key_client(funded_user(credits=1))
    assert lookup(stranger).status_code == 200


def test_a_call_refused_by_the_user_budget_takes_nothing_from_the_key():
    user = funded_user(credits=10)
    first, _ = key_client(user)
    second, second_id = key_client(user)
    for _ in range(3):
        lookup(first)
    lookup(second)
    lookup(second)
    assert lookup(second).status_code == 429  # the user's budget, not this key's (2 of 3)

    # The key's own bucket still holds its third token, and only that one.
    key_bucket = TokenBucket(f"api:metered:key:{second_id}:user:{user.pk}", parse_rate("3/min"))
    assert key_bucket.reserve(1, max_wait=0) == 0
    with pytest.raises(RateLimitExceeded):
        key_bucket.reserve(1, max_wait=0)


def test_session_calls_are_limited_per_user():
    user = UserFactory()
    client = APIClient()
    assert client.login(email=user.email, password=PASSWORD)
    other = APIClient()
    assert other.login(email=UserFactory().email, password=PASSWORD)

    assert [client.get(ME).status_code for _ in range(5)] == [200, 200, 200, 200, 429]
    assert other.get(ME).status_code == 200


def test_metered_and_free_calls_have_separate_budgets():
    user = funded_user(credits=10)
    client, _ = key_client(user)
    for _ in range(3):
        lookup(client)
    assert lookup(client).status_code == 429

    assert [client.get(ME).status_code for _ in range(4)] == [200] * 4
    assert client.get(ME).status_code == 429
    # A free endpoint of a metered app is free too: the lookup history.
    assert client.get("/api/v1/products/lookups").status_code == 429


# (URL name, HTTP method) of every API operation that charges credits (or holds them), as
# METERED_OPERATIONS listed them before views declared themselves ``@metered_operation``, and the
# label photo conversion (#21) added since.
METERED_OPERATIONS = {
    ("api:product-lookup", "POST"),  # one product by ASIN
    ("api:product-code-lookup", "POST"),  # products by EAN, UPC or ISBN
    ("api:conversion-fnsku", "POST"),  # FNSKU to ASIN
    ("api:conversion-fnsku-label", "POST"),  # FNSKU to ASIN from a photo of the label
    ("api:conversion-bulk", "POST"),  # a bulk conversion job (credits held up front)
    ("api:bulk-jobs", "POST"),  # a bulk lookup job (credits held up front)
    ("api:bulk-job-retry", "POST"),  # a bulk job's failed items again (held anew)
    ("api:collection-run", "POST"),  # a saved collection run now as a bulk job (held up front)
    ("api:product-profit", "POST"),  # profit of one product (priced as a lookup; free while fresh)
    ("api:manifests", "POST"),  # a liquidation manifest read (held up front with start=true)
    ("api:manifest-start", "POST"),  # a liquidation manifest run as a bulk job (held up front)
}


def _api_operations(resolver=None, namespace: str = ""):
    """(URL name, method, view class) of every operation of the URL conf."""
    from django.urls import URLPattern, URLResolver, get_resolver

    for entry in (resolver or get_resolver()).url_patterns:
        if isinstance(entry, URLResolver):
            inner = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            yield from _api_operations(entry, inner)
        elif isinstance(entry, URLPattern) and entry.name:
            view_class = getattr(entry.callback, "view_class", None)
            for method in getattr(view_class, "http_method_names", ()):
                if hasattr(view_class, method):
                    yield f"{namespace}{entry.name}", method.upper(), view_class


def test_the_views_marked_metered_are_the_metered_operations():
    marked = {(name, method) for name, method, view in _api_operations() if is_metered(view, method)}
    assert marked == METERED_OPERATIONS


def test_metered_operations_name_real_api_routes():
    for name, method in METERED_OPERATIONS:
        match = resolve(_path_of(name))
        assert match.view_name == name
        assert method.lower() in match.func.view_class.http_method_names
        assert hasattr(match.func.view_class, method.lower()), (name, method)
        assert is_metered(match.func.view_class, method)


def _path_of(view_name: str) -> str:
    from django.urls import NoReverseMatch, reverse

    for kwargs in ({}, {"job_id": 1}, {"collection_id": 1}, {"manifest_id": 1}):
        try:
            return reverse(view_name, kwargs=kwargs)
        except NoReverseMatch:
            continue
    raise AssertionError(f"{view_name} is not an API route")


def _throttle_request(key_id: int, user) -> Request:
    django_request = APIRequestFactory().post(LOOKUP)
    django_request.resolver_match = resolve(LOOKUP)
    request = Request(django_request)
    request._user = user
    request._auth = ApiKeyPrincipal(key_id=key_id, revoked=False, user=user)
    return request


def test_a_check_costs_one_redis_call_and_no_query(django_assert_num_queries):
    user = UserFactory()
    request = _throttle_request(4242, user)
    throttle = ApiRateThrottle()
    throttle.allow_request(request, view=None)  # the script is loaded once per process

    with (
        mock.patch.object(
            redis.Redis, "execute_command", autospec=True, side_effect=redis.Redis.execute_command
        ) as calls,
        django_assert_num_queries(0),
    ):
        assert throttle.allow_request(request, view=None)

    assert [call.args[1] for call in calls.call_args_list] == ["EVALSHA"]


SPEND_IN_ANOTHER_PROCESS = """
import django
django.setup()
from django.urls import resolve
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory
from accounts.models import User
from accounts.selectors import ApiKeyPrincipal
from core.throttling import ApiRateThrottle
import sys

user = User(pk=int(sys.argv[2]), email="x@example.com")
django_request = APIRequestFactory().post("/api/v1/products/asin")
django_request.resolver_match = resolve("/api/v1/products/asin")
request = Request(django_request)
request._user = user
request._auth = ApiKeyPrincipal(key_id=int(sys.argv[1]), revoked=False, user=user)
print(",".join(str(ApiRateThrottle().allow_request(request, view=None)) for _ in range(3)))
"""


def test_the_budget_is_shared_by_every_process():
    user = funded_user(credits=10)
    client, key_id = key_client(user)
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "API_RATE_METERED": django_settings.API_RATE_METERED,
        "CACHE_KEY_PREFIX": django_settings.CACHES["default"]["KEY_PREFIX"],
    }
    other = subprocess.run(
        [sys.executable, "-c", SPEND_IN_ANOTHER_PROCESS, str(key_id), str(user.pk)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        cwd=django_settings.BASE_DIR,
    )

    assert other.stdout.strip() == "True,True,True"
    assert lookup(client).status_code == 429
    assert balance_get(user=user) == 10


@pytest.mark.parametrize(
    ("rate", "per_second", "burst"),
    [("600/min", 10.0, 600), ("5/s", 5.0, 5), ("7200/hour", 2.0, 7200), ("86400/day", 1.0, 86400)],
)
def test_rates_parse(rate, per_second, burst):
    limit = parse_rate(rate)
    assert (limit.rate, limit.burst) == (per_second, burst)


@pytest.mark.parametrize("rate", ["600", "0/min", "x/min", "10/fortnight"])
def test_bad_rates_are_refused(rate):
    with pytest.raises(ValueError, match="Invalid API rate"):
        parse_rate(rate)
