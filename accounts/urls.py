from django.urls import path

from accounts import views

urlpatterns = [
    path("", views.home, name="home"),
    path("keys/", views.api_keys, name="api-keys"),
    path("keys/<int:key_id>/revoke/", views.api_key_revoke, name="api-key-revoke"),
]
