from django.urls import path

from conversion import api

urlpatterns = [
    path("fnsku", api.ConvertApi.as_view(), name="conversion-fnsku"),
    path("fnsku/label", api.ConvertLabelApi.as_view(), name="conversion-fnsku-label"),
    path("bulk", api.ConversionBulkApi.as_view(), name="conversion-bulk"),
    path("conversions", api.ConversionListApi.as_view(), name="conversion-list"),
    path("<int:conversion_id>", api.ConversionDetailApi.as_view(), name="conversion-detail"),
    path("<int:conversion_id>/feedback", api.FeedbackApi.as_view(), name="conversion-feedback"),
    path("mappings", api.MappingListApi.as_view(), name="conversion-mappings"),
    path("mappings/import", api.MappingImportApi.as_view(), name="conversion-mappings-import"),
    path("spapi-connection", api.SpApiConnectionApi.as_view(), name="conversion-spapi-connection"),
    path("spapi-connection/sync", api.FbaSyncApi.as_view(), name="conversion-fba-sync"),
]
