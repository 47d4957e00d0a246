"""The lookup's API-key fast path answers exactly as DRF's dispatch does.

Every scenario runs twice on fresh, identical users: once through the fast path
(``ProductLookupApi.api_key_fast_path``, on by default) and once through DRF's own
dispatch. Status, headers (but the request id) and body must be the same, and so
must what each did to the ledger.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.test import Client
from rest_framework.permissions import IsAuthenticated
from rest_framework.views import APIView

from accounts import services as account_services
from accounts.authentication import ApiKeyAuthentication
from accounts.models import User
from accounts.tests.factories import api_key_for
from core.parsers import BoundedJSONParser
from core.throttling import ApiRateThrottle
from credits.models import LedgerEntry
from credits.tests.factories import funded_user
from products.api import ProductLookupApi
from products.providers.sandbox import NOT_FOUND_ASIN, OUTAGE_ASIN

pytestmark = pytest.mark.django_db

URL = "/api/v1/products/asin"
ASIN = "B08N5WRWNW"
JSON = "application/json"
VOLATILE_HEADERS = {"X-Request-ID"}


@dataclass
class Call:
    body: bytes | str
    content_type: str = JSON
    headers: dict[str, str] = field(default_factory=dict)
    key: str = "valid"  # valid, none, revoked, wrong, malformed, basic


@dataclass
class Scenario:
    name: str
    calls: list[Call]
    credits: int = 10
    settings: dict[str, Any] = field(default_factory=dict)


def body(**fields: Any) -> str:
    return json.dumps(fields)


SCENARIOS = [
    Scenario("cached hit", [Call(body(asin=ASIN, marketplace="US"))]),
    Scenario("lower case, spaces, default marketplace", [Call(body(asin=f"  {ASIN.lower()} "))]),
    Scenario("charset in the content type", [Call(body(asin=ASIN), content_type=f"{JSON}; charset=utf-8")]),
    Scenario("invalid ASIN", [Call(body(asin="B08N5-RWNW"))]),
    Scenario("unknown marketplace", [Call(body(asin=ASIN, marketplace="XX"))]),
    Scenario("ASIN missing", [Call(body(marketplace="US"))]),
    Scenario("ASIN not a string", [Call(body(asin=[ASIN]))]),
    Scenario("body not an object", [Call(json.dumps([ASIN]))]),
    Scenario("malformed JSON", [Call('{"asin": ')]),
    Scenario("NaN", [Call('{"asin": NaN}')]),
    Scenario("nested too deep", [Call("[" * 40 + "]" * 40)]),
    Scenario(
        "body too large",
        [Call(body(asin=ASIN, pad="x" * 2048))],
        settings={"API_JSON_MAX_BYTES": 1024},
    ),
    Scenario("not enough credits", [Call(body(asin=ASIN))], credits=0),
    Scenario("product does not exist (refunded)", [Call(body(asin=NOT_FOUND_ASIN))]),
    Scenario("upstream outage (refunded)", [Call(body(asin=OUTAGE_ASIN))]),
    Scenario("wrong key", [Call(body(asin=ASIN), key="wrong")]),
    Scenario("revoked key", [Call(body(asin=ASIN), key="revoked")]),
    Scenario("malformed Authorization header", [Call(body(asin=ASIN), key="malformed")]),
    Scenario("Basic credentials", [Call(body(asin=ASIN), key="basic")]),
    Scenario("X-API-Key header", [Call(body(asin=ASIN), key="x-api-key")]),
    Scenario("no credentials", [Call(body(asin=ASIN), key="none")]),
    Scenario("form body", [Call("asin=B08N5WRWNW", content_type="application/x-www-form-urlencoded")]),
    Scenario("empty body", [Call("")]),
    Scenario(
        "rate limited",
        [Call(body(asin=ASIN)), Call(body(asin=ASIN))],
        settings={"API_RATE_METERED": "1/min"},
    ),
    Scenario(
        "Idempotency-Key replayed, then reused for another product",
        [
            Call(body(asin=ASIN), headers={"Idempotency-Key": "order-1"}),
            Call(body(asin=ASIN), headers={"Idempotency-Key": "order-1"}),
            Call(body(asin="B07XJ8C8F5"), headers={"Idempotency-Key": "order-1"}),
        ],
    ),
]


def answer(response: Any) -> tuple[int, dict[str, str], Any]:
    headers = {name: value for name, value in response.items() if name not in VOLATILE_HEADERS}
    content = response.content
    try:
        parsed = json.loads(content)
    except ValueError:
        parsed = content.decode()
    return response.status_code, headers, parsed


def credentials(user: User, kind: str) -> dict[str, str]:
    api_key, raw = api_key_for(user)
    if kind == "revoked":
        account_services.api_key_revoke(user=user, key_id=api_key.pk)
    return {
        "valid": {"HTTP_AUTHORIZATION": f"Bearer {raw}"},
        "revoked": {"HTTP_AUTHORIZATION": f"Bearer {raw}"},
        "x-api-key": {"HTTP_X_API_KEY": raw},
        "wrong": {"HTTP_AUTHORIZATION": "Bearer not-a-key-of-anyone"},
        "malformed": {"HTTP_AUTHORIZATION": f"Bearer {raw} extra"},
        "basic": {"HTTP_AUTHORIZATION": "Basic dXNlcjpwYXNz"},
        "none": {},
    }[kind]


def run(scenario: Scenario, *, fast: bool, monkeypatch: pytest.MonkeyPatch) -> tuple[list[Any], list[Any]]:
    monkeypatch.setattr(ProductLookupApi, "api_key_fast_path", fast)
    user = funded_user(credits=scenario.credits)
    client = Client()
    answers = []
    for call in scenario.calls:
        extra = {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in call.headers.items()}
        response = client.post(
            URL, data=call.body, content_type=call.content_type, **credentials(user, call.key), **extra
        )
        answers.append(answer(response))
    ledger = list(
        LedgerEntry.objects.filter(account__user=user)
        .order_by("id")
        .values_list("kind", "amount", "balance_after", "operation", "reference")
    )
    return answers, ledger


@pytest.fixture(autouse=True)
def _cached_product() -> None:
    """Both paths find the product cached, as the hot path does."""
    Client().post(
        URL,
        data=body(asin=ASIN),
        content_type=JSON,
        **credentials(funded_user(credits=5), "valid"),
    )


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.name for s in SCENARIOS])
def test_fast_path_answers_as_drf_does(scenario: Scenario, settings: Any, monkeypatch: pytest.MonkeyPatch):
    for name, value in scenario.settings.items():
        setattr(settings, name, value)

    fast_answers, fast_ledger = run(scenario, fast=True, monkeypatch=monkeypatch)
    drf_answers, drf_ledger = run(scenario, fast=False, monkeypatch=monkeypatch)

    assert fast_answers == drf_answers
    assert fast_ledger == drf_ledger


def test_the_fast_path_mirrors_the_views_configuration():
    """The fast path takes the API key, the rate limit and the JSON parser as these are
    configured today; a change to the view's classes must change the fast path too."""
    view = ProductLookupApi()

    assert [type(a) for a in view.get_authenticators()][:1] == [ApiKeyAuthentication]
    assert [type(t) for t in view.get_throttles()] == [ApiRateThrottle]
    assert [type(p) for p in view.get_parsers()] == [BoundedJSONParser]
    assert [type(p) for p in view.get_permissions()] == [IsAuthenticated]


def spy_on_drf(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The requests that went through DRF's request wrapper, by method."""
    seen: list[str] = []
    original: Callable[..., Any] = APIView.initialize_request

    def initialize_request(self: APIView, request: Any, *args: Any, **kwargs: Any) -> Any:
        seen.append(request.method)
        return original(self, request, *args, **kwargs)

    monkeypatch.setattr(APIView, "initialize_request", initialize_request)
    return seen


def test_a_lookup_with_an_api_key_skips_drfs_request_wrapper(monkeypatch: pytest.MonkeyPatch):
    seen = spy_on_drf(monkeypatch)
    user = funded_user(credits=5)

    response = Client().post(URL, data=body(asin=ASIN), content_type=JSON, **credentials(user, "valid"))

    assert response.status_code == 200
    assert seen == []


def test_errors_and_browser_sessions_take_drfs_machinery(monkeypatch: pytest.MonkeyPatch):
    seen = spy_on_drf(monkeypatch)
    user = funded_user(credits=5)
    session = Client(enforce_csrf_checks=True)
    session.force_login(user)

    invalid = Client().post(URL, data=body(asin="nope"), content_type=JSON, **credentials(user, "valid"))
    without_csrf = session.post(URL, data=body(asin=ASIN), content_type=JSON)

    assert invalid.status_code == 400
    assert without_csrf.status_code == 403  # a session needs its CSRF token, as before
    assert seen == ["POST", "POST"]
