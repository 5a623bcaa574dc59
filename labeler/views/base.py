"""What every page shares: the project and role resolution through the access policy
(``labeler/access.py``, by the request's URL name), the tabs' context, and small request and
item checks."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest
from django.utils.translation import gettext as _

from labeler import access, selectors
from labeler.models import Item, Project

MANAGER = access.MANAGER
ANNOTATOR = access.ANNOTATOR
VIEWER = access.VIEWER
# Images this small are drawn with hard pixel edges when scaled up (8×8 digits, icons).
PIXELATED_MAX_SIDE = 64


def _action(request: HttpRequest) -> str:
    match = request.resolver_match
    view_name = match.view_name if match else None
    action = access.action_for(view_name, request.method)
    if action is None:
        access.unruled(view_name)
        raise PermissionDenied(access.refusal_message(None))
    return action


def page_access(request: HttpRequest) -> None:
    """For pages not about one project: 403 unless the policy allows this URL's action."""
    action = _action(request)
    if not access.can(request.user, None, action):
        raise PermissionDenied(access.refusal_message(action))


def project_for(request: HttpRequest, project_id: int) -> tuple[Project, str]:
    """The project and the user's role, as the access policy decides for this URL (see
    ``labeler/access.py``): 404 for a non-member, 403 for a role the rule does not allow."""
    action = _action(request)
    found = selectors.project_with_role(user=request.user, project_id=project_id)
    role = found[1] if found else None
    decision = access.decide(request.user, role, action)
    if decision is access.Decision.NOT_FOUND or found is None:
        raise Http404(_("No such project."))
    if decision is not access.Decision.ALLOW:
        raise PermissionDenied(access.refusal_message(action))
    return found


def nav_context(project: Project, role: str) -> dict:
    """What the project tabs show besides their links: a manager sees the open conflicts."""
    if role != MANAGER:
        return {}
    return {"conflict_count": selectors.conflict_count(project=project)}


def is_htmx(request: HttpRequest) -> bool:
    return request.headers.get("HX-Request") == "true"


def can_create_projects(user) -> bool:
    return access.can(user, None, "project.create")


def is_pixelated(item: Item) -> bool:
    if not item.file:
        return False
    # Only numbers count: an item imported before user columns were kept apart may carry a
    # "width" column of its own.
    sides = [item.metadata.get(key) for key in ("width", "height")]
    sides = [side for side in sides if isinstance(side, int | float) and not isinstance(side, bool)]
    return bool(sides) and 0 < max(sides) <= PIXELATED_MAX_SIDE
