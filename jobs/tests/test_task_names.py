"""The tasks keep the names they were registered under before the move to jobs/, so
messages already queued and beat entries of a running deployment still resolve."""

from django.conf import settings

from config.celery import app

NAMES_BEFORE_THE_MOVE = {
    "products.bulk_job_work",
    "products.bulk_jobs_sweep",
    "products.bulk_claims_release_worker",
    "products.bulk_claims_release_dead_workers",
    "products.bulk_job_notify",
    "schedules.collections_run_due",
    "schedules.collection_run_start",
    "schedules.collection_results_expire",
    "schedules.collection_run_notify",
}


def test_the_tasks_keep_their_registered_names():
    app.loader.import_default_modules()  # what a worker does at start-up

    registered = {name: task.__module__ for name, task in app.tasks.items() if name in NAMES_BEFORE_THE_MOVE}

    assert set(registered) == NAMES_BEFORE_THE_MOVE
    assert all(module.startswith("jobs.") for module in registered.values())


def test_the_beat_entries_name_registered_tasks():
    app.loader.import_default_modules()

    assert {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()} <= set(app.tasks)
