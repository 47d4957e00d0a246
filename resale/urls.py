from django.urls import path

from resale import views

urlpatterns = [
    path("defaults", views.defaults_page, name="resale-defaults-page"),
    path("profit", views.profit_page, name="resale-profit-page"),
    path("profit/panel", views.profit_panel, name="resale-profit-panel"),
]
