"""Reads of the accounts app."""

from __future__ import annotations

from django.db.models import QuerySet

from accounts.models import ApiKey, User
from config.errors import NotFoundError


def api_key_list(*, user: User) -> QuerySet[ApiKey]:
    return ApiKey.objects.filter(user=user)


def api_key_get(*, user: User, key_id: int) -> ApiKey:
    """One of ``user``'s keys; someone else's key is simply not found."""
    try:
        return ApiKey.objects.get(user=user, pk=key_id)
    except ApiKey.DoesNotExist:
        raise NotFoundError("API key not found.") from None


def api_key_for_authentication(*, key_hash: str) -> ApiKey | None:
    return ApiKey.objects.select_related("user").filter(key_hash=key_hash).first()
