"""A team's own model's predictions as suggestions (managers): import a file, list, remove
all. Writes go through ``labeler/services/suggestions.py``; a suggestion is never a label."""

from __future__ import annotations

from pathlib import Path

from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, generics, status
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response

from labeler.api.pagination import OldestFirstCursorPagination
from labeler.api.permissions import FollowsPolicy
from labeler.api.serializers import suggestions as ss
from labeler.api.views.base import ProjectScopedMixin, errors
from labeler.models import Suggestion
from labeler.services import suggestions
from labeler.services.suggestion_formats import PredictionsRejected


class SuggestionListView(ProjectScopedMixin, generics.ListAPIView):
    """Your model's suggestions, by item. They show on the labeling page only where the
    project's ``show_suggestions`` is on; the items list filters ``suggestion_disagrees``
    (the loop's model and yours name different classes); the ``disagreement_external``
    strategy asks first where they disagree most."""

    queryset = Suggestion.objects.none()
    serializer_class = ss.SuggestionSerializer
    permission_classes = [FollowsPolicy]
    pagination_class = OldestFirstCursorPagination
    parser_classes = [MultiPartParser]

    def get_queryset(self):
        return Suggestion.objects.filter(project=self.project).select_related("label")

    @extend_schema(
        tags=["suggestions"],
        responses={200: ss.SuggestionSerializer(many=True), **errors(401, 403, 404)},
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        tags=["suggestions"],
        request={"multipart/form-data": ss.SuggestionUploadSerializer},
        responses={201: ss.SuggestionReportSerializer, **errors(400, 401, 403, 404)},
    )
    def post(self, request, project_pk: int) -> Response:
        """Import your model's predictions as suggestions: an item's new suggestion replaces
        its old one; labels, statuses and the queue stay as they are."""
        upload = ss.SuggestionUploadSerializer(data=request.data)
        upload.is_valid(raise_exception=True)
        file = upload.validated_data["file"]
        try:
            report = suggestions.suggestions_import(
                project=self.project, upload=file, file_name=Path(file.name or "").name
            )
        except PredictionsRejected as rejection:
            raise exceptions.ValidationError({"file": [rejection.message]}) from rejection
        return Response(report.as_dict(), status=status.HTTP_201_CREATED)

    @extend_schema(tags=["suggestions"], responses={204: None, **errors(401, 403, 404)})
    def delete(self, request, project_pk: int) -> Response:
        """Remove every suggestion of the project."""
        suggestions.suggestions_clear(project=self.project)
        return Response(status=status.HTTP_204_NO_CONTENT)
