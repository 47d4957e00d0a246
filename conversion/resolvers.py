"""One resolver per source, and the pipeline that asks them in order.

Exact sources first: the stickerless rule, then the seller's FBA inventory
(synced into the mapping store when stale), then the mapping store (the
seller's own rows, shared confirmations, learnt answers). Then, when the label
text is known and no exact source already agrees with it, a catalogue search
through the product providers. Every source says what it found, or that it
found nothing, as ``Evidence``; scoring (conversion/scoring.py) does the rest.

The pipeline takes its sources as arguments so the evaluation
(conversion/evaluation/) runs exactly this code over in-memory sources.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from django.db.models import Q

from conversion.evidence import (
    CATALOG_SEARCH,
    COMMUNITY,
    CONFIRMED,
    FBA_INVENTORY,
    INVENTORY_REPORT,
    LEARNED,
    SOURCE_WEIGHTS,
    STICKERLESS,
    Evidence,
    community_weight,
    learned_weight,
    search_weight,
)
from conversion.models import FnskuMapping
from conversion.scoring import (
    Calibration,
    Candidate,
    Scored,
    group_candidates,
    label_similarity,
    normalize_text,
    score,
)
from conversion.validation import fnsku_kind
from products.marketplaces import Marketplace
from products.providers import ProductNotFound, ProductRecord, ProviderError, search_with_fallback

if TYPE_CHECKING:
    from accounts.models import User

logger = logging.getLogger(__name__)

# An exact source whose candidate's title matches the label at least this well
# makes a catalogue search unnecessary.
AGREEING_SIMILARITY = 0.85
# Titles are looked up for at most this many candidates from the store.
MAX_TITLE_LOOKUPS = 6


@dataclass(frozen=True, slots=True)
class Query:
    fnsku: str
    marketplace: Marketplace
    label_text: str
    now: datetime

    @property
    def label(self) -> str:
        return normalize_text(self.label_text)


@dataclass(frozen=True, slots=True)
class MappingFact:
    """A row of the mapping store, as the resolvers read it (``own``: the asking user's row)."""

    source: str
    asin: str
    own: bool
    last_seen: datetime
    times_seen: int = 1
    times_confirmed: int = 0
    times_rejected: int = 0
    seller_sku: str = ""
    title: str = ""


@dataclass(frozen=True, slots=True)
class ProductSummary:
    """What the product data says about a candidate: ``found`` False when the providers do not know it."""

    found: bool
    title: str | None = None
    image: str | None = None


class SearchFailed(Exception):
    def __init__(self, error: ProviderError) -> None:
        self.error = error
        super().__init__(error.message)


class Sources(Protocol):
    def mappings(self, query: Query) -> list[MappingFact]: ...

    def fba_notes(self, query: Query) -> list[Evidence]: ...

    def search(self, query: Query, keywords: str) -> list[ProductRecord]: ...

    def product(self, query: Query, asin: str) -> ProductSummary | None: ...


# --- Evidence from each source -------------------------------------------------------------------


def stickerless_evidence(query: Query) -> list[Evidence]:
    if fnsku_kind(query.fnsku) != "stickerless":
        return []
    return [
        Evidence(
            source=STICKERLESS,
            asin=query.fnsku,
            detail="A code starting B0 is a stickerless unit's manufacturer barcode listing: "
            "its FNSKU is its ASIN.",
            weight=SOURCE_WEIGHTS[STICKERLESS],
            seen_at=query.now,
        )
    ]


def _date(value: datetime) -> str:
    return value.strftime("%Y-%m-%d")


def mapping_evidence(facts: Sequence[MappingFact], query: Query) -> list[Evidence]:
    """The mapping store's rows as evidence: the priors of each kind of row are in conversion/evidence.py."""
    rejected_by = {f.asin: f.times_rejected for f in facts if f.source == "confirmed" and not f.own}
    evidence: list[Evidence] = []
    for fact in facts:
        common = {"asin": fact.asin, "seen_at": fact.last_seen, "title": fact.title or None}
        if fact.source == "fba_inventory" and fact.own:
            sku = f" as SKU {fact.seller_sku}" if fact.seller_sku else ""
            evidence.append(
                Evidence(
                    source=FBA_INVENTORY,
                    detail=f"Your FBA inventory lists it{sku} (synced {_date(fact.last_seen)}).",
                    weight=SOURCE_WEIGHTS[FBA_INVENTORY],
                    **common,  # type: ignore[arg-type]
                )
            )
        elif fact.source == "inventory_report" and fact.own:
            sku = f" as SKU {fact.seller_sku}" if fact.seller_sku else ""
            evidence.append(
                Evidence(
                    source=INVENTORY_REPORT,
                    detail=f"Your inventory report lists it{sku} (imported {_date(fact.last_seen)}).",
                    weight=SOURCE_WEIGHTS[INVENTORY_REPORT],
                    **common,  # type: ignore[arg-type]
                )
            )
        elif fact.source == "confirmed" and fact.own:
            evidence.append(
                Evidence(
                    source=CONFIRMED,
                    detail=f"You said this FNSKU is this ASIN ({_date(fact.last_seen)}).",
                    weight=SOURCE_WEIGHTS[CONFIRMED],
                    **common,  # type: ignore[arg-type]
                )
            )
        elif fact.source == "confirmed" and fact.times_confirmed > 0:
            others = f"; {fact.times_rejected} said otherwise" if fact.times_rejected else ""
            evidence.append(
                Evidence(
                    source=COMMUNITY,
                    detail=f"Confirmed by {fact.times_confirmed} "
                    f"user{'s' if fact.times_confirmed != 1 else ''}"
                    f"{others} (last {_date(fact.last_seen)}).",
                    weight=community_weight(fact.times_confirmed, fact.times_rejected),
                    extra={"confirmed_by": fact.times_confirmed, "rejected_by": fact.times_rejected},
                    **common,  # type: ignore[arg-type]
                )
            )
        elif fact.source == "provider":
            rejected = rejected_by.get(fact.asin, 0)
            evidence.append(
                Evidence(
                    source=LEARNED,
                    detail=f"An earlier catalogue search gave this answer {fact.times_seen} "
                    f"time{'s' if fact.times_seen != 1 else ''} (last {_date(fact.last_seen)})"
                    + (f"; {rejected} user{'s' if rejected != 1 else ''} corrected it." if rejected else "."),
                    weight=learned_weight(fact.times_seen, rejected),
                    **common,  # type: ignore[arg-type]
                )
            )
    if not evidence:
        evidence.append(
            Evidence(
                source="mapping_store",
                asin=None,
                detail=f"No known mapping of {query.fnsku} in {query.marketplace.code}.",
            )
        )
    return evidence


def search_evidence(records: Sequence[ProductRecord], provider: str) -> list[Evidence]:
    return [
        Evidence(
            source=CATALOG_SEARCH,
            asin=record.asin,
            detail=f"Catalogue search ({provider}) by the label text: result {rank + 1}.",
            weight=search_weight(rank),
            rank=rank,
            title=record.title,
            image=record.images[0] if record.images else None,
        )
        for rank, record in enumerate(records)
    ]


def search_keywords(label_text: str) -> str:
    """What to send to a catalogue search: the label's words, with no condition word and no folding."""
    return normalize_text(label_text, fold_ocr=False)


# --- The pipeline ---------------------------------------------------------------------------------


@dataclass
class Resolution:
    query: Query
    scored: Scored
    evidence: list[Evidence] = field(default_factory=list)
    search_error: ProviderError | None = None

    @property
    def best(self) -> Candidate | None:
        return self.scored.best

    @property
    def confidence(self) -> float:
        return self.scored.confidence

    @property
    def exact(self) -> bool:
        best = self.best
        return best is not None and any(e.exact for e in best.evidence)

    @property
    def from_search_only(self) -> bool:
        best = self.best
        return best is not None and all(e.source == CATALOG_SEARCH for e in best.evidence)


def _fill_products(
    candidates: Sequence[Candidate], query: Query, sources: Sources, evidence: list[Evidence]
) -> None:
    for candidate in list(candidates)[:MAX_TITLE_LOOKUPS]:
        summary = sources.product(query, candidate.asin)
        if summary is None:
            continue
        if not summary.found:
            evidence.append(
                Evidence(
                    source="product_data",
                    asin=None,
                    detail=f"The product data providers do not know {candidate.asin} "
                    f"in {query.marketplace.code}.",
                )
            )
            continue
        candidate.title = summary.title or candidate.title
        candidate.image = summary.image or candidate.image


def resolve(
    query: Query,
    sources: Sources,
    *,
    search_limit: int = 20,
    calibration: Calibration | None = None,
) -> Resolution:
    """Ask every source about ``query`` and score what they said."""
    evidence = stickerless_evidence(query)
    if evidence:
        candidates = list(group_candidates(evidence).values())
        _fill_products(candidates, query, sources, evidence)
        return Resolution(
            query, score(candidates, query.label, now=query.now, calibration=calibration), evidence
        )

    evidence += sources.fba_notes(query)
    evidence += mapping_evidence(sources.mappings(query), query)
    grouped = group_candidates(evidence)
    stored = sorted(grouped.values(), key=lambda c: -max(e.weight for e in c.evidence))
    _fill_products(stored, query, sources, evidence)

    search_error: ProviderError | None = None
    label = query.label
    exact_asins = {c.asin for c in stored if c.exact_weight > 0}
    agreeing = len(exact_asins) == 1 and all(
        (label_similarity(label, normalize_text(c.title)) or 0) >= AGREEING_SIMILARITY
        for c in stored
        if c.asin in exact_asins
    )
    keywords = search_keywords(query.label_text)
    if label and keywords and not agreeing:
        try:
            records = sources.search(query, keywords)
        except SearchFailed as failed:
            search_error = failed.error
            evidence.append(
                Evidence(source=CATALOG_SEARCH, asin=None, detail=f"Catalogue search failed: {failed}")
            )
        else:
            found = search_evidence(records[:search_limit], getattr(sources, "search_provider", "catalogue"))
            if not found:
                evidence.append(
                    Evidence(
                        source=CATALOG_SEARCH,
                        asin=None,
                        detail="Catalogue search found nothing like the label.",
                    )
                )
            evidence += found
            for item in found:
                assert item.asin is not None
                candidate = grouped.setdefault(item.asin, Candidate(asin=item.asin))
                candidate.evidence.append(item)
                candidate.title = candidate.title or item.title
                candidate.image = candidate.image or item.image
    elif not label:
        evidence.append(
            Evidence(
                source=CATALOG_SEARCH, asin=None, detail="No label text: nothing to search the catalogue for."
            )
        )
    scored = score(list(grouped.values()), label, now=query.now, calibration=calibration)
    return Resolution(query, scored, evidence, search_error)


# --- The platform's sources ---------------------------------------------------------------------------


class PlatformSources:
    """The real sources for ``user``: the database, the seller's SP-API, the product providers."""

    def __init__(
        self,
        user: User,
        *,
        fba_sync: Callable[[User, Query], list[Evidence]] | None = None,
    ) -> None:
        self.user = user
        self.fba_sync = fba_sync
        self.search_provider = "catalogue"

    def mappings(self, query: Query) -> list[MappingFact]:
        rows = FnskuMapping.objects.filter(fnsku=query.fnsku, marketplace=query.marketplace.code).filter(
            Q(user__isnull=True) | Q(user=self.user)
        )
        return [
            MappingFact(
                source=row.source,
                asin=row.asin,
                own=row.user_id is not None,
                last_seen=row.last_seen,
                times_seen=row.times_seen,
                times_confirmed=row.times_confirmed,
                times_rejected=row.times_rejected,
                seller_sku=row.seller_sku,
                title=row.title,
            )
            for row in rows
        ]

    def fba_notes(self, query: Query) -> list[Evidence]:
        if self.fba_sync is None:
            return []
        return self.fba_sync(self.user, query)

    def search(self, query: Query, keywords: str) -> list[ProductRecord]:
        from conversion.conf import conversion_settings

        try:
            result = search_with_fallback(
                keywords, query.marketplace, limit=conversion_settings().search_limit
            )
        except ProviderError as exc:
            raise SearchFailed(exc) from exc
        self.search_provider = result.provider or "catalogue"
        return result.records

    def product(self, query: Query, asin: str) -> ProductSummary | None:
        # The product store serves from the cache or the database when it can, and the
        # user is not charged for it: it is part of the conversion they paid for.
        from products.store import product_record_bytes

        try:
            fetched = product_record_bytes(asin=asin, marketplace=query.marketplace)
        except ProductNotFound:
            return ProductSummary(found=False)
        except ProviderError as exc:
            logger.info("conversion: no product data for %s (%s)", asin, exc.code)
            return None
        record = json.loads(fetched.body)
        images = record.get("images") or []
        return ProductSummary(found=True, title=record.get("title"), image=images[0] if images else None)
