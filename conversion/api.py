from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.types import AuthedRequest
from conversion import selectors
from conversion.bulk import BULK_KIND
from conversion.convert import conversion_body, fnsku_convert
from conversion.feedback import conversion_feedback
from conversion.labels import fnsku_convert_label
from conversion.serializers import (
    ConversionBulkInputSerializer,
    ConversionBulkUploadSerializer,
    ConversionLabelOutputSerializer,
    ConversionOutputSerializer,
    ConvertInputSerializer,
    ConvertLabelInputSerializer,
    FeedbackInputSerializer,
    FeedbackOutputSerializer,
    MappingImportInputSerializer,
    MappingImportOutputSerializer,
    MappingSerializer,
    SpApiConnectionInputSerializer,
    SpApiConnectionOutputSerializer,
    SyncInputSerializer,
)
from conversion.sources import (
    fba_inventory_sync_queue,
    inventory_report_import,
    spapi_connection_delete,
    spapi_connection_set,
)
from core.api_errors import ErrorSerializer
from core.errors import NotFoundError
from core.pagination import Pagination, paginated_response
from core.parsers import BoundedJSONParser
from core.throttling import metered_operation
from credits.metering import idempotency_key_parameter, insufficient_credits_response, metered_headers
from jobs.bulk.api import TOO_LARGE, bulk_job_create_from_request, job_response
from jobs.bulk.serializers import BulkJobSerializer
from products.marketplaces import marketplace_get

TAGS = ["conversion"]


class ConvertApi(APIView):
    @extend_schema(
        operation_id="conversion_fnsku",
        tags=TAGS,
        request=ConvertInputSerializer,
        parameters=[
            idempotency_key_parameter(
                "Retrying with the same key answers what the first request answered, charging once."
            )
        ],
        responses={
            200: ConversionOutputSerializer,
            400: OpenApiResponse(ErrorSerializer, description="Bad FNSKU (`invalid_fnsku`) or marketplace."),
            402: insufficient_credits_response(),
            404: OpenApiResponse(ErrorSerializer, description="No ASIN found (`fnsku_not_found`); refunded."),
            409: OpenApiResponse(
                ErrorSerializer,
                description="Idempotency-Key in use or used for another code, or the same conversion "
                "(code, label text, marketplace) sent earlier is still running after "
                "`CONVERSION_RESCAN_WAIT` (`conversion_in_progress`, `Retry-After`; not charged).",
            ),
            503: OpenApiResponse(ErrorSerializer, description="The sources needed are down; refunded."),
        },
        description=(
            "The ASIN of an FNSKU, with a calibrated confidence, the candidates and the evidence of each "
            "source, at the `fnsku_conversion` price. Header `X-Credits-Remaining`."
        ),
    )
    @metered_operation
    def post(self, request: AuthedRequest) -> Response:
        serializer = ConvertInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        result = fnsku_convert(
            user=request.user,
            idempotency_key=request.headers.get("Idempotency-Key"),
            **serializer.validated_data,
        )
        return metered_headers(
            Response(result.body()), credits_remaining=result.credits_remaining, replayed=result.replayed
        )


class ConvertLabelApi(APIView):
    parser_classes = [MultiPartParser]

    @extend_schema(
        operation_id="conversion_fnsku_label",
        tags=TAGS,
        request={"multipart/form-data": ConvertLabelInputSerializer},
        parameters=[
            idempotency_key_parameter(
                "Retrying with the same key answers what the first request answered, charging once."
            )
        ],
        responses={
            200: ConversionLabelOutputSerializer,
            400: OpenApiResponse(
                ErrorSerializer,
                description="Nothing charged: the photo is missing or empty (`image_missing`), over the "
                "size limit (`image_too_large`), not an image (`not_an_image`), an image format "
                "not accepted (`image_format_unsupported`), undecodable "
                "(`image_unreadable`) or without an FNSKU barcode (`label_no_barcode`); or a bad "
                "marketplace.",
            ),
            402: insufficient_credits_response(),
            404: OpenApiResponse(ErrorSerializer, description="No ASIN found (`fnsku_not_found`); refunded."),
            409: OpenApiResponse(
                ErrorSerializer,
                description="Idempotency-Key in use or used for another code, or the same conversion "
                "(code, label text, marketplace) sent earlier is still running after "
                "`CONVERSION_RESCAN_WAIT` (`conversion_in_progress`, `Retry-After`; not charged).",
            ),
            503: OpenApiResponse(
                ErrorSerializer,
                description="The sources needed are down (refunded), or the label text reader is not "
                "available (nothing charged).",
            ),
        },
        description=(
            "Convert a photo of an FBA label: the FNSKU from its Code 128 barcode (zxing-cpp), the "
            "title and condition from its printed text (Tesseract OCR), then the same conversion as "
            "`POST /api/v1/conversion/fnsku` with the title as `label_text`, at the `fnsku_conversion` "
            "price. The answer adds `read`: what the photo said."
        ),
    )
    @metered_operation
    def post(self, request: AuthedRequest) -> Response:
        serializer = ConvertLabelInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        reading, result = fnsku_convert_label(
            user=request.user,
            file=serializer.validated_data["image"],
            marketplace=serializer.validated_data["marketplace"],
            idempotency_key=request.headers.get("Idempotency-Key"),
        )
        return metered_headers(
            Response({**result.body(), "read": reading.to_dict()}),
            credits_remaining=result.credits_remaining,
            replayed=result.replayed,
        )


class ConversionListApi(APIView):
    pagination_class = Pagination

    @extend_schema(operation_id="conversion_list", tags=TAGS, responses=ConversionOutputSerializer(many=True))
    def get(self, request: AuthedRequest) -> Response:
        return paginated_response(
            queryset=selectors.conversion_list(user=request.user),
            serializer_class=_ConversionRowSerializer,
            request=request,
            view=self,
        )


class _ConversionRowSerializer(ConversionOutputSerializer):
    def to_representation(self, instance: object) -> dict[str, object]:
        return conversion_body(instance)  # type: ignore[arg-type]


class ConversionDetailApi(APIView):
    @extend_schema(operation_id="conversion_retrieve", tags=TAGS, responses=ConversionOutputSerializer)
    def get(self, request: AuthedRequest, conversion_id: int) -> Response:
        conversion = selectors.conversion_get(user=request.user, conversion_id=conversion_id)
        return Response(conversion_body(conversion))


class FeedbackApi(APIView):
    @extend_schema(
        operation_id="conversion_feedback",
        tags=TAGS,
        request=FeedbackInputSerializer,
        responses={
            200: FeedbackOutputSerializer,
            404: OpenApiResponse(ErrorSerializer, description="No such conversion of yours."),
        },
        description="Confirm the answer (its ASIN) or correct it (another ASIN); "
        "it teaches the mapping store.",
    )
    def post(self, request: AuthedRequest, conversion_id: int) -> Response:
        serializer = FeedbackInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        feedback = conversion_feedback(
            user=request.user, conversion_id=conversion_id, asin=serializer.validated_data["asin"]
        )
        return Response(
            {"conversion_id": feedback.conversion_id, "asin": feedback.asin, "verdict": feedback.verdict}
        )


class MappingImportApi(APIView):
    parser_classes = [MultiPartParser]

    @extend_schema(
        operation_id="conversion_mappings_import",
        tags=TAGS,
        request={"multipart/form-data": MappingImportInputSerializer},
        responses={200: MappingImportOutputSerializer, 400: ErrorSerializer, 413: ErrorSerializer},
        description="Import your FNSKU to ASIN pairs from an Amazon inventory report "
        "(sku, fnsku, asin). Free.",
    )
    def post(self, request: AuthedRequest) -> Response:
        serializer = MappingImportInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        result = inventory_report_import(
            user=request.user,
            file=serializer.validated_data["file"],
            marketplace=serializer.validated_data["marketplace"],
        )
        return Response(result.to_dict())


class MappingListApi(APIView):
    pagination_class = Pagination

    @extend_schema(operation_id="conversion_mappings_list", tags=TAGS, responses=MappingSerializer(many=True))
    def get(self, request: AuthedRequest) -> Response:
        return paginated_response(
            queryset=selectors.own_mapping_list(user=request.user),
            serializer_class=MappingSerializer,
            request=request,
            view=self,
        )


class SpApiConnectionApi(APIView):
    @extend_schema(
        operation_id="conversion_spapi_connection_retrieve",
        tags=TAGS,
        responses={
            200: SpApiConnectionOutputSerializer,
            404: OpenApiResponse(ErrorSerializer, description="No Seller Central account is connected."),
        },
    )
    def get(self, request: AuthedRequest) -> Response:
        spapi_connection = selectors.spapi_connection_get(user=request.user)
        if spapi_connection is None:
            raise NotFoundError("No Seller Central account is connected.", code="spapi_not_connected")
        return Response(SpApiConnectionOutputSerializer(spapi_connection).data)

    @extend_schema(
        operation_id="conversion_spapi_connection_set",
        tags=TAGS,
        request=SpApiConnectionInputSerializer,
        responses={200: SpApiConnectionOutputSerializer, 400: ErrorSerializer, 503: ErrorSerializer},
        description="Connect your Seller Central account (selling partner id and the refresh token of your "
        "authorisation of the platform's app), so conversions read your FBA inventory. The token is "
        "stored encrypted and never shown again.",
    )
    def put(self, request: AuthedRequest) -> Response:
        serializer = SpApiConnectionInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        spapi_connection = spapi_connection_set(user=request.user, **serializer.validated_data)
        return Response(SpApiConnectionOutputSerializer(spapi_connection).data)

    @extend_schema(operation_id="conversion_spapi_connection_delete", tags=TAGS, responses={204: None})
    def delete(self, request: AuthedRequest) -> Response:
        spapi_connection_delete(user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class FbaSyncApi(APIView):
    @extend_schema(
        operation_id="conversion_fba_sync",
        tags=TAGS,
        request=SyncInputSerializer,
        responses={
            202: inline_serializer(
                "FbaSyncQueued",
                fields={"queued": serializers.BooleanField(), "marketplace": serializers.CharField()},
            ),
            400: ErrorSerializer,
            404: OpenApiResponse(ErrorSerializer, description="No Seller Central account is connected."),
        },
        description="Queue a sync of your FBA inventory in one marketplace "
        "(conversions also sync when stale).",
    )
    def post(self, request: AuthedRequest) -> Response:
        serializer = SyncInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        market = marketplace_get(serializer.validated_data["marketplace"])
        if selectors.spapi_connection_get(user=request.user) is None:
            raise NotFoundError("No Seller Central account is connected.", code="spapi_not_connected")
        queued = fba_inventory_sync_queue(user=request.user, marketplace=market.code)
        return Response({"queued": True, "marketplace": queued}, status=status.HTTP_202_ACCEPTED)


class ConversionBulkApi(APIView):
    """Bulk conversion: a bulk job of kind ``fnsku_conversion`` on the same engine as ASIN jobs."""

    parser_classes = [BoundedJSONParser, MultiPartParser]

    @extend_schema(
        operation_id="conversion_bulk_create",
        tags=["conversion"],
        request={
            "application/json": ConversionBulkInputSerializer,
            "multipart/form-data": ConversionBulkUploadSerializer,
        },
        responses={
            202: OpenApiResponse(
                BulkJobSerializer, description="The job, queued; follow it under /api/v1/products/bulk/{id}."
            ),
            400: OpenApiResponse(
                ErrorSerializer,
                description="Nothing created, nothing charged: a file with too many rows, empty, binary, "
                "undecodable or malformed; or no valid FNSKU (the invalid rows are in `detail.rows`).",
            ),
            402: insufficient_credits_response("Not enough credits for every valid item; nothing created."),
            413: TOO_LARGE,
        },
    )
    @metered_operation
    def post(self, request: AuthedRequest) -> Response:
        job = bulk_job_create_from_request(
            request,
            kind=BULK_KIND,
            list_serializer=ConversionBulkInputSerializer,
            list_field="fnskus",
            upload_serializer=ConversionBulkUploadSerializer,
        )
        return job_response(job, status=status.HTTP_202_ACCEPTED)
