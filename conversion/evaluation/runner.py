"""Run the conversion pipeline over an evaluation set; fit and check the confidence model.

The pipeline is conversion/resolvers.py ``resolve`` itself; only its sources
are in memory: the mapping store holds the case's ``mappings``. The catalogue
search is, for the real-label set (real_labels.py, the one the figures come
from), the platform's SP-API adapter calling a local searchCatalogItems
stand-in over HTTP (spapi_standin.py); for the synthetic set
(fnsku_eval.csv, kept as a unit test of the machinery) the sandbox's.
"""

from __future__ import annotations

import csv
import dataclasses
import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from conversion.calibration import (
    ThresholdRow,
    accuracy_at,
    expected_calibration_error,
    fit_isotonic,
    fit_logistic,
    reliability_bins,
)
from conversion.evaluation.real_labels import LABEL_ONLY_KINDS, RealCatalogue, real_label_cases
from conversion.evaluation.spapi_standin import TOKEN_PATH, CatalogStandIn
from conversion.evidence import Evidence
from conversion.resolvers import (
    MappingFact,
    ProductSummary,
    Query,
    Resolution,
    SearchFailed,
    Sources,
    resolve,
)
from conversion.scoring import FEATURES, Calibration, Candidate, answer_score
from products.marketplaces import marketplace_get
from products.providers import ProductRecord, ProviderError
from products.providers.http import UpstreamClient
from products.providers.sandbox import catalogue_search, sample_title
from products.providers.spapi import SpApiProvider

EVAL_PATH = Path(__file__).resolve().parent / "fnsku_eval.csv"
# Ages in the set are counted back from this moment.
EVAL_NOW = datetime(2026, 6, 1, tzinfo=UTC)
THRESHOLDS = (0.5, 0.7, 0.8, 0.9, 0.95)
SEARCH_LIMIT = 20


@dataclass(frozen=True)
class Case:
    case_id: str
    split: str
    kind: str
    fnsku: str
    marketplace: str
    label_text: str
    truth_asin: str
    mappings: tuple[dict[str, Any], ...]
    note: str


def case_from_row(row: dict[str, Any]) -> Case:
    return Case(
        case_id=row["case_id"],
        split=row["split"],
        kind=row["kind"],
        fnsku=row["fnsku"],
        marketplace=row["marketplace"],
        label_text=row["label_text"],
        truth_asin=row["truth_asin"],
        mappings=tuple(row["mappings"]),
        note=";".join(row["note"]),
    )


def load_cases(path: Path = EVAL_PATH) -> list[Case]:
    with path.open(newline="", encoding="utf-8") as handle:
        return [
            Case(
                case_id=row["case_id"],
                split=row["split"],
                kind=row["kind"],
                fnsku=row["fnsku"],
                marketplace=row["marketplace"],
                label_text=row["label_text"],
                truth_asin=row["truth_asin"],
                mappings=tuple(json.loads(row["mappings"])),
                note=row["note"],
            )
            for row in csv.DictReader(handle)
        ]


class CaseSources:
    """The sources of one case of the synthetic set, in memory, over the sandbox catalogue."""

    search_provider = "sandbox"

    def __init__(self, case: Case) -> None:
        self.case = case

    def mappings(self, query: Query) -> list[MappingFact]:
        return [
            MappingFact(
                source=m["source"],
                asin=m["asin"],
                own=bool(m["own"]),
                last_seen=EVAL_NOW - timedelta(days=int(m.get("age_days", 0))),
                times_seen=int(m.get("times_seen", 1)),
                times_confirmed=int(m.get("times_confirmed", 0)),
                times_rejected=int(m.get("times_rejected", 0)),
            )
            for m in self.case.mappings
        ]

    def fba_notes(self, query: Query) -> list[Evidence]:
        return []

    def search(self, query: Query, keywords: str) -> list[ProductRecord]:
        return [
            ProductRecord(
                asin=asin,
                marketplace=query.marketplace.code,
                provider="sandbox",
                fetched_at=EVAL_NOW,
                sample_data=True,
                title=sample_title(asin),
            )
            for asin in catalogue_search(keywords, SEARCH_LIMIT)
        ]

    def product(self, query: Query, asin: str) -> ProductSummary | None:
        return ProductSummary(found=True, title=sample_title(asin))


class _LocalClient(UpstreamClient):
    """The stand-in runs on this machine: there is no upstream budget to protect, so the shared
    rate limit (2 requests/s for searchCatalogItems) is not taken; everything else is the client's."""

    def _take_rate_limit(self, bucket: str, tokens: float, operation: str) -> None:
        return None


def standin_provider(base_url: str) -> SpApiProvider:
    """The platform's SP-API provider, pointed at the stand-in at ``base_url``."""
    provider = SpApiProvider()
    provider.settings = dataclasses.replace(
        provider.settings,
        client_id="eval-client",
        client_secret="eval-secret",  # noqa: S106 - the stand-in's, not a credential
        refresh_token="eval-refresh",  # noqa: S106
        lwa_token_url=base_url + TOKEN_PATH,
        endpoint=base_url,
    )
    provider.client = _LocalClient(provider.name, provider.label)
    return provider


class CatalogueSources(CaseSources):
    """The sources of one case of the real-label set: the catalogue search goes through the SP-API
    adapter (``provider``); a candidate's title is the catalogue's (getCatalogItem's itemName)."""

    search_provider = "spapi"

    def __init__(self, case: Case, provider: SpApiProvider, titles: dict[str, str]) -> None:
        super().__init__(case)
        self.provider = provider
        self.titles = titles

    def search(self, query: Query, keywords: str) -> list[ProductRecord]:
        try:
            return self.provider.search(keywords, query.marketplace, limit=SEARCH_LIMIT)
        except ProviderError as exc:
            raise SearchFailed(exc) from exc

    def product(self, query: Query, asin: str) -> ProductSummary | None:
        title = self.titles.get(asin)
        return ProductSummary(found=title is not None, title=title)


SourcesFor = Callable[[Case], Sources]


@dataclass
class RealSet:
    catalogue: RealCatalogue
    cases: list[Case]

    @property
    def family_of(self) -> dict[str, str]:
        return {listing.asin: listing.family for listing in self.catalogue.listings}


def real_set(*, families: int | None = None, kinds: dict[str, int] | None = None) -> RealSet:
    catalogue, rows = real_label_cases(families=families, kinds=kinds)
    return RealSet(catalogue, [case_from_row(row) for row in rows])


@contextmanager
def real_sources(catalogue: RealCatalogue) -> Iterator[SourcesFor]:
    """Serve ``catalogue`` from the searchCatalogItems stand-in; yield each case's sources."""
    titles = catalogue.titles()
    standin = CatalogStandIn(list(titles.items()))
    with standin.serving() as base_url:
        provider = standin_provider(base_url)
        yield lambda case: CatalogueSources(case, provider, titles)


def run_case(case: Case, calibration: Calibration, sources: Sources | None = None) -> Resolution:
    query = Query(
        fnsku=case.fnsku,
        marketplace=marketplace_get(case.marketplace),
        label_text=case.label_text,
        now=EVAL_NOW,
    )
    return resolve(query, sources or CaseSources(case), search_limit=SEARCH_LIMIT, calibration=calibration)


# An uninformative model: fitting only needs the pipeline's features, not its scores.
_NEUTRAL = Calibration(intercept=0.0, coefficients={}, isotonic_x=(), isotonic_y=())


@dataclass
class _Fitted:
    case: Case
    candidates: list[Candidate]
    label: str


def _features(cases: Sequence[Case], sources_for: SourcesFor) -> list[_Fitted]:
    """Each case's candidates with their features; cases the stickerless rule answers are left out."""
    out = []
    for case in cases:
        resolution = run_case(case, _NEUTRAL, sources_for(case))
        if any(e.source == "stickerless" for e in resolution.evidence):
            continue  # the rule is not scored
        out.append(_Fitted(case, list(resolution.scored.candidates), resolution.query.label))
    return out


def _fit_logistic(fitted: Sequence[_Fitted], l2: float) -> Calibration:
    rows = [[c.features[name] for name in FEATURES] for f in fitted for c in f.candidates]
    labels = [int(c.asin == f.case.truth_asin) for f in fitted for c in f.candidates]
    intercept, coefficients = fit_logistic(rows, labels, l2=l2)
    return Calibration(
        intercept=intercept,
        coefficients=dict(zip(FEATURES, coefficients, strict=True)),
        isotonic_x=(),
        isotonic_y=(),
    )


def _ranked(fitted: _Fitted, model: Calibration) -> list[Candidate]:
    ranked = list(fitted.candidates)
    raws = {c.asin: model.raw_score(c.features) for c in ranked}
    ranked.sort(key=lambda c: (-raws[c.asin], -(c.similarity or 0.0), c.asin))
    for candidate in ranked:
        candidate.raw = raws[candidate.asin]
    return ranked


def _answer(fitted: _Fitted, model: Calibration) -> tuple[float, int] | None:
    """The answer's score under ``model`` and whether the answer is right (None: no candidate, or an
    answer whose confidence is capped for contradicting the label's variant words: the map never
    sees it)."""
    if not fitted.candidates:
        return None
    ranked = _ranked(fitted, model)
    if ranked[0].features.get("variant_conflict"):
        return None
    return answer_score(ranked), int(ranked[0].asin == fitted.case.truth_asin)


def fit(
    cases: Sequence[Case],
    *,
    sources_for: SourcesFor = CaseSources,
    fitted_on: str = "",
    l2: float = 1.0,
    min_block: int = 20,
    folds: int = 5,
) -> Calibration:
    """Fit the logistic model on every candidate of ``cases``, then the isotonic map on their answers.

    The isotonic map is fitted on out-of-fold scores (each fold scored by a
    model fitted without it), so it learns how the model's scores behave on
    cases the model has not seen, as they will in use."""
    fitted = _features(cases, sources_for)
    model = _fit_logistic(fitted, l2)
    scores: list[float] = []
    outcomes: list[int] = []
    for fold in range(folds):
        held = fitted[fold::folds]
        rest = [f for i, f in enumerate(fitted) if i % folds != fold]
        fold_model = _fit_logistic(rest, l2)
        for item in held:
            answer = _answer(item, fold_model)
            if answer is not None:
                scores.append(answer[0])
                outcomes.append(answer[1])
    xs, ys = fit_isotonic(scores, outcomes, min_count=min_block)
    return Calibration(
        intercept=round(model.intercept, 6),
        coefficients={name: round(value, 6) for name, value in model.coefficients.items()},
        isotonic_x=tuple(round(x, 6) for x in xs),
        isotonic_y=tuple(round(y, 6) for y in ys),
        fitted_on=fitted_on or f"{EVAL_PATH.name}, fit split ({len(cases)} cases)",
    )


@dataclass(frozen=True)
class Outcome:
    case: Case
    confidence: float | None  # None: no answer (none at all, or below the minimum: refused)
    correct: bool
    wrong_variant: bool  # answered with another variant of the labelled product's family


def run_all(
    cases: Sequence[Case],
    calibration: Calibration,
    *,
    min_confidence: float,
    sources_for: SourcesFor = CaseSources,
    family_of: dict[str, str] | None = None,
) -> list[Outcome]:
    """Each case through the pipeline. ``family_of`` (listing -> family) tells a wrong variant."""
    family_of = family_of or {}
    outcomes = []
    for case in cases:
        resolution = run_case(case, calibration, sources_for(case))
        best = resolution.best
        if best is None or resolution.confidence < min_confidence:
            outcomes.append(Outcome(case, None, False, False))
            continue
        ok = best.asin == case.truth_asin
        family = family_of.get(case.truth_asin)
        wrong_variant = not ok and family is not None and family_of.get(best.asin) == family
        outcomes.append(Outcome(case, resolution.confidence, ok, wrong_variant))
    return outcomes


@dataclass
class Report:
    split: str
    cases: int
    answered: int  # answers given at all (confidence at least the minimum)
    correct: int
    abstained_rightly: int  # no answer where the catalogue has none
    rows: list[ThresholdRow]
    ece: float
    bins: list[Any]
    by_kind: dict[str, tuple[int, int, int]]  # kind -> (cases, answered, correct)
    confident_wrong_variants: int = 0  # at confidence >= 0.9, another colour/size/count of the product

    def row(self, threshold: float) -> ThresholdRow:
        return next(r for r in self.rows if r.threshold == threshold)


def report(outcomes: Sequence[Outcome], *, split: str) -> Report:
    confidences = [o.confidence for o in outcomes]
    correct = [o.correct for o in outcomes]
    by_kind: dict[str, list[int]] = {}
    for outcome in outcomes:
        counts = by_kind.setdefault(outcome.case.kind, [0, 0, 0])
        counts[0] += 1
        counts[1] += outcome.confidence is not None
        counts[2] += outcome.correct
    given = [o for o in outcomes if o.confidence is not None]
    given_conf = [o.confidence for o in given if o.confidence is not None]
    given_ok = [o.correct for o in given]
    return Report(
        split=split,
        cases=len(outcomes),
        answered=len(given),
        correct=sum(given_ok),
        abstained_rightly=sum(1 for o in outcomes if o.confidence is None and not o.case.truth_asin),
        rows=accuracy_at(confidences, correct, THRESHOLDS),
        ece=expected_calibration_error(given_conf, given_ok, bins=10),
        bins=reliability_bins(given_conf, given_ok, bins=10),
        by_kind={k: (v[0], v[1], v[2]) for k, v in by_kind.items()},
        confident_wrong_variants=sum(
            1 for o in given if o.wrong_variant and o.confidence is not None and o.confidence >= 0.9
        ),
    )


def label_only(outcomes: Sequence[Outcome]) -> list[Outcome]:
    """The reseller's case: nothing but the label (no mapping, not a B0 code)."""
    return [o for o in outcomes if o.case.kind in LABEL_ONLY_KINDS]


def evaluate(
    cases: Sequence[Case],
    calibration: Calibration,
    *,
    min_confidence: float,
    split: str,
    sources_for: SourcesFor = CaseSources,
    family_of: dict[str, str] | None = None,
) -> Report:
    outcomes = run_all(
        cases, calibration, min_confidence=min_confidence, sources_for=sources_for, family_of=family_of
    )
    return report(outcomes, split=split)
