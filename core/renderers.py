"""JSON or CSV from one endpoint: ``?format=csv`` or ``Accept: text/csv`` picks the CSV.

Used by the downloads (the ledger, a bulk job's results, a collection run's
results): the view streams the CSV itself, and anything DRF renders after CSV
was negotiated (an error, an OPTIONS description) goes out as JSON in the
platform's one error shape.
"""

from __future__ import annotations

from typing import Any

from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView


class CSVRenderer(BaseRenderer):
    """Lets content negotiation accept ``?format=csv`` and ``Accept: text/csv``.

    What does get rendered after negotiating CSV is never a CSV: an error
    (401, 404, 429...) or an OPTIONS description. It goes out as the JSON it
    is, with that content type."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(
        self, data: Any, accepted_media_type: str | None = None, renderer_context: Any = None
    ) -> bytes:
        json_renderer = JSONRenderer()
        response = (renderer_context or {}).get("response")
        if response is not None:
            response["Content-Type"] = json_renderer.media_type
        return json_renderer.render(data, json_renderer.media_type, renderer_context)


class JSONOrCSVApi(APIView):
    """An endpoint answering JSON, or a CSV it streams itself when ``wants_csv``."""

    renderer_classes = (JSONRenderer, CSVRenderer)

    @staticmethod
    def wants_csv(request: Request) -> bool:
        return request.accepted_renderer.format == "csv"

    def handle_exception(self, exc: Exception) -> Response:
        # Errors are JSON in the platform's one shape, even when CSV was asked for.
        self.request.accepted_renderer = JSONRenderer()
        self.request.accepted_media_type = JSONRenderer.media_type
        return super().handle_exception(exc)
