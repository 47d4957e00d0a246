"""Request size limits: JSON bounded in bytes (413) and depth (400), huge CSV uploads refused."""

import io
import json
import time

import pytest
from rest_framework.test import APIClient

from core.parsers import BoundedJSONParser, RequestTooLarge, json_depth_exceeds
from credits.models import LedgerEntry
from credits.selectors import balance_get
from jobs.models import BulkJob

pytestmark = pytest.mark.django_db

LOOKUP = "/api/v1/products/asin"
BULK = "/api/v1/products/bulk"


@pytest.fixture
def user_credits():
    return 10


def post_raw(api: APIClient, url: str, body: bytes, **extra):
    return api.generic("POST", url, body, content_type="application/json", **extra)


def assert_nothing_charged(user):
    assert balance_get(user=user) == 10
    assert not LedgerEntry.objects.filter(account__user=user, kind="charge").exists()


def test_a_json_body_over_the_limit_is_refused_with_413(api, user, settings):
    settings.API_JSON_MAX_BYTES = 1000
    body = json.dumps({"asin": "B08N5WRWNW", "padding": "x" * 2000}).encode()

    response = post_raw(api, LOOKUP, body)

    assert response.status_code == 413
    error = response.json()["error"]
    assert error["code"] == "request_too_large"
    assert "1000 bytes" in error["message"]
    assert_nothing_charged(user)


def test_a_stream_without_a_declared_length_is_cut_one_byte_past_the_limit(settings):
    settings.API_JSON_MAX_BYTES = 1000
    stream = io.BytesIO(b'{"padding": "' + b"x" * 100_000 + b'"}')

    with pytest.raises(RequestTooLarge):
        BoundedJSONParser().parse(stream, parser_context={})

    assert stream.tell() == 1001


def test_a_body_within_the_limit_is_parsed(api, user, settings):
    settings.API_JSON_MAX_BYTES = 1000

    response = post_raw(api, LOOKUP, json.dumps({"asin": "B08N5WRWNW"}).encode())

    assert response.status_code == 200, response.content
    assert balance_get(user=user) == 9


def test_json_nested_deeper_than_the_limit_is_refused(api, user):
    body = b'{"asin": "B08N5WRWNW", "x": ' + b"[" * 33 + b"]" * 33 + b"}"

    response = post_raw(api, LOOKUP, body)

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "parse_error"
    assert "deeper than 32" in error["message"]
    assert_nothing_charged(user)


def test_json_nested_within_the_limit_is_accepted(api, user):
    body = b'{"asin": "B08N5WRWNW", "x": ' + b"[" * 30 + b"]" * 30 + b"}"

    assert post_raw(api, LOOKUP, body).status_code == 200


def test_a_million_levels_are_refused_quickly_without_recursion(api, user, settings):
    settings.API_JSON_MAX_BYTES = 4 * 1024 * 1024
    body = b"[" * 1_000_000 + b"]" * 1_000_000

    started = time.monotonic()
    response = post_raw(api, LOOKUP, body)

    assert response.status_code == 400
    assert "deeper than 32" in response.json()["error"]["message"]
    assert time.monotonic() - started < 5
    assert_nothing_charged(user)


def test_brackets_inside_strings_are_not_nesting():
    text = json.dumps({"label": "[" * 100 + '\\"{' * 50, "list": [[1], [2]]}).encode()

    assert not json_depth_exceeds(text, 3)
    assert json_depth_exceeds(b'{"a": [[[[1]]]]}', 4)
    assert not json_depth_exceeds(b'{"a": [[[1]]]}', 4)


def test_invalid_json_is_a_400_in_the_error_shape(api, user):
    response = post_raw(api, LOOKUP, b'{"asin": NaN}')

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "parse_error"
    assert_nothing_charged(user)


def test_the_bulk_api_uses_the_bounded_parser(api, user, settings):
    settings.API_JSON_MAX_DEPTH = 2

    response = post_raw(api, BULK, json.dumps({"asins": [["B08N5WRWNW"]]}).encode())

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "parse_error"
    assert BulkJob.objects.count() == 0


def test_a_huge_csv_upload_is_refused_before_anything_is_created(api, user, settings):
    settings.BULK_MAX_UPLOAD_BYTES = 1024 * 1024
    file = io.BytesIO(b"B08N5WRWNW\n" * 300_000)  # 3.3 MB
    file.name = "asins.csv"

    response = api.post(BULK, {"file": file}, format="multipart")

    assert response.status_code == 413
    assert response.json()["error"]["code"] == "file_too_large"
    assert BulkJob.objects.count() == 0
    assert balance_get(user=user) == 10


def test_upload_limits_are_set_consciously(settings):
    assert settings.FILE_UPLOAD_MAX_MEMORY_SIZE == settings.BULK_MAX_UPLOAD_BYTES
    assert settings.DATA_UPLOAD_MAX_MEMORY_SIZE > settings.BULK_MAX_UPLOAD_BYTES
    assert settings.DATA_UPLOAD_MAX_NUMBER_FIELDS == 1000
    assert settings.API_JSON_MAX_BYTES <= settings.DATA_UPLOAD_MAX_MEMORY_SIZE
