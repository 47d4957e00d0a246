"""The interactive API docs (Swagger UI, Redoc) under the platform's Content-Security-Policy.

Both load their scripts from drf-spectacular-sidecar's static files: Swagger UI
through the split view, whose start-up script is a separate request instead of
an inline one. Their stylesheets are built at run time (Redoc's styled
components inject <style> elements, both pages have a small inline <style>),
so these two views, and only they, allow inline styles; scripts stay
'self'-only. Redoc also runs its search in a worker started from a blob: URL
and shows its maker's logo from their CDN.
"""

from __future__ import annotations

from csp.decorators import csp_update
from drf_spectacular.views import SpectacularRedocView, SpectacularSwaggerSplitView

_INLINE_STYLES = {"style-src": ["'unsafe-inline'"]}

swagger_ui = csp_update(_INLINE_STYLES)(SpectacularSwaggerSplitView.as_view(url_name="schema"))
redoc = csp_update({**_INLINE_STYLES, "worker-src": ["blob:"], "img-src": ["https://cdn.redoc.ly"]})(
    SpectacularRedocView.as_view(url_name="schema", template_name="api_docs/redoc.html")
)
