"""The bulk jobs' settings, read in one place (config/settings.py, "Bulk jobs").

Read on each call, so ``override_settings`` in tests is seen at once.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings


@dataclass(frozen=True, slots=True)
class BulkSettings:
    max_rows: int
    max_upload_bytes: int
    chunk_size: int
    lanes: int
    task_seconds: float
    claim_timeout: float
    max_attempts: int
    retry_delay: float
    retry_delay_max: float
    stall_seconds: float
    give_up_seconds: float
    worker_heartbeat_seconds: float
    worker_alive_seconds: float


def bulk_settings() -> BulkSettings:
    heartbeat = max(0.1, settings.BULK_WORKER_HEARTBEAT_SECONDS)
    return BulkSettings(
        max_rows=max(1, settings.BULK_MAX_ROWS),
        max_upload_bytes=max(1, settings.BULK_MAX_UPLOAD_BYTES),
        chunk_size=max(1, settings.BULK_CHUNK_SIZE),
        lanes=max(1, settings.BULK_LANES),
        task_seconds=max(0.0, settings.BULK_TASK_SECONDS),
        claim_timeout=max(1.0, settings.BULK_CLAIM_TIMEOUT),
        max_attempts=max(1, settings.BULK_MAX_ATTEMPTS),
        retry_delay=max(0.0, settings.BULK_RETRY_DELAY),
        retry_delay_max=max(0.0, settings.BULK_RETRY_DELAY_MAX),
        stall_seconds=max(1.0, settings.BULK_STALL_SECONDS),
        give_up_seconds=max(1.0, settings.BULK_GIVE_UP_SECONDS),
        worker_heartbeat_seconds=heartbeat,
        # One missed heartbeat (a slow cache, a busy process) must not make a worker dead.
        worker_alive_seconds=max(2 * heartbeat, settings.BULK_WORKER_ALIVE_SECONDS),
    )
