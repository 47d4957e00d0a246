"""Reading a bulk job's input: CSV files (every way they come) and lists, limits and per-row checks."""

import codecs

import pytest

from core.api_errors import http_status
from core.errors import DomainError
from jobs.bulk.uploads import (
    InputRow,
    decode_upload,
    invalid_rows_report,
    parse_csv_upload,
    prepare_items,
    rows_from_list,
    sniff_delimiter,
)
from products.validation import normalize_asin

MB = 1024 * 1024


def parse(data: bytes, *, max_rows: int = 10_000, max_bytes: int = 5 * MB) -> list[tuple[int, str]]:
    return [
        (r.row, r.text) for r in parse_csv_upload(data, column="asin", max_rows=max_rows, max_bytes=max_bytes)
    ]


def error_of(data: bytes, *, status: int = 400, **limits: int) -> DomainError:
    with pytest.raises(DomainError) as info:
        parse(data, **limits)
    assert http_status(info.value) == status
    return info.value


# --- What is accepted -------------------------------------------------------------------------


def test_a_plain_list_without_header_uses_the_first_column():
    assert parse(b"B08N5WRWNW\nB000000001\n") == [(1, "B08N5WRWNW"), (2, "B000000001")]


def test_a_header_names_the_asin_column_in_any_case_and_position():
    data = b"Title,ASIN,Price\nWater bottle,B08N5WRWNW,9.99\nLamp,b000000001 ,12\n"

    assert parse(data) == [(2, "B08N5WRWNW"), (3, "b000000001")]


def test_a_header_without_an_asin_column_is_a_row_like_the_others():
    # Reported as an invalid row (with its reason) rather than silently dropped.
    assert parse(b"product\nB08N5WRWNW\n") == [(1, "product"), (2, "B08N5WRWNW")]


def test_blank_lines_are_ignored_but_keep_the_row_numbers_of_the_file():
    data = b"asin\r\n\r\nB08N5WRWNW\r\n  \r\n,,\r\nB000000001\r\n\r\n"

    assert parse(data) == [(3, "B08N5WRWNW"), (6, "B000000001")]


def test_a_row_whose_asin_cell_is_empty_is_kept_to_be_reported():
    assert parse(b"asin,title\n,Lamp\nB08N5WRWNW,Bottle\n") == [(2, ""), (3, "B08N5WRWNW")]


@pytest.mark.parametrize(
    ("data", "delimiter"),
    [
        (b'title;asin\n"a; b";B08N5WRWNW\nc;B000000001\n', ";"),
        (b"title\tasin\na\tB08N5WRWNW\nc\tB000000001\n", "\t"),
        (b"title|asin\na|B08N5WRWNW\nc|B000000001\n", "|"),
        (b'title,asin\n"Lamp, desk",B08N5WRWNW\n"c",B000000001\n', ","),
    ],
)
def test_the_delimiter_is_sniffed(data, delimiter):
    assert sniff_delimiter(data.decode()) == delimiter
    assert [text for _, text in parse(data)] == ["B08N5WRWNW", "B000000001"]


def test_a_single_column_file_is_read_with_commas_inside_quotes_left_alone():
    assert sniff_delimiter("B08N5WRWNW\nB000000001\n") == ","


@pytest.mark.parametrize(
    "encoded",
    [
        codecs.BOM_UTF8 + "asin,title\nB08N5WRWNW,Café\n".encode(),
        "asin,title\nB08N5WRWNW,Café\n".encode("utf-16"),  # with its BOM
        codecs.BOM_UTF16_BE + "asin,title\nB08N5WRWNW,Café\n".encode("utf-16-be"),
        "asin,title\nB08N5WRWNW,Café\n".encode("utf-16-le"),  # no BOM, as some tools write
        "asin,title\nB08N5WRWNW,Café\n".encode("utf-32"),
        "asin,title\nB08N5WRWNW,Café €5\n".encode("cp1252"),  # Excel on Windows
        "asin,title\nB08N5WRWNW,Café\n".encode("latin-1"),
    ],
)
def test_common_encodings_and_byte_order_marks_are_read(encoded):
    assert parse(encoded) == [(2, "B08N5WRWNW")]


def test_the_utf8_byte_order_mark_does_not_hide_the_header():
    assert decode_upload(codecs.BOM_UTF8 + b"ASIN\nB08N5WRWNW\n").startswith("ASIN")
    assert parse(codecs.BOM_UTF8 + b"ASIN\nB08N5WRWNW\n") == [(2, "B08N5WRWNW")]


def test_invisible_characters_around_values_are_trimmed():
    assert parse("\u200bB08N5WRWNW\u00a0\n".encode()) == [(1, "B08N5WRWNW")]


# --- Limits and broken files: a clear 400 -----------------------------------------------------------


def test_an_empty_file_is_refused():
    error = error_of(b"")

    assert error.code == "empty_file"
    assert "empty" in error.message


@pytest.mark.parametrize("data", [b"\n\n  \r\n", b",,\n , \n"])
def test_a_file_of_blank_lines_is_refused(data):
    assert error_of(data).code == "empty_file"


def test_a_header_alone_is_refused():
    error = error_of(b"asin\n\n")

    assert error.code == "empty_file"
    assert "only a header" in error.message


def test_a_file_over_the_size_limit_is_refused_before_it_is_read():
    error = error_of(b"B08N5WRWNW\n" * 200, status=413, max_bytes=1000)

    assert error.code == "file_too_large"
    assert error.extra == {"size": 2200, "max_bytes": 1000}
    assert error.message.startswith("The file is 2.1 KB; the limit is 1000 bytes.")


def test_a_huge_file_is_refused_with_its_size_and_the_limit():
    data = b"B08N5WRWNW\n" * 600_000  # 6.6 MB

    error = error_of(data, status=413)

    assert error.code == "file_too_large"
    assert "6.3 MB" in error.message
    assert "limit is 5 MB" in error.message


def test_too_many_rows_are_refused():
    data = b"asin\n" + b"".join(b"B%09d\n" % i for i in range(11))

    error = error_of(data, max_rows=10)

    assert error.code == "too_many_rows"
    assert "more than 10 rows" in error.message


def test_the_row_limit_counts_rows_not_blank_lines():
    data = b"asin\n\n" + b"".join(b"B%09d\n\n" % i for i in range(10))

    assert len(parse(data, max_rows=10)) == 10


@pytest.mark.parametrize(
    "data",
    [
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00",  # an image
        b"PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00",  # an .xlsx (a zip)
        b"B08N5WRWNW\n\x01\x02\x03\x04garbage\x7f\n",  # control characters
    ],
)
def test_a_binary_file_is_refused(data):
    error = error_of(data)

    assert error.code == "binary_file"
    assert "save or export it as CSV" in error.message


def test_a_file_claiming_utf8_that_is_not_is_refused():
    error = error_of(codecs.BOM_UTF8 + b"asin\nB08N5WRWNW,caf\xe9\xff\xfe\n")

    assert error.code == "undecodable_file"
    assert "UTF-8 byte-order mark but is not valid UTF-8" in error.message


def test_a_file_claiming_utf16_that_is_not_is_refused():
    error = error_of(codecs.BOM_UTF16_LE + b"a\x00s\x00i\x00n\x00\n")  # an odd number of bytes

    assert error.code == "undecodable_file"
    assert "UTF-16" in error.message


def test_an_unterminated_quote_is_a_malformed_csv_with_its_row():
    error = error_of(b'asin,title\nB08N5WRWNW,"ok"\nB000000001,"never closed\nB000000002,x\n')

    assert error.code == "malformed_csv"
    assert "row 3" in error.message


def test_a_stray_quote_is_a_malformed_csv():
    error = error_of(b'asin,title\nB08N5WRWNW,"a"b\n')

    assert error.code == "malformed_csv"


# --- Lists (the JSON API) --------------------------------------------------------------------------


def test_a_list_is_numbered_from_one_and_blank_entries_ignored():
    rows = rows_from_list(["B08N5WRWNW", " ", None, " b000000001 ", 1234567890], max_rows=10)

    assert [(r.row, r.text) for r in rows] == [(1, "B08N5WRWNW"), (4, "b000000001"), (5, "1234567890")]


def test_an_empty_list_is_refused():
    with pytest.raises(DomainError) as info:
        rows_from_list(["", "  "], max_rows=10)

    assert info.value.code == "empty_list"


def test_a_list_over_the_limit_is_refused():
    with pytest.raises(DomainError) as info:
        rows_from_list([f"B{i:09d}" for i in range(11)], max_rows=10)

    assert info.value.code == "too_many_rows"


# --- Per-row checks ---------------------------------------------------------------------------


def test_invalid_rows_carry_their_reason_and_duplicates_fold_into_the_first_row():
    rows = [
        InputRow(2, "b08n5wrwnw"),
        InputRow(3, "NOT-AN-ASIN"),
        InputRow(4, "B08N5WRWNW"),  # the same as row 2, normalised
        InputRow(5, ""),
        InputRow(6, "B000000001"),
        InputRow(7, "b08n5wrwnw "),
    ]

    prepared = prepare_items(rows, normalize=normalize_asin)

    assert [(i.row, i.value, bool(i.error)) for i in prepared.items] == [
        (2, "B08N5WRWNW", False),
        (3, "", True),
        (5, "", True),
        (6, "B000000001", False),
    ]
    assert prepared.duplicates == 2
    assert (prepared.valid, prepared.invalid) == (2, 2)
    assert "exactly 10 characters" in prepared.items[1].error
    assert invalid_rows_report(prepared.items) == [
        {"row": 3, "input": "NOT-AN-ASIN", "error": prepared.items[1].error},
        {"row": 5, "input": "", "error": prepared.items[2].error},
    ]


def test_a_kinds_check_of_extra_columns_makes_a_row_invalid_and_keeps_its_value_for_later_rows():
    def check(extra):
        if extra.get("cost") == "abc":
            raise DomainError("The cost 'abc' is not an amount.", code="invalid_cost")

    rows = [
        InputRow(2, "B08N5WRWNW", {"cost": "abc"}),
        InputRow(3, "B08N5WRWNW", {"cost": "4.50"}),  # not a duplicate of an invalid row
        InputRow(4, "B000000001"),
    ]

    prepared = prepare_items(rows, normalize=normalize_asin, check_extra=check)

    assert [(i.row, i.value, i.error) for i in prepared.items] == [
        (2, "", "The cost 'abc' is not an amount."),
        (3, "B08N5WRWNW", ""),
        (4, "B000000001", ""),
    ]
    assert prepared.duplicates == 0


def test_a_kinds_extra_columns_are_kept_with_each_row():
    data = b"FNSKU;Title;Qty\nX001ABCDEF;Water bottle, blue;3\nX001ABCDEG;;1\n"

    rows = parse_csv_upload(data, column="fnsku", max_rows=10, max_bytes=MB, extra_columns=("title", "price"))

    assert [(r.row, r.text, r.extra) for r in rows] == [
        (2, "X001ABCDEF", {"title": "Water bottle, blue"}),
        (3, "X001ABCDEG", {}),
    ]
