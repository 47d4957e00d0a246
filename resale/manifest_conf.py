"""The manifests' settings, each declared once (core.appsettings). See docs/resale.md ("Manifests").

config/settings.py reads them from the environment; they are read on each call, so
``override_settings`` in tests and a changed setting are seen at once.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.appsettings import load, setting


@dataclass(frozen=True, slots=True)
class ManifestSettings:
    # A manifest file larger than this (bytes) is refused from its size, before it is read.
    max_upload_bytes: int = setting("MANIFEST_MAX_UPLOAD_BYTES", default=50 * 1024 * 1024, minimum=1)
    # Lines of one manifest (non-blank rows below the header).
    max_lines: int = setting("MANIFEST_MAX_LINES", default=10_000, minimum=1)
    # A title-only line takes the catalogue search's best match only when the line's title matches
    # the product's title at least this well (0..1, conversion.scoring.label_similarity).
    title_min_similarity: float = setting("MANIFEST_TITLE_MIN_SIMILARITY", default=0.6, minimum=0.0)


def manifest_settings() -> ManifestSettings:
    return load(ManifestSettings)
