"""Celery's autodiscovery imports <app>.tasks: the tasks live in their packages.

Their registered names are the ones they had before the move (``products.bulk_*``,
``schedules.collection*``), so messages already queued and beat entries of a
running deployment still resolve.
"""

from jobs.bulk.tasks import (  # noqa: F401
    bulk_claims_release_dead_workers,
    bulk_claims_release_worker,
    bulk_job_notify,
    bulk_job_work,
    bulk_jobs_sweep,
)
from jobs.collections.tasks import (  # noqa: F401
    collection_results_expire,
    collection_run_notify,
    collection_run_start,
    collections_run_due,
)
