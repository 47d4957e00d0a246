"""Reading manifests: columns by name, encodings, XLSX, and each kind of bad input with its line."""

from __future__ import annotations

import io
from decimal import Decimal

import pytest

from core.errors import DomainError, TooLargeError
from resale.manifest_files import find_columns, parse_manifest
from resale.tests.manifest_data import accented, bstock_manifest, csv_bytes, products, xlsx_bytes

MAX = 50 * 1024 * 1024


def parse(data: bytes, filename: str = "manifest.csv", max_lines: int = 10_000):
    return parse_manifest(
        io.BytesIO(data), size=len(data), filename=filename, max_bytes=MAX, max_lines=max_lines
    )


def test_bstock_like_columns_are_found_by_name_with_quantities_and_unit_retail():
    rows = products(3)
    parsed = parse(bstock_manifest(rows, quantities=[2, 1, 5]))
    assert parsed.columns == {
        "asin": "ASIN",
        "title": "Item Description",
        "quantity": "Qty",
        "unit_retail": "Unit Retail",
    }
    assert "Ext. Retail" in parsed.ignored_columns
    assert [line.asin for line in parsed.lines] == [row["asin"] for row in rows]
    assert [line.quantity for line in parsed.lines] == [2, 1, 5]
    assert parsed.lines[0].title == rows[0]["title"]
    assert parsed.lines[0].line == 2  # the header is line 1
    assert parsed.encoding == "utf-8"


@pytest.mark.parametrize(
    ("header", "role"),
    [
        ("  Item  Description ", "title"),
        ("PRODUCT NAME", "title"),
        ("description", "title"),
        ("UPC/EAN", "code"),
        ("GTIN", "code"),
        ("Units", "quantity"),
        ("QTY", "quantity"),
        ("MSRP", "unit_retail"),
        ("Retail Price", "unit_retail"),
        ("Unit Price", "unit_retail"),
        ("fnsku", "fnsku"),
        ("Asin", "asin"),
    ],
)
def test_column_synonyms_ignore_case_spaces_and_punctuation(header, role):
    assert find_columns(["Something", header]) == {role: 1}


def test_title_only_lines_and_title_rows_above_the_header():
    rows = products(2, start=10)
    data = (
        "Liquidation.com manifest\nAuction 12345\n"
        + csv_bytes(["Product Name", "Quantity"], [[r["title"], 3] for r in rows]).decode()
    ).encode()
    parsed = parse(data)
    assert parsed.header_line == 3
    assert [(line.line, line.title, line.quantity, line.asin) for line in parsed.lines] == [
        (4, rows[0]["title"], 3, ""),
        (5, rows[1]["title"], 3, ""),
    ]


def test_a_windows_1252_file_with_accented_titles_is_detected_and_read():
    rows = accented(3)
    assert rows, "the real product file has titles with accented characters"
    data = csv_bytes(["ASIN", "Description"], [[r["asin"], r["title"]] for r in rows], encoding="cp1252")
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")
    parsed = parse(data)
    assert parsed.encoding == "cp1252"
    assert [line.title for line in parsed.lines] == [" ".join(r["title"].split()) for r in rows]


def test_utf8_with_a_byte_order_mark():
    rows = accented(2)
    data = csv_bytes(["ASIN", "Title"], [[r["asin"], r["title"]] for r in rows], encoding="utf-8-sig")
    parsed = parse(data)
    assert parsed.encoding == "utf-8-sig"
    assert parsed.columns["asin"] == "ASIN"
    assert parsed.lines[0].title == " ".join(rows[0]["title"].split())


def test_xlsx_is_read_and_formulas_stay_text():
    rows = products(2, start=20)
    data = xlsx_bytes(
        ["ASIN", "Title", "Qty", "Unit Retail"],
        [
            [rows[0]["asin"], rows[0]["title"], 4, 19.99],
            [rows[1]["asin"], '=HYPERLINK("http://x","y")', 1, 5],
        ],
    )
    parsed = parse(data, filename="lot.xlsx")
    assert parsed.encoding == "xlsx"
    assert parsed.lines[0].quantity == 4
    assert parsed.lines[0].unit_retail == Decimal("19.99")
    assert parsed.lines[1].title == '=HYPERLINK("http://x","y")'
    assert not parsed.lines[1].error


def test_a_formula_quantity_is_rejected_not_evaluated():
    rows = products(2)
    data = xlsx_bytes(["ASIN", "Qty"], [[rows[0]["asin"], "=2*3"], [rows[1]["asin"], 2]])
    parsed = parse(data, filename="lot.xlsx")
    assert parsed.lines[0].error == "Line 2: the quantity '=2*3' is not a number."
    assert parsed.lines[1].quantity == 2
    assert not parsed.lines[1].error


def test_formula_like_csv_cells_are_text():
    rows = products(1)
    parsed = parse(
        csv_bytes(["ASIN", "Title"], [[rows[0]["asin"], "@SUM(A1:A9)"], ["", "+cmd|' /C calc'!A0"]])
    )
    assert [line.title for line in parsed.lines] == ["@SUM(A1:A9)", "+cmd|' /C calc'!A0"]


@pytest.mark.parametrize(
    ("qty", "message"),
    [
        ("-3", "Line 2: the quantity -3 is negative."),
        ("three", "Line 2: the quantity 'three' is not a number."),
        ("1.5", "Line 2: the quantity 1.5 is not a whole number of units."),
        ("1,5", "Line 2: the quantity 1,5 is not a whole number of units."),  # a decimal comma, not 15
        ("0", "Line 2: the quantity is 0."),
    ],
)
def test_bad_quantities_reject_their_line_only(qty, message):
    rows = products(2)
    parsed = parse(csv_bytes(["ASIN", "Qty"], [[rows[0]["asin"], qty], [rows[1]["asin"], "2"]]))
    assert parsed.lines[0].error == message
    assert [line.line for line in parsed.accepted] == [3]


def test_quantities_with_thousands_separators():
    rows = products(2)
    parsed = parse(csv_bytes(["ASIN", "Qty"], [[rows[0]["asin"], "1,500"], [rows[1]["asin"], " 12 "]]))
    assert [line.quantity for line in parsed.lines] == [1500, 12]


def test_a_line_without_any_identifier_is_rejected():
    parsed = parse(csv_bytes(["ASIN", "Title", "Qty"], [["", "", "3"], [products(1)[0]["asin"], "", "1"]]))
    assert parsed.lines[0].error == "Line 2: no ASIN, FNSKU, UPC/EAN or title."


def test_no_recognisable_column_names_the_line_and_what_was_found():
    with pytest.raises(DomainError) as caught:
        parse(csv_bytes(["Pallet", "Weight", "Colour"], [["P1", "3kg", "red"]]))
    assert caught.value.code == "no_recognisable_column"
    assert caught.value.message.startswith("Line 1: no recognisable column")
    assert "Pallet, Weight, Colour" in caught.value.message


def test_wrong_encoding_names_the_line():
    good = csv_bytes(["ASIN", "Title"], [["B07XSCCZYG", "Suitcase"]])
    data = good + b"B01DJLKZBA,Bad \x81 byte\n"  # 0x81: undefined in Windows-1252, invalid UTF-8 here
    with pytest.raises(DomainError) as caught:
        parse(data)
    assert caught.value.code == "wrong_encoding"
    assert caught.value.message.startswith("Line 3:")


def test_utf16_is_a_wrong_encoding():
    data = "ASIN,Title\r\nB07XSCCZYG,Suitcase\r\n".encode("utf-16")
    with pytest.raises(DomainError) as caught:
        parse(data)
    assert caught.value.code == "wrong_encoding"
    assert "UTF-16" in caught.value.message


def test_over_the_size_limit_is_refused_before_reading():
    class Unreadable(io.BytesIO):
        def read(self, *args):
            raise AssertionError("read")

    with pytest.raises(TooLargeError) as caught:
        parse_manifest(Unreadable(), size=MAX + 1, filename="big.csv", max_bytes=MAX, max_lines=10)
    assert caught.value.code == "file_too_large"
    assert "the limit is 50 MB" in caught.value.message


@pytest.mark.parametrize("data", [b"", b"   \n\n"])
def test_an_empty_file(data):
    with pytest.raises(DomainError) as caught:
        parse(data)
    assert caught.value.code == "empty_file"


def test_a_header_without_lines_is_empty():
    with pytest.raises(DomainError) as caught:
        parse(b"ASIN,Title,Qty\n\n")
    assert caught.value.code == "empty_file"
    assert caught.value.message.startswith("Line 1:")


def test_too_many_lines_names_the_line():
    rows = products(4)
    with pytest.raises(DomainError) as caught:
        parse(csv_bytes(["ASIN"], [[r["asin"]] for r in rows]), max_lines=3)
    assert caught.value.code == "too_many_lines"
    assert caught.value.message.startswith("Line 5:")


def test_a_broken_xlsx_is_a_clear_error():
    with pytest.raises(DomainError) as caught:
        parse(b"PK\x03\x04 not really a zip", filename="lot.xlsx")
    assert caught.value.code == "unreadable_spreadsheet"


def test_unit_retail_with_currency_signs_and_bad_values():
    parsed = parse(
        csv_bytes(
            ["ASIN", "MSRP"], [["B07XSCCZYG", "$1,299.50"], ["B01DJLKZBA", "n/a"], ["B0000000AA", "-4"]]
        )
    )
    assert parsed.lines[0].unit_retail == Decimal("1299.50")
    assert parsed.lines[1].error == "Line 3: the unit retail 'n/a' is not a price."
    assert parsed.lines[2].error == "Line 4: the unit retail -4 is negative."


def test_unit_retail_with_a_decimal_comma_is_not_a_hundred_times_more():
    parsed = parse(csv_bytes(["ASIN", "MSRP"], [["B07XSCCZYG", "4,50 €"], ["B01DJLKZBA", "1.299,00"]]))
    assert [line.unit_retail for line in parsed.lines] == [Decimal("4.50"), Decimal("1299.00")]
