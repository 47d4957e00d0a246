"""Every write of bulk jobs: create, claim and complete chunks, cancel, retry, sweep, notify.

The database is the truth about the work; Celery messages only say "there may
be work for job N". So a message delivered twice, lost, or redelivered after
a worker was killed does nothing twice and loses nothing:

- an item is claimed by one chunk at a time (``claim_token``), with
  ``SELECT ... FOR UPDATE SKIP LOCKED`` on PostgreSQL, so concurrent workers
  take disjoint chunks (on SQLite the IMMEDIATE transaction serialises claims);
- only the holder of the claim can finish the item: the completion locks the
  job row, then the items still claimed with its token, and moves them, the
  job's counters and the credits the delivered items used in one
  transaction. A chunk whose claim was taken over (it ran too long, the job
  was cancelled) changes nothing;
- credits: a chunk goes through the metered call's batch form
  (``credits.metering.metered_batch``: claim, fund, process, complete) funded
  by the job's hold (``JobHold``: taken at creation, ``bulk:<job>:hold``), which
  is closed once, when the last item finishes (in that same transaction) or the
  job is cancelled: ``used`` is the sum of the delivered items' credits, the
  rest goes back to the balance. An item's ``credits`` are set only in its
  claimed -> succeeded step, which happens once;
- claims of killed workers are released, counting attempts (an item whose
  workers keep dying fails after ``BULK_MAX_ATTEMPTS`` instead of looping
  forever), and their jobs queued again: when a worker with the same name
  starts again, once the worker's heartbeats stopped (jobs/bulk/heartbeats.py;
  looked for when any worker starts and by the sweep), and by the periodic
  sweep after ``BULK_CLAIM_TIMEOUT`` whatever the worker.

Rows are locked in one order everywhere: the job, then its items (by id),
then the credit hold, then the credit account.

One module of about 900 lines on purpose: creation, claims, completion,
release and give-up are one state machine of a job's items and share its
private helpers and that locking order; splitting the sweep (release, give
up) out would make the order harder to check in one read.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, BinaryIO, cast

from celery.exceptions import SoftTimeLimitExceeded
from django.db import IntegrityError, connection, transaction
from django.db.models import Case, Count, DateTimeField, F, Field, Min, Q, Value, When
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils import timezone

from core.email import send_templated, site_link
from core.errors import ConflictError
from credits.metering import Batch, JobHold, metered_batch
from credits.selectors import credit_hold_get, price_get
from jobs.bulk.conf import bulk_settings
from jobs.bulk.heartbeats import bulk_workers_dead
from jobs.bulk.kinds import BulkKind, ClaimedItem, ItemOutcome, JobContext, OutcomeKind, bulk_kind_get
from jobs.bulk.uploads import (
    InputRow,
    PreparedItems,
    check_upload_size,
    invalid_rows_report,
    parse_csv_upload,
    prepare_items,
    rows_from_list,
    upload_error,
)
from jobs.models import BulkItem, BulkJob
from webhooks.services import EVENT_BULK_JOB_FINISHED, webhook_event_emit

if TYPE_CHECKING:
    from accounts.models import User

logger = logging.getLogger(__name__)

Item = BulkItem.Status
Job = BulkJob.Status

# --- Creating a job --------------------------------------------------------------------------------


def bulk_job_create(
    *,
    user: User,
    kind: str,
    rows: Sequence[InputRow],
    params: Mapping[str, Any] | None = None,
    source: str = BulkJob.Source.LIST,
    filename: str = "",
    idempotency_key: str = "",
) -> BulkJob:
    """A job for ``rows`` (already read and within the limits, see jobs/bulk/uploads.py).

    Invalid rows become invalid items with their reason, duplicates are folded,
    and the credits for every valid item are held (``InsufficientCredits``,
    402, when the balance cannot cover them: then nothing is created). The
    job is queued once the transaction commits. With ``idempotency_key`` the
    same request made again returns the first job."""
    spec = bulk_kind_get(kind)
    clean_params = spec.clean_params(params or {}) if spec.clean_params else dict(params or {})
    prepared = prepare_items(rows, normalize=spec.normalize, check_extra=spec.check_extra)
    if not prepared.valid:
        raise upload_error(
            "no_valid_items",
            f"No valid {spec.input_label} in the input: all {prepared.invalid:,} rows are invalid.",
            rows=invalid_rows_report(prepared.items),
        )
    key = idempotency_key.strip()[:255]
    fingerprint = _fingerprint(kind, clean_params, prepared)
    if key and (existing := _existing_job(user, key, fingerprint)) is not None:
        return existing
    price = price_get(operation=spec.operation)
    try:
        with transaction.atomic(durable=True):
            job = _create(user, spec, clean_params, prepared, source, filename, key, fingerprint, price)
    except IntegrityError:
        # The same key, created by a concurrent request a moment ago.
        if key and (existing := _existing_job(user, key, fingerprint)) is not None:
            return existing
        raise
    return job


def bulk_job_create_from_csv(
    *,
    user: User,
    kind: str,
    file: BinaryIO,
    size: int,
    filename: str = "",
    params: Mapping[str, Any] | None = None,
    idempotency_key: str = "",
) -> BulkJob:
    """A job for the rows of an uploaded CSV file of ``size`` bytes (see jobs/bulk/uploads.py)."""
    s = bulk_settings()
    spec = bulk_kind_get(kind)
    check_upload_size(size, max_bytes=s.max_upload_bytes)
    data = file.read(s.max_upload_bytes + 1)
    rows = parse_csv_upload(
        data,
        column=spec.input_column,
        max_rows=s.max_rows,
        max_bytes=s.max_upload_bytes,
        extra_columns=spec.extra_columns,
    )
    return bulk_job_create(
        user=user,
        kind=kind,
        rows=rows,
        params=params,
        source=BulkJob.Source.CSV,
        filename=filename,
        idempotency_key=idempotency_key,
    )


def bulk_job_create_from_list(
    *,
    user: User,
    kind: str,
    values: Sequence[object],
    params: Mapping[str, Any] | None = None,
    idempotency_key: str = "",
) -> BulkJob:
    """A job for a list of values (a JSON array), numbered from 1."""
    rows = rows_from_list(values, max_rows=bulk_settings().max_rows)
    return bulk_job_create(
        user=user,
        kind=kind,
        rows=rows,
        params=params,
        source=BulkJob.Source.LIST,
        idempotency_key=idempotency_key,
    )


def _create(
    user: User,
    spec: BulkKind,
    params: dict[str, Any],
    prepared: PreparedItems,
    source: str,
    filename: str,
    key: str,
    fingerprint: str,
    price: int,
) -> BulkJob:
    now = timezone.now()
    job = BulkJob.objects.create(
        user=user,
        kind=spec.name,
        params=params,
        source=source,
        filename=filename[:255],
        idempotency_key=key,
        fingerprint=fingerprint,
        total=len(prepared.items),
        invalid=prepared.invalid,
        failed=prepared.invalid,
        duplicates=prepared.duplicates,
        item_price=price,
        run_total=prepared.valid,
        created_at=now,
        heartbeat_at=now,
        progress_at=now,
    )
    amount = prepared.valid * price
    if amount:
        hold = JobHold.open(
            user=user,
            amount=amount,
            reference=f"bulk:{job.pk}",
            idempotency_key=f"bulk:{job.pk}:hold",
            operation=spec.operation,
        )
        BulkJob.objects.filter(pk=job.pk).update(hold=hold, credits_held=amount)
        job.hold, job.credits_held = hold, amount
    BulkItem.objects.bulk_create(
        (
            BulkItem(
                job=job,
                row=item.row,
                input=item.input,
                value=item.value,
                extra=item.extra,
                status=Item.INVALID if item.error else Item.PENDING,
                error_code="invalid_input" if item.error else "",
                error_message=item.error,
                finished_at=now if item.error else None,
            )
            for item in prepared.items
        ),
        batch_size=1000,
    )
    _enqueue_on_commit(job.pk, prepared.valid)
    return job


def _fingerprint(kind: str, params: Mapping[str, Any], prepared: PreparedItems) -> str:
    digest = hashlib.sha256(json.dumps([kind, params], sort_keys=True).encode())
    for item in prepared.items:
        digest.update(f"\n{item.row}\t{item.value or item.input}".encode())
    return digest.hexdigest()


def _existing_job(user: User, key: str, fingerprint: str) -> BulkJob | None:
    job = BulkJob.objects.filter(user=user, idempotency_key=key).first()
    if job is not None and job.fingerprint != fingerprint:
        raise ConflictError(
            "This Idempotency-Key was already used for a different job; use a new key for a new job.",
            code="idempotency_key_reused",
            extra={"job": job.pk},
        )
    return job


def _enqueue_on_commit(job_id: int, items: int) -> None:
    s = bulk_settings()
    lanes = max(1, min(s.lanes, math.ceil(items / s.chunk_size)))
    transaction.on_commit(lambda: bulk_job_enqueue(job_id=job_id, lanes=lanes))


def bulk_job_enqueue(*, job_id: int, lanes: int = 1) -> None:
    """Ask the workers to process ``job_id`` with ``lanes`` tasks in parallel.

    A lost message loses nothing (the sweep queues quiet jobs again), so a
    broker that is down is logged, not raised to a user whose job is saved."""
    from jobs.bulk.tasks import bulk_job_work

    try:
        for _ in range(lanes):
            bulk_job_work.delay(job_id)
    except Exception:
        logger.exception("bulk job %s: could not queue it now; the sweep will", job_id)


# --- Processing ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WorkReport:
    """What one ``bulk_job_work`` call did, and when this lane should run again (None: it is done)."""

    job_id: int
    claimed: int = 0
    finished: int = 0
    next_in: float | None = None


def bulk_job_work(*, job_id: int, worker: str = "", time_budget: float | None = None) -> WorkReport:
    """Claim and process chunks of ``job_id`` for about ``time_budget`` seconds (``BULK_TASK_SECONDS``).

    Safe to call any number of times, concurrently, or again after a crash:
    see the module's docstring."""
    s = bulk_settings()
    deadline = time.monotonic() + (s.task_seconds if time_budget is None else time_budget)
    job = BulkJob.objects.filter(pk=job_id).first()
    if job is None or job.is_final:
        return WorkReport(job_id)
    spec = bulk_kind_get(job.kind)
    context = JobContext(
        job_id=job.pk, user_id=job.user_id, kind=job.kind, params=job.params, item_price=job.item_price
    )
    claimed = finished = 0
    pause = 0.0
    while True:
        chunk = _work_chunk(job.pk, spec, context, worker=worker, size=s.chunk_size)
        if chunk is None:
            break
        claimed += len(chunk.units)
        if chunk.error is not None:
            # A bug or a crash of the processor: each item was put back for another try (an
            # attempt used, so a chunk that always crashes ends up failed).
            if isinstance(chunk.error, SoftTimeLimitExceeded):
                raise chunk.error
            pause = max(pause, s.retry_delay)
            break
        done = chunk.settled
        finished += len(done)
        if spec.on_completed is not None and done:
            try:
                spec.on_completed(context, done)
            except Exception:
                logger.exception("bulk job %s: the %s completion hook failed", job.pk, job.kind)
        outcomes = chunk.served or {}
        deferred = [o.delay or 0.0 for o in outcomes.values() if o.kind == OutcomeKind.DEFER]
        if deferred:
            # The upstream holds us back (rate limit, circuit open): pause this lane, not the items.
            pause = max(pause, min(_defer_delay(d, s.retry_delay_max) for d in deferred))
            break
        if time.monotonic() >= deadline:
            break
    next_in = _next_run_in(job.pk)
    if next_in is not None:
        next_in = max(next_in, pause)
    return WorkReport(job.pk, claimed=claimed, finished=finished, next_in=next_in)


Outcomes = dict[int, ItemOutcome]
Done = list[tuple[ClaimedItem, ItemOutcome]]


def _work_chunk(
    job_id: int, spec: BulkKind, context: JobContext, *, worker: str, size: int
) -> Batch[ClaimedItem, Outcomes, Done] | None:
    """One chunk through the metered call's batch form: claimed under a new token, funded by
    the job's hold, processed by the kind, completed under the token (``_complete``: one
    transaction). None when no item is due."""
    token = uuid.uuid4().hex

    def settle(items: Sequence[ClaimedItem], served: Outcomes | Exception) -> tuple[list[ClaimedItem], Done]:
        if isinstance(served, Exception):
            logger.error(
                "bulk job %s: processing a chunk of %d items failed", job_id, len(items), exc_info=served
            )
            error = ItemOutcome.retry("processing_error", f"Processing failed ({served.__class__.__name__}).")
            served = dict.fromkeys((item.id for item in items), error)
        done = _complete(job_id, token, items, served)
        return [item for item, outcome in done if outcome.kind == OutcomeKind.SUCCEEDED], done

    return metered_batch(
        claim=lambda: _claim(job_id, token=token, worker=worker, size=size),
        funding=JobHold(),
        serve=lambda items: dict(spec.process(context, items)),
        settle=settle,
    )


def _mark_running(job_id: int, now: datetime) -> None:
    # A retried job keeps its first start; its run starts now.
    BulkJob.objects.filter(pk=job_id, status=Job.QUEUED).update(
        status=Job.RUNNING,
        started_at=Coalesce("started_at", Value(now, output_field=DateTimeField())),
        run_started_at=now,
    )


def _claim(job_id: int, *, token: str, worker: str, size: int) -> list[ClaimedItem]:
    """Claim up to ``size`` items of the job that are due, for ``token``."""
    now = timezone.now()
    with transaction.atomic():
        items = _claim_items(job_id, token=token, worker=worker, size=size, now=now)
    if items:
        # The job row is written after the items' locks are gone: the job is always locked first.
        _mark_running(job_id, now)
        BulkJob.objects.filter(pk=job_id).update(heartbeat_at=now)
    return items


def _claim_items(job_id: int, *, token: str, worker: str, size: int, now: datetime) -> list[ClaimedItem]:
    due = (
        BulkItem.objects.filter(job_id=job_id, status=Item.PENDING)
        .filter(Q(available_at__isnull=True) | Q(available_at__lte=now))
        .order_by("row")
    )
    if connection.features.has_select_for_update_skip_locked:
        # Rows another worker is claiming right now are passed over, not waited for.
        due = due.select_for_update(skip_locked=True)
    # (SQLite: the IMMEDIATE transaction holds the database's write lock, so claims queue up.)
    rows = list(due.values_list("pk", "row", "value", "attempts", "extra")[:size])
    if rows:
        BulkItem.objects.filter(pk__in=[pk for pk, *_ in rows]).update(
            status=Item.CLAIMED,
            claim_token=token,
            claimed_by=worker[:255],
            claimed_at=now,
            attempts=F("attempts") + 1,
        )
    return [
        ClaimedItem(id=pk, row=row, value=value, attempts=attempts + 1, extra=extra or {})
        for pk, row, value, attempts, extra in rows
    ]


def _complete(
    job_id: int, token: str, items: Sequence[ClaimedItem], outcomes: Mapping[int, ItemOutcome]
) -> list[tuple[ClaimedItem, ItemOutcome]]:
    """Record the outcomes of the items still claimed under ``token``; return those now final."""
    now = timezone.now()
    with transaction.atomic():
        job = BulkJob.objects.select_for_update().get(pk=job_id)
        still_mine = set(
            BulkItem.objects.select_for_update()
            .filter(job_id=job_id, pk__in=[item.id for item in items], status=Item.CLAIMED, claim_token=token)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        if not still_mine:
            return []
        rows: dict[int, dict[str, Any]] = {}
        done: list[tuple[ClaimedItem, ItemOutcome]] = []
        for item in items:
            if item.id in still_mine:
                outcome = outcomes.get(item.id) or ItemOutcome.retry(
                    "no_outcome", "The item was not processed; it is tried again."
                )
                rows[item.id] = _item_after(item, outcome, price=job.item_price, now=now)
                if rows[item.id]["status"] in (Item.SUCCEEDED, Item.FAILED):
                    done.append((item, outcome))
        _write_items(rows)
        succeeded = sum(1 for row in rows.values() if row["status"] == Item.SUCCEEDED)
        failed = sum(1 for row in rows.values() if row["status"] == Item.FAILED)
        spent = succeeded * job.item_price
        counters: dict[str, Any] = {"heartbeat_at": now}
        if done:
            counters.update(
                succeeded=F("succeeded") + succeeded,
                failed=F("failed") + failed,
                credits_spent=F("credits_spent") + spent,
                hold_spent=F("hold_spent") + spent,
                progress_at=now,
            )
        BulkJob.objects.filter(pk=job_id).update(**counters)
        if done:
            _finish_if_done(job_id, now)
    return done


def _item_after(item: ClaimedItem, outcome: ItemOutcome, *, price: int, now: datetime) -> dict[str, Any]:
    """The fields of a claimed item once ``outcome`` is recorded (its claim given up)."""
    s = bulk_settings()
    row: dict[str, Any] = {
        "claim_token": "",
        "claimed_by": "",
        "claimed_at": None,
        "attempts": item.attempts,
        "available_at": None,
        "finished_at": None,
        "result": None,
        "credits": 0,
        "error_code": outcome.error_code,
        "error_message": outcome.error_message[:500],
    }
    if outcome.kind == OutcomeKind.SUCCEEDED:
        row.update(status=Item.SUCCEEDED, result=outcome.result, credits=price, finished_at=now)
        row.update(error_code="", error_message="")
    elif outcome.kind == OutcomeKind.FAILED:
        row.update(status=Item.FAILED, finished_at=now)
    elif outcome.kind == OutcomeKind.RETRY and item.attempts >= s.max_attempts:
        message = f"{outcome.error_message} (gave up after {item.attempts} attempts)"
        row.update(status=Item.FAILED, finished_at=now, error_message=message[:500])
    elif outcome.kind == OutcomeKind.RETRY:
        delay = _retry_delay(item.attempts, outcome.delay)
        row.update(status=Item.PENDING, available_at=now + timedelta(seconds=delay))
    else:  # DEFER: not attempted, so the claim does not count as an attempt
        delay = _defer_delay(outcome.delay, s.retry_delay_max)
        row.update(
            status=Item.PENDING, attempts=item.attempts - 1, available_at=now + timedelta(seconds=delay)
        )
    return row


# Fields that can differ between items reaching the same state (a CASE then sets them).
_PER_ITEM_FIELDS = ("result", "attempts", "available_at", "error_code", "error_message")


def _write_items(rows: Mapping[int, Mapping[str, Any]]) -> None:
    """One UPDATE per resulting state: a CASE only for the fields whose values differ
    (for delivered items, their results), plain values for the rest."""
    by_status: dict[str, dict[int, Mapping[str, Any]]] = {}
    for pk, row in rows.items():
        by_status.setdefault(row["status"], {})[pk] = row
    for members in by_status.values():
        first = next(iter(members.values()))
        changes: dict[str, Any] = {}
        for name, value in first.items():
            if name in _PER_ITEM_FIELDS and any(row[name] != value for row in members.values()):
                field = cast(Field[Any, Any], BulkItem._meta.get_field(name))
                whens = [
                    When(pk=pk, then=Value(row[name], output_field=field)) for pk, row in members.items()
                ]
                changes[name] = Case(*whens, output_field=field)
            else:
                changes[name] = value
        BulkItem.objects.filter(pk__in=list(members)).update(**changes)


def _retry_delay(attempt: int, asked: float | None) -> float:
    s = bulk_settings()
    backoff = s.retry_delay * 2 ** max(0, attempt - 1)
    return min(max(backoff, asked or 0.0), s.retry_delay_max)


def _defer_delay(asked: float | None, ceiling: float) -> float:
    return min(max(asked or 1.0, 0.5), max(ceiling, 0.5))


def _next_run_in(job_id: int) -> float | None:
    """0 when items are due now, the seconds until the next one is due, or None when none is pending."""
    now = timezone.now()
    pending = BulkItem.objects.filter(job_id=job_id, status=Item.PENDING).aggregate(
        count=Count("pk"),
        due=Count("pk", filter=Q(available_at__isnull=True) | Q(available_at__lte=now)),
        earliest=Min("available_at"),
    )
    if not pending["count"]:
        return None
    if pending["due"] or pending["earliest"] is None:
        return 0.0
    return max(0.05, (pending["earliest"] - now).total_seconds())


def _finish_if_done(job_id: int, now: datetime) -> None:
    """Close the job when no item is left to process. Call with the job row locked."""
    if BulkItem.objects.filter(job_id=job_id, status__in=BulkItem.OPEN).exists():
        return
    job = BulkJob.objects.get(pk=job_id)
    if job.is_final:
        return
    status = Job.COMPLETED if job.succeeded else Job.FAILED
    _close(job, status, now)
    webhook_event_emit(
        user_id=job.user_id,
        event=EVENT_BULK_JOB_FINISHED,
        data={
            "job_id": job.pk,
            "kind": job.kind,
            "status": status,
            "run": job.run,
            "total": job.total,
            "succeeded": job.succeeded,
            "failed": job.failed,
            "credits_spent": job.credits_spent,
            "finished_at": now,
            "url": reverse("api:bulk-job", args=[job.pk]),
        },
    )


def _close(job: BulkJob, status: str, now: datetime) -> None:
    """Settle the run's hold (what its delivered items used stays spent, the rest
    goes back) and mark the job final. Call with the job row locked."""
    if job.hold_id is not None:
        hold = credit_hold_get(hold_id=job.hold_id)
        if hold.status == hold.Status.OPEN:
            JobHold.close(hold=hold, used=job.hold_spent)
    BulkJob.objects.filter(pk=job.pk).update(status=status, finished_at=now, heartbeat_at=now)
    if status in (Job.COMPLETED, Job.FAILED):
        job_id = job.pk
        transaction.on_commit(lambda: _notify_later(job_id))


# --- Cancel and retry -----------------------------------------------------------------------------


def bulk_job_cancel(*, job: BulkJob) -> BulkJob:
    """Stop the job: items not finished yet are cancelled (a chunk being processed
    now is discarded, uncharged) and the credits they held go back at once."""
    now = timezone.now()
    with transaction.atomic(durable=True):
        locked = BulkJob.objects.select_for_update().get(pk=job.pk)
        if locked.status == Job.CANCELLED:
            return locked
        if locked.is_final:
            raise ConflictError(
                f"This job is already {locked.status}; there is nothing left to cancel.", code="job_finished"
            )
        ids = list(
            BulkItem.objects.select_for_update()
            .filter(job_id=locked.pk, status__in=BulkItem.OPEN)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        BulkItem.objects.filter(pk__in=ids).update(
            status=Item.CANCELLED,
            claim_token="",
            claimed_by="",
            claimed_at=None,
            available_at=None,
            finished_at=now,
        )
        BulkJob.objects.filter(pk=locked.pk).update(cancelled=F("cancelled") + len(ids))
        locked.refresh_from_db()
        _close(locked, Job.CANCELLED, now)
    locked.refresh_from_db()
    return locked


def bulk_job_retry(*, job: BulkJob) -> BulkJob:
    """Process the job's failed items again (not its invalid rows), holding their credits anew."""
    spec = bulk_kind_get(job.kind)
    price = price_get(operation=spec.operation)
    now = timezone.now()
    with transaction.atomic(durable=True):
        locked = BulkJob.objects.select_for_update().get(pk=job.pk)
        if not locked.is_final:
            raise ConflictError(
                "The job is still running; retry its failed items once it has finished.", code="job_running"
            )
        if locked.results_deleted_at is not None:
            # Its results are gone: a retry would deliver a fraction nobody could download.
            raise ConflictError(
                f"This job's results were removed on {locked.results_deleted_at:%Y-%m-%d} (retention); "
                "start a new job instead.",
                code="results_expired",
            )
        ids = list(
            BulkItem.objects.select_for_update()
            .filter(job_id=locked.pk, status=Item.FAILED)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        if not ids:
            raise ConflictError("This job has no failed items to retry.", code="nothing_to_retry")
        run = locked.run + 1
        amount = len(ids) * price
        hold = None
        if amount:
            hold = JobHold.open(
                user=locked.user,
                amount=amount,
                reference=f"bulk:{locked.pk}",
                idempotency_key=f"bulk:{locked.pk}:run{run}:hold",
                operation=spec.operation,
            )
        BulkItem.objects.filter(pk__in=ids).update(
            status=Item.PENDING,
            attempts=0,
            available_at=None,
            error_code="",
            error_message="",
            finished_at=None,
        )
        BulkJob.objects.filter(pk=locked.pk).update(
            status=Job.QUEUED,
            run=run,
            run_total=len(ids),
            run_started_at=None,
            finished_at=None,
            failed=F("failed") - len(ids),
            item_price=price,
            hold=hold,
            hold_spent=0,
            credits_held=F("credits_held") + amount,
            notified_at=None,
            heartbeat_at=now,
            progress_at=now,
        )
        _enqueue_on_commit(locked.pk, len(ids))
    locked.refresh_from_db()
    return locked


# --- Retention -------------------------------------------------------------------------------------


def bulk_job_results_delete(*, job: BulkJob) -> int:
    """Delete what a finished job delivered (its items' ``result``), for retention: the job,
    its items' states and errors and its credits stay, for the record, and ``results_deleted_at``
    says when (the exports answer 410 from then on). Returns the number of results deleted;
    again, 0 (the first date stays). A job still running is refused (409)."""
    with transaction.atomic():
        locked = BulkJob.objects.select_for_update().get(pk=job.pk)
        if not locked.is_final:
            raise ConflictError(
                "The job is still running; its results can be deleted once it has finished.",
                code="job_running",
            )
        deleted = BulkItem.objects.filter(job_id=locked.pk, result__isnull=False).update(result=None)
        if locked.results_deleted_at is None:
            BulkJob.objects.filter(pk=locked.pk).update(results_deleted_at=timezone.now())
    return deleted


# --- Recovery: the sweep ---------------------------------------------------------------------------


@dataclass
class SweepReport:
    dead_workers: int = 0  # claims of workers whose heartbeats stopped, released (back to pending or failed)
    released: int = 0  # claims older than the claim timeout, back to pending
    abandoned: int = 0  # ... or failed, after too many attempts
    gave_up: int = 0  # pending items of jobs without progress for too long, failed
    requeued: list[int] = field(default_factory=list)  # jobs queued again


def bulk_jobs_sweep(*, now: datetime | None = None) -> SweepReport:
    """Periodic (beat): recover what killed workers and lost messages left behind.

    - the claims of workers whose heartbeats stopped are released and their jobs
      queued again (``bulk_claims_release_dead_workers``);
    - items claimed longer than ``BULK_CLAIM_TIMEOUT`` go back to pending (or
      fail, after ``BULK_MAX_ATTEMPTS``);
    - active jobs quiet for ``BULK_STALL_SECONDS`` with items due are queued again;
    - active jobs where no item finished for ``BULK_GIVE_UP_SECONDS`` fail their pending items."""
    s = bulk_settings()
    now = now or timezone.now()
    report = SweepReport(dead_workers=bulk_claims_release_dead_workers(now=now))
    expired = now - timedelta(seconds=s.claim_timeout)
    stale_jobs = (
        BulkItem.objects.filter(status=Item.CLAIMED, claimed_at__lt=expired)
        .values_list("job_id", flat=True)
        .distinct()
    )
    for job_id in list(stale_jobs):
        released, abandoned = _release_claims(job_id, Q(claimed_at__lt=expired), now)
        report.released += released
        report.abandoned += abandoned

    quiet = BulkJob.objects.filter(
        status__in=BulkJob.ACTIVE, heartbeat_at__lt=now - timedelta(seconds=s.stall_seconds)
    ).values_list("pk", "progress_at")
    for job_id, progress_at in list(quiet):
        if progress_at < now - timedelta(seconds=s.give_up_seconds):
            report.gave_up += _give_up(job_id, now)
        due = BulkItem.objects.filter(job_id=job_id, status=Item.PENDING).filter(
            Q(available_at__isnull=True) | Q(available_at__lte=now)
        )
        if due.exists():
            BulkJob.objects.filter(pk=job_id).update(heartbeat_at=now)
            pending = due.count()
            bulk_job_enqueue(job_id=job_id, lanes=max(1, min(s.lanes, math.ceil(pending / s.chunk_size))))
            report.requeued.append(job_id)
        else:
            with transaction.atomic():
                BulkJob.objects.select_for_update().get(pk=job_id)
                _finish_if_done(job_id, now)
    return report


def bulk_claims_release_dead_workers(*, now: datetime | None = None) -> int:
    """Release the claims of workers whose heartbeats stopped (jobs/bulk/heartbeats.py),
    and queue their jobs again, as ``bulk_claims_release_worker`` does for each.

    Run when any worker starts (a replacement rarely has the dead worker's name) and by
    the sweep. Only claims older than ``BULK_WORKER_ALIVE_SECONDS`` are taken: a worker
    whose mark lapsed a moment (a slow cache) keeps the chunks it claimed since."""
    s = bulk_settings()
    now = now or timezone.now()
    claimed_before = now - timedelta(seconds=s.worker_alive_seconds)
    holders = (
        BulkItem.objects.filter(status=Item.CLAIMED, claimed_at__lt=claimed_before)
        .exclude(claimed_by="")
        .order_by()
        .values_list("claimed_by", flat=True)
        .distinct()
    )
    released = 0
    for worker in bulk_workers_dead(workers=list(holders)):
        logger.warning("bulk worker %s: its heartbeats stopped; releasing its claims", worker)
        released += bulk_claims_release_worker(worker=worker, claimed_before=claimed_before)
    return released


def bulk_claims_release_worker(*, worker: str, claimed_before: datetime) -> int:
    """Release the claims made before ``claimed_before`` by the worker named ``worker``,
    which is gone: it starts again (so whatever it held when it stopped is not being
    processed), or its heartbeats stopped.

    Each job it released claims of is queued again: the lane that died with it
    was the job's message, which the broker gives back only after its
    visibility timeout, and without the beat's sweep nothing else would."""
    if not worker:
        return 0
    condition = Q(claimed_by=worker, claimed_at__lt=claimed_before)
    job_ids = (
        BulkItem.objects.filter(condition, status=Item.CLAIMED).values_list("job_id", flat=True).distinct()
    )
    released = 0
    for job_id in list(job_ids):
        back, abandoned = _release_claims(job_id, condition, timezone.now())
        released += back + abandoned
        if back or abandoned:
            # Also when each released item was given up: the job's other pending items had that lane.
            _enqueue_on_commit(job_id, max(back, 1))
    return released


def _release_claims(job_id: int, condition: Q, now: datetime) -> tuple[int, int]:
    s = bulk_settings()
    with transaction.atomic():
        BulkJob.objects.select_for_update().get(pk=job_id)
        claims = list(
            BulkItem.objects.select_for_update()
            .filter(condition, job_id=job_id, status=Item.CLAIMED)
            .order_by("pk")
            .values_list("pk", "attempts")
        )
        exhausted = [pk for pk, attempts in claims if attempts >= s.max_attempts]
        back = [pk for pk, attempts in claims if attempts < s.max_attempts]
        reset = {"claim_token": "", "claimed_by": "", "claimed_at": None}
        BulkItem.objects.filter(pk__in=back).update(status=Item.PENDING, available_at=None, **reset)
        if exhausted:
            BulkItem.objects.filter(pk__in=exhausted).update(
                status=Item.FAILED,
                error_code="processing_abandoned",
                error_message=(
                    f"Processing this item stopped {s.max_attempts} times (its worker was stopped "
                    "or timed out); it was given up."
                ),
                finished_at=now,
                **reset,
            )
            BulkJob.objects.filter(pk=job_id).update(failed=F("failed") + len(exhausted), progress_at=now)
            _finish_if_done(job_id, now)
    if claims:
        logger.warning(
            "bulk job %s: released %d stale claims, gave up %d items", job_id, len(back), len(exhausted)
        )
    return len(back), len(exhausted)


def _give_up(job_id: int, now: datetime) -> int:
    s = bulk_settings()
    minutes = max(1, round(s.give_up_seconds / 60))
    with transaction.atomic():
        BulkJob.objects.select_for_update().get(pk=job_id)
        ids = list(
            BulkItem.objects.select_for_update()
            .filter(job_id=job_id, status=Item.PENDING)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        if not ids:
            return 0
        BulkItem.objects.filter(pk__in=ids).update(
            status=Item.FAILED,
            error_code="job_stalled",
            error_message=(
                f"No item of this job could be processed for {minutes} minutes (the data provider is "
                "unavailable?); it was given up. Retry the failed items later."
            ),
            available_at=None,
            finished_at=now,
        )
        BulkJob.objects.filter(pk=job_id).update(failed=F("failed") + len(ids), progress_at=now)
        _finish_if_done(job_id, now)
    logger.warning("bulk job %s: no progress for %s minutes, %d items given up", job_id, minutes, len(ids))
    return len(ids)


# --- The email when a job finishes -------------------------------------------------------------------


def _notify_later(job_id: int) -> None:
    from jobs.bulk.tasks import bulk_job_notify

    try:
        bulk_job_notify.delay(job_id)
    except Exception:
        logger.exception("bulk job %s: could not queue its email", job_id)


def bulk_job_notify(*, job_id: int) -> bool:
    """Email the job's owner that it finished; at most once per run (``notified_at``)."""
    now = timezone.now()
    claimed = BulkJob.objects.filter(
        pk=job_id, notified_at__isnull=True, status__in=[Job.COMPLETED, Job.FAILED]
    ).update(notified_at=now)
    if not claimed:
        return False
    job = BulkJob.objects.select_related("user").get(pk=job_id)
    context = {
        "job": job,
        "kind_label": bulk_kind_get(job.kind).label,
        "job_link": site_link(reverse("bulk-job-page", args=[job.pk])),
    }
    try:
        send_templated(to=job.user.email, template_prefix="email/bulk_job_finished", context=context)
    except Exception:
        BulkJob.objects.filter(pk=job_id, notified_at=now).update(notified_at=None)
        raise
    return True
