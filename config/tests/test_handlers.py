"""config/handlers.py: API-key calls take the short middleware chain and lose nothing by it."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from django.core import signals
from django.db import close_old_connections
from rest_framework.test import APIClient

from accounts.tests.factories import UserFactory, api_key_for
from config.handlers import ApiKeyHandler, carries_api_key
from config.wsgi import application
from credits.selectors import balance_get
from credits.tests.factories import funded_user

pytestmark = pytest.mark.django_db

LOOKUP = "/api/v1/products/asin"
BODY = {"asin": "B08N5WRWNW", "marketplace": "US"}


def wsgi_call(
    method: str, path: str, *, headers: dict[str, str], body: dict[str, Any] | None = None
) -> tuple[int, dict[str, str], bytes]:
    """One request straight through the deployed WSGI application, as gunicorn makes it."""
    payload = json.dumps(body).encode() if body is not None else b""
    environ = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "SCRIPT_NAME": "",
        "QUERY_STRING": "",
        "SERVER_NAME": "testserver",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(payload),
        "wsgi.errors": io.StringIO(),
        "wsgi.multithread": False,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
        "CONTENT_TYPE": "application/json",
        "CONTENT_LENGTH": str(len(payload)),
        "HTTP_HOST": "testserver",
        **{"HTTP_" + name.upper().replace("-", "_"): value for name, value in headers.items()},
    }
    started: dict[str, Any] = {}

    def start_response(status: str, response_headers: list[tuple[str, str]], exc_info: Any = None) -> None:
        started["status"] = int(status.split()[0])
        started["headers"] = dict(response_headers)

    # As Django's test client does: the request must not close the test's transaction.
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        chunks = application(environ, start_response)
        try:
            content = b"".join(chunks)
        finally:
            getattr(chunks, "close", lambda: None)()
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)
    return started["status"], started["headers"], content


@pytest.mark.parametrize(
    ("path", "headers", "short"),
    [
        (LOOKUP, {"HTTP_AUTHORIZATION": "Bearer apip_x"}, True),
        (LOOKUP, {"HTTP_AUTHORIZATION": "bearer apip_x"}, True),
        (LOOKUP, {"HTTP_X_API_KEY": "apip_x"}, True),
        (LOOKUP, {"HTTP_X_API_KEY": "  "}, False),  # no key: maybe a session
        (LOOKUP, {"HTTP_AUTHORIZATION": "Basic abc"}, False),
        (LOOKUP, {}, False),
        ("/api/docs/", {"HTTP_AUTHORIZATION": "Bearer apip_x"}, False),  # not the REST API
        ("/products/", {"HTTP_AUTHORIZATION": "Bearer apip_x"}, False),
    ],
)
def test_only_rest_api_calls_with_a_key_take_the_short_chain(path, headers, short):
    environ = {"PATH_INFO": path, **headers}
    assert carries_api_key(environ) is short
    assert isinstance(application.handler_for(environ), ApiKeyHandler) is short


def test_the_short_chain_leaves_out_only_what_a_key_never_uses(settings):
    chain = settings.API_KEY_MIDDLEWARE
    assert chain == [m for m in settings.MIDDLEWARE if m in chain]  # same order
    assert set(settings.MIDDLEWARE) - set(chain) == settings.BROWSER_ONLY_MIDDLEWARE
    for kept in (
        "monitoring.metrics_middleware.RequestMetricsMiddleware",
        "config.logging.RequestIdMiddleware",
        "django.middleware.security.SecurityMiddleware",
        "config.csp.CSPMiddleware",
        "django.middleware.common.CommonMiddleware",  # Content-Length
        "django.middleware.clickjacking.XFrameOptionsMiddleware",
    ):
        assert kept in chain


def test_a_metered_lookup_through_the_short_chain_answers_as_the_full_one():
    user = funded_user(credits=10)
    _, raw = api_key_for(user)
    full = APIClient()
    full.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    expected = full.post(LOOKUP, BODY, format="json")
    assert expected.status_code == 200

    status, headers, content = wsgi_call(
        "POST", LOOKUP, headers={"Authorization": f"Bearer {raw}", "X-Request-ID": "req-123"}, body=BODY
    )

    assert status == 200, content
    answer = json.loads(content)
    assert answer["product"] == expected.json()["product"]
    assert answer["source"] == "cache"
    assert answer["credits_remaining"] == 8 == balance_get(user=user)
    assert headers["X-Request-ID"] == "req-123"
    # Every header the full chain sets, but the session's Vary: Cookie.
    assert set(expected.headers) - {"Vary"} <= set(headers), set(expected.headers) - set(headers)
    for name in ("Content-Security-Policy", "X-Frame-Options", "X-Content-Type-Options", "Referrer-Policy"):
        assert headers[name] == expected.headers[name]


def test_errors_through_the_short_chain_keep_the_error_shape():
    user = funded_user(credits=0)
    _, raw = api_key_for(user)

    status, _, content = wsgi_call("POST", LOOKUP, headers={"Authorization": f"Bearer {raw}"}, body=BODY)
    assert status == 402
    assert json.loads(content)["error"]["code"] == "insufficient_credits"

    status, _, content = wsgi_call("POST", LOOKUP, headers={"Authorization": "Bearer apip_wrong"}, body=BODY)
    assert status == 401
    assert json.loads(content)["error"]["code"] == "invalid_api_key"

    status, _, content = wsgi_call("GET", "/api/v1/nowhere", headers={"X-API-Key": raw})
    assert status == 404
    assert "error" in json.loads(content)


def test_staff_only_endpoints_still_check_the_keys_owner():
    user = UserFactory()
    _, raw = api_key_for(user)
    status, _, _ = wsgi_call("GET", "/api/v1/products/cache-stats", headers={"X-API-Key": raw})
    assert status == 403

    staff = UserFactory(is_staff=True)
    _, staff_raw = api_key_for(staff)
    status, _, content = wsgi_call("GET", "/api/v1/products/cache-stats", headers={"X-API-Key": staff_raw})
    assert status == 200, content


def test_browser_pages_and_session_calls_keep_the_full_chain(client):
    user = UserFactory()
    client.force_login(user)
    session_cookie = client.cookies[settings_session_cookie()].value

    status, _, content = wsgi_call(
        "GET", "/api/v1/me", headers={"Cookie": f"{settings_session_cookie()}={session_cookie}"}
    )
    assert status == 200, content
    assert json.loads(content)["email"] == user.email


def settings_session_cookie() -> str:
    from django.conf import settings

    return settings.SESSION_COOKIE_NAME


def _middleware_classes(handler: Any) -> dict[str, list[type]]:
    """What a loaded handler's middleware lists hold, by the middleware class of each method."""

    def classes(methods: list[Any]) -> list[type]:
        return [type(getattr(method, "__self__", method)) for method in methods]

    return {
        "view": classes(handler._view_middleware),
        "template_response": classes(handler._template_response_middleware),
        "exception": classes(handler._exception_middleware),
    }


def _chain_classes(handler: Any) -> list[type]:
    """The middleware instances of a loaded chain, outermost first."""
    found: list[type] = []
    link = handler._middleware_chain
    while True:
        # convert_exception_to_response wraps each instance; functools.wraps keeps it reachable.
        link = getattr(link, "__wrapped__", link)
        if not hasattr(link, "get_response"):
            return found
        found.append(type(link))
        link = link.get_response


def test_the_chain_builder_is_pinned_to_djangos_loader():
    """build_middleware_chain reproduces BaseHandler.load_middleware: a Django upgrade must
    compare the two again (config/handlers.py's docstring) before moving the pin."""
    import hashlib
    import inspect

    import django
    from django.core.handlers.base import BaseHandler

    from config.handlers import DJANGO_LOADER

    version, loader_sha256 = DJANGO_LOADER
    assert django.VERSION[:2] == version
    assert (
        hashlib.sha256(inspect.getsource(BaseHandler.load_middleware).encode()).hexdigest() == loader_sha256
    )


def test_the_chain_builder_builds_what_djangos_loader_builds(settings):
    from django.core.handlers.wsgi import WSGIHandler

    from config.handlers import build_middleware_chain

    django_loaded = WSGIHandler()  # Django's own loader over settings.MIDDLEWARE
    ours = WSGIHandler.__new__(WSGIHandler)
    build_middleware_chain(ours, settings.MIDDLEWARE)

    assert _middleware_classes(ours) == _middleware_classes(django_loaded)
    assert _chain_classes(ours) == _chain_classes(django_loaded)
    assert len(_chain_classes(ours)) > 5


def test_the_short_chain_is_built_without_touching_settings(settings, monkeypatch):
    from django.conf import LazySettings

    from config.handlers import ApiKeyHandler

    changed: list[str] = []
    original = LazySettings.__setattr__

    def record(self: Any, name: str, value: Any) -> None:
        changed.append(name)
        original(self, name, value)

    monkeypatch.setattr(LazySettings, "__setattr__", record)
    handler = ApiKeyHandler()
    monkeypatch.undo()

    assert changed == []
    # The same chain as Django's own loader over the short list (a test may change settings).
    settings.MIDDLEWARE = settings.API_KEY_MIDDLEWARE
    from django.core.handlers.wsgi import WSGIHandler

    django_loaded = WSGIHandler()
    assert _chain_classes(handler) == _chain_classes(django_loaded)
    assert _middleware_classes(handler) == _middleware_classes(django_loaded)
