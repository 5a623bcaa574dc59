"""A project's webhooks (managers only): list and create, read, change, delete, and each
hook's delivery log. Writes go through ``labeler/services/webhooks.py``."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, generics, status
from rest_framework.response import Response
from rest_framework.views import APIView

from labeler.api.pagination import NewestFirstCursorPagination
from labeler.api.permissions import FollowsPolicy
from labeler.api.serializers import webhooks as ws
from labeler.api.views.base import ProjectScopedMixin, errors
from labeler.models_webhooks import Webhook, WebhookDelivery
from labeler.services import webhooks


def _rejected(rejection: webhooks.WebhookRejected) -> exceptions.ValidationError:
    return exceptions.ValidationError({rejection.field: [rejection.message]})


class WebhookListView(ProjectScopedMixin, APIView):
    """The project's webhooks. Each delivery is a signed POST (see the README's "Webhooks"):
    ``X-Tweezers-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<body>">``, with
    ``X-Tweezers-Event`` and ``X-Tweezers-Delivery``; the body's ``data`` is documented per
    event as ``WebhookEventPayload``."""

    permission_classes = [FollowsPolicy]

    @extend_schema(
        tags=["webhooks"],
        responses={200: ws.WebhookSerializer(many=True), **errors(401, 403, 404)},
    )
    def get(self, request, project_pk: int) -> Response:
        hooks = Webhook.objects.filter(project=self.project).select_related("created_by")
        return Response(ws.WebhookSerializer(hooks, many=True).data)

    @extend_schema(
        tags=["webhooks"],
        request=ws.WebhookCreateSerializer,
        responses={201: ws.WebhookCreatedSerializer, **errors(400, 401, 403, 404)},
    )
    def post(self, request, project_pk: int) -> Response:
        body = ws.WebhookCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            hook = webhooks.webhook_create(
                project=self.project,
                url=body.validated_data["url"],
                events=body.validated_data["events"],
                secret=body.validated_data.get("secret", ""),
                created_by=request.user,
            )
        except webhooks.WebhookRejected as rejection:
            raise _rejected(rejection) from rejection
        return Response(ws.WebhookCreatedSerializer(hook).data, status=status.HTTP_201_CREATED)


class WebhookDetailView(ProjectScopedMixin, APIView):
    permission_classes = [FollowsPolicy]

    def _hook(self, pk: int) -> Webhook:
        return get_object_or_404(Webhook.objects.filter(project=self.project), pk=pk)

    @extend_schema(
        tags=["webhooks"], responses={200: ws.WebhookSerializer, **errors(401, 403, 404)}
    )
    def get(self, request, project_pk: int, pk: int) -> Response:
        return Response(ws.WebhookSerializer(self._hook(pk)).data)

    @extend_schema(
        tags=["webhooks"],
        request=ws.WebhookUpdateSerializer,
        responses={200: ws.WebhookSerializer, **errors(400, 401, 403, 404)},
    )
    def patch(self, request, project_pk: int, pk: int) -> Response:
        hook = self._hook(pk)
        body = ws.WebhookUpdateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            hook = webhooks.webhook_update(webhook=hook, **body.validated_data)
        except webhooks.WebhookRejected as rejection:
            raise _rejected(rejection) from rejection
        return Response(ws.WebhookSerializer(hook).data)

    @extend_schema(tags=["webhooks"], responses={204: None, **errors(401, 403, 404)})
    def delete(self, request, project_pk: int, pk: int) -> Response:
        webhooks.webhook_delete(webhook=self._hook(pk))
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema(
    tags=["webhooks"], responses={200: ws.WebhookDeliverySerializer, **errors(401, 403, 404)}
)
class WebhookDeliveryListView(ProjectScopedMixin, generics.ListAPIView):
    """A hook's delivery log, newest first: status, attempts, response code, duration."""

    queryset = WebhookDelivery.objects.none()
    serializer_class = ws.WebhookDeliverySerializer
    permission_classes = [FollowsPolicy]
    pagination_class = NewestFirstCursorPagination

    def get_queryset(self):
        hook = get_object_or_404(Webhook.objects.filter(project=self.project), pk=self.kwargs["pk"])
        return WebhookDelivery.objects.filter(webhook=hook)
