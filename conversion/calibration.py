"""Fitting and checking the confidence model: small pure-Python routines, no numeric libraries.

- ``fit_logistic``: L2-regularised logistic regression by Newton's method
  (iteratively reweighted least squares); a dozen features, a few thousand rows.
- ``fit_isotonic``: pool-adjacent-violators, the monotone step function that
  best fits 0/1 outcomes; kept as points (each block's lowest and highest
  score at its rate) and read flat within a block, linearly across the gaps
  between blocks (conversion/scoring.py ``Calibration.confidence``).
- ``expected_calibration_error``: ECE over equal-width confidence bins.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass


def _solve(matrix: list[list[float]], vector: list[float]) -> list[float]:
    """Solve ``matrix @ x = vector`` by Gaussian elimination with partial pivoting."""
    n = len(vector)
    a = [[*row, vector[i]] for i, row in enumerate(matrix)]
    for col in range(n):
        pivot = max(range(col, n), key=lambda r: abs(a[r][col]))
        if abs(a[pivot][col]) < 1e-12:
            raise ValueError("singular system")
        a[col], a[pivot] = a[pivot], a[col]
        for r in range(col + 1, n):
            factor = a[r][col] / a[col][col]
            if factor:
                for c in range(col, n + 1):
                    a[r][c] -= factor * a[col][c]
    x = [0.0] * n
    for r in range(n - 1, -1, -1):
        x[r] = (a[r][n] - sum(a[r][c] * x[c] for c in range(r + 1, n))) / a[r][r]
    return x


def _sigmoid(z: float) -> float:
    return 1 / (1 + math.exp(-max(-40.0, min(40.0, z))))


def fit_logistic(
    rows: Sequence[Sequence[float]], labels: Sequence[int], *, l2: float = 1.0, iterations: int = 50
) -> tuple[float, list[float]]:
    """Intercept and coefficients maximising the L2-penalised likelihood (the intercept is not penalised)."""
    if not rows:
        raise ValueError("no rows to fit")
    d = len(rows[0]) + 1
    data = [[1.0, *row] for row in rows]
    beta = [0.0] * d
    for _ in range(iterations):
        gradient = [0.0] * d
        hessian = [[0.0] * d for _ in range(d)]
        for x, y in zip(data, labels, strict=True):
            p = _sigmoid(sum(b * v for b, v in zip(beta, x, strict=True)))
            w = max(p * (1 - p), 1e-9)
            for i in range(d):
                gradient[i] += (y - p) * x[i]
                if x[i]:
                    wi = w * x[i]
                    row = hessian[i]
                    for j in range(d):
                        row[j] += wi * x[j]
        for i in range(1, d):
            gradient[i] -= l2 * beta[i]
            hessian[i][i] += l2
        step = _solve(hessian, gradient)
        beta = [b + s for b, s in zip(beta, step, strict=True)]
        if max(abs(s) for s in step) < 1e-8:
            break
    return beta[0], beta[1:]


def fit_isotonic(
    scores: Sequence[float], outcomes: Sequence[int], *, min_count: int = 1
) -> tuple[list[float], list[float]]:
    """Pool adjacent violators: the points of the monotone map from a score to its rate of right answers.

    Blocks of fewer than ``min_count`` outcomes are merged into the neighbour
    with the closer rate: a rate measured on three cases is noise, not calibration."""
    pairs = sorted(zip(scores, outcomes, strict=True))
    # Each block: [lowest score, sum of outcomes, count, highest score]
    blocks: list[list[float]] = []
    for score, outcome in pairs:
        if blocks and blocks[-1][3] == score:  # equal scores are one point
            blocks[-1][1] += outcome
            blocks[-1][2] += 1
        else:
            blocks.append([score, float(outcome), 1.0, score])
        while len(blocks) > 1 and blocks[-2][1] / blocks[-2][2] >= blocks[-1][1] / blocks[-1][2]:
            last = blocks.pop()
            blocks[-1] = [blocks[-1][0], blocks[-1][1] + last[1], blocks[-1][2] + last[2], last[3]]
    while len(blocks) > 1:
        small = min(range(len(blocks)), key=lambda i: blocks[i][2])
        if blocks[small][2] >= min_count:
            break
        rate = blocks[small][1] / blocks[small][2]
        neighbours = [i for i in (small - 1, small + 1) if 0 <= i < len(blocks)]
        other = min(neighbours, key=lambda i: abs(blocks[i][1] / blocks[i][2] - rate))
        first, second = sorted((small, other))
        low, high = blocks[first], blocks[second]
        blocks[first : second + 1] = [[low[0], low[1] + high[1], low[2] + high[2], high[3]]]
    # Flat over each block (from its lowest to its highest score), linear across the gaps
    # between blocks, as isotonic regression predicts.
    xs: list[float] = []
    ys: list[float] = []
    for low_score, hits, count, high_score in blocks:
        for x in (low_score, high_score) if high_score > low_score else (low_score,):
            xs.append(x)
            ys.append(hits / count)
    return xs, ys


@dataclass(frozen=True)
class ThresholdRow:
    threshold: float
    answered: int
    correct: int
    total: int

    @property
    def accuracy(self) -> float | None:
        return self.correct / self.answered if self.answered else None

    @property
    def coverage(self) -> float:
        return self.answered / self.total if self.total else 0.0


def accuracy_at(
    confidences: Sequence[float | None], correct: Sequence[bool], thresholds: Sequence[float]
) -> list[ThresholdRow]:
    """Per threshold: how many cases got an answer with at least that confidence, and how many were right.

    ``None`` is a case with no answer at all (refused as not found)."""
    rows = []
    for threshold in thresholds:
        answered = [
            ok for c, ok in zip(confidences, correct, strict=True) if c is not None and c >= threshold
        ]
        rows.append(ThresholdRow(threshold, len(answered), sum(answered), len(confidences)))
    return rows


@dataclass(frozen=True)
class Bin:
    low: float
    high: float
    count: int
    mean_confidence: float
    accuracy: float


def reliability_bins(confidences: Sequence[float], correct: Sequence[bool], bins: int = 10) -> list[Bin]:
    grouped: list[list[tuple[float, bool]]] = [[] for _ in range(bins)]
    for c, ok in zip(confidences, correct, strict=True):
        grouped[min(bins - 1, int(c * bins))].append((c, ok))
    return [
        Bin(
            low=i / bins,
            high=(i + 1) / bins,
            count=len(group),
            mean_confidence=sum(c for c, _ in group) / len(group) if group else 0.0,
            accuracy=sum(ok for _, ok in group) / len(group) if group else 0.0,
        )
        for i, group in enumerate(grouped)
    ]


def expected_calibration_error(
    confidences: Sequence[float], correct: Sequence[bool], bins: int = 10
) -> float:
    """Sum over bins of (share of answers in the bin) x |accuracy - mean confidence|."""
    total = len(confidences)
    if not total:
        return 0.0
    return sum(
        b.count / total * abs(b.accuracy - b.mean_confidence)
        for b in reliability_bins(confidences, correct, bins)
        if b.count
    )
