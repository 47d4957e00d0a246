from django.apps import AppConfig


class ResaleConfig(AppConfig):
    name = "resale"
    label = "resale"
    verbose_name = "Resale"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from resale.manifests import manifest_kind_register

        manifest_kind_register()
