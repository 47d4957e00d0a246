from django.urls import path

from credits import api

urlpatterns = [
    path("balance", api.BalanceApi.as_view(), name="credits-balance"),
    path("transactions", api.TransactionListApi.as_view(), name="credits-transactions"),
    path("usage", api.UsageApi.as_view(), name="credits-usage"),
    path("prices", api.PriceListApi.as_view(), name="credits-prices"),
]
