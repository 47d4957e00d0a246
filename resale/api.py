"""The resale API: profit of one product (metered) and the user's saved defaults."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.types import AuthedRequest
from core.api_errors import ErrorSerializer
from core.throttling import metered_operation
from credits.metering import insufficient_credits_response, metered_headers
from resale import services
from resale.selectors import resale_defaults_get
from resale.serializers import (
    DefaultsInputSerializer,
    DefaultsSerializer,
    ProfitInputSerializer,
    ProfitOutputSerializer,
    defaults_data,
    profit_data,
)


class ProfitApi(APIView):
    @extend_schema(
        operation_id="products_profit",
        tags=["products"],
        request=ProfitInputSerializer,
        responses={
            200: ProfitOutputSerializer,
            400: OpenApiResponse(
                ErrorSerializer, description="Bad ASIN, marketplace, cost, quantity or override."
            ),
            402: insufficient_credits_response(),
            404: OpenApiResponse(ErrorSerializer, description="No such product; the charge was refunded."),
            503: OpenApiResponse(
                ErrorSerializer, description="Upstream unavailable (see Retry-After); refunded."
            ),
        },
        description=(
            "Profit, margin, ROI, break-even buy cost and the most to pay for the target ROI of buying "
            "`quantity` units of an ASIN at `cost` each and selling them at the landed buy box, after "
            "Amazon's fees (FBA) and the saved defaults (`overrides` replace some for this call). Priced "
            "as one product lookup (`asin_lookup`); free again for the same ASIN and marketplace while the "
            "product data is fresh (`credits_charged` 0); refunded when nothing is delivered (404, 503, "
            "or `status` `fees_unavailable`). Amounts are decimal strings in the marketplace's currency, "
            "rounded half up to its minor unit; see docs/resale.md. Header `X-Credits-Remaining`."
        ),
    )
    @metered_operation
    def post(self, request: AuthedRequest) -> Response:
        data = ProfitInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values: dict[str, Any] = data.validated_data
        answer = services.product_profit(
            user=request.user,
            asin=values["asin"],
            marketplace=values["marketplace"],
            cost=values["cost"],
            quantity=values["quantity"],
            overrides=values.get("overrides"),
        )
        response = Response(profit_data(answer))
        if answer.credits_remaining is not None:
            metered_headers(response, credits_remaining=answer.credits_remaining)
        return response


class DefaultsApi(APIView):
    @extend_schema(
        operation_id="resale_defaults_get",
        tags=["resale"],
        responses={200: DefaultsSerializer},
        description="The saved defaults every profit calculation uses.",
    )
    def get(self, request: AuthedRequest) -> Response:
        return Response(defaults_data(resale_defaults_get(user=request.user)))

    @extend_schema(
        operation_id="resale_defaults_update",
        tags=["resale"],
        request=DefaultsInputSerializer,
        responses={
            200: DefaultsSerializer,
            400: OpenApiResponse(ErrorSerializer, description="A bad value."),
        },
        description="Replace the given defaults (the others keep their values); answers them all.",
    )
    def put(self, request: AuthedRequest) -> Response:
        data = DefaultsInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        costs = services.resale_defaults_update(user=request.user, **data.validated_data)
        return Response(defaults_data(costs))
