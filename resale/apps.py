from django.apps import AppConfig


class ResaleConfig(AppConfig):
    name = "resale"
    label = "resale"
    verbose_name = "Resale"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from jobs.bulk.kinds import bulk_kind_register
        from products.panels import register_product_panel
        from resale import home
        from resale.bulk_profit import ASIN_PROFIT_KIND
        from resale.manifests import manifest_kind_register
        from resale.panels import profit_panel_render

        home.register()  # the landing page's price of a profit calculation
        # The profit panel under a product on the lookup page, the scanner's answer and watchlist items.
        register_product_panel("profit", profit_panel_render)
        # The ``manifest`` kind of bulk job (resale/manifest_kind.py).
        manifest_kind_register()
        # The ``asin_profit`` kind, offered with the ASIN lookup on the bulk page and API.
        bulk_kind_register(ASIN_PROFIT_KIND)
