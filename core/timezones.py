"""The browser's time zone for pages: ``static/js/app.js`` keeps it in a ``tz`` cookie
(``Intl.DateTimeFormat().resolvedOptions().timeZone``) and ``BrowserTimeZoneMiddleware``
activates it for the request, so templates show times where the user is.

The User model has no time zone field; the browser's own zone needs no setting and follows
the user when they travel. Until the cookie exists (the very first page) and for a value
that is not an IANA zone name, times are in ``settings.TIME_ZONE`` (UTC).
"""

from __future__ import annotations

import functools
import zoneinfo
from collections.abc import Callable
from urllib.parse import unquote

from django.http import HttpRequest, HttpResponse
from django.utils import timezone

TIME_ZONE_COOKIE = "tz"
MAX_ZONE_NAME = 64


@functools.lru_cache(maxsize=256)
def time_zone_named(name: str) -> zoneinfo.ZoneInfo | None:
    """The IANA zone ``name`` ("Europe/Berlin"), or None for anything else."""
    if not name or len(name) > MAX_ZONE_NAME or ".." in name or name.startswith("/"):
        return None
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return None


class BrowserTimeZoneMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        zone = time_zone_named(unquote(request.COOKIES.get(TIME_ZONE_COOKIE, "")))
        if zone is None:
            return self.get_response(request)
        timezone.activate(zone)
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()
