"""The API's JSON parser, bounded in size and nesting depth.

DRF's own parser reads the whole body however large (Django's
DATA_UPLOAD_MAX_MEMORY_SIZE applies to ``request.body``, which DRF does not
use) and leaves nesting to the json module's recursion limit. This one refuses
a body over ``API_JSON_MAX_BYTES`` with 413 before reading it when the
Content-Length says so, and otherwise after reading one byte more than the
limit; and refuses nesting deeper than ``API_JSON_MAX_DEPTH`` with 400 before
parsing, by a scan that recurses nowhere.
"""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Mapping
from typing import IO, Any

from django.conf import settings
from rest_framework import status
from rest_framework.exceptions import APIException, ParseError
from rest_framework.parsers import JSONParser

# A string (its brackets are text, not structure) or one bracket.
_TOKENS = re.compile(rb'"(?:[^"\\]|\\.)*"|[\[\]{}]', re.DOTALL)
_OPENING = frozenset(b"[{")


class RequestTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "request_too_large"
    default_detail = "The request body is too large."


def json_depth_exceeds(body: bytes, max_depth: int) -> bool:
    """Whether any value in ``body`` is nested deeper than ``max_depth`` arrays/objects."""
    if body.count(b"[") + body.count(b"{") <= max_depth:
        return False  # the common case, decided at C speed
    depth = 0
    for match in _TOKENS.finditer(body):
        first = match.group()[0]
        if first in _OPENING:
            depth += 1
            if depth > max_depth:
                return True
        elif first != 0x22:  # a closing bracket; strings are skipped
            depth -= 1
    return False


class BoundedJSONParser(JSONParser):
    def parse(
        self,
        stream: IO[Any] | None,
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> Any:
        if stream is None:
            return None
        max_bytes: int = settings.API_JSON_MAX_BYTES
        too_large = RequestTooLarge(f"The request body is larger than {max_bytes} bytes.")
        request = (parser_context or {}).get("request")
        declared = request.META.get("CONTENT_LENGTH") if request is not None else None
        if declared and declared.isdigit() and int(declared) > max_bytes:
            raise too_large
        body = stream.read(max_bytes + 1)
        if len(body) > max_bytes:
            raise too_large
        max_depth: int = settings.API_JSON_MAX_DEPTH
        if json_depth_exceeds(body, max_depth):
            raise ParseError(f"JSON nested deeper than {max_depth} levels.")
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        try:
            text = codecs.decode(body, encoding)
            return json.loads(text, parse_constant=self._refuse_constant)
        except ValueError as exc:
            raise ParseError(f"JSON parse error - {exc}") from None

    @staticmethod
    def _refuse_constant(name: str) -> Any:
        # NaN and Infinity are not JSON (DRF's strict mode refuses them too).
        raise ValueError(f"{name} is not valid JSON")
