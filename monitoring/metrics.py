"""The platform's own Prometheus metrics, defined in one place.

Two kinds:

- **Counted where they happen** (Counter, Histogram): lookups, credits moved,
  webhook events, rate-limiter waits, Celery tasks. Services call the small
  ``record_*`` helpers below with one line. Under gunicorn or a Celery prefork
  pool, ``PROMETHEUS_MULTIPROC_DIR`` makes every process write its values to
  files there, and ``/metrics`` adds them up (``monitoring.metrics_view``).
- **Read at scrape time** (``ScrapeTimeCollector``): state that lives in
  Redis or the database and is the same whichever process is asked. Each app
  registers its own collector with ``monitoring.registry`` from its
  ``AppConfig.ready()``: products the circuit breakers and the bulk backlog
  (products/collectors.py), conversion the FNSKU conversions by status and
  confidence band (conversion/collectors.py), credits the ledger
  reconciliation (credits/collectors.py); monitoring itself the Celery queue
  length (below). A collector given a TTL setting (``METRICS_DB_TTL``,
  ``METRICS_RECONCILIATION_TTL``) is computed at most once per that many
  seconds across all processes (kept in the shared cache), so several
  scrapers and pods do not multiply the queries. Apps that are not installed
  register nothing; a collector whose tables are not migrated yet answers
  ``None`` (``apip_collector_up{collector}`` says which ones answered).

Upstream HTTP calls are counted by products/providers/http.py
(``products_upstream_requests_total{provider,operation,outcome}`` and
``products_upstream_request_seconds``); their names are listed in
``EXTERNAL_METRICS`` so the dashboard and alert tests know them.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from functools import lru_cache
from typing import Any

from django.db import connection, transaction
from prometheus_client import Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from monitoring.registry import collectors, register_collector

logger = logging.getLogger(__name__)

# --- Counted where they happen ------------------------------------------------------

LOOKUPS = Counter(
    "apip_lookups",
    "Product lookups by marketplace, where they were served from (cache, database, upstream, none), "
    "outcome and channel.",
    ["marketplace", "source", "outcome", "channel"],
)
LOOKUP_SECONDS = Histogram(
    "apip_lookup_duration_seconds",
    "Time of a metered lookup inside the service (charge, fetch, log) by source.",
    ["source"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
CREDITS = Counter(
    "apip_credits",
    "Credits moved by the ledger (absolute amount) by entry kind (charge, refund, purchase, grant, "
    "adjustment, hold, release, reversal) and operation.",
    ["kind", "operation"],
)
LEDGER_ENTRIES = Counter(
    "apip_ledger_entries",
    "Ledger entries written, by kind and operation.",
    ["kind", "operation"],
)
WEBHOOK_EVENTS = Counter(
    "apip_webhook_events",
    "Stripe webhook events processed, by event type and result (processed, ignored, failed, duplicate).",
    ["type", "result"],
)
RATELIMIT_WAIT_SECONDS = Histogram(
    "apip_ratelimit_wait_seconds",
    "Time callers waited for a shared rate-limit token, by bucket.",
    ["bucket"],
    buckets=(0.0, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0),
)
RATELIMIT_REJECTED = Counter(
    "apip_ratelimit_rejected",
    "Calls refused because their rate-limit turn was too far away, by bucket.",
    ["bucket"],
)
CELERY_TASKS = Counter(
    "apip_celery_tasks",
    "Celery tasks run, by task name and final state (success, failure, retry, ...).",
    ["task", "state"],
)
CELERY_TASK_SECONDS = Histogram(
    "apip_celery_task_duration_seconds",
    "Celery task run time, by task name.",
    ["task"],
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0),
)

# Counted elsewhere, listed for the dashboard and rule tests.
EXTERNAL_METRICS = (
    "products_upstream_requests_total",
    "products_upstream_request_seconds",
)


# The labelled children of the series every lookup and charge updates, resolved once
# per label set and process (``labels()`` locks and builds a key on every call).
_lookup_children = lru_cache(maxsize=1024)(lambda *labels: LOOKUPS.labels(*labels))
_lookup_seconds_children = lru_cache(maxsize=64)(lambda source: LOOKUP_SECONDS.labels(source))
_ledger_children = lru_cache(maxsize=1024)(
    lambda kind, operation: (LEDGER_ENTRIES.labels(kind, operation), CREDITS.labels(kind, operation))
)


def record_lookup(*, marketplace: str, source: str, outcome: str, channel: str, seconds: float) -> None:
    _lookup_children(marketplace, source, outcome, channel).inc()
    _lookup_seconds_children(source).observe(seconds)


def record_ledger_entry(*, kind: str, operation: str, amount: int) -> None:
    """Count a new ledger entry once its transaction commits (a rolled-back charge moved nothing)."""

    def count() -> None:
        entries, credits = _ledger_children(kind, operation or "none")
        entries.inc()
        credits.inc(abs(amount))

    if connection.in_atomic_block:
        transaction.on_commit(count)
    else:
        count()


def record_webhook_event(*, type: str, result: str) -> None:
    WEBHOOK_EVENTS.labels(type, result).inc()


def record_ratelimit_wait(*, bucket: str, seconds: float) -> None:
    RATELIMIT_WAIT_SECONDS.labels(bucket).observe(seconds)


def record_ratelimit_rejected(*, bucket: str) -> None:
    RATELIMIT_REJECTED.labels(bucket).inc()


# --- Database metrics -----------------------------------------------------------------
# django-prometheus counts queries only through its own database engines; this
# counts the same series (django_db_*) with Django's execute_wrapper hook, so
# ENGINE stays the stock one that other code and tools compare against.


def _db_execute_wrapper(alias: str, vendor: str) -> Callable[..., Any]:
    from django_prometheus.db import errors_total, execute_many_total, execute_total, query_duration_seconds

    # Resolved once per connection rather than per query: every query passes here.
    executed = execute_total.labels(alias, vendor)
    executed_many = execute_many_total.labels(alias, vendor)
    duration = query_duration_seconds.labels(alias, vendor)

    def wrapper(execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any) -> Any:
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        except Exception as exc:
            errors_total.labels(alias, vendor, type(exc).__name__).inc()
            raise
        finally:
            executed.inc()
            if many:
                executed_many.inc()
            duration.observe(time.perf_counter() - started)

    return wrapper


def instrument_connection(sender: Any, connection: Any, **kwargs: Any) -> None:
    """``connection_created`` receiver: count this connection and its queries."""
    from django_prometheus.db import connections_total

    if getattr(connection, "_apip_instrumented", False):
        return
    connection._apip_instrumented = True
    connections_total.labels(connection.alias, connection.vendor).inc()
    connection.execute_wrappers.append(_db_execute_wrapper(connection.alias, connection.vendor))


# --- Read at scrape time -------------------------------------------------------------


def _cached(key: str, ttl: float, compute: Callable[[], Any]) -> Any:
    """``compute()``, shared by all processes for ``ttl`` seconds through the cache."""
    from django.core.cache import cache

    cache_key = f"metrics:collector:{key}"
    try:
        value = cache.get(cache_key)
    except Exception:  # the cache being down must not break the scrape
        value = None
    if value is None:
        value = compute()
        try:
            cache.set(cache_key, value, timeout=max(1, int(ttl)))
        except Exception:
            logger.warning("metrics: could not cache %s", key)
    return value


def celery_queue_lengths() -> dict[str, int] | None:
    """Messages waiting in the Redis broker's queues (other brokers: not measured here)."""
    from django.conf import settings

    url = settings.CELERY_BROKER_URL
    if not url.startswith(("redis://", "rediss://")):
        return None
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
    try:
        return {queue: int(client.llen(queue)) for queue in settings.METRICS_CELERY_QUEUES}
    finally:
        client.close()


def celery_queue_families(queues: dict[str, int]) -> Iterator[Metric]:
    family = GaugeMetricFamily(
        "apip_celery_queue_length", "Messages waiting in the broker, by queue.", labels=["queue"]
    )
    for queue, length in sorted(queues.items()):
        family.add_metric([queue], length)
    yield family


def register_celery_queues() -> None:
    register_collector(
        "celery_queues",
        celery_queue_lengths,
        celery_queue_families,
        metric_names=["apip_celery_queue_length"],
    )


class ScrapeTimeCollector(Collector):
    """Gauges computed when /metrics is scraped: each registered collector's (see the module's docstring)."""

    def collect(self) -> Iterator[Metric]:
        from django.conf import settings

        up = GaugeMetricFamily(
            "apip_collector_up",
            "1 when a scrape-time collector answered, 0 when it failed or its app's tables are missing.",
            labels=["collector"],
        )
        for collector in collectors():
            ttl = None if collector.ttl_setting is None else getattr(settings, collector.ttl_setting)
            try:
                value = (
                    collector.compute() if ttl is None else _cached(collector.name, ttl, collector.compute)
                )
                families = [] if value is None else list(collector.families(value))
            except Exception as exc:  # one broken source must not fail the whole scrape
                logger.warning("metrics collector %s failed: %s: %s", collector.name, type(exc).__name__, exc)
                up.add_metric([collector.name], 0)
                continue
            up.add_metric([collector.name], 0 if value is None else 1)
            yield from families
        yield up


def scrape_time_metric_names() -> set[str]:
    """``apip_collector_up`` and the families of every registered collector."""
    return {"apip_collector_up"}.union(*(collector.metric_names for collector in collectors()))


def platform_metric_names() -> set[str]:
    """Every series name this module, the registered collectors and the upstream client can export."""
    names: set[str] = scrape_time_metric_names() | set(EXTERNAL_METRICS)
    for metric in (
        LOOKUPS,
        LOOKUP_SECONDS,
        CREDITS,
        LEDGER_ENTRIES,
        WEBHOOK_EVENTS,
        RATELIMIT_WAIT_SECONDS,
        RATELIMIT_REJECTED,
        CELERY_TASKS,
        CELERY_TASK_SECONDS,
    ):
        for family in metric.describe():
            names.update(sample for sample in _sample_names(family))
    return names


def _sample_names(family: Metric) -> Iterator[str]:
    if family.type == "counter":
        yield from (f"{family.name}_total", f"{family.name}_created")
    elif family.type == "histogram":
        yield from (f"{family.name}{suffix}" for suffix in ("_bucket", "_sum", "_count", "_created"))
    else:
        yield family.name
