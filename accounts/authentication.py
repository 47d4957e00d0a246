"""API-key authentication for DRF: ``Authorization: Bearer <key>`` or ``X-API-Key: <key>``."""

from __future__ import annotations

from typing import Any

from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.request import Request

from accounts import selectors, services
from accounts.models import User
from accounts.selectors import ApiKeyPrincipal

KEYWORD = "Bearer"


def key_from_request(request: Request) -> str | None:
    header = get_authorization_header(request).split()
    if header and header[0].lower() == KEYWORD.lower().encode():
        if len(header) != 2:
            raise AuthenticationFailed(
                "Malformed Authorization header: expected 'Bearer <key>'.", code="invalid_api_key"
            )
        try:
            return header[1].decode()
        except UnicodeError:
            raise AuthenticationFailed("Invalid API key.", code="invalid_api_key") from None
    value = request.META.get("HTTP_X_API_KEY", "").strip()
    return value or None


class ApiKeyAuthentication(BaseAuthentication):
    """Sets ``request.user`` to the key's owner and ``request.auth`` to an ``ApiKeyPrincipal``."""

    def authenticate(self, request: Request) -> tuple[User, ApiKeyPrincipal] | None:
        raw_key = key_from_request(request)
        if raw_key is None:
            return None
        principal = selectors.api_key_principal(key_hash=services.api_key_hash(raw_key))
        if principal is None:
            raise AuthenticationFailed("Invalid API key.", code="invalid_api_key")
        if principal.revoked:
            raise AuthenticationFailed("This API key has been revoked.", code="revoked_api_key")
        if not principal.user.is_active:
            raise AuthenticationFailed("This account is disabled.", code="account_disabled")
        services.api_key_touch(key_id=principal.key_id)
        return principal.user, principal

    def authenticate_header(self, request: Any) -> str:
        return f'{KEYWORD} realm="api"'
