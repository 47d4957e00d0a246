"""Plain words for the codes the ledger stores, for pages (the API and CSV keep the codes).

A ledger entry stores an operation code (``asin_lookup``) and, on a refund, the reason code
the failed operation gave (``upstream_unavailable``). Pages show words instead: the
operations' names are the credits app's (it defines the codes, ``credits.models.Operation``);
the reasons belong to the apps that raise them, which register their sentences from their
``AppConfig.ready()`` with ``refund_reasons_register`` (products: the providers' failures;
conversion: its own). An unknown code reads as its words ("some_code" -> "some code"); free
text (an operator's reason) is shown as written.

The ledger page can also add a note to a charge that only another app knows about (products:
"from cache" for a lookup served from the cache), through ``charge_notes_register``, and words
for the references other apps store (jobs: "bulk:12" -> "bulk job #12"), through
``reference_words_register``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping

from credits.models import LedgerEntry, Operation

OPERATION_WORDS: dict[str, str] = {
    Operation.ASIN_LOOKUP: "ASIN lookup",
    Operation.FNSKU_CONVERSION: "FNSKU conversion",
    Operation.BULK_ITEM: "Bulk job item",
    Operation.CODE_LOOKUP: "Barcode lookup",
}

_CODE = re.compile(r"^[a-z][a-z0-9]*(?:_[a-z0-9]+)+$|^[a-z]+$")
_refund_reasons: dict[str, str] = {}
ChargeNotes = Callable[[list[LedgerEntry]], Mapping[int, str]]
_charge_notes: list[ChargeNotes] = []
_reference_words: dict[str, Callable[[str], str]] = {}


def refund_reasons_register(reasons: Mapping[str, str]) -> None:
    """Sentences (lower case, no final stop) for refund reason codes: "the product data
    providers were unavailable"."""
    _refund_reasons.update(reasons)


def charge_notes_register(notes: ChargeNotes) -> None:
    """``notes(charges)`` -> {charge id: note} for charges the ledger page shows."""
    if notes not in _charge_notes:
        _charge_notes.append(notes)


def reference_words_register(prefix: str, words: Callable[[str], str]) -> None:
    """``words(rest)`` reads a reference ``<prefix>:<rest>`` ("bulk:12" -> "bulk job #12")."""
    _reference_words[prefix] = words


def reference_words(reference: str) -> str:
    """A stored reference in plain words: a registered prefix's words, else as stored."""
    prefix, colon, rest = reference.partition(":")
    words = _reference_words.get(prefix) if colon else None
    return words(rest) if words is not None else reference


def operation_words(code: str) -> str:
    return OPERATION_WORDS.get(code) or _code_words(code).capitalize()


def refund_reason_words(reason: str) -> str:
    """The refund's stored reason in plain words ("" for none)."""
    reason = reason.strip()
    if reason in _refund_reasons:
        return _refund_reasons[reason]
    if _CODE.match(reason):
        return _code_words(reason)
    return reason


def charge_notes(charges: Iterable[LedgerEntry]) -> dict[int, list[str]]:
    """Every registered note of each of ``charges``, by charge id."""
    charges = [entry for entry in charges if entry.kind == LedgerEntry.Kind.CHARGE]
    notes: dict[int, list[str]] = {}
    if not charges:
        return notes
    for source in _charge_notes:
        for entry_id, note in source(charges).items():
            notes.setdefault(entry_id, []).append(note)
    return notes


def _code_words(code: str) -> str:
    return code.replace("_", " ").strip()
