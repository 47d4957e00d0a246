"""Request metrics: the django-prometheus series the alerts and the dashboard read, and no others.

django-prometheus's Before/After pair updates about fifteen series per request
(bodies, charsets, transports, AJAX, ...); in multiprocess mode each update is a
write to a memory-mapped file, and together they cost about a third of a cheap
request's CPU. This middleware keeps the same series names and labels for the
three that deploy/prometheus and deploy/grafana use, and resolves each label set
once per process.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponseBase
from django_prometheus.middleware import Metrics

KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT"})
UNNAMED_VIEW = "<unnamed view>"


class RequestMetricsMiddleware:
    """First in MIDDLEWARE, so the latency covers every other middleware too."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response
        self.metrics = Metrics.get_instance()
        self._children: dict[tuple[str, str, str, str], tuple[Any, Any, Any]] = {}

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        started = time.perf_counter()
        response = self.get_response(request)
        self._record(request, str(response.status_code), time.perf_counter() - started)
        return response

    def _record(self, request: HttpRequest, status: str, seconds: float) -> None:
        match = getattr(request, "resolver_match", None)
        view = (match.view_name if match is not None else None) or UNNAMED_VIEW
        method = request.method if request.method in KNOWN_METHODS else "<invalid method>"
        transport = "https" if request.is_secure() else "http"
        key = (view, str(method), transport, status)
        children = self._children.get(key)
        if children is None:
            children = (
                self.metrics.requests_by_view_transport_method.labels(
                    view=view, transport=transport, method=method
                ),
                self.metrics.responses_by_status.labels(status=status),
                self.metrics.requests_latency_by_view_method.labels(view=view, method=method),
            )
            self._children[key] = children
        requests, responses, latency = children
        requests.inc()
        responses.inc()
        latency.observe(seconds)
