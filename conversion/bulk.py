"""FNSKU conversion as a kind of bulk job: the processor the bulk job engine (products/bulk/) calls.

``convert_many`` resolves a batch without charging: the engine holds the
credits of the whole job up front and settles what was used, so a conversion
that found nothing (``ok`` False) is simply not counted as used. Each answer is
learnt and logged as a ``Conversion`` (channel ``bulk``), so it can be
confirmed or corrected like any other.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from conversion.services import BulkItemOutcome, conversions_resolve_many
from credits.models import Operation

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
    "conversion_id",
    "error_code",
    "error_message",
)


def convert_many(
    *,
    user: User,
    fnskus: list[str],
    marketplace: str = "US",
    label_texts: dict[str, str] | None = None,
) -> list[BulkItemOutcome]:
    """One outcome per entry of ``fnskus``, in order (``label_texts``: printed names by FNSKU)."""
    return conversions_resolve_many(
        user=user, fnskus=fnskus, marketplace=marketplace, label_texts=label_texts
    )


def outcome_row(outcome: BulkItemOutcome) -> dict[str, object]:
    """An outcome as a row of the job's CSV and JSON results."""
    return {
        "fnsku": outcome.fnsku,
        "status": outcome.status or "invalid",
        "asin": outcome.asin or "",
        "title": outcome.title or "",
        "confidence": outcome.confidence if outcome.confidence is not None else "",
        "conversion_id": outcome.conversion_id or "",
        "error_code": outcome.error_code,
        "error_message": outcome.error_message,
    }
