"""Monitoring: /metrics, /health and request and database metrics.

Domain apps register their own scrape-time collectors and readiness checks with
``monitoring.registry`` from their ``AppConfig.ready()``; monitoring imports no
domain app (docs/architecture.md, "Layers and import rules").
"""

from django.apps import AppConfig


class MonitoringConfig(AppConfig):
    name = "monitoring"
    label = "monitoring"
    verbose_name = "Monitoring"

    def ready(self) -> None:
        from django.db.backends.signals import connection_created

        from monitoring import celery_metrics
        from monitoring.metrics import instrument_connection, register_celery_queues

        connection_created.connect(instrument_connection, dispatch_uid="apip-db-metrics")
        register_celery_queues()
        celery_metrics.connect()
