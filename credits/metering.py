"""The one metered call: every operation that costs credits goes through ``metered``
(one request) or ``metered_batch`` (a batch of units: a bulk chunk, a collection run).

::

    claim the request's key --- an earlier answer under it: replay that, charge nothing
      -> charge the operation's price --- too little credit (402): give the claim up, nothing charged
      -> serve
           delivered: keep the answer for replay, return it
           nothing delivered (``serve`` raised one of ``refund_on``): refund the charge, put the
             balance on the error (``credits_remaining``, ``X-Credits-Remaining``), keep the error
             for replay or give the claim up (the claim decides), raise it

A ``Claim`` is how one request is recognised again: the ledger keys its charge
may use (derived from the request's key, so a retry after a process died
between the charge and the answer finds that charge instead of making a second
one) and where its answer is kept for replay. There are three:

- ``ReplayClaim``: an ``Idempotency-Key`` claimed in Redis, the answer kept
  there for replay (the product lookups);
- ``KeyedCharge``: a ledger key the caller owns (a watchlist's item and slot),
  nothing to replay; a subclass may keep its answer elsewhere (a conversion's
  own row is its claim, its log and its replayed answer);
- ``Unkeyed``: no key, a new charge each time.

These are one idempotency mechanism kept in different stores: the request's key
is claimed once (in Redis, or as a row unique per key), and the ledger key of the
charge derives from that claim, so the ledger's unique (account, key) is the last
guard against paying twice. The batch form's claims are the caller's rows too.

A new metered operation calls ``metered`` with one of these; it never charges
or refunds by itself. Call it outside any ``transaction.atomic()`` block: on
PostgreSQL the charge is then one statement, one round trip.

``metered_batch`` is the same sequence for a batch of units (a bulk job's chunk
of items, a collection's run), whose claim is the caller's own rows::

    claim a batch (the caller's rows: a chunk's items under a claim token, a run still pending)
      -> fund it (``Funding.reserve``)
      -> serve it (an exception of ``serve_errors`` is handed to ``settle``: nothing delivered)
      -> settle it in the caller's one transaction: it records what was delivered and returns it
      -> give back what was not delivered (``Funding.release``)

A ``Funding`` says where a batch's credits come from:

- ``JobHold``: a hold taken when the job was created (``JobHold.open``) covers
  every unit, so there is nothing to take per batch and nothing to give back
  per batch; the caller's settle counts the delivered units' credits, and the
  hold, closed once with that count (``JobHold.close``), returns the rest. A
  collection run's serve creates its job, which opens the hold;
- ``ChargeEach``: a ledger charge per unit under a key the caller derives
  from the unit (and its attempt), refunded when the unit is not delivered.

The API's schema for a metered operation uses ``idempotency_key_parameter``
and ``insufficient_credits_response`` below, and its answer
``metered_headers``.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from django.http import HttpResponseBase
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse

from core.api_errors import REMAINING_HEADER, REPLAYED_HEADER, ErrorSerializer
from core.errors import ConflictError, DomainError, NotFoundError
from credits.errors import InsufficientCredits
from credits.selectors import charge_refunded
from credits.services import credits_charge, credits_hold, credits_refund, credits_settle_hold

if TYPE_CHECKING:
    from redis import Redis

    from accounts.models import User
    from credits.models import CreditHold, LedgerEntry

T = TypeVar("T")
U = TypeVar("U")  # one unit of a batch
S = TypeVar("S")  # what serving a batch gives
R = TypeVar("R")  # what settling a batch records
ResponseT = TypeVar("ResponseT", bound=HttpResponseBase)


# --- The call ------------------------------------------------------------------------------------


def metered(
    *,
    user: User,
    operation: str,
    reference: str,
    claim: Claim[T],
    serve: Callable[[LedgerEntry], T],
    refund_on: tuple[type[Exception], ...] = (DomainError,),
) -> T:
    """``serve`` one request of ``operation`` for ``user``, charged once under ``claim``.

    ``serve`` gets the charge (its ``amount`` and ``balance_after`` are what to
    report) and returns the answer; raising one of ``refund_on`` means nothing
    was delivered, and the charge is refunded before the error goes on. Raises
    ``InsufficientCredits`` (402, nothing charged) and whatever replaying an
    earlier error, or ``claim`` itself, raises (409 for a key in use)."""
    earlier = claim.take()
    if earlier is not None:
        return earlier
    charge = _charge(user, operation, reference, claim)
    try:
        answer = serve(charge)
    except refund_on as exc:
        refund = credits_refund(charge=charge, reason=claim.refund_reason(exc))
        if isinstance(exc, DomainError):
            exc.extra["credits_remaining"] = refund.balance_after
            exc.credits_remaining = refund.balance_after
        claim.undelivered(exc, refund)
        raise
    claim.delivered(answer, charge)
    return answer


def _charge(user: User, operation: str, reference: str, claim: Claim[Any]) -> LedgerEntry:
    """One charge for this request under the claim's first ledger key; when the balance cannot
    cover it (402) the claim is given up, so a retry after a top-up runs anew.

    A charge found under the key (made before this call: an earlier attempt's) is this
    request's, unless it was refunded (that attempt delivered nothing) and the claim has
    another key: then that one is charged, as a new attempt."""
    keys = claim.ledger_keys()
    ledger_key = next(keys)
    while True:
        asked_at = timezone.now()
        try:
            charge = credits_charge(
                user=user, operation=operation, idempotency_key=ledger_key, reference=reference
            )
        except InsufficientCredits:
            claim.given_up()
            raise
        if charge.created_at >= asked_at:  # a new charge: the usual case, no more queries
            return charge
        following = next(keys, None)
        if following is None or not charge_refunded(charge=charge):
            return charge
        ledger_key = following


# --- Claims --------------------------------------------------------------------------------------


class Claim(Generic[T]):
    """One metered request's identity. Subclasses say which ledger keys its charge may use
    (``ledger_keys``) and may keep its answer for replay (``take``, ``delivered``,
    ``undelivered``) and give the claim up (``given_up``)."""

    def take(self) -> T | None:
        """Claim the request: None to go on, or an earlier request's answer (or raise its error)."""
        return None

    def ledger_keys(self) -> Iterator[str]:
        raise NotImplementedError

    def given_up(self) -> None:
        """The charge was refused (402): nothing to keep."""

    def delivered(self, answer: T, charge: LedgerEntry) -> None:
        """Keep ``answer`` for a replay."""

    def undelivered(self, error: Exception, refund: LedgerEntry) -> None:
        """``serve`` raised ``error`` and the charge was refunded."""

    def refund_reason(self, error: Exception) -> str:
        return str(getattr(error, "code", "")) or type(error).__name__


class Unkeyed(Claim[T]):
    """No idempotency key: a charge of its own (``<prefix>:<uuid>``) every time."""

    def __init__(self, *, ledger_prefix: str) -> None:
        self.ledger_prefix = ledger_prefix

    def ledger_keys(self) -> Iterator[str]:
        yield f"{self.ledger_prefix}:{uuid.uuid4().hex}"


class KeyedCharge(Claim[T]):
    """A ledger key the caller owns (set it before the charge, e.g. in ``take``): a retry
    finds the first charge, refunded or not, and never pays twice."""

    def __init__(self, ledger_key: str = "") -> None:
        self.ledger_key = ledger_key

    def ledger_keys(self) -> Iterator[str]:
        yield self.ledger_key


class ReplayClaim(Claim[T]):
    """An ``Idempotency-Key`` claimed in Redis (``SET NX`` under ``replay_key``) and the
    request's answer kept there for ``keep_seconds``.

    A request still running under the key gets 409 (``Retry-After: 1``) rather than a
    second charge; its claim expires by itself after ``claim_seconds`` if it dies. The same
    key for another request (another ``fingerprint``) is 409 too. An error that delivered
    nothing is kept for replay when it is a 404 (the answer will not change); a passing
    outage is forgotten, so a retry with the key runs (and pays) again.

    The ledger keys are ``<prefix>:idem:<user>:<sha256 of the key, 40 hex>:<attempt>``:
    attempt 1 unless the earlier attempts were refunded."""

    def __init__(
        self,
        *,
        client: Redis,
        replay_key: str,
        idempotency_key: str,
        user_id: int,
        fingerprint: str,
        ledger_prefix: str,
        claim_seconds: int,
        keep_seconds: int,
        state: Callable[[T], dict[str, Any]],
        replay: Callable[[dict[str, Any]], T],
        what: str = "request",
    ) -> None:
        self.client = client
        self.replay_key = replay_key
        self.idempotency_key = idempotency_key
        self.user_id = user_id
        self.fingerprint = fingerprint
        self.ledger_prefix = ledger_prefix
        self.claim_seconds = claim_seconds
        self.keep_seconds = keep_seconds
        self.state = state
        self.replay = replay
        self.what = what

    def take(self) -> T | None:
        pending = json.dumps({"fingerprint": self.fingerprint, "pending": True})
        if self.client.set(self.replay_key, pending, nx=True, ex=self.claim_seconds):
            return None
        stored = self.client.get(self.replay_key)
        if stored is None:  # expired in between: claim it now
            self.client.set(self.replay_key, pending, ex=self.claim_seconds)
            return None
        state: dict[str, Any] = json.loads(stored)
        if state["fingerprint"] != self.fingerprint:
            raise ConflictError(
                f"This Idempotency-Key was already used for another {self.what}; "
                "use a new key for a new request.",
                code="idempotency_key_reused",
            )
        if state.get("pending"):
            raise ConflictError(
                "A request with this Idempotency-Key is still being processed; retry in a moment.",
                code="idempotency_key_in_use",
                retry_after=1,
            )
        error = state.get("error")
        if isinstance(error, dict):
            # Only a not-found is kept (``undelivered``); an entry written before errors lost
            # their HTTP status also has "status" (404) and "headers", made from the same facts.
            extra: dict[str, Any] = error["extra"]
            raise NotFoundError(
                error["message"],
                code=error["code"],
                extra=extra,
                retry_after=error.get("retry_after"),
                credits_remaining=extra.get("credits_remaining"),
                replayed=True,
            )
        return self.replay(state)

    def ledger_keys(self) -> Iterator[str]:
        digest = hashlib.sha256(self.idempotency_key.encode()).hexdigest()[:40]
        for attempt in itertools.count(1):
            yield f"{self.ledger_prefix}:idem:{self.user_id}:{digest}:{attempt}"

    def given_up(self) -> None:
        self.client.delete(self.replay_key)

    def delivered(self, answer: T, charge: LedgerEntry) -> None:
        self._keep({"fingerprint": self.fingerprint, **self.state(answer)})

    def undelivered(self, error: Exception, refund: LedgerEntry) -> None:
        if isinstance(error, NotFoundError):
            self._keep({"fingerprint": self.fingerprint, "error": _error_state(error)})
        else:
            self.client.delete(self.replay_key)

    def _keep(self, state: dict[str, Any]) -> None:
        self.client.set(self.replay_key, json.dumps(state), ex=self.keep_seconds)


def _error_state(exc: DomainError) -> dict[str, object]:
    return {
        "message": exc.message,
        "code": exc.code,
        "extra": exc.extra,
        "retry_after": exc.retry_after,
    }


# --- The batch form -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Batch(Generic[U, S, R]):
    """One batch through ``metered_batch``: its ``units``, what serving them gave (``served``,
    or the ``error`` it raised), the units ``delivered`` and what ``settle`` returned."""

    units: Sequence[U]
    served: S | None
    error: Exception | None
    delivered: Sequence[U]
    settled: R


def metered_batch(
    *,
    claim: Callable[[], Sequence[U]],
    funding: Funding[U],
    serve: Callable[[Sequence[U]], S],
    settle: Callable[[Sequence[U], S | Exception], tuple[Sequence[U], R]],
    serve_errors: tuple[type[Exception], ...] = (Exception,),
) -> Batch[U, S, R] | None:
    """Claim a batch, fund it, serve it, settle it, and give back what was not delivered.

    ``claim`` returns the batch's units (none: nothing to do, None is returned).
    ``funding.reserve`` may raise ``InsufficientCredits`` (402): nothing is then
    taken and nothing served. ``serve`` raising one of ``serve_errors`` delivers
    nothing: ``settle`` gets the error instead of the answer. ``settle`` records
    the outcome, under the claim and in one transaction of the caller's (so a
    redelivered or crashed batch settles once), and returns the units it
    recorded as delivered with whatever the caller wants back; the others'
    credits go back (``funding.release``)."""
    units = claim()
    if not units:
        return None
    funding.reserve(units)
    served: S | None = None
    error: Exception | None = None
    try:
        served = serve(units)
    except serve_errors as exc:
        error = exc
        delivered, settled = settle(units, exc)
    else:
        delivered, settled = settle(units, served)
    kept = {id(unit) for unit in delivered}
    funding.release([unit for unit in units if id(unit) not in kept])
    return Batch(units=units, served=served, error=error, delivered=delivered, settled=settled)


class Funding(Generic[U]):
    """Where a batch's credits come from: ``reserve`` them before it is served (or raise
    ``InsufficientCredits``, taking nothing), ``release`` those of the units not delivered."""

    def reserve(self, units: Sequence[U]) -> None:
        raise NotImplementedError

    def release(self, undelivered: Sequence[U]) -> None:
        raise NotImplementedError


class JobHold(Funding[Any]):
    """A job's hold, taken when the job is created (``open``), covers every unit: a batch
    takes nothing and gives nothing back. The caller counts its delivered units' credits
    when it settles them; the hold is closed once (``close``) with that count, and what
    it held for the units not delivered goes back then."""

    def reserve(self, units: Sequence[Any]) -> None:
        """Nothing: the hold covers the job."""

    def release(self, undelivered: Sequence[Any]) -> None:
        """Nothing: the hold keeps their credits until it is closed."""

    @staticmethod
    def open(*, user: User, amount: int, reference: str, idempotency_key: str, operation: str) -> CreditHold:
        """Hold ``amount`` credits for a job (``InsufficientCredits``, 402, when short);
        the same ``idempotency_key`` returns the first hold."""
        return credits_hold(
            user=user,
            amount=amount,
            reference=reference,
            idempotency_key=idempotency_key,
            operation=operation,
        )

    @staticmethod
    def close(*, hold: CreditHold, used: int) -> CreditHold:
        """``used`` credits (the delivered units') stay spent, the rest goes back; once."""
        return credits_settle_hold(hold=hold, used=used)


class ChargeEach(Funding[U]):
    """A ledger charge of ``operation``'s price per unit under ``ledger_key(unit)``, refunded
    when the unit is not delivered.

    The key is the unit's idempotency: a batch served again after a crash finds its
    charges instead of paying twice. A unit tried again after its charge was refunded
    needs a new key (put its attempt in it). A balance that cannot cover the whole batch
    takes nothing: the charges made for it are refunded and ``InsufficientCredits`` raised."""

    def __init__(self, *, user: User, operation: str, reference: str, ledger_key: Callable[[U], str]) -> None:
        self.user = user
        self.operation = operation
        self.reference = reference
        self.ledger_key = ledger_key
        self.charges: dict[int, LedgerEntry] = {}

    def reserve(self, units: Sequence[U]) -> None:
        for unit in units:
            try:
                charge = credits_charge(
                    user=self.user,
                    operation=self.operation,
                    idempotency_key=self.ledger_key(unit),
                    reference=self.reference,
                )
            except InsufficientCredits:
                self.release(units)
                raise
            self.charges[id(unit)] = charge

    def release(self, undelivered: Sequence[U]) -> None:
        for unit in undelivered:
            charge = self.charges.pop(id(unit), None)
            if charge is not None:
                credits_refund(charge=charge, reason="undelivered")


# --- The API side ---------------------------------------------------------------------------------


def idempotency_key_parameter(
    description: str = "Retrying with the same key replays the first answer without a second charge.",
) -> OpenApiParameter:
    """The ``Idempotency-Key`` request header of a metered operation, for ``extend_schema``."""
    return OpenApiParameter(
        "Idempotency-Key", OpenApiTypes.STR, OpenApiParameter.HEADER, description=description
    )


def insufficient_credits_response(
    description: str = "Not enough credits; nothing was charged.",
) -> OpenApiResponse:
    """The 402 of a metered operation (``InsufficientCredits``: ``error.detail`` has the
    ``balance``, the ``price`` and the ``operation``), for ``extend_schema``."""
    return OpenApiResponse(ErrorSerializer, description=description)


def metered_headers(response: ResponseT, *, credits_remaining: int, replayed: bool = False) -> ResponseT:
    """Mark a metered answer: ``X-Credits-Remaining``, and ``Idempotent-Replayed`` on a replay."""
    response[REMAINING_HEADER] = str(credits_remaining)
    if replayed:
        response[REPLAYED_HEADER] = "true"
    return response
