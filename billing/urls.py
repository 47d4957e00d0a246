from django.urls import path

from billing import views

urlpatterns = [
    path("", views.billing_page, name="billing"),
    path("buy/<int:pack_id>/", views.billing_buy, name="billing-buy"),
    path("sandbox/<str:session_id>/", views.sandbox_checkout, name="billing-sandbox"),
    path("sandbox/<str:session_id>/cancel/", views.sandbox_checkout_cancel, name="billing-sandbox-cancel"),
    path("success/", views.billing_success, name="billing-success"),
    path("cancel/", views.billing_cancel, name="billing-cancel"),
    path("receipts/<uuid:reference>/", views.billing_receipt, name="billing-receipt"),
]
