import csv
import io

from core.csv_export import csv_cell, csv_lines, csv_response, csv_streaming_response


def test_cells_a_spreadsheet_would_run_are_escaped():
    for formula in ("=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx"):
        assert csv_cell(formula) == f"'{formula}"
    assert csv_cell("plain") == "plain"
    assert csv_cell(-5) == -5  # a number is not a formula
    assert csv_cell(None) == ""


def test_lines_come_in_batches_and_read_back():
    rows = [["a", "b"], *([i, "=x"] for i in range(5))]
    pieces = list(csv_lines(rows, batch=2))
    assert len(pieces) == 3
    assert list(csv.reader(io.StringIO("".join(pieces))))[1:3] == [["0", "'=x"], ["1", "'=x"]]


def test_responses_are_downloads_nobody_caches():
    built = csv_response([["h"], ["=cmd"]], filename="a.csv")
    streamed = csv_streaming_response(iter([["h"], ["=cmd"]]), filename="a.csv")
    assert built.content == b"".join(streamed.streaming_content) == b"h\r\n'=cmd\r\n"
    for response in (built, streamed):
        assert response["Content-Disposition"] == 'attachment; filename="a.csv"'
        assert response["Cache-Control"] == "no-store"
        assert response["Content-Type"] == "text/csv; charset=utf-8"
