from django.urls import path

from products import api

# Bulk jobs are under products/bulk too: jobs/api_urls.py.
urlpatterns = [
    path("asin", api.ProductLookupApi.as_view(), name="product-lookup"),
    path("code", api.ProductCodeLookupApi.as_view(), name="product-code-lookup"),
    path("lookups", api.LookupListApi.as_view(), name="product-lookups"),
    path("cache-stats", api.CacheStatsApi.as_view(), name="product-cache-stats"),
]
