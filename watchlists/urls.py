from django.urls import path

from watchlists import views

urlpatterns = [
    path("", views.watchlists, name="watchlists-page"),
    path("cost", views.watchlist_cost, name="watchlist-cost-page"),
    path("notifications/", views.notifications, name="watchlist-notifications"),
    path("notifications/read", views.notifications_read, name="watchlist-notifications-read"),
    path("<int:watchlist_id>/", views.watchlist_detail, name="watchlist-page"),
    path("<int:watchlist_id>/edit", views.watchlist_edit, name="watchlist-edit-page"),
    path("<int:watchlist_id>/delete", views.watchlist_delete, name="watchlist-delete-page"),
    path("<int:watchlist_id>/items/add", views.watch_item_add, name="watch-item-add-page"),
    path("<int:watchlist_id>/import", views.watchlist_import, name="watchlist-import-page"),
    path("<int:watchlist_id>/items/<int:item_id>/", views.watch_item, name="watch-item-page"),
    path(
        "<int:watchlist_id>/items/<int:item_id>/delete",
        views.watch_item_delete,
        name="watch-item-delete-page",
    ),
]
