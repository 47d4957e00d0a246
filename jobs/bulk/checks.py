"""System checks of the bulk jobs' settings: timings that would make workers redo each other's work."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Tags, Warning, register

from jobs.bulk.conf import bulk_settings
from jobs.bulk.tasks import WORK_TIME_LIMIT


@register(Tags.compatibility)
def check_bulk_timings(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    messages: list[CheckMessage] = []
    claim_timeout = bulk_settings().claim_timeout
    if claim_timeout <= WORK_TIME_LIMIT:
        messages.append(
            Warning(
                f"BULK_CLAIM_TIMEOUT ({claim_timeout:g} s) is not above the bulk task's hard "
                f"time limit ({WORK_TIME_LIMIT} s): the sweep may hand a chunk that is still running to "
                "another worker (nothing is charged twice, but the work is done twice).",
                hint=f"Set BULK_CLAIM_TIMEOUT above {WORK_TIME_LIMIT}.",
                id="products.W101",
            )
        )
    visibility = settings.CELERY_BROKER_TRANSPORT_OPTIONS.get("visibility_timeout")
    if isinstance(visibility, int | float) and visibility <= WORK_TIME_LIMIT:
        messages.append(
            Warning(
                f"CELERY_VISIBILITY_TIMEOUT ({visibility} s) is not above the bulk task's hard time limit "
                f"({WORK_TIME_LIMIT} s): Redis redelivers a bulk task that is still running.",
                hint=f"Set CELERY_VISIBILITY_TIMEOUT above {WORK_TIME_LIMIT}.",
                id="products.W102",
            )
        )
    return messages
