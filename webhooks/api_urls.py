from django.urls import path

from webhooks import api

urlpatterns = [
    path("webhooks", api.WebhookEndpointListCreateApi.as_view(), name="webhooks"),
    path("webhooks/<int:endpoint_id>", api.WebhookEndpointDetailApi.as_view(), name="webhook-detail"),
    path("webhooks/<int:endpoint_id>/rotate", api.WebhookEndpointRotateApi.as_view(), name="webhook-rotate"),
    path("webhooks/<int:endpoint_id>/ping", api.WebhookEndpointPingApi.as_view(), name="webhook-ping"),
    path("webhooks/deliveries", api.WebhookDeliveryListApi.as_view(), name="webhook-deliveries"),
    path(
        "webhooks/deliveries/<int:delivery_id>",
        api.WebhookDeliveryDetailApi.as_view(),
        name="webhook-delivery-detail",
    ),
    path(
        "webhooks/deliveries/<int:delivery_id>/replay",
        api.WebhookDeliveryReplayApi.as_view(),
        name="webhook-delivery-replay",
    ),
]
