"""What a caller may do with the API, beyond being signed in."""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from accounts.errors import InsufficientScope
from accounts.models import ApiKeyScope
from accounts.selectors import ApiKeyPrincipal


def acting_key_scopes(request: Request) -> frozenset[str] | None:
    """The scopes of the API key the request carries; None for a session, whose user may do everything."""
    auth = request.auth
    if auth is None:  # DRF's session authentication sets no auth
        return None
    # Any other credential than our keys has no scope, rather than a session's powers.
    return auth.scopes if isinstance(auth, ApiKeyPrincipal) else frozenset()


class ManagesApiKeys(BasePermission):
    """Listing, creating and revoking keys takes a session or a key with the keys:manage scope,
    so a leaked key can neither make itself permanent (a new key, the owner's revoked)
    nor learn about the others."""

    code = InsufficientScope.code
    message = (
        f"This API key cannot manage API keys: that takes a signed-in session or a key created "
        f"with the {ApiKeyScope.KEYS_MANAGE.value} scope."
    )

    def has_permission(self, request: Request, view: Any) -> bool:
        scopes = acting_key_scopes(request)
        return scopes is None or ApiKeyScope.KEYS_MANAGE in scopes
