"""Run the conversion pipeline over the evaluation set; fit and check the confidence model.

The pipeline is conversion/resolvers.py ``resolve`` itself; only its sources
are in memory: the mapping store holds the case's ``mappings``, and catalogue
search and titles are the sandbox provider's (its search without the shared
rate limit, so an evaluation needs no Redis).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
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
from conversion.evidence import Evidence
from conversion.resolvers import MappingFact, ProductSummary, Query, Resolution, resolve
from conversion.scoring import FEATURES, Calibration, Candidate, answer_score
from products.marketplaces import marketplace_get
from products.providers import ProductRecord
from products.providers.sandbox import catalogue_search, sample_title

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
    """The sources of one case, in memory."""

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


def run_case(case: Case, calibration: Calibration) -> Resolution:
    query = Query(
        fnsku=case.fnsku,
        marketplace=marketplace_get(case.marketplace),
        label_text=case.label_text,
        now=EVAL_NOW,
    )
    return resolve(query, CaseSources(case), search_limit=SEARCH_LIMIT, calibration=calibration)


# An uninformative model: fitting only needs the pipeline's features, not its scores.
_NEUTRAL = Calibration(intercept=0.0, coefficients={}, isotonic_x=(), isotonic_y=())


@dataclass
class _Fitted:
    case: Case
    candidates: list[Candidate]


def _features(cases: Sequence[Case]) -> list[_Fitted]:
    """Each case's candidates with their features; cases the stickerless rule answers are left out."""
    out = []
    for case in cases:
        resolution = run_case(case, _NEUTRAL)
        if any(e.source == "stickerless" for e in resolution.evidence):
            continue  # the rule is not scored
        out.append(_Fitted(case, list(resolution.scored.candidates)))
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


def _answer(fitted: _Fitted, model: Calibration) -> tuple[float, int] | None:
    """The answer's score under ``model`` and whether the answer is right (None: no candidate)."""
    if not fitted.candidates:
        return None
    ranked = list(fitted.candidates)
    raws = {c.asin: model.raw_score(c.features) for c in ranked}
    ranked.sort(key=lambda c: (-raws[c.asin], -(c.similarity or 0.0), c.asin))
    for candidate in ranked:
        candidate.raw = raws[candidate.asin]
    return answer_score(ranked), int(ranked[0].asin == fitted.case.truth_asin)


def fit(cases: Sequence[Case], *, l2: float = 1.0, min_block: int = 20, folds: int = 5) -> Calibration:
    """Fit the logistic model on every candidate of ``cases``, then the isotonic map on their answers.

    The isotonic map is fitted on out-of-fold scores (each fold scored by a
    model fitted without it), so it learns how the model's scores behave on
    cases the model has not seen, as they will in use."""
    fitted = _features(cases)
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
        fitted_on=f"{EVAL_PATH.name}, fit split ({len(cases)} cases)",
    )


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

    def row(self, threshold: float) -> ThresholdRow:
        return next(r for r in self.rows if r.threshold == threshold)


def evaluate(cases: Sequence[Case], calibration: Calibration, *, min_confidence: float, split: str) -> Report:
    confidences: list[float | None] = []
    correct: list[bool] = []
    abstained_rightly = 0
    by_kind: dict[str, list[int]] = {}
    for case in cases:
        resolution = run_case(case, calibration)
        best = resolution.best
        counts = by_kind.setdefault(case.kind, [0, 0, 0])
        counts[0] += 1
        if best is None or resolution.confidence < min_confidence:
            confidences.append(None)
            correct.append(False)
            abstained_rightly += not case.truth_asin
            continue
        ok = best.asin == case.truth_asin
        confidences.append(resolution.confidence)
        correct.append(ok)
        counts[1] += 1
        counts[2] += ok
    given = [(c, ok) for c, ok in zip(confidences, correct, strict=True) if c is not None]
    given_conf = [c for c, _ in given]
    given_ok = [ok for _, ok in given]
    return Report(
        split=split,
        cases=len(cases),
        answered=len(given),
        correct=sum(given_ok),
        abstained_rightly=abstained_rightly,
        rows=accuracy_at(confidences, correct, THRESHOLDS),
        ece=expected_calibration_error(given_conf, given_ok, bins=10),
        bins=reliability_bins(given_conf, given_ok, bins=10),
        by_kind={k: (v[0], v[1], v[2]) for k, v in by_kind.items()},
    )
