"""Who may do what, by project role. Small classes composed in each view, e.g.
``IsAuthenticated & (IsProjectManager | IsProjectViewer)``.

Every project-scoped view resolves its project through ``ProjectScopedMixin.project``, which
only finds projects the user is a member of: anybody else gets 404, so the API never tells an
outsider that a project exists. A member whose role does not allow the action gets 403.
"""

from __future__ import annotations

from rest_framework.permissions import SAFE_METHODS, BasePermission

from labeler.models import Membership


class IsProjectManager(BasePermission):
    message = "Only the project's managers may do this."

    def has_permission(self, request, view) -> bool:
        return view.project_role == Membership.Role.MANAGER


class IsProjectAnnotator(BasePermission):
    message = "Only the project's annotators and managers may label."

    def has_permission(self, request, view) -> bool:
        return view.project_role == Membership.Role.ANNOTATOR


class IsProjectViewer(BasePermission):
    message = "Only the project's viewers and managers may read this."

    def has_permission(self, request, view) -> bool:
        return view.project_role == Membership.Role.VIEWER


class IsProjectMember(BasePermission):
    def has_permission(self, request, view) -> bool:
        return view.project_role is not None


class ReadOnly(BasePermission):
    message = "This role may only read here."

    def has_permission(self, request, view) -> bool:
        return request.method in SAFE_METHODS
