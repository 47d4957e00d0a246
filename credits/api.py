from django.http import HttpResponseBase
from django.utils import timezone
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.types import AuthedRequest
from core.pagination import Pagination, paginated_response
from core.renderers import JSONOrCSVApi
from credits import selectors, services
from credits.exports import ledger_csv_response
from credits.filters import LedgerEntryFilter
from credits.models import LedgerEntry
from credits.serializers import (
    BalanceSerializer,
    LedgerEntrySerializer,
    PriceSerializer,
    UsageInputSerializer,
    UsageSerializer,
)


class BalanceApi(APIView):
    @extend_schema(operation_id="credits_balance", responses=BalanceSerializer, tags=["credits"])
    def get(self, request: AuthedRequest) -> Response:
        account = services.credits_account_open(user=request.user)
        data = {
            "balance": account.balance,
            "held": selectors.held_total(account=account),
            "low_balance_threshold": account.low_balance_threshold,
            "low_balance": account.is_low,
        }
        return Response(BalanceSerializer(data).data)


class TransactionListApi(JSONOrCSVApi):
    pagination_class = Pagination
    # Read by drf-spectacular to document the filters; get() applies them itself.
    filter_backends = (DjangoFilterBackend,)
    filterset_class = LedgerEntryFilter
    queryset = LedgerEntry.objects.none()

    @extend_schema(
        operation_id="credits_transactions",
        parameters=[
            OpenApiParameter(
                "format",
                OpenApiTypes.STR,
                enum=["json", "csv"],
                description="`csv`: every matching entry as a CSV download (no pagination).",
            ),
        ],
        filters=True,
        description=(
            "The caller's ledger entries, newest first, paginated. With `format=csv` (or "
            "`Accept: text/csv`): every matching entry as a CSV download, without pagination."
        ),
        responses=LedgerEntrySerializer(many=True),
        tags=["credits"],
    )
    def get(self, request: AuthedRequest) -> HttpResponseBase:
        filterset = LedgerEntryFilter(
            request.query_params, queryset=selectors.ledger_entry_list(user=request.user), request=request
        )
        if not filterset.is_valid():
            raise exceptions.ValidationError(filterset.errors)
        if self.wants_csv(request):
            filename = f"credits-{timezone.now():%Y%m%d-%H%M%S}.csv"
            return ledger_csv_response(filterset.qs, filename=filename)
        return paginated_response(
            queryset=filterset.qs, serializer_class=LedgerEntrySerializer, request=request, view=self
        )


class UsageApi(APIView):
    @extend_schema(
        operation_id="credits_usage",
        parameters=[UsageInputSerializer],
        responses=UsageSerializer,
        tags=["credits"],
    )
    def get(self, request: AuthedRequest) -> Response:
        params = UsageInputSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        summary = selectors.usage_summary(user=request.user, days=params.validated_data["days"])
        return Response(UsageSerializer(summary).data)


class PriceListApi(APIView):
    @extend_schema(operation_id="credits_prices", responses=PriceSerializer(many=True), tags=["credits"])
    def get(self, request: AuthedRequest) -> Response:
        return Response(PriceSerializer(selectors.price_list(), many=True).data)
