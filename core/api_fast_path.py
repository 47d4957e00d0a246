"""The API-key fast path: a JSON POST with an API key skips DRF's per-request machinery.

The metered call integrators make by the thousand (the ASIN lookup) does not need DRF's
``Request`` wrapper, nor fresh parser, authenticator, permission and throttle instances, nor
content negotiation: about a tenth of the workers' CPU per lookup under load
(docs/performance.md). ``ApiKeyFastPathView`` goes through the same steps with the same
objects, in DRF's order: the view's API-key authentication (whose one Redis call also reserves
the rate limit's tokens, ``core.throttling.RESERVED_ATTR``), the view's permissions, the
throttle's answer, the view's JSON parser, then the view's ``fast_post``; for any error,
DRF's own ``handle_exception`` and ``finalize_response``, so an error is answered exactly as
DRF's dispatch would. Everything else (a session, other methods, another content type, an
empty body, no key after all) takes DRF's dispatch.

This reproduces part of ``APIView.dispatch``/``initial`` (DRF 3.18): ``DRF_VERSION`` below is
the version it was checked against. ``core/tests/test_api_fast_path.py`` fails on any other
DRF version, and products/tests/test_lookup_fast_path.py compares both paths answer by answer:
after a DRF upgrade, re-read DRF's dispatch, re-run that comparison, then move the pin.

Nothing here changes a setting or any other global at run time.
"""

from __future__ import annotations

from typing import IO, Any, cast

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from rest_framework.authentication import BaseAuthentication
from rest_framework.exceptions import PermissionDenied, UnsupportedMediaType
from rest_framework.views import APIView

from core.throttling import RESERVED_ATTR

# The DRF version whose dispatch this module was checked against (see the module docstring).
DRF_VERSION = "3.18.3"


def fast_path_applies(request: HttpRequest) -> bool:
    """A JSON POST with a body and an API-key header (the key itself is checked later)."""
    return (
        request.method == "POST"
        and request.content_type == "application/json"
        and request.META.get("CONTENT_LENGTH", "0") not in ("", "0")
        and ("HTTP_AUTHORIZATION" in request.META or "HTTP_X_API_KEY" in request.META)
    )


class ApiKeyFastPathView(APIView):
    """An ``APIView`` whose JSON POSTs with an API key take the fast path (module docstring).

    A subclass sets ``fast_path_authentication`` (the API-key authentication, which must
    reserve the call's rate-limit tokens as ``RESERVED_ATTR`` on the request, and return None
    when the request carries no key) and implements ``fast_post``."""

    # The authentication the fast path runs; it must be the view's first authenticator.
    fast_path_authentication: type[BaseAuthentication]
    # Off: every request takes DRF's dispatch (the comparison test runs both ways).
    api_key_fast_path = True

    def fast_post(self, request: HttpRequest, user: Any, data: object) -> HttpResponse:
        """The POST's answer, from the authenticated user and the parsed body."""
        raise NotImplementedError

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if self.api_key_fast_path and fast_path_applies(request):
            return self._dispatch_with_api_key(request, *args, **kwargs)
        return super().dispatch(request, *args, **kwargs)

    def _dispatch_with_api_key(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        self.headers = self.default_response_headers
        authenticated: tuple[Any, Any] | None = None
        try:
            authenticated = self.fast_path_authentication().authenticate(request)  # type: ignore[arg-type]
            if authenticated is not None:
                response = self._post_with_api_key(request, *authenticated, args, kwargs)
        except Exception as exc:  # answered by DRF's own handler, or raised again by it
            drf_request = self.initialize_request(request, *args, **kwargs)
            if authenticated is not None:
                drf_request.user, drf_request.auth = authenticated
            self.request = drf_request
            return self.finalize_response(drf_request, self.handle_exception(exc), *args, **kwargs)
        if authenticated is None:  # no API key after all: DRF's dispatch decides
            return super().dispatch(request, *args, **kwargs)
        return self.finalize_response(request, response, *args, **kwargs)  # type: ignore[arg-type]

    def _post_with_api_key(
        self,
        request: HttpRequest,
        user: Any,
        principal: Any,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> HttpResponse:
        """What DRF's initial() and request.data do after authentication, in its order:
        permissions, throttles (the tokens were reserved with the key's check), parsing."""
        request.user, request.auth = user, principal  # type: ignore[attr-defined]
        for permission in self.get_permissions():
            if not permission.has_permission(request, self):  # type: ignore[arg-type]
                raise PermissionDenied(
                    getattr(permission, "message", None), getattr(permission, "code", None)
                )
        refused_wait = request.__dict__.pop(RESERVED_ATTR)
        if refused_wait is not None:
            self.throttled(request, refused_wait)  # type: ignore[arg-type]
        parser = next((p for p in self.get_parsers() if p.media_type == request.content_type), None)
        if parser is None:
            raise UnsupportedMediaType(request.content_type or "")
        data = parser.parse(
            cast("IO[bytes]", request),  # read like a file, as DRF's Request reads it
            request.META.get("CONTENT_TYPE"),
            {
                "view": self,
                "args": args,
                "kwargs": kwargs,
                "request": request,
                "encoding": request.encoding or settings.DEFAULT_CHARSET,
            },
        )
        return self.fast_post(request, user, data)
