"""The bulk engine's scrape-time gauges for /metrics, registered with monitoring from JobsConfig.ready().

- ``bulk``: bulk job items and jobs by status (shared for ``METRICS_DB_TTL`` seconds).
"""

from __future__ import annotations

from collections.abc import Iterator

from django.db.models import Count
from prometheus_client.core import GaugeMetricFamily, Metric

from monitoring.registry import register_collector, tables_exist

BULK_ITEM_STATUSES = ("pending", "claimed", "succeeded", "failed", "cancelled", "invalid")
BULK_JOB_STATUSES = ("queued", "running", "completed", "failed", "cancelled")


def bulk_counts() -> dict[str, dict[str, int]] | None:
    from jobs.models import BulkItem, BulkJob

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


def register() -> None:
    register_collector(
        "bulk",
        bulk_counts,
        bulk_families,
        metric_names=["apip_bulk_items", "apip_bulk_backlog_items", "apip_bulk_jobs"],
        ttl_setting="METRICS_DB_TTL",
    )
