"""The scheduled collections API: thin views over services.py and selectors.py."""

from __future__ import annotations

from typing import Any

from django.http import HttpResponseBase
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.types import AuthedRequest
from core.api_errors import ErrorSerializer
from core.pagination import Pagination, paginated_response
from core.renderers import JSONOrCSVApi
from core.schema import NO_INPUT
from core.throttling import metered_operation
from credits.metering import insufficient_credits_response
from jobs.bulk.api import RESULTS_FORMAT, TOO_LARGE, negotiated_results
from jobs.bulk.conf import bulk_settings
from jobs.bulk.serializers import BulkJobResultsSerializer
from jobs.bulk.uploads import check_request_size
from jobs.collections import selectors, services
from jobs.collections.serializers import (
    CollectionCreateSerializer,
    CollectionDetailSerializer,
    CollectionPatchSerializer,
    CollectionPreviewSerializer,
    CollectionRunSerializer,
    CollectionSerializer,
)
from jobs.models import Collection

TAGS = ["collections"]
INVALID_INPUT = OpenApiResponse(
    ErrorSerializer,
    description="Invalid input: an unknown kind, schedule or marketplace, no name, too many items, or "
    "invalid items (listed in `detail.rows`).",
)


def _collection(request: AuthedRequest, collection_id: int) -> Collection:
    return selectors.collection_get(user=request.user, collection_id=collection_id)


def _detail(collection: Collection, status_code: int = 200) -> Response:
    return Response(CollectionDetailSerializer(collection).data, status=status_code)


class CollectionListCreateApi(APIView):
    pagination_class = Pagination  # documents the paginated answer of paginated_response

    @extend_schema(
        operation_id="collections_list",
        tags=TAGS,
        responses=CollectionSerializer(many=True),
        description="The caller's collections, by name (without their items: see `GET /collections/{id}`).",
    )
    def get(self, request: AuthedRequest) -> Response:
        return paginated_response(
            queryset=selectors.collection_list(user=request.user),
            serializer_class=CollectionSerializer,
            request=request,
            view=self,
        )

    @extend_schema(
        operation_id="collections_create",
        tags=TAGS,
        request=CollectionCreateSerializer,
        responses={
            201: OpenApiResponse(CollectionDetailSerializer, description="The collection, saved."),
            200: OpenApiResponse(
                CollectionPreviewSerializer, description="With `dry_run`: the checked input and its cost."
            ),
            400: INVALID_INPUT,
            413: TOO_LARGE,
        },
        description=(
            "Save a list of ASINs or FNSKUs run as a bulk job on a schedule. `cost_per_run` is what one "
            "run holds up front (items times the kind's price); send `dry_run: true` to see it before "
            "saving. The first scheduled run is one period after creation; `POST .../run` runs at once."
        ),
    )
    def post(self, request: AuthedRequest) -> Response:
        check_request_size(
            int(request.META.get("CONTENT_LENGTH") or 0), max_bytes=bulk_settings().max_upload_bytes
        )
        serializer = CollectionCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data: dict[str, Any] = dict(serializer.validated_data)
        if data.pop("dry_run"):
            preview = services.collection_preview(**data)
            cost = preview.cost
            body = {
                "name": preview.name,
                "kind": preview.kind,
                "marketplace": preview.marketplace,
                "schedule": preview.schedule,
                "items": preview.items,
                "cost_per_run": {
                    "items": cost.items,
                    "price": cost.price,
                    "total": cost.total,
                    "operation": cost.operation,
                },
            }
            return Response(CollectionPreviewSerializer(body).data)
        collection = services.collection_create(user=request.user, **data)
        response = _detail(collection, status.HTTP_201_CREATED)
        response["Location"] = f"/api/v1/collections/{collection.pk}"
        return response


class CollectionDetailApi(APIView):
    @extend_schema(operation_id="collections_retrieve", tags=TAGS, responses=CollectionDetailSerializer)
    def get(self, request: AuthedRequest, collection_id: int) -> Response:
        return _detail(_collection(request, collection_id))

    @extend_schema(
        operation_id="collections_update",
        tags=TAGS,
        request=CollectionPatchSerializer,
        responses={200: CollectionDetailSerializer, 400: INVALID_INPUT},
        description=(
            "Change what is sent. A new `kind` checks the items again; a new `schedule` counts its "
            "periods from now. Runs already started are not changed."
        ),
    )
    def patch(self, request: AuthedRequest, collection_id: int) -> Response:
        collection = _collection(request, collection_id)
        serializer = CollectionPatchSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return _detail(services.collection_update(collection=collection, **serializer.validated_data))

    @extend_schema(
        operation_id="collections_destroy",
        tags=TAGS,
        responses={204: None},
        description="Delete the collection and its run history; jobs already started stay under bulk jobs.",
    )
    def delete(self, request: AuthedRequest, collection_id: int) -> Response:
        services.collection_delete(collection=_collection(request, collection_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class CollectionRunNowApi(APIView):
    @extend_schema(
        operation_id="collections_run",
        tags=TAGS,
        request=NO_INPUT,
        responses={
            202: OpenApiResponse(
                CollectionRunSerializer, description="The run, started: its bulk job is queued."
            ),
            402: insufficient_credits_response(
                "The balance cannot cover the run: it is recorded as skipped (`detail.run`) and "
                "nothing is charged."
            ),
            409: OpenApiResponse(
                ErrorSerializer, description="A run of this collection is still in progress."
            ),
        },
        description=(
            "Run the collection now, whatever its schedule; the credits for every item are held up front."
        ),
    )
    @metered_operation
    def post(self, request: AuthedRequest, collection_id: int) -> Response:
        run = services.collection_run_now(collection=_collection(request, collection_id))
        run = selectors.collection_run_get(collection=run.collection, run_id=run.pk)
        return Response(CollectionRunSerializer(run).data, status=status.HTTP_202_ACCEPTED)


class CollectionRunListApi(APIView):
    pagination_class = Pagination  # documents the paginated answer of paginated_response

    @extend_schema(
        operation_id="collections_runs",
        tags=TAGS,
        responses=CollectionRunSerializer(many=True),
        description="The collection's runs, newest first: skipped ones with their reason, started ones with "
        "their bulk job and links to download the results while they are kept.",
    )
    def get(self, request: AuthedRequest, collection_id: int) -> Response:
        return paginated_response(
            queryset=selectors.collection_run_list(collection=_collection(request, collection_id)),
            serializer_class=CollectionRunSerializer,
            request=request,
            view=self,
        )


class CollectionRunResultsApi(JSONOrCSVApi):
    @extend_schema(
        operation_id="collections_run_results",
        tags=TAGS,
        parameters=[RESULTS_FORMAT],
        responses={
            (200, "application/json"): OpenApiResponse(
                BulkJobResultsSerializer,
                description="The run's job, then every item of it, as the bulk job results "
                "(`job`, `results`).",
            ),
            (200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="Every item, one CSV row each."),
            410: OpenApiResponse(ErrorSerializer, description="The results were deleted (retention)."),
        },
        description="The run's results, as `GET /api/v1/products/bulk/{id}/results`; streamed.",
    )
    def get(self, request: AuthedRequest, collection_id: int, run_id: int) -> HttpResponseBase:
        run = selectors.collection_run_get(collection=_collection(request, collection_id), run_id=run_id)
        return negotiated_results(request, selectors.collection_run_results_job(run=run))
