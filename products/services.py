"""Metered product lookups through the one metered call (credits/metering.py): charge, serve
(cache, database, upstream), refund what failed, replay, log."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from accounts.models import User
from core.errors import NotFoundError
from core.shared_state import redis_client, shared_key
from credits.errors import InsufficientCredits
from credits.metering import Claim, ReplayClaim, Unkeyed, metered
from monitoring.metrics import record_lookup
from products import conf
from products.marketplaces import Marketplace, marketplace_get
from products.models import LookupLog
from products.providers import ProviderError, search_by_code_with_fallback
from products.providers.base import product_code_not_found
from products.querylog import LookupLine, lookup_log_buffer, lookup_log_buffer_key
from products.store import product_record_bytes, product_records_keep
from products.validation import CODE_TYPE_LABELS, ProductCode, normalize_asin, normalize_product_code

if TYPE_CHECKING:
    from credits.models import LedgerEntry

LOOKUP_OPERATION = "asin_lookup"
T = TypeVar("T")


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

    def line(source: str, outcome: str, credits: int = 0) -> LookupLine:
        latency_ms = (time.perf_counter() - started) * 1000
        return LookupLine(user.pk, asin, market.code, channel, source, outcome, credits, latency_ms)

    def serve(charge: LedgerEntry) -> LookupResult:
        # A cache hit's line goes out with the cache read itself.
        hit = line(LookupLog.Source.CACHE, LookupLog.Outcome.OK, -charge.amount)
        fetched = product_record_bytes(
            asin=asin, marketplace=market, on_cache_hit=(lookup_log_buffer_key(), hit.encode())
        )
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
        return result

    claim = _lookup_claim(
        "lookup-replay", "lookup", user, idempotency_key, fingerprint, _lookup_state, _lookup_replay
    )
    try:
        return metered(
            user=user,
            operation=LOOKUP_OPERATION,
            reference=fingerprint,
            claim=claim,
            serve=serve,
            refund_on=(ProviderError,),
        )
    except InsufficientCredits:
        _log(line(LookupLog.Source.NONE, LookupLog.Outcome.INSUFFICIENT_CREDITS))
        raise
    except ProviderError as exc:  # refunded
        outcome = (
            LookupLog.Outcome.NOT_FOUND if isinstance(exc, NotFoundError) else LookupLog.Outcome.UNAVAILABLE
        )
        _log(line(LookupLog.Source.NONE, outcome))
        raise


def _lookup_claim(
    namespace: str,
    ledger_prefix: str,
    user: User,
    idempotency_key: str | None,
    fingerprint: str,
    state: Callable[[T], dict[str, Any]],
    replay: Callable[[dict[str, Any]], T],
) -> Claim[T]:
    """The claim of a lookup: its ``Idempotency-Key`` in Redis (see ``ReplayClaim``), or none."""
    if not idempotency_key:
        return Unkeyed(ledger_prefix=ledger_prefix)
    key = idempotency_key.strip()[:200]
    settings = conf.lookup_settings()
    return ReplayClaim(
        client=redis_client(),
        replay_key=f"{shared_key(namespace, str(user.pk))}:{key}",
        idempotency_key=key,
        user_id=user.pk,
        fingerprint=fingerprint,
        ledger_prefix=ledger_prefix,
        claim_seconds=int(settings.wait_seconds + 60),
        keep_seconds=settings.idempotency_seconds,
        state=state,
        replay=replay,
        what="product",
    )


def _lookup_state(result: LookupResult) -> dict[str, Any]:
    return {
        "record": result.record.decode(),
        "source": result.source,
        "credits_charged": result.credits_charged,
        "credits_remaining": result.credits_remaining,
    }


def _lookup_replay(state: dict[str, Any]) -> LookupResult:
    market_code, _, asin = str(state["fingerprint"]).partition(":")
    return LookupResult(
        asin=asin,
        marketplace=market_code,
        record=str(state["record"]).encode(),
        source=str(state["source"]),
        credits_charged=int(state["credits_charged"]),
        credits_remaining=int(state["credits_remaining"]),
        replayed=True,
    )


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

    reference = f"{fingerprint} ({product_code.label})"

    def serve(charge: LedgerEntry) -> CodeLookupResult:
        answer, source = _code_answer(product_code, market)
        return CodeLookupResult(
            code=product_code.value,
            code_type=product_code.type,
            marketplace=market.code,
            provider=str(answer["provider"]),
            matches=list(answer["matches"]),
            source=source,
            credits_charged=-charge.amount,
            credits_remaining=charge.balance_after,
        )

    claim = _lookup_claim(
        "code-lookup-replay", "code-lookup", user, idempotency_key, fingerprint, _code_state, _code_replay
    )
    return metered(
        user=user,
        operation=CODE_LOOKUP_OPERATION,
        reference=reference,
        claim=claim,
        serve=serve,
        refund_on=(ProviderError,),
    )


def product_code_matches(*, code: str, marketplace: str = "US") -> list[dict[str, Any]]:
    """The products carrying a barcode, as ``product_code_lookup`` finds them (cached, or from the
    provider chain) but not metered: for an operation that already charged its own price for the
    lookup (a liquidation manifest's line, resale). Raises ``DomainError`` (``invalid_code``) for a
    bad code, ``ProductNotFound`` when no product carries it, ``ProviderError`` when no provider
    could answer."""
    answer, _ = _code_answer(normalize_product_code(code), marketplace_get(marketplace))
    return list(answer["matches"])


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


def _code_state(result: CodeLookupResult) -> dict[str, Any]:
    return {"result": result.body()}


def _code_replay(state: dict[str, Any]) -> CodeLookupResult:
    body = dict(state["result"])
    body.pop("asins", None)
    body.pop("cache", None)
    return CodeLookupResult(**body, replayed=True)
