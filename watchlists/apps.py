from django.apps import AppConfig


class WatchlistsConfig(AppConfig):
    name = "watchlists"
    label = "watchlists"
    verbose_name = "Watchlists"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from watchlists import home

        home.register()  # the refresh's price on the landing page, the checklist's watchlist step
