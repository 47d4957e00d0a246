"""Reads of webhook endpoints and deliveries, always within one user's own."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db.models import QuerySet

from core.errors import NotFoundError
from webhooks.models import WebhookDelivery, WebhookEndpoint

if TYPE_CHECKING:
    from accounts.models import User


def webhook_endpoint_list(*, user: User) -> QuerySet[WebhookEndpoint]:
    return WebhookEndpoint.objects.filter(user=user)


def webhook_endpoint_get(*, user: User, endpoint_id: int) -> WebhookEndpoint:
    """One of ``user``'s endpoints; someone else's is simply not found."""
    endpoint = WebhookEndpoint.objects.filter(user=user, pk=endpoint_id).first()
    if endpoint is None:
        raise NotFoundError("Webhook endpoint not found.")
    return endpoint


def webhook_delivery_list(
    *, user: User, endpoint_id: int | None = None, status: str = "", event: str = ""
) -> QuerySet[WebhookDelivery]:
    deliveries = WebhookDelivery.objects.filter(endpoint__user=user).select_related("endpoint")
    if endpoint_id is not None:
        deliveries = deliveries.filter(endpoint_id=endpoint_id)
    if status:
        deliveries = deliveries.filter(status=status)
    if event:
        deliveries = deliveries.filter(event=event)
    return deliveries


def webhook_delivery_get(*, user: User, delivery_id: int) -> WebhookDelivery:
    delivery = (
        WebhookDelivery.objects.filter(endpoint__user=user, pk=delivery_id).select_related("endpoint").first()
    )
    if delivery is None:
        raise NotFoundError("Webhook delivery not found.")
    return delivery
