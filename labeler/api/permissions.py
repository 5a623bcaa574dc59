"""The API's one permission class: it asks ``labeler.access`` with the request's URL name and
method, so the API and the pages read the same table (see that module to add a rule).

Project-scoped views resolve their project through ``ProjectScopedMixin.project``, which only
finds projects the user is a member of: anybody else gets 404, so the API never tells an
outsider that a project exists. A member whose role does not allow the action gets 403.
"""

from __future__ import annotations

from rest_framework import exceptions
from rest_framework.permissions import BasePermission

from labeler import access


class FollowsPolicy(BasePermission):
    message = "You may not do this."

    def has_permission(self, request, view) -> bool:
        match = request.resolver_match
        view_name = match.view_name if match else None
        action = access.action_for(view_name, request.method)
        if action is None:
            access.unruled(view_name)
            self.message = access.refusal_message(None)
            return False
        role = None
        if access.ACTIONS[action].in_project:
            if not request.user.is_authenticated:
                return False
            # Resolving the project answers 404 to a non-member before any role is checked.
            role = view.project_role
        decision = access.decide(request.user, role, action)
        if decision is access.Decision.NOT_FOUND:
            raise exceptions.NotFound("No such project.")
        self.message = access.refusal_message(action)
        return decision is access.Decision.ALLOW
