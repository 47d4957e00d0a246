from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.permissions import IsAdminUser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from config.exception_handlers import ErrorSerializer
from config.pagination import paginated_response
from config.types import AuthedRequest
from products import selectors, services
from products.querylog import lookup_cache_stats
from products.serializers import (
    CacheStatsSerializer,
    LookupLogSerializer,
    ProductLookupInputSerializer,
    ProductLookupOutputSerializer,
)


class ProductLookupApi(APIView):
    @extend_schema(
        operation_id="products_asin_lookup",
        tags=["products"],
        request=ProductLookupInputSerializer,
        parameters=[
            OpenApiParameter(
                "Idempotency-Key",
                OpenApiTypes.STR,
                OpenApiParameter.HEADER,
                description="Retrying with the same key replays the first answer without a second charge.",
            )
        ],
        responses={
            200: ProductLookupOutputSerializer,
            402: OpenApiResponse(ErrorSerializer, description="Not enough credits; nothing was charged."),
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
    def post(self, request: AuthedRequest) -> HttpResponse:
        serializer = ProductLookupInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        result = services.product_lookup(
            user=request.user,
            idempotency_key=request.headers.get("Idempotency-Key"),
            **serializer.validated_data,
        )
        response = HttpResponse(result.body(), content_type="application/json")
        response["X-Cache"] = result.cache_status
        response["X-Credits-Remaining"] = str(result.credits_remaining)
        if result.replayed:
            response[services.REPLAYED_HEADER] = "true"
        return response


class LookupListApi(APIView):
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
