"""What every API view shares: the project scope and role, the documented error responses and
streamed downloads. Who may call a view is decided by ``labeler.api.permissions.FollowsPolicy``
from the access table (``labeler/access.py``)."""

from __future__ import annotations

from functools import cached_property

from django.http import Http404, StreamingHttpResponse
from drf_spectacular.utils import OpenApiResponse
from rest_framework import exceptions
from rest_framework.authentication import SessionAuthentication

from labeler import selectors, services
from labeler.api import serializers as s
from labeler.api.authentication import ExpiringTokenAuthentication
from labeler.models import Project

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
AUTHENTICATION = [ExpiringTokenAuthentication, SessionAuthentication]


class ProjectScopedMixin:
    """Resolves ``project_pk`` among the projects the user may see, and the user's role.

    Views also set ``queryset = Model.objects.none()``: it only tells the schema generator
    the model; ``get_queryset()`` scopes every request to the project."""

    authentication_classes = AUTHENTICATION

    @cached_property
    def _project_and_role(self) -> tuple[Project, str]:
        # One query for both: every request of the labeling loop asks for them.
        user = self.request.user
        if not user.is_authenticated:
            raise exceptions.NotAuthenticated()
        found = selectors.project_with_role(user=user, project_id=self.kwargs["project_pk"])
        if found is None:
            raise Http404("No such project.")
        return found

    @cached_property
    def project(self) -> Project:
        return self._project_and_role[0]

    @cached_property
    def project_role(self) -> str | None:
        return self._project_and_role[1]

    def get_serializer_context(self) -> dict:
        context = super().get_serializer_context()
        if "project_pk" in self.kwargs:
            context["project"] = self.project
        return context


def streamed(export: services.Export) -> StreamingHttpResponse:
    response = StreamingHttpResponse(export.chunks, content_type=export.content_type)
    response["Content-Disposition"] = f'attachment; filename="{export.filename}"'
    return response
