"""What a source said about an FNSKU, and how much one such statement is worth.

Every resolver (conversion/resolvers.py) turns what its source knows into
``Evidence`` items; scoring (conversion/scoring.py) only ever sees these. A
statement's ``weight`` is a prior in [0, 1] set here, in one place, from what
kind of source made it; how far to trust each kind in the end is learnt by the
calibration (conversion/calibration.json), not by these numbers.

Sources come in families. Statements from one family are not independent
(a learnt mapping came from an earlier catalogue search), so "agreement"
counts families, not statements.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime

STICKERLESS = "stickerless"
FBA_INVENTORY = "fba_inventory"
INVENTORY_REPORT = "inventory_report"
CONFIRMED = "confirmed"  # the user's own confirmation or correction
COMMUNITY = "community"  # confirmations by users, counted once per user
LEARNED = "learned"  # an earlier confident catalogue-search answer, kept in the store
CATALOG_SEARCH = "catalog_search"

FAMILIES = {
    STICKERLESS: "rule",
    FBA_INVENTORY: "seller",
    INVENTORY_REPORT: "seller",
    CONFIRMED: "seller",
    COMMUNITY: "community",
    LEARNED: "catalog",
    CATALOG_SEARCH: "catalog",
}
# Sources that name an ASIN for this very FNSKU (as opposed to a search by label text).
EXACT_SOURCES = frozenset({STICKERLESS, FBA_INVENTORY, INVENTORY_REPORT, CONFIRMED, COMMUNITY})

SOURCE_WEIGHTS = {
    STICKERLESS: 1.0,
    FBA_INVENTORY: 0.99,  # Amazon's own record of the seller's listing
    INVENTORY_REPORT: 0.97,  # the same, as of the report's date
    CONFIRMED: 0.95,  # the user looked at the unit and said so
}


@dataclass(frozen=True, slots=True)
class Evidence:
    """One statement: ``source`` says the FNSKU is ``asin`` (None: it found nothing)."""

    source: str
    asin: str | None
    detail: str
    weight: float = 0.0
    seen_at: datetime | None = None
    title: str | None = None  # the product name as the source gave it, if any
    image: str | None = None
    rank: int | None = None  # position in a catalogue search, 0 first
    extra: dict[str, object] = field(default_factory=dict)

    @property
    def family(self) -> str:
        return FAMILIES.get(self.source, self.source)

    @property
    def exact(self) -> bool:
        return self.source in EXACT_SOURCES and self.asin is not None

    def to_dict(self) -> dict[str, object]:
        return {
            "source": self.source,
            "asin": self.asin,
            "detail": self.detail,
            "weight": round(self.weight, 3),
            "seen_at": self.seen_at.isoformat().replace("+00:00", "Z") if self.seen_at else None,
        }


def community_weight(confirmed_by: int, rejected_by: int) -> float:
    """Confirmations by ``confirmed_by`` users, less what ``rejected_by`` users' corrections take away."""
    if confirmed_by <= 0:
        return 0.0
    return (1 - 0.35**confirmed_by) * confirmed_by / (confirmed_by + rejected_by)


def learned_weight(times_seen: int, rejected_by: int) -> float:
    """An earlier catalogue-search answer, more credible the more often it came out the same."""
    if times_seen <= 0:
        return 0.0
    return min(0.9, 0.5 + 0.1 * (times_seen - 1)) * 0.5**rejected_by


def search_weight(rank: int) -> float:
    return 0.3 / (1 + rank)


def recency(seen_at: datetime | None, now: datetime) -> float:
    """1 for a statement made now, e^-1 for one a year old."""
    if seen_at is None:
        return 0.0
    age_days = max(0.0, (now - seen_at).total_seconds() / 86400)
    return math.exp(-age_days / 365)
