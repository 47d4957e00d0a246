"""One error shape for the whole platform.

Services raise ``DomainError`` (or a subclass) with a message a person can act
on, a stable machine ``code`` and optional ``extra`` data. The DRF exception
handler below turns it, DRF's own exceptions and Django's into one JSON body (config/exception_handlers.py)::

    {"error": {"code": "insufficient_credits", "message": "...", "detail": {...}}}

Pages show the same ``message``.
"""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """A failure the caller can understand and act on."""

    status_code: int = 400
    code: str = "invalid"
    default_message: str = "The request could not be completed."

    def __init__(
        self,
        message: str | None = None,
        *,
        code: str | None = None,
        status_code: int | None = None,
        extra: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.message = message or self.default_message
        if code is not None:
            self.code = code
        if status_code is not None:
            self.status_code = status_code
        self.extra = extra or {}
        # Response headers that go with the error (Retry-After, X-Credits-Remaining).
        self.headers = dict(headers or {})
        super().__init__(self.message)


class NotFoundError(DomainError):
    status_code = 404
    code = "not_found"
    default_message = "Not found."


class ConflictError(DomainError):
    status_code = 409
    code = "conflict"
    default_message = "The request conflicts with the current state."


def error_body(code: str, message: str, detail: Any = None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message}
    if detail:
        error["detail"] = detail
    return {"error": error}
