"""API-key authentication for DRF: ``Authorization: Bearer <key>`` or ``X-API-Key: <key>``."""

from __future__ import annotations

from typing import Any

from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.request import Request

from accounts import selectors, services
from accounts.models import ApiKey, User

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
    def authenticate(self, request: Request) -> tuple[User, ApiKey] | None:
        raw_key = key_from_request(request)
        if raw_key is None:
            return None
        api_key = selectors.api_key_for_authentication(key_hash=services.api_key_hash(raw_key))
        if api_key is None:
            raise AuthenticationFailed("Invalid API key.", code="invalid_api_key")
        if api_key.revoked_at is not None:
            raise AuthenticationFailed("This API key has been revoked.", code="revoked_api_key")
        if not api_key.user.is_active:
            raise AuthenticationFailed("This account is disabled.", code="account_disabled")
        services.api_key_touch(api_key=api_key)
        return api_key.user, api_key

    def authenticate_header(self, request: Any) -> str:
        return f'{KEYWORD} realm="api"'
