"""The project's own app: monitoring wiring (database metrics) and the back office's template tags."""

from django.apps import AppConfig


class MonitoringConfig(AppConfig):
    name = "config"
    label = "monitoring"
    verbose_name = "Monitoring"

    def ready(self) -> None:
        from django.db.backends.signals import connection_created

        from config.metrics import instrument_connection

        connection_created.connect(instrument_connection, dispatch_uid="apip-db-metrics")
