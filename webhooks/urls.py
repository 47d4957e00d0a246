from django.urls import path

from webhooks import views

urlpatterns = [
    path("", views.webhooks_page, name="webhooks"),
    path("trial/", views.webhook_trial_page, name="webhook-trial"),
    path("trial/<str:token>", views.webhook_trial_receive, name="webhook-trial-receive"),
    path("<int:endpoint_id>/", views.webhook_endpoint_page, name="webhook-endpoint"),
    path("<int:endpoint_id>/rotate", views.webhook_endpoint_rotate, name="webhook-endpoint-rotate"),
    path("<int:endpoint_id>/ping", views.webhook_endpoint_ping, name="webhook-endpoint-ping"),
    path("<int:endpoint_id>/delete", views.webhook_endpoint_delete, name="webhook-endpoint-delete"),
    path("deliveries/<int:delivery_id>/", views.webhook_delivery_page, name="webhook-delivery"),
    path(
        "deliveries/<int:delivery_id>/replay", views.webhook_delivery_replay, name="webhook-delivery-replay"
    ),
]
