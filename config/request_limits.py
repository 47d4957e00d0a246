"""Over-long URLs answered in the platform's error shape, before any view runs.

gunicorn refuses a request line over ``limit_request_line`` with its own HTML 414
(deploy/gunicorn.conf.py raises that to its maximum, 8190 bytes). Below that, this
middleware answers a URL whose path and query string together pass
``MAX_URL_LENGTH`` (default 4096 characters) with ``414 uri_too_long``: the API's JSON
error under ``/api/``, a short text page elsewhere. No view, authentication or
throttle runs, so such a call is never charged.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse

from core.errors import error_body


class UrlLengthMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.limit: int = settings.MAX_URL_LENGTH

    def __call__(self, request: HttpRequest) -> HttpResponse:
        length = len(request.META.get("PATH_INFO", "")) + len(request.META.get("QUERY_STRING", ""))
        if length <= self.limit:
            return self.get_response(request)
        message = f"The URL is {length} characters long; the limit is {self.limit}."
        if request.META.get("PATH_INFO", "").startswith("/api/"):
            return JsonResponse(
                error_body("uri_too_long", message, {"length": length, "limit": self.limit}), status=414
            )
        return HttpResponse(message, status=414, content_type="text/plain; charset=utf-8")
