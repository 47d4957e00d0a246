from django.urls import path

from products import api
from products.bulk import api as bulk_api

urlpatterns = [
    path("asin", api.ProductLookupApi.as_view(), name="product-lookup"),
    path("code", api.ProductCodeLookupApi.as_view(), name="product-code-lookup"),
    path("lookups", api.LookupListApi.as_view(), name="product-lookups"),
    path("cache-stats", api.CacheStatsApi.as_view(), name="product-cache-stats"),
]

# Bulk jobs (products/bulk/).
urlpatterns += [
    path("bulk", bulk_api.BulkJobListCreateApi.as_view(), name="bulk-jobs"),
    path("bulk/<int:job_id>", bulk_api.BulkJobDetailApi.as_view(), name="bulk-job"),
    path("bulk/<int:job_id>/cancel", bulk_api.BulkJobCancelApi.as_view(), name="bulk-job-cancel"),
    path("bulk/<int:job_id>/retry", bulk_api.BulkJobRetryApi.as_view(), name="bulk-job-retry"),
    path("bulk/<int:job_id>/results", bulk_api.BulkJobResultsApi.as_view(), name="bulk-job-results"),
]
