from django.apps import AppConfig


class ConversionConfig(AppConfig):
    name = "conversion"
    verbose_name = "FNSKU conversion"

    def ready(self) -> None:
        from conversion import collectors
        from conversion.bulk import bulk_kind
        from credits.wording import refund_reasons_register
        from jobs.bulk.kinds import bulk_kind_register

        bulk_kind_register(bulk_kind())
        # The ledger page's words for a refunded conversion.
        refund_reasons_register(
            {
                "fnsku_not_found": "no ASIN was found for this FNSKU",
                "conversion failed": "the conversion failed on our side",
            }
        )
        collectors.register()  # conversions by status and confidence band on /metrics

        from conversion import home

        home.register()  # the conversion's price on the landing page; a conversion is a first lookup
