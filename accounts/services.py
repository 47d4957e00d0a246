"""Every write of the accounts app: users and API keys."""

from __future__ import annotations

import hashlib
import math
import secrets
import time
from collections.abc import Collection

from allauth.account.models import EmailAddress
from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from accounts.errors import InsufficientScope, TooManyApiKeys
from accounts.models import ApiKey, ApiKeyScope, User
from accounts.selectors import (
    REVOKED_MARKER_SECONDS,
    api_key_get,
    api_key_principal_forget,
    auth_cache_key,
    revoked_marker_name,
)
from accounts.signals import user_created
from core.errors import DomainError

API_KEY_SCHEME = "apip_"
API_KEY_PREFIX_LENGTH = len(API_KEY_SCHEME) + 8

_last_touch: dict[int, float] = {}


def api_key_hash(raw_key: str) -> str:
    # Keys carry 256 bits from `secrets`, so a fast hash is enough: there is
    # nothing to brute-force, and a lookup by hash keeps authentication one query.
    return hashlib.sha256(raw_key.encode()).hexdigest()


@transaction.atomic
def user_create(*, email: str, password: str | None, verified: bool = False, **fields: object) -> User:
    """Create a user with their primary email address (verified or not); the apps above open
    what goes with a user (credits: their credit account) on ``user_created``, in the same
    transaction."""
    user = User.objects.create_user(email=email, password=password, **fields)
    EmailAddress.objects.create(user=user, email=user.email, primary=True, verified=verified)
    user_created.send(sender=User, user=user)
    return user


def api_key_create(
    *,
    user: User,
    name: str,
    scopes: Collection[str] = (),
    acting_key_scopes: Collection[str] | None = None,
) -> tuple[ApiKey, str]:
    """Create a key for ``user`` with ``scopes``; returns it with the raw key, which is never stored.

    ``acting_key_scopes`` are the scopes of the API key asking for it, or None when the user
    asks themselves (a session, an operator's command): a key can grant only scopes it holds.
    A user has at most ``API_KEYS_MAX_ACTIVE`` active keys."""
    requested = sorted(set(scopes))
    unknown = set(requested) - set(ApiKeyScope.values)
    if unknown:
        raise DomainError(
            f"Unknown scope {', '.join(sorted(unknown))}; the scopes are {', '.join(ApiKeyScope.values)}.",
            code="invalid_scope",
            extra={"scopes": sorted(unknown)},
        )
    if acting_key_scopes is not None and not set(requested) <= set(acting_key_scopes):
        missing = ", ".join(sorted(set(requested) - set(acting_key_scopes)))
        raise InsufficientScope(f"This API key cannot grant {missing}: it does not have that scope itself.")
    raw_key = API_KEY_SCHEME + secrets.token_urlsafe(32)
    limit = settings.API_KEYS_MAX_ACTIVE
    with transaction.atomic():
        # The user's row is the lock: two requests at once cannot both take the last slot.
        list(User.objects.select_for_update().filter(pk=user.pk).values_list("pk", flat=True))
        if ApiKey.objects.filter(user=user, revoked_at__isnull=True).count() >= limit:
            raise TooManyApiKeys(
                f"An account can have at most {limit} active API keys. "
                "Revoke one you no longer use to create another.",
                extra={"max_active_keys": limit},
            )
        api_key = ApiKey.objects.create(
            user=user,
            name=name.strip() or "API key",
            prefix=raw_key[:API_KEY_PREFIX_LENGTH],
            key_hash=api_key_hash(raw_key),
            scopes=requested,
        )
    return api_key, raw_key


def api_key_revoke(*, user: User, key_id: int) -> ApiKey:
    """Revoke one of ``user``'s keys; revoking a revoked key changes nothing."""
    api_key = api_key_get(user=user, key_id=key_id)
    if api_key.revoked_at is None:
        ApiKey.objects.filter(pk=api_key.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
        api_key.refresh_from_db(fields=["revoked_at"])
    # Mark the key revoked for every process (authentication checks the marker on each
    # call, whatever it has cached) and forget the shared cache's copy: now, and again
    # once the revocation is visible to others. A marker whose revocation did not
    # commit is found out and removed by the next call with the key.
    key_hash = api_key.key_hash
    _api_key_revocation_publish(key_hash)
    transaction.on_commit(lambda: _api_key_revocation_publish(key_hash))
    return api_key


def _api_key_revocation_publish(key_hash: str) -> None:
    cache.set(revoked_marker_name(key_hash), 1, REVOKED_MARKER_SECONDS)
    api_key_auth_cache_forget(key_hash=key_hash)


def api_key_auth_cache_forget(*, key_hash: str) -> None:
    """Drop every cached copy of the key's state (the shared cache's and this process's),
    so the next authentication reads it from the database."""
    cache.delete(auth_cache_key(key_hash))
    api_key_principal_forget(key_hash=key_hash)


def api_key_revocation_marker_clear(*, key_hash: str) -> None:
    """Remove the marker of a revocation the database does not have (it rolled back)."""
    cache.delete(revoked_marker_name(key_hash))


def api_key_touch(*, key_id: int) -> None:
    """Record that the key was used, writing at most once per interval per key
    and process (a timestamp in memory, so the hot path makes no extra call)."""
    now = time.monotonic()
    if now - _last_touch.get(key_id, -math.inf) < settings.API_KEY_TOUCH_INTERVAL:
        return
    _last_touch[key_id] = now
    ApiKey.objects.filter(pk=key_id).update(last_used_at=timezone.now())
