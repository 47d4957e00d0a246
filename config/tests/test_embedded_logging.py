"""`make run` does not log a line per beat tick: its logging drops Celery's routine lines about
the periodic tasks, and keeps their warnings and errors, every other task's lines and the emails
the console backend prints."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

from celery.app.trace import LOG_SUCCESS

from config.logging import PeriodicTaskTicksFilter
from config.run_embedded import address

BASE_DIR = Path(__file__).resolve().parents[2]

# What beat and a worker log for a periodic task and for another one, with Celery's own format
# strings, through the platform's LOGGING; then an email through the development backend.
EMIT = """
import logging, logging.config
from celery.app.trace import LOG_FAILURE, LOG_RECEIVED, LOG_SUCCESS
from django.conf import settings
from django.core.mail import send_mail

logging.config.dictConfig(settings.LOGGING)
def task(name, **more):
    return {"id": "id-" + name, "name": name, "args": "()", "kwargs": "{}", "eta": None,
            "return_value": None, "runtime": 0.01, **more}
beat = logging.getLogger("celery.beat")
beat.info("Scheduler: Sending due task %s (%s)", "products-flush-lookup-log", "products.flush_lookup_log")
received = task("products.flush_lookup_log")
logging.getLogger("celery.worker.strategy").info(LOG_RECEIVED, received, extra={"data": received})
logging.getLogger("celery.app.trace").info(LOG_SUCCESS, task("products.flush_lookup_log"))
logging.getLogger("celery.app.trace").error(
    LOG_FAILURE, task("products.flush_lookup_log", description="raised unexpected", exc="boom")
)
logging.getLogger("celery.app.trace").info(LOG_SUCCESS, task("accounts.one_off"))
beat.warning("beat: a periodic task could not be sent")
link = "http://127.0.0.1:8123/accounts/confirm/abc"
send_mail("Verify your email address", "Open " + link, None, ["a@example.com"])
"""


def run_logging(environ: dict[str, str]) -> str:
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-v", "0", "-c", EMIT],
        cwd=BASE_DIR,
        env={**environ, "DEBUG": "1", "LOG_FORMAT": "plain", "LOG_LEVEL": "INFO"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout + result.stderr


def clean_environ() -> dict[str, str]:
    return {
        k: v for k, v in os.environ.items() if k not in {"LOG_PERIODIC_TASK_TICKS", "EMAIL_URL", "SITE_URL"}
    }


def test_the_embedded_run_logs_no_line_per_beat_tick_and_still_shows_the_email():
    environ = clean_environ()
    address(environ)  # the environment make run gives the web server, the worker and beat
    output = run_logging(environ)

    assert "Sending due task" not in output
    assert "products.flush_lookup_log[id-products.flush_lookup_log] received" not in output
    assert "products.flush_lookup_log[id-products.flush_lookup_log] succeeded" not in output
    assert "products.flush_lookup_log[id-products.flush_lookup_log] raised unexpected: boom" in output
    assert "accounts.one_off[id-accounts.one_off] succeeded" in output
    assert "beat: a periodic task could not be sent" in output
    assert "Subject: Verify your email address" in output
    assert "http://127.0.0.1:8123/accounts/confirm/abc" in output


def test_elsewhere_the_periodic_tasks_lines_are_logged_by_default():
    output = run_logging(clean_environ())

    assert "Scheduler: Sending due task products-flush-lookup-log (products.flush_lookup_log)" in output
    assert "products.flush_lookup_log[id-products.flush_lookup_log] succeeded" in output


def test_the_filter_knows_the_beat_schedule_tasks():
    ticks = PeriodicTaskTicksFilter()
    assert "products.flush_lookup_log" in ticks.tasks
    record = logging.LogRecord(
        "celery.app.trace", logging.INFO, __file__, 1, LOG_SUCCESS, ({"name": "x", "id": "1"},), None
    )
    assert PeriodicTaskTicksFilter(tasks=["x"]).filter(record) is False
    assert PeriodicTaskTicksFilter(tasks=["y"]).filter(record) is True
