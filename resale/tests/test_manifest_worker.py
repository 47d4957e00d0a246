"""A manifest on a real Celery worker (Redis broker, PostgreSQL): every line once, credits exact."""

from __future__ import annotations

import io
import time

import pytest
from django.db.models import Count

from credits.selectors import accounts_out_of_balance, balance_get
from credits.tests.factories import funded_user
from jobs.models import BulkJob
from jobs.tests.bulk_helpers import NOT_FOUND, assert_books_balance
from resale.manifest_selectors import manifest_totals
from resale.manifests import manifest_create, manifest_refresh, manifest_start
from resale.models import ManifestLine
from resale.tests.manifest_data import bstock_manifest, products

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.celery_worker,
    pytest.mark.django_db(transaction=True),
]
QUICK = {"BULK_TASK_SECONDS": "2", "BULK_RETRY_DELAY": "0", "BULK_SWEEP_INTERVAL": "1"}


def test_a_worker_analyses_a_manifest_charging_delivered_lines_only(celery_workers):
    celery_workers.start("m1", env=QUICK)
    user = funded_user(credits=1000)
    rows = products(150, start=600)
    data = bstock_manifest(rows, quantities=[1 + i % 4 for i in range(150)])
    data += f"PLT-2,{NOT_FOUND},Unknown,3,$9.99,$29.97,New\nPLT-2,B07XSCCZYG,Suitcase,-1,$1,$1,New\n".encode()
    manifest = manifest_create(
        user=user, file=io.BytesIO(data), size=len(data), filename="pallet.csv", lot_price="2500.00"
    )
    job = manifest_start(manifest=manifest)  # queued when the transaction commits (none: autocommit)
    assert balance_get(user=user) == 1000 - 151 * 2

    deadline = time.monotonic() + 90
    while not BulkJob.objects.get(pk=job.pk).is_final:
        if time.monotonic() > deadline:
            logs = "\n".join(w.log()[-4000:] for w in celery_workers.workers)
            pytest.fail(f"the manifest did not finish\n{logs}")
        time.sleep(0.1)
    job.refresh_from_db()
    assert (job.status, job.succeeded, job.failed, job.invalid) == ("completed", 150, 1, 0)
    assert balance_get(user=user) == 1000 - 150 * 2
    assert_books_balance(job)
    assert accounts_out_of_balance() == []
    # What the page and the API read: a finished job's lines, the last ones written now if its
    # completion hook has not written them yet.
    manifest_refresh(manifest=manifest)
    counts = dict(
        ManifestLine.objects.filter(manifest=manifest)
        .values_list("status")
        .annotate(n=Count("id"))
        .order_by()
    )
    assert counts == {"priced": 150, "unresolved": 1, "rejected": 1}
    totals = manifest_totals(manifest=manifest)
    assert totals.units_unresolved == 3
    assert totals.lines_pending == 0
