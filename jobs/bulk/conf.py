"""The bulk jobs' settings, each declared once (core.appsettings). See docs/bulk.md.

config/settings.py reads them from the environment ("Bulk jobs"); they are read on each call, so
``override_settings`` in tests and a changed setting are seen at once.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.appsettings import load, setting


@dataclass(frozen=True, slots=True)
class BulkSettings:
    # Limits of one job's input: a CSV file's size and its (non-blank) rows, or a list's entries.
    max_rows: int = setting("BULK_MAX_ROWS", default=10_000, minimum=1)
    max_upload_bytes: int = setting("BULK_MAX_UPLOAD_BYTES", default=5 * 1024 * 1024, minimum=1)
    # Items claimed and processed together (a Keepa request takes up to 100 ASINs).
    chunk_size: int = setting("BULK_CHUNK_SIZE", default=100, minimum=1)
    # Tasks working on one job at the same time.
    lanes: int = setting("BULK_LANES", default=4, minimum=1)
    # A task stops claiming chunks after this long and queues itself again (fairness between jobs).
    task_seconds: float = setting("BULK_TASK_SECONDS", default=20.0, minimum=0.0)
    # An item claimed longer than this is presumed lost with its worker and released
    # by the sweep; above the bulk task's hard time limit (120 s).
    claim_timeout: float = setting("BULK_CLAIM_TIMEOUT", default=180.0, minimum=1.0)
    # Attempts of one item (failed upstream calls, lost workers) before it is failed.
    max_attempts: int = setting("BULK_MAX_ATTEMPTS", default=5, minimum=1)
    # Backoff between attempts: this, doubling, at most BULK_RETRY_DELAY_MAX (seconds).
    retry_delay: float = setting("BULK_RETRY_DELAY", default=5.0, minimum=0.0)
    retry_delay_max: float = setting("BULK_RETRY_DELAY_MAX", default=300.0, minimum=0.0)
    # The sweep (beat): how often it runs; an active job quiet this long is queued again;
    # one where no item finished this long fails its pending items (retry them later).
    sweep_interval: float = setting("BULK_SWEEP_INTERVAL", default=30.0)
    stall_seconds: float = setting("BULK_STALL_SECONDS", default=60.0, minimum=1.0)
    give_up_seconds: float = setting("BULK_GIVE_UP_SECONDS", default=3600.0, minimum=1.0)
    # Each worker marks itself alive in the cache this often (seconds), from its main process.
    worker_heartbeat_seconds: float = setting("BULK_WORKER_HEARTBEAT_SECONDS", default=5.0, minimum=0.1)
    # A worker's mark lasts this long (at least twice the heartbeat). Once it expired the worker is
    # dead: its claims go back and its jobs are queued again (when a worker starts, and at each
    # sweep) without waiting for BULK_CLAIM_TIMEOUT.
    worker_alive_setting: float = setting("BULK_WORKER_ALIVE_SECONDS", default=15.0)

    @property
    def worker_alive_seconds(self) -> float:
        # One missed heartbeat (a slow cache, a busy process) must not make a worker dead.
        return max(2 * self.worker_heartbeat_seconds, self.worker_alive_setting)


def bulk_settings() -> BulkSettings:
    return load(BulkSettings)
