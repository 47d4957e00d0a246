from django.urls import path

from jobs.collections import api

urlpatterns = [
    path("collections", api.CollectionListCreateApi.as_view(), name="collections"),
    path("collections/<int:collection_id>", api.CollectionDetailApi.as_view(), name="collection"),
    path("collections/<int:collection_id>/run", api.CollectionRunNowApi.as_view(), name="collection-run"),
    path("collections/<int:collection_id>/runs", api.CollectionRunListApi.as_view(), name="collection-runs"),
    path(
        "collections/<int:collection_id>/runs/<int:run_id>/results",
        api.CollectionRunResultsApi.as_view(),
        name="collection-run-results",
    ),
]
