"""Reading a liquidation manifest: a CSV or XLSX file into lines, checked up front.

Pure functions over a file object, no database. Columns are found by name in the header row (the
first of the file's first 10 rows naming at least one known column; a manifest often starts with
a title row or two): the name is compared with case, spaces and punctuation taken out, against
the synonyms B-Stock, Liquidation.com and Amazon's own liquidation manifests use
(``COLUMN_SYNONYMS``).

What makes the whole file unusable is a ``DomainError`` raised before anything is created or
charged: too large (``file_too_large``, 413, from the size alone, before a byte is read), empty,
no recognisable column, an encoding that is not UTF-8 or Windows-1252 (``wrong_encoding``, with
the line of the first bad byte), a spreadsheet that cannot be opened, too many lines.

What makes one line unusable (a negative or non-numeric quantity, a unit retail that is not a
price, no identifier at all) rejects that line only: it is kept with its reason, as a line
number and a message, and is never charged. Cells are text: a cell starting with ``=``, ``+``,
``-`` or ``@`` is kept as the text it is (an XLSX formula as its formula text, never evaluated:
the workbook is opened with ``data_only=False``), and exports escape it (core.csv_export).

Encodings (CSV): a UTF-8 byte-order mark means UTF-8 (``utf-8-sig``); otherwise the file is
decoded as UTF-8 if every byte sequence in it is valid UTF-8 (a check that text in any other
encoding with accented letters practically never passes), else as Windows-1252, which is also
what Latin-1 text decodes to for every printable character (Windows-1252 differs only in
0x80-0x9F, control characters in Latin-1). A byte Windows-1252 leaves undefined, a NUL (UTF-16)
or another control character is ``wrong_encoding``. The file is read twice, streaming (once to
detect, once to parse), so memory does not grow with its size.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import IO, Any

from core.errors import DomainError, TooLargeError
from core.money import parse_amount

# Roles of the columns, and the header names (normalised: lower case, letters and digits only)
# that mean them.
ASIN, FNSKU, CODE, TITLE, QUANTITY, UNIT_RETAIL = "asin", "fnsku", "code", "title", "quantity", "unit_retail"
COLUMN_SYNONYMS: dict[str, tuple[str, ...]] = {
    ASIN: ("asin", "amazonasin", "asinnumber", "asinid"),
    FNSKU: ("fnsku", "fcsku", "fnskucode", "fnskux00"),
    CODE: (
        "upc",
        "ean",
        "gtin",
        "upcean",
        "eanupc",
        "upccode",
        "eancode",
        "gtincode",
        "barcode",
        "upcnumber",
        "ean13",
        "upca",
    ),
    TITLE: (
        "title",
        "description",
        "itemdescription",
        "productname",
        "producttitle",
        "productdescription",
        "itemtitle",
        "itemname",
        "name",
        "desc",
        "itemdesc",
    ),
    QUANTITY: ("quantity", "qty", "units", "unitqty", "itemqty", "totalqty", "quantityunits", "qtyunits"),
    UNIT_RETAIL: (
        "unitretail",
        "retailprice",
        "msrp",
        "unitprice",
        "unitmsrp",
        "retailperunit",
        "unitretailprice",
        "retail",
        "retailvalue",
        "origretail",
        "originalretail",
    ),
}
IDENTIFIERS = (ASIN, FNSKU, CODE, TITLE)
ROLE_LABELS = {
    ASIN: "ASIN",
    FNSKU: "FNSKU",
    CODE: "UPC/EAN",
    TITLE: "title",
    QUANTITY: "quantity",
    UNIT_RETAIL: "unit retail",
}
HEADER_SEARCH_ROWS = 10
MAX_TITLE = 500
_NOT_NAME = re.compile(r"[^0-9a-z]+")
_CONTROL = frozenset(chr(c) for c in range(32)) - {"\t", "\n", "\r"}
_XLSX_MAGIC = b"PK\x03\x04"
_READ_BLOCK = 1 << 20
_CONTROL_BYTES = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f]")


@dataclass(frozen=True, slots=True)
class ManifestLineInput:
    """One non-blank line of a manifest: ``line`` is its row in the file (the header's is 1 when it
    is the first row); ``error`` says why it was rejected (empty: accepted)."""

    line: int
    asin: str = ""
    fnsku: str = ""
    code: str = ""
    title: str = ""
    quantity: int = 1
    unit_retail: Decimal | None = None
    error: str = ""


@dataclass(frozen=True, slots=True)
class ParsedManifest:
    lines: list[ManifestLineInput]
    columns: dict[str, str]  # role -> the header as written in the file
    encoding: str  # utf-8, utf-8-sig, cp1252, or xlsx
    header_line: int
    ignored_columns: list[str] = field(default_factory=list)

    @property
    def accepted(self) -> list[ManifestLineInput]:
        return [line for line in self.lines if not line.error]

    @property
    def rejected(self) -> list[ManifestLineInput]:
        return [line for line in self.lines if line.error]


def manifest_error(code: str, message: str, **extra: object) -> DomainError:
    return DomainError(message, code=code, extra=extra)


def _size(size: int) -> str:
    if size >= 1024 * 1024:
        return f"{size / (1024 * 1024):.1f}".rstrip("0").rstrip(".") + " MB"
    return f"{size:,} bytes"


def check_manifest_size(size: int, *, max_bytes: int) -> None:
    """Refused from its size alone, before the file is read."""
    if size > max_bytes:
        raise TooLargeError(
            f"The manifest is {_size(size)}; the limit is {_size(max_bytes)}. Split it into smaller files.",
            code="file_too_large",
            extra={"size": size, "max_bytes": max_bytes},
        )


def normalize_header(name: object) -> str:
    return _NOT_NAME.sub("", str(name or "").lower())


_ROLE_OF = {synonym: role for role, synonyms in COLUMN_SYNONYMS.items() for synonym in synonyms}


def find_columns(cells: Sequence[object]) -> dict[str, int]:
    """Each role's column index in a header row (the first column naming a role wins)."""
    found: dict[str, int] = {}
    for index, cell in enumerate(cells):
        role = _ROLE_OF.get(normalize_header(cell))
        if role is not None and role not in found:
            found[role] = index
    return found


# --- Values ---------------------------------------------------------------------------------------


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # a UPC typed into a spreadsheet comes back as 12345678901.0
    return str(value).strip().strip("\ufeff\u200b")


def parse_quantity(raw: str) -> int:
    """A whole number of units, at least 1; empty means 1. Raises ValueError with the reason."""
    # "1,500" is 1,500 units; "1,5" is one and a half (a decimal comma), not 15.
    try:
        number = parse_amount(raw)
    except ValueError as exc:
        if "negative" in str(exc):
            raise ValueError(f"the quantity {raw} is negative") from None
        raise ValueError(f"the quantity {raw!r} is not a number") from None
    if number is None:
        return 1
    if number != number.to_integral_value():
        raise ValueError(f"the quantity {raw} is not a whole number of units")
    if number == 0:
        raise ValueError("the quantity is 0")
    if number > 1_000_000:
        raise ValueError(f"the quantity {raw} is more than 1,000,000 units")
    return int(number)


def parse_unit_retail(raw: str) -> Decimal | None:
    """A unit price as ``core.money.parse_amount`` reads it ("$1,299.99", "4,50 €"); empty means none."""
    try:
        amount = parse_amount(raw)
    except ValueError as exc:
        if "negative" in str(exc):
            raise ValueError(f"the unit retail {raw} is negative") from None
        raise ValueError(f"the unit retail {raw!r} is not a price") from None
    return None if amount is None else amount.quantize(Decimal("0.01"))


def line_from_cells(line: int, cells: Sequence[object], columns: dict[str, int]) -> ManifestLineInput | None:
    """A line from its cells (None: a blank row)."""
    values = {role: _text(cells[index]) if index < len(cells) else "" for role, index in columns.items()}
    if not any(_text(cell) for cell in cells):
        return None
    identifiers = {
        ASIN: values.get(ASIN, "").upper().replace(" ", ""),
        FNSKU: values.get(FNSKU, "").upper().replace(" ", ""),
        CODE: values.get(CODE, "").replace(" ", "").replace("-", ""),
        TITLE: " ".join(values.get(TITLE, "").split())[:MAX_TITLE],
    }
    errors: list[str] = []
    quantity = 1
    unit_retail = None
    try:
        quantity = parse_quantity(values.get(QUANTITY, ""))
    except ValueError as exc:
        errors.append(str(exc))
    try:
        unit_retail = parse_unit_retail(values.get(UNIT_RETAIL, ""))
    except ValueError as exc:
        errors.append(str(exc))
    if not any(identifiers.values()):
        errors.append("no ASIN, FNSKU, UPC/EAN or title")
    error = f"Line {line}: {'; '.join(errors)}." if errors else ""
    return ManifestLineInput(
        line=line,
        asin=identifiers[ASIN],
        fnsku=identifiers[FNSKU],
        code=identifiers[CODE],
        title=identifiers[TITLE],
        quantity=quantity,
        unit_retail=unit_retail,
        error=error[:500],
    )


# --- Files ----------------------------------------------------------------------------------------


def parse_manifest(
    file: IO[bytes], *, size: int, filename: str, max_bytes: int, max_lines: int
) -> ParsedManifest:
    """The lines of an uploaded manifest (``file`` seekable), CSV or XLSX by its content."""
    check_manifest_size(size, max_bytes=max_bytes)
    if size == 0:
        raise manifest_error(
            "empty_file", "The manifest is empty: upload a CSV or XLSX file with a header row."
        )
    head = file.read(4)
    file.seek(0)
    if head == _XLSX_MAGIC or filename.lower().endswith((".xlsx", ".xlsm")):
        return _parse(_xlsx_rows(file), encoding="xlsx", max_lines=max_lines)
    encoding = detect_encoding(file)
    file.seek(0)
    text = io.TextIOWrapper(file, encoding=encoding, newline="")
    try:
        return _parse(_csv_rows(text), encoding=encoding, max_lines=max_lines)
    finally:
        text.detach()


def detect_encoding(file: IO[bytes]) -> str:
    """utf-8-sig, utf-8 or cp1252 (see the module's docstring), reading ``file`` in blocks."""
    first = file.read(_READ_BLOCK)
    if not first.strip():
        raise manifest_error(
            "empty_file", "The manifest is empty: upload a CSV or XLSX file with a header row."
        )
    if first.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) or b"\x00" in first[:4096]:
        raise _wrong_encoding(1, "it looks like UTF-16 or a binary file")
    bom = first.startswith(codecs.BOM_UTF8)
    utf8 = codecs.getincrementaldecoder("utf-8")()
    utf8_ok = True
    cp1252_bad: tuple[int, int] | None = None  # (line, byte) of the first byte Windows-1252 lacks
    line = 1
    block = first
    while block:
        if (control := _CONTROL_BYTES.search(block)) is not None:
            raise _wrong_encoding(
                line + block[: control.start()].count(b"\n"),
                f"it contains the control byte 0x{block[control.start()]:02X}",
            )
        if cp1252_bad is None:
            try:
                block.decode("cp1252")
            except UnicodeDecodeError as exc:
                cp1252_bad = (line + block[: exc.start].count(b"\n"), block[exc.start])
        if utf8_ok:
            try:
                utf8.decode(block)
            except UnicodeDecodeError:
                utf8_ok = False
        if not utf8_ok and cp1252_bad is not None:
            break
        line += block.count(b"\n")
        block = file.read(_READ_BLOCK)
    if utf8_ok:
        try:
            utf8.decode(b"", final=True)
        except UnicodeDecodeError:
            utf8_ok = False
    if utf8_ok:
        return "utf-8-sig" if bom else "utf-8"
    if cp1252_bad is None:
        return "cp1252"
    bad_line, byte = cp1252_bad
    raise _wrong_encoding(bad_line, f"byte 0x{byte:02X} is neither UTF-8 nor Windows-1252")


def _wrong_encoding(line: int, why: str) -> DomainError:
    return manifest_error(
        "wrong_encoding",
        f"Line {line}: the file's text encoding is not one we read ({why}). "
        "Save it as CSV UTF-8 (or Windows-1252), or upload the XLSX.",
        line=line,
    )


def _csv_rows(text: io.TextIOWrapper) -> Iterator[tuple[int, list[str]]]:
    sample = text.read(65536)
    text.seek(0)
    delimiter = _sniff(sample)
    reader = csv.reader(text, delimiter=delimiter, strict=True)
    try:
        for cells in reader:
            yield reader.line_num, cells
    except csv.Error as exc:
        raise manifest_error(
            "malformed_csv",
            f"Line {reader.line_num + 1}: the file could not be read as CSV ({exc}). "
            "Check that every quoted value has its closing quote.",
            line=reader.line_num + 1,
        ) from None
    except UnicodeDecodeError:  # pragma: no cover - detect_encoding checked every byte
        raise _wrong_encoding(reader.line_num + 1, "an undecodable byte") from None


def _sniff(sample: str) -> str:
    lines = [line for line in sample.splitlines()[:20] if line.strip()]
    best, best_count = ",", 0
    for delimiter in (",", ";", "\t", "|"):
        counts = [line.count(delimiter) for line in lines]
        consistent = sum(1 for c in counts if c and c == max(counts))
        if consistent > best_count:
            best, best_count = delimiter, consistent
    return best


def _xlsx_rows(file: IO[bytes]) -> Iterator[tuple[int, list[Any]]]:
    from openpyxl import load_workbook

    try:
        # read_only: rows are streamed from the sheet's XML; data_only=False: a formula cell is its
        # formula's text, never a value computed from it.
        workbook = load_workbook(file, read_only=True, data_only=False)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise manifest_error(
            "unreadable_spreadsheet",
            f"The file could not be opened as an XLSX workbook ({exc.__class__.__name__}). "
            "Save it again as .xlsx, or as CSV.",
        ) from None
    try:
        sheet = workbook.worksheets[0]
        for number, row in enumerate(sheet.iter_rows(values_only=True), start=1):
            yield number, list(row)
    finally:
        workbook.close()


def _parse(rows: Iterable[tuple[int, Sequence[Any]]], *, encoding: str, max_lines: int) -> ParsedManifest:
    columns: dict[str, int] | None = None
    headers: Sequence[Any] = ()
    header_line = 0
    lines: list[ManifestLineInput] = []
    seen_rows = 0
    first_cells: list[str] = []
    for number, cells in rows:
        if any(isinstance(cell, str) and any(char in _CONTROL for char in cell) for cell in cells):
            raise _wrong_encoding(number, "it contains control characters")
        if columns is None:
            if not any(_text(cell) for cell in cells):
                continue
            seen_rows += 1
            found = find_columns(cells)
            if any(role in found for role in IDENTIFIERS):
                columns, headers, header_line = found, cells, number
                continue
            if not first_cells:
                first_cells = [_text(cell) for cell in cells if _text(cell)]
            if seen_rows >= HEADER_SEARCH_ROWS:
                break
            continue
        line = line_from_cells(number, cells, columns)
        if line is None:
            continue
        lines.append(line)
        if len(lines) > max_lines:
            raise manifest_error(
                "too_many_lines",
                f"Line {number}: the manifest has more than {max_lines:,} lines; the limit is "
                f"{max_lines:,}. Split it into smaller files.",
                line=number,
                max_lines=max_lines,
            )
    if columns is None:
        if not seen_rows:
            raise manifest_error(
                "empty_file", "The manifest has no rows: add a header row and one row per item."
            )
        shown = ", ".join(first_cells[:12]) or "(none)"
        raise manifest_error(
            "no_recognisable_column",
            f"Line 1: no recognisable column in the first {min(seen_rows, HEADER_SEARCH_ROWS)} rows "
            f"(first row: {shown}). Name at least one column ASIN, FNSKU, UPC, EAN or Title/Description; "
            "Quantity and Unit Retail are read too.",
            line=1,
            found=first_cells[:50],
        )
    if not lines:
        raise manifest_error(
            "empty_file", f"Line {header_line}: the manifest has a header row but no items below it."
        )
    named = {role: _text(headers[index]) for role, index in columns.items()}
    ignored = [_text(cell) for i, cell in enumerate(headers) if _text(cell) and i not in columns.values()]
    return ParsedManifest(
        lines=lines, columns=named, encoding=encoding, header_line=header_line, ignored_columns=ignored
    )
