"""Reads of manifests: one user's manifests, a manifest's lines sorted, its totals."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from django.db.models import Count, F, Q, QuerySet, Sum

from core.errors import DomainError, NotFoundError
from resale.models import Manifest, ManifestLine

if TYPE_CHECKING:
    from accounts.models import User

# ``?sort=`` keys of the lines table and the API: a key, or a key with a leading "-" (descending).
SORT_FIELDS = {
    "line": "line",
    "profit": "profit",
    "roi": "roi",
    "resale_value": "resale_value",
    "sale_price": "sale_price",
    "quantity": "quantity",
    "allocated_cost": "allocated_cost",
    "status": "status",
    "title": "title",
    "monthly_sold": "monthly_sold",
    "rank_drops_30": "rank_drops_30",
    "rank_drops_90": "rank_drops_90",
}
DEFAULT_SORT = "line"


def manifest_list(*, user: User) -> QuerySet[Manifest]:
    return Manifest.objects.filter(user=user).select_related("job").order_by("-created_at", "-id")


def manifest_get(*, user: User, manifest_id: int) -> Manifest:
    manifest = Manifest.objects.filter(user=user, pk=manifest_id).select_related("job", "job__hold").first()
    if manifest is None:
        raise NotFoundError("Manifest not found.", code="not_found", extra={"manifest": manifest_id})
    return manifest


def clean_sort(raw: str | None) -> str:
    """A known sort key (``-`` for descending), else the default: the file's order."""
    key = (raw or "").strip()
    return key if key.lstrip("-") in SORT_FIELDS else DEFAULT_SORT


def manifest_lines(
    *, manifest: Manifest, sort: str = DEFAULT_SORT, status: str = ""
) -> QuerySet[ManifestLine]:
    """The lines in ``sort`` order (empty values last either way; then by line)."""
    key = clean_sort(sort)
    column = F(SORT_FIELDS[key.lstrip("-")])
    order = column.desc(nulls_last=True) if key.startswith("-") else column.asc(nulls_last=True)
    lines = ManifestLine.objects.filter(manifest=manifest)
    if status:
        if status not in ManifestLine.Status.values:
            known = ", ".join(ManifestLine.Status.values)
            raise DomainError(f"Unknown line status; one of: {known}.", code="invalid_status")
        lines = lines.filter(status=status)
    return lines.order_by(order, "line")


@dataclass(frozen=True, slots=True)
class ManifestTotals:
    currency: str
    lot_price: Decimal
    lines: int
    lines_rejected: int
    lines_pending: int
    lines_priced: int
    lines_no_price: int
    lines_fees_unavailable: int
    lines_unresolved: int
    lines_sample: int
    # Lines whose provider reported a sales figure (monthly sold or rank drops). The figures are not
    # added up: "1K+ bought" is a lower bound and rank drops are not units, so a lot's sales per
    # month would be an estimate of ours.
    lines_sales_data: int
    units: int
    units_unresolved: int
    resale_value: Decimal
    fees: Decimal
    net: Decimal
    # The lot's profit: the priced lines' profit, less the cost allocated to every other accepted
    # line (unresolved, no price, fees unavailable, still pending): bought, but not counted as sold.
    profit: Decimal
    roi: Decimal | None  # percent of the lot price; None for a lot price of 0

    @property
    def finished(self) -> bool:
        return self.lines_pending == 0


def manifest_totals(*, manifest: Manifest) -> ManifestTotals:
    Status = ManifestLine.Status
    money = Decimal("0.00")
    row = ManifestLine.objects.filter(manifest=manifest).aggregate(
        lines=Count("id"),
        rejected=Count("id", filter=Q(status=Status.REJECTED)),
        pending=Count("id", filter=Q(status=Status.PENDING)),
        priced=Count("id", filter=Q(status=Status.PRICED)),
        no_price=Count("id", filter=Q(status=Status.NO_PRICE)),
        fees_unavailable=Count("id", filter=Q(status=Status.FEES_UNAVAILABLE)),
        unresolved=Count("id", filter=Q(status=Status.UNRESOLVED)),
        sample=Count("id", filter=Q(sample_data=True)),
        sales_data=Count(
            "id",
            filter=Q(monthly_sold__isnull=False)
            | Q(rank_drops_30__isnull=False)
            | Q(rank_drops_90__isnull=False),
        ),
        units=Sum("quantity", filter=~Q(status=Status.REJECTED)),
        units_unresolved=Sum("quantity", filter=Q(status=Status.UNRESOLVED)),
        resale_value=Sum("resale_value", filter=Q(status=Status.PRICED)),
        fees=Sum("fees_total", filter=Q(status=Status.PRICED)),
        net=Sum("net_total", filter=Q(status=Status.PRICED)),
        priced_profit=Sum("profit", filter=Q(status=Status.PRICED)),
        unsold_cost=Sum("allocated_cost", filter=~Q(status__in=[Status.PRICED, Status.REJECTED])),
    )
    profit = (row["priced_profit"] or money) - (row["unsold_cost"] or money)
    lot = manifest.lot_price
    return ManifestTotals(
        currency=manifest.currency,
        lot_price=lot,
        lines=row["lines"],
        lines_rejected=row["rejected"],
        lines_pending=row["pending"],
        lines_priced=row["priced"],
        lines_no_price=row["no_price"],
        lines_fees_unavailable=row["fees_unavailable"],
        lines_unresolved=row["unresolved"],
        lines_sample=row["sample"],
        lines_sales_data=row["sales_data"],
        units=row["units"] or 0,
        units_unresolved=row["units_unresolved"] or 0,
        resale_value=row["resale_value"] or money,
        fees=row["fees"] or money,
        net=row["net"] or money,
        profit=profit,
        roi=(profit * 100 / lot).quantize(Decimal("0.01")) if lot > 0 else None,
    )
