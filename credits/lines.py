"""The ledger page's lines: entries in plain words, a fully refunded charge as one line.

Reads only (the entries come from ``selectors.ledger_lines_list``); the words come from
credits.wording.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from credits.models import LedgerEntry
from credits.wording import charge_notes, operation_words, reference_words, refund_reason_words


@dataclass(frozen=True)
class LedgerLine:
    entry: LedgerEntry
    created_at: dt.datetime
    kind: str  # the kind's label, or "Not charged"
    amount: int  # what the line moved in all: 0 for a charge refunded in full
    balance_after: int
    what: str  # "ASIN lookup US:B0…" or the entry's description
    note: str  # "not charged: the product data providers were unavailable", "from cache", ...
    not_charged: bool


def ledger_lines(entries: Iterable[LedgerEntry]) -> list[LedgerLine]:
    entries = list(entries)
    notes = charge_notes(entries)
    return [_line(entry, notes.get(entry.pk, [])) for entry in entries]


def _line(entry: LedgerEntry, notes: list[str]) -> LedgerLine:
    refund = _full_refund(entry)
    if entry.operation:
        what = f"{operation_words(entry.operation)} {reference_words(entry.reference)}".strip()
    else:
        what = entry.description or reference_words(entry.reference)
    if refund is not None:
        reason = refund_reason_words(refund.description)
        return LedgerLine(
            entry=entry,
            created_at=entry.created_at,
            kind="Not charged",
            amount=0,
            balance_after=refund.balance_after,
            what=what,
            note=f"not charged: {reason}" if reason else "not charged",
            not_charged=True,
        )
    if entry.kind == LedgerEntry.Kind.REFUND:
        reason = refund_reason_words(entry.description)
        notes = [f"refunded: {reason}" if reason else "refunded", *notes]
    elif entry.operation and entry.description:
        notes = [entry.description, *notes]
    return LedgerLine(
        entry=entry,
        created_at=entry.created_at,
        kind=entry.get_kind_display(),
        amount=entry.amount,
        balance_after=entry.balance_after,
        what=what,
        note=", ".join(notes),
        not_charged=False,
    )


def _full_refund(entry: LedgerEntry) -> LedgerEntry | None:
    if entry.kind != LedgerEntry.Kind.CHARGE:
        return None
    # ``refunds`` is prefetched by the selector (at most one: a charge is refunded once).
    refund = next(iter(entry.refunds.all()), None)
    return refund if refund is not None and refund.amount == -entry.amount else None
