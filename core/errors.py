"""One error shape for the whole platform, with no HTTP in it.

Services raise ``DomainError`` (or a subclass) with a message a person can act
on, a stable machine ``code`` and optional ``extra`` data. Which *kind* of
failure it is (invalid, not found, conflict, unavailable...) is told by its
class: every app's error subclasses one of the kinds below. How a kind answers
over HTTP (its status, and the headers made from ``retry_after``,
``credits_remaining`` and ``replayed``) is the API layer's business, in one
table: ``core/api_errors.py``, which turns it into one JSON body::

    {"error": {"code": "insufficient_credits", "message": "...", "detail": {...}}}

Pages show the same ``message``.
"""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """A failure the caller can understand and act on; by itself, the request was invalid
    (or refused as it stands): asking again unchanged gives the same answer."""

    code: str = "invalid"
    default_message: str = "The request could not be completed."

    def __init__(
        self,
        message: str | None = None,
        *,
        code: str | None = None,
        extra: dict[str, Any] | None = None,
        retry_after: float | None = None,
        credits_remaining: int | None = None,
        replayed: bool = False,
    ) -> None:
        self.message = message or self.default_message
        if code is not None:
            self.code = code
        self.extra = extra or {}
        # Facts about the answer that the API layer also shows as headers: seconds until a
        # retry may succeed (Retry-After), the caller's balance after a refund
        # (X-Credits-Remaining), and whether this is an earlier answer replayed
        # (Idempotent-Replayed).
        self.retry_after = retry_after
        self.credits_remaining = credits_remaining
        self.replayed = replayed
        super().__init__(self.message)


class NotFoundError(DomainError):
    """No such thing (or not the caller's: another user's object is simply not found)."""

    code = "not_found"
    default_message = "Not found."


class ConflictError(DomainError):
    """The request conflicts with the current state (a key in use, a limit reached)."""

    code = "conflict"
    default_message = "The request conflicts with the current state."


class ForbiddenError(DomainError):
    """The caller is known but not allowed to do this."""

    code = "permission_denied"
    default_message = "You are not allowed to do this."


class PaymentRequiredError(DomainError):
    """The operation costs more than the caller has; nothing was charged."""

    code = "payment_required"
    default_message = "Not enough funds for this operation."


class GoneError(DomainError):
    """It existed, but is no longer available (expired results)."""

    code = "gone"
    default_message = "No longer available."


class TooLargeError(DomainError):
    """The input is over its size limit; nothing was done."""

    code = "too_large"
    default_message = "The input is too large."


class UnsupportedError(DomainError):
    """Well-formed, but something this platform (or its provider) cannot serve."""

    code = "unsupported"
    default_message = "This request cannot be served."


class UnavailableError(DomainError):
    """A dependency cannot serve now (down, not configured, out of quota): try again later."""

    code = "unavailable"
    default_message = "The service is unavailable; try again shortly."


class UpstreamError(DomainError):
    """A dependency answered, but not usably."""

    code = "upstream_error"
    default_message = "An upstream service sent an answer that could not be used."


class ProcessingFailedError(DomainError):
    """Accepted, but processing failed on this side; it will be retried."""

    code = "processing_failed"
    default_message = "The request could not be processed."


def error_body(code: str, message: str, detail: Any = None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message}
    if detail:
        error["detail"] = detail
    return {"error": error}
