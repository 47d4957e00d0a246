"""Converting one FNSKU: the metered call, the resolution's outcome and the conversion's log.

A conversion is a metered call (credits/metering.py), like the product lookup:
validate (400, nothing charged) -> charge ``fnsku_conversion`` -> resolve ->
refund when nothing was found (404) or the sources needed could not answer
(503) -> learn -> log. The log is the ``Conversion`` row itself, the call's
claim, taken before the charge so an ``Idempotency-Key`` retried (or raced)
charges once and answers what the first request answered.

``conversion_resolve`` and ``conversion_finish`` are shared with the bulk job
kind (conversion/bulk.py), which resolves and logs the same way but is charged
from its job's hold instead.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from conversion import conf
from conversion.mappings import mapping_learn
from conversion.models import Conversion, ConversionFeedback
from conversion.resolvers import PlatformSources, Query, Resolution, resolve
from conversion.sources import fba_inventory_notes, fba_inventory_notes_without_sync
from conversion.validation import clean_label_text, fnsku_kind, normalize_fnsku
from core.errors import ConflictError, DomainError, NotFoundError
from core.shared_state import LuaScript, redis_client, shared_key
from credits.metering import KeyedCharge, metered
from credits.models import Operation
from credits.selectors import balance_get
from products.marketplaces import Marketplace, marketplace_get
from products.providers import UpstreamUnavailable

if TYPE_CHECKING:
    from accounts.models import User
    from credits.models import LedgerEntry

CONVERSION_OPERATION = Operation.FNSKU_CONVERSION
Status = Conversion.Status


# A rescan of the same code with the same label text within this time answers from the stored
# conversion, free: a reseller scanning a box twice must not pay twice.
RESCAN_WINDOW = timedelta(hours=24)


@dataclass(frozen=True)
class ConversionResult:
    conversion: Conversion
    credits_remaining: int
    replayed: bool = False
    # A rescan answered from this earlier conversion, not charged again.
    rescan: bool = False

    def body(self) -> dict[str, Any]:
        return conversion_body(
            self.conversion,
            credits_remaining=self.credits_remaining,
            rescan=self.rescan,
            replayed=self.replayed,
        )


def conversion_body(
    conversion: Conversion,
    *,
    credits_remaining: int | None = None,
    rescan: bool = False,
    replayed: bool = False,
) -> dict[str, Any]:
    """The API's answer for a conversion (also the page's, and the list's items).

    ``rescan``: this request was answered from ``conversion`` without a charge (``charged`` false,
    ``replayed_from`` its id). ``replayed``: a retry with the conversion's Idempotency-Key, which
    is not charged again either."""
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
        "provider": conversion.provider or None,
        "sample_data": conversion.sample_data,
        "credits_charged": conversion.credits_charged,
        "credits_remaining": credits_remaining,
        "charged": conversion.credits_charged > 0 and not (rescan or replayed),
        "replayed_from": conversion.pk if rescan else None,
        "created_at": conversion.created_at.isoformat().replace("+00:00", "Z"),
    }


@dataclass
class Outcome:
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
    charging once. A rescan (same code, label text and marketplace) within
    ``RESCAN_WINDOW`` of an answered conversion answers from it, not charged; one sent while
    that conversion is still running waits for it (``CONVERSION_RESCAN_WAIT``, then 409
    ``conversion_in_progress``) and answers from it too."""
    started = time.perf_counter()
    code = normalize_fnsku(fnsku)
    market = marketplace_get(marketplace)
    label = clean_label_text(label_text)
    settings = conf.conversion_settings()

    claim = _ConversionClaim(
        user, code, market, label, channel, idempotency_key, settings.pending_timeout, started
    )

    def serve(charge: LedgerEntry) -> ConversionResult:
        claim.outcome = outcome = conversion_resolve(user, code, market, label, allow_fba_sync=True)
        if outcome.error is not None:
            raise outcome.error
        mapping_learn(resolution=outcome.resolution, learn_confidence=settings.learn_confidence)
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
        self.outcome: Outcome | None = None
        self.flight: _RescanFlight | None = None

    def take(self) -> ConversionResult | None:
        """A retry with a key already used is the key's to answer (its replay, or its conflict).
        Otherwise a rescan: the same user's answered conversion of this code, label text and
        marketplace within ``RESCAN_WINDOW`` answers, uncharged; and one still running is waited
        for (a single flight per rescan identity, in Redis), so two taps, two tabs or a retry
        sent at once charge once."""
        user, fnsku, market, label, _, idempotency_key, pending_timeout = self.request
        wait = conf.conversion_settings().rescan_wait
        flight = _RescanFlight(user.pk, fnsku, market.code, label, hold_seconds=max(pending_timeout, wait))
        deadline = time.monotonic() + wait
        while True:
            flying = flight.take()
            key_status = self._key_status(user, idempotency_key)
            # The key's own answer (its replay, its conflict, or taking over a dead claim); a key
            # whose request is still running is waited for like any identical conversion.
            if key_status is not None and (flying or key_status != Status.PENDING):
                if flying:
                    flight.land()
                return self._take_row()
            if key_status is None:
                earlier = conversion_recent_answer(
                    user=user, fnsku=fnsku, marketplace=market.code, label_text=label
                )
                if earlier is not None:
                    if flying:
                        flight.land()
                    return ConversionResult(earlier, credits_remaining=balance_get(user=user), rescan=True)
                if flying:
                    self.flight = flight
                    try:
                        return self._take_row()
                    except BaseException:
                        self._land()
                        raise
            # The same conversion is running in another request: wait for it to finish.
            if not flight.wait_until_landed(deadline):
                raise ConflictError(
                    f"A conversion of {fnsku} with this label text is still being processed; "
                    "retry in a moment (it will not be charged again).",
                    code="conversion_in_progress",
                    retry_after=1,
                )

    def _take_row(self) -> ConversionResult | None:
        self.conversion, earlier = _claim(*self.request)
        if earlier:
            self._land()
            return _replay(self.conversion)
        self.ledger_key = f"fnsku-conversion:{self.conversion.pk}"
        return None

    @staticmethod
    def _key_status(user: User, idempotency_key: str | None) -> str | None:
        """The status of the conversion already claimed under this key (None: the key is new)."""
        key = (idempotency_key or "").strip()[:200]
        if not key:
            return None
        return (
            Conversion.objects.filter(user=user, idempotency_key=key).values_list("status", flat=True).first()
        )

    def _land(self) -> None:
        """End this request's flight (after its row is finished, so a waiter sees the answer)."""
        if self.flight is not None:
            self.flight.land()
            self.flight = None

    def given_up(self) -> None:
        conversion_finish(
            self.conversion, status=Status.INSUFFICIENT_CREDITS, started=self.started, release_key=True
        )
        self._land()

    def refund_reason(self, error: Exception) -> str:
        expected = self._expected(error)
        return expected.code if expected is not None else "conversion failed"

    def undelivered(self, error: Exception, refund: LedgerEntry) -> None:
        try:
            self._finish_undelivered(error)
        finally:
            self._land()

    def _finish_undelivered(self, error: Exception) -> None:
        expected = self._expected(error)
        if expected is None or self.outcome is None:
            conversion_finish(
                self.conversion,
                status=Status.UNAVAILABLE,
                started=self.started,
                release_key=True,
                error_code="server_error",
            )
            return
        expected.extra["conversion_id"] = self.conversion.pk
        conversion_finish(
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
        conversion_finish(
            self.conversion,
            status=self.outcome.status,
            resolution=self.outcome.resolution,
            started=self.started,
            credits=-charge.amount,
            charge_entry_id=charge.pk,
        )
        self._land()

    def _expected(self, error: Exception) -> DomainError | None:
        """``error`` if it is the resolution's own answer (not found, sources down)."""
        if self.outcome is not None and error is self.outcome.error:
            return self.outcome.error
        return None


class _RescanFlight:
    """One running conversion per (user, FNSKU, marketplace, label text), across every process:
    a Redis lock (``SET NX`` with a token, expiring by itself after ``hold_seconds`` if its
    request dies) that the running request holds until its row is finished. It only decides who
    runs; what the others answer is the finished row (a rescan), and the charge is still the
    row's own ledger key."""

    def __init__(self, user_id: int, fnsku: str, marketplace: str, label: str, *, hold_seconds: int) -> None:
        digest = hashlib.sha256(label.encode()).hexdigest()[:32]
        self.key = shared_key("conversion", "flight", str(user_id), marketplace, fnsku, digest)
        self.token = uuid.uuid4().hex
        self.hold_ms = hold_seconds * 1000

    def take(self) -> bool:
        return bool(redis_client().set(self.key, self.token, nx=True, px=self.hold_ms))

    def land(self) -> None:
        _release_flight(keys=[self.key], args=[self.token])

    def wait_until_landed(self, deadline: float) -> bool:
        """Wait for the flight holding the lock to end; False when ``deadline`` came first."""
        client = redis_client()
        delay = 0.01
        while client.exists(self.key):
            if time.monotonic() >= deadline:
                return False
            time.sleep(delay)
            delay = min(delay * 2, 0.2)
        return True


_release_flight = LuaScript(
    """
    if redis.call("GET", KEYS[1]) == ARGV[1] then
        return redis.call("DEL", KEYS[1])
    end
    return 0
    """
)


def conversion_recent_answer(
    *, user: User, fnsku: str, marketplace: str, label_text: str
) -> Conversion | None:
    """``user``'s latest answered conversion of this code and label text within ``RESCAN_WINDOW``,
    unless they have given feedback on the code since (their word changes the answer)."""
    since = timezone.now() - RESCAN_WINDOW
    if ConversionFeedback.objects.filter(
        user=user, fnsku=fnsku, marketplace=marketplace, updated_at__gte=since
    ).exists():
        return None
    return (
        Conversion.objects.filter(
            user=user,
            fnsku=fnsku,
            marketplace=marketplace,
            label_text=label_text,
            status__in=Conversion.ANSWERED,
            created_at__gte=since,
        )
        .order_by("-created_at", "-id")
        .first()
    )


def conversion_resolve(
    user: User, fnsku: str, market: Marketplace, label: str, *, allow_fba_sync: bool
) -> Outcome:
    """Resolve one FNSKU and say what it means for the user (an answer, not found, sources
    down); neither charges nor logs (``fnsku_convert`` and the bulk processor do)."""
    settings = conf.conversion_settings()
    query = Query(fnsku=fnsku, marketplace=market, label_text=label, now=timezone.now())
    sources = PlatformSources(
        user, fba_sync=fba_inventory_notes if allow_fba_sync else fba_inventory_notes_without_sync
    )
    resolution = resolve(query, sources, search_limit=settings.search_limit)
    best = resolution.best
    if best is not None and resolution.confidence >= settings.min_confidence:
        status = (
            Status.RESOLVED if resolution.confidence >= settings.resolved_confidence else Status.AMBIGUOUS
        )
        return Outcome(status, resolution)
    evidence = [e.to_dict() for e in resolution.evidence]
    stickerless = fnsku_kind(fnsku) == "stickerless"
    if resolution.search_error is not None:
        failed = resolution.search_error
        return Outcome(
            Status.UNAVAILABLE,
            resolution,
            UpstreamUnavailable(
                f"{fnsku} looks like an ASIN, but the product data could not be checked right now; "
                "you were not charged. Try again shortly."
                if stickerless
                else f"{fnsku} is not in any mapping we know of, and the catalogue search by its label "
                "text could not run right now; you were not charged. Try again shortly.",
                provider=failed.provider,
                retry_after=failed.retry_after,
                extra={"fnsku": fnsku, "marketplace": market.code, "evidence": evidence},
            ),
        )
    if stickerless:
        return Outcome(
            Status.NOT_FOUND,
            resolution,
            NotFoundError(
                f"{fnsku} looks like an ASIN (a unit sold without an FBA sticker), but no product is "
                f"listed under it in the {market.code} marketplace; you were not charged. "
                "Check the code on the label.",
                code="fnsku_not_found",
                extra={"fnsku": fnsku, "marketplace": market.code, "evidence": evidence},
            ),
        )
    hint = (
        " Add the product name printed on the label (label_text), import your inventory report, "
        "or connect your Seller Central account."
        if not label
        else " Check the label text, or import your inventory report."
    )
    return Outcome(
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


def conversion_finish(
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
        conversion.provider = resolution.provider if answered else ""
        conversion.sample_data = resolution.sample_data if answered else False
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
