"""The interactive API docs (Swagger UI, Redoc) under the platform's Content-Security-Policy.

Both load their scripts from drf-spectacular-sidecar's static files: Swagger UI
through the split view, whose start-up script is a separate request instead of
an inline one. Their stylesheets are built at run time (Redoc's styled
components inject <style> elements, both pages have a small inline <style>),
so these two views, and only they, allow inline styles; scripts stay
'self'-only. Redoc also runs its search in a worker started from a blob: URL.

Nothing is loaded from outside the platform (the docs are served offline too):
Redoc's bundle would show its maker's logo from their CDN in the side menu's
"API docs by Redocly" footer, so the page loads the sidecar's bundle through
``/api/redoc/?bundle=`` with that address blanked (an image with an empty
address loads nothing, and Redoc then leaves it out); no image host is allowed.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from csp.decorators import csp_update
from django.contrib.staticfiles import finders
from django.http import HttpResponse
from django.urls import reverse
from drf_spectacular.utils import extend_schema
from drf_spectacular.views import SpectacularRedocView, SpectacularSwaggerSplitView
from rest_framework.request import Request

_INLINE_STYLES = {"style-src": ["'unsafe-inline'"]}
_REDOC_BUNDLE = "drf_spectacular_sidecar/redoc/bundles/redoc.standalone.js"
_REDOC_CDN_LOGO = '"https://cdn.redoc.ly/redoc/logo-mini.svg"'


@lru_cache(maxsize=1)
def redoc_bundle_offline() -> bytes:
    """The sidecar's Redoc bundle with its CDN logo's address blanked."""
    path = finders.find(_REDOC_BUNDLE)
    if not path or isinstance(path, list):
        raise LookupError(f"static file {_REDOC_BUNDLE} not found (drf-spectacular-sidecar)")
    return Path(path).read_text(encoding="utf-8").replace(_REDOC_CDN_LOGO, '""').encode()


class OfflineRedocView(SpectacularRedocView):
    """Redoc, its bundle served by the view itself (``?bundle=``) without the CDN logo."""

    @staticmethod
    def _redoc_standalone() -> str:
        return reverse("api-redoc") + "?bundle="

    @extend_schema(exclude=True)
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Any:
        if "bundle" in request.GET:
            response = HttpResponse(redoc_bundle_offline(), content_type="application/javascript")
            response["Cache-Control"] = "public, max-age=3600"
            return response
        return super().get(request, *args, **kwargs)


swagger_ui = csp_update(_INLINE_STYLES)(
    SpectacularSwaggerSplitView.as_view(url_name="schema", template_name="api_docs/swagger_ui.html")
)
redoc = csp_update({**_INLINE_STYLES, "worker-src": ["blob:"]})(
    OfflineRedocView.as_view(url_name="schema", template_name="api_docs/redoc.html")
)
