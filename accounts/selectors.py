"""Reads of the accounts app."""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass
from functools import cache
from typing import Any

from allauth.account.models import EmailAddress
from django.core.cache import cache as django_cache
from django.db import DEFAULT_DB_ALIAS
from django.db.models import Count, QuerySet
from django.db.models.functions import TruncDate

from accounts.models import ApiKey, User
from core.errors import NotFoundError

# How long an API key's owner is served from the shared cache instead of the
# database, and then from each process's memory instead of the shared cache.
# Revoking a key takes effect at once (its revocation marker, checked with the
# rate limit on every call); other changes to the user (such as deactivation)
# reach the API within the sum, about a minute.
AUTH_CACHE_SECONDS = 60
AUTH_LOCAL_SECONDS = 10
AUTH_LOCAL_MAX_ENTRIES = 10_000
# A revoked key's marker outlives every cached copy of the key's state.
REVOKED_MARKER_SECONDS = 24 * 3600


@dataclass(frozen=True, slots=True)
class ApiKeyPrincipal:
    key_id: int
    revoked: bool
    user: User
    scopes: frozenset[str] = frozenset()

    def has_scope(self, scope: str) -> bool:
        return scope in self.scopes


def auth_cache_key(key_hash: str) -> str:
    return f"apikey:auth:{key_hash}"


def revoked_marker_name(key_hash: str) -> str:
    """The cache key that exists once the API key is revoked."""
    return f"apikey:revoked:{key_hash}"


def revoked_marker_key(key_hash: str) -> str:
    """The same as a Redis key (the cache's prefix and version included)."""
    return str(django_cache.make_key(revoked_marker_name(key_hash)))


@cache
def _user_fields() -> tuple[str, ...]:
    # Everything but the password hash, which never leaves the database: the
    # instance is built with it deferred, so a save() cannot overwrite it.
    return tuple(f.attname for f in User._meta.concrete_fields if f.attname != "password")


def api_key_list(*, user: User) -> QuerySet[ApiKey]:
    return ApiKey.objects.filter(user=user)


def api_key_get(*, user: User, key_id: int) -> ApiKey:
    """One of ``user``'s keys; someone else's key is simply not found."""
    try:
        return ApiKey.objects.get(user=user, pk=key_id)
    except ApiKey.DoesNotExist:
        raise NotFoundError("API key not found.") from None


# key hash -> (monotonic expiry, the shared cache's entry): the found keys only.
_local_entries: dict[str, tuple[float, dict[str, Any]]] = {}


def api_key_principal(*, key_hash: str) -> ApiKeyPrincipal | None:
    """The key with this hash and its owner, or None; no call at all when warm.

    Authentication runs on every API call, so the key's state and its owner's
    fields are kept in this process's memory for ``AUTH_LOCAL_SECONDS``, over the
    shared cache (``AUTH_CACHE_SECONDS``; unknown hashes too, so a client retrying
    a wrong key does not reach the database each time). The user is built anew
    for each call from the kept field values, so no two requests share an instance."""
    now = time.monotonic()
    local = _local_entries.get(key_hash)
    if local is not None and local[0] > now:
        entry = local[1]
    else:
        entry = _shared_entry(key_hash)
        if entry.get("missing"):
            _local_entries.pop(key_hash, None)
            return None
        if len(_local_entries) >= AUTH_LOCAL_MAX_ENTRIES:
            _local_entries.clear()
        _local_entries[key_hash] = (now + AUTH_LOCAL_SECONDS, entry)
    user = User.from_db(DEFAULT_DB_ALIAS, list(_user_fields()), entry["user"])
    # An entry cached before keys had scopes has none: at worst a minute without key management.
    scopes = frozenset(entry.get("scopes", ()))
    return ApiKeyPrincipal(key_id=entry["key_id"], revoked=entry["revoked"], user=user, scopes=scopes)


def api_key_principal_forget(*, key_hash: str) -> None:
    """Drop this process's copy of the key's state (memory of this module's own; the
    shared cache's copy is dropped by accounts.services)."""
    _local_entries.pop(key_hash, None)


def api_key_principals_forget_all() -> None:
    _local_entries.clear()


def _shared_entry(key_hash: str) -> dict[str, Any]:
    cache_key = auth_cache_key(key_hash)
    entry: dict[str, Any] | None = django_cache.get(cache_key)
    if entry is None:
        api_key = ApiKey.objects.select_related("user").filter(key_hash=key_hash).first()
        if api_key is None:
            entry = {"missing": True}
        else:
            entry = {
                "key_id": api_key.pk,
                "revoked": api_key.revoked_at is not None,
                "scopes": list(api_key.scopes),
                "user": [getattr(api_key.user, name) for name in _user_fields()],
            }
        django_cache.set(cache_key, entry, AUTH_CACHE_SECONDS)
    return entry


def user_signups_by_day(*, since: dt.datetime, until: dt.datetime) -> dict[dt.date, int]:
    """Accounts opened per UTC day in ``[since, until)``."""
    rows = (
        User.objects.filter(date_joined__gte=since, date_joined__lt=until)
        .annotate(day=TruncDate("date_joined", tzinfo=dt.UTC))
        .values("day")
        .annotate(n=Count("id"))
        .order_by()
    )
    return {row["day"]: row["n"] for row in rows}


def user_signup_count(*, since: dt.datetime, until: dt.datetime) -> int:
    return User.objects.filter(date_joined__gte=since, date_joined__lt=until).count()


def email_verified(*, user: User) -> bool:
    """Whether ``user`` has confirmed an email address."""
    return EmailAddress.objects.filter(user=user, verified=True).exists()


def api_key_created(*, user: User) -> bool:
    """Whether ``user`` ever created an API key (a revoked one counts: the step was learnt)."""
    return ApiKey.objects.filter(user=user).exists()
