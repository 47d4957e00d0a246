"""Validation of the codes people scan or type: FNSKUs and the label text printed beside them."""

from __future__ import annotations

import re
import unicodedata
from typing import Literal

from core.errors import DomainError

FNSKU_LENGTH = 10
LABEL_TEXT_MAX_LENGTH = 300
_FNSKU_RE = re.compile(r"[A-Z0-9]{10}")

FnskuKind = Literal["fulfilment_label", "stickerless", "other"]


def _invalid(message: str, raw: object) -> DomainError:
    return DomainError(message, code="invalid_fnsku", extra={"fnsku": raw})


def normalize_fnsku(raw: object) -> str:
    """``raw`` as a canonical FNSKU: 10 upper-case letters and digits.

    Surrounding spaces (and the line ends scanners send) are trimmed and lower
    case is accepted, so `` x001abcdef `` becomes ``X001ABCDEF``. Anything else
    is a 400 ``invalid_fnsku`` that says exactly what is wrong."""
    if not isinstance(raw, str):
        raise _invalid("An FNSKU must be text of 10 letters and digits, such as X001ABCDEF.", None)
    code = raw.strip().upper()
    if not code:
        raise _invalid("Enter an FNSKU: 10 letters and digits, such as X001ABCDEF.", raw)
    foreign = sorted({c for c in code if not c.isascii()})
    if foreign:
        shown = " ".join(f"{c!r} ({unicodedata.name(c, f'U+{ord(c):04X}')})" for c in foreign)
        raise _invalid(
            f"An FNSKU has only the letters A-Z and digits 0-9; {code!r} contains {shown}.",
            raw,
        )
    if len(code) != FNSKU_LENGTH:
        raise _invalid(
            f"An FNSKU has exactly {FNSKU_LENGTH} characters; {code!r} has {len(code)}.",
            raw,
        )
    if not _FNSKU_RE.fullmatch(code):
        bad = sorted({c for c in code if not ("A" <= c <= "Z" or "0" <= c <= "9")})
        shown = " ".join(repr(c) for c in bad)
        raise _invalid(
            f"An FNSKU has only the letters A-Z and digits 0-9; {code!r} contains {shown}.",
            raw,
        )
    return code


def fnsku_kind(fnsku: str) -> FnskuKind:
    """What a normalised FNSKU is.

    ``X0...``: a label printed by Amazon's fulfilment network, which only a
    mapping can turn into an ASIN. ``B0...``: a stickerless (manufacturer
    barcode) unit, whose FNSKU is its ASIN. Anything else is a code we look up
    like a label."""
    if fnsku.startswith("X0"):
        return "fulfilment_label"
    if fnsku.startswith("B0"):
        return "stickerless"
    return "other"


def clean_label_text(raw: object) -> str:
    """The label text as kept and shown: printable, single-spaced, at most 300 characters.

    It is free text (a truncated product name), so nothing is refused: control
    characters go, runs of spaces become one."""
    if raw is None:
        return ""
    if not isinstance(raw, str):
        raise DomainError(
            "The label text must be text.",
            code="invalid_label_text",
            extra={"label_text": None},
        )
    printable = "".join(c if unicodedata.category(c)[0] != "C" else " " for c in raw)
    return " ".join(printable.split())[:LABEL_TEXT_MAX_LENGTH]
