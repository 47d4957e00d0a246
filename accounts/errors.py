"""Domain errors of the accounts app, in the platform's one error shape (config/errors.py)."""

from __future__ import annotations

from config.errors import ConflictError, DomainError


class TooManyApiKeys(ConflictError):
    code = "too_many_keys"
    default_message = (
        "You have the most active API keys allowed. Revoke one you no longer use to create another."
    )


class InsufficientScope(DomainError):
    status_code = 403
    code = "insufficient_scope"
    default_message = "This API key does not have the scope this needs."
