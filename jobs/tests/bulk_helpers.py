"""Helpers shared by the bulk job tests."""

from __future__ import annotations

from typing import Any

from credits.models import CreditHold
from credits.selectors import accounts_out_of_balance, balance_get
from jobs.bulk import services
from jobs.bulk.selectors import bulk_job_recount
from jobs.models import BulkItem, BulkJob
from products.providers.sandbox import SandboxProvider

NOT_FOUND = "B000000404"
OUTAGE = "B000000503"


def asins(count: int, start: int = 0) -> list[str]:
    """Valid, distinct ASINs the sandbox knows (none of its reserved ones)."""
    return [f"B0BLK{i:05d}" for i in range(start, start + count)]


def create_job(user: Any, values: list[Any], marketplace: str = "US", **kwargs: Any) -> BulkJob:
    return services.bulk_job_create_from_list(
        user=user, kind="asin_lookup", values=values, params={"marketplace": marketplace}, **kwargs
    )


def run_job(job_id: int, *, rounds: int = 100) -> BulkJob:
    """Work on the job in this process until no lane has anything left to do now."""
    for _ in range(rounds):
        report = services.bulk_job_work(job_id=job_id, worker="test", time_budget=60)
        if report.next_in is None or report.next_in > 0:
            break
    return BulkJob.objects.get(pk=job_id)


def assert_books_balance(job: BulkJob) -> None:
    """The job's counters equal its items, its credits its hold, and every account its ledger."""
    job.refresh_from_db()
    recount = bulk_job_recount(job=job)
    assert recount["total"] == job.total
    assert recount["succeeded"] == job.succeeded
    assert recount["failed"] == job.failed
    assert recount["invalid"] == job.invalid
    assert recount["cancelled"] == job.cancelled
    assert recount["credits_spent"] == job.credits_spent == job.succeeded * job.item_price
    # Every delivered item used its price, every other item nothing.
    assert not BulkItem.objects.filter(job=job, status=BulkItem.Status.SUCCEEDED, credits=0).exists()
    assert (
        not BulkItem.objects.filter(job=job, credits__gt=0).exclude(status=BulkItem.Status.SUCCEEDED).exists()
    )
    if job.is_final and job.hold_id:
        hold = CreditHold.objects.get(pk=job.hold_id)
        assert hold.status == CreditHold.Status.SETTLED
        assert hold.used == job.hold_spent
    assert accounts_out_of_balance() == []


class UpstreamSpy:
    """Counts the sandbox's upstream calls (batches) and the ASINs in each."""

    def __init__(self, monkeypatch: Any) -> None:
        self.batches: list[list[str]] = []
        original = SandboxProvider._fetch_batch
        spy = self

        def fetch_batch(provider: SandboxProvider, batch: list[str], marketplace: Any) -> Any:
            spy.batches.append(list(batch))
            return original(provider, batch, marketplace)

        monkeypatch.setattr(SandboxProvider, "_fetch_batch", fetch_batch)

    @property
    def asins(self) -> list[str]:
        return [asin for batch in self.batches for asin in batch]


__all__ = [
    "NOT_FOUND",
    "OUTAGE",
    "UpstreamSpy",
    "asins",
    "assert_books_balance",
    "balance_get",
    "create_job",
    "run_job",
]
