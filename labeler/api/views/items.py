"""Items: the filtered list, upload (import), detail, and access-checked files."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

from django.conf import settings
from django.http import FileResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, generics, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from labeler import importing, selectors, services
from labeler.api import serializers as s
from labeler.api.filters import ItemFilter
from labeler.api.pagination import NewestFirstCursorPagination, OldestFirstCursorPagination
from labeler.api.permissions import FollowsPolicy
from labeler.api.views.base import AUTHENTICATION, ProjectScopedMixin, errors
from labeler.models import ImportJob, Item, ItemView


@extend_schema(tags=["items"])
class ItemListView(ProjectScopedMixin, generics.ListAPIView):
    """Items of the project, filterable; ``POST`` uploads a file of new items."""

    queryset = Item.objects.none()

    serializer_class = s.ItemSerializer
    permission_classes = [FollowsPolicy]
    pagination_class = OldestFirstCursorPagination
    filterset_class = ItemFilter
    parser_classes = [MultiPartParser, FormParser]

    def get_queryset(self):
        return (
            Item.objects.filter(project=self.project)
            .select_related("label", "prelabel")
            .prefetch_related("findings")
        )

    @extend_schema(responses={200: s.ItemSerializer, **errors(400, 401, 403, 404)})
    def get(self, request, *args, **kwargs):
        response = super().get(request, *args, **kwargs)
        services.item_views_record(
            user=request.user,
            project=self.project,
            item_ids=[row["id"] for row in response.data["results"]],
            where="api",
            detail="item list",
        )
        return response

    @extend_schema(
        request={"multipart/form-data": s.ItemUploadSerializer},
        responses={
            201: s.ImportReportSerializer,
            202: s.ImportJobSerializer,
            **errors(400, 401, 403, 404),
        },
    )
    def post(self, request, project_pk: int) -> Response:
        """Import an image, a zip, a CSV, a JSONL or a Label Studio JSON file, with the same
        validation and report as the importer. Rejected files or rows are listed; a source
        that cannot be read at all is a 400. A file over ``TWEEZERS_SYNC_IMPORT_MAX_BYTES``
        (2 MiB) is imported in the background: the answer is 202 with the import job, whose
        ``url`` reports progress and, at the end, the same report."""
        upload = s.ItemUploadSerializer(data=request.data)
        upload.is_valid(raise_exception=True)
        file = upload.validated_data["file"]
        name = importing.clean_name(Path(file.name or "upload").name)
        if file.size > settings.TWEEZERS_SYNC_IMPORT_MAX_BYTES:
            # Large files go through the same background job as the browser's upload: a
            # request timeout can never leave a partial import without a report.
            job = services.import_job_create(
                project=self.project, created_by=request.user, name=name, stream=file
            )
            data = s.ImportJobSerializer(job, context={"request": request}).data
            return Response(data, status=status.HTTP_202_ACCEPTED)
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
    permission_classes = [FollowsPolicy]

    def get_queryset(self):
        return (
            Item.objects.filter(project=self.project)
            .select_related("label", "prelabel")
            .prefetch_related("findings")
        )

    def retrieve(self, request, *args, **kwargs):
        response = super().retrieve(request, *args, **kwargs)
        services.item_view_record(
            user=request.user,
            project=self.project,
            item_id=kwargs["pk"],
            where="api",
            detail="item detail",
        )
        return response


@extend_schema(
    tags=["items"], responses={200: s.ItemViewSerializer(many=True), **errors(401, 403, 404)}
)
class ItemViewListView(ProjectScopedMixin, generics.ListAPIView):
    """Who opened this item, where and when, newest first (managers only)."""

    queryset = ItemView.objects.none()
    serializer_class = s.ItemViewSerializer
    permission_classes = [FollowsPolicy]
    pagination_class = NewestFirstCursorPagination

    def get_queryset(self):
        item = get_object_or_404(Item.objects.filter(project=self.project), pk=self.kwargs["pk"])
        return ItemView.objects.filter(project=self.project, item_id=item.pk).select_related("user")


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
    permission_classes = [FollowsPolicy]

    @cached_property
    def item(self) -> Item:
        visible = selectors.projects_visible_to(user=self.request.user)
        items = Item.objects.filter(project__in=visible).exclude(file="").select_related("project")
        return get_object_or_404(items, pk=self.kwargs["pk"])

    @cached_property
    def project_role(self) -> str | None:
        found = selectors.project_with_role(user=self.request.user, project_id=self.item.project_id)
        return found[1] if found else None

    def get(self, request, pk: int) -> FileResponse:
        item = self.item
        try:
            stream = item.file.open("rb")
        except FileNotFoundError:
            raise exceptions.NotFound("This item's file is missing from storage.") from None
        services.item_view_record(
            user=request.user, project=item.project, item_id=item.pk, where="file"
        )
        response = FileResponse(stream, filename=Path(item.file.name).name)
        response["Cache-Control"] = "private, max-age=3600"
        return response


@extend_schema(tags=["items"], responses={200: s.ImportJobSerializer, **errors(401, 403, 404)})
class ImportJobView(ProjectScopedMixin, generics.RetrieveAPIView):
    """A background import: queued, running, succeeded or failed (with the reason), its
    progress and its report."""

    queryset = ImportJob.objects.none()
    serializer_class = s.ImportJobSerializer
    permission_classes = [FollowsPolicy]

    def get_queryset(self):
        return ImportJob.objects.filter(project=self.project)
