from django.urls import path

from accounts import api

urlpatterns = [
    path("me", api.MeApi.as_view(), name="me"),
    path("keys", api.ApiKeyListCreateApi.as_view(), name="keys"),
    path("keys/<int:key_id>", api.ApiKeyDetailApi.as_view(), name="key-detail"),
]
