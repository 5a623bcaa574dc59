"""Teams: members and invitations, agreement figures, adjudication of conflicts, and an item's
full label history (who, when, old → new)."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, generics, status
from rest_framework.response import Response
from rest_framework.views import APIView

from labeler import access, selectors, services
from labeler.api import serializers as s
from labeler.api.errors import Conflict, submit_rejected_error
from labeler.api.permissions import FollowsPolicy
from labeler.api.views.base import ProjectScopedMixin, errors
from labeler.models import Annotation, Item, Membership

CONFLICT = {
    409: OpenApiResponse(
        s.ErrorSerializer,
        description="Refused by the project's state: already a member, or its last manager",
    )
}

# Refusals that are about the project's state rather than the request's content.
MEMBERSHIP_CONFLICTS = {"already_member", "last_manager", "user_exists"}


def membership_error(rejection: services.MembershipRejected) -> exceptions.APIException:
    if rejection.code == "not_member":
        return exceptions.NotFound(rejection.message)
    if rejection.code in MEMBERSHIP_CONFLICTS:
        return Conflict(detail=rejection.message, code=rejection.code)
    return exceptions.ValidationError({"non_field_errors": [rejection.message]}, rejection.code)


@extend_schema(
    tags=["items"], responses={200: s.AnnotationSerializer(many=True), **errors(401, 403, 404)}
)
class ItemHistoryView(ProjectScopedMixin, APIView):
    """Every answer ever given for the item, oldest first. A correction or an adjudication
    names the annotation it replaced (``replaces``); nothing is ever overwritten. As on the
    item's page, an annotator reads only their own answers, and only for items they
    answered (403 otherwise); ``kind`` is null for everyone but managers."""

    permission_classes = [FollowsPolicy]

    def get(self, request, project_pk: int, pk: int) -> Response:
        item = get_object_or_404(Item.objects.filter(project=self.project), pk=pk)
        history = selectors.item_history(item=item, user=request.user, role=self.project_role)
        if not access.may_read_history(role=self.project_role, visible_answers=len(history)):
            raise exceptions.PermissionDenied(
                _("Annotators see the history of the items they labeled.")
            )
        services.item_view_record(
            user=request.user,
            project=self.project,
            item_id=item.pk,
            where="api",
            detail="item history",
        )
        context = self.get_serializer_context()
        return Response(s.AnnotationSerializer(history, many=True, context=context).data)

    def get_serializer_context(self) -> dict:
        return {"request": self.request, "view": self, "project": self.project}


@extend_schema(
    tags=["items"],
    request=s.AdjudicateSerializer,
    responses={201: s.AnnotationSerializer, **errors(400, 401, 403, 404)},
)
class ItemAdjudicateView(ProjectScopedMixin, APIView):
    """A manager's ruling on an item the annotators disagreed on (overlap): it decides the
    item's label; the annotators' answers stay for the agreement figures."""

    permission_classes = [FollowsPolicy]

    def post(self, request, project_pk: int, pk: int) -> Response:
        body = s.AdjudicateSerializer(data=request.data, context={"project": self.project})
        body.is_valid(raise_exception=True)
        try:
            ruling = services.item_adjudicate(
                project=self.project,
                manager=request.user,
                item_id=pk,
                label=body.validated_data.get("label"),
                findings=body.validated_data.get("findings"),
            )
        except services.SubmitRejected as rejection:
            if rejection.code == "not_in_project":
                raise exceptions.NotFound(rejection.message) from rejection
            raise submit_rejected_error(rejection) from rejection
        ruling = Annotation.objects.select_related("label", "annotator").get(pk=ruling.pk)
        data = s.AnnotationSerializer(ruling, context={"request": request, "view": self}).data
        return Response(data, status=status.HTTP_201_CREATED)


@extend_schema(tags=["projects"], responses={200: s.AgreementSerializer, **errors(401, 403, 404)})
class AgreementView(ProjectScopedMixin, APIView):
    """Inter-annotator agreement for projects with overlap: Fleiss' kappa, Cohen's kappa per
    pair of annotators, each annotator against the final labels, and open conflicts."""

    permission_classes = [FollowsPolicy]

    def get(self, request, project_pk: int) -> Response:
        return Response(s.AgreementSerializer(selectors.agreement_stats(project=self.project)).data)


@extend_schema(tags=["members"])
class MemberListView(ProjectScopedMixin, generics.ListAPIView):
    """The project's members and their roles; ``POST`` invites a user (managers only)."""

    queryset = Membership.objects.none()
    serializer_class = s.MemberSerializer
    permission_classes = [FollowsPolicy]
    pagination_class = None

    def get_queryset(self):
        return Membership.objects.filter(project=self.project).select_related("user")

    @extend_schema(
        request=s.InviteSerializer,
        responses={201: s.InvitationSerializer, **errors(400, 401, 403, 404), **CONFLICT},
    )
    def post(self, request, project_pk: int) -> Response:
        body = s.InviteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        user = request.user
        if body.validated_data["create_account"] and not access.can(
            user, self.project_role, "account.create"
        ):
            raise exceptions.PermissionDenied(access.refusal_message("account.create"))
        try:
            invitation = services.membership_invite(
                project=self.project,
                reveal_unknown=access.can(user, None, "account.lookup"),
                **body.validated_data,
            )
        except services.MembershipRejected as rejection:
            raise membership_error(rejection) from rejection
        return Response(s.InvitationSerializer(invitation).data, status=status.HTTP_201_CREATED)


@extend_schema(tags=["members"])
@extend_schema(methods=["GET"], responses={200: s.MemberSerializer, **errors(401, 403, 404)})
class MemberDetailView(ProjectScopedMixin, generics.RetrieveAPIView):
    """One membership: ``PATCH`` changes the role, ``DELETE`` removes the member (never the
    last manager); their open leases go back to the queue."""

    queryset = Membership.objects.none()
    serializer_class = s.MemberSerializer
    permission_classes = [FollowsPolicy]

    def get_queryset(self):
        return Membership.objects.filter(project=self.project).select_related("user")

    @extend_schema(
        request=s.MemberSerializer,
        responses={200: s.MemberSerializer, **errors(400, 401, 403, 404), **CONFLICT},
    )
    def patch(self, request, project_pk: int, pk: int) -> Response:
        self.get_object()
        body = s.MemberSerializer(data=request.data, partial=True)
        body.is_valid(raise_exception=True)
        if "role" not in body.validated_data:
            raise exceptions.ValidationError({"role": ["This field is required."]}, "required")
        try:
            membership = services.membership_role_change(
                project=self.project, membership_id=pk, role=body.validated_data["role"]
            )
        except services.MembershipRejected as rejection:
            raise membership_error(rejection) from rejection
        return Response(s.MemberSerializer(membership).data)

    @extend_schema(responses={204: None, **errors(401, 403, 404), **CONFLICT})
    def delete(self, request, project_pk: int, pk: int) -> Response:
        self.get_object()
        try:
            services.membership_remove(project=self.project, membership_id=pk)
        except services.MembershipRejected as rejection:
            raise membership_error(rejection) from rejection
        return Response(status=status.HTTP_204_NO_CONTENT)
