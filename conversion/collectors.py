"""Conversion's scrape-time gauge for /metrics, registered with monitoring from ConversionConfig.ready().

``conversions``: FNSKU conversions logged, by status and confidence band (shared for
``METRICS_DB_TTL`` seconds).
"""

from __future__ import annotations

from collections.abc import Iterator

from django.db.models import Case, CharField, Count, Value, When
from prometheus_client.core import GaugeMetricFamily, Metric

from core.confidence import CONFIDENCE_BANDS
from monitoring.registry import register_collector, tables_exist


def conversion_counts() -> list[tuple[str, str, int]] | None:
    from conversion.models import Conversion

    if not tables_exist(Conversion):
        return None
    whens = [When(confidence__gte=band.low, then=Value(band.metric_label)) for band in CONFIDENCE_BANDS]
    band = Case(*whens, default=Value("none"), output_field=CharField())
    rows = (
        Conversion.objects.annotate(band=band)
        .values_list("status", "band")
        .annotate(n=Count("id"))
        .order_by()
    )
    return [(status, band_label, n) for status, band_label, n in rows]


def conversion_families(conversions: list[tuple[str, str, int]]) -> Iterator[Metric]:
    family = GaugeMetricFamily(
        "apip_fnsku_conversions",
        "FNSKU conversions logged, by status and confidence band (none: no confidence).",
        labels=["status", "confidence_band"],
    )
    for status, band, count in sorted(conversions):
        family.add_metric([status, band], count)
    yield family


def register() -> None:
    register_collector(
        "conversions",
        conversion_counts,
        conversion_families,
        metric_names=["apip_fnsku_conversions"],
        ttl_setting="METRICS_DB_TTL",
    )
