"""From evidence to ranked candidates with a calibrated confidence.

1. Each candidate ASIN gets features: the best prior weight of each source
   family that names it, whether exact sources name *another* ASIN (conflict),
   how many families agree, how recent the statements are, where a catalogue
   search ranked it and, when the label's printed text is known, how similar
   that text is to the candidate's title and how much more similar than the
   best rival's (look-alike products differ in one word: colour, size, pack).
2. A logistic model turns the features into a raw score: the probability that
   this candidate is the FNSKU's ASIN. The answer is the best-scoring one.
3. An isotonic map turns the answer's raw score into its confidence, so that
   among answers given with confidence about 0.9, about 9 in 10 are right.

The model's coefficients and the isotonic map are fitted on the fit half of the
evaluation set (``manage.py eval_fnsku --fit``) and kept in calibration.json
beside this file; the held-out half checks them. The stickerless rule is not
scored: its confidence is 1 by definition.
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from rapidfuzz import fuzz

from conversion.evidence import (
    CATALOG_SEARCH,
    COMMUNITY,
    STICKERLESS,
    Evidence,
    recency,
)

CALIBRATION_PATH = Path(__file__).resolve().parent / "calibration.json"

# --- Label text --------------------------------------------------------------------------------

# Printed after (sometimes before) the product name on FNSKU labels and in liquidation manifests.
CONDITION_PHRASES = (
    "used like new",
    "used very good",
    "used good",
    "used acceptable",
    "like new",
    "very good",
    "open box",
    "brand new",
    "refurbished",
    "renewed",
    "new",
    "used",
    "good",
    "acceptable",
    "collectible",
)
# Characters that OCR and worn labels confuse; both texts are folded the same way.
_OCR_FOLD = str.maketrans({"0": "o", "1": "l", "i": "l", "|": "l", "!": "l", "5": "s", "8": "b"})
_NON_WORD = re.compile(r"[^a-z0-9]+")
_SAMPLE_MARK = re.compile(r"\[sample\]")


def _fold(text: str, *, ocr: bool = True) -> str:
    text = unicodedata.normalize("NFKC", text).lower()
    text = _SAMPLE_MARK.sub(" ", text).replace("…", " ")
    if ocr:
        text = text.replace("rn", "m").translate(_OCR_FOLD)
    return " ".join(_NON_WORD.sub(" ", text).split())


def _by_length(phrases: set[str]) -> tuple[str, ...]:
    return tuple(sorted(phrases, key=len, reverse=True))


_CONDITIONS = {
    True: _by_length({_fold(p) for p in CONDITION_PHRASES}),
    False: _by_length({_fold(p, ocr=False) for p in CONDITION_PHRASES}),
}


def normalize_text(text: str | None, *, fold_ocr: bool = True) -> str:
    """Label text or a title, reduced to what can be compared: lower case, words only,
    OCR look-alikes folded (unless ``fold_ocr`` is false), a condition word at either
    end dropped, the sandbox's sample marker dropped."""
    text = _fold(text or "", ocr=fold_ocr)
    conditions = _CONDITIONS[fold_ocr]
    changed = True
    while changed and text:
        changed = False
        for phrase in conditions:
            if text == phrase:
                return ""
            if text.endswith(" " + phrase):
                text, changed = text[: -len(phrase) - 1], True
            elif text.startswith(phrase + " "):
                text, changed = text[len(phrase) + 1 :], True
    return text


def label_similarity(label: str, title: str) -> float | None:
    """How well normalised label text matches a normalised title, 0 to 1 (None: nothing to compare).

    ``token_set_ratio`` forgives words the label leaves out (a brand, a
    truncated tail) and word order; ``partial_ratio`` forgives a word cut off
    mid-way. Their mean still drops for a wrong colour or size."""
    if not label or not title:
        return None
    return (fuzz.token_set_ratio(label, title) + fuzz.partial_ratio(label, title)) / 200


# --- Features ---------------------------------------------------------------------------------

FEATURES = (
    "seller",
    "community",
    "learned",
    "conflict",
    "agree",
    "sim",
    "sim_known",
    "margin",
    "sim_high",
    "search_rank",
    "recency",
    "crowd",
    "alone",
    "unchecked",
)


@dataclass
class Candidate:
    asin: str
    evidence: list[Evidence] = field(default_factory=list)
    title: str | None = None
    image: str | None = None
    similarity: float | None = None
    features: dict[str, float] = field(default_factory=dict)
    raw: float = 0.0  # the model's probability that this is the ASIN

    @property
    def sources(self) -> list[str]:
        return list(dict.fromkeys(e.source for e in self.evidence))

    def best(self, family: str) -> float:
        return max((e.weight for e in self.evidence if e.family == family), default=0.0)

    @property
    def exact_weight(self) -> float:
        return max((e.weight for e in self.evidence if e.exact), default=0.0)


def group_candidates(evidence: Sequence[Evidence]) -> dict[str, Candidate]:
    candidates: dict[str, Candidate] = {}
    for item in evidence:
        if item.asin is None:
            continue
        candidate = candidates.setdefault(item.asin, Candidate(asin=item.asin))
        candidate.evidence.append(item)
        candidate.title = candidate.title or item.title
        candidate.image = candidate.image or item.image
    return candidates


def compute_features(candidates: Sequence[Candidate], label: str, *, now: datetime) -> None:
    """Fill in each candidate's ``similarity`` and ``features`` (its ``title`` must be set by then)."""
    for candidate in candidates:
        candidate.similarity = label_similarity(label, normalize_text(candidate.title))
    for candidate in candidates:
        others = [c for c in candidates if c is not candidate]
        sim = candidate.similarity
        rival_sims = [c.similarity for c in others if c.similarity is not None]
        margin = sim - max(rival_sims) if sim is not None and rival_sims else 0.0
        crowd = sum(1 for s in rival_sims if sim is not None and abs(s - sim) <= 0.03)
        families = {e.family for e in candidate.evidence}
        mapping_times = [e.seen_at for e in candidate.evidence if e.source != CATALOG_SEARCH and e.seen_at]
        ranks = [e.rank for e in candidate.evidence if e.source == CATALOG_SEARCH and e.rank is not None]
        candidate.features = {
            "seller": candidate.best("seller"),
            "community": candidate.best(COMMUNITY),
            "learned": max((e.weight for e in candidate.evidence if e.source == "learned"), default=0.0),
            "conflict": max((c.exact_weight for c in others), default=0.0),
            "agree": float(min(2, len(families) - 1)),
            "sim": sim or 0.0,
            "sim_known": 1.0 if sim is not None else 0.0,
            "margin": max(-1.0, min(1.0, margin)),
            "sim_high": max(0.0, (sim or 0.0) - 0.85) / 0.15,
            "search_rank": 1 / (1 + min(ranks)) if ranks else 0.0,
            "recency": max((recency(t, now) for t in mapping_times), default=0.0),
            "crowd": math.log1p(crowd),
            # The only candidate: nothing to compare it with.
            "alone": 1.0 if not others else 0.0,
            # Named by a mapping, with no label text to check it against.
            "unchecked": 1.0 if sim is None and mapping_times else 0.0,
        }


# --- The model ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Calibration:
    """The fitted model: logistic coefficients per feature, and the isotonic map of the answer's score."""

    intercept: float
    coefficients: dict[str, float]
    isotonic_x: tuple[float, ...]
    isotonic_y: tuple[float, ...]
    fitted_on: str = ""
    max_confidence: float = 0.995

    def raw_score(self, features: dict[str, float]) -> float:
        z = self.intercept + sum(self.coefficients.get(name, 0.0) * value for name, value in features.items())
        return 1 / (1 + math.exp(-max(-40.0, min(40.0, z))))

    def confidence(self, raw: float) -> float:
        """The isotonic map, linear between its points, flat beyond them."""
        xs, ys = self.isotonic_x, self.isotonic_y
        if not xs:
            return min(self.max_confidence, raw)
        if raw <= xs[0]:
            value = ys[0]
        elif raw >= xs[-1]:
            value = ys[-1]
        else:
            hi = next(i for i, x in enumerate(xs) if x > raw)
            lo = hi - 1
            span = xs[hi] - xs[lo]
            value = ys[lo] + (ys[hi] - ys[lo]) * ((raw - xs[lo]) / span if span else 1.0)
        return max(0.0, min(self.max_confidence, value))

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": 1,
            "fitted_on": self.fitted_on,
            "features": list(FEATURES),
            "intercept": self.intercept,
            "coefficients": self.coefficients,
            "isotonic": {"x": list(self.isotonic_x), "y": list(self.isotonic_y)},
            "max_confidence": self.max_confidence,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Calibration:
        return cls(
            intercept=float(data["intercept"]),
            coefficients={k: float(v) for k, v in data["coefficients"].items()},
            isotonic_x=tuple(float(x) for x in data["isotonic"]["x"]),
            isotonic_y=tuple(float(y) for y in data["isotonic"]["y"]),
            fitted_on=str(data.get("fitted_on", "")),
            max_confidence=float(data.get("max_confidence", 0.995)),
        )


@lru_cache(maxsize=1)
def calibration_load(path: Path = CALIBRATION_PATH) -> Calibration:
    return Calibration.from_dict(json.loads(path.read_text()))


@dataclass
class Scored:
    """Candidates best first; ``confidence`` is the first one's."""

    candidates: list[Candidate]
    confidence: float

    @property
    def best(self) -> Candidate | None:
        return self.candidates[0] if self.candidates else None


def score(
    candidates: Sequence[Candidate], label: str, *, now: datetime, calibration: Calibration | None = None
) -> Scored:
    """Rank ``candidates`` (titles filled in) and give the best one's calibrated confidence."""
    model = calibration or calibration_load()
    pool = list(candidates)
    if not pool:
        return Scored([], 0.0)
    compute_features(pool, label, now=now)
    for candidate in pool:
        rule = any(e.source == STICKERLESS for e in candidate.evidence)
        candidate.raw = 1.0 if rule else model.raw_score(candidate.features)
    pool.sort(key=lambda c: (-c.raw, -(c.similarity or 0.0), c.asin))
    best = pool[0]
    if any(e.source == STICKERLESS for e in best.evidence):
        return Scored(pool, 1.0)
    return Scored(pool, model.confidence(answer_score(pool)))


def answer_score(ranked: Sequence[Candidate]) -> float:
    """The best candidate's raw score, shared with the runner-up when together they claim more than certainty.

    Two look-alikes that both match the label perfectly each get a high raw
    score; only one can be right, so each is worth about a half. Only the
    runner-up counts: a long tail of weak search results says nothing about it."""
    if not ranked:
        return 0.0
    rival = ranked[1].raw if len(ranked) > 1 else 0.0
    return ranked[0].raw / max(1.0, ranked[0].raw + rival)
