"""The API layer's side of errors: how each kind of ``core.errors.DomainError`` answers over
HTTP, and the DRF exception handler that turns it, DRF's own exceptions and Django's into the
platform's one error shape (see core/errors.py).

Domain errors carry no HTTP: their class says what kind of failure they are, and
``ERROR_STATUS`` below is the one table from kinds to statuses. An app's error subclasses a
kind (``InsufficientCredits(PaymentRequiredError)``) instead of registering a status, so the
whole table is readable here and nothing depends on the order in which apps load. Pages use
the same table (``http_status``) for the status of the page that shows the message.
"""

from __future__ import annotations

import math
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import HttpRequest, JsonResponse
from rest_framework import exceptions, serializers
from rest_framework.response import Response
from rest_framework.serializers import as_serializer_error
from rest_framework.views import exception_handler as drf_exception_handler

from core.errors import (
    ConflictError,
    DomainError,
    ForbiddenError,
    GoneError,
    NotFoundError,
    PaymentRequiredError,
    ProcessingFailedError,
    TooLargeError,
    UnavailableError,
    UnsupportedError,
    UpstreamError,
    error_body,
)

# Each kind of domain error and its HTTP status; a subclass answers as the nearest kind it
# derives from (its method resolution order), DomainError itself as 400.
ERROR_STATUS: dict[type[DomainError], int] = {
    DomainError: 400,
    PaymentRequiredError: 402,
    ForbiddenError: 403,
    NotFoundError: 404,
    ConflictError: 409,
    GoneError: 410,
    TooLargeError: 413,
    UnsupportedError: 422,
    ProcessingFailedError: 500,
    UpstreamError: 502,
    UnavailableError: 503,
}

REMAINING_HEADER = "X-Credits-Remaining"
REPLAYED_HEADER = "Idempotent-Replayed"


def http_status(exc: DomainError) -> int:
    """The HTTP status a domain error answers with."""
    for cls in type(exc).__mro__:
        status = ERROR_STATUS.get(cls)
        if status is not None:
            return status
    return 400  # unreachable: DomainError is in the table


def error_headers(exc: DomainError) -> dict[str, str]:
    """The response headers that go with a domain error, from the facts it carries."""
    headers: dict[str, str] = {}
    if exc.retry_after is not None:
        # Whole seconds, never 0: "retry now" would be refused again.
        headers["Retry-After"] = str(max(1, math.ceil(exc.retry_after)))
    if exc.credits_remaining is not None:
        headers[REMAINING_HEADER] = str(exc.credits_remaining)
    if exc.replayed:
        headers[REPLAYED_HEADER] = "true"
    return headers


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, DomainError):
        return Response(
            error_body(exc.code, exc.message, exc.extra),
            status=http_status(exc),
            headers=error_headers(exc) or None,
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
