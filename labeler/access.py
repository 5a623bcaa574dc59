"""The one access policy: who may do what, and what each role sees; read by the pages, the API,
the exports and the templates alike.

Two tables say who may open what:

- ``ACTIONS``: each action names the project roles that may do it and, where Django's own
  permissions matter, the permission the user needs (``labeler.add_project`` to create a
  project, ``auth.add_user`` to create an account).
- ``URL_RULES``: each named URL pattern (``"project-settings"``, ``"api:item-list"``) names
  the action a read (GET, HEAD, OPTIONS) needs and, if different, the action a write needs.

**Adding a view:** add one line to ``URL_RULES`` with the pattern's name, e.g.
``"api:item-notes": Rule("project.read", write="label"),``. Pages call
``labeler.views.base.project_for(request, project_id)`` and API views use the default
permission class ``labeler.api.permissions.FollowsPolicy``; both look the rule up by the
request's URL name. A pattern without a rule is refused (403) and
``tests/labeler/test_access_matrix.py`` fails naming it; that test walks every URL pattern
× manager / annotator / viewer / outsider / anonymous against this table.

What the answers mean: anonymous → 401 (API) or the login page; not a member of the project
→ 404 (an outsider never learns a project exists); a member whose role does not allow the
action → 403. Superusers act as managers of every project.

A third, ``SIGHT``, says what a role sees once in (rows and fields): managers see everything;
viewers every item and answer, but not which items are evaluation items; an annotator only
the items they answered and only their own answers, nothing of the evaluation set, and no
consensus where several annotators answer an item. Pages, API serializers, templates and
exports ask ``sight(role)``, ``visible_annotations(...)``, ``may_read_history(...)`` and
``item_fields_for(role)`` instead of comparing roles themselves; templates show links and
forms with ``{% load access %}`` and ``role|may:"label"`` (``role_may``) and read fields
through ``sight``. Staff reach the Django admin through ``"staff"`` above, where Django's
model permissions decide; a superuser is a manager.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from enum import Enum

from django.db.models import QuerySet
from django.utils.translation import gettext as _

from labeler.models import Annotation, Membership

logger = logging.getLogger(__name__)

MANAGER = Membership.Role.MANAGER
ANNOTATOR = Membership.Role.ANNOTATOR
VIEWER = Membership.Role.VIEWER
ALL_ROLES = frozenset({MANAGER, ANNOTATOR, VIEWER})

READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True)
class Action:
    # None: the action is not about one project (no role needed, only the other checks).
    roles: frozenset[str] | None = None
    needs_login: bool = True
    # A Django permission the user needs on top of the role, e.g. "auth.add_user".
    permission: str | None = None
    needs_staff: bool = False

    @property
    def in_project(self) -> bool:
        return self.roles is not None


ACTIONS: dict[str, Action] = {
    "public": Action(needs_login=False),
    "signed_in": Action(),
    "staff": Action(needs_staff=True),
    "project.create": Action(permission="labeler.add_project"),
    # Seeing whether a username exists ("no such user"): only who may see the user list.
    "account.lookup": Action(permission="auth.view_user"),
    "project.read": Action(roles=ALL_ROLES),
    "project.manage": Action(roles=frozenset({MANAGER})),
    "account.create": Action(roles=frozenset({MANAGER}), permission="auth.add_user"),
    "dashboard.read": Action(roles=frozenset({MANAGER, VIEWER})),
    "label": Action(roles=frozenset({MANAGER, ANNOTATOR})),
    # An item's history, page and API alike: annotators see only their own answers there
    # (``visible_annotations``), and only for items they answered (``may_read_history``).
    "history.read_own": Action(roles=ALL_ROLES),
    # Exports carry each item's evaluation membership (``is_evaluation``), so only roles whose
    # sight includes the evaluation set may export (a test holds the two together).
    "labels.export": Action(roles=frozenset({MANAGER})),
    "file.read": Action(roles=ALL_ROLES),
    # Who was shown which item: a project's managers; every project's (deleted ones too),
    # whoever may read the audit table in the admin (superusers, or given the permission).
    "audit.read": Action(roles=frozenset({MANAGER})),
    "audit.read_all": Action(permission="labeler.view_itemview"),
}


@dataclass(frozen=True)
class Rule:
    read: str
    write: str | None = None

    def action_for(self, method: str) -> str:
        if method.upper() in READ_METHODS or self.write is None:
            return self.read
        return self.write


URL_RULES: dict[str, Rule] = {
    # Pages
    "health": Rule("public"),
    "project-list": Rule("signed_in"),
    "project-create": Rule("project.create"),
    "project-dashboard": Rule("dashboard.read"),
    "project-retrain": Rule("project.manage"),
    "project-settings": Rule("project.manage"),
    "project-import": Rule("project.manage"),
    "import-job": Rule("project.manage"),
    "label": Rule("label"),
    "label-skip": Rule("label"),
    "label-undo": Rule("label"),
    "label-lease": Rule("label"),
    "label-answer": Rule("label"),
    "label-unskip": Rule("label"),
    "label-correct": Rule("label"),
    "project-members": Rule("project.manage"),
    "member-role": Rule("project.manage"),
    "member-remove": Rule("project.manage"),
    "project-conflicts": Rule("project.manage"),
    "item-history": Rule("history.read_own"),
    "item-file": Rule("file.read"),
    "project-items": Rule("project.read"),
    "project-items-bulk": Rule("project.manage"),
    "item-correct": Rule("label"),
    "project-export": Rule("labels.export"),
    "project-audit": Rule("audit.read"),
    "audit": Rule("audit.read_all"),
    # DICOM (labeler/dicom): the viewer's header and window renders, like the item's file.
    "item-dicom": Rule("file.read"),
    "item-dicom-render": Rule("file.read"),
    # Scan items (a series or a study): the viewer's description and a slice's rendition.
    "item-scan": Rule("file.read"),
    "item-scan-slice": Rule("file.read"),
    "project-import-pacs": Rule("project.manage"),
    # Language switch and the translations catalogue: Django's own, for everyone.
    "set_language": Rule("public"),
    "javascript-catalog": Rule("public"),
    # Django's login, logout and password pages
    "login": Rule("public"),
    "logout": Rule("public"),
    "password_change": Rule("signed_in"),
    "password_change_done": Rule("signed_in"),
    "password_reset": Rule("public"),
    "password_reset_done": Rule("public"),
    "password_reset_confirm": Rule("public"),
    "password_reset_complete": Rule("public"),
    # Single sign-on (labeler/sso.py): OpenID Connect's two legs answer 404 while it is off;
    # API tokens made from a signed-in session, for accounts without a password.
    "oidc_authentication_init": Rule("public"),
    "oidc_authentication_callback": Rule("public"),
    "account-tokens": Rule("signed_in"),
    # The Django admin checks is_staff and model permissions itself, on every admin page.
    "admin:*": Rule("staff"),
    # API
    "api:token": Rule("public"),
    "api:logout": Rule("signed_in"),
    "api:logout-all": Rule("signed_in"),
    "api:schema": Rule("public"),
    "api:docs": Rule("public"),
    "api:unknown": Rule("public"),
    "api:project-list": Rule("signed_in", write="project.create"),
    "api:project-detail": Rule("project.read", write="project.manage"),
    "api:project-stats": Rule("dashboard.read", write="project.manage"),
    "api:class-list": Rule("project.read", write="project.manage"),
    "api:item-list": Rule("project.manage"),
    "api:item-detail": Rule("project.manage"),
    "api:item-skip": Rule("label"),
    "api:item-history": Rule("history.read_own", write="project.manage"),
    "api:item-views": Rule("project.manage"),
    "api:import-job": Rule("project.manage"),
    "api:item-adjudicate": Rule("project.manage"),
    "api:agreement": Rule("dashboard.read", write="project.manage"),
    "api:member-list": Rule("project.manage"),
    "api:member-detail": Rule("project.manage"),
    "api:next-item": Rule("label"),
    "api:annotation-list": Rule("label"),
    "api:annotation-detail": Rule("label"),
    "api:annotation-correct": Rule("label"),
    "api:round-list": Rule("dashboard.read", write="project.manage"),
    "api:model-run-list": Rule("dashboard.read", write="project.manage"),
    "api:model-run-detail": Rule("dashboard.read", write="project.manage"),
    "api:model-run-artifact": Rule("project.manage"),
    # Models out (ONNX, TorchScript, model card): whoever may download the labels.
    "api:model-run-export": Rule("labels.export"),
    "api:export": Rule("labels.export"),
    "api:item-file": Rule("file.read"),
    # Webhooks (labeler/api/views/webhooks.py, labeler/views/webhooks.py): managers only.
    "api:webhook-list": Rule("project.manage"),
    "api:webhook-detail": Rule("project.manage"),
    "api:webhook-delivery-list": Rule("project.manage"),
    "project-webhooks": Rule("project.manage"),
    # A team's own model's predictions, imported as suggestions: managers only.
    "api:suggestion-list": Rule("project.manage"),
    "project-suggestions": Rule("project.manage"),
    "project-webhook-change": Rule("project.manage"),
}


@dataclass(frozen=True)
class Sight:
    """What a role sees of a project it may open."""

    # Every item of the project; else only the items they answered.
    every_item: bool
    # Colleagues' answers and who gave them; else only their own. With overlap, a colleague's
    # answer biases one's own and tells which items several annotators answer.
    every_answer: bool
    # Which items are evaluation items (Item.is_evaluation, an answer's kind): an annotator
    # who knows would label those with more care than the rest and the measured accuracy
    # would no longer be the model's.
    evaluation: bool
    # An item's consensus (its status, final label, the model against it) where several
    # annotators answer each item; with one annotator per item it is their own answer.
    consensus_with_overlap: bool
    # The model's current guess, and the team's own model's imported suggestion, on the items
    # and item pages (the labeling page follows the project's show_model_guess and
    # show_suggestions instead).
    model_guess: bool
    # Who opened an item, where and when.
    item_views: bool


NOTHING = Sight(False, False, False, False, False, False)
SIGHT: dict[str, Sight] = {
    MANAGER: Sight(
        every_item=True,
        every_answer=True,
        evaluation=True,
        consensus_with_overlap=True,
        model_guess=True,
        item_views=True,
    ),
    VIEWER: Sight(
        every_item=True,
        every_answer=True,
        evaluation=False,
        consensus_with_overlap=True,
        model_guess=True,
        item_views=False,
    ),
    ANNOTATOR: NOTHING,
}

# Item fields that tell evaluation items apart.
EVALUATION_ITEM_FIELDS = frozenset({"is_evaluation"})
# Annotation fields that tell evaluation items apart.
EVALUATION_ANNOTATION_FIELDS = frozenset({"kind"})


def sight(role: str | None) -> Sight:
    """What ``role`` sees (``None``, not a member: nothing)."""
    return SIGHT.get(role, NOTHING)


def sees_consensus(role: str | None, overlap: int) -> bool:
    return sight(role).consensus_with_overlap or overlap <= 1


def item_fields_for(role: str | None, fields) -> list[str]:
    """``fields`` of an item, less those this role may not read."""
    hidden = frozenset() if sight(role).evaluation else EVALUATION_ITEM_FIELDS
    return [name for name in fields if name not in hidden]


def annotation_fields_for(role: str | None, fields) -> list[str]:
    """``fields`` of an annotation, less those this role may not read."""
    hidden = frozenset() if sight(role).evaluation else EVALUATION_ANNOTATION_FIELDS
    return [name for name in fields if name not in hidden]


def visible_annotations(
    annotations: QuerySet[Annotation], *, user, role: str | None
) -> QuerySet[Annotation]:
    """The rows of ``annotations`` this user may read in their role."""
    if sight(role).every_answer:
        return annotations
    if role is None:
        return annotations.none()
    return annotations.filter(annotator=user)


def may_read_history(*, role: str | None, visible_answers: int) -> bool:
    """Whether an item's history opens, given how many of its answers this role may read:
    readers see any item's, an annotator only that of an item they answered (an empty page
    would still tell them the item exists and that someone else has it)."""
    if role is None:
        return False
    return sight(role).every_item or visible_answers > 0


class Decision(Enum):
    ALLOW = "allow"
    LOGIN = "login"  # anonymous: sign in first (401 / the login page)
    NOT_FOUND = "not_found"  # not a member: the project does not exist for them (404)
    FORBIDDEN = "forbidden"  # signed in, but this role or account may not (403)


def rule_for(view_name: str | None) -> Rule | None:
    """The rule of a URL pattern by its name (``"api:item-list"``); a namespace-wide rule
    (``"admin:*"``) covers every pattern in it."""
    if not view_name:
        return None
    if view_name in URL_RULES:
        return URL_RULES[view_name]
    namespace, _, _ = view_name.rpartition(":")
    return URL_RULES.get(f"{namespace}:*") if namespace else None


def action_for(view_name: str | None, method: str) -> str | None:
    rule = rule_for(view_name)
    return rule.action_for(method) if rule else None


def decide(user, role: str | None, action: str) -> Decision:
    """``role`` is the user's role in the project concerned (None if not a member, or if the
    action is not about one project)."""
    policy = ACTIONS[action]
    authenticated = user is not None and user.is_authenticated
    needs_login = policy.needs_login or policy.needs_staff or policy.permission
    if (needs_login or policy.in_project) and not authenticated:
        return Decision.LOGIN
    if policy.in_project:
        if user.is_superuser:
            role = MANAGER
        if role is None:
            return Decision.NOT_FOUND
        if role not in policy.roles:
            return Decision.FORBIDDEN
    if policy.needs_staff and not (user.is_active and user.is_staff):
        return Decision.FORBIDDEN
    if policy.permission and not user.has_perm(policy.permission):
        return Decision.FORBIDDEN
    return Decision.ALLOW


def can(user, role: str | None, action: str) -> bool:
    return decide(user, role, action) is Decision.ALLOW


def role_may(role: str | None, action: str) -> bool:
    """Whether ``role`` is one the action allows: for showing a button or a form; the URL
    behind it still asks ``decide``."""
    roles = ACTIONS[action].roles
    return roles is not None and role in roles


def refusal_message(action: str | None) -> str:
    """Why a request was refused, in the user's language (pages and API alike)."""
    if action is None:
        return _("This address has no access rule, so it is refused.")
    policy = ACTIONS[action]
    if policy.permission == "labeler.add_project":
        return _("Your account may not create projects.")
    if policy.permission == "auth.add_user":
        return _("Your account may not create user accounts; invite an existing user.")
    if policy.roles is not None:
        labels = dict(Membership.Role.choices)
        names = ", ".join(sorted(str(labels.get(role, role)) for role in policy.roles))
        return _("Your role in this project does not allow this (allowed: %(roles)s).") % {
            "roles": names
        }
    return _("Your account may not do this.")


def unruled(view_name: str | None) -> None:
    # Fail closed, loudly in the log: a new URL pattern was added without a rule.
    logger.error("URL pattern %r has no rule in labeler.access.URL_RULES: refused", view_name)


def may_use_local_password(user) -> bool:
    """Whether a username and Tweezers' own password may sign this account in (login page,
    admin, token endpoint). With ``TWEEZERS_LOCAL_PASSWORDS`` off, only superusers may: the
    break-glass account for when the directory or the identity provider is down."""
    from django.conf import settings

    return settings.TWEEZERS_LOCAL_PASSWORDS or user.is_superuser


def may_sign_in_with_directory(user) -> bool:
    """Whether single sign-on (LDAP or OpenID Connect) may sign in to this existing account.
    Not to one that has a password of its own while such passwords work (every superuser's,
    and everyone's with ``TWEEZERS_LOCAL_PASSWORDS`` on): a directory name that happens to
    equal a local account's would otherwise take it over. An administrator moves a local
    account to single sign-on by setting its password unusable in the admin."""
    if not user.has_usable_password():
        return True
    return not may_use_local_password(user)
