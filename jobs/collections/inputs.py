"""A collection's items from a textarea, a JSON list or a CSV upload, checked up front.

The bulk engine's readers do the work (jobs/bulk/uploads.py: limits,
encodings, delimiters); a collection keeps only valid, distinct values, so an
invalid one is a 400 naming the rows to fix rather than an invalid item in
every run.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from jobs.bulk.conf import bulk_settings
from jobs.bulk.kinds import bulk_kind_get
from jobs.bulk.uploads import (
    InputRow,
    invalid_rows_report,
    parse_csv_upload,
    prepare_items,
    rows_from_list,
    upload_error,
)

# Entries of a textarea: one per line, or separated by commas, semicolons, tabs or spaces.
_SEPARATORS = re.compile(r"[\s,;]+")


def items_from_text(text: str) -> list[str]:
    return [value for value in _SEPARATORS.split(text) if value]


def items_from_csv(*, kind: str, data: bytes) -> list[str]:
    """The values of an uploaded CSV (the kind's column, e.g. ``asin``, else the first one)."""
    s = bulk_settings()
    rows = parse_csv_upload(
        data, column=bulk_kind_get(kind).input_column, max_rows=s.max_rows, max_bytes=s.max_upload_bytes
    )
    return [row.text for row in rows]


def clean_items(*, kind: str, values: Sequence[object]) -> list[str]:
    """``values`` normalised for ``kind``, duplicates folded, in their order; at most
    ``BULK_MAX_ROWS``. Raises a 400 ``DomainError`` listing the invalid ones."""
    spec = bulk_kind_get(kind)
    rows: list[InputRow] = rows_from_list(values, max_rows=bulk_settings().max_rows)
    prepared = prepare_items(rows, normalize=spec.normalize)
    if prepared.invalid:
        raise upload_error(
            "invalid_items",
            f"{prepared.invalid:,} of the entries are not valid {spec.input_label}s; fix or remove them.",
            rows=invalid_rows_report(prepared.items),
        )
    return [item.value for item in prepared.items]
