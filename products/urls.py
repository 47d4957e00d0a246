from django.urls import path

from products import views

urlpatterns = [
    path("", views.lookup, name="product-lookup-page"),
]
