"""Domain errors of the accounts app, in the platform's one error shape (core/errors.py)."""

from __future__ import annotations

from core.errors import ConflictError, ForbiddenError


class TooManyApiKeys(ConflictError):
    code = "too_many_keys"
    default_message = (
        "You have the most active API keys allowed. Revoke one you no longer use to create another."
    )


class InsufficientScope(ForbiddenError):
    code = "insufficient_scope"
    default_message = "This API key does not have the scope this needs."
