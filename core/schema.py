"""OpenAPI generation: every operation documents its error responses."""

from __future__ import annotations

from typing import Any

from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from drf_spectacular.utils import OpenApiParameter, OpenApiRequest
from rest_framework.permissions import AllowAny

from core.api_errors import ErrorSerializer

# An action that takes no input (start, cancel, retry, rotate): no body, or an empty JSON object.
NO_INPUT = OpenApiRequest(
    {"type": "object", "additionalProperties": False, "description": "Nothing: an empty object, or no body."}
)


class AutoSchema(SpectacularAutoSchema):
    def _get_response_bodies(self, direction: Any = "response") -> dict[str, Any]:
        responses: dict[str, Any] = super()._get_response_bodies(direction)
        if direction != "response":
            return responses
        errors: dict[str, str] = {}
        if self.method in ("POST", "PUT", "PATCH") or self._get_filter_parameters() or self._reads_query():
            errors["400"] = "Invalid input."
        if not all(isinstance(p, AllowAny) for p in self.view.get_permissions()):
            errors["401"] = "Missing, wrong or revoked API key."
            errors["403"] = "Not allowed (for a session: missing CSRF token)."
        if "{" in self.path:
            errors["404"] = "Not found, or not yours."
        elif self._offers_formats():
            errors["404"] = "No such `format`."
        if self.method in ("POST", "PUT", "PATCH") and self._get_request_body() is not None:
            errors["413"] = "The request body is over its size limit; nothing was done."
        errors["414"] = "The URL (path and query string) is over `MAX_URL_LENGTH` characters."
        if self._rate_limited():
            errors["429"] = (
                "Over the caller's rate limit: retry after `Retry-After` seconds. "
                "Nothing was done or charged."
            )
        for status_code, description in errors.items():
            if status_code not in responses:
                response = self._get_response_for_code(ErrorSerializer, status_code)
                response["description"] = description
                responses[status_code] = response
        if "429" in responses:
            responses["429"].setdefault("headers", {})["Retry-After"] = {
                "schema": {"type": "integer"},
                "description": "Seconds until the rate limit allows the call again.",
            }
        return responses

    def _rate_limited(self) -> bool:
        """Throttled (core/throttling.py): every call that must authenticate; anonymous ones are not."""
        return bool(self.view.get_throttles()) and not all(
            isinstance(p, AllowAny) for p in self.view.get_permissions()
        )

    def _offers_formats(self) -> bool:
        """Takes ``?format=``: DRF answers a format it does not offer with 404."""
        return any(
            isinstance(parameter, OpenApiParameter) and parameter.name == "format"
            for parameter in self.get_override_parameters()
        )

    def _reads_query(self) -> bool:
        """Declares query parameters of its own, which its view validates (a
        serializer of them, or ``OpenApiParameter``s in the query)."""
        return any(
            not isinstance(parameter, OpenApiParameter) or parameter.location == OpenApiParameter.QUERY
            for parameter in self.get_override_parameters()
        )
