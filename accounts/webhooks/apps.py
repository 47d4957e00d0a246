from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "accounts.webhooks"
    label = "webhooks"
    verbose_name = "Webhooks"
