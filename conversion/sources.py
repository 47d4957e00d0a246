"""A seller's own sources of FNSKU to ASIN mappings: inventory reports, the Seller Central
connection and FBA inventory syncs.

``inventory_report_import`` reads an Amazon inventory report (CSV or
tab-separated) into the seller's own mappings (source ``inventory_report``).
``spapi_connection_set``/``_delete`` keep the seller's SP-API authorisation
(its refresh token encrypted, conversion/tokens.py). ``fba_inventory_sync``
reads the seller's FBA inventory summaries (through
products/providers/fba_inventory.py, the wire format's adapter) into their own
mappings (source ``fba_inventory``); ``fba_inventory_sync_queue`` queues one in
the background (conversion/tasks.py), and ``fba_inventory_notes`` is the
resolvers' hook that syncs a stale inventory before a conversion reads the store.
"""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import IO, TYPE_CHECKING, Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from conversion import conf
from conversion.evidence import Evidence
from conversion.mappings import OwnMapping, own_mappings_upsert
from conversion.models import FbaSync, FnskuMapping, SpApiConnection
from conversion.tokens import TokenUnreadable, token_decrypt, token_encrypt
from conversion.validation import normalize_fnsku
from core.errors import ConflictError, DomainError, TooLargeError, UnavailableError
from products.marketplaces import marketplace_get
from products.providers import ProviderError
from products.providers.fba_inventory import InventoryItem, app_configured, inventory_pages
from products.validation import normalize_asin

if TYPE_CHECKING:
    from accounts.models import User
    from conversion.resolvers import Query

logger = logging.getLogger(__name__)

# --- Inventory reports ------------------------------------------------------------------------------


@dataclass
class ImportResult:
    rows: int = 0
    created: int = 0
    updated: int = 0
    skipped: int = 0
    duplicates: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)
    error_count: int = 0

    MAX_ERRORS_SHOWN = 50

    def error(self, line: int, message: str) -> None:
        self.skipped += 1
        self.error_count += 1
        if len(self.errors) < self.MAX_ERRORS_SHOWN:
            self.errors.append({"line": line, "message": message})

    def to_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "created": self.created,
            "updated": self.updated,
            "skipped": self.skipped,
            "duplicates": self.duplicates,
            "error_count": self.error_count,
            "errors": self.errors,
        }


_COLUMN_ALIASES = {
    "fnsku": ("fnsku", "fn-sku", "fulfillment-network-sku", "fulfilment-network-sku"),
    "asin": ("asin", "asin1"),
    "sku": ("sku", "seller-sku", "merchant-sku", "msku"),
    "title": ("product-name", "title", "item-name", "product-title", "name"),
}


def _column(headers: Sequence[str], wanted: str) -> int | None:
    normalised = ["-".join(h.strip().lower().replace("_", " ").split()) for h in headers]
    for alias in _COLUMN_ALIASES[wanted]:
        if alias in normalised:
            return normalised.index(alias)
    return None


def _decode(data: bytes) -> str:
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1")


def inventory_report_import(*, user: User, file: IO[bytes], marketplace: str = "US") -> ImportResult:
    """Import ``user``'s FNSKU to ASIN pairs from an Amazon inventory report (CSV or tab-separated).

    Columns are found by name: fnsku and asin are needed, sku and the product
    name are kept when present (Seller Central's "Manage FBA Inventory" report
    has them all). The whole file is checked first: a file without those
    columns or too long is refused (400), one too big (413), and nothing is written; a bad
    line is skipped and reported with its number."""
    settings = conf.conversion_settings()
    market = marketplace_get(marketplace)
    data = file.read(settings.import_max_bytes + 1)
    if len(data) > settings.import_max_bytes:
        raise TooLargeError(
            f"The file is larger than {settings.import_max_bytes // 1_000_000} MB; "
            "split it and import the parts.",
            code="file_too_large",
        )
    text = _decode(data)
    first_line = text.split("\n", 1)[0]
    delimiter = (
        "\t" if "\t" in first_line else (";" if first_line.count(";") > first_line.count(",") else ",")
    )
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    headers = next(reader, None)
    if not headers:
        raise DomainError("The file is empty.", code="invalid_file")
    fnsku_col, asin_col = _column(headers, "fnsku"), _column(headers, "asin")
    if fnsku_col is None or asin_col is None:
        raise DomainError(
            "The file needs an fnsku and an asin column "
            "(an Amazon inventory report has sku, fnsku and asin); "
            f"its columns are: {', '.join(h.strip() for h in headers if h.strip()) or 'none'}.",
            code="invalid_file",
            extra={"columns": headers},
        )
    sku_col, title_col = _column(headers, "sku"), _column(headers, "title")

    result = ImportResult()
    mappings: dict[str, OwnMapping] = {}
    for line, row in enumerate(reader, start=2):
        if not any(cell.strip() for cell in row):
            continue
        result.rows += 1
        if result.rows > settings.import_max_rows:
            raise DomainError(
                f"The file has more than {settings.import_max_rows:,} rows; split it and import the parts.",
                code="file_too_long",
            )
        try:
            code = normalize_fnsku(row[fnsku_col] if fnsku_col < len(row) else "")
            asin = normalize_asin(row[asin_col] if asin_col < len(row) else "")
        except DomainError as exc:
            result.error(line, exc.message)
            continue
        if code in mappings:
            result.duplicates += 1
        mappings[code] = OwnMapping(
            fnsku=code,
            asin=asin,
            seller_sku=row[sku_col].strip() if sku_col is not None and sku_col < len(row) else "",
            title=row[title_col].strip() if title_col is not None and title_col < len(row) else "",
        )
    result.created, result.updated = own_mappings_upsert(
        user=user,
        marketplace=market.code,
        source=FnskuMapping.Source.INVENTORY_REPORT,
        mappings=mappings.values(),
        seen_at=timezone.now(),
    )
    return result


# --- SP-API connections and FBA inventory syncs -----------------------------------------------------------


def spapi_connection_set(*, user: User, selling_partner_id: str, refresh_token: str) -> SpApiConnection:
    """Connect (or reconnect) ``user``'s Seller Central account: their selling partner id and the
    refresh token of their authorisation of the platform's SP-API application."""
    if not app_configured():
        raise UnavailableError(
            "Seller Central connections are not available: "
            "the platform's SP-API application is not configured.",
            code="spapi_not_configured",
        )
    seller_id = selling_partner_id.strip().upper()
    token = refresh_token.strip()
    if not (8 <= len(seller_id) <= 32 and seller_id.isalnum() and seller_id.isascii()):
        raise DomainError(
            "A selling partner id has 8 to 32 letters and digits, such as A2EUQ1WTGCTBG2 "
            "(Seller Central: Settings > Account Info > Merchant Token).",
            code="invalid_selling_partner_id",
        )
    if (
        not token.startswith("Atzr|")
        or len(token) < 20
        or len(token) > 2000
        or any(c.isspace() for c in token)
    ):
        raise DomainError(
            "That is not an SP-API refresh token: it starts with Atzr| and has no spaces.",
            code="invalid_refresh_token",
        )
    now = timezone.now()
    with transaction.atomic():
        spapi_connection, _ = SpApiConnection.objects.update_or_create(
            user=user,
            defaults={
                "selling_partner_id": seller_id,
                "refresh_token_encrypted": token_encrypt(token),
                "token_hint": token[-4:],
                "is_active": True,
                "last_error": "",
                "updated_at": now,
            },
        )
        # A new authorisation (perhaps of another account) starts from a full sync.
        FbaSync.objects.filter(connection=spapi_connection).delete()
    return spapi_connection


def spapi_connection_delete(*, user: User) -> None:
    """Disconnect: the stored token and the mappings read from the seller's FBA inventory go."""
    with transaction.atomic():
        SpApiConnection.objects.filter(user=user).delete()
        FnskuMapping.objects.filter(user=user, source=FnskuMapping.Source.FBA_INVENTORY).delete()


def fba_inventory_sync_queue(*, user: User, marketplace: str = "US") -> str:
    """Queue a background sync of ``user``'s FBA inventory in ``marketplace`` once the
    current transaction commits; the marketplace's code."""
    # The task module calls this one's services: imported here to keep the import one-way.
    from conversion.tasks import fba_inventory_sync_task

    market = marketplace_get(marketplace)
    user_id = user.pk
    transaction.on_commit(lambda: fba_inventory_sync_task.delay(user_id, market.code))
    return market.code


@dataclass(frozen=True)
class SyncResult:
    marketplace: str
    items: int
    created: int
    updated: int
    complete: bool


def fba_inventory_sync(*, user: User, marketplace: str = "US", max_pages: int | None = None) -> SyncResult:
    """Read ``user``'s FBA inventory summaries into their own mappings (source ``fba_inventory``).

    After a first complete pass, only what changed since the last complete
    pass is asked for. ``max_pages`` bounds a sync run inside a conversion; a
    bounded run that did not reach the end does not count as complete.
    Raises ``DomainError`` without a usable connection and ``ProviderError``
    when Amazon cannot answer (kept as the connection's ``last_error``)."""
    market = marketplace_get(marketplace)
    spapi_connection = SpApiConnection.objects.filter(user=user, is_active=True).first()
    if spapi_connection is None:
        raise DomainError("Connect your Seller Central account first.", code="spapi_not_connected")
    try:
        refresh_token = token_decrypt(spapi_connection.refresh_token_encrypted)
    except TokenUnreadable:
        SpApiConnection.objects.filter(pk=spapi_connection.pk).update(
            is_active=False, last_error="The stored authorisation can no longer be read: connect again."
        )
        raise ConflictError(
            "Your Seller Central authorisation can no longer be read: connect your account again.",
            code="spapi_reconnect",
        ) from None
    state, _ = FbaSync.objects.get_or_create(connection=spapi_connection, marketplace=market.code)
    started = timezone.now()
    FbaSync.objects.filter(pk=state.pk).update(attempted_at=started)
    # Summaries changed while the previous pass ran are asked for again: a few minutes of overlap.
    changed_since = state.synced_at - timedelta(minutes=5) if state.synced_at else None
    items = created = updated = 0
    complete = False
    try:
        for page in inventory_pages(
            refresh_token=refresh_token,
            selling_partner_id=spapi_connection.selling_partner_id,
            marketplace=market,
            changed_since=changed_since,
            max_pages=max_pages,
        ):
            made, changed = own_mappings_upsert(
                user=user,
                marketplace=market.code,
                source=FnskuMapping.Source.FBA_INVENTORY,
                mappings=_valid_inventory(page.items),
                seen_at=timezone.now(),
            )
            items += len(page.items)
            created += made
            updated += changed
            complete = not page.has_more
    except ProviderError as exc:
        message = exc.message[:500]
        FbaSync.objects.filter(pk=state.pk).update(last_error=message)
        SpApiConnection.objects.filter(pk=spapi_connection.pk).update(last_error=message)
        raise
    fields: dict[str, Any] = {"last_error": "", "items_seen": F("items_seen") + items}
    if complete:
        fields["synced_at"] = started
    FbaSync.objects.filter(pk=state.pk).update(**fields)
    SpApiConnection.objects.filter(pk=spapi_connection.pk).update(last_error="")
    return SyncResult(market.code, items, created, updated, complete)


def _valid_inventory(items: Iterable[InventoryItem]) -> list[OwnMapping]:
    valid = []
    for item in items:
        try:
            valid.append(
                OwnMapping(
                    fnsku=normalize_fnsku(item.fnsku),
                    asin=normalize_asin(item.asin),
                    seller_sku=item.seller_sku,
                    title=item.product_name,
                )
            )
        except DomainError:
            logger.info("fba inventory: skipped a summary with fnsku %r, asin %r", item.fnsku, item.asin)
    return valid


def fba_inventory_notes(user: User, query: Query) -> list[Evidence]:
    """Before the store is read (the resolvers' ``fba_sync`` hook): sync the seller's FBA
    inventory when it may be missing this FNSKU, and say what it knows."""
    return _fba_state(user, query, allow_sync=True)


def fba_inventory_notes_without_sync(user: User, query: Query) -> list[Evidence]:
    """What the seller's FBA inventory says about this FNSKU, without syncing it."""
    return _fba_state(user, query, allow_sync=False)


def _fba_state(user: User, query: Query, *, allow_sync: bool) -> list[Evidence]:
    spapi_connection = SpApiConnection.objects.filter(user=user, is_active=True).first()
    if spapi_connection is None:
        return []
    market = query.marketplace.code
    if FnskuMapping.objects.filter(
        user=user, fnsku=query.fnsku, marketplace=market, source=FnskuMapping.Source.FBA_INVENTORY
    ).exists():
        return []  # the store's row speaks for the inventory
    settings = conf.conversion_settings()
    state = FbaSync.objects.filter(connection=spapi_connection, marketplace=market).first()
    fresh_after = query.now - timedelta(seconds=settings.fba_sync_interval)
    synced = state.synced_at if state else None
    attempted = state.attempted_at if state else None
    # A failing sync is not retried by every conversion: at most once a fifth of the interval.
    retry_after = query.now - timedelta(seconds=settings.fba_sync_interval / 5)
    if (
        allow_sync
        and (synced is None or synced < fresh_after)
        and (attempted is None or attempted < retry_after)
    ):
        try:
            result = fba_inventory_sync(user=user, marketplace=market, max_pages=settings.fba_sync_max_pages)
        except (ProviderError, DomainError) as exc:
            return [
                Evidence(
                    source="fba_inventory", asin=None, detail=f"Your FBA inventory could not be read: {exc}"
                )
            ]
        scope = (
            "" if result.complete else f" (the first {result.items} items; the rest syncs in the background)"
        )
        return [
            Evidence(
                source="fba_inventory",
                asin=None,
                detail=f"Your FBA inventory in {market} was synced just now{scope}"
                + ("." if _has_fba_row(user, query) else ": this FNSKU is not in it."),
                seen_at=query.now,
            )
        ]
    when = f"synced {synced:%Y-%m-%d %H:%M} UTC" if synced else "not synced yet"
    return [
        Evidence(
            source="fba_inventory",
            asin=None,
            detail=f"Not in your FBA inventory in {market} ({when}).",
            seen_at=synced,
        )
    ]


def _has_fba_row(user: User, query: Query) -> bool:
    return FnskuMapping.objects.filter(
        user=user,
        fnsku=query.fnsku,
        marketplace=query.marketplace.code,
        source=FnskuMapping.Source.FBA_INVENTORY,
    ).exists()
