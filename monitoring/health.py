"""Liveness and readiness.

``/health`` answers as long as the process serves requests and touches nothing
else, so a slow database never gets a healthy pod killed. ``/health/ready``
checks each dependency the platform needs to do useful work and says which one
failed. It also adds what the apps registered as readiness reports
(``monitoring.registry.register_readiness_report``), which inform without
counting against readiness: products adds each configured provider's circuit
breaker (``providers``, products/collectors.py). With a provider's
circuit open the platform still serves cached and stored products and falls
back to the next provider, and taking every pod out of the load balancer
because an upstream is down would turn a partial outage into a full one.
Alerts watch the circuits instead (``apip_provider_circuit_state``).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from kombu import Connection

from monitoring.registry import readiness_reports


def check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def check_cache() -> None:
    key = f"health:{uuid.uuid4().hex}"
    cache.set(key, "ok", timeout=10)
    if cache.get(key) != "ok":
        raise RuntimeError("cache did not return what was stored")
    cache.delete(key)


def check_broker() -> None:
    with Connection(
        settings.CELERY_BROKER_URL,
        transport_options=settings.CELERY_BROKER_TRANSPORT_OPTIONS,
        connect_timeout=settings.HEALTH_CHECK_TIMEOUT,
    ) as conn:
        conn.ensure_connection(max_retries=1, timeout=settings.HEALTH_CHECK_TIMEOUT)


READINESS_CHECKS: dict[str, Callable[[], None]] = {
    "database": check_database,
    "cache": check_cache,
    "broker": check_broker,
}


@never_cache
@require_GET
def liveness(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


@never_cache
@require_GET
def readiness(request: HttpRequest) -> JsonResponse:
    checks: dict[str, dict[str, object]] = {}
    for name, check in READINESS_CHECKS.items():
        started = time.perf_counter()
        try:
            check()
        except Exception as exc:  # any failure of a dependency means "not ready"
            checks[name] = {"status": "error", "error": f"{type(exc).__name__}: {exc}"}
        else:
            checks[name] = {"status": "ok"}
        checks[name]["ms"] = round((time.perf_counter() - started) * 1000, 1)
    ready = all(c["status"] == "ok" for c in checks.values())
    failed = [name for name, c in checks.items() if c["status"] != "ok"]
    return JsonResponse(
        {
            "status": "ok" if ready else "unavailable",
            "failed": failed,
            "checks": checks,
            **{key: report() for key, report in readiness_reports().items()},
        },
        status=200 if ready else 503,
    )
