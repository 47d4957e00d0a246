"""Domain errors of the accounts app, in the platform's one error shape (config/errors.py)."""

from __future__ import annotations

from config.errors import ConflictError


class TooManyApiKeys(ConflictError):
    code = "too_many_keys"
    default_message = (
        "You have the most active API keys allowed. Revoke one you no longer use to create another."
    )
