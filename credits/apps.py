from django.apps import AppConfig


class CreditsConfig(AppConfig):
    name = "credits"
    verbose_name = "Credits"

    def ready(self) -> None:
        from credits import collectors

        collectors.register()  # the ledger reconciliation gauges on /metrics
