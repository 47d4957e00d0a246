"""No URL of the platform answers 500 to a malformed value in its path or query string.

Every route of the URL conf is called, signed in (an API key for the API, a
superuser's session for pages and the admin), with one kind of bad value in
every path parameter, and then, with the route's parameters naming real
objects (the ownership test's factories), in the query parameters the route
reads: those the API documents, those a page's module reads from
``request.GET`` (directly or through a form, filter or serializer), the admin's
search, ordering and page. GET, and POST with an empty body; any answer but 500
passes. The kinds: a NUL byte (PostgreSQL refuses it in text), 10,000
characters, bytes that are not UTF-8, and a number beyond a bigint.
"""

from __future__ import annotations

import importlib
import inspect
import re
import socket
from functools import cache
from typing import Any

import pytest
from django.test import Client
from django.urls import get_resolver, resolve

from accounts.models import User
from accounts.tests.factories import UserFactory, api_key_for
from billing.tests.factories import CreditPackFactory
from config.tests.test_ownership import BODY, OWNED, Route, _walk

# Already percent-encoded: the test client sends these bytes as they are.
BAD_VALUES = {
    "nul": "a%00b",
    "long": "x" * 10_000,
    "not-utf-8": "%ff%fe",
    "beyond-bigint": "9" * 20,
}
# In an <int:...> parameter 10,000 digits pass the route's pattern (and stop at Python's
# 4,300-digit limit); the other kinds are refused by the pattern before any view.
INT_BAD_VALUES = {**BAD_VALUES, "long": "9" * 10_000}
PROJECT_PACKAGES = (
    "accounts",
    "analytics",
    "billing",
    "config",
    "conversion",
    "credits",
    "jobs",
    "products",
    "watchlists",
    "webhooks",
)
# The admin's changelist reads these itself; any other name is a lookup it refuses.
ADMIN_QUERY_NAMES = frozenset({"q", "o", "p"})
# Read by Django's and allauth's sign-in views.
PAGE_QUERY_NAMES = frozenset({"next"})
# DRF's URL_FORMAT_OVERRIDE: an unknown format is a 404 before the view reads anything
# else, so it is sent on its own.
FORMAT_PARAMETER = "format"
API_PREFIX = "api/v1/"
# What a <uuid:...> parameter is given where the walk needs a value its pattern accepts.
ANY_UUID = "00000000-0000-4000-8000-000000000001"
# A route reading no query parameter gets this one.
ANY_QUERY_NAME = "q"
# Signing out would end the session the rest of the walk uses.
SIGN_OUT = frozenset({"account_logout", "admin:logout"})

GROUP = re.compile(r"\(\?P<(\w+)>([^()]*)\)")
CONVERTER = re.compile(r"<(?:(\w+):)?(\w+)>")
GET_READ = re.compile(r"""\b(?:GET|query_params)\.get(?:list)?\(\s*["'](\w+)["']""")
GET_BOUND = re.compile(r"\b(\w+)\(\s*(?:data=)?request\.(?:GET|query_params)\b")


@cache
def routes() -> list[Route]:
    return sorted(_walk(get_resolver().url_patterns), key=lambda r: r.route)


def converters(route: Route) -> dict[str, str]:
    return {name: kind or "str" for kind, name in CONVERTER.findall(route.route)}


def fill(route: Route, values: dict[str, str]) -> str:
    """The path of ``route`` with each parameter replaced by its value, sent as it is."""
    path = GROUP.sub(lambda m: values[m.group(1)], route.route)
    path = CONVERTER.sub(lambda m: values[m.group(2)], path)
    return "/" + re.sub(r"\\(.)", r"\1", path.replace("^", "").replace("$", ""))


def default_value(route: Route, name: str, pack_id: int) -> str:
    """A value the route's own pattern accepts, for routes no ownership factory covers."""
    if name == "pack_id":
        return str(pack_id)
    if converters(route).get(name) == "uuid":
        return ANY_UUID
    for group, pattern in GROUP.findall(route.route):
        if group == name:
            return next(v for v in ("1", "abc", *pattern.split("|")) if re.fullmatch(pattern, v))
    return "1"


def valid_parameters(route: Route, user: User, pack_id: int) -> dict[str, str]:
    values = {name: default_value(route, name, pack_id) for name in route.parameters}
    if route.name in OWNED:
        owned = OWNED[route.name](user)
        owned.pop(BODY, None)
        values.update({name: str(value) for name, value in owned.items() if name in values})
    return values


@cache
def api_query_names() -> dict[str, frozenset[str]]:
    """The query parameters the API documents, by route (``api/v1/...<int:id>`` as the schema's ``{id}``)."""
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    return {
        path: frozenset(
            parameter["name"]
            for operation in operations.values()
            for parameter in operation.get("parameters", [])
            if parameter["in"] == "query"
        )
        for path, operations in schema["paths"].items()
    }


@cache
def names_read_by_module(module_name: str) -> frozenset[str]:
    """What a module of ours reads from the query string: by name, or through a form,
    filter set or serializer bound to it."""
    module = importlib.import_module(module_name)
    source = inspect.getsource(module)
    names = set(GET_READ.findall(source))
    for class_name in GET_BOUND.findall(source):
        bound = getattr(module, class_name, None)
        fields = getattr(bound, "base_fields", None) or getattr(bound, "base_filters", None)
        if fields is None and inspect.isclass(bound) and hasattr(bound, "get_fields"):
            fields = bound().get_fields()  # a DRF serializer
        names.update(fields or ())
    return frozenset(names)


def query_names(route: Route, path: str) -> set[str]:
    if route.route.startswith(API_PREFIX):
        names = set(api_query_names().get("/" + CONVERTER.sub(r"{\2}", route.route), ()))
    else:
        module = resolve(path).func.__module__
        names = set(names_read_by_module(module)) if module.startswith(PROJECT_PACKAGES) else set()
        if route.name.endswith("_changelist"):
            # Anything but its own names is a lookup the changelist refuses, before its search.
            names = set(ADMIN_QUERY_NAMES)
        names |= ADMIN_QUERY_NAMES if route.route.startswith("admin/") else PAGE_QUERY_NAMES
    return (names - {FORMAT_PARAMETER}) or {ANY_QUERY_NAME}


@pytest.fixture
def no_outside_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only this machine's services (PostgreSQL, Redis) can be reached: no provider, Stripe or receiver."""
    connect = socket.socket.connect

    def local_only(sock: socket.socket, address: Any) -> Any:
        if sock.family in (socket.AF_INET, socket.AF_INET6) and address[0] not in ("127.0.0.1", "::1"):
            raise OSError(f"The URL walk does not reach outside this machine ({address[0]}).")
        return connect(sock, address)

    monkeypatch.setattr(socket.socket, "connect", local_only)


class Walk:
    def __init__(self, user: User) -> None:
        self.user = user
        self.page_client = Client(raise_request_exception=False)
        self.page_client.force_login(user)
        _, raw = api_key_for(user, name="URL walk")
        self.api_client = Client(raise_request_exception=False, headers={"Authorization": f"Bearer {raw}"})
        self.failures: list[str] = []
        self.requests = 0

    def call(self, route: Route, method: str, path: str) -> None:
        api = route.route.startswith(API_PREFIX)
        client = self.api_client if api else self.page_client
        if method == "get":
            response = client.get(path)
        elif api:
            response = client.post(path, data=b"", content_type="application/json")
        else:
            response = client.post(path, data={})
        self.requests += 1
        if response.status_code == 500:
            self.failures.append(f"{method.upper()} {route.name} {path[:200]}")
        if route.name in SIGN_OUT:
            self.page_client.force_login(self.user)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "kind",
    [
        # PostgreSQL is where a NUL byte breaks (text cannot hold one), so that run needs it.
        pytest.param("nul", marks=pytest.mark.postgres),
        "long",
        "not-utf-8",
        "beyond-bigint",
    ],
)
def test_no_route_answers_500_to_a_bad_value(kind, settings, no_outside_network):
    settings.API_RATE_FREE = settings.API_RATE_METERED = "100000/min"
    settings.API_RATE_USER_FREE = settings.API_RATE_USER_METERED = "100000/min"
    user = UserFactory(is_staff=True, is_superuser=True)
    walk = Walk(user)
    pack_id = CreditPackFactory().pk
    bad, bad_int = BAD_VALUES[kind], INT_BAD_VALUES[kind]

    for route in routes():
        kinds = converters(route)
        some_path = fill(route, {name: default_value(route, name, pack_id) for name in route.parameters})
        names = query_names(route, some_path)
        query = "&".join(f"{name}={bad}" for name in sorted(names))
        if route.parameters:
            bad_path = fill(
                route, {name: bad_int if kinds.get(name) == "int" else bad for name in route.parameters}
            )
            paths = [f"{bad_path}?{query}"]
            if names != {ANY_QUERY_NAME}:
                # The route reads its query only once its path names a real object.
                paths.append(f"{fill(route, valid_parameters(route, user, pack_id))}?{query}")
        else:
            paths = [f"{some_path}?{query}"]
        for path in paths:
            for method in ("get", "post"):
                walk.call(route, method, path)
        if route.route.startswith(API_PREFIX):
            walk.call(route, "get", f"{some_path}?{FORMAT_PARAMETER}={bad}")

    assert not walk.failures, f"{len(walk.failures)} answers were 500:\n" + "\n".join(walk.failures)
    assert walk.requests > 2 * len(routes())


def test_the_walk_fills_every_kind_of_route():
    by_name = {r.name: r for r in routes()}
    assert fill(by_name["billing-sandbox"], {"session_id": "a%00b"}) == "/billing/sandbox/a%00b/"
    assert (
        fill(by_name["account_reset_password_from_key"], {"uidb36": "1", "key": "k"})
        == "/accounts/password/reset/key/1-k/"
    )
    assert default_value(by_name["admin:app_list"], "app_label", 1) == "auth"
    assert fill(by_name["admin:app_list"], {"app_label": "auth"}) == "/admin/auth/"
    assert converters(by_name["api:watchlist-item"]) == {"watchlist_id": "int", "item_id": "int"}
    receipt = by_name["billing-receipt"]
    assert (
        fill(receipt, {"reference": default_value(receipt, "reference", 1)})
        == f"/billing/receipts/{ANY_UUID}/"
    )


@pytest.mark.django_db
def test_the_walk_sends_the_query_parameters_each_route_reads():
    by_name = {r.name: r for r in routes()}

    def names(name: str, path: str) -> set[str]:
        return query_names(by_name[name], path)

    assert {"status", "event", "endpoint", "limit", "offset"} <= names(
        "api:webhook-deliveries", "/api/v1/webhooks/deliveries"
    )
    assert {"kind", "operation", "created_after", "created_before"} <= names(
        "api:credits-transactions", "/api/v1/credits/transactions"
    )
    assert {"session_id"} <= names("billing-success", "/billing/success/")
    assert {"page", "kind", "operation", "days"} <= names("credits", "/credits/")
    assert {"period", "start", "end", "provider"} <= names(
        "admin:billing_payment_revenue", "/admin/billing/payment/revenue/"
    )
    assert names("admin:billing_payment_changelist", "/admin/billing/payment/") == {"q", "o", "p"}
    assert names("api:me", "/api/v1/me") == {ANY_QUERY_NAME}
