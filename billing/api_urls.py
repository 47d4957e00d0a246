from django.urls import path

from billing import api

urlpatterns = [
    path("packs", api.PackListApi.as_view(), name="payments-packs"),
    path("checkout", api.CheckoutApi.as_view(), name="payments-checkout"),
    path("checkout/<str:session_id>", api.CheckoutDetailApi.as_view(), name="payments-checkout-detail"),
    path("history", api.PaymentListApi.as_view(), name="payments-history"),
    path("webhook", api.StripeWebhookApi.as_view(), name="payments-webhook"),
]
