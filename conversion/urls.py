from django.urls import path

from conversion import views

urlpatterns = [
    path("", views.convert, name="convert"),
    path("scan/", views.scan, name="convert-scan"),
    path("label/", views.label_photo, name="convert-label"),
    path("bulk/", views.bulk, name="convert-bulk"),
    path("<int:conversion_id>/feedback/", views.feedback, name="convert-feedback"),
    path("sources/", views.sources, name="convert-sources"),
    path("history/", views.history, name="convert-history"),
]
