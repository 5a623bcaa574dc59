"""The JSON API. Plain resources are DRF generics; action endpoints (next item, submit, skip,
correct, upload, export) validate with an input serializer, call one service and render its
result. Every project-scoped view finds its project among the user's own (404 otherwise) and
checks the user's role there; every object is looked up inside that project."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

from django.http import FileResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404
from django.templatetags.static import static
from django.urls import Resolver404, resolve, reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from drf_spectacular.views import SpectacularSwaggerSplitView
from rest_framework import exceptions, generics, status
from rest_framework.authentication import SessionAuthentication, TokenAuthentication
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from labeler import importing, selectors, services
from labeler.api import serializers as s
from labeler.api.errors import submit_rejected_error
from labeler.api.filters import AnnotationFilter, ItemFilter
from labeler.api.pagination import NewestFirstCursorPagination, OldestFirstCursorPagination
from labeler.api.permissions import (
    IsProjectAnnotator,
    IsProjectManager,
    IsProjectMember,
    IsProjectViewer,
    ReadOnly,
)
from labeler.models import (
    Annotation,
    Item,
    LabelClass,
    Membership,
    ModelRun,
    Project,
    QueryRound,
)

ERRORS = {
    code: OpenApiResponse(s.ErrorSerializer, description=description)
    for code, description in {
        400: "Invalid request",
        401: "Not authenticated",
        403: "The user's role in the project does not allow this",
        404: "No such object in a project the user belongs to (or an invalid page cursor)",
    }.items()
}


def errors(*codes: int) -> dict:
    return {code: ERRORS[code] for code in codes}


# Token first: DRF answers a request without credentials with the first class's challenge, so
# scripts get a 401 with ``WWW-Authenticate: Token`` rather than a 403.
AUTHENTICATION = [TokenAuthentication, SessionAuthentication]


class ProjectScopedMixin:
    """Resolves ``project_pk`` among the projects the user may see, and the user's role."""

    authentication_classes = AUTHENTICATION

    @cached_property
    def project(self) -> Project:
        user = self.request.user
        if not user.is_authenticated:
            raise exceptions.NotAuthenticated()
        visible = selectors.projects_visible_to(user=user)
        return get_object_or_404(visible, pk=self.kwargs["project_pk"])

    @cached_property
    def project_role(self) -> str | None:
        if self.request.user.is_superuser:
            return Membership.Role.MANAGER
        return (
            Membership.objects.filter(project=self.project, user=self.request.user)
            .values_list("role", flat=True)
            .first()
        )

    def get_serializer_context(self) -> dict:
        context = super().get_serializer_context()
        if "project_pk" in self.kwargs:
            context["project"] = self.project
        return context


def streamed(export: services.Export) -> StreamingHttpResponse:
    response = StreamingHttpResponse(export.chunks, content_type=export.content_type)
    response["Content-Disposition"] = f'attachment; filename="{export.filename}"'
    return response


# Reading the dashboard, runs and rounds: managers and viewers.
DASHBOARD_READERS = IsAuthenticated & (IsProjectManager | (IsProjectViewer & ReadOnly))
# Labeling: annotators and managers.
LABELERS = IsAuthenticated & (IsProjectManager | IsProjectAnnotator)
MANAGERS = IsAuthenticated & IsProjectManager
MEMBERS_READ = IsAuthenticated & (IsProjectManager | (IsProjectMember & ReadOnly))


class SwaggerDocsView(SpectacularSwaggerSplitView):
    """Swagger UI from drf-spectacular-sidecar's bundled files: the docs work with no network
    and under a Content-Security-Policy without inline scripts (the split view serves its
    script separately)."""

    @staticmethod
    def _swagger_ui_resource(filename: str) -> str:
        return static(f"drf_spectacular_sidecar/swagger-ui-dist/{filename}")

    @staticmethod
    def _swagger_ui_favicon() -> str:
        return static("drf_spectacular_sidecar/swagger-ui-dist/favicon-32x32.png")


@extend_schema(
    tags=["auth"],
    request=s.TokenRequestSerializer,
    responses={200: s.TokenSerializer, 400: ERRORS[400]},
    auth=[],
)
class TokenView(ObtainAuthToken):
    """Exchange a username and password for the token scripts send as
    ``Authorization: Token <token>``."""

    parser_classes = (JSONParser, FormParser, MultiPartParser)


@extend_schema(tags=["projects"])
@extend_schema(methods=["GET"], responses={200: s.ProjectSerializer, **errors(401, 404)})
@extend_schema(methods=["POST"], responses={201: s.ProjectSerializer, **errors(400, 401)})
class ProjectListView(generics.ListCreateAPIView):
    """The projects the user belongs to; creating one makes its creator its manager."""

    authentication_classes = AUTHENTICATION
    # Only tells the schema generator the model; get_queryset() scopes every request.
    queryset = Project.objects.none()

    serializer_class = s.ProjectSerializer
    pagination_class = NewestFirstCursorPagination
    permission_classes = [IsAuthenticated]

    def get_queryset(self):
        return (
            selectors.projects_visible_to(user=self.request.user)
            .prefetch_related("classes")
            .order_by("-id")
        )


@extend_schema(
    tags=["projects"], responses={200: s.ProjectSerializer, **errors(400, 401, 403, 404)}
)
class ProjectDetailView(ProjectScopedMixin, generics.RetrieveUpdateAPIView):
    """A project and its configuration; managers change it."""

    serializer_class = s.ProjectSerializer
    permission_classes = [MEMBERS_READ]

    def get_object(self) -> Project:
        return self.project


@extend_schema(
    tags=["projects"], responses={200: s.ProjectStatsSerializer, **errors(401, 403, 404)}
)
class ProjectStatsView(ProjectScopedMixin, APIView):
    """Dashboard statistics: labels spent against the budget, each annotator's labels today,
    model runs and the state of the queue."""

    permission_classes = [DASHBOARD_READERS]

    def get(self, request, project_pk: int) -> Response:
        stats = selectors.project_stats(project=self.project)
        return Response(s.ProjectStatsSerializer(stats, context={"request": request}).data)


@extend_schema(tags=["projects"])
@extend_schema(methods=["GET"], responses={200: s.LabelClassSerializer, **errors(401, 403, 404)})
@extend_schema(
    methods=["POST"], responses={201: s.LabelClassSerializer, **errors(400, 401, 403, 404)}
)
class LabelClassListView(ProjectScopedMixin, generics.ListCreateAPIView):
    """The project's classes, in order; managers add classes (never remove them)."""

    queryset = LabelClass.objects.none()

    serializer_class = s.LabelClassSerializer
    permission_classes = [MEMBERS_READ]
    pagination_class = None

    def get_queryset(self):
        return self.project.classes.all()


@extend_schema(tags=["items"])
class ItemListView(ProjectScopedMixin, generics.ListAPIView):
    """Items of the project, filterable; ``POST`` uploads a file of new items."""

    queryset = Item.objects.none()

    serializer_class = s.ItemSerializer
    permission_classes = [MANAGERS]
    pagination_class = OldestFirstCursorPagination
    filterset_class = ItemFilter
    parser_classes = [MultiPartParser, FormParser]

    def get_queryset(self):
        return Item.objects.filter(project=self.project).select_related("label", "prelabel")

    @extend_schema(responses={200: s.ItemSerializer, **errors(400, 401, 403, 404)})
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        request={"multipart/form-data": s.ItemUploadSerializer},
        responses={201: s.ImportReportSerializer, **errors(400, 401, 403, 404)},
    )
    def post(self, request, project_pk: int) -> Response:
        """Import an image, a zip, a CSV, a JSONL or a Label Studio JSON file, with the same
        validation and report as the importer. Rejected files or rows are listed; a source
        that cannot be read at all is a 400."""
        upload = s.ItemUploadSerializer(data=request.data)
        upload.is_valid(raise_exception=True)
        file = upload.validated_data["file"]
        name = Path(file.name or "upload").name
        importer = (
            services.items_import_labelstudio
            if name.lower().endswith(".json")
            else services.items_import_stream
        )
        try:
            report = importer(project=self.project, name=name, stream=file)
        except importing.ImportSourceError as error:
            raise exceptions.ValidationError({"file": [str(error)]}, code="unreadable") from error
        return Response(s.ImportReportSerializer(report).data, status=status.HTTP_201_CREATED)


@extend_schema(tags=["items"], responses={200: s.ItemSerializer, **errors(401, 403, 404)})
class ItemDetailView(ProjectScopedMixin, generics.RetrieveAPIView):
    queryset = Item.objects.none()
    serializer_class = s.ItemSerializer
    permission_classes = [MANAGERS]

    def get_queryset(self):
        return Item.objects.filter(project=self.project).select_related("label", "prelabel")


@extend_schema(
    tags=["items"],
    responses={
        (200, "application/octet-stream"): OpenApiTypes.BINARY,
        **errors(401, 404),
    },
)
class ItemFileView(APIView):
    """An item's image, for members of its project only. Uploaded files have no public URL."""

    authentication_classes = AUTHENTICATION
    permission_classes = [IsAuthenticated]

    def get(self, request, pk: int) -> FileResponse:
        visible = selectors.projects_visible_to(user=request.user)
        item = get_object_or_404(Item.objects.filter(project__in=visible).exclude(file=""), pk=pk)
        response = FileResponse(item.file.open("rb"), filename=Path(item.file.name).name)
        response["Cache-Control"] = "private, max-age=3600"
        return response


@extend_schema(tags=["labeling"], responses={200: s.NextItemSerializer, **errors(401, 403, 404)})
class NextItemView(ProjectScopedMixin, APIView):
    """Lease the next item to label. Asking again while holding a lease returns the same item,
    so a reload does not burn items. ``item`` is null unless ``state`` is ``ready``."""

    permission_classes = [LABELERS]

    def get(self, request, project_pk: int) -> Response:
        next_item = services.next_item_lease(project=self.project, annotator=request.user)
        data = s.NextItemSerializer(next_item, context=self.get_serializer_context()).data
        return Response(data)

    def get_serializer_context(self) -> dict:
        return {"request": self.request, "project": self.project}


@extend_schema(tags=["labeling"], request=None, responses={204: None, **errors(400, 401, 403, 404)})
class ItemSkipView(ProjectScopedMixin, APIView):
    """Skip an item: it leaves this annotator's queue."""

    permission_classes = [LABELERS]

    def post(self, request, project_pk: int, pk: int) -> Response:
        try:
            services.item_skip(project=self.project, annotator=request.user, item_id=pk)
        except services.SubmitRejected as rejection:
            raise submit_rejected_error(rejection) from rejection
        return Response(status=status.HTTP_204_NO_CONTENT)


class AnnotationScopeMixin(ProjectScopedMixin):
    """Managers see everyone's annotations in the project, annotators only their own."""

    queryset = Annotation.objects.none()

    serializer_class = s.AnnotationSerializer
    permission_classes = [LABELERS]

    def get_queryset(self):
        annotations = Annotation.objects.filter(project=self.project).select_related(
            "label", "annotator", "round", "predicted_label"
        )
        if self.project_role != Membership.Role.MANAGER:
            annotations = annotations.filter(annotator=self.request.user)
        return annotations


@extend_schema(tags=["labeling"])
class AnnotationListView(AnnotationScopeMixin, generics.ListAPIView):
    """Annotations, newest first: managers see everyone's, annotators their own.
    ``POST`` submits a label for the leased item."""

    pagination_class = NewestFirstCursorPagination
    filterset_class = AnnotationFilter
    parser_classes = [JSONParser, FormParser, MultiPartParser]

    @extend_schema(responses={200: s.AnnotationSerializer, **errors(400, 401, 403, 404)})
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        request=s.AnnotationSubmitSerializer,
        responses={
            201: s.AnnotationSerializer,
            200: OpenApiResponse(
                s.AnnotationSerializer, description="A retry with a known client_key"
            ),
            409: OpenApiResponse(
                s.ErrorSerializer, description="Lease expired, budget spent or daily cap reached"
            ),
            **errors(400, 401, 403, 404),
        },
    )
    def post(self, request, project_pk: int) -> Response:
        submit = s.AnnotationSubmitSerializer(data=request.data)
        submit.is_valid(raise_exception=True)
        fields = dict(submit.validated_data)
        try:
            annotation, created = services.annotation_submit(
                project=self.project,
                annotator=request.user,
                item_id=fields.pop("item"),
                **fields,
            )
        except services.SubmitRejected as rejection:
            raise submit_rejected_error(rejection) from rejection
        data = s.AnnotationSerializer(annotation, context=self.get_serializer_context()).data
        return Response(data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


@extend_schema(tags=["labeling"], responses={200: s.AnnotationSerializer, **errors(401, 403, 404)})
class AnnotationDetailView(AnnotationScopeMixin, generics.RetrieveAPIView):
    pass


@extend_schema(
    tags=["labeling"],
    request=s.AnnotationCorrectSerializer,
    responses={201: s.AnnotationSerializer, **errors(400, 401, 403, 404)},
)
class AnnotationCorrectView(AnnotationScopeMixin, generics.GenericAPIView):
    """Correct a label: a new annotation replaces the old one, which is kept as history.
    Annotators correct their own labels, managers anyone's."""

    def post(self, request, project_pk: int, pk: int) -> Response:
        annotation = self.get_object()
        correction = s.AnnotationCorrectSerializer(data=request.data)
        correction.is_valid(raise_exception=True)
        try:
            new = services.annotation_correct(
                annotation=annotation, annotator=request.user, **correction.validated_data
            )
        except services.SubmitRejected as rejection:
            raise submit_rejected_error(rejection) from rejection
        data = s.AnnotationSerializer(new, context={"request": request}).data
        return Response(data, status=status.HTTP_201_CREATED)


@extend_schema(tags=["model"], responses={200: s.QueryRoundSerializer, **errors(401, 403, 404)})
class QueryRoundListView(ProjectScopedMixin, generics.ListAPIView):
    """The query rounds, newest first, with their progress."""

    queryset = QueryRound.objects.none()

    serializer_class = s.QueryRoundSerializer
    permission_classes = [DASHBOARD_READERS]
    pagination_class = NewestFirstCursorPagination

    def get_queryset(self):
        return QueryRound.objects.filter(project=self.project)


@extend_schema(tags=["model"], responses={200: s.ModelRunSerializer, **errors(401, 403, 404)})
class ModelRunListView(ProjectScopedMixin, generics.ListAPIView):
    """Model runs, newest first, with their evaluation-set metrics."""

    queryset = ModelRun.objects.none()

    serializer_class = s.ModelRunSerializer
    permission_classes = [DASHBOARD_READERS]
    pagination_class = NewestFirstCursorPagination

    def get_queryset(self):
        return ModelRun.objects.filter(project=self.project)


@extend_schema(tags=["model"], responses={200: s.ModelRunSerializer, **errors(401, 403, 404)})
class ModelRunDetailView(ProjectScopedMixin, generics.RetrieveAPIView):
    queryset = ModelRun.objects.none()
    serializer_class = s.ModelRunSerializer
    permission_classes = [DASHBOARD_READERS]

    def get_queryset(self):
        return ModelRun.objects.filter(project=self.project)


@extend_schema(
    tags=["model"],
    responses={(200, "application/zip"): OpenApiTypes.BINARY, **errors(401, 403, 404)},
)
class ModelRunArtifactView(ProjectScopedMixin, APIView):
    """Download a run's model artifact as a zip: ``model.json`` (class, parameters, classes)
    and the weights (managers only)."""

    permission_classes = [MANAGERS]

    def get(self, request, project_pk: int, pk: int) -> StreamingHttpResponse:
        run = get_object_or_404(ModelRun.objects.filter(project=self.project), pk=pk)
        try:
            export = services.model_artifact_export(run=run)
        except services.ExportError as error:
            raise exceptions.NotFound(str(error)) from error
        return streamed(export)


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

    permission_classes = [MANAGERS]

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
        return streamed(export)


@extend_schema(exclude=True)
class UnknownEndpointView(APIView):
    """Any other path under /api/: a 404 in the API's error format instead of an HTML page."""

    authentication_classes = []
    permission_classes = []

    # Every method lands here, as the view defines no handlers.
    def http_method_not_allowed(self, request, *args, **kwargs):
        message = f"No API endpoint at {request.path}."
        if not request.path.endswith("/"):
            try:
                match = resolve(request.path + "/")
            except Resolver404:
                match = None
            if match is not None and match.url_name != "unknown":
                message += f" Did you mean {request.path}/ ?"
        raise exceptions.NotFound(message)
