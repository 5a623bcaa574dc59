"""Query rounds, model runs and their artifacts."""

from __future__ import annotations

from django.http import FileResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, generics, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from labeler import engine, services
from labeler.api import serializers as s
from labeler.api.pagination import NewestFirstCursorPagination
from labeler.api.permissions import FollowsPolicy
from labeler.api.views.base import ProjectScopedMixin, errors, streamed
from labeler.models import ModelRun, QueryRound
from labeler.services import model_exports


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


class ModelExportQuerySerializer(serializers.Serializer):
    format = serializers.ChoiceField(
        choices=list(engine.MODEL_EXPORT_FORMATS),
        default="onnx",
        help_text="onnx: the classifier on the project's features; pipeline: the whole "
        "pipeline from the item to the probabilities (minilm texts; pixels and simclr "
        "images); torchscript: the encoder (minilm, simclr); card / card.md: the model card "
        "as JSON / Markdown; "
        "zip: all of these that apply, and the tokenizer.",
    )


class ModelExportBuildingSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=["building"])
    message = serializers.CharField()


# How long a client waits before asking again for an export being built.
EXPORT_RETRY_SECONDS = 10


@extend_schema(
    tags=["model"],
    parameters=[ModelExportQuerySerializer],
    responses={
        (200, "application/onnx"): OpenApiTypes.BINARY,
        (200, "application/octet-stream"): OpenApiTypes.BINARY,
        (200, "application/json"): OpenApiTypes.OBJECT,
        (200, "text/markdown"): OpenApiTypes.STR,
        (200, "application/zip"): OpenApiTypes.BINARY,
        (202, "application/json"): ModelExportBuildingSerializer,
        **errors(400, 401, 403, 404),
    },
)
class ModelRunExportView(ProjectScopedMixin, APIView):
    """Download a run's model for serving elsewhere: ONNX (probabilities per class, in the
    card's class order), the encoder as TorchScript, the model card, or all in a zip.
    404 for a run without a model; 400 for a format that does not apply to the run's
    representation (the message says why). The encoders' formats of MiniLM and simclr runs
    (pipeline, torchscript, zip) are built by the worker the first time: until then the
    answer is 202 with ``Retry-After``; ask again."""

    permission_classes = [FollowsPolicy]

    def perform_content_negotiation(self, request, force=False):
        # ``format`` names the export format here, not a DRF renderer.
        return super().perform_content_negotiation(request, force=True)

    def get(self, request, project_pk: int, pk: int) -> FileResponse | Response:
        query = ModelExportQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        run = get_object_or_404(ModelRun.objects.filter(project=self.project), pk=pk)
        try:
            export = model_exports.model_export_request(
                run=run, format=query.validated_data["format"]
            )
        except engine.NoModel as error:
            raise exceptions.NotFound(str(error)) from error
        except engine.NotExportable as error:
            raise exceptions.ValidationError({"format": [str(error)]}) from error
        if export is None:
            body = {
                "status": "building",
                "message": "The worker is building this export; ask again in a moment.",
            }
            response = Response(body, status=status.HTTP_202_ACCEPTED)
            response["Retry-After"] = str(EXPORT_RETRY_SECONDS)
            return response
        return FileResponse(
            export.path.open("rb"),
            as_attachment=True,
            filename=export.filename,
            content_type=export.content_type,
        )
