"""Products' scrape-time gauges for /metrics, registered with monitoring from ProductsConfig.ready().

- ``circuits``: each configured provider's circuit breaker (read from Redis on every scrape).
- ``bulk``: bulk job items and jobs by status (shared for ``METRICS_DB_TTL`` seconds).
"""

from __future__ import annotations

from collections.abc import Iterator

from django.db.models import Count
from prometheus_client.core import GaugeMetricFamily, Metric

from monitoring.registry import register_collector, register_readiness_report, tables_exist

BULK_ITEM_STATUSES = ("pending", "claimed", "succeeded", "failed", "cancelled", "invalid")
BULK_JOB_STATUSES = ("queued", "running", "completed", "failed", "cancelled")


def circuit_states() -> dict[str, str]:
    from products.providers import provider_status

    return {name: str(status["circuit"]) for name, status in provider_status().items()}


def circuit_families(circuits: dict[str, str]) -> Iterator[Metric]:
    family = GaugeMetricFamily(
        "apip_provider_circuit_state",
        "Circuit breaker of each configured provider: 1 for its state (closed, open, half_open).",
        labels=["provider", "state"],
    )
    for provider, current in sorted(circuits.items()):
        for state in ("closed", "open", "half_open"):
            family.add_metric([provider, state], 1 if current == state else 0)
    yield family


def bulk_counts() -> dict[str, dict[str, int]] | None:
    from products.models import BulkItem, BulkJob

    if not tables_exist(BulkItem, BulkJob):
        return None
    items = BulkItem.objects.values_list("status").annotate(n=Count("id")).order_by()
    jobs = BulkJob.objects.values_list("status").annotate(n=Count("id")).order_by()
    return {"items": dict(items), "jobs": dict(jobs)}


def bulk_families(bulk: dict[str, dict[str, int]]) -> Iterator[Metric]:
    items = GaugeMetricFamily("apip_bulk_items", "Bulk job items by status (all jobs).", labels=["status"])
    for status in BULK_ITEM_STATUSES:
        items.add_metric([status], bulk["items"].get(status, 0))
    yield items
    yield GaugeMetricFamily(
        "apip_bulk_backlog_items",
        "Bulk job items waiting or being worked on (pending and claimed).",
        value=bulk["items"].get("pending", 0) + bulk["items"].get("claimed", 0),
    )
    jobs = GaugeMetricFamily("apip_bulk_jobs", "Bulk jobs by status.", labels=["status"])
    for status in BULK_JOB_STATUSES:
        jobs.add_metric([status], bulk["jobs"].get(status, 0))
    yield jobs


def provider_circuits() -> dict[str, dict[str, object]]:
    """/health/ready's ``providers``: each configured provider's circuit (closed, open, half_open).

    Informational only: with a provider's circuit open the platform still serves
    cached and stored products and falls back to the next provider.
    """
    from products import conf
    from products.providers import provider_status

    try:
        return {
            name: {"circuit": status["circuit"], "configured": status["configured"]}
            for name, status in provider_status().items()
        }
    except Exception as exc:  # Redis down: the cache check already fails readiness
        error = f"{type(exc).__name__}: {exc}"
        return {name: {"circuit": "unknown", "error": error} for name in conf.product_providers()}


def register() -> None:
    register_collector(
        "circuits", circuit_states, circuit_families, metric_names=["apip_provider_circuit_state"]
    )
    register_collector(
        "bulk",
        bulk_counts,
        bulk_families,
        metric_names=["apip_bulk_items", "apip_bulk_backlog_items", "apip_bulk_jobs"],
        ttl_setting="METRICS_DB_TTL",
    )
    register_readiness_report("providers", provider_circuits)
