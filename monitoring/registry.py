"""What the domain apps plug into monitoring, so that monitoring imports none of them.

- **Scrape-time collectors** (``register_collector``): state that lives in an
  app's tables or in Redis, read when /metrics is scraped. The app says how to
  compute its value, which gauge families that value becomes, and the setting
  that holds how long the value may be shared through the cache. Monitoring
  runs them in registration order (``INSTALLED_APPS`` order, as each app's
  ``AppConfig.ready()`` registers) and reports each one in
  ``apip_collector_up{collector}``.
- **Readiness reports** (``register_readiness_report``): extra keys of
  ``/health/ready``'s answer that inform without counting against readiness
  (the providers' circuits).

An app registers from its ``AppConfig.ready()``; registering a name twice
replaces the earlier entry (the test runner and ``runserver``'s reloader may
call ``ready()`` again).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from django.db import connection
from prometheus_client.core import Metric


@dataclass(frozen=True)
class ScrapeCollector:
    name: str
    """Its ``collector`` label in ``apip_collector_up``, and its cache key."""
    compute: Callable[[], Any]
    """Its current value; ``None`` when it cannot say (its app's tables are missing, say)."""
    families: Callable[[Any], Iterable[Metric]]
    """The metric families for a value ``compute()`` returned (never called with ``None``)."""
    metric_names: tuple[str, ...]
    """The names of the families it yields, for the dashboard and alert-rule tests."""
    ttl_setting: str | None = None
    """The setting holding the seconds its value is shared through the cache; ``None``: every scrape."""


_collectors: dict[str, ScrapeCollector] = {}
_readiness_reports: dict[str, Callable[[], Any]] = {}


def register_collector(
    name: str,
    compute: Callable[[], Any],
    families: Callable[[Any], Iterable[Metric]],
    *,
    metric_names: Iterable[str],
    ttl_setting: str | None = None,
) -> None:
    _collectors[name] = ScrapeCollector(name, compute, families, tuple(metric_names), ttl_setting)


def collectors() -> list[ScrapeCollector]:
    return list(_collectors.values())


def register_readiness_report(key: str, report: Callable[[], Any]) -> None:
    """Add ``key: report()`` to /health/ready's answer; informational, never fails readiness."""
    _readiness_reports[key] = report


def readiness_reports() -> dict[str, Callable[[], Any]]:
    return dict(_readiness_reports)


def tables_exist(*models: Any) -> bool:
    """Whether every model's table exists (a collector skips until its app is migrated)."""
    with connection.cursor() as cursor:
        tables = set(connection.introspection.table_names(cursor))
    return all(model._meta.db_table in tables for model in models)
