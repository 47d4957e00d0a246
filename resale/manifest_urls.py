from django.urls import path

from resale import manifest_views as views

urlpatterns = [
    path("", views.manifests_page, name="manifests-page"),
    path("<int:manifest_id>/", views.manifest_page, name="manifest-page"),
    path("<int:manifest_id>/summary", views.manifest_summary, name="manifest-summary"),
    path("<int:manifest_id>/start", views.manifest_start, name="manifest-start-page"),
    path("<int:manifest_id>/delete", views.manifest_delete, name="manifest-delete-page"),
    path("<int:manifest_id>/export.<str:fmt>", views.manifest_export, name="manifest-export-page"),
]
