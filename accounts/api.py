from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import selectors, services
from accounts.permissions import ManagesApiKeys, acting_key_scopes
from accounts.serializers import (
    ApiKeyCreatedSerializer,
    ApiKeyCreateInputSerializer,
    ApiKeySerializer,
    MeSerializer,
)
from accounts.types import AuthedRequest
from core.api_errors import ErrorSerializer
from core.pagination import Pagination, paginated_response

KEYS_ACCESS = (
    "Takes a signed-in session or an API key with the `keys:manage` scope; any other key is refused "
    "with 403 `insufficient_scope`, so a leaked key can neither create keys, revoke yours nor list them."
)
KEYS_FORBIDDEN = OpenApiResponse(
    ErrorSerializer,
    description="`insufficient_scope`: an API key without the `keys:manage` scope (a session may). "
    "Also a session's missing CSRF token.",
)


class MeApi(APIView):
    @extend_schema(operation_id="me_retrieve", responses=MeSerializer, tags=["account"])
    def get(self, request: AuthedRequest) -> Response:
        return Response(MeSerializer(request.user).data)


class ApiKeyListCreateApi(APIView):
    pagination_class = Pagination
    permission_classes = (IsAuthenticated, ManagesApiKeys)

    @extend_schema(
        operation_id="keys_list",
        description=KEYS_ACCESS,
        responses={200: ApiKeySerializer(many=True), 403: KEYS_FORBIDDEN},
        tags=["keys"],
    )
    def get(self, request: AuthedRequest) -> Response:
        return paginated_response(
            queryset=selectors.api_key_list(user=request.user),
            serializer_class=ApiKeySerializer,
            request=request,
            view=self,
        )

    @extend_schema(
        operation_id="keys_create",
        description=KEYS_ACCESS + " At most `API_KEYS_MAX_ACTIVE` (default 20) active keys per account.",
        request=ApiKeyCreateInputSerializer,
        responses={
            201: ApiKeyCreatedSerializer,
            403: OpenApiResponse(
                ErrorSerializer,
                description="`insufficient_scope`: an API key without the `keys:manage` scope, or asking "
                "for a scope it does not have. Also a session's missing CSRF token.",
            ),
            409: OpenApiResponse(
                ErrorSerializer,
                description="`too_many_keys`: the account has `API_KEYS_MAX_ACTIVE` (default 20) "
                "active keys; revoke one first. `detail.max_active_keys` is the limit.",
            ),
        },
        tags=["keys"],
    )
    def post(self, request: AuthedRequest) -> Response:
        serializer = ApiKeyCreateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        api_key, raw_key = services.api_key_create(
            user=request.user, acting_key_scopes=acting_key_scopes(request), **serializer.validated_data
        )
        data = ApiKeyCreatedSerializer(api_key, context={"raw_key": raw_key}).data
        return Response(data, status=status.HTTP_201_CREATED)


class ApiKeyDetailApi(APIView):
    permission_classes = (IsAuthenticated, ManagesApiKeys)

    @extend_schema(
        operation_id="keys_retrieve",
        description=KEYS_ACCESS,
        responses={200: ApiKeySerializer, 403: KEYS_FORBIDDEN},
        tags=["keys"],
    )
    def get(self, request: AuthedRequest, key_id: int) -> Response:
        api_key = selectors.api_key_get(user=request.user, key_id=key_id)
        return Response(ApiKeySerializer(api_key).data)

    @extend_schema(
        operation_id="keys_revoke",
        description=KEYS_ACCESS,
        responses={204: None, 403: KEYS_FORBIDDEN},
        tags=["keys"],
    )
    def delete(self, request: AuthedRequest, key_id: int) -> Response:
        services.api_key_revoke(user=request.user, key_id=key_id)
        return Response(status=status.HTTP_204_NO_CONTENT)
