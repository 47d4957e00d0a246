"""The WSGI application: a shorter middleware chain for calls with an API key.

A call to ``/api/v1/`` that carries an API key (``Authorization: Bearer ...`` or
``X-API-Key``) is authenticated by DRF from that key alone: it never reads a
session, a CSRF token, a flash message, allauth's login state or htmx headers,
and it is never a static file. Its middleware chain is
``settings.API_KEY_MIDDLEWARE``, the browser's chain without those layers
(metrics, request ids and every security header stay), which saves about a
tenth of a metered lookup's CPU. Every other request, including API calls from a
signed-in browser, goes through ``settings.MIDDLEWARE`` unchanged.

Django's ``BaseHandler.load_middleware`` reads ``settings.MIDDLEWARE`` only, so
``build_middleware_chain`` below is its loop over a list it is given: no setting is
changed, not even for a moment. It reproduces Django 5.2's loader (``DJANGO_LOADER`` pins
the version and the source it was copied from): config/tests/test_handlers.py fails on
another Django version or a changed loader, and checks that this loop, given
``settings.MIDDLEWARE``, builds what Django's own does. After a Django upgrade, compare the
loader again, then move the pin.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import django
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured, MiddlewareNotUsed
from django.core.handlers.base import BaseHandler
from django.core.handlers.exception import convert_exception_to_response
from django.core.handlers.wsgi import WSGIHandler
from django.utils.module_loading import import_string

API_PREFIX = "/api/v1/"

StartResponse = Callable[..., Any]

logger = logging.getLogger("django.request")

# The Django version, and the SHA-256 of ``BaseHandler.load_middleware``'s source, that
# ``build_middleware_chain`` reproduces (see the module docstring).
DJANGO_LOADER = ((5, 2), "a1fb7ee5f8586195da2174d1bbc2bbfc7ca19b9d26ea66412cb434f45bf6d467")


def build_middleware_chain(target: BaseHandler, middleware: Sequence[str], is_async: bool = False) -> None:
    """``BaseHandler.load_middleware`` of Django 5.2 over ``middleware`` instead of
    ``settings.MIDDLEWARE``: the same steps, in the same order, on ``target``."""
    handler: Any = target  # its private attributes are not in django-stubs
    handler._view_middleware = []
    handler._template_response_middleware = []
    handler._exception_middleware = []

    get_response = handler._get_response_async if is_async else handler._get_response
    chain: Any = convert_exception_to_response(get_response)
    chain_is_async = is_async
    for middleware_path in reversed(middleware):
        factory = import_string(middleware_path)
        middleware_can_sync = getattr(factory, "sync_capable", True)
        middleware_can_async = getattr(factory, "async_capable", False)
        if not middleware_can_sync and not middleware_can_async:
            raise RuntimeError(
                f"Middleware {middleware_path} must have at least one of "
                "sync_capable/async_capable set to True."
            )
        elif not chain_is_async and middleware_can_sync:
            middleware_is_async = False
        else:
            middleware_is_async = middleware_can_async
        try:
            # Adapt the chain, if needed.
            adapted = handler.adapt_method_mode(
                middleware_is_async,
                chain,
                chain_is_async,
                debug=settings.DEBUG,
                name=f"middleware {middleware_path}",
            )
            instance = factory(adapted)
        except MiddlewareNotUsed as exc:
            if settings.DEBUG:
                if str(exc):
                    logger.debug("MiddlewareNotUsed(%r): %s", middleware_path, exc)
                else:
                    logger.debug("MiddlewareNotUsed: %r", middleware_path)
            continue
        else:
            chain = adapted

        if instance is None:
            raise ImproperlyConfigured(f"Middleware factory {middleware_path} returned None.")

        if hasattr(instance, "process_view"):
            handler._view_middleware.insert(0, handler.adapt_method_mode(is_async, instance.process_view))
        if hasattr(instance, "process_template_response"):
            handler._template_response_middleware.append(
                handler.adapt_method_mode(is_async, instance.process_template_response)
            )
        if hasattr(instance, "process_exception"):
            # The exception-handling stack is always synchronous (as in Django).
            handler._exception_middleware.append(handler.adapt_method_mode(False, instance.process_exception))

        chain = convert_exception_to_response(instance)
        chain_is_async = middleware_is_async

    # Adapt the top of the stack, if needed; assigned last, as it flags the loading complete.
    handler._middleware_chain = handler.adapt_method_mode(is_async, chain, chain_is_async)


class ApiKeyHandler(WSGIHandler):
    """Django's WSGI handler over ``settings.API_KEY_MIDDLEWARE`` instead of ``MIDDLEWARE``."""

    def load_middleware(self, is_async: bool = False) -> None:
        build_middleware_chain(self, settings.API_KEY_MIDDLEWARE, is_async)


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
