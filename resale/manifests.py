"""Liquidation manifests: read an upload into a draft, show its cost, run it as a bulk job.

``manifest_create`` reads the file (resale/manifest_files.py), allocates the lot price to the
accepted lines and stores the manifest and every line (rejected ones with their reason); nothing is
charged. The page and the API show the cost (accepted lines x the ``manifest_line`` price) before
anything runs. ``manifest_start`` creates the ``manifest`` bulk job (resale/manifest_kind.py) for
the accepted lines through the engine (``bulk_job_create``), which holds the credits of every line
up front (402 when the balance is short: nothing started), charges each line delivered through the
metered batch path and gives back the credits of the others when the job ends.

The lot price is allocated to the accepted lines by their share of the lot's retail value
(unit retail x quantity) when every accepted line has a unit retail above 0, else by their share of
the units; rounded to the cent with the remainder cents given to the largest fractions, so the
lines add up to the lot price exactly. Rejected lines get nothing (they are not part of what is
analysed); unresolved lines keep their share: the lot was paid for them too.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import ROUND_DOWN, Decimal
from typing import IO, TYPE_CHECKING

from django.db import transaction
from django.utils import timezone

from core.errors import ConflictError, DomainError
from core.money import parse_amount
from credits.models import Operation
from credits.selectors import price_get
from jobs.bulk.kinds import bulk_kind_register
from jobs.bulk.selectors import bulk_job_items
from jobs.bulk.services import bulk_job_create
from jobs.bulk.uploads import InputRow
from jobs.models import BulkItem, BulkJob
from products.marketplaces import marketplace_get
from resale.manifest_conf import manifest_settings
from resale.manifest_files import ManifestLineInput, parse_manifest
from resale.manifest_kind import (
    MANIFEST_KIND,
    manifest_bulk_kind,
    manifest_item_text,
    manifest_line_apply,
    manifest_lines_write,
)
from resale.models import Manifest, ManifestLine

if TYPE_CHECKING:
    from accounts.models import User

CENT = Decimal("0.01")
MAX_LOT_PRICE = Decimal("999999999999.99")


def clean_lot_price(raw: object) -> Decimal:
    """The lot price as people type it (``core.money.parse_amount``: "1250.00", "1,250.00",
    "1.250,00", "1250,50 €"), to the cent."""
    text = "" if raw is None else str(raw)
    try:
        price = parse_amount(text)
    except ValueError as exc:
        if "negative" in str(exc):
            raise DomainError("The lot price cannot be negative.", code="invalid_lot_price") from None
        price = None
    if price is None:
        raise DomainError(
            "Enter the lot price: what the whole manifest costs, e.g. 1250.00.", code="invalid_lot_price"
        )
    if price > MAX_LOT_PRICE:
        raise DomainError("The lot price is too large.", code="invalid_lot_price")
    return price.quantize(CENT)


def allocate_lot_price(lot_price: Decimal, lines: Sequence[ManifestLineInput]) -> tuple[str, list[Decimal]]:
    """How the lot price was split (``retail`` or ``units``) and each line's share, in order: see
    the module's docstring."""
    if not lines:
        return Manifest.Allocation.UNITS, []
    by_retail = all(line.unit_retail is not None and line.unit_retail > 0 for line in lines)
    weights = [
        (line.unit_retail or Decimal(0)) * line.quantity if by_retail else Decimal(line.quantity)
        for line in lines
    ]
    total_weight = sum(weights, Decimal(0))
    cents = int((lot_price / CENT).to_integral_value())
    exact = [Decimal(cents) * weight / total_weight for weight in weights]
    floors = [int(value.to_integral_value(rounding=ROUND_DOWN)) for value in exact]
    left = cents - sum(floors)
    order = sorted(range(len(lines)), key=lambda i: (-(exact[i] - floors[i]), i))
    for i in order[:left]:
        floors[i] += 1
    return (Manifest.Allocation.RETAIL if by_retail else Manifest.Allocation.UNITS), [
        Decimal(value) * CENT for value in floors
    ]


def manifest_create(
    *,
    user: User,
    file: IO[bytes],
    size: int,
    filename: str,
    lot_price: object,
    marketplace: str = "US",
) -> Manifest:
    """A draft manifest read from an upload (nothing charged): see the module's docstring."""
    price = clean_lot_price(lot_price)
    market = marketplace_get(marketplace)
    s = manifest_settings()
    parsed = parse_manifest(
        file, size=size, filename=filename, max_bytes=s.max_upload_bytes, max_lines=s.max_lines
    )
    accepted = parsed.accepted
    allocation, shares = allocate_lot_price(price, accepted)
    share_of = {line.line: share for line, share in zip(accepted, shares, strict=True)}
    with transaction.atomic():
        manifest = Manifest.objects.create(
            user=user,
            filename=filename[:255],
            marketplace=market.code,
            currency=market.currency,
            lot_price=price,
            allocation=allocation,
            encoding=parsed.encoding,
            columns=parsed.columns,
            lines_total=len(parsed.lines),
            lines_rejected=len(parsed.rejected),
            units_total=sum(line.quantity for line in accepted),
            item_price=price_get(operation=Operation.MANIFEST_LINE),
        )
        ManifestLine.objects.bulk_create(
            (
                ManifestLine(
                    manifest=manifest,
                    line=line.line,
                    asin_input=line.asin[:64],
                    fnsku=line.fnsku[:64],
                    code=line.code[:64],
                    title_input=line.title,
                    quantity=line.quantity,
                    unit_retail=line.unit_retail,
                    allocated_cost=share_of.get(line.line, Decimal(0)),
                    status=ManifestLine.Status.REJECTED if line.error else ManifestLine.Status.PENDING,
                    error=line.error,
                )
                for line in parsed.lines
            ),
            batch_size=1000,
        )
    return manifest


def manifest_start(*, manifest: Manifest, idempotency_key: str = "") -> BulkJob:
    """Run a draft manifest as a bulk job (402 when the credits for its lines are short). Starting
    it again returns the same job."""
    if manifest.job_id is not None:
        return manifest.job  # type: ignore[return-value]
    if manifest.lines_accepted == 0:
        raise ConflictError(
            "Every line of this manifest was rejected: nothing to analyse.", code="no_valid_lines"
        )
    manifest_kind_register()
    rows = [
        InputRow(line, manifest_item_text(line, identifier))
        for line, identifier in _accepted_identifiers(manifest)
    ]
    job = bulk_job_create(
        user=manifest.user,
        kind=MANIFEST_KIND,
        rows=rows,
        params={"marketplace": manifest.marketplace, "manifest": manifest.pk},
        source=BulkJob.Source.CSV,
        filename=manifest.filename,
        # The manifest is the claim: starting it twice (a double click, a retried request) finds the job.
        idempotency_key=idempotency_key or f"manifest:{manifest.pk}",
    )
    updated = Manifest.objects.filter(pk=manifest.pk, job__isnull=True).update(
        job=job, started_at=timezone.now()
    )
    if updated:
        manifest.job, manifest.started_at = job, timezone.now()
    else:
        manifest.refresh_from_db()
    return job


def _accepted_identifiers(manifest: Manifest) -> list[tuple[int, str]]:
    rows = (
        ManifestLine.objects.filter(manifest=manifest)
        .exclude(status=ManifestLine.Status.REJECTED)
        .order_by("line")
        .values_list("line", "asin_input", "fnsku", "code", "title_input")
    )
    return [(line, asin or fnsku or code or title[:80]) for line, asin, fnsku, code, title in rows]


def manifest_refresh(*, manifest: Manifest) -> int:
    """Once its job is final, lines still pending take their item's outcome; the number changed.

    The kind's completion hook writes each line's result just after the engine's transaction that
    made its item final, and a failure of the hook is only logged: so a job can be final a moment
    before (or, after a crash, without) its last lines being written. Pages and the API call this
    before reading a finished manifest. Idempotent, like the hook (a line is set to what its item
    says)."""
    job = manifest.job
    if job is None or not job.is_final:
        return 0
    pending = {
        line.line: line
        for line in ManifestLine.objects.filter(manifest=manifest, status=ManifestLine.Status.PENDING)
    }
    if not pending:
        return 0
    items = (
        bulk_job_items(job=job)
        .filter(row__in=list(pending))
        .exclude(status__in=BulkItem.OPEN)
        .values_list("row", "status", "result", "error_message")
    )
    changed = []
    for row, status, result, error in items.iterator(chunk_size=1000):
        delivered = status == BulkItem.Status.SUCCEEDED and result
        if status == BulkItem.Status.CANCELLED:
            error = "Not analysed: the manifest's job was cancelled."
        manifest_line_apply(pending[row], result if delivered else None, error or "Not delivered.")
        changed.append(pending[row])
    manifest_lines_write(changed)
    return len(changed)


def manifest_delete(*, manifest: Manifest) -> None:
    """A draft, or a finished manifest (its job's results stay with the job)."""
    if manifest.job is not None and not manifest.job.is_final:
        raise ConflictError("The manifest is still running: cancel its job first.", code="manifest_running")
    manifest.delete()


def manifest_kind_register() -> None:
    bulk_kind_register(manifest_bulk_kind())
