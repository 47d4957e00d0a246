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
