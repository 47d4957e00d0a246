from django.apps import AppConfig


class SchedulesConfig(AppConfig):
    name = "products.schedules"
    label = "schedules"
    verbose_name = "Scheduled collections"
