"""Query rounds, model runs and their artifacts."""

from __future__ import annotations

from django.http import StreamingHttpResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, generics
from rest_framework.views import APIView

from labeler import services
from labeler.api import serializers as s
from labeler.api.pagination import NewestFirstCursorPagination
from labeler.api.permissions import FollowsPolicy
from labeler.api.views.base import ProjectScopedMixin, errors, streamed
from labeler.models import ModelRun, QueryRound


@extend_schema(tags=["model"], responses={200: s.QueryRoundSerializer, **errors(401, 403, 404)})
class QueryRoundListView(ProjectScopedMixin, generics.ListAPIView):
    """The query rounds, newest first, with their progress."""

    queryset = QueryRound.objects.none()

    serializer_class = s.QueryRoundSerializer
    permission_classes = [FollowsPolicy]
    pagination_class = NewestFirstCursorPagination

    def get_queryset(self):
        return QueryRound.objects.filter(project=self.project)


@extend_schema(tags=["model"], responses={200: s.ModelRunSerializer, **errors(401, 403, 404)})
class ModelRunListView(ProjectScopedMixin, generics.ListAPIView):
    """Model runs, newest first, with their evaluation-set metrics."""

    queryset = ModelRun.objects.none()

    serializer_class = s.ModelRunSerializer
    permission_classes = [FollowsPolicy]
    pagination_class = NewestFirstCursorPagination

    def get_queryset(self):
        return ModelRun.objects.filter(project=self.project)


@extend_schema(tags=["model"], responses={200: s.ModelRunSerializer, **errors(401, 403, 404)})
class ModelRunDetailView(ProjectScopedMixin, generics.RetrieveAPIView):
    queryset = ModelRun.objects.none()
    serializer_class = s.ModelRunSerializer
    permission_classes = [FollowsPolicy]

    def get_queryset(self):
        return ModelRun.objects.filter(project=self.project)


@extend_schema(
    tags=["model"],
    responses={(200, "application/zip"): OpenApiTypes.BINARY, **errors(401, 403, 404)},
)
class ModelRunArtifactView(ProjectScopedMixin, APIView):
    """Download a run's model artifact as a zip: ``model.json`` (class, parameters, classes)
    and the weights (managers only)."""

    permission_classes = [FollowsPolicy]

    def get(self, request, project_pk: int, pk: int) -> StreamingHttpResponse:
        run = get_object_or_404(ModelRun.objects.filter(project=self.project), pk=pk)
        try:
            export = services.model_artifact_export(run=run)
        except services.ExportError as error:
            raise exceptions.NotFound(str(error)) from error
        return streamed(export)
