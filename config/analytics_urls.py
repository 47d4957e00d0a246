from django.urls import path

from config import analytics_views

urlpatterns = [
    path("", analytics_views.user_analytics, name="analytics"),
    path("operators/", analytics_views.operator_analytics, name="analytics-operators"),
]
