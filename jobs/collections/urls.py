from django.urls import path

from jobs.collections import views

urlpatterns = [
    path("", views.collections, name="collections-page"),
    path("new", views.collection_new, name="collection-new-page"),
    path("<int:collection_id>/", views.collection_detail, name="collection-page"),
    path("<int:collection_id>/edit", views.collection_edit, name="collection-edit-page"),
    path("<int:collection_id>/delete", views.collection_delete, name="collection-delete-page"),
    path("<int:collection_id>/run", views.collection_run_now, name="collection-run-page"),
    path(
        "<int:collection_id>/runs/<int:run_id>/results.<str:fmt>",
        views.collection_run_results,
        name="collection-run-results-page",
    ),
]
