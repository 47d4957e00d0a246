from django.urls import path

from analytics import views

urlpatterns = [
    path("", views.user_analytics, name="analytics"),
    path("operators/", views.operator_analytics, name="analytics-operators"),
]
