from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rest_framework.pagination import LimitOffsetPagination

if TYPE_CHECKING:
    from rest_framework.request import Request
    from rest_framework.response import Response
    from rest_framework.serializers import BaseSerializer
    from rest_framework.views import APIView


class Pagination(LimitOffsetPagination):
    default_limit = 50
    max_limit = 500


def paginated_response(
    *,
    queryset: Any,
    serializer_class: type[BaseSerializer[Any]],
    request: Request,
    view: APIView,
) -> Response:
    paginator = Pagination()
    page: Any = paginator.paginate_queryset(queryset, request, view=view)
    return paginator.get_paginated_response(serializer_class(page, many=True).data)
