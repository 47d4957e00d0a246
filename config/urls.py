from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView

from config import api_docs

handler404 = "core.api_errors.not_found"
handler500 = "core.api_errors.server_error"

api_v1 = [
    path("products/", include("products.api_urls")),
    path("", include("accounts.api_urls")),
    path("credits/", include("credits.api_urls")),
    path("payments/", include("billing.api_urls")),
    path("conversion/", include("conversion.api_urls")),
    path("", include("watchlists.api_urls")),
    path("", include("webhooks.api_urls")),
    path("", include("jobs.api_urls")),  # products/bulk...
    path("", include("jobs.collections.api_urls")),
    path("", include("resale.api_urls")),  # products/profit, resale/defaults, manifests
]

# The API first: it takes most of the traffic, and URL resolution stops at the first match.
urlpatterns = [
    path("api/v1/", include((api_v1, "api"), namespace="api")),
    path("", include("accounts.urls")),
    path("accounts/", include("allauth.urls")),
    path("products/", include("products.urls")),
    path("bulk/", include("jobs.bulk.urls")),
    path("manifests/", include("resale.manifest_urls")),
    path("watchlists/", include("watchlists.urls")),
    path("collections/", include("jobs.collections.urls")),
    path("convert/", include("conversion.urls")),
    path("credits/", include("credits.urls")),
    path("billing/", include("billing.urls")),
    path("webhooks/", include("webhooks.urls")),
    path("resale/", include("resale.urls")),
    path("analytics/", include("analytics.urls")),
    path("admin/", include("jobs.admin_urls")),  # the moved models' old admin addresses
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", api_docs.swagger_ui, name="api-docs"),
    path("api/redoc/", api_docs.redoc, name="api-redoc"),
    # /health, /health/ready and /metrics.
    path("", include("monitoring.urls")),
]
