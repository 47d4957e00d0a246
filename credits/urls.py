from django.urls import path

from credits import views

urlpatterns = [
    path("", views.credits_dashboard, name="credits"),
    path("alert/", views.credits_threshold_update, name="credits-threshold"),
]
