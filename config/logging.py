"""Structured logs: one JSON object per line, each with the request id it belongs to.

- ``RequestIdMiddleware`` takes the id from ``X-Request-ID`` when it is a
  plausible id (``[A-Za-z0-9._-]{1,64}``), otherwise makes one, keeps it in a
  context variable for the request, and echoes it in the response header.
- ``RequestIdFilter`` puts it on every log record (``request_id``).
- config/celery.py carries it into the tasks a request enqueues (a message
  header), so a task's log lines carry the id of the request that started it.
- ``JsonFormatter`` writes the record as JSON (``LOG_FORMAT=json``, the default
  with ``DEBUG=0``). ``RedactingFilter`` masks credentials anywhere in a
  message: API keys, bearer tokens, Stripe secrets, passwords in URLs.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import json
import logging
import re
import traceback
import uuid
from collections.abc import Callable, Iterable
from typing import Any

from django.http import HttpRequest, HttpResponse

REQUEST_ID_HEADER = "X-Request-ID"
_VALID_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)


def new_request_id() -> str:
    return uuid.uuid4().hex


def clean_request_id(value: str | None) -> str:
    """``value`` when it is a plausible id, else a new one (never trust a header into logs)."""
    if value and _VALID_REQUEST_ID.fullmatch(value):
        return value
    return new_request_id()


def current_request_id() -> str | None:
    return request_id_var.get()


class RequestIdMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id = clean_request_id(request.headers.get(REQUEST_ID_HEADER))
        request.id = request_id  # type: ignore[attr-defined]
        token = request_id_var.set(request_id)
        try:
            response = self.get_response(request)
        finally:
            request_id_var.reset(token)
        response[REQUEST_ID_HEADER] = request_id
        return response


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "request_id", None):
            # django.request logs a response after the middleware has returned: its record has the request.
            record.request_id = (
                request_id_var.get() or getattr(getattr(record, "request", None), "id", None) or "-"
            )
        return True


# Credentials as they could appear in a message: "Bearer <token>", "X-API-Key: <key>",
# Stripe keys and signing secrets, "key=..." query parameters (Keepa puts its key in
# the URL), "password=..." and credentials in URLs (postgres://user:pass@host).
# Every repetition that can start anywhere is bounded (a key's first capital or digit
# within 64 characters, a scheme of at most 32), so a long message, such as a
# 10,000-character path in a 404's log line, is scanned in linear time, not quadratic.
_SECRET_PATTERNS = (
    (re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]{8,}"), r"\1[REDACTED]"),
    (
        re.compile(
            r"(?i)((?:x-api-key|authorization|api[_-]?key|token|secret|password)[\"']?\s*[:=]\s*[\"']?)[^\s\"',&;]+"
        ),
        r"\1[REDACTED]",
    ),
    (re.compile(r"(?i)([?&](?:key|api_key|token|access_token|secret)=)[^&\s\"']+"), r"\1[REDACTED]"),
    (re.compile(r"\b(?:sk|rk|pk)_(?:live|test)_[A-Za-z0-9]{8,}"), "[REDACTED]"),
    (re.compile(r"\bwhsec_[A-Za-z0-9]{8,}"), "[REDACTED]"),
    (re.compile(r"\bapip_(?=[A-Za-z0-9_-]{0,64}[A-Z0-9])[A-Za-z0-9_-]{30,}"), "[REDACTED]"),
    (re.compile(r"(\w{1,32}://[^:/\s@]+:)[^@\s/]+@"), r"\1[REDACTED]@"),
)


def redact(text: str) -> str:
    for pattern, replacement in _SECRET_PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class RedactingFilter(logging.Filter):
    """Masks credentials in the formatted message (and its arguments) before any handler sees it."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: leave it to the handler's own error path
            return True
        cleaned = redact(message)
        if cleaned != message or record.args:
            record.msg, record.args = cleaned, None
        return True


# Attributes every LogRecord has; anything else was passed with ``extra=``.
_RECORD_FIELDS = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime", "request_id"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None) or request_id_var.get() or "-",
            "process": record.process,
        }
        task_id = getattr(record, "task_id", None)
        if task_id:
            entry["task_id"] = task_id
        for key, value in record.__dict__.items():
            if key not in _RECORD_FIELDS and key not in entry and not key.startswith("_"):
                entry[key] = (
                    value if isinstance(value, str | int | float | bool | type(None)) else repr(value)
                )
        if record.exc_info:
            entry["exception"] = redact("".join(traceback.format_exception(*record.exc_info)))
        if record.stack_info:
            entry["stack"] = record.stack_info
        return json.dumps(entry, default=str)


class PlainFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        if not hasattr(record, "request_id"):
            record.request_id = request_id_var.get() or "-"
        text = super().format(record)
        return redact(text) if record.exc_info else text


# Celery's routine INFO lines about a task: beat sending it, a worker receiving it, its success.
_TICK_MESSAGES = {
    "celery.beat": "Scheduler: Sending due task",
    "celery.worker.strategy": "Task %(name)s[%(id)s] received",
    "celery.app.trace": "Task %(name)s[%(id)s] succeeded",
}


class PeriodicTaskTicksFilter(logging.Filter):
    """Drops Celery's routine INFO lines about the beat's periodic tasks (those of
    ``CELERY_BEAT_SCHEDULE``): "Sending due task", "received", "succeeded". One task
    runs every few seconds, so they would bury everything else in a terminal (``make
    run`` turns them off with ``LOG_PERIODIC_TASK_TICKS=0``). Their warnings and errors
    (a failed or retried tick) and every other task's lines are kept.

    It reads the record's arguments, so it runs before ``RedactingFilter`` (which folds
    them into the message)."""

    def __init__(self, tasks: Iterable[str] | None = None) -> None:
        super().__init__()
        self._tasks = frozenset(tasks) if tasks is not None else None

    @property
    def tasks(self) -> frozenset[str]:
        if self._tasks is None:
            from django.conf import settings

            self._tasks = frozenset(str(entry["task"]) for entry in settings.CELERY_BEAT_SCHEDULE.values())
        return self._tasks

    def filter(self, record: logging.LogRecord) -> bool:
        start = _TICK_MESSAGES.get(record.name)
        if start is None or record.levelno >= logging.WARNING or not isinstance(record.msg, str):
            return True
        if not record.msg.startswith(start):
            return True
        args = record.args
        if isinstance(args, dict):  # the worker's lines: {"name": task, "id": ..., ...}
            task = args.get("name")
        elif isinstance(args, tuple) and len(args) == 2:  # beat's: (entry name, task)
            task = args[1]
        else:
            return True
        return task not in self.tasks
