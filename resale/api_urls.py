from django.urls import path

from resale import api, manifest_api

urlpatterns = [
    path("products/profit", api.ProfitApi.as_view(), name="product-profit"),
    path("resale/defaults", api.DefaultsApi.as_view(), name="resale-defaults"),
    path("manifests", manifest_api.ManifestListCreateApi.as_view(), name="manifests"),
    path("manifests/<int:manifest_id>", manifest_api.ManifestDetailApi.as_view(), name="manifest"),
    path("manifests/<int:manifest_id>/start", manifest_api.ManifestStartApi.as_view(), name="manifest-start"),
    path("manifests/<int:manifest_id>/lines", manifest_api.ManifestLinesApi.as_view(), name="manifest-lines"),
    path(
        "manifests/<int:manifest_id>/export", manifest_api.ManifestExportApi.as_view(), name="manifest-export"
    ),
]
