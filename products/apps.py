from django.apps import AppConfig


class ProductsConfig(AppConfig):
    name = "products"
    verbose_name = "Products"

    def ready(self) -> None:
        from products import (
            checks,  # noqa: F401 - registers the system checks
            collectors,
        )

        collectors.register()  # circuits on /metrics, providers on /health/ready

        from credits.wording import charge_notes_register, refund_reasons_register
        from products import ledger_words

        # The ledger page's words for products' refunds, and "from cache" on cached lookups.
        refund_reasons_register(ledger_words.REFUND_REASONS)
        charge_notes_register(ledger_words.cache_hit_notes)

        from products import home

        home.register()  # lookup prices on the landing page, the checklist's first lookup
