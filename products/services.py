"""Metered product lookups: charge, serve (cache, database, upstream), refund what failed, log."""

from __future__ import annotations

import hashlib
import itertools
import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.utils import timezone

from accounts.models import User
from config.errors import ConflictError, DomainError
from config.metrics import record_lookup
from credits.errors import InsufficientCredits
from credits.selectors import charge_refunded
from credits.services import credits_charge, credits_refund
from products import conf
from products.marketplaces import Marketplace, marketplace_get
from products.models import LookupLog
from products.providers import ProviderError, search_by_code_with_fallback
from products.providers.base import product_code_not_found
from products.querylog import LookupLine, lookup_log_buffer, lookup_log_buffer_key
from products.shared_state import redis_client, shared_key
from products.store import product_record_bytes, product_records_keep
from products.validation import CODE_TYPE_LABELS, ProductCode, normalize_asin, normalize_product_code

if TYPE_CHECKING:
    from credits.models import LedgerEntry

LOOKUP_OPERATION = "asin_lookup"
REPLAYED_HEADER = "Idempotent-Replayed"


@dataclass(frozen=True, slots=True)
class LookupResult:
    asin: str
    marketplace: str
    record: bytes  # the record's JSON, as stored
    source: str
    credits_charged: int
    credits_remaining: int
    replayed: bool = False

    @property
    def cache_status(self) -> str:
        return "hit" if self.source == LookupLog.Source.CACHE else "miss"

    def body(self) -> bytes:
        """The API's answer, assembled around the stored bytes without re-encoding them."""
        return b"".join(
            [
                b'{"product":',
                self.record,
                b',"source":"%s","cache":"%s","credits_charged":%d,"credits_remaining":%d}'
                % (
                    self.source.encode(),
                    self.cache_status.encode(),
                    self.credits_charged,
                    self.credits_remaining,
                ),
            ]
        )


def product_lookup(
    *,
    user: User,
    asin: str,
    marketplace: str = "US",
    idempotency_key: str | None = None,
    channel: str = LookupLog.Channel.API,
) -> LookupResult:
    """Look up one product for ``user`` at the lookup's price.

    Bad input raises before anything is charged; a product that does not
    exist or cannot be fetched now is refunded in the same call and raised
    (404, 503). With ``idempotency_key`` a repeated call answers what the first
    one answered, charging once."""
    started = time.perf_counter()
    asin = normalize_asin(asin)
    market = marketplace_get(marketplace)
    fingerprint = f"{market.code}:{asin}"

    replay_key, earlier = _claim("lookup-replay", user, idempotency_key, fingerprint)
    if earlier is not None:
        return _replay(earlier)

    def line(source: str, outcome: str, credits: int = 0) -> LookupLine:
        latency_ms = (time.perf_counter() - started) * 1000
        return LookupLine(user.pk, asin, market.code, channel, source, outcome, credits, latency_ms)

    try:
        charge = _charge(user, LOOKUP_OPERATION, "lookup", fingerprint, replay_key, idempotency_key)
    except InsufficientCredits:
        _log(line(LookupLog.Source.NONE, LookupLog.Outcome.INSUFFICIENT_CREDITS))
        raise

    # A cache hit's line goes out with the cache read itself.
    hit = line(LookupLog.Source.CACHE, LookupLog.Outcome.OK, -charge.amount)
    try:
        fetched = product_record_bytes(
            asin=asin, marketplace=market, on_cache_hit=(lookup_log_buffer_key(), hit.encode())
        )
    except ProviderError as exc:
        _refund_undelivered(charge, exc, replay_key=replay_key, fingerprint=fingerprint)
        outcome = LookupLog.Outcome.NOT_FOUND if exc.status_code == 404 else LookupLog.Outcome.UNAVAILABLE
        _log(line(LookupLog.Source.NONE, outcome))
        raise

    result = LookupResult(
        asin=asin,
        marketplace=market.code,
        record=fetched.body,
        source=fetched.source,
        credits_charged=-charge.amount,
        credits_remaining=charge.balance_after,
    )
    if fetched.source == LookupLog.Source.CACHE:
        _log(hit, buffered=True)
    else:
        _log(line(fetched.source, LookupLog.Outcome.OK, result.credits_charged))
    _remember(
        replay_key,
        {
            "fingerprint": fingerprint,
            "record": fetched.body.decode(),
            "source": fetched.source,
            "credits_charged": result.credits_charged,
            "credits_remaining": result.credits_remaining,
        },
    )
    return result


def _claim(
    namespace: str, user: User, idempotency_key: str | None, fingerprint: str
) -> tuple[str | None, dict[str, Any] | None]:
    """The Redis key of this request's ``Idempotency-Key`` (None without one), and the answer
    an earlier request with the key left, if any; see ``_claim_replay_key``."""
    if not idempotency_key:
        return None, None
    replay_key = f"{shared_key(namespace, str(user.pk))}:{idempotency_key.strip()[:200]}"
    return replay_key, _claim_replay_key(replay_key, fingerprint)


def _charge(
    user: User,
    operation: str,
    key_prefix: str,
    reference: str,
    replay_key: str | None,
    idempotency_key: str | None,
) -> LedgerEntry:
    """One charge for this request; when the balance cannot cover it (402), the request's
    claim on its ``Idempotency-Key`` is given up, so a retry after a top-up runs anew.

    With an ``Idempotency-Key`` the ledger entry's own key derives from it: a retry after a
    process died between the charge and recording its answer finds that charge instead of
    making a second one. A charge found refunded (its lookup delivered nothing) is followed
    by a new one, as a new attempt."""
    if not idempotency_key:
        keys: Iterator[str] = iter([f"{key_prefix}:{uuid.uuid4().hex}"])
    else:
        digest = hashlib.sha256(idempotency_key.strip()[:200].encode()).hexdigest()[:40]
        keys = (f"{key_prefix}:idem:{user.pk}:{digest}:{attempt}" for attempt in itertools.count(1))
    for ledger_key in keys:
        asked_at = timezone.now()
        try:
            charge = credits_charge(
                user=user, operation=operation, idempotency_key=ledger_key, reference=reference
            )
        except InsufficientCredits:
            _forget(replay_key)
            raise
        if not idempotency_key or charge.created_at >= asked_at or not charge_refunded(charge=charge):
            return charge
    raise AssertionError("unreachable: the attempts never run out")


def _refund_undelivered(
    charge: LedgerEntry, exc: ProviderError, *, replay_key: str | None, fingerprint: str
) -> None:
    """Give back the charge of a lookup that delivered nothing, telling the caller the
    balance on the error. A 404 is kept for an Idempotency-Key's replay; a passing
    outage is forgotten, so a retry with the same key tries (and pays) again."""
    refund = credits_refund(charge=charge, reason=exc.code)
    exc.extra["credits_remaining"] = refund.balance_after
    exc.headers["X-Credits-Remaining"] = str(refund.balance_after)
    if exc.status_code == 404:
        _remember(replay_key, {"fingerprint": fingerprint, "error": _error_state(exc)})
    else:
        _forget(replay_key)


def _log(line: LookupLine, *, buffered: bool = False) -> None:
    """Count the lookup, and log it unless its line went out already (``buffered``)."""
    if not buffered:
        lookup_log_buffer(line)
    record_lookup(
        marketplace=line.marketplace,
        source=line.source,
        outcome=line.outcome,
        channel=line.channel,
        seconds=line.latency_ms / 1000,
    )


def _error_state(exc: DomainError) -> dict[str, object]:
    return {
        "message": exc.message,
        "code": exc.code,
        "status": exc.status_code,
        "extra": exc.extra,
        "headers": exc.headers,
    }


def _claim_replay_key(replay_key: str, fingerprint: str) -> dict[str, Any] | None:
    """The answer kept under this key, or None after claiming the key for this request.

    A request still running under the same key gets 409 rather than a second
    charge; the claim expires on its own if its request dies."""
    settings = conf.lookup_settings()
    client = redis_client()
    pending = json.dumps({"fingerprint": fingerprint, "pending": True})
    if client.set(replay_key, pending, nx=True, ex=int(settings.wait_seconds + 60)):
        return None
    stored = client.get(replay_key)
    if stored is None:  # expired in between: claim it now
        client.set(replay_key, pending, ex=int(settings.wait_seconds + 60))
        return None
    state: dict[str, Any] = json.loads(stored)
    if state["fingerprint"] != fingerprint:
        raise ConflictError(
            "This Idempotency-Key was already used for another product; use a new key for a new request.",
            code="idempotency_key_reused",
        )
    if state.get("pending"):
        raise ConflictError(
            "A request with this Idempotency-Key is still being processed; retry in a moment.",
            code="idempotency_key_in_use",
            headers={"Retry-After": "1"},
        )
    return state


def _remember(replay_key: str | None, state: dict[str, object]) -> None:
    if replay_key:
        redis_client().set(replay_key, json.dumps(state), ex=conf.lookup_settings().idempotency_seconds)


def _forget(replay_key: str | None) -> None:
    if replay_key:
        redis_client().delete(replay_key)


def _replay(state: dict[str, Any]) -> LookupResult:
    fingerprint = str(state["fingerprint"])
    error = state.get("error")
    if isinstance(error, dict):
        raise DomainError(
            error["message"],
            code=error["code"],
            status_code=error["status"],
            extra=error["extra"],
            headers={**error["headers"], REPLAYED_HEADER: "true"},
        )
    market_code, _, asin = fingerprint.partition(":")
    return LookupResult(
        asin=asin,
        marketplace=market_code,
        record=str(state["record"]).encode(),
        source=str(state["source"]),
        credits_charged=int(state["credits_charged"]),
        credits_remaining=int(state["credits_remaining"]),
        replayed=True,
    )


# --- Lookup by barcode -------------------------------------------------------------------------

CODE_LOOKUP_OPERATION = "code_lookup"


@dataclass(frozen=True, slots=True)
class CodeLookupResult:
    """The ASINs carrying a barcode, with title, brand and image, and each product record
    (``product``) when the provider gave whole records."""

    code: str
    code_type: str
    marketplace: str
    provider: str
    matches: list[dict[str, Any]]
    source: str  # cache or upstream
    credits_charged: int
    credits_remaining: int
    replayed: bool = False

    @property
    def cache_status(self) -> str:
        return "hit" if self.source == LookupLog.Source.CACHE else "miss"

    @property
    def asins(self) -> list[str]:
        return [match["asin"] for match in self.matches]

    @property
    def code_label(self) -> str:
        return CODE_TYPE_LABELS[self.code_type]

    def body(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "code_type": self.code_type,
            "marketplace": self.marketplace,
            "provider": self.provider,
            "asins": self.asins,
            "matches": self.matches,
            "source": self.source,
            "cache": self.cache_status,
            "credits_charged": self.credits_charged,
            "credits_remaining": self.credits_remaining,
        }


def product_code_lookup(
    *,
    user: User,
    code: str,
    marketplace: str = "US",
    idempotency_key: str | None = None,
) -> CodeLookupResult:
    """The products carrying a barcode (EAN-13, EAN-8, UPC-A, ISBN-10, ISBN-13), at the
    ``code_lookup`` price.

    Like ``product_lookup``: bad input raises 400 before anything is charged; no
    product with the code (404) or no provider able to answer (503) is refunded
    in the same call and raised; an ``idempotency_key`` replays the first answer.
    Whole records the provider gave are kept in the product store, so a later
    ASIN lookup of a match is served from the cache."""
    product_code = normalize_product_code(code)
    market = marketplace_get(marketplace)
    fingerprint = f"{market.code}:{product_code.value}"

    replay_key, earlier = _claim("code-lookup-replay", user, idempotency_key, fingerprint)
    if earlier is not None:
        return _code_replay(earlier)
    reference = f"{fingerprint} ({product_code.label})"
    charge = _charge(user, CODE_LOOKUP_OPERATION, "code-lookup", reference, replay_key, idempotency_key)

    try:
        answer, source = _code_answer(product_code, market)
    except ProviderError as exc:
        _refund_undelivered(charge, exc, replay_key=replay_key, fingerprint=fingerprint)
        raise

    result = CodeLookupResult(
        code=product_code.value,
        code_type=product_code.type,
        marketplace=market.code,
        provider=str(answer["provider"]),
        matches=list(answer["matches"]),
        source=source,
        credits_charged=-charge.amount,
        credits_remaining=charge.balance_after,
    )
    _remember(replay_key, {"fingerprint": fingerprint, "result": result.body()})
    return result


def _code_answer(code: ProductCode, market: Marketplace) -> tuple[dict[str, Any], str]:
    """The matches for ``code`` (cached, or from the provider chain); ``ProductNotFound`` for none."""
    settings = conf.lookup_settings()
    client = redis_client()
    key = shared_key("product-code", market.code, code.value)
    cached = client.get(key)
    if cached is not None:
        answer: dict[str, Any] = json.loads(cached)
        source = LookupLog.Source.CACHE
    else:
        found = search_by_code_with_fallback(code, market)
        bodies = product_records_keep(records=found.records) if found.complete else {}
        answer = {
            "provider": found.provider,
            "matches": [
                {
                    "asin": record.asin,
                    "title": record.title,
                    "brand": record.brand,
                    "image": record.images[0] if record.images else None,
                    "product": json.loads(bodies[record.asin]) if record.asin in bodies else None,
                }
                for record in found.records
            ],
        }
        ttl = settings.cache_seconds if answer["matches"] else settings.not_found_seconds
        client.set(key, json.dumps(answer, separators=(",", ":")), ex=max(1, ttl))
        source = LookupLog.Source.UPSTREAM
    if not answer["matches"]:
        raise product_code_not_found(code, market, provider=str(answer["provider"]))
    return answer, source


def _code_replay(state: dict[str, Any]) -> CodeLookupResult:
    error = state.get("error")
    if isinstance(error, dict):
        raise DomainError(
            error["message"],
            code=error["code"],
            status_code=error["status"],
            extra=error["extra"],
            headers={**error["headers"], REPLAYED_HEADER: "true"},
        )
    body = dict(state["result"])
    body.pop("asins", None)
    body.pop("cache", None)
    return CodeLookupResult(**body, replayed=True)
