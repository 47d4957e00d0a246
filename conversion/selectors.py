"""Reads of the conversion app."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db.models import Count, Q, QuerySet

from conversion.models import Conversion, FbaSync, FnskuMapping, SpApiConnection
from core.errors import NotFoundError

if TYPE_CHECKING:
    from accounts.models import User


def conversion_list(*, user: User) -> QuerySet[Conversion]:
    return (
        Conversion.objects.filter(user=user)
        .exclude(status=Conversion.Status.PENDING)
        .order_by("-created_at", "-id")
    )


def conversion_search(*, user: User, text: str = "", status: str = "") -> QuerySet[Conversion]:
    """``user``'s conversions, newest first, whose FNSKU, ASIN, title or label text contain ``text``,
    with ``status`` when given."""
    found = conversion_list(user=user).select_related("feedback")
    words = text.strip()
    if words:
        found = found.filter(
            Q(fnsku__icontains=words)
            | Q(asin__icontains=words)
            | Q(title__icontains=words)
            | Q(label_text__icontains=words)
        )
    if status:
        found = found.filter(status=status)
    return found


def has_converted(*, user: User) -> bool:
    """Whether ``user`` has converted an FNSKU (any finished conversion)."""
    return conversion_list(user=user).exists()


def conversion_get(*, user: User, conversion_id: int) -> Conversion:
    """One of ``user``'s conversions; another user's is "not found", never "forbidden"."""
    conversion = Conversion.objects.filter(user=user, pk=conversion_id).first()
    if conversion is None:
        raise NotFoundError("No such conversion.", code="conversion_not_found")
    return conversion


def own_mapping_list(*, user: User) -> QuerySet[FnskuMapping]:
    return FnskuMapping.objects.filter(user=user).order_by("-last_seen", "-id")


def own_mapping_counts(*, user: User) -> dict[str, int]:
    counts = dict.fromkeys(FnskuMapping.Source.values, 0)
    for row in FnskuMapping.objects.filter(user=user).values("source").annotate(n=Count("id")):
        counts[row["source"]] = row["n"]
    return counts


def spapi_connection_get(*, user: User) -> SpApiConnection | None:
    return SpApiConnection.objects.filter(user=user).first()


def fba_sync_list(*, connection: SpApiConnection) -> QuerySet[FbaSync]:
    return connection.syncs.order_by("marketplace")
