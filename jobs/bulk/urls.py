from django.urls import path

from jobs.bulk import views

urlpatterns = [
    path("", views.bulk_jobs, name="bulk-jobs-page"),
    path("<int:job_id>/", views.bulk_job, name="bulk-job-page"),
    path("<int:job_id>/progress", views.bulk_job_progress, name="bulk-job-progress"),
    path("<int:job_id>/items", views.bulk_job_items, name="bulk-job-items"),
    path("<int:job_id>/cancel", views.bulk_job_cancel, name="bulk-job-cancel-page"),
    path("<int:job_id>/retry", views.bulk_job_retry, name="bulk-job-retry-page"),
    path("<int:job_id>/results.<str:fmt>", views.bulk_job_results, name="bulk-job-results-page"),
]
