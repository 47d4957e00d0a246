"""Bands of a confidence (a calibrated probability, 0..1), the same wherever it is shown or
counted: the analytics page and the Prometheus metric of FNSKU conversions. Pure data."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ConfidenceBand:
    label: str  # for people (the analytics page)
    metric_label: str  # a Prometheus label value
    low: float  # inclusive
    high: float  # exclusive; the top band's is above 1 so that a confidence of 1 is in it


# Highest first: the metric puts a conversion in the first band whose ``low`` it reaches.
CONFIDENCE_BANDS = (
    ConfidenceBand("≥ 0.95", "ge_0.95", 0.95, 1.01),
    ConfidenceBand("0.80-0.95", "0.8_0.95", 0.8, 0.95),
    ConfidenceBand("0.50-0.80", "0.5_0.8", 0.5, 0.8),
    ConfidenceBand("< 0.50", "lt_0.5", 0.0, 0.5),
)
