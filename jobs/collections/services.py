"""Every write of scheduled collections: create, update, delete, claim a slot, start a run, expire results.

A run goes through the bulk engine (jobs/bulk/services.py), which holds the
credits for every item up front or creates nothing (``InsufficientCredits``).
So a run the balance cannot cover is recorded as skipped with the reason and
charges nothing; it is never half-charged.

Starting a scheduled slot takes two steps, each safe to repeat:

1. ``collection_slot_claim``: with the collection row locked, insert the run
   for (collection, slot) (unique) and move ``next_run_at`` past now. A second
   beat tick, or the same task delivered again, finds the slot taken and does
   nothing. Only one run of a collection is pending at a time (a partial unique
   index), and run now checks for a run in progress under that same lock.
2. ``collection_run_start``: create the bulk job with the idempotency key
   ``collection-run:<run id>`` and mark the run started, as a batch of one of
   the metered call (``credits.metering.metered_batch``: the pending run is the
   claim, the job's hold the funding). Retried after a crash (the beat re-queues
   runs left pending), it finds the same job.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.urls import reverse
from django.utils import timezone

from core.email import send_templated, site_link
from core.errors import ConflictError, DomainError, PaymentRequiredError
from credits.errors import InsufficientCredits
from credits.metering import JobHold, metered_batch
from credits.selectors import balance_get, price_get
from jobs.bulk import services as bulk_services
from jobs.bulk.kinds import bulk_kind_get
from jobs.bulk.uploads import InputRow
from jobs.collections.inputs import clean_items
from jobs.collections.schedule import first_slot, slot_after
from jobs.models import BulkJob, Collection, CollectionKind, CollectionRun, Schedule
from products.marketplaces import marketplace_get

if TYPE_CHECKING:
    from accounts.models import User

logger = logging.getLogger(__name__)

Run = CollectionRun.Status

# A run still pending this long after its slot was claimed lost its start task: the beat
# queues it again; after GIVE_UP it is skipped (its start keeps failing).
PENDING_RETRY = timedelta(minutes=2)
PENDING_GIVE_UP = timedelta(hours=1)


# --- Cost ------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RunCost:
    """What one run costs at most: every item delivered at the kind's price."""

    items: int
    price: int
    total: int
    operation: str


def collection_cost(*, kind: str, items: int) -> RunCost:
    operation = bulk_kind_get(kind).operation
    price = price_get(operation=operation)
    return RunCost(items=items, price=price, total=items * price, operation=operation)


# --- Collections -----------------------------------------------------------------------------------


def _clean_kind(kind: str) -> str:
    if kind not in CollectionKind.values:
        raise DomainError(
            f"Unknown kind {kind!r}: use one of {', '.join(CollectionKind.values)}.",
            code="invalid_kind",
            extra={"valid": list(CollectionKind.values)},
        )
    return kind


def _clean_schedule(schedule: str) -> str:
    if schedule not in Schedule.values:
        raise DomainError(
            f"Unknown schedule {schedule!r}: use one of {', '.join(Schedule.values)}.",
            code="invalid_schedule",
            extra={"valid": list(Schedule.values)},
        )
    return schedule


def _clean_name(name: str) -> str:
    name = name.strip()
    if not name:
        raise DomainError("Give the collection a name.", code="invalid_name")
    return name[:100]


@dataclass(frozen=True, slots=True)
class CollectionPreview:
    """A collection as it would be saved, and what one run of it costs."""

    name: str
    kind: str
    marketplace: str
    schedule: str
    items: list[str]
    cost: RunCost
    next_run_at: datetime | None


def collection_preview(
    *,
    name: str,
    items: Sequence[object],
    kind: str = CollectionKind.ASIN,
    marketplace: str = "US",
    schedule: str = Schedule.DAILY,
    now: datetime | None = None,
) -> CollectionPreview:
    """Check a collection's input (400s as ``collection_create``) and price one run; saves nothing."""
    kind = _clean_kind(kind)
    values = clean_items(kind=kind, values=items)
    schedule = _clean_schedule(schedule)
    return CollectionPreview(
        name=_clean_name(name),
        kind=kind,
        marketplace=marketplace_get(marketplace).code,
        schedule=schedule,
        items=values,
        cost=collection_cost(kind=kind, items=len(values)),
        next_run_at=first_slot(schedule=schedule, anchor=now or timezone.now()),
    )


def collection_create(
    *,
    user: User,
    name: str,
    items: Sequence[object],
    kind: str = CollectionKind.ASIN,
    marketplace: str = "US",
    schedule: str = Schedule.DAILY,
    now: datetime | None = None,
) -> Collection:
    """A collection of ``items`` (checked: 400 naming the invalid ones), first run one period from now."""
    now = now or timezone.now()
    preview = collection_preview(
        name=name, items=items, kind=kind, marketplace=marketplace, schedule=schedule, now=now
    )
    return Collection.objects.create(
        user=user,
        name=preview.name,
        kind=preview.kind,
        marketplace=preview.marketplace,
        items=preview.items,
        item_count=len(preview.items),
        schedule=preview.schedule,
        schedule_anchor=now,
        next_run_at=preview.next_run_at,
        created_at=now,
        updated_at=now,
    )


def collection_update(
    *,
    collection: Collection,
    name: str | None = None,
    items: Sequence[object] | None = None,
    kind: str | None = None,
    marketplace: str | None = None,
    schedule: str | None = None,
    now: datetime | None = None,
) -> Collection:
    """Change what is given. A new kind checks the items again; a new schedule starts from now."""
    now = now or timezone.now()
    with transaction.atomic():
        locked = Collection.objects.select_for_update().get(pk=collection.pk)
        if name is not None:
            locked.name = _clean_name(name)
        if kind is not None:
            locked.kind = _clean_kind(kind)
        if items is not None or kind is not None:
            locked.items = clean_items(kind=locked.kind, values=locked.items if items is None else items)
            locked.item_count = len(locked.items)
        if marketplace is not None:
            locked.marketplace = marketplace_get(marketplace).code
        if schedule is not None and _clean_schedule(schedule) != locked.schedule:
            locked.schedule = schedule
            locked.schedule_anchor = now
            locked.next_run_at = first_slot(schedule=schedule, anchor=now)
        locked.updated_at = now
        locked.save()
    return locked


def collection_delete(*, collection: Collection) -> None:
    """Delete the collection and its run history; jobs already started stay on the bulk jobs page."""
    Collection.objects.filter(pk=collection.pk).delete()


# --- Runs ------------------------------------------------------------------------------------------


def collection_slot_claim(
    *, collection_id: int, now: datetime | None = None, slot: datetime | None = None, trigger: str = ""
) -> CollectionRun | None:
    """Claim a slot of the collection: its due ``next_run_at`` (scheduled), or ``slot`` (run now).

    Returns the new run (pending), or None when there is nothing to claim: the
    slot is not due, already claimed by an earlier call, or another run of the
    collection is still pending (one at a time: the scheduled slot waits for the
    next tick). Run now (``trigger`` manual) while a run is in progress is a 409."""
    now = now or timezone.now()
    trigger = trigger or CollectionRun.Trigger.SCHEDULE
    try:
        with transaction.atomic():
            collection = Collection.objects.select_for_update().filter(pk=collection_id).first()
            if collection is None:
                return None
            # Checked with the collection row locked: every run is inserted under this lock, so two
            # run-now requests cannot both find the collection idle (each has its own slot).
            if trigger == CollectionRun.Trigger.MANUAL and _runs_in_progress(collection_id).exists():
                raise ConflictError(
                    "A run of this collection is still in progress; wait for it to finish.",
                    code="run_in_progress",
                )
            if CollectionRun.objects.filter(collection_id=collection_id, status=Run.PENDING).exists():
                # Its start has not run yet: two pending runs could both pass its "previous run
                # active" check. The slot stays due for a later tick.
                return None
            if slot is None:
                slot = collection.next_run_at
                if slot is None or slot > now:
                    return None
                # Missed slots (the beat was down) are not made up: one run, then the next slot after now.
                collection.next_run_at = slot_after(
                    schedule=collection.schedule, anchor=collection.schedule_anchor, after=max(slot, now)
                )
                collection.save(update_fields=["next_run_at"])
            cost = collection_cost(kind=collection.kind, items=collection.item_count)
            return CollectionRun.objects.create(
                collection=collection,
                slot=slot,
                trigger=trigger,
                items=collection.item_count,
                cost=cost.total,
                created_at=now,
            )
    except IntegrityError:
        # (collection, slot) exists: this slot was started already.
        return None


def _runs_in_progress(collection_id: int) -> QuerySet[CollectionRun]:
    return CollectionRun.objects.filter(collection_id=collection_id).filter(
        Q(status=Run.PENDING) | Q(status=Run.STARTED, job__status__in=BulkJob.ACTIVE)
    )


def collection_run_start(*, run_id: int) -> CollectionRun:
    """Create the run's bulk job (credits held up front), or skip the run with the reason.

    A run through the metered call's batch form: the pending run is the claim (no longer
    pending: nothing to do), the job's hold is its funding, opened by the serve step
    (``bulk_job_create``, under the existing keys: the job's ``collection-run:<run id>``,
    its hold's ``bulk:<job>:hold``), and the settle step marks the run started, or skipped
    with the reason when the serve delivered nothing (then nothing was charged)."""
    run = CollectionRun.objects.select_related("collection__user").get(pk=run_id)
    metered_batch(
        claim=lambda: [run] if run.status == Run.PENDING else [],
        funding=JobHold(),
        serve=lambda runs: _run_job(runs[0]),
        settle=_run_settle,
        serve_errors=(DomainError,),
    )
    return run


def _run_job(run: CollectionRun) -> BulkJob:
    """The run's bulk job, created with its hold (or found, made by an earlier start of this run).
    Raises ``DomainError`` (``InsufficientCredits`` among them) when nothing was created."""
    collection = run.collection
    busy = (
        CollectionRun.objects.filter(
            collection=collection, status=Run.STARTED, job__status__in=BulkJob.ACTIVE
        )
        .exclude(pk=run.pk)
        .exists()
    )
    if busy:
        raise DomainError(
            "The previous run of this collection was still in progress.", code="previous_run_active"
        )
    try:
        return bulk_services.bulk_job_create(
            user=collection.user,
            kind=collection.kind,
            rows=[InputRow(row, value) for row, value in enumerate(collection.items, start=1)],
            params={"marketplace": collection.marketplace},
            filename=f"Collection: {collection.name}",
            idempotency_key=f"collection-run:{run.pk}",
        )
    except ConflictError as exc:
        # The collection changed since an earlier start of this run created its job: that job is the run's.
        job_id = exc.extra.get("job") if exc.code == "idempotency_key_reused" else None
        if job_id is None:
            raise
        return BulkJob.objects.get(pk=job_id)


def _run_settle(
    runs: Sequence[CollectionRun], served: BulkJob | Exception
) -> tuple[list[CollectionRun], CollectionRun]:
    (run,) = runs
    if isinstance(served, DomainError):
        # Nothing was created or charged (InsufficientCredits is a 402 with the balance).
        return [], _skip(run, served.code, served.message)
    assert isinstance(served, BulkJob)
    CollectionRun.objects.filter(pk=run.pk, status=Run.PENDING).update(
        status=Run.STARTED, job=served, started_at=timezone.now()
    )
    run.refresh_from_db()
    return [run], run


def _skip(run: CollectionRun, code: str, reason: str) -> CollectionRun:
    skipped = CollectionRun.objects.filter(pk=run.pk, status=Run.PENDING).update(
        status=Run.SKIPPED, reason_code=code[:40], reason=reason[:500]
    )
    run.refresh_from_db()
    if skipped and run.trigger == CollectionRun.Trigger.SCHEDULE:
        logger.info("collection %s: run %s skipped (%s)", run.collection_id, run.pk, code)
        run_id = run.pk
        transaction.on_commit(lambda: _notify_later(run_id))
    return run


def collection_run_now(*, collection: Collection, now: datetime | None = None) -> CollectionRun:
    """Start a run of the collection at once (any schedule). A run still in progress is a 409;
    a balance that cannot cover the run is a 402, with the skipped run recorded."""
    now = now or timezone.now()
    run = collection_slot_claim(
        collection_id=collection.pk, slot=now, trigger=CollectionRun.Trigger.MANUAL, now=now
    )
    if run is None:
        raise ConflictError("A run of this collection was just started.", code="run_in_progress")
    run = collection_run_start(run_id=run.pk)
    if run.status == Run.SKIPPED and run.reason_code == InsufficientCredits.code:
        cost = collection_cost(kind=collection.kind, items=run.items)
        raise PaymentRequiredError(
            run.reason,
            code=run.reason_code,
            extra={
                "run": run.pk,
                "balance": balance_get(user=collection.user),
                "price": cost.total,
                "operation": cost.operation,
            },
        )
    return run


@dataclass
class DueReport:
    claimed: list[int]  # runs of slots claimed by this call
    requeued: list[int]  # runs left pending by a lost start task, queued again
    given_up: int = 0


def collections_run_due(*, now: datetime | None = None) -> DueReport:
    """Periodic (beat): claim the due slots and queue their starts; queue again the starts that were lost."""
    now = now or timezone.now()
    report = DueReport(claimed=[], requeued=[])
    stale = CollectionRun.objects.filter(status=Run.PENDING, created_at__lt=now - PENDING_RETRY)
    # Given up before the claims: a run stuck pending holds back its collection's next slot.
    report.given_up = stale.filter(created_at__lt=now - PENDING_GIVE_UP).update(
        status=Run.SKIPPED,
        reason_code="start_failed",
        reason="The run could not be started; it was given up. Use Run now to try again.",
    )
    due = Collection.objects.filter(next_run_at__lte=now).order_by("next_run_at").values_list("pk", flat=True)
    for collection_id in list(due):
        try:
            run = collection_slot_claim(collection_id=collection_id, now=now)
        except Exception:
            # One collection's failure must not hold up the others; it is tried again next tick.
            logger.exception("collection %s: could not claim its due slot", collection_id)
            continue
        if run is not None:
            report.claimed.append(run.pk)
    report.requeued = list(stale.values_list("pk", flat=True))
    for run_id in report.claimed + report.requeued:
        _start_later(run_id)
    return report


def _start_later(run_id: int) -> None:
    from jobs.collections.tasks import collection_run_start as task

    def enqueue() -> None:
        try:
            task.delay(run_id)
        except Exception:
            logger.exception("collection run %s: could not queue its start; the next beat tick will", run_id)

    transaction.on_commit(enqueue)


# --- Retention -------------------------------------------------------------------------------------


def collection_runs_expire_results(*, now: datetime | None = None) -> int:
    """Periodic (beat): delete the results of finished runs older than
    ``COLLECTION_RESULTS_RETENTION_DAYS`` through the bulk engine. Returns the runs expired."""
    now = now or timezone.now()
    cutoff = now - timedelta(days=settings.COLLECTION_RESULTS_RETENTION_DAYS)
    expired = 0
    runs = CollectionRun.objects.filter(
        job__isnull=False,
        results_deleted_at__isnull=True,
        created_at__lt=cutoff,
        job__status__in=BulkJob.FINAL,
    ).select_related("job")
    for run in runs.iterator():
        assert run.job is not None
        bulk_services.bulk_job_results_delete(job=run.job)
        expired += CollectionRun.objects.filter(pk=run.pk, results_deleted_at__isnull=True).update(
            results_deleted_at=now
        )
    return expired


# --- The email when a scheduled run is skipped ------------------------------------------------------


def _notify_later(run_id: int) -> None:
    from jobs.collections.tasks import collection_run_notify

    try:
        collection_run_notify.delay(run_id)
    except Exception:
        logger.exception("collection run %s: could not queue its email", run_id)


def collection_run_notify(*, run_id: int) -> bool:
    """Email the owner that a scheduled run was skipped, and why; at most once per run."""
    now = timezone.now()
    claimed = CollectionRun.objects.filter(pk=run_id, status=Run.SKIPPED, notified_at__isnull=True).update(
        notified_at=now
    )
    if not claimed:
        return False
    run = CollectionRun.objects.select_related("collection__user").get(pk=run_id)
    collection = run.collection
    context = {
        "run": run,
        "collection": collection,
        "collection_link": site_link(reverse("collection-page", args=[collection.pk])),
        "billing_link": site_link(reverse("billing")) if run.reason_code == InsufficientCredits.code else "",
    }
    try:
        send_templated(
            to=collection.user.email, template_prefix="email/collection_run_skipped", context=context
        )
    except Exception:
        CollectionRun.objects.filter(pk=run_id, notified_at=now).update(notified_at=None)
        raise
    return True
