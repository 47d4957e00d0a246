"""The conversion app's settings, read in one place (config/settings.py, "Conversion" section).

Read on each call, so ``override_settings`` in tests and a changed environment are seen at once.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings


@dataclass(frozen=True, slots=True)
class ConversionSettings:
    resolved_confidence: float
    min_confidence: float
    learn_confidence: float
    search_limit: int
    candidates_shown: int
    fba_sync_interval: int
    fba_sync_max_pages: int
    import_max_bytes: int
    import_max_rows: int
    paste_max_codes: int
    pending_timeout: int


def conversion_settings() -> ConversionSettings:
    return ConversionSettings(
        resolved_confidence=settings.CONVERSION_RESOLVED_CONFIDENCE,
        min_confidence=settings.CONVERSION_MIN_CONFIDENCE,
        learn_confidence=settings.CONVERSION_LEARN_CONFIDENCE,
        search_limit=max(1, settings.CONVERSION_SEARCH_LIMIT),
        candidates_shown=max(1, settings.CONVERSION_CANDIDATES_SHOWN),
        fba_sync_interval=settings.CONVERSION_FBA_SYNC_INTERVAL,
        fba_sync_max_pages=max(1, settings.CONVERSION_FBA_SYNC_MAX_PAGES),
        import_max_bytes=settings.CONVERSION_IMPORT_MAX_BYTES,
        import_max_rows=settings.CONVERSION_IMPORT_MAX_ROWS,
        paste_max_codes=settings.CONVERSION_PASTE_MAX_CODES,
        pending_timeout=settings.CONVERSION_PENDING_TIMEOUT,
    )


def token_keys() -> list[str]:
    """Keys that encrypt sellers' refresh tokens, newest first (empty: derived from SECRET_KEY)."""
    return [key for key in settings.CONVERSION_TOKEN_KEYS if key]
