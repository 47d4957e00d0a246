"""The Celery application.

Its settings live in config/settings.py under the CELERY_ namespace: late acks,
reject on worker loss, prefetch 1, JSON only and explicit time limits, so a
killed worker's task is redelivered rather than lost.
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("config")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.task(name="config.ping", ignore_result=False)
def ping() -> str:
    """Answered by any worker; used by the readiness check and tests."""
    return "pong"
