"""Every write of the conversion app: conversions, feedback, imports, SP-API connections and syncs.

A conversion is a metered call (credits/metering.py), like the product lookup:
validate (400, nothing charged) -> charge ``fnsku_conversion`` -> resolve ->
refund when nothing was found (404) or the sources needed could not answer
(503) -> learn -> log. The log is the ``Conversion`` row itself, the call's
claim, taken before the charge so an ``Idempotency-Key`` retried (or raced)
charges once and answers what the first request answered.
"""

from __future__ import annotations

import csv
import io
import logging
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import IO, TYPE_CHECKING, Any

from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone

from conversion import conf
from conversion.evidence import Evidence
from conversion.fba_inventory import InventoryItem, app_configured, inventory_pages
from conversion.models import Conversion, ConversionFeedback, FbaSync, FnskuMapping, SpApiConnection
from conversion.resolvers import PlatformSources, Query, Resolution, resolve
from conversion.selectors import conversion_get
from conversion.tokens import TokenUnreadable, token_decrypt, token_encrypt
from conversion.validation import clean_label_text, normalize_fnsku
from core.errors import ConflictError, DomainError, NotFoundError, TooLargeError, UnavailableError
from credits.metering import KeyedCharge, metered
from credits.models import Operation
from credits.selectors import balance_get
from products.marketplaces import Marketplace, marketplace_get
from products.providers import ProviderError, UpstreamUnavailable
from products.validation import normalize_asin

if TYPE_CHECKING:
    from accounts.models import User
    from credits.models import LedgerEntry

logger = logging.getLogger(__name__)

CONVERSION_OPERATION = Operation.FNSKU_CONVERSION
Status = Conversion.Status

# --- Conversions ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ConversionResult:
    conversion: Conversion
    credits_remaining: int
    replayed: bool = False

    def body(self) -> dict[str, Any]:
        return conversion_body(self.conversion, credits_remaining=self.credits_remaining)


def conversion_body(conversion: Conversion, *, credits_remaining: int | None = None) -> dict[str, Any]:
    """The API's answer for a conversion (also the page's, and the list's items)."""
    best = conversion.candidates[0] if conversion.candidates and conversion.asin else {}
    return {
        "id": conversion.pk,
        "fnsku": conversion.fnsku,
        "marketplace": conversion.marketplace,
        "label_text": conversion.label_text,
        "asin": conversion.asin or None,
        "title": conversion.title or None,
        "image": best.get("image"),
        "confidence": conversion.confidence,
        "status": conversion.status,
        "candidates": conversion.candidates,
        "evidence": conversion.evidence,
        "credits_charged": conversion.credits_charged,
        "credits_remaining": credits_remaining,
        "created_at": conversion.created_at.isoformat().replace("+00:00", "Z"),
    }


@dataclass
class _Outcome:
    """What a resolution means for the user: an answer, nothing found, or sources down."""

    status: str
    resolution: Resolution
    error: DomainError | None = None


def fnsku_convert(
    *,
    user: User,
    fnsku: str,
    marketplace: str = "US",
    label_text: str = "",
    idempotency_key: str | None = None,
    channel: str = Conversion.Channel.API,
) -> ConversionResult:
    """Convert one FNSKU for ``user`` at the ``fnsku_conversion`` price.

    Bad input raises (400) before anything is charged. Nothing found (404) or
    sources down (503) is refunded in the same call and raised. With
    ``idempotency_key`` a repeated call answers what the first one answered,
    charging once."""
    started = time.perf_counter()
    code = normalize_fnsku(fnsku)
    market = marketplace_get(marketplace)
    label = clean_label_text(label_text)
    settings = conf.conversion_settings()

    claim = _ConversionClaim(
        user, code, market, label, channel, idempotency_key, settings.pending_timeout, started
    )

    def serve(charge: LedgerEntry) -> ConversionResult:
        claim.outcome = outcome = _resolve(user, code, market, label, allow_fba_sync=True)
        if outcome.error is not None:
            raise outcome.error
        _learn(outcome.resolution, settings.learn_confidence)
        return ConversionResult(claim.conversion, credits_remaining=charge.balance_after)

    return metered(
        user=user,
        operation=CONVERSION_OPERATION,
        reference=f"{market.code}:{code}",
        claim=claim,
        serve=serve,
        refund_on=(Exception,),
    )


class _ConversionClaim(KeyedCharge[ConversionResult]):
    """A conversion's claim is its own row (``_claim``), which is also its log and its
    replayed answer; its charge's ledger key is the row's, ``fnsku-conversion:<id>``.

    Nothing delivered: a conversion not found is kept for replay, sources down (or a
    failure of our own) give the key up, so a retry with it tries (and pays) again."""

    def __init__(
        self,
        user: User,
        fnsku: str,
        market: Marketplace,
        label: str,
        channel: str,
        idempotency_key: str | None,
        pending_timeout: int,
        started: float,
    ) -> None:
        super().__init__()
        self.request = (user, fnsku, market, label, channel, idempotency_key, pending_timeout)
        self.started = started
        self.outcome: _Outcome | None = None

    def take(self) -> ConversionResult | None:
        self.conversion, earlier = _claim(*self.request)
        if earlier:
            return _replay(self.conversion)
        self.ledger_key = f"fnsku-conversion:{self.conversion.pk}"
        return None

    def given_up(self) -> None:
        _finish(self.conversion, status=Status.INSUFFICIENT_CREDITS, started=self.started, release_key=True)

    def refund_reason(self, error: Exception) -> str:
        expected = self._expected(error)
        return expected.code if expected is not None else "conversion failed"

    def undelivered(self, error: Exception, refund: LedgerEntry) -> None:
        expected = self._expected(error)
        if expected is None or self.outcome is None:
            _finish(
                self.conversion,
                status=Status.UNAVAILABLE,
                started=self.started,
                release_key=True,
                error_code="server_error",
            )
            return
        expected.extra["conversion_id"] = self.conversion.pk
        _finish(
            self.conversion,
            status=self.outcome.status,
            resolution=self.outcome.resolution,
            started=self.started,
            # A passing outage: a retry with the same key tries (and pays) again.
            release_key=self.outcome.status == Status.UNAVAILABLE,
            error_code=expected.code,
        )

    def delivered(self, answer: ConversionResult, charge: LedgerEntry) -> None:
        assert self.outcome is not None
        _finish(
            self.conversion,
            status=self.outcome.status,
            resolution=self.outcome.resolution,
            started=self.started,
            credits=-charge.amount,
            charge_entry_id=charge.pk,
        )

    def _expected(self, error: Exception) -> DomainError | None:
        """``error`` if it is the resolution's own answer (not found, sources down)."""
        if self.outcome is not None and error is self.outcome.error:
            return self.outcome.error
        return None


def _resolve(user: User, fnsku: str, market: Marketplace, label: str, *, allow_fba_sync: bool) -> _Outcome:
    settings = conf.conversion_settings()
    query = Query(fnsku=fnsku, marketplace=market, label_text=label, now=timezone.now())
    sources = PlatformSources(user, fba_sync=_fba_notes if allow_fba_sync else _fba_notes_without_sync)
    resolution = resolve(query, sources, search_limit=settings.search_limit)
    best = resolution.best
    if best is not None and resolution.confidence >= settings.min_confidence:
        status = (
            Status.RESOLVED if resolution.confidence >= settings.resolved_confidence else Status.AMBIGUOUS
        )
        return _Outcome(status, resolution)
    evidence = [e.to_dict() for e in resolution.evidence]
    if resolution.search_error is not None:
        failed = resolution.search_error
        return _Outcome(
            Status.UNAVAILABLE,
            resolution,
            UpstreamUnavailable(
                f"{fnsku} is not in any mapping we know of, and the catalogue search by its label "
                "text could not run right now; you were not charged. Try again shortly.",
                provider=failed.provider,
                retry_after=failed.retry_after,
                extra={"fnsku": fnsku, "marketplace": market.code, "evidence": evidence},
            ),
        )
    hint = (
        " Add the product name printed on the label (label_text), import your inventory report, "
        "or connect your Seller Central account."
        if not label
        else " Check the label text, or import your inventory report."
    )
    return _Outcome(
        Status.NOT_FOUND,
        resolution,
        NotFoundError(
            f"No ASIN found for FNSKU {fnsku} in the {market.code} marketplace; you were not charged.{hint}",
            code="fnsku_not_found",
            extra={"fnsku": fnsku, "marketplace": market.code, "evidence": evidence},
        ),
    )


def _candidates_json(resolution: Resolution, limit: int) -> list[dict[str, Any]]:
    return [
        {
            "asin": c.asin,
            "title": c.title,
            "image": c.image,
            "score": round(c.raw, 4),
            "label_similarity": round(c.similarity, 3) if c.similarity is not None else None,
            "sources": c.sources,
        }
        for c in resolution.scored.candidates[:limit]
    ]


def _finish(
    conversion: Conversion,
    *,
    status: str,
    started: float,
    resolution: Resolution | None = None,
    release_key: bool = False,
    credits: int = 0,
    charge_entry_id: int | None = None,
    error_code: str = "",
) -> None:
    settings = conf.conversion_settings()
    conversion.status = status
    conversion.error_code = error_code
    conversion.credits_charged = credits
    conversion.charge_entry_id = charge_entry_id
    if resolution is not None:
        answered = status in Conversion.ANSWERED
        best = resolution.best
        conversion.asin = best.asin if answered and best else ""
        conversion.title = ((best.title or "") if answered and best else "")[:500]
        conversion.confidence = round(resolution.confidence, 4) if answered else None
        conversion.candidates = _candidates_json(resolution, settings.candidates_shown) if answered else []
        conversion.evidence = [e.to_dict() for e in resolution.evidence]
    if release_key:
        conversion.idempotency_key = None
    conversion.latency_ms = (time.perf_counter() - started) * 1000
    conversion.updated_at = timezone.now()
    conversion.save()


def _claim(
    user: User,
    fnsku: str,
    market: Marketplace,
    label: str,
    channel: str,
    idempotency_key: str | None,
    pending_timeout: int,
) -> tuple[Conversion, bool]:
    """The conversion row for this request, and whether it is an earlier request's (to replay).

    Without a key, a new row. With one, the unique (user, key) constraint
    decides who runs: the loser replays the winner's answer, waits (409 while
    it runs), or takes over a claim abandoned by a dead process."""
    key = idempotency_key.strip()[:200] if idempotency_key and idempotency_key.strip() else None
    fields = {
        "user": user,
        "fnsku": fnsku,
        "marketplace": market.code,
        "label_text": label,
        "channel": channel,
        "idempotency_key": key,
    }
    if key is None:
        return Conversion.objects.create(**fields), False
    try:
        with transaction.atomic():
            return Conversion.objects.create(**fields), False
    except IntegrityError:
        pass
    earlier = Conversion.objects.get(user=user, idempotency_key=key)
    if (earlier.fnsku, earlier.marketplace, earlier.label_text) != (fnsku, market.code, label):
        raise ConflictError(
            "This Idempotency-Key was already used for another conversion; use a new key for a new request.",
            code="idempotency_key_reused",
        )
    if earlier.status != Status.PENDING:
        return earlier, True
    stale = timezone.now() - timedelta(seconds=pending_timeout)
    # Take over a claim whose request died; the charge key is the row's, so it is never paid twice.
    if Conversion.objects.filter(pk=earlier.pk, status=Status.PENDING, updated_at__lt=stale).update(
        updated_at=timezone.now()
    ):
        earlier.refresh_from_db()
        return earlier, False
    raise ConflictError(
        "A conversion with this Idempotency-Key is still being processed; retry in a moment.",
        code="idempotency_key_in_use",
        retry_after=1,
    )


def _replay(conversion: Conversion) -> ConversionResult:
    balance = balance_get(user=conversion.user)
    if conversion.status == Status.NOT_FOUND:
        raise NotFoundError(
            f"No ASIN found for FNSKU {conversion.fnsku} in the {conversion.marketplace} marketplace; "
            "you were not charged.",
            code="fnsku_not_found",
            extra={
                "fnsku": conversion.fnsku,
                "marketplace": conversion.marketplace,
                "evidence": conversion.evidence,
            },
            credits_remaining=balance,
            replayed=True,
        )
    return ConversionResult(conversion, credits_remaining=balance, replayed=True)


# --- Learning ---------------------------------------------------------------------------------------


def _learn(resolution: Resolution, learn_confidence: float) -> None:
    """Keep a confident answer that only the catalogue search gave, as weak shared evidence for next time."""
    best = resolution.best
    if best is None or not resolution.from_search_only or resolution.confidence < learn_confidence:
        return
    query = resolution.query
    match = {
        "user": None,
        "fnsku": query.fnsku,
        "marketplace": query.marketplace.code,
        "asin": best.asin,
        "source": FnskuMapping.Source.PROVIDER,
    }
    title = (best.title or "")[:500]
    update = {"times_seen": F("times_seen") + 1, "last_seen": query.now, "title": title}
    if FnskuMapping.objects.filter(**match).update(**update):
        return
    try:
        with transaction.atomic():
            FnskuMapping.objects.create(**match, title=title, first_seen=query.now, last_seen=query.now)
    except IntegrityError:  # learnt by a concurrent conversion meanwhile
        FnskuMapping.objects.filter(**match).update(**update)


def _advisory_lock(name: str) -> None:
    """Serialise writers of one key inside the current transaction (PostgreSQL; SQLite has one writer)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [name])


# --- Feedback ----------------------------------------------------------------------------------------


def conversion_feedback(*, user: User, conversion_id: int, asin: str) -> ConversionFeedback:
    """``user`` says their conversion's FNSKU is ``asin``: a confirmation when it is the answer,
    a correction otherwise. Counted into the mapping store (see conversion/models.py)."""
    conversion = conversion_get(user=user, conversion_id=conversion_id)
    asin = normalize_asin(asin)
    if conversion.status in (Status.PENDING, Status.INSUFFICIENT_CREDITS):
        raise ConflictError(
            "This conversion has no answer to confirm or correct.", code="conversion_not_answered"
        )
    verdict = (
        ConversionFeedback.Verdict.CONFIRMED
        if asin == conversion.asin
        else ConversionFeedback.Verdict.CORRECTED
    )
    now = timezone.now()
    with transaction.atomic():
        _advisory_lock(f"fnsku-mapping:{conversion.marketplace}:{conversion.fnsku}")
        feedback, _ = ConversionFeedback.objects.update_or_create(
            conversion=conversion,
            defaults={
                "user": user,
                "fnsku": conversion.fnsku,
                "marketplace": conversion.marketplace,
                "asin": asin,
                "verdict": verdict,
                "updated_at": now,
            },
            create_defaults={
                "user": user,
                "fnsku": conversion.fnsku,
                "marketplace": conversion.marketplace,
                "asin": asin,
                "verdict": verdict,
                "created_at": now,
                "updated_at": now,
            },
        )
        _feedback_recount(user, conversion.fnsku, conversion.marketplace, now)
    return feedback


def _feedback_recount(user: User, fnsku: str, marketplace: str, now: datetime) -> None:
    """Rebuild the confirmation rows of one FNSKU from the feedback, the record they are counted from.

    Each user counts once, with their latest word: the ASIN they named is
    endorsed; the answer they corrected is rejected."""
    latest: dict[int, ConversionFeedback] = {}
    for item in (
        ConversionFeedback.objects.filter(fnsku=fnsku, marketplace=marketplace)
        .select_related("conversion")
        .order_by("updated_at", "id")
    ):
        latest[item.user_id] = item
    endorsed: Counter[str] = Counter()
    rejected: Counter[str] = Counter()
    for item in latest.values():
        endorsed[item.asin] += 1
        corrected = item.conversion.asin
        if item.verdict == ConversionFeedback.Verdict.CORRECTED and corrected and corrected != item.asin:
            rejected[corrected] += 1

    shared = FnskuMapping.objects.filter(
        user=None, fnsku=fnsku, marketplace=marketplace, source=FnskuMapping.Source.CONFIRMED
    )
    existing = {row.asin: row for row in shared}
    for asin in set(endorsed) | set(rejected):
        counts = {"times_confirmed": endorsed[asin], "times_rejected": rejected[asin]}
        row = existing.pop(asin, None)
        if row is None:
            FnskuMapping.objects.create(
                fnsku=fnsku,
                marketplace=marketplace,
                asin=asin,
                source=FnskuMapping.Source.CONFIRMED,
                first_seen=now,
                last_seen=now,
                times_seen=endorsed[asin] + rejected[asin],
                **counts,
            )
        else:
            FnskuMapping.objects.filter(pk=row.pk).update(
                last_seen=now, times_seen=endorsed[asin] + rejected[asin], **counts
            )
    FnskuMapping.objects.filter(pk__in=[row.pk for row in existing.values()]).delete()

    mine = latest.get(user.pk)
    if mine is not None:
        times = ConversionFeedback.objects.filter(
            user=user, fnsku=fnsku, marketplace=marketplace, asin=mine.asin
        ).count()
        FnskuMapping.objects.update_or_create(
            user=user,
            fnsku=fnsku,
            marketplace=marketplace,
            source=FnskuMapping.Source.CONFIRMED,
            defaults={"asin": mine.asin, "last_seen": now, "times_seen": times, "times_confirmed": times},
            create_defaults={
                "asin": mine.asin,
                "first_seen": now,
                "last_seen": now,
                "times_seen": times,
                "times_confirmed": times,
            },
        )


# --- A seller's own mappings: inventory reports and FBA inventory --------------------------------------


@dataclass(frozen=True)
class OwnMapping:
    fnsku: str
    asin: str
    seller_sku: str = ""
    title: str = ""


def _own_mappings_upsert(
    *, user: User, marketplace: str, source: str, mappings: Iterable[OwnMapping], seen_at: datetime
) -> tuple[int, int]:
    """Write ``user``'s own rows of ``source``: new FNSKUs created, known ones updated. (created, updated)."""
    latest = {m.fnsku: m for m in mappings}  # a later line about the same FNSKU wins
    created = updated = 0
    codes = list(latest)
    with transaction.atomic():
        _advisory_lock(f"fnsku-own:{user.pk}:{marketplace}:{source}")
        for start in range(0, len(codes), 1000):
            chunk = codes[start : start + 1000]
            existing = {
                row.fnsku: row
                for row in FnskuMapping.objects.filter(
                    user=user, marketplace=marketplace, source=source, fnsku__in=chunk
                )
            }
            new_rows = []
            changed = []
            for code in chunk:
                item = latest[code]
                row = existing.get(code)
                if row is None:
                    new_rows.append(
                        FnskuMapping(
                            user=user,
                            fnsku=code,
                            marketplace=marketplace,
                            source=source,
                            asin=item.asin,
                            seller_sku=item.seller_sku[:200],
                            title=item.title[:500],
                            first_seen=seen_at,
                            last_seen=seen_at,
                        )
                    )
                    continue
                row.asin = item.asin
                row.seller_sku = item.seller_sku[:200] or row.seller_sku
                row.title = item.title[:500] or row.title
                row.last_seen = max(seen_at, row.first_seen)
                row.times_seen += 1
                changed.append(row)
            FnskuMapping.objects.bulk_create(new_rows)
            FnskuMapping.objects.bulk_update(
                changed, ["asin", "seller_sku", "title", "last_seen", "times_seen"]
            )
            created += len(new_rows)
            updated += len(changed)
    return created, updated


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
    result.created, result.updated = _own_mappings_upsert(
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
            made, changed = _own_mappings_upsert(
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


def _fba_notes(user: User, query: Query) -> list[Evidence]:
    """Before the store is read: sync the seller's FBA inventory when it may be missing this FNSKU."""
    return _fba_state(user, query, allow_sync=True)


def _fba_notes_without_sync(user: User, query: Query) -> list[Evidence]:
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


# --- Many conversions at once (the bulk job engine's processor) ----------------------------------------


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
    candidates: list[dict[str, Any]] = field(default_factory=list)
    error_code: str = ""
    error_message: str = ""


def conversions_resolve_many(
    *,
    user: User,
    fnskus: Sequence[str],
    marketplace: str = "US",
    label_texts: dict[str, str] | None = None,
    idempotency_keys: dict[str, str] | None = None,
) -> list[BulkItemOutcome]:
    """Resolve a batch for ``user`` without charging (the bulk job engine charges through its hold).

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
        outcome = _resolve(user, code, market, label, allow_fba_sync=not synced)
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
            _learn(outcome.resolution, settings.learn_confidence)
        _finish(
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
        candidates=conversion.candidates,
        error_code="" if answered else (conversion.error_code or "fnsku_not_found"),
        error_message="" if answered else "No ASIN could be found for this FNSKU.",
    )


def normalize_fnsku_or_none(raw: str) -> str | None:
    try:
        return normalize_fnsku(raw)
    except DomainError:
        return None
