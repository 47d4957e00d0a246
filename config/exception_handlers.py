"""Turns every API error into the platform's one error shape (see config/errors.py)."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import HttpRequest, JsonResponse
from rest_framework import exceptions, serializers
from rest_framework.response import Response
from rest_framework.serializers import as_serializer_error
from rest_framework.views import exception_handler as drf_exception_handler

from config.errors import DomainError, error_body


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, DomainError):
        return Response(
            error_body(exc.code, exc.message, exc.extra), status=exc.status_code, headers=exc.headers or None
        )
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(as_serializer_error(exc))

    response = drf_exception_handler(exc, context)
    if response is None:
        return None  # an unexpected error: Django's handler500 answers (JSON under /api/)

    if isinstance(exc, exceptions.ValidationError):
        detail = exc.detail
        message = "Invalid input."
        if isinstance(detail, dict):
            non_field: Any = detail.get("non_field_errors")
            if non_field and len(detail) == 1:
                message = str(non_field[0])
        elif isinstance(detail, list) and detail:
            message = str(detail[0])
        response.data = error_body("invalid", message, detail)
    elif isinstance(exc, exceptions.Throttled):
        # DRF set Retry-After from the wait; the body says the same for clients that read only JSON.
        wait: int | None = getattr(exc, "wait", None)
        response.data = error_body(
            "rate_limited",
            f"Too many requests: retry in {wait} seconds." if wait else "Too many requests.",
            {"retry_after": wait} if wait else None,
        )
    elif isinstance(exc, exceptions.APIException):
        codes = exc.get_codes()
        code = codes if isinstance(codes, str) else exc.default_code
        response.data = error_body(str(code), str(exc.detail))
    else:  # Http404 and PermissionDenied, already mapped by DRF
        response.data = error_body(
            "not_found" if response.status_code == 404 else "permission_denied",
            str(response.data.get("detail", "")) if isinstance(response.data, dict) else "",
        )
    return response


def server_error(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
    """handler500: JSON for the API, the HTML page for everything else."""
    if request.path.startswith("/api/"):
        return JsonResponse(
            error_body("server_error", "An unexpected error occurred. It has been logged."),
            status=500,
        )
    from django.views.defaults import server_error as html_server_error

    return html_server_error(request)


def not_found(request: HttpRequest, exception: Exception | None = None) -> Any:
    """handler404: JSON for the API, the HTML page for everything else."""
    if request.path.startswith("/api/"):
        return JsonResponse(error_body("not_found", "Not found."), status=404)
    from django.views.defaults import page_not_found

    return page_not_found(request, exception or Exception())


class ErrorDetailSerializer(serializers.Serializer[Any]):
    code = serializers.CharField(help_text="Stable machine-readable error code.")
    message = serializers.CharField(help_text="What went wrong, for a person.")
    detail = serializers.JSONField(
        required=False, help_text="Field errors or extra data, when there are any."
    )


class ErrorSerializer(serializers.Serializer[Any]):
    error = ErrorDetailSerializer()
