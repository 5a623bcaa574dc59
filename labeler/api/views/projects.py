"""Projects, their classes and their dashboard statistics."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import generics
from rest_framework.response import Response
from rest_framework.views import APIView

from labeler import selectors
from labeler.api import serializers as s
from labeler.api.pagination import NewestFirstCursorPagination
from labeler.api.permissions import FollowsPolicy
from labeler.api.views.base import AUTHENTICATION, ProjectScopedMixin, errors
from labeler.models import LabelClass, Project


@extend_schema(tags=["projects"])
@extend_schema(methods=["GET"], responses={200: s.ProjectSerializer, **errors(401, 404)})
@extend_schema(methods=["POST"], responses={201: s.ProjectSerializer, **errors(400, 401)})
class ProjectListView(generics.ListCreateAPIView):
    """The projects the user belongs to; creating one makes its creator its manager."""

    authentication_classes = AUTHENTICATION
    queryset = Project.objects.none()

    serializer_class = s.ProjectSerializer
    pagination_class = NewestFirstCursorPagination
    permission_classes = [FollowsPolicy]

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
    permission_classes = [FollowsPolicy]

    def get_object(self) -> Project:
        return self.project


@extend_schema(
    tags=["projects"], responses={200: s.ProjectStatsSerializer, **errors(401, 403, 404)}
)
class ProjectStatsView(ProjectScopedMixin, APIView):
    """Dashboard statistics: labels spent against the budget, each annotator's labels today,
    model runs and the state of the queue."""

    permission_classes = [FollowsPolicy]

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
    permission_classes = [FollowsPolicy]
    pagination_class = None

    def get_queryset(self):
        return self.project.classes.all()
