from django.apps import AppConfig


class SchedulesHistoryConfig(AppConfig):
    """Migrations only: see the package's docstring."""

    name = "jobs.schedules_history"
    label = "schedules"
    verbose_name = "Scheduled collections (migration history)"
