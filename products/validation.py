"""Validation of product identifiers typed by people or sent by integrators."""

from __future__ import annotations

import re

from config.errors import DomainError

ASIN_LENGTH = 10
_ASIN_RE = re.compile(r"[A-Z0-9]{10}")


def _invalid(message: str, raw: object) -> DomainError:
    return DomainError(message, code="invalid_asin", status_code=400, extra={"asin": raw})


def normalize_asin(raw: object) -> str:
    """``raw`` as a canonical ASIN: 10 upper-case letters and digits.

    Surrounding spaces are trimmed and lower case is accepted, so `` b0testkeep ``
    becomes ``B0TESTKEEP``. ISBN-10 style ASINs (digits, possibly ending in X)
    are ASINs too. Anything else is a 400 ``invalid_asin`` saying what is wrong.
    """
    if not isinstance(raw, str):
        raise _invalid("An ASIN must be text of 10 letters and digits.", None)
    asin = raw.strip().upper()
    if not asin:
        raise _invalid("Enter an ASIN: 10 letters and digits, such as B08N5WRWNW.", raw)
    if len(asin) != ASIN_LENGTH:
        raise _invalid(
            f"An ASIN has exactly {ASIN_LENGTH} characters; {asin!r} has {len(asin)}.",
            raw,
        )
    if not _ASIN_RE.fullmatch(asin):
        bad = sorted({c for c in asin if not ("A" <= c <= "Z" or "0" <= c <= "9")})
        shown = " ".join(repr(c) for c in bad)
        raise _invalid(
            f"An ASIN has only letters A-Z and digits 0-9; {asin!r} contains {shown}.",
            raw,
        )
    return asin
