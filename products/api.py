from collections.abc import Iterable, Mapping
from typing import Any

from django.http import HttpRequest, HttpResponse
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.exceptions import ValidationError
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.parsers import BaseParser
from rest_framework.permissions import IsAdminUser
from rest_framework.renderers import BaseRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.authentication import ApiKeyAuthentication
from accounts.models import User
from accounts.types import AuthedRequest
from core.api_errors import ErrorSerializer
from core.api_fast_path import ApiKeyFastPathView
from core.pagination import Pagination, paginated_response
from core.throttling import metered_operation
from credits.metering import idempotency_key_parameter, insufficient_credits_response, metered_headers
from products import selectors, services
from products.querylog import lookup_cache_stats
from products.serializers import (
    CacheStatsSerializer,
    CodeLookupInputSerializer,
    CodeLookupOutputSerializer,
    LookupLogSerializer,
    ProductLookupInputSerializer,
    ProductLookupOutputSerializer,
)


class FirstRendererNegotiation(BaseContentNegotiation):
    def select_parser(self, request: Request, parsers: Iterable[BaseParser]) -> BaseParser | None:
        return next((p for p in parsers if p.media_type == request.content_type.split(";")[0]), None)

    def select_renderer(
        self, request: Request, renderers: Iterable[BaseRenderer], format_suffix: str | None = None
    ) -> tuple[BaseRenderer, str]:
        renderer = next(iter(renderers))
        return renderer, renderer.media_type


def _lookup_input(data: object) -> tuple[str, str]:
    if not isinstance(data, Mapping):
        raise ValidationError({"non_field_errors": ["Expected a JSON object."]})
    asin = data.get("asin")
    marketplace = data.get("marketplace", "US")
    errors = {}
    if not isinstance(asin, str) or not asin.strip():
        errors["asin"] = ["This field is required and must be a string."]
    if not isinstance(marketplace, str):
        errors["marketplace"] = ["Must be a string such as US or DE."]
    if errors:
        raise ValidationError(errors)
    return asin, marketplace  # type: ignore[return-value]


class ProductLookupApi(ApiKeyFastPathView):
    # Always JSON: skip parsing the Accept header on the hot path.
    content_negotiation_class = FirstRendererNegotiation

    @extend_schema(
        operation_id="products_asin_lookup",
        tags=["products"],
        request=ProductLookupInputSerializer,
        parameters=[idempotency_key_parameter()],
        responses={
            200: ProductLookupOutputSerializer,
            402: insufficient_credits_response(),
            404: OpenApiResponse(ErrorSerializer, description="No such product; the charge was refunded."),
            409: OpenApiResponse(
                ErrorSerializer, description="Idempotency-Key in use or used for another product."
            ),
            503: OpenApiResponse(
                ErrorSerializer, description="Upstream unavailable (see Retry-After); refunded."
            ),
        },
        description=(
            "Product data for one ASIN in one marketplace, at the `asin_lookup` price. Headers: "
            "`X-Cache` (hit or miss) and `X-Credits-Remaining`."
        ),
    )
    @metered_operation
    def post(self, request: AuthedRequest) -> HttpResponse:
        # Two string fields do not need a serializer instance (its construction is a
        # third of this view's CPU); the schema above still documents
        # ProductLookupInputSerializer, and the service validates the values themselves.
        return self._lookup(request.user, request.data, request.headers.get("Idempotency-Key"))

    @staticmethod
    def _lookup(user: User, data: object, idempotency_key: str | None) -> HttpResponse:
        asin, marketplace = _lookup_input(data)
        result = services.product_lookup(
            user=user, asin=asin, marketplace=marketplace, idempotency_key=idempotency_key
        )
        response = HttpResponse(result.body(), content_type="application/json")
        response["X-Cache"] = result.cache_status
        return metered_headers(response, credits_remaining=result.credits_remaining, replayed=result.replayed)

    # --- The integrators' hot path -------------------------------------------------------
    # A JSON POST with an API key, the metered call integrators make by the thousand, skips
    # DRF's per-request machinery (core/api_fast_path.py: the same steps with the same
    # objects, errors answered by DRF's own handler). products/tests/test_lookup_fast_path.py
    # compares the two paths answer by answer.
    fast_path_authentication = ApiKeyAuthentication

    def fast_post(self, request: HttpRequest, user: Any, data: object) -> HttpResponse:
        return self._lookup(user, data, request.headers.get("Idempotency-Key"))


class ProductCodeLookupApi(APIView):
    """Lookup by barcode: the ASINs (and products) carrying an EAN, UPC or ISBN."""

    @extend_schema(
        operation_id="products_code_lookup",
        tags=["products"],
        request=CodeLookupInputSerializer,
        parameters=[idempotency_key_parameter()],
        responses={
            200: CodeLookupOutputSerializer,
            400: OpenApiResponse(
                ErrorSerializer, description="Not a valid barcode (`invalid_code`); nothing was charged."
            ),
            402: insufficient_credits_response(),
            404: OpenApiResponse(
                ErrorSerializer, description="No product carries this code; the charge was refunded."
            ),
            409: OpenApiResponse(
                ErrorSerializer, description="Idempotency-Key in use or used for another code."
            ),
            503: OpenApiResponse(
                ErrorSerializer, description="Upstream unavailable (see Retry-After); refunded."
            ),
        },
        description=(
            "The products carrying one barcode (EAN-13, EAN-8, UPC-A, ISBN-10 or ISBN-13) in one "
            "marketplace, at the `code_lookup` price: one code may belong to several ASINs. Whole "
            "records found are cached, so an ASIN lookup of a match right after is a cache hit. "
            "Headers: `X-Cache` and `X-Credits-Remaining`."
        ),
    )
    @metered_operation
    def post(self, request: AuthedRequest) -> Response:
        serializer = CodeLookupInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        result = services.product_code_lookup(
            user=request.user,
            code=serializer.validated_data["code"],
            marketplace=serializer.validated_data["marketplace"],
            idempotency_key=request.headers.get("Idempotency-Key"),
        )
        response = Response(result.body())
        response["X-Cache"] = result.cache_status
        return metered_headers(response, credits_remaining=result.credits_remaining, replayed=result.replayed)


class LookupListApi(APIView):
    pagination_class = Pagination  # documents the paginated answer of paginated_response

    @extend_schema(
        operation_id="products_lookups_list", tags=["products"], responses=LookupLogSerializer(many=True)
    )
    def get(self, request: AuthedRequest) -> Response:
        return paginated_response(
            queryset=selectors.lookup_list(user=request.user),
            serializer_class=LookupLogSerializer,
            request=request,
            view=self,
        )


class CacheStatsApi(APIView):
    permission_classes = [IsAdminUser]

    @extend_schema(operation_id="products_cache_stats", tags=["products"], responses=CacheStatsSerializer)
    def get(self, request: Request) -> Response:
        return Response({"marketplaces": lookup_cache_stats()})
