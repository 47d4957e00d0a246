"""Structured logs: JSON lines with the request id, carried into Celery tasks, never a secret."""

from __future__ import annotations

import copy
import io
import json
import logging
import logging.config
import time
import uuid
from collections.abc import Iterator
from types import SimpleNamespace

import pytest
from django.conf import settings
from rest_framework.test import APIClient

from accounts.tests.factories import api_key_for
from config import celery as celery_module
from config.logging import clean_request_id, redact, request_id_var
from credits.tests.factories import funded_user


@pytest.fixture
def json_log() -> Iterator[io.StringIO]:
    """The platform's LOGGING in JSON at DEBUG level, written to a buffer."""
    stream = io.StringIO()
    config = copy.deepcopy(settings.LOGGING)
    config["handlers"]["console"]["formatter"] = "json"
    config["handlers"]["console"]["stream"] = stream
    config["root"]["level"] = "DEBUG"
    logging.config.dictConfig(config)
    try:
        yield stream
    finally:
        logging.config.dictConfig(settings.LOGGING)


def lines(stream: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


def test_request_id_is_taken_from_the_header_or_made_and_echoed(client):
    given = client.get("/health", headers={"X-Request-ID": "abc-123_x.y"})
    bad = client.get("/health", headers={"X-Request-ID": "not valid; rm -rf"})
    none = client.get("/health")

    assert given["X-Request-ID"] == "abc-123_x.y"
    assert len(bad["X-Request-ID"]) == 32
    assert bad["X-Request-ID"] != "not valid; rm -rf"
    assert len(none["X-Request-ID"]) == 32
    assert clean_request_id("x" * 65) != "x" * 65


@pytest.mark.django_db
def test_log_lines_are_json_with_the_requests_id(client, json_log):
    response = client.get("/no-such-page", headers={"X-Request-ID": "req-json-1"})

    assert response.status_code == 404
    records = [r for r in lines(json_log) if r["request_id"] == "req-json-1"]
    assert records, json_log.getvalue()
    record = records[-1]
    assert {"time", "level", "logger", "message", "request_id"} <= set(record)
    assert record["logger"] == "django.request"
    assert record["level"] == "WARNING"


@pytest.mark.django_db
def test_api_keys_and_authorization_headers_never_reach_the_logs(client, json_log):
    user = funded_user(credits=5)
    _, raw_key = api_key_for(user)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_key}")
    api.post("/api/v1/products/asin", {"asin": "B08N5WRWNW", "marketplace": "US"}, format="json")
    APIClient().get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {raw_key}x")  # a wrong key: 401, logged
    APIClient().get("/api/v1/me", HTTP_X_API_KEY=raw_key[:-1])
    # Code that logs a request's headers at DEBUG, or an exception carrying them.
    logger = logging.getLogger("products.test")
    logger.debug("headers: %s", {"Authorization": f"Bearer {raw_key}", "X-API-Key": raw_key})
    logger.debug("calling https://api.keepa.com/product?key=keepa-secret-key-123&asin=B08N5WRWNW")
    try:
        raise RuntimeError(f"upstream refused token={raw_key}")
    except RuntimeError:
        logger.exception("failed with %s", "sk_live_0123456789abcdefABCDEF")

    output = json_log.getvalue()
    assert "Unauthorized" in output or "401" in output or "headers" in output
    assert raw_key not in output
    assert raw_key[:-1] not in output
    assert raw_key[len("apip_") :] not in output
    assert "keepa-secret-key-123" not in output
    assert "sk_live_0123456789abcdefABCDEF" not in output
    assert "[REDACTED]" in output


def test_redaction_leaves_ordinary_text_alone():
    text = "lookup of B08N5WRWNW in DE took 12 ms (apip_lookups_total counted)"

    assert redact(text) == text
    assert redact("postgres://platform:s3cret@postgres:5432/platform") == (
        "postgres://platform:[REDACTED]@postgres:5432/platform"
    )


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("x" * 50_000, id="a long word, as a 404's path logs it"),
        pytest.param("apip_-" * 8_000, id="many key prefixes without a key"),
    ],
)
def test_redaction_takes_linear_time_on_long_messages(text):
    # Every request whose path is logged goes through redact(): a pattern that rescans
    # the rest of the message from each position made a 10,000-character path cost
    # most of a second of CPU (50,000 characters: about 10 s).
    started = time.perf_counter()
    redact(text)
    assert time.perf_counter() - started < 0.5


def test_the_request_id_travels_in_the_task_message_and_is_restored_in_the_worker():
    headers: dict[str, object] = {}
    token = request_id_var.set("req-from-web")
    try:
        celery_module._carry_request_id(headers=headers)
    finally:
        request_id_var.reset(token)
    assert headers["request_id"] == "req-from-web"

    task = SimpleNamespace(name="config.ping", request=SimpleNamespace(request_id=headers["request_id"]))
    celery_module._task_started_signal(task_id="t-1", task=task)
    assert request_id_var.get() == "req-from-web"
    celery_module._task_finished_signal(task_id="t-1", task=task, state="SUCCESS")
    assert request_id_var.get() is None

    unrequested = SimpleNamespace(name="config.ping", request=SimpleNamespace())
    celery_module._task_started_signal(task_id="t-2", task=unrequested)
    assert request_id_var.get() == "task-t-2"
    celery_module._task_finished_signal(task_id="t-2", task=unrequested, state="FAILURE")
    assert request_id_var.get() is None


@pytest.mark.redis
@pytest.mark.celery_worker
def test_a_real_workers_log_lines_carry_the_request_id(celery_worker_process):
    from config.celery import ping

    task_id = str(uuid.uuid4())
    request_id = f"req-{uuid.uuid4().hex[:12]}"
    token = request_id_var.set(request_id)
    try:
        ping.apply_async(task_id=task_id)
    finally:
        request_id_var.reset(token)

    deadline = time.monotonic() + 20
    line = ""
    while time.monotonic() < deadline and not line:
        log = celery_worker_process.log_path.read_text()
        line = next((x for x in log.splitlines() if f"config.ping[{task_id}] succeeded" in x), "")
        time.sleep(0.2)
    assert line, celery_worker_process.log_path.read_text()
    assert request_id in line
