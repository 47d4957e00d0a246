"""The resale app's settings, each declared once (core.appsettings). See docs/resale.md.

config/settings.py reads them from the environment ("Resale" section); they are read on each
call, so ``override_settings`` in tests and a changed setting are seen at once.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.appsettings import load, setting


@dataclass(frozen=True, slots=True)
class FeeSettings:
    # A fee estimate (per ASIN, marketplace and price) is served from the cache for this long (seconds).
    cache_seconds: int = setting("FEES_CACHE_SECONDS", default=24 * 3600, minimum=0)
    # A failed fee estimate ("fees unavailable") is remembered only this long (seconds), so an
    # outage is not asked again on every request but is retried soon after.
    unavailable_seconds: int = setting("FEES_UNAVAILABLE_SECONDS", default=60, minimum=0)


def fee_settings() -> FeeSettings:
    return load(FeeSettings)
