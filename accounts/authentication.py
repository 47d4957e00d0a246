"""API-key authentication for DRF: ``Authorization: Bearer <key>`` or ``X-API-Key: <key>``."""

from __future__ import annotations

from typing import Any

from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.request import Request

from accounts import selectors, services
from accounts.models import User
from accounts.selectors import ApiKeyPrincipal
from core.ratelimit import ReservationVetoed
from core.throttling import RESERVED_ATTR, api_call_reserve

KEYWORD = "Bearer"
REVOKED_MESSAGE = "This API key has been revoked."


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
        key_hash = services.api_key_hash(raw_key)
        principal = selectors.api_key_principal(key_hash=key_hash)
        if principal is None:
            raise AuthenticationFailed("Invalid API key.", code="invalid_api_key")
        if principal.revoked:
            raise AuthenticationFailed(REVOKED_MESSAGE, code="revoked_api_key")
        if not principal.user.is_active:
            raise AuthenticationFailed("This account is disabled.", code="account_disabled")
        # One round trip: the key's revocation marker (the principal may come from this
        # process's memory) and the call's rate-limit tokens, for ApiRateThrottle.
        veto_key = selectors.revoked_marker_key(key_hash)
        try:
            refused_wait = self._reserve(request, principal, veto_key)
        except ReservationVetoed:
            services.api_key_auth_cache_forget(key_hash=key_hash)
            principal = selectors.api_key_principal(key_hash=key_hash)
            if principal is None or principal.revoked:
                raise AuthenticationFailed(REVOKED_MESSAGE, code="revoked_api_key") from None
            # The marker of a revocation that did not commit (one that is still
            # committing sets it again when it does).
            services.api_key_revocation_marker_clear(key_hash=key_hash)
            refused_wait = self._reserve(request, principal, None)
        setattr(request, RESERVED_ATTR, refused_wait)
        services.api_key_touch(key_id=principal.key_id)
        return principal.user, principal

    @staticmethod
    def _reserve(request: Request, principal: ApiKeyPrincipal, veto_key: str | None) -> float | None:
        return api_call_reserve(
            request, user_pk=principal.user.pk, key_id=principal.key_id, veto_key=veto_key
        )

    def authenticate_header(self, request: Any) -> str:
        return f'{KEYWORD} realm="api"'
