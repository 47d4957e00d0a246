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
4. A label that prints a colour, size or count the answer's title contradicts
   caps the confidence (``VARIANT_CONFLICT_CAP``): never a confident wrong variant.

The model's coefficients and the isotonic map are fitted on the fit split of
the real-label evaluation set (conversion/evaluation/real_labels.py;
``manage.py eval_fnsku --fit``) and kept in calibration.json beside this file;
the held-out split checks them. The stickerless rule is not scored: its
confidence is 1 by definition.
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


# --- Variant words --------------------------------------------------------------------------------

# Look-alike listings (one family in several colours, sizes or pack counts) differ in these words.
# A label that prints one value and a title that names another of the same kind is a contradiction
# no similarity score may outvote: the confidence is capped (``VARIANT_CONFLICT_CAP``).
COLOURS = frozenset({
    "black", "white", "blue", "red", "green", "grey", "gray", "pink", "purple", "yellow", "orange",
    "brown", "beige", "navy", "silver", "gold", "clear", "teal", "turquoise", "ivory", "cream",
    "khaki", "tan", "maroon", "burgundy", "charcoal", "rose", "coral", "mint", "olive", "lavender",
    "violet", "aqua", "bronze", "copper", "champagne", "multicolor", "multicolour",
})  # fmt: skip
SIZE_WORDS = frozenset({
    "xs", "small", "medium", "large", "xl", "xxl", "xxxl", "2xl", "3xl", "x-large", "xx-large", "king",
    "queen", "twin", "full", "mini", "compact", "standard", "jumbo",
})  # fmt: skip
_UNITS = {
    "oz": "oz", "ounce": "oz", "ounces": "oz", "fl": "oz",
    "inch": "in", "inches": "in", "in": "in", "ft": "ft", "feet": "ft", "foot": "ft",
    "lb": "lb", "lbs": "lb", "pound": "lb", "pounds": "lb", "ml": "ml", "l": "l", "liter": "l",
    "litre": "l", "liters": "l", "gallon": "gal", "gallons": "gal", "gal": "gal", "qt": "qt",
    "quart": "qt", "mm": "mm", "cm": "cm", "m": "m", "meter": "m", "g": "g", "gram": "g",
    "grams": "g", "kg": "kg", "w": "w", "watt": "w", "watts": "w", "mah": "mah", "tb": "tb",
    "gb": "gb", "v": "v", "volt": "v",
}  # fmt: skip
_COUNT_WORDS = frozenset({"pack", "count", "ct", "pcs", "pc", "pieces", "piece", "pk", "packs", "sets"})
_PACK_OF = frozenset({"pack", "set", "case", "box", "bundle"})
# After folding, a number may read as letters ("l6" is 16, "2s" is 25): such a word before a unit
# or a count word is a number.
_NUMBER_LIKE = re.compile(r"^[0-9olsb]+(?:\.[0-9olsb]+)?$")
_DIGITS = str.maketrans({"o": "0", "l": "1", "s": "5", "b": "8"})
_FOLDED_COLOURS = frozenset(_fold(w) for w in COLOURS)
_FOLDED_SIZES = frozenset(_fold(w).replace(" ", "") for w in SIZE_WORDS)
_FOLDED_UNITS = {_fold(k): v for k, v in _UNITS.items()}
_FOLDED_COUNTS = frozenset(_fold(w) for w in _COUNT_WORDS)
_GLUED_SUFFIXES = tuple(sorted({*_FOLDED_UNITS, *_FOLDED_COUNTS}, key=len, reverse=True))
VARIANT_CONFLICT_CAP = 0.5


def _unglued(word: str) -> list[str]:
    """ "16oz" is "16 oz", "6pack" is "6 pack": a number (with at least one real digit) glued to its unit."""
    if not any(c.isdigit() for c in word):
        return [word]
    for suffix in _GLUED_SUFFIXES:
        number = word[: -len(suffix)]
        if (
            word.endswith(suffix)
            and number
            and _NUMBER_LIKE.match(number)
            and any(c.isdigit() for c in number)
        ):
            return [number, suffix]
    return [word]


def _number(word: str) -> str:
    return f"{float(word.translate(_DIGITS)):g}"


def variant_tokens(text: str | None) -> dict[str, set[str]]:
    """The colour, size and count words of a label or a title, by kind.

    ``{"colour": {"navy", "blue"}, "size": {"25in", "medlum"}, "count": {"6"}}``.
    It reads folded text (``normalize_text``'s), so a label and a title are read
    alike whatever OCR did to either: "B1ue" is blue, "l6 oz" is 16 oz."""
    words: list[str] = []
    for word in _fold(text or "").replace("x large", "xlarge").split():
        words += _unglued(word)
    found: dict[str, set[str]] = {"colour": set(), "size": set(), "count": set()}
    for i, word in enumerate(words):
        if word in _FOLDED_COLOURS:
            found["colour"].add(word)
        elif word in _FOLDED_SIZES:
            found["size"].add(word)
        if not _NUMBER_LIKE.match(word):
            continue
        after = words[i + 1] if i + 1 < len(words) else ""
        if after in _FOLDED_UNITS:
            found["size"].add(_number(word) + _FOLDED_UNITS[after])
        elif after in _FOLDED_COUNTS or (i > 1 and words[i - 1] == "of" and words[i - 2] in _PACK_OF):
            found["count"].add(_number(word))
    return found


def variant_conflict(label: str | None, title: str | None) -> bool:
    """Whether the label prints a colour, size or count that the title lacks, while the title
    names variant words of its own: that title is another variant of the family. ("...Backpack,
    Blue" against "...Backpack, Small" or "...Backpack, Red" is a conflict; against
    "...Backpack" with no variant words, or against "...Backpack, Blue, Small", it is not.)"""
    if not label or not title:
        return False
    printed, listed = variant_tokens(label), variant_tokens(title)
    if not any(listed.values()):
        return False
    return any(printed[kind] - listed[kind] for kind in printed)


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
    "variant_conflict",
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
            # The label prints a colour, size or count this candidate's title contradicts.
            "variant_conflict": 1.0 if variant_conflict(label, candidate.title) else 0.0,
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
    return Scored(pool, capped_confidence(model, pool, label))


def capped_confidence(model: Calibration, ranked: Sequence[Candidate], label: str) -> float:
    """The calibrated confidence of the best of ``ranked``, capped when the label contradicts its
    colour, size or count: a wrong variant is the costliest mistake a reseller can make (the unit
    is listed as the wrong product), and no title similarity outweighs the label's own word."""
    confidence = model.confidence(answer_score(ranked))
    if ranked and ranked[0].features.get("variant_conflict"):
        return min(confidence, VARIANT_CONFLICT_CAP)
    return confidence


def answer_score(ranked: Sequence[Candidate]) -> float:
    """The best candidate's raw score, shared with the runner-up when together they claim more than certainty.

    Two look-alikes that both match the label perfectly each get a high raw
    score; only one can be right, so each is worth about a half. Only the
    runner-up counts: a long tail of weak search results says nothing about it."""
    if not ranked:
        return 0.0
    rival = ranked[1].raw if len(ranked) > 1 else 0.0
    return ranked[0].raw / max(1.0, ranked[0].raw + rival)
