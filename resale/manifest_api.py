"""The manifests API: thin views over resale/manifests.py and selectors.py."""

from __future__ import annotations

from django.http import HttpResponseBase
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.parsers import MultiPartParser
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.types import AuthedRequest
from core.api_errors import ErrorSerializer
from core.pagination import Pagination, paginated_response
from core.parsers import BoundedJSONParser
from core.renderers import CSVRenderer, JSONOrCSVApi
from core.schema import NO_INPUT
from core.throttling import metered_operation
from credits.metering import insufficient_credits_response
from resale import manifest_exports, manifests
from resale import manifest_selectors as selectors
from resale.manifest_conf import manifest_settings
from resale.manifest_files import check_manifest_size, manifest_error
from resale.manifest_serializers import (
    ManifestDetailSerializer,
    ManifestLineSerializer,
    ManifestSerializer,
    ManifestUploadInputSerializer,
)
from resale.models import Manifest

TAGS = ["manifests"]
_MULTIPART_ALLOWANCE = 64 * 1024
SORT = OpenApiParameter(
    "sort",
    OpenApiTypes.STR,
    description="A column (`line`, `profit`, `roi`, `resale_value`, `sale_price`, `quantity`, "
    "`allocated_cost`, `status`, `title`, `monthly_sold`, `rank_drops_30`, `rank_drops_90`), `-` first "
    "for descending; empty values last. Default `line`.",
)
STATUS = OpenApiParameter(
    "status", OpenApiTypes.STR, description="Only lines in this status (rejected, pending, priced, ...)."
)
EXPORT_FORMAT = OpenApiParameter("format", OpenApiTypes.STR, enum=list(manifest_exports.FORMATS))


def _manifest(request: AuthedRequest, manifest_id: int) -> Manifest:
    return selectors.manifest_get(user=request.user, manifest_id=manifest_id)


def _detail(manifest: Manifest, status: int = 200) -> Response:
    manifest = Manifest.objects.select_related("job", "job__hold").get(pk=manifest.pk)
    manifests.manifest_refresh(manifest=manifest)
    response = Response(ManifestDetailSerializer(manifest).data, status=status)
    if status in (201, 202):
        response["Location"] = f"/api/v1/manifests/{manifest.pk}"
    return response


class ManifestListCreateApi(APIView):
    parser_classes = [MultiPartParser]
    pagination_class = Pagination

    @extend_schema(operation_id="manifests_list", tags=TAGS, responses=ManifestSerializer(many=True))
    def get(self, request: AuthedRequest) -> Response:
        return paginated_response(
            queryset=selectors.manifest_list(user=request.user),
            serializer_class=ManifestSerializer,
            request=request,
            view=self,
        )

    @extend_schema(
        operation_id="manifests_create",
        tags=TAGS,
        request={"multipart/form-data": ManifestUploadInputSerializer},
        responses={
            201: OpenApiResponse(
                ManifestDetailSerializer, description="The manifest, read: a draft with its `cost`."
            ),
            202: OpenApiResponse(
                ManifestDetailSerializer, description="With `start`: the manifest, running."
            ),
            400: OpenApiResponse(
                ErrorSerializer,
                description="Nothing created, nothing charged: empty, no recognisable column "
                "(`no_recognisable_column`), `wrong_encoding`, malformed, too many lines, a bad lot price. "
                "The message names the line.",
            ),
            402: insufficient_credits_response(
                "With `start`: not enough credits for every line; the draft is kept."
            ),
            413: OpenApiResponse(
                ErrorSerializer, description="Over MANIFEST_MAX_UPLOAD_BYTES, refused before it is read."
            ),
        },
        description=(
            "Read a liquidation manifest (CSV or XLSX) with its lot price. Lines with bad input (a "
            "negative or non-numeric quantity, no identifier) are rejected with their line number and "
            "never charged. The draft shows `cost` (accepted lines x the `manifest_line` price); start it "
            "with `POST /api/v1/manifests/{id}/start`, or send `start=true` here."
        ),
    )
    @metered_operation
    def post(self, request: AuthedRequest) -> Response:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
        check_manifest_size(
            max(0, length - _MULTIPART_ALLOWANCE), max_bytes=manifest_settings().max_upload_bytes
        )
        if "file" not in request.FILES:
            raise manifest_error("no_file", "Upload the manifest in the `file` field.")
        upload = ManifestUploadInputSerializer(data=request.data)
        upload.is_valid(raise_exception=True)
        file = upload.validated_data["file"]
        manifest = manifests.manifest_create(
            user=request.user,
            file=file,
            size=file.size,
            filename=file.name or "",
            lot_price=upload.validated_data["lot_price"],
            marketplace=upload.validated_data["marketplace"],
        )
        if upload.validated_data["start"]:
            manifests.manifest_start(manifest=manifest)
            return _detail(manifest, status=202)
        return _detail(manifest, status=201)


class ManifestDetailApi(APIView):
    @extend_schema(
        operation_id="manifests_get",
        tags=TAGS,
        responses=ManifestDetailSerializer,
        description="The manifest, its job's progress and its totals at the lot price (so far, while "
        "it runs).",
    )
    def get(self, request: AuthedRequest, manifest_id: int) -> Response:
        return _detail(_manifest(request, manifest_id))

    @extend_schema(
        operation_id="manifests_delete",
        tags=TAGS,
        responses={
            204: None,
            409: OpenApiResponse(
                ErrorSerializer, description="Still running (`manifest_running`): cancel its job first."
            ),
        },
        description="Delete a draft or a finished manifest and its lines. Credits are not affected: a "
        "draft was never charged, a finished manifest's charges stay in the ledger and its job's "
        "results stay with the job.",
    )
    def delete(self, request: AuthedRequest, manifest_id: int) -> Response:
        manifests.manifest_delete(manifest=_manifest(request, manifest_id))
        return Response(status=204)


class ManifestStartApi(APIView):
    parser_classes = [BoundedJSONParser]

    @extend_schema(
        operation_id="manifests_start",
        tags=TAGS,
        request=NO_INPUT,
        responses={
            202: OpenApiResponse(
                ManifestDetailSerializer, description="Running; starting it again returns the same job."
            ),
            402: insufficient_credits_response(
                "Not enough credits for every accepted line; nothing started."
            ),
            409: OpenApiResponse(ErrorSerializer, description="Every line was rejected."),
        },
        description="Run the manifest as a bulk job: `cost` credits are held, each line resolved, priced "
        "and costed is charged, the rest given back when it ends.",
    )
    @metered_operation
    def post(self, request: AuthedRequest, manifest_id: int) -> Response:
        manifest = _manifest(request, manifest_id)
        manifests.manifest_start(manifest=manifest)
        return _detail(manifest, status=202)


class ManifestLinesApi(APIView):
    pagination_class = Pagination

    @extend_schema(
        operation_id="manifests_lines",
        tags=TAGS,
        parameters=[SORT, STATUS],
        responses={
            200: ManifestLineSerializer(many=True),
            400: OpenApiResponse(ErrorSerializer, description="An unknown `status` (`invalid_status`)."),
        },
        description="The manifest's lines with their results, sorted on the server.",
    )
    def get(self, request: AuthedRequest, manifest_id: int) -> Response:
        manifest = _manifest(request, manifest_id)
        manifests.manifest_refresh(manifest=manifest)
        return paginated_response(
            queryset=selectors.manifest_lines(
                manifest=manifest,
                sort=request.query_params.get("sort", ""),
                status=request.query_params.get("status", ""),
            ),
            serializer_class=ManifestLineSerializer,
            request=request,
            view=self,
        )


class XLSXRenderer(CSVRenderer):
    """Lets content negotiation accept ``?format=xlsx`` (errors still go out as JSON)."""

    media_type = manifest_exports.XLSX_CONTENT_TYPE
    format = "xlsx"
    charset = None  # type: ignore[assignment]


class ManifestExportApi(JSONOrCSVApi):
    renderer_classes = (JSONRenderer, CSVRenderer, XLSXRenderer)  # type: ignore[assignment]

    @extend_schema(
        operation_id="manifests_export",
        tags=TAGS,
        parameters=[EXPORT_FORMAT, SORT],
        responses={
            (200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="Every line, one row each."),
            (200, manifest_exports.XLSX_CONTENT_TYPE): OpenApiResponse(
                OpenApiTypes.BINARY, description="The same as XLSX."
            ),
        },
        description="Every line with its results, as CSV (default) or XLSX; cells a spreadsheet would run "
        "are escaped.",
    )
    def get(self, request: AuthedRequest, manifest_id: int) -> HttpResponseBase:
        manifest = _manifest(request, manifest_id)
        manifests.manifest_refresh(manifest=manifest)
        fmt = "xlsx" if request.accepted_renderer.format == "xlsx" else "csv"
        return manifest_exports.manifest_export_response(
            manifest, fmt=fmt, sort=selectors.clean_sort(request.query_params.get("sort"))
        )
