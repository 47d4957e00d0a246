"""The watchlists API: thin views over services.py and selectors.py, every object scoped to its owner."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.types import AuthedRequest
from core.api_errors import ErrorSerializer
from core.pagination import Pagination, paginated_response
from jobs.bulk.uploads import check_upload_size, upload_error
from watchlists import selectors, services
from watchlists.models import WatchItem, Watchlist
from watchlists.serializers import (
    AlertSerializer,
    AlertsReadInputSerializer,
    AlertsReadSerializer,
    CostQuerySerializer,
    CostSerializer,
    ImportReportSerializer,
    ImportUploadSerializer,
    ItemSnapshotSerializer,
    ThresholdsSerializer,
    WatchItemInputSerializer,
    WatchItemSerializer,
    WatchlistInputSerializer,
    WatchlistPatchSerializer,
    WatchlistSerializer,
)

TAGS = ["watchlists"]
_CONFLICT = OpenApiResponse(ErrorSerializer, description="The name, or the product, is already there.")
_NO_CONTENT = OpenApiResponse(None, description="Deleted.")


def _watchlist(request: AuthedRequest, watchlist_id: int) -> Watchlist:
    return selectors.watchlist_get(user=request.user, watchlist_id=watchlist_id)


def _item(request: AuthedRequest, watchlist_id: int, item_id: int) -> WatchItem:
    return selectors.watch_item_get(watchlist=_watchlist(request, watchlist_id), item_id=item_id)


def _watchlist_response(request: AuthedRequest, watchlist_id: int, status: int = 200) -> Response:
    return Response(WatchlistSerializer(_watchlist(request, watchlist_id)).data, status=status)


def _thresholds(data: dict[str, Any]) -> dict[str, Any]:
    return {name: data[name] for name in services.THRESHOLD_FIELDS if name in data}


class WatchlistListCreateApi(APIView):
    pagination_class = Pagination

    @extend_schema(
        operation_id="watchlists_list",
        tags=TAGS,
        responses=WatchlistSerializer(many=True),
        description="The caller's watchlists, by name, each with its item count and cost per month.",
    )
    def get(self, request: AuthedRequest) -> Response:
        return paginated_response(
            queryset=selectors.watchlist_list(user=request.user),
            serializer_class=WatchlistSerializer,
            request=request,
            view=self,
        )

    @extend_schema(
        operation_id="watchlists_create",
        tags=TAGS,
        request=WatchlistInputSerializer,
        responses={201: WatchlistSerializer, 409: _CONFLICT},
        description=(
            "Create a watchlist refreshed `hourly`, `every_6h`, `daily` or `weekly`. Each refresh of "
            "each item is charged at the ASIN lookup's price; `cost.credits_per_month` says what that "
            "comes to. The first refresh is due at once."
        ),
    )
    def post(self, request: AuthedRequest) -> Response:
        serializer = WatchlistInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        watchlist = services.watchlist_create(user=request.user, **serializer.validated_data)
        response = _watchlist_response(request, watchlist.pk, status=201)
        response["Location"] = f"/api/v1/watchlists/{watchlist.pk}"
        return response


class WatchlistDetailApi(APIView):
    @extend_schema(operation_id="watchlists_get", tags=TAGS, responses=WatchlistSerializer)
    def get(self, request: AuthedRequest, watchlist_id: int) -> Response:
        return _watchlist_response(request, watchlist_id)

    @extend_schema(
        operation_id="watchlists_update",
        tags=TAGS,
        request=WatchlistPatchSerializer,
        responses={200: WatchlistSerializer, 409: _CONFLICT},
        description="Rename the watchlist or change its refresh interval.",
    )
    def patch(self, request: AuthedRequest, watchlist_id: int) -> Response:
        watchlist = _watchlist(request, watchlist_id)
        serializer = WatchlistPatchSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.watchlist_update(watchlist=watchlist, **serializer.validated_data)
        return _watchlist_response(request, watchlist_id)

    @extend_schema(
        operation_id="watchlists_delete",
        tags=TAGS,
        responses={204: _NO_CONTENT},
        description="Delete the watchlist, its items and their history (alerts stay).",
    )
    def delete(self, request: AuthedRequest, watchlist_id: int) -> Response:
        services.watchlist_delete(watchlist=_watchlist(request, watchlist_id))
        return Response(status=204)


class WatchlistCostApi(APIView):
    @extend_schema(
        operation_id="watchlists_cost_preview",
        tags=TAGS,
        parameters=[CostQuerySerializer],
        responses=CostSerializer,
        description="What `items` products refreshed every `interval` cost per 30-day month, before saving.",
    )
    def get(self, request: AuthedRequest) -> Response:
        query = CostQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        cost = selectors.watchlist_cost(**query.validated_data)
        return Response(CostSerializer(cost.as_dict()).data)


class WatchItemListCreateApi(APIView):
    pagination_class = Pagination

    @extend_schema(
        operation_id="watchlists_items_list",
        tags=TAGS,
        responses=WatchItemSerializer(many=True),
        description="The watchlist's items with their thresholds and latest values.",
    )
    def get(self, request: AuthedRequest, watchlist_id: int) -> Response:
        return paginated_response(
            queryset=selectors.watch_item_list(watchlist=_watchlist(request, watchlist_id)),
            serializer_class=WatchItemSerializer,
            request=request,
            view=self,
        )

    @extend_schema(
        operation_id="watchlists_items_create",
        tags=TAGS,
        request=WatchItemInputSerializer,
        responses={201: WatchItemSerializer, 409: _CONFLICT},
        description=(
            "Add a product (ASIN and marketplace) with optional thresholds. Prices are in the "
            "marketplace's currency; the buy box alerts need `buy_box_seller_id`."
        ),
    )
    def post(self, request: AuthedRequest, watchlist_id: int) -> Response:
        watchlist = _watchlist(request, watchlist_id)
        serializer = WatchItemInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        item = services.watch_item_add(
            watchlist=watchlist,
            asin=data["asin"],
            marketplace=data["marketplace"],
            thresholds=_thresholds(data),
        )
        item = selectors.watch_item_get(watchlist=watchlist, item_id=item.pk)
        return Response(WatchItemSerializer(item).data, status=201)


class WatchItemDetailApi(APIView):
    @extend_schema(operation_id="watchlists_items_get", tags=TAGS, responses=WatchItemSerializer)
    def get(self, request: AuthedRequest, watchlist_id: int, item_id: int) -> Response:
        return Response(WatchItemSerializer(_item(request, watchlist_id, item_id)).data)

    @extend_schema(
        operation_id="watchlists_items_update",
        tags=TAGS,
        request=ThresholdsSerializer,
        responses=WatchItemSerializer,
        description="Change thresholds; a changed threshold's alert state starts afresh.",
    )
    def patch(self, request: AuthedRequest, watchlist_id: int, item_id: int) -> Response:
        item = _item(request, watchlist_id, item_id)
        serializer = ThresholdsSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.watch_item_update(item=item, thresholds=_thresholds(serializer.validated_data))
        return Response(WatchItemSerializer(_item(request, watchlist_id, item_id)).data)

    @extend_schema(operation_id="watchlists_items_delete", tags=TAGS, responses={204: _NO_CONTENT})
    def delete(self, request: AuthedRequest, watchlist_id: int, item_id: int) -> Response:
        services.watch_item_delete(item=_item(request, watchlist_id, item_id))
        return Response(status=204)


class WatchItemSnapshotsApi(APIView):
    pagination_class = Pagination

    @extend_schema(
        operation_id="watchlists_items_snapshots",
        tags=TAGS,
        responses=ItemSnapshotSerializer(many=True),
        description="The item's refreshes, newest first: values seen, or why it was skipped or failed.",
    )
    def get(self, request: AuthedRequest, watchlist_id: int, item_id: int) -> Response:
        item = _item(request, watchlist_id, item_id)
        return paginated_response(
            queryset=item.snapshots.order_by("-slot"),
            serializer_class=ItemSnapshotSerializer,
            request=request,
            view=self,
        )


class WatchlistImportApi(APIView):
    parser_classes = [MultiPartParser]

    @extend_schema(
        operation_id="watchlists_import",
        tags=TAGS,
        request={"multipart/form-data": ImportUploadSerializer},
        responses={
            200: OpenApiResponse(
                ImportReportSerializer,
                description="Rows added, rows that updated a listed product, and each bad row's error.",
            ),
            400: OpenApiResponse(
                ErrorSerializer,
                description=(
                    "Nothing imported: a file binary, malformed, without an `asin` header, or too long."
                ),
            ),
            413: OpenApiResponse(
                ErrorSerializer,
                description="Nothing imported: the file is over the size limit (`file_too_large`).",
            ),
        },
        description="Add products from a CSV; good rows are added even when others are reported as errors.",
    )
    def post(self, request: AuthedRequest, watchlist_id: int) -> Response:
        watchlist = _watchlist(request, watchlist_id)
        if "file" not in request.FILES:
            raise upload_error("no_file", "Upload a CSV file in the `file` field.")
        upload = ImportUploadSerializer(data=request.data)
        upload.is_valid(raise_exception=True)
        file = upload.validated_data["file"]
        check_upload_size(file.size or 0, max_bytes=settings.WATCHLIST_IMPORT_MAX_BYTES)
        report = services.watchlist_import_csv(watchlist=watchlist, data=file.read())
        return Response(
            ImportReportSerializer(
                {
                    "added": report.added,
                    "updated": report.updated,
                    "row_errors": report.errors,
                    "watchlist": _watchlist(request, watchlist_id),
                }
            ).data
        )


class AlertListApi(APIView):
    pagination_class = Pagination

    @extend_schema(
        operation_id="watchlists_alerts_list",
        tags=TAGS,
        parameters=[
            OpenApiParameter("unread", OpenApiTypes.BOOL, description="Only alerts not marked read."),
        ],
        responses=AlertSerializer(many=True),
        description="The caller's alerts, newest first.",
    )
    def get(self, request: AuthedRequest) -> Response:
        unread = request.query_params.get("unread", "").lower() in ("1", "true", "yes")
        return paginated_response(
            queryset=selectors.alert_list(user=request.user, unread=unread),
            serializer_class=AlertSerializer,
            request=request,
            view=self,
        )


class AlertsReadApi(APIView):
    @extend_schema(
        operation_id="watchlists_alerts_mark_read",
        tags=TAGS,
        request=AlertsReadInputSerializer,
        responses=AlertsReadSerializer,
        description="Mark the given alerts (or, without `ids`, all of them) read.",
    )
    def post(self, request: AuthedRequest) -> Response:
        serializer = AlertsReadInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        marked = services.alerts_mark_read(user=request.user, alert_ids=serializer.validated_data.get("ids"))
        return Response({"marked": marked})
