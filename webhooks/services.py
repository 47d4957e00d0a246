"""Outgoing webhooks to the user's own systems.

Other apps announce events through ``webhook_event_emit``; this module owns the
endpoints, the signed deliveries and their retries.

The database is the truth about deliveries; a Celery message only says "delivery
N may be due". An attempt first claims the delivery (counting the attempt and
taking a lease, in a short transaction), then sends outside any transaction,
then records the outcome. So a message delivered twice does nothing twice (a
succeeded or not-yet-due delivery is not claimed), a lost message is made up for
by the periodic requeue, and an attempt whose worker died counts and is retried
when its lease is over.
"""

from __future__ import annotations

import json
import logging
import random
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import requests
from django.contrib.auth import get_user_model
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.utils import timezone

from core.errors import ConflictError, DomainError, NotFoundError
from webhooks import conf, crypto, net
from webhooks.models import WebhookDelivery, WebhookEndpoint

if TYPE_CHECKING:
    from accounts.models import User

logger = logging.getLogger(__name__)

EVENT_BULK_JOB_FINISHED = "bulk_job.finished"
EVENT_ALERT_RAISED = "alert.raised"
EVENT_BALANCE_LOW = "balance.low"

# Events an endpoint can subscribe to, with what they mean (shown on the page and in the API docs).
EVENTS: dict[str, str] = {
    EVENT_BULK_JOB_FINISHED: "A bulk job finished (completed or failed).",
    EVENT_ALERT_RAISED: "A watchlist alert was raised.",
    EVENT_BALANCE_LOW: "A charge took your credit balance below your low-balance threshold.",
}
USER_AGENT = "ProductIntelligence-Webhooks/1"

Status = WebhookDelivery.Status


# --- Emitting events ---------------------------------------------------------------------------


def webhook_event_emit(*, user_id: int, event: str, data: dict[str, Any]) -> None:
    """Queue one delivery per endpoint of the user subscribed to ``event``.

    Called inside the caller's transaction: the deliveries are recorded with it and
    sent after commit by a Celery task, so the work that caused them never waits.
    """
    if event not in EVENTS:
        raise ValueError(f"Unknown webhook event {event!r}.")
    endpoints = [
        pk
        for pk, events in WebhookEndpoint.objects.filter(user_id=user_id, is_active=True).values_list(
            "pk", "events"
        )
        if event in events
    ]
    if endpoints:
        _deliveries_create(endpoint_ids=endpoints, event=event, data=data)


def _deliveries_create(
    *,
    endpoint_ids: list[int],
    event: str,
    data: dict[str, Any] | None = None,
    payload: dict[str, Any] | None = None,
    event_id: uuid.UUID | None = None,
    replay_of: WebhookDelivery | None = None,
) -> list[WebhookDelivery]:
    """Record deliveries of one event (a new one from ``data``, or ``payload`` again) and
    queue them once the surrounding transaction commits."""
    now = timezone.now()
    event_id = event_id or uuid.uuid4()
    if payload is None:
        payload = {"id": str(event_id), "type": event, "created": now, "data": data or {}}
        # Stored as it will be sent: JSON types only (dates and decimals as strings).
        payload = json.loads(json.dumps(payload, cls=DjangoJSONEncoder))
    deliveries = WebhookDelivery.objects.bulk_create(
        [
            WebhookDelivery(
                endpoint_id=endpoint_id,
                event_id=event_id,
                event=event,
                payload=payload,
                status=Status.PENDING,
                next_attempt_at=now,
                queued_at=now,
                replay_of=replay_of,
                created_at=now,
            )
            for endpoint_id in endpoint_ids
        ]
    )
    if deliveries[0].pk is None:  # backends that do not return ids from a bulk insert
        deliveries = list(
            WebhookDelivery.objects.filter(event_id=event_id, created_at=now, endpoint_id__in=endpoint_ids)
        )
    ids = [d.pk for d in deliveries]
    transaction.on_commit(lambda: _enqueue(ids))
    return deliveries


def _enqueue(delivery_ids: list[int]) -> None:
    from webhooks.tasks import webhook_delivery_send

    for delivery_id in delivery_ids:
        try:
            webhook_delivery_send.delay(delivery_id)
        except Exception:
            # The periodic requeue sends it once REQUEUE_AFTER_SECONDS have passed.
            logger.exception("webhook delivery %s: could not queue it", delivery_id)


# --- Endpoints ---------------------------------------------------------------------------------


def _clean_events(events: list[str]) -> list[str]:
    unknown = sorted(set(events) - set(EVENTS))
    if unknown:
        raise DomainError(
            f"Unknown event: {', '.join(unknown)}. Choose from {', '.join(EVENTS)}.",
            code="webhook_unknown_event",
            extra={"events": list(EVENTS)},
        )
    if not events:
        raise DomainError("Choose at least one event.", code="webhook_no_events")
    return [event for event in EVENTS if event in events]


def _endpoint_locked(*, user: User, endpoint_id: int) -> WebhookEndpoint:
    endpoint = WebhookEndpoint.objects.select_for_update().filter(user=user, pk=endpoint_id).first()
    if endpoint is None:
        raise NotFoundError("Webhook endpoint not found.")
    return endpoint


def webhook_endpoint_create(
    *, user: User, url: str, events: list[str], description: str = ""
) -> tuple[WebhookEndpoint, str]:
    """A new endpoint and its signing secret (shown to the user this once)."""
    clean_events = _clean_events(events)
    net.url_check(url)
    secret = crypto.secret_generate()
    with transaction.atomic():
        # The user's row is the lock: two requests at once cannot both pass the count.
        list(get_user_model().objects.select_for_update().filter(pk=user.pk).values_list("pk", flat=True))
        if WebhookEndpoint.objects.filter(user=user).count() >= conf.webhook_settings().max_endpoints:
            raise DomainError(
                f"You can have at most {conf.webhook_settings().max_endpoints} webhook endpoints.",
                code="webhook_endpoint_limit",
            )
        endpoint = WebhookEndpoint.objects.create(
            user=user,
            url=url.strip(),
            events=clean_events,
            description=description.strip()[:200],
            secret_encrypted=crypto.secret_encrypt(secret),
        )
    return endpoint, secret


def webhook_endpoint_update(
    *,
    user: User,
    endpoint_id: int,
    url: str | None = None,
    events: list[str] | None = None,
    description: str | None = None,
    is_active: bool | None = None,
) -> WebhookEndpoint:
    """Change what is given; the secret stays."""
    changes: dict[str, Any] = {}
    if url is not None:
        net.url_check(url)
        changes["url"] = url.strip()
    if events is not None:
        changes["events"] = _clean_events(events)
    if description is not None:
        changes["description"] = description.strip()[:200]
    if is_active is not None:
        changes["is_active"] = is_active
    with transaction.atomic():
        endpoint = _endpoint_locked(user=user, endpoint_id=endpoint_id)
        if changes:
            changes["updated_at"] = timezone.now()
            WebhookEndpoint.objects.filter(pk=endpoint.pk).update(**changes)
            endpoint.refresh_from_db()
    return endpoint


def webhook_endpoint_delete(*, user: User, endpoint_id: int) -> None:
    """Delete the endpoint and its deliveries (those not sent yet are not sent)."""
    with transaction.atomic():
        _endpoint_locked(user=user, endpoint_id=endpoint_id).delete()


def webhook_endpoint_rotate_secret(
    *, user: User, endpoint_id: int, expire_old_now: bool = False
) -> tuple[WebhookEndpoint, str]:
    """A new signing secret (shown this once). The old one keeps signing deliveries
    too for WEBHOOKS_SECRET_GRACE_SECONDS, unless ``expire_old_now`` (it leaked)."""
    grace = 0 if expire_old_now else conf.webhook_settings().secret_grace_seconds
    now = timezone.now()
    secret = crypto.secret_generate()
    with transaction.atomic():
        endpoint = _endpoint_locked(user=user, endpoint_id=endpoint_id)
        WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
            secret_encrypted=crypto.secret_encrypt(secret),
            previous_secret_encrypted=endpoint.secret_encrypted if grace else "",
            previous_secret_expires_at=now + timedelta(seconds=grace) if grace else None,
            secret_rotated_at=now,
            updated_at=now,
        )
        endpoint.refresh_from_db()
    return endpoint, secret


def webhook_endpoint_ping(*, user: User, endpoint_id: int) -> WebhookDelivery:
    """Send a ``ping`` event to the endpoint now (whatever it subscribes to, even paused)."""
    with transaction.atomic():
        endpoint = _endpoint_locked(user=user, endpoint_id=endpoint_id)
        data = {"message": "A test event from your webhook settings.", "endpoint_id": endpoint.pk}
        return _deliveries_create(endpoint_ids=[endpoint.pk], event=conf.PING_EVENT, data=data)[0]


def webhook_delivery_replay(*, user: User, delivery_id: int) -> WebhookDelivery:
    """Send a delivery's payload again, as a new delivery of the same event (same id,
    so a receiver that already handled it can tell), with its own retries."""
    with transaction.atomic():
        original = (
            WebhookDelivery.objects.select_related("endpoint")
            .filter(endpoint__user=user, pk=delivery_id)
            .first()
        )
        if original is None:
            raise NotFoundError("Webhook delivery not found.")
        if not original.endpoint.is_active:
            raise ConflictError(
                "This endpoint is paused: resume it to replay deliveries.", code="webhook_endpoint_paused"
            )
        return _deliveries_create(
            endpoint_ids=[original.endpoint_id],
            event=original.event,
            payload=original.payload,
            event_id=original.event_id,
            replay_of=original,
        )[0]


# --- Sending -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Claim:
    delivery_id: int
    attempt: int
    url: str
    payload: dict[str, Any]
    event: str
    event_id: uuid.UUID
    secrets: list[str]


def retry_delay(attempt: int) -> float | None:
    """Seconds before the attempt after ``attempt`` (1-based), jittered by up to 10% either
    way so a receiver that was down is not hit by all its retries at once; None: give up."""
    schedule = conf.webhook_settings().retry_schedule
    if attempt > len(schedule):
        return None
    return schedule[attempt - 1] * random.uniform(0.9, 1.1)  # noqa: S311 - jitter, not a secret


def webhook_delivery_attempt(*, delivery_id: int) -> WebhookDelivery | None:
    """Make the delivery's next attempt if it is due; None when it is not (sent already,
    given up, not due yet, or being attempted elsewhere)."""
    claim = _claim(delivery_id)
    if claim is None:
        return None
    code: int | None = None
    excerpt = error = ""
    try:
        if not claim.secrets:
            raise crypto.SecretUnreadable("The endpoint's secret cannot be read.")
        body = json.dumps(claim.payload, separators=(",", ":")).encode()
        timestamp = int(timezone.now().timestamp())
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            "X-Webhook-Id": str(claim.event_id),
            "X-Webhook-Event": claim.event,
            "X-Webhook-Timestamp": str(timestamp),
            "X-Webhook-Signature": crypto.signature_header(
                secrets_=claim.secrets, timestamp=timestamp, body=body
            ),
            "X-Webhook-Delivery": str(claim.delivery_id),
            "X-Webhook-Attempt": str(claim.attempt),
        }
        response = net.post(claim.url, body=body, headers=headers)
        code, excerpt = response.status_code, response.excerpt
        if not 200 <= code < 300:
            error = f"The endpoint answered HTTP {code}."
    except net.UrlRefused as exc:
        error = exc.message
    except crypto.SecretUnreadable as exc:
        error = f"{exc} Rotate the endpoint's secret."
    except requests.Timeout:
        error = "The endpoint did not answer in time."
    except requests.RequestException as exc:
        error = f"Could not reach the endpoint: {type(exc).__name__}."
    return _record(claim, code=code, excerpt=excerpt, error=error)


def _claim(delivery_id: int) -> _Claim | None:
    now = timezone.now()
    max_attempts = conf.webhook_settings().max_attempts
    with transaction.atomic():
        delivery = (
            WebhookDelivery.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("endpoint")
            .filter(pk=delivery_id, status__in=WebhookDelivery.OPEN, next_attempt_at__lte=now)
            .first()
        )
        if delivery is None:
            return None
        if delivery.attempts >= max_attempts:
            # Its last attempt's worker died before recording the outcome.
            WebhookDelivery.objects.filter(pk=delivery.pk).update(
                status=Status.FAILED, next_attempt_at=None, finished_at=now
            )
            return None
        attempt = delivery.attempts + 1
        WebhookDelivery.objects.filter(pk=delivery.pk).update(
            attempts=attempt,
            last_attempt_at=now,
            next_attempt_at=now + timedelta(seconds=conf.ATTEMPT_LEASE_SECONDS),
        )
    return _Claim(
        delivery_id=delivery.pk,
        attempt=attempt,
        url=delivery.endpoint.url,
        payload=delivery.payload,
        event=delivery.event,
        event_id=delivery.event_id,
        secrets=_signing_secrets(delivery.endpoint, now),
    )


def _signing_secrets(endpoint: WebhookEndpoint, now: datetime) -> list[str]:
    """The current secret, and the previous one during a rotation's grace period."""
    encrypted = [endpoint.secret_encrypted]
    expires = endpoint.previous_secret_expires_at
    if endpoint.previous_secret_encrypted and expires is not None and expires > now:
        encrypted.append(endpoint.previous_secret_encrypted)
    try:
        return [crypto.secret_decrypt(e) for e in encrypted]
    except crypto.SecretUnreadable:
        return []


def _record(claim: _Claim, *, code: int | None, excerpt: str, error: str) -> WebhookDelivery | None:
    now = timezone.now()
    fields: dict[str, Any] = {
        "last_status_code": code,
        "last_response": excerpt[:500],
        "last_error": error[:500],
    }
    if not error:
        fields.update(status=Status.SUCCEEDED, next_attempt_at=None, finished_at=now)
    elif (delay := retry_delay(claim.attempt)) is None:
        fields.update(status=Status.FAILED, next_attempt_at=None, finished_at=now)
    else:
        fields.update(status=Status.RETRYING, next_attempt_at=now + timedelta(seconds=delay), queued_at=None)
    if error:
        logger.info("webhook delivery %s attempt %s failed: %s", claim.delivery_id, claim.attempt, error)
    # Only the attempt that holds the claim records: if its lease ran out and another
    # attempt started, that one's outcome is the one kept.
    updated = WebhookDelivery.objects.filter(
        pk=claim.delivery_id, attempts=claim.attempt, status__in=WebhookDelivery.OPEN
    ).update(**fields)
    if not updated:
        return None
    return WebhookDelivery.objects.get(pk=claim.delivery_id)


def webhook_deliveries_requeue(*, batch: int = conf.REQUEUE_BATCH) -> int:
    """Queue deliveries that are due and have no recent task message: retries whose time
    came, attempts whose worker died, messages lost. Returns how many were queued."""
    now = timezone.now()
    stale = now - timedelta(seconds=conf.REQUEUE_AFTER_SECONDS)
    with transaction.atomic():
        ids = list(
            WebhookDelivery.objects.filter(status__in=WebhookDelivery.OPEN, next_attempt_at__lte=now)
            .exclude(queued_at__gt=stale)
            .order_by("next_attempt_at", "pk")
            .values_list("pk", flat=True)[:batch]
        )
        if ids:
            WebhookDelivery.objects.filter(pk__in=ids).update(queued_at=now)
            transaction.on_commit(lambda: _enqueue(ids))
    return len(ids)
