"""The annotator's loop: next item, submit, skip, correct, and the annotations list."""

from __future__ import annotations

import re

from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, generics, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from labeler import access, services
from labeler.api import serializers as s
from labeler.api.errors import submit_rejected_error
from labeler.api.filters import AnnotationFilter
from labeler.api.pagination import NewestFirstCursorPagination
from labeler.api.parsers import SafeJSONParser
from labeler.api.permissions import FollowsPolicy
from labeler.api.views.base import ProjectScopedMixin, errors
from labeler.forms import TAB_PATTERN
from labeler.models import Annotation

RETRY_AFTER_SECONDS = 2


@extend_schema(
    tags=["labeling"],
    parameters=[
        OpenApiParameter(
            "tab",
            str,
            required=False,
            description="Your client's own id (1 to 32 letters, digits, - or _): clients of "
            "one annotator that send different ids are served different items. Without it, "
            "all such clients are one.",
        )
    ],
    responses={200: s.NextItemSerializer, **errors(400, 401, 403, 404)},
)
class NextItemView(ProjectScopedMixin, APIView):
    """Lease the next item to label. Asking again while holding a lease returns the same item,
    so a reload does not burn items. ``item`` is null unless ``state`` is ``ready``. Any of an
    annotator's clients may submit the answer to an item another of their clients holds."""

    permission_classes = [FollowsPolicy]

    def get(self, request, project_pk: int) -> Response:
        tab = request.query_params.get("tab", "")
        if tab and not re.fullmatch(TAB_PATTERN, tab):
            raise exceptions.ValidationError(
                {"tab": [_("tab must be 1 to 32 letters, digits, - or _")]}, code="invalid"
            )
        next_item = services.next_item_lease(project=self.project, annotator=request.user, tab=tab)
        if next_item.entry is not None:
            services.item_view_record(
                user=request.user,
                project=self.project,
                item_id=next_item.entry.item_id,
                where="api",
                detail="next item",
            )
        data = s.NextItemSerializer(next_item, context=self.get_serializer_context()).data
        response = Response(data)
        if next_item.state == "updating":
            # Clients back off instead of polling the CPU away from the retrain.
            response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response

    def get_serializer_context(self) -> dict:
        return {"request": self.request, "project": self.project}


@extend_schema(tags=["labeling"], request=None, responses={204: None, **errors(400, 401, 403, 404)})
class ItemSkipView(ProjectScopedMixin, APIView):
    """Skip an item: it leaves this annotator's queue."""

    permission_classes = [FollowsPolicy]

    @extend_schema(
        request=None,
        responses={
            204: None,
            409: OpenApiResponse(s.ErrorSerializer, description="The item is not held by you"),
            **errors(400, 401, 403, 404),
        },
    )
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
    permission_classes = [FollowsPolicy]

    def get_queryset(self):
        annotations = (
            Annotation.objects.filter(project=self.project)
            .select_related("label", "annotator", "round", "predicted_label")
            .prefetch_related("finding_answers")
        )
        return access.visible_annotations(
            annotations, user=self.request.user, role=self.project_role
        )


@extend_schema(tags=["labeling"])
class AnnotationListView(AnnotationScopeMixin, generics.ListAPIView):
    """Annotations, newest first: managers see everyone's, annotators their own.
    ``POST`` submits a label for the leased item."""

    pagination_class = NewestFirstCursorPagination
    filterset_class = AnnotationFilter
    parser_classes = [SafeJSONParser, FormParser, MultiPartParser]

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
        submit = s.AnnotationSubmitSerializer(data=request.data, context={"project": self.project})
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
        correction = s.AnnotationCorrectSerializer(
            data=request.data, context={"project": self.project}
        )
        correction.is_valid(raise_exception=True)
        try:
            new = services.annotation_correct(
                annotation=annotation, annotator=request.user, **correction.validated_data
            )
        except services.SubmitRejected as rejection:
            raise submit_rejected_error(rejection) from rejection
        data = s.AnnotationSerializer(new, context=self.get_serializer_context()).data
        return Response(data, status=status.HTTP_201_CREATED)
