"""The webhooks API: thin views over webhooks/services.py and selectors.py."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.types import AuthedRequest
from core.api_errors import ErrorSerializer
from core.pagination import Pagination, paginated_response
from core.schema import NO_INPUT
from webhooks import selectors, services
from webhooks.serializers import (
    WebhookDeliveryDetailSerializer,
    WebhookDeliveryFilterSerializer,
    WebhookDeliverySerializer,
    WebhookEndpointCreateInputSerializer,
    WebhookEndpointSerializer,
    WebhookEndpointUpdateInputSerializer,
    WebhookEndpointWithSecretSerializer,
    WebhookRotateInputSerializer,
)

TAGS = ["webhooks"]
QUEUED = "Queued: it is sent in a moment by a worker; follow its status in the deliveries."


class WebhookEndpointListCreateApi(APIView):
    @extend_schema(operation_id="webhooks_list", responses=WebhookEndpointSerializer(many=True), tags=TAGS)
    def get(self, request: AuthedRequest) -> Response:
        endpoints = selectors.webhook_endpoint_list(user=request.user)
        return Response(WebhookEndpointSerializer(endpoints, many=True).data)

    @extend_schema(
        operation_id="webhooks_create",
        request=WebhookEndpointCreateInputSerializer,
        responses={201: WebhookEndpointWithSecretSerializer},
        tags=TAGS,
        description="Register an https endpoint for some events. The response holds its signing secret, "
        "shown only this once. See docs/webhooks.md for the payload and how to verify signatures.",
    )
    def post(self, request: AuthedRequest) -> Response:
        serializer = WebhookEndpointCreateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        endpoint, secret = services.webhook_endpoint_create(user=request.user, **serializer.validated_data)
        data = WebhookEndpointWithSecretSerializer(endpoint, context={"secret": secret}).data
        return Response(data, status=status.HTTP_201_CREATED)


class WebhookEndpointDetailApi(APIView):
    @extend_schema(operation_id="webhooks_retrieve", responses=WebhookEndpointSerializer, tags=TAGS)
    def get(self, request: AuthedRequest, endpoint_id: int) -> Response:
        endpoint = selectors.webhook_endpoint_get(user=request.user, endpoint_id=endpoint_id)
        return Response(WebhookEndpointSerializer(endpoint).data)

    @extend_schema(
        operation_id="webhooks_update",
        request=WebhookEndpointUpdateInputSerializer,
        responses=WebhookEndpointSerializer,
        tags=TAGS,
        description="Change the URL, the events, the description, or pause (is_active false) the endpoint.",
    )
    def patch(self, request: AuthedRequest, endpoint_id: int) -> Response:
        serializer = WebhookEndpointUpdateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        endpoint = services.webhook_endpoint_update(
            user=request.user, endpoint_id=endpoint_id, **serializer.validated_data
        )
        return Response(WebhookEndpointSerializer(endpoint).data)

    @extend_schema(operation_id="webhooks_delete", responses={204: None}, tags=TAGS)
    def delete(self, request: AuthedRequest, endpoint_id: int) -> Response:
        services.webhook_endpoint_delete(user=request.user, endpoint_id=endpoint_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class WebhookEndpointRotateApi(APIView):
    @extend_schema(
        operation_id="webhooks_rotate_secret",
        request=WebhookRotateInputSerializer,
        responses=WebhookEndpointWithSecretSerializer,
        tags=TAGS,
        description="A new signing secret, shown this once. Deliveries carry a signature with the old "
        "secret too until previous_secret_expires_at (WEBHOOKS_SECRET_GRACE_SECONDS, one day by default), "
        "unless expire_old_now.",
    )
    def post(self, request: AuthedRequest, endpoint_id: int) -> Response:
        serializer = WebhookRotateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        endpoint, secret = services.webhook_endpoint_rotate_secret(
            user=request.user, endpoint_id=endpoint_id, **serializer.validated_data
        )
        return Response(WebhookEndpointWithSecretSerializer(endpoint, context={"secret": secret}).data)


class WebhookEndpointPingApi(APIView):
    @extend_schema(
        operation_id="webhooks_ping",
        request=NO_INPUT,
        responses={202: OpenApiResponse(WebhookDeliverySerializer, description=QUEUED)},
        tags=TAGS,
        description="Send a `ping` event to the endpoint, whatever events it subscribes to.",
    )
    def post(self, request: AuthedRequest, endpoint_id: int) -> Response:
        delivery = services.webhook_endpoint_ping(user=request.user, endpoint_id=endpoint_id)
        return Response(WebhookDeliverySerializer(delivery).data, status=status.HTTP_202_ACCEPTED)


class WebhookDeliveryListApi(APIView):
    pagination_class = Pagination

    @extend_schema(
        operation_id="webhooks_deliveries_list",
        parameters=[WebhookDeliveryFilterSerializer],
        responses=WebhookDeliverySerializer(many=True),
        tags=TAGS,
        description="Your deliveries, newest first.",
    )
    def get(self, request: AuthedRequest) -> Response:
        filters = WebhookDeliveryFilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        deliveries = selectors.webhook_delivery_list(
            user=request.user,
            endpoint_id=filters.validated_data.get("endpoint"),
            status=filters.validated_data.get("status", ""),
            event=filters.validated_data.get("event", ""),
        )
        return paginated_response(
            queryset=deliveries, serializer_class=WebhookDeliverySerializer, request=request, view=self
        )


class WebhookDeliveryDetailApi(APIView):
    @extend_schema(
        operation_id="webhooks_deliveries_retrieve", responses=WebhookDeliveryDetailSerializer, tags=TAGS
    )
    def get(self, request: AuthedRequest, delivery_id: int) -> Response:
        delivery = selectors.webhook_delivery_get(user=request.user, delivery_id=delivery_id)
        return Response(WebhookDeliveryDetailSerializer(delivery).data)


class WebhookDeliveryReplayApi(APIView):
    @extend_schema(
        operation_id="webhooks_deliveries_replay",
        request=NO_INPUT,
        responses={
            202: OpenApiResponse(WebhookDeliverySerializer, description=QUEUED),
            409: OpenApiResponse(ErrorSerializer, description="The endpoint is paused."),
        },
        tags=TAGS,
        description="Send the delivery's payload again as a new delivery with the same event id "
        "(X-Webhook-Id), with its own retries.",
    )
    def post(self, request: AuthedRequest, delivery_id: int) -> Response:
        delivery = services.webhook_delivery_replay(user=request.user, delivery_id=delivery_id)
        return Response(WebhookDeliverySerializer(delivery).data, status=status.HTTP_202_ACCEPTED)
