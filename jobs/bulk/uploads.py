"""The input of a bulk job: a CSV upload or a list, read into rows, checked up front.

Pure functions, no database. Everything a person can get wrong in a file is a
``DomainError`` with a message saying what to fix, raised before anything is
created or charged:

- too large in bytes: 413 (``file_too_large``, or ``request_too_large`` for a
  JSON list), the status and code the API's JSON parser gives a body too large;
- 400: too many rows (``BULK_MAX_ROWS``), empty, binary or undecodable, or not
  readable as CSV (an unterminated quote...);
- the rest is forgiving: a header or none (the input is in the column named
  like the kind's input, e.g. ``asin`` in any case, else the first column),
  a byte-order mark, UTF-8, UTF-16 or Windows-1252/Latin-1, commas, semicolons,
  tabs or pipes, blank lines (ignored).

Rows whose value is not valid for the kind are not an error of the file: they
become invalid items with the reason (``prepare_items``). Duplicates are folded
into their first row.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from core.errors import DomainError, TooLargeError

DELIMITERS = (",", ";", "\t", "|")
# Characters a text file does not contain; their presence means a binary file.
_CONTROL = frozenset(chr(c) for c in range(32)) - {"\t", "\n", "\r", "\f", "\v"}
_INVISIBLE = "\ufeff\u200b\u200c\u200d\u2060"
MAX_REPORTED_ERRORS = 20


@dataclass(frozen=True, slots=True)
class InputRow:
    """One non-blank row: its number (the CSV record, header included; or position in a list), its
    text, and the kind's extra columns (``BulkKind.extra_columns``) found in it."""

    row: int
    text: str
    extra: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class PreparedItem:
    row: int
    input: str
    value: str  # normalised; empty when invalid
    error: str  # why the row is invalid; empty when valid
    extra: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class PreparedItems:
    items: list[PreparedItem]
    duplicates: int

    @property
    def valid(self) -> int:
        return sum(1 for item in self.items if not item.error)

    @property
    def invalid(self) -> int:
        return len(self.items) - self.valid


def upload_error(code: str, message: str, **extra: object) -> DomainError:
    return DomainError(message, code=code, extra=extra)


def too_large_error(code: str, message: str, *, size: int, max_bytes: int) -> DomainError:
    return TooLargeError(message, code=code, extra={"size": size, "max_bytes": max_bytes})


def _size(size: int) -> str:
    """6.3 MB, 5 MB, 1.1 KB, 100 bytes."""
    for unit, scale in (("MB", 1024 * 1024), ("KB", 1024)):
        if size >= scale:
            return f"{size / scale:.1f}".rstrip("0").rstrip(".") + f" {unit}"
    return f"{size} bytes"


def check_upload_size(size: int, *, max_bytes: int) -> None:
    if size > max_bytes:
        raise too_large_error(
            "file_too_large",
            f"The file is {_size(size)}; the limit is {_size(max_bytes)}. Split it into smaller files.",
            size=size,
            max_bytes=max_bytes,
        )


def check_request_size(length: int, *, max_bytes: int) -> None:
    """A JSON list's request body: refused from its Content-Length before it is read."""
    if length > max_bytes:
        raise too_large_error(
            "request_too_large",
            f"The request body is {_size(length)}; the limit is {_size(max_bytes)}. "
            "Send fewer values per job.",
            size=length,
            max_bytes=max_bytes,
        )


def decode_upload(data: bytes) -> str:
    """The text of an uploaded file, whatever common encoding it was saved in."""
    boms = (
        (codecs.BOM_UTF32_LE, "utf-32"),  # before UTF-16: its BOM starts with UTF-16 LE's
        (codecs.BOM_UTF32_BE, "utf-32"),
        (codecs.BOM_UTF8, "utf-8-sig"),
        (codecs.BOM_UTF16_LE, "utf-16"),
        (codecs.BOM_UTF16_BE, "utf-16"),
    )
    for bom, encoding in boms:
        if data.startswith(bom):
            try:
                return _text(data.decode(encoding))
            except UnicodeDecodeError as exc:
                name = encoding.replace("-sig", "").upper()
                raise upload_error(
                    "undecodable_file",
                    f"The file starts with a {name} byte-order mark but is not valid {name} "
                    f"(at byte {exc.start}). Save it again as a CSV in UTF-8.",
                    encoding=name,
                ) from None
    if b"\x00" in data:
        utf16 = _utf16_without_bom(data)
        if utf16 is None:
            raise _binary()
        return _text(utf16)
    try:
        return _text(data.decode("utf-8"))
    except UnicodeDecodeError:
        pass
    try:
        # What Excel on Windows writes for "CSV" in western locales.
        return _text(data.decode("cp1252"))
    except UnicodeDecodeError:
        return _text(data.decode("latin-1"))


def _utf16_without_bom(data: bytes) -> str | None:
    """UTF-16 text without a byte-order mark: every other byte of ASCII text is zero."""
    if len(data) % 2:
        return None
    odd_zeros = data[1::2].count(0)
    even_zeros = data[0::2].count(0)
    half = len(data) // 2
    encoding = "utf-16-le" if odd_zeros > 0.9 * half else "utf-16-be" if even_zeros > 0.9 * half else None
    if encoding is None:
        return None
    try:
        return data.decode(encoding)
    except UnicodeDecodeError:
        return None


def _binary() -> DomainError:
    return upload_error(
        "binary_file",
        "The file is not a text CSV: it contains binary data. If it is a spreadsheet "
        "(.xlsx, .numbers), save or export it as CSV first.",
    )


def _text(text: str) -> str:
    if any(char in _CONTROL for char in text):
        raise _binary()
    return text


def sniff_delimiter(text: str) -> str:
    """The delimiter used consistently by the first lines (quotes aside); a comma when none is."""
    lines = [line for line in text[:65536].splitlines()[:50] if line.strip()][:20]
    best, best_score = ",", (0, 0)
    for delimiter in DELIMITERS:
        counts = [_count_outside_quotes(line, delimiter) for line in lines]
        with_it = [c for c in counts if c]
        if not with_it:
            continue
        most_common = max(set(with_it), key=with_it.count)
        score = (sum(1 for c in counts if c == most_common), most_common)
        if score > best_score:
            best, best_score = delimiter, score
    return best


def _count_outside_quotes(line: str, delimiter: str) -> int:
    count, quoted = 0, False
    for char in line:
        if char == '"':
            quoted = not quoted
        elif char == delimiter and not quoted:
            count += 1
    return count


def _clean(cell: str) -> str:
    return cell.strip().strip(_INVISIBLE).strip()


def read_csv_rows(
    text: str, *, column: str, max_rows: int, extra_columns: Sequence[str] = ()
) -> list[InputRow]:
    """The input of each non-blank row: from the column named ``column`` (the
    first row is then a header), else from the first column; and, with a
    header, the ``extra_columns`` found in it."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=sniff_delimiter(text), strict=True)
    rows: list[InputRow] = []
    index: int | None = None
    extras: dict[str, int] = {}
    record = 0
    try:
        for record, cells in enumerate(reader, start=1):
            cleaned = [_clean(cell) for cell in cells]
            if not any(cleaned):
                continue  # a blank line
            if index is None:
                names = [cell.lower() for cell in cleaned]
                if column.lower() in names:
                    index = names.index(column.lower())
                    extras = {
                        name: names.index(name.lower()) for name in extra_columns if name.lower() in names
                    }
                    continue  # the header
                index = 0
            extra = {name: cleaned[i] for name, i in extras.items() if i < len(cleaned) and cleaned[i]}
            rows.append(InputRow(record, cleaned[index] if index < len(cleaned) else "", extra))
            if len(rows) > max_rows:
                raise upload_error(
                    "too_many_rows",
                    f"The file has more than {max_rows:,} rows; the limit is {max_rows:,}. "
                    "Split it into smaller files.",
                    max_rows=max_rows,
                )
    except csv.Error as exc:
        raise upload_error(
            "malformed_csv",
            f"The file could not be read as CSV at row {record + 1}: {exc}. "
            "Check that every quoted value has its closing quote.",
            row=record + 1,
        ) from None
    if not rows:
        what = "only a header" if index is not None else "no rows"
        raise upload_error("empty_file", f"The file has {what}: add one {column} per row.")
    return rows


def parse_csv_upload(
    data: bytes, *, column: str, max_rows: int, max_bytes: int, extra_columns: Sequence[str] = ()
) -> list[InputRow]:
    """The rows of an uploaded CSV file (see the module's docstring for what is accepted)."""
    check_upload_size(len(data), max_bytes=max_bytes)
    if not data.strip():
        raise upload_error("empty_file", "The file is empty: add one value per row.")
    return read_csv_rows(decode_upload(data), column=column, max_rows=max_rows, extra_columns=extra_columns)


def rows_from_list(values: Iterable[object], *, max_rows: int) -> list[InputRow]:
    """The rows of a list sent as JSON: numbered from 1, blank entries ignored."""
    rows: list[InputRow] = []
    for position, value in enumerate(values, start=1):
        text = _clean(value) if isinstance(value, str) else "" if value is None else str(value)
        if not text:
            continue
        rows.append(InputRow(position, text))
        if len(rows) > max_rows:
            raise upload_error(
                "too_many_rows",
                f"The list has more than {max_rows:,} entries; the limit is {max_rows:,}.",
                max_rows=max_rows,
            )
    if not rows:
        raise upload_error("empty_list", "The list is empty: send at least one value.")
    return rows


def prepare_items(
    rows: Iterable[InputRow],
    *,
    normalize: Callable[[str], str],
    check_extra: Callable[[Mapping[str, str]], None] | None = None,
) -> PreparedItems:
    """Each row normalised, or invalid with its reason (its value's, else its extra columns'
    ``check_extra`` raised); a value seen before is folded into its first row."""
    seen: set[str] = set()
    items: list[PreparedItem] = []
    duplicates = 0
    for row in rows:
        text = row.text[:255]
        try:
            value = normalize(row.text)
            if check_extra is not None:
                check_extra(row.extra)
        except DomainError as exc:
            items.append(
                PreparedItem(row=row.row, input=text, value="", error=exc.message[:500], extra=row.extra)
            )
            continue
        if value in seen:
            duplicates += 1
            continue
        seen.add(value)
        items.append(PreparedItem(row=row.row, input=text, value=value, error="", extra=row.extra))
    return PreparedItems(items=items, duplicates=duplicates)


def invalid_rows_report(
    items: Iterable[PreparedItem], limit: int = MAX_REPORTED_ERRORS
) -> list[dict[str, object]]:
    """The first invalid rows, for an error's detail."""
    report: list[dict[str, object]] = []
    for item in _invalid(items):
        if len(report) >= limit:
            break
        report.append({"row": item.row, "input": item.input, "error": item.error})
    return report


def _invalid(items: Iterable[PreparedItem]) -> Iterator[PreparedItem]:
    return (item for item in items if item.error)
