"""The streamed export of a project's labeled set."""

from __future__ import annotations

from django.http import StreamingHttpResponse
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions
from rest_framework.views import APIView

from labeler import services
from labeler.api import serializers as s
from labeler.api.permissions import FollowsPolicy
from labeler.api.views.base import ProjectScopedMixin, errors, streamed


@extend_schema(
    tags=["export"],
    parameters=[s.ExportQuerySerializer],
    responses={
        (200, "text/csv"): OpenApiTypes.BINARY,
        (200, "application/json"): {"type": "array", "items": {"type": "object"}},
        (200, "application/x-ndjson"): OpenApiTypes.BINARY,
        (200, "application/zip"): OpenApiTypes.BINARY,
        **errors(400, 401, 403, 404),
    },
)
class ExportView(ProjectScopedMixin, APIView):
    """Stream the labeled set: one row per item with its final label (``final=true``) or one
    per annotation. Rows carry the item id, source name, text or file name, label,
    annotators, labeled-at time, origin (strategy, evaluation or import) and the model's
    prediction when it was labeled."""

    permission_classes = [FollowsPolicy]

    def perform_content_negotiation(self, request, force=False):
        # ``format`` names the export format here, not a DRF renderer.
        return super().perform_content_negotiation(request, force=True)

    def get(self, request, project_pk: int) -> StreamingHttpResponse:
        query = s.ExportQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)

        def file_url(item_id: int) -> str:
            return request.build_absolute_uri(reverse("api:item-file", kwargs={"pk": item_id}))

        try:
            export = services.export_labeled(
                project=self.project, file_url=file_url, **query.validated_data
            )
        except services.ExportError as error:
            raise exceptions.ValidationError({"format": [str(error)]}) from error
        fmt = query.validated_data["format"]
        services.item_view_record(
            user=request.user,
            project=self.project,
            item_id=None,
            where="export",
            detail=f"export {fmt}, final={query.validated_data['final']}",
        )
        return streamed(export)
