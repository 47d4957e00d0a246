from django.apps import AppConfig


class ConversionConfig(AppConfig):
    name = "conversion"
    verbose_name = "FNSKU conversion"

    def ready(self) -> None:
        from conversion import collectors
        from conversion.bulk import bulk_kind
        from jobs.bulk.kinds import bulk_kind_register

        bulk_kind_register(bulk_kind())
        collectors.register()  # conversions by status and confidence band on /metrics
