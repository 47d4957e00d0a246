"""Validation of product identifiers typed by people or sent by integrators."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from stdnum import ean, isbn

from core.errors import DomainError

ASIN_LENGTH = 10
_ASIN_RE = re.compile(r"[A-Z0-9]{10}")


def _invalid(message: str, raw: object) -> DomainError:
    return DomainError(message, code="invalid_asin", extra={"asin": raw})


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


# --- Barcodes: EAN-13, EAN-8, UPC-A, ISBN-10, ISBN-13 ---------------------------------------

CodeType = Literal["ean13", "ean8", "upc", "isbn10", "isbn13"]

CODE_TYPE_LABELS: dict[str, str] = {
    "ean13": "EAN-13",
    "ean8": "EAN-8",
    "upc": "UPC-A",
    "isbn10": "ISBN-10",
    "isbn13": "ISBN-13",
}
BARCODE_LENGTHS = (8, 12, 13)
# Spaces and hyphens, the typographic dashes (U+2010 to U+2014) included.
_CODE_SEPARATORS_RE = re.compile("[\\s\\-\u2010-\u2014]+")
_ISBN10_RE = re.compile(r"[0-9]{9}[0-9X]")
_KINDS_HINT = "an EAN-13, EAN-8, UPC-A (12 digits), ISBN-10 or ISBN-13"


@dataclass(frozen=True, slots=True)
class ProductCode:
    """A validated barcode: digits only (an ISBN-10 may end in X), and what kind it is."""

    value: str
    type: CodeType

    @property
    def label(self) -> str:
        return CODE_TYPE_LABELS[self.type]

    @property
    def gtin(self) -> str:
        """The same code as a GTIN: UPC-A padded to 13 digits, ISBN-10 as its ISBN-13; EAN-8 stays 8."""
        if self.type == "upc":
            return "0" + self.value
        if self.type == "isbn10":
            return isbn.to_isbn13(self.value)
        return self.value


def isbn10_check_digit(body: str) -> str:
    """The ISBN-10 check character of its first nine digits: 0-9 or X (ten).

    stdnum computes it only privately, so it is taken from the ISBN-10 that stdnum makes of
    the book's ISBN-13 (whose own check digit does not depend on the ISBN-10's)."""
    return isbn.to_isbn10(isbn.to_isbn13(body + "0"))[-1]


def _clean_code(raw: str) -> str:
    return _CODE_SEPARATORS_RE.sub("", raw).upper()


def looks_like_barcode(raw: object) -> bool:
    """Whether ``raw`` has the shape of an EAN-13, EAN-8 or UPC-A: 8, 12 or 13 digits (spaces and
    hyphens aside), whatever its check digit. A 10-character code is an ASIN (or FNSKU) by shape,
    as an ISBN-10 is the ASIN of its book."""
    if not isinstance(raw, str):
        return False
    code = _clean_code(raw)
    return code.isascii() and code.isdigit() and len(code) in BARCODE_LENGTHS


def _invalid_code(message: str, raw: object) -> DomainError:
    return DomainError(message, code="invalid_code", extra={"code": raw})


def normalize_product_code(raw: object) -> ProductCode:
    """``raw`` as a validated barcode, its type told by its length (and an ISBN's prefix).

    Spaces and hyphens are dropped, so ``978-0-306-40615-7`` is the ISBN-13
    ``9780306406157``. 13 digits starting 978 or 979 (but not 9790, the ISMN
    range of printed music) are an ISBN-13, other 13 digits an EAN-13; 12 a
    UPC-A; 8 an EAN-8; 10 (the last may be X) an ISBN-10. The check digit must
    be right. Anything else is a 400 ``invalid_code`` saying what is wrong."""
    if not isinstance(raw, str):
        raise _invalid_code(f"A barcode must be text: {_KINDS_HINT}.", None)
    code = _clean_code(raw)
    if not code:
        raise _invalid_code(f"Enter a barcode: {_KINDS_HINT}.", raw)
    if len(code) == 10:
        if not code.isascii() or not _ISBN10_RE.fullmatch(code):
            raise _invalid_code(
                f"A 10-character code is a barcode only as an ISBN-10: nine digits and a digit or X; "
                f"{code!r} is not one (look it up as an ASIN instead).",
                raw,
            )
        if not isbn.is_valid(code):
            expected = isbn10_check_digit(code[:9])
            raise _invalid_code(
                f"{code!r} is not a valid ISBN-10: its check character should be {expected}, not {code[-1]}.",
                raw,
            )
        return ProductCode(code, "isbn10")
    bad = sorted({c for c in code if not ("0" <= c <= "9")})
    if bad:
        shown = " ".join(repr(c) for c in bad)
        raise _invalid_code(f"A barcode has only digits; {code!r} contains {shown}.", raw)
    if len(code) not in BARCODE_LENGTHS:
        raise _invalid_code(
            "A barcode has 8 digits (EAN-8), 10 (ISBN-10), 12 (UPC-A) or 13 (EAN-13, ISBN-13); "
            f"{code!r} has {len(code)}.",
            raw,
        )
    code_type: CodeType
    if len(code) == 13:
        code_type = "isbn13" if code[:3] in ("978", "979") and not code.startswith("9790") else "ean13"
    else:
        code_type = "upc" if len(code) == 12 else "ean8"
    if not ean.is_valid(code):
        expected = ean.calc_check_digit(code[:-1])
        raise _invalid_code(
            f"{code!r} is not a valid {CODE_TYPE_LABELS[code_type]}: its check digit should be "
            f"{expected}, not {code[-1]}.",
            raw,
        )
    return ProductCode(code, code_type)
