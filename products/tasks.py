from celery import shared_task

from products.querylog import lookup_log_flush


@shared_task(name="products.flush_lookup_log", ignore_result=True, soft_time_limit=50, time_limit=60)
def flush_lookup_log() -> int:
    """Periodic (beat): move buffered lookup-log lines into the database."""
    return lookup_log_flush()
