from celery import shared_task

# Celery's autodiscovery imports <app>.tasks: the bulk jobs' tasks live in their package.
from products.bulk.tasks import (  # noqa: F401
    bulk_claims_release_dead_workers,
    bulk_claims_release_worker,
    bulk_job_notify,
    bulk_job_work,
    bulk_jobs_sweep,
)
from products.querylog import lookup_log_flush


@shared_task(name="products.flush_lookup_log", ignore_result=True, soft_time_limit=50, time_limit=60)
def flush_lookup_log() -> int:
    """Periodic (beat): move buffered lookup-log lines into the database."""
    return lookup_log_flush()
