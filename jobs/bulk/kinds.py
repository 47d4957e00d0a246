"""What a kind of bulk job is, and the registry of kinds.

The engine (jobs/bulk/services.py) knows nothing about ASINs: it creates
items, claims chunks of them, hands each chunk to its kind's ``process``
function and records the outcomes, once. A kind is registered once, at
start-up, from its app's ``AppConfig.ready()``::

    from jobs.bulk.kinds import BulkKind, ClaimedItem, ExportColumn, ItemOutcome, JobContext
    from jobs.bulk.kinds import bulk_kind_register

    def convert_chunk(job: JobContext, items: Sequence[ClaimedItem]) -> dict[int, ItemOutcome]:
        # job.user_id, job.params ({"marketplace": "US"}); item.id, item.value (normalised),
        # item.row, item.attempts, item.extra ({"title": ...} from extra_columns)
        return {item.id: ItemOutcome.succeeded({"asin": ...}) for item in items}

    bulk_kind_register(BulkKind(
        name="fnsku_conversion", label="FNSKU conversion", operation="fnsku_conversion",
        input_label="FNSKU", input_column="fnsku", normalize=normalize_fnsku,
        process=convert_chunk, extra_columns=("title",),
        export_columns=(ExportColumn("asin", lambda result: result.get("asin")),),
        summary=lambda result: f"ASIN {result.get('asin')}",  # the job page's one line per item
    ))

A kind may be offered with another one (``offered_with``): the same input, more in each result.
The upload page and the create endpoint of the base kind then let people choose it (resale's
``asin_profit``: product data with fees and profit, offered with ``asin_lookup``), while the
engine's own code names neither.

Jobs of the kind are created with ``jobs.bulk.services.bulk_job_create_from_csv``
(or ``..._from_list``, or ``bulk_job_create`` with rows) and ``kind="fnsku_conversion"``;
the engine's API and pages (status, cancel, retry, results) serve every kind.

``process`` returns one ``ItemOutcome`` per item id: ``succeeded(result)``
(charged the operation's price once), ``failed(code, message)`` (final, not
charged), ``retry(code, message, delay)`` (tried again later; counts as an
attempt, failed after ``BULK_MAX_ATTEMPTS``) or ``defer(code, message, delay)``
(not attempted, e.g. a rate limit: tried again later without using an
attempt). It must not write item or job state itself (the engine does, under
the claim), must tolerate being called again for the same items (a chunk
redelivered after a crash: make side effects idempotent, e.g. keyed by
``(job.job_id, item.id)``), and should do its upstream work in batches. An
exception fails nobody: the chunk is retried, as an attempt.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from core.errors import DomainError


@dataclass(frozen=True, slots=True)
class JobContext:
    """What a processor may know about the job of the items it processes."""

    job_id: int
    user_id: int
    kind: str
    params: Mapping[str, Any]
    item_price: int


@dataclass(frozen=True, slots=True)
class ClaimedItem:
    """An item claimed for this worker: ``value`` is its normalised input, ``attempts``
    the number of this attempt (1 the first time), ``extra`` the kind's extra columns of its row."""

    id: int
    row: int
    value: str
    attempts: int
    extra: Mapping[str, str] = field(default_factory=dict)


class OutcomeKind(StrEnum):
    SUCCEEDED = "succeeded"  # delivered: charged, with ``result``
    FAILED = "failed"  # final, not charged (unknown product, unsupported input...)
    RETRY = "retry"  # could not be done now; counts as an attempt, tried again after ``delay``
    DEFER = "defer"  # not attempted (circuit open, rate limit): tried again after ``delay``, no attempt used


@dataclass(frozen=True, slots=True)
class ItemOutcome:
    kind: OutcomeKind
    result: dict[str, Any] | None = None
    error_code: str = ""
    error_message: str = ""
    delay: float | None = None
    # For the kind's own ``on_completed`` hook (e.g. where a record came from); not stored.
    meta: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def succeeded(cls, result: dict[str, Any], **meta: Any) -> ItemOutcome:
        return cls(OutcomeKind.SUCCEEDED, result=result, meta=meta)

    @classmethod
    def failed(cls, code: str, message: str, **meta: Any) -> ItemOutcome:
        return cls(OutcomeKind.FAILED, error_code=code, error_message=message, meta=meta)

    @classmethod
    def retry(cls, code: str, message: str, delay: float | None = None, **meta: Any) -> ItemOutcome:
        return cls(OutcomeKind.RETRY, error_code=code, error_message=message, delay=delay, meta=meta)

    @classmethod
    def defer(cls, code: str, message: str, delay: float | None = None, **meta: Any) -> ItemOutcome:
        return cls(OutcomeKind.DEFER, error_code=code, error_message=message, delay=delay, meta=meta)


Processor = Callable[[JobContext, Sequence[ClaimedItem]], Mapping[int, ItemOutcome]]
CompletedHook = Callable[[JobContext, Sequence[tuple[ClaimedItem, ItemOutcome]]], None]


@dataclass(frozen=True, slots=True)
class ExportColumn:
    """A CSV export column computed from a delivered item's ``result``."""

    header: str
    value: Callable[[Mapping[str, Any]], object]


@dataclass(frozen=True, slots=True)
class BulkKind:
    name: str
    label: str
    # The credits operation priced per delivered item (credits.models.Operation).
    operation: str
    # How people call one input ("ASIN"), and the CSV column holding it ("asin").
    input_label: str
    input_column: str
    # The canonical form of one input; raises DomainError (its message is the row's reason).
    normalize: Callable[[str], str]
    process: Processor
    export_columns: tuple[ExportColumn, ...] = ()
    # More CSV columns (by header name, any case) kept with each row for the processor
    # (``ClaimedItem.extra``), e.g. the printed title next to an FNSKU.
    extra_columns: tuple[str, ...] = ()
    # The job's parameters checked and normalised at creation (raise DomainError); default: none.
    clean_params: Callable[[Mapping[str, Any]], dict[str, Any]] | None = None
    # Called after the engine recorded final outcomes (each item once): logs, metrics.
    on_completed: CompletedHook | None = None
    # One line about a delivered item's ``result`` for the job page's table (e.g. the product's
    # title); default: the first few ``export_columns`` that have a value (``bulk_result_summary``).
    summary: Callable[[Mapping[str, Any]], str] | None = None
    # Checks a row's ``extra_columns`` at creation (raise DomainError: the row is invalid, with its
    # message as the reason, and not charged), e.g. a cost that is not a number.
    check_extra: Callable[[Mapping[str, str]], None] | None = None
    # The kind whose upload page and create endpoint also offer this one, and what it adds there.
    offered_with: str = ""
    description: str = ""


SUMMARY_COLUMNS = 3


def bulk_result_summary(kind: BulkKind, result: Mapping[str, Any] | None) -> str:
    """One readable line about a delivered item's ``result``: the kind's own ``summary``, or
    else its first export columns with a value ("asin: B0..., title: ...")."""
    if not result:
        return ""
    if kind.summary is not None:
        return kind.summary(result)
    parts: list[str] = []
    for column in kind.export_columns:
        value = column.value(result)
        if value not in (None, "", [], {}):
            parts.append(f"{column.header}: {value}")
        if len(parts) == SUMMARY_COLUMNS:
            break
    return ", ".join(parts)


_registry: dict[str, BulkKind] = {}
_lock = threading.Lock()


def bulk_kind_register(kind: BulkKind) -> BulkKind:
    """Make ``kind`` available to jobs (idempotent for the same definition)."""
    with _lock:
        existing = _registry.get(kind.name)
        if existing is not None and existing != kind:
            raise ValueError(f"A different bulk job kind named {kind.name!r} is already registered.")
        _registry[kind.name] = kind
    return kind


def bulk_kind_get(name: str) -> BulkKind:
    _load_builtin()
    try:
        return _registry[name]
    except KeyError:
        raise DomainError(
            f"Unknown kind of bulk job {name!r}.",
            code="unknown_job_kind",
            extra={"kind": name, "valid": sorted(_registry)},
        ) from None


def bulk_kinds_offered(base: str) -> list[BulkKind]:
    """``base`` and the kinds offered with it (``offered_with``), in the order they were registered:
    the choices of its upload page and create endpoint."""
    _load_builtin()
    with _lock:
        kinds = list(_registry.values())
    return [kind for kind in kinds if kind.name == base] + [
        kind for kind in kinds if kind.offered_with == base
    ]


def _load_builtin() -> None:
    # The ASIN lookup kind ships with the engine (jobs above products); other apps
    # (conversion) register theirs in AppConfig.ready().
    from jobs.bulk import asin_lookup  # noqa: F401
