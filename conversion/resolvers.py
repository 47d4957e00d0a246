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
from dataclasses import dataclass, field, replace
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

# The B0 rule's answer when the product data that "found" the code is sample data: the sandbox makes
# up a record for every well-formed ASIN (B0ZZZZZZZZ too), so its finding says nothing about whether
# the code is a real product. Stated, not calibrated: below "resolved", a sample to check.
SAMPLE_STICKERLESS_CONFIDENCE = 0.5


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
    """What the product data says about a candidate: ``found`` False when the providers do not know it,
    ``error`` set when they could not answer. ``sample_data``: the record is the sandbox's invention."""

    found: bool
    title: str | None = None
    image: str | None = None
    provider: str = ""
    sample_data: bool = False
    error: ProviderError | None = None


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


def stickerless_evidence(query: Query, summary: ProductSummary | None) -> list[Evidence]:
    """The B0 rule: a stickerless unit's code is its ASIN, but only an ASIN the product data knows.

    ``summary`` is the product lookup's answer for the code: not found (or made up) names nothing."""
    if summary is not None and summary.found:
        listed = (
            "but only the sample data answered, which makes up a product for any ASIN: whether it is "
            f"a real product in {query.marketplace.code} was not checked "
            f"({SAMPLE_STICKERLESS_CONFIDENCE:.0%} sure)."
            if summary.sample_data
            else f"and the product data lists it in {query.marketplace.code}."
        )
        return [
            Evidence(
                source=STICKERLESS,
                asin=query.fnsku,
                detail=f"{query.fnsku} is an ASIN: a unit sold without an FBA sticker carries its ASIN, "
                + listed,
                weight=SOURCE_WEIGHTS[STICKERLESS],
                seen_at=query.now,
                title=summary.title,
                image=summary.image,
            )
        ]
    if summary is not None and summary.error is not None:
        detail = f"{query.fnsku} looks like an ASIN, but the product data could not be checked right now."
    else:
        detail = (
            f"{query.fnsku} looks like an ASIN, but no product is listed under it "
            f"in {query.marketplace.code}."
        )
    return [Evidence(source=STICKERLESS, asin=None, detail=detail)]


def _date(value: datetime) -> str:
    return value.strftime("%Y-%m-%d")


def mapping_evidence(facts: Sequence[MappingFact], query: Query) -> list[Evidence]:
    """The mapping store's rows as evidence: the priors of each kind of row are in conversion/evidence.py."""
    rejected_by = {f.asin: f.times_rejected for f in facts if f.source == "confirmed" and not f.own}
    # The shared count includes the asking user's own word: "other resellers" leaves it out.
    own_word = {f.asin for f in facts if f.source == "confirmed" and f.own}
    evidence: list[Evidence] = []
    for fact in facts:
        common = {"asin": fact.asin, "seen_at": fact.last_seen, "title": fact.title or None}
        if fact.source == "fba_inventory" and fact.own:
            sku = f", SKU {fact.seller_sku}" if fact.seller_sku else ""
            evidence.append(
                Evidence(
                    source=FBA_INVENTORY,
                    detail=f"Your FBA inventory lists this FNSKU as {_named(fact)}{sku} "
                    f"(synced {_date(fact.last_seen)}).",
                    weight=SOURCE_WEIGHTS[FBA_INVENTORY],
                    **common,  # type: ignore[arg-type]
                )
            )
        elif fact.source == "inventory_report" and fact.own:
            sku = f", SKU {fact.seller_sku}" if fact.seller_sku else ""
            evidence.append(
                Evidence(
                    source=INVENTORY_REPORT,
                    detail=f"Your inventory report lists this FNSKU as {_named(fact)}{sku} "
                    f"(imported {_date(fact.last_seen)}).",
                    weight=SOURCE_WEIGHTS[INVENTORY_REPORT],
                    **common,  # type: ignore[arg-type]
                )
            )
        elif fact.source == "confirmed" and fact.own:
            evidence.append(
                Evidence(
                    source=CONFIRMED,
                    detail=f"You confirmed this FNSKU is {_named(fact)} ({_date(fact.last_seen)}).",
                    weight=SOURCE_WEIGHTS[CONFIRMED],
                    **common,  # type: ignore[arg-type]
                )
            )
        elif fact.source == "confirmed" and fact.times_confirmed > 0:
            evidence.append(
                Evidence(
                    source=COMMUNITY,
                    detail=_community_detail(fact, own=fact.asin in own_word),
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
                    detail=f"Earlier scans of this FNSKU matched its label to {_named(fact)} "
                    f"{_times(fact.times_seen)} (last {_date(fact.last_seen)})"
                    + (f"; {_resellers(rejected)} corrected it." if rejected else "."),
                    weight=learned_weight(fact.times_seen, rejected),
                    **common,  # type: ignore[arg-type]
                )
            )
    if not evidence:
        evidence.append(
            Evidence(
                source="mapping_store",
                asin=None,
                detail=f"No one has converted {query.fnsku} in {query.marketplace.code} before, "
                "and none of your inventory lists it.",
            )
        )
    return evidence


def _named(fact: MappingFact) -> str:
    return f"{fact.asin} ({_short(fact.title)})" if fact.title else fact.asin


def _short(title: str, limit: int = 80) -> str:
    return title if len(title) <= limit else title[: limit - 1].rstrip() + "…"


def _times(n: int) -> str:
    return "once" if n == 1 else "twice" if n == 2 else f"{n} times"


def _resellers(n: int) -> str:
    return f"{n} reseller{'s' if n != 1 else ''}"


def _community_detail(fact: MappingFact, *, own: bool) -> str:
    others = fact.times_confirmed - (1 if own else 0)
    parts = []
    if others > 0:
        parts.append(
            f"{others} other {_resellers(others).split(' ', 1)[1]} confirmed this FNSKU is {_named(fact)}"
        )
    if fact.times_rejected:
        parts.append(f"{_resellers(fact.times_rejected)} said it is not")
    text = "; ".join(parts) or f"No other reseller has confirmed {_named(fact)} yet"
    return f"{text[0].upper()}{text[1:]} (last {_date(fact.last_seen)})."


def search_detail(title: str | None, similarity: float | None) -> str:
    """A catalogue search's statement as a reseller reads it: how well the label matches the title."""
    if title and similarity is not None:
        return f"The label's title matches '{_short(title)}' ({round(similarity * 100)}%)."
    if title:
        return f"Searching Amazon's catalogue for the label's words found '{_short(title)}'."
    return "Searching Amazon's catalogue for the label's words found this product."


def search_evidence(records: Sequence[ProductRecord], provider: str) -> list[Evidence]:
    return [
        Evidence(
            source=CATALOG_SEARCH,
            asin=record.asin,
            detail=search_detail(record.title, None),
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
    # Where each candidate's product data came from: ASIN -> (provider, sample data?).
    origins: dict[str, tuple[str, bool]] = field(default_factory=dict)

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

    @property
    def provider(self) -> str:
        """The product data provider whose record or search named the answer ("" if none did)."""
        best = self.best
        return self.origins.get(best.asin, ("", False))[0] if best is not None else ""

    @property
    def sample_data(self) -> bool:
        """Whether the answer's product data is the sandbox's sample data, not Amazon's."""
        best = self.best
        return best is not None and self.origins.get(best.asin, ("", False))[1]


def _own_word(candidate: Candidate) -> bool:
    """Whether a source other than product data (an inventory, a confirmation) named the candidate:
    its ASIN is real, and sample data must never lend it a made-up title."""
    return any(e.exact and e.source != STICKERLESS for e in candidate.evidence)


def _fill_products(
    candidates: Sequence[Candidate],
    query: Query,
    sources: Sources,
    evidence: list[Evidence],
    origins: dict[str, tuple[str, bool]],
) -> None:
    for candidate in list(candidates)[:MAX_TITLE_LOOKUPS]:
        summary = sources.product(query, candidate.asin)
        if summary is None or summary.error is not None:
            continue
        if not summary.found:
            evidence.append(
                Evidence(
                    source="product_data",
                    asin=None,
                    detail=f"No product is listed under {candidate.asin} in {query.marketplace.code}.",
                )
            )
            continue
        if summary.sample_data and _own_word(candidate):
            continue
        candidate.title = summary.title or candidate.title
        candidate.image = summary.image or candidate.image
        origins.setdefault(candidate.asin, (summary.provider, summary.sample_data))


def _stickerless(query: Query, sources: Sources, calibration: Calibration | None) -> Resolution:
    """The B0 rule: the code is the ASIN when the product lookup finds it; unknown or made up, nothing."""
    summary = sources.product(query, query.fnsku)
    evidence = stickerless_evidence(query, summary)
    origins: dict[str, tuple[str, bool]] = {}
    if summary is not None and summary.found:
        origins[query.fnsku] = (summary.provider, summary.sample_data)
    candidates = list(group_candidates(evidence).values())
    for candidate in candidates:
        candidate.title = summary.title if summary is not None else None
        candidate.image = summary.image if summary is not None else None
    error = summary.error if summary is not None else None
    scored = score(candidates, query.label, now=query.now, calibration=calibration)
    if summary is not None and summary.found and summary.sample_data:
        for candidate in scored.candidates:
            candidate.raw = SAMPLE_STICKERLESS_CONFIDENCE
        scored = Scored(scored.candidates, SAMPLE_STICKERLESS_CONFIDENCE)
    return Resolution(query, scored, evidence, search_error=error, origins=origins)


def _search_in_words(resolution: Resolution) -> None:
    """Catalogue-search statements say how well the label matches each title, once it is scored."""
    similarity = {c.asin: c.similarity for c in resolution.scored.candidates}
    resolution.evidence = [
        replace(e, detail=search_detail(e.title, similarity.get(e.asin)))
        if e.source == CATALOG_SEARCH and e.asin is not None
        else e
        for e in resolution.evidence
    ]


def resolve(
    query: Query,
    sources: Sources,
    *,
    search_limit: int = 20,
    calibration: Calibration | None = None,
) -> Resolution:
    """Ask every source about ``query`` and score what they said."""
    if fnsku_kind(query.fnsku) == "stickerless":
        return _stickerless(query, sources, calibration)

    evidence = sources.fba_notes(query)
    evidence += mapping_evidence(sources.mappings(query), query)
    grouped = group_candidates(evidence)
    stored = sorted(grouped.values(), key=lambda c: -max(e.weight for e in c.evidence))
    origins: dict[str, tuple[str, bool]] = {}
    _fill_products(stored, query, sources, evidence, origins)

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
                Evidence(
                    source=CATALOG_SEARCH,
                    asin=None,
                    detail="Amazon's catalogue could not be searched for the label's words right now.",
                )
            )
        else:
            records = list(records[:search_limit])
            found = search_evidence(records, getattr(sources, "search_provider", "catalogue"))
            if not found:
                evidence.append(
                    Evidence(
                        source=CATALOG_SEARCH,
                        asin=None,
                        detail="Searching Amazon's catalogue for the label's words found nothing like it.",
                    )
                )
            evidence += found
            for record, item in zip(records, found, strict=True):
                assert item.asin is not None
                candidate = grouped.setdefault(item.asin, Candidate(asin=item.asin))
                candidate.evidence.append(item)
                if record.sample_data and _own_word(candidate):
                    continue
                candidate.title = candidate.title or item.title
                candidate.image = candidate.image or item.image
                origins.setdefault(item.asin, (record.provider, record.sample_data))
    elif not label:
        evidence.append(
            Evidence(
                source=CATALOG_SEARCH,
                asin=None,
                detail="No label text was given, so Amazon's catalogue was not searched.",
            )
        )
    scored = score(list(grouped.values()), label, now=query.now, calibration=calibration)
    resolution = Resolution(query, scored, evidence, search_error, origins)
    _search_in_words(resolution)
    return resolution


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
        except ProductNotFound as exc:
            return ProductSummary(found=False, provider=exc.provider)
        except ProviderError as exc:
            logger.info("conversion: no product data for %s (%s)", asin, exc.code)
            return ProductSummary(found=False, provider=exc.provider, error=exc)
        record = json.loads(fetched.body)
        images = record.get("images") or []
        return ProductSummary(
            found=True,
            title=record.get("title"),
            image=images[0] if images else None,
            provider=str(record.get("provider") or ""),
            sample_data=bool(record.get("sample_data")),
        )
