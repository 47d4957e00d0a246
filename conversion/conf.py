"""The conversion app's settings, each declared once (core.appsettings). See docs/fnsku.md.

config/settings.py reads them from the environment ("Conversion" section); they are read on each
call, so ``override_settings`` in tests and a changed setting are seen at once.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.appsettings import load, non_empty, setting


@dataclass(frozen=True, slots=True)
class ConversionSettings:
    # An answer at least this confident is "resolved"; below it, "ambiguous" (the best guess, check
    # the candidates). The confidence is calibrated: about this share of such answers are right.
    resolved_confidence: float = setting("CONVERSION_RESOLVED_CONFIDENCE", default=0.9)
    # Below this, no answer is given: 404 fnsku_not_found, refunded.
    min_confidence: float = setting("CONVERSION_MIN_CONFIDENCE", default=0.15)
    # A catalogue-search answer at least this confident is learnt as a (weak) shared mapping.
    learn_confidence: float = setting("CONVERSION_LEARN_CONFIDENCE", default=0.95)
    # Catalogue search results scored per conversion (SP-API pages hold at most 20).
    search_limit: int = setting("CONVERSION_SEARCH_LIMIT", default=20, minimum=1)
    candidates_shown: int = setting("CONVERSION_CANDIDATES_SHOWN", default=5, minimum=1)
    # A conversion syncs the seller's FBA inventory when the last complete sync is older than
    # this (seconds), reading at most this many pages; the full sync runs as a Celery task.
    fba_sync_interval: int = setting("CONVERSION_FBA_SYNC_INTERVAL", default=900)
    fba_sync_max_pages: int = setting("CONVERSION_FBA_SYNC_MAX_PAGES", default=3, minimum=1)
    # Inventory report imports.
    import_max_bytes: int = setting("CONVERSION_IMPORT_MAX_BYTES", default=20_000_000)
    import_max_rows: int = setting("CONVERSION_IMPORT_MAX_ROWS", default=200_000)
    # Codes the convert page's paste box converts at once.
    paste_max_codes: int = setting("CONVERSION_PASTE_MAX_CODES", default=200)
    # An Idempotency-Key claim older than this (seconds) whose request never finished is taken over.
    pending_timeout: int = setting("CONVERSION_PENDING_TIMEOUT", default=120)
    # Seconds a conversion waits for the same user's identical conversion (same code, label text
    # and marketplace) already running, to answer from it uncharged; then 409, retry in a moment.
    rescan_wait: int = setting("CONVERSION_RESCAN_WAIT", default=30, minimum=1)
    # Label photos (POST /api/v1/conversion/fnsku/label, the convert page's photo form): the
    # largest upload accepted, in bytes.
    label_max_bytes: int = setting("CONVERSION_LABEL_MAX_BYTES", default=8_000_000, minimum=1)
    # Label photos: the most pixels decoded (Pillow's decompression-bomb guard, lowered to what a
    # phone photo needs).
    label_max_pixels: int = setting("CONVERSION_LABEL_MAX_PIXELS", default=40_000_000, minimum=1)
    # Label photos: seconds Tesseract may spend reading a label's text (then 503, not charged).
    label_ocr_timeout: int = setting("CONVERSION_LABEL_OCR_TIMEOUT", default=20, minimum=1)
    # Fernet keys (newest first) encrypting sellers' SP-API refresh tokens; empty: derived from SECRET_KEY.
    token_keys: tuple[str, ...] = setting("CONVERSION_TOKEN_KEYS", default=[], clean=non_empty)


def conversion_settings() -> ConversionSettings:
    return load(ConversionSettings)


def token_keys() -> list[str]:
    """Keys that encrypt sellers' refresh tokens, newest first (empty: derived from SECRET_KEY)."""
    return list(conversion_settings().token_keys)
