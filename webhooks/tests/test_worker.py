"""A real Celery worker (and its beat) sending deliveries to a real local receiver."""

import time
from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from accounts.tests.factories import UserFactory
from webhooks import services
from webhooks.models import WebhookDelivery
from webhooks.services import EVENT_BULK_JOB_FINISHED, webhook_event_emit
from webhooks.tests.receiver import verify

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.celery_worker,
    pytest.mark.django_db(transaction=True),
]

WORKER_ENV = {"WEBHOOKS_ALLOW_HTTP_LOCALHOST": "1", "WEBHOOKS_REQUEUE_INTERVAL": "1"}


def wait_for(condition, *, timeout: float, what: str, worker) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"Timed out waiting for {what}. Worker log:\n{worker.log()}")
        time.sleep(0.2)


def test_a_worker_sends_after_commit_and_beat_requeues_a_lost_message(celery_workers, receiver):
    worker = celery_workers.start("hooks", env=WORKER_ENV, beat=True)
    user = UserFactory()
    _, secret = services.webhook_endpoint_create(
        user=user, url=receiver.url, events=[EVENT_BULK_JOB_FINISHED]
    )

    with transaction.atomic():
        webhook_event_emit(user_id=user.pk, event=EVENT_BULK_JOB_FINISHED, data={"job_id": 1})
        time.sleep(1)  # the worker must not see it before the commit
        assert receiver.received == []

    wait_for(lambda: len(receiver.received) == 1, timeout=30, what="the delivery", worker=worker)
    [request] = receiver.received
    assert verify(secret=secret, body=request.body, header=request.headers["X-Webhook-Signature"])
    first = WebhookDelivery.objects.get()
    wait_for(
        lambda: WebhookDelivery.objects.get(pk=first.pk).status == WebhookDelivery.Status.SUCCEEDED,
        timeout=10,
        what="the delivery to be recorded",
        worker=worker,
    )

    # A delivery whose task message was lost: only the periodic requeue can send it.
    lost = WebhookDelivery.objects.create(
        endpoint_id=first.endpoint_id,
        event=EVENT_BULK_JOB_FINISHED,
        payload={"id": "lost", "type": EVENT_BULK_JOB_FINISHED, "data": {}},
        next_attempt_at=timezone.now(),
        queued_at=timezone.now() - timedelta(minutes=10),
    )

    wait_for(lambda: len(receiver.received) == 2, timeout=30, what="the requeued delivery", worker=worker)
    wait_for(
        lambda: WebhookDelivery.objects.get(pk=lost.pk).status == WebhookDelivery.Status.SUCCEEDED,
        timeout=10,
        what="the requeued delivery to be recorded",
        worker=worker,
    )
    assert receiver.received[1].headers["X-Webhook-Id"] == str(lost.event_id)
    time.sleep(2)  # further requeues send nothing twice
    assert len(receiver.received) == 2
