from django.urls import path

from products import api

urlpatterns = [
    path("asin", api.ProductLookupApi.as_view(), name="product-lookup"),
    path("lookups", api.LookupListApi.as_view(), name="product-lookups"),
    path("cache-stats", api.CacheStatsApi.as_view(), name="product-cache-stats"),
]
