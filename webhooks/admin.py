from django.contrib import admin

from core.admin import NoAddAdminMixin, NoChangeAdminMixin
from webhooks.models import WebhookDelivery, WebhookEndpoint


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(NoAddAdminMixin, NoChangeAdminMixin, admin.ModelAdmin[WebhookEndpoint]):
    """Read-only: users change their endpoints themselves; the secrets are never shown."""

    list_display = ("url", "user", "events", "is_active", "created_at")
    list_filter = ("is_active",)
    search_fields = ("url", "user__email")
    fields = ("user", "url", "description", "events", "is_active", "secret_rotated_at", "created_at")
    readonly_fields = fields


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(NoAddAdminMixin, NoChangeAdminMixin, admin.ModelAdmin[WebhookDelivery]):
    list_display = ("event", "event_id", "endpoint", "status", "attempts", "last_status_code", "created_at")
    list_filter = ("status", "event")
    search_fields = ("event_id", "endpoint__url", "endpoint__user__email")
    list_select_related = ("endpoint",)
    readonly_fields = tuple(f.name for f in WebhookDelivery._meta.fields)
