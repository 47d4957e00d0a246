import json
import socket
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.tests.factories import UserFactory
from core.errors import DomainError
from credits.selectors import balance_get, price_get
from credits.services import credits_charge, credits_hold
from credits.tests.factories import funded_user, new_key
from jobs.tests.bulk_helpers import asins, create_job, run_job
from webhooks import services
from webhooks.models import WebhookDelivery, WebhookEndpoint
from webhooks.net import UrlRefused
from webhooks.services import (
    EVENT_ALERT_RAISED,
    EVENT_BALANCE_LOW,
    EVENT_BULK_JOB_FINISHED,
    webhook_event_emit,
)
from webhooks.tests.addresses import TRANSITION_ADDRESSES_TO_PRIVATE
from webhooks.tests.receiver import verify

pytestmark = pytest.mark.django_db
Status = WebhookDelivery.Status


def endpoint_for(user, receiver, events=(EVENT_BULK_JOB_FINISHED,)):
    return services.webhook_endpoint_create(user=user, url=receiver.url, events=list(events))


def make_due(delivery: WebhookDelivery) -> None:
    WebhookDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())


def attempt(delivery: WebhookDelivery) -> WebhookDelivery | None:
    return services.webhook_delivery_attempt(delivery_id=delivery.pk)


# --- Signing and sending -----------------------------------------------------------------------


def test_delivery_is_signed_and_the_receiver_verifies_it(
    receiver, queued, django_capture_on_commit_callbacks
):
    user = UserFactory()
    endpoint, secret = endpoint_for(user, receiver)

    with django_capture_on_commit_callbacks(execute=True):
        webhook_event_emit(user_id=user.pk, event=EVENT_BULK_JOB_FINISHED, data={"job_id": 7})
    delivery = WebhookDelivery.objects.get()
    assert queued == [delivery.pk]
    assert delivery.status == Status.PENDING

    done = attempt(delivery)

    assert done is not None
    assert done.status == Status.SUCCEEDED
    assert (done.attempts, done.last_status_code, done.last_response) == (1, 200, '{"ok": true}')
    assert done.next_attempt_at is None
    assert done.finished_at is not None
    [request] = receiver.received
    assert request.path == "/hooks"
    header = request.headers["X-Webhook-Signature"]
    assert verify(secret=secret, body=request.body, header=header)
    assert not verify(secret="whsec_wrong", body=request.body, header=header)
    assert header.startswith(f"t={request.headers['X-Webhook-Timestamp']},v1=")
    assert request.headers["X-Webhook-Id"] == str(delivery.event_id)
    assert request.headers["X-Webhook-Event"] == EVENT_BULK_JOB_FINISHED
    assert request.headers["Content-Type"] == "application/json"
    body = json.loads(request.body)
    assert body == {
        "id": str(delivery.event_id),
        "type": EVENT_BULK_JOB_FINISHED,
        "created": body["created"],
        "data": {"job_id": 7},
    }
    # The secret is stored encrypted, not as is.
    assert secret not in WebhookEndpoint.objects.get(pk=endpoint.pk).secret_encrypted


def test_a_redelivered_task_does_not_send_a_succeeded_delivery_again(receiver):
    user = UserFactory()
    endpoint_for(user, receiver)
    webhook_event_emit(user_id=user.pk, event=EVENT_BULK_JOB_FINISHED, data={})
    delivery = WebhookDelivery.objects.get()

    assert attempt(delivery) is not None
    assert attempt(delivery) is None
    make_due(delivery)  # even a stale due time does not reopen it
    assert attempt(delivery) is None

    assert len(receiver.received) == 1
    assert WebhookDelivery.objects.get().attempts == 1


def test_retries_on_500_with_backoff_then_succeeds(receiver):
    receiver.statuses = [500, 200]
    user = UserFactory()
    endpoint_for(user, receiver)
    webhook_event_emit(user_id=user.pk, event=EVENT_BULK_JOB_FINISHED, data={})
    delivery = WebhookDelivery.objects.get()

    first = attempt(delivery)
    assert first is not None
    assert first.status == Status.RETRYING
    assert (first.attempts, first.last_status_code) == (1, 500)
    assert first.last_error == "The endpoint answered HTTP 500."
    assert first.last_response == "receiver error"
    # About a minute, jittered by up to 10%.
    wait = (first.next_attempt_at - first.last_attempt_at).total_seconds()
    assert 53 <= wait <= 67

    assert attempt(delivery) is None  # not due yet: nothing sent
    assert len(receiver.received) == 1

    make_due(delivery)
    second = attempt(delivery)
    assert second is not None
    assert second.status == Status.SUCCEEDED
    assert (second.attempts, second.last_status_code, second.last_error) == (2, 200, "")
    assert len(receiver.received) == 2
    # Both attempts carried the same event id.
    assert {r.headers["X-Webhook-Id"] for r in receiver.received} == {str(delivery.event_id)}


def test_network_errors_are_retried(settings):
    user = UserFactory()
    # Nothing listens on this port.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    services.webhook_endpoint_create(
        user=user, url=f"http://127.0.0.1:{port}/hooks", events=[EVENT_ALERT_RAISED]
    )
    webhook_event_emit(user_id=user.pk, event=EVENT_ALERT_RAISED, data={})

    done = attempt(WebhookDelivery.objects.get())

    assert done is not None
    assert done.status == Status.RETRYING
    assert done.last_status_code is None
    assert done.last_error.startswith("Could not reach the endpoint")


def test_gives_up_after_the_schedule(receiver, settings):
    settings.WEBHOOKS_RETRY_SCHEDULE = [60, 300]
    receiver.statuses = [503]
    user = UserFactory()
    endpoint_for(user, receiver)
    webhook_event_emit(user_id=user.pk, event=EVENT_BULK_JOB_FINISHED, data={})
    delivery = WebhookDelivery.objects.get()

    statuses = []
    waits = []
    for _ in range(3):
        make_due(delivery)
        done = attempt(delivery)
        statuses.append(done.status)
        if done.next_attempt_at:
            waits.append((done.next_attempt_at - done.last_attempt_at).total_seconds())

    assert statuses == [Status.RETRYING, Status.RETRYING, Status.FAILED]
    assert 54 <= waits[0] <= 66
    assert 270 <= waits[1] <= 330
    failed = WebhookDelivery.objects.get()
    assert (failed.attempts, failed.next_attempt_at, failed.last_status_code) == (3, None, 503)
    make_due_failed = WebhookDelivery.objects.filter(pk=delivery.pk)
    assert make_due_failed.get().finished_at is not None
    assert attempt(delivery) is None
    assert len(receiver.received) == 3


def test_default_schedule_spans_most_of_a_day():
    schedule = [60, 300, 1800, 7200, 21600, 43200]
    assert services.conf.webhook_settings().retry_schedule == tuple(schedule)
    assert services.conf.webhook_settings().max_attempts == 7
    assert 20 * 3600 < sum(schedule) < 24 * 3600
    assert services.retry_delay(7) is None


def test_an_attempt_whose_worker_died_is_taken_up_after_its_lease(receiver):
    user = UserFactory()
    endpoint_for(user, receiver)
    webhook_event_emit(user_id=user.pk, event=EVENT_BULK_JOB_FINISHED, data={})
    delivery = WebhookDelivery.objects.get()
    claim = services._claim(delivery.pk)  # the worker claims, then dies before sending
    assert claim is not None
    assert attempt(delivery) is None  # leased: nobody else sends meanwhile

    make_due(delivery)  # the lease ran out
    done = attempt(delivery)

    assert done is not None
    assert (done.status, done.attempts) == (Status.SUCCEEDED, 2)
    assert len(receiver.received) == 1


def test_unreadable_secret_fails_the_attempt_with_the_reason(receiver):
    user = UserFactory()
    endpoint, _ = endpoint_for(user, receiver)
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(secret_encrypted="garbage")
    webhook_event_emit(user_id=user.pk, event=EVENT_BULK_JOB_FINISHED, data={})

    done = attempt(WebhookDelivery.objects.get())

    assert done is not None
    assert done.status == Status.RETRYING
    assert "Rotate the endpoint's secret" in done.last_error
    assert receiver.received == []


# --- Subscriptions and emission ----------------------------------------------------------------


def test_no_delivery_for_unsubscribed_events_or_paused_endpoints(receiver):
    user = UserFactory()
    endpoint, _ = endpoint_for(user, receiver, events=[EVENT_BALANCE_LOW])
    webhook_event_emit(user_id=user.pk, event=EVENT_BULK_JOB_FINISHED, data={})
    webhook_event_emit(user_id=UserFactory().pk, event=EVENT_BALANCE_LOW, data={})
    assert not WebhookDelivery.objects.exists()

    services.webhook_endpoint_update(user=user, endpoint_id=endpoint.pk, is_active=False)
    webhook_event_emit(user_id=user.pk, event=EVENT_BALANCE_LOW, data={})
    assert not WebhookDelivery.objects.exists()

    services.webhook_endpoint_update(user=user, endpoint_id=endpoint.pk, is_active=True)
    webhook_event_emit(user_id=user.pk, event=EVENT_BALANCE_LOW, data={})
    assert WebhookDelivery.objects.get().event == EVENT_BALANCE_LOW


def test_one_event_to_two_endpoints_shares_its_id(receiver):
    user = UserFactory()
    endpoint_for(user, receiver)
    endpoint_for(user, receiver, events=[EVENT_BULK_JOB_FINISHED, EVENT_ALERT_RAISED])

    webhook_event_emit(user_id=user.pk, event=EVENT_BULK_JOB_FINISHED, data={})

    deliveries = list(WebhookDelivery.objects.all())
    assert len(deliveries) == 2
    assert len({d.event_id for d in deliveries}) == 1
    assert len({d.endpoint_id for d in deliveries}) == 2


def test_unknown_event_is_a_programming_error():
    with pytest.raises(ValueError, match="Unknown webhook event"):
        webhook_event_emit(user_id=UserFactory().pk, event="nope", data={})


def test_emission_inside_a_rolled_back_transaction_sends_nothing(receiver, queued):
    user = UserFactory()
    endpoint_for(user, receiver)

    class Boom(Exception):
        pass

    def work_that_fails() -> None:
        with transaction.atomic():
            webhook_event_emit(user_id=user.pk, event=EVENT_BULK_JOB_FINISHED, data={})
            assert WebhookDelivery.objects.count() == 1
            raise Boom

    with pytest.raises(Boom):
        work_that_fails()

    assert not WebhookDelivery.objects.exists()
    assert queued == []
    assert services.webhook_deliveries_requeue() == 0
    assert receiver.received == []


def test_the_task_is_queued_only_after_commit(receiver, queued, django_capture_on_commit_callbacks):
    user = UserFactory()
    endpoint_for(user, receiver)

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        webhook_event_emit(user_id=user.pk, event=EVENT_BULK_JOB_FINISHED, data={})
    assert queued == []  # nothing before the commit
    for callback in callbacks:
        callback()
    assert queued == [WebhookDelivery.objects.get().pk]


def test_bulk_job_finished_emits_exactly_one_delivery(receiver):
    user = funded_user(credits=100)
    endpoint_for(user, receiver)
    job = create_job(user, asins(3))

    job = run_job(job.pk)
    run_job(job.pk)  # nothing left: no second event

    assert job.status == job.Status.COMPLETED
    delivery = WebhookDelivery.objects.get()
    assert delivery.event == EVENT_BULK_JOB_FINISHED
    data = delivery.payload["data"]
    assert data["job_id"] == job.pk
    assert (data["status"], data["total"], data["succeeded"], data["failed"]) == ("completed", 3, 3, 0)
    assert data["url"] == f"/api/v1/products/bulk/{job.pk}"
    assert attempt(delivery).status == Status.SUCCEEDED
    assert json.loads(receiver.received[0].body)["data"]["job_id"] == job.pk


def test_balance_low_is_emitted_once_when_a_charge_crosses_the_threshold(receiver):
    user = funded_user(credits=15, low_balance_threshold=10)
    endpoint_for(user, receiver, events=[EVENT_BALANCE_LOW])
    assert price_get(operation="asin_lookup") == 1

    # 15 -> 10: not below the threshold; and no query beyond the charge's own.
    with CaptureQueriesContext(connection) as queries:
        credits_charge(user=user, operation="asin_lookup", idempotency_key=new_key(), quantity=5)
    assert not any("webhook" in q["sql"] for q in queries.captured_queries)
    assert not WebhookDelivery.objects.exists()

    entry = credits_charge(user=user, operation="asin_lookup", idempotency_key=new_key())  # 10 -> 9
    credits_charge(user=user, operation="asin_lookup", idempotency_key=new_key())  # 9 -> 8

    delivery = WebhookDelivery.objects.get()
    assert delivery.event == EVENT_BALANCE_LOW
    assert delivery.payload["data"] == {
        "balance": 9,
        "threshold": 10,
        "operation": "asin_lookup",
        "amount": -1,
        "reference": entry.reference,
    }


def test_balance_low_respects_a_user_without_threshold(receiver):
    user = funded_user(credits=3, low_balance_threshold=None)
    endpoint_for(user, receiver, events=[EVENT_BALANCE_LOW])

    credits_charge(user=user, operation="asin_lookup", idempotency_key=new_key(), quantity=3)

    assert not WebhookDelivery.objects.exists()


# --- Replay, rotation, ping ----------------------------------------------------------------------


def test_replay_sends_the_same_payload_with_the_same_event_id(receiver):
    user = UserFactory()
    _, secret = endpoint_for(user, receiver)
    webhook_event_emit(user_id=user.pk, event=EVENT_BULK_JOB_FINISHED, data={"job_id": 1})
    original = WebhookDelivery.objects.get()
    attempt(original)

    replay = services.webhook_delivery_replay(user=user, delivery_id=original.pk)
    attempt(replay)

    replay.refresh_from_db()
    assert replay.pk != original.pk
    assert replay.replay_of_id == original.pk
    assert replay.event_id == original.event_id
    assert (replay.payload, replay.event) == (original.payload, original.event)
    assert (replay.status, replay.attempts) == (Status.SUCCEEDED, 1)
    first, second = receiver.received
    assert first.body == second.body
    assert first.headers["X-Webhook-Id"] == second.headers["X-Webhook-Id"] == str(original.event_id)
    assert verify(secret=secret, body=second.body, header=second.headers["X-Webhook-Signature"])

    with pytest.raises(services.NotFoundError):
        services.webhook_delivery_replay(user=UserFactory(), delivery_id=original.pk)


def test_rotation_keeps_the_old_secret_valid_during_the_grace_period(receiver):
    user = UserFactory()
    endpoint, old = endpoint_for(user, receiver)

    endpoint, new = services.webhook_endpoint_rotate_secret(user=user, endpoint_id=endpoint.pk)
    assert new != old
    assert endpoint.previous_secret_expires_at > timezone.now() + timedelta(hours=23)
    webhook_event_emit(user_id=user.pk, event=EVENT_BULK_JOB_FINISHED, data={})
    attempt(WebhookDelivery.objects.get())

    [request] = receiver.received
    header = request.headers["X-Webhook-Signature"]
    assert header.count("v1=") == 2
    assert verify(secret=new, body=request.body, header=header)
    assert verify(secret=old, body=request.body, header=header)


def test_after_the_grace_period_or_when_expired_at_once_only_the_new_secret_signs(receiver):
    user = UserFactory()
    endpoint, old = endpoint_for(user, receiver)
    endpoint, middle = services.webhook_endpoint_rotate_secret(user=user, endpoint_id=endpoint.pk)
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(previous_secret_expires_at=timezone.now())
    services.webhook_endpoint_ping(user=user, endpoint_id=endpoint.pk)
    attempt(WebhookDelivery.objects.get())

    endpoint, new = services.webhook_endpoint_rotate_secret(
        user=user, endpoint_id=endpoint.pk, expire_old_now=True
    )
    assert endpoint.previous_secret_expires_at is None
    services.webhook_endpoint_ping(user=user, endpoint_id=endpoint.pk)
    attempt(WebhookDelivery.objects.filter(status=Status.PENDING).get())

    first, second = receiver.received
    assert verify(secret=middle, body=first.body, header=first.headers["X-Webhook-Signature"])
    assert not verify(secret=old, body=first.body, header=first.headers["X-Webhook-Signature"])
    assert second.headers["X-Webhook-Signature"].count("v1=") == 1
    assert verify(secret=new, body=second.body, header=second.headers["X-Webhook-Signature"])
    assert not verify(secret=middle, body=second.body, header=second.headers["X-Webhook-Signature"])


def test_ping_reaches_an_endpoint_whatever_it_subscribes_to(receiver):
    user = UserFactory()
    endpoint, secret = endpoint_for(user, receiver, events=[EVENT_BALANCE_LOW])

    delivery = services.webhook_endpoint_ping(user=user, endpoint_id=endpoint.pk)
    attempt(delivery)

    [request] = receiver.received
    assert json.loads(request.body)["type"] == "ping"
    assert verify(secret=secret, body=request.body, header=request.headers["X-Webhook-Signature"])


# --- The periodic requeue ----------------------------------------------------------------------


def test_requeue_sends_due_retries_and_lost_messages_but_not_recent_ones(
    receiver, queued, django_capture_on_commit_callbacks
):
    def requeue() -> int:
        with django_capture_on_commit_callbacks(execute=True):
            return services.webhook_deliveries_requeue()

    user = UserFactory()
    endpoint_for(user, receiver)
    for _ in range(3):
        webhook_event_emit(user_id=user.pk, event=EVENT_BULK_JOB_FINISHED, data={})
    fresh, lost, later = WebhookDelivery.objects.order_by("pk")
    # A message went out ten minutes ago and was lost; another delivery retries in an hour.
    WebhookDelivery.objects.filter(pk=lost.pk).update(queued_at=timezone.now() - timedelta(minutes=10))
    WebhookDelivery.objects.filter(pk=later.pk).update(
        status=Status.RETRYING, queued_at=None, next_attempt_at=timezone.now() + timedelta(hours=1)
    )

    assert requeue() == 1
    assert queued == [lost.pk]
    assert requeue() == 0  # just queued: not again

    WebhookDelivery.objects.filter(pk=later.pk).update(next_attempt_at=timezone.now())
    assert requeue() == 1
    assert queued == [lost.pk, later.pk]
    assert fresh.pk not in queued


# --- Where webhooks may go (SSRF) ---------------------------------------------------------------


@pytest.fixture
def production_rules(settings):
    settings.DEBUG = False
    settings.WEBHOOKS_ALLOW_HTTP_LOCALHOST = False


def fake_dns(monkeypatch, answers: dict[str, str]) -> None:
    real = socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):
        if host in answers:
            address = answers[host]
            if ":" in address:
                return [(socket.AF_INET6, socket.SOCK_STREAM, 6, "", (address, port, 0, 0))]
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://hooks.example.com/x", "must use https"),
        ("http://127.0.0.1:8000/x", "must use https"),
        ("https://127.0.0.1/x", "private or reserved"),
        ("https://localhost/x", "private or reserved"),
        ("https://10.1.2.3/x", "private or reserved"),
        ("https://192.168.0.10/x", "private or reserved"),
        ("https://169.254.169.254/latest/meta-data", "private or reserved"),
        ("https://[::1]/x", "private or reserved"),
        ("https://[::ffff:127.0.0.1]/x", "private or reserved"),
        ("https://0.0.0.0/x", "private or reserved"),
        ("https://internal.example.com/x", "resolves to 10.0.0.5"),
        ("https://user:pw@hooks.example.com/x", "user name or password"),
        ("ftp://hooks.example.com/x", "full URL"),
        ("not a url", "full URL"),
    ],
)
def test_registration_refuses_urls_that_are_not_public_https(production_rules, monkeypatch, url, message):
    fake_dns(monkeypatch, {"hooks.example.com": "93.184.215.14", "internal.example.com": "10.0.0.5"})
    with pytest.raises(UrlRefused, match=message):
        services.webhook_endpoint_create(user=UserFactory(), url=url, events=[EVENT_BALANCE_LOW])
    assert not WebhookEndpoint.objects.exists()


def test_registration_accepts_a_public_https_url(production_rules, monkeypatch):
    fake_dns(monkeypatch, {"hooks.example.com": "93.184.215.14"})
    endpoint, secret = services.webhook_endpoint_create(
        user=UserFactory(), url="https://hooks.example.com/in", events=[EVENT_BALANCE_LOW]
    )
    assert endpoint.url == "https://hooks.example.com/in"
    assert secret.startswith("whsec_")


def test_delivery_time_check_refuses_a_name_that_now_resolves_to_a_private_address(
    production_rules, monkeypatch, receiver
):
    fake_dns(monkeypatch, {"hooks.example.com": "93.184.215.14"})
    user = UserFactory()
    services.webhook_endpoint_create(
        user=user, url="https://hooks.example.com/in", events=[EVENT_BALANCE_LOW]
    )
    webhook_event_emit(user_id=user.pk, event=EVENT_BALANCE_LOW, data={})
    # DNS rebinding: the name now points at the platform's own network.
    fake_dns(monkeypatch, {"hooks.example.com": "127.0.0.1"})

    done = attempt(WebhookDelivery.objects.get())

    assert done is not None
    assert done.status == Status.RETRYING
    assert "127.0.0.1, a private or reserved address" in done.last_error
    assert done.last_status_code is None


@pytest.mark.parametrize("address", TRANSITION_ADDRESSES_TO_PRIVATE)
def test_registration_refuses_a_name_resolving_to_an_ipv6_address_carrying_a_private_one(
    production_rules, monkeypatch, address
):
    fake_dns(monkeypatch, {"hooks.example.com": address})
    with pytest.raises(UrlRefused, match="private or reserved"):
        services.webhook_endpoint_create(
            user=UserFactory(), url="https://hooks.example.com/in", events=[EVENT_BALANCE_LOW]
        )
    assert not WebhookEndpoint.objects.exists()


@pytest.mark.parametrize("address", TRANSITION_ADDRESSES_TO_PRIVATE)
def test_delivery_time_check_refuses_an_ipv6_address_carrying_a_private_one_without_connecting(
    production_rules, monkeypatch, address
):
    fake_dns(monkeypatch, {"hooks.example.com": "93.184.215.14"})
    user = UserFactory()
    services.webhook_endpoint_create(
        user=user, url="https://hooks.example.com/in", events=[EVENT_BALANCE_LOW]
    )
    webhook_event_emit(user_id=user.pk, event=EVENT_BALANCE_LOW, data={})
    fake_dns(monkeypatch, {"hooks.example.com": address})
    connections: list[object] = []
    monkeypatch.setattr(socket.socket, "connect", lambda sock, where: connections.append(where))
    monkeypatch.setattr(socket.socket, "connect_ex", lambda sock, where: connections.append(where))

    done = attempt(WebhookDelivery.objects.get())

    assert done is not None
    assert done.status == Status.RETRYING
    assert "a private or reserved address" in done.last_error
    assert done.last_status_code is None
    assert connections == []


def test_delivery_time_check_refuses_local_http_once_it_is_no_longer_allowed(receiver, settings):
    user = UserFactory()
    endpoint_for(user, receiver)
    webhook_event_emit(user_id=user.pk, event=EVENT_BULK_JOB_FINISHED, data={})
    settings.WEBHOOKS_ALLOW_HTTP_LOCALHOST = False
    settings.DEBUG = False

    done = attempt(WebhookDelivery.objects.get())

    assert done.last_error == "The URL must use https."
    assert receiver.received == []


def test_localhost_by_name_reaches_the_pinned_loopback_address(receiver):
    user = UserFactory()
    _, secret = services.webhook_endpoint_create(
        user=user, url=f"http://localhost:{receiver.port}/named", events=[EVENT_ALERT_RAISED]
    )
    webhook_event_emit(user_id=user.pk, event=EVENT_ALERT_RAISED, data={"alert": 1})

    done = attempt(WebhookDelivery.objects.get())

    assert done.status == Status.SUCCEEDED
    [request] = receiver.received
    assert request.headers["Host"] == f"localhost:{receiver.port}"
    assert verify(secret=secret, body=request.body, header=request.headers["X-Webhook-Signature"])


@pytest.mark.parametrize("single_statement", [True, False])
def test_balance_low_from_a_bulk_jobs_hold_by_either_charge_path(receiver, settings, single_statement):
    settings.CREDITS_SINGLE_STATEMENT = single_statement
    user = funded_user(credits=12, low_balance_threshold=10)
    endpoint_for(user, receiver, events=[EVENT_BALANCE_LOW])

    credits_hold(user=user, amount=5, reference="bulk:1", idempotency_key=new_key())

    delivery = WebhookDelivery.objects.get()
    assert (delivery.payload["data"]["balance"], delivery.payload["data"]["amount"]) == (7, -5)


def test_a_failing_webhook_never_fails_the_charge(receiver, monkeypatch):
    user = funded_user(credits=10, low_balance_threshold=10)
    endpoint_for(user, receiver, events=[EVENT_BALANCE_LOW])

    def broken(**kwargs):
        raise RuntimeError("webhooks are down")

    monkeypatch.setattr("credits.services.webhook_event_emit", broken)

    entry = credits_charge(user=user, operation="asin_lookup", idempotency_key=new_key())

    assert entry.balance_after == 9
    assert balance_get(user=user) == 9
    assert not WebhookDelivery.objects.exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_creations_cannot_pass_the_endpoint_limit_together(settings, receiver):
    import threading

    settings.WEBHOOKS_MAX_ENDPOINTS = 2
    user = UserFactory()
    barrier = threading.Barrier(6)
    outcomes: list[str] = []

    def create() -> None:
        try:
            barrier.wait()
            services.webhook_endpoint_create(user=user, url=receiver.url, events=[EVENT_BALANCE_LOW])
            outcomes.append("created")
        except DomainError as exc:
            outcomes.append(exc.code)
        finally:
            connection.close()

    threads = [threading.Thread(target=create) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert sorted(outcomes) == ["created"] * 2 + ["webhook_endpoint_limit"] * 4
    assert WebhookEndpoint.objects.filter(user=user).count() == 2
