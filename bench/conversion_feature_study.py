"""Would a new feature make the FNSKU confidence better calibrated? Measured on the FIT split only.

The real-label set (conversion/evaluation/real_labels.py) is built as ``manage.py eval_fnsku`` builds
it; only its fit split is used: its cases are cut into 5 folds by product family, and for each fold
the model (logistic + out-of-fold isotonic, as ``runner.fit`` does) is fitted on the other four and
scored on it. The held-out split is never read here, so nothing is tuned on it.

Candidate features (computed from the label and the candidates' titles, as scoring.py would):

- ``words_missing``: the share of the label's whole words (the word cut at the label's "..." and
  condition words left out) that the candidate's title lacks: a near-identical listing of another
  product lacks some of the label's words, which ``token_set_ratio`` forgives;
- ``sim_gap_top2``: for the candidate, how far its similarity is above the second-best similarity
  among all candidates (the runner-up's, for the best), 0 for the others.

Run: ``.venv/bin/python bench/conversion_feature_study.py`` (a few minutes). Its figures, and what
the held-out split said of the chosen feature, are in docs/fnsku.md ("Calibration: what was tried").
"""

from __future__ import annotations

import os
import sys
import zlib
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django

django.setup()

from conversion.calibration import expected_calibration_error, fit_isotonic, fit_logistic  # noqa: E402
from conversion.evaluation.real_labels import LABEL_ONLY_KINDS  # noqa: E402
from conversion.evaluation.runner import _features, _Fitted, real_set, real_sources  # noqa: E402
from conversion.scoring import (  # noqa: E402
    FEATURES,
    VARIANT_CONFLICT_CAP,
    Calibration,
    answer_score,
    normalize_text,
)

FOLDS = 5
MIN_CONFIDENCE = 0.15


def label_words(label: str) -> list[str]:
    """The label's whole words: those on each side of the "..." cut, less the cut-off ends."""
    raw = label.replace("…", "...")
    parts = raw.split("...") if "..." in raw else [raw]
    words: list[str] = []
    for index, part in enumerate(parts):
        tokens = normalize_text(part).split()
        if len(parts) > 1:
            if index < len(parts) - 1 and tokens:
                tokens = tokens[:-1]  # the word the cut went through
            if index > 0 and tokens:
                tokens = tokens[1:]
        words.extend(tokens)
    return words


def add_features(fitted: list[_Fitted]) -> None:
    for item in fitted:
        words = label_words(item.case.label_text)
        sims = sorted((c.similarity or 0.0 for c in item.candidates), reverse=True)
        for candidate in item.candidates:
            title_words = set(normalize_text(candidate.title).split())
            missing = sum(1 for w in words if w not in title_words) / len(words) if words else 0.0
            candidate.features["words_missing"] = missing
            sim = candidate.similarity or 0.0
            second = sims[1] if len(sims) > 1 else 0.0
            candidate.features["sim_gap_top2"] = max(0.0, sim - second) if sim >= sims[0] else 0.0


def fit_model(items: list[_Fitted], names: tuple[str, ...], l2: float = 1.0) -> Calibration:
    rows = [[c.features.get(n, 0.0) for n in names] for f in items for c in f.candidates]
    labels = [int(c.asin == f.case.truth_asin) for f in items for c in f.candidates]
    intercept, coefficients = fit_logistic(rows, labels, l2=l2)
    return Calibration(intercept, dict(zip(names, coefficients, strict=True)), (), ())


def answer(item: _Fitted, model: Calibration) -> tuple[float, int, bool] | None:
    if not item.candidates:
        return None
    ranked = sorted(
        item.candidates, key=lambda c: (-model.raw_score(c.features), -(c.similarity or 0.0), c.asin)
    )
    for c in ranked:
        c.raw = model.raw_score(c.features)
    item.best = ranked[0].asin  # type: ignore[attr-defined]
    return (
        answer_score(ranked),
        int(ranked[0].asin == item.case.truth_asin),
        bool(ranked[0].features.get("variant_conflict")),
    )


def fit_calibrated(items: list[_Fitted], names: tuple[str, ...]) -> Calibration:
    """As runner.fit: the model on all, the isotonic map on out-of-fold answers."""
    model = fit_model(items, names)
    scores, outcomes = [], []
    for fold in range(FOLDS):
        held = items[fold::FOLDS]
        rest = [f for i, f in enumerate(items) if i % FOLDS != fold]
        fold_model = fit_model(rest, names)
        for item in held:
            got = answer(item, fold_model)
            if got is not None and not got[2]:
                scores.append(got[0])
                outcomes.append(got[1])
    xs, ys = fit_isotonic(scores, outcomes, min_count=20)
    return Calibration(model.intercept, model.coefficients, tuple(xs), tuple(ys))


def study(fitted: list[_Fitted], family_of: dict[str, str], names: tuple[str, ...]) -> dict[str, float]:
    """Cross-validated by family over the fit split: figures of the label-only cases."""
    fold_of = {}
    for item in fitted:
        key = family_of.get(item.case.truth_asin) or item.case.case_id
        fold_of[id(item)] = zlib.crc32(key.encode()) % FOLDS
    confs: list[float] = []
    oks: list[int] = []
    out_confident = 0
    wrong_variants = 0
    cases = 0
    for fold in range(FOLDS):
        train = [f for f in fitted if fold_of[id(f)] != fold]
        test = [f for f in fitted if fold_of[id(f)] == fold and f.case.kind in LABEL_ONLY_KINDS]
        model = fit_calibrated(train, names)
        for item in test:
            cases += 1
            got = answer(item, model)
            if got is None:
                continue
            conf = model.confidence(got[0])
            if got[2]:
                conf = min(conf, VARIANT_CONFLICT_CAP)
            if conf < MIN_CONFIDENCE:
                continue
            confs.append(conf)
            oks.append(got[1])
            if not item.case.truth_asin and conf >= 0.9:
                out_confident += 1
            family = family_of.get(item.case.truth_asin)
            if (
                conf >= 0.9 and not got[1] and family is not None and family_of.get(item.best) == family  # type: ignore[attr-defined]
            ):
                wrong_variants += 1
    high = [ok for c, ok in zip(confs, oks, strict=True) if c >= 0.9]
    band = [ok for c, ok in zip(confs, oks, strict=True) if 0.7 <= c < 0.8]
    return {
        "cases": cases,
        "precision@0.9": sum(high) / len(high) if high else 0.0,
        "coverage@0.9": len(high) / cases,
        "ece": expected_calibration_error(confs, [bool(o) for o in oks], bins=10),
        "band0.7-0.8": f"{sum(band)}/{len(band)}",
        "out_of_catalogue>=0.9": out_confident,
        "wrong_variant>=0.9": wrong_variants,
    }


def main() -> None:
    data = real_set()
    fit_cases = [c for c in data.cases if c.split == "fit"]
    with real_sources(data.catalogue) as sources_for:
        fitted = _features(fit_cases, sources_for)
    add_features(fitted)
    family_of = data.family_of
    variants = {
        "current": FEATURES,
        "+words_missing": (*FEATURES, "words_missing"),
        "+sim_gap_top2": (*FEATURES, "sim_gap_top2"),
        "+both": (*FEATURES, "words_missing", "sim_gap_top2"),
    }
    for name, names in variants.items():
        print(name, study(fitted, family_of, names))


if __name__ == "__main__":
    main()
