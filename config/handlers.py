"""The WSGI application: a shorter middleware chain for calls with an API key.

A call to ``/api/v1/`` that carries an API key (``Authorization: Bearer ...`` or
``X-API-Key``) is authenticated by DRF from that key alone: it never reads a
session, a CSRF token, a flash message, allauth's login state or htmx headers,
and it is never a static file. Its middleware chain is
``settings.API_KEY_MIDDLEWARE``, the browser's chain without those layers
(metrics, request ids and every security header stay), which saves about a
tenth of a metered lookup's CPU. Every other request, including API calls from a
signed-in browser, goes through ``settings.MIDDLEWARE`` unchanged.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import django
from django.conf import settings
from django.core.handlers.wsgi import WSGIHandler

API_PREFIX = "/api/v1/"

StartResponse = Callable[..., Any]


class ApiKeyHandler(WSGIHandler):
    """Django's WSGI handler over ``settings.API_KEY_MIDDLEWARE`` instead of ``MIDDLEWARE``."""

    def load_middleware(self, is_async: bool = False) -> None:
        # Django's own loader, pointed at the shorter list while it reads it (once,
        # when the process starts, before any request).
        browser_chain = settings.MIDDLEWARE
        settings.MIDDLEWARE = settings.API_KEY_MIDDLEWARE
        try:
            super().load_middleware(is_async)
        finally:
            settings.MIDDLEWARE = browser_chain


def carries_api_key(environ: dict[str, Any]) -> bool:
    """The same headers accounts/authentication.py reads a key from."""
    if not environ.get("PATH_INFO", "").startswith(API_PREFIX):
        return False
    if environ.get("HTTP_X_API_KEY", "").strip():
        return True
    return str(environ.get("HTTP_AUTHORIZATION", ""))[:7].lower() == "bearer "


class Application:
    """Sends each request to the handler for its kind (see the module docstring)."""

    def __init__(self) -> None:
        self.browser = WSGIHandler()
        self.api_key = ApiKeyHandler()

    def handler_for(self, environ: dict[str, Any]) -> WSGIHandler:
        return self.api_key if carries_api_key(environ) else self.browser

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        return self.handler_for(environ)(environ, start_response)


def get_wsgi_application() -> Application:
    django.setup(set_prefix=False)
    return Application()
