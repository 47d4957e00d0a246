"""The payments API: packs, checkout, the user's payments, and Stripe's webhook."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.types import AuthedRequest
from billing import checkout, selectors, stripe_events
from billing.serializers import (
    CheckoutInputSerializer,
    CheckoutSerializer,
    PackSerializer,
    PaymentSerializer,
    WebhookAckSerializer,
)
from core.api_errors import ErrorSerializer
from core.pagination import Pagination, paginated_response


def checkout_urls(request: Request | Any) -> dict[str, str]:
    """Absolute success and cancel URLs of the billing pages for this host."""
    success = request.build_absolute_uri(reverse("billing-success"))
    return {
        "success_url": f"{success}?session_id={checkout.SESSION_ID_PLACEHOLDER}",
        "cancel_url": request.build_absolute_uri(reverse("billing-cancel")),
    }


class PackListApi(APIView):
    @extend_schema(operation_id="payments_packs_list", responses=PackSerializer(many=True), tags=["payments"])
    def get(self, request: AuthedRequest) -> Response:
        packs = list(selectors.pack_list_active())
        context = {"best_value_ids": selectors.pack_best_value_ids(packs=packs)}
        return Response(PackSerializer(packs, many=True, context=context).data)


class CheckoutApi(APIView):
    @extend_schema(
        operation_id="payments_checkout_create",
        request=CheckoutInputSerializer,
        responses={
            201: CheckoutSerializer,
            404: OpenApiResponse(ErrorSerializer, description="No such credit pack on sale."),
            503: OpenApiResponse(
                ErrorSerializer,
                description="Payments are not configured (no Stripe key in production), or Stripe is down.",
            ),
        },
        tags=["payments"],
        description=(
            "Start buying a credit pack: answers with the Checkout Session and the `url` to send the "
            "buyer to. Credits are granted once the payment is confirmed."
        ),
    )
    def post(self, request: AuthedRequest) -> Response:
        serializer = CheckoutInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        start = checkout.pack_checkout_start(
            user=request.user, pack_id=serializer.validated_data["pack"], **checkout_urls(request)
        )
        data = {
            "id": start.session_id,
            "url": request.build_absolute_uri(start.url),
            "sandbox": start.payment.is_sandbox,
            "payment": start.payment,
        }
        return Response(CheckoutSerializer(data).data, status=status.HTTP_201_CREATED)


class CheckoutDetailApi(APIView):
    @extend_schema(operation_id="payments_checkout_retrieve", responses=PaymentSerializer, tags=["payments"])
    def get(self, request: AuthedRequest, session_id: str) -> Response:
        payment = selectors.payment_get(user=request.user, checkout_session_id=session_id)
        return Response(PaymentSerializer(payment).data)


class PaymentListApi(APIView):
    pagination_class = Pagination

    @extend_schema(
        operation_id="payments_history_list", responses=PaymentSerializer(many=True), tags=["payments"]
    )
    def get(self, request: AuthedRequest) -> Response:
        return paginated_response(
            queryset=selectors.payment_list(user=request.user),
            serializer_class=PaymentSerializer,
            request=request,
            view=self,
        )


class StripeWebhookApi(APIView):
    """Stripe's deliveries. No session, key or CSRF: the signature is the
    authentication. Never inside a request-wide transaction, so a failed
    event keeps its record (the service commits it on its own)."""

    authentication_classes = []
    permission_classes = [AllowAny]
    parser_classes = []  # the raw body is verified as received; nothing parses it first

    @classmethod
    def as_view(cls, **initkwargs: Any) -> Any:
        return transaction.non_atomic_requests(super().as_view(**initkwargs))

    @extend_schema(
        operation_id="payments_webhook",
        tags=["payments"],
        auth=[],
        description=(
            "Stripe's event deliveries (not for integrators): authenticated by the `Stripe-Signature` "
            "header over the raw body, not by an API key. Each event has at most one effect."
        ),
        parameters=[
            OpenApiParameter(
                "Stripe-Signature",
                OpenApiTypes.STR,
                OpenApiParameter.HEADER,
                required=True,
                description="Stripe's signature of the raw body with the endpoint's signing secret.",
            )
        ],
        request={"application/json": OpenApiTypes.OBJECT},
        responses={
            200: WebhookAckSerializer,
            400: OpenApiResponse(
                ErrorSerializer,
                description=(
                    "A missing or wrong signature, one older or dated further ahead than the 300-second "
                    "tolerance, or a body that is not an event: nothing stored."
                ),
            ),
            500: OpenApiResponse(
                ErrorSerializer, description="Stored but not processed; Stripe delivers it again later."
            ),
            503: OpenApiResponse(ErrorSerializer, description="No signing secret configured."),
        },
    )
    def post(self, request: Request) -> Response:
        event = stripe_events.webhook_event_record(
            payload=request.body, signature=request.headers.get("Stripe-Signature")
        )
        event = stripe_events.webhook_event_process(event=event)
        return Response(WebhookAckSerializer({"id": event.stripe_id, "status": event.status}).data)
