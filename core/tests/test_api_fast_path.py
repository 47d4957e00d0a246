"""The API-key fast path's contract with DRF (core/api_fast_path.py).

The fast path reproduces part of DRF's ``APIView.dispatch`` and ``initial``. It was checked
against one DRF version: on any other, this test fails on purpose. After a DRF upgrade,
re-read DRF's dispatch (initialize_request, initial: authentication, permissions, throttles;
request.data; handle_exception; finalize_response), run
products/tests/test_lookup_fast_path.py (which compares both paths answer by answer), and
only then move ``DRF_VERSION``.
"""

from __future__ import annotations

import rest_framework
from django.test import RequestFactory

from core.api_fast_path import DRF_VERSION, fast_path_applies


def test_pinned_to_the_drf_version_it_was_checked_against():
    assert rest_framework.VERSION == DRF_VERSION == "3.18.3"


def test_only_json_posts_with_a_body_and_a_key_header_apply():
    factory = RequestFactory()
    body = b'{"asin": "B08N5WRWNW"}'
    json = "application/json"

    assert fast_path_applies(factory.post("/", body, content_type=json, HTTP_AUTHORIZATION="Bearer k"))
    assert fast_path_applies(factory.post("/", body, content_type=json, HTTP_X_API_KEY="k"))
    assert not fast_path_applies(factory.post("/", body, content_type=json))  # a session, maybe
    assert not fast_path_applies(factory.post("/", b"", content_type=json, HTTP_X_API_KEY="k"))
    assert not fast_path_applies(factory.post("/", body, content_type="text/csv", HTTP_X_API_KEY="k"))
    assert not fast_path_applies(factory.get("/", HTTP_X_API_KEY="k"))
