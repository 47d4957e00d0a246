"""Included at /api/v1/: the paths carry their prefix (/api/v1/watchlists, no trailing slash)."""

from django.urls import path

from watchlists import api

urlpatterns = [
    path("watchlists", api.WatchlistListCreateApi.as_view(), name="watchlists"),
    path("watchlists/cost", api.WatchlistCostApi.as_view(), name="watchlists-cost"),
    path("watchlists/alerts", api.AlertListApi.as_view(), name="watchlists-alerts"),
    path("watchlists/alerts/read", api.AlertsReadApi.as_view(), name="watchlists-alerts-read"),
    path("watchlists/<int:watchlist_id>", api.WatchlistDetailApi.as_view(), name="watchlist"),
    path("watchlists/<int:watchlist_id>/items", api.WatchItemListCreateApi.as_view(), name="watchlist-items"),
    path(
        "watchlists/<int:watchlist_id>/items/<int:item_id>",
        api.WatchItemDetailApi.as_view(),
        name="watchlist-item",
    ),
    path(
        "watchlists/<int:watchlist_id>/items/<int:item_id>/snapshots",
        api.WatchItemSnapshotsApi.as_view(),
        name="watchlist-item-snapshots",
    ),
    path("watchlists/<int:watchlist_id>/import", api.WatchlistImportApi.as_view(), name="watchlist-import"),
]
