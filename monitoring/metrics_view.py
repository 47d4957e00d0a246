"""``/metrics``: django-prometheus's series, the platform's own, and the scrape-time gauges.

- Several processes (gunicorn workers): with ``PROMETHEUS_MULTIPROC_DIR`` set
  (deploy/gunicorn.conf.py sets it up) each process writes its counters to
  files there and this view adds them up with ``MultiProcessCollector``,
  whichever worker answers the scrape. Without it, the process's own registry.
- Restricted by configuration: ``METRICS_TOKEN`` (``Authorization: Bearer
  <token>``) and/or ``METRICS_ALLOWED_NETWORKS`` (CIDRs of the scrapers). With
  both set, either one admits a scrape. Refusals are 403 in the platform's
  error shape. With neither, it is open: settings refuse to start that way with
  ``DEBUG=0`` unless ``METRICS_PUBLIC=1``.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import os
from collections.abc import Iterator
from functools import lru_cache

import prometheus_client
from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import CollectorRegistry, multiprocess
from prometheus_client.core import Metric
from prometheus_client.registry import Collector

from core.errors import error_body
from monitoring.metrics import ScrapeTimeCollector


class _ProcessRegistry(Collector):
    """This process's default registry, as one collector of the scrape's registry."""

    def collect(self) -> Iterator[Metric]:
        yield from prometheus_client.REGISTRY.collect()


def multiprocess_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


def scrape_registry() -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    if multiprocess_dir():
        multiprocess.MultiProcessCollector(registry)
    else:
        registry.register(_ProcessRegistry())
    registry.register(ScrapeTimeCollector())
    return registry


@lru_cache(maxsize=8)
def _networks(raw: tuple[str, ...]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(item.strip(), strict=False) for item in raw if item.strip())


def _same_token(given: str, token: str) -> bool:
    # Constant time, on digests of one length: the comparison reveals neither the token nor its length.
    return hmac.compare_digest(
        hashlib.sha256(given.encode()).digest(), hashlib.sha256(token.encode()).digest()
    )


def scrape_allowed(request: HttpRequest) -> bool:
    token: str = settings.METRICS_TOKEN
    networks = _networks(tuple(settings.METRICS_ALLOWED_NETWORKS))
    if not token and not networks:
        return True
    if token:
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() == "bearer" and _same_token(given.strip(), token):
            return True
    if networks:
        # The peer's address, not X-Forwarded-For: a scraper inside the cluster
        # talks to the pod directly, and a forwarded header can be forged.
        try:
            address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
        except ValueError:
            return False
        return any(address in network for network in networks)
    return False


@never_cache
@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    if not scrape_allowed(request):
        return JsonResponse(
            error_body(
                "forbidden",
                "Metrics are restricted: send the metrics token or scrape from an allowed network.",
            ),
            status=403,
        )
    body = prometheus_client.generate_latest(scrape_registry())
    return HttpResponse(body, content_type=prometheus_client.CONTENT_TYPE_LATEST)
