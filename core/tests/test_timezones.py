"""The browser's time zone (the tz cookie) is the pages' time zone."""

import zoneinfo

from django.http import HttpResponse
from django.test import RequestFactory
from django.utils import timezone

from core.timezones import BrowserTimeZoneMiddleware, time_zone_named


def zone_seen(cookie: str | None) -> str:
    request = RequestFactory().get("/")
    if cookie is not None:
        request.COOKIES["tz"] = cookie
    return BrowserTimeZoneMiddleware(lambda r: HttpResponse(timezone.get_current_timezone_name()))(
        request
    ).content.decode()


def test_the_cookies_zone_is_active_for_the_request():
    assert zone_seen("America/New_York") == "America/New_York"
    assert zone_seen("Asia%2FTokyo") == "Asia/Tokyo"  # URL-encoded by some scripts
    assert timezone.get_current_timezone_name() == "UTC"  # deactivated afterwards


def test_without_a_valid_cookie_the_default_zone():
    assert zone_seen(None) == "UTC"
    for bad in ("", "Not/AZone", "../../etc/passwd", "/etc/localtime", "x" * 100):
        assert zone_seen(bad) == "UTC"


def test_zone_names():
    assert time_zone_named("Europe/Berlin") == zoneinfo.ZoneInfo("Europe/Berlin")
    assert time_zone_named("nowhere") is None
