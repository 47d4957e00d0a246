from django.apps import AppConfig


class ProductsConfig(AppConfig):
    name = "products"
    verbose_name = "Products"

    def ready(self) -> None:
        from products import (
            checks,  # noqa: F401 - registers the system checks
            collectors,
        )
        from products.bulk import checks as bulk_checks  # noqa: F401 - registers the bulk jobs' checks
        from products.bulk import processors  # noqa: F401 - registers the asin_lookup bulk job kind

        collectors.register()  # circuits and bulk backlog on /metrics, providers on /health/ready
