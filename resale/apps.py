from django.apps import AppConfig


class ResaleConfig(AppConfig):
    name = "resale"
    label = "resale"
    verbose_name = "Resale"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from products.panels import register_product_panel
        from resale import home
        from resale.manifests import manifest_kind_register
        from resale.panels import profit_panel_render

        home.register()  # the landing page's price of a profit calculation
        # The profit panel under a product on the lookup page, the scanner's answer and watchlist items.
        register_product_panel("profit", profit_panel_render)
        # The ``manifest`` kind of bulk job (resale/manifest_kind.py).
        manifest_kind_register()
