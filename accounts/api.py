from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import selectors, services
from accounts.serializers import (
    ApiKeyCreatedSerializer,
    ApiKeyCreateInputSerializer,
    ApiKeySerializer,
    MeSerializer,
)
from config.pagination import Pagination, paginated_response
from config.types import AuthedRequest


class MeApi(APIView):
    @extend_schema(operation_id="me_retrieve", responses=MeSerializer, tags=["account"])
    def get(self, request: AuthedRequest) -> Response:
        return Response(MeSerializer(request.user).data)


class ApiKeyListCreateApi(APIView):
    pagination_class = Pagination

    @extend_schema(operation_id="keys_list", responses=ApiKeySerializer(many=True), tags=["keys"])
    def get(self, request: AuthedRequest) -> Response:
        return paginated_response(
            queryset=selectors.api_key_list(user=request.user),
            serializer_class=ApiKeySerializer,
            request=request,
            view=self,
        )

    @extend_schema(
        operation_id="keys_create",
        request=ApiKeyCreateInputSerializer,
        responses={201: ApiKeyCreatedSerializer},
        tags=["keys"],
    )
    def post(self, request: AuthedRequest) -> Response:
        serializer = ApiKeyCreateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        api_key, raw_key = services.api_key_create(user=request.user, **serializer.validated_data)
        data = ApiKeyCreatedSerializer(api_key, context={"raw_key": raw_key}).data
        return Response(data, status=status.HTTP_201_CREATED)


class ApiKeyDetailApi(APIView):
    @extend_schema(operation_id="keys_retrieve", responses=ApiKeySerializer, tags=["keys"])
    def get(self, request: AuthedRequest, key_id: int) -> Response:
        api_key = selectors.api_key_get(user=request.user, key_id=key_id)
        return Response(ApiKeySerializer(api_key).data)

    @extend_schema(operation_id="keys_revoke", responses={204: None}, tags=["keys"])
    def delete(self, request: AuthedRequest, key_id: int) -> Response:
        services.api_key_revoke(user=request.user, key_id=key_id)
        return Response(status=status.HTTP_204_NO_CONTENT)
