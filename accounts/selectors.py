"""Reads of the accounts app."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import cache
from typing import Any

from django.core.cache import cache as django_cache
from django.db import DEFAULT_DB_ALIAS
from django.db.models import Count, QuerySet
from django.db.models.functions import TruncDate

from accounts.models import ApiKey, User
from config.errors import NotFoundError

# How long an API key's owner is served from the cache instead of the database.
# Revoking a key removes its entry at once; other changes to the user (such as
# deactivation) reach the API within this time.
AUTH_CACHE_SECONDS = 60


@dataclass(frozen=True, slots=True)
class ApiKeyPrincipal:
    key_id: int
    revoked: bool
    user: User


def auth_cache_key(key_hash: str) -> str:
    return f"apikey:auth:{key_hash}"


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


def api_key_principal(*, key_hash: str) -> ApiKeyPrincipal | None:
    """The key with this hash and its owner, or None; one cache read when warm.

    Authentication runs on every API call, so the key's state and its owner's
    fields are kept in the cache (unknown hashes too, so a client retrying a
    wrong key does not reach the database each time)."""
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
                "user": [getattr(api_key.user, name) for name in _user_fields()],
            }
        django_cache.set(cache_key, entry, AUTH_CACHE_SECONDS)
    if entry.get("missing"):
        return None
    user = User.from_db(DEFAULT_DB_ALIAS, list(_user_fields()), entry["user"])
    return ApiKeyPrincipal(key_id=entry["key_id"], revoked=entry["revoked"], user=user)


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
