"""FNSKU conversion as a kind of bulk job: the processor the bulk job engine (jobs/bulk/) calls.

``convert_many`` resolves a batch without charging: the engine holds the
credits of the whole job up front and settles what was used, so a conversion
that found nothing (``ok`` False) is simply not counted as used. Each answer is
learnt and logged as a ``Conversion`` (channel ``bulk``), so it can be
confirmed or corrected like any other.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from conversion import conf
from conversion.convert import conversion_finish, conversion_resolve
from conversion.mappings import mapping_learn
from conversion.models import Conversion
from conversion.validation import clean_label_text, normalize_fnsku
from core.errors import DomainError
from credits.models import Operation
from jobs.bulk.kinds import BulkKind, ClaimedItem, ExportColumn, ItemOutcome, JobContext
from products.marketplaces import marketplace_get

if TYPE_CHECKING:
    from accounts.models import User

# The bulk job kind, and the price the engine holds per item.
BULK_KIND = "fnsku_conversion"
BULK_OPERATION = Operation.FNSKU_CONVERSION

# Columns of the results export, in order.
RESULT_COLUMNS = (
    "fnsku",
    "status",
    "asin",
    "title",
    "confidence",
    "sample_data",
    "provider",
    "conversion_id",
    "error_code",
    "error_message",
)


@dataclass(frozen=True)
class BulkItemOutcome:
    """One FNSKU of a batch: an answer, or why there is none (``error_code``)."""

    fnsku: str
    ok: bool
    conversion_id: int | None = None
    asin: str | None = None
    title: str | None = None
    confidence: float | None = None
    status: str = ""
    provider: str = ""
    sample_data: bool = False
    candidates: list[dict[str, Any]] = field(default_factory=list)
    error_code: str = ""
    error_message: str = ""


def convert_many(
    *,
    user: User,
    fnskus: list[str],
    marketplace: str = "US",
    label_texts: dict[str, str] | None = None,
    idempotency_keys: dict[str, str] | None = None,
) -> list[BulkItemOutcome]:
    """One outcome per entry of ``fnskus``, in order: a batch resolved for ``user`` without
    charging (the bulk job engine charges through its hold). ``label_texts``: printed names
    by FNSKU.

    ``idempotency_keys`` (by FNSKU, e.g. the bulk item's ``bulk:<job>:<item>``)
    make a redelivered batch reuse the conversions it already finished rather
    than resolving and logging them twice.

    Each FNSKU is validated on its own (a bad one is an outcome, not an
    exception); answers are learnt and logged (channel ``bulk``) like single
    conversions, so they can be confirmed or corrected. The seller's FBA
    inventory is synced at most once for the batch."""
    market = marketplace_get(marketplace)
    labels = {normalize_fnsku_or_none(k): v for k, v in (label_texts or {}).items()}
    settings = conf.conversion_settings()
    outcomes = []
    synced = False
    for raw in fnskus:
        started = time.perf_counter()
        try:
            code = normalize_fnsku(raw)
        except DomainError as exc:
            outcomes.append(
                BulkItemOutcome(fnsku=str(raw), ok=False, error_code=exc.code, error_message=exc.message)
            )
            continue
        label = clean_label_text(labels.get(code, ""))
        key = (idempotency_keys or {}).get(code)
        conversion = None
        if key:
            conversion, _ = Conversion.objects.get_or_create(
                user=user,
                idempotency_key=key,
                defaults={
                    "fnsku": code,
                    "marketplace": market.code,
                    "label_text": label,
                    "channel": Conversion.Channel.BULK,
                },
            )
            if conversion.status in (*Conversion.ANSWERED, Conversion.Status.NOT_FOUND):
                outcomes.append(_bulk_outcome(conversion))
                continue
        outcome = conversion_resolve(user, code, market, label, allow_fba_sync=not synced)
        synced = True
        if conversion is None:
            conversion = Conversion.objects.create(
                user=user,
                fnsku=code,
                marketplace=market.code,
                label_text=label,
                channel=Conversion.Channel.BULK,
            )
        if outcome.error is None:
            mapping_learn(resolution=outcome.resolution, learn_confidence=settings.learn_confidence)
        conversion_finish(
            conversion,
            status=outcome.status,
            resolution=outcome.resolution,
            started=started,
            error_code=outcome.error.code if outcome.error else "",
        )
        outcomes.append(
            BulkItemOutcome(
                fnsku=code,
                ok=outcome.error is None,
                conversion_id=conversion.pk,
                asin=conversion.asin or None,
                title=conversion.title or None,
                confidence=conversion.confidence,
                status=conversion.status,
                provider=conversion.provider,
                sample_data=conversion.sample_data,
                candidates=conversion.candidates,
                error_code=outcome.error.code if outcome.error else "",
                error_message=outcome.error.message if outcome.error else "",
            )
        )
    return outcomes


def _bulk_outcome(conversion: Conversion) -> BulkItemOutcome:
    """A finished conversion as a batch outcome (a redelivered item answered before)."""
    answered = conversion.status in Conversion.ANSWERED
    return BulkItemOutcome(
        fnsku=conversion.fnsku,
        ok=answered,
        conversion_id=conversion.pk,
        asin=conversion.asin or None,
        title=conversion.title or None,
        confidence=conversion.confidence,
        status=conversion.status,
        provider=conversion.provider,
        sample_data=conversion.sample_data,
        candidates=conversion.candidates,
        error_code="" if answered else (conversion.error_code or "fnsku_not_found"),
        error_message="" if answered else "No ASIN could be found for this FNSKU.",
    )


def normalize_fnsku_or_none(raw: str) -> str | None:
    try:
        return normalize_fnsku(raw)
    except DomainError:
        return None


def outcome_row(outcome: BulkItemOutcome) -> dict[str, object]:
    """An outcome as a row of the job's CSV and JSON results."""
    return {
        "fnsku": outcome.fnsku,
        "status": outcome.status or "invalid",
        "asin": outcome.asin or "",
        "title": outcome.title or "",
        "confidence": outcome.confidence if outcome.confidence is not None else "",
        "sample_data": outcome.sample_data,
        "provider": outcome.provider,
        "conversion_id": outcome.conversion_id or "",
        "error_code": outcome.error_code,
        "error_message": outcome.error_message,
    }


# --- The kind of bulk job (jobs/bulk/kinds.py) -------------------------------------------------

# Outcomes worth trying again later: the upstream could not answer now.
_RETRYABLE = {"upstream_unavailable", "circuit_open", "rate_limited", "provider_not_configured"}


def process_chunk(job: JobContext, items: Sequence[ClaimedItem]) -> dict[int, ItemOutcome]:
    """The bulk engine's processor for ``fnsku_conversion`` jobs: one batch, no charging
    (the engine charges delivered items from the job's hold), idempotent per item."""
    from accounts.models import User

    user = User.objects.get(pk=job.user_id)
    label_texts = {
        item.value: item.extra.get("label_text", "") for item in items if item.extra.get("label_text")
    }
    outcomes = convert_many(
        user=user,
        fnskus=[item.value for item in items],
        marketplace=str(job.params.get("marketplace", "US")),
        label_texts=label_texts,
        idempotency_keys={item.value: f"bulk:{job.job_id}:{item.id}" for item in items},
    )
    results: dict[int, ItemOutcome] = {}
    for item, outcome in zip(items, outcomes, strict=True):
        if outcome.ok:
            results[item.id] = ItemOutcome.succeeded(outcome_row(outcome))
        elif outcome.error_code in _RETRYABLE:
            results[item.id] = ItemOutcome.retry(outcome.error_code, outcome.error_message, delay=5)
        else:
            results[item.id] = ItemOutcome.failed(
                outcome.error_code or "fnsku_not_found", outcome.error_message or "No ASIN found."
            )
    return results


def _clean_params(params: Mapping[str, Any]) -> dict[str, Any]:
    return {"marketplace": marketplace_get(str(params.get("marketplace") or "US")).code}


def _result_value(column: str) -> Callable[[Mapping[str, Any]], object]:
    def value(result: Mapping[str, Any]) -> object:
        found = result.get(column)
        # true/false as the scan CSV writes them (a results row stored before these columns has none).
        return ("true" if found else "false") if isinstance(found, bool) else found

    return value


def bulk_kind() -> BulkKind:
    """The kind's definition, built once (the registry refuses a different one under the name)."""
    global _BULK_KIND
    if _BULK_KIND is None:
        _BULK_KIND = _build_bulk_kind()
    return _BULK_KIND


_BULK_KIND: BulkKind | None = None


def _build_bulk_kind() -> BulkKind:
    return BulkKind(
        name=BULK_KIND,
        label="FNSKU conversion",
        operation=BULK_OPERATION,
        input_label="FNSKU",
        input_column="fnsku",
        normalize=normalize_fnsku,
        process=process_chunk,
        extra_columns=("label_text",),
        clean_params=_clean_params,
        export_columns=tuple(
            ExportColumn(column, _result_value(column))
            for column in RESULT_COLUMNS
            if column not in {"fnsku", "error_code", "error_message"}
        ),
    )
