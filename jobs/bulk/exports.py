"""A job's results as CSV or JSON, streamed: the items are read in batches from a
server-side cursor and written out as they come, so a 10,000-item job (tens of
megabytes of records) never sits in memory. The JSON is an object: the job's summary
(``job``), then its items (``results``); the CSV has one row per item."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.http import StreamingHttpResponse

from core.csv_export import csv_lines
from jobs.bulk.kinds import BulkKind, bulk_kind_get
from jobs.bulk.selectors import bulk_job_items, bulk_job_results_check
from jobs.bulk.serializers import BulkJobSummarySerializer
from jobs.models import BulkJob

FORMATS = ("csv", "json")
BATCH = 500
_ITEM_FIELDS = (
    "row",
    "input",
    "value",
    "status",
    "attempts",
    "credits",
    "error_code",
    "error_message",
    "result",
)


def csv_header(job: BulkJob, spec: BulkKind) -> list[str]:
    return [
        "row",
        "input",
        spec.input_column,
        *sorted(job.params),
        "status",
        "error_code",
        "error",
        "attempts",
        "credits",
        *(column.header for column in spec.export_columns),
    ]


def _items(job: BulkJob) -> Iterator[tuple[Any, ...]]:
    return bulk_job_items(job=job).values_list(*_ITEM_FIELDS).iterator(chunk_size=BATCH)


def results_csv(job: BulkJob) -> Iterator[str]:
    """The CSV text in pieces of about ``BATCH`` rows: a header, then one row per item."""
    spec = bulk_kind_get(job.kind)
    yield from csv_lines([csv_header(job, spec)])
    yield from csv_lines(_result_rows(job, spec), batch=BATCH)


def _result_rows(job: BulkJob, spec: BulkKind) -> Iterator[list[object]]:
    params = [job.params[name] for name in sorted(job.params)]
    for row, text, value, status, attempts, credits, error_code, error_message, result in _items(job):
        record: Mapping[str, Any] = result or {}
        extra = [column.value(record) if result else None for column in spec.export_columns]
        yield [row, text, value, *params, status, error_code, error_message, attempts, credits, *extra]


def job_summary(job: BulkJob) -> dict[str, Any]:
    """The job as the JSON results open with (``BulkJobSummarySerializer``), read afresh."""
    return dict(BulkJobSummarySerializer(BulkJob.objects.select_related("hold").get(pk=job.pk)).data)


def results_json(job: BulkJob) -> Iterator[str]:
    """A JSON object: ``job``, the job's summary (its state, counts and credits), then
    ``results``, an array with one object per item (its input, state, error and result),
    written as the items are read."""
    head = json.dumps(job_summary(job), separators=(",", ":"), ensure_ascii=False, cls=DjangoJSONEncoder)
    yield '{"job":' + head + ',"results":['
    separator = ""
    pieces: list[str] = []
    for row, text, value, status, attempts, credits, error_code, error_message, result in _items(job):
        error = {"code": error_code, "message": error_message} if error_code or error_message else None
        item = {
            "row": row,
            "input": text,
            "value": value,
            "status": status,
            "attempts": attempts,
            "credits": credits,
            "error": error,
            "result": result,
        }
        pieces.append(separator + json.dumps(item, separators=(",", ":"), ensure_ascii=False))
        separator = ","
        if len(pieces) >= BATCH:
            yield "".join(pieces)
            pieces.clear()
    pieces.append("]}")
    yield "".join(pieces)


def results_response(job: BulkJob, *, fmt: str) -> StreamingHttpResponse:
    """The job's results as a download; ``DomainError`` (410) once retention deleted them."""
    bulk_job_results_check(job=job)
    if fmt == "json":
        response = StreamingHttpResponse(results_json(job), content_type="application/json")
    else:
        response = StreamingHttpResponse(results_csv(job), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="bulk-job-{job.pk}-results.{fmt}"'
    response["Cache-Control"] = "no-store"
    return response
