"""The API's bulk job routes: under /api/v1/products/bulk as before the move (config/urls.py)."""

from django.urls import path

from jobs.bulk import api as bulk_api

urlpatterns = [
    path("products/bulk", bulk_api.BulkJobListCreateApi.as_view(), name="bulk-jobs"),
    path("products/bulk/<int:job_id>", bulk_api.BulkJobDetailApi.as_view(), name="bulk-job"),
    path("products/bulk/<int:job_id>/cancel", bulk_api.BulkJobCancelApi.as_view(), name="bulk-job-cancel"),
    path("products/bulk/<int:job_id>/retry", bulk_api.BulkJobRetryApi.as_view(), name="bulk-job-retry"),
    path("products/bulk/<int:job_id>/results", bulk_api.BulkJobResultsApi.as_view(), name="bulk-job-results"),
]
