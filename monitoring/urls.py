"""/health, /health/ready and /metrics, mounted at the site's root by config/urls.py."""

from django.urls import path

from monitoring import health, metrics_view

urlpatterns = [
    path("health", health.liveness, name="health"),
    path("health/ready", health.readiness, name="health-ready"),
    # django-prometheus's exporter, aggregated across processes and restricted by configuration.
    path("metrics", metrics_view.metrics, name="prometheus-django-metrics"),
]
