import math
import random
from datetime import UTC, datetime, timedelta

import pytest

from conversion.calibration import (
    accuracy_at,
    expected_calibration_error,
    fit_isotonic,
    fit_logistic,
)
from conversion.evidence import (
    CATALOG_SEARCH,
    COMMUNITY,
    FBA_INVENTORY,
    STICKERLESS,
    Evidence,
    community_weight,
    learned_weight,
)
from conversion.scoring import (
    Calibration,
    Candidate,
    answer_score,
    calibration_load,
    label_similarity,
    normalize_text,
    score,
    variant_conflict,
    variant_tokens,
)

NOW = datetime(2026, 6, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("[SAMPLE] Northwind Compact Water Bottle, Black", "northwlnd compact water bottle black"),
        ("Northwind Compact Water Bottle, Black New", "northwlnd compact water bottle black"),
        ("NEW Northwind Compact Water Bottle… Used - Like New", "northwlnd compact water bottle"),
        ("N0rthw1nd C0mpact Water B0tt1e, B1ack", "northwlnd compact water bottle black"),
        ("Refurbished", ""),
        ("New Balance Shoes", "balance shoes"),
        (None, ""),
    ],
)
def test_text_is_normalised_symmetrically(raw, expected):
    assert normalize_text(raw) == expected


def test_search_keywords_are_not_ocr_folded():
    assert normalize_text("Insulated Yoga Mat, Blue New", fold_ocr=False) == "insulated yoga mat blue"


def test_similarity_tells_look_alikes_apart_and_forgives_label_damage():
    black = normalize_text("[SAMPLE] Northwind Compact Water Bottle, Black")
    blue = normalize_text("[SAMPLE] Northwind Compact Water Bottle, Blue")
    label = normalize_text("N0RTHWIND COMPACT WATER BOTTLE, BLACK New")

    assert label_similarity(label, black) == 1.0
    assert label_similarity(label, blue) < 0.97
    truncated = normalize_text("Northwind Compact Water Bot...")
    assert label_similarity(truncated, black) > 0.9
    assert label_similarity("", black) is None
    assert label_similarity(label, "") is None


def test_community_and_learned_weights_grow_with_agreement_and_fall_with_rejections():
    assert community_weight(0, 3) == 0
    assert community_weight(1, 0) < community_weight(2, 0) < community_weight(3, 0) < 1
    assert community_weight(2, 2) < community_weight(2, 0)
    assert learned_weight(1, 0) < learned_weight(3, 0) <= 0.9
    assert learned_weight(3, 1) == learned_weight(3, 0) / 2


def _candidate(asin, title, *evidence):
    return Candidate(asin=asin, evidence=list(evidence), title=title)


def test_stickerless_is_certain_by_rule():
    rule = Evidence(STICKERLESS, "B07N4M94X4", "rule", 1.0, NOW)
    scored = score([_candidate("B07N4M94X4", "A TV", rule)], "", now=NOW)

    assert scored.confidence == 1.0
    assert scored.best.asin == "B07N4M94X4"


def test_the_label_breaks_a_tie_between_conflicting_exact_sources():
    a = _candidate(
        "B0AAAAAAAA",
        "[SAMPLE] Northwind Compact Water Bottle, Black",
        Evidence(COMMUNITY, "B0AAAAAAAA", "1 user", community_weight(1, 0), NOW - timedelta(days=3)),
    )
    b = _candidate(
        "B0BBBBBBBB",
        "[SAMPLE] Northwind Compact Water Bottle, Blue",
        Evidence(COMMUNITY, "B0BBBBBBBB", "1 user", community_weight(1, 0), NOW - timedelta(days=3)),
    )
    label = normalize_text("Northwind Compact Water Bottle, Blue New")

    scored = score([a, b], label, now=NOW)

    assert scored.best.asin == "B0BBBBBBBB"
    assert scored.candidates[1].raw < scored.best.raw


def test_more_agreeing_evidence_means_more_confidence():
    seen = NOW - timedelta(days=2)
    lone = score(
        [_candidate("B0AAAAAAAA", "T", Evidence(COMMUNITY, "B0AAAAAAAA", "1", community_weight(1, 0), seen))],
        "",
        now=NOW,
    )
    backed = score(
        [
            _candidate(
                "B0AAAAAAAA",
                "T",
                Evidence(COMMUNITY, "B0AAAAAAAA", "1", community_weight(1, 0), seen),
                Evidence(FBA_INVENTORY, "B0AAAAAAAA", "fba", 0.99, seen),
            )
        ],
        "",
        now=NOW,
    )
    assert backed.confidence > lone.confidence


def test_identical_look_alikes_share_the_confidence():
    title = "[SAMPLE] Fabrikam Foldable Dog Leash, Black"
    label = normalize_text("Fabrikam Foldable Dog Leash, Black New")
    one = score(
        [_candidate("B0AAAAAAAA", title, Evidence(CATALOG_SEARCH, "B0AAAAAAAA", "r1", 0.3, rank=0))],
        label,
        now=NOW,
    )
    two = score(
        [
            _candidate("B0AAAAAAAA", title, Evidence(CATALOG_SEARCH, "B0AAAAAAAA", "r1", 0.3, rank=0)),
            _candidate("B0BBBBBBBB", title, Evidence(CATALOG_SEARCH, "B0BBBBBBBB", "r2", 0.15, rank=1)),
        ],
        label,
        now=NOW,
    )
    assert two.confidence < one.confidence
    assert two.confidence <= 0.7


def test_answer_score_shares_only_beyond_certainty():
    a, b = Candidate("A"), Candidate("B")
    a.raw, b.raw = 0.5, 0.3
    assert answer_score([a, b]) == 0.5
    a.raw, b.raw = 0.9, 0.9
    assert answer_score([a, b]) == 0.5


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Platinum Elite Softside Luggage, True Navy Blue, Checked Medium 25-Inch",
            {"colour": {"navy", "blue"}, "size": {"medlum", "25in"}, "count": set()},
        ),
        ("Sparkling Water, 12 fl oz, Pack of 24", {"colour": set(), "size": {"12oz"}, "count": {"24"}}),
        ("AA Batteries 48 Count", {"colour": set(), "size": set(), "count": {"48"}}),
        # OCR damage reads alike on both sides: "B1ue" is blue, "l6oz" is 16 oz, "6-Pack" a count.
        ("Tumbler l6oz B1ue 6-Pack", {"colour": {"blue"}, "size": {"16oz"}, "count": {"6"}}),
        ("", {"colour": set(), "size": set(), "count": set()}),
    ],
)
def test_variant_words_are_read_from_labels_and_titles(text, expected):
    assert variant_tokens(text) == expected
    assert variant_tokens(normalize_text(text)) == expected


def test_a_label_contradicting_a_titles_variant_words_is_a_conflict():
    assert variant_conflict("Hiking Backpack, Blue", "Hiking Backpack, Red")
    assert variant_conflict("Hiking Backpack, Blue New", "Hiking Backpack, Small")
    assert variant_conflict("Coffee Pods, Pack of 12", "Coffee Pods, Pack of 24")
    assert not variant_conflict("Hiking Backpack, Blue", "Hiking Backpack, Blue, Small")
    assert not variant_conflict("Hiking Backpack...Blue", "Hiking Backpack with Hip Belt, Blue")
    assert not variant_conflict("Hiking Backpack, Blue", "Hiking Backpack")  # nothing to contradict
    assert not variant_conflict("Hiking Backpack", "Hiking Backpack, Red")  # the label says nothing


def test_a_wrong_variant_is_never_answered_confidently():
    """Only the wrong variant is found: it matches every other word, but the label says Blue."""
    red = Candidate(
        "B0RED00001",
        evidence=[Evidence(source=CATALOG_SEARCH, asin="B0RED00001", detail="", weight=0.5, rank=0)],
        title="Trail Hiking Backpack 30 L, Red",
    )
    generous = Calibration(0.0, {"sim_high": 20.0}, (0.0, 1.0), (0.0, 0.99))

    scored = score(
        [red], normalize_text("Trail Hiking Backpack 30 L, Blue New"), now=NOW, calibration=generous
    )

    assert scored.best is red
    assert red.features["variant_conflict"] == 1.0
    assert scored.confidence <= 0.5


def test_calibration_map_is_linear_between_points_and_capped():
    model = Calibration(0.0, {}, (0.2, 0.6), (0.1, 0.9))
    assert model.confidence(0.0) == 0.1
    assert model.confidence(0.4) == pytest.approx(0.5)
    assert model.confidence(1.0) == 0.9
    capped = Calibration(0.0, {}, (0.5,), (1.0,))
    assert capped.confidence(0.9) == 0.995


def test_the_committed_model_loads_and_knows_every_feature():
    from conversion.scoring import FEATURES

    model = calibration_load()
    assert set(model.coefficients) == set(FEATURES)
    assert list(model.isotonic_x) == sorted(model.isotonic_x)
    assert list(model.isotonic_y) == sorted(model.isotonic_y)


# --- The fitting routines --------------------------------------------------------------------------


def test_logistic_regression_recovers_known_coefficients():
    rng = random.Random(7)
    rows, labels = [], []
    for _ in range(4000):
        x1, x2 = rng.uniform(-2, 2), rng.uniform(-2, 2)
        p = 1 / (1 + math.exp(-(0.5 + 2.0 * x1 - 1.0 * x2)))
        rows.append([x1, x2])
        labels.append(int(rng.random() < p))

    intercept, (b1, b2) = fit_logistic(rows, labels, l2=0.0)

    assert intercept == pytest.approx(0.5, abs=0.2)
    assert b1 == pytest.approx(2.0, abs=0.25)
    assert b2 == pytest.approx(-1.0, abs=0.2)


def test_isotonic_fit_is_monotone_and_pools_violators():
    _xs, ys = fit_isotonic([0.1, 0.2, 0.3, 0.4, 0.5, 0.6], [0, 1, 0, 1, 1, 1])
    assert ys == sorted(ys)
    assert ys[0] == 0.0
    assert ys[-1] == 1.0
    assert 0.5 in ys  # the violating pair (0.2: right, 0.3: wrong) pooled


def test_isotonic_blocks_have_a_minimum_size():
    rng = random.Random(3)
    scores = [rng.random() for _ in range(300)]
    outcomes = [int(rng.random() < s) for s in scores]
    xs, ys = fit_isotonic(scores, outcomes, min_count=30)
    assert len(set(ys)) <= 10  # blocks of at least 30 of the 300 outcomes
    assert ys == sorted(ys)
    assert xs == sorted(xs)


def test_expected_calibration_error_and_thresholds():
    confidences = [0.95] * 10 + [0.55] * 10
    correct = [True] * 9 + [False] + [True] * 5 + [False] * 5
    assert expected_calibration_error(confidences, correct) == pytest.approx(0.5 * 0.05 + 0.5 * 0.05)

    rows = accuracy_at([0.95, 0.55, None, 0.92], [True, False, False, False], [0.5, 0.9])
    assert [(r.answered, r.correct, r.total) for r in rows] == [(3, 1, 4), (2, 1, 4)]
    assert rows[1].accuracy == 0.5
    assert rows[0].coverage == 0.75
