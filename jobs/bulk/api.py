"""The bulk jobs API: thin views over jobs/bulk/services.py and selectors.py."""

from __future__ import annotations

from typing import Any

from django.http import HttpResponseBase
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.types import AuthedRequest
from core.api_errors import ErrorSerializer
from core.pagination import Pagination, paginated_response
from core.parsers import BoundedJSONParser
from core.renderers import JSONOrCSVApi
from core.schema import NO_INPUT
from core.throttling import metered_operation
from credits.metering import idempotency_key_parameter, insufficient_credits_response
from jobs.bulk import exports, selectors, services
from jobs.bulk.asin_lookup import ASIN_LOOKUP
from jobs.bulk.conf import bulk_settings
from jobs.bulk.serializers import (
    BulkJobCreateInputSerializer,
    BulkJobResultsSerializer,
    BulkJobSerializer,
    BulkJobUploadInputSerializer,
)
from jobs.bulk.uploads import check_request_size, check_upload_size, upload_error
from jobs.models import BulkJob

TAGS = ["bulk jobs"]
IDEMPOTENCY_KEY = idempotency_key_parameter(
    "Sending the same job again with the same key returns the first job instead of a second one."
)
TOO_LARGE = OpenApiResponse(
    ErrorSerializer,
    description="Nothing created, nothing charged: over the size limit, refused before it is read "
    "(`file_too_large` for a CSV upload, `request_too_large` for a JSON body).",
)
RESULTS_FORMAT = OpenApiParameter(
    "format", OpenApiTypes.STR, enum=list(exports.FORMATS), description="`json` (default) or `csv`."
)
# Above a file of the maximum size: the multipart envelope and the other fields.
_MULTIPART_ALLOWANCE = 64 * 1024


def _job(request: AuthedRequest, job_id: int) -> BulkJob:
    return selectors.bulk_job_get(user=request.user, job_id=job_id)


def bulk_job_create_from_request(
    request: AuthedRequest,
    *,
    kind: str,
    list_serializer: type[serializers.Serializer[Any]],
    list_field: str,
    upload_serializer: type[serializers.Serializer[Any]],
) -> BulkJob:
    """A job of ``kind`` from an API request: a multipart CSV ``file`` or a JSON list in
    ``list_field`` (both with ``marketplace``, and a ``kind`` offered with ``kind`` when the
    serializers have that field); shared by every kind's create endpoint."""
    idempotency_key = request.headers.get("Idempotency-Key", "")
    # Refused before the body is read when it cannot be within the limit.
    length = int(request.META.get("CONTENT_LENGTH") or 0)
    max_bytes = bulk_settings().max_upload_bytes
    if request.content_type.startswith("multipart/"):
        check_upload_size(max(0, length - _MULTIPART_ALLOWANCE), max_bytes=max_bytes)
        if "file" not in request.FILES:
            raise upload_error("no_file", "Upload a CSV file in the `file` field.")
        upload = upload_serializer(data=request.data)
        upload.is_valid(raise_exception=True)
        file = upload.validated_data["file"]
        return services.bulk_job_create_from_csv(
            user=request.user,
            kind=upload.validated_data.get("kind") or kind,
            file=file,
            size=file.size,
            filename=file.name or "",
            params={"marketplace": upload.validated_data["marketplace"]},
            idempotency_key=idempotency_key,
        )
    check_request_size(length, max_bytes=max_bytes)
    serializer = list_serializer(data=request.data)
    serializer.is_valid(raise_exception=True)
    return services.bulk_job_create_from_list(
        user=request.user,
        kind=serializer.validated_data.get("kind") or kind,
        values=serializer.validated_data[list_field],
        params={"marketplace": serializer.validated_data["marketplace"]},
        idempotency_key=idempotency_key,
    )


def job_response(job: BulkJob, status: int = 200) -> Response:
    job = BulkJob.objects.select_related("hold").get(pk=job.pk)
    response = Response(BulkJobSerializer(job).data, status=status)
    if status == 202:
        response["Location"] = f"/api/v1/products/bulk/{job.pk}"
    return response


class BulkJobListCreateApi(APIView):
    parser_classes = [BoundedJSONParser, MultiPartParser]
    pagination_class = Pagination

    @extend_schema(
        operation_id="products_bulk_list",
        tags=TAGS,
        responses=BulkJobSerializer(many=True),
        description="The caller's bulk jobs, newest first.",
    )
    def get(self, request: AuthedRequest) -> Response:
        return paginated_response(
            queryset=selectors.bulk_job_list(user=request.user).select_related("hold"),
            serializer_class=BulkJobSerializer,
            request=request,
            view=self,
        )

    @extend_schema(
        operation_id="products_bulk_create",
        tags=TAGS,
        request={
            "application/json": BulkJobCreateInputSerializer,
            "multipart/form-data": BulkJobUploadInputSerializer,
        },
        parameters=[IDEMPOTENCY_KEY],
        responses={
            202: OpenApiResponse(BulkJobSerializer, description="The job, queued."),
            400: OpenApiResponse(
                ErrorSerializer,
                description=(
                    "Nothing created, nothing charged: a file with too many rows, empty, binary, "
                    "undecodable or malformed; or no valid ASIN (the invalid rows are in `detail.rows`)."
                ),
            ),
            402: insufficient_credits_response("Not enough credits for every valid item; nothing created."),
            409: OpenApiResponse(ErrorSerializer, description="Idempotency-Key used for another job."),
            413: TOO_LARGE,
        },
        description=(
            "Look up many ASINs on the workers: a JSON list (`asins`) or a CSV upload (`file`, "
            "multipart). Credits for every valid item (`bulk_item` price) are held at once; each "
            "delivered item uses its credits and the rest are given back when the job ends. Follow "
            "the job with `GET /api/v1/products/bulk/{id}` and download its results when it is done."
        ),
    )
    @metered_operation
    def post(self, request: AuthedRequest) -> Response:
        job = bulk_job_create_from_request(
            request,
            kind=ASIN_LOOKUP,
            list_serializer=BulkJobCreateInputSerializer,
            list_field="asins",
            upload_serializer=BulkJobUploadInputSerializer,
        )
        return job_response(job, status=202)


class BulkJobDetailApi(APIView):
    @extend_schema(operation_id="products_bulk_get", tags=TAGS, responses=BulkJobSerializer)
    def get(self, request: AuthedRequest, job_id: int) -> Response:
        return job_response(_job(request, job_id))


class BulkJobCancelApi(APIView):
    @extend_schema(
        operation_id="products_bulk_cancel",
        tags=TAGS,
        request=NO_INPUT,
        responses={
            200: OpenApiResponse(
                BulkJobSerializer, description="The job, cancelled; unused credits released."
            ),
            409: OpenApiResponse(ErrorSerializer, description="The job already completed or failed."),
        },
        description="Stop the job: items not processed yet are cancelled and their credits released.",
    )
    def post(self, request: AuthedRequest, job_id: int) -> Response:
        return job_response(services.bulk_job_cancel(job=_job(request, job_id)))


class BulkJobRetryApi(APIView):
    @extend_schema(
        operation_id="products_bulk_retry",
        tags=TAGS,
        request=NO_INPUT,
        responses={
            202: OpenApiResponse(
                BulkJobSerializer, description="The job, queued again for its failed items."
            ),
            402: insufficient_credits_response("Not enough credits for the failed items."),
            409: OpenApiResponse(
                ErrorSerializer,
                description="The job is still running, nothing failed, or its results were removed.",
            ),
        },
        description="Process the failed items of a finished job again (invalid rows excepted).",
    )
    @metered_operation
    def post(self, request: AuthedRequest, job_id: int) -> Response:
        return job_response(services.bulk_job_retry(job=_job(request, job_id)), status=202)


class BulkJobResultsApi(JSONOrCSVApi):
    @extend_schema(
        operation_id="products_bulk_results",
        tags=TAGS,
        parameters=[RESULTS_FORMAT],
        responses={
            (200, "application/json"): OpenApiResponse(
                BulkJobResultsSerializer,
                description="One JSON object, streamed: `job`, the job's summary (as `GET "
                "/api/v1/products/bulk/{id}` gives it, with its `params`), then `results`, every item.",
            ),
            (200, "text/csv"): OpenApiResponse(
                OpenApiTypes.STR, description="Every item, one CSV row each, with the record's main fields."
            ),
            410: OpenApiResponse(
                ErrorSerializer,
                description="The results were removed (retention, `results_expired`); the job's "
                "`results_deleted_at` says when.",
            ),
        },
        description="The job's summary and all its items, in row order, with their result or error; "
        "streamed. Results are kept for a limited time: once removed (`results_deleted_at`), this "
        "answers 410.",
    )
    def get(self, request: AuthedRequest, job_id: int) -> HttpResponseBase:
        return negotiated_results(request, _job(request, job_id))


def negotiated_results(request: AuthedRequest, job: BulkJob) -> HttpResponseBase:
    """The job's results streamed as the CSV or JSON the request negotiated."""
    return exports.results_response(job, fmt="csv" if JSONOrCSVApi.wants_csv(request) else "json")
