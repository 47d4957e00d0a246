from django.apps import AppConfig


class WatchlistsConfig(AppConfig):
    name = "watchlists"
    label = "watchlists"
    verbose_name = "Watchlists"
    default_auto_field = "django.db.models.BigAutoField"
