from django.urls import path

from resale import api

urlpatterns = [
    path("manifests", api.ManifestListCreateApi.as_view(), name="manifests"),
    path("manifests/<int:manifest_id>", api.ManifestDetailApi.as_view(), name="manifest"),
    path("manifests/<int:manifest_id>/start", api.ManifestStartApi.as_view(), name="manifest-start"),
    path("manifests/<int:manifest_id>/lines", api.ManifestLinesApi.as_view(), name="manifest-lines"),
    path("manifests/<int:manifest_id>/export", api.ManifestExportApi.as_view(), name="manifest-export"),
]
