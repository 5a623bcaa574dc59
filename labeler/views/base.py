"""What every page shares: the project and role resolution behind the access rule, the tabs'
context, and small request and item checks."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest
from django.utils.translation import gettext as _

from labeler import selectors
from labeler.models import Item, Membership, Project

MANAGER = Membership.Role.MANAGER
ANNOTATOR = Membership.Role.ANNOTATOR
VIEWER = Membership.Role.VIEWER
LABELING_ROLES = {MANAGER, ANNOTATOR}
READING_ROLES = {MANAGER, VIEWER}
# Images this small are drawn with hard pixel edges when scaled up (8×8 digits, icons).
PIXELATED_MAX_SIDE = 64


def project_for(request: HttpRequest, project_id: int, roles: set[str]) -> tuple[Project, str]:
    """The project and the user's role: 404 for a non-member, 403 for a role not in ``roles``."""
    found = selectors.project_with_role(user=request.user, project_id=project_id)
    if found is None:
        raise Http404(_("No such project."))
    project, role = found
    if role not in roles:
        raise PermissionDenied(_("Your role in this project does not allow this page."))
    return project, role


def nav_context(project: Project, role: str) -> dict:
    """What the project tabs show besides their links: a manager sees the open conflicts."""
    if role != MANAGER:
        return {}
    return {"conflict_count": selectors.conflict_count(project=project)}


def is_htmx(request: HttpRequest) -> bool:
    return request.headers.get("HX-Request") == "true"


def can_create_projects(user) -> bool:
    return user.has_perm("labeler.add_project")


def is_pixelated(item: Item) -> bool:
    side = max(item.metadata.get("width", 0), item.metadata.get("height", 0))
    return bool(item.file) and 0 < side <= PIXELATED_MAX_SIDE
