from django.apps import AppConfig


class WatchlistsConfig(AppConfig):
    name = "products.watchlists"
    label = "watchlists"
    verbose_name = "Watchlists"
    default_auto_field = "django.db.models.BigAutoField"
