"""Users' feedback on their conversions: a confirmation or a correction, counted into the mapping store.

``conversion_feedback`` records a user's word on one conversion and rebuilds
the FNSKU's confirmation rows (source ``confirmed``: one shared row per ASIN
named, and the user's own) from all the feedback given on it, under the FNSKU's
advisory lock (conversion/mappings.py). See conversion/models.py for how the
resolvers weigh those rows.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import TYPE_CHECKING

from django.db import transaction
from django.utils import timezone

from conversion.mappings import advisory_lock
from conversion.models import Conversion, ConversionFeedback, FnskuMapping
from conversion.selectors import conversion_get
from core.errors import ConflictError
from products.validation import normalize_asin

if TYPE_CHECKING:
    from accounts.models import User

Status = Conversion.Status


def conversion_feedback(*, user: User, conversion_id: int, asin: str) -> ConversionFeedback:
    """``user`` says their conversion's FNSKU is ``asin``: a confirmation when it is the answer,
    a correction otherwise. Counted into the mapping store (see conversion/models.py)."""
    conversion = conversion_get(user=user, conversion_id=conversion_id)
    asin = normalize_asin(asin)
    if conversion.status in (Status.PENDING, Status.INSUFFICIENT_CREDITS):
        raise ConflictError(
            "This conversion has no answer to confirm or correct.", code="conversion_not_answered"
        )
    verdict = (
        ConversionFeedback.Verdict.CONFIRMED
        if asin == conversion.asin
        else ConversionFeedback.Verdict.CORRECTED
    )
    now = timezone.now()
    with transaction.atomic():
        advisory_lock(f"fnsku-mapping:{conversion.marketplace}:{conversion.fnsku}")
        feedback, _ = ConversionFeedback.objects.update_or_create(
            conversion=conversion,
            defaults={
                "user": user,
                "fnsku": conversion.fnsku,
                "marketplace": conversion.marketplace,
                "asin": asin,
                "verdict": verdict,
                "updated_at": now,
            },
            create_defaults={
                "user": user,
                "fnsku": conversion.fnsku,
                "marketplace": conversion.marketplace,
                "asin": asin,
                "verdict": verdict,
                "created_at": now,
                "updated_at": now,
            },
        )
        _feedback_recount(user, conversion.fnsku, conversion.marketplace, now)
    return feedback


def _feedback_recount(user: User, fnsku: str, marketplace: str, now: datetime) -> None:
    """Rebuild the confirmation rows of one FNSKU from the feedback, the record they are counted from.

    Each user counts once, with their latest word: the ASIN they named is
    endorsed; the answer they corrected is rejected. A confirmation of a sample-data
    answer (the sandbox provider's) is kept as the user's own row only, never shared."""
    latest: dict[int, ConversionFeedback] = {}
    for item in (
        ConversionFeedback.objects.filter(fnsku=fnsku, marketplace=marketplace)
        .select_related("conversion")
        .order_by("updated_at", "id")
    ):
        latest[item.user_id] = item
    endorsed: Counter[str] = Counter()
    rejected: Counter[str] = Counter()
    for item in latest.values():
        if item.verdict == ConversionFeedback.Verdict.CONFIRMED and item.conversion.sample_data:
            # Agreeing with the sandbox's sample answer says nothing about Amazon's catalogue.
            continue
        endorsed[item.asin] += 1
        corrected = item.conversion.asin
        if item.verdict == ConversionFeedback.Verdict.CORRECTED and corrected and corrected != item.asin:
            rejected[corrected] += 1

    shared = FnskuMapping.objects.filter(
        user=None, fnsku=fnsku, marketplace=marketplace, source=FnskuMapping.Source.CONFIRMED
    )
    existing = {row.asin: row for row in shared}
    for asin in set(endorsed) | set(rejected):
        counts = {"times_confirmed": endorsed[asin], "times_rejected": rejected[asin]}
        row = existing.pop(asin, None)
        if row is None:
            FnskuMapping.objects.create(
                fnsku=fnsku,
                marketplace=marketplace,
                asin=asin,
                source=FnskuMapping.Source.CONFIRMED,
                first_seen=now,
                last_seen=now,
                times_seen=endorsed[asin] + rejected[asin],
                **counts,
            )
        else:
            FnskuMapping.objects.filter(pk=row.pk).update(
                last_seen=now, times_seen=endorsed[asin] + rejected[asin], **counts
            )
    FnskuMapping.objects.filter(pk__in=[row.pk for row in existing.values()]).delete()

    mine = latest.get(user.pk)
    if mine is not None:
        times = ConversionFeedback.objects.filter(
            user=user, fnsku=fnsku, marketplace=marketplace, asin=mine.asin
        ).count()
        FnskuMapping.objects.update_or_create(
            user=user,
            fnsku=fnsku,
            marketplace=marketplace,
            source=FnskuMapping.Source.CONFIRMED,
            defaults={"asin": mine.asin, "last_seen": now, "times_seen": times, "times_confirmed": times},
            create_defaults={
                "asin": mine.asin,
                "first_seen": now,
                "last_seen": now,
                "times_seen": times,
                "times_confirmed": times,
            },
        )
