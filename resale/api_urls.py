from django.urls import path

from resale import api

urlpatterns = [
    path("products/profit", api.ProfitApi.as_view(), name="product-profit"),
    path("resale/defaults", api.DefaultsApi.as_view(), name="resale-defaults"),
]
